#!/usr/bin/env python3
"""Device throughput from inside a Linux guest, next to the same work on the host.

One boot of our microVM kernel with the rootfs agent (guest-images/rootfs,
kiln.agent=checks) and three devices: a data drive (a file of random bytes),
a NIC on a TAP in a network namespace this bench creates (addresses only
inside it, deleted at the end) and vsock.  The agent measures, in order:

  blk seq read      blkseq:vda:S     O_DIRECT 128 KiB reads for S seconds
  blk rand 4K read  blkrand:vda:S    O_DIRECT 4 KiB reads at random offsets
  tcp host->guest   tcprecv          guest clock, first byte to EOF
  tcp guest->host   tcpsend          host clock, first to last byte received
  vsock host->guest vsockrecv        guest clock, first byte to EOF
  vsock guest->host vsocksend        host clock, first to last byte received

The host column is the same work without the VM: the data file read with
O_DIRECT for the same seconds and request sizes (a Python os.preadv loop over
a page-aligned buffer), TCP over loopback inside the namespace, and a Unix
stream socket pair (what kiln's vsock becomes on the host) for vsock; the
host streams carry --host-mib MiB (the guest's few MiB take milliseconds
there, too short to time).  The table prints guest, host and guest/host.

kiln reads the drive's file through the host page cache (no O_DIRECT), so the
guest's block figures are "guest over a cached file" against the host's
uncached O_DIRECT reads of the same file.

  KILN_BUILD=<build dir> bench/guest_io.py [--seconds S] [--net-kib K]
      [--vsock-kib K] [--host-mib M] [--disk-mib M] [--vcpus V] [--mem MIB] [--json]
"""
import argparse
import json
import mmap
import os
import random
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
from kiln_harness import IMAGES, ROOT, KilnRun, NetNs, kiln_binary, netns_usable, write_config  # noqa: E402

KERNEL = IMAGES / "kernel" / "vmlinux"
ROOTFS_CPIO = IMAGES / "rootfs" / "rootfs.cpio"
LINUX_ARGS = "console=ttyS0 reboot=k panic=1 i8042.noaux i8042.nomux i8042.dumbkbd"
BOOT_TIMEOUT = 600          # kernel to the agent (40-50 s under PVM, slower when loaded)
STEP_TIMEOUT = 300          # one measurement, guest side included
GUEST_MAC = "06:00:0a:ca:00:02"
HOST_IP, GUEST_IP, PREFIX = "10.202.0.1", "10.202.0.2", 24
VSOCK_CID = 3
H2G_TCP_PORT, G2H_TCP_PORT, LO_TCP_PORT = 7100, 7101, 7102
H2G_VSOCK_PORT, G2H_VSOCK_PORT = 5100, 5101
SEQ_REQ, RAND_REQ = 128 * 1024, 4096
CHUNK = 64 * 1024

# The host side of the TCP streams, run inside the namespace.
NETNS_PEER = ROOT / "integration" / "netns_peer.py"


# ---------------------------------------------------------------- host side

def data_file(path: Path, mib: int) -> Path:
    """Random bytes, written out and synced (a sparse file reads as holes)."""
    with open(path, "wb") as f:
        for _ in range(mib):
            f.write(os.urandom(1 << 20))
        f.flush()
        os.fsync(f.fileno())
    return path


def host_direct_read(path: Path, seconds: float, req: int, rand: bool) -> dict:
    """O_DIRECT reads of `req` bytes for `seconds`: sequential (wrapping) or
    at random aligned offsets; the buffer is an anonymous mmap (page-aligned)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, req)
    try:
        blocks = os.fstat(fd).st_size // req
        rng = random.Random(1)
        ops, off = 0, 0
        t0 = time.monotonic()
        end = t0 + seconds
        while True:
            if rand:
                off = rng.randrange(blocks) * req
            if os.preadv(fd, [buf], off) != req:
                raise SystemExit(f"short O_DIRECT read of {path} at {off}")
            ops += 1
            if not rand:
                off = ops % blocks * req
            if time.monotonic() >= end:
                break
        dt = time.monotonic() - t0
    finally:
        buf.close()
        os.close(fd)
    return {"bytes": ops * req, "ops": ops, "seconds": dt}


def netns_helper(ns: NetNs, *args) -> subprocess.Popen:
    return subprocess.Popen(["ip", "netns", "exec", ns.name, sys.executable, str(NETNS_PEER), *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def helper_result(p: subprocess.Popen, timeout: float) -> dict:
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate(timeout=10)
        raise SystemExit(f"netns helper did not finish in {timeout}s: {out} {err}")
    lines = [l for l in out.splitlines() if l.startswith("{")]
    if p.returncode != 0 or not lines:
        raise SystemExit(f"netns helper failed ({p.returncode}): {out} {err}")
    return json.loads(lines[-1])


def wait_listening(p: subprocess.Popen, timeout: float) -> None:
    """The serve helper's first line says it is listening."""
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        r, _, _ = select.select([p.stdout], [], [], max(t_end - time.monotonic(), 0))
        if r:
            line = p.stdout.readline()
            if line.startswith('{"listening"'):
                return
            if not line:
                break
    raise SystemExit("netns receiver did not start listening")


