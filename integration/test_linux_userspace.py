"""User-space tier: Linux user space in the guest (our init agent, busybox).

Needs a host where Linux user space can run: hardware KVM, or PVM with our
kernel's PVM syscall fix-up.  Elsewhere every test here reports itself as NOT
RUNNABLE, loudly, as a skip, never as a pass."""
import random
import re
import shutil
import time

import pytest

from kiln_harness import loud, write_config
from linux_images import (INITRAMFS, KERNEL_DIR, LINUX_ARGS, LINUX_TIMEOUT, IMAGES, need,
                          userspace_runnable)
from linux_snapshot import CMDLINE_MARKER, VSOCK_CID

pytestmark = [pytest.mark.linux, pytest.mark.userspace]
ROOTFS_EXT4 = IMAGES / "rootfs" / "rootfs.ext4"


@pytest.fixture
def userspace(need_kvm):
    ok, why = userspace_runnable()
    if not ok:
        loud(f"NOT RUNNABLE on this host (user-space tier): {why}")
        pytest.skip(f"NOT RUNNABLE (loud): {why}")


def test_initramfs_init_writes_boot_timer_and_reboots(kiln, workdir, userspace):
    cfg = write_config(workdir, need(KERNEL_DIR / "vmlinux"), boot_args=LINUX_ARGS,
                       initrd=need(INITRAMFS), vcpus=1, mem_mib=128)
    r = kiln("--config-file", str(cfg), "--no-api", "--boot-timer")
    r.wait_for(r"kiln-initramfs: init running", LINUX_TIMEOUT)
    assert r.wait_exit(120) == 0, r.log()[-2000:]
    assert re.search(r"Guest-boot-time = +\d+ us \d+ ms", r.log()), "init's boot-timer write"


RESTORES = 3
HOST_IP, GUEST_IP, PREFIX = "10.202.0.1", "10.202.0.2", 24
RESTORED_KIB = 64       # sector records each restored guest writes to its data drive
CLOCK_GAP_S = 2         # host sleep between a restored guest's two clock readings


def test_each_restored_guest_runs_device_checks(kiln, workdir, userspace_snapshot, netns, short_dir):
    """The session's snapshot restored RESTORES times in a row, each time
    into a fresh kiln: every restored guest carries on from the snapshot
    without booting again, sees what the snapshotted VM had (2 CPUs, its
    memory, its command line, five virtio devices, its vsock CID) and gets
    its devices to work: a static address and pings to the host over the
    TAP this test made, bytes from virtio-rng, and sector records written to
    its data drive that the host then finds in the file.  Its clock goes on
    from the snapshot's reading (never back, never ahead of the host's time
    since the snapshot) and keeps pace with the host's.  Each restore starts from the drive's
    snapshot-time content, so each guest writes its own seed."""
    snap = userspace_snapshot
    netns.run("ip", "addr", "add", f"{HOST_IP}/{PREFIX}", "dev", netns.tap)
    gaps = []
    for i in range(RESTORES):
        seed = random.randrange(1, 2**31)
        g = snap.restore(kiln, netns, short_dir)
        restored_at = time.monotonic()
        g.send(["clock", "cpus:2", "mem:100", f"cmdline:{CMDLINE_MARKER}", "virtio:5", f"vsock:{VSOCK_CID}",
                "rng", "hwrng:512", f"ifup:{GUEST_IP}/{PREFIX}", f"ping:{HOST_IP}:2",
                f"blkwrite:vda:{RESTORED_KIB}:{seed}", f"blkverify:vda:{RESTORED_KIB}:{seed}"])
        first = g.wait_done()
        host_s = time.monotonic() - restored_at
        failed = [l["_line"] for l in first if not l["_pass"]]
        assert len(first) == 12 and not failed, "\n".join(failed) or g.run.console()[-3000:]
        # The host reads what the guest wrote (O_DIRECT, fsynced) from the drive's file.
        assert snap.data.read_bytes()[:RESTORED_KIB * 1024] == sector_records(seed, RESTORED_KIB), \
            f"restore {i}: data drive content"
        # The guest's clock goes on from the snapshot's reading and may add
        # at most the host's time since the snapshot: on hardware KVM the
        # restored TSC MSR keeps it near the reading; under PVM the guest
        # reads the host's TSC (no TSC offsetting without VMX), so it adds
        # the whole time the snapshot sat on disk.
        mono = int(first[0]["mono_ms"])
        since_snapshot_s = time.monotonic() - snap.snapshot_at
        assert snap.mono_ms <= mono <= snap.mono_ms + since_snapshot_s * 1000 + 1000, \
            f"restore {i}: guest clock {mono} ms, snapshot at {snap.mono_ms} ms, taken {since_snapshot_s:.1f} s ago"
        time.sleep(CLOCK_GAP_S)
        g.send(["clock", f"blkverify:vda:{RESTORED_KIB}:{seed}"])
        sent = time.monotonic()
        second = g.wait_done()
        assert all(l["_pass"] for l in second), [l["_line"] for l in second]
        gap_ms = int(second[0]["mono_ms"]) - mono
        host_gap_ms = (time.monotonic() - sent + CLOCK_GAP_S + host_s) * 1000
        assert CLOCK_GAP_S * 1000 * 0.9 <= gap_ms <= host_gap_ms + 1000, \
            f"restore {i}: guest clock moved {gap_ms} ms over a host gap of at least {CLOCK_GAP_S} s"
        gaps.append(gap_ms)
        assert "Linux version" not in g.run.console(), f"restore {i}: the guest booted again"
        assert g.reboot() == 0, g.run.log()[-3000:]
        print(f"restore {i}: {g.restore_ms:.1f} ms (API call), first checks {host_s:.1f} s, "
              f"guest clock at restore {mono - snap.mono_ms} ms past the snapshot")
    print(f"session boot to agent {snap.boot_s:.1f} s; guest clock gaps {gaps} ms")


