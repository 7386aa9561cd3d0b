"""Running a VMM under kiln-probe from Python: the budget gate
(ci/budget-gate.py), the QEMU comparison (bench/qemu_compare.py) and the
probe tests (integration/test_probes.py) share this.

Every run has a timeout; kiln-probe itself ends the traced process (its own
child, by pid) when the timeout passes.
"""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "integration"))
# Re-exported for the scripts that use this module.
from kiln_harness import BUILD, IMAGES, kiln_binary, ktg_elf  # noqa: E402,F401

# What kiln-probe exits with when BPF cannot load or attach here.
EXIT_NO_BPF = 3
EXIT_TIMEOUT = 124


def probe_binary() -> Path:
    return Path(os.environ.get("KILN_PROBE", BUILD / "bench" / "probes" / "kiln-probe"))


def bpf_available(probe: Path = None) -> tuple:
    """(True, "") when kiln-probe can load its programs and attach the KVM
    tracepoints here, else (False, why)."""
    probe = probe or probe_binary()
    if not probe.exists():
        return False, f"{probe} is not built (needs clang, bpftool, libbpf-dev and kernel BTF)"
    if os.geteuid() != 0:
        return False, "not root: loading BPF programs needs CAP_BPF and CAP_PERFMON"
    if not Path("/sys/kernel/btf/vmlinux").exists():
        return False, "no kernel BTF (/sys/kernel/btf/vmlinux)"
    try:
        r = subprocess.run([str(probe), "--check"], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return False, "kiln-probe --check timed out"
    if r.returncode != 0:
        return False, (r.stdout + r.stderr).strip() or f"kiln-probe --check exited {r.returncode}"
    return True, ""


class ProbedRun:
    """One traced process: its report, console output, log and exit code."""

    def __init__(self, report: dict, rc: int, wall_s: float, workdir: Path):
        self.report = report
        self.rc = rc
        self.wall_s = wall_s
        self.workdir = workdir

    def console(self) -> str:
        return (self.workdir / "console.out").read_bytes().decode(errors="replace")

    def log(self) -> str:
        return (self.workdir / "stderr.out").read_bytes().decode(errors="replace")


def run_probed(cmd: list, workdir: Path, timeout: float, probe: Path = None,
               stop_after_boot: float = None) -> ProbedRun:
    """Runs cmd under kiln-probe with its stdout/stderr in workdir; with
    stop_after_boot, kiln-probe ends it that many seconds after the guest's
    boot-timer write."""
    probe = probe or probe_binary()
    workdir.mkdir(parents=True, exist_ok=True)
    report_path = workdir / "report.json"
    if report_path.exists():
        report_path.unlink()
    argv = [str(probe), "--json", str(report_path), "--timeout", str(timeout)]
    if stop_after_boot is not None:
        argv += ["--stop-after-boot", str(stop_after_boot)]
    argv += ["--"] + [str(c) for c in cmd]
    t0 = time.monotonic()
    with open(workdir / "console.out", "wb") as out, open(workdir / "stderr.out", "wb") as err:
        # kiln-probe enforces the timeout; ours is the backstop for kiln-probe itself.
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                           timeout=timeout + 60, cwd=workdir)
    wall = time.monotonic() - t0
    if p.returncode == EXIT_NO_BPF:
        raise RuntimeError(f"kiln-probe: BPF not available:\n{(workdir / 'stderr.out').read_text()[-2000:]}")
    if not report_path.exists():
        raise RuntimeError(f"kiln-probe wrote no report (exit {p.returncode}):\n"
                           f"{(workdir / 'stderr.out').read_text(errors='replace')[-3000:]}")
    return ProbedRun(json.loads(report_path.read_text()), p.returncode, wall, workdir)


def kiln_config(workdir: Path, kernel, boot_args: str, initrd=None, vcpus=1, mem_mib=128,
                drives=None) -> Path:
    boot = {"kernel_image_path": str(kernel), "boot_args": boot_args}
    if initrd:
        boot["initrd_path"] = str(initrd)
    cfg = {"boot-source": boot, "machine-config": {"vcpu_count": vcpus, "mem_size_mib": mem_mib}}
    if drives:
        cfg["drives"] = drives
    path = workdir / "vm.json"
    path.write_text(json.dumps(cfg, indent=2))
    return path


def make_disk(path: Path, sectors: int) -> Path:
    path.write_bytes(bytes(((i * 131 + 7) & 0xFF) for i in range(sectors * 512)))
    return path


def flatten(report: dict) -> dict:
    """The report as {"a.b.c": number-or-None}: what budgets name.

    Latency lists become virtio_latency.slot<S>.q<Q>.<kind>.<stat> and
    api_latency.<request>.<stat>; per-address lists are left out (their sums
    are under pio/mmio.<phase>.<device>)."""
    flat = {}

    def walk(prefix, v):
        if isinstance(v, dict):
            for k, x in v.items():
                walk(f"{prefix}.{k}" if prefix else k, x)
        elif isinstance(v, bool):
            flat[prefix] = v
        elif isinstance(v, (int, float)) or v is None:
            flat[prefix] = v

    for key, value in report.items():
        if key in ("virtio_latency", "api_latency"):
            if value is None:
                flat[key] = None
                continue
            for e in value:
                name = (f"slot{e['slot']}.q{e['queue']}.{e['kind']}" if key == "virtio_latency"
                        else e["request"].replace(" ", "_"))
                for stat in ("count", "p50_us", "p90_us", "p99_us", "max_us"):
                    flat[f"{key}.{name}.{stat}"] = e[stat]
        elif key in ("pio", "mmio") and isinstance(value, dict):
            walk(key, {k: v for k, v in value.items() if k in ("during_boot", "total")})
        else:
            walk(key, value)
    t = report.get("timeline_us") or {}
    if t.get("vm_build_start") is not None and t.get("vm_build_end") is not None:
        flat["derived.vm_build_us"] = t["vm_build_end"] - t["vm_build_start"]
    p = report.get("process") or {}
    if p.get("user_cpu_us") is not None and p.get("sys_cpu_us") is not None:
        flat["derived.cpu_us"] = p["user_cpu_us"] + p["sys_cpu_us"]
    return flat
