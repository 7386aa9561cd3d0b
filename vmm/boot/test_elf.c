/* ELF vmlinux loader: good images load; every malformed header is refused. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "vmm/boot/loader.h"
#include "vmm/boot/test_util.h"

#define KLOAD (16 * MiB)

static struct test_mem tm;
static struct telf e;
static struct kernel_load_result res;
static char err[LOADER_ERR_MAX];
static uint8_t text[0x2000];

static void setup(void)
{
	test_mem_init(&tm, 64 * MiB, 0);
	telf_init(&e, KLOAD);
	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = (uint8_t)(i * 13 + 1);
	memset(&res, 0, sizeof(res));
	err[0] = 0;
}

static void teardown(void)
{
	telf_fini(&e);
	test_mem_fini(&tm);
}

TestSuite(elf, .init = setup, .fini = teardown);

static int load(void)
{
	return elf_load(&tm.mem, e.img, e.size, &res, err);
}

/* A one-segment kernel at 16 MiB: 0x1000 bytes of text, 0x1000 of bss. */
static void add_kernel(void)
{
	telf_add(&e, PT_LOAD, KLOAD, text, 0x1000, 0x2000, 0x200000);
}

static void expect_fail(int rc, const char *msg)
{
	cr_expect_eq(load(), rc, "want %d (%s), err: %s", rc, msg, err);
	cr_expect(strstr(err, msg) != NULL, "err \"%s\" lacks \"%s\"", err, msg);
	cr_expect(strchr(err, '\n') == NULL, "one line");
}

Test(elf, loads_segment_and_zeroes_bss)
{
	add_kernel();
	memset(tm.low + KLOAD, 0xaa, 0x3000);
	cr_assert_eq(load(), 0, "%s", err);
	cr_expect_eq(res.format, KERNEL_ELF);
	cr_expect_eq(res.kind, BOOT_LINUX64);
	cr_expect_eq(res.entry, KLOAD);
	cr_expect_eq(res.kernel_end, KLOAD + 0x2000);
	cr_expect_eq(res.have_setup_header, 0);
	cr_expect_arr_eq(tm.low + KLOAD, text, 0x1000);
	for (size_t i = 0x1000; i < 0x2000; i++)
		cr_assert_eq(tm.low[KLOAD + i], 0, "bss byte 0x%zx not zeroed", i);
	cr_expect_eq(tm.low[KLOAD + 0x2000], 0xaa, "wrote past p_memsz");
}

Test(elf, several_segments_kernel_end_is_highest)
{
	add_kernel();
	telf_add(&e, PT_LOAD, KLOAD + 4 * MiB, text + 0x1000, 0x800, 0x800, 0x1000);
	telf_add(&e, PT_LOAD, KLOAD + 2 * MiB, text, 0x100, 0x100000, 0x1000);
	telf_add(&e, PT_GNU_STACK, 0, NULL, 0, 0, 0x10);
	cr_assert_eq(load(), 0, "%s", err);
	cr_expect_eq(res.kernel_end, KLOAD + 4 * MiB + 0x800);
	cr_expect_arr_eq(tm.low + KLOAD + 4 * MiB, text + 0x1000, 0x800);
}

static void add_pvh_note(const void *desc, uint32_t descsz, uint64_t align)
{
	uint8_t notes[256];
	size_t n = 0;
	uint32_t abi[4] = { 0, 2, 6, 0 };

	/* Other notes first, as in a real vmlinux. */
	n += telf_note(notes + n, "GNU", 4, 3 /* NT_GNU_BUILD_ID */, "0123456789abcdefghij", 20);
	n += telf_note(notes + n, "Linux", 6, 1, abi, sizeof(abi));
	n += telf_note(notes + n, "Xen", 4, 18, desc, descsz);
	telf_add(&e, PT_NOTE, 0, notes, n, n, align);
}

Test(elf, pvh_note_32bit)
{
	uint32_t pvh = KLOAD + 0x40;

	add_kernel();
	add_pvh_note(&pvh, 4, 4);
	cr_assert_eq(load(), 0, "%s", err);
	cr_expect_eq(res.kind, BOOT_PVH);
	cr_expect_eq(res.entry, KLOAD + 0x40);
	cr_expect(res.is_linux, "the \"Linux\" note marks a Linux kernel");
}

