/*
 * fuzz_kernel_loader: vmm/boot on an untrusted kernel image, then the initrd
 * placement and the boot structures with parameters from the input.
 *
 * Input: a KL_HDR_SIZE-byte parameter block (struct kl_params, little-endian,
 * fuzz/make-seeds.py writes it) followed by the kernel image.  Guest memory is
 * the boot unit's fake (vmm/boot/test_util.h): 64 MiB at 0 and 2 MiB at
 * 4 GiB, of which the layout byte picks a subset.  It is allocated once and never
 * cleared, so bytes from earlier runs remain (the loaders must not care).
 *
 * Checked after each call: the return code is a documented one; failures say
 * why in one line and wrote no guest memory; successes stay inside guest RAM and keep the promises of
 * loader.h / zeropage.h / mptable.h (entry point inside RAM and below 4 GiB,
 * initrd page-aligned inside its window, every e820 RAM entry backed by a
 * gmem region, MP checksums, sizes and alignment).
 */
#include <elf.h>
#include <errno.h>

#include "fuzz/fuzz_common.h"
#include "vmm/boot/e820.h"
#include "vmm/boot/layout.h"
#include "vmm/boot/loader.h"
#include "vmm/boot/mptable.h"
#include "vmm/boot/pvh.h"
#include "vmm/boot/test_util.h"
#include "vmm/boot/zeropage.h"

#define KL_HDR_SIZE 48
#define KL_LOW_SIZE (64 * MiB)
#define KL_HIGH_SIZE (2 * MiB)
#define KL_INITRD_MAX (1 * MiB)
#define FOUR_GIB LAYOUT_MMIO_GAP_END

/* flags */
#define KL_F_INITRD       0x01 /* place an initrd with initrd_load */
#define KL_F_CMDLINE      0x02 /* write cmdline_len 'k' bytes and a NUL at cmdline_addr first */
#define KL_F_SETUP_HDR    0x04 /* hand the zero page a setup header (the loaded one, else raw image bytes) */
#define KL_F_MIN_START    0x08 /* initrd min_start from the block, not the kernel end */
#define KL_F_RAW_INITRD   0x10 /* boot info gets initrd_max_end/initrd_size as is */

struct kl_params {
	uint8_t layout;          /* % 4: low 64 MiB, + 2 MiB at 4 GiB, low 1 MiB, only high */
	uint8_t flags;
	uint16_t ncpus;          /* mptable_write */
	uint32_t initrd_size;    /* % (KL_INITRD_MAX + 1) */
	uint64_t initrd_max_end; /* initrd_load's max_end */
	uint64_t boot_addr;      /* zeropage_write and pvh_info_write */
	uint64_t mptable_addr;
	uint64_t cmdline_addr;
	uint16_t cmdline_len;
	uint16_t reserved;
	uint32_t initrd_min_start;
};

/*
 * Every write to guest memory the boot unit makes goes through gmem_write or
 * gmem_fill; fuzz/meson.build links this target with -Wl,--wrap for both, so
 * the target counts them and can check loader.h's promise that a refused
 * image (and a refused boot structure) leaves guest memory untouched.
 */
int __real_gmem_write(const struct gmem *mem, uint64_t gpa, const void *src, size_t len);
int __real_gmem_fill(const struct gmem *mem, uint64_t gpa, int c, size_t len);
int __wrap_gmem_write(const struct gmem *mem, uint64_t gpa, const void *src, size_t len);
int __wrap_gmem_fill(const struct gmem *mem, uint64_t gpa, int c, size_t len);

static unsigned int guest_writes;

int __wrap_gmem_write(const struct gmem *mem, uint64_t gpa, const void *src, size_t len)
{
	int rc = __real_gmem_write(mem, gpa, src, len);

	guest_writes += !rc && len;
	return rc;
}

int __wrap_gmem_fill(const struct gmem *mem, uint64_t gpa, int c, size_t len)
{
	int rc = __real_gmem_fill(mem, gpa, c, len);

	guest_writes += !rc && len;
	return rc;
}

/* Runs call and checks that it wrote guest memory only if it succeeded. */
#define UNTOUCHED_ON_FAILURE(what, call)                                                        	({                                                                                      		unsigned int before_ = guest_writes;                                            		int rc_ = (call);                                                               		FUZZ_CHECK(rc_ == 0 || guest_writes == before_,                                 			   "%s failed (%d) after writing guest memory", what, rc_);             		rc_;                                                                            	})

static struct test_mem tm;
/* The layouts the block's layout byte picks from (layout % 4): tm.mem (low +
 * high), only the low region, a low region of just 1 MiB (e820_build refuses
 * it), and only the high region (no RAM at 0). */
