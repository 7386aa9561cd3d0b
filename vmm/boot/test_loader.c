/* kernel_load: format detection hands each image to the right loader. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "vmm/boot/layout.h"
#include "vmm/boot/loader.h"
#include "vmm/boot/test_util.h"

static struct test_mem tm;
static struct kernel_load_result res;
static char err[LOADER_ERR_MAX];

static void setup(void)
{
	test_mem_init(&tm, 64 * MiB, 0);
	memset(&res, 0, sizeof(res));
	err[0] = 0;
}

static void teardown(void)
{
	test_mem_fini(&tm);
}

TestSuite(loader, .init = setup, .fini = teardown);

Test(loader, detects_elf)
{
	static const uint8_t text[16] = { 0xf4 };
	struct telf e;

	telf_init(&e, 16 * MiB);
	telf_add(&e, PT_LOAD, 16 * MiB, text, sizeof(text), sizeof(text), 16);
	cr_assert_eq(kernel_load(&tm.mem, e.img, e.size, &res, err), 0, "%s", err);
	cr_expect_eq(res.format, KERNEL_ELF);
	telf_fini(&e);
}

Test(loader, detects_bzimage)
{
	struct tbz bz;

	tbz_init(&bz, 4, 0x1000, 0x100000);
	cr_assert_eq(kernel_load(&tm.mem, bz.img, bz.size, &res, err), 0, "%s", err);
	cr_expect_eq(res.format, KERNEL_BZIMAGE);
	cr_expect_eq(res.entry, LAYOUT_KERNEL_LOAD + 0x200);
	tbz_fini(&bz);
}

Test(loader, elf_errors_pass_through)
{
	struct telf e;

	telf_init(&e, 16 * MiB);
	telf_ehdr(&e)->e_machine = EM_ARM;
	e.size = 100;
	cr_expect_eq(kernel_load(&tm.mem, e.img, e.size, &res, err), -ENOEXEC);
	cr_expect(strstr(err, "x86_64") != NULL, "%s", err);
	telf_fini(&e);
}

Test(loader, neither_format)
{
	static uint8_t junk[4096];

	memset(junk, 0x5a, sizeof(junk));
	cr_expect_eq(kernel_load(&tm.mem, junk, sizeof(junk), &res, err), -ENOEXEC);
	cr_expect_str_eq(err, "not an ELF vmlinux or bzImage");
	cr_expect_eq(kernel_load(&tm.mem, (const uint8_t *)"\x7f" "EL", 3, &res, err), -ENOEXEC);
	cr_expect_eq(kernel_load(&tm.mem, junk, 0, &res, err), -ENOEXEC);
	/* HdrS one byte short of the image end. */
	memcpy(junk + 0x202, "HdrS", 4);
	cr_expect_eq(kernel_load(&tm.mem, junk, 0x205, &res, err), -ENOEXEC);
	cr_expect_str_eq(err, "not an ELF vmlinux or bzImage");
}

Test(loader, null_arguments)
{
	cr_expect_eq(kernel_load(&tm.mem, NULL, 16, &res, err), -EINVAL);
	cr_expect_eq(kernel_load(NULL, (const uint8_t *)"x", 1, &res, err), -EINVAL);
	cr_expect_eq(kernel_load(&tm.mem, (const uint8_t *)"x", 1, NULL, err), -EINVAL);
	cr_expect_eq(kernel_load(&tm.mem, (const uint8_t *)"x", 1, &res, NULL), -ENOEXEC,
		     "err may be NULL");
}