def loopback_tcp(ns: NetNs, kib: int) -> dict:
    """The host reference for TCP: the same stream over lo inside the namespace."""
    srv = netns_helper(ns, "serve", LO_TCP_PORT, 60)
    try:
        wait_listening(srv, 30)
        snd = helper_result(netns_helper(ns, "send", "127.0.0.1", LO_TCP_PORT, kib), STEP_TIMEOUT)
        res = helper_result(srv, STEP_TIMEOUT)
    finally:
        if srv.poll() is None:
            srv.kill()
            srv.wait(timeout=10)
    if res["bytes"] != kib * 1024 or res["bad_at"] is not None or snd["reply"] != f"got {kib * 1024}\n":
        raise SystemExit(f"loopback TCP stream broken: {res} {snd}")
    return res


class UnixReceiver:
    """Listens on a Unix socket, receives one stream to EOF (timing first to
    last byte) and answers "got N"; kiln connects here for the guest's vsock
    connection to host port P (<uds_path>_P)."""

    def __init__(self, path: Path, timeout: float):
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        self.listener.listen(1)
        self.listener.settimeout(timeout)
        self.result: dict = {}
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            conn, _ = self.listener.accept()
            with conn:
                conn.settimeout(STEP_TIMEOUT)
                got, first, last = 0, None, None
                while True:
                    b = conn.recv(CHUNK)
                    if not b:
                        break
                    last = time.monotonic()
                    first = first if first is not None else last
                    got += len(b)
                conn.sendall(b"got %d\n" % got)
            self.result = {"bytes": got, "seconds": (last - first) if got else 0}
        except OSError as e:
            self.result = {"error": repr(e)}

    def join(self, timeout: float) -> dict:
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise SystemExit("vsock receiver did not finish in time")
        return self.result

    def close(self):
        self.listener.close()
        self.thread.join(timeout=10)


def unix_stream(kib: int) -> dict:
    """The host reference for vsock: the same stream over a Unix socket pair."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    payload = bytes(CHUNK)
    res: dict = {}

    def receive():
        got, first, last = 0, None, None
        while True:
            d = b.recv(CHUNK)
            if not d:
                break
            last = time.monotonic()
            first = first if first is not None else last
            got += len(d)
        res.update(bytes=got, seconds=(last - first) if got else 0)

    a.settimeout(60)
    b.settimeout(60)
    t = threading.Thread(target=receive, daemon=True)
    t.start()
    for off in range(0, kib * 1024, CHUNK):
        a.sendall(payload[:min(CHUNK, kib * 1024 - off)])
    a.shutdown(socket.SHUT_WR)
    t.join(60)
    a.close()
    b.close()
    if res.get("bytes") != kib * 1024:
        raise SystemExit(f"Unix socket stream broken: {res}")
    return res


def vsock_send_to_guest(uds: Path, port: int, kib: int) -> str:
    """CONNECT through kiln to the guest's listener, stream kib KiB, half-close,
    return the guest's reply line."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(STEP_TIMEOUT)
        s.connect(str(uds))
        s.sendall(f"CONNECT {port}\n".encode())
        line = b""
        while not line.endswith(b"\n"):
            c = s.recv(1)
            if not c:
                raise SystemExit(f"vsock: EOF before kiln's OK line ({line!r})")
            line += c
        if not line.startswith(b"OK "):
            raise SystemExit(f"vsock CONNECT {port}: {line!r}")
        payload = bytes(CHUNK)
        for off in range(0, kib * 1024, CHUNK):
            s.sendall(payload[:min(CHUNK, kib * 1024 - off)])
        s.shutdown(socket.SHUT_WR)
        reply = b""
        while not reply.endswith(b"\n"):
            c = s.recv(64)
            if not c:
                break
            reply += c
    return reply.decode(errors="replace").strip()


# ---------------------------------------------------------------- guest side

