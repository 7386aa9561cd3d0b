"""A hostile guest against kiln's devices: the test guest's hostile=<n> mode
(guest-images/testguest/hostile.c, README.md) spends n iterations of an
xorshift PRNG (seed=<s>) on malformed register accesses, queue set-ups,
descriptor chains, port I/O and stray MMIO.  kiln must survive all of it: the
API keeps answering, the run ends with the guest's i8042 reset (exit code 0),
no ERROR lines, a read-only drive's host file stays unchanged, a drive the
guest did not attack still works, and kiln's RSS stays bounded.  Some seeds
run under the ASan+UBSan build (build-asan/) and one multi-vCPU seed under
ThreadSanitizer (build-tsan/), both made by ci/fuzz-smoke.sh; without them
those cases are skipped loudly.

With hostile_smp=1 (and smp=1) the guest's APs attack too, each with its own
PRNG, at the same time as the BSP: the devices' registers are hit from several
vCPU threads at once.  The guest prints how many actions each AP took; every
AP must have taken some.

A failing seed reproduces with the same command line, e.g.
  boot_args "virtio=1 hostile=2000 seed=<s> hostile_dev=0 blkwrite=1 exit=reset"
and two drives (0: read-only, 1: read-write); for the SMP cases
  boot_args "smp=1 hostile_smp=1 virtio=1 rng=1 hostile=2000 seed=<s> exit=reset"
with <vcpus> vCPUs and the devices of every_device_kind()."""
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

import kiln_harness
from kiln_harness import ROOT, ktg_elf, loud, write_config
from test_api import curl
from test_blk import SECTOR, blk_lines, devices, drive, make_disk, pattern

ITERATIONS = 2000       # about 5 s on an emulating (PVM) host
RUN_TIMEOUT = 120       # a whole run, boot to reset
API_TIMEOUT = 5         # each GET / must answer within this
MEM_MIB = 128
RSS_SLACK_KIB = 96 * 1024  # above guest RAM: kiln's own heap, stacks, binary
SEEDS = [1, 2, 3, 42, 0xdead]
SANITIZER_NEEDLES = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "SUMMARY: UndefinedBehaviorSanitizer", "SUMMARY: AddressSanitizer",
                     "WARNING: ThreadSanitizer", "SUMMARY: ThreadSanitizer")


@pytest.fixture
def api_sock():
    d = tempfile.mkdtemp(prefix="kiln-hostile-", dir="/tmp")
    yield os.path.join(d, "api.sock")
    shutil.rmtree(d, ignore_errors=True)


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def run_hostile(kiln, workdir, api_sock, boot_args, drives, elf=None, devices_cfg=None, netns=None, vcpus=1,
                kiln_args=()):
    """Boots, polls GET / and RSS until kiln exits; returns (run, code, polls, max_rss)."""
    extra = {"drives": drives}
    extra.update(devices_cfg or {})
    cfg = write_config(workdir, elf or ktg_elf(), boot_args=boot_args, vcpus=vcpus, mem_mib=MEM_MIB,
                       extra=extra)
    r = kiln("--config-file", str(cfg), "--api-sock", api_sock, "--show-level", *kiln_args, netns=netns)
    deadline = time.monotonic() + RUN_TIMEOUT
    polls, max_rss = 0, 0
    while r.proc.poll() is None:
        assert time.monotonic() < deadline, f"kiln still running after {RUN_TIMEOUT}s:\n" \
            f"{r.console()[-3000:]}\n{r.log()[-3000:]}"
        rss = rss_kib(r.pid)
        if rss:
            max_rss = max(max_rss, rss)
        if os.path.exists(api_sock):
            try:
                status, text, _ = curl(api_sock, "GET", "/", timeout=API_TIMEOUT)
            except AssertionError:
                # curl failed: fine only if kiln has just exited.
                if r.proc.poll() is None:
                    time.sleep(0.5)
                    assert r.proc.poll() is not None, f"GET / failed while kiln runs:\n{r.log()[-3000:]}"
                break
            assert status == 200, f"GET / -> {status} {text} during the attack"
            polls += 1
        time.sleep(0.1)
    code = r.wait_exit(30)
    return r, code, polls, max_rss


