/* Built instead of blk_backend_uring.c when liburing is missing: the Async
 * engine is refused with -EOPNOTSUPP. */
#include <errno.h>
#include <stddef.h>

#include "devices/block/blk_backend.h"

bool blk_uring_supported(void)
{
	return false;
}

int blk_uring_open(struct blk_uring **out, const char *path, bool read_only, enum blk_cache_type cache,
		   uint32_t depth)
{
	*out = NULL;
	return -EOPNOTSUPP;
}

const struct blk_backend *blk_uring_backend(const struct blk_uring *u)
{
	return NULL;
}

void blk_uring_close(struct blk_uring *u)
{
}
