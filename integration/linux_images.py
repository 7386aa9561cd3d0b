"""The Linux guest images from guest-images/ and what this host can run of them."""
import struct
from pathlib import Path

import pytest

from kiln_harness import IMAGES, is_pvm_host, loud

KERNEL_DIR = IMAGES / "kernel"
CLOUD_DIR = IMAGES / "cloud"
INITRAMFS = IMAGES / "initramfs" / "initramfs.cpio"

# The serial console, i8042 reset and nothing the microVM lacks.
LINUX_ARGS = "console=ttyS0 reboot=k panic=1 i8042.noaux i8042.nomux i8042.dumbkbd"

# Generous: a lean kernel reaches init in ~15-30 s where KVM emulates CPL0
# (PVM); a loaded CI machine can be several times slower.
LINUX_TIMEOUT = 600


def need(path: Path) -> Path:
    if not path.exists():
        loud(f"SKIPPED: {path} is missing; build it with guest-images/build.sh")
        pytest.skip(f"SKIPPED LOUDLY: {path} missing (guest-images/build.sh)")
    return path


def userspace_runnable() -> tuple[bool, str]:
    """Whether Linux user space can run on this host with our kernel.

    On PVM, SYSCALL from user mode never reaches CPL0 and fwait cannot run at
    CPL0; our microVM kernel carries patches for both
    (guest-images/kernel/pvm-syscall-fixup.patch, skip-fpu-drop-fwait.patch),
    listed in the kernel's build-info."""
    if not is_pvm_host():
        return True, "hardware KVM"
    info = KERNEL_DIR / "build-info"
    patches = []
    if info.exists():
        for line in info.read_text().splitlines():
            if line.startswith("patches "):
                patches = line.split()[1:]
    if "pvm-syscall-fixup" in patches and "skip-fpu-drop-fwait" in patches:
        return True, "PVM, kernel has the PVM syscall and fwait patches"
    return False, ("this host's KVM is PVM and the guest kernel lacks the PVM syscall fix-up: "
                   "Linux user space faults on its first syscall here")


def without_pvh_note(vmlinux: Path, out: Path) -> Path:
    """A copy of vmlinux whose Xen PVH entry note is renamed away, so kiln must
    use the ELF's 64-bit entry point instead."""
    data = bytearray(vmlinux.read_bytes())
    assert data[:4] == b"\x7fELF" and data[4] == 2, "not an ELF64"
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    patched = 0
    for i in range(phnum):
        p_type, _, p_offset, _, _, p_filesz, _, p_align = struct.unpack_from(
            "<IIQQQQQQ", data, phoff + i * phentsize)
        if p_type != 4:  # PT_NOTE
            continue
        align = 8 if p_align == 8 else 4
        off, end = p_offset, p_offset + p_filesz
        while off + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from("<III", data, off)
            name = bytes(data[off + 12:off + 12 + namesz])
            if name == b"Xen\0" and ntype == 18:
                struct.pack_into("<I", data, off + 8, 0x7fff0012)
                patched += 1
            desc_off = (12 + namesz + align - 1) & ~(align - 1)
            off += (desc_off + descsz + align - 1) & ~(align - 1)
    assert patched, "no PVH note found to remove"
    out.write_bytes(bytes(data))
    return out