Test(elf, pvh_note_64bit_desc)
{
	uint64_t pvh = KLOAD + 0x80;

	add_kernel();
	add_pvh_note(&pvh, 8, 0);
	cr_assert_eq(load(), 0, "%s", err);
	cr_expect_eq(res.kind, BOOT_PVH);
	cr_expect_eq(res.entry, KLOAD + 0x80);
}

Test(elf, notes_padded_to_8_in_8_aligned_segment)
{
	uint8_t notes[64] = { 0 };
	uint32_t nh[3] = { 4, 4, 18 }, pvh = KLOAD + 0x10;

	/* 12-byte header + "Xen\0" = 16, desc 4 -> 24 (already 8-aligned). */
	memcpy(notes, nh, 12);
	memcpy(notes + 12, "Xen", 4);
	memcpy(notes + 16, &pvh, 4);
	add_kernel();
	telf_add(&e, PT_NOTE, 0, notes, 24, 24, 8);
	cr_assert_eq(load(), 0, "%s", err);
	cr_expect_eq(res.entry, KLOAD + 0x10);
	cr_expect_not(res.is_linux, "no \"Linux\" note: not Linux (kiln adds no Linux arguments)");
}

Test(elf, other_xen_notes_are_not_pvh)
{
	uint8_t notes[64];
	uint32_t v = KLOAD + 0x40;
	size_t n = 0;

	n += telf_note(notes + n, "Xen", 4, 17, &v, 4); /* other Xen note type */
	n += telf_note(notes + n, "Xe", 3, 18, &v, 4);  /* wrong name */
	add_kernel();
	telf_add(&e, PT_NOTE, 0, notes, n, n, 4);
	cr_assert_eq(load(), 0, "%s", err);
	cr_expect_eq(res.kind, BOOT_LINUX64);
	cr_expect_eq(res.entry, KLOAD);
}

/* --- ELF header */

Test(elf, truncated_header)
{
	add_kernel();
	e.size = sizeof(Elf64_Ehdr) - 1;
	expect_fail(-ENOEXEC, "truncated");
	e.size = 0;
	expect_fail(-ENOEXEC, "truncated");
}

Test(elf, bad_magic)
{
	add_kernel();
	e.img[1] = 'e';
	expect_fail(-ENOEXEC, "not an ELF");
}

Test(elf, not_64bit)
{
	add_kernel();
	telf_ehdr(&e)->e_ident[EI_CLASS] = ELFCLASS32;
	expect_fail(-ENOEXEC, "not 64-bit");
}

Test(elf, big_endian)
{
	add_kernel();
	telf_ehdr(&e)->e_ident[EI_DATA] = ELFDATA2MSB;
	expect_fail(-ENOEXEC, "little-endian");
}

Test(elf, wrong_version)
{
	add_kernel();
	telf_ehdr(&e)->e_version = 2;
	expect_fail(-ENOEXEC, "version");
}

Test(elf, wrong_machine)
{
	add_kernel();
	telf_ehdr(&e)->e_machine = EM_AARCH64;
	expect_fail(-ENOEXEC, "not x86_64");
	telf_ehdr(&e)->e_machine = EM_386;
	expect_fail(-ENOEXEC, "not x86_64");
}

Test(elf, not_executable)
{
	add_kernel();
	telf_ehdr(&e)->e_type = ET_REL;
	expect_fail(-ENOEXEC, "not an executable");
}

Test(elf, no_program_headers)
{
	expect_fail(-EINVAL, "no program headers");
}

Test(elf, extended_numbering)
{
	add_kernel();
	telf_ehdr(&e)->e_phnum = PN_XNUM;
	expect_fail(-EINVAL, "extended");
}

Test(elf, phentsize_too_small)
{
	add_kernel();
	telf_ehdr(&e)->e_phentsize = sizeof(Elf64_Phdr) - 1;
	expect_fail(-EINVAL, "program header size");
	telf_ehdr(&e)->e_phentsize = 0;
	expect_fail(-EINVAL, "program header size");
}

Test(elf, phoff_past_end)
{
	add_kernel();
	telf_ehdr(&e)->e_phoff = e.size;
	expect_fail(-EINVAL, "program headers lie outside the image");
	telf_ehdr(&e)->e_phoff = e.size + 4096;
	expect_fail(-EINVAL, "program headers lie outside the image");
}

Test(elf, phoff_overflow)
{
	add_kernel();
	telf_ehdr(&e)->e_phoff = UINT64_MAX - 8;
	expect_fail(-EINVAL, "program headers lie outside the image");
}

