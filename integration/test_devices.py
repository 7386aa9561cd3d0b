"""virtio-net, vsock, balloon and rng end to end: the test guest's drivers
(net=1, vsock=1, balloon=1, rng=1; guest-images/testguest/README.md) run a
fixed protocol against kiln's devices while this test plays the host side
and checks what it sees there:

- net: a TAP in a network namespace made for the test, where kiln runs too
  (no addresses, IPv6 off, deleted afterwards; nothing leaves the namespace),
  watched and fed through a raw
  AF_PACKET socket: the guest's frames must appear on it, frames written to it
  must reach the guest and come back echoed, 64-frame bursts both ways
  (eight times the guest's receive buffers) arrive whole and in order;
  EVENT_IDX suppression and a reset with re-negotiation in the same boot.
- vsock: Unix sockets in the test's directory: the guest connects to
  <uds_path>_5000 (we listen and echo), and we connect to uds_path with
  "CONNECT 6000" (the guest listens) and push data past the guest's 64-byte
  credit; then four guest connections at once, each echoed and closed.
- balloon: through the API: statistics the guest sent show in GET
  /balloon/statistics, PATCH /balloon moves the guest's target, and kiln's
  RSS drops when the guest inflates pages it had touched.
- rng: sizes, randomness, a read-only chain; a bandwidth limit paces a 1 MiB
  read from the guest to within 20% of the configured rate.
- all four plus a block device in one boot, also with kiln built with
  ASan+UBSan (build-asan/ or $KILN_ASAN_BUILD; skipped loudly without it).
- rng, net and vsock again after the hostile guest (hostile.c) attacked the
  device: the same sequence must pass.
- throughput from the test guest, printed (pytest -s): rng 1 MiB, net 20000
  full-size frames guest->TAP, vsock 16 MiB guest->host; every frame and
  byte must arrive.

Boots need /dev/kvm (need_kvm skips loudly); the net tests also need
/dev/net/tun and CAP_NET_ADMIN (skipped loudly otherwise)."""
import ctypes
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

import kiln_harness
from kiln_harness import ROOT, ktg_elf, loud, write_config
from test_api import ok, wait_api
from test_blk import blk_lines, devices, drive, make_disk

BOOT_TIMEOUT = 60        # a whole run of one device's sequence, boot to reset
STEP_TIMEOUT = 30        # one guest step the host waits for
MEM_MIB = 128
GUEST_MAC = "06:00:ac:10:00:02"
HOST_MAC = bytes.fromhex("020000c0ffee")  # locally administered, used only on the test TAP
ETHERTYPE_KTG = 0x88B5   # IEEE 802 local experimental
NET_MTU = 1400
NET_BURST = 64           # frames each way at once; the guest has 8 receive buffers
VSOCK_CID = 42
G2H_PORT, H2G_PORT = 5000, 6000
H2G_DATA = b"0123456789" * 20
H2G_CREDIT = 64          # the guest's buf_alloc for the host->guest connection
VSOCK_BENCH_PORT, VSOCK_BENCH_KIB = 5001, 16384
MULTI_CONNS = 4          # guest connections open at once (virtio_vsock.c)
BALLOON_BOOT_MIB = 8     # num_pages at boot: the guest inflates this much first
BALLOON_UP_MIB = 32      # the whole region the guest touched (virtio_balloon.c)
BALLOON_DOWN_MIB = 16
RSS_DROP_MIN_KIB = 20 * 1024  # inflating 24 MiB of touched pages must free at least this

SANITIZER_NEEDLES = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "SUMMARY: UndefinedBehaviorSanitizer", "SUMMARY: AddressSanitizer")

# Feature bits.
F_VERSION_1, F_EVENT_IDX = 1 << 32, 1 << 29
NET_F_MTU, NET_F_MAC, NET_F_STATUS = 1 << 3, 1 << 5, 1 << 16
BALLOON_F_STATS_VQ = 1 << 1


# ---------------------------------------------------------------- helpers

def ktg_lines(console: str, dev: str) -> list:
    """The 'KTG: <dev> ...' lines, without the prefix."""
    pre = f"KTG: {dev} "
    return [line[len(pre):] for line in console.splitlines() if line.startswith(pre)]


def features(lines: list) -> tuple:
    for line in lines:
        m = re.match(r"features offered=0x([0-9a-f]+) accepted=0x([0-9a-f]+)$", line)
        if m:
            return int(m.group(1), 16), int(m.group(2), 16)
    raise AssertionError(f"no features line in {lines}")


