#!/bin/bash
# Builds the minimal kiln microVM kernel from Debian's linux-source package:
# allnoconfig + microvm.config + the patches below.
# Outputs in $KILN_IMAGES/kernel/: vmlinux (ELF with the PVH note), bzImage,
# config, System.map, version.
#   KILN_JOBS=N        make -j N (default: number of CPUs)
#   KILN_KEEP_BUILD=1  keep the build tree under $KILN_IMAGES/build/
#   KILN_VERBOSE=1     stream the make output instead of logging it
set -euo pipefail
KI_NAME=kernel
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$HERE/../lib.sh"

FRAGMENT=$HERE/microvm.config
# Applied in this order with patch -p1; each is part of the cache key.
#   skip-int3-selftest.patch  the PVM emulator cannot run int3 at CPL0
#   pvm-syscall-fixup.patch   PVM leaves user SYSCALLs at CPL3; finish them in #PF
#   skip-fpu-drop-fwait.patch the PVM emulator cannot run fwait at CPL0 (task exit)
PATCHES=("$HERE/skip-int3-selftest.patch" "$HERE/pvm-syscall-fixup.patch"
	"$HERE/skip-fpu-drop-fwait.patch")
KMAKE=(make ARCH=x86_64)

ki_need_pkgs linux-source build-essential bc bison flex libelf-dev libssl-dev \
	lz4 xz-utils patch binutils

# The meta-package depends on the versioned one (linux-source-6.1) that owns the tarball.
SRC_PKG=$(dpkg-query -W -f '${Depends}' linux-source | grep -o 'linux-source-[0-9.]*' | head -n1)
[ -n "$SRC_PKG" ] || ki_die "cannot tell which linux-source-X.Y package linux-source depends on"
SRC_VER=$(ki_pkg_version "$SRC_PKG")
TARBALL=$(dpkg -L "$SRC_PKG" | grep -E '^/usr/src/linux-source-.*\.tar\.(xz|bz2|gz)$' | head -n1)
[ -f "$TARBALL" ] || ki_die "$SRC_PKG $SRC_VER ships no source tarball"

KEY=$(ki_key "$FRAGMENT" "${PATCHES[@]}" "$HERE/build.sh" "$SRC_PKG=$SRC_VER" "$(gcc --version | head -n1)")
OUTPUTS=(vmlinux bzImage config version)

ki_lock kernel
ki_cached kernel "$KEY" "${OUTPUTS[@]}" && exit 0

# check_fragment CONFIG: every line of the fragment must hold in CONFIG.
check_fragment() {
	awk '
	FNR == NR {
		if (match($0, /^CONFIG_[A-Za-z0-9_]+=/)) have[substr($0, 1, RLENGTH - 1)] = $0
		next
	}
	/^CONFIG_[A-Za-z0-9_]+=/ {
		name = substr($0, 1, index($0, "=") - 1)
		if (have[name] != $0) { printf "  want %-45s got %s\n", $0, (name in have) ? have[name] : "(unset)"; bad = 1 }
	}
	/^# CONFIG_[A-Za-z0-9_]+ is not set$/ {
		name = $2
		if ((name in have) && have[name] != name "=n") { printf "  want %-45s got %s\n", $0, have[name]; bad = 1 }
	}
	END { exit bad }' "$1" "$FRAGMENT"
}

BUILD=$(ki_scratch kernel "$KEY")
SRC=$BUILD/linux
LOG=$BUILD/build.log
START=$(date +%s)

ki_log "source: $SRC_PKG $SRC_VER ($TARBALL)"
ki_log "extracting into $SRC"
mkdir -p "$SRC"
tar -xf "$TARBALL" -C "$SRC" --strip-components=1

for p in "${PATCHES[@]}"; do
	ki_log "applying $(basename "$p")"
	patch -d "$SRC" -p1 --forward --batch --quiet < "$p" ||
		ki_die "$(basename "$p") does not apply to $SRC_PKG $SRC_VER"
done

ki_log "configuring: allnoconfig + $(basename "$FRAGMENT")"
(
	cd "$SRC"
	"${KMAKE[@]}" -s allnoconfig
	scripts/kconfig/merge_config.sh -m .config "$FRAGMENT" > "$BUILD/merge.log"
	"${KMAKE[@]}" -s olddefconfig
) >> "$LOG" 2>&1 || { tail -n 30 "$LOG" >&2; ki_die "configuration failed (log: $LOG)"; }

if ! check_fragment "$SRC/.config"; then
	ki_die "options in $(basename "$FRAGMENT") did not survive olddefconfig (a missing dependency?)"
fi
ki_log "config: all $(grep -cE '^(CONFIG_|# CONFIG_.* is not set)' "$FRAGMENT") fragment options took"

JOBS=${KILN_JOBS:-$(nproc)}
ki_log "building vmlinux bzImage with -j$JOBS (several minutes; log: $LOG)"
if [ "${KILN_VERBOSE:-0}" = 1 ]; then
	nice "${KMAKE[@]}" -C "$SRC" -j"$JOBS" vmlinux bzImage 2>&1 | tee -a "$LOG" ||
		ki_die "kernel build failed (log: $LOG)"
else
	nice "${KMAKE[@]}" -C "$SRC" -j"$JOBS" vmlinux bzImage >> "$LOG" 2>&1 ||
		{ tail -n 40 "$LOG" >&2; ki_die "kernel build failed (log: $LOG)"; }
fi

# kiln enters an ELF kernel at its XEN_ELFNOTE_PHYS32_ENTRY (type 0x12) note.
[ "$(ki_bytes "$SRC/vmlinux" 0 4)" = 7f454c46 ] || ki_die "vmlinux is not an ELF file"
readelf -n "$SRC/vmlinux" | grep -E '^\s+Xen\s' | grep -q '0x00000012' ||
	ki_die "vmlinux has no Xen PVH entry note (type 0x12): is CONFIG_PVH set?"
[ "$(ki_bytes "$SRC/arch/x86/boot/bzImage" 514 4)" = 48647253 ] || ki_die "bzImage has no HdrS setup header"

STAGE=$BUILD/out
mkdir -p "$STAGE"
cp "$SRC/vmlinux" "$STAGE/vmlinux"
cp "$SRC/arch/x86/boot/bzImage" "$STAGE/bzImage"
cp "$SRC/.config" "$STAGE/config"
cp "$SRC/System.map" "$STAGE/System.map"
"${KMAKE[@]}" -s -C "$SRC" kernelrelease > "$STAGE/version"
{
	printf 'source %s %s\nbuild-seconds %s\n' "$SRC_PKG" "$SRC_VER" "$(($(date +%s) - START))"
	# Tests read this to know whether Linux user space can run on PVM.
	printf 'patches'
	for p in "${PATCHES[@]}"; do printf ' %s' "$(basename "$p" .patch)"; done
	printf '\n'
} > "$STAGE/build-info"

ki_publish kernel "$KEY" "$STAGE"
if [ "${KILN_KEEP_BUILD:-0}" = 1 ]; then
	ki_log "build tree kept: $SRC"
else
	rm -rf "$BUILD"
fi
ki_log "kernel $(cat "$KI_CACHE/kernel/version") built in $(($(date +%s) - START)) s"
