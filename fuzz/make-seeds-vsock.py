#!/usr/bin/env python3
"""Writes the hand-made seeds of fuzz_vsock into fuzz/corpus/vsock/.

Each seed is an op list in fuzz_vsock.c's encoding (see the top of that
file): a setup byte, a features u64, then opcodes with their fields.  They
replay whole conversations (host connect + CONNECT/OK + data both ways,
guest connect, credit exhaustion and update, shutdown, RST) and a few
hostile ones, so the fuzzer starts past the handshake.  Files named by a
40-hex SHA-1 are merged-in inputs and are left alone.

    fuzz/make-seeds-vsock.py [--out DIR]
"""
import argparse
import os
import struct

(OP_PKT, OP_RX_POST, OP_HOST_CONNECT, OP_HOST_WRITE, OP_HOST_READ, OP_HOST_CLOSE, OP_POLL, OP_RAW_CHAIN,
 OP_POKE, OP_REG, OP_EVENT, OP_NEGOTIATE, OP_STATE, OP_PROCESS) = range(14)
REQUEST, RESPONSE, RST, SHUTDOWN, RW, CREDIT_UPDATE, CREDIT_REQUEST = range(1, 8)
# Host port choices of pick_port(host=True): index into
# {5, 6, 7 (refused), 1024, 2^30, 2^30+1, 2^30+2, 0xffffffff}.
HP_5, HP_6, HP_REFUSED, HP_1024, HP_FIRST = 0, 1, 2, 3, 4


def setup(rx=0, conns=3, qs=2):
    """rx: index of the rx buffer size (0: 4096); conns: max_conns - 1; qs: 4 << qs entries."""
    return struct.pack('<BQ', (qs << 6) | (conns << 3) | rx, 0xffffffffffffffff)


def u8(v):
    return struct.pack('<B', v)


def u16(v):
    return struct.pack('<H', v)


def pkt(guest, host, op, plen=0, segs=1, flags=0, new_alloc=None, eat=0):
    """A well-behaved guest packet.  new_alloc: the buf_alloc exponent (64 << n) a REQUEST or the first
    RESPONSE carries; eat: bytes the guest consumed since (fwd_cnt grows)."""
    b = u8(OP_PKT) + u8(0) + u8(guest) + u8(host) + u8(op - 1) + u16(plen) + u8(segs) + u8(flags)
    if new_alloc is not None:
        b += u8(new_alloc)
    return b + u16(eat)


def raw_pkt(guest, host, op, src_cid, dst_cid, typ, length, flags, buf_alloc, fwd_cnt, plen=0):
    mode = 0x80 | 0x40 | 0x20 | 0x0f
    return (u8(OP_PKT) + u8(mode) + u8(guest) + u8(host) + u16(op) + u16(plen) + u8(1) + u8(0) +
            struct.pack('<QQHIIII', src_cid, dst_cid, typ, length, flags, buf_alloc, fwd_cnt))


def rx_post(n):
    return u8(OP_RX_POST) + u8(n - 1)


def host_connect(guest_port_choice):
    return u8(OP_HOST_CONNECT) + u8(1) + u8(guest_port_choice)


def host_connect_raw(line):
    return u8(OP_HOST_CONNECT) + u8(0) + u8(len(line)) + line


def host_write(i, n):
    return u8(OP_HOST_WRITE) + u8(i) + u16(n)


def host_read(i, n):
    return u8(OP_HOST_READ) + u8(i) + u16(n - 1)


def host_close(i, half=False):
    return u8(OP_HOST_CLOSE) + u8(i) + u8(1 if half else 0)


POLL = u8(OP_POLL)

