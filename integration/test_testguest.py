"""kiln's own behaviour, checked with the tiny test guest (boots in milliseconds
even where KVM is emulated)."""
import json
import re
import signal

import pytest

from kiln_harness import is_pvm_host, ktg_elf, parse_stats, write_config

BOOT_TIMEOUT = 60  # the guest needs well under a second; this is for loaded hosts

# RAM the guest should see: all of it but the EBDA/BIOS hole [0x9fc00, 1 MiB).
HOLE = 0x100000 - 0x9fc00


def boot(kiln, workdir, cmdline="", vcpus=1, mem_mib=128, flags=()):
    cfg = write_config(workdir, ktg_elf(), boot_args=cmdline, vcpus=vcpus, mem_mib=mem_mib)
    return kiln("--config-file", str(cfg), "--no-api", *flags)


def ktg(console: str, key: str) -> str:
    m = re.search(rf"^KTG: {key}(.*)$", console, re.M)
    assert m, f"no 'KTG: {key}' line in console:\n{console}"
    return m.group(1).strip()


@pytest.mark.parametrize("vcpus", [1, 4, 32])
def test_boots_and_sees_configured_cpus_and_memory(kiln, workdir, need_kvm, vcpus):
    r = boot(kiln, workdir, "smp=1 exit=reset", vcpus=vcpus, mem_mib=128)
    assert r.wait_exit(BOOT_TIMEOUT) == 0, r.log()
    out = r.console()
    assert "KTG: hello" in out
    assert ktg(out, "cmdline=") == "smp=1 exit=reset"
    mp = ktg(out, "mptable ")
    assert f"cpus={vcpus}" in mp and "ioapic=0xfec00000" in mp, mp
    mem = int(re.search(r"^KTG: mem=(\d+)", out, re.M).group(1))
    assert mem == 128 * 2**20 - HOLE, f"guest saw {mem} bytes of RAM"
    assert ktg(out, "smp online=") == str(vcpus)
    for cpu in range(1, vcpus):
        assert re.search(rf"^KTG: cpu {cpu} online", out, re.M), out
    assert "KTG: done" in out
    # kiln's CPUID table reaches the guest: APIC id 0 and the vCPU count in leaf 1.
    ebx = int(re.search(r"^KTG: cpuid 1 ebx=(0x[0-9a-f]+)", out, re.M).group(1), 16)
    assert ebx >> 24 == 0 and (ebx >> 16) & 0xff == vcpus
    for cpu in range(1, vcpus):
        assert re.search(rf"^KTG: cpu {cpu} online cpuid_apic={cpu} x2apic={cpu}", out, re.M), out


def test_pvm_hides_pv_features_it_does_not_serve(kiln, workdir, need_kvm):
    r = boot(kiln, workdir, "exit=reset")
    assert r.wait_exit(BOOT_TIMEOUT) == 0
    kvm = int(re.search(r"^KTG: cpuid .* kvm eax=(0x[0-9a-f]+)", r.console(), re.M).group(1), 16)
    pv_unhalt, pv_send_ipi, pv_sched_yield = 1 << 7, 1 << 11, 1 << 13
    if is_pvm_host():
        assert kvm & (pv_unhalt | pv_send_ipi | pv_sched_yield) == 0, hex(kvm)
    else:
        assert kvm & pv_send_ipi, "hardware KVM keeps PV IPIs"


def test_memory_above_the_mmio_gap(kiln, workdir, need_kvm):
    r = boot(kiln, workdir, "exit=reset", mem_mib=4096)
    assert r.wait_exit(BOOT_TIMEOUT) == 0, r.log()
    out = r.console()
    mem = int(re.search(r"^KTG: mem=(\d+)", out, re.M).group(1))
    assert mem == 4096 * 2**20 - HOLE
    # 3 GiB below the gap, 1 GiB above 4 GiB, nothing inside [3 GiB, 4 GiB).
    assert re.search(r"^KTG: e820 (0x)?100000000 (0x)?40000000 1$", out, re.M), out
    for m in re.finditer(r"^KTG: e820 (?:0x)?([0-9a-f]+) (?:0x)?([0-9a-f]+) 1$", out, re.M):
        start, size = int(m.group(1), 16), int(m.group(2), 16)
        assert start + size <= 0xC0000000 or start >= 0x100000000, m.group(0)


