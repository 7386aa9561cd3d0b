/* Test doubles for the boot unit; see test_util.h. */
#include "vmm/boot/test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *xcalloc(size_t n)
{
	void *p = calloc(1, n);

	if (!p) {
		perror("calloc");
		abort();
	}
	return p;
}

void test_mem_init(struct test_mem *t, uint64_t low_size, uint64_t high_size)
{
	memset(t, 0, sizeof(*t));
	gmem_init(&t->mem);
	t->low = xcalloc(low_size);
	t->low_size = low_size;
	if (gmem_add_region(&t->mem, 0, low_size, t->low))
		abort();
	if (high_size) {
		t->high = xcalloc(high_size);
		t->high_size = high_size;
		if (gmem_add_region(&t->mem, TEST_HIGH_GPA, high_size, t->high))
			abort();
	}
}

void test_mem_fini(struct test_mem *t)
{
	free(t->low);
	free(t->high);
	memset(t, 0, sizeof(*t));
}

void telf_init(struct telf *e, uint64_t entry)
{
	Elf64_Ehdr *eh;

	e->cap = 1 << 20;
	e->img = xcalloc(e->cap);
	e->size = TELF_DATA_START;
	eh = telf_ehdr(e);
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_entry = entry;
	eh->e_phoff = sizeof(Elf64_Ehdr);
	eh->e_ehsize = sizeof(Elf64_Ehdr);
	eh->e_phentsize = sizeof(Elf64_Phdr);
}

void telf_fini(struct telf *e)
{
	free(e->img);
	memset(e, 0, sizeof(*e));
}

Elf64_Ehdr *telf_ehdr(struct telf *e)
{
	return (Elf64_Ehdr *)e->img;
}

Elf64_Phdr *telf_phdr(struct telf *e, unsigned int i)
{
	return (Elf64_Phdr *)(e->img + sizeof(Elf64_Ehdr) + i * sizeof(Elf64_Phdr));
}

unsigned int telf_add(struct telf *e, uint32_t type, uint64_t paddr, const void *data,
		      size_t filesz, uint64_t memsz, uint64_t align)
{
	Elf64_Ehdr *eh = telf_ehdr(e);
	unsigned int i = eh->e_phnum;
	size_t off = (e->size + 7) & ~(size_t)7;
	Elf64_Phdr *ph;

	if (i >= TELF_MAX_PH || off + filesz > e->cap)
		abort();
	ph = telf_phdr(e, i);
	*ph = (Elf64_Phdr){ .p_type = type, .p_flags = PF_R | PF_X, .p_offset = off,
			    .p_vaddr = paddr + 0xffffffff80000000ULL, .p_paddr = paddr,
			    .p_filesz = filesz, .p_memsz = memsz, .p_align = align };
	if (filesz)
		memcpy(e->img + off, data, filesz);
	e->size = off + filesz;
	eh->e_phnum = i + 1;
	return i;
}

size_t telf_note(uint8_t *out, const char *name, uint32_t namesz, uint32_t type,
		 const void *desc, uint32_t descsz)
{
	Elf64_Nhdr nh = { .n_namesz = namesz, .n_descsz = descsz, .n_type = type };
	size_t name_pad = (namesz + 3u) & ~3u, desc_pad = (descsz + 3u) & ~3u;

	memset(out, 0, sizeof(nh) + name_pad + desc_pad);
	memcpy(out, &nh, sizeof(nh));
	memcpy(out + sizeof(nh), name, namesz);
	memcpy(out + sizeof(nh) + name_pad, desc, descsz);
	return sizeof(nh) + name_pad + desc_pad;
}

void tbz_init(struct tbz *b, uint8_t setup_sects, size_t pm_size, uint32_t init_size)
{
	unsigned int sects = setup_sects ? setup_sects : 4;
	size_t pm_off = (size_t)(sects + 1) * 512, i;
	struct setup_header *h;

	b->size = pm_off + pm_size;
	b->img = xcalloc(b->size);
	for (i = 0; i < pm_size; i++)
		b->img[pm_off + i] = (uint8_t)(i * 7 + 3);
	h = tbz_hdr(b);
	h->setup_sects = setup_sects;
	h->syssize = (uint32_t)((pm_size + 15) / 16);
	h->vid_mode = 0xffff;
	h->boot_flag = SETUP_BOOT_FLAG;
	/* A short jmp over the header: its offset byte ends the header at 0x26c. */
	h->jump = 0xeb | ((0x26c - 0x202) << 8);
	h->header = SETUP_HEADER_MAGIC;
	h->version = BOOT_PROTOCOL(2, 15);
	h->loadflags = LOADED_HIGH;
	h->code32_start = 0x100000;
	h->initrd_addr_max = 0x7fffffff;
	h->kernel_alignment = 0x200000;
	h->relocatable_kernel = 1;
	h->min_alignment = 21;
	h->xloadflags = XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G;
	h->cmdline_size = 2047;
	h->pref_address = 0x1000000;
	h->init_size = init_size;
}

void tbz_fini(struct tbz *b)
{
	free(b->img);
	memset(b, 0, sizeof(*b));
}

struct setup_header *tbz_hdr(struct tbz *b)
{
	return (struct setup_header *)(b->img + SETUP_HEADER_OFFSET);
}
