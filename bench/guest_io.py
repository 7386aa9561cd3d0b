#!/usr/bin/env python3
"""Device throughput from inside a Linux guest, next to the same work on the host.

One boot of our microVM kernel with the rootfs agent (guest-images/rootfs,
kiln.agent=checks) and three devices: a data drive (a file of random bytes),
a NIC on a TAP in a network namespace this bench creates (addresses only
inside it, deleted at the end) and vsock.  The agent measures, in order:

  blk seq read      blkseq:vda:S     O_DIRECT 128 KiB reads for S seconds
  blk rand 4K read  blkrand:vda:S    O_DIRECT 4 KiB reads at random offsets
  tcp host->guest   tcprecv          guest clock, first byte to EOF
  tcp guest->host   tcpsend          host clock, first to last byte received
  vsock host->guest vsockrecv        guest clock, first byte to EOF
  vsock guest->host vsocksend        host clock, first to last byte received

The host column is the same work without the VM: the data file read with
O_DIRECT for the same seconds and request sizes (a Python os.preadv loop over
a page-aligned buffer), TCP over loopback inside the namespace, and a Unix
stream socket pair (what kiln's vsock becomes on the host) for vsock; the
host streams carry --host-mib MiB (the guest's few MiB take milliseconds
there, too short to time).  The table prints guest, host and guest/host.

kiln reads the drive's file through the host page cache (no O_DIRECT), so the
guest's block figures are "guest over a cached file" against the host's
uncached O_DIRECT reads of the same file.

--qemu boots, after the kiln run, the same kernel and initrd under
`qemu-system-x86_64 -M microvm -enable-kvm` (bench/qemu_compare.py's command,
with the KVM PV features kiln hides on PVM off, plus -smp --vcpus and
-machine acpi=off: our kernel has no ACPI, and without it QEMU puts its
virtio-mmio devices on the command line as kiln does) with the very command
line kiln gave its guest (from kiln's log, less kiln's virtio_mmio.device=
words), and runs the same checks against the same host ends:

  block  virtio-blk-device on a copy of the data file, read-only, format=raw,
         cache=writeback, aio=threads: QEMU reads through the host page cache
         with preadv from its thread pool, as kiln's Sync engine does
         (cache=none would add O_DIRECT on the host, which kiln does not do)
  net    virtio-net-device with the same MAC on the same TAP in the same
         namespace (`-netdev tap,...,script=no,downscript=no,vhost=off`, QEMU
         started with `ip netns exec` as kiln is): the device model in user
         space, as kiln's, not vhost-net in the host kernel
  vsock  vhost-vsock-device (guest CID 3), the host ends as AF_VSOCK sockets;
         only with /dev/vhost-vsock: without it the kiln.check=vsock* words
         are dropped from QEMU's command line and the vsock rows say so

The table then gains a qemu column and kiln/qemu (the guest column over the
qemu column), and --json "qemu" (QEMU's raw figures) and "kiln_qemu" (the
ratios by row).  The agent reboots through the i8042 at the end, which QEMU's
microvm lacks: QEMU is ended by its PID once the agent's last line is out.

  KILN_BUILD=<build dir> bench/guest_io.py [--seconds S] [--net-kib K]
      [--vsock-kib K] [--host-mib M] [--disk-mib M] [--vcpus V] [--mem MIB] [--qemu] [--json]
"""
import argparse
import json
import mmap
import os
import random
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
from kiln_harness import (IMAGES, KilnRun, NetNs, kiln_binary, netns_usable, peer_result,  # noqa: E402
                          write_config)
from qemu_compare import QEMU, kiln_final_cmdline, qemu_cmd, qemu_works  # noqa: E402