static struct gmem mem_low, mem_1m, mem_high;
static uint8_t initrd_bytes[KL_INITRD_MAX];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	test_mem_init(&tm, KL_LOW_SIZE, KL_HIGH_SIZE);
	gmem_init(&mem_low);
	gmem_init(&mem_1m);
	gmem_init(&mem_high);
	FUZZ_CHECK(gmem_add_region(&mem_low, 0, KL_LOW_SIZE, tm.low) == 0 &&
			   gmem_add_region(&mem_1m, 0, LAYOUT_HIMEM_START, tm.low) == 0 &&
			   gmem_add_region(&mem_high, TEST_HIGH_GPA, KL_HIGH_SIZE, tm.high) == 0, "gmem");
	for (size_t i = 0; i < sizeof(initrd_bytes); i++)
		initrd_bytes[i] = (uint8_t)(i * 11 + 5);
	return 0;
}

static void kl_decode(struct fz *f, struct kl_params *p)
{
	p->layout = fz_u8(f);
	p->flags = fz_u8(f);
	p->ncpus = fz_u16(f);
	p->initrd_size = fz_u32(f) % (KL_INITRD_MAX + 1);
	p->initrd_max_end = fz_u64(f);
	p->boot_addr = fz_u64(f);
	p->mptable_addr = fz_u64(f);
	p->cmdline_addr = fz_u64(f);
	p->cmdline_len = fz_u16(f);
	p->reserved = fz_u16(f);
	p->initrd_min_start = fz_u32(f);
}

static void check_loader_err(int rc, const char *err, int a, int b, int c)
{
	FUZZ_CHECK(rc == a || rc == b || rc == c, "unexpected return code %d (%s)", rc, err);
	FUZZ_CHECK(err[0] && fz_msg_is_safe(err, LOADER_ERR_MAX), "error message is not one safe line");
}

static void check_kernel(const struct gmem *mem, const uint8_t *image, size_t size,
			 const struct kernel_load_result *r)
{
	FUZZ_CHECK(r->entry < FOUR_GIB && gmem_range_ok(mem, r->entry, 1),
		   "entry %#llx is not RAM below 4 GiB", (unsigned long long)r->entry);
	FUZZ_CHECK(r->entry >= LAYOUT_HIMEM_START, "entry %#llx below 1 MiB", (unsigned long long)r->entry);
	FUZZ_CHECK(r->kernel_end > r->entry && gmem_range_ok(mem, r->kernel_end - 1, 1),
		   "kernel_end %#llx", (unsigned long long)r->kernel_end);
	if (size >= SELFMAG && !memcmp(image, ELFMAG, SELFMAG)) {
		FUZZ_CHECK(r->format == KERNEL_ELF && !r->have_setup_header, "ELF result");
		return;
	}
	FUZZ_CHECK(r->format == KERNEL_BZIMAGE && r->kind == BOOT_LINUX64 && r->have_setup_header &&
			   r->is_linux, "bzImage result");
	FUZZ_CHECK(r->setup_header.header == SETUP_HEADER_MAGIC &&
			   r->setup_header.version >= BOOT_PROTOCOL(2, 12) &&
			   (r->setup_header.xloadflags & XLF_KERNEL_64) &&
			   (r->setup_header.loadflags & LOADED_HIGH), "bzImage header");
	FUZZ_CHECK(r->entry == LAYOUT_KERNEL_LOAD + BZIMAGE_ENTRY64_OFFSET, "bzImage entry");
}

static void check_e820(const struct gmem *mem, const struct e820_entry *map, unsigned int n, unsigned int max)
{
	FUZZ_CHECK(n >= 2 && n <= max, "%u e820 entries", n);
	for (unsigned int i = 0; i < n; i++) {
		struct e820_entry e;

		memcpy(&e, &map[i], sizeof(e));
		FUZZ_CHECK(e.type != E820_RAM || (e.size && gmem_range_ok(mem, e.addr, e.size)),
			   "e820 entry %u [%#llx, +%#llx) claims RAM kiln does not back", i,
			   (unsigned long long)e.addr, (unsigned long long)e.size);
		FUZZ_CHECK(e.type != E820_RAM || e.addr + e.size <= LAYOUT_EBDA_START ||
				   e.addr >= LAYOUT_HIMEM_START, "e820 reports the EBDA hole as RAM");
	}
}

