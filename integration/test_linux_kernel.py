"""Linux kernel tier: our microVM kernel boots to init from each image format,
and its console shows what kiln configured.  Runs on any KVM, including PVM
where guest kernel code is emulated (a boot takes tens of seconds there)."""
import re

import pytest

from kiln_harness import write_config
from linux_images import (INITRAMFS, KERNEL_DIR, LINUX_ARGS, LINUX_TIMEOUT, need,
                          without_pvh_note)

pytestmark = pytest.mark.linux

INIT_LINE = r"Run /init as init process"


def boot_linux(kiln, workdir, kernel, vcpus, mem_mib, extra_args=""):
    cfg = write_config(workdir, kernel, boot_args=f"{LINUX_ARGS} {extra_args}".strip(),
                       initrd=need(INITRAMFS), vcpus=vcpus, mem_mib=mem_mib)
    return kiln("--config-file", str(cfg), "--no-api")


def check_common(r, vcpus, mem_mib, marker):
    out = r.console()
    assert re.search(rf"Command line: {re.escape(LINUX_ARGS)} {marker}", out), "command line not passed"
    assert re.search(rf"smpboot: Allowing {vcpus} CPUs, 0 hotplug CPUs", out), "CPU count from the MP table"
    want = "1 node, 1 CPU" if vcpus == 1 else f"1 node, {vcpus} CPUs"
    assert f"smp: Brought up {want}" in out, "APs did not come online"
    # RAM ends where the configured size says, with the EBDA hole reserved.
    end = mem_mib * 2**20 - 1
    assert re.search(rf"BIOS-e820: \[mem 0x0000000000100000-0x{end:016x}\] usable", out), "e820 map"
    assert re.search(r"BIOS-e820: \[mem 0x0000000000000000-0x000000000009fbff\] usable", out)
    assert "Unpacking initramfs" in out or "Trying to unpack rootfs" in out or "Freeing initrd memory" in out


def finish(r):
    """After init started, the guest runs it (which reboots) or, where user
    space cannot run, panics; with reboot=k panic=1 both end in an i8042
    reset: exit 0."""
    code = r.wait_exit(180)
    assert code == 0, f"kiln exited {code}\n{r.log()[-2000:]}"


def test_elf_vmlinux_pvh_entry_with_initrd_and_smp(kiln, workdir, need_kvm):
    r = boot_linux(kiln, workdir, need(KERNEL_DIR / "vmlinux"), vcpus=2, mem_mib=256,
                   extra_args="kiln.test=elf-pvh")
    r.wait_for(INIT_LINE, LINUX_TIMEOUT)
    assert "ELF, PVH entry" in r.log()
    check_common(r, 2, 256, "kiln.test=elf-pvh")
    finish(r)


def test_bzimage_with_initrd(kiln, workdir, need_kvm):
    r = boot_linux(kiln, workdir, need(KERNEL_DIR / "bzImage"), vcpus=1, mem_mib=128,
                   extra_args="kiln.test=bzimage")
    r.wait_for(INIT_LINE, LINUX_TIMEOUT)
    assert "bzImage, 64-bit entry" in r.log()
    check_common(r, 1, 128, "kiln.test=bzimage")
    finish(r)


def test_elf_vmlinux_64bit_entry_without_pvh_note(kiln, workdir, need_kvm):
    kernel = without_pvh_note(need(KERNEL_DIR / "vmlinux"), workdir / "vmlinux-nopvh")
    r = boot_linux(kiln, workdir, kernel, vcpus=3, mem_mib=192, extra_args="kiln.test=elf-64")
    r.wait_for(INIT_LINE, LINUX_TIMEOUT)
    assert "ELF, 64-bit entry" in r.log()
    check_common(r, 3, 192, "kiln.test=elf-64")
    finish(r)