KERNEL = IMAGES / "kernel" / "vmlinux"
ROOTFS_CPIO = IMAGES / "rootfs" / "rootfs.cpio"
LINUX_ARGS = "console=ttyS0 reboot=k panic=1 i8042.noaux i8042.nomux i8042.dumbkbd"
BOOT_TIMEOUT = 600          # kernel to the agent (40-50 s under PVM, slower when loaded)
STEP_TIMEOUT = 300          # one measurement, guest side included
GUEST_MAC = "06:00:0a:ca:00:02"
HOST_IP, GUEST_IP, PREFIX = "10.202.0.1", "10.202.0.2", 24
VSOCK_CID = 3
H2G_TCP_PORT, G2H_TCP_PORT, LO_TCP_PORT = 7100, 7101, 7102
H2G_VSOCK_PORT, G2H_VSOCK_PORT = 5100, 5101
SEQ_REQ, RAND_REQ = 128 * 1024, 4096
CHUNK = 64 * 1024
VHOST_VSOCK = Path("/dev/vhost-vsock")


# ---------------------------------------------------------------- host side

def data_file(path: Path, mib: int) -> Path:
    """Random bytes, written out and synced (a sparse file reads as holes)."""
    with open(path, "wb") as f:
        for _ in range(mib):
            f.write(os.urandom(1 << 20))
        f.flush()
        os.fsync(f.fileno())
    return path


def host_direct_read(path: Path, seconds: float, req: int, rand: bool) -> dict:
    """O_DIRECT reads of `req` bytes for `seconds`: sequential (wrapping) or
    at random aligned offsets; the buffer is an anonymous mmap (page-aligned)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, req)
    try:
        blocks = os.fstat(fd).st_size // req
        rng = random.Random(1)
        ops, off = 0, 0
        t0 = time.monotonic()
        end = t0 + seconds
        while True:
            if rand:
                off = rng.randrange(blocks) * req
            if os.preadv(fd, [buf], off) != req:
                raise SystemExit(f"short O_DIRECT read of {path} at {off}")
            ops += 1
            if not rand:
                off = ops % blocks * req
            if time.monotonic() >= end:
                break
        dt = time.monotonic() - t0
    finally:
        buf.close()
        os.close(fd)
    return {"bytes": ops * req, "ops": ops, "seconds": dt}


def wait_listening(p: subprocess.Popen, timeout: float) -> None:
    """The serve helper's first line says it is listening."""
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        r, _, _ = select.select([p.stdout], [], [], max(t_end - time.monotonic(), 0))
        if r:
            line = p.stdout.readline()
            if line.startswith('{"listening"'):
                return
            if not line:
                break
    raise SystemExit("netns receiver did not start listening")


def loopback_tcp(ns: NetNs, kib: int) -> dict:
    """The host reference for TCP: the same stream over lo inside the namespace."""
    srv = ns.peer("serve", LO_TCP_PORT, 60)
    try:
        wait_listening(srv, 30)
        snd = peer_result(ns.peer("send", "127.0.0.1", LO_TCP_PORT, kib), STEP_TIMEOUT)
        res = peer_result(srv, STEP_TIMEOUT)
    finally:
        if srv.poll() is None:
            srv.kill()
            srv.wait(timeout=10)
    if res["bytes"] != kib * 1024 or res["bad_at"] is not None or snd["reply"] != f"got {kib * 1024}\n":
        raise SystemExit(f"loopback TCP stream broken: {res} {snd}")
    return res


class VsockHost:
    """The host end of the guest's vsock.  kiln (`uds` set): a guest
    connection to host port P arrives on the Unix socket <uds>_P, and the host
    connects to the guest through <uds> with "CONNECT P".  vhost-vsock (QEMU,
    `uds` None): plain AF_VSOCK sockets in the host kernel."""

    def __init__(self, uds: Path = None):
        self.uds = uds

    def listen(self, port: int) -> socket.socket:
        if self.uds:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(f"{self.uds}_{port}")
        else:
            s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
            s.bind((socket.VMADDR_CID_ANY, port))
        s.listen(1)
        return s

    def connect(self, port: int) -> socket.socket:
        """A stream to the guest's listener on `port` (STEP_TIMEOUT on every call)."""
        s = socket.socket(socket.AF_UNIX if self.uds else socket.AF_VSOCK, socket.SOCK_STREAM)
        s.settimeout(STEP_TIMEOUT)
        try:
            if not self.uds:
                s.connect((VSOCK_CID, port))
                return s
            s.connect(str(self.uds))
            s.sendall(f"CONNECT {port}\n".encode())
            line = recv_line(s, 1)
            if not line.startswith("OK "):
                raise SystemExit(f"vsock CONNECT {port}: {line!r}")
            return s
        except BaseException:
            s.close()
            raise


