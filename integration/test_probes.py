"""kiln-probe on real boots: the report's timeline, exits by reason and
device, virtio-blk latency and API latency come from BPF programs watching
kiln from outside (bench/probes).  Needs /dev/kvm and BPF (root, kernel BTF,
kiln-probe built); SKIPS LOUDLY otherwise."""
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from kiln_harness import ROOT, kiln_binary, ktg_elf, kvm_usable, loud, parse_stats

sys.path.insert(0, str(ROOT / "bench" / "probes"))
import probe_run  # noqa: E402

BOOT_TIMEOUT = 60
USDT = ["vm_build_start", "vm_build_end", "vcpu_first_run", "boot_timer", "api_socket_ready",
        "virtio_notify_handled", "virtio_process_done", "virtio_irq", "api_request_start",
        "api_request_end", "snapshot_create_start", "snapshot_create_end", "snapshot_load_start",
        "snapshot_load_end"]
TRACEPOINTS = ["sched_process_exec", "kvm_userspace_exit", "kvm_pio", "kvm_mmio"]


@pytest.fixture(scope="module")
def probes():
    if not kvm_usable():
        loud("SKIPPED: kiln-probe tests: /dev/kvm is not usable")
        pytest.skip("SKIPPED LOUDLY: /dev/kvm not usable")
    ok, why = probe_run.bpf_available()
    if not ok:
        loud(f"SKIPPED: kiln-probe tests: BPF unavailable: {why}")
        pytest.skip(f"SKIPPED LOUDLY: BPF unavailable: {why}")
    return probe_run.probe_binary()


