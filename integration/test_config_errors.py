"""Malformed configurations: a one-line error naming the problem, exit 2, no crash.

These fail before KVM is touched, so they run on any host."""
import json

import pytest

from kiln_harness import ktg_elf

GOOD_KERNEL = None  # filled per test from the built test guest


def cfg_text(workdir, doc):
    p = workdir / "vm.json"
    p.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return p


def base(kernel):
    return {"boot-source": {"kernel_image_path": str(kernel)},
            "machine-config": {"vcpu_count": 1, "mem_size_mib": 128}}


CASES = [
    ("malformed json", lambda k: '{"boot-source": {', "json"),
    ("not an object", lambda k: "[1, 2]", ""),
    ("empty file", lambda k: "", ""),
    ("missing boot-source", lambda k: {"machine-config": {"vcpu_count": 1, "mem_size_mib": 128}}, "boot-source"),
    ("missing kernel field", lambda k: {"boot-source": {}}, "kernel_image_path"),
    ("kernel file missing", lambda k: {"boot-source": {"kernel_image_path": "/nonexistent/vmlinux"}}, "kernel_image_path"),
    ("initrd file missing", lambda k: {"boot-source": {"kernel_image_path": str(k), "initrd_path": "/nonexistent/initrd"}}, "initrd_path"),
    ("vcpu_count 0", lambda k: {**base(k), "machine-config": {"vcpu_count": 0, "mem_size_mib": 128}}, "vcpu_count"),
    ("vcpu_count 64", lambda k: {**base(k), "machine-config": {"vcpu_count": 64, "mem_size_mib": 128}}, "vcpu_count"),
    ("vcpu_count string", lambda k: {**base(k), "machine-config": {"vcpu_count": "2", "mem_size_mib": 128}}, "vcpu_count"),
    ("vcpu_count fraction", lambda k: {**base(k), "machine-config": {"vcpu_count": 1.5, "mem_size_mib": 128}}, "vcpu_count"),
    ("mem too small", lambda k: {**base(k), "machine-config": {"vcpu_count": 1, "mem_size_mib": 1}}, "mem_size_mib"),
    ("mem negative", lambda k: {**base(k), "machine-config": {"vcpu_count": 1, "mem_size_mib": -5}}, "mem_size_mib"),
    ("unknown top-level field", lambda k: {**base(k), "bogus": 1}, "bogus"),
    ("unknown machine field", lambda k: {**base(k), "machine-config": {"vcpu_count": 1, "mem_size_mib": 128, "cpus": 2}}, "cpus"),
    ("unknown boot field", lambda k: {"boot-source": {"kernel_image_path": str(k), "kernel": "x"}}, "kernel"),
    ("boot_args wrong type", lambda k: {"boot-source": {"kernel_image_path": str(k), "boot_args": 5}}, "boot_args"),
    ("smt with odd vcpus", lambda k: {**base(k), "machine-config": {"vcpu_count": 3, "mem_size_mib": 128, "smt": True}}, "vcpu"),
]


@pytest.mark.parametrize("name,make,needle", CASES, ids=[c[0] for c in CASES])
def test_bad_config_is_refused_cleanly(kiln, workdir, name, make, needle):
    path = cfg_text(workdir, make(ktg_elf()))
    r = kiln("--config-file", str(path), "--no-api")
    code = r.wait_exit(timeout=20)
    err = r.log().strip()
    assert code == 2, f"{name}: exit {code}, stderr: {err}"
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1, f"{name}: expected one error line, got: {err!r}"
    assert needle.lower() in lines[0].lower(), f"{name}: error does not name '{needle}': {lines[0]}"


def test_unreadable_config_file(kiln, workdir):
    r = kiln("--config-file", str(workdir / "missing.json"), "--no-api")
    assert r.wait_exit(timeout=20) == 2
    assert "missing.json" in r.log()


def test_config_file_is_a_directory(kiln, workdir):
    r = kiln("--config-file", str(workdir), "--no-api")
    assert r.wait_exit(timeout=20) == 2


def test_garbage_kernel_is_refused(kiln, workdir, need_kvm):
    junk = workdir / "junk.bin"
    junk.write_bytes(b"\x7fELF" + b"\xff" * 200)
    path = cfg_text(workdir, base(junk))
    r = kiln("--config-file", str(path), "--no-api")
    code = r.wait_exit(timeout=30)
    assert code == 1, r.log()
    assert "junk.bin" in r.log()


def test_unknown_cli_flag(kiln):
    r = kiln("--frobnicate")
    assert r.wait_exit(timeout=20) == 2