def recv_line(s: socket.socket, step: int) -> str:
    """Bytes up to a newline or EOF, `step` at a time (1: nothing past it)."""
    line = b""
    while not line.endswith(b"\n"):
        c = s.recv(step)
        if not c:
            break
        line += c
    return line.decode(errors="replace")


class StreamReceiver:
    """Accepts one connection on `listener`, receives one stream to EOF
    (timing first to last byte) and answers "got N"."""

    def __init__(self, listener: socket.socket, timeout: float):
        self.listener = listener
        self.listener.settimeout(timeout)
        self.result: dict = {}
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            conn, _ = self.listener.accept()
            with conn:
                conn.settimeout(STEP_TIMEOUT)
                got, first, last = 0, None, None
                while True:
                    b = conn.recv(CHUNK)
                    if not b:
                        break
                    last = time.monotonic()
                    first = first if first is not None else last
                    got += len(b)
                conn.sendall(b"got %d\n" % got)
            self.result = {"bytes": got, "seconds": (last - first) if got else 0}
        except OSError as e:
            self.result = {"error": repr(e)}

    def join(self, timeout: float) -> dict:
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise SystemExit("vsock receiver did not finish in time")
        return self.result

    def close(self):
        self.listener.close()
        self.thread.join(timeout=10)


def unix_stream(kib: int) -> dict:
    """The host reference for vsock: the same stream over a Unix socket pair."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    payload = bytes(CHUNK)
    res: dict = {}

    def receive():
        got, first, last = 0, None, None
        while True:
            d = b.recv(CHUNK)
            if not d:
                break
            last = time.monotonic()
            first = first if first is not None else last
            got += len(d)
        res.update(bytes=got, seconds=(last - first) if got else 0)

    a.settimeout(60)
    b.settimeout(60)
    t = threading.Thread(target=receive, daemon=True)
    t.start()
    for off in range(0, kib * 1024, CHUNK):
        a.sendall(payload[:min(CHUNK, kib * 1024 - off)])
    a.shutdown(socket.SHUT_WR)
    t.join(60)
    a.close()
    b.close()
    if res.get("bytes") != kib * 1024:
        raise SystemExit(f"Unix socket stream broken: {res}")
    return res


def vsock_send_to_guest(vsock: VsockHost, port: int, kib: int) -> str:
    """Stream kib KiB to the guest's listener on `port`, half-close, return
    the guest's reply line."""
    with vsock.connect(port) as s:
        payload = bytes(CHUNK)
        for off in range(0, kib * 1024, CHUNK):
            s.sendall(payload[:min(CHUNK, kib * 1024 - off)])
        s.shutdown(socket.SHUT_WR)
        return recv_line(s, 64).strip()


# ---------------------------------------------------------------- guest side

def guest_checks(args, vsock: bool) -> list:
    """The agent's check list: kiln.check=... words, in the order measured."""
    checks = [
        f"ifup:{GUEST_IP}/{PREFIX}",
        f"blkseq:vda:{args.seconds}", f"blkrand:vda:{args.seconds}",
        f"tcprecv:{H2G_TCP_PORT}:{args.net_kib}", f"tcpsend:{HOST_IP}:{G2H_TCP_PORT}:{args.net_kib}",
    ]
    if vsock:
        checks += [f"vsockrecv:{H2G_VSOCK_PORT}:{args.vsock_kib}", f"vsocksend:{G2H_VSOCK_PORT}:{args.vsock_kib}"]
    return [f"kiln.check={c}" for c in checks]


