/* The default entropy source: the host kernel's CSPRNG through getrandom(2). */
#include <errno.h>
#include <sys/random.h>

#include "devices/rng/rng.h"

static int getrandom_fill(void *opaque, void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len) {
		/* Blocks only before the host pool is first initialised; short
		 * reads happen above 256 bytes when a signal arrives. */
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

const struct rng_source rng_source_getrandom = { .fill = getrandom_fill };
