/*
 * Test doubles for the boot unit, shared by its unit tests (and any fuzz
 * target): fake guest memory backed by calloc'd buffers, and builders for
 * synthetic ELF vmlinux and bzImage files that tests then break on purpose.
 */
#ifndef KILN_BOOT_TEST_UTIL_H
#define KILN_BOOT_TEST_UTIL_H

#include <elf.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/boot/bootparam.h"
#include "vmm/mem/gmem.h"

#define MiB (1024ULL * 1024)
#define GiB (1024ULL * MiB)
#define TEST_HIGH_GPA (4 * GiB)

struct test_mem {
	struct gmem mem;
	uint8_t *low;
	uint64_t low_size;
	uint8_t *high; /* at TEST_HIGH_GPA, or NULL */
	uint64_t high_size;
};

/* low_size bytes at 0 and, when high_size > 0, high_size bytes at 4 GiB. */
void test_mem_init(struct test_mem *t, uint64_t low_size, uint64_t high_size);
void test_mem_fini(struct test_mem *t);

/* --- ELF builder: header at 0, room for TELF_MAX_PH program headers at 64, data after. */
#define TELF_MAX_PH 8
#define TELF_DATA_START (sizeof(Elf64_Ehdr) + TELF_MAX_PH * sizeof(Elf64_Phdr))

struct telf {
	uint8_t *img;
	size_t size; /* bytes in use: the image handed to the loader */
	size_t cap;
};

/* A valid, empty ET_EXEC x86_64 header with e_entry = entry and no segments. */
void telf_init(struct telf *e, uint64_t entry);
void telf_fini(struct telf *e);
Elf64_Ehdr *telf_ehdr(struct telf *e);
Elf64_Phdr *telf_phdr(struct telf *e, unsigned int i);
/* Appends the bytes (8-aligned) and a program header; returns its index. */
unsigned int telf_add(struct telf *e, uint32_t type, uint64_t paddr, const void *data,
		      size_t filesz, uint64_t memsz, uint64_t align);
/* Encodes one note with 4-byte padding into out; returns its length. */
size_t telf_note(uint8_t *out, const char *name, uint32_t namesz, uint32_t type,
		 const void *desc, uint32_t descsz);

/* --- bzImage builder. */
struct tbz {
	uint8_t *img;
	size_t size;
};

/*
 * A protocol-2.15 bzImage: setup_sects sectors of setup after the boot sector,
 * then pm_size bytes of protected-mode code filled with a pattern (byte i =
 * i * 7 + 3).  XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G, LOADED_HIGH,
 * relocatable, 2 MiB alignment, pref_address 16 MiB, given init_size.
 */
void tbz_init(struct tbz *b, uint8_t setup_sects, size_t pm_size, uint32_t init_size);
void tbz_fini(struct tbz *b);
struct setup_header *tbz_hdr(struct tbz *b);

#endif
