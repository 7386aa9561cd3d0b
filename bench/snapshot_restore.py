#!/usr/bin/env python3
"""Snapshot benchmark: restore latency and snapshot create time.

For each size (memory / vCPUs), boots the test guest (tick=1 virtio=1, one
64 KiB drive, track_dirty_pages on), lets it run, pauses it and measures:

  create Full    PUT /snapshot/create {"snapshot_type": "Full"} request to 204
  create Diff    the same with "Diff", after the guest ran another second
  restore        PUT /snapshot/load {File backend, "resume_vm": true} request
                 to 204 (the VM is built, its state loaded and the vCPU
                 threads started: the VM is running), in a fresh kiln each
                 time; median and p99 over N restores
  first tick     request to the restored guest's next console line (the
                 guest's own progress on top of the restore)

  bench/snapshot_restore.py [-n N] [--sizes 128:1,512:1,1024:2,2048:2] [--json]

Every wait has a timeout; kiln processes are ended by their PID.
"""
import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
from kiln_harness import kiln_binary, ktg_elf  # noqa: E402

TIMEOUT = 30


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=TIMEOUT)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect(self.path)


def api(sock, method, path, body=None):
    c = UnixHTTP(sock)
    c.request(method, path, body=json.dumps(body) if body is not None else None)
    r = c.getresponse()
    text = r.read().decode()
    c.close()
    if r.status not in (200, 204):
        raise SystemExit(f"{method} {path}: {r.status} {text}")
    return text


def start_kiln(workdir: Path, name: str, *args):
    sock = workdir / f"{name}.sock"
    out = open(workdir / f"{name}.out", "wb")
    err = open(workdir / f"{name}.err", "wb")
    proc = subprocess.Popen([str(kiln_binary()), "--api-sock", str(sock)] + list(args),
                            stdin=subprocess.DEVNULL, stdout=out, stderr=err)
    deadline = time.monotonic() + TIMEOUT
    while True:  # until kiln listens (the file appears just before)
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                probe.connect(str(sock))
            break
        except (FileNotFoundError, ConnectionRefusedError):
            if proc.poll() is not None or time.monotonic() > deadline:
                stop(proc)
                raise SystemExit(f"kiln did not start; see {workdir / (name + '.err')}")
            time.sleep(0.005)
    return proc, str(sock), workdir / f"{name}.out"


def stop(proc):
    """SIGTERM (kiln's orderly exit), SIGKILL if it lingers; then a pause, so
    the kernel's teardown of this VM does not land in the next measurement."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=TIMEOUT)
    time.sleep(0.2)


def wait_output(path: Path, size: int, deadline: float) -> float:
    while path.stat().st_size <= size:
        if time.monotonic() > deadline:
            raise SystemExit(f"no console output in {path} within {TIMEOUT}s")
        time.sleep(0.0005)
    return time.monotonic()


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def bench_size(mem_mib: int, vcpus: int, n: int, root: Path) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"snap-{mem_mib}-{vcpus}-", dir=root))
    disk = work / "disk.img"
    disk.write_bytes(os.urandom(64 * 1024))
    cfg = {
        "boot-source": {"kernel_image_path": str(ktg_elf()),
                        "boot_args": f"virtio=1 tick=1 exit=halt{' smp=1' if vcpus > 1 else ''}"},
        "machine-config": {"vcpu_count": vcpus, "mem_size_mib": mem_mib, "track_dirty_pages": True},
        "drives": [{"drive_id": "d0", "path_on_host": str(disk), "is_root_device": False}],
    }
    (work / "vm.json").write_text(json.dumps(cfg))
    proc, sock, out = start_kiln(work, "orig", "--config-file", str(work / "vm.json"))
    res = {"mem_mib": mem_mib, "vcpus": vcpus}
    try:
        wait_output(out, 0, time.monotonic() + TIMEOUT)
        time.sleep(1.0)
        api(sock, "PATCH", "/vm", {"state": "Paused"})
        vmstate, mem = work / "full.vmstate", work / "full.mem"
        t0 = time.monotonic()
        api(sock, "PUT", "/snapshot/create", {"snapshot_type": "Full", "snapshot_path": str(vmstate),
                                              "mem_file_path": str(mem)})
        res["create_full_ms"] = (time.monotonic() - t0) * 1e3
        res["full_mem_file_mib_on_disk"] = mem.stat().st_blocks * 512 / 2**20
        api(sock, "PATCH", "/vm", {"state": "Resumed"})
        time.sleep(1.0)
        api(sock, "PATCH", "/vm", {"state": "Paused"})
        t0 = time.monotonic()
        api(sock, "PUT", "/snapshot/create", {"snapshot_type": "Diff", "snapshot_path": str(work / "diff.vmstate"),
                                              "mem_file_path": str(work / "diff.mem")})
        res["create_diff_ms"] = (time.monotonic() - t0) * 1e3
        res["diff_mem_file_kib_on_disk"] = (work / "diff.mem").stat().st_blocks * 512 / 1024
    finally:
        stop(proc)
    restore, first = [], []
    for i in range(n):
        proc, sock, out = start_kiln(work, f"r{i}")
        try:
            body = {"snapshot_path": str(vmstate), "resume_vm": True,
                    "mem_backend": {"backend_type": "File", "backend_path": str(mem)}}
            size = out.stat().st_size
            t0 = time.monotonic()
            api(sock, "PUT", "/snapshot/load", body)
            t1 = time.monotonic()
            t2 = wait_output(out, size, t1 + TIMEOUT)
            restore.append((t1 - t0) * 1e3)
            first.append((t2 - t0) * 1e3)
        finally:
            stop(proc)
    res.update(restore_median_ms=statistics.median(restore), restore_p99_ms=pct(restore, 99),
               restore_min_ms=min(restore), first_tick_median_ms=statistics.median(first), n=n)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=30)
    ap.add_argument("--sizes", default="128:1,512:1,1024:2,2048:2", help="MiB:vCPUs,...")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        raise SystemExit("SKIPPED: /dev/kvm is not usable here")
    with tempfile.TemporaryDirectory(prefix="kiln-snap-bench-") as root:
        rows = []
        for spec in args.sizes.split(","):
            mem, vcpus = (int(x) for x in spec.split(":"))
            rows.append(bench_size(mem, vcpus, args.n, Path(root)))
            if not args.json:
                r = rows[-1]
                print(f"{r['mem_mib']:5d} MiB {r['vcpus']} vCPU: restore median {r['restore_median_ms']:7.2f} ms  "
                      f"p99 {r['restore_p99_ms']:7.2f} ms  min {r['restore_min_ms']:7.2f} ms  "
                      f"(first guest output {r['first_tick_median_ms']:7.2f} ms)  |  create Full "
                      f"{r['create_full_ms']:7.2f} ms ({r['full_mem_file_mib_on_disk']:.1f} MiB on disk)  "
                      f"Diff {r['create_diff_ms']:7.2f} ms ({r['diff_mem_file_kib_on_disk']:.0f} KiB)  "
                      f"[n={r['n']}]", flush=True)
        if args.json:
            print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
