#!/bin/bash
# Builds kiln's Linux guest images from Debian packages, cached under
# ${KILN_IMAGES:-~/.cache/kiln/images}; a second run reuses them at once.
#
#   guest-images/build.sh [TARGET...]     TARGET: all (default), kernel, cloud,
#                                         initramfs, rootfs; or
#   guest-images/build.sh test            host-side tests of the scripts' code
#   guest-images/build.sh paths           print the output paths only
#   guest-images/build.sh prune           delete cached builds the links no longer name
set -euo pipefail
KI_NAME=guest-images
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"

usage() {
	sed -n '2,9s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

# target_outputs TARGET: the files a target leaves under its cache link.
target_outputs() {
	case $1 in
	kernel) echo vmlinux bzImage ;;
	cloud) echo vmlinux bzImage ;;
	initramfs) echo initramfs.cpio ;;
	rootfs) echo rootfs.ext4 rootfs.cpio ;;
	esac
}

print_paths() {
	local t f p
	for t in "$@"; do
		for f in $(target_outputs "$t"); do
			p=$KI_CACHE/$t/$f
			if [ -e "$p" ]; then
				printf '%-10s %-15s %s\n' "$t" "$f" "$(readlink -f "$p")"
			else
				printf '%-10s %-15s (not built)\n' "$t" "$f"
			fi
		done
	done
}

prune() {
	local t d cur
	for t in kernel cloud initramfs rootfs; do
		ki_lock "$t" # not while a build of this kind is running
		cur=$(readlink "$KI_CACHE/$t" 2>/dev/null || true)
		for d in "$KI_CACHE/$t"-*; do
			if [ -d "$d" ] && [ "${d##*/}" != "$cur" ]; then
				ki_log "removing $d"
				rm -rf "$d"
			fi
		done
		exec {KI_LOCK_FD}>&-
	done
	[ -d "$KI_CACHE/build" ] && [ -z "$(ls -A "$KI_CACHE/build")" ] && rmdir "$KI_CACHE/build"
	return 0
}

run_tests() {
	ki_need_pkgs python3 gzip xz-utils zstd lz4 bzip2 util-linux e2fsprogs
	ki_log "bzimage2elf.py unit tests"
	/usr/bin/python3 "$HERE/cloud/test_bzimage2elf.py"
	ki_log "kiln-init host test (needs a built rootfs)"
	[ -f "$KI_CACHE/rootfs/rootfs.ext4" ] || "$HERE/rootfs/build.sh"
	"$HERE/rootfs/test-init.sh"
}

targets=()
[ $# -eq 0 ] && set -- all
for arg in "$@"; do
	case $arg in
	# Quick ones first so they are usable while the kernel compiles.
	all) targets+=(initramfs rootfs cloud kernel) ;;
	kernel | cloud | initramfs | rootfs) targets+=("$arg") ;;
	paths) print_paths initramfs rootfs cloud kernel; exit 0 ;;
	test) run_tests; exit 0 ;;
	prune) prune; exit 0 ;;
	-h | --help) usage ;;
	*) ki_log "unknown target '$arg'"; usage ;;
	esac
done

# Everything the targets need, in one apt-get run (each script checks again).
pkgs=(build-essential libc6-dev python3 binutils patch xz-utils cpio)
for t in "${targets[@]}"; do
	case $t in
	kernel) pkgs+=(linux-source bc bison flex libelf-dev libssl-dev lz4) ;;
	cloud) pkgs+=(zstd lz4 gzip) ;;
	rootfs) pkgs+=(busybox-static e2fsprogs) ;;
	esac
done
ki_need_pkgs "${pkgs[@]}"

built=()
for t in "${targets[@]}"; do
	[[ " ${built[*]} " == *" $t "* ]] && continue
	built+=("$t")
	case $t in
	kernel) "$HERE/kernel/build.sh" ;;
	cloud) "$HERE/cloud/fetch.sh" ;;
	initramfs) "$HERE/initramfs/build.sh" ;;
	rootfs) "$HERE/rootfs/build.sh" ;;
	esac
done

echo
echo "guest images in $KI_CACHE:"
print_paths "${built[@]}"