Test(elf, phnum_times_phentsize_past_end)
{
	add_kernel();
	/* 0xfffe * 0xffff bytes of headers: far beyond the image, no 32-bit wrap. */
	telf_ehdr(&e)->e_phnum = 0xfffe;
	telf_ehdr(&e)->e_phentsize = 0xffff;
	expect_fail(-EINVAL, "program headers lie outside the image");
}

Test(elf, phdr_table_cut_by_image_end)
{
	add_kernel();
	e.size = sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr) - 1;
	expect_fail(-EINVAL, "program headers lie outside the image");
}

/* --- PT_LOAD */

Test(elf, segment_offset_past_end)
{
	add_kernel();
	telf_phdr(&e, 0)->p_offset = e.size + 1;
	expect_fail(-EINVAL, "ELF segment 0 lies outside the image");
}

Test(elf, segment_file_bytes_past_end)
{
	add_kernel();
	telf_phdr(&e, 0)->p_filesz = 0x1001 + e.size;
	telf_phdr(&e, 0)->p_memsz = 0x10000000;
	expect_fail(-EINVAL, "ELF segment 0 lies outside the image");
}

Test(elf, segment_offset_plus_filesz_overflows)
{
	add_kernel();
	telf_phdr(&e, 0)->p_offset = 16;
	telf_phdr(&e, 0)->p_filesz = UINT64_MAX - 8;
	telf_phdr(&e, 0)->p_memsz = UINT64_MAX;
	expect_fail(-EINVAL, "ELF segment 0 lies outside the image");
}

Test(elf, filesz_greater_than_memsz)
{
	add_kernel();
	telf_phdr(&e, 0)->p_memsz = 0xfff;
	expect_fail(-EINVAL, "p_filesz > p_memsz");
}

Test(elf, segment_outside_guest_memory)
{
	add_kernel();
	telf_add(&e, PT_LOAD, 64 * MiB - 0x1000, text, 0x800, 0x2000, 0x1000);
	expect_fail(-EFAULT, "ELF segment 1 lies outside guest memory");
	telf_phdr(&e, 1)->p_paddr = 128 * MiB;
	expect_fail(-EFAULT, "ELF segment 1 lies outside guest memory");
}

Test(elf, segment_memsz_huge)
{
	add_kernel();
	telf_phdr(&e, 0)->p_memsz = UINT64_MAX / 2;
	expect_fail(-EFAULT, "ELF segment 0 lies outside guest memory");
}

Test(elf, segment_wraps_address_space)
{
	add_kernel();
	telf_phdr(&e, 0)->p_paddr = UINT64_MAX - 0x100;
	expect_fail(-EINVAL, "wraps");
}

Test(elf, segment_across_two_regions)
{
	test_mem_fini(&tm);
	test_mem_init(&tm, 64 * MiB, 16 * MiB);
	add_kernel();
	telf_add(&e, PT_LOAD, TEST_HIGH_GPA - 0x1000, text, 0x2000, 0x2000, 0x1000);
	expect_fail(-EFAULT, "ELF segment 1 lies outside guest memory");
}

Test(elf, segment_below_1mib)
{
	add_kernel();
	telf_phdr(&e, 0)->p_paddr = 0x7000; /* over the zero page */
	telf_ehdr(&e)->e_entry = 0x7000;
	expect_fail(-EINVAL, "below 1 MiB");
}

Test(elf, no_loadable_segment)
{
	uint8_t notes[32];
	size_t n = telf_note(notes, "GNU", 4, 3, "abcd", 4);

	telf_add(&e, PT_NOTE, 0, notes, n, n, 4);
	expect_fail(-EINVAL, "no loadable segment");
	telf_add(&e, PT_LOAD, KLOAD, NULL, 0, 0, 0x1000);
	expect_fail(-EINVAL, "no loadable segment");
}

Test(elf, entry_outside_segments)
{
	add_kernel();
	telf_ehdr(&e)->e_entry = KLOAD + 0x2000; /* one past p_memsz */
	expect_fail(-EINVAL, "entry point");
	telf_ehdr(&e)->e_entry = 0xffffffff81000000ULL; /* a virtual address */
	expect_fail(-EINVAL, "entry point");
}

