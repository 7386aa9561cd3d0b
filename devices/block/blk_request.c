/* virtio-blk request framing; see blk_request.h. */
#include "devices/block/blk_request.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

#define HDR_LEN sizeof(struct virtio_blk_outhdr)

int blk_req_parse(const struct virtq_chain *c, const struct gmem *mem, struct blk_req *r)
{
	struct virtio_blk_outhdr h;
	uint32_t wdata;

	memset(r, 0, sizeof(*r));
	if (!c->writable_len)
		return -ENOSPC;
	r->status_off = c->writable_len - 1;
	wdata = c->writable_len - 1; /* writable bytes before the status */
	if (c->readable_len < HDR_LEN)
		return -EINVAL;
	if (virtq_chain_read(c, mem, 0, &h, sizeof(h)))
		return -EFAULT;
	r->type = le32toh(h.type);
	r->sector = le64toh(h.sector);

	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_GET_ID:
		if (c->readable_len != HDR_LEN)
			return -EINVAL; /* data offered as device-readable */
		r->data_dir = VIRTQ_DEV_WRITE;
		r->data_off = 0;
		r->data_len = wdata;
		if (r->type == VIRTIO_BLK_T_GET_ID && r->data_len != VIRTIO_BLK_ID_BYTES)
			return -EINVAL;
		break;
	case VIRTIO_BLK_T_OUT:
		if (wdata)
			return -EINVAL; /* data offered as device-writable */
		r->data_dir = VIRTQ_DEV_READ;
		r->data_off = HDR_LEN;
		r->data_len = c->readable_len - HDR_LEN;
		break;
	default:
		/* FLUSH carries no data ("SHOULD NOT"): anything extra is
		 * ignored, as for types the device does not know. */
		r->data_dir = VIRTQ_DEV_READ;
		return 0;
	}
	if (r->type != VIRTIO_BLK_T_GET_ID && r->data_len % VIRTIO_BLK_SECTOR_SIZE)
		return -EINVAL;
	return 0;
}