DATA_KIB = 256  # blkwrite/blkverify records on the data drive (checks_dev.c)
SECTOR = 512


def sector_records(seed: int, kib: int) -> bytes:
    """What the agent's blkwrite:DEV:KIB:SEED writes: one text record per sector."""
    out = bytearray()
    for k in range(kib * 1024 // SECTOR):
        rec = f"kiln-blk seed={seed} sector={k}\n".encode()
        out += rec + b"." * (SECTOR - 1 - len(rec)) + b"\n"
    return bytes(out)


def test_root_on_virtio_blk_survives_reboot(kiln, workdir, userspace):
    """The ext4 rootfs as the root drive (read-write): the agent's checks run
    from it, and what one boot writes the next boot reads.  Beside it a data
    drive (/dev/vdb) gets sector records in the first boot, which the host
    finds in its file and the second boot reads back, and a read-only drive
    (/dev/vdc) refuses writes in both boots and stays unchanged."""
    disk = workdir / "rootfs.ext4"
    shutil.copyfile(need(ROOTFS_EXT4), disk)
    data, ro = workdir / "data.img", workdir / "ro.img"
    with open(data, "wb") as f:
        f.truncate(4 << 20)
    ro_content = bytes(range(256)) * 4096  # 1 MiB
    ro.write_bytes(ro_content)
    seed = random.randrange(1, 2**31)
    drives = {"drives": [
        {"drive_id": "rootfs", "path_on_host": str(disk), "is_root_device": True, "is_read_only": False},
        {"drive_id": "data", "path_on_host": str(data), "is_root_device": False, "is_read_only": False},
        {"drive_id": "ro", "path_on_host": str(ro), "is_root_device": False, "is_read_only": True},
    ]}

    def boot(checks):
        args = f"{LINUX_ARGS} kiln.agent=checks kiln.check={checks}"
        cfg = write_config(workdir, need(KERNEL_DIR / "vmlinux"), boot_args=args, vcpus=1, mem_mib=256,
                           extra=drives)
        r = kiln("--config-file", str(cfg), "--no-api")
        m = r.wait_for(r"KILN-CHECK-DONE pass=(\d+) fail=(\d+)", LINUX_TIMEOUT)
        assert m.group(2) == "0", r.console()[-3000:]
        assert r.wait_exit(120) == 0
        return r.console()

    out = boot(f"cmdline:root=/dev/vda,writefile:/root/kiln-marker,blkwrite:vdb:{DATA_KIB}:{seed},blkro:vdc")
    assert "root=/dev/vda rw" in out
    assert re.search(r"KILN-CHECK blkro PASS dev=/dev/vdc ro=1 write=", out), out[-3000:]
    # The host sees exactly what the guest wrote, and the read-only file is untouched.
    assert data.read_bytes()[:DATA_KIB * 1024] == sector_records(seed, DATA_KIB), "data drive content"
    assert ro.read_bytes() == ro_content, "read-only drive changed"
    out = boot(f"readfile:/root/kiln-marker,blkverify:vdb:{DATA_KIB}:{seed},blkro:vdc")
    assert re.search(r"KILN-CHECK readfile PASS", out), out[-3000:]
    assert re.search(rf"KILN-CHECK blkverify PASS dev=/dev/vdb sectors={DATA_KIB * 2} seed={seed}", out), out[-3000:]
    assert ro.read_bytes() == ro_content, "read-only drive changed"