Test(elf, entry_above_4gib)
{
	test_mem_fini(&tm);
	test_mem_init(&tm, 64 * MiB, 16 * MiB);
	telf_add(&e, PT_LOAD, TEST_HIGH_GPA, text, 0x1000, 0x1000, 0x1000);
	telf_ehdr(&e)->e_entry = TEST_HIGH_GPA;
	expect_fail(-EINVAL, "below 4 GiB");
}

Test(elf, failure_writes_nothing)
{
	add_kernel();
	telf_add(&e, PT_LOAD, 63 * MiB, text, 0x800, 2 * MiB, 0x1000); /* ends past RAM */
	memset(tm.low + KLOAD, 0xcc, 0x2000);
	cr_assert_eq(load(), -EFAULT);
	for (size_t i = 0; i < 0x2000; i++)
		cr_assert_eq(tm.low[KLOAD + i], 0xcc, "byte 0x%zx written by a failed load", i);
}

/* --- PT_NOTE */

static void add_raw_note(uint32_t namesz, uint32_t descsz, uint32_t type, size_t seglen)
{
	uint8_t notes[64] = { 0 };
	uint32_t nh[3] = { namesz, descsz, type };

	memcpy(notes, nh, sizeof(nh));
	memcpy(notes + 12, "Xen", 4);
	memcpy(notes + 16, "\x40\x00\x00\x01\x00\x00\x00\x00", 8);
	telf_add(&e, PT_NOTE, 0, notes, seglen, seglen, 4);
}

Test(elf, note_huge_namesz)
{
	add_kernel();
	add_raw_note(0xffffffff, 4, 18, 24);
	expect_fail(-EINVAL, "overruns");
}

Test(elf, note_namesz_that_wraps_32bit_padding)
{
	add_kernel();
	/* (0xfffffffd + 3) & ~3 is 0 in 32-bit arithmetic. */
	add_raw_note(0xfffffffd, 4, 18, 24);
	expect_fail(-EINVAL, "overruns");
}

Test(elf, note_huge_descsz)
{
	add_kernel();
	add_raw_note(4, 0xfffffffc, 18, 24);
	expect_fail(-EINVAL, "overruns");
}

Test(elf, note_unpadded_desc)
{
	add_kernel();
	/* descsz 5 needs 16 + 8 bytes; the segment holds 21 (desc not padded out). */
	add_raw_note(4, 5, 1, 21);
	expect_fail(-EINVAL, "overruns");
}

Test(elf, note_truncated_header)
{
	add_kernel();
	add_raw_note(4, 4, 18, 8);
	expect_fail(-EINVAL, "truncated");
}

Test(elf, note_trailing_bytes)
{
	add_kernel();
	add_raw_note(4, 4, 1, 26); /* a valid 20-byte note, then 6 stray bytes */
	expect_fail(-EINVAL, "truncated");
}

Test(elf, pvh_note_bad_desc_sizes)
{
	uint32_t sizes[] = { 0, 2, 5, 12 };

	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		telf_fini(&e);
		telf_init(&e, KLOAD);
		add_kernel();
		add_raw_note(4, sizes[i], 18, 16 + ((sizes[i] + 3) & ~3u));
		expect_fail(-EINVAL, "Xen PVH entry note has size");
	}
}

Test(elf, note_segment_outside_image)
{
	add_kernel();
	add_raw_note(4, 4, 18, 24);
	telf_phdr(&e, 1)->p_offset = e.size - 8;
	expect_fail(-EINVAL, "ELF segment 1 lies outside the image");
	telf_phdr(&e, 1)->p_offset = 8;
	telf_phdr(&e, 1)->p_filesz = UINT64_MAX - 4;
	expect_fail(-EINVAL, "ELF segment 1 lies outside the image");
}

Test(elf, note_segment_odd_alignment)
{
	add_kernel();
	add_raw_note(4, 4, 18, 24);
	telf_phdr(&e, 1)->p_align = 16;
	expect_fail(-EINVAL, "alignment");
}

Test(elf, pvh_entry_above_4gib)
{
	uint64_t pvh = TEST_HIGH_GPA + 0x10;

	add_kernel();
	add_pvh_note(&pvh, 8, 4);
	expect_fail(-EINVAL, "PVH entry point");
}

Test(elf, pvh_entry_outside_segments)
{
	uint32_t pvh = 0x200000;

	add_kernel();
	add_pvh_note(&pvh, 4, 4);
	expect_fail(-EINVAL, "PVH entry point");
}
