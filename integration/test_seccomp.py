"""Per-thread seccomp filters (vmm/seccomp, SECURITY.md).

Each thread role (api, vmm, vcpu) is made to call getpgid(2), which no list
allows, through the test-only KILN_TEST_SECCOMP_VIOLATE hook: kiln must end with
exit code 148 and one line naming the thread role and the call.  Then the
opposite: a booted test guest runs its whole device workload (virtio-blk
reads and writes, hostile register abuse, API calls, pause/resume,
Ctrl-Alt-Del, metrics, SIGUSR1 dump, SIGTERM) with the filters on, and nothing
is killed.  Finally --no-seccomp and --seccomp-filter FILE.

The hook exists only in builds with tests enabled (-Dtests, the default); in a
build without it the violation tests fail rather than pass silently."""
import json
import os
import re
import shutil
import signal
import tempfile
import time
from pathlib import Path

import pytest

from kiln_harness import ktg_elf, write_config
from test_api import BOOT_TIMEOUT, START_BODY, SYS_IOCTL, boot_body, curl, ok, start_api, state, \
    wait_vcpus
from test_blk import SECTOR, drive, make_disk, pattern

BAD_SYSCALL_EXIT = 148
RUN_TIMEOUT = 60
ROLE_LINE = r"kiln: seccomp: the {role} thread made a forbidden system call {call} \(\d+\); exiting with code 148"


@pytest.fixture
def api_sock():
    d = tempfile.mkdtemp(prefix="kiln-sec-", dir="/tmp")
    yield os.path.join(d, "api.sock")
    shutil.rmtree(d, ignore_errors=True)


