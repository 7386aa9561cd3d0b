#!/usr/bin/python3
"""The budget gate: boots the reference guests under kiln-probe, compares what
it measured against ci/budgets.json, prints a table and fails when something
is over.

    ci/budget-gate.py [--budgets FILE] [--runs N] [--no-linux] [--json OUT] [--measure]

For each guest in the budget file it boots `runs` times (the test guest: fast,
several runs; the Linux microVM kernel: one boot, for its exit counts) and
takes, per metric, the median over the runs (kind "median": a time or size,
allowed to exceed the limit by tolerance_pct because machines are noisy) or
the maximum (kind "hard": exit counts, deterministic for a given guest, so
any run over the limit fails).  A metric the probes could not measure is
MISSING, which fails too: a gate that cannot see must not pass.

--measure prints every metric's median instead of gating (to set budgets).

A shared machine that is oversubscribed (1-minute load average above 1.5 x
the CPUs, before or after the boots) inflates every wall-clock time several
fold whatever kiln does.  Then a median over its limit is reported as
"OVER*" and loudly, but does not fail the gate; hard limits (exit counts)
always gate.  --strict gates medians whatever the load.

Exit: 0 within budget, 1 over budget / missing / a boot failed, 2 usage,
77 SKIPPED (no BPF here: not root, no BTF, kiln-probe not built), said loudly.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench" / "probes"))
import probe_run  # noqa: E402
from linux_images import INITRAMFS, KERNEL_DIR, LINUX_ARGS  # noqa: E402

EXIT_SKIP = 77
# The probes' JSON sections: a count whose section exists but which has no
# entry was simply never hit (0); a section that is null was not measured.
COUNT_SECTIONS = ("exits", "pio", "mmio")


def guest_command(name: str, g: dict, workdir: Path, run: int) -> list:
    """The kiln command line booting guest g once, or None if its images are missing."""
    drives = None
    if g.get("disk_sectors"):
        disk = probe_run.make_disk(workdir / "disk.img", g["disk_sectors"])
        drives = [{"drive_id": "bench", "path_on_host": str(disk), "is_root_device": False,
                   "is_read_only": False}]
    if g["kernel"] == "testguest":
        kernel, initrd = probe_run.ktg_elf(), None
    else:
        kernel = KERNEL_DIR / "vmlinux"
        initrd = INITRAMFS if g.get("initrd") else None
        if not kernel.exists() or (initrd and not initrd.exists()):
            return None
    args = g["boot_args"].replace("@LINUX_ARGS@", LINUX_ARGS)
    cfg = probe_run.kiln_config(workdir, kernel, args, initrd=initrd, vcpus=g.get("vcpus", 1),
                                mem_mib=g.get("mem_mib", 128), drives=drives)
    cmd = [probe_run.kiln_binary(), "--config-file", cfg, "--boot-timer"]
    if g.get("api"):
        cmd += ["--api-sock", workdir / "api.sock"]
    else:
        cmd += ["--no-api"]
    return cmd


def metric_value(report: dict, flat: dict, metric: str):
    if metric in flat:
        return flat[metric]
    section = metric.split(".", 1)[0]
    if section in COUNT_SECTIONS and report.get(section) is not None:
        return 0
    return None


def boot_all(budgets: dict, args, work: Path) -> tuple:
    """{guest: [(report, flat), ...]} and a list of problems (boot failures, skips)."""
    runs, problems = {}, []
    for name, g in budgets["guests"].items():
        if name == "linux" and args.no_linux:
            print(f"budget-gate: {name}: skipped (--no-linux); its budgets are not checked")
            continue
        n = args.runs or g.get("runs", 1)
        if name == "linux" and args.runs:
            n = min(n, g.get("runs", 1))
        runs[name] = []
        for i in range(n):
            d = work / f"{name}-{i}"
            d.mkdir(parents=True)
            cmd = guest_command(name, g, d, i)
            if cmd is None:
                msg = f"{name}: guest images missing (guest-images/build.sh kernel initramfs)"
                print(f"!!! budget-gate: SKIPPED {msg}")
                problems.append(("skip", msg))
                del runs[name]
                break
            r = probe_run.run_probed(cmd, d, g.get("timeout_s", 120))
            rep = r.report
            print(f"budget-gate: {name} run {i + 1}/{n}: exit {r.rc}, "
                  f"{r.wall_s:.2f} s, boot-timer write at {rep['timeline_us'].get('boot_timer_write')} us")
            if r.rc != 0 or rep.get("timed_out"):
                problems.append(("fail", f"{name} run {i + 1}: kiln exited {r.rc}"
                                 f"{' (timed out)' if rep.get('timed_out') else ''}; see {d}"))
                continue
            runs[name].append((rep, probe_run.flatten(rep)))
    return runs, problems


def fmt(v) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float) and not v.is_integer():
        return f"{v:.1f}"
    return str(int(v))


def host_overloaded() -> tuple:
    """(overloaded?, load, cpus) from the 1-minute load average."""
    load, cpus = os.getloadavg()[0], os.cpu_count() or 1
    return load > 1.5 * cpus, load, cpus


def evaluate(budgets: dict, runs: dict, loaded: bool) -> list:
    rows = []
    for b in budgets["budgets"]:
        guest, metric, kind = b["guest"], b["metric"], b["kind"]
        limit = float(b["limit"])
        tol = float(b.get("tolerance_pct", 0)) if kind == "median" else 0.0
        name = f"{guest}:{metric}"
        if guest not in runs:
            rows.append((name, None, limit, tol, kind, "NOT RUN", ""))
            continue
        vals = [metric_value(rep, flat, metric) for rep, flat in runs[guest]]
        if not vals or any(v is None for v in vals):
            rows.append((name, None, limit, tol, kind, "MISSING", "not measured"))
            continue
        value = statistics.median(vals) if kind == "median" else max(vals)
        allowed = limit * (1 + tol / 100.0)
        if value <= allowed:
            rows.append((name, value, limit, tol, kind, "ok", ""))
        else:
            over = value - limit
            rows.append((name, value, limit, tol, kind, "OVER*" if loaded and kind == "median" else "OVER",
                         f"+{fmt(over)} (+{100.0 * over / limit:.0f}%)" if limit else f"+{fmt(over)}"))
    return rows


def print_table(rows: list) -> None:
    head = ("metric", "value", "budget", "tolerance", "verdict", "over by")
    table = [head] + [(n, f"{fmt(v)} ({'median' if k == 'median' else 'max'})", fmt(l),
                       f"{t:.0f}%" if k == "median" else "hard", verdict, over)
                      for n, v, l, t, k, verdict, over in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(head))]
    for i, r in enumerate(table):
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budgets", type=Path, default=ROOT / "ci" / "budgets.json")
    ap.add_argument("--runs", type=int, default=0, help="runs per guest (default: the budget file's)")
    ap.add_argument("--no-linux", action="store_true", help="skip the Linux boot and its budgets")
    ap.add_argument("--json", type=Path, help="also write the rows and all medians here")
    ap.add_argument("--measure", action="store_true", help="print every metric's median, no gating")
    ap.add_argument("--strict", action="store_true", help="gate time budgets even on an overloaded host")
    args = ap.parse_args()

    try:
        budgets = json.loads(args.budgets.read_text())
    except (OSError, ValueError) as e:
        print(f"budget-gate: {args.budgets}: {e}", file=sys.stderr)
        return 2
    ok, why = probe_run.bpf_available()
    if not ok:
        print(f"!!! budget-gate: SKIPPED: the probes cannot run here: {why}")
        return EXIT_SKIP
    if not probe_run.kiln_binary().exists():
        print(f"budget-gate: {probe_run.kiln_binary()} is not built", file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="kiln-gate-"))
    loaded_before, load_before, cpus = host_overloaded()
    runs, problems = boot_all(budgets, args, work)
    loaded_after, load_after, _ = host_overloaded()
    loaded = (loaded_before or loaded_after) and not args.strict
    medians = {}
    for guest, rs in runs.items():
        keys = sorted({k for _, flat in rs for k in flat})
        for k in keys:
            vals = [flat.get(k) for _, flat in rs]
            if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
                medians[f"{guest}:{k}"] = statistics.median(vals)
    if args.measure:
        for k, v in medians.items():
            print(f"{k} = {fmt(v)}")
        return 1 if any(p[0] == "fail" for p in problems) else 0

    rows = evaluate(budgets, runs, loaded)
    print()
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps({"rows": [dict(zip(("metric", "value", "budget", "tolerance_pct",
                                                           "kind", "verdict", "over_by"), r))
                                                  for r in rows], "medians": medians,
                                         "problems": problems}, indent=2))
    bad = [r for r in rows if r[5] in ("OVER", "MISSING")]
    soft = [r for r in rows if r[5] == "OVER*"]
    if soft:
        print(f"!!! budget-gate: host overloaded (load {load_before:.1f} before, {load_after:.1f} after, "
              f"{cpus} CPUs): {len(soft)} median budgets over their limit (OVER*) are NOT gated; "
              f"rerun on a quiet machine or with --strict")
    for kind, msg in problems:
        print(f"!!! budget-gate: {'FAILED' if kind == 'fail' else 'SKIPPED'}: {msg}")
    if bad or any(p[0] == "fail" for p in problems):
        print(f"\nbudget-gate: FAILED: {len(bad)} of {len(rows)} budgets over or unmeasured"
              f"{', and a boot failed' if any(p[0] == 'fail' for p in problems) else ''} (runs in {work})")
        return 1
    not_run = sum(1 for r in rows if r[5] == "NOT RUN")
    print(f"\nbudget-gate: ok: {len(rows) - not_run - len(soft)} budgets within limits"
          f"{f', {len(soft)} OVER* on an overloaded host (not gated)' if soft else ''}"
          f"{f', {not_run} NOT RUN (see above)' if not_run else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
