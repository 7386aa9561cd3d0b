#!/usr/bin/env python3
"""Writes the binary seeds of fuzz_net into fuzz/corpus/net/ (see the op
encoding at the top of fuzz/fuzz_net.c).  Usage: fuzz/make-seeds-net.py"""
import os
import struct

(OP_TX, OP_RX_POST, OP_INJECT, OP_TAP_FULL, OP_READ_FAIL, OP_RAW_CHAIN, OP_POKE, OP_REG,
 OP_NEGOTIATE, OP_POLL, OP_TIMER, OP_EVENT, OP_PATCH, OP_SNAPSHOT, OP_PROCESS) = range(15)

ALL = (1 << 64) - 1
MRG = 1 << 15
GUEST_OFFLOADS = (1 << 1) | (1 << 7) | (1 << 8) | (1 << 10)


def head(setup=0x14, lim=0, features=ALL):
    """setup: bit 0 MAC, bit 1 MTU, bits 2.. queue size index; lim: limiters."""
    return bytes([setup, lim]) + struct.pack('<Q', features)


def tx(length, segs=1, indirect=False, notify=True, gso=None, raw_hdr=None):
    l = (1 if indirect else 0) | (8 if notify else 0)
    if raw_hdr is not None:
        l |= 2
    elif gso is not None:
        l |= 4
    big = length >= 0x10000
    if big:
        l |= 0x80
    b = bytes([OP_TX, l]) + (struct.pack('<I', length) if big else struct.pack('<H', length))
    b += bytes([segs - 1])
    if raw_hdr is not None:
        b += raw_hdr
    elif gso is not None:
        b += bytes([gso])
    return b


def rx_post(length, segs=1, indirect=False, notify=True):
    l = (1 if indirect else 0) | (8 if notify else 0)
    big = length - 1 >= 0x10000
    if big:
        l |= 0x80
    n = length - 1
    return bytes([OP_RX_POST, l]) + (struct.pack('<I', n) if big else struct.pack('<H', n)) + bytes([segs - 1])


def inject(length, first=b''):
    big = length >= 3000
    l = 0x80 if big else 0
    b = bytes([OP_INJECT, l]) + (struct.pack('<I', length) if big else struct.pack('<H', length))
    want = min(length, 24)
    return b + (first + bytes(want))[:want]


def poll(n=8):
    return bytes([OP_POLL, n - 1])


def event(token, ev_index):
    return bytes([OP_EVENT, token, ev_index])


def timer(tx_side, ticks_100us):
    return bytes([OP_TIMER, 1 if tx_side else 0]) + struct.pack('<H', ticks_100us)


def seeds():
    s = {}
    s['tx-basic'] = head() + tx(60) + tx(1514, 3) + tx(9000, 8, indirect=True)
    s['tx-gso'] = head() + tx(30000, 4, gso=1) + tx(30000, 4, gso=4) + tx(2000, gso=3) + tx(100, gso=2)
    s['tx-raw-header'] = head() + tx(200, raw_hdr=bytes([0x81, 0x81] + [0xff] * 10)) + tx(0) + tx(65551, 16)
    s['rx-basic'] = head() + b''.join(rx_post(1536) for _ in range(4)) + inject(100) + inject(1514) + poll()
    s['rx-mrg-split'] = (head() + b''.join(rx_post(1536) for _ in range(8)) + inject(5000) + inject(60) +
                         poll())
    s['rx-no-mrg'] = (head(features=ALL & ~MRG) + rx_post(1000) + rx_post(65562, 4) + inject(1500) +
                      inject(1500) + poll())
    s['rx-no-buffers'] = (head() + inject(100) + inject(200) + inject(300) + poll() + rx_post(2048) +
                          poll() + rx_post(2048) + rx_post(2048) + poll())
    s['rx-waits-mid-frame'] = head() + rx_post(1536) + rx_post(1536) + inject(5000) + poll() + rx_post(1536) + \
        rx_post(1536) + poll()
    s['rx-tiny-buffers'] = head(setup=0x04) + b''.join(rx_post(8) for _ in range(4)) + inject(1000) + poll()
    s['rx-odd-frames'] = head() + rx_post(70000, 3) + inject(0) + inject(12) + inject(65562) + inject(65600) + poll()
    s['tx-eagain'] = (head() + bytes([OP_TAP_FULL, 1]) + tx(500) + tx(600) + tx(700) +
                      bytes([OP_TAP_FULL, 0]) + event(1, 1) + poll())
    s['tx-eagain-count'] = head() + bytes([OP_TAP_FULL, 6]) + tx(500) + poll() + poll() + poll() + poll()
    s['read-errors'] = head() + rx_post(2048) + bytes([OP_READ_FAIL, 1]) + inject(100) + poll() + \
        bytes([OP_READ_FAIL, 0]) + bytes([OP_PROCESS, 0]) + event(1, 3) + event(1, 4)
    s['ratelimit'] = (head(lim=0x13) + b''.join(tx(100) for _ in range(5)) + timer(True, 50) +
                      timer(True, 500) + rx_post(2048) + rx_post(2048) + inject(100) + inject(100) + poll() +
                      timer(False, 100) + poll())
    s['ratelimit-patch'] = head(lim=0x0a) + tx(3000) + tx(3000) + bytes([OP_PATCH, 0x11, 0x22]) + tx(100) + \
        bytes([OP_PATCH, 0, 0])
    s['snapshot-mid-frame'] = (head() + bytes([OP_TAP_FULL, 1]) + tx(700) + rx_post(1536) + rx_post(1536) +
                               inject(5000) + poll() + bytes([OP_SNAPSHOT, 0]) +
                               bytes([OP_SNAPSHOT, 2]) + struct.pack('<IB', 40, 3) + struct.pack('<IB', 8, 1) +
                               bytes([OP_TAP_FULL, 0]) + poll() + rx_post(1536) + rx_post(1536) + poll())
    s['renegotiate'] = (head() + tx(100) + bytes([OP_NEGOTIATE]) + struct.pack('<Q', GUEST_OFFLOADS) + bytes([1]) +
                        rx_post(100) + inject(50) + poll() + bytes([OP_NEGOTIATE]) + struct.pack('<Q', ALL) +
                        bytes([4]) + tx(100))
    s['raw-chain'] = (head() + bytes([OP_RAW_CHAIN, 1]) + struct.pack('<H', 0) + bytes([1, 0]) +
                      struct.pack('<QH', 0x1000, 100) + bytes([0]) + struct.pack('<H', 0) + tx(100))
    s['raw-chain-rx-readonly'] = (head() + bytes([OP_RAW_CHAIN, 0]) + struct.pack('<H', 3) + bytes([0, 0]) +
                                  struct.pack('<HH', 0, 2048) + bytes([0]) + struct.pack('<H', 0) + inject(100) +
                                  poll())
    s['registers'] = head() + bytes([OP_REG, 0x70 // 4]) + struct.pack('<I', 0) + tx(100) + \
        bytes([OP_REG, 0x50 // 4]) + struct.pack('<I', 1)
    return s


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus', 'net')
    os.makedirs(out, exist_ok=True)
    for name, data in seeds().items():
        with open(os.path.join(out, name), 'wb') as f:
            f.write(data)
    print(f'{len(seeds())} seeds in {out}')


if __name__ == '__main__':
    main()
