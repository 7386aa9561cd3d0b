/* virtio-blk request framing: any descriptor layout, and every framing error
 * with its answer (drop, IOERR, or the device's UNSUPP). */
#include <criterion/criterion.h>
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "devices/block/blk_request.h"
#include "devices/virtio/virtio_mock.h"

static struct vmock m;
static struct virtq_chain c;
static struct blk_req r;
static uint64_t hdr, data;

static void setup(void)
{
	cr_assert_eq(vmock_init(&m, VMOCK_RAM_GPA, VMOCK_RAM_SIZE), 0);
	hdr = vmock_alloc(&m, 16, 16);
	data = vmock_alloc(&m, 8192, 16);
	memset(&c, 0, sizeof(c));
}

static void teardown(void)
{
	vmock_destroy(&m);
}

TestSuite(blk_request, .init = setup, .fini = teardown);

static void header(uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr h = { .type = htole32(type), .reserved = 0x77, .sector = htole64(sector) };

	vmock_write(&m, hdr, &h, sizeof(h));
}

static void add(uint64_t gpa, uint32_t len, bool writable)
{
	c.bufs[c.nr_bufs++] = (struct virtq_buf){ .addr = gpa, .len = len, .writable = writable };
	if (writable) {
		c.writable_len += len;
	} else {
		c.nr_readable++;
		c.readable_len += len;
	}
}

Test(blk_request, read_request)
{
	header(VIRTIO_BLK_T_IN, 42);
	add(hdr, 16, false);
	add(data, 1024, true);
	add(data + 4096, 1, true);
	cr_assert_eq(blk_req_parse(&c, &m.mem, &r), 0);
	cr_assert_eq(r.type, VIRTIO_BLK_T_IN);
	cr_assert_eq(r.sector, 42);
	cr_assert_eq(r.data_dir, VIRTQ_DEV_WRITE);
	cr_assert_eq(r.data_off, 0);
	cr_assert_eq(r.data_len, 1024);
	cr_assert_eq(r.status_off, 1024);
}

Test(blk_request, write_request_with_split_header_and_data)
{
	/* Header in two pieces, data sharing the second piece. */
	header(VIRTIO_BLK_T_OUT, 7);
	add(hdr, 10, false);
	add(hdr + 10, 6, false);
	add(data, 512, false);
	add(data + 512, 512, false);
	add(data + 4096, 1, true);
	cr_assert_eq(blk_req_parse(&c, &m.mem, &r), 0);
	cr_assert_eq(r.type, VIRTIO_BLK_T_OUT);
	cr_assert_eq(r.sector, 7);
	cr_assert_eq(r.data_dir, VIRTQ_DEV_READ);
	cr_assert_eq(r.data_off, 16);
	cr_assert_eq(r.data_len, 1024);
	cr_assert_eq(r.status_off, 0);
}

Test(blk_request, header_and_data_in_one_descriptor)
{
	/* One 528-byte readable descriptor: header then data (any layout). */
	struct virtio_blk_outhdr h = { .type = htole32(VIRTIO_BLK_T_OUT), .sector = htole64(3) };

	vmock_write(&m, data, &h, sizeof(h));
	add(data, 528, false);
	add(hdr, 1, true);
	cr_assert_eq(blk_req_parse(&c, &m.mem, &r), 0);
	cr_assert_eq(r.data_len, 512);
	cr_assert_eq(r.sector, 3);
}

Test(blk_request, status_shares_the_last_data_descriptor)
{
	header(VIRTIO_BLK_T_IN, 0);
	add(hdr, 16, false);
	add(data, 513, true);
	cr_assert_eq(blk_req_parse(&c, &m.mem, &r), 0);
	cr_assert_eq(r.data_len, 512);
	cr_assert_eq(r.status_off, 512);
}

