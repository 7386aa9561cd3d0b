/*
 * The VM's configuration as typed structs, and the parsers that fill them from
 * JSON.  The same section parsers serve the --config-file document and the API
 * request bodies (PUT /boot-source, PUT|PATCH /machine-config), so both give the
 * same validation and the same field-named error messages.
 *
 * Shapes and defaults follow Firecracker's API (swagger firecracker.yaml):
 *   boot-source:    kernel_image_path (string, required), boot_args (string),
 *                   initrd_path (string)
 *   machine-config: vcpu_count (int 1..32, required on PUT), mem_size_mib (int,
 *                   required on PUT, >= CONFIG_MIN_MEM_MIB), smt (bool, default
 *                   false; true needs an even vcpu_count or 1), track_dirty_pages
 *                   (bool), huge_pages ("None" | "2M"), cpu_template ("None")
 *   drives[]:       drive_id (string of [A-Za-z0-9_], required), path_on_host
 *                   (string, required), is_root_device (bool, required),
 *                   is_read_only (bool, default false), partuuid (string),
 *                   cache_type ("Unsafe" default | "Writeback"), io_engine
 *                   ("Sync" default | "Async"), rate_limiter (device_config.h),
 *                   socket (null only: vhost-user is not supported).  At most one root
 *                   device, kept first (it becomes /dev/vda); a drive whose
 *                   id exists replaces it in place.
 * Unknown and repeated fields are errors; a JSON null counts as an absent
 * optional field (a required one must have a value).  Integers must be written as
 * integers (1, not 1.0 or 1e0) when the tree comes from json_doc_parse
 * (json_fields.h), which the API handlers should use too.  Errors are one line
 * that names the field, e.g.
 * "machine-config.vcpu_count: must be between 1 and 32, got 64".
 * Nothing here opens the kernel or initrd: the caller checks those paths.
 */
#ifndef KILN_VM_CONFIG_H
#define KILN_VM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/compiler.h"
#include "vmm/config/device_config.h"

#define CONFIG_MAX_VCPUS 32
#define CONFIG_MIN_MEM_MIB 16
/* A sanity bound (1 TiB) so mem_size_mib << 20 plus the MMIO gap cannot overflow;
 * the real limits (host RAM, the CPU's physical address width) are checked when
 * memory is mapped. */
#define CONFIG_MAX_MEM_MIB (1ULL << 20)
/* boot_args must fit the guest's command-line buffer (layout.h's
 * LAYOUT_CMDLINE_MAX, 4096 bytes with the NUL); the loader checks again after
 * appending device entries. */
#define CONFIG_BOOT_ARGS_MAX 4095
/* vm_config_load_file refuses larger files. */
#define CONFIG_FILE_MAX (1 << 20)
#define CONFIG_ERR_MAX 256
/* Resource ids (drive_id, iface_id): Firecracker's [A-Za-z0-9_]+ of at most
 * CONFIG_ID_MAX bytes (device_config.h). */
/* Drives a VM may have: one virtio-mmio slot and IRQ each (layout.h has 19). */
#define CONFIG_MAX_DRIVES 16
/* partuuid goes onto the kernel command line as root=PARTUUID=<partuuid>. */
#define CONFIG_PARTUUID_MAX 64

struct boot_source_config {
	char kernel_image_path[CONFIG_PATH_MAX];
	char initrd_path[CONFIG_PATH_MAX]; /* "" when absent */
	char *boot_args;                   /* heap string or NULL (use the default) */
};

enum huge_pages { HUGE_PAGES_NONE = 0, HUGE_PAGES_2M };

struct machine_config {
	unsigned int vcpu_count;
	uint64_t mem_size_mib;
	bool smt;
	bool track_dirty_pages;
	enum huge_pages huge_pages;
};

/* Firecracker's cache_type. */
enum drive_cache_type { DRIVE_CACHE_UNSAFE = 0, DRIVE_CACHE_WRITEBACK };
/* Firecracker's io_engine: Sync (blocking I/O on the VMM thread) or Async
 * (io_uring). */