def check_line(r: KilnRun, name: str) -> dict:
    """The agent's line for check `name`, as key=value words; exits on FAIL."""
    m = r.wait_for(rf"^KILN-CHECK {name} (PASS|FAIL) (.*?)\r?$", STEP_TIMEOUT)
    if m.group(1) != "PASS":
        raise SystemExit(f"guest check failed: {m.group(0)}")
    return dict(w.split("=", 1) for w in m.group(2).split() if "=" in w)


def run_guest(args, work: Path, short: Path, ns: NetNs, disk: Path) -> dict:
    uds = short / "v.sock"
    checks = [
        f"ifup:{GUEST_IP}/{PREFIX}",
        f"blkseq:vda:{args.seconds}", f"blkrand:vda:{args.seconds}",
        f"tcprecv:{H2G_TCP_PORT}:{args.net_kib}", f"tcpsend:{HOST_IP}:{G2H_TCP_PORT}:{args.net_kib}",
        f"vsockrecv:{H2G_VSOCK_PORT}:{args.vsock_kib}", f"vsocksend:{G2H_VSOCK_PORT}:{args.vsock_kib}",
    ]
    boot_args = f"{LINUX_ARGS} rdinit=/sbin/init kiln.agent=checks " + " ".join(f"kiln.check={c}" for c in checks)
    extra = {
        "drives": [{"drive_id": "data", "path_on_host": str(disk), "is_root_device": False,
                    "is_read_only": True}],
        "network-interfaces": [{"iface_id": "eth0", "host_dev_name": ns.tap, "guest_mac": GUEST_MAC}],
        "vsock": {"guest_cid": VSOCK_CID, "uds_path": str(uds)},
    }
    cfg = write_config(work, KERNEL, boot_args=boot_args, initrd=ROOTFS_CPIO, vcpus=args.vcpus,
                       mem_mib=args.mem, extra=extra)
    g2h_vsock = UnixReceiver(Path(f"{uds}_{G2H_VSOCK_PORT}"), BOOT_TIMEOUT + 6 * STEP_TIMEOUT)
    g2h_tcp = netns_helper(ns, "serve", G2H_TCP_PORT, BOOT_TIMEOUT + 6 * STEP_TIMEOUT)
    helpers = [g2h_tcp]
    res: dict = {}
    r = KilnRun(["--config-file", str(cfg), "--no-api"], work, netns=ns.name)
    try:
        t0 = time.monotonic()
        r.wait_for(r"^kiln-init: ready", BOOT_TIMEOUT)
        res["boot_s"] = time.monotonic() - t0
        print(f"guest agent ready after {res['boot_s']:.1f} s; measuring", file=sys.stderr)
        check_line(r, "ifup")
        res["blkseq"] = check_line(r, "blkseq")
        res["blkrand"] = check_line(r, "blkrand")

        r.wait_for(rf"^kiln-init: listening tcp {H2G_TCP_PORT}\r?$", STEP_TIMEOUT)
        h2g = netns_helper(ns, "send", GUEST_IP, H2G_TCP_PORT, args.net_kib)
        helpers.append(h2g)
        snd = helper_result(h2g, STEP_TIMEOUT)
        res["tcprecv"] = check_line(r, "tcprecv")
        if snd["reply"] != f"got {args.net_kib * 1024}\n":
            raise SystemExit(f"TCP host->guest: guest replied {snd['reply']!r}")

        res["tcp_g2h"] = helper_result(g2h_tcp, STEP_TIMEOUT)
        res["tcpsend"] = check_line(r, "tcpsend")
        if res["tcp_g2h"]["bytes"] != args.net_kib * 1024 or res["tcp_g2h"]["bad_at"] is not None:
            raise SystemExit(f"TCP guest->host stream broken: {res['tcp_g2h']}")

        r.wait_for(rf"^kiln-init: listening vsock {H2G_VSOCK_PORT}\r?$", STEP_TIMEOUT)
        reply = vsock_send_to_guest(uds, H2G_VSOCK_PORT, args.vsock_kib)
        res["vsockrecv"] = check_line(r, "vsockrecv")
        if reply != f"got {args.vsock_kib * 1024}":
            raise SystemExit(f"vsock host->guest: guest replied {reply!r}")

        res["vsock_g2h"] = g2h_vsock.join(STEP_TIMEOUT)
        res["vsocksend"] = check_line(r, "vsocksend")
        if res["vsock_g2h"].get("bytes") != args.vsock_kib * 1024:
            raise SystemExit(f"vsock guest->host stream broken: {res['vsock_g2h']}")

        r.wait_for(r"^KILN-CHECK-DONE pass=\d+ fail=0", STEP_TIMEOUT)
        code = r.wait_exit(120)
        if code != 0:
            raise SystemExit(f"kiln exited {code}:\n{r.log()[-2000:]}")
    finally:
        g2h_vsock.close()
        for p in helpers:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
        r.close()
    return res