SEEDS = {
    # Host connects to guest port 1000, guest accepts with a 1 KiB buffer, data both ways, shutdown.
    'host-connect-echo': setup() + rx_post(8) + host_connect(0) + POLL + POLL +
        pkt(0, HP_FIRST, RESPONSE, segs=0, new_alloc=4) + host_write(0, 2000) + POLL + POLL +
        pkt(0, HP_FIRST, RW, plen=100, segs=2, eat=2000) + POLL + host_read(0, 200) +
        pkt(0, HP_FIRST, SHUTDOWN, segs=0, flags=3) + POLL,
    # Guest connects to host port 5 with a 256-byte buffer; host floods; credit updates; host closes.
    'guest-connect-credit': setup() + rx_post(16) +
        pkt(1, HP_5, REQUEST, segs=0, new_alloc=2) + host_write(0, 4000) + POLL + POLL +
        pkt(1, HP_5, CREDIT_UPDATE, segs=0, eat=256) + POLL +
        pkt(1, HP_5, RW, plen=3000, segs=3) + pkt(1, HP_5, RW, plen=3000, segs=1) + host_read(0, 8000) + POLL +
        pkt(1, HP_5, CREDIT_REQUEST, segs=0) + host_close(0) + POLL + POLL + pkt(1, HP_5, RST, segs=0),
    # Host stops reading while the guest sends past the 4 KiB device buffer.
    'host-stalls': setup() + rx_post(8) + pkt(2, HP_6, REQUEST, segs=0, new_alloc=6) +
        b''.join(pkt(2, HP_6, RW, plen=4000, segs=2) for _ in range(6)) + POLL + host_read(0, 4000) + POLL,
    'connect-refused': setup() + rx_post(4) + pkt(3, HP_REFUSED, REQUEST, segs=0, new_alloc=1) + POLL,
    'table-full': setup(conns=0) + rx_post(8) + pkt(0, HP_5, REQUEST, segs=0, new_alloc=1) +
        pkt(1, HP_6, REQUEST, segs=0, new_alloc=1) + host_connect(2) + POLL + POLL,
    'bad-connect-lines': setup() + rx_post(4) + host_connect_raw(b'CONNECT x\n') + POLL + POLL +
        host_connect_raw(b'CONNECT 99999999999\n') + POLL + POLL + host_connect_raw(b'CONN') + POLL +
        host_close(0) + POLL,
    'raw-headers': setup() + rx_post(8) +
        raw_pkt(0, HP_5, REQUEST, 3, 2, 2, 0, 0, 4096, 0) +
        raw_pkt(0, HP_5, RW, 3, 2, 1, 70000, 0, 4096, 0, plen=100) +
        raw_pkt(0, HP_5, 9, 3, 2, 1, 0, 0, 0, 0) +
        raw_pkt(0, HP_5, REQUEST, 99, 2, 1, 0, 0, 0, 0) + POLL,
    'tx-chain-outside-ram': setup() + rx_post(2) +
        u8(OP_RAW_CHAIN) + u8(1) + u16(0) + u8(0) + u8(1) + struct.pack('<Q', 0xdead00000000) + u16(44) +
        u8(0) + u16(0) + pkt(0, HP_5, REQUEST, segs=0, new_alloc=1),
    'small-rx-buffers': setup(rx=3) + rx_post(4) + pkt(0, HP_5, REQUEST, segs=0, new_alloc=1) + POLL,
    'transport-reset': setup() + rx_post(4) + host_connect(0) + POLL + POLL +
        u8(OP_EVENT) + u8(1) + u8(OP_EVENT) + u8(0) + u8(3) + u8(OP_EVENT) + u8(0) + u8(0) +
        host_connect(1) + POLL + POLL,
    'state-restore': setup() + pkt(0, HP_5, REQUEST, segs=0, new_alloc=1) +
        u8(OP_STATE) + u8(1) + struct.pack('<Q', 42) + u8(1) + u8(1) + u8(OP_EVENT) + u8(0) + u8(3) +
        u8(OP_STATE) + u8(1) + struct.pack('<Q', 2) + u8(0),
    'renegotiate': setup() + host_connect(0) + POLL + u8(OP_NEGOTIATE) + struct.pack('<Q', 0) + u8(1) +
        rx_post(4) + POLL + u8(OP_PROCESS) + u8(0),
}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default=os.path.join(here, 'corpus'), help='corpus root (default: fuzz/corpus)')
    args = ap.parse_args()
    d = os.path.join(args.out, 'vsock')
    os.makedirs(d, exist_ok=True)
    for name, blob in SEEDS.items():
        with open(os.path.join(d, name), 'wb') as f:
            f.write(blob)
    print(f'{len(SEEDS)} seeds in {d}')


if __name__ == '__main__':
    main()