def check_line(r: KilnRun, name: str) -> dict:
    """The agent's line for check `name`, as key=value words; exits on FAIL."""
    m = r.wait_for(rf"^KILN-CHECK {name} (PASS|FAIL) (.*?)\r?$", STEP_TIMEOUT)
    if m.group(1) != "PASS":
        raise SystemExit(f"guest check failed: {m.group(0)}")
    return dict(w.split("=", 1) for w in m.group(2).split() if "=" in w)


def measure_tcp(r: KilnRun, args, ns: NetNs, g2h_tcp: subprocess.Popen, res: dict) -> None:
    """Host to guest (a netns helper sends to the agent), then guest to host
    (the agent sends to `g2h_tcp`, listening since before the boot)."""
    r.wait_for(rf"^kiln-init: listening tcp {H2G_TCP_PORT}\r?$", STEP_TIMEOUT)
    h2g = ns.peer("send", GUEST_IP, H2G_TCP_PORT, args.net_kib)
    try:
        snd = peer_result(h2g, STEP_TIMEOUT)
    finally:
        if h2g.poll() is None:
            h2g.kill()
            h2g.wait(timeout=10)
    res["tcprecv"] = check_line(r, "tcprecv")
    if snd["reply"] != f"got {args.net_kib * 1024}\n":
        raise SystemExit(f"TCP host->guest: guest replied {snd['reply']!r}")

    res["tcp_g2h"] = peer_result(g2h_tcp, STEP_TIMEOUT)
    res["tcpsend"] = check_line(r, "tcpsend")
    if res["tcp_g2h"]["bytes"] != args.net_kib * 1024 or res["tcp_g2h"]["bad_at"] is not None:
        raise SystemExit(f"TCP guest->host stream broken: {res['tcp_g2h']}")


def measure_vsock(r: KilnRun, args, vsock: VsockHost, g2h: StreamReceiver, res: dict) -> None:
    """Host to guest through `vsock`, then guest to host into `g2h`."""
    r.wait_for(rf"^kiln-init: listening vsock {H2G_VSOCK_PORT}\r?$", STEP_TIMEOUT)
    reply = vsock_send_to_guest(vsock, H2G_VSOCK_PORT, args.vsock_kib)
    res["vsockrecv"] = check_line(r, "vsockrecv")
    if reply != f"got {args.vsock_kib * 1024}":
        raise SystemExit(f"vsock host->guest: guest replied {reply!r}")

    res["vsock_g2h"] = g2h.join(STEP_TIMEOUT)
    res["vsocksend"] = check_line(r, "vsocksend")
    if res["vsock_g2h"].get("bytes") != args.vsock_kib * 1024:
        raise SystemExit(f"vsock guest->host stream broken: {res['vsock_g2h']}")


def run_vm(args, ns: NetNs, start, vsock, finish) -> tuple:
    """Start a VMM with start() (its guest runs guest_checks(args, vsock is
    not None)), serve the host ends of the streams and collect the agent's
    figures; finish(r) ends the VMM after the last check.  Returns the
    figures and the (closed) run, whose console and log files remain."""
    wait = BOOT_TIMEOUT + 6 * STEP_TIMEOUT
    g2h_vsock = StreamReceiver(vsock.listen(G2H_VSOCK_PORT), wait) if vsock else None
    g2h_tcp = ns.peer("serve", G2H_TCP_PORT, wait)
    res: dict = {}
    r = None
    try:
        r = start()
        r.wait_for(r"^kiln-init: ready", BOOT_TIMEOUT)
        res["boot_s"] = time.monotonic() - r.start
        print(f"guest agent ready after {res['boot_s']:.1f} s; measuring", file=sys.stderr)
        check_line(r, "ifup")
        res["blkseq"] = check_line(r, "blkseq")
        res["blkrand"] = check_line(r, "blkrand")
        measure_tcp(r, args, ns, g2h_tcp, res)
        if vsock:
            measure_vsock(r, args, vsock, g2h_vsock, res)
        r.wait_for(r"^KILN-CHECK-DONE pass=\d+ fail=0", STEP_TIMEOUT)
        finish(r)
    finally:
        if g2h_vsock:
            g2h_vsock.close()
        if g2h_tcp.poll() is None:
            g2h_tcp.kill()
            g2h_tcp.wait(timeout=10)
        if r:
            r.close()
    return res, r