enum drive_io_engine { DRIVE_IO_SYNC = 0, DRIVE_IO_ASYNC };

struct drive_config {
	char drive_id[CONFIG_ID_MAX + 1];
	char path_on_host[CONFIG_PATH_MAX];
	char partuuid[CONFIG_PARTUUID_MAX + 1]; /* "" when absent */
	bool is_root_device;
	bool is_read_only;
	enum drive_cache_type cache_type;
	enum drive_io_engine io_engine;
	struct ratelimit_config rate_limiter; /* zeroed: unlimited */
	/* Where it was given, for messages about it later (opening the file):
	 * "drives[2]" in a config file, "drives" from the API. */
	char origin[24];
};

/* PATCH /drives/{id} (after boot): what to change; absent fields stay. */
struct drive_patch {
	char drive_id[CONFIG_ID_MAX + 1];
	char path_on_host[CONFIG_PATH_MAX]; /* "" when absent */
	bool has_rate_limiter;
	struct ratelimit_config rate_limiter;
};

struct vm_config {
	bool has_boot_source;
	struct boot_source_config boot_source;
	struct machine_config machine; /* defaults: 1 vCPU, 128 MiB (Firecracker's) */
	unsigned int nr_drives;
	struct drive_config drives[CONFIG_MAX_DRIVES]; /* the root device, if any, first */
	unsigned int nr_net;
	struct net_iface_config net[CONFIG_MAX_NET_IFACES];
	struct vsock_config vsock;
	struct balloon_config balloon;
	struct entropy_config entropy;
	/* Config-file only: applied at start-up like --log-path / --metrics-path. */
	bool has_logger, has_metrics;
	struct logger_config logger;
	struct metrics_config metrics;
};

/* The kernel command line used when boot_args is absent (Firecracker's default). */
#define CONFIG_DEFAULT_BOOT_ARGS "reboot=k panic=1 pci=off nomodule 8250.nr_uarts=1 i8042.noaux i8042.nomux i8042.dumbkbd swiotlb=noforce"

void vm_config_init(struct vm_config *cfg);  /* defaults */
void vm_config_free(struct vm_config *cfg);  /* frees heap strings; cfg stays valid (defaults) */
void machine_config_init(struct machine_config *mc); /* Firecracker's defaults */

/*
 * Parses a whole config-file document (text, len bytes, need not be NUL-terminated).
 * cfg is filled from scratch: it need not be initialised, and what it held is
 * not freed (call vm_config_free first when reusing one).  On error returns
 * -EINVAL (-ENOMEM when out of memory) and writes the message to err; cfg then
 * holds the defaults, so vm_config_free is always safe.  A file without
 * "boot-source" is an error.
 */
int vm_config_parse(const char *text, size_t len, struct vm_config *cfg, char err[CONFIG_ERR_MAX]) __must_check;

/* Reads path (refusing non-regular files and files over CONFIG_FILE_MAX) and
 * parses it, with vm_config_parse's rules for cfg.  Errors name the path
 * ("vm.json: cannot read: No such file or directory"); returns -errno for I/O
 * failures (-EISDIR, -EFBIG, ...) and -EINVAL for bad content. */
int vm_config_load_file(const char *path, struct vm_config *cfg, char err[CONFIG_ERR_MAX]) __must_check;

/*
 * Section parsers for the API; json is a cJSON object (passed as void * so this
 * header does not pull in cJSON).  On success they replace *out (boot_source_parse
 * frees the old boot_args, so *out must be initialised); on error *out is
 * untouched.  machine_config_parse with patch=true updates only the fields
 * present (PATCH /machine-config; a PATCH with no field is an error, as in
 * Firecracker); with patch=false vcpu_count and mem_size_mib are required and
 * others reset to defaults.  Both return -EINVAL, or -ENOMEM.
 */
int boot_source_parse(const void *json, struct boot_source_config *out, char err[CONFIG_ERR_MAX]) __must_check;
int machine_config_parse(const void *json, bool patch, struct machine_config *out, char err[CONFIG_ERR_MAX]) __must_check;