static void check_zeropage(const struct gmem *mem, uint64_t addr, const struct boot_info_args *a)
{
	static struct boot_params bp;
	const struct setup_header *h = a->setup_header;

	FUZZ_CHECK(gmem_read(mem, addr, &bp, sizeof(bp)) == 0, "zero page not readable");
	FUZZ_CHECK(bp.hdr.type_of_loader == BOOT_LOADER_UNDEFINED && bp.hdr.setup_data == 0 &&
			   (bp.hdr.loadflags & LOADED_HIGH), "loader-owned fields");
	FUZZ_CHECK(bp.hdr.cmd_line_ptr == (uint32_t)a->cmdline_addr &&
			   bp.ext_cmd_line_ptr == (uint32_t)(a->cmdline_addr >> 32), "cmd_line_ptr");
	FUZZ_CHECK(bp.hdr.ramdisk_image == (uint32_t)a->initrd_addr &&
			   bp.ext_ramdisk_image == (uint32_t)(a->initrd_addr >> 32) &&
			   bp.hdr.ramdisk_size == (uint32_t)a->initrd_size &&
			   bp.ext_ramdisk_size == (uint32_t)(a->initrd_size >> 32), "ramdisk fields");
	check_e820(mem, bp.e820_table, bp.e820_entries, BOOT_PARAMS_E820_MAX);
	if (!h)
		return;
	FUZZ_CHECK(!h->cmdline_size || a->cmdline_len <= h->cmdline_size, "command line longer than cmdline_size");
	if (!(h->xloadflags & XLF_CAN_BE_LOADED_ABOVE_4G)) {
		FUZZ_CHECK(!a->initrd_size || a->initrd_addr + a->initrd_size - 1 <= h->initrd_addr_max,
			   "initrd above initrd_addr_max");
		FUZZ_CHECK(a->cmdline_addr + a->cmdline_len < FOUR_GIB && addr + sizeof(bp) <= FOUR_GIB,
			   "boot data above 4 GiB for a kernel that cannot reach it");
	}
}

static void check_pvh(const struct gmem *mem, uint64_t addr, const struct boot_info_args *a)
{
	static uint8_t page[0x1000];
	struct hvm_start_info info;
	struct e820_entry map[E820_MAX_ENTRIES];

	FUZZ_CHECK(addr % 8 == 0 && addr + sizeof(page) <= FOUR_GIB, "PVH page at %#llx", (unsigned long long)addr);
	FUZZ_CHECK(gmem_read(mem, addr, page, sizeof(page)) == 0, "PVH page not readable");
	memcpy(&info, page, sizeof(info));
	FUZZ_CHECK(info.magic == HVM_START_MAGIC_VALUE && info.version == HVM_START_VERSION, "PVH magic");
	FUZZ_CHECK(info.cmdline_paddr == a->cmdline_addr, "PVH cmdline");
	FUZZ_CHECK(info.nr_modules == (a->initrd_size ? 1u : 0u), "PVH modules");
	FUZZ_CHECK(info.memmap_entries <= E820_MAX_ENTRIES && info.memmap_paddr >= addr &&
			   info.memmap_paddr - addr + info.memmap_entries * sizeof(struct hvm_memmap_table_entry) <=
				   sizeof(page), "PVH memory map outside its page");
	for (unsigned int i = 0; i < info.memmap_entries; i++) {
		struct hvm_memmap_table_entry e;

		memcpy(&e, page + (info.memmap_paddr - addr) + i * sizeof(e), sizeof(e));
		map[i] = (struct e820_entry){ .addr = e.addr, .size = e.size, .type = e.type };
	}
	check_e820(mem, map, info.memmap_entries, E820_MAX_ENTRIES);
}

