#!/usr/bin/env python3
"""REST API benchmark: how soon kiln serves its API, and what one call costs.

  start-up    process spawn -> API socket accepting, and -> first GET / answered
              (wall, from here); kiln's own CPU time when the socket was ready
              (CLOCK_PROCESS_CPUTIME_ID, from its "API server listening" log
              line, which also counts the dynamic loader) and the CPU time of
              all its threads read from /proc/PID/task/*/schedstat right after
              the first answer.  Firecracker's bar: 8 CPU ms to socket ready.
  latency     PUT /machine-config and GET / over one keep-alive connection
              (http.client over the Unix socket), N calls each: median, p99, max.

No VM is started, so no KVM is needed.

  bench/api_latency.py [-n STARTS] [--calls N] [--level Info|Warning|...] [--json]
"""
import argparse
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
from kiln_harness import kiln_binary  # noqa: E402

START_TIMEOUT = 10


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a Unix socket; keeps the connection between requests."""

    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


def schedstat_cpu_ns(pid):
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def can_connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def spawn(sock, level, work):
    err = open(work / "kiln.err", "wb")
    proc = subprocess.Popen([str(kiln_binary()), "--api-sock", sock, "--level", level],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    err.close()
    return proc


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=START_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=START_TIMEOUT)


def one_start(work, level):
    sock = str(work / "api.sock")
    t0 = time.monotonic()
    proc = spawn(sock, level, work)
    try:
        deadline = t0 + START_TIMEOUT
        while not can_connect(sock):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"kiln did not open its API socket:\n{(work / 'kiln.err').read_text()}")
            time.sleep(0.0002)
        t_sock = time.monotonic()
        conn = UnixHTTPConnection(sock)
        conn.request("GET", "/")
        resp = conn.getresponse()
        resp.read()
        t_get = time.monotonic()
        assert resp.status == 200, resp.status
        cpu_ns = schedstat_cpu_ns(proc.pid)
        conn.close()
    finally:
        stop(proc)
    m = re.search(r"API server listening on .* \((\d+) us, (\d+) CPU us after start\)",
                  (work / "kiln.err").read_text())
    return {
        "spawn_to_socket_us": int((t_sock - t0) * 1e6),
        "spawn_to_first_get_us": int((t_get - t0) * 1e6),
        "main_to_socket_us": int(m.group(1)) if m else None,
        "cpu_at_socket_us": int(m.group(2)) if m else None,
        "cpu_all_threads_after_get_us": cpu_ns // 1000,
    }


def latency(work, level, calls):
    sock = str(work / "api.sock")
    proc = spawn(sock, level, work)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not can_connect(sock):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("kiln did not open its API socket")
            time.sleep(0.001)
        conn = UnixHTTPConnection(sock)
        out = {}
        body = json.dumps({"vcpu_count": 2, "mem_size_mib": 256})
        for name, method, path, data, want in (
                ("PUT /machine-config", "PUT", "/machine-config", body, 204),
                ("GET /", "GET", "/", None, 200)):
            samples = []
            for _ in range(calls):
                t = time.perf_counter_ns()
                conn.request(method, path, body=data,
                             headers={"Content-Type": "application/json"} if data else {})
                resp = conn.getresponse()
                resp.read()
                samples.append((time.perf_counter_ns() - t) / 1000)
                assert resp.status == want, (name, resp.status)
            samples.sort()
            out[name] = {
                "median_us": round(statistics.median(samples), 1),
                "p99_us": round(samples[int(len(samples) * 0.99) - 1], 1),
                "max_us": round(samples[-1], 1),
            }
        conn.close()
        return out
    finally:
        stop(proc)


def summary(values):
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    return f"min {min(values):>7} us   median {int(statistics.median(values)):>7} us   max {max(values):>7} us"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=20, help="process starts to time")
    ap.add_argument("--calls", type=int, default=1000, help="calls per endpoint")
    ap.add_argument("--level", default="Info", help="kiln --level (Info logs every request)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    if not kiln_binary().exists():
        raise SystemExit(f"kiln binary missing at {kiln_binary()} (set KILN_BUILD)")
    work = Path(tempfile.mkdtemp(prefix="kiln-bench-api-", dir="/tmp"))
    starts = [one_start(work, args.level) for _ in range(args.n)]
    lat = latency(work, args.level, args.calls)

    print(f"kiln {kiln_binary()}  (--level {args.level}, {args.n} starts, {args.calls} calls each)")
    print("start-up")
    for key, label in (("spawn_to_socket_us", "spawn -> socket accepting (wall)"),
                       ("spawn_to_first_get_us", "spawn -> first GET / answered (wall)"),
                       ("main_to_socket_us", "main() -> socket ready (wall, kiln)"),
                       ("cpu_at_socket_us", "CPU at socket ready (kiln, process)"),
                       ("cpu_all_threads_after_get_us", "CPU after first GET (schedstat)")):
        print(f"  {label:<40} {summary([s[key] for s in starts])}")
    print(f"latency over one keep-alive connection, {args.calls} calls")
    for name, r in lat.items():
        print(f"  {name:<22} median {r['median_us']:>8} us   p99 {r['p99_us']:>8} us   max {r['max_us']:>8} us")
    if args.json:
        print(json.dumps({"starts": starts, "latency": lat}, indent=2))


if __name__ == "__main__":
    main()