def boot(kiln, workdir, boot_args, extra, api_sock=None, netns=None):
    """netns: run kiln in that network namespace (where the test's TAP is)."""
    cfg = write_config(workdir, ktg_elf(), boot_args=boot_args, mem_mib=MEM_MIB, extra=extra)
    if api_sock:
        r = kiln("--config-file", str(cfg), "--api-sock", api_sock, netns=netns)
        wait_api(r, api_sock)
        return r
    return kiln("--config-file", str(cfg), "--no-api", netns=netns)


def finish(r) -> str:
    code = r.wait_exit(BOOT_TIMEOUT)
    out, log = r.console(), r.log()
    assert code == 0, f"kiln exited {code}\n{out[-3000:]}\n{log[-3000:]}"
    assert "KTG: done" in out, out[-3000:]
    for needle in SANITIZER_NEEDLES:
        assert needle not in log, log[-6000:]
    return out


@pytest.fixture
def short_dir():
    """A short directory for Unix sockets (sun_path holds 107 bytes)."""
    d = tempfile.mkdtemp(prefix="kiln-dev-", dir="/tmp")
    yield Path(d)
    shutil.rmtree(d, ignore_errors=True)


# ---------------------------------------------------------------- rng

def entropy_cfg():
    return {"entropy": {}}


def check_rng(out: str) -> None:
    lines = ktg_lines(out, "rng")
    offered, accepted = features(lines)
    assert accepted == F_VERSION_1 and offered & F_VERSION_1, lines
    # One random byte is zero once in 256 reads: its nonzero flag is not checked.
    assert any(re.match(r"read size=1 len=1 nonzero=[01]$", l) for l in lines), lines
    for size in (16, 64, 512, 4096):
        assert f"read size={size} len={size} nonzero=1" in lines, lines
    assert "distinct=1" in lines, lines
    assert "readonly len=0 untouched=1" in lines, lines
    assert "batch 4/4 full=4" in lines, lines
    assert "reinit ok" in lines, lines
    assert lines[-1] == "ok", lines


def test_rng(kiln, workdir, need_kvm):
    r = boot(kiln, workdir, "rng=1 exit=reset", entropy_cfg())
    check_rng(finish(r))


def line_times(r, patterns, timeout) -> list:
    """When (time.monotonic()) each regex first showed in the console, in
    order, polling every 10 ms."""
    times, deadline = [], time.monotonic() + timeout
    for pat in patterns:
        rx = re.compile(pat, re.M)
        while not rx.search(r.console()):
            assert r.proc.poll() is None or rx.search(r.console()), f"kiln exited before /{pat}/"
            assert time.monotonic() < deadline, f"/{pat}/ not seen within {timeout}s\n{r.console()[-2000:]}"
            time.sleep(0.01)
        times.append(time.monotonic())
    return times


RNG_BENCH_KIB = 1024
RNG_LIMIT_BYTES, RNG_LIMIT_REFILL_MS = 64 * 1024, 100  # 640 KiB/s after the first (full) bucket


def rng_bench_seconds(kiln, workdir, entropy) -> tuple:
    """(wall seconds between the bench lines, the guest's TSC ticks for the run)."""
    r = boot(kiln, workdir, f"rng=1 rngbench={RNG_BENCH_KIB} exit=reset", {"entropy": entropy})
    start, done = line_times(r, [r"^KTG: rng bench start ", r"^KTG: rng bench done "], BOOT_TIMEOUT)
    out = finish(r)
    check_rng(out)
    m = re.search(rf"^KTG: rng bench done bytes={RNG_BENCH_KIB * 1024} tsc=(\d+)$", out, re.M)
    assert m, out
    (workdir / "console.out").unlink()
    return done - start, int(m.group(1))


