"""The REST API on its Unix socket, driven with curl as Firecracker's
getting-started guide does: configure, InstanceStart, pause/resume, and a table
of malformed requests (bad JSON, wrong methods, garbage HTTP, stalled clients)
that must leave the VMM answering and the guest running.

Tests that build a VM need /dev/kvm (fixture need_kvm skips loudly); the rest
(pre-boot rules, socket rules, logger FIFO) run anywhere."""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from kiln_harness import ktg_elf, write_config

TIMEOUT = 10          # one API call, one state change
BOOT_TIMEOUT = 60     # the test guest boots in well under a second
SYS_IOCTL, SYS_FUTEX = 16, 202  # x86_64 syscall numbers

PRE_BOOT_ONLY = "The requested operation is not supported after starting the microVM."
POST_BOOT_ONLY = "The requested operation is not supported before starting the microVM."


@pytest.fixture
def api_sock():
    """A short socket path (sun_path holds 107 bytes; pytest's tmp paths can be long)."""
    d = tempfile.mkdtemp(prefix="kiln-api-", dir="/tmp")
    yield os.path.join(d, "api.sock")
    shutil.rmtree(d, ignore_errors=True)


def curl(sock, method, path, body=None, timeout=TIMEOUT):
    """One request through curl --unix-socket; returns (status, text, json or None)."""
    cmd = ["curl", "--unix-socket", sock, "-s", "-S", "-X", method, "--max-time", str(timeout),
           "-o", "-", "-w", "\n%{http_code}", f"http://localhost{path}"]
    if isinstance(body, str):
        cmd[1:1] = ["--data", body]  # as the getting-started guide passes its bodies
    elif body is not None:
        cmd[1:1] = ["--data-binary", "@-"]
    p = subprocess.run(cmd, input=body if isinstance(body, bytes) else None,
                       capture_output=True, timeout=timeout + 5)
    assert p.returncode == 0, f"curl {method} {path} failed: {p.stderr.decode()}"
    text, _, code = p.stdout.decode(errors="replace").rpartition("\n")
    try:
        doc = json.loads(text) if text else None
    except ValueError:
        doc = None
    return int(code), text, doc


def ok(sock, method, path, body=None, want=204):
    status, text, doc = curl(sock, method, path, body)
    assert status == want, f"{method} {path} -> {status} {text}"
    return doc


def fault(sock, method, path, body=None):
    status, text, doc = curl(sock, method, path, body)
    assert status == 400, f"{method} {path} -> {status} {text}"
    assert isinstance(doc, dict) and list(doc) == ["fault_message"], text
    return doc["fault_message"]


def wait_api(r, sock, timeout=TIMEOUT):
    """Waits until GET / answers on sock; fails if kiln exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if r.proc.poll() is not None:
            raise AssertionError(f"kiln exited ({r.proc.returncode}) before its API was ready:\n{r.log()}")
        if os.path.exists(sock):
            try:
                status, _, doc = curl(sock, "GET", "/", timeout=2)
                if status == 200:
                    return doc
            except (AssertionError, subprocess.TimeoutExpired):
                pass
        time.sleep(0.02)
    raise AssertionError(f"API socket {sock} not ready within {timeout}s:\n{r.log()}")


def start_api(kiln, sock, *args):
    r = kiln("--api-sock", sock, "--id", "test-vm-1", *args)
    wait_api(r, sock)
    return r


def state(sock):
    return ok(sock, "GET", "/", want=200)["state"]


def vcpu_syscalls(pid):
    """{thread name: syscall number or 'running'} for the vCPU threads of pid."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            comm = (task / "comm").read_text().strip()
            sc = (task / "syscall").read_text().split()[0]
        except OSError:
            continue
        if comm.startswith("vcpu"):
            out[comm] = int(sc) if sc.lstrip("-").isdigit() else sc
    return out


def wait_vcpus(pid, want, n, timeout=TIMEOUT):
    """Waits until all n vCPU threads sit in syscall want (ioctl = KVM_RUN, futex = parked)."""
    deadline = time.monotonic() + timeout
    seen = {}
    while time.monotonic() < deadline:
        seen = vcpu_syscalls(pid)
        if len(seen) == n and all(v == want for v in seen.values()):
            return seen
        time.sleep(0.02)
    raise AssertionError(f"vCPU threads not all in syscall {want} within {timeout}s: {seen}")


