#!/usr/bin/env python3
"""Writes the hand-made seeds of fuzz_balloon into fuzz/corpus/balloon/.

The encoding is the one fuzz/fuzz_balloon.c decodes: a setup byte (bit 0
deflate_on_oom, bits 1-2 the statistics interval index {0, 1, 5, 65535},
bit 3 free_page_reporting, bits 4-7 amount_mib / 4), the features u64, then
one opcode byte per operation followed by its fields, little-endian.  Files
named by a 40-hex SHA-1 (merged in by fuzz/run-campaign) are left alone.
Run again after changing the format:  fuzz/make-seeds-balloon.py [--out DIR]
"""
import argparse
import os
import struct

(PFNS, STATS, REPORT, RAW, POKE, REG, CONFIG, NEGOTIATE, TICK, TARGET, INTERVAL,
 SNAPSHOT, PROCESS) = range(13)
ALL = 0xFFFFFFFFFFFFFFFF
V1 = 1 << 32
F_STATS, F_REPORTING = 1 << 1, 1 << 5
DESC_NEXT = 1
MMIO_STATUS = 0x70


def head(deflate_on_oom=True, interval_idx=1, reporting=True, amount4=2, features=ALL):
    setup = int(deflate_on_oom) | (interval_idx << 1) | (int(reporting) << 3) | (amount4 << 4)
    return struct.pack('<BQ', setup, features)


def pfns(pages, deflate=False):
    """pages: ints (page index in the region) or ('raw', u32) or ('ring', offset)."""
    b = struct.pack('<BBB', PFNS, int(deflate), len(pages) - 1)
    for p in pages:
        if isinstance(p, int):
            b += struct.pack('<BB', 0, p)
        elif p[0] == 'ring':
            b += struct.pack('<BB', 2, p[1])
        else:
            b += struct.pack('<BI', 3, p[1])
    return b


def stats(records):
    b = struct.pack('<BB', STATS, len(records) - 1)
    for tag, val in records:
        b += struct.pack('<BHQ', 0x80, tag, val) if tag > 255 else struct.pack('<BBQ', 0, tag, val)
    return b


def report(ranges):
    """ranges: (offset in the region, length)."""
    b = struct.pack('<BB', REPORT, len(ranges) - 1)
    for off, length in ranges:
        b += struct.pack('<BII', 2, off, length)  # u32 offset, u32 length, clamped into RAM
    return b


def config(offset, value, width_log2):
    return struct.pack('<BBIB', CONFIG, width_log2, value, offset)


def seeds():
    linux_stats = [(t, 1000 * (t + 1)) for t in range(16)]
    return {
        'inflate-deflate': head() + pfns(list(range(16))) + pfns([40, 38, 36, 36, 63]) +
        pfns(list(range(8)), deflate=True) + config(4, 21, 2) + bytes([PROCESS]),
        'stats-cycle': head() + stats(linux_stats) + struct.pack('<BB', TICK, 1) + stats(linux_stats[:4]) +
        struct.pack('<BH', INTERVAL, 7) + struct.pack('<BH', INTERVAL, 0) + struct.pack('<BBB', TARGET, 0, 16) +
        struct.pack('<BB', SNAPSHOT, 0) + struct.pack('<BB', TICK, 1) + stats([(99, 1), (300, 2)]),
        'report-ranges': head(interval_idx=0) + report([(0, 4096 * 4), (4096 * 10 + 100, 4096 * 3), (0, 100)]) +
        pfns([1, 2, 3]),
        'bad-pfns-and-config': head(deflate_on_oom=False, reporting=False, interval_idx=0) +
        pfns([64, 65, ('raw', 0xFFFFFFFF), ('raw', 0), ('ring', 3), 5]) +
        config(3, 0xAABBCCDD, 2) + config(6, 0x1122, 1) + config(0, 5, 2) + config(7, 9, 0) +
        struct.pack('<BBI', TARGET, 1, 65) + struct.pack('<BBI', TARGET, 1, 0xFFFFFFFF),
        'malformed-then-renegotiate': head() +
        struct.pack('<BBHB', RAW, 0, 0, 0) + struct.pack('<BHHB', 0, 0, 4, DESC_NEXT) + struct.pack('<H', 0) +
        pfns([1]) + struct.pack('<BQ', NEGOTIATE, V1 | F_REPORTING) + report([(0, 8192)]) + pfns([2]),
        'snapshot-corrupt': head() + stats(linux_stats[:2]) + struct.pack('<BBBB', SNAPSHOT, 1, 12, 1) +
        struct.pack('<BBBB', SNAPSHOT, 1, 14, 0x7F) + struct.pack('<BB', SNAPSHOT, 2) +
        struct.pack('<BBI', REG, MMIO_STATUS // 4, 0) + struct.pack('<BQ', NEGOTIATE, ALL) + stats(linux_stats),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus', 'balloon'))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for name, blob in seeds().items():
        with open(os.path.join(args.out, name), 'wb') as f:
            f.write(blob)


if __name__ == '__main__':
    main()
