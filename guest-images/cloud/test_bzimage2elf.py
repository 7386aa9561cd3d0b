#!/usr/bin/python3
"""Tests for bzimage2elf.py on synthetic bzImages built around a real ELF.

Each image is 4 setup sectors + one "decompressor" sector + the compressed
payload + trailing bytes, with the setup header fields bzimage2elf reads.
Formats whose tool is missing are skipped.  Run: python3 test_bzimage2elf.py
"""
import os
import shutil
import struct
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bzimage2elf as b2e  # noqa: E402

ELF = open("/bin/true", "rb").read()
COMPRESS = {
    "gzip": ["gzip", "-9c"],
    "xz": ["xz", "-c", "--check=crc32"],
    "zstd": ["zstd", "-c", "-q"],
    "lz4": ["lz4", "-l", "-c", "-q"],  # -l: the legacy frame the kernel uses
    "bzip2": ["bzip2", "-c"],
    "lzma": ["xz", "-c", "--format=lzma"],
}


def compress(fmt, data):
    return subprocess.run(COMPRESS[fmt], input=data, stdout=subprocess.PIPE, check=True).stdout


def bzimage(payload, version=0x20F, setup_sects=4, lie_length=None, trailer=b"\x00" * 4):
    img = bytearray(512 * (setup_sects + 1))
    img[b2e.SETUP_SECTS_OFF] = setup_sects
    img[b2e.SETUP_HDR_MAGIC_OFF:b2e.SETUP_HDR_MAGIC_OFF + 4] = b"HdrS"
    struct.pack_into("<H", img, b2e.VERSION_OFF, version)
    # payload_offset counts from the protected-mode code: one sector in.
    length = len(payload) if lie_length is None else lie_length
    struct.pack_into("<II", img, b2e.PAYLOAD_OFF, 512, length)
    img += b"\xcc" * 512  # the "decompressor"
    return bytes(img) + payload + trailer


def have(fmt):
    return shutil.which(COMPRESS[fmt][0]) is not None


class RoundTrip(unittest.TestCase):
    def test_each_format_with_header(self):
        for fmt in COMPRESS:
            if not have(fmt):
                continue
            with self.subTest(fmt=fmt):
                name, _, out = b2e.extract(bzimage(compress(fmt, ELF)))
                self.assertEqual(name, fmt)
                self.assertEqual(out, ELF)

    def test_size_trailer_inside_payload(self):
        # The kernel appends the decompressed size to some payloads.
        for fmt in ("zstd", "xz", "gzip", "lz4"):
            if have(fmt):
                with self.subTest(fmt=fmt):
                    payload = compress(fmt, ELF) + struct.pack("<I", len(ELF))
                    self.assertEqual(b2e.extract(bzimage(payload))[2], ELF)

    def test_old_protocol_scans_for_magic(self):
        img = bzimage(compress("gzip", ELF), version=0x206)
        name, off, out = b2e.extract(img)
        self.assertEqual((name, out), ("gzip", ELF))
        self.assertEqual(off, 512 * 6)

    def test_setup_sects_zero_means_four(self):
        img = bytearray(bzimage(compress("gzip", ELF)))
        img[b2e.SETUP_SECTS_OFF] = 0
        self.assertEqual(b2e.extract(bytes(img))[2], ELF)


class Malformed(unittest.TestCase):
    def assertFails(self, img, text):
        with self.assertRaises(b2e.ExtractError) as cm:
            b2e.extract(img)
        self.assertIn(text, str(cm.exception))

    def test_not_a_bzimage(self):
        self.assertFails(ELF, "no HdrS")
        self.assertFails(b"", "no HdrS")

    def test_payload_outside_file(self):
        self.assertFails(bzimage(compress("gzip", ELF), lie_length=1 << 30), "outside the file")
        self.assertFails(bzimage(compress("gzip", ELF), lie_length=0), "outside the file")

    def test_unknown_magic(self):
        self.assertFails(bzimage(b"\x00" * 64), "no known compression magic")

    def test_truncated_payload(self):
        payload = compress("gzip", ELF)
        self.assertFails(bzimage(payload[: len(payload) // 2], trailer=b""), "gzip")

    def test_payload_not_elf(self):
        self.assertFails(bzimage(compress("gzip", b"hello" * 100)), "no ELF magic")

    def test_elf_cut_short(self):
        self.assertFails(bzimage(compress("gzip", ELF[: len(ELF) // 2])), "past the decompressed data")

    def test_setup_sectors_past_end(self):
        img = bytearray(bzimage(compress("gzip", ELF)))
        img[b2e.SETUP_SECTS_OFF] = 255
        self.assertFails(bytes(img[:4096]), "past the end")

    def test_old_protocol_nothing_found(self):
        self.assertFails(bzimage(b"\x00" * 64, version=0x206), "no compressed ELF")


if __name__ == "__main__":
    unittest.main(verbosity=1)
