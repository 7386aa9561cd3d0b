/*
 * Everything a kiln snapshot holds besides guest memory, as plain structs
 * (no pointers, no host handles), and the vmstate file that carries them.
 *
 * File layout (all integers little-endian):
 *
 *   offset 0   magic "KILNSNAP" (8 bytes)
 *          8   le32 format version (SNAP_FORMAT_VERSION)
 *         12   le32 number of sections
 *         16   le64 payload length in bytes
 *         24   le64 CRC-64/XZ of the payload (crc64.h)
 *         32   payload: the sections, back to back
 *
 *   section:   le16 type (enum snap_section), le16 section version,
 *              le32 body length, body
 *
 * The header's checks (magic, version, sizes: the file is exactly header +
 * payload, at most SNAP_FILE_MAX) and the CRC come before any section is
 * decoded; each section body is decoded by a bounded reader (snap_wire.h) and
 * must be consumed exactly.  Kinds of device are section types, each with its
 * own version, so a new kind of device is a new type and an older kiln
 * refuses it by name rather than misreading it.
 *
 * Decoding checks that the state is self-consistent (counts within their
 * caps, one section of each singleton kind, one vCPU section per configured
 * vCPU with distinct ids, memory regions that tile mem_size_mib, distinct
 * virtio slots, strings that fit and hold no NUL, at most one vsock, balloon
 * and rng, a device's config agreeing with its state (MAC, MTU, CID, balloon
 * settings and target), flags that are 0 or 1, frame lengths and held-chain
 * counts within their buffers).  What only the device or
 * KVM can judge (UART registers, queue addresses against guest memory,
 * register values) is judged again where it is applied: serial8250_restore,
 * vmmio_restore, KVM.
 *
 * This library makes no system call but reading and writing a file and
 * mapping the state's memory; it is what the fuzz target fuzz_snapshot
 * links.
 */
#ifndef KILN_SNAP_STATE_H
#define KILN_SNAP_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <linux/kvm.h>

#include "devices/balloon/balloon.h"
#include "devices/block/blk.h"
#include "devices/legacy/boot_timer.h"
#include "devices/legacy/i8042.h"
#include "devices/legacy/serial8250.h"
#include "devices/net/net.h"
#include "devices/rng/rng.h"
#include "devices/virtio/virtio_mmio.h"
#include "devices/vsock/vsock.h"
#include "vmm/compiler.h"
#include "vmm/config/vm_config.h"

#define SNAP_MAGIC "KILNSNAP"
#define SNAP_MAGIC_LEN 8
#define SNAP_FORMAT_VERSION 1
#define SNAP_HEADER_LEN 32
#define SNAP_SECTION_HDR_LEN 8
#define SNAP_FILE_MAX (16u << 20)   /* 32 vCPUs take well under 1 MiB */
#define SNAP_MAX_SECTIONS 128
#define SNAP_ERR_MAX 512

#define SNAP_MAX_VCPUS CONFIG_MAX_VCPUS
#define SNAP_MAX_MSRS 512
#define SNAP_MAX_CPUID 256
#define SNAP_MAX_REGIONS 4
#define SNAP_MAX_DEVICES 32
#define SNAP_PAGE_SIZE 4096u

enum snap_section {
	SNAP_SEC_MACHINE = 1,    /* machine config */
	SNAP_SEC_MEMORY = 2,     /* guest RAM regions and their memory-file offsets */
	SNAP_SEC_VCPU = 3,       /* one per vCPU */
	SNAP_SEC_VM = 4,         /* PIC, IOAPIC, PIT, kvmclock */
	SNAP_SEC_SERIAL = 5,     /* 8250 at COM1 */
	SNAP_SEC_I8042 = 6,
	SNAP_SEC_BOOT_TIMER = 7, /* only when the VM has one */
	/* Devices: one section per virtio-mmio slot. */
	SNAP_SEC_VIRTIO_BLK = 16,
	SNAP_SEC_VIRTIO_NET = 17,
	SNAP_SEC_VIRTIO_VSOCK = 18,
	SNAP_SEC_VIRTIO_BALLOON = 19,
	SNAP_SEC_VIRTIO_RNG = 20,
};

/* Each section type's current version. */
#define SNAP_SEC_VERSION 1

struct snap_machine {
	uint32_t vcpu_count;
	uint64_t mem_size_mib;
	bool smt;
	bool track_dirty_pages;
	uint32_t huge_pages; /* enum huge_pages */
};

/* One guest RAM region: [gpa, gpa + size) lives at file_offset of the memory
 * file.  Regions are in file order, contiguous from offset 0. */
struct snap_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t file_offset;
};

struct snap_memory {
	uint32_t nr_regions;
	uint32_t page_size;
	struct snap_region regions[SNAP_MAX_REGIONS];
};

/* Which optional parts of a vCPU's state KVM gave us. */
#define SNAP_VCPU_XSAVE     (1u << 0) /* xsave holds KVM_GET_XSAVE, else fpu */
#define SNAP_VCPU_XCRS      (1u << 1)
#define SNAP_VCPU_DEBUGREGS (1u << 2)
#define SNAP_VCPU_CPUID     (1u << 3)
#define SNAP_VCPU_FLAGS_ALL 0xfu

