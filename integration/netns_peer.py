#!/usr/bin/env python3
"""The host side of the Linux guest's network checks, run inside the test's
network namespace (`ip netns exec NS python3 netns_peer.py MODE ...`) by
integration/test_linux_devices.py and bench/guest_io.py.  Streams carry the
agent's pattern (byte i is i % 251, guest-images/rootfs/checks_net.c).

  ping HOST COUNT        ICMP echo, prints {"sent", "received", "max_ms"}
  serve PORT TIMEOUT     receives one TCP stream to EOF, answers "got N",
                         prints {"bytes", "bad_at", "seconds", ...}
  send HOST PORT KIB     sends KIB KiB, waits for "got N", prints {"reply", "seconds"}
"""
import json, socket, sys, time
mode = sys.argv[1]
def pattern(off, n):
    return bytes((off + i) % 251 for i in range(n))
def csum(b):
    s = sum(int.from_bytes(b[i:i + 2], "big") for i in range(0, len(b) - 1, 2)) + (b[-1] << 8 if len(b) % 2 else 0)
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
if mode == "ping":  # no ping(8) needed: ICMP echo over a raw socket
    host, count = sys.argv[2], int(sys.argv[3])
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    ident, got, rtts = 0x6b6c, 0, []
    for seq in range(1, count + 1):
        body = b"kiln-host-ping" * 4
        hdr = bytes([8, 0, 0, 0]) + ident.to_bytes(2, "big") + seq.to_bytes(2, "big")
        c = csum(hdr + body)
        s.sendto(hdr[:2] + c.to_bytes(2, "big") + hdr[4:] + body, (host, 0))
        t0 = time.monotonic(); deadline = t0 + 10
        while time.monotonic() < deadline:
            s.settimeout(max(deadline - time.monotonic(), 0.01))
            try:
                pkt = s.recv(1500)
            except socket.timeout:
                break
            icmp = pkt[(pkt[0] & 15) * 4:]
            if icmp[0] == 0 and icmp[4:6] == ident.to_bytes(2, "big") and icmp[6:8] == seq.to_bytes(2, "big"):
                got += 1; rtts.append(time.monotonic() - t0)
                break
    print(json.dumps({"sent": count, "received": got, "max_ms": int(max(rtts, default=0) * 1000)}), flush=True)
elif mode == "serve":
    port = int(sys.argv[2])
    ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port)); ls.listen(1); ls.settimeout(float(sys.argv[3]))
    print(json.dumps({"listening": port}), flush=True)
    c, _ = ls.accept(); c.settimeout(60)
    accepted = time.monotonic()
    got, bad, first, last = 0, None, None, None
    while True:
        b = c.recv(65536)
        if not b:
            break
        now = time.monotonic()
        first = first if first is not None else now
        last = now
        if bad is None and b != pattern(got, len(b)):
            bad = got
        got += len(b)
    c.sendall(b"got %d\n" % got); c.close()
    print(json.dumps({"bytes": got, "bad_at": bad, "seconds": (last - first) if got else 0,
                      "first_byte_after_s": (first - accepted) if got else None}), flush=True)
else:
    host, port, kib = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    s = socket.create_connection((host, port), timeout=60)
    t0 = time.monotonic()
    for off in range(0, kib * 1024, 65536):
        s.sendall(pattern(off, min(65536, kib * 1024 - off)))
    s.shutdown(socket.SHUT_WR)
    reply = b""
    while not reply.endswith(b"\n"):
        b = s.recv(64)
        if not b:
            break
        reply += b
    print(json.dumps({"reply": reply.decode(), "seconds": time.monotonic() - t0}), flush=True)