static uint8_t sum8(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

static void check_mptable(const struct gmem *mem, uint64_t addr, unsigned int ncpus, uint64_t size)
{
	static uint8_t t[16 + 44 + 20 * MPTABLE_MAX_CPUS + 8 * 28];
	uint16_t len;

	FUZZ_CHECK(ncpus >= 1 && ncpus <= MPTABLE_MAX_CPUS, "ncpus %u accepted", ncpus);
	FUZZ_CHECK(size == 16 + 44 + 20ULL * ncpus + 8 * 28, "MP table size %llu", (unsigned long long)size);
	FUZZ_CHECK(addr % 16 == 0 && addr + size <= FOUR_GIB, "MP table at %#llx", (unsigned long long)addr);
	FUZZ_CHECK(gmem_read(mem, addr, t, size) == 0, "MP table not readable");
	FUZZ_CHECK(!memcmp(t, "_MP_", 4) && sum8(t, 16) == 0, "MP floating pointer");
	memcpy(&len, t + 16 + 4, sizeof(len));
	FUZZ_CHECK(!memcmp(t + 16, "PCMP", 4) && 16 + (uint64_t)len == size && sum8(t + 16, len) == 0,
		   "MP config table");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = fz_init(data, size);
	struct kernel_load_result res;
	struct boot_info_args args = { 0 };
	struct setup_header raw_hdr;
	const struct gmem *mem;
	const uint8_t *image;
	char err[LOADER_ERR_MAX];
	struct kl_params p;
	uint64_t min_start = 0, initrd_addr = 0, mp_size = 0;
	size_t image_size;
	int rc, loaded;

	if (!tm.low)
		LLVMFuzzerInitialize(NULL, NULL); /* replay_main calls it; be safe either way */
	if (size < KL_HDR_SIZE)
		return 0;
	kl_decode(&f, &p);
	image = data + KL_HDR_SIZE;
	image_size = size - KL_HDR_SIZE;
	mem = (const struct gmem *[]){ &mem_low, &tm.mem, &mem_1m, &mem_high }[p.layout % 4];

	/* The kernel. */
	memset(&res, 0x5a, sizeof(res));
	err[0] = '\0';
	rc = UNTOUCHED_ON_FAILURE("kernel_load", kernel_load(mem, image, image_size, &res, err));
	loaded = rc == 0;
	if (loaded) {
		check_kernel(mem, image, image_size, &res);
		min_start = res.kernel_end;
	} else {
		check_loader_err(rc, err, -ENOEXEC, -EINVAL, -EFAULT);
	}

	/* The initrd, as high as it fits below max_end. */
	if (p.flags & KL_F_MIN_START)
		min_start = p.initrd_min_start;
	if ((p.flags & KL_F_INITRD) && p.initrd_size) {
		err[0] = '\0';
		rc = UNTOUCHED_ON_FAILURE("initrd_load", initrd_load(mem, initrd_bytes, p.initrd_size, min_start,
									p.initrd_max_end, &initrd_addr, err));
		if (rc == 0) {
			const void *host;

			FUZZ_CHECK(initrd_addr % 0x1000 == 0 && initrd_addr >= min_start &&
					   initrd_addr + p.initrd_size <= p.initrd_max_end,
				   "initrd at %#llx outside [%#llx, %#llx)", (unsigned long long)initrd_addr,
				   (unsigned long long)min_start, (unsigned long long)p.initrd_max_end);
			FUZZ_CHECK(gmem_slice(mem, initrd_addr, p.initrd_size, (void **)&host) == 0 &&
					   !memcmp(host, initrd_bytes, p.initrd_size), "initrd bytes");
			args.initrd_addr = initrd_addr;
			args.initrd_size = p.initrd_size;
		} else {
			check_loader_err(rc, err, -ENOMEM, -EFAULT, -EINVAL);
		}
	}
	if (p.flags & KL_F_RAW_INITRD) {
		args.initrd_addr = p.initrd_max_end;
		args.initrd_size = p.initrd_size;
	}

	/* The command line. */
	if (p.flags & KL_F_CMDLINE) {
		void *host;

		if (gmem_slice(mem, p.cmdline_addr, (size_t)p.cmdline_len + 1, &host) == 0) {
			memset(host, 'k', p.cmdline_len);
			((uint8_t *)host)[p.cmdline_len] = '\0';
		}
	}
	args.cmdline_addr = p.cmdline_addr;
	args.cmdline_len = p.cmdline_len;

	/* The zero page: with the loaded kernel's setup header, or any bytes as one. */
	if (p.flags & KL_F_SETUP_HDR) {
		if (loaded && res.have_setup_header) {
			args.setup_header = &res.setup_header;
		} else if (image_size >= SETUP_HEADER_OFFSET + sizeof(raw_hdr)) {
			memcpy(&raw_hdr, image + SETUP_HEADER_OFFSET, sizeof(raw_hdr));
			args.setup_header = &raw_hdr;
		}
	}
	rc = UNTOUCHED_ON_FAILURE("zeropage_write", zeropage_write(mem, p.boot_addr, &args));
	FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -EFAULT, "zeropage_write = %d", rc);
	if (rc == 0) {
		FUZZ_CHECK(boot_info_args_check(mem, &args) == 0,
			   "zero page at %#llx accepted, then the args it carries are bad: cmdline %#llx+%u, initrd %#llx+%#llx",
			   (unsigned long long)p.boot_addr, (unsigned long long)args.cmdline_addr, args.cmdline_len,
			   (unsigned long long)args.initrd_addr, (unsigned long long)args.initrd_size);
		check_zeropage(mem, p.boot_addr, &args);
	}

	/* The PVH start info at the same address (a kernel gets one or the other). */
	args.setup_header = NULL;
	rc = UNTOUCHED_ON_FAILURE("pvh_info_write", pvh_info_write(mem, p.boot_addr, &args));
	FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -EFAULT, "pvh_info_write = %d", rc);
	if (rc == 0)
		check_pvh(mem, p.boot_addr, &args);

	/* The MP table. */
	rc = UNTOUCHED_ON_FAILURE("mptable_write", mptable_write(mem, p.mptable_addr, p.ncpus, &mp_size));
	FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -EFAULT, "mptable_write = %d", rc);
	if (rc == 0)
		check_mptable(mem, p.mptable_addr, p.ncpus, mp_size);
	return 0;
}