def raw(sock, data, timeout=1.0):
    """Sends raw bytes, half-closes, returns what came back before close or timeout."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock)
    got = b""
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        while True:
            d = s.recv(65536)
            if not d:
                break
            got += d
    except (socket.timeout, OSError):
        pass
    finally:
        s.close()
    return got


# Firecracker's getting-started bodies, as its guide sends them.
def logger_body(path):
    return f"""{{
        "log_path": "{path}",
        "level": "Debug",
        "show_level": true,
        "show_log_origin": true
    }}"""


def boot_body(kernel, args="console=ttyS0 reboot=k panic=1"):
    return f"""{{
        "kernel_image_path": "{kernel}",
        "boot_args": "{args}"
    }}"""


MACHINE_BODY = """{
        "vcpu_count": 2,
        "mem_size_mib": 1024
    }"""
START_BODY = """{
        "action_type": "InstanceStart"
    }"""


def boot_halted(kiln, sock, vcpus=2, extra_args=()):
    """Starts kiln with the API and boots the test guest so that it stays up."""
    r = start_api(kiln, sock, *extra_args)
    ok(sock, "PUT", "/boot-source", boot_body(ktg_elf(), "console=ttyS0 reboot=k panic=1 exit=halt"))
    ok(sock, "PUT", "/machine-config", f'{{"vcpu_count": {vcpus}, "mem_size_mib": 128}}')
    ok(sock, "PUT", "/actions", START_BODY)
    r.wait_for(r"^KTG: done", BOOT_TIMEOUT)
    wait_vcpus(r.pid, SYS_IOCTL, vcpus)
    return r


def test_getting_started_workflow(kiln, workdir, api_sock, need_kvm):
    r = start_api(kiln, api_sock)
    log = workdir / "firecracker.log"
    log.touch()
    assert state(api_sock) == "Not started"
    ok(api_sock, "PUT", "/logger", logger_body(log))
    ok(api_sock, "PUT", "/boot-source", boot_body(ktg_elf()))
    ok(api_sock, "PUT", "/machine-config", MACHINE_BODY)
    assert ok(api_sock, "GET", "/machine-config", want=200) == {
        "vcpu_count": 2, "mem_size_mib": 1024, "smt": False, "track_dirty_pages": False,
        "huge_pages": "None"}
    ok(api_sock, "PUT", "/actions", START_BODY)
    # The guest's default exit is a reset: kiln ends, as Firecracker does.
    assert r.wait_exit(BOOT_TIMEOUT) == 0, r.log()
    out = r.console()
    assert "KTG: cmdline=console=ttyS0 reboot=k panic=1" in out
    assert "KTG: mptable cpus=2" in out
    text = log.read_text()
    # Request lines with method, path, status and duration, in the logger's format.
    assert re.search(r"\[INFO\] \[api_server\.c:\d+\] API PUT /boot-source: 204 in \d+ us", text), text
    assert re.search(r"API PUT /actions: 204 in \d+ us", text), text
    assert "guest reset" in text
    assert not os.path.exists(api_sock), "the API socket was left behind"


def test_pause_resume_parks_every_vcpu(kiln, api_sock, need_kvm):
    r = boot_halted(kiln, api_sock, vcpus=2)
    assert state(api_sock) == "Running"
    ok(api_sock, "PATCH", "/vm", '{"state": "Paused"}')
    assert state(api_sock) == "Paused"
    wait_vcpus(r.pid, SYS_FUTEX, 2)
    ok(api_sock, "PATCH", "/vm", '{"state": "Paused"}')  # idempotent
    time.sleep(0.2)
    assert set(vcpu_syscalls(r.pid).values()) == {SYS_FUTEX}, "a vCPU ran while paused"
    ok(api_sock, "PATCH", "/vm", '{"state": "Resumed"}')
    assert state(api_sock) == "Running"
    wait_vcpus(r.pid, SYS_IOCTL, 2)
    # Pre-boot calls stay refused whatever the state.
    assert fault(api_sock, "PUT", "/machine-config", '{"vcpu_count": 1, "mem_size_mib": 128}') == PRE_BOOT_ONLY
    ok(api_sock, "PUT", "/actions", '{"action_type": "SendCtrlAltDel"}')
    r.kill(signal.SIGTERM)
    assert r.proc.returncode == 128 + signal.SIGTERM
    assert "kiln-stats" in r.log()


# (name, method, path, body, needle in fault_message)
MALFORMED = [
    ("truncated json", "PUT", "/machine-config", '{"vcpu_count": 2', "deserializing"),
    ("trailing garbage", "PUT", "/machine-config", '{"vcpu_count": 2, "mem_size_mib": 128}}', "deserializing"),
    ("wrong type", "PUT", "/boot-source", '{"kernel_image_path": 42}', "kernel_image_path"),
    ("unknown field", "PATCH", "/vm", '{"state": "Paused", "force": true}', "force"),
    ("unknown action", "PUT", "/actions", '{"action_type": "Explode"}', "action_type"),
    ("unknown state", "PATCH", "/vm", '{"state": "Frozen"}', "state"),
    ("empty PUT", "PUT", "/actions", None, "Empty PUT request."),
    ("empty PATCH", "PATCH", "/vm", None, "Empty PATCH request."),
    ("GET with body", "GET", "/", "{}", "GET request cannot have a body."),
    ("wrong method", "PUT", "/vm", '{"state": "Paused"}', "Invalid request method and/or path: PUT vm."),
    ("POST", "POST", "/actions", START_BODY, "Invalid request method and/or path: POST actions."),
    ("DELETE", "DELETE", "/machine-config", None, "Invalid request method and/or path"),
    ("unknown path", "GET", "/firecracker", None, "Invalid request method and/or path: GET firecracker."),
    ("bad drive id", "PUT", "/drives/root.fs", '{"drive_id": "root.fs"}', "alphanumeric characters and underscores"),
    ("drive id mismatch", "PUT", "/drives/rootfs", '{"drive_id": "other"}', "does not match"),
    ("drive after boot", "PUT", "/drives/rootfs", '{"drive_id": "rootfs", "path_on_host": "/x", "is_root_device": true, "is_read_only": false}', PRE_BOOT_ONLY),
    ("network after boot", "PUT", "/network-interfaces/eth0", '{"iface_id": "eth0", "host_dev_name": "tap0"}', PRE_BOOT_ONLY),
    ("network bad mac", "PUT", "/network-interfaces/eth0", '{"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "zz"}', "guest_mac"),
    ("network patch unknown", "PATCH", "/network-interfaces/eth9", '{"iface_id": "eth9"}', "no network interface 'eth9'"),
    ("vsock after boot", "PUT", "/vsock", '{"guest_cid": 3, "uds_path": "/v.sock"}', PRE_BOOT_ONLY),
    ("vsock bad cid", "PUT", "/vsock", '{"guest_cid": 1, "uds_path": "/v.sock"}', "vsock.guest_cid"),
    ("balloon after boot", "PUT", "/balloon", '{"amount_mib": 0, "deflate_on_oom": true}', PRE_BOOT_ONLY),
    ("balloon not configured", "GET", "/balloon", None, "not configured"),
    ("balloon stats not configured", "GET", "/balloon/statistics", None, "not configured"),
    ("entropy after boot", "PUT", "/entropy", "{}", PRE_BOOT_ONLY),
    ("entropy bad limiter", "PUT", "/entropy", '{"rate_limiter": {"ops": {"size": "x", "refill_time": 1}}}', "entropy.rate_limiter.ops.size"),
    ("mmds", "PUT", "/mmds", "{}", "mmds: not supported"),
    ("pre-boot call after boot", "PUT", "/boot-source", '{"kernel_image_path": "/k"}', PRE_BOOT_ONLY),
    ("start twice", "PUT", "/actions", START_BODY, PRE_BOOT_ONLY),
    ("oversized body", "PUT", "/machine-config", '{"vcpu_count": 1, "mem_size_mib": 128}' + " " * 51200, "larger than the limit of 51200"),
]

RAW = [
    ("empty lines", b"\r\n\r\n"),
    ("garbage line", b"GARBAGE\r\n\r\n"),
    ("no version", b"GET\r\n\r\n"),
    ("HTTP/9.9", b"GET / HTTP/9.9\r\n\r\n"),
    ("negative length", b"GET / HTTP/1.1\r\nContent-Length: -5\r\n\r\n"),
    ("text length", b"PUT /actions HTTP/1.1\r\nContent-Length: abc\r\n\r\n{}"),
    ("truncated body", b'PUT /actions HTTP/1.1\r\nContent-Length: 100\r\n\r\n{"action'),
    ("truncated headers", b"PUT /machine-config HTTP/1.1\r\nContent-Le"),
    ("huge header", b"GET / HTTP/1.1\r\nX-Pad: " + b"a" * 70000 + b"\r\n\r\n"),
    ("binary", bytes(range(256)) * 4),
    ("TLS hello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64),
    ("declared huge body", b"PUT /machine-config HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n{"),
    ("bad chunking", b"PUT /vm HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"),
    ("pipelined garbage", b"GET / HTTP/1.1\r\nHost: x\r\n\r\nNOT HTTP AT ALL\r\n\r\n"),
]


TICK_RE = re.compile(r"^KTG: tick (\d+) tsc \d+ ms (\d+)$", re.M)


def ticks(console):
    return [(int(n), int(ms)) for n, ms in TICK_RE.findall(console)]


def test_pause_stops_the_guest_clock_loop(kiln, api_sock, need_kvm):
    """A guest printing a tick every 50 ms of its own (TSC) time prints none
    while paused; after resume it carries on, and its clock shows the gap."""
    r = start_api(kiln, api_sock)
    ok(api_sock, "PUT", "/boot-source", boot_body(ktg_elf(), "console=ttyS0 tick=1 tick_ms=50"))
    ok(api_sock, "PUT", "/machine-config", '{"vcpu_count": 1, "mem_size_mib": 128}')
    ok(api_sock, "PUT", "/actions", START_BODY)
    r.wait_for(r"^KTG: tick 5 ", BOOT_TIMEOUT)
    ok(api_sock, "PATCH", "/vm", '{"state": "Paused"}')
    time.sleep(0.3)  # a line being written when the pause landed has arrived
    before = ticks(r.console())
    time.sleep(1.5)
    during = ticks(r.console())
    assert during == before, f"the guest ticked while paused: {during[len(before):]}"
    ok(api_sock, "PATCH", "/vm", '{"state": "Resumed"}')
    last_n, last_ms = before[-1]
    r.wait_for(rf"^KTG: tick {last_n + 3} ", BOOT_TIMEOUT)
    after = [t for t in ticks(r.console()) if t[0] > last_n]
    assert [n for n, _ in after[:3]] == [last_n + 1, last_n + 2, last_n + 3], after
    gap = after[0][1] - last_ms
    # At least half the pause: the guest's TSC kept counting while its vCPU was
    # parked.  (Not all of it: on a nested host such as PVM the TSCs of the
    # host's own CPUs are not in step, so a vCPU thread moved across them
    # sees its TSC shift by a few hundred ms.)
    assert gap >= 900, f"the guest's clock moved {gap} ms across a 1.8 s pause: {before[-3:]} {after[:3]}"
    assert after[1][1] - after[0][1] < 1000, "the ticks after resume are not regular"


def test_malformed_requests_leave_vmm_and_guest_running(kiln, api_sock, need_kvm):
    r = boot_halted(kiln, api_sock, vcpus=1)
    console = r.console()
    for name, method, path, body, needle in MALFORMED:
        msg = fault(api_sock, method, path, body)
        assert needle in msg, f"{name}: {msg!r}"
        assert state(api_sock) == "Running", name
    for name, data in RAW:
        reply = raw(api_sock, data)
        assert not reply or reply.startswith(b"HTTP/1.1 "), f"{name}: {reply[:200]!r}"
        assert r.proc.poll() is None, f"{name}: kiln died\n{r.log()}"
        assert state(api_sock) == "Running", name
    # A client that sends half a request and then waits does not hold up others.
    stalled = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stalled.connect(api_sock)
    stalled.sendall(b'PATCH /vm HTTP/1.1\r\nContent-Length: 30\r\n\r\n{"state"')
    t0 = time.monotonic()
    assert state(api_sock) == "Running"
    assert time.monotonic() - t0 < 2, "a stalled client delayed another request"
    stalled.close()
    # The guest was never disturbed: still in KVM_RUN, no new console output.
    wait_vcpus(r.pid, SYS_IOCTL, 1)
    assert r.console() == console
    assert "Invalid request method and/or path" in r.log()


def test_pre_boot_rules_and_faults(kiln, workdir, api_sock):
    """Everything before InstanceStart; no VM is built, so no KVM is needed."""
    start_api(kiln, api_sock)
    info = ok(api_sock, "GET", "/", want=200)
    assert info == {"id": "test-vm-1", "state": "Not started", "vmm_version": info["vmm_version"],
                    "app_name": "kiln"}
    assert ok(api_sock, "GET", "/version", want=200)["firecracker_version"] == info["vmm_version"]
    for body in ('{"state": "Paused"}', '{"state": "Resumed"}'):
        assert fault(api_sock, "PATCH", "/vm", body) == POST_BOOT_ONLY
    for action in ("SendCtrlAltDel", "FlushMetrics"):
        assert fault(api_sock, "PUT", "/actions", f'{{"action_type": "{action}"}}') == POST_BOOT_ONLY
    assert "kernel was not configured" in fault(api_sock, "PUT", "/actions", START_BODY)
    # Files are opened when the request arrives.
    msg = fault(api_sock, "PUT", "/boot-source", boot_body(workdir / "missing-vmlinux"))
    assert msg == "Boot source error: The kernel file cannot be opened: No such file or directory (os error 2)"
    msg = fault(api_sock, "PUT", "/boot-source",
                json.dumps({"kernel_image_path": str(ktg_elf()), "initrd_path": str(workdir)}))
    assert msg.startswith("Boot source error: The initrd file cannot be opened: Is a directory")
    ok(api_sock, "PUT", "/boot-source", boot_body(ktg_elf()))
    # machine-config: defaults, PUT, PATCH, and a PATCH that breaks a whole-config rule.
    assert ok(api_sock, "GET", "/machine-config", want=200)["vcpu_count"] == 1
    ok(api_sock, "PUT", "/machine-config", '{"vcpu_count": 2, "mem_size_mib": 256, "smt": true}')
    assert "vcpu_count" in fault(api_sock, "PATCH", "/machine-config", '{"vcpu_count": 3}')
    ok(api_sock, "PATCH", "/machine-config", '{"mem_size_mib": 512}')
    # GET /vm/config boots as a config file.
    cfg = ok(api_sock, "GET", "/vm/config", want=200)
    assert cfg["boot-source"] == {"kernel_image_path": str(ktg_elf()),
                                  "boot_args": "console=ttyS0 reboot=k panic=1"}
    assert cfg["machine-config"] == {"vcpu_count": 2, "mem_size_mib": 512, "smt": True,
                                     "track_dirty_pages": False, "huge_pages": "None"}
    assert cfg["drives"] == [] and cfg["network-interfaces"] == []
    (workdir / "vm.json").write_text(json.dumps(cfg))
    check = kiln("--config-file", str(workdir / "vm.json"), "--no-api", "--kvm", str(workdir / "no-kvm"))
    assert check.wait_exit(TIMEOUT) == 1, check.log()  # parsed fine, failed only at KVM
    assert "no-kvm" in check.log()


def test_start_failure_keeps_the_api_usable(kiln, workdir, api_sock):
    """A failed InstanceStart is a 400; kiln stays "Not started" and can be fixed."""
    r = start_api(kiln, api_sock, "--kvm", str(workdir / "no-such-kvm"))
    ok(api_sock, "PUT", "/boot-source", boot_body(ktg_elf()))
    msg = fault(api_sock, "PUT", "/actions", START_BODY)
    assert msg.startswith("Start microvm error: ") and "no-such-kvm" in msg, msg
    assert state(api_sock) == "Not started"
    ok(api_sock, "PUT", "/machine-config", '{"vcpu_count": 1, "mem_size_mib": 64}')
    assert fault(api_sock, "PUT", "/actions", START_BODY).startswith("Start microvm error: ")
    assert r.proc.poll() is None
    r.kill(signal.SIGINT)
    assert r.proc.returncode == 128 + signal.SIGINT


def test_socket_path_rules(kiln, workdir, api_sock):
    # A stale socket (its server is gone) is replaced.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(api_sock)
    s.close()
    first = start_api(kiln, api_sock)
    assert "removed the stale API socket" in first.log()
    # A live one is refused, and left working.
    second = kiln("--api-sock", api_sock)
    assert second.wait_exit(TIMEOUT) == 2
    assert "in use by another process" in second.log()
    assert state(api_sock) == "Not started"
    # Something that is not a socket is refused and left alone.
    path = workdir / "not-a-socket"
    path.write_text("keep me")
    third = kiln("--api-sock", str(path))
    assert third.wait_exit(TIMEOUT) == 2
    assert "exists and is not a socket" in third.log()
    assert path.read_text() == "keep me"
    # Stopping removes the socket it made.
    first.kill(signal.SIGTERM)
    assert first.proc.returncode == 128 + signal.SIGTERM
    assert not os.path.exists(api_sock)


@pytest.mark.parametrize("args,needle", [
    (("--no-api",), "--no-api needs --config-file"),
    (("--id", "bad id!"), "--id"),
    (("--id", "x" * 65), "--id"),
    (("--api-sock", "/tmp/" + "s" * 120), "path must be"),
])
def test_usage_errors(kiln, api_sock, args, needle):
    r = kiln(*args)
    assert r.wait_exit(TIMEOUT) == 2
    assert needle in r.log()


def test_config_file_boots_and_serves_post_boot_calls(kiln, workdir, api_sock, need_kvm):
    cfg = write_config(workdir, ktg_elf(), boot_args="exit=halt", vcpus=2, mem_mib=256)
    r = kiln("--config-file", str(cfg), "--api-sock", api_sock)
    r.wait_for(r"^KTG: done", BOOT_TIMEOUT)
    wait_api(r, api_sock)
    assert state(api_sock) == "Running"
    got = ok(api_sock, "GET", "/vm/config", want=200)
    assert got["boot-source"] == {"kernel_image_path": str(ktg_elf()), "boot_args": "exit=halt"}
    assert got["machine-config"]["vcpu_count"] == 2
    assert fault(api_sock, "PUT", "/boot-source", boot_body(ktg_elf())) == PRE_BOOT_ONLY
    assert fault(api_sock, "PUT", "/logger", '{"level": "Debug"}') == PRE_BOOT_ONLY
    ok(api_sock, "PATCH", "/vm", '{"state": "Paused"}')
    wait_vcpus(r.pid, SYS_FUTEX, 2)
    # A signal still ends a paused VM.
    r.kill(signal.SIGTERM)
    assert r.proc.returncode == 128 + signal.SIGTERM


def test_metrics_lines_are_deltas(kiln, workdir, api_sock, need_kvm):
    metrics = workdir / "metrics.json"
    r = start_api(kiln, api_sock, "--metrics-path", str(metrics))
    assert "Reinitialization" in fault(api_sock, "PUT", "/metrics",
                                       json.dumps({"metrics_path": str(workdir / "m2")}))
    ok(api_sock, "PUT", "/boot-source", boot_body(ktg_elf(), "exit=halt"))
    ok(api_sock, "PUT", "/actions", START_BODY)
    r.wait_for(r"^KTG: done", BOOT_TIMEOUT)
    fault(api_sock, "GET", "/nowhere")
    ok(api_sock, "PUT", "/actions", '{"action_type": "FlushMetrics"}')
    ok(api_sock, "PUT", "/actions", '{"action_type": "FlushMetrics"}')
    r.kill(signal.SIGTERM)
    lines = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert len(lines) == 3, lines  # two flushes and the one at exit
    first, second = lines[0], lines[1]
    put = first["put_api_requests"]
    assert put["boot_source_count"] == 1 and put["actions_count"] == 2
    assert put["metrics_count"] == 1 and put["metrics_fails"] == 1
    assert first["get_api_requests"]["invalid_path_count"] == 1
    assert first["vcpu"]["exit_io_out"] >= len(r.console())
    assert first["uart"]["write_count"] == len(r.console().encode())
    assert first["api_server"]["process_startup_time_us"] > 0
    # Deltas: the second line counts only the flush request itself.
    assert second["put_api_requests"]["actions_count"] == 1
    assert second["put_api_requests"]["boot_source_count"] == 0
    assert second["uart"]["write_count"] == 0
    assert second["utc_timestamp_ms"] >= first["utc_timestamp_ms"]


def test_logger_to_fifo(kiln, workdir, api_sock):
    start_api(kiln, api_sock)
    fifo = workdir / "log.fifo"
    os.mkfifo(fifo)
    # No reader: refused at once instead of hanging the VMM.
    msg = fault(api_sock, "PUT", "/logger", json.dumps({"log_path": str(fifo)}))
    assert msg.startswith("Logger error: ") and "No such device or address" in msg, msg
    rd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        ok(api_sock, "PUT", "/logger", json.dumps({"log_path": str(fifo), "level": "Info",
                                                   "show_level": True}))
        ok(api_sock, "GET", "/machine-config", want=200)
        deadline, got = time.monotonic() + TIMEOUT, b""
        while b"GET /machine-config: 200" not in got and time.monotonic() < deadline:
            try:
                got += os.read(rd, 65536)
            except BlockingIOError:
                time.sleep(0.02)
        assert b"[INFO] API GET /machine-config: 200 in" in got, got
    finally:
        os.close(rd)


def test_device_resources_through_the_api(kiln, workdir, api_sock, netns, need_kvm):
    """PUT of every device before boot (files and TAPs checked when the request
    arrives), the devices on the guest's command line, GET /vm/config, and the
    post-boot calls: PATCH of a NIC's rate limiters, the balloon's target and
    statistics interval, GET /balloon/statistics."""
    r = kiln("--api-sock", api_sock, "--id", "test-vm-1", netns=netns.name)
    wait_api(r, api_sock)
    uds = str(workdir / "v.sock")
    # An interface that is no TAP (loopback) fails now, not at boot.
    msg = fault(api_sock, "PUT", "/network-interfaces/eth0", '{"iface_id": "eth0", "host_dev_name": "lo"}')
    assert msg.startswith("Network interface config error: host_dev_name lo: cannot open the TAP"), msg
    ok(api_sock, "PUT", "/network-interfaces/eth0",
       '{"iface_id": "eth0", "host_dev_name": "ktap0", "guest_mac": "06:00:ac:10:00:02",'
       ' "tx_rate_limiter": {"bandwidth": {"size": 1000000, "refill_time": 100}}}')
    ok(api_sock, "PUT", "/vsock", json.dumps({"guest_cid": 3, "uds_path": uds}))
    ok(api_sock, "PUT", "/balloon", '{"amount_mib": 8, "deflate_on_oom": false, "stats_polling_interval_s": 1}')
    assert "larger than the VM's memory" in fault(api_sock, "PUT", "/balloon", '{"amount_mib": 4096, "deflate_on_oom": false}')
    ok(api_sock, "PUT", "/entropy", '{"rate_limiter": {"ops": {"size": 100, "refill_time": 1000}}}')
    assert ok(api_sock, "GET", "/balloon", want=200) == {
        "amount_mib": 8, "deflate_on_oom": False, "stats_polling_interval_s": 1, "free_page_reporting": False}
    assert "not supported before starting" in fault(api_sock, "GET", "/balloon/statistics")
    ok(api_sock, "PUT", "/boot-source", boot_body(ktg_elf(), "console=ttyS0 exit=halt virtio=1"))
    ok(api_sock, "PUT", "/actions", START_BODY)
    r.wait_for(r"^KTG: done", BOOT_TIMEOUT)
    out = r.console()
    for dev_id in (1, 19, 5, 4):  # net, vsock, balloon, rng, in that order
        assert re.search(rf"^KTG: virtio 0xc000\w+ id={dev_id} ", out, re.M), out
    assert os.path.exists(uds), "vsock is not listening on its uds_path"
    cfg = ok(api_sock, "GET", "/vm/config", want=200)
    assert cfg["network-interfaces"][0]["guest_mac"] == "06:00:ac:10:00:02"
    assert cfg["network-interfaces"][0]["tx_rate_limiter"]["bandwidth"]["size"] == 1000000
    assert cfg["vsock"] == {"guest_cid": 3, "uds_path": uds}
    assert cfg["entropy"]["rate_limiter"]["ops"]["size"] == 100
    # After boot: pre-boot-only calls refused, the running devices updated.
    assert fault(api_sock, "PUT", "/vsock", json.dumps({"guest_cid": 4, "uds_path": uds + "2"})) == PRE_BOOT_ONLY
    ok(api_sock, "PATCH", "/network-interfaces/eth0",
       '{"iface_id": "eth0", "rx_rate_limiter": {"ops": {"size": 10, "refill_time": 100}}}')
    cfg = ok(api_sock, "GET", "/vm/config", want=200)
    assert cfg["network-interfaces"][0]["rx_rate_limiter"]["ops"]["size"] == 10
    ok(api_sock, "PATCH", "/balloon", '{"amount_mib": 16}')
    assert ok(api_sock, "GET", "/balloon", want=200)["amount_mib"] == 16
    stats = ok(api_sock, "GET", "/balloon/statistics", want=200)
    assert stats["target_pages"] == 16 * 256 and stats["target_mib"] == 16, stats
    ok(api_sock, "PATCH", "/balloon/statistics", '{"stats_polling_interval_s": 5}')
    assert "cannot be disabled after boot" in fault(api_sock, "PATCH", "/balloon/statistics",
                                                     '{"stats_polling_interval_s": 0}')
    assert state(api_sock) == "Running"
    r.kill(signal.SIGTERM)
    assert r.wait_exit(TIMEOUT) == 128 + signal.SIGTERM
    assert not os.path.exists(uds), "the vsock socket was left behind"


class _UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path, timeout=TIMEOUT):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


def test_sdk_style_client_on_one_keepalive_connection(kiln, workdir, api_sock, netns, need_kvm):
    """The request sequence and body shapes firecracker-go-sdk (and firectl on
    it) sends: JSON headers, every call on one kept-alive connection, optional
    fields written out as the SDK's models do (smt, is_read_only, null rate
    limiters, show_log_origin), then DescribeInstance and a Ctrl-Alt-Del."""
    r = kiln("--api-sock", api_sock, netns=netns.name)
    wait_api(r, api_sock)
    disk = workdir / "rootfs.img"
    disk.write_bytes(b"\0" * 1024 * 1024)
    calls = [
        ("PUT", "/logger", {"log_path": str(workdir / "sdk.log"), "level": "Debug", "show_level": True,
                            "show_log_origin": False}),
        ("PUT", "/metrics", {"metrics_path": str(workdir / "sdk.metrics")}),
        ("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 128, "smt": False,
                                    "track_dirty_pages": False}),
        ("PUT", "/boot-source", {"kernel_image_path": str(ktg_elf()),
                                 "boot_args": "console=ttyS0 reboot=k panic=1 pci=off exit=halt virtio=1"}),
        ("PUT", "/drives/1", {"drive_id": "1", "path_on_host": str(disk), "is_root_device": True,
                              "is_read_only": False, "rate_limiter": None, "io_engine": "Sync",
                              "cache_type": "Unsafe"}),
        ("PUT", "/network-interfaces/1", {"iface_id": "1", "host_dev_name": "ktap0",
                                          "guest_mac": "02:fc:00:00:00:05", "rx_rate_limiter": None,
                                          "tx_rate_limiter": None}),
        ("PUT", "/vsock", {"vsock_id": "vsock0", "guest_cid": 3, "uds_path": str(workdir / "v.sock")}),
        ("PUT", "/actions", {"action_type": "InstanceStart"}),
    ]
    conn = _UnixHTTP(api_sock)
    headers = {"Content-Type": "application/json", "Accept": "application/json",
               "User-Agent": "firecracker-go-sdk"}
    first_sock = None
    for method, path, body in calls:
        conn.request(method, path, body=json.dumps(body), headers=headers)
        resp = conn.getresponse()
        text = resp.read()
        assert resp.status == 204, f"{method} {path}: {resp.status} {text!r}"
        first_sock = first_sock or conn.sock
        assert conn.sock is first_sock, f"{path}: the connection was not kept alive"
    r.wait_for(r"^KTG: done", BOOT_TIMEOUT)
    conn.request("GET", "/", headers=headers)
    resp = conn.getresponse()
    info = json.loads(resp.read())
    assert resp.status == 200 and info["state"] == "Running" and info["app_name"] == "kiln", info
    conn.request("PUT", "/actions", body='{"action_type": "SendCtrlAltDel"}', headers=headers)
    assert conn.getresponse().status == 204
    conn.close()
    assert "[DEBUG]" in (workdir / "sdk.log").read_text()
