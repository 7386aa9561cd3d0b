#!/usr/bin/python3
"""kiln against QEMU's microvm machine, side by side, under kiln-probe.

Boots the same guest with the same kernel, initrd and command line in kiln
and in `qemu-system-x86_64 -M microvm -enable-kvm` (Debian's qemu-system-x86),
alternating kiln, QEMU, kiln, QEMU ... N times each, every boot under
kiln-probe (the KVM tracepoints count exits for any process), and prints the
medians with the kiln/QEMU ratio:

  boot to marker   process start (exec) to the guest's write of 123 to
                   0xc0000000: kiln's boot timer; QEMU has no device there,
                   but the write still exits and kvm:kvm_mmio sees it.  For the
                   Linux guest this is init running (the initramfs pokes it).
  wall             exec to process exit: test guest only, which ends with a
                   triple fault (kiln exits; QEMU exits through -no-reboot).
                   The Linux guest reboots through the i8042 (reboot=k):
                   kiln exits, but QEMU's microvm has no i8042 and keeps
                   running, and reboot=t ends in an INT3 emulation failure on
                   PVM which QEMU answers by stopping the vCPU, not exiting.
                   So both VMMs are ended by kiln-probe 1 s after the boot
                   marker (--stop-after-boot) and wall is not compared.
  RSS after boot   VmRSS when the boot marker was seen; max RSS from rusage
  CPU              user + sys of the VMM process (rusage)
  exits            exits to user space before the boot marker, total and PIO/MMIO

Guests: 'testguest' (guest-images/testguest, no devices: `exit=triple`) and
'linux' (the microVM kernel from guest-images with the initramfs, one vCPU;
~15-25 s per boot on a PVM host).  The command line: the Linux tests'
LINUX_ARGS plus whatever kiln appends on this host (PVM: noxsave clearcpuid=...), taken
from kiln's log so that QEMU's guest gets the very same line.  QEMU runs with
the KVM PV features kiln hides on PVM turned off too (kvm-pv-ipi,
kvm-pv-unhalt, kvm-pv-sched-yield).

  bench/qemu_compare.py [--guest testguest|linux|both] [-n N] [--n-linux N] [--json OUT]
"""
import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench" / "probes"))
import probe_run  # noqa: E402
from kiln_harness import IMAGES  # noqa: E402

QEMU = shutil.which("qemu-system-x86_64") or "/usr/bin/qemu-system-x86_64"
# integration/linux_images.py's LINUX_ARGS (not imported: that module needs pytest).
LINUX_ARGS = "console=ttyS0 reboot=k panic=1 i8042.noaux i8042.nomux i8042.dumbkbd"
# Seconds after the boot marker at which kiln-probe ends a Linux run (see above).
LINUX_STOP_AFTER_BOOT = 1.0

METRICS = [
    # (label, unit, function of the report)
    ("boot to marker", "ms", lambda r: ms(r["timeline_us"].get("boot_timer_write"))),
    ("wall (exec to exit)", "ms",
     lambda r: None if r.get("stopped_after_boot") else ms(r["timeline_us"].get("process_end"))),
    ("first guest I/O", "ms", lambda r: ms(r["timeline_us"].get("first_guest_io"))),
    ("RSS after boot", "MiB", lambda r: kib_mib(r["process"].get("rss_after_boot_kib"))),
    ("max RSS", "MiB", lambda r: kib_mib(r["process"].get("max_rss_kib"))),
    ("CPU user+sys", "ms", lambda r: ms(cpu(r))),
    ("CPU user", "ms", lambda r: ms(r["process"].get("user_cpu_us"))),
    ("exits during boot", "", lambda r: r["exits"]["during_boot_count"]),
    ("  of which PIO", "", lambda r: r["exits"]["during_boot"].get("io", 0)),
    ("  of which MMIO", "", lambda r: r["exits"]["during_boot"].get("mmio", 0)),
    ("exits total", "", lambda r: r["exits"]["total_count"]),
    ("kvm_emulate_insn", "", lambda r: (r.get("kvm_events") or {}).get("kvm_emulate_insn")),
]


def ms(us):
    return None if us is None else us / 1000.0


def kib_mib(k):
    return None if k is None else k / 1024.0


def cpu(r):
    p = r["process"]
    return None if p.get("user_cpu_us") is None else p["user_cpu_us"] + p["sys_cpu_us"]


def kiln_cmd(workdir, kernel, initrd, args, mem):
    cfg = probe_run.kiln_config(workdir, kernel, args, initrd=initrd, mem_mib=mem)
    return [probe_run.kiln_binary(), "--config-file", cfg, "--no-api", "--boot-timer"]


def qemu_cmd(kernel, initrd, args, mem):
    cmd = [QEMU, "-M", "microvm", "-enable-kvm",
           "-cpu", "host,kvm-pv-ipi=off,kvm-pv-unhalt=off,kvm-pv-sched-yield=off",
           "-m", str(mem), "-smp", "1", "-nodefaults", "-no-user-config", "-display", "none",
           "-serial", "stdio", "-monitor", "none", "-no-reboot", "-kernel", str(kernel)]
    if initrd:
        cmd += ["-initrd", str(initrd)]
    return cmd + ["-append", args]


