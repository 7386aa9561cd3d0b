/*
 * Shared by every fuzz target: the libFuzzer entry points (so the targets also
 * build without libFuzzer, for fuzz/replay_main.c), a little-endian reader over
 * the input that yields zeros once the input runs out, and FUZZ_CHECK, which
 * turns a broken invariant into an abort() libFuzzer records as a crash.
 */
#ifndef KILN_FUZZ_COMMON_H
#define KILN_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond, ...)                                                         \
	do {                                                                          \
		if (!(cond)) {                                                        \
			fprintf(stderr, "%s:%d: invariant failed: %s: ", __FILE__,    \
				__LINE__, #cond);                                     \
			fprintf(stderr, __VA_ARGS__);                                 \
			fputc('\n', stderr);                                          \
			abort();                                                      \
		}                                                                     \
	} while (0)

struct fz {
	const uint8_t *p;
	size_t left;
};

static inline struct fz fz_init(const uint8_t *data, size_t size)
{
	return (struct fz){ .p = data, .left = size };
}

/* n (<= 8) bytes as a little-endian integer; missing bytes read as 0. */
static inline uint64_t fz_le(struct fz *f, unsigned int n)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < n; i++) {
		uint64_t b = 0;

		if (f->left) {
			b = *f->p++;
			f->left--;
		}
		v |= b << (8 * i);
	}
	return v;
}

static inline uint8_t fz_u8(struct fz *f) { return (uint8_t)fz_le(f, 1); }
static inline uint16_t fz_u16(struct fz *f) { return (uint16_t)fz_le(f, 2); }
static inline uint32_t fz_u32(struct fz *f) { return (uint32_t)fz_le(f, 4); }
static inline uint64_t fz_u64(struct fz *f) { return fz_le(f, 8); }

/* Up to n bytes of the input, copied into dst and zero-padded; returns n. */
static inline size_t fz_bytes(struct fz *f, void *dst, size_t n)
{
	size_t k = n < f->left ? n : f->left;

	memcpy(dst, f->p, k);
	memset((uint8_t *)dst + k, 0, n - k);
	f->p += k;
	f->left -= k;
	return n;
}

/* A write the harness makes to guest memory behind the device's back (a
 * racing or malicious driver): up to 16 input bytes at an input-chosen offset
 * below ram_size, clipped there.  The device must cope with whatever lands. */
struct fz_poke {
	uint64_t off;
	uint8_t len;
	uint8_t bytes[16];
};

static inline struct fz_poke fz_poke(struct fz *f, uint64_t ram_size)
{
	struct fz_poke p = { .off = fz_u32(f) % ram_size };

	p.len = fz_u8(f) % 17;
	fz_bytes(f, p.bytes, sizeof(p.bytes));
	if (p.len > ram_size - p.off)
		p.len = (uint8_t)(ram_size - p.off);
	return p;
}

/* A message a unit promises is one safe line: NUL within max, printable ASCII. */
static inline int fz_msg_is_safe(const char *msg, size_t max)
{
	size_t i;

	for (i = 0; i < max && msg[i]; i++)
		if ((unsigned char)msg[i] < 0x20 || (unsigned char)msg[i] > 0x7e)
			return 0;
	return i < max;
}

#endif