def thread_filters(pid):
    """{tid: (comm, Seccomp mode, number of filters)} for every thread of pid."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            comm = (task / "comm").read_text().strip()
            status = (task / "status").read_text()
        except OSError:
            continue
        mode = int(re.search(r"^Seccomp:\s+(\d+)", status, re.M).group(1))
        n = int(re.search(r"^Seccomp_filters:\s+(\d+)", status, re.M).group(1))
        out[int(task.name)] = (comm, mode, n)
    return out


def wait_text(r, path, text, timeout=10):
    deadline = time.monotonic() + timeout
    while text not in path.read_text():
        assert r.proc.poll() is None, f"kiln exited ({r.proc.returncode}):\n{r.log()[-3000:]}"
        assert time.monotonic() < deadline, f"'{text}' not in {path}:\n{path.read_text()[-3000:]}"
        time.sleep(0.05)


def no_seccomp_report(r):
    assert "kiln: seccomp:" not in r.log(), r.log()[-3000:]


@pytest.mark.parametrize("role", ["api", "vmm", "vcpu"])
def test_each_role_outside_its_list_exits_148_naming_the_call(kiln, workdir, api_sock, need_kvm,
                                                              monkeypatch, role):
    monkeypatch.setenv("KILN_TEST_SECCOMP_VIOLATE", role)
    cfg = write_config(workdir, ktg_elf(), boot_args="exit=halt", vcpus=2)
    r = kiln("--config-file", str(cfg), "--api-sock", api_sock)
    code = r.wait_exit(RUN_TIMEOUT)
    assert code == BAD_SYSCALL_EXIT, f"exit {code}\n{r.log()[-3000:]}"
    lines = re.findall(ROLE_LINE.format(role=r"(\w+)", call="getpgid"), r.log())
    # One report: the first violation ends the process (a second vCPU may
    # race to its own report; all of them name the same role).
    assert lines and set(lines) == {role}, r.log()[-3000:]


def test_every_thread_runs_under_its_filter(kiln, api_sock, need_kvm):
    r = start_api(kiln, api_sock)
    ok(api_sock, "PUT", "/boot-source", boot_body(ktg_elf(), "exit=halt"))
    ok(api_sock, "PUT", "/machine-config", '{"vcpu_count": 3, "mem_size_mib": 128}')
    ok(api_sock, "PUT", "/actions", START_BODY)
    r.wait_for(r"^KTG: done", BOOT_TIMEOUT)
    wait_vcpus(r.pid, SYS_IOCTL, 3)
    threads = thread_filters(r.pid)
    assert "NoNewPrivs:\t1" in Path(f"/proc/{r.pid}/status").read_text()
    by_comm = {}
    for comm, mode, n in threads.values():
        assert mode == 2, f"{comm} is not filtered: {threads}"
        by_comm.setdefault(comm, set()).add(n)
    # vCPUs: the vmm filter they were born under plus their own.
    for i in range(3):
        assert by_comm[f"vcpu{i}"] == {2}, threads
    # The VMM thread and libmicrohttpd's thread: one filter each.
    assert by_comm["kiln"] == {1}, threads
    mhd = [c for c in by_comm if c.startswith("MHD")]
    assert mhd and all(by_comm[c] == {1} for c in mhd), threads
    r.kill(signal.SIGTERM)
    assert r.proc.returncode == 128 + signal.SIGTERM
    no_seccomp_report(r)


def test_full_device_workload_with_filters_on(kiln, workdir, api_sock, need_kvm):
    """virtio-blk reads/writes, API calls, pause/resume, Ctrl-Alt-Del,
    PATCH /drives, metrics, logger, SIGUSR1, SIGTERM: nothing is killed."""
    root_img, data_img, new_img = workdir / "root.img", workdir / "data.img", workdir / "new.img"
    make_disk(root_img, 32, seed=2)
    data = make_disk(data_img, 16, seed=4)
    make_disk(new_img, 40, seed=8)
    metrics, log = workdir / "metrics.json", workdir / "kiln.log"
    metrics.touch()
    log.touch()
    r = start_api(kiln, api_sock)
    ok(api_sock, "PUT", "/logger", json.dumps({"log_path": str(log), "level": "Debug"}))
    ok(api_sock, "PUT", "/metrics", json.dumps({"metrics_path": str(metrics)}))
    ok(api_sock, "PUT", "/boot-source", json.dumps({"kernel_image_path": str(ktg_elf()),
                                                    "boot_args": "virtio=1 blkwrite=1 exit=halt"}))
    ok(api_sock, "PUT", "/machine-config", '{"vcpu_count": 2, "mem_size_mib": 128}')
    ok(api_sock, "PUT", "/drives/rootfs", json.dumps(drive("rootfs", root_img, root=True, ro=True)))
    ok(api_sock, "PUT", "/drives/data", json.dumps(drive("data", data_img)))
    ok(api_sock, "PUT", "/actions", START_BODY)
    r.wait_for(r"^KTG: done", BOOT_TIMEOUT)
    wait_vcpus(r.pid, SYS_IOCTL, 2)
    # The guest's write reached the host file (the VMM thread did the I/O).
    after = data_img.read_bytes()
    assert after[SECTOR:2 * SECTOR] == bytes(pattern(i) for i in range(SECTOR))
    assert after[2 * SECTOR:] == data[2 * SECTOR:]
    for _ in range(2):
        ok(api_sock, "PATCH", "/vm", '{"state": "Paused"}')
        assert state(api_sock) == "Paused"
        ok(api_sock, "PATCH", "/vm", '{"state": "Resumed"}')
        assert state(api_sock) == "Running"
    ok(api_sock, "GET", "/vm/config", want=200)
    ok(api_sock, "GET", "/machine-config", want=200)
    ok(api_sock, "PATCH", "/drives/data", json.dumps({"drive_id": "data", "path_on_host": str(new_img)}))
    ok(api_sock, "PUT", "/actions", '{"action_type": "FlushMetrics"}')
    ok(api_sock, "PUT", "/actions", '{"action_type": "SendCtrlAltDel"}')
    status, _, _ = curl(api_sock, "PUT", "/machine-config", '{"vcpu_count": 1, "mem_size_mib": 128}')
    assert status == 400
    os.kill(r.pid, signal.SIGUSR1)  # the VMM thread pauses each vCPU and reads its registers
    wait_text(r, log, "vcpu1: rip=")
    assert state(api_sock) == "Running"
    assert metrics.read_text().strip(), "no metrics line"
    r.kill(signal.SIGTERM)
    assert r.proc.returncode == 128 + signal.SIGTERM, r.log()[-3000:]
    no_seccomp_report(r)
    assert "seccomp" not in log.read_text()


def test_hostile_guest_with_filters_on(kiln, workdir, api_sock, need_kvm):
    """The hostile guest (test_hostile.py) under the filters: its register and
    descriptor abuse makes the devices fail requests, never a forbidden call."""
    from test_hostile import ITERATIONS, check_survived, check_victim, run_hostile, two_drives
    ro_img, ro_data, rw_img, rw_data, drives = two_drives(workdir)
    seed = 7
    r, code, polls, max_rss = run_hostile(
        kiln, workdir, api_sock,
        f"virtio=1 hostile={ITERATIONS} seed={seed} hostile_dev=0 blkwrite=1 exit=reset", drives)
    no_seccomp_report(r)
    check_survived(r, code, polls, max_rss, ITERATIONS, seed)
    check_victim(r.console(), ro_img, ro_data, rw_img, rw_data, seed)


def test_no_seccomp_runs_unfiltered(kiln, api_sock, need_kvm, monkeypatch):
    # The hook would kill a filtered vmm thread; unfiltered it changes nothing.
    monkeypatch.setenv("KILN_TEST_SECCOMP_VIOLATE", "vmm")
    r = start_api(kiln, api_sock, "--no-seccomp")
    assert all(mode == 0 for _, mode, _ in thread_filters(r.pid).values())
    assert "seccomp filters are off (--no-seccomp)" in r.log()
    r.kill(signal.SIGTERM)
    assert r.proc.returncode == 128 + signal.SIGTERM


def write_filter(workdir, lists):
    path = workdir / "filter.json"
    path.write_text(json.dumps(lists))
    return path


def test_user_filter_file_is_used(kiln, workdir, need_kvm):
    # Everything allowed but logged by the kernel: kiln boots, threads filtered.
    logs = {role: {"default_action": "log", "filter_action": "allow", "filter": []}
            for role in ("api", "vmm", "vcpu")}
    path = write_filter(workdir, logs)
    cfg = write_config(workdir, ktg_elf(), boot_args="exit=reset")
    r = kiln("--config-file", str(cfg), "--no-api", "--seccomp-filter", str(path))
    assert r.wait_exit(RUN_TIMEOUT) == 0, r.log()
    assert "KTG: done" in r.console()
    # A vcpu list without ioctl: the first KVM_RUN is the violation.
    lists = dict(logs)
    lists["vcpu"] = {"default_action": "trap", "filter": [{"syscall": "futex", "comment": "locks"}]}
    path = write_filter(workdir, lists)
    r = kiln("--config-file", str(cfg), "--no-api", "--seccomp-filter", str(path))
    assert r.wait_exit(RUN_TIMEOUT) == BAD_SYSCALL_EXIT, r.log()
    assert re.search(ROLE_LINE.format(role="vcpu", call="ioctl"), r.log()), r.log()


@pytest.mark.parametrize("args,needle", [
    (["--seccomp-filter", "/nonexistent/f.json"], "--seccomp-filter: /nonexistent/f.json: No such file"),
    (["--seccomp-filter", "BAD"], "vcpu.filter[0].syscall: must be a system call name"),
    (["--seccomp-filter", "UNKNOWN"], "vmm: unknown system call 'fork_bomb'"),
    (["--seccomp-filter", "F", "--no-seccomp"], "contradict"),
])
def test_bad_filter_arguments_exit_2(kiln, workdir, args, needle):
    ok_role = {"filter": [{"syscall": "read"}]}
    files = {
        "BAD": {"api": ok_role, "vmm": ok_role, "vcpu": {"filter": [{"syscall": 3}]}},
        "UNKNOWN": {"api": ok_role, "vmm": {"filter": [{"syscall": "fork_bomb"}]}, "vcpu": ok_role},
        "F": {"api": ok_role, "vmm": ok_role, "vcpu": ok_role},
    }
    args = [str(write_filter(workdir, files[a])) if a in files else a for a in args]
    cfg = write_config(workdir, ktg_elf(), boot_args="exit=reset")
    r = kiln("--config-file", str(cfg), "--no-api", *args)
    assert r.wait_exit(RUN_TIMEOUT) == 2, r.log()
    assert needle in r.log(), r.log()
    assert "KTG:" not in r.console()