Test(blk_request, flush_and_unknown_types)
{
	header(VIRTIO_BLK_T_FLUSH, 0);
	add(hdr, 16, false);
	add(data, 1, true);
	cr_assert_eq(blk_req_parse(&c, &m.mem, &r), 0);
	cr_assert_eq(r.type, VIRTIO_BLK_T_FLUSH);
	cr_assert_eq(r.data_len, 0);
	header(11 /* DISCARD */, 0);
	cr_assert_eq(blk_req_parse(&c, &m.mem, &r), 0);
	cr_assert_eq(r.type, 11);
	header(0xffffffff, 0);
	cr_assert_eq(blk_req_parse(&c, &m.mem, &r), 0);
}

Test(blk_request, get_id)
{
	header(VIRTIO_BLK_T_GET_ID, 0);
	add(hdr, 16, false);
	add(data, 20, true);
	add(data + 100, 1, true);
	cr_assert_eq(blk_req_parse(&c, &m.mem, &r), 0);
	cr_assert_eq(r.data_dir, VIRTQ_DEV_WRITE);
	cr_assert_eq(r.data_len, 20);
	cr_assert_eq(r.status_off, 20);
}

Test(blk_request, no_status_byte_is_dropped)
{
	header(VIRTIO_BLK_T_IN, 0);
	add(hdr, 16, false);
	add(data, 512, false);
	cr_assert_eq(blk_req_parse(&c, &m.mem, &r), -ENOSPC);
}

Test(blk_request, header_short)
{
	header(VIRTIO_BLK_T_IN, 0);
	add(hdr, 8, false);
	add(data, 1, true);
	cr_assert_eq(blk_req_parse(&c, &m.mem, &r), -EINVAL);
	cr_assert_eq(r.status_off, 0, "the status can still be reported");
}

Test(blk_request, header_device_writable)
{
	/* A header the device would have to read from a write-only buffer. */
	header(VIRTIO_BLK_T_IN, 0);
	add(hdr, 16, true);
	add(data, 512, true);
	add(data + 1024, 1, true);
	cr_assert_eq(blk_req_parse(&c, &m.mem, &r), -EINVAL);
	cr_assert_eq(r.status_off, 528);
}

Test(blk_request, read_data_offered_read_only)
{
	header(VIRTIO_BLK_T_IN, 0);
	add(hdr, 16, false);
	add(data, 512, false);
	add(data + 1024, 1, true);
	cr_assert_eq(blk_req_parse(&c, &m.mem, &r), -EINVAL);
}

Test(blk_request, write_data_offered_write_only)
{
	header(VIRTIO_BLK_T_OUT, 0);
	add(hdr, 16, false);
	add(data, 512, true);
	add(data + 1024, 1, true);
	cr_assert_eq(blk_req_parse(&c, &m.mem, &r), -EINVAL);
}

Test(blk_request, length_not_a_multiple_of_512)
{
	header(VIRTIO_BLK_T_IN, 0);
	add(hdr, 16, false);
	add(data, 511, true);
	add(data + 1024, 1, true);
	cr_assert_eq(blk_req_parse(&c, &m.mem, &r), -EINVAL);
	memset(&c, 0, sizeof(c));
	header(VIRTIO_BLK_T_OUT, 0);
	add(hdr, 16, false);
	add(data, 700, false);
	add(data + 1024, 1, true);
	cr_assert_eq(blk_req_parse(&c, &m.mem, &r), -EINVAL);
}

Test(blk_request, get_id_wrong_length)
{
	header(VIRTIO_BLK_T_GET_ID, 0);
	add(hdr, 16, false);
	add(data, 19, true);
	add(data + 100, 1, true);
	cr_assert_eq(blk_req_parse(&c, &m.mem, &r), -EINVAL);
}

Test(blk_request, header_is_copied_once)
{
	header(VIRTIO_BLK_T_IN, 9);
	add(hdr, 16, false);
	add(data, 512, true);
	add(data + 1024, 1, true);
	cr_assert_eq(blk_req_parse(&c, &m.mem, &r), 0);
	header(VIRTIO_BLK_T_OUT, 1ULL << 60);
	cr_assert_eq(r.type, VIRTIO_BLK_T_IN, "later guest writes do not reach the parsed copy");
	cr_assert_eq(r.sector, 9);
}
