import os
import shutil
import tempfile
from pathlib import Path

import pytest

from kiln_harness import LOUD_MESSAGES, KilnRun, NetNs, kiln_binary, kvm_usable, loud, netns_usable


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def kiln(workdir):
    """Factory: kiln(args...) starts kiln in workdir; all are ended at teardown."""
    runs = []

    def start(*args, **kw):
        if not kiln_binary().exists():
            pytest.fail(f"kiln binary missing at {kiln_binary()} (set KILN_BUILD)")
        r = KilnRun(args, workdir, **kw)
        runs.append(r)
        return r

    yield start
    for r in runs:
        r.close()


@pytest.fixture
def netns():
    """A network namespace with a TAP "ktap0", deleted after the test."""
    if not netns_usable():
        loud("SKIPPED: no root, /dev/net/tun or ip(8): network-namespace TAP tests did NOT run")
        pytest.skip("SKIPPED LOUDLY: cannot create a network namespace with a TAP")
    ns = NetNs()
    yield ns
    ns.close()


@pytest.fixture
def need_kvm():
    if not kvm_usable():
        loud("SKIPPED: /dev/kvm is not usable on this host; KVM boot tests did NOT run")
        pytest.skip("SKIPPED LOUDLY: /dev/kvm not usable")


def pytest_terminal_summary(terminalreporter):
    """Tests that could not run here say so in a banner nobody can miss."""
    if not LOUD_MESSAGES:
        return
    bar = "!" * 78
    terminalreporter.write_line(bar, red=True, bold=True)
    for msg in LOUD_MESSAGES:
        terminalreporter.write_line(f"!! {msg}", red=True, bold=True)
    terminalreporter.write_line(bar, red=True, bold=True)
