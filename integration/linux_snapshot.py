"""One Linux boot for the whole user-space tier, restored for each test.

Under PVM a Linux guest takes about a minute to reach user space, so the
suite boots it once per session: the rootfs agent (kiln.agent=serve) with
every device kind -- a rate-limited data drive, a rate-limited NIC on a TAP
in a namespace of the session's own, vsock, a balloon with statistics and
an entropy device -- and 2 vCPUs.  Once the agent has answered a "clock"
line (the guest's CLOCK_MONOTONIC at the snapshot) and waits for the next,
the VM is paused and snapshotted (Full), and that kiln ends.

Each test then restores the snapshot into a fresh kiln of its own in its own
network namespace (network_overrides puts the NIC on the test's TAP,
vsock_override moves the vsock socket), feeds check lists to the agent
through kiln's standard input and reads the KILN-CHECK lines from the
console.  The data drive is put back to its snapshot-time content before
every restore, so each restored guest's page cache matches its disk.

The snapshot and its files live in a /tmp directory of the session's (vsock
socket paths must be short), removed at the end of the session."""
import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from kiln_harness import IMAGES, KilnRun, NetNs, write_config
from linux_images import LINUX_ARGS, LINUX_TIMEOUT
from test_api import ok, wait_api

ROOTFS_CPIO = IMAGES / "rootfs" / "rootfs.cpio"
VCPUS, MEM_MIB = 2, 128
GUEST_MAC = "06:00:0a:c9:00:02"
VSOCK_CID = 3
DATA_DISK_MIB = 32
BOOT_TAP = "kboot0"       # the NIC's TAP at snapshot time; restores override it
CMDLINE_MARKER = "kiln.marker=42"
STEP_TIMEOUT = 180        # one guest step the host waits for (slow under PVM)

# Rate limiters: Firecracker's token bucket, refill rate = size / refill_time.
BLK_BUCKET = {"size": 256 * 1024, "refill_time": 250}   # 1 MiB/s
NET_BUCKET = {"size": 16 * 1024, "refill_time": 250}    # 64 KiB/s

SERVING = r"^kiln-init: serving\r?$"


def api_call(sock: str, method: str, path: str, body=None):
    """One mutating request with a JSON body; it must answer 204."""
    ok(sock, method, path, json.dumps(body) if body is not None else None)


