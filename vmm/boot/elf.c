/*
 * ELF64 vmlinux loader.  The image is a user's file: every header is copied out
 * of it before use and every offset, size and count is checked against the image
 * and against guest memory before the first byte is written, so a bad image
 * leaves guest memory untouched.
 */
#include <elf.h>
#include <errno.h>
#include <string.h>

#include "vmm/boot/layout.h"
#include "vmm/boot/loader.h"
#include "vmm/boot/loader_priv.h"

/* Xen's ELF note carrying the 32-bit PVH entry point (xen/include/public/elfnote.h). */
#define XEN_ELFNOTE_PHYS32_ENTRY 18
static const char xen_note_name[4] = "Xen"; /* namesz 4: includes the NUL */
static const char linux_note_name[6] = "Linux";

/* The vCPU setup identity-maps only the first 4 GiB, and the PVH entry runs in
 * 32-bit mode, so an entry point above that is unreachable. */
#define ENTRY_LIMIT LAYOUT_MMIO_GAP_END

static int elf_check_ehdr(const uint8_t *image, size_t size, Elf64_Ehdr *eh, char *err)
{
	if (size < sizeof(*eh))
		return loader_fail(err, -ENOEXEC, "ELF header is truncated (%zu bytes)", size);
	memcpy(eh, image, sizeof(*eh));
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG))
		return loader_fail(err, -ENOEXEC, "not an ELF image");
	if (eh->e_ident[EI_CLASS] != ELFCLASS64)
		return loader_fail(err, -ENOEXEC, "ELF image is not 64-bit");
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return loader_fail(err, -ENOEXEC, "ELF image is not little-endian");
	if (eh->e_ident[EI_VERSION] != EV_CURRENT || eh->e_version != EV_CURRENT)
		return loader_fail(err, -ENOEXEC, "ELF version is not 1");
	if (eh->e_machine != EM_X86_64)
		return loader_fail(err, -ENOEXEC, "ELF machine %u is not x86_64", eh->e_machine);
	if (eh->e_type != ET_EXEC)
		return loader_fail(err, -ENOEXEC, "ELF type %u is not an executable", eh->e_type);
	if (eh->e_phnum == 0)
		return loader_fail(err, -EINVAL, "ELF image has no program headers");
	/* PN_XNUM moves the real count into section header 0; kernels never need it. */
	if (eh->e_phnum == PN_XNUM)
		return loader_fail(err, -EINVAL, "ELF extended program header numbering is not supported");
	if (eh->e_phentsize < sizeof(Elf64_Phdr))
		return loader_fail(err, -EINVAL, "ELF program header size %u is too small", eh->e_phentsize);
	/* Both factors are 16-bit, so the product cannot overflow 64 bits. */
	if (!image_range_ok(eh->e_phoff, (uint64_t)eh->e_phnum * eh->e_phentsize, size))
		return loader_fail(err, -EINVAL, "ELF program headers lie outside the image");
	return 0;
}

/* Only called once elf_check_ehdr has put the whole table inside the image. */
static void elf_phdr(const uint8_t *image, const Elf64_Ehdr *eh, unsigned int i, Elf64_Phdr *ph)
{
	memcpy(ph, image + eh->e_phoff + (uint64_t)i * eh->e_phentsize, sizeof(*ph));
}

static int elf_check_load(const struct gmem *mem, const Elf64_Phdr *ph, unsigned int i,
			  size_t size, char *err)
{
	if (!image_range_ok(ph->p_offset, ph->p_filesz, size))
		return loader_fail(err, -EINVAL, "ELF segment %u lies outside the image", i);
	if (ph->p_filesz > ph->p_memsz)
		return loader_fail(err, -EINVAL, "ELF segment %u has p_filesz > p_memsz", i);
	if (ph->p_memsz == 0)
		return 0;
	if (ph->p_paddr + ph->p_memsz < ph->p_paddr)
		return loader_fail(err, -EINVAL, "ELF segment %u wraps the address space", i);
	/* Below 1 MiB live the zero page, page tables, command line and MP table. */
	if (ph->p_paddr < LAYOUT_HIMEM_START)
		return loader_fail(err, -EINVAL, "ELF segment %u loads below 1 MiB (0x%llx)", i,
				   (unsigned long long)ph->p_paddr);
	if (!gmem_range_ok(mem, ph->p_paddr, ph->p_memsz))
		return loader_fail(err, -EFAULT, "ELF segment %u lies outside guest memory", i);
	return 0;
}

/* One note's PVH entry, if it is the Xen PHYS32_ENTRY note.  desc lies in the image. */
static int elf_note_pvh(const Elf64_Nhdr *nh, const uint8_t *name, const uint8_t *desc,
			uint64_t *entry, int *found, char *err)
{
	uint32_t e32;

	if (nh->n_type != XEN_ELFNOTE_PHYS32_ENTRY || nh->n_namesz != sizeof(xen_note_name) ||
	    memcmp(name, xen_note_name, sizeof(xen_note_name)))
		return 0;
	if (nh->n_descsz == 4) {
		memcpy(&e32, desc, 4);
		*entry = e32;
	} else if (nh->n_descsz == 8) {
		memcpy(entry, desc, 8);
	} else {
		return loader_fail(err, -EINVAL, "Xen PVH entry note has size %u (want 4 or 8)",
				   nh->n_descsz);
	}
	*found = 1;
	return 0;
}