def test_rng_rate_limiter_paces_the_guest(kiln, workdir, need_kvm):
    """A bandwidth limit of 64 KiB per 100 ms: the guest's 1 MiB takes the
    full bucket at once, then the rest at 640 KiB/s: 1.5 s, within 20%; the
    same read without a limiter must be much faster (it is the limiter that
    paces it)."""
    free, free_tsc = rng_bench_seconds(kiln, workdir, {})
    limit = {"bandwidth": {"size": RNG_LIMIT_BYTES, "refill_time": RNG_LIMIT_REFILL_MS}}
    limited, limited_tsc = rng_bench_seconds(kiln, workdir, {"rate_limiter": limit})
    want = (RNG_BENCH_KIB * 1024 - RNG_LIMIT_BYTES) / (RNG_LIMIT_BYTES * 1000 / RNG_LIMIT_REFILL_MS)
    print(f"rng: {RNG_BENCH_KIB} KiB from the test guest: unlimited {free:.3f} s wall, {free_tsc} TSC ticks; "
          f"limited {limited:.3f} s wall, {limited_tsc} TSC ticks (expected {want:.2f} s)")
    assert free < want / 3, f"unlimited read took {free:.2f} s"
    assert free_tsc * 3 < limited_tsc, (free_tsc, limited_tsc)
    assert 0.8 * want <= limited <= 1.2 * want, f"limited read took {limited:.2f} s, expected {want:.2f} s +-20%"


# ---------------------------------------------------------------- net

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


def in_netns(name, fn):
    """fn() with this thread in network namespace name (sockets it makes stay
    there), then back in ours."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if _libc.setns(target, CLONE_NEWNET):
            raise OSError(ctypes.get_errno(), "setns into the test's network namespace")
        try:
            return fn()
        finally:
            if _libc.setns(own, CLONE_NEWNET):
                raise OSError(ctypes.get_errno(), "setns back")
    finally:
        os.close(own)
        os.close(target)


class Tap:
    """A TAP device for one test, in a network namespace of the test's own
    (kiln runs in it too): no addresses, IPv6 off (so no stack sends anything
    on it), up, watched through an AF_PACKET socket bound to it for our
    EtherType only; the namespace and all in it are deleted on close."""

    _count = 0

    def __init__(self):
        Tap._count += 1
        self.name = "ktap0"
        self.ns = f"kiln-dev-{os.getpid()}-{Tap._count}"
        self.frames = []
        self.bench_frames = 0  # "KTG-NB" frames (netbench=), counted only
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.sock = None
        self.created = False
        try:
            subprocess.run(["ip", "netns", "add", self.ns], check=True, capture_output=True, timeout=10)
            self.created = True
            self._ip("tuntap", "add", "dev", self.name, "mode", "tap")
            subprocess.run(["ip", "netns", "exec", self.ns, "sysctl", "-qw",
                            f"net.ipv6.conf.{self.name}.disable_ipv6=1"], capture_output=True, timeout=10)
            self._ip("link", "set", "dev", self.name, "up")
            self.sock = in_netns(self.ns, lambda: socket.socket(
                socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETHERTYPE_KTG)))
            # SO_RCVBUFFORCE (33, root): room for a netbench= run's frames.
            self.sock.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", 33), 32 << 20)
            self.sock.bind((self.name, ETHERTYPE_KTG))
            self.sock.settimeout(0.2)
        except Exception:
            self.close()
            raise
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _ip(self, *args):
        p = subprocess.run(["ip", "-n", self.ns, *args], capture_output=True, text=True, timeout=10)
        assert p.returncode == 0, f"ip {' '.join(args)}: {p.stderr}"

    def _read(self):
        while not self.stop.is_set():
            try:
                data, addr = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            # addr[2] is the packet type; PACKET_OUTGOING (4) is what we sent.
            if addr[2] == socket.PACKET_OUTGOING:
                continue
            with self.lock:
                if data[14:20] == b"KTG-NB":
                    self.bench_frames += 1
                else:
                    self.frames.append(data)

    def send(self, dst: bytes, tag: str) -> None:
        frame = dst + HOST_MAC + ETHERTYPE_KTG.to_bytes(2, "big") + tag.encode()
        self.sock.send(frame.ljust(60, b"\0"))

    def tags(self) -> list:
        """(dst, src, tag) of each frame the guest sent, in order."""
        out = []
        with self.lock:
            frames = list(self.frames)
        for f in frames:
            tag = f[14:].split(b"\0", 1)[0].decode(errors="replace")
            out.append((f[0:6], f[6:12], tag))
        return out

    def close(self):
        self.stop.set()
        if self.sock:
            self.sock.close()
        if self.created:
            subprocess.run(["ip", "netns", "del", self.ns], capture_output=True, timeout=10)
            self.created = False


@pytest.fixture
def tap():
    if not os.path.exists("/dev/net/tun"):
        loud("SKIPPED: /dev/net/tun missing; virtio-net end-to-end tests did NOT run")
        pytest.skip("SKIPPED LOUDLY: no /dev/net/tun")
    if os.geteuid() != 0 or not shutil.which("ip"):
        loud("SKIPPED: virtio-net end-to-end tests need root and iproute2 to make a TAP; they did NOT run")
        pytest.skip("SKIPPED LOUDLY: cannot create a TAP")
    t = Tap()
    yield t
    t.close()


def net_cfg(tap):
    return {"network-interfaces": [{"iface_id": "net0", "host_dev_name": tap.name, "guest_mac": GUEST_MAC,
                                    "mtu": NET_MTU}]}


def net_host(r, tap, wait_end=True) -> None:
    """The host side of the guest's sequence: inject frames when it waits."""
    mac = bytes.fromhex(GUEST_MAC.replace(":", ""))
    r.wait_for(r"^KTG: net rx-wait round=1 count=3$", STEP_TIMEOUT)
    for i in range(3):
        tap.send(mac, f"KTG-RX {i}")
    r.wait_for(rf"^KTG: net rx-wait round=burst count={NET_BURST}$", STEP_TIMEOUT)
    for i in range(NET_BURST):
        tap.send(mac, f"KTG-B {i:02d}")
    r.wait_for(r"^KTG: net rx-wait round=2 count=1$", STEP_TIMEOUT)
    tap.send(mac, "KTG-RX2 0")
    if wait_end:
        r.wait_for(r"^KTG: net (ok|FAIL.*)$", STEP_TIMEOUT)


