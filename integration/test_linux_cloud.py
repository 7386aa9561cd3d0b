"""The stock Debian cloud kernel (a bzImage as distributions ship it).

On hardware KVM it boots to init.  On PVM it cannot: its boot-time INT3
self-test runs int3 at CPL0, which PVM's emulator cannot execute.  There the
test checks what a user must get instead: kiln stops with exit code 1 and a
clear report of the emulation failure (exit reason, RIP, instruction bytes),
never a hang or a silent pause."""
import re

import pytest

from kiln_harness import is_pvm_host, write_config
from linux_images import CLOUD_DIR, INITRAMFS, LINUX_TIMEOUT, need

pytestmark = pytest.mark.linux


def test_debian_cloud_bzimage(kiln, workdir, need_kvm):
    cfg = write_config(workdir, need(CLOUD_DIR / "bzImage"), boot_args="console=ttyS0 reboot=k panic=1",
                       initrd=need(INITRAMFS), vcpus=1, mem_mib=512)
    r = kiln("--config-file", str(cfg), "--no-api")
    if not is_pvm_host():
        r.wait_for(r"Run /init as init process", LINUX_TIMEOUT)
        assert r.wait_exit(180) == 0
        return
    code = r.wait_exit(LINUX_TIMEOUT)
    log = r.log()
    assert code == 1, log[-2000:]
    m = re.search(r"VM failed: vcpu0: KVM internal error suberror=1 \(emulation failure\).*"
                  r"rip=(0x[0-9a-f]+).*bytes@rip=([0-9a-f]+)", log)
    assert m, log[-2000:]
    assert m.group(2).startswith("cc"), "expected to stop at the int3 self-test"
    assert "Linux version" in r.console(), "the kernel ran before it stopped"
