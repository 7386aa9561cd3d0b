#!/usr/bin/env python3
"""Jailer start-up benchmark: from spawning kiln-jailer to kiln's API socket
answering GET / (a raw HTTP request on the Unix socket, polled every 0.5 ms),
N runs each of:

  kiln            kiln alone, no jailer (the baseline)
  jailer          kiln-jailer: fresh jail, copy of kiln and its libraries,
                  mount namespace + pivot_root, device nodes, uid drop, exec
  jailer+pidns    the same with --new-pid-ns (fork into a new pid namespace)

Prints min/median/max in ms, and the median of kiln's own part (its log line
"API server listening ... (N us after start)"), so the jailer's share is the
difference.  Seccomp filters are on (kiln's default) in every case.
Needs root.  Every run uses a fresh jail under a temporary base directory,
which is removed at the end; kiln is ended by its PID.

  bench/jailer_start.py [-n N] [--cgroup FILE=VALUE]... [--json]
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
from kiln_harness import BUILD, kiln_binary  # noqa: E402

TIMEOUT = 10


def api_ready(sock: str) -> bool:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(1)
    try:
        s.connect(sock)
        s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        return s.recv(16).startswith(b"HTTP/1.1 200")
    except OSError:
        return False
    finally:
        s.close()


def wait_gone(pid: int) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return
        if state == "Z":
            return
        time.sleep(0.001)
    raise SystemExit(f"pid {pid} did not end")


def kiln_own_us(log: str):
    m = re.search(r"API server listening on \S+ \((\d+) us", log)
    return int(m.group(1)) if m else None


def one_run(mode: str, base: Path, run: int, cgroups, parent: str):
    jail_id = f"bench-{run}"
    err_path = base / f"{mode}-{run}.err"
    with open(err_path, "wb") as err:
        if mode == "kiln":
            sock = str(base / f"kiln-{run}.sock")
            cmd = [str(kiln_binary()), "--api-sock", sock]
        else:
            root = base / "kiln" / jail_id / "root"
            sock = str(root / "api.sock")
            cmd = [str(BUILD / "jailer" / "kiln-jailer"), "--id", jail_id, "--exec-file",
                   str(kiln_binary()), "--uid", "10000", "--gid", "10000", "--chroot-base-dir",
                   str(base), "--parent-cgroup", parent]
            for c in cgroups:
                cmd += ["--cgroup", c]
            if mode == "jailer+pidns":
                cmd.append("--new-pid-ns")
            cmd += ["--", "--api-sock", "/api.sock"]
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        deadline = t0 + TIMEOUT
        while not (os.path.exists(sock) and api_ready(sock)):
            if time.monotonic() > deadline or (mode != "jailer+pidns" and proc.poll() is not None):
                proc.kill()
                raise SystemExit(f"{mode}: API not ready:\n{err_path.read_text()[-2000:]}")
            time.sleep(0.0005)
        elapsed = time.monotonic() - t0
    if mode == "jailer+pidns":
        proc.wait(TIMEOUT)
        pid = int((base / "kiln" / jail_id / "root" / "kiln.pid").read_text())
    else:
        pid = proc.pid
    os.kill(pid, signal.SIGTERM)
    wait_gone(pid)
    if proc.poll() is None:
        proc.wait(TIMEOUT)
    return elapsed * 1000, kiln_own_us(err_path.read_text(errors="replace"))


def remove_cgroups(parent: str, cgroups) -> None:
    for ctrl in {c.split(".", 1)[0] for c in cgroups}:
        top = Path("/sys/fs/cgroup") / ctrl / parent
        if not top.exists():
            continue
        for d in sorted(top.glob("**/"), key=lambda p: len(p.parts), reverse=True):
            for _ in range(200):
                try:
                    d.rmdir()
                    break
                except OSError:
                    time.sleep(0.01)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=20)
    ap.add_argument("--cgroup", action="append", default=[], help="v1 FILE=VALUE, e.g. pids.max=64")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root (the jailer mounts, mknods and changes uid)")
    base = Path(tempfile.mkdtemp(prefix="kiln-jail-bench-", dir="/tmp"))
    parent = f"kiln-bench-{uuid.uuid4().hex[:8]}"
    results = {}
    try:
        for mode in ("kiln", "jailer", "jailer+pidns"):
            times, own = [], []
            for i in range(args.n):
                ms, us = one_run(mode, base, i, args.cgroup, parent)
                times.append(ms)
                if us is not None:
                    own.append(us / 1000)
            if mode != "kiln":
                shutil.rmtree(base / "kiln", ignore_errors=True)
            results[mode] = {"min_ms": min(times), "median_ms": statistics.median(times),
                             "max_ms": max(times),
                             "kiln_own_median_ms": statistics.median(own) if own else None}
    finally:
        remove_cgroups(parent, args.cgroup)
        shutil.rmtree(base, ignore_errors=True)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"jailer start to API socket ready, {args.n} runs each"
          f"{' (cgroups: ' + ', '.join(args.cgroup) + ')' if args.cgroup else ''}:")
    print(f"  {'case':<14} {'min':>8} {'median':>8} {'max':>8}   kiln's own part (median)")
    for mode, r in results.items():
        own = f"{r['kiln_own_median_ms']:.2f} ms" if r["kiln_own_median_ms"] is not None else "-"
        print(f"  {mode:<14} {r['min_ms']:7.2f}ms {r['median_ms']:7.2f}ms {r['max_ms']:7.2f}ms   {own}")


if __name__ == "__main__":
    main()