def kiln_exit(r: KilnRun) -> None:
    """kiln ends when the agent reboots the guest (i8042, reboot=k)."""
    code = r.wait_exit(120)
    if code != 0:
        raise SystemExit(f"kiln exited {code}:\n{r.log()[-2000:]}")


def run_kiln(args, work: Path, short: Path, ns: NetNs, disk: Path) -> tuple:
    """The kiln run: its figures and kiln's log."""
    vsock = VsockHost(short / "v.sock")
    boot_args = f"{LINUX_ARGS} rdinit=/sbin/init kiln.agent=checks " + " ".join(guest_checks(args, vsock=True))
    extra = {
        "drives": [{"drive_id": "data", "path_on_host": str(disk), "is_root_device": False,
                    "is_read_only": True}],
        "network-interfaces": [{"iface_id": "eth0", "host_dev_name": ns.tap, "guest_mac": GUEST_MAC}],
        "vsock": {"guest_cid": VSOCK_CID, "uds_path": str(vsock.uds)},
    }
    cfg = write_config(work, KERNEL, boot_args=boot_args, initrd=ROOTFS_CPIO, vcpus=args.vcpus,
                       mem_mib=args.mem, extra=extra)
    res, r = run_vm(args, ns, lambda: KilnRun(["--config-file", str(cfg), "--no-api"], work, netns=ns.name),
                    vsock, kiln_exit)
    return res, r.log()


# ---------------------------------------------------------------- QEMU

class QemuRun(KilnRun):
    """KilnRun's console capture, waits and kill, around QEMU in the
    namespace (`ip netns exec` execs it in place: the PID is QEMU's)."""

    def __init__(self, cmd: list, workdir: Path, netns: str):
        self.workdir, self.out_path, self.err_path = workdir, workdir / "console.out", workdir / "qemu.err"
        self._out, self._err = open(self.out_path, "wb"), open(self.err_path, "wb")
        self.start = time.monotonic()
        self.proc = subprocess.Popen(["ip", "netns", "exec", netns, *cmd], stdin=subprocess.DEVNULL,
                                     stdout=self._out, stderr=self._err, cwd=workdir)


def qemu_stop(r: QemuRun) -> None:
    """QEMU's microvm has no i8042 to reboot through: SIGTERM by PID."""
    r.kill(signal.SIGTERM)


def vhost_vsock_missing() -> str:
    """'' when QEMU can have a vhost-vsock device here, else why not."""
    if not VHOST_VSOCK.exists():
        return f"no {VHOST_VSOCK}"
    return "" if os.access(VHOST_VSOCK, os.R_OK | os.W_OK) else f"{VHOST_VSOCK} not usable"


def qemu_vm_cmd(args, cmdline: str, disk: Path, ns: NetNs, vsock: bool) -> list:
    """qemu_compare.py's microvm command with this bench's devices."""
    cmd = qemu_cmd(KERNEL, ROOTFS_CPIO, cmdline, args.mem) + [
        "-machine", "acpi=off", "-smp", str(args.vcpus),
        "-drive", f"file={disk},if=none,id=data,format=raw,readonly=on,cache=writeback,aio=threads",
        "-device", "virtio-blk-device,drive=data",
        "-netdev", f"tap,id=net0,ifname={ns.tap},script=no,downscript=no,vhost=off",
        "-device", f"virtio-net-device,netdev=net0,mac={GUEST_MAC}",
    ]
    return cmd + (["-device", f"vhost-vsock-device,guest-cid={VSOCK_CID}"] if vsock else [])


