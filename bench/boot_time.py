#!/usr/bin/env python3
"""Boot-time benchmark: boots a guest N times with kiln and prints min/median/max of

  start->first KVM_RUN  kiln's main() to vCPU 0's first KVM_RUN (kiln's own start-up)
  boot-timer            VM build start to the guest's boot-timer write (Firecracker's figure)
  wall                  process spawn to exit, as seen from here
  user CPU / sys CPU    kiln's own CPU time (getrusage of the child)
  exits by reason       exits to userspace, summed over vCPUs

Guests: 'testguest' (the tiny freestanding guest: measures kiln itself) and
'linux' (the microVM kernel from guest-images with the initramfs; on hosts where
KVM emulates CPL0 this takes minutes per boot, so use a small N).

  bench/boot_time.py [--guest testguest|linux] [-n N] [--vcpus V] [--json]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
from kiln_harness import IMAGES, kiln_binary, parse_stats, ktg_elf  # noqa: E402


def one_boot(cfg: Path, timeout: float, workdir: Path):
    err_path = workdir / "kiln.err"
    with open(err_path, "wb") as err, open(workdir / "console.out", "wb") as out:
        t0 = time.monotonic()
        proc = subprocess.Popen([str(kiln_binary()), "--config-file", str(cfg), "--no-api",
                                 "--boot-timer"], stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        deadline = t0 + timeout
        while True:
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                os.kill(proc.pid, 9)
                pid, status, ru = os.wait4(proc.pid, 0)
                raise SystemExit(f"boot timed out after {timeout}s; see {workdir}")
            time.sleep(0.002)
        wall = time.monotonic() - t0
    code = os.waitstatus_to_exitcode(status)
    log = err_path.read_text(errors="replace")
    if code != 0:
        raise SystemExit(f"kiln exited {code}:\n{log[-2000:]}")
    stats = parse_stats(log)
    return {
        "start_to_first_run_us": stats["main_to_first_run_us"],
        "boot_timer_us": stats["boot_timer_us"],
        "wall_us": int(wall * 1e6),
        "user_cpu_us": int(ru.ru_utime * 1e6),
        "sys_cpu_us": int(ru.ru_stime * 1e6),
        "exits": stats["exits"],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--guest", choices=["testguest", "linux"], default="testguest")
    ap.add_argument("-n", type=int, default=20)
    ap.add_argument("--vcpus", type=int, default=1)
    ap.add_argument("--mem", type=int, default=128)
    ap.add_argument("--timeout", type=float, default=None)
    ap.add_argument("--json", action="store_true", help="print the raw samples as JSON too")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="kiln-bench-"))
    if args.guest == "testguest":
        boot = {"kernel_image_path": str(ktg_elf()), "boot_args": "smp=1 exit=reset"}
        timeout = args.timeout or 60
    else:
        kdir = IMAGES / "kernel"
        boot = {"kernel_image_path": str(kdir / "vmlinux"),
                "initrd_path": str(IMAGES / "initramfs" / "initramfs.cpio"),
                "boot_args": "console=ttyS0 reboot=k panic=1 i8042.noaux i8042.nomux i8042.dumbkbd"}
        timeout = args.timeout or 900
    for p in (boot["kernel_image_path"], boot.get("initrd_path")):
        if p and not Path(p).exists():
            raise SystemExit(f"missing {p}: build it first (ninja -C build; guest-images/build.sh)")
    cfg = work / "vm.json"
    cfg.write_text(json.dumps({"boot-source": boot,
                               "machine-config": {"vcpu_count": args.vcpus, "mem_size_mib": args.mem}}))

    samples = [one_boot(cfg, timeout, work) for _ in range(args.n)]
    print(f"kiln boot benchmark: guest={args.guest} vcpus={args.vcpus} mem={args.mem}MiB n={args.n}")
    print(f"{'figure':28} {'min':>12} {'median':>12} {'max':>12}")
    for key in ["start_to_first_run_us", "boot_timer_us", "wall_us", "user_cpu_us", "sys_cpu_us"]:
        vals = [s[key] for s in samples]
        print(f"{key:28} {min(vals):12} {int(statistics.median(vals)):12} {max(vals):12}")
    for reason in samples[0]["exits"]:
        vals = [s["exits"][reason] for s in samples]
        if any(vals):
            print(f"{'exits.' + reason:28} {min(vals):12} {int(statistics.median(vals)):12} {max(vals):12}")
    if args.json:
        print(json.dumps(samples))


if __name__ == "__main__":
    main()
