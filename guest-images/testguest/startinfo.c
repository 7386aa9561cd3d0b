/*
 * The PVH start info (xen/include/public/arch-x86/hvm/start_info.h): copied out
 * of guest memory once, then checked, then used.
 */
#include "guest-images/testguest/hw.h"
#include "guest-images/testguest/ktg.h"

#define HVM_START_MAGIC 0x336ec578
#define MEMMAP_PRINT_MAX 128 /* entries printed; the count line gives the real number */

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;   /* version >= 1 */
	uint32_t memmap_entries; /* version >= 1 */
	uint32_t reserved;
};

struct hvm_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

static void start_info_cmdline(const struct hvm_start_info *si, char cmdline[KTG_CMDLINE_MAX])
{
	const volatile char *src;
	size_t i;

	cmdline[0] = '\0';
	if (!si->cmdline_paddr || !phys_ok(si->cmdline_paddr, 1))
		return;
	src = phys(si->cmdline_paddr);
	for (i = 0; i < KTG_CMDLINE_MAX - 1 && phys_ok(si->cmdline_paddr, i + 1); i++) {
		char c = src[i];

		if (!c)
			break;
		/* Control characters would break the one-line-per-record output. */
		cmdline[i] = (c < 0x20 || c == 0x7f) ? '?' : c;
	}
	cmdline[i] = '\0';
}

static void start_info_memmap(const struct hvm_start_info *si)
{
	uint64_t total = 0;
	uint32_t n = 0, i;
	const struct hvm_memmap_entry *map = NULL;

	if (si->version >= 1 && si->memmap_entries) {
		if (phys_ok(si->memmap_paddr, (uint64_t)si->memmap_entries * sizeof(*map))) {
			map = phys(si->memmap_paddr);
			n = si->memmap_entries;
		} else {
			ktg_printf("KTG: start-info error memmap unreachable addr=0x%lx\n", si->memmap_paddr);
		}
	}
	for (i = 0; i < n; i++)
		if (map[i].type == 1)
			total += map[i].size;
	ktg_printf("KTG: mem=%lu entries=%u\n", total, n);
	for (i = 0; i < n && i < MEMMAP_PRINT_MAX; i++) {
		struct hvm_memmap_entry e = map[i];

		ktg_printf("KTG: e820 0x%lx 0x%lx %u\n", e.addr, e.size, e.type);
	}
}

void start_info_report(uint32_t paddr, char cmdline[KTG_CMDLINE_MAX])
{
	struct hvm_start_info si;

	memset(&si, 0, sizeof(si));
	if (paddr && phys_ok(paddr, sizeof(si)))
		memcpy(&si, phys(paddr), sizeof(si));
	if (si.magic != HVM_START_MAGIC) {
		ktg_printf("KTG: start-info error magic=0x%x at 0x%x\n", si.magic, paddr);
		memset(&si, 0, sizeof(si));
	}
	start_info_cmdline(&si, cmdline);
	console_lock();
	console_puts_locked("KTG: cmdline=");
	console_puts_locked(cmdline);
	console_puts_locked("\n");
	console_unlock();
	start_info_memmap(&si);
}