class UserspaceSnapshot:
    """The session's booted-and-snapshotted Linux guest (see the module docstring)."""

    def __init__(self, kernel: Path):
        self.dir = Path(tempfile.mkdtemp(prefix="kiln-us-", dir="/tmp"))
        self.data = self.dir / "data.img"
        self.pristine = self.dir / "data.pristine"
        self.vmstate = self.dir / "vm.vmstate"
        self.mem = self.dir / "vm.mem"
        self.boot_s = 0.0
        self.mono_ms = 0          # the guest's CLOCK_MONOTONIC just before the snapshot
        self.snapshot_at = 0.0    # host time.monotonic() when the snapshot was written
        self.snapshot_ms = 0.0
        with open(self.data, "wb") as f:
            f.truncate(DATA_DISK_MIB << 20)
        ns = NetNs(tap=BOOT_TAP)
        try:
            self._boot_and_snapshot(kernel, ns)
        except BaseException:
            self.close()
            raise
        finally:
            ns.close()
        shutil.copyfile(self.data, self.pristine)

    def _boot_and_snapshot(self, kernel: Path, ns: NetNs):
        extra = {
            "drives": [{"drive_id": "data", "path_on_host": str(self.data), "is_root_device": False,
                        "is_read_only": False, "rate_limiter": {"bandwidth": BLK_BUCKET}}],
            "network-interfaces": [{"iface_id": "eth0", "host_dev_name": BOOT_TAP, "guest_mac": GUEST_MAC,
                                    "tx_rate_limiter": {"bandwidth": NET_BUCKET}}],
            "vsock": {"guest_cid": VSOCK_CID, "uds_path": str(self.dir / "boot.vsock")},
            "balloon": {"amount_mib": 0, "deflate_on_oom": False, "stats_polling_interval_s": 1},
            "entropy": {},
        }
        args = f"{LINUX_ARGS} rdinit=/sbin/init kiln.agent=serve {CMDLINE_MARKER}"
        cfg = write_config(self.dir, kernel, boot_args=args, initrd=ROOTFS_CPIO, vcpus=VCPUS,
                           mem_mib=MEM_MIB, extra=extra)
        sock = str(self.dir / "boot.sock")
        r = KilnRun(["--config-file", str(cfg), "--api-sock", sock], self.dir, netns=ns.name,
                    stdin=subprocess.PIPE)
        try:
            wait_api(r, sock)
            start = time.monotonic()
            r.wait_for(SERVING, LINUX_TIMEOUT)
            self.boot_s = time.monotonic() - start
            # The guest's clock as the snapshot catches it: restored guests go on from here.
            r.proc.stdin.write(b"clock\n")
            r.proc.stdin.flush()
            m = r.wait_for(r"^KILN-CHECK clock PASS mono_ms=(\d+)", STEP_TIMEOUT)
            self.mono_ms = int(m.group(1))
            deadline = time.monotonic() + STEP_TIMEOUT
            while len(re.findall(SERVING, r.console(), re.M)) < 2:
                assert time.monotonic() < deadline and r.proc.poll() is None, r.console()[-3000:]
                time.sleep(0.1)
            api_call(sock, "PATCH", "/vm", {"state": "Paused"})
            start = time.monotonic()
            api_call(sock, "PUT", "/snapshot/create", {"snapshot_type": "Full",
                                                        "snapshot_path": str(self.vmstate),
                                                        "mem_file_path": str(self.mem)})
            self.snapshot_ms = (time.monotonic() - start) * 1000
            self.snapshot_at = time.monotonic()
        finally:
            r.close()

    def restore(self, kiln, ns: NetNs, sock_dir: Path, metrics: Path = None) -> "RestoredGuest":
        """A fresh kiln in ns restored from the snapshot and running; the
        NIC on ns.tap, vsock on sock_dir/v.sock, the data drive as it was."""
        shutil.copyfile(self.pristine, self.data)
        uds = sock_dir / "v.sock"
        uds.unlink(missing_ok=True)  # a previous restore's; kiln binds a fresh one
        api = str(sock_dir / "api.sock")
        args = ["--api-sock", api] + (["--metrics-path", str(metrics)] if metrics else [])
        r = kiln(*args, netns=ns.name, stdin=subprocess.PIPE)
        wait_api(r, api)
        start = time.monotonic()
        api_call(api, "PUT", "/snapshot/load", {
            "snapshot_path": str(self.vmstate),
            "mem_backend": {"backend_type": "File", "backend_path": str(self.mem)},
            "resume_vm": True,
            "network_overrides": [{"iface_id": "eth0", "host_dev_name": ns.tap}],
            "vsock_override": {"uds_path": str(uds)},
        })
        return RestoredGuest(r, api, uds, (time.monotonic() - start) * 1000)

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class RestoredGuest:
    """A restored VM whose agent takes check lists on the console."""

    def __init__(self, run: KilnRun, api: str, uds: Path, restore_ms: float):
        self.run, self.api, self.uds, self.restore_ms = run, api, uds, restore_ms
        self.done = 0  # KILN-CHECK-DONE lines consumed so far

    def send(self, checks) -> None:
        """Starts a check list (names as in kiln-init.c's check_table)."""
        self.run.proc.stdin.write((",".join(checks) + "\n").encode())
        self.run.proc.stdin.flush()

    def wait_done(self, timeout: float = STEP_TIMEOUT) -> list:
        """Waits for the next KILN-CHECK-DONE; that list's check lines in
        order, each as its key=value words plus _name, _pass and _line."""
        deadline = time.monotonic() + timeout
        rx = re.compile(r"^KILN-CHECK-DONE pass=(\d+) fail=(\d+)\r?$", re.M)
        while True:
            text = self.run.console()
            dones = list(rx.finditer(text))
            if len(dones) > self.done:
                break
            assert self.run.proc.poll() is None, \
                f"kiln exited {self.run.proc.returncode}\n{text[-3000:]}\n{self.run.log()[-3000:]}"
            assert time.monotonic() < deadline, \
                f"no KILN-CHECK-DONE within {timeout:.0f}s\n{text[-3000:]}\n{self.run.log()[-3000:]}"
            time.sleep(0.1)
        start = dones[self.done - 1].end() if self.done else 0
        self.done += 1
        lines = []
        for m in re.finditer(r"^KILN-CHECK (\S+) (PASS|FAIL) ?(.*?)\r?$", text[start:dones[self.done - 1].end()],
                             re.M):
            words = dict(w.split("=", 1) for w in m.group(3).split() if "=" in w)
            words.update(_name=m.group(1), _pass=m.group(2) == "PASS", _line=m.group(0))
            lines.append(words)
        return lines

    def reboot(self, timeout: float = STEP_TIMEOUT) -> int:
        """Asks the agent to reboot (reboot=k: kiln exits); kiln's exit code."""
        self.run.proc.stdin.write(b"reboot\n")
        self.run.proc.stdin.flush()
        return self.run.wait_exit(timeout)
