#!/bin/bash
# Fetches Debian's stock cloud kernel (the package linux-image-cloud-amd64
# currently points at) and unpacks it for kiln: boot/vmlinuz-* as bzImage, and
# the ELF vmlinux taken out of it by bzimage2elf.py.
# Outputs in $KILN_IMAGES/cloud/: bzImage, vmlinux, config, version, package.
# The stock kernel has its own config: see "drivers" below for what it needs
# from an initramfs before it can use kiln's devices.
set -euo pipefail
KI_NAME=cloud
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$HERE/../lib.sh"

META=linux-image-cloud-amd64

ki_need_pkgs python3 binutils xz-utils zstd lz4 gzip

# meta_depends: "linux-image-6.1.0-N-cloud-amd64 (= VERSION)" from the candidate.
meta_depends() {
	apt-cache show --no-all-versions "$META" 2>/dev/null | sed -n 's/^Depends: //p' | head -n1
}
DEP=$(meta_depends)
if [ -z "$DEP" ]; then
	ki_log "no $META in the package lists; running apt-get update"
	apt-get update -q >&2
	DEP=$(meta_depends)
fi
PKG=$(grep -oE 'linux-image-[^ ,()]+-cloud-amd64' <<< "$DEP" | head -n1)
VER=$(sed -nE 's/.*\(= ([^)]+)\).*/\1/p' <<< "$DEP")
[ -n "$PKG" ] || ki_die "cannot resolve $META's dependency ('$DEP')"
[ -n "$VER" ] || VER=$(apt-cache show --no-all-versions "$PKG" | sed -n 's/^Version: //p' | head -n1)
[ -n "$VER" ] || ki_die "no version of $PKG in the package lists"

KEY=$(ki_key "$HERE/fetch.sh" "$HERE/bzimage2elf.py" "$PKG=$VER")
OUTPUTS=(bzImage vmlinux config version package)

ki_lock cloud
ki_cached cloud "$KEY" "${OUTPUTS[@]}" && exit 0

BUILD=$(ki_scratch cloud "$KEY")
STAGE=$BUILD/out
mkdir -p "$BUILD/deb" "$BUILD/x" "$STAGE"

ki_log "downloading $PKG $VER"
# apt downloads as its _apt user, which cannot reach a cache under a private
# home: download into a fresh directory it owns, then move the file.
DL=$(mktemp -d /tmp/kiln-cloud.XXXXXX)
trap 'rm -rf "$DL"' EXIT
chown _apt "$DL" 2>/dev/null || true
(cd "$DL" && apt-get download -q "$PKG=$VER" >&2) || ki_die "apt-get download $PKG=$VER failed"
mv "$DL"/*.deb "$BUILD/deb/"
DEB=$(find "$BUILD/deb" -name '*.deb' | head -n1)
[ -f "$DEB" ] || ki_die "apt-get download left no .deb"
dpkg-deb -x "$DEB" "$BUILD/x"

VMLINUZ=$(find "$BUILD/x/boot" -name 'vmlinuz-*' | head -n1)
[ -f "$VMLINUZ" ] || ki_die "$PKG has no boot/vmlinuz-*"
RELEASE=${VMLINUZ##*/vmlinuz-}
cp "$VMLINUZ" "$STAGE/bzImage"
[ "$(ki_bytes "$STAGE/bzImage" 514 4)" = 48647253 ] || ki_die "$VMLINUZ has no HdrS setup header"
cp "$BUILD/x/boot/config-$RELEASE" "$STAGE/config" 2>/dev/null || ki_die "$PKG has no boot/config-$RELEASE"

ki_log "extracting vmlinux from vmlinuz-$RELEASE"
/usr/bin/python3 "$HERE/bzimage2elf.py" "$STAGE/bzImage" "$STAGE/vmlinux"
readelf -h "$STAGE/vmlinux" | grep -q 'ELF64' || ki_die "extracted vmlinux is not ELF64 to readelf"
if readelf -n "$STAGE/vmlinux" | grep -E '^\s+Xen\s' | grep -q '0x00000012'; then
	pvh=yes
else
	pvh="no (kiln enters it through e_entry)"
fi

echo "$RELEASE" > "$STAGE/version"
echo "$PKG $VER" > "$STAGE/package"

# What the stock kernel can use without modules: =m means it needs an initramfs
# that loads the module before kiln's device is usable.
drivers=""
for opt in VIRTIO_MMIO VIRTIO_MMIO_CMDLINE_DEVICES VIRTIO_BLK VIRTIO_NET VIRTIO_VSOCKETS \
	VIRTIO_BALLOON HW_RANDOM_VIRTIO EXT4_FS SERIAL_8250_CONSOLE PVH; do
	val=$(sed -n "s/^CONFIG_$opt=//p" "$STAGE/config")
	drivers+=" $opt=${val:-n}"
done
echo "${drivers# }" > "$STAGE/drivers"

ki_publish cloud "$KEY" "$STAGE"
rm -rf "$BUILD"
ki_log "kernel $RELEASE from $PKG $VER; PVH note: $pvh"
ki_log "drivers:${drivers}"
