#!/usr/bin/env bash
# Sets up a fresh machine and boots the default microVM to a shell on this
# terminal: our microVM kernel (guest-images/kernel) with the busybox rootfs
# and kiln's init agent (guest-images/rootfs).  Leave the shell with `exit`
# or `reboot`; kiln then exits 0.
#
# The rootfs is the root drive (virtio-blk, read-write): a copy of the cached
# image under the build directory, made anew each boot.  Extra kiln flags pass
# through:  ci/boot.sh --level Debug
set -euo pipefail
cd "$(dirname "$0")/.."
export KILN_BUILD=${KILN_BUILD:-$PWD/build}
images=${KILN_IMAGES:-$HOME/.cache/kiln/images}

bash ci/setup.sh >&2
bash ci/build.sh >&2
bash guest-images/build.sh kernel rootfs >&2

cfg=$KILN_BUILD/default-vm.json
disk=$KILN_BUILD/default-rootfs.ext4
cp "$images/rootfs/rootfs.ext4" "$disk"
cat > "$cfg" <<JSON
{
  "boot-source": {
    "kernel_image_path": "$images/kernel/vmlinux",
    "boot_args": "console=ttyS0 reboot=k panic=1 i8042.noaux i8042.nomux i8042.dumbkbd kiln.agent=shell"
  },
  "drives": [
    { "drive_id": "rootfs", "path_on_host": "$disk", "is_root_device": true, "is_read_only": false }
  ],
  "machine-config": { "vcpu_count": 2, "mem_size_mib": 256 }
}
JSON
if [ -e /sys/module/kvm_pvm ] && ! grep -q "pvm-syscall-fixup" "$images/kernel/build-info" 2>/dev/null; then
  echo "ci/boot.sh: note: this host's KVM is PVM and the kernel lacks the PVM syscall fix-up;" >&2
  echo "ci/boot.sh: the kernel will boot, but user space (the shell) cannot run here." >&2
fi
echo "ci/boot.sh: booting (on software-emulated KVM the kernel takes ~30 s)" >&2
exec "$KILN_BUILD/vmm/core/kiln" --config-file "$cfg" --no-api --boot-timer "$@"
