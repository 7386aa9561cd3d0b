#!/usr/bin/env python3
"""Writes the hand-made seed inputs of every fuzz target into fuzz/corpus/<target>/.

Seeds are small, valid (or deliberately almost valid) inputs that put the
fuzzer past the first checks of each unit: a tiny ELF vmlinux with a Xen PVH
note, tiny bzImages, Firecracker-style config documents, and op lists that
replay how Linux probes the UART and the keyboard controller.  The test guest
ELF is not used (it is not in git).

Only the named seeds are written; files named by a 40-hex SHA-1 are what
fuzz/run-campaign merged in and are left alone.  Run again after changing an
input format:  fuzz/make-seeds.py [--out DIR]
"""
import argparse
import json
import os
import struct

MiB = 1 << 20
GiB = 1 << 30

# ---- fuzz_kernel_loader: struct kl_params (fuzz_kernel_loader.c) + image --------------

KL_F_INITRD, KL_F_CMDLINE, KL_F_SETUP_HDR, KL_F_MIN_START, KL_F_RAW_INITRD = 1, 2, 4, 8, 16
LAYOUT_PVH_INFO, LAYOUT_ZERO_PAGE, LAYOUT_CMDLINE, LAYOUT_MPTABLE = 0x6000, 0x7000, 0x20000, 0x9FC00
KLOAD = 16 * MiB


def kl_params(layout=0, flags=0, ncpus=1, initrd_size=0, initrd_max_end=0, boot_addr=0,
              mptable_addr=LAYOUT_MPTABLE, cmdline_addr=LAYOUT_CMDLINE, cmdline_len=0,
              initrd_min_start=0):
    blob = struct.pack('<BBHIQQQQHHI', layout, flags, ncpus, initrd_size, initrd_max_end,
                       boot_addr, mptable_addr, cmdline_addr, cmdline_len, 0, initrd_min_start)
    assert len(blob) == 48
    return blob


def pad4(b):
    return b + b'\0' * (-len(b) % 4)


def elf_note(name, ntype, desc, align=4):
    """Name and descriptor padded to align, counted from the note's start (as the loader does)."""
    def pad(b):
        return b + b'\0' * (-len(b) % align)
    return pad(pad(struct.pack('<III', len(name), len(desc), ntype) + name) + desc)


def elf_image(entry, segments):
    """segments: list of (p_type, paddr, data, memsz, align)."""
    ehsize, phentsize = 64, 56
    off = ehsize + phentsize * len(segments)
    phdrs, body = b'', b''
    for p_type, paddr, data, memsz, align in segments:
        off_aligned = (off + 7) & ~7
        body += b'\0' * (off_aligned - off)
        off = off_aligned
        phdrs += struct.pack('<IIQQQQQQ', p_type, 5, off, paddr + 0xFFFFFFFF80000000, paddr,
                             len(data), memsz, align)
        body += data
        off += len(data)
    ident = b'\x7fELF' + bytes([2, 1, 1, 0]) + b'\0' * 8
    ehdr = ident + struct.pack('<HHIQQQIHHHHHH', 2, 62, 1, entry, ehsize, 0, 0, ehsize,
                               phentsize, len(segments), 0, 0, 0)
    assert len(ehdr) == 64
    return ehdr + phdrs + body


PT_LOAD, PT_NOTE = 1, 4
XEN_ELFNOTE_PHYS32_ENTRY = 18
CODE = b'\xfa\xf4\xeb\xfd' * 16  # cli; hlt; jmp $-3