def test_boot_timer_logs_firecracker_line(kiln, workdir, need_kvm):
    r = boot(kiln, workdir, "exit=reset", flags=("--boot-timer",))
    assert r.wait_exit(BOOT_TIMEOUT) == 0
    m = re.search(r"Guest-boot-time = +(\d+) us (\d+) ms, (\d+) CPU us (\d+) CPU ms", r.log())
    assert m, r.log()
    us, ms = int(m.group(1)), int(m.group(2))
    assert ms == us // 1000
    assert parse_stats(r.log())["boot_timer_us"] == us


def test_no_boot_timer_without_flag(kiln, workdir, need_kvm):
    r = boot(kiln, workdir, "exit=reset")
    assert r.wait_exit(BOOT_TIMEOUT) == 0
    assert "KTG: boot-timer poked" in r.console()
    assert "Guest-boot-time" not in r.log()


def test_triple_fault_ends_vm_cleanly(kiln, workdir, need_kvm):
    r = boot(kiln, workdir, "exit=triple")
    assert r.wait_exit(BOOT_TIMEOUT) == 0, r.log()
    assert "triple fault" in r.log()


def test_unclaimed_io_does_not_hurt(kiln, workdir, need_kvm):
    r = boot(kiln, workdir, "exit=bad-io")
    assert r.wait_exit(BOOT_TIMEOUT) == 0, r.log()
    assert "KTG: done" in r.console()


def test_halted_guest_stops_on_sigterm(kiln, workdir, need_kvm):
    r = boot(kiln, workdir, "exit=halt", vcpus=2)
    r.wait_for(r"^KTG: done", BOOT_TIMEOUT)
    r.kill(signal.SIGTERM)
    assert r.proc.returncode == 128 + signal.SIGTERM
    assert "stopping the VM" in r.log()
    assert "kiln-stats" in r.log()


def test_exit_counts_reported(kiln, workdir, need_kvm):
    r = boot(kiln, workdir, "exit=reset")
    assert r.wait_exit(BOOT_TIMEOUT) == 0
    stats = parse_stats(r.log())
    # Every console byte is one port write; the guest printed at least its lines.
    assert stats["exits"]["io_out"] >= len(r.console())
    assert stats["main_to_first_run_us"] > 0


def test_config_file_logger_and_metrics_sections(kiln, workdir, need_kvm):
    """The config file's "logger" and "metrics" work as PUT /logger and
    PUT /metrics would: a log file with levels, and metrics lines at exit."""
    log_path, met_path = workdir / "kiln.log", workdir / "metrics.json"
    cfg = write_config(workdir, ktg_elf(), boot_args="exit=reset", extra={
        "logger": {"log_path": str(log_path), "level": "Debug", "show_level": True},
        "metrics": {"metrics_path": str(met_path)},
    })
    r = kiln("--config-file", str(cfg), "--no-api")
    assert r.wait_exit(BOOT_TIMEOUT) == 0, r.log()
    text = log_path.read_text()
    assert re.search(r"\[DEBUG\]|:DEBUG|DEBUG", text), text[:2000]
    assert "kiln-stats" in text
    lines = [json.loads(l) for l in met_path.read_text().splitlines() if l.strip()]
    assert lines, "no metrics line written"
    assert "vcpu" in json.dumps(lines[-1]) or "exits" in json.dumps(lines[-1]), lines[-1]


def test_config_file_bad_logger_section_is_a_usage_error(kiln, workdir):
    cfg = write_config(workdir, ktg_elf(), extra={"logger": {"level": "Loud"}})
    r = kiln("--config-file", str(cfg), "--no-api")
    assert r.wait_exit(BOOT_TIMEOUT) == 2
    assert "logger.level" in r.log()
