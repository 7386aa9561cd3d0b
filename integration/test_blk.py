"""virtio-blk end to end: drives from the config file and the API become
virtio-mmio devices that the test guest's small driver (virtio=1) and Linux
find, read and write; malformed drive configs are refused naming the field.

The test guest's lines are in guest-images/testguest/README.md.  Tests that
boot need /dev/kvm (need_kvm skips loudly); the refusals run anywhere."""
import json
import os
from datetime import datetime
import re
import shutil
import struct
import tempfile
from pathlib import Path

import pytest

from kiln_harness import ktg_elf, write_config
from linux_images import INITRAMFS, KERNEL_DIR, LINUX_ARGS, LINUX_TIMEOUT, need
from test_api import POST_BOOT_ONLY, PRE_BOOT_ONLY, START_BODY, curl, fault, ok, start_api

BOOT_TIMEOUT = 60       # the test guest needs well under a second
SECTOR = 512
VIRTIO_BASE, VIRTIO_STRIDE, IRQ_FIRST = 0xC0001000, 0x1000, 5
BLK_F_RO = 1 << 5


def pattern(i: int) -> int:
    """Byte i of what blkwrite=1 writes to sector 1 (README.md)."""
    return (i ^ 0xA5) & 0xFF


def make_disk(path: Path, sectors: int, seed: int = 1) -> bytes:
    """A disk image with known, sector-distinct content."""
    data = bytes(((i * 131 + i // SECTOR * 7 + seed) & 0xFF) for i in range(sectors * SECTOR))
    path.write_bytes(data)
    return data


def drive(drive_id, path, root=False, ro=False, **extra):
    d = {"drive_id": drive_id, "path_on_host": str(path), "is_root_device": root, "is_read_only": ro}
    d.update(extra)
    return d


def boot(kiln, workdir, drives, cmdline="virtio=1 exit=reset"):
    cfg = write_config(workdir, ktg_elf(), boot_args=cmdline, extra={"drives": drives})
    return kiln("--config-file", str(cfg), "--no-api")


def devices(console: str) -> list:
    """One dict per 'KTG: virtio <addr> ...' line, with the blk lines that follow it."""
    out = []
    for line in console.splitlines():
        m = re.match(r"KTG: virtio (0x[0-9a-f]+) id=(\d+) version=(\d+) features=(0x[0-9a-f]+) irq=(\d+)$", line)
        if m:
            out.append({"addr": int(m.group(1), 16), "id": int(m.group(2)), "version": int(m.group(3)),
                        "features": int(m.group(4), 16), "irq": int(m.group(5)), "blk": []})
        elif line.startswith("KTG: blk ") and out:
            out[-1]["blk"].append(line[len("KTG: blk "):])
    return out


def blk_lines(dev: dict, disk: bytes, ro: bool, wrote: bool) -> list:
    """The lines a block device over disk must print, in order."""
    want = [f"capacity={len(disk) // SECTOR} ro={int(ro)}", f"read 0 {disk[:16].hex()}", "irq-status=1"]
    if ro:
        want.append("ro-write status=1")
    elif wrote:
        want.append("write ok")
    want += ["past-end status=1", f"id={dev['drive_id']}", "reinit ok"]
    return want


def cmdline(console: str) -> str:
    m = re.search(r"^KTG: cmdline=(.*)$", console, re.M)
    assert m, console
    return m.group(1)


def mmio_token(slot: int) -> str:
    return f"virtio_mmio.device=4K@0x{VIRTIO_BASE + slot * VIRTIO_STRIDE:x}:{IRQ_FIRST + slot}"


@pytest.mark.parametrize("engine", ["Sync", "Async"])
def test_guest_reads_writes_and_resets_a_drive(kiln, workdir, need_kvm, engine):
    img = workdir / "root.img"
    before = make_disk(img, 64)
    r = boot(kiln, workdir, [drive("rootfs", img, root=True, io_engine=engine)], "virtio=1 blkwrite=1 exit=reset")
    assert r.wait_exit(BOOT_TIMEOUT) == 0, r.log()
    out = r.console()
    devs = devices(out)
    assert len(devs) == 1, out
    dev = devs[0]
    assert (dev["addr"], dev["irq"], dev["id"], dev["version"]) == (VIRTIO_BASE, IRQ_FIRST, 2, 2), dev
    assert dev["features"] & (1 << 32), "VERSION_1 offered"
    assert not dev["features"] & BLK_F_RO
    dev["drive_id"] = "rootfs"
    assert dev["blk"] == blk_lines(dev, before, ro=False, wrote=True), out
    assert "KTG: virtio devices=1" in out and "KTG: done" in out
    # The host file changed in sector 1 only, to the guest's pattern.
    after = img.read_bytes()
    assert len(after) == len(before)
    assert after[:SECTOR] == before[:SECTOR]
    assert after[SECTOR:2 * SECTOR] == bytes(pattern(i) for i in range(SECTOR))
    assert after[2 * SECTOR:] == before[2 * SECTOR:]
    # Firecracker's command line for a read-write root device.
    line = cmdline(out)
    assert line.endswith(f"root=/dev/vda rw {mmio_token(0)}"), line
    assert f"virtio-blk rootfs: virtio-mmio at 0x{VIRTIO_BASE:x}, IRQ {IRQ_FIRST} (irqfd, ioeventfd)" in r.log()


def test_rate_limited_drive_still_answers_everything(kiln, workdir, need_kvm):
    """An ops bucket of 2 per 100 ms holds the guest's requests back: they
    all complete (the limiter's timer resumes the queue), in order, and the
    metrics count the throttling."""
    img = workdir / "root.img"
    before = make_disk(img, 64)
    limiter = {"ops": {"size": 2, "refill_time": 100}}
    cfg = write_config(workdir, ktg_elf(), boot_args="virtio=1 blkwrite=1 exit=reset", extra={
        "drives": [drive("rootfs", img, root=True, rate_limiter=limiter)],
        "metrics": {"metrics_path": str(workdir / "m.json")}})
    r = kiln("--config-file", str(cfg), "--no-api")
    assert r.wait_exit(BOOT_TIMEOUT) == 0, r.log()
    dev = devices(r.console())[0]
    dev["drive_id"] = "rootfs"
    assert dev["blk"] == blk_lines(dev, before, ro=False, wrote=True), r.console()
    lines = [json.loads(l) for l in (workdir / "m.json").read_text().splitlines()]
    assert sum(l["block_rootfs"]["rate_limiter_throttled_events"] for l in lines) > 0, lines[-1]["block_rootfs"]
    # Requests took at least (requests - burst) / 2 * 100 ms.
    assert time_between(r.log(), "virtio-blk rootfs: virtio-mmio", "guest reset") >= 0.2


def time_between(log: str, first: str, last: str) -> float:
    def stamp(needle):
        for line in log.splitlines():
            if needle in line:
                return datetime.fromisoformat(line.split()[0][:26])
        raise AssertionError(f"{needle!r} not in the log:\n{log}")
    return (stamp(last) - stamp(first)).total_seconds()


def test_read_only_drive_refuses_writes_and_stays_unchanged(kiln, workdir, need_kvm):
    img = workdir / "ro.img"
    before = make_disk(img, 16, seed=9)
    r = boot(kiln, workdir, [drive("ro_disk", img, root=True, ro=True)], "virtio=1 blkwrite=1 exit=reset")
    assert r.wait_exit(BOOT_TIMEOUT) == 0, r.log()
    out = r.console()
    dev = devices(out)[0]
    dev["drive_id"] = "ro_disk"
    assert dev["features"] & BLK_F_RO
    assert dev["blk"] == blk_lines(dev, before, ro=True, wrote=False), out
    assert img.read_bytes() == before
    assert cmdline(out).endswith(f"root=/dev/vda ro {mmio_token(0)}")


def test_two_drives_root_first_at_their_addresses_and_irqs(kiln, workdir, need_kvm):
    data_img, root_img = workdir / "data.img", workdir / "root.img"
    data = make_disk(data_img, 40, seed=3)
    root = make_disk(root_img, 24, seed=5)
    # The root device is listed second; it still gets slot 0 (/dev/vda).
    r = boot(kiln, workdir, [drive("data", data_img), drive("rootfs", root_img, root=True, ro=True)])
    assert r.wait_exit(BOOT_TIMEOUT) == 0, r.log()
    out = r.console()
    devs = devices(out)
    assert [(d["addr"], d["irq"]) for d in devs] == [(VIRTIO_BASE, IRQ_FIRST),
                                                     (VIRTIO_BASE + VIRTIO_STRIDE, IRQ_FIRST + 1)], out
    devs[0]["drive_id"], devs[1]["drive_id"] = "rootfs", "data"
    assert devs[0]["blk"] == blk_lines(devs[0], root, ro=True, wrote=False), out
    assert devs[1]["blk"] == blk_lines(devs[1], data, ro=False, wrote=False), out
    assert cmdline(out) == f"virtio=1 exit=reset root=/dev/vda ro {mmio_token(0)} {mmio_token(1)}"
    assert data_img.read_bytes() == data and root_img.read_bytes() == root


def test_partuuid_root_and_no_root(kiln, workdir, need_kvm):
    img = workdir / "d.img"
    make_disk(img, 8)
    r = boot(kiln, workdir, [drive("rootfs", img, root=True, partuuid="0eaa91a0-01")], "exit=reset")
    assert r.wait_exit(BOOT_TIMEOUT) == 0, r.log()
    assert cmdline(r.console()) == f"exit=reset root=PARTUUID=0eaa91a0-01 rw {mmio_token(0)}"
    assert "KTG: virtio" not in r.console(), "virtio=1 was not given"
    (workdir / "console.out").unlink()
    r = boot(kiln, workdir, [drive("scratch", img)], "exit=reset")
    assert r.wait_exit(BOOT_TIMEOUT) == 0, r.log()
    assert cmdline(r.console()) == f"exit=reset {mmio_token(0)}", "no root= without a root device"


# (name, drives, needle that must be in the one error line), with {d} a good image.
BAD_CONFIGS = [
    ("missing file", lambda d: [drive("rootfs", "/nonexistent/root.img", root=True)],
     "drives[0].path_on_host: /nonexistent/root.img: No such file or directory"),
    ("directory", lambda d: [drive("rootfs", d.parent, root=True, ro=True)],
     "drives[0].path_on_host"),
    ("empty image", lambda d: [drive("rootfs", d.parent / "empty.img", root=True)],
     "drives[0].path_on_host"),
    ("two roots", lambda d: [drive("a", d, root=True), drive("b", d, root=True)],
     "drives[1].is_root_device: a root block device already exists"),
    ("bad id", lambda d: [drive("root-fs", d, root=True)], "drives[0].drive_id"),
    ("empty id", lambda d: [drive("", d, root=True)], "drives[0].drive_id"),
    ("unknown field", lambda d: [drive("rootfs", d, root=True, readonly=True)],
     "drives[0]: unknown field 'readonly'"),
    ("io_engine", lambda d: [drive("rootfs", d, root=True, io_engine="uring")],
     "drives[0].io_engine: must be one of \"Sync\", \"Async\""),
    ("rate limiter", lambda d: [drive("rootfs", d, rate_limiter={"ops": {"size": 10}})],
     "drives[0].rate_limiter.ops.refill_time: missing required field"),
    ("socket", lambda d: [drive("rootfs", d, socket="/vhost.sock")], "drives[0].socket"),
    ("cache type", lambda d: [drive("rootfs", d, cache_type="Direct")], "drives[0].cache_type"),
    ("missing root flag", lambda d: [{"drive_id": "x", "path_on_host": str(d)}],
     "drives[0].is_root_device: missing required field"),
    ("not an array", lambda d: {"drive_id": "x"}, "drives: expected an array"),
    ("partuuid with space", lambda d: [drive("rootfs", d, root=True, partuuid="a b")], "drives[0].partuuid"),
]


@pytest.mark.parametrize("name,make,needle", BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_bad_drive_config_is_refused(kiln, workdir, name, make, needle):
    good = workdir / "good.img"
    make_disk(good, 4)
    (workdir / "empty.img").write_bytes(b"")
    cfg = write_config(workdir, ktg_elf(), extra={"drives": make(good)})
    r = kiln("--config-file", str(cfg), "--no-api")
    code = r.wait_exit(timeout=20)
    lines = [l for l in r.log().splitlines() if l.strip()]
    assert code == 2, f"{name}: exit {code}: {r.log()}"
    assert len(lines) == 1, f"{name}: expected one error line: {r.log()!r}"
    assert needle in lines[0], f"{name}: {lines[0]!r} lacks {needle!r}"


@pytest.fixture
def api_sock():
    d = tempfile.mkdtemp(prefix="kiln-blk-", dir="/tmp")
    yield os.path.join(d, "api.sock")
    shutil.rmtree(d, ignore_errors=True)


def test_drives_through_the_api(kiln, workdir, api_sock, need_kvm):
    root_img, data_img, other_img = workdir / "root.img", workdir / "data.img", workdir / "other.img"
    root = make_disk(root_img, 32, seed=2)
    make_disk(data_img, 8, seed=4)
    other = make_disk(other_img, 48, seed=6)
    metrics = workdir / "metrics.json"
    metrics.touch()
    r = start_api(kiln, api_sock)
    ok(api_sock, "PUT", "/metrics", json.dumps({"metrics_path": str(metrics)}))
    ok(api_sock, "PUT", "/boot-source", json.dumps({"kernel_image_path": str(ktg_elf()),
                                                    "boot_args": "virtio=1 blkwrite=1 exit=halt"}))
    assert fault(api_sock, "PATCH", "/drives/data", json.dumps({"drive_id": "data", "path_on_host": str(other_img)})) \
        == POST_BOOT_ONLY
    ok(api_sock, "PUT", "/drives/data", json.dumps(drive("data", workdir / "data.img")))
    ok(api_sock, "PUT", "/drives/rootfs", json.dumps(drive("rootfs", root_img, root=True)))
    # Same id: replaced in place (now the 48-sector image).
    ok(api_sock, "PUT", "/drives/data", json.dumps(drive("data", other_img, cache_type="Writeback")))
    # Refusals name the field; none of them changes the configuration.
    for body, path, needle in [
        (drive("d2", workdir / "missing.img"), "/drives/d2", "drives.path_on_host: "),
        (drive("d2", root_img, root=True), "/drives/d2", "drives.is_root_device: a root block device already exists"),
        (drive("d-2", root_img), "/drives/d-2", "alphanumeric characters and underscores"),
        (drive("d2", root_img), "/drives/d3", "does not match"),
        (drive("d2", root_img, io_engine="async"), "/drives/d2", "drives.io_engine: must be one of"),
        (drive("d2", root_img, extra=1), "/drives/d2", "drives: unknown field 'extra'"),
        (drive("d2", root_img, rate_limiter={"bandwidth": 5}), "/drives/d2", "drives.rate_limiter.bandwidth: expected an object"),
    ]:
        msg = fault(api_sock, "PUT", path, json.dumps(body))
        assert needle in msg, f"{path} {body}: {msg}"
    cfg = ok(api_sock, "GET", "/vm/config", want=200)
    assert [(d["drive_id"], d["path_on_host"], d["is_root_device"], d["cache_type"]) for d in cfg["drives"]] == [
        ("rootfs", str(root_img), True, "Unsafe"), ("data", str(other_img), False, "Writeback")]
    assert cfg["drives"][0] == {"drive_id": "rootfs", "partuuid": None, "is_root_device": True,
                                "cache_type": "Unsafe", "is_read_only": False, "path_on_host": str(root_img),
                                "rate_limiter": None, "io_engine": "Sync", "socket": None}
    ok(api_sock, "PUT", "/actions", START_BODY)
    r.wait_for(r"^KTG: done", BOOT_TIMEOUT)
    out = r.console()
    devs = devices(out)
    devs[0]["drive_id"], devs[1]["drive_id"] = "rootfs", "data"
    assert devs[0]["blk"] == blk_lines(devs[0], root, ro=False, wrote=True), out
    assert devs[1]["blk"] == blk_lines(devs[1], other, ro=False, wrote=True), out
    assert f"root=/dev/vda rw {mmio_token(0)} {mmio_token(1)}" in cmdline(out)
    assert fault(api_sock, "PUT", "/drives/late", json.dumps(drive("late", root_img))) == PRE_BOOT_ONLY

    # PATCH: a new backing file for the running drive; a bad one changes nothing.
    new_img = workdir / "new.img"
    make_disk(new_img, 100, seed=8)
    msg = fault(api_sock, "PATCH", "/drives/data", json.dumps({"drive_id": "data", "path_on_host": str(workdir / "nope.img")}))
    assert "drives.path_on_host" in msg, msg
    assert "no drive 'zz'" in fault(api_sock, "PATCH", "/drives/zz", json.dumps({"drive_id": "zz", "rate_limiter": None}))
    ok(api_sock, "PATCH", "/drives/data", json.dumps({"drive_id": "data", "path_on_host": str(new_img)}))
    assert ok(api_sock, "GET", "/vm/config", want=200)["drives"][1]["path_on_host"] == str(new_img)
    assert "drive data: now " + str(new_img) + ", 100 sectors" in r.log()
    # PATCH rate_limiter: the running drive's limiter, as GET /vm/config then shows.
    ok(api_sock, "PATCH", "/drives/data", json.dumps(
        {"drive_id": "data", "rate_limiter": {"bandwidth": {"size": 65536, "refill_time": 10}}}))
    assert ok(api_sock, "GET", "/vm/config", want=200)["drives"][1]["rate_limiter"]["bandwidth"] == {
        "size": 65536, "one_time_burst": 0, "refill_time": 10}
    assert "refill_time" in fault(api_sock, "PATCH", "/drives/data", json.dumps(
        {"drive_id": "data", "rate_limiter": {"ops": {"size": 1}}}))

    # Per-drive metrics, as Firecracker names them.
    ok(api_sock, "PUT", "/actions", '{"action_type": "FlushMetrics"}')
    lines = [json.loads(l) for l in metrics.read_text().splitlines() if l.strip()]

    def summed(key):  # counters are deltas per line
        return {k: sum(l.get(key, {}).get(k, 0) for l in lines) for k in lines[-1][key]}

    data_m, root_m, total = summed("block_data"), summed("block_rootfs"), summed("block")
    # read 0, readback, reinit read: 3 reads; one write; past-end is an execute failure.
    assert (data_m["read_count"], data_m["write_count"]) == (3, 1), data_m
    assert (data_m["read_bytes"], data_m["write_bytes"]) == (3 * SECTOR, SECTOR), data_m
    assert data_m["execute_fails"] == 1 and data_m["update_count"] == 1 and data_m["update_fails"] == 1, data_m
    assert data_m["queue_event_count"] >= 1
    assert total["read_count"] == data_m["read_count"] + root_m["read_count"]
    r.kill()


def mbr_one_partition(sectors: int) -> bytes:
    """Sector 0 of a disk with one Linux partition from sector 2048 to the end."""
    mbr = bytearray(SECTOR)
    mbr[446:462] = struct.pack("<B3sB3sII", 0, b"\0\0\0", 0x83, b"\0\0\0", 2048, sectors - 2048)
    mbr[510:512] = b"\x55\xaa"
    return bytes(mbr)


@pytest.mark.linux
def test_linux_virtio_blk_sizes_vda_and_reads_its_partition_table(kiln, workdir, need_kvm):
    img = workdir / "scratch.img"
    with open(img, "wb") as f:
        f.write(mbr_one_partition((64 << 20) // SECTOR))
        f.truncate(64 << 20)
    cfg = write_config(workdir, need(KERNEL_DIR / "vmlinux"), boot_args=LINUX_ARGS,
                       initrd=need(INITRAMFS), vcpus=1, mem_mib=256,
                       extra={"drives": [drive("scratch", img)]})
    r = kiln("--config-file", str(cfg), "--no-api")
    r.wait_for(r"Run /init as init process", LINUX_TIMEOUT)
    out = r.console()
    assert f"virtio-mmio: Registering device virtio-mmio.0 at 0x{VIRTIO_BASE:x}-0x{VIRTIO_BASE + 0xfff:x}, IRQ {IRQ_FIRST}." in out
    m = re.search(r"virtio_blk virtio0: \[vda\] (\d+) 512-byte logical blocks", out)
    assert m, out[-3000:]
    assert int(m.group(1)) == (64 << 20) // SECTOR == 131072
    assert m.start() < out.index("Run /init as init process")
    # The partition scan read sector 0 through the queue and its interrupt.
    assert re.search(r"^\[[ \d.]+\]\s+vda: vda1\r?$", out, re.M), out[-3000:]
    assert mmio_token(0) in out  # on the kernel's "Command line:" line
    r.wait_exit(180)
