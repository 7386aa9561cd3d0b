/*
 * virtio-blk request framing, private to the block unit, its tests and fuzz
 * target.  A request is found in a popped chain without assuming anything
 * about descriptor boundaries (2.7.4): the header is the first 16 readable
 * bytes (copied into host memory, then checked), the status byte is the last
 * writable byte, the data is what lies between.
 */
#ifndef KILN_BLK_REQUEST_H
#define KILN_BLK_REQUEST_H

#include <stdint.h>

#include "devices/block/virtio_blk_abi.h"
#include "devices/virtio/virtq.h"
#include "vmm/compiler.h"

struct blk_req {
	uint32_t type;         /* VIRTIO_BLK_T_*, possibly unknown */
	uint64_t sector;
	enum virtq_dir data_dir;
	uint32_t data_off;     /* offset of the data in the data_dir part of the chain */
	uint32_t data_len;     /* bytes; a multiple of 512 for IN and OUT */
	uint32_t status_off;   /* offset of the status byte in the writable part */
};

/*
 * Parses chain c.  0 with *r filled (an unknown type is the device's to
 * answer with UNSUPP); -ENOSPC when there is no writable byte for the status
 * (nothing can be reported: the request is dropped); -EINVAL when the status
 * byte exists but the framing is wrong for the type: header not
 * device-readable or short, IN/GET_ID data not device-writable, OUT data not
 * device-readable, IN/OUT length not a multiple of 512, GET_ID data not 20
 * bytes (the device answers IOERR).  -EFAULT if guest memory refuses the
 * header copy.  r->status_off is valid whenever the return is not -ENOSPC.
 */
int blk_req_parse(const struct virtq_chain *c, const struct gmem *mem, struct blk_req *r) __must_check;

#endif
