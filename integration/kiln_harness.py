"""Running kiln from tests: configs, processes with timeouts, console capture.

Every wait has a deadline; a kiln that outlives its test is ended by its PID
(only processes this harness started).
"""
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = Path(os.environ.get("KILN_BUILD", ROOT / "build"))
IMAGES = Path(os.environ.get("KILN_IMAGES", Path.home() / ".cache" / "kiln" / "images"))
NETNS_PEER = Path(__file__).resolve().parent / "netns_peer.py"
_netns_seq = itertools.count()


def kiln_binary() -> Path:
    return BUILD / "vmm" / "core" / "kiln"


def ktg_elf() -> Path:
    return BUILD / "guest-images" / "testguest" / "testguest.elf"


def kvm_usable() -> bool:
    return os.access("/dev/kvm", os.R_OK | os.W_OK)


def is_pvm_host() -> bool:
    return Path("/sys/module/kvm_pvm").exists()


LOUD_MESSAGES: list = []


def loud(msg: str) -> None:
    """Record a message that conftest prints as a banner at the end of the run
    (pytest captures anything printed during a test)."""
    if msg not in LOUD_MESSAGES:
        LOUD_MESSAGES.append(msg)


class KilnRun:
    """A kiln process with its console and log collected in the background."""

    def __init__(self, args, workdir: Path, stdin=subprocess.DEVNULL, netns=None):
        self.workdir = workdir
        self.out_path = workdir / "console.out"
        self.err_path = workdir / "kiln.err"
        self._out = open(self.out_path, "wb")
        self._err = open(self.err_path, "wb")
        self.start = time.monotonic()
        # `ip netns exec` execs kiln in place: the PID is kiln's.
        prefix = ["ip", "netns", "exec", netns] if netns else []
        self.proc = subprocess.Popen(
            prefix + [str(kiln_binary())] + list(args),
            stdin=stdin, stdout=self._out, stderr=self._err, cwd=workdir)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def console(self) -> str:
        return self.out_path.read_bytes().decode(errors="replace")

    def log(self) -> str:
        return self.err_path.read_bytes().decode(errors="replace")

    def wait_for(self, pattern: str, timeout: float, source: str = "console") -> re.Match:
        """Wait until the regex appears in the console (or log); fail on exit or deadline."""
        rx = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        while True:
            text = self.console() if source == "console" else self.log()
            m = rx.search(text)
            if m:
                return m
            if self.proc.poll() is not None:
                text = self.console() if source == "console" else self.log()
                m = rx.search(text)
                if m:
                    return m
                raise AssertionError(
                    f"kiln exited ({self.proc.returncode}) before /{pattern}/ appeared\n"
                    f"--- console tail ---\n{self.console()[-3000:]}\n--- log tail ---\n{self.log()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"/{pattern}/ not seen within {timeout:.0f}s\n"
                    f"--- console tail ---\n{self.console()[-3000:]}\n--- log tail ---\n{self.log()[-3000:]}")
            time.sleep(0.05 if timeout < 30 else 0.5)

    def wait_exit(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"kiln did not exit within {timeout:.0f}s\n--- console tail ---\n"
                f"{self.console()[-3000:]}\n--- log tail ---\n{self.log()[-3000:]}")

    def kill(self, sig=signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)

    def close(self) -> None:
        self.kill()
        self._out.close()
        self._err.close()


def write_config(workdir: Path, kernel, boot_args=None, initrd=None, vcpus=1, mem_mib=128,
                 extra=None) -> Path:
    boot = {"kernel_image_path": str(kernel)}
    if boot_args is not None:
        boot["boot_args"] = boot_args
    if initrd is not None:
        boot["initrd_path"] = str(initrd)
    cfg = {"boot-source": boot, "machine-config": {"vcpu_count": vcpus, "mem_size_mib": mem_mib}}
    if extra:
        cfg.update(extra)
    path = workdir / "vm.json"
    path.write_text(json.dumps(cfg, indent=2))
    return path


def parse_stats(log: str) -> dict:
    m = re.search(r"kiln-stats (\{.*\})", log)
    return json.loads(m.group(1)) if m else {}


class NetNs:
    """A network namespace of the test's own with one TAP in it (no address
    outside the namespace; nothing leaves it).  Deleted by close()."""

    def __init__(self, tap="ktap0"):
        self.name = f"kiln-test-{os.getpid()}-{next(_netns_seq)}"
        self.tap = tap
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        try:
            self.run("ip", "tuntap", "add", tap, "mode", "tap")
            self.run("ip", "link", "set", tap, "up")
            self.run("ip", "link", "set", "lo", "up")
        except Exception:
            self.close()
            raise

    def run(self, *cmd, **kw):
        return subprocess.run(["ip", "netns", "exec", self.name, *cmd], check=True,
                              capture_output=True, timeout=30, **kw)

    def peer(self, *args) -> subprocess.Popen:
        """Starts netns_peer.py MODE ARGS... inside the namespace (the host
        side of the Linux guest's network checks); see peer_result()."""
        return subprocess.Popen(["ip", "netns", "exec", self.name, sys.executable, str(NETNS_PEER),
                                 *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def close(self):
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=30)


def peer_result(p: subprocess.Popen, timeout: float) -> dict:
    """The JSON line a NetNs.peer() process prints last; fails if it does not
    end in time (it is killed then) or ends without one."""
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate(timeout=10)
        raise AssertionError(f"netns peer did not finish in {timeout}s: {out} {err}")
    lines = [l for l in out.splitlines() if l.startswith("{")]
    if p.returncode != 0 or not lines:
        raise AssertionError(f"netns peer failed ({p.returncode}): {out} {err}")
    return json.loads(lines[-1])


def netns_usable() -> bool:
    return os.geteuid() == 0 and os.path.exists("/dev/net/tun") and shutil.which("ip") is not None
