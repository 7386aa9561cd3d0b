"""Every virtio device under a real Linux guest: our microVM kernel with a
drive, a NIC (the TAP "ktap0" in the test's own network namespace), vsock,
a balloon with statistics and an entropy device, all in one VM.

- Linux kernel tier (any KVM, also where user space cannot run): one boot
  with the initramfs; the guest console shows each virtio-mmio device
  registered, the disk's size and no virtio errors, and kiln's metrics show
  the guest drivers at work (block reads, balloon statistics and inflation,
  entropy requests) and no device or transport errors.
- User-space tier (hardware KVM, or PVM with our kernel's patches; NOT
  RUNNABLE, loudly, elsewhere): the session's snapshot of the rootfs agent
  (guest-images/rootfs, kiln.agent=serve; linux_snapshot.py) restored into a
  kiln of this test's, with the NIC moved to this test's TAP, while this
  test feeds the agent its checks and plays the host:
  static IPv4 on eth0, ping both ways, TCP streams both ways with the pattern
  checked at each end, vsock echo both ways, 4 KiB from /dev/hwrng, a
  balloon target that shrinks the guest's MemTotal and kiln's RSS, and a
  rate-limited drive and NIC measured within 20% of their rates.  (Data
  drive persistence across a reboot and the read-only drive are in
  test_linux_userspace.py.)

Timeouts: every wait has one; the namespace, sockets and helper processes
are removed at teardown."""
import json
import re
import socket
import threading
import time
from pathlib import Path

import pytest

from kiln_harness import is_pvm_host, peer_result, write_config
from linux_images import INITRAMFS, KERNEL_DIR, LINUX_ARGS, LINUX_TIMEOUT, need
from linux_snapshot import BLK_BUCKET, DATA_DISK_MIB, GUEST_MAC, NET_BUCKET, STEP_TIMEOUT, VSOCK_CID
from test_api import ok

pytestmark = pytest.mark.linux

MEM_MIB = 256             # the kernel tier's VM
HOST_IP, GUEST_IP, PREFIX = "10.201.0.1", "10.201.0.2", 24
H2G_VSOCK_PORT, G2H_VSOCK_PORT = 5000, 5001
H2G_TCP_PORT, G2H_TCP_PORT = 7000, 7001
SECTOR = 512

# Rate limiters (BLK_BUCKET 1 MiB/s, NET_BUCKET 64 KiB/s, set in the
# snapshotted VM): the bucket starts full, so the first `size` bytes pass at
# once; the expected time for N bytes is (N - size) / rate.
BLK_READ_MIB = 3
# Well below what the guest's TCP reaches unthrottled under PVM (~330 KiB/s).
# Timed on the host from the first to the last byte: the guest's first
# outgoing connect() of a boot costs 2.5-5 s of emulated kernel set-up under
# PVM (a second one takes ~20 ms), which the agent's own ms= includes.
NET_SEND_KIB = 256
NET_RECV_KIB = 512        # host -> guest: not limited
RATE_TOLERANCE = 0.20

# Under PVM the guest backs ~1 MiB of fresh memory per second, so it touches
# little; Linux picks the pages it balloons, often never-touched ones, so the
# target takes most of the guest's free memory, touched pages included.
BALLOON_TOUCH_MIB = 16    # the agent backs this much guest memory first
BALLOON_MIB = 96          # then the host sets this target
RSS_DROP_MIN_KIB = BALLOON_TOUCH_MIB * 1024 // 2

HWRNG_BYTES = 4096


# ---------------------------------------------------------------- helpers

def sparse_disk(path: Path, mib: int) -> Path:
    with open(path, "wb") as f:
        f.truncate(mib << 20)
    return path


def device_config(disk: Path, uds: Path, ns, drive_limit=None, tx_limit=None, balloon_mib=0) -> dict:
    data = {"drive_id": "data", "path_on_host": str(disk), "is_root_device": False, "is_read_only": False}
    if drive_limit:
        data["rate_limiter"] = {"bandwidth": drive_limit}
    nic = {"iface_id": "eth0", "host_dev_name": ns.tap, "guest_mac": GUEST_MAC}
    if tx_limit:
        nic["tx_rate_limiter"] = {"bandwidth": tx_limit}
    return {
        "drives": [data],
        "network-interfaces": [nic],
        "vsock": {"guest_cid": VSOCK_CID, "uds_path": str(uds)},
        "balloon": {"amount_mib": balloon_mib, "deflate_on_oom": False, "stats_polling_interval_s": 1},
        "entropy": {},
    }


