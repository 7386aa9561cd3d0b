"""User-space tier: Linux user space in the guest (our init agent, busybox).

Needs a host where Linux user space can run: hardware KVM, or PVM with our
kernel's PVM syscall fix-up.  Elsewhere every test here reports itself as NOT
RUNNABLE, loudly, as a skip, never as a pass."""
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


def test_root_on_virtio_blk_survives_reboot(kiln, workdir, userspace):
    """The ext4 rootfs as the root drive (read-write): the agent's checks run
    from it, and what one boot writes the next boot reads."""
    disk = workdir / "rootfs.ext4"
    shutil.copyfile(need(ROOTFS_EXT4), disk)
    drives = {"drives": [{"drive_id": "rootfs", "path_on_host": str(disk), "is_root_device": True,
                          "is_read_only": False}]}

    def boot(checks):
        args = f"{LINUX_ARGS} kiln.agent=checks kiln.check={checks}"
        cfg = write_config(workdir, need(KERNEL_DIR / "vmlinux"), boot_args=args, vcpus=1, mem_mib=256,
                           extra=drives)
        r = kiln("--config-file", str(cfg), "--no-api")
        m = r.wait_for(r"KILN-CHECK-DONE pass=(\d+) fail=(\d+)", LINUX_TIMEOUT)
        assert m.group(2) == "0", r.console()[-3000:]
        assert r.wait_exit(120) == 0
        return r.console()

    out = boot("cmdline:root=/dev/vda,writefile:/root/kiln-marker")
    assert "root=/dev/vda rw" in out
    out = boot("readfile:/root/kiln-marker")
    assert re.search(r"KILN-CHECK readfile PASS", out), out[-3000:]