def check_net(out: str, tap) -> None:
    lines = ktg_lines(out, "net")
    offered, accepted = features(lines)
    want = F_VERSION_1 | NET_F_MAC | NET_F_STATUS | NET_F_MTU | F_EVENT_IDX
    assert offered & want == want, f"offered 0x{offered:x}"
    assert accepted == want, f"accepted 0x{accepted:x}"
    # The second negotiation (after the reset) leaves EVENT_IDX out.
    second = [l for l in lines if l.startswith("features ")][1]
    assert second.endswith(f"accepted=0x{want & ~F_EVENT_IDX:x}"), second
    assert f"config mac={GUEST_MAC} status=1 mtu={NET_MTU}" in lines, lines
    assert "tx KTG-TX 3/3" in lines and "tx KTG-TX2 1/1" in lines, lines
    assert [l for l in lines if l.startswith("rx ")] == \
        ["rx KTG-RX 0 len=60", "rx KTG-RX 1 len=60", "rx KTG-RX 2 len=60", "rx KTG-RX2 0 len=60"], lines
    assert f"burst rx={NET_BURST}/{NET_BURST} in-order=1 tx={NET_BURST}/{NET_BURST}" in lines, lines
    m = next(re.match(r"avail-event=(\d+) avail-idx=(\d+)$", l) for l in lines if l.startswith("avail-event"))
    assert m.group(1) == m.group(2), f"device's avail_event {m.group(1)} != avail idx {m.group(2)}"
    assert any(re.match(r"event-idx isr=0,0,1 ", l) for l in lines), lines
    assert "reinit ok" in lines and lines[-1] == "ok", lines
    # What the TAP saw: every guest frame, from the guest's MAC, in order.
    mac = bytes.fromhex(GUEST_MAC.replace(":", ""))
    seen = tap.tags()
    assert all(src == mac for _, src, _ in seen), seen
    bcast = b"\xff" * 6
    want_frames = [(bcast, f"KTG-TX {i}") for i in range(3)] + \
                  [(HOST_MAC, f"KTG-ECHO {i}") for i in range(3)] + \
                  [(bcast, f"KTG-GB {i:02d}") for i in range(NET_BURST)] + \
                  [(bcast, f"KTG-EVT {i}") for i in range(3)] + \
                  [(bcast, "KTG-TX2 0"), (HOST_MAC, "KTG-ECHO2 0")]
    assert [(d, t) for d, _, t in seen] == want_frames, seen


def test_net_both_directions_event_idx_and_reset(kiln, workdir, need_kvm, tap):
    r = boot(kiln, workdir, "net=1 exit=reset", net_cfg(tap), netns=tap.ns)
    net_host(r, tap)
    out = finish(r)
    time.sleep(0.2)  # the reader thread takes the last frames off the socket
    check_net(out, tap)


NET_BENCH_FRAMES = 20000