def run_qemu(args, work: Path, ns: NetNs, disk: Path, kiln_cmdline: str) -> dict:
    """The QEMU run, on a copy of the data file and kiln's command line (less
    the vsock checks when there is no vhost-vsock)."""
    qdir = work / "qemu"
    qdir.mkdir()
    copy = qdir / disk.name
    shutil.copyfile(disk, copy)
    with open(copy, "rb+") as f:
        os.fsync(f.fileno())
    why = vhost_vsock_missing()
    vsock_words = set(guest_checks(args, vsock=True)) - set(guest_checks(args, vsock=False))
    cmdline = " ".join(w for w in kiln_cmdline.split() if not (why and w in vsock_words))
    cmd = qemu_vm_cmd(args, cmdline, copy, ns, vsock=not why)
    try:
        res, _ = run_vm(args, ns, lambda: QemuRun(cmd, qdir, ns.name), None if why else VsockHost(), qemu_stop)
    except AssertionError as e:  # KilnRun's wait messages, which say "kiln"
        raise SystemExit(f"under QEMU ({' '.join(cmd)}):\n{e}")
    version = subprocess.run([QEMU, "--version"], capture_output=True, text=True, timeout=30).stdout
    res.update(cmdline=cmdline, command=cmd, version=version.splitlines()[0], vsock_na=why or None)
    return res


# ---------------------------------------------------------------- report

def mib_s(nbytes: float, seconds: float) -> float:
    return nbytes / (1 << 20) / seconds if seconds > 0 else 0.0


def agent_rate(words: dict) -> float:
    """MiB/s from an agent line's bytes= and ms=."""
    return mib_s(int(words["bytes"]), int(words["ms"]) / 1000)


# (json key, label, figure from a VM run's results, figure from the host's)
ROWS = [
    ("blk_seq", "blk seq read MiB/s (128K, O_DIRECT)", lambda g: agent_rate(g["blkseq"]),
     lambda h: mib_s(h["seq"]["bytes"], h["seq"]["seconds"])),
    ("blk_rand", "blk rand read IOPS (4K, O_DIRECT)",
     lambda g: int(g["blkrand"]["ops"]) * 1000 / int(g["blkrand"]["ms"]),
     lambda h: h["rand"]["ops"] / h["rand"]["seconds"]),
    ("tcp_h2g", "tcp host->guest MiB/s", lambda g: agent_rate(g["tcprecv"]),
     lambda h: mib_s(h["tcp"]["bytes"], h["tcp"]["seconds"])),
    ("tcp_g2h", "tcp guest->host MiB/s", lambda g: mib_s(g["tcp_g2h"]["bytes"], g["tcp_g2h"]["seconds"]),
     lambda h: mib_s(h["tcp"]["bytes"], h["tcp"]["seconds"])),
    ("vsock_h2g", "vsock host->guest MiB/s", lambda g: agent_rate(g["vsockrecv"]),
     lambda h: mib_s(h["unix"]["bytes"], h["unix"]["seconds"])),
    ("vsock_g2h", "vsock guest->host MiB/s", lambda g: mib_s(g["vsock_g2h"]["bytes"], g["vsock_g2h"]["seconds"]),
     lambda h: mib_s(h["unix"]["bytes"], h["unix"]["seconds"])),
]


def vm_figure(f, res: dict):
    """A row's figure for one VM run; None for checks it did not run."""
    try:
        return f(res)
    except KeyError:
        return None


