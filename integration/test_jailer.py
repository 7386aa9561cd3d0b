"""kiln-jailer (jailer/jailer.h, SECURITY.md): kiln boots the test guest
inside a jail as an unprivileged uid, with its API socket in the jail root.
Checks what the process ends up with: its root, mount and pid namespaces,
uid/gid, cgroup membership and limits (v1 and v2), rlimits, an empty
environment and no inherited fds.  Checks also what the jailer refuses before
it creates anything.

Needs root (mknod, pivot_root, cgroups) and /dev/kvm for the boot.  Each test
cleans up only what it created: jail directories under its own temporary
base, and the cgroups under a parent named for this test run.  It ends only
the processes it started, by PID."""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from kiln_harness import BUILD, kiln_binary, ktg_elf
from test_api import curl

UID = GID = 10000
TIMEOUT = 10
BOOT_TIMEOUT = 60
CGROUP_V1 = Path("/sys/fs/cgroup")


def jailer_binary() -> Path:
    return BUILD / "jailer" / "kiln-jailer"


def cgroup_v2_mount():
    for line in Path("/proc/mounts").read_text().splitlines():
        f = line.split()
        if f[2] == "cgroup2":
            return Path(f[1])
    return None


@pytest.fixture
def need_root():
    if os.geteuid() != 0:
        pytest.skip("SKIPPED LOUDLY: the jailer needs root")
    if not jailer_binary().exists():
        pytest.fail(f"kiln-jailer missing at {jailer_binary()} (set KILN_BUILD)")


@pytest.fixture
def jail(need_root):
    """A temporary chroot base and a unique parent cgroup; removes both after."""
    base = Path(tempfile.mkdtemp(prefix="kiln-jail-", dir="/tmp"))
    parent = f"kiln-test-{uuid.uuid4().hex[:12]}"
    ctx = {"base": base, "parent": parent, "pids": []}
    yield ctx
    for pid in ctx["pids"]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for pid in ctx["pids"]:
        wait_gone(pid, TIMEOUT)
    roots = [CGROUP_V1 / c for c in ("pids", "cpu", "cpuset")] + [cgroup_v2_mount()]
    for root in filter(None, roots):
        top = root / parent
        if not top.exists():
            continue
        for d in sorted(top.glob("**/"), key=lambda p: len(p.parts), reverse=True):
            deadline = time.monotonic() + TIMEOUT
            while True:
                try:
                    d.rmdir()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
    shutil.rmtree(base, ignore_errors=True)


def wait_gone(pid, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state == "Z":
            return True
        time.sleep(0.02)
    return False


def run_jailer(ctx, jail_id, *extra, kiln_args=("--api-sock", "/api.sock"), pass_fds=()):
    out = open(ctx["base"] / f"{jail_id}.out", "wb")
    err = open(ctx["base"] / f"{jail_id}.err", "wb")
    cmd = [str(jailer_binary()), "--id", jail_id, "--exec-file", str(kiln_binary()),
           "--uid", str(UID), "--gid", str(GID), "--chroot-base-dir", str(ctx["base"]),
           "--parent-cgroup", ctx["parent"], *extra, "--", *kiln_args]
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, pass_fds=pass_fds,
                         env={"KILN_TEST_SECCOMP_VIOLATE": "vmm", "SECRET": "x"})
    ctx["pids"].append(p.pid)
    p.out_path, p.err_path = out.name, err.name
    return p


def text(path):
    return Path(path).read_bytes().decode(errors="replace")