def test_net_tx_frames_from_the_guest_all_arrive(kiln, workdir, need_kvm, tap):
    """netbench=: the guest sends full-size frames, 8 per notification, as
    fast as the device takes them; every one reaches the TAP.  Prints the rate."""
    r = boot(kiln, workdir, f"net=1 netbench={NET_BENCH_FRAMES} exit=reset", net_cfg(tap), netns=tap.ns)
    net_host(r, tap, wait_end=False)
    start, done = line_times(r, [r"^KTG: net bench start ", r"^KTG: net bench done "], BOOT_TIMEOUT)
    out = finish(r)
    check_net(out, tap)
    m = re.search(rf"^KTG: net bench done frames={NET_BENCH_FRAMES} tsc=(\d+)$", out, re.M)
    assert m, out
    deadline = time.monotonic() + 5
    while tap.bench_frames < NET_BENCH_FRAMES and time.monotonic() < deadline:
        time.sleep(0.05)
    secs = done - start
    print(f"net: {NET_BENCH_FRAMES} frames of 1514 bytes from the test guest in {secs:.3f} s wall "
          f"({m.group(1)} TSC ticks): {NET_BENCH_FRAMES / secs:.0f} frames/s, "
          f"{NET_BENCH_FRAMES * 1514 * 8 / secs / 1e6:.0f} Mbit/s; {tap.bench_frames} seen on the TAP")
    assert tap.bench_frames == NET_BENCH_FRAMES


# ---------------------------------------------------------------- vsock