def print_table(args, guest: dict, host: dict, qemu: dict) -> dict:
    """The table; with qemu, its columns too.  Returns kiln/qemu by row key."""
    print(f"kiln guest I/O benchmark: vcpus={args.vcpus} mem={args.mem}MiB disk={args.disk_mib}MiB "
          f"blk={args.seconds}s tcp={args.net_kib}KiB vsock={args.vsock_kib}KiB host-streams={args.host_mib}MiB "
          f"boot-to-agent={guest['boot_s']:.1f}s")
    print("host column: same file with O_DIRECT; TCP over loopback in the namespace; vsock vs a Unix socket pair")
    if qemu:
        print(f"qemu column: {qemu['version']}, microvm, same kernel, initrd and command line; "
              f"blk cache=writeback aio=threads, net TAP vhost=off, "
              f"vsock {'n/a: ' + qemu['vsock_na'] if qemu['vsock_na'] else 'vhost-vsock'}; "
              f"boot-to-agent={qemu['boot_s']:.1f}s")
    print(f"{'metric':38} {'guest':>12} {'host':>12} {'guest/host':>11}"
          + (f" {'qemu':>12} {'kiln/qemu':>11}" if qemu else ""))
    ratios = {}
    for key, name, vm_f, host_f in ROWS:
        g, h = vm_figure(vm_f, guest), host_f(host)
        line = f"{name:38} {g:12.2f} {h:12.2f} {g / h if h else 0:11.4f}"
        if qemu:
            q = vm_figure(vm_f, qemu)
            ratios[key] = g / q if q else None
            if q is None:
                line += f" {'n/a: ' + qemu['vsock_na']:>24}"
            else:
                line += f" {q:12.2f} {g / q if q else 0:11.4f}"
        print(line)
    return ratios


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=5, help="each block measurement, guest and host")
    ap.add_argument("--net-kib", type=int, default=4096, help="KiB per TCP stream")
    ap.add_argument("--vsock-kib", type=int, default=4096, help="KiB per vsock stream")
    ap.add_argument("--host-mib", type=int, default=512, help="MiB per host reference stream")
    ap.add_argument("--disk-mib", type=int, default=128)
    ap.add_argument("--vcpus", type=int, default=1)
    ap.add_argument("--mem", type=int, default=256)
    ap.add_argument("--qemu", action="store_true", help="the same guest and checks under QEMU's microvm too")
    ap.add_argument("--json", action="store_true", help="print the raw figures as JSON too")
    args = ap.parse_args()

    for p in (kiln_binary(), KERNEL, ROOTFS_CPIO):
        if not p.exists():
            raise SystemExit(f"missing {p}: build it first (ninja -C $KILN_BUILD; guest-images/build.sh)")
    if not os.access("/dev/kvm", os.R_OK | os.W_OK) or not netns_usable():
        raise SystemExit("needs /dev/kvm, root, /dev/net/tun and ip(8)")

    # The data file on a real file system (tmpfs has no O_DIRECT); the
    # sockets in a short /tmp directory (sun_path holds 107 bytes).
    work = Path(tempfile.mkdtemp(prefix="kiln-gio-", dir="/var/tmp"))
    short = Path(tempfile.mkdtemp(prefix="kiln-gio-", dir="/tmp"))
    ns = NetNs(tap="giotap0")
    qemu = None
    try:
        why = qemu_works(work) if args.qemu else ""
        if why:
            raise SystemExit(f"QEMU microvm with KVM does not work here: {why}")
        ns.run("ip", "addr", "add", f"{HOST_IP}/{PREFIX}", "dev", ns.tap)
        disk = data_file(work / "data.img", args.disk_mib)
        guest, kiln_log = run_kiln(args, work, short, ns, disk)
        if args.qemu:
            qemu = run_qemu(args, work, ns, disk, kiln_final_cmdline(kiln_log))
        host = {
            "seq": host_direct_read(disk, args.seconds, SEQ_REQ, rand=False),
            "rand": host_direct_read(disk, args.seconds, RAND_REQ, rand=True),
            "tcp": loopback_tcp(ns, args.host_mib * 1024),
            "unix": unix_stream(args.host_mib * 1024),
        }
    finally:
        ns.close()
        shutil.rmtree(short, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)

    ratios = print_table(args, guest, host, qemu)
    if args.json:
        print(json.dumps({"guest": guest, "host": host, **({"qemu": qemu, "kiln_qemu": ratios} if qemu else {})}))


if __name__ == "__main__":
    main()