def wait_socket(p, sock, pid=None, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pid is None and p.poll() is not None:
            raise AssertionError(f"jailer/kiln exited {p.returncode}:\n{text(p.err_path)}")
        if sock.exists():
            try:
                status, _, doc = curl(str(sock), "GET", "/", timeout=2)
                if status == 200:
                    return doc
            except (AssertionError, subprocess.TimeoutExpired):
                pass
        time.sleep(0.01)
    raise AssertionError(f"{sock} not ready in {timeout}s:\n{text(p.err_path)}")


def status_field(pid, name):
    m = re.search(rf"^{name}:[ \t]*(.*)$", Path(f"/proc/{pid}/status").read_text(), re.M)
    return m.group(1).split() if m else None


def limits(pid, name):
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith(name):
            return line[len(name):].split()[:2]
    raise AssertionError(name)


def boot_test_guest(sock, root):
    shutil.copy(ktg_elf(), root / "testguest.elf")
    os.chown(root / "testguest.elf", UID, GID)
    for method, path, body in [
        ("PUT", "/boot-source", {"kernel_image_path": "/testguest.elf", "boot_args": "exit=halt"}),
        ("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 64}),
        ("PUT", "/actions", {"action_type": "InstanceStart"}),
    ]:
        status, body_text, _ = curl(str(sock), method, path, json.dumps(body))
        assert status == 204, f"{method} {path}: {status} {body_text}"


def wait_text(path, needle, timeout):
    deadline = time.monotonic() + timeout
    while needle not in text(path):
        assert time.monotonic() < deadline, f"'{needle}' not in {path}:\n{text(path)[-2000:]}"
        time.sleep(0.05)


def test_boots_the_test_guest_jailed_and_unprivileged(jail, need_kvm):
    jail_id = "vm-jail-1"
    marker = os.open("/etc/hostname", os.O_RDONLY)  # inherited: the jailer must close it
    try:
        p = run_jailer(jail, jail_id, "--cgroup", "pids.max=64", "--cgroup", "cpu.shares=512",
                       "--resource-limit", "no-file=1024", "--resource-limit", "fsize=1073741824",
                       pass_fds=(marker,))
    finally:
        os.close(marker)
    root = jail["base"] / "kiln" / jail_id / "root"
    sock = root / "api.sock"
    doc = wait_socket(p, sock)
    pid = p.pid  # no new pid namespace: the jailer became kiln
    assert doc["id"] == jail_id, doc  # the jailer passes --id
    boot_test_guest(sock, root)
    wait_text(p.out_path, "KTG: done", BOOT_TIMEOUT)

    # Identity: the unprivileged uid/gid, no groups, no way back.
    assert status_field(pid, "Uid") == [str(UID)] * 4
    assert status_field(pid, "Gid") == [str(GID)] * 4
    assert status_field(pid, "Groups") in ([], None)
    assert status_field(pid, "CapEff") == ["0000000000000000"]
    assert status_field(pid, "NoNewPrivs") == ["1"]
    assert status_field(pid, "Seccomp") == ["2"]
    # Root: the jail, holding only what kiln needs.
    assert os.stat(f"/proc/{pid}/root/kiln").st_ino == os.stat(root / "kiln").st_ino
    seen = set(os.listdir(f"/proc/{pid}/root"))
    assert seen <= {"kiln", "lib", "lib64", "dev", "api.sock", "testguest.elf"}, seen
    assert sorted(os.listdir(f"/proc/{pid}/root/dev")) == sorted(
        ["kvm", "net", "urandom"] + (["userfaultfd"] if os.path.exists("/dev/userfaultfd") else []))
    st = os.stat(root / "dev" / "kvm")
    assert (st.st_uid, st.st_gid, os.major(st.st_rdev), os.minor(st.st_rdev)) == (UID, GID, 10, 232)
    assert os.stat(root).st_uid == UID and os.stat(root / "kiln").st_uid == 0
    # Namespaces: its own mount namespace; the pid namespace is ours (no --new-pid-ns).
    assert os.readlink(f"/proc/{pid}/ns/mnt") != os.readlink("/proc/self/ns/mnt")
    assert os.readlink(f"/proc/{pid}/ns/pid") == os.readlink("/proc/self/ns/pid")
    # cgroups (v1 here): member of <controller>/<parent>/<id>, with the values.
    cg = text(f"/proc/{pid}/cgroup")
    assert re.search(rf"^\d+:pids:/{jail['parent']}/{jail_id}$", cg, re.M), cg
    assert re.search(rf"^\d+:cpu:/{jail['parent']}/{jail_id}$", cg, re.M), cg
    assert text(CGROUP_V1 / "pids" / jail["parent"] / jail_id / "pids.max").strip() == "64"
    assert text(CGROUP_V1 / "cpu" / jail["parent"] / jail_id / "cpu.shares").strip() == "512"
    # rlimits, environment, fds.
    assert limits(pid, "Max open files") == ["1024", "1024"]
    assert limits(pid, "Max file size") == ["1073741824", "1073741824"]
    assert Path(f"/proc/{pid}/environ").read_bytes() == b""
    fds = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
    assert "/etc/hostname" not in fds, fds
    # Cleared environment: the seccomp test hook set for the jailer never reached kiln.
    assert p.poll() is None
    os.kill(pid, signal.SIGTERM)
    assert p.wait(TIMEOUT) == 128 + signal.SIGTERM, text(p.err_path)
    assert "kiln: seccomp:" not in text(p.err_path)


def test_new_pid_ns_and_daemonize(jail, need_kvm):
    jail_id = "vm-jail-2"
    p = run_jailer(jail, jail_id, "--new-pid-ns", "--daemonize", "--cgroup", "pids.max=32")
    assert p.wait(TIMEOUT) == 0, text(p.err_path)
    root = jail["base"] / "kiln" / jail_id / "root"
    pid_file = root / "kiln.pid"
    pid = int(pid_file.read_text())
    jail["pids"].append(pid)
    wait_socket(p, root / "api.sock", pid=pid)
    # pid 1 of its own namespace
    assert os.readlink(f"/proc/{pid}/ns/pid") != os.readlink("/proc/self/ns/pid")
    assert status_field(pid, "NSpid") == [str(pid), "1"]
    assert status_field(pid, "Uid") == [str(UID)] * 4
    # daemonized: its own session, stdio on /dev/null
    sid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[3])
    assert sid != os.getsid(0)
    for fd in (0, 1, 2):
        assert os.readlink(f"/proc/{pid}/fd/{fd}") == "/dev/null"
    assert re.search(rf"pids:/{jail['parent']}/{jail_id}$", text(f"/proc/{pid}/cgroup"), re.M)
    boot_test_guest(root / "api.sock", root)
    status, _, doc = curl(str(root / "api.sock"), "GET", "/", timeout=TIMEOUT)
    assert status == 200 and doc["state"] == "Running", doc
    os.kill(pid, signal.SIGTERM)
    assert wait_gone(pid, TIMEOUT), "kiln (pid 1 of its namespace) ignored SIGTERM"


def test_cgroup_v2(jail, need_kvm):
    if cgroup_v2_mount() is None:
        pytest.skip("SKIPPED LOUDLY: no cgroup v2 hierarchy mounted")
    jail_id = "vm-jail-3"
    p = run_jailer(jail, jail_id, "--cgroup-version", "2", "--cgroup", "cgroup.max.descendants=3")
    root = jail["base"] / "kiln" / jail_id / "root"
    wait_socket(p, root / "api.sock")
    group = cgroup_v2_mount() / jail["parent"] / jail_id
    assert re.search(rf"^0::/{jail['parent']}/{jail_id}$", text(f"/proc/{p.pid}/cgroup"), re.M)
    assert text(group / "cgroup.max.descendants").strip() == "3"
    assert str(p.pid) in text(group / "cgroup.procs").split()
    os.kill(p.pid, signal.SIGTERM)
    assert p.wait(TIMEOUT) == 128 + signal.SIGTERM


def refused(jail, args, needle, code=2):
    before = sorted(p.name for p in jail["base"].iterdir())
    p = subprocess.run([str(jailer_binary()), *args], capture_output=True, timeout=TIMEOUT)
    err = p.stderr.decode(errors="replace")
    assert p.returncode == code, f"exit {p.returncode}: {err}"
    assert needle in err, err
    assert err.startswith("kiln-jailer: "), err
    assert sorted(q.name for q in jail["base"].iterdir()) == before, "the jailer created something"


@pytest.mark.parametrize("bad_id,needle", [
    ("a_b", "--id: 'a_b' must be 1 to 64"),
    ("", "--id: '' must be"),
    ("x" * 65, "--id:"),
    ("../x", "--id: '../x'"),
])
def test_bad_ids_are_refused(jail, bad_id, needle):
    refused(jail, ["--id", bad_id, "--exec-file", str(kiln_binary()), "--uid", "1", "--gid", "1",
                   "--chroot-base-dir", str(jail["base"])], needle)


def test_bad_paths_are_refused(jail):
    common = ["--id", "vm-x", "--uid", "1", "--gid", "1"]
    refused(jail, common + ["--exec-file", "vmm/core/kiln", "--chroot-base-dir", str(jail["base"])],
            "--exec-file: 'vmm/core/kiln' must be an absolute path")
    refused(jail, common + ["--exec-file", "/nonexistent/kiln", "--chroot-base-dir", str(jail["base"])],
            "--exec-file: /nonexistent/kiln: No such file or directory")
    refused(jail, common + ["--exec-file", "/tmp", "--chroot-base-dir", str(jail["base"])],
            "is not a regular file")
    refused(jail, common + ["--exec-file", str(kiln_binary()), "--chroot-base-dir", "srv/jailer"],
            "--chroot-base-dir: 'srv/jailer' must be an absolute path")
    refused(jail, common + ["--exec-file", str(kiln_binary()), "--chroot-base-dir", str(jail["base"]),
                            "--netns", "/nonexistent/netns"], "--netns: /nonexistent/netns: No such file")


def test_existing_jail_directory_is_refused(jail):
    existing = jail["base"] / "kiln" / "vm-taken"
    existing.mkdir(parents=True)
    (existing / "keep").write_text("mine")
    refused(jail, ["--id", "vm-taken", "--exec-file", str(kiln_binary()), "--uid", "1", "--gid", "1",
                   "--chroot-base-dir", str(jail["base"])],
            f"create the jail: {existing} already exists", code=1)
    assert (existing / "keep").read_text() == "mine"
    assert sorted(os.listdir(existing)) == ["keep"]


def test_failure_after_creating_says_what_is_left(jail):
    """A cgroup controller that does not exist: the jail directory the jailer
    made is removed again, and the message names the step."""
    p = subprocess.run([str(jailer_binary()), "--id", "vm-fail", "--exec-file", str(kiln_binary()),
                        "--uid", "1", "--gid", "1", "--chroot-base-dir", str(jail["base"]),
                        "--parent-cgroup", jail["parent"], "--cgroup", "nosuchctl.max=1"],
                       capture_output=True, timeout=TIMEOUT)
    err = p.stderr.decode()
    assert p.returncode == 1, err
    assert "kiln-jailer: join the cgroups: no cgroup v1 hierarchy has the 'nosuchctl' controller" in err
    assert f"removed {jail['base'] / 'kiln' / 'vm-fail'}" in err
    assert not (jail["base"] / "kiln" / "vm-fail").exists()