def bzimage(setup_sects=4, pm_size=0x1000, init_size=0x100000, version=0x020F, loadflags=1,
            xloadflags=0x3, relocatable=1, kernel_alignment=0x200000, pref_address=KLOAD,
            cmdline_size=2047, initrd_addr_max=0x7FFFFFFF, hdr_end=0x26C):
    sects = setup_sects or 4
    pm_off = (sects + 1) * 512
    img = bytearray(pm_off + pm_size)
    for i in range(pm_size):
        img[pm_off + i] = (i * 7 + 3) & 0xFF

    def put(fmt, off, *v):
        struct.pack_into('<' + fmt, img, off, *v)
    put('B', 0x1F1, setup_sects)
    put('I', 0x1F4, (pm_size + 15) // 16)
    put('H', 0x1FA, 0xFFFF)
    put('H', 0x1FE, 0xAA55)
    put('H', 0x200, 0xEB | ((hdr_end - 0x202) << 8))
    img[0x202:0x206] = b'HdrS'
    put('H', 0x206, version)
    put('B', 0x211, loadflags)
    put('I', 0x214, 0x100000)
    put('I', 0x22C, initrd_addr_max)
    put('I', 0x230, kernel_alignment)
    put('B', 0x234, relocatable)
    put('B', 0x235, 21)
    put('H', 0x236, xloadflags)
    put('I', 0x238, cmdline_size)
    put('Q', 0x258, pref_address)
    put('I', 0x260, init_size)
    return bytes(img)


def kernel_loader_seeds():
    pvh_note = elf_note(b'Xen\0', XEN_ELFNOTE_PHYS32_ENTRY, struct.pack('<I', KLOAD))
    linux_note = elf_note(b'Linux\0', 6, pad4(b'6.1\0'))
    elf_pvh = elf_image(KLOAD, [(PT_LOAD, KLOAD, CODE, 0x2000, 0x200000),
                                (PT_NOTE, 0, linux_note + pvh_note, 0, 4)])
    elf_two = elf_image(KLOAD + 0x100000 + 4, [(PT_LOAD, KLOAD, CODE, 0x1000, 0x1000),
                                               (PT_LOAD, KLOAD + 0x100000, CODE, 0x3000, 0x1000)])
    elf_note8 = elf_image(KLOAD, [(PT_LOAD, KLOAD, CODE, len(CODE), 16),
                                  (PT_NOTE, 0, elf_note(b'Xen\0', XEN_ELFNOTE_PHYS32_ENTRY,
                                                        struct.pack('<Q', KLOAD), 8), 0, 8)])
    pvh_args = kl_params(flags=KL_F_INITRD | KL_F_CMDLINE, ncpus=1, initrd_size=0x1000,
                         initrd_max_end=64 * MiB, boot_addr=LAYOUT_PVH_INFO, cmdline_len=40)
    return {
        'elf-pvh': pvh_args + elf_pvh,
        'elf-linux64-two-segments': kl_params(
            layout=1, flags=KL_F_INITRD | KL_F_CMDLINE | KL_F_SETUP_HDR, ncpus=4,
            initrd_size=0x3000, initrd_max_end=4 * GiB + 2 * MiB, boot_addr=LAYOUT_ZERO_PAGE,
            cmdline_len=100) + elf_two,
        'elf-pvh-note-align8': kl_params(flags=KL_F_CMDLINE, ncpus=32, boot_addr=LAYOUT_PVH_INFO,
                                         cmdline_len=1) + elf_note8,
        'bzimage-2.15': kl_params(
            flags=KL_F_INITRD | KL_F_CMDLINE | KL_F_SETUP_HDR, ncpus=2, initrd_size=0x2000,
            initrd_max_end=64 * MiB, boot_addr=LAYOUT_ZERO_PAGE, cmdline_len=64) + bzimage(),
        'bzimage-2.12-below-4g': kl_params(
            layout=1, flags=KL_F_INITRD | KL_F_SETUP_HDR | KL_F_RAW_INITRD, ncpus=254,
            initrd_size=0x1000, initrd_max_end=48 * MiB, boot_addr=LAYOUT_ZERO_PAGE) +
        bzimage(setup_sects=0, version=0x020C, xloadflags=0x1, relocatable=0,
                initrd_addr_max=0x37FFFFFF, hdr_end=0x264),
        'not-a-kernel': kl_params(flags=KL_F_SETUP_HDR | KL_F_MIN_START, boot_addr=LAYOUT_ZERO_PAGE,
                                  initrd_min_start=MiB) + b'MZ' + b'\0' * 0x300,
    }


# ---- fuzz_config: the document itself ------------------------------------------------

def config_seeds():
    full = {
        'boot-source': {'kernel_image_path': '/srv/vmlinux', 'initrd_path': '/srv/initrd.img',
                        'boot_args': 'console=ttyS0 reboot=k panic=1 pci=off'},
        'machine-config': {'vcpu_count': 2, 'mem_size_mib': 1024, 'smt': False,
                           'track_dirty_pages': False, 'huge_pages': 'None', 'cpu_template': 'None'},
        'drives': [], 'network-interfaces': [], 'vsock': None, 'logger': None, 'metrics': None,
    }
    seeds = {
        'minimal.json': '{"boot-source": {"kernel_image_path": "/vmlinux"}}',
        'firecracker-full.json': json.dumps(full, indent=2),
        'smt-hugepages.json': json.dumps({
            'boot-source': {'kernel_image_path': 'k', 'boot_args': None},
            'machine-config': {'vcpu_count': 32, 'mem_size_mib': 2048, 'smt': True, 'huge_pages': '2M'}}),
        'escapes.json': '{"boot-source": {"kernel_image_path": "/a\\"b\\\\c\\u00e9\\ud83d\\ude00",'
                        ' "boot_args": "x\\ty\\nz\\/"}}',
        'api-put-machine-config.json': '{"vcpu_count": 4, "mem_size_mib": 512, "track_dirty_pages": true}',
        'api-patch-machine-config.json': '{"smt": null, "huge_pages": "2M"}',
        'api-boot-source.json': '{"kernel_image_path": "/k", "initrd_path": "/i", "boot_args": ""}',
        'bad-number-forms.json': '{"boot-source": {"kernel_image_path": "/k"},'
                                 ' "machine-config": {"vcpu_count": 1.0, "mem_size_mib": 1e3}}',
        'bad-duplicate.json': '{"boot-source": {"kernel_image_path": "/k", "kernel_image_path": "/j"}}',
        'bad-values.json': '{"boot-source": {"kernel_image_path": "", "initrd_path": ""},'
                           ' "machine-config": {"vcpu_count": 33, "mem_size_mib": 15, "smt": 1,'
                           ' "huge_pages": "1G"}}',
        'bad-odd-smt.json': '{"boot-source": {"kernel_image_path": "/k"},'
                            ' "machine-config": {"vcpu_count": 3, "mem_size_mib": 1048577, "smt": true}}',
        'bad-unsupported.json': '{"boot-source": {"kernel_image_path": "/k"},'
                                ' "drives": [{"drive_id": "rootfs"}], "machine-config": {"cpu_template": "T2"}}',
    }
    return {k: v.encode() for k, v in seeds.items()}


# ---- fuzz_serial8250: op list (fuzz_serial8250.c) ------------------------------------

S_READ, S_WRITE, S_RX_PUSH, S_RESTORE, S_RAW_READ, S_RAW_WRITE, S_SINK_FAIL = range(7)
COM1_OFS = 8  # port byte of COM1 itself: the target's window starts 8 below


def s_r(reg, width=1):
    return bytes([S_READ, COM1_OFS + reg, width - 1])


def s_w(reg, *vals):
    return bytes([S_WRITE, COM1_OFS + reg, len(vals) - 1, *vals])


def serial_seeds():
    # Linux's 8250 autoconfig and startup, roughly: scratch test, LCR/DLAB,
    # FIFO probe, loopback test (MCR 0x1a must read MSR 0x90), THRE test, then I/O.
    probe = (s_w(7, 0xA5) + s_r(7) + s_w(3, 0x80) + s_w(0, 12) + s_w(1, 0) + s_w(3, 0x03) +
             s_w(2, 0xC7) + s_r(2) + s_w(4, 0x1A) + s_r(6) + s_w(0, ord('L')) + s_r(5) + s_r(0) +
             s_w(4, 0x0B) + s_w(1, 0x0F) + s_r(2) + s_r(2) + s_w(0, ord('o'), ord('k')) + s_r(5))
    rx = (s_w(1, 0x05) + bytes([S_RX_PUSH, 70]) + bytes(range(70)) + s_r(2) + s_r(5) +
          s_r(0, 8) + bytes([S_RESTORE, 0xFF, 0]) + s_r(0, 4) + s_w(2, 0x03) + s_r(5))
    odd = (bytes([S_RAW_READ, 6, 7, S_RAW_WRITE, 5, 3, 1, 2, 3, 4]) + s_w(-1, 1, 2, 3, 4) +
           s_r(6, 4) + bytes([S_SINK_FAIL]) + s_w(0, 0x41) + bytes([S_RESTORE, 19, 0x41]))
    # Loopback line changes: every MSR delta bit, including RI's trailing edge.
    loop = (s_w(4, 0x1F) + s_r(6) + s_w(1, 0x08) + s_r(2) + s_w(4, 0x10) + s_r(6) + s_w(4, 0x14) +
            s_w(4, 0x10) + s_r(6) + s_w(4, 0x00) + s_r(6))
    return {'linux-probe': probe, 'rx-fifo': rx, 'edges': odd, 'loopback-lines': loop}


# ---- fuzz_i8042: op list (fuzz_i8042.c) ----------------------------------------------

K_READ, K_WRITE, K_CAD, K_RESTORE, K_RAW_READ, K_RAW_WRITE = range(6)
K_DATA, K_STATUS = 8, 12


def k_r(port, width=1):
    return bytes([K_READ, port, width - 1])


def k_w(port, *vals):
    return bytes([K_WRITE, port, len(vals) - 1, *vals])


def i8042_seeds():
    # Linux i8042_controller_check/init, then atkbd probe (GET ID, SET LEDS).
    init = (k_r(K_STATUS) + k_w(K_STATUS, 0x20) + k_r(K_STATUS) + k_r(K_DATA) + k_w(K_STATUS, 0xAA) +
            k_r(K_DATA) + k_w(K_STATUS, 0x60) + k_w(K_DATA, 0x47) + k_w(K_DATA, 0xF2) + k_r(K_DATA) +
            k_r(K_DATA) + k_r(K_DATA) + k_w(K_DATA, 0xED) + k_w(K_DATA, 0x02) + k_r(K_DATA) +
            k_w(K_DATA, 0xF0) + k_w(K_DATA, 0x00) + k_r(K_DATA) + k_r(K_DATA))
    cad = (bytes([K_CAD]) + k_r(K_DATA) + bytes([K_CAD, K_CAD, K_CAD, K_CAD]) + k_w(K_STATUS, 0x60) +
           k_w(K_DATA, 0x04) + bytes([K_CAD]) + bytes([K_RESTORE, 0xFF, 0]) + k_r(K_DATA, 4))
    reset = (k_w(K_STATUS, 0xD1) + k_w(K_DATA, 0x01) + k_w(K_STATUS, 0xFE) +
             k_w(K_DATA, 0x00, 0x00, 0x00, 0x00, 0xFE) + bytes([K_RAW_WRITE, 4, 0, 0xFE]) +
             bytes([K_RAW_READ, 3, 7, K_RESTORE, 6, 17]))
    return {'linux-init': init, 'ctrl-alt-del': cad, 'reset': reset}


# ---- fuzz_bus_gmem: op list (fuzz_bus_gmem.c) ----------------------------------------

(G_ADD, G_READ, G_WRITE, G_FILL, G_SLICE, G_RANGE_OK, G_LE, B_INSERT, B_READ, B_WRITE) = range(10)


def a_abs(v):
    return bytes([0]) + struct.pack('<Q', v)


def a_start(i, off=0):
    return bytes([2, i]) + struct.pack('<h', off)


def a_end(i, off=0):
    return bytes([3, i]) + struct.pack('<h', off)


def ln(v):
    return bytes([0]) + struct.pack('<I', v) if v < (1 << 31) else bytes([0x80]) + struct.pack('<Q', v)


def bus_gmem_seeds():
    regions = (bytes([G_ADD]) + a_abs(0) + ln(0x10000) + b'\0' +
               bytes([G_ADD]) + a_abs(0x100000) + ln(0x1000) + b'\0' +
               bytes([G_ADD]) + a_end(0) + ln(0x100) + b'\0' +            # adjacent: allowed
               bytes([G_ADD]) + a_start(1, -8) + ln(0x10) + b'\0' +       # overlaps: refused
               bytes([G_ADD]) + a_abs(0xFFFFFFFFFFFFF000) + ln(0x1000) + b'\0')  # ends at 2^64
    access = (bytes([G_WRITE]) + a_end(0, -4) + ln(4) + b'\x11' +
              bytes([G_READ]) + a_end(0, -4) + ln(8) +                    # straddles: refused
              bytes([G_FILL]) + a_start(1) + ln(0x1000) + b'\x22' +
              bytes([G_SLICE]) + a_start(1, 0x800) + ln(0x800) +
              bytes([G_SLICE]) + a_start(1) + ln(0) +
              bytes([G_RANGE_OK]) + a_abs(0xFFFFFFFFFFFFFFFF) + ln(2) +
              bytes([G_LE]) + a_end(1, -8) + struct.pack('<Q', 0x1122334455667788) + b'\x02' +
              bytes([G_READ]) + a_start(0) + ln(0x10000))
    bus = (bytes([B_INSERT]) + a_abs(0x3F8) + ln(8) + b'\x01' +
           bytes([B_INSERT]) + a_abs(0x60) + ln(5) + b'\x02' +
           bytes([B_INSERT]) + a_end(0) + ln(1) + b'\x03' +
           bytes([B_INSERT]) + a_abs(0xFFFFFFFFFFFFFFF0) + ln(0x10) + b'\x01' +
           bytes([B_READ]) + a_start(0, 6) + b'\x02' +
           bytes([B_READ]) + a_start(0, 6) + b'\x04' +
           bytes([B_WRITE]) + a_start(1, 4) + b'\x01\xfe' +
           bytes([B_WRITE]) + a_start(2) + b'\x01\x00' +
           bytes([B_READ]) + a_start(2) + b'\x01')
    # 65 inserts: the last finds the table full; 9 region adds: the last finds it full.
    full = b''.join(bytes([B_INSERT]) + a_abs(i * 16) + ln(8) + b'\x01' for i in range(65))
    full += b''.join(bytes([G_ADD]) + a_abs(i * 0x10000) + ln(0x100) + b'\0' for i in range(9))
    return {'regions': regions + access, 'bus': bus, 'mixed': regions + bus + access, 'tables-full': full}


TARGETS = {
    'kernel_loader': kernel_loader_seeds,
    'config': config_seeds,
    'serial8250': serial_seeds,
    'i8042': i8042_seeds,
    'bus_gmem': bus_gmem_seeds,
}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default=os.path.join(here, 'corpus'), help='corpus root (default: fuzz/corpus)')
    args = ap.parse_args()
    for target, make in TARGETS.items():
        d = os.path.join(args.out, target)
        os.makedirs(d, exist_ok=True)
        for name, blob in make().items():
            with open(os.path.join(d, name), 'wb') as f:
                f.write(blob)
        print(f'{target}: {len(make())} seeds in {os.path.relpath(d)}')


if __name__ == '__main__':
    main()
