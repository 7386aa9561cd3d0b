/* Mock virtio-blk driver; see blk_mock.h. */
#include "devices/block/blk_mock.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void mock_irq(void *opaque, unsigned int gsi, int level)
{
	struct blk_mock *bm = opaque;

	if (level)
		bm->irq_raises++;
}

int blk_mock_init(struct blk_mock *bm, const struct blk_backend *be, const struct blk_opts *opts,
		  uint64_t features)
{
	struct irq_line line = { .set_level = mock_irq, .opaque = bm, .gsi = 5 };
	int ret;

	memset(bm, 0, sizeof(*bm));
	ret = vmock_init(&bm->m, VMOCK_RAM_GPA, BLK_MOCK_RAM_SIZE);
	if (ret)
		return ret;
	ret = blk_dev_init(&bm->dev, be, opts);
	if (ret)
		goto err_mock;
	ret = vmmio_init(&bm->t, &blk_virtio_ops, &bm->dev, &bm->m.mem, &line);
	if (ret)
		goto err_dev;
	vmock_attach(&bm->m, &bm->t);
	bm->slots = vmock_alloc(&bm->m, BLK_MOCK_SLOTS * 32, 16);
	bm->data = vmock_alloc_uninit(&bm->m, BLK_MOCK_DATA_SIZE, 4096); /* fresh: zero */
	ret = vmock_negotiate(&bm->m, features, 1, 0);
	if (ret)
		goto err_mmio;
	return 0;
err_mmio:
	vmmio_destroy(&bm->t);
err_dev:
	blk_dev_destroy(&bm->dev);
err_mock:
	vmock_destroy(&bm->m);
	return ret;
}

void blk_mock_destroy(struct blk_mock *bm)
{
	vmmio_destroy(&bm->t);
	blk_dev_destroy(&bm->dev);
	vmock_destroy(&bm->m);
}

uint16_t blk_mock_queue(struct blk_mock *bm, uint32_t type, uint64_t sector, uint64_t data_gpa, uint32_t len,
			const struct blk_mock_layout *layout)
{
	static const struct blk_mock_layout plain = { .data_segs = 1 };
	struct vmock_buf bufs[VIRTQ_MAX_SIZE];
	struct virtio_blk_outhdr h = { .type = htole32(type), .sector = htole64(sector) };
	uint64_t slot = bm->slots + 32ULL * (bm->next_slot++ % BLK_MOCK_SLOTS);
	bool in = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
	unsigned int n = 0, segs;
	uint64_t status = slot + 16;
	uint8_t poison = 0xff;
	uint16_t head;

	if (!layout)
		layout = &plain;
	segs = len ? (layout->data_segs ? layout->data_segs : 1) : 0;
	if (segs > len)
		segs = len;
	if (segs > VIRTQ_MAX_SIZE - 2) {
		fprintf(stderr, "blk mock: %u data segments do not fit a chain\n", segs);
		abort();
	}
	vmock_write(&bm->m, slot, &h, sizeof(h));
	bufs[n++] = (struct vmock_buf){ slot, sizeof(h), false };
	for (unsigned int i = 0; i < segs; i++) {
		uint32_t piece = len / segs, off = piece * i;

		if (i == segs - 1)
			piece = len - off;
		bufs[n++] = (struct vmock_buf){ data_gpa + off, piece, in };
	}
	if (in && layout->merge_status && segs) {
		status = data_gpa + len;
		bufs[n - 1].len++;
	} else {
		bufs[n++] = (struct vmock_buf){ status, 1, true };
	}
	vmock_write(&bm->m, status, &poison, 1);
	if (layout->indirect)
		vmock_chain_add_indirect(&bm->m, 0, bufs, n, &head);
	else
		vmock_chain_add(&bm->m, 0, bufs, n, &head);
	bm->status_of[head] = status;
	vmock_avail_push(&bm->m, 0, head);
	return head;
}

int blk_mock_complete(struct blk_mock *bm, uint16_t *head, uint32_t *used, uint8_t *status)
{
	uint32_t id;
	int ret = vmock_used_next(&bm->m, 0, &id, used);

	/* Asynchronous engines answer later, through the loop. */
	while (ret == -EAGAIN && bm->loop && bm->dev.nr_inflight) {
		if (!blk_mock_loop_run(bm->loop, &bm->dev, 5000))
			break;
		ret = vmock_used_next(&bm->m, 0, &id, used);
	}
	if (ret)
		return ret;
	if (id >= VIRTQ_MAX_SIZE) {
		fprintf(stderr, "blk mock: device returned head %u\n", id);
		abort();
	}
	*head = (uint16_t)id;
	vmock_read(&bm->m, bm->status_of[id], status, 1);
	return 0;
}

int blk_mock_do(struct blk_mock *bm, uint32_t type, uint64_t sector, void *buf, uint32_t len, uint32_t *used)
{
	uint16_t head;
	uint32_t u;
	uint8_t status;

	if (len > BLK_MOCK_DATA_SIZE) {
		fprintf(stderr, "blk mock: request of %u bytes too large\n", len);
		abort();
	}
	if (type == VIRTIO_BLK_T_OUT && len)
		vmock_write(&bm->m, bm->data, buf, len);
	blk_mock_queue(bm, type, sector, bm->data, len, NULL);
	vmock_notify(&bm->m, 0);
	if (blk_mock_complete(bm, &head, &u, &status))
		return -1;
	if ((type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID) && len)
		vmock_read(&bm->m, bm->data, buf, len);
	if (used)
		*used = u;
	return status;
}
