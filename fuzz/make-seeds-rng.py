#!/usr/bin/env python3
"""Writes the hand-made seeds of fuzz_rng into fuzz/corpus/rng/.

The encoding is the one fuzz/fuzz_rng.c decodes: a setup byte (queue size
1 << (setup % 9)), the features u64, two limiter bytes (ops, bandwidth: bit 7
set means the bucket exists), then one opcode byte per operation followed by
its fields, little-endian.  Files named by a 40-hex SHA-1 (merged in by
fuzz/run-campaign) are left alone.  Run again after changing the format:
    fuzz/make-seeds-rng.py [--out DIR]
"""
import argparse
import os
import struct

(REQ, EMPTY, RAW, POKE, REG, NEGOTIATE, SOURCE, CLOCK, LIMIT, SNAPSHOT,
 PROCESS) = range(11)
ALL = 0xFFFFFFFFFFFFFFFF
DESC_NEXT, DESC_WRITE = 1, 2
MMIO_STATUS = 0x70


def head(setup=8, features=ALL, ops=0, bw=0):
    return struct.pack('<BQBB', setup, features, ops, bw)


def req(length, nbufs=1, notify=True):
    return struct.pack('<BIBB', REQ, length, nbufs - 1, int(notify))


def empty(notify=True):
    return struct.pack('<BB', EMPTY, int(notify))


def raw(head_idx, descs):
    """descs: (offset into the data area, len, flags); the last one's next is 0."""
    b = struct.pack('<BHB', RAW, head_idx, len(descs) - 1)
    for i, (off, length, flags) in enumerate(descs):
        b += struct.pack('<BIIB', 0, off, length, flags)
        if i == len(descs) - 1:
            b += struct.pack('<H', head_idx)  # next of the last: itself (a loop if NEXT)
    return b


def clock(ms):
    return struct.pack('<BH', CLOCK, ms * 8)


def seeds():
    return {
        'requests': head() + req(64) + req(4096, 3) + req(1) + req(10000, 16, False) + empty(False) +
        bytes([PROCESS]) + req(65536 + 4000, 2),
        'ops-limited': head(ops=0x80 | 2 | (1 << 5)) + b''.join(req(32, 1, False) for _ in range(8)) +
        bytes([PROCESS]) + clock(10) + clock(30) + req(16) + clock(100) + bytes([PROCESS]),
        'bytes-limited': head(bw=0x80 | 1) + req(4096) + req(512) + clock(20) + req(2048, 4) + clock(80) +
        struct.pack('<BBB', LIMIT, 0, 0) + req(100),
        'source-fails': head() + struct.pack('<BBH', SOURCE, 1, 100) + req(4096, 2) + req(64) +
        struct.pack('<BBH', SOURCE, 3, 0) + req(64) + struct.pack('<BBH', SOURCE, 0, 0) + req(64),
        'malformed-then-renegotiate': head(setup=4) + raw(0, [(0, 64, DESC_WRITE | DESC_NEXT)]) + req(8) +
        struct.pack('<BQB', NEGOTIATE, ALL, 3) + req(8) + struct.pack('<BBI', REG, MMIO_STATUS // 4, 0) + req(8),
        'limit-update-snapshot': head(ops=0x80 | 7, bw=0x80 | 3) + req(128) +
        struct.pack('<BBB', LIMIT, 0x80 | 1, 0x80 | 2) + req(128) + req(128) +
        struct.pack('<BB', SNAPSHOT, 0) + struct.pack('<BBBB', SNAPSHOT, 1, 10, 0x40) + clock(50) + req(64),
        'poke-rings': head(setup=3) + req(16, 1, False) + struct.pack('<BIB', POKE, 0x2, 2) + b'\xff' * 16 +
        bytes([PROCESS]) + req(16),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus', 'rng'))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for name, blob in seeds().items():
        with open(os.path.join(args.out, name), 'wb') as f:
            f.write(blob)


if __name__ == '__main__':
    main()