@pytest.fixture
def workdir():
    d = Path(tempfile.mkdtemp(prefix="kiln-probe-test-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def boot_testguest_blk(workdir: Path) -> probe_run.ProbedRun:
    disk = probe_run.make_disk(workdir / "disk.img", 2048)
    cfg = probe_run.kiln_config(workdir, ktg_elf(), "virtio=1 blkwrite=1 exit=reset",
                                drives=[{"drive_id": "d0", "path_on_host": str(disk),
                                         "is_root_device": False, "is_read_only": False}])
    return probe_run.run_probed([kiln_binary(), "--config-file", cfg, "--boot-timer",
                                 "--api-sock", workdir / "api.sock"], workdir, BOOT_TIMEOUT)


def test_testguest_boot_report(probes, workdir):
    r = boot_testguest_blk(workdir)
    rep = r.report
    assert r.rc == 0 and rep["exit_code"] == 0 and not rep["timed_out"], r.log()[-3000:]
    assert "KTG: blk write ok" in r.console()
    for name in TRACEPOINTS + ["usdt:" + u for u in USDT]:
        assert rep["probes"][name]["attached"], (name, rep["probes"][name])

    # Timeline: every point seen, in the order they must happen.
    t = rep["timeline_us"]
    order = ["process_start", "vm_build_start", "vm_build_end", "first_kvm_run", "first_guest_io",
             "boot_timer_write", "boot_timer_device", "last_userspace_exit", "process_end"]
    vals = [t[k] for k in order]
    assert None not in vals, t
    assert vals == sorted(vals) and vals[1] > 0, t
    assert t["api_socket_ready"] is not None and 0 < t["api_socket_ready"] < t["first_kvm_run"], t
    assert rep["vcpu_first_run_us"]["0"] == t["first_kvm_run"], rep["vcpu_first_run_us"]
    # Kernel entry cannot be marked from the host here; the report says what stands in.
    assert t["kernel_entry"] is None and "first_guest_io" in rep["timeline_notes"]["kernel_entry"]

    # Exits by reason agree with kiln's own counters (its kiln-stats line).
    stats = parse_stats(r.log())
    ex = rep["exits"]["total"]
    assert ex["mmio"] == stats["exits"]["mmio_read"] + stats["exits"]["mmio_write"], (ex, stats)
    kiln_io = stats["exits"]["io_in"] + stats["exits"]["io_out"]
    assert abs(ex["io"] - kiln_io) <= max(10, kiln_io // 50), (ex, stats)
    assert 0 < rep["exits"]["during_boot_count"] < rep["exits"]["total_count"]

    # PIO and MMIO by the devices the guest touched.
    pio = rep["pio"]["total"]
    assert pio["serial0"]["out"] > 100 and pio["serial0"]["in"] > 0, pio
    assert pio["i8042"]["out"] == 1, pio
    mmio = rep["mmio"]["total"]
    assert mmio["boot-timer"]["write"] == 1, mmio
    assert mmio["virtio@slot0"]["write"] > 5 and mmio["virtio@slot0"]["read_to_vmm"] > 5, mmio
    assert any(e["addr"] == "0xc0001050" and e["type"] == "write" for e in rep["mmio"]["by_address"])
    assert rep["mmio"]["virtio_driver_ok_us"]["slot0"] > t["boot_timer_write"]

    # virtio-blk: the guest's requests (read, write, readback, past-end, GET_ID, ...).
    lat = {e["kind"]: e for e in rep["virtio_latency"] if e["slot"] == 0 and e["queue"] == 0}
    for kind in ("notify_to_handled", "process", "handled_to_irq", "notify_to_irq"):
        e = lat[kind]
        assert e["count"] >= 5, e
        assert 0 < e["p50_us"] <= e["p90_us"] <= e["p99_us"] <= e["max_us"], e
    assert lat["notify_to_irq"]["p50_us"] >= lat["notify_to_handled"]["p50_us"]

    p = rep["process"]
    assert p["user_cpu_us"] is not None and p["user_cpu_us"] + p["sys_cpu_us"] > 0, p
    assert p["max_rss_kib"] > 1000 and p["rss_after_boot_kib"] > 1000, p
    assert rep["samples_dropped"] == 0


def test_process_without_markers_reports_missing_not_zero(probes, workdir):
    """A binary without kiln's USDT notes: the probes say so, the timeline
    points that need them are null, the tracepoint sections are still there."""
    r = probe_run.run_probed(["/bin/sleep", "0.2"], workdir, 30)
    rep = r.report
    assert r.rc == 0 and rep["exit_code"] == 0
    for u in USDT:
        a = rep["probes"]["usdt:" + u]
        assert not a["attached"] and a["error"], a
    for k in ("vm_build_start", "first_kvm_run", "boot_timer_device"):
        assert rep["timeline_us"][k] is None
        assert "not attached" in rep["timeline_notes"][k]
    assert rep["exits"] is not None and rep["exits"]["total_count"] == 0
    assert rep["virtio_latency"] is None and rep["api_latency"] is None
    assert rep["timeline_us"]["process_end"] > 100000  # slept 0.2 s


def test_timeout_ends_the_child(probes, workdir):
    r = probe_run.run_probed(["/bin/sleep", "30"], workdir, 1)
    assert r.rc == probe_run.EXIT_TIMEOUT and r.report["timed_out"]
    assert r.wall_s < 20


def test_snapshot_create_and_load_on_the_timeline(probes, workdir):
    """The snapshot markers: a tick guest paused and snapshotted under
    kiln-probe, then the snapshot loaded into a second kiln under kiln-probe;
    each report has the start and end of its operation, in order."""
    import threading
    from test_api import curl

    sock, snap, mem = workdir / "api.sock", workdir / "vm.snap", workdir / "vm.mem"
    cfg = probe_run.kiln_config(workdir, ktg_elf(), "tick=1 tick_ms=50")
    errors = []

    def drive():
        try:
            deadline = time.monotonic() + BOOT_TIMEOUT
            while not (workdir / "console.out").exists() or "KTG: tick 3 " not in \
                    (workdir / "console.out").read_text(errors="replace"):
                assert time.monotonic() < deadline, "the guest never ticked"
                time.sleep(0.05)
            assert curl(str(sock), "PATCH", "/vm", '{"state": "Paused"}')[0] == 204
            body = json.dumps({"snapshot_type": "Full", "snapshot_path": str(snap), "mem_file_path": str(mem)})
            status, text, _ = curl(str(sock), "PUT", "/snapshot/create", body)
            assert status == 204, text
        except Exception as e:  # reported by the test body
            errors.append(e)

    t = threading.Thread(target=drive)
    t.start()
    r = probe_run.run_probed([kiln_binary(), "--config-file", cfg, "--api-sock", sock], workdir, 8)
    t.join(30)
    assert not errors, errors
    tl = r.report["timeline_us"]
    assert 0 < tl["snapshot_create_start"] <= tl["snapshot_create_end"], tl
    assert tl["snapshot_load_start"] is None, tl

    load_dir = workdir / "load"
    load_dir.mkdir()
    sock2 = load_dir / "api.sock"

    def load():
        try:
            deadline = time.monotonic() + 30
            while not sock2.exists():
                assert time.monotonic() < deadline, "no API socket"
                time.sleep(0.02)
            body = json.dumps({"snapshot_path": str(snap),
                               "mem_backend": {"backend_type": "File", "backend_path": str(mem)},
                               "resume_vm": True})
            status, text, _ = curl(str(sock2), "PUT", "/snapshot/load", body)
            assert status == 204, text
        except Exception as e:
            errors.append(e)

    t = threading.Thread(target=load)
    t.start()
    r2 = probe_run.run_probed([kiln_binary(), "--api-sock", sock2], load_dir, 6)
    t.join(30)
    assert not errors, errors
    tl2 = r2.report["timeline_us"]
    assert 0 < tl2["snapshot_load_start"] <= tl2["snapshot_load_end"], tl2
    assert "KTG: tick" in (load_dir / "console.out").read_text(errors="replace"), "the restored guest never ticked"


def test_attach_by_pid_sees_api_requests(probes, workdir):
    sock = workdir / "api.sock"
    with open(workdir / "kiln.err", "wb") as err:
        kiln = subprocess.Popen([str(kiln_binary()), "--api-sock", str(sock)], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err)
    probe = None
    try:
        deadline = time.monotonic() + 10
        while not sock.exists():
            assert time.monotonic() < deadline and kiln.poll() is None, "API socket never appeared"
            time.sleep(0.02)
        report = workdir / "pid.json"
        probe = subprocess.Popen([str(probes), "--json", str(report), "--timeout", "4", "--pid",
                                  str(kiln.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        line = probe.stderr.readline().decode()
        assert f"attached to pid {kiln.pid}" in line, line
        for _ in range(5):
            subprocess.run(["curl", "-s", "--max-time", "5", "--unix-socket", str(sock),
                            "http://localhost/machine-config"], check=True, capture_output=True, timeout=10)
        subprocess.run(["curl", "-s", "--max-time", "5", "--unix-socket", str(sock), "-X", "PUT",
                        "http://localhost/machine-config", "-d", "{bad"], check=True, capture_output=True,
                       timeout=10)
        assert probe.wait(timeout=30) == probe_run.EXIT_TIMEOUT
        rep = json.loads(report.read_text())
    finally:
        if probe and probe.poll() is None:
            probe.kill()
            probe.wait(timeout=10)
        kiln.send_signal(signal.SIGTERM)
        try:
            kiln.wait(timeout=10)
        except subprocess.TimeoutExpired:
            kiln.kill()
            kiln.wait(timeout=10)
    api = {e["request"]: e for e in rep["api_latency"]}
    assert api["GET /machine-config"]["count"] == 5, api
    assert api["PUT /machine-config"]["count"] == 1, api
    assert 0 < api["GET /machine-config"]["p50_us"] <= api["GET /machine-config"]["max_us"]
    # Attached late: no process start, so no timeline relative to it; CPU from /proc.
    assert rep["timeline_us"]["process_start"] is None
    assert "unknown" in rep["timeline_notes"]["process_start"]
    assert rep["process"]["max_rss_kib"] > 1000


def test_first_run_per_vcpu(probes, workdir):
    cfg = probe_run.kiln_config(workdir, ktg_elf(), "smp=1 exit=reset", vcpus=4)
    r = probe_run.run_probed([kiln_binary(), "--config-file", cfg, "--no-api"], workdir, BOOT_TIMEOUT)
    assert r.rc == 0, r.log()[-2000:]
    assert "KTG: smp online=4" in r.console()
    runs = r.report["vcpu_first_run_us"]
    # Every vCPU thread enters KVM_RUN (the APs then wait in KVM for INIT/SIPI).
    assert sorted(runs) == ["0", "1", "2", "3"], runs
    assert all(v > 0 for v in runs.values()), runs
    assert min(runs.values()) == r.report["timeline_us"]["first_kvm_run"], runs


def test_stop_after_boot_ends_a_guest_that_never_exits(probes, workdir):
    """--stop-after-boot (for VMMs that keep running after their guest
    reboots): a halted test guest is ended shortly after its boot marker."""
    cfg = probe_run.kiln_config(workdir, ktg_elf(), "exit=halt")
    r = probe_run.run_probed([kiln_binary(), "--config-file", cfg, "--no-api", "--boot-timer"], workdir,
                             BOOT_TIMEOUT, stop_after_boot=0.3)
    rep = r.report
    assert r.rc == 0 and rep["stopped_after_boot"] and not rep["timed_out"], rep
    t = rep["timeline_us"]
    assert t["boot_timer_write"] is not None
    assert t["process_end"] - t["boot_timer_write"] >= 300000
    assert rep["kvm_events"]["kvm_emulate_insn"] is not None
