"""User-space tier: Linux user space in the guest (our init agent, busybox).

Needs a host where Linux user space can run: hardware KVM, or PVM with our
kernel's PVM syscall fix-up.  Elsewhere every test here reports itself as NOT
RUNNABLE, loudly, as a skip, never as a pass."""
import random
import re
import shutil

import pytest

from kiln_harness import loud, write_config
from linux_images import (INITRAMFS, KERNEL_DIR, LINUX_ARGS, LINUX_TIMEOUT, IMAGES, need,
                          userspace_runnable)

pytestmark = [pytest.mark.linux, pytest.mark.userspace]
ROOTFS_CPIO = IMAGES / "rootfs" / "rootfs.cpio"
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


def test_rootfs_agent_checks_cpus_memory_cmdline(kiln, workdir, userspace):
    args = f"{LINUX_ARGS} rdinit=/sbin/init kiln.agent=checks kiln.check=cpus:2,mem:200,cmdline:kiln.marker=42 kiln.marker=42"
    cfg = write_config(workdir, need(KERNEL_DIR / "vmlinux"), boot_args=args,
                       initrd=need(ROOTFS_CPIO), vcpus=2, mem_mib=256)
    r = kiln("--config-file", str(cfg), "--no-api", "--boot-timer")
    m = r.wait_for(r"KILN-CHECK-DONE pass=(\d+) fail=(\d+)", LINUX_TIMEOUT)
    out = r.console()
    assert m.group(2) == "0", out[-3000:]
    for name in ("cpus", "mem", "cmdline"):
        assert re.search(rf"KILN-CHECK {name} PASS", out), name
    assert r.wait_exit(120) == 0


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
