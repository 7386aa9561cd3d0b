#!/usr/bin/python3
"""Extracts the ELF vmlinux from an x86 bzImage.

A bzImage is real-mode setup sectors followed by the protected-mode
decompressor, which carries the compressed vmlinux.bin (an ELF, stripped) as
its payload.  Boot protocol 2.08+ headers say where the payload is
(payload_offset, payload_length); older ones do not, so then the bytes after
the setup sectors are searched for a compression magic and every hit is tried.
The payload is piped through the matching decompressor, and the result is
accepted only if it is a complete ELF64: its program headers and every
PT_LOAD's file bytes lie inside the output.

usage: bzimage2elf.py BZIMAGE OUTPUT
"""
import os
import shutil
import struct
import subprocess
import sys

# magic -> (name, decompress command reading stdin, Debian package of the tool)
FORMATS = [
    (b"\x1f\x8b\x08", "gzip", ["gzip", "-dc"], "gzip"),
    (b"\xfd7zXZ\x00", "xz", ["xz", "-dc", "--single-stream"], "xz-utils"),
    (b"\x28\xb5\x2f\xfd", "zstd", ["zstd", "-dc"], "zstd"),
    (b"\x02\x21\x4c\x18", "lz4", ["lz4", "-dc"], "lz4"),
    (b"BZh", "bzip2", ["bzip2", "-dc"], "bzip2"),
    (b"\x89LZO\x00\r\n\x1a\n", "lzo", ["lzop", "-dc"], "lzop"),
    (b"\x5d\x00\x00", "lzma", ["xz", "-dc", "--format=lzma"], "xz-utils"),
]

SETUP_HDR_MAGIC_OFF = 0x202
SETUP_SECTS_OFF = 0x1F1
VERSION_OFF = 0x206
PAYLOAD_OFF = 0x248  # u32 payload_offset, u32 payload_length (protocol 2.08+)
SECTOR = 512
MAX_OUTPUT = 1 << 30
MAX_CANDIDATES = 32  # short magics (lzma, bzip2) also match inside code


class ExtractError(Exception):
    pass


def u16(b, off):
    return struct.unpack_from("<H", b, off)[0]


def u32(b, off):
    return struct.unpack_from("<I", b, off)[0]


def elf_complete(data):
    """Returns None if data is a whole ELF64 file, else why not."""
    if len(data) < 64 or data[:4] != b"\x7fELF":
        return "no ELF magic"
    if data[4] != 2 or data[5] != 1:
        return "not a little-endian ELF64"
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    if phentsize < 56 or phnum == 0 or phoff + phentsize * phnum > len(data):
        return "program headers missing or outside the file"
    for i in range(phnum):
        p_type, _, p_offset, _, _, p_filesz = struct.unpack_from("<IIQQQQ", data, phoff + i * phentsize)
        if p_type == 1 and p_offset + p_filesz > len(data):
            return "PT_LOAD %d ends past the decompressed data (truncated?)" % i
    return None


def decompress(fmt, payload):
    name, cmd, pkg = fmt[1], fmt[2], fmt[3]
    if shutil.which(cmd[0]) is None:
        raise ExtractError("payload is %s but %s is not installed (apt-get install %s)" % (name, cmd[0], pkg))
    # Trailing bytes (the kernel appends the decompressed size to some
    # formats) make some tools exit non-zero after writing everything, so the
    # output is judged by elf_complete, not by the exit status.
    proc = subprocess.run(cmd, input=payload, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    out = proc.stdout
    if len(out) > MAX_OUTPUT:
        raise ExtractError("%s output is larger than %d bytes" % (name, MAX_OUTPUT))
    why = elf_complete(out)
    if why:
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        raise ExtractError("%s: %s%s" % (name, why, " (%s)" % err[-1] if err else ""))
    return out


def extract(image):
    if len(image) < 0x250 or image[SETUP_HDR_MAGIC_OFF:SETUP_HDR_MAGIC_OFF + 4] != b"HdrS":
        raise ExtractError("not a bzImage: no HdrS setup header")
    setup_sects = image[SETUP_SECTS_OFF] or 4
    pm_start = (setup_sects + 1) * SECTOR
    if pm_start >= len(image):
        raise ExtractError("setup sectors (%d) run past the end of the file" % setup_sects)
    version = u16(image, VERSION_OFF)

    if version >= 0x208:
        start = pm_start + u32(image, PAYLOAD_OFF)
        length = u32(image, PAYLOAD_OFF + 4)
        if length == 0 or start + length > len(image):
            raise ExtractError("payload %#x+%#x lies outside the file" % (start, length))
        payload = image[start:start + length]
        for fmt in FORMATS:
            if payload.startswith(fmt[0]):
                return fmt[1], start, decompress(fmt, payload)
        raise ExtractError("payload at %#x starts with %s: no known compression magic"
                           % (start, payload[:6].hex()))

    # Old header: try every magic hit after the setup sectors, earliest first.
    hits = []
    for fmt in FORMATS:
        off = image.find(fmt[0], pm_start)
        while off >= 0:
            hits.append((off, fmt))
            off = image.find(fmt[0], off + 1)
    errors = []
    for off, fmt in sorted(hits, key=lambda h: h[0])[:MAX_CANDIDATES]:
        try:
            return fmt[1], off, decompress(fmt, image[off:])
        except (ExtractError, subprocess.TimeoutExpired) as e:
            errors.append("%#x %s" % (off, e))
    raise ExtractError("no compressed ELF found after the setup sectors (%d candidates)" % len(errors))


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__.split("\n\n")[-1].strip() + "\n")
        return 2
    try:
        with open(argv[1], "rb") as f:
            image = f.read()
        fmt, off, elf = extract(image)
        tmp = argv[2] + ".tmp"
        with open(tmp, "wb") as f:
            f.write(elf)
        os.replace(tmp, argv[2])
    except (ExtractError, OSError, subprocess.TimeoutExpired) as e:
        sys.stderr.write("bzimage2elf: %s: %s\n" % (argv[1], e))
        return 1
    sys.stderr.write("bzimage2elf: %s payload at %#x -> %d-byte ELF\n" % (fmt, off, len(elf)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