def check_survived(r, code, polls, max_rss, iterations, seed, sanitized=False):
    """sanitized: kiln is a sanitizer build (its RSS is the sanitizer's, not bounded here)."""
    out, log = r.console(), r.log()
    ctx = f"seed={seed}\n--- console tail ---\n{out[-3000:]}\n--- log tail ---\n{log[-3000:]}"
    assert code == 0, f"kiln exit {code}: {ctx}"
    assert f"KTG: hostile start iterations={iterations} seed={seed}" in out, ctx
    assert f"KTG: hostile done iterations={iterations}" in out, ctx
    assert "KTG: panic" not in out, ctx
    assert re.search(r"^KTG: done$", out, re.M), ctx
    assert "guest reset" in log, ctx
    errors = [l for l in log.splitlines() if "[ERROR]" in l]
    assert not errors, f"ERROR lines: {errors[:5]}\n{ctx}"
    assert polls >= 1, f"GET / never answered during the run: {ctx}"
    if not sanitized:
        assert max_rss < MEM_MIB * 1024 + RSS_SLACK_KIB, f"RSS {max_rss} KiB: {ctx}"
    for needle in SANITIZER_NEEDLES:
        assert needle not in log, f"sanitizer report ({needle}): {ctx}"


def two_drives(workdir):
    ro_img, rw_img = workdir / "target.img", workdir / "victim.img"
    ro_data = make_disk(ro_img, 32, seed=11)
    rw_data = make_disk(rw_img, 32, seed=12)
    drives = [drive("target", ro_img, root=True, ro=True), drive("victim", rw_img)]
    return ro_img, ro_data, rw_img, rw_data, drives


def check_victim(out, ro_img, ro_data, rw_img, rw_data, seed):
    devs = devices(out)
    assert len(devs) == 2, f"seed={seed}: {out[-3000:]}"
    devs[1]["drive_id"] = "victim"
    assert devs[1]["blk"] == blk_lines(devs[1], rw_data, ro=False, wrote=True), f"seed={seed}: {out[-3000:]}"
    # The attacked device, reset, works again too.
    devs[0]["drive_id"] = "target"
    assert devs[0]["blk"] == blk_lines(devs[0], ro_data, ro=True, wrote=False), f"seed={seed}: {out[-3000:]}"
    assert sha(ro_img) == hashlib.sha256(ro_data).hexdigest(), f"seed={seed}: read-only drive changed"
    after = rw_img.read_bytes()
    want = rw_data[:SECTOR] + bytes(pattern(i) for i in range(SECTOR)) + rw_data[2 * SECTOR:]
    assert after == want, f"seed={seed}: the victim drive changed beyond sector 1"


@pytest.mark.parametrize("seed", SEEDS)
def test_hostile_device0_victim_survives(kiln, workdir, api_sock, need_kvm, seed):
    """The attack targets device 0 (read-only); device 1 is the victim."""
    ro_img, ro_data, rw_img, rw_data, drives = two_drives(workdir)
    args = f"virtio=1 hostile={ITERATIONS} seed={seed} hostile_dev=0 blkwrite=1 exit=reset"
    r, code, polls, max_rss = run_hostile(kiln, workdir, api_sock, args, drives)
    check_survived(r, code, polls, max_rss, ITERATIONS, seed)
    assert f"devices=1" in re.search(r"^KTG: hostile start .*$", r.console(), re.M).group(0)
    check_victim(r.console(), ro_img, ro_data, rw_img, rw_data, seed)


