#!/bin/bash
# Builds the kiln test rootfs: a 64 MiB ext4 image made by mke2fs -d (no loop
# mounts) holding busybox-static with its applet links, a minimal /etc, the
# usual mount points and kiln-init (kiln-init.c, checks_*.c) as /sbin/init.
# Output: $KILN_IMAGES/rootfs/rootfs.ext4 (copy it before booting it read-write).
#   KILN_ROOTFS_MB=N  image size in MiB (default 64)
set -euo pipefail
KI_NAME=rootfs
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$HERE/../lib.sh"

SIZE_MB=${KILN_ROOTFS_MB:-64}
BUSYBOX=/bin/busybox
OUT=rootfs.ext4

ki_need_pkgs build-essential libc6-dev busybox-static e2fsprogs
[ "$(id -u)" -eq 0 ] || ki_die "run as root: the image's files must be owned by root"
case $SIZE_MB in '' | *[!0-9]*) ki_die "KILN_ROOTFS_MB must be a number of MiB, got '$SIZE_MB'" ;; esac

# kiln-init: the init and its check runner, plus the device checks it calls.
AGENT_SRCS=("$HERE/kiln-init.c" "$HERE/checks_net.c" "$HERE/checks_dev.c")
KEY=$(ki_key "$HERE/build.sh" "$KI_DIR/lib.sh" "${AGENT_SRCS[@]}" "$HERE/agent.h" "$KI_DIR/common/boot_timer.h" "$KI_DIR/common/console.h" "size=$SIZE_MB" \
	"busybox-static=$(ki_pkg_version busybox-static)" "e2fsprogs=$(ki_pkg_version e2fsprogs)" \
	"$(gcc --version | head -n1)" "libc6-dev=$(ki_pkg_version libc6-dev)")

ki_lock rootfs
ki_cached rootfs "$KEY" "$OUT" rootfs.cpio && exit 0

BUILD=$(ki_scratch rootfs "$KEY")
ROOT=$BUILD/root
STAGE=$BUILD/out
mkdir -p "$ROOT" "$STAGE"
umask 022

ki_log "compiling kiln-init (static)"
mkdir -p "$ROOT/sbin"
ki_gcc_static "$ROOT/sbin/init" "${AGENT_SRCS[@]}"

ki_log "staging busybox $(ki_pkg_version busybox-static) and its applets"
mkdir -p "$ROOT"/{bin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,root,var}
chmod 1777 "$ROOT/tmp"
chmod 0700 "$ROOT/root"
install -m 0755 "$BUSYBOX" "$ROOT/bin/busybox"
n=0
while read -r applet; do
	# kiln-init owns /sbin/init; linuxrc is for initrds.
	case $applet in sbin/init | linuxrc) continue ;; esac
	[ -e "$ROOT/$applet" ] && continue
	mkdir -p "$ROOT/$(dirname "$applet")"
	ln -s /bin/busybox "$ROOT/$applet"
	n=$((n + 1))
done < <("$BUSYBOX" --list-full)
[ -L "$ROOT/bin/sh" ] || ki_die "busybox has no sh applet"
ki_log "$n applet links"

cat > "$ROOT/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat > "$ROOT/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
echo kiln > "$ROOT/etc/hostname"
cat > "$ROOT/etc/profile" <<'EOF'
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
export PS1='kiln:\w\$ '
EOF
# Fallback nodes, hidden once devtmpfs is mounted on /dev: the console for
# init's fds and /dev/mem for the boot-timer poke that comes before any mount.
mknod -m 0600 "$ROOT/dev/console" c 5 1
mknod -m 0600 "$ROOT/dev/mem" c 1 1
mknod -m 0666 "$ROOT/dev/null" c 1 3

ki_log "making a ${SIZE_MB} MiB ext4 image"
truncate -s "${SIZE_MB}M" "$STAGE/$OUT"
mke2fs -q -F -t ext4 -b 4096 -I 256 -L kiln-root -E root_owner=0:0 -d "$ROOT" "$STAGE/$OUT" ||
	ki_die "mke2fs failed"
e2fsck -fn "$STAGE/$OUT" > "$BUILD/fsck.log" 2>&1 || { cat "$BUILD/fsck.log" >&2; ki_die "e2fsck found errors"; }
debugfs -R 'stat /sbin/init' "$STAGE/$OUT" 2>/dev/null | grep -q 'Type: regular' ||
	ki_die "/sbin/init is missing from the image"

# The same tree as an uncompressed initramfs (rdinit=/sbin/init): the default
# microVM boots it this way until kiln has virtio-blk for the ext4 image.
ki_log "packing the same tree as rootfs.cpio"
(cd "$ROOT" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) > "$STAGE/rootfs.cpio" ||
	ki_die "cpio failed"

ki_publish rootfs "$KEY" "$STAGE"
rm -rf "$BUILD"
