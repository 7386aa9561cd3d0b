"""Snapshot and restore (issue 7): PUT /snapshot/create on a paused VM, PUT
/snapshot/load into fresh kilns (File and Uffd memory backends), Diff
snapshots merged onto their base, refused corrupt files, --describe-snapshot,
and a Linux kernel snapshotted mid-boot that carries on to init after each
restore.

The test guest runs with tick=1 virtio=1: it prints "KTG: tick N ..." every
100 ms of TSC time and reads its disk every 5th tick ("KTG: tick N blk ok"),
so a restored VM shows that its counter goes on from where it stopped and its
virtio queue still works.  Every wait has a timeout.
"""
import http.client
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import time
from pathlib import Path

import pytest

from kiln_harness import BUILD, KilnRun, ktg_elf, write_config

TIMEOUT = 30
TICK = re.compile(r"^KTG: tick (\d+) tsc (\d+) ms (\d+)$", re.M)
BLK_OK = re.compile(r"^KTG: tick (\d+) blk ok$", re.M)
MERGE = BUILD / "vmm" / "snapshot" / "kiln-snapshot-merge"
UFFD_HANDLER = BUILD / "vmm" / "snapshot" / "kiln-uffd-handler"


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path, timeout=TIMEOUT):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def api(sock, method, path, body=None):
    """One request; returns (status, parsed JSON body or None)."""
    deadline = time.monotonic() + TIMEOUT
    while not os.path.exists(sock):
        assert time.monotonic() < deadline, f"API socket {sock} never appeared"
        time.sleep(0.02)
    while True:  # the socket file exists a moment before kiln listens on it
        c = UnixHTTP(sock)
        try:
            c.connect()
            break
        except ConnectionRefusedError:
            c.close()
            assert time.monotonic() < deadline, f"API socket {sock} refuses connections"
            time.sleep(0.02)
    c.request(method, path, body=json.dumps(body) if body is not None else None,
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    text = r.read().decode()
    c.close()
    return r.status, (json.loads(text) if text else None)


def ok(sock, method, path, body=None):
    status, doc = api(sock, method, path, body)
    assert status == 204, f"{method} {path}: {status} {doc}"


def fault(sock, method, path, body, want):
    status, doc = api(sock, method, path, body)
    assert status == 400, f"{method} {path}: expected 400, got {status} {doc}"
    assert want in doc["fault_message"], f"fault {doc['fault_message']!r} does not say {want!r}"
    return doc["fault_message"]


def ticks(text):
    return [int(m.group(1)) for m in TICK.finditer(text)]


def wait_tick(r, above, timeout=TIMEOUT):
    """Waits for a complete tick line numbered > above; returns its number."""
    deadline = time.monotonic() + timeout
    while True:
        t = [n for n in ticks(r.console()) if n > above]
        if t:
            return t[0]
        assert r.proc.poll() is None, f"kiln exited {r.proc.returncode}\n{r.log()[-3000:]}"
        assert time.monotonic() < deadline, (f"no tick above {above} in {timeout}s\n"
                                             f"{r.console()[-2000:]}\n{r.log()[-2000:]}")
        time.sleep(0.05)


def wait_blk_ok(r, above, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while not [n for n in (int(m.group(1)) for m in BLK_OK.finditer(r.console())) if n > above]:
        assert "blk fail" not in r.console(), r.console()[-2000:]
        assert r.proc.poll() is None, f"kiln exited {r.proc.returncode}\n{r.log()[-3000:]}"
        assert time.monotonic() < deadline, f"no blk ok after tick {above}\n{r.console()[-2000:]}"
        time.sleep(0.05)


def new_kiln(kiln, workdir, name, *args):
    sock = str(workdir / f"{name}.sock")
    sub = workdir / name
    sub.mkdir()
    r = KilnRun(["--api-sock", sock, "--level", "Debug"] + list(args), sub)
    kiln.runs.append(r)
    return r, sock


@pytest.fixture
def kiln(workdir):
    class Runs:
        runs = []
    yield Runs
    for r in Runs.runs:
        r.close()


@pytest.fixture
def tick_vm(kiln, workdir, need_kvm):
    """A running test guest with tick=1 virtio=1 and a 64 KiB disk, on the API."""
    disk = workdir / "disk.img"
    disk.write_bytes(os.urandom(64 * 1024))
    cfg = write_config(workdir, ktg_elf(), boot_args="virtio=1 tick=1 tick_ms=100 exit=halt",
                       extra={"drives": [{"drive_id": "d0", "path_on_host": str(disk),
                                          "is_root_device": False}]})
    doc = json.loads(cfg.read_text())
    doc["machine-config"]["track_dirty_pages"] = True
    cfg.write_text(json.dumps(doc))
    r, sock = new_kiln(kiln, workdir, "orig", "--config-file", str(cfg))
    wait_blk_ok(r, 0)
    return r, sock


def snapshot(sock, workdir, name, kind="Full"):
    ok(sock, "PATCH", "/vm", {"state": "Paused"})
    vmstate, mem = workdir / f"{name}.vmstate", workdir / f"{name}.mem"
    ok(sock, "PUT", "/snapshot/create", {"snapshot_type": kind, "snapshot_path": str(vmstate),
                                          "mem_file_path": str(mem)})
    return vmstate, mem


def load(kiln, workdir, name, vmstate, mem, backend="File", resume=True, track=False):
    r, sock = new_kiln(kiln, workdir, name)
    ok(sock, "PUT", "/snapshot/load", {"snapshot_path": str(vmstate),
                                        "mem_backend": {"backend_type": backend, "backend_path": str(mem)},
                                        "resume_vm": resume, "track_dirty_pages": track})
    return r, sock


def test_full_snapshot_restored_many_times(kiln, workdir, tick_vm):
    orig, sock = tick_vm
    vmstate, mem = snapshot(sock, workdir, "full")
    at_snapshot = max(ticks(orig.console()))
    status, info = api(sock, "GET", "/")
    assert info["state"] == "Paused"
    # The original carries on after the snapshot.
    ok(sock, "PATCH", "/vm", {"state": "Resumed"})
    wait_tick(orig, at_snapshot + 1)
    assert mem.stat().st_size == 128 << 20
    assert mem.stat().st_blocks * 512 < 16 << 20, "zero pages should stay holes"
    for i in range(3):
        r, rsock = load(kiln, workdir, f"restore{i}", vmstate, mem)
        first = wait_tick(r, 0)
        # It goes on from the snapshot: the first tick is the next one (or the
        # one the guest was printing when it was paused), never a new boot.
        assert at_snapshot <= first <= at_snapshot + 2, f"restored tick {first}, snapshot at {at_snapshot}"
        assert "KTG: hello" not in r.console(), "the restored guest booted again"
        wait_tick(r, first + 3)
        wait_blk_ok(r, first)
        status, info = api(rsock, "GET", "/")
        assert info["state"] == "Running"
        status, mc = api(rsock, "GET", "/machine-config")
        assert mc["vcpu_count"] == 1 and mc["mem_size_mib"] == 128
        r.close()


def test_restored_vm_snapshots_over_its_own_memory_file(kiln, workdir, tick_vm):
    """A restored VM maps its memory file; a new snapshot written to the same
    paths must not pull the pages from under it, and restores in turn."""
    orig, sock = tick_vm
    vmstate, mem = snapshot(sock, workdir, "chain")
    orig.close()
    r, rsock = load(kiln, workdir, "gen1", vmstate, mem)
    later = wait_tick(r, wait_tick(r, 0) + 8)
    ok(rsock, "PATCH", "/vm", {"state": "Paused"})
    ok(rsock, "PUT", "/snapshot/create", {"snapshot_path": str(vmstate), "mem_file_path": str(mem)})
    t_gen1 = max(ticks(r.console()))
    assert t_gen1 >= later
    ok(rsock, "PATCH", "/vm", {"state": "Resumed"})
    wait_tick(r, t_gen1 + 2)
    wait_blk_ok(r, t_gen1)
    r2, _ = load(kiln, workdir, "gen2", vmstate, mem)
    first = wait_tick(r2, 0)
    assert t_gen1 <= first <= t_gen1 + 2, f"gen2 starts at tick {first}, its snapshot was at {t_gen1}"
    wait_blk_ok(r2, first)


def test_load_paused_then_resume(kiln, workdir, tick_vm):
    orig, sock = tick_vm
    vmstate, mem = snapshot(sock, workdir, "p")
    orig.close()
    r, rsock = load(kiln, workdir, "paused", vmstate, mem, resume=False)
    status, info = api(rsock, "GET", "/")
    assert info["state"] == "Paused"
    time.sleep(0.5)
    assert not ticks(r.console()), "a paused restore ran the guest"
    ok(rsock, "PATCH", "/vm", {"state": "Resumed"})
    wait_tick(r, 0)


def test_diff_snapshot_merged_onto_base(kiln, workdir, tick_vm):
    orig, sock = tick_vm
    base_state, base_mem = snapshot(sock, workdir, "base")
    t1 = max(ticks(orig.console()))
    ok(sock, "PATCH", "/vm", {"state": "Resumed"})
    later = wait_tick(orig, t1 + 12)
    wait_blk_ok(orig, later)
    diff_state, diff_mem = snapshot(sock, workdir, "diff", "Diff")
    t2 = max(ticks(orig.console()))
    orig.close()
    assert t2 > t1 + 10
    # Sparse: only what changed since the Full snapshot.
    assert diff_mem.stat().st_blocks * 512 < base_mem.stat().st_blocks * 512
    merged = workdir / "merged.mem"
    shutil.copyfile(base_mem, merged)
    p = subprocess.run([str(MERGE), "--base-file", str(merged), "--diff-file", str(diff_mem)],
                       capture_output=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr.decode()
    r, _ = load(kiln, workdir, "merged", diff_state, merged)
    first = wait_tick(r, 0)
    assert t2 <= first <= t2 + 2, f"restored tick {first}: not the Diff's state (base {t1}, diff {t2})"
    wait_blk_ok(r, first)
    # The Diff file alone is not a memory image: without the merge the guest
    # would run on holes.  And merging files of different sizes is refused.
    p = subprocess.run([str(MERGE), "--base-file", str(merged), "--diff-file", str(diff_state)],
                       capture_output=True, timeout=TIMEOUT)
    assert p.returncode == 1 and b"not the same VM" in p.stderr


def test_diff_needs_dirty_tracking(kiln, workdir, tick_vm):
    orig, sock = tick_vm
    vmstate, mem = snapshot(sock, workdir, "f")
    orig.close()
    r, rsock = load(kiln, workdir, "untracked", vmstate, mem, track=False)
    ok(rsock, "PATCH", "/vm", {"state": "Paused"})
    fault(rsock, "PUT", "/snapshot/create", {"snapshot_type": "Diff", "snapshot_path": str(workdir / "d"),
                                             "mem_file_path": str(workdir / "dm")}, "track_dirty_pages")


def test_uffd_backend_with_example_handler(kiln, workdir, tick_vm):
    orig, sock = tick_vm
    vmstate, mem = snapshot(sock, workdir, "u")
    at_snapshot = max(ticks(orig.console()))
    orig.close()
    hsock = workdir / "pages.sock"
    handler = subprocess.Popen([str(UFFD_HANDLER), str(hsock), str(mem)], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + TIMEOUT
        while not hsock.exists():
            assert handler.poll() is None and time.monotonic() < deadline, "handler did not listen"
            time.sleep(0.02)
        r, rsock = load(kiln, workdir, "uffd", vmstate, hsock, backend="Uffd")
        first = wait_tick(r, 0)
        assert at_snapshot <= first <= at_snapshot + 2
        wait_blk_ok(r, first)
        # A Full snapshot of it must hold every page, also those the page
        # server has not been asked for yet.
        again_state, again_mem = snapshot(rsock, workdir, "again")
        t_again = max(ticks(r.console()))
        r.close()
        _, err = handler.communicate(timeout=TIMEOUT)
        assert handler.returncode == 0, err.decode()
        served = int(re.search(rb"served (\d+) page", err).group(1))
        assert served > 0
        r2, _ = load(kiln, workdir, "from-uffd", again_state, again_mem)
        first = wait_tick(r2, 0)
        assert t_again <= first <= t_again + 2
        wait_blk_ok(r2, first)
    finally:
        if handler.poll() is None:
            handler.kill()
            handler.wait(timeout=10)


def crc64(data):
    poly, crc = 0xC96C5795D7870F42, 0xFFFFFFFFFFFFFFFF
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFFFFFFFFFF


def with_queue_outside_memory(img):
    """The vmstate with the block device's descriptor table moved past guest
    RAM, and a correct CRC: only the queue re-validation can refuse it."""
    b = bytearray(img)
    off = 32
    while off < len(b):
        t, _, length = struct.unpack_from("<HHI", b, off)
        if t == 16:  # virtio-blk: slot, transport (6 x u32, u64, nr_queues), queues
            q = off + 8 + 4 + 24 + 8 + 4
            struct.pack_into("<Q", b, q + 9, 0x7_0000_0000)  # desc_gpa after size/ready/indices
            struct.pack_into("<Q", b, 24, crc64(bytes(b[32:])))
            return bytes(b)
        off += 8 + length
    raise AssertionError("no virtio-blk section")


def with_moved_memory(img):
    """The vmstate with guest RAM claimed at 1 MiB instead of 0 (consistent
    as a file, with a correct CRC), which is not kiln's layout."""
    b = bytearray(img)
    off = 32
    while off < len(b):
        t, _, length = struct.unpack_from("<HHI", b, off)
        if t == 2:  # memory: page_size, nr_regions, then gpa/size/offset per region
            struct.pack_into("<Q", b, off + 8 + 8, 0x100000)
            struct.pack_into("<Q", b, 24, crc64(bytes(b[32:])))
            return bytes(b)
        off += 8 + length
    raise AssertionError("no memory section")


def test_corrupt_snapshots_refused_and_kiln_stays_fresh(kiln, workdir, tick_vm):
    orig, sock = tick_vm
    vmstate, mem = snapshot(sock, workdir, "good")
    orig.close()
    img = vmstate.read_bytes()
    flipped = bytearray(img)
    flipped[len(img) // 2] ^= 0x40
    wrong_version = bytearray(img)
    wrong_version[8] = 9
    cases = {
        "flipped": (bytes(flipped), "CRC mismatch"),
        "truncated": (img[: len(img) - 100], "truncated"),
        "header-only": (img[:20], "truncated"),
        "version": (bytes(wrong_version), "format version 9"),
        "magic": (b"NOTASNAP" + img[8:], "bad magic"),
        "queue": (with_queue_outside_memory(img), "queue addresses must lie in guest memory"),
        "layout": (with_moved_memory(img), "not the layout of a 128 MiB kiln VM"),
    }
    r, rsock = new_kiln(kiln, workdir, "victim")
    for name, (data, want) in cases.items():
        bad = workdir / f"{name}.vmstate"
        bad.write_bytes(data)
        msg = fault(rsock, "PUT", "/snapshot/load",
                    {"snapshot_path": str(bad), "mem_backend": {"backend_type": "File", "backend_path": str(mem)}},
                    want)
        assert str(bad) in msg or name in ("queue", "layout"), msg
        status, info = api(rsock, "GET", "/")
        assert status == 200 and info["state"] == "Not started", f"{name}: {info}"
        p = subprocess.run([str(BUILD / "vmm" / "core" / "kiln"), "--describe-snapshot", str(bad)],
                           capture_output=True, timeout=TIMEOUT)
        if name in ("queue", "layout"):
            assert p.returncode == 0  # consistent as a file; only the VM built from it says no
        else:
            assert p.returncode == 2 and want.encode() in p.stderr, p.stderr
    short_mem = workdir / "short.mem"
    short_mem.write_bytes(b"\0" * 4096)
    fault(rsock, "PUT", "/snapshot/load",
          {"snapshot_path": str(vmstate), "mem_backend": {"backend_type": "File", "backend_path": str(short_mem)}},
          "the snapshot's memory needs")
    # After all that, the same kiln still loads a good snapshot.
    ok(rsock, "PUT", "/snapshot/load", {"snapshot_path": str(vmstate), "resume_vm": True,
                                         "mem_backend": {"backend_type": "File", "backend_path": str(mem)}})
    wait_tick(r, 0)


def test_state_rules_and_describe(kiln, workdir, tick_vm):
    orig, sock = tick_vm
    fault(sock, "PUT", "/snapshot/create", {"snapshot_path": str(workdir / "x"), "mem_file_path": str(workdir / "y")},
          "must be paused")
    fault(sock, "PUT", "/snapshot/load", {"snapshot_path": str(workdir / "x"), "mem_file_path": str(workdir / "y")},
          "not allowed after configuring boot-specific resources")
    vmstate, mem = snapshot(sock, workdir, "d")
    p = subprocess.run([str(BUILD / "vmm" / "core" / "kiln"), "--describe-snapshot", str(vmstate)],
                       capture_output=True, timeout=TIMEOUT, text=True)
    assert p.returncode == 0, p.stderr
    assert "format version 1" in p.stdout
    assert "1 vCPU(s), 128 MiB" in p.stdout and "track_dirty_pages on" in p.stdout
    assert re.search(r"device slot 0: virtio-blk, status 0xf, 1 queue\(s\), drive d0: ", p.stdout)
    p = subprocess.run([str(BUILD / "vmm" / "core" / "kiln"), "--describe-snapshot", str(workdir / "nope")],
                       capture_output=True, timeout=TIMEOUT, text=True)
    assert p.returncode == 2 and "cannot open" in p.stderr
    # A fresh kiln that got a boot source refuses a load, as Firecracker does.
    r, rsock = new_kiln(kiln, workdir, "configured")
    ok(rsock, "PUT", "/boot-source", {"kernel_image_path": str(ktg_elf())})
    fault(rsock, "PUT", "/snapshot/load", {"snapshot_path": str(vmstate), "mem_file_path": str(mem)},
          "not allowed after configuring boot-specific resources")
    # The drive's image is opened again at load: a missing one fails the load
    # by name and leaves the kiln fresh for another try.
    disk = workdir / "disk.img"
    disk.rename(workdir / "disk.moved")
    r3, rsock3 = new_kiln(kiln, workdir, "nodisk")
    fault(rsock3, "PUT", "/snapshot/load", {"snapshot_path": str(vmstate), "mem_file_path": str(mem)},
          "disk.img")
    (workdir / "disk.moved").rename(disk)
    ok(rsock3, "PUT", "/snapshot/load", {"snapshot_path": str(vmstate), "mem_file_path": str(mem)})
    status, info = api(rsock3, "GET", "/")
    assert info["state"] == "Paused"
    # The deprecated mem_file_path form loads too.
    r2, rsock2 = new_kiln(kiln, workdir, "deprecated")
    ok(rsock2, "PUT", "/snapshot/load", {"snapshot_path": str(vmstate), "mem_file_path": str(mem),
                                          "resume_vm": True})
    wait_tick(r2, 0)


# ---- Linux kernel tier ------------------------------------------------------------

@pytest.mark.linux
def test_linux_snapshot_mid_boot_restored_to_init(kiln, workdir, need_kvm):
    from linux_images import INITRAMFS, KERNEL_DIR, LINUX_ARGS, LINUX_TIMEOUT, need
    init_line = r"Run /init as init process"
    cfg = write_config(workdir, need(KERNEL_DIR / "vmlinux"), boot_args=LINUX_ARGS,
                       initrd=need(INITRAMFS), vcpus=1, mem_mib=128)
    r, sock = new_kiln(kiln, workdir, "linux", "--config-file", str(cfg))
    r.wait_for(r"smp: Brought up", LINUX_TIMEOUT)  # well into the boot, before init
    assert not re.search(init_line, r.console()), "init came before the snapshot; nothing to test"
    vmstate, mem = snapshot(sock, workdir, "linux")
    r.close()
    for i in range(2):
        rr, _ = load(kiln, workdir, f"linux{i}", vmstate, mem)
        rr.wait_for(init_line, LINUX_TIMEOUT)
        assert "Linux version" not in rr.console(), "the restored kernel booted again"
        rr.close()


# ------------------------------------------------ net, vsock, balloon, rng

GUEST_MAC = "06:00:ac:10:00:02"


def sections(img):
    """(type, offset of the body, body length) of each section of a vmstate."""
    out, off = [], 32
    while off < len(img):
        t, _, length = struct.unpack_from("<HHI", img, off)
        out.append((t, off + 8, length))
        off += 8 + length
    return out


def device_body(img, kind):
    """Offset of a device section's own fields (after slot and transport)."""
    for t, body, _ in sections(img):
        if t == kind:
            nq = struct.unpack_from("<I", img, body + 4 + 24 + 8)[0]
            return body + 4 + 24 + 8 + 4 + nq * 33
    raise AssertionError(f"no section of type {kind}")


def patched(img, kind, rel, fmt, value, skip_strings=0):
    """The vmstate with fmt/value packed at rel bytes into a device section's
    own fields (after skip_strings length-prefixed strings), CRC fixed."""
    b = bytearray(img)
    off = device_body(b, kind)
    for _ in range(skip_strings):
        off += 2 + struct.unpack_from("<H", b, off)[0]
    struct.pack_into(fmt, b, off + rel, value)
    struct.pack_into("<Q", b, 24, crc64(bytes(b[32:])))
    return bytes(b)


def ns_kiln(kiln, workdir, ns, name, *args):
    """new_kiln inside the network namespace ns."""
    sock = str(workdir / f"{name}.sock")
    sub = workdir / name
    sub.mkdir()
    r = KilnRun(["--api-sock", sock, "--level", "Debug"] + list(args), sub, netns=ns.name)
    kiln.runs.append(r)
    return r, sock


@pytest.fixture
def sock_dir():
    """A short directory for vsock's Unix sockets (sun_path holds 107 bytes)."""
    import tempfile
    d = Path(tempfile.mkdtemp(prefix="kiln-snap-", dir="/tmp"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_every_device_kind_restored_with_overrides(kiln, workdir, need_kvm, netns, sock_dir):
    """Block, net, vsock, balloon and rng in one test-guest VM: snapshot,
    corrupted device sections refused one by one by the same fresh kiln,
    then a restore onto a second TAP (network_overrides) and a new vsock
    socket (vsock_override) that keeps the balloon's target, the limiters
    PATCHed after boot and the guest's ticks and disk."""
    ns = netns
    ns.run("ip", "tuntap", "add", "ktap1", "mode", "tap")
    ns.run("ip", "link", "set", "ktap1", "up")
    disk = workdir / "disk.img"
    disk.write_bytes(os.urandom(64 * 1024))
    uds, uds2 = sock_dir / "v.sock", sock_dir / "w.sock"
    cfg = write_config(workdir, ktg_elf(), boot_args="virtio=1 rng=1 tick=1 tick_ms=100 exit=halt", extra={
        "drives": [{"drive_id": "d0", "path_on_host": str(disk), "is_root_device": False}],
        "network-interfaces": [{"iface_id": "net0", "host_dev_name": ns.tap, "guest_mac": GUEST_MAC,
                                "mtu": 1400,
                                "tx_rate_limiter": {"bandwidth": {"size": 1 << 20, "refill_time": 100}}}],
        "vsock": {"guest_cid": 3, "uds_path": str(uds)},
        "balloon": {"amount_mib": 4, "deflate_on_oom": True, "stats_polling_interval_s": 0},
        "entropy": {"rate_limiter": {"ops": {"size": 1000, "refill_time": 1000}}},
    })
    doc = json.loads(cfg.read_text())
    doc["machine-config"]["track_dirty_pages"] = True
    cfg.write_text(json.dumps(doc))
    orig, sock = ns_kiln(kiln, workdir, ns, "orig", "--config-file", str(cfg))
    orig.wait_for(r"^KTG: rng (ok|FAIL.*)$", TIMEOUT)
    assert "KTG: rng ok" in orig.console(), orig.console()[-3000:]
    wait_blk_ok(orig, 0)
    ids = sorted(int(m.group(1)) for m in re.finditer(r"^KTG: virtio 0x[0-9a-f]+ id=(\d+) ", orig.console(), re.M))
    assert ids == [1, 2, 4, 5, 19], orig.console()[-3000:]
    # Settings changed after boot are the ones a restore must keep.
    ok(sock, "PATCH", "/balloon", {"amount_mib": 12})
    ok(sock, "PATCH", "/network-interfaces/net0",
       {"iface_id": "net0", "rx_rate_limiter": {"bandwidth": {"size": 2 << 20, "refill_time": 200}}})
    vmstate, mem = snapshot(sock, workdir, "all")
    at_snapshot = max(ticks(orig.console()))
    img = vmstate.read_bytes()
    kinds = [t for t, _, _ in sections(img)]
    for kind in (16, 17, 18, 19, 20):
        assert kinds.count(kind) == 1, kinds
    p = subprocess.run([str(BUILD / "vmm" / "core" / "kiln"), "--describe-snapshot", str(vmstate)],
                       capture_output=True, timeout=TIMEOUT, text=True)
    assert p.returncode == 0, p.stderr
    for want in (f"interface net0 on TAP {ns.tap}", f"guest CID 3, host socket {uds}", "target 3072 pages",
                 "virtio-rng, status"):
        assert want in p.stdout, p.stdout
    # The original keeps its TAP and socket: the restore must use others.

    # net: iface_id, host_dev_name, has_mac, mac, mtu, 2 limiters (96), then the state's magic.
    net_magic = 1 + 6 + 4 + 96
    cases = {
        "net-magic": (patched(img, 17, net_magic, "<I", 0, skip_strings=2), "virtio-net net0: state magic"),
        # acked_features (after magic, mtu, has_mac, mac, four flags) that the
        # transport never negotiated: only the device's restore can tell.
        "net-features": (patched(img, 17, net_magic + 4 + 2 + 1 + 6 + 4, "<Q", 1 << 5, skip_strings=2),
                         "virtio-net net0 state"),
        "net-frame": (patched(img, 17, net_magic + 4 + 2 + 1 + 6 + 4 + 8 + 4, "<I", 70000, skip_strings=2),
                      "frames of 70000"),
        "vsock-cid": (patched(img, 18, 0, "<I", 2, skip_strings=1), "not a guest CID"),
        "balloon-target": (patched(img, 19, 0, "<Q", 5), "but amount_mib 5"),
        "balloon-flag": (patched(img, 19, 8, "<B", 7), "deflate_on_oom 7"),
        # rng: the limiter config (48 bytes), then the bytes bucket's budget past its size 0.
        "rng-bucket": (patched(img, 20, 48 + 24, "<Q", 99), "virtio-rng"),
    }
    r, rsock = ns_kiln(kiln, workdir, ns, "restored")
    load_body = {"mem_backend": {"backend_type": "File", "backend_path": str(mem)}, "resume_vm": True,
                 "network_overrides": [{"iface_id": "net0", "host_dev_name": "ktap1"}],
                 "vsock_override": {"uds_path": str(uds2)}}

    def refused(body, want):
        fault(rsock, "PUT", "/snapshot/load", body, want)
        status, info = api(rsock, "GET", "/")
        assert status == 200 and info["state"] == "Not started", info

    for name, (data, want) in cases.items():
        bad = workdir / f"{name}.vmstate"
        bad.write_bytes(data)
        refused(dict(load_body, snapshot_path=str(bad)), want)
    good = dict(load_body, snapshot_path=str(vmstate))
    refused(dict(good, network_overrides=[{"iface_id": "eth9", "host_dev_name": "ktap1"}]),
            "no network interface 'eth9'")
    refused(dict(good, network_overrides=[{"iface_id": "net0", "host_dev_name": "a-name-far-too-long"}]),
            "host_dev_name")
    # Without the override the TAP is the original's, which still holds it.
    refused(dict(good, network_overrides=[]), f"host_dev_name {ns.tap}: cannot open the TAP")

    ok(rsock, "PUT", "/snapshot/load", good)
    first = wait_tick(r, 0)
    assert at_snapshot <= first <= at_snapshot + 2, f"restored tick {first}, snapshot at {at_snapshot}"
    assert "KTG: hello" not in r.console(), "the restored guest booted again"
    wait_blk_ok(r, first)
    status, vc = api(rsock, "GET", "/vm/config")
    assert status == 200
    net = vc["network-interfaces"]
    assert len(net) == 1 and net[0]["iface_id"] == "net0" and net[0]["host_dev_name"] == "ktap1", net
    assert net[0]["guest_mac"] == GUEST_MAC and net[0]["mtu"] == 1400, net
    assert net[0]["rx_rate_limiter"]["bandwidth"]["size"] == 2 << 20, net
    assert net[0]["tx_rate_limiter"]["bandwidth"]["size"] == 1 << 20, net
    assert vc["vsock"]["uds_path"] == str(uds2) and vc["vsock"]["guest_cid"] == 3, vc["vsock"]
    assert vc["entropy"]["rate_limiter"]["ops"]["size"] == 1000, vc["entropy"]
    assert vc["drives"][0]["path_on_host"] == str(disk), vc["drives"]
    status, balloon = api(rsock, "GET", "/balloon")
    assert status == 200 and balloon["amount_mib"] == 12 and balloon["deflate_on_oom"] is True, balloon
    log = r.log()
    assert "network interface net0: TAP ktap1" in log, log[-3000:]
    assert f"vsock: guest CID 3, host socket {uds2}" in log, log[-3000:]
    # The restored vsock listens on the new path (the guest's driver is
    # gone, so the connection is refused after the accept: EOF or reset).
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(TIMEOUT)
        s.connect(str(uds2))
        try:
            s.sendall(b"CONNECT 1234\n")
            assert s.recv(64) == b""
        except (ConnectionResetError, BrokenPipeError):
            pass
    orig.close()


BALLOON_REGION = 0x1000000  # the test guest's balloon pages: 8192 pages from 16 MiB


def has_data(path, start, length):
    """Whether [start, start + length) of a sparse file holds any data extent."""
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            return os.lseek(fd, start, os.SEEK_DATA) < start + length
        except OSError:  # ENXIO: no data from start to the end
            return False
    finally:
        os.close(fd)


def test_diff_holds_pages_only_a_device_changed(kiln, workdir, need_kvm):
    """Pages the guest wrote before the base snapshot and the balloon device
    then gave back to the host (MADV_DONTNEED: they read as zeros now) are
    changed by the device alone, so KVM's dirty log never sees them.  The
    Diff must hold them: the guest restored from base + Diff deflates them
    and checks that every one reads back as zero."""
    cfg = write_config(workdir, ktg_elf(), boot_args="balloon=1 exit=halt", extra={
        "balloon": {"amount_mib": 8, "deflate_on_oom": False, "stats_polling_interval_s": 1}})
    doc = json.loads(cfg.read_text())
    doc["machine-config"]["track_dirty_pages"] = True
    cfg.write_text(json.dumps(doc))
    orig, sock = new_kiln(kiln, workdir, "orig", "--config-file", str(cfg))
    orig.wait_for(r"^KTG: balloon wait-target num-pages=2048$", TIMEOUT)
    assert "KTG: balloon touched pages=8192 at=0x1000000" in orig.console(), orig.console()[-2000:]
    base_state, base_mem = snapshot(sock, workdir, "base")
    ok(sock, "PATCH", "/vm", {"state": "Resumed"})
    ok(sock, "PATCH", "/balloon", {"amount_mib": 32})
    orig.wait_for(r"^KTG: balloon wait-target num-pages=8192$", TIMEOUT)
    assert "KTG: balloon inflated pages=6144 target=8192" in orig.console(), orig.console()[-2000:]
    diff_state, diff_mem = snapshot(sock, workdir, "diff", "Diff")
    orig.close()
    # The base holds the guest's markers there; the Diff the zeroed pages.
    inflated = (BALLOON_REGION + 8 * 1024 * 1024, 24 * 1024 * 1024)
    assert has_data(base_mem, *inflated)
    for off in range(inflated[0], inflated[0] + inflated[1], 1 << 20):
        assert has_data(diff_mem, off, 4096), f"page at 0x{off:x}, discarded by the balloon, not in the Diff"
        assert open(diff_mem, "rb").read()[off:off + 4096] == bytes(4096)
    assert diff_mem.stat().st_blocks * 512 < 40 << 20, "the Diff holds far more than what changed"
    merged = workdir / "merged.mem"
    shutil.copyfile(base_mem, merged)
    p = subprocess.run([str(MERGE), "--base-file", str(merged), "--diff-file", str(diff_mem)],
                       capture_output=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr.decode()
    r, rsock = load(kiln, workdir, "merged", diff_state, merged)
    status, balloon = api(rsock, "GET", "/balloon")
    assert status == 200 and balloon["amount_mib"] == 32, balloon
    ok(rsock, "PATCH", "/balloon", {"amount_mib": 16})
    r.wait_for(r"^KTG: balloon (ok|FAIL.*)$", TIMEOUT)
    out = r.console()
    m = re.search(r"^KTG: balloon deflated pages=(\d+) target=4096 zeroed=(\d+)$", out, re.M)
    assert m and m.group(1) == m.group(2) == "4096", out[-2000:]
    assert "KTG: balloon ok" in out, out[-2000:]