@pytest.mark.parametrize("seed", [5, 77])
def test_hostile_all_devices(kiln, workdir, api_sock, need_kvm, seed):
    """Every device is attacked; afterwards both are reset and must work again.
    The read-write drive may have been written by the attack, so only the
    read-only drive's content is checked (and the read-write one's size)."""
    ro_img, ro_data, rw_img, rw_data, drives = two_drives(workdir)
    args = f"virtio=1 hostile={ITERATIONS} seed={seed} exit=reset"
    r, code, polls, max_rss = run_hostile(kiln, workdir, api_sock, args, drives)
    check_survived(r, code, polls, max_rss, ITERATIONS, seed)
    out = r.console()
    assert "devices=2" in re.search(r"^KTG: hostile start .*$", out, re.M).group(0)
    devs = devices(out)
    assert len(devs) == 2, out[-3000:]
    devs[0]["drive_id"] = "target"
    assert devs[0]["blk"] == blk_lines(devs[0], ro_data, ro=True, wrote=False), out[-3000:]
    assert devs[1]["blk"][-1] == "reinit ok", out[-3000:]
    assert sha(ro_img) == hashlib.sha256(ro_data).hexdigest(), f"seed={seed}: read-only drive changed"
    assert rw_img.stat().st_size == len(rw_data)


def every_device_kind(workdir, netns):
    """Net (on the namespace's TAP), vsock, balloon and rng, besides two_drives()."""
    return {
        "network-interfaces": [{"iface_id": "eth0", "host_dev_name": netns.tap,
                                "rx_rate_limiter": {"ops": {"size": 50, "refill_time": 100}}}],
        "vsock": {"guest_cid": 3, "uds_path": str(workdir / "v.sock")},
        "balloon": {"amount_mib": 16, "deflate_on_oom": True, "stats_polling_interval_s": 1},
        "entropy": {"rate_limiter": {"bandwidth": {"size": 4096, "refill_time": 50}}},
    }


def check_every_device_kind(out, ro_img, ro_data, uds, seed):
    assert "devices=6" in re.search(r"^KTG: hostile start .*$", out, re.M).group(0), out[-3000:]
    ids = sorted(d["id"] for d in devices(out))
    assert ids == [1, 2, 2, 4, 5, 19], ids
    assert sha(ro_img) == hashlib.sha256(ro_data).hexdigest(), f"seed={seed}: read-only drive changed"
    assert not os.path.exists(uds), "the vsock socket outlived kiln"


@pytest.mark.parametrize("seed", [6, 1234])
def test_hostile_against_every_device_kind(kiln, workdir, api_sock, netns, need_kvm, seed):
    """The attack covers net, vsock, balloon and rng as well as block: their
    rings, descriptors, registers and config spaces.  kiln survives, its RSS
    stays bounded (a balloon inflating bad PFNs cannot make it discard or map
    anything outside guest RAM), the read-only drive is unchanged, and the
    sockets and TAP it used are released at exit."""
    ro_img, ro_data, _, _, drives = two_drives(workdir)
    devs_cfg = every_device_kind(workdir, netns)
    args = f"virtio=1 hostile={ITERATIONS} seed={seed} exit=reset"
    r, code, polls, max_rss = run_hostile(kiln, workdir, api_sock, args, drives, devices_cfg=devs_cfg,
                                          netns=netns.name)
    check_survived(r, code, polls, max_rss, ITERATIONS, seed)
    check_every_device_kind(r.console(), ro_img, ro_data, devs_cfg["vsock"]["uds_path"], seed)


# Sanitizer builds ci/fuzz-smoke.sh makes: how to make one by hand, the
# runtime options, and the kiln flags they need.  TSan's runtime makes system
# calls no seccomp filter of kiln's allows, so that build runs without them.
SANITIZERS = {
    "asan": ("build-asan", "-Db_sanitize=address,undefined",
             {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:halt_on_error=1",
              "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"}, ()),
    "tsan": ("build-tsan", "-Db_sanitize=thread -Dtests=disabled",
             {"TSAN_OPTIONS": "halt_on_error=1:exitcode=66"}, ("--no-seccomp",)),
}


def use_sanitizer_build(monkeypatch, kind="asan"):
    """Runs kiln from the sanitizer build `kind` from now on (skipped loudly
    without it); returns (the normal build's test guest, extra kiln flags)."""
    build_dir, setup, env, kiln_args = SANITIZERS[kind]
    build = ROOT / build_dir
    if not (build / "vmm" / "core" / "kiln").exists():
        loud(f"SKIPPED: {build_dir}/vmm/core/kiln missing (ci/fuzz-smoke.sh or `meson setup {build_dir} "
             f"{setup} && ninja -C {build_dir} vmm/core/kiln`); the hostile guest did NOT run under {kind}")
        pytest.skip(f"SKIPPED LOUDLY: no {kind} build")
    elf = ktg_elf()
    monkeypatch.setattr(kiln_harness, "BUILD", build)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return elf, kiln_args