def metrics_sum(path: Path) -> dict:
    """The metrics lines are deltas: add them up per group and field."""
    total: dict = {}
    for line in path.read_text().splitlines():
        for group, fields in json.loads(line).items():
            if isinstance(fields, dict):
                dst = total.setdefault(group, {})
                for k, v in fields.items():
                    if isinstance(v, (int, float)):
                        dst[k] = dst.get(k, 0) + v
    return total


def kiln_virtio_warnings(log: str) -> list:
    """kiln's complaints about a driver (vmmio_note's lines), not its "driver ready" notes."""
    return [l for l in log.splitlines()
            if ("virtio-mmio (device" in l and "driver ready" not in l) or "NEEDS_RESET" in l.upper()]


# ---------------------------------------------------------------- Linux kernel tier

VIRTIO_ERROR = re.compile(r"virtio.*\b(error|fail(s|ed|ure)?|fault|bad|invalid|broken)\b|"
                          r"\b(error|fail(s|ed|ure)?)\b.*virtio|WARNING:|BUG:|Call Trace", re.I)


def test_kernel_probes_every_device(kiln, workdir, need_kvm, netns, short_dir):
    """One boot, five virtio-mmio devices: what the guest kernel printed
    about each, and kiln's metrics of the guest drivers' first requests."""
    disk = sparse_disk(workdir / "data.img", DATA_DISK_MIB)
    metrics = workdir / "metrics.json"
    extra = device_config(disk, short_dir / "v.sock", netns, balloon_mib=4)
    cfg = write_config(workdir, need(KERNEL_DIR / "vmlinux"), boot_args=f"{LINUX_ARGS} kiln.test=devices",
                       initrd=need(INITRAMFS), vcpus=1, mem_mib=MEM_MIB, extra=extra)
    r = kiln("--config-file", str(cfg), "--no-api", "--metrics-path", str(metrics), netns=netns.name)
    r.wait_for(r"Run /init as init process", LINUX_TIMEOUT)
    code = r.wait_exit(180)
    out, log = r.console(), r.log()
    assert code == 0, f"kiln exited {code}\n{log[-3000:]}"

    # Guest side: the five devices kiln announced, at their slots and IRQs
    # in config order (drive, NIC, vsock, balloon, rng).
    regs = re.findall(r"virtio-mmio: Registering device virtio-mmio\.(\d+) at 0x([0-9a-f]+)-0x[0-9a-f]+, IRQ (\d+)\.",
                      out)
    assert [(int(n), int(a, 16), int(i)) for n, a, i in regs] == \
        [(n, 0xc0001000 + n * 0x1000, 5 + n) for n in range(5)], regs
    m = re.search(r"virtio_blk virtio(\d+): \[vda\] (\d+) 512-byte logical blocks", out)
    assert m and int(m.group(2)) == DATA_DISK_MIB * 2048, "virtio_blk size line"
    assert "NET: Registered PF_VSOCK protocol family" in out
    bad = [l for l in out.splitlines() if VIRTIO_ERROR.search(l)]
    assert not bad, bad
    assert not kiln_virtio_warnings(log), kiln_virtio_warnings(log)
    # Each device's Linux driver reached DRIVER_OK with VERSION_1 accepted:
    # block 2, net 1, vsock 19, balloon 5, rng 4.
    ready = {int(d): int(f, 16) for d, f in
             re.findall(r"virtio-mmio \(device (\d+)\): driver ready, features 0x([0-9a-f]+)", log)}
    assert sorted(ready) == [1, 2, 4, 5, 19], ready
    assert all(f & (1 << 32) for f in ready.values()), {d: hex(f) for d, f in ready.items()}
    for needle in ("virtio-net eth0: virtio-mmio at 0xc0002000", "virtio-vsock: virtio-mmio at 0xc0003000",
                   "virtio-balloon: virtio-mmio at 0xc0004000", "virtio-rng: virtio-mmio at 0xc0005000"):
        assert needle in log, needle

    # kiln side: each driver reached DRIVER_OK and used its queues.
    mt = metrics_sum(metrics)
    blk, bal, rng, net, vs = mt["block"], mt["balloon"], mt["entropy"], mt["net"], mt["vsock"]
    print(f"kernel tier metrics: block={blk} balloon={bal} entropy={rng} net={net} vsock={vs}")
    assert blk["read_count"] >= 1 and blk["read_bytes"] >= SECTOR, blk       # the partition scan
    assert blk["activate_fails"] == 0 and blk["invalid_reqs_count"] == 0 and blk["execute_fails"] == 0, blk
    # virtio_balloon queues its first statistics buffer at probe; the device parses it at DRIVER_OK.
    assert bal["stats_updates_count"] >= 1 and bal["stats_update_fails"] == 0, bal
    assert bal["bad_pfns"] == 0 and bal["event_fails"] == 0 and bal["discard_fails"] == 0, bal
    # The hwrng core reads early randomness when virtio-rng registers.
    assert rng["entropy_event_count"] >= 1 and rng["entropy_bytes"] > 0 and rng["event_fails"] == 0, rng
    assert net["event_fails"] == 0 and net["tx_malformed_frames"] == 0, net
    assert vs["queue_errors"] == 0 and vs["tx_invalid"] == 0, vs
    if is_pvm_host():
        # Booting takes tens of seconds here: the 4 MiB target is inflated long before init.
        assert bal["inflated_pages"] == 4 * 256, bal


