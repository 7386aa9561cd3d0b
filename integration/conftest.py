import os
import shutil
import tempfile
from pathlib import Path

import pytest

from kiln_harness import LOUD_MESSAGES, KilnRun, NetNs, kiln_binary, kvm_usable, loud, netns_usable


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def kiln(workdir):
    """Factory: kiln(args...) starts kiln in workdir; all are ended at teardown."""
    runs = []

    def start(*args, **kw):
        if not kiln_binary().exists():
            pytest.fail(f"kiln binary missing at {kiln_binary()} (set KILN_BUILD)")
        r = KilnRun(args, workdir, **kw)
        runs.append(r)
        return r

    yield start
    for r in runs:
        r.close()


@pytest.fixture
def netns():
    """A network namespace with a TAP "ktap0", deleted after the test."""
    if not netns_usable():
        loud("SKIPPED: no root, /dev/net/tun or ip(8): network-namespace TAP tests did NOT run")
        pytest.skip("SKIPPED LOUDLY: cannot create a network namespace with a TAP")
    ns = NetNs()
    yield ns
    ns.close()


@pytest.fixture
def short_dir():
    """A short directory for Unix sockets (sun_path holds 107 bytes)."""
    d = tempfile.mkdtemp(prefix="kiln-sd-", dir="/tmp")
    yield Path(d)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def need_kvm():
    if not kvm_usable():
        loud("SKIPPED: /dev/kvm is not usable on this host; KVM boot tests did NOT run")
        pytest.skip("SKIPPED LOUDLY: /dev/kvm not usable")


def pytest_terminal_summary(terminalreporter):
    """Tests that could not run here say so in a banner nobody can miss."""
    if not LOUD_MESSAGES:
        return
    bar = "!" * 78
    terminalreporter.write_line(bar, red=True, bold=True)
    for msg in LOUD_MESSAGES:
        terminalreporter.write_line(f"!! {msg}", red=True, bold=True)
    terminalreporter.write_line(bar, red=True, bold=True)


@pytest.fixture(scope="session")
def userspace_snapshot():
    """The user-space tier's Linux guest, booted once per session and
    snapshotted while its agent waits for commands (linux_snapshot.py).
    Skips loudly where KVM, Linux user space or network namespaces are
    missing; a failed boot fails every test that uses it, without a retry."""
    from linux_images import KERNEL_DIR, need, userspace_runnable
    from linux_snapshot import ROOTFS_CPIO, UserspaceSnapshot

    if not kvm_usable():
        loud("SKIPPED: /dev/kvm is not usable on this host; KVM boot tests did NOT run")
        pytest.skip("SKIPPED LOUDLY: /dev/kvm not usable")
    ok, why = userspace_runnable()
    if not ok:
        loud(f"NOT RUNNABLE on this host (user-space tier): {why}")
        pytest.skip(f"NOT RUNNABLE (loud): {why}")
    if not netns_usable():
        loud("SKIPPED: no root, /dev/net/tun or ip(8): the user-space tier did NOT run")
        pytest.skip("SKIPPED LOUDLY: cannot create a network namespace with a TAP")
    kernel = need(KERNEL_DIR / "vmlinux")
    need(ROOTFS_CPIO)
    snap = UserspaceSnapshot(kernel)
    print(f"user-space snapshot: boot to agent {snap.boot_s:.1f} s, Full snapshot {snap.snapshot_ms:.0f} ms")
    yield snap
    snap.close()