struct snap_vcpu {
	uint32_t id;
	uint32_t flags;
	uint32_t tsc_khz;    /* 0: unknown */
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu;
	uint32_t xsave[1024]; /* struct kvm_xsave's region (KVM_GET_XSAVE's 4 KiB) */
	struct kvm_xcrs xcrs;
	struct kvm_lapic_state lapic;
	struct kvm_mp_state mp_state;
	struct kvm_vcpu_events events;
	struct kvm_debugregs debugregs;
	uint32_t nr_msrs;
	struct kvm_msr_entry msrs[SNAP_MAX_MSRS];
	uint32_t nr_cpuid;
	struct kvm_cpuid_entry2 cpuid[SNAP_MAX_CPUID];
};

struct snap_vm {
	struct kvm_irqchip pic_master; /* chip_id 0 */
	struct kvm_irqchip pic_slave;  /* chip_id 1 */
	struct kvm_irqchip ioapic;     /* chip_id 2 */
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
};

/* A virtio-blk device: its backend identity and config as given (to rebuild
 * it), and the device's own state (capacity, features, id, rate limiter
 * budgets; blk_state_restore judges it). */
struct snap_blk {
	char drive_id[CONFIG_ID_MAX + 1];
	char path_on_host[CONFIG_PATH_MAX];
	char partuuid[CONFIG_PARTUUID_MAX + 1];
	bool is_root_device;
	bool is_read_only;
	uint32_t cache_type; /* enum drive_cache_type */
	uint32_t io_engine;  /* enum drive_io_engine */
	struct ratelimit_config rate_limiter;
	struct blk_state dev;
};

/*
 * A virtio-net device: the interface as configured (to rebuild it: the TAP
 * name, which network_overrides may replace on load, the MAC, MTU and the
 * rate limiters in force when it was saved) and net_save's state (a frame
 * read from the TAP and not yet delivered, a frame held back for sending,
 * the limiters' buckets; net_restore judges it).  Only the rx_len / tx_len
 * bytes of the frames and rx_nheld held chains are stored.
 */
struct snap_net {
	struct net_iface_config cfg;
	struct net_state dev;
};

/* vsock: the config (uds_path may be replaced on load by vsock_override);
 * the device state is its CID and a pending transport reset. */
struct snap_vsock {
	struct vsock_config cfg;
	struct vsock_state dev;
};

/* balloon: the config to rebuild it with (amount_mib: the target when
 * saved; the statistics interval in force then) and balloon_save's state. */
struct snap_balloon {
	struct balloon_config cfg;
	struct balloon_state dev;
};

/* rng ("entropy"): the rate limiter config and its buckets. */
struct snap_rng {
	struct entropy_config cfg;
	struct rng_state dev;
};

struct snap_virtio {
	uint16_t type;       /* enum snap_section of the device kind */
	uint32_t slot;       /* virtio-mmio slot (address and IRQ follow from it) */
	struct vmmio_state transport;
	union {
		struct snap_blk blk;
		struct snap_net net;
		struct snap_vsock vsock;
		struct snap_balloon balloon;
		struct snap_rng rng;
	} u;
};

/* A field added here is also cleared in snap_decode.c's snap_state_reset. */
struct snap_state {
	struct snap_machine machine;
	struct snap_memory memory;
	uint32_t nr_vcpus;
	struct snap_vcpu vcpus[SNAP_MAX_VCPUS];
	struct snap_vm vm;
	struct serial8250_state serial;
	struct i8042_state i8042;
	bool has_boot_timer;
	struct boot_timer_state boot_timer;
	uint32_t nr_devices;
	struct snap_virtio devices[SNAP_MAX_DEVICES];
};

/* A zeroed state (anonymous memory: it is a few MiB of address space, of
 * which only what is used gets touched); NULL when out of memory. */
struct snap_state *snap_state_new(void);
void snap_state_free(struct snap_state *st);

/*
 * Encodes st into a malloc'ed file image (*out, *len).  Refuses (-EINVAL) a
 * state the decoder would refuse, so every file kiln writes reads back.
 * 0, -EINVAL with err, or -ENOMEM.
 */
int snap_encode(const struct snap_state *st, uint8_t **out, size_t *len, char err[SNAP_ERR_MAX])
	__must_check;

/*
 * Decodes a file image (untrusted) into *st.  0, or -EINVAL with err naming
 * what is wrong: "bad magic", "format version 2 (this kiln reads 1)",
 * "truncated: ...", "CRC mismatch ...", "section 3 (vcpu) at offset 1234: ...".
 * *st is overwritten either way; array entries past their counts (nr_vcpus,
 * nr_devices) are left as they were, unread: only what the file holds is
 * touched, since a zeroed state is megabytes (a net device holds two 64 KiB
 * frames) and the restore path is measured in milliseconds.
 */
int snap_decode(const uint8_t *data, size_t len, struct snap_state *st, char err[SNAP_ERR_MAX])
	__must_check;

/* Reads a vmstate file (regular file, at most SNAP_FILE_MAX bytes) and
 * decodes it.  0, or -errno / -EINVAL with err naming the path. */
int snap_read_file(const char *path, struct snap_state *st, char err[SNAP_ERR_MAX]) __must_check;

/* Writes the encoded state to path (created or truncated, 0600) and fsyncs. */
int snap_write_file(const char *path, const struct snap_state *st, char err[SNAP_ERR_MAX]) __must_check;

/* The format version stored in a file image (0 when not a kiln snapshot). */
uint32_t snap_peek_version(const uint8_t *data, size_t len);

/* A human summary (kiln --describe-snapshot). */
void snap_describe(const struct snap_state *st, FILE *f);

/* Name of a section type ("vcpu", "virtio-blk", ...), or "unknown". */
const char *snap_section_name(unsigned int type);

#endif