def kiln_final_cmdline(log: str) -> str:
    """The command line kiln gave the guest, without its virtio-mmio tokens."""
    m = re.search(r"kernel command line: (.*)$", log, re.M)
    if not m:
        raise SystemExit("kiln's log has no 'kernel command line:' line")
    return " ".join(t for t in m.group(1).split() if not t.startswith("virtio_mmio.device="))


def qemu_works(work: Path) -> str:
    """'' when QEMU's microvm boots with KVM here, else why not."""
    if not Path(QEMU).exists():
        return f"{QEMU} not found (Debian package qemu-system-x86)"
    try:
        p = subprocess.run([QEMU, "-M", "microvm", "-enable-kvm", "-m", "64", "-nodefaults",
                            "-no-user-config", "-display", "none", "-serial", "stdio", "-monitor", "none",
                            "-no-reboot", "-kernel", str(probe_run.ktg_elf()), "-append", "exit=triple"],
                           capture_output=True, timeout=60, cwd=work)
    except subprocess.TimeoutExpired:
        return "QEMU did not finish booting the test guest within 60 s"
    out = p.stdout.decode(errors="replace")
    if "KTG: done" not in out:
        return f"QEMU exited {p.returncode} without the test guest's 'KTG: done':\n{p.stderr.decode()[-1500:]}"
    return ""


def one(cmd, workdir, timeout, stop_after_boot):
    r = probe_run.run_probed(cmd, workdir, timeout, stop_after_boot=stop_after_boot)
    rep = r.report
    if rep.get("timed_out") or rep["timeline_us"].get("boot_timer_write") is None:
        raise SystemExit(f"{cmd[0]}: no boot marker (exit {r.rc}, timed out {rep.get('timed_out')}); see {workdir}")
    return rep


def compare(guest: str, n: int, work: Path) -> list:
    if guest == "testguest":
        kernel, initrd, args, mem, timeout = probe_run.ktg_elf(), None, "exit=triple", 128, 60
        stop = None
    else:
        kernel = IMAGES / "kernel" / "vmlinux"
        initrd = IMAGES / "initramfs" / "initramfs.cpio"
        if not kernel.exists() or not initrd.exists():
            raise SystemExit(f"{kernel} or {initrd} missing: guest-images/build.sh kernel initramfs")
        args, mem, timeout = LINUX_ARGS, 256, 600
        stop = LINUX_STOP_AFTER_BOOT
    kiln_reports, qemu_reports, qemu_args = [], [], None
    for i in range(n):
        d = work / f"{guest}-kiln-{i}"
        d.mkdir(parents=True)
        kiln_reports.append(one(kiln_cmd(d, kernel, initrd, args, mem), d, timeout, stop))
        if qemu_args is None:
            qemu_args = kiln_final_cmdline((d / "stderr.out").read_text(errors="replace"))
        d = work / f"{guest}-qemu-{i}"
        d.mkdir(parents=True)
        qemu_reports.append(one(qemu_cmd(kernel, initrd, qemu_args, mem), d, timeout, stop))
        print(f"  {guest} round {i + 1}/{n}: kiln boot {kiln_reports[-1]['timeline_us']['boot_timer_write'] / 1000:.1f} ms, "
              f"QEMU boot {qemu_reports[-1]['timeline_us']['boot_timer_write'] / 1000:.1f} ms", file=sys.stderr)
    rows = []
    for label, unit, f in METRICS:
        kv = [f(r) for r in kiln_reports]
        qv = [f(r) for r in qemu_reports]
        km = statistics.median(kv) if None not in kv else None
        qm = statistics.median(qv) if None not in qv else None
        ratio = km / qm if km is not None and qm else None
        rows.append({"guest": guest, "metric": label, "unit": unit, "kiln": km, "qemu": qm, "ratio": ratio,
                     "n": n})
    print(f"command line (both): {qemu_args}", file=sys.stderr)
    return rows


def fmt(v):
    if v is None:
        return "n/a"
    return f"{v:.1f}" if isinstance(v, float) else str(v)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--guest", choices=["testguest", "linux", "both"], default="both")
    ap.add_argument("-n", type=int, default=5, help="boots per VMM for the test guest")
    ap.add_argument("--n-linux", type=int, default=2, help="boots per VMM for Linux")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    ok, why = probe_run.bpf_available()
    if not ok:
        raise SystemExit(f"kiln-probe cannot run here: {why}")
    work = Path(tempfile.mkdtemp(prefix="kiln-vs-qemu-"))
    why = qemu_works(work)
    if why:
        raise SystemExit(f"QEMU microvm with KVM does not work here: {why}")
    rows = []
    for g in (["testguest", "linux"] if args.guest == "both" else [args.guest]):
        rows += compare(g, args.n if g == "testguest" else args.n_linux, work)

    print(f"{'guest':<10} {'metric':<22} {'unit':<4} {'kiln':>12} {'QEMU':>12} {'kiln/QEMU':>10}")
    for r in rows:
        ratio = "n/a" if r["ratio"] is None else f"{r['ratio']:.2f}"
        print(f"{r['guest']:<10} {r['metric']:<22} {r['unit']:<4} {fmt(r['kiln']):>12} {fmt(r['qemu']):>12} "
              f"{ratio:>10}")
    print(f"(medians; n = {args.n} test-guest and {args.n_linux} Linux boots per VMM, alternating; runs in {work})")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
