# Shared helpers for the guest-images scripts.  Sourced, never run.
# shellcheck shell=bash
#
# Cache layout under $KILN_IMAGES (default ~/.cache/kiln/images):
#   <kind>-<key>/      one finished build; <key> hashes every input of it
#   <kind>             symlink to the newest finished build of that kind
#   build/<kind>-<key> scratch space while building (removed on success)
# A build is published by renaming a complete directory into place, so an
# interrupted run never leaves something that looks cached.

KI_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KI_CACHE=${KILN_IMAGES:-$HOME/.cache/kiln/images}

ki_log() { printf '%s: %s\n' "${KI_NAME:-guest-images}" "$*" >&2; }
ki_die() { printf '%s: error: %s\n' "${KI_NAME:-guest-images}" "$*" >&2; exit 1; }

# ki_need_pkgs PKG...: installs the Debian packages that are not installed yet.
ki_need_pkgs() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" -eq 0 ] || ki_die "missing packages (run as root to install): ${missing[*]}"
	ki_log "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; then
		ki_log "install failed; refreshing the package lists and retrying"
		apt-get update -q >&2
		apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 ||
			ki_die "apt-get install ${missing[*]} failed"
	fi
}

# ki_pkg_version PKG: the installed version of PKG.
ki_pkg_version() {
	dpkg-query -W -f '${Version}' "$1" 2>/dev/null || ki_die "package $1 is not installed"
}

# ki_key ITEM...: a 16-hex-digit key over the inputs.  An ITEM naming an
# existing file contributes its name and contents; anything else is hashed as
# a string (package versions, tool versions).
ki_key() {
	local item
	for item in "$@"; do
		if [ -f "$item" ]; then
			printf 'file %s %s\n' "$(basename "$item")" "$(sha256sum < "$item" | cut -d' ' -f1)"
		else
			printf 'str %s\n' "$item"
		fi
	done | sha256sum | cut -c1-16
}

# ki_cached KIND KEY FILE...: if <kind>-<key> holds every FILE, points the
# <kind> link at it, prints "cached: <dir>" and succeeds.
ki_cached() {
	local kind=$1 key=$2 dir f
	shift 2
	dir=$KI_CACHE/$kind-$key
	for f in "$@"; do
		[ -s "$dir/$f" ] || return 1
	done
	ln -sfn "$kind-$key" "$KI_CACHE/$kind"
	echo "cached: $dir"
}

# ki_publish KIND KEY STAGE: renames the finished STAGE dir to <kind>-<key>
# and points the <kind> link at it.
ki_publish() {
	local kind=$1 key=$2 stage=$3 dir
	dir=$KI_CACHE/$kind-$key
	rm -rf "$dir"
	mv "$stage" "$dir"
	ln -sfn "$kind-$key" "$KI_CACHE/$kind"
	echo "built: $dir"
}

# ki_lock KIND: serialises builds of one kind across concurrent runs.
ki_lock() {
	mkdir -p "$KI_CACHE"
	exec {KI_LOCK_FD}>"$KI_CACHE/.lock-$1"
	flock -n "$KI_LOCK_FD" || {
		ki_log "another build of $1 is running; waiting for it"
		flock "$KI_LOCK_FD"
	}
}

# ki_scratch KIND KEY: prints a fresh scratch directory for one build, after
# removing what failed or interrupted builds of KIND left (call under ki_lock).
ki_scratch() {
	local d=$KI_CACHE/build/$1-$2
	rm -rf "$KI_CACHE/build/$1"-*
	mkdir -p "$d"
	echo "$d"
}

# ki_bytes FILE OFFSET COUNT: those bytes of FILE as lower-case hex.
ki_bytes() {
	od -An -v -tx1 -j "$2" -N "$3" "$1" | tr -d ' \n'
}

# ki_gcc_static OUT SRC...: the guest programs: static, small, no libc surprises.
ki_gcc_static() {
	local out=$1
	shift
	gcc -static -Os -s -std=gnu11 -Wall -Wextra -Werror -I"$KI_DIR/common" -o "$out" "$@"
}
