#!/usr/bin/env bash
# Installs what kiln needs to build and test, from Debian packages only.
# Idempotent: packages already present are not fetched again.
set -euo pipefail

pkgs=(
  # build
  meson ninja-build pkg-config gcc clang lld llvm
  # libraries kiln links
  libcjson-dev libseccomp-dev libbpf-dev libmicrohttpd-dev liburing-dev systemtap-sdt-dev
  # tests
  libcriterion-dev python3-pytest curl iproute2
  # kiln-probe (bench/probes: BPF skeletons) and the QEMU comparison (bench/qemu_compare.py)
  bpftool qemu-system-x86
  # fuzzing runtime (ASan/UBSan/libFuzzer)
  libclang-rt-14-dev
  # guest images (guest-images/build.sh installs the rest it needs)
  busybox-static e2fsprogs cpio
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "ci/setup.sh: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
