#!/bin/bash
# Builds the kiln test initramfs: an uncompressed newc cpio with a static /init
# (init.c) and the /dev/console and /dev/mem nodes, written by mkcpio.py so no
# mknod or root is needed.  Output: $KILN_IMAGES/initramfs/initramfs.cpio
set -euo pipefail
KI_NAME=initramfs
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$HERE/../lib.sh"

ki_need_pkgs build-essential libc6-dev python3 cpio

KEY=$(ki_key "$HERE/build.sh" "$KI_DIR/lib.sh" "$HERE/init.c" "$HERE/mkcpio.py" "$KI_DIR/common/boot_timer.h" "$KI_DIR/common/console.h" \
	"$(gcc --version | head -n1)" "libc6-dev=$(ki_pkg_version libc6-dev)")
OUT=initramfs.cpio

ki_lock initramfs
ki_cached initramfs "$KEY" "$OUT" && exit 0

BUILD=$(ki_scratch initramfs "$KEY")
STAGE=$BUILD/out
mkdir -p "$STAGE"

ki_log "compiling init.c (static)"
ki_gcc_static "$BUILD/init" "$HERE/init.c"

# /dev/mem is there because the kernel mounts no devtmpfs before an initramfs
# /init runs, and the boot-timer poke comes first.
cat > "$BUILD/spec" <<EOF
dir /dev 0755 0 0
nod /dev/console 0600 0 0 c 5 1
nod /dev/mem 0600 0 0 c 1 1
file /init $BUILD/init 0755 0 0
EOF
/usr/bin/python3 "$HERE/mkcpio.py" "$BUILD/spec" "$STAGE/$OUT"

# Check the archive with an independent reader.
LIST=$(cpio -it --quiet < "$STAGE/$OUT" | sort | tr '\n' ' ')
[ "$LIST" = "dev dev/console dev/mem init " ] || ki_die "unexpected archive contents: $LIST"

ki_publish initramfs "$KEY" "$STAGE"
rm -rf "$BUILD"
ki_log "$OUT: $(stat -c %s "$KI_CACHE/initramfs/$OUT") bytes"