# ---------------------------------------------------------------- user-space tier

class VsockEcho:
    """Listens on <uds>_<port> for the guest's connection and echoes one line."""

    def __init__(self, uds: Path, port: int):
        self.path = Path(f"{uds}_{port}")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(self.path))
        self.listener.listen(1)
        self.listener.settimeout(LINUX_TIMEOUT)
        self.got = b""
        self.error = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            conn, _ = self.listener.accept()
            with conn:
                conn.settimeout(STEP_TIMEOUT)
                while not self.got.endswith(b"\n"):
                    b = conn.recv(256)
                    if not b:
                        break
                    self.got += b
                conn.sendall(self.got)
        except OSError as e:
            self.error = repr(e)

    def close(self):
        self.listener.close()
        self.thread.join(timeout=10)


def vsock_h2g(uds: Path, port: int, payload: bytes) -> dict:
    """CONNECT to the guest's listener through kiln, send payload, read the echo."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(STEP_TIMEOUT)
        s.connect(str(uds))
        s.sendall(f"CONNECT {port}\n".encode())
        line = b""
        while not line.endswith(b"\n"):
            c = s.recv(1)
            assert c, f"EOF before the OK line, got {line!r}"
            line += c
        s.sendall(payload)
        echo = b""
        while len(echo) < len(payload):
            c = s.recv(65536)
            if not c:
                break
            echo += c
    return {"ok": line.decode(), "echo": echo}


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def check_line(r, name: str) -> dict:
    """Waits for the agent's line for check `name`; its key=value words as a dict."""
    m = r.wait_for(rf"^KILN-CHECK {name} (PASS|FAIL) (.*?)\r?$", STEP_TIMEOUT)
    words = dict(w.split("=", 1) for w in m.group(2).split() if "=" in w)
    words["_pass"], words["_line"] = m.group(1) == "PASS", m.group(0)
    return words


def expected_seconds(nbytes: int, bucket: dict) -> float:
    rate = bucket["size"] * 1000 / bucket["refill_time"]  # bytes per second
    return max(nbytes - bucket["size"], 0) / rate