class VsockHost:
    """Both host ends: a listener on <uds>_5000 that echoes what the guest
    sends ("echo:" + data) and then expects EOF, and the CONNECT side."""

    def __init__(self, uds: Path, bench: bool = False):
        self.uds = uds
        self.bench_bytes, self.bench_ok, self.bench_thread = 0, True, None
        if bench:
            self.bench_listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.bench_listener.bind(f"{uds}_{VSOCK_BENCH_PORT}")
            self.bench_listener.listen(1)
            self.bench_listener.settimeout(BOOT_TIMEOUT)
            self.bench_thread = threading.Thread(target=self._bench, daemon=True)
            self.bench_thread.start()
        self.g2h_path = Path(f"{uds}_{G2H_PORT}")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(self.g2h_path))
        self.listener.listen(4)
        self.listener.settimeout(STEP_TIMEOUT)
        self.g2h = []             # per accepted connection: [bytes read, EOF seen, error]
        self.lock = threading.Lock()
        self.handlers = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        """Accepts every connection to <uds>_5000 (the first, then the multi
        round's four at once), each echoed by its own thread."""
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return  # closed, or no more connections within the timeout
            rec = [b"", False, None]
            with self.lock:
                self.g2h.append(rec)
            t = threading.Thread(target=self._echo, args=(conn, rec), daemon=True)
            t.start()
            self.handlers.append(t)

    @staticmethod
    def _echo(conn, rec):
        """Reads the guest's 16-byte hello, answers "echo:" + it, waits for EOF."""
        try:
            with conn:
                conn.settimeout(STEP_TIMEOUT)
                while len(rec[0]) < 16:
                    chunk = conn.recv(64)
                    if not chunk:
                        break
                    rec[0] += chunk
                conn.sendall(b"echo:" + rec[0])
                rec[1] = conn.recv(64) == b""
        except OSError as e:
            rec[2] = repr(e)

    def _bench(self):
        """Counts what the guest's vsockbench= connection carries, checking the pattern."""
        block = bytes(ord("a") + i % 26 for i in range(4096))
        try:
            conn, _ = self.bench_listener.accept()
            with conn:
                conn.settimeout(STEP_TIMEOUT)
                while True:
                    chunk = conn.recv(1 << 16)
                    if not chunk:
                        break
                    off = self.bench_bytes % 4096
                    want = (block[off:] + block * (len(chunk) // 4096 + 2))[:len(chunk)]
                    self.bench_ok &= chunk == want
                    self.bench_bytes += len(chunk)
        except OSError:
            self.bench_ok = False

    def h2g(self, r) -> dict:
        """After the guest's listen line: CONNECT, push H2G_DATA, read its reply and EOF."""
        r.wait_for(rf"^KTG: vsock listen port={H2G_PORT}$", STEP_TIMEOUT)
        res = {}
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(STEP_TIMEOUT)
            s.connect(str(self.uds))
            s.sendall(f"CONNECT {H2G_PORT}\n".encode())
            line = b""
            while not line.endswith(b"\n"):
                c = s.recv(1)
                assert c, f"EOF before OK line, got {line!r}"
                line += c
            res["ok"] = line.decode()
            s.sendall(H2G_DATA)
            reply = b""
            while len(reply) < 7:
                c = s.recv(64)
                if not c:
                    break
                reply += c
            res["reply"] = reply
            res["eof"] = s.recv(64) == b""
        return res

    def close(self):
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() that waits for more
        except OSError:
            pass
        self.listener.close()
        self.thread.join(timeout=STEP_TIMEOUT)
        for t in self.handlers:
            t.join(timeout=STEP_TIMEOUT)
        if self.bench_thread:
            self.bench_listener.close()
            self.bench_thread.join(timeout=STEP_TIMEOUT)


def vsock_cfg(uds: Path):
    return {"vsock": {"guest_cid": VSOCK_CID, "uds_path": str(uds)}}


def check_vsock(out: str, host: VsockHost, res: dict) -> None:
    lines = ktg_lines(out, "vsock")
    features(lines)
    assert f"cid={VSOCK_CID}" in lines, lines
    assert any(l.startswith(f"g2h connected port={G2H_PORT} ") for l in lines), lines
    assert "g2h echo echo:hello from guest" in lines, lines
    m = next(re.match(r"g2h credit buf=(\d+) fwd=(\d+)$", l) for l in lines if l.startswith("g2h credit"))
    assert int(m.group(1)) > 0 and int(m.group(2)) == 16, m.group(0)
    assert "g2h shutdown rst=1" in lines and "h2g shutdown rst=1" in lines, lines
    m = next(re.match(rf"h2g accepted port={H2G_PORT} from=(\d+)$", l) for l in lines if l.startswith("h2g accepted"))
    assert res["ok"] == f"OK {m.group(1)}\n", (res, m.group(0))
    m = next(re.match(r"h2g received=(\d+) data-ok=(\d) max-pkt=(\d+) max-outstanding=(\d+) credit-ok=(\d)",
                      l) for l in lines if l.startswith("h2g received"))
    assert m.group(1) == str(len(H2G_DATA)) and m.group(2) == "1", m.group(0)
    assert int(m.group(4)) <= H2G_CREDIT and m.group(5) == "1", f"device sent past the guest's credit: {m.group(0)}"
    assert lines[-1] == "ok", lines
    assert f"multi conns={MULTI_CONNS} connected={MULTI_CONNS} echoed={MULTI_CONNS} closed={MULTI_CONNS}" \
        in lines, lines
    # Host side: the guest's bytes on each connection, every one closed; the reply on ours.
    with host.lock:
        g2h = [tuple(rec) for rec in host.g2h]
    assert g2h[0] == (b"hello from guest", True, None), g2h
    assert sorted(g2h[1:]) == [(f"hello from conn{i}".encode(), True, None) for i in range(MULTI_CONNS)], g2h
    assert res["reply"] == b"got 200" and res["eof"], res


def test_vsock_both_directions_with_credit(kiln, workdir, need_kvm, short_dir):
    uds = short_dir / "v.sock"
    host = VsockHost(uds)
    try:
        r = boot(kiln, workdir, "vsock=1 exit=reset", vsock_cfg(uds))
        res = host.h2g(r)
        out = finish(r)
    finally:
        host.close()
    check_vsock(out, host, res)


def test_vsock_guest_to_host_stream_all_arrives(kiln, workdir, need_kvm, short_dir):
    """vsockbench=: after the protocol sequence the guest streams 16 MiB to
    <uds_path>_5001 within the device's credit; every byte arrives, in
    order.  Prints the rate."""
    uds = short_dir / "v.sock"
    host = VsockHost(uds, bench=True)
    try:
        r = boot(kiln, workdir, f"vsock=1 vsockbench={VSOCK_BENCH_KIB} exit=reset", vsock_cfg(uds))
        res = host.h2g(r)
        start, done = line_times(r, [r"^KTG: vsock bench start ", r"^KTG: vsock bench done "], BOOT_TIMEOUT)
        out = finish(r)
    finally:
        host.close()
    check_vsock(out, host, res)
    total = VSOCK_BENCH_KIB * 1024
    m = re.search(rf"^KTG: vsock bench done bytes={total} tsc=(\d+)$", out, re.M)
    assert m and "KTG: vsock bench shutdown rst=1" in out, out
    secs = done - start
    print(f"vsock: {VSOCK_BENCH_KIB} KiB guest->host from the test guest in {secs:.3f} s wall "
          f"({m.group(1)} TSC ticks): {total / secs / (1 << 20):.1f} MiB/s; host got {host.bench_bytes}")
    assert host.bench_bytes == total and host.bench_ok, (host.bench_bytes, host.bench_ok)


# ---------------------------------------------------------------- balloon

def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def balloon_cfg():
    return {"balloon": {"amount_mib": BALLOON_BOOT_MIB, "deflate_on_oom": False, "stats_polling_interval_s": 1}}


def balloon_host(r, sock) -> dict:
    """Measures RSS around the inflation, checks the statistics, moves the target twice."""
    res = {}
    boot_pages, up_pages = BALLOON_BOOT_MIB * 256, BALLOON_UP_MIB * 256
    r.wait_for(rf"^KTG: balloon wait-target num-pages={boot_pages}$", STEP_TIMEOUT)
    res["rss_before"] = rss_kib(r.pid)
    res["stats_before"] = ok(sock, "GET", "/balloon/statistics", want=200)
    ok(sock, "PATCH", "/balloon", f'{{"amount_mib": {BALLOON_UP_MIB}}}')
    r.wait_for(rf"^KTG: balloon wait-target num-pages={up_pages}$", STEP_TIMEOUT)
    res["rss_after"] = rss_kib(r.pid)
    res["stats_after"] = ok(sock, "GET", "/balloon/statistics", want=200)
    res["balloon"] = ok(sock, "GET", "/balloon", want=200)
    ok(sock, "PATCH", "/balloon", f'{{"amount_mib": {BALLOON_DOWN_MIB}}}')
    r.wait_for(r"^KTG: balloon (ok|FAIL.*)$", STEP_TIMEOUT)
    return res


def check_balloon(out: str, res: dict) -> None:
    lines = ktg_lines(out, "balloon")
    offered, accepted = features(lines)
    assert accepted & BALLOON_F_STATS_VQ, lines
    boot_pages, up_pages, down_pages = BALLOON_BOOT_MIB * 256, BALLOON_UP_MIB * 256, BALLOON_DOWN_MIB * 256
    assert f"config num-pages={boot_pages} actual=0" in lines, lines
    # The device gave the statistics buffer back at two polling ticks.
    assert any(l.startswith("stats returned round=1 ") for l in lines), lines
    assert any(l.startswith("stats returned round=2 ") for l in lines), lines
    assert f"inflated pages={boot_pages} target={boot_pages}" in lines, lines
    assert f"inflated pages={up_pages - boot_pages} target={up_pages}" in lines, lines
    # Each new target came with a configuration-change notice.
    assert [l for l in lines if l.startswith("target ")] == \
        [f"target num-pages={t} generation-changed=1 config-irq=1" for t in (up_pages, down_pages)], lines
    assert f"deflated pages={up_pages - down_pages} target={down_pages} zeroed={up_pages - down_pages}" in lines, lines
    assert [l for l in lines if l.startswith("actual=")] == \
        [f"actual={boot_pages}", f"actual={up_pages}", f"actual={down_pages}"], lines
    assert lines[-1] == "ok", lines
    # Host side: what the guest reported (round 3's buffer, virtio_balloon.c), and the pages it gave back.
    st = res["stats_after"]
    assert st["major_faults"] == 3 and st["free_memory"] == 0x4000000 + 3 * 4096, st
    assert st["total_memory"] == 0x8000000 and st["available_memory"] == 0x5000000, st
    assert st["target_mib"] == BALLOON_UP_MIB and st["actual_mib"] == BALLOON_UP_MIB, st
    assert res["stats_before"]["actual_mib"] == BALLOON_BOOT_MIB, res["stats_before"]
    assert res["balloon"]["amount_mib"] == BALLOON_UP_MIB, res["balloon"]
    drop = res["rss_before"] - res["rss_after"]
    print(f"balloon: kiln RSS {res['rss_before']} -> {res['rss_after']} KiB after inflating "
          f"{BALLOON_UP_MIB - BALLOON_BOOT_MIB} MiB of touched pages")
    assert drop >= RSS_DROP_MIN_KIB, f"RSS {res['rss_before']} -> {res['rss_after']} KiB: dropped {drop} KiB"


def test_balloon_stats_target_and_rss(kiln, workdir, need_kvm, short_dir):
    sock = str(short_dir / "api.sock")
    r = boot(kiln, workdir, "balloon=1 exit=reset", balloon_cfg(), api_sock=sock)
    res = balloon_host(r, sock)
    out = finish(r)
    check_balloon(out, res)


# ---------------------------------------------------------------- together

def test_all_devices_in_one_boot(kiln, workdir, need_kvm, tap, short_dir):
    """Block, rng, net, vsock and balloon side by side in one VM (the guest
    runs them in that order), each checked as in its own test."""
    run_all_devices(kiln, workdir, tap, short_dir)


def test_all_devices_under_asan(kiln, workdir, need_kvm, tap, short_dir, monkeypatch):
    """The same boot with kiln built with ASan+UBSan (build-asan/, made by
    ci/fuzz-smoke.sh, or $KILN_ASAN_BUILD): no sanitizer report, same results."""
    asan_build = Path(os.environ.get("KILN_ASAN_BUILD", ROOT / "build-asan"))
    if not (asan_build / "vmm" / "core" / "kiln").exists():
        loud("SKIPPED: build-asan/vmm/core/kiln missing (ci/fuzz-smoke.sh makes it); the device "
             "protocol tests did NOT run under ASan")
        pytest.skip("SKIPPED LOUDLY: no build-asan")
    monkeypatch.setattr(kiln_harness, "BUILD", asan_build)
    monkeypatch.setenv("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:halt_on_error=1")
    monkeypatch.setenv("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    run_all_devices(kiln, workdir, tap, short_dir)


def run_all_devices(kiln, workdir, tap, short_dir):
    img = workdir / "root.img"
    disk = make_disk(img, 32)
    uds = short_dir / "v.sock"
    sock = str(short_dir / "api.sock")
    extra = {"drives": [drive("rootfs", img, root=True)]}
    for part in (entropy_cfg(), net_cfg(tap), vsock_cfg(uds), balloon_cfg()):
        extra.update(part)
    host = VsockHost(uds)
    try:
        r = boot(kiln, workdir, "virtio=1 rng=1 net=1 vsock=1 balloon=1 exit=reset", extra, api_sock=sock,
                 netns=tap.ns)
        net_host(r, tap)
        vres = host.h2g(r)
        bres = balloon_host(r, sock)
        out = finish(r)
    finally:
        host.close()
    time.sleep(0.2)
    blk = [d for d in devices(out) if d["id"] == 2]
    assert len(blk) == 1, out
    blk[0]["drive_id"] = "rootfs"
    assert blk[0]["blk"] == blk_lines(blk[0], disk, ro=False, wrote=False), out
    # Five virtio-mmio devices, all found by the probe.
    assert sorted(d["id"] for d in devices(out)) == [1, 2, 4, 5, 19], out
    check_rng(out)
    check_net(out, tap)
    check_vsock(out, host, vres)
    check_balloon(out, bres)


# ---------------------------------------------------------------- after a hostile guest

HOSTILE_ITERATIONS = 2000  # about 5 s here
HOSTILE_SEED = 7


@pytest.mark.parametrize("dev", ["rng", "net", "vsock"])
def test_protocol_after_hostile_guest(kiln, workdir, need_kvm, request, short_dir, dev):
    """hostile=<n> (hostile.c) attacks the device first: malformed registers,
    queues and chains, then resets it; the whole protocol sequence must then
    pass as on a fresh device.  Not the balloon: there a hostile guest's
    random PFNs give its own pages away, which hurts only the guest itself."""
    args = f"hostile={HOSTILE_ITERATIONS} seed={HOSTILE_SEED} hostile_dev=0 {dev}=1 exit=reset"
    if dev == "rng":
        r = boot(kiln, workdir, args, entropy_cfg())
        out = finish(r)
        check_rng(out)
    elif dev == "net":
        tap = request.getfixturevalue("tap")
        r = boot(kiln, workdir, args, net_cfg(tap), netns=tap.ns)
        net_host(r, tap)
        out = finish(r)
        time.sleep(0.2)
        check_net(out, tap)
    else:
        uds = short_dir / "v.sock"
        host = VsockHost(uds)
        try:
            r = boot(kiln, workdir, args, vsock_cfg(uds))
            res = host.h2g(r)
            out = finish(r)
        finally:
            host.close()
        check_vsock(out, host, res)
    assert f"KTG: hostile done iterations={HOSTILE_ITERATIONS}" in out, out[-3000:]
