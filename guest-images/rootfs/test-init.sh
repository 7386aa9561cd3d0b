#!/bin/bash
# Host-side test of kiln-init.c without a VM: runs a test build of it as PID 1
# of fresh PID and mount namespaces, chrooted into a copy of the built rootfs.
# The test build cannot touch the host: reboot() is wrapped to print and exit,
# mmap() of the boot-timer page is refused, and the copy has no /dev/mem.
# Needs root (unshare, chroot, mount) and a built rootfs (rootfs/build.sh).
set -euo pipefail
KI_NAME=test-init
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$HERE/../lib.sh"

[ "$(id -u)" -eq 0 ] || ki_die "needs root"
IMG=$KI_CACHE/rootfs/rootfs.ext4
[ -f "$IMG" ] || ki_die "no rootfs at $IMG; run rootfs/build.sh first"

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir "$T/root"
debugfs -R "rdump / $T/root" "$IMG" > /dev/null 2>&1 || ki_die "debugfs rdump failed"
rm -f "$T/root/dev/mem"

cat > "$T/wrap.c" <<'EOF'
#include <errno.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>
int __wrap_reboot(int how);
void *__real_mmap(void *, size_t, int, int, int, off_t);
void *__wrap_mmap(void *a, size_t l, int p, int f, int fd, off_t off);
int __wrap_reboot(int how)
{
	printf("TEST reboot(%#x)\n", how);
	fflush(stdout);
	_exit(0);
}
void *__wrap_mmap(void *a, size_t l, int p, int f, int fd, off_t off)
{
	if (fd >= 0 && off == 0xc0000000) {
		errno = EPERM;
		return MAP_FAILED;
	}
	return __real_mmap(a, l, p, f, fd, off);
}
EOF
ki_gcc_static "$T/root/sbin/init-test" -DCMDLINE_PATH='"/cmdline"' -Wl,--wrap=reboot -Wl,--wrap=mmap \
	"$HERE/kiln-init.c" "$HERE/checks_net.c" "$HERE/checks_dev.c" "$T/wrap.c"

fails=0
# run NAME CMDLINE STDIN PATTERN...: boots init-test with CMDLINE and expects
# every PATTERN (an extended regex) on a line of its output.
run() {
	local name=$1 cmdline=$2 input=$3 out p
	shift 3
	printf '%s\n' "$cmdline" > "$T/root/cmdline"
	out=$(printf '%b' "$input" | timeout 20 unshare --mount --pid --net --fork --propagation private \
		chroot "$T/root" /sbin/init-test 2>&1) || true
	for p in "$@"; do
		if ! grep -qE -- "$p" <<< "$out"; then
			printf 'FAIL %s: no line matching /%s/ in:\n%s\n' "$name" "$p" "$out" >&2
			fails=$((fails + 1))
			return
		fi
	done
	echo "ok   $name"
}

run reboot 'console=ttyS0 kiln.agent=reboot' '' \
	'^kiln-init: boot timer not written' '^kiln-init: ready$' '^kiln-init: rebooting$' '^TEST reboot\(0x1234567\)$'
run checks-default 'kiln.agent=checks' '' \
	'^KILN-CHECK cpus PASS [0-9]+$' '^KILN-CHECK mem PASS [0-9]+ kB$' \
	'^KILN-CHECK cmdline PASS kiln.agent=checks$' '^KILN-CHECK-DONE pass=3 fail=0$' '^TEST reboot'
run checks-args "kiln.agent=checks kiln.check=cpus:$(nproc),mem:1 kiln.check=cmdline:agent kiln.check=cpus:999 kiln.check=bogus" '' \
	"^KILN-CHECK cpus PASS $(nproc)\$" '^KILN-CHECK mem PASS ' '^KILN-CHECK cmdline PASS ' \
	"^KILN-CHECK cpus FAIL $(nproc)\$" '^KILN-CHECK bogus FAIL unknown check$' '^KILN-CHECK-DONE pass=3 fail=2$'
run last-agent-wins 'kiln.agent=shell kiln.agent=reboot' '' '^kiln-init: rebooting$'
# shellcheck disable=SC2016 # the guest's shell expands these
run shell 'quiet' 'echo shell-says-$((6*7))\nexit\n' \
	'^shell-says-42$' '^kiln-init: shell ended$' '^TEST reboot'
# shellcheck disable=SC2016
run shell-default '' 'echo $$ $PATH\nexit\n' '^[0-9]+ /sbin:/bin:/usr/sbin:/usr/bin$' '^TEST reboot'
run unknown-agent 'kiln.agent=nope' 'exit\n' '^kiln-init: unknown kiln.agent=nope; starting the shell$' '^TEST reboot'
run busybox-reboot 'kiln.agent=shell' 'kill -TERM 1; sleep 5\n' '^kiln-init: shell ended$' '^TEST reboot'
# The device checks that need no device (a private network namespace: lo only).
run device-checks 'kiln.agent=checks kiln.check=ifup:10.9.9.9/8@lo,ping:10.9.9.9:2,touchmem:2 kiln.check=ifup:nonsense,ping:10.9.9.9:0,tcprecv:0:1,tcpsend:1.2.3.4:80:0,vsockecho:x,vsockconnect:,hwrng:0,blkrate:nope:0,blkwrite:nope:1,blkro:nope,balloon:0' '' \
	'^KILN-CHECK ifup PASS if=lo addr=10.9.9.9/8 mac=' '^KILN-CHECK ping PASS to=10.9.9.9 sent=2 received=2 ' \
	'^KILN-CHECK touchmem PASS touched=2 MiB ' "^KILN-CHECK ifup FAIL want ifup:ADDR/PREFIX\\[@IF\\], got 'nonsense'\$" \
	'^KILN-CHECK ping FAIL want ' '^KILN-CHECK tcprecv FAIL want ' '^KILN-CHECK tcpsend FAIL want ' \
	'^KILN-CHECK vsockecho FAIL want ' '^KILN-CHECK vsockconnect FAIL want ' '^KILN-CHECK hwrng FAIL want ' \
	'^KILN-CHECK blkrate FAIL want ' '^KILN-CHECK blkwrite FAIL want ' '^KILN-CHECK blkro FAIL dev=/dev/nope ro=\? write=No such file' \
	'^KILN-CHECK balloon FAIL want ' '^KILN-CHECK-DONE pass=3 fail=11$'
# serve: one check list per input line, blank lines skipped, "reboot" ends it;
# end of input ends it too.
run serve 'kiln.agent=serve' "cpus:$(nproc),clock\n\nbogus\nreboot\n" \
	'^kiln-init: serving$' "^KILN-CHECK cpus PASS $(nproc)\$" '^KILN-CHECK clock PASS mono_ms=[0-9]+$' \
	'^KILN-CHECK-DONE pass=2 fail=0$' '^KILN-CHECK bogus FAIL unknown check$' '^KILN-CHECK-DONE pass=0 fail=1$' \
	'^TEST reboot'
run serve-eof 'kiln.agent=serve' 'mem:1\n' '^KILN-CHECK mem PASS ' '^kiln-init: console closed; rebooting$' '^TEST reboot'

[ "$fails" -eq 0 ] || ki_die "$fails case(s) failed"
echo "all kiln-init cases passed"