/*
 * Walks the notes of PT_NOTE segment i, already checked to lie in the image.
 * Each step consumes at least one 12-byte header, so the walk is bounded by the
 * segment size.  Names and descriptors are padded to the segment's alignment
 * (4, or 8 for segments aligned so), counted from the note's start.
 */
static int elf_walk_notes(const uint8_t *seg, uint64_t len, const Elf64_Phdr *ph, unsigned int i,
			  uint64_t *entry, int *found, int *is_linux, char *err)
{
	uint64_t align = ph->p_align <= 4 ? 4 : ph->p_align;
	uint64_t off = 0;
	int rc;

	if (align != 4 && align != 8)
		return loader_fail(err, -EINVAL, "ELF note segment %u has alignment %llu", i,
				   (unsigned long long)ph->p_align);
	while (off < len) {
		Elf64_Nhdr nh;
		uint64_t desc_off, next;

		if (len - off < sizeof(nh))
			return loader_fail(err, -EINVAL, "ELF note segment %u is truncated", i);
		memcpy(&nh, seg + off, sizeof(nh));
		/* 32-bit sizes added to an offset below 2^63: no overflow. */
		desc_off = (sizeof(nh) + (uint64_t)nh.n_namesz + align - 1) & ~(align - 1);
		next = (desc_off + (uint64_t)nh.n_descsz + align - 1) & ~(align - 1);
		if (next > len - off)
			return loader_fail(err, -EINVAL, "ELF note in segment %u overruns the segment", i);
		/* Linux marks its vmlinux with notes owned by "Linux". */
		if (nh.n_namesz == sizeof(linux_note_name) &&
		    !memcmp(seg + off + sizeof(nh), linux_note_name, sizeof(linux_note_name)))
			*is_linux = 1;
		if (!*found) {
			rc = elf_note_pvh(&nh, seg + off + sizeof(nh), seg + off + desc_off, entry,
					  found, err);
			if (rc)
				return rc;
		}
		off += next;
	}
	return 0;
}

/* Entry must be inside a loaded segment: a pointer anywhere else is not code. */
static int elf_entry_loaded(const uint8_t *image, const Elf64_Ehdr *eh, uint64_t entry)
{
	Elf64_Phdr ph;
	unsigned int i;

	for (i = 0; i < eh->e_phnum; i++) {
		elf_phdr(image, eh, i, &ph);
		if (ph.p_type == PT_LOAD && entry >= ph.p_paddr && entry - ph.p_paddr < ph.p_memsz)
			return 1;
	}
	return 0;
}

int elf_load(const struct gmem *mem, const uint8_t *image, size_t size,
	     struct kernel_load_result *out, char err[LOADER_ERR_MAX])
{
	uint64_t end = 0, pvh_entry = 0, entry;
	int rc, pvh = 0, nloads = 0, is_linux = 0;
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	unsigned int i;

	if (!mem || !out || (!image && size))
		return loader_fail(err, -EINVAL, "no kernel image");
	rc = elf_check_ehdr(image, size, &eh, err);
	if (rc)
		return rc;

	/* Pass 1: validate every program header; nothing is written yet. */
	for (i = 0; i < eh.e_phnum; i++) {
		elf_phdr(image, &eh, i, &ph);
		if (ph.p_type == PT_LOAD) {
			rc = elf_check_load(mem, &ph, i, size, err);
			if (rc)
				return rc;
			if (ph.p_memsz && ph.p_paddr + ph.p_memsz > end)
				end = ph.p_paddr + ph.p_memsz;
			nloads += ph.p_memsz != 0;
		} else if (ph.p_type == PT_NOTE) {
			if (!image_range_ok(ph.p_offset, ph.p_filesz, size))
				return loader_fail(err, -EINVAL, "ELF segment %u lies outside the image", i);
			rc = elf_walk_notes(image + ph.p_offset, ph.p_filesz, &ph, i, &pvh_entry, &pvh, &is_linux, err);
			if (rc)
				return rc;
		}
	}
	if (!nloads)
		return loader_fail(err, -EINVAL, "ELF image has no loadable segment");
	entry = pvh ? pvh_entry : eh.e_entry;
	if (entry >= ENTRY_LIMIT || !elf_entry_loaded(image, &eh, entry))
		return loader_fail(err, -EINVAL, "ELF %sentry point 0x%llx is not in a loaded segment below 4 GiB",
				   pvh ? "PVH " : "", (unsigned long long)entry);

	/* Pass 2: copy file bytes, zero the rest of each segment (bss). */
	for (i = 0; i < eh.e_phnum; i++) {
		elf_phdr(image, &eh, i, &ph);
		if (ph.p_type != PT_LOAD || !ph.p_memsz)
			continue;
		if (gmem_write(mem, ph.p_paddr, image + ph.p_offset, ph.p_filesz) ||
		    gmem_fill(mem, ph.p_paddr + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz))
			return loader_fail(err, -EFAULT, "ELF segment %u lies outside guest memory", i);
	}

	memset(out, 0, sizeof(*out));
	out->format = KERNEL_ELF;
	out->kind = pvh ? BOOT_PVH : BOOT_LINUX64;
	out->entry = entry;
	out->kernel_end = end;
	out->is_linux = is_linux;
	return 0;
}
