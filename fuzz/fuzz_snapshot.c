/*
 * fuzz_snapshot: the vmstate reader (vmm/snapshot) on untrusted bytes.
 *
 * Input: one mode byte, then a vmstate file image.  Mode bit 0 set: before
 * decoding, the header's payload length and CRC are rewritten to match the
 * image (when it has a header), so mutations get past the CRC into section
 * decoding; clear: the image is decoded as it is (header and CRC checks).
 *
 * Seeds (fuzz/corpus/snapshot/): vmstate files of test-guest VMs (1 and 2
 * vCPUs, a block device; block, net, vsock, balloon and rng side by side; an
 * active balloon holding its statistics buffer) and one the unit tests'
 * sample makes with every device kind in use (a net device holding a
 * received frame, held receive chains and a frame to send), each plain and
 * with the CRC-fixing mode byte.
 *
 * Invariants: the decoder never reads outside the image (ASan), fails with a
 * message or succeeds; what it accepts passes snap_state_check, encodes
 * without error, and re-decodes to a state that encodes to the same bytes
 * (a stable round trip), and describes without crashing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_common.h"
#include "vmm/snapshot/crc64.h"
#include "vmm/snapshot/snap_priv.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snap_state *st, *st2;
	uint8_t *img, *enc = NULL, *enc2 = NULL;
	size_t len, enc_len = 0, enc2_len = 0;
	char err[SNAP_ERR_MAX] = "";
	char *desc = NULL;
	size_t desc_len = 0;
	FILE *f;
	int ret;

	if (size < 1)
		return 0;
	len = size - 1;
	img = malloc(len ? len : 1); /* exactly len bytes: ASan catches any overread */
	st = snap_state_new();
	st2 = snap_state_new();
	FUZZ_CHECK(img && st && st2, "out of memory");
	memcpy(img, data + 1, len);
	if ((data[0] & 1) && len >= SNAP_HEADER_LEN) {
		uint64_t payload = len - SNAP_HEADER_LEN, crc = crc64(img + SNAP_HEADER_LEN, payload);

		memcpy(img + 16, &payload, 8);
		memcpy(img + 24, &crc, 8);
	}
	ret = snap_decode(img, len, st, err);
	FUZZ_CHECK(ret == 0 || ret == -EINVAL, "decode returned %d", ret);
	if (ret) {
		FUZZ_CHECK(err[0], "refused without a message");
		goto out;
	}
	FUZZ_CHECK(snap_state_check(st, err) == 0, "accepted an inconsistent state: %s", err);
	ret = snap_encode(st, &enc, &enc_len, err);
	FUZZ_CHECK(ret == 0, "cannot encode what was decoded: %s", err);
	ret = snap_decode(enc, enc_len, st2, err);
	FUZZ_CHECK(ret == 0, "cannot decode what was encoded: %s", err);
	ret = snap_encode(st2, &enc2, &enc2_len, err);
	FUZZ_CHECK(ret == 0 && enc_len == enc2_len && !memcmp(enc, enc2, enc_len),
		   "round trip not stable (%zu vs %zu bytes)", enc_len, enc2_len);
	f = open_memstream(&desc, &desc_len);
	if (f) {
		snap_describe(st, f);
		fclose(f);
		FUZZ_CHECK(desc_len > 0, "empty description");
	}
	free(desc);
out:
	free(enc);
	free(enc2);
	free(img);
	snap_state_free(st);
	snap_state_free(st2);
	return 0;
}