def test_userspace_every_device(kiln, workdir, userspace_snapshot, netns, short_dir):
    """The whole device set from Linux user space in one restored VM (see
    the module docstring); the checks run in the order listed below."""
    netns.run("ip", "addr", "add", f"{HOST_IP}/{PREFIX}", "dev", netns.tap)
    metrics = workdir / "metrics.json"
    checks = [
        f"ifup:{GUEST_IP}/{PREFIX}", f"ping:{HOST_IP}:3", f"hwrng:{HWRNG_BYTES}",
        f"vsockecho:{H2G_VSOCK_PORT}", f"vsockconnect:{G2H_VSOCK_PORT}",
        f"tcprecv:{H2G_TCP_PORT}:{NET_RECV_KIB}", f"tcpsend:{HOST_IP}:{G2H_TCP_PORT}:{NET_SEND_KIB}",
        f"blkrate:vda:{BLK_READ_MIB}", f"touchmem:{BALLOON_TOUCH_MIB}", f"balloon:{BALLOON_MIB}",
        f"vsockecho:{H2G_VSOCK_PORT + 2}",  # holds the guest until the host has measured the balloon
    ]
    uds = short_dir / "v.sock"
    g2h_vsock = VsockEcho(uds, G2H_VSOCK_PORT)
    g2h_tcp = netns.peer("serve", G2H_TCP_PORT, LINUX_TIMEOUT)
    helpers = [g2h_tcp]
    res: dict = {}
    try:
        g = userspace_snapshot.restore(kiln, netns, short_dir, metrics=metrics)
        r, api = g.run, g.api
        res["restore_ms"] = g.restore_ms
        res["rss_ready"] = rss_kib(r.pid)
        g.send(checks)

        # vsock, host -> guest: CONNECT through kiln to the agent's listener.
        r.wait_for(rf"^kiln-init: listening vsock {H2G_VSOCK_PORT}\r?$", STEP_TIMEOUT)
        payload = b"kiln host to guest " * 100
        res["vsock_h2g"] = vsock_h2g(uds, H2G_VSOCK_PORT, payload)
        assert res["vsock_h2g"]["echo"] == payload, res["vsock_h2g"]
        assert re.fullmatch(r"OK \d+\n", res["vsock_h2g"]["ok"]), res["vsock_h2g"]

        # TCP host -> guest, after pinging the guest from the namespace.
        r.wait_for(rf"^kiln-init: listening tcp {H2G_TCP_PORT}\r?$", STEP_TIMEOUT)
        res["ping_h2g"] = peer_result(netns.peer("ping", GUEST_IP, 3), 60)
        assert res["ping_h2g"]["received"] == 3, res["ping_h2g"]
        h2g = netns.peer("send", GUEST_IP, H2G_TCP_PORT, NET_RECV_KIB)
        helpers.append(h2g)
        res["tcp_h2g"] = peer_result(h2g, STEP_TIMEOUT)
        assert res["tcp_h2g"]["reply"] == f"got {NET_RECV_KIB * 1024}\n", res["tcp_h2g"]

        # TCP guest -> host through the NIC's tx rate limiter.
        res["tcp_g2h"] = peer_result(g2h_tcp, STEP_TIMEOUT)

        # Balloon: the agent has backed BALLOON_TOUCH_MIB and waits for a target.
        r.wait_for(r"^kiln-init: balloon waiting", STEP_TIMEOUT)
        time.sleep(1)
        res["rss_before"] = rss_kib(r.pid)
        ok(api, "PATCH", "/balloon", json.dumps({"amount_mib": BALLOON_MIB}))
        res["balloon_line"] = check_line(r, "balloon")
        res["rss_after"] = rss_kib(r.pid)
        res["stats"] = ok(api, "GET", "/balloon/statistics", want=200)
        r.wait_for(rf"^kiln-init: listening vsock {H2G_VSOCK_PORT + 2}\r?$", STEP_TIMEOUT)
        res["vsock_again"] = vsock_h2g(uds, H2G_VSOCK_PORT + 2, b"after the balloon\n")
        assert res["vsock_again"]["echo"] == b"after the balloon\n", res["vsock_again"]

        done = g.wait_done()
        code = g.reboot()
    finally:
        g2h_vsock.close()
        for p in helpers:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
    out = r.console()
    lines: dict = {}
    for line in done:  # by name; vsockecho's first line is the one checked below
        lines.setdefault(line["_name"], line)
    print("user-space tier:\n  " + "\n  ".join(l["_line"] for l in done))
    print(f"  restore {res['restore_ms']:.1f} ms (API call); host: ping h2g {res['ping_h2g']}, tcp g2h {res['tcp_g2h']}, "
          f"tcp h2g {res['tcp_h2g']}, RSS after restore {res['rss_ready']}, before {res['rss_before']} -> after "
          f"{res['rss_after']} KiB, stats {res['stats']}")
    failed = [l["_line"] for l in done if not l["_pass"]]
    assert [l["_name"] for l in done] == [c.split(":")[0] for c in checks], [l["_line"] for l in done]
    assert not failed, "\n".join(failed) or out[-3000:]
    assert "Linux version" not in out, "the restored guest booted again"
    assert code == 0, r.log()[-3000:]

    # NIC: the guest's static address and MAC; pings both ways.
    assert lines["ifup"]["mac"] == GUEST_MAC and lines["ifup"]["addr"] == f"{GUEST_IP}/{PREFIX}", lines["ifup"]
    assert lines["ping"]["received"] == "3", lines["ping"]
    # vsock guest -> host: the agent's line came back unchanged (checked there), and we saw it.
    assert g2h_vsock.error is None and g2h_vsock.got.startswith(b"kiln-agent vsock port"), \
        (g2h_vsock.error, g2h_vsock.got)
    assert lines["vsockecho"]["echoed"] == str(len(payload)), lines["vsockecho"]
    # TCP: the pattern arrived whole at both ends.
    assert lines["tcprecv"]["bytes"] == str(NET_RECV_KIB * 1024), lines["tcprecv"]
    g2h = res["tcp_g2h"]
    assert g2h["bytes"] == NET_SEND_KIB * 1024 and g2h["bad_at"] is None, g2h
    # rng: bytes from virtio-rng through the hwrng core.
    assert lines["hwrng"]["rng"].startswith("virtio_rng"), lines["hwrng"]

    # Rate limits: measured within 20% of the configured rates.
    want = expected_seconds(NET_SEND_KIB * 1024, NET_BUCKET)
    assert abs(g2h["seconds"] - want) <= RATE_TOLERANCE * want, \
        f"NIC tx limit: {NET_SEND_KIB} KiB took {g2h['seconds']:.2f} s, expected {want:.2f} s"
    blk_s = int(lines["blkrate"]["ms"]) / 1000
    want = expected_seconds(BLK_READ_MIB << 20, BLK_BUCKET)
    assert abs(blk_s - want) <= RATE_TOLERANCE * want, \
        f"drive limit: {BLK_READ_MIB} MiB took {blk_s:.2f} s, expected {want:.2f} s"

    # Balloon: the guest lost MemTotal, kiln gave the pages back to the host.
    bl = lines["balloon"]
    t0, t1 = map(int, bl["memtotal_kb"].split("->"))
    f0, f1 = map(int, bl["memfree_kb"].split("->"))
    assert t0 - t1 >= BALLOON_MIB * 1024 and f1 < f0, bl
    assert res["stats"]["actual_mib"] == BALLOON_MIB and res["stats"]["target_mib"] == BALLOON_MIB, res["stats"]
    assert res["stats"].get("total_memory", 0) > 0, res["stats"]
    drop = res["rss_before"] - res["rss_after"]
    assert drop >= RSS_DROP_MIN_KIB, f"kiln RSS {res['rss_before']} -> {res['rss_after']} KiB"

    # kiln's side: every device was used and none saw a malformed request.
    mt = metrics_sum(metrics)
    print(f"  metrics: {json.dumps({k: mt[k] for k in ('block', 'net', 'vsock', 'balloon', 'entropy')})}")
    assert mt["block"]["read_bytes"] >= BLK_READ_MIB << 20 and mt["block"]["rate_limiter_throttled_events"] > 0
    assert mt["net"]["tx_rate_limiter_throttled"] > 0 and mt["net"]["tx_malformed_frames"] == 0, mt["net"]
    assert mt["vsock"]["conns_added"] >= 2 and mt["vsock"]["tx_invalid"] == 0, mt["vsock"]
    assert mt["balloon"]["inflated_pages"] >= BALLOON_MIB * 256 and mt["balloon"]["bad_pfns"] == 0, mt["balloon"]
    assert mt["entropy"]["entropy_bytes"] >= HWRNG_BYTES, mt["entropy"]
    assert not kiln_virtio_warnings(r.log()), kiln_virtio_warnings(r.log())