# ---------------------------------------------------------------- report

def mib_s(nbytes: float, seconds: float) -> float:
    return nbytes / (1 << 20) / seconds if seconds > 0 else 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=5, help="each block measurement, guest and host")
    ap.add_argument("--net-kib", type=int, default=4096, help="KiB per TCP stream")
    ap.add_argument("--vsock-kib", type=int, default=4096, help="KiB per vsock stream")
    ap.add_argument("--host-mib", type=int, default=512, help="MiB per host reference stream")
    ap.add_argument("--disk-mib", type=int, default=128)
    ap.add_argument("--vcpus", type=int, default=1)
    ap.add_argument("--mem", type=int, default=256)
    ap.add_argument("--json", action="store_true", help="print the raw figures as JSON too")
    args = ap.parse_args()

    for p in (kiln_binary(), KERNEL, ROOTFS_CPIO):
        if not p.exists():
            raise SystemExit(f"missing {p}: build it first (ninja -C $KILN_BUILD; guest-images/build.sh)")
    if not os.access("/dev/kvm", os.R_OK | os.W_OK) or not netns_usable():
        raise SystemExit("needs /dev/kvm, root, /dev/net/tun and ip(8)")

    # The data file on a real file system (tmpfs has no O_DIRECT); the
    # sockets in a short /tmp directory (sun_path holds 107 bytes).
    work = Path(tempfile.mkdtemp(prefix="kiln-gio-", dir="/var/tmp"))
    short = Path(tempfile.mkdtemp(prefix="kiln-gio-", dir="/tmp"))
    ns = NetNs(tap="giotap0")
    try:
        ns.run("ip", "addr", "add", f"{HOST_IP}/{PREFIX}", "dev", ns.tap)
        disk = data_file(work / "data.img", args.disk_mib)
        guest = run_guest(args, work, short, ns, disk)
        host = {
            "seq": host_direct_read(disk, args.seconds, SEQ_REQ, rand=False),
            "rand": host_direct_read(disk, args.seconds, RAND_REQ, rand=True),
            "tcp": loopback_tcp(ns, args.host_mib * 1024),
            "unix": unix_stream(args.host_mib * 1024),
        }
    finally:
        ns.close()
        shutil.rmtree(short, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)

    def guest_rate(words: dict) -> float:
        return mib_s(int(words["bytes"]), int(words["ms"]) / 1000)

    rows = [
        ("blk seq read MiB/s (128K, O_DIRECT)", guest_rate(guest["blkseq"]),
         mib_s(host["seq"]["bytes"], host["seq"]["seconds"])),
        ("blk rand read IOPS (4K, O_DIRECT)", int(guest["blkrand"]["ops"]) * 1000 / int(guest["blkrand"]["ms"]),
         host["rand"]["ops"] / host["rand"]["seconds"]),
        ("tcp host->guest MiB/s", guest_rate(guest["tcprecv"]), mib_s(host["tcp"]["bytes"], host["tcp"]["seconds"])),
        ("tcp guest->host MiB/s", mib_s(guest["tcp_g2h"]["bytes"], guest["tcp_g2h"]["seconds"]),
         mib_s(host["tcp"]["bytes"], host["tcp"]["seconds"])),
        ("vsock host->guest MiB/s", guest_rate(guest["vsockrecv"]),
         mib_s(host["unix"]["bytes"], host["unix"]["seconds"])),
        ("vsock guest->host MiB/s", mib_s(guest["vsock_g2h"]["bytes"], guest["vsock_g2h"]["seconds"]),
         mib_s(host["unix"]["bytes"], host["unix"]["seconds"])),
    ]
    print(f"kiln guest I/O benchmark: vcpus={args.vcpus} mem={args.mem}MiB disk={args.disk_mib}MiB "
          f"blk={args.seconds}s tcp={args.net_kib}KiB vsock={args.vsock_kib}KiB host-streams={args.host_mib}MiB "
          f"boot-to-agent={guest['boot_s']:.1f}s")
    print("host column: same file with O_DIRECT; TCP over loopback in the namespace; vsock vs a Unix socket pair")
    print(f"{'metric':38} {'guest':>12} {'host':>12} {'guest/host':>11}")
    for name, g, h in rows:
        print(f"{name:38} {g:12.2f} {h:12.2f} {g / h if h else 0:11.4f}")
    if args.json:
        print(json.dumps({"guest": guest, "host": host}))


if __name__ == "__main__":
    main()