/*
 * A drive object (config-file array element or PUT /drives body); section
 * names it in messages ("drives[1]", "drives").  Checks shapes only: the VMM
 * opens path_on_host.  On success *out is replaced; on error untouched.
 * -EINVAL or -ENOMEM.
 */
int drive_config_parse(const void *json, const char *section, struct drive_config *out,
		       char err[CONFIG_ERR_MAX]) __must_check;

/* A PATCH /drives/{id} body: drive_id (required), path_on_host, rate_limiter
 * (null only).  At least one field besides drive_id must be present. */
int drive_patch_parse(const void *json, const char *section, struct drive_patch *out,
		      char err[CONFIG_ERR_MAX]) __must_check;

/*
 * Adds d to cfg with Firecracker's rules: a drive with d's id is replaced in
 * place; a root device goes first (a second root device is refused, unless
 * it replaces the current one); the list holds CONFIG_MAX_DRIVES.  On error
 * (-EINVAL, message naming section) cfg is untouched.
 */
int vm_config_drive_put(struct vm_config *cfg, const struct drive_config *d, const char *section,
			char err[CONFIG_ERR_MAX]) __must_check;

/*
 * The other device sections (device_config.h has the shapes).  Each parser
 * fills *out from scratch on success and leaves it untouched on error; section
 * names the place in messages ("network-interfaces[0]", "vsock", ...).
 */
int rate_limiter_parse(const void *json, const char *section, const char *name,
		       struct ratelimit_config *out, char err[CONFIG_ERR_MAX]) __must_check;
int net_iface_config_parse(const void *json, const char *section, struct net_iface_config *out,
			   char err[CONFIG_ERR_MAX]) __must_check;
int net_iface_patch_parse(const void *json, const char *section, struct net_iface_patch *out,
			  char err[CONFIG_ERR_MAX]) __must_check;
int vsock_config_parse(const void *json, const char *section, struct vsock_config *out,
		       char err[CONFIG_ERR_MAX]) __must_check;
int balloon_config_parse(const void *json, const char *section, struct balloon_config *out,
			 char err[CONFIG_ERR_MAX]) __must_check;
/* PATCH /balloon (stats=false: amount_mib required) and PATCH
 * /balloon/statistics (stats=true: stats_polling_interval_s required). */
int balloon_patch_parse(const void *json, const char *section, bool stats, struct balloon_patch *out,
			char err[CONFIG_ERR_MAX]) __must_check;
int entropy_config_parse(const void *json, const char *section, struct entropy_config *out,
			 char err[CONFIG_ERR_MAX]) __must_check;
int logger_config_parse(const void *json, const char *section, struct logger_config *out,
			char err[CONFIG_ERR_MAX]) __must_check;
int metrics_config_parse(const void *json, const char *section, struct metrics_config *out,
			 char err[CONFIG_ERR_MAX]) __must_check;

/*
 * Adds n to cfg: an interface with n's iface_id is replaced in place; a
 * host_dev_name or guest_mac another interface uses is refused (Firecracker's
 * rules), as is a full list.  On error (-EINVAL) cfg is untouched.
 */
int vm_config_net_put(struct vm_config *cfg, const struct net_iface_config *n, const char *section,
		      char err[CONFIG_ERR_MAX]) __must_check;
struct net_iface_config *vm_config_net_find(struct vm_config *cfg, const char *iface_id);

/* The drive with this id, or NULL. */
struct drive_config *vm_config_drive_find(struct vm_config *cfg, const char *drive_id);

/* 0 when id is 1..CONFIG_ID_MAX of [A-Za-z0-9_]. */
int config_id_check(const char *id, size_t len) __must_check;

/* Checks a machine config as a whole (the smt/vcpu_count rule, limits, mem_size_mib
 * a multiple of 2 with 2M huge pages). */
int machine_config_validate(const struct machine_config *mc, char err[CONFIG_ERR_MAX]) __must_check;

void boot_source_free(struct boot_source_config *bs); /* frees boot_args, sets it NULL */

#endif