def test_hostile_under_asan(kiln, workdir, api_sock, need_kvm, monkeypatch):
    """One seed against the ASan+UBSan build: no sanitizer report."""
    elf, _ = use_sanitizer_build(monkeypatch)
    ro_img, ro_data, rw_img, rw_data, drives = two_drives(workdir)
    seed = 9
    args = f"virtio=1 hostile={ITERATIONS} seed={seed} hostile_dev=0 blkwrite=1 exit=reset"
    r, code, polls, max_rss = run_hostile(kiln, workdir, api_sock, args, drives, elf=elf)
    check_survived(r, code, polls, max_rss, ITERATIONS, seed, sanitized=True)
    check_victim(r.console(), ro_img, ro_data, rw_img, rw_data, seed)


@pytest.mark.parametrize("vcpus,seed,sanitizer", [(2, 13, None), (4, 13, None), (2, 31, None), (4, 31, None),
                                                  (4, 17, "asan"), (4, 23, "tsan")],
                         ids=["2cpu-13", "4cpu-13", "2cpu-31", "4cpu-31", "4cpu-17-asan", "4cpu-23-tsan"])
def test_hostile_smp(kiln, workdir, api_sock, netns, need_kvm, monkeypatch, vcpus, seed, sanitizer):
    """hostile_smp=1: the APs attack every device kind at the same time as the
    BSP, from their own vCPU threads (one case under ASan+UBSan, one under
    ThreadSanitizer, which reports any data race between the vCPU threads and
    the VMM thread).  Besides what the single-CPU tests check, every AP must
    have attacked (its count > 0) and stopped before the BSP reset the
    devices; then both drives and the rng device work again."""
    elf, kiln_args = use_sanitizer_build(monkeypatch, sanitizer) if sanitizer else (ktg_elf(), ())
    ro_img, ro_data, _, _, drives = two_drives(workdir)
    devs_cfg = every_device_kind(workdir, netns)
    args = f"smp=1 hostile_smp=1 virtio=1 rng=1 hostile={ITERATIONS} seed={seed} exit=reset"
    r, code, polls, max_rss = run_hostile(kiln, workdir, api_sock, args, drives, elf=elf, devices_cfg=devs_cfg,
                                          netns=netns.name, vcpus=vcpus, kiln_args=kiln_args)
    check_survived(r, code, polls, max_rss, ITERATIONS, seed, sanitized=bool(sanitizer))
    out = r.console()
    ctx = f"vcpus={vcpus} seed={seed}:\n{out[-3000:]}"
    assert re.search(rf"^KTG: smp online={vcpus}$", out, re.M), ctx
    assert "KTG: hostile error" not in out, ctx
    m = re.search(r"^KTG: hostile cpus=(\d+) ap_iterations=([\d,]+)$", out, re.M)
    assert m and int(m.group(1)) == vcpus, ctx
    counts = [int(n) for n in m.group(2).split(",")]
    assert len(counts) == vcpus - 1 and all(n > 0 for n in counts), f"AP iterations {counts}: {ctx}"
    # The APs stopped before the devices were reset and the drivers ran.
    assert out.index(m.group(0)) < out.index(f"KTG: hostile done iterations={ITERATIONS}"), ctx
    check_every_device_kind(out, ro_img, ro_data, devs_cfg["vsock"]["uds_path"], seed)
    devs = [d for d in devices(out) if d["id"] == 2]
    devs[0]["drive_id"] = "target"
    assert devs[0]["blk"] == blk_lines(devs[0], ro_data, ro=True, wrote=False), ctx
    assert devs[1]["blk"][-1] == "reinit ok", ctx
    assert re.search(r"^KTG: rng ok$", out, re.M), ctx
