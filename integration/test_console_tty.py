"""The serial console on a real terminal: raw mode while the VM runs, the
terminal's settings restored on every way out."""
import os
import pty
import signal
import subprocess
import termios
import time

from kiln_harness import kiln_binary, ktg_elf, write_config


def run_on_pty(workdir, cmdline, stop_with_signal=False):
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    cfg = write_config(workdir, ktg_elf(), boot_args=cmdline)
    proc = subprocess.Popen([str(kiln_binary()), "--config-file", str(cfg), "--no-api"],
                            stdin=slave, stdout=slave, stderr=subprocess.PIPE)
    output = b""
    deadline = time.monotonic() + 60
    raw_seen = False
    try:
        while time.monotonic() < deadline:
            if not raw_seen:
                raw_seen = not (termios.tcgetattr(slave)[3] & termios.ICANON)
            try:
                os.set_blocking(master, False)
                output += os.read(master, 65536)
            except BlockingIOError:
                pass
            except OSError:
                break
            if stop_with_signal and b"KTG: done" in output:
                proc.send_signal(signal.SIGTERM)
                stop_with_signal = False
            if proc.poll() is not None:
                break
            time.sleep(0.01)
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    after = termios.tcgetattr(slave)
    os.close(master)
    os.close(slave)
    return code, before, after, raw_seen, output


def test_terminal_restored_after_guest_reset(workdir, need_kvm):
    code, before, after, raw_seen, out = run_on_pty(workdir, "exit=reset")
    assert code == 0
    assert b"KTG: done" in out
    # (The guest lives ~30 ms, too short to be sure to see raw mode from here;
    # the SIGTERM case below checks raw mode is entered.)
    assert after == before


def test_terminal_restored_after_sigterm(workdir, need_kvm):
    code, before, after, raw_seen, out = run_on_pty(workdir, "exit=halt", stop_with_signal=True)
    assert code == 128 + signal.SIGTERM
    assert raw_seen, "kiln never put the terminal in raw mode"
    assert after == before


def test_terminal_restored_after_vm_error(workdir, need_kvm):
    # A config whose kernel cannot load: kiln fails after opening KVM.
    junk = workdir / "junk.elf"
    junk.write_bytes(b"\x7fELF" + b"\0" * 100)
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    cfg = write_config(workdir, junk)
    proc = subprocess.run([str(kiln_binary()), "--config-file", str(cfg), "--no-api"],
                          stdin=slave, stdout=slave, stderr=subprocess.PIPE, timeout=30)
    assert proc.returncode == 1
    assert termios.tcgetattr(slave) == before
    os.close(master)
    os.close(slave)
