/*
 * kiln-uffd-handler SOCKET MEM_FILE: the example page server for
 * PUT /snapshot/load with mem_backend {"backend_type": "Uffd",
 * "backend_path": SOCKET}.
 *
 * It listens on SOCKET; kiln connects once it has mapped guest memory and
 * sends, in one message, the region layout as JSON (Firecracker's shape:
 * [{"base_host_virt_addr": A, "size": S, "offset": O, "page_size": P}, ...],
 * offset being the region's place in the memory file) with the userfaultfd as
 * SCM_RIGHTS.  The handler then maps MEM_FILE and answers every missing-page
 * fault by copying the page from the file (UFFDIO_COPY), until kiln closes
 * the connection (it exits).  Exit 0 then; 1 on an error, with one line on stderr.
 *
 * The layout comes from kiln, which the handler trusts as far as this: each
 * fault must fall in a region whose file range lies inside MEM_FILE, or the
 * handler stops (kiln's access then fails rather than reading past the file).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define UH_MAX_REGIONS 8
#define UH_MSG_MAX 4096

struct uh_region {
	uint64_t base, size, offset, page_size;
};

static int uh_field(const char *obj, const char *name, uint64_t *out)
{
	char key[64];
	const char *p;

	snprintf(key, sizeof(key), "\"%s\"", name);
	p = strstr(obj, key);
	if (!p)
		return -1;
	p += strlen(key);
	while (*p == ' ' || *p == ':')
		p++;
	if (*p < '0' || *p > '9')
		return -1;
	*out = strtoull(p, NULL, 10);
	return 0;
}

/* The JSON array of region objects, each object one '{' ... '}'. */
static int uh_parse(char *msg, struct uh_region *r, unsigned int *n)
{
	char *p = msg;

	*n = 0;
	while ((p = strchr(p, '{'))) {
		char *end = strchr(p, '}');

		if (!end || *n >= UH_MAX_REGIONS)
			return -1;
		*end = '\0';
		if (uh_field(p, "base_host_virt_addr", &r[*n].base) || uh_field(p, "size", &r[*n].size) ||
		    uh_field(p, "offset", &r[*n].offset) || uh_field(p, "page_size", &r[*n].page_size) ||
		    !r[*n].page_size)
			return -1;
		(*n)++;
		p = end + 1;
	}
	return *n ? 0 : -1;
}

static int uh_receive(int conn, char *msg, int *uffd)
{
	char ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = msg, .iov_len = UH_MSG_MAX - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
			     .msg_controllen = sizeof(ctl) };
	struct cmsghdr *c;
	ssize_t n = recvmsg(conn, &mh, MSG_CMSG_CLOEXEC);

	if (n <= 0)
		return -1;
	msg[n] = '\0';
	c = CMSG_FIRSTHDR(&mh);
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(uffd, CMSG_DATA(c), sizeof(int));
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct uh_region regions[UH_MAX_REGIONS];
	char msg[UH_MSG_MAX];
	unsigned int nr;
	struct stat st;
	uint64_t served = 0;
	uint8_t *mem;
	int lfd, conn, mfd, uffd = -1;

	if (argc != 3) {
		fprintf(stderr, "usage: kiln-uffd-handler SOCKET MEM_FILE\n");
		return 1;
	}
	mfd = open(argv[2], O_RDONLY | O_CLOEXEC);
	if (mfd < 0 || fstat(mfd, &st) || !st.st_size) {
		fprintf(stderr, "kiln-uffd-handler: %s: cannot open or empty\n", argv[2]);
		return 1;
	}
	mem = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, mfd, 0);
	if (mem == MAP_FAILED) {
		fprintf(stderr, "kiln-uffd-handler: mmap %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	if (strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "kiln-uffd-handler: socket path too long\n");
		return 1;
	}
	strcpy(sa.sun_path, argv[1]);
	unlink(argv[1]);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 1)) {
		fprintf(stderr, "kiln-uffd-handler: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (conn < 0 || uh_receive(conn, msg, &uffd) || uh_parse(msg, regions, &nr)) {
		fprintf(stderr, "kiln-uffd-handler: no valid region layout and userfaultfd from kiln\n");
		return 1;
	}
	for (unsigned int i = 0; i < nr; i++) {
		if (regions[i].offset > (uint64_t)st.st_size ||
		    regions[i].size > (uint64_t)st.st_size - regions[i].offset) {
			fprintf(stderr, "kiln-uffd-handler: region %u lies outside %s\n", i, argv[2]);
			return 1;
		}
	}
	for (;;) {
		/* kiln keeps the connection open while it runs: its end is ours. */
		struct pollfd pfd[2] = { { .fd = uffd, .events = POLLIN }, { .fd = conn, .events = POLLIN } };
		struct uffd_msg m;
		struct uffdio_copy copy;
		const struct uh_region *r = NULL;
		uint64_t addr;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if ((pfd[0].revents | pfd[1].revents) & (POLLHUP | POLLERR))
			break;
		if (pfd[1].revents & POLLIN) {
			char c;

			if (recv(conn, &c, 1, MSG_DONTWAIT) == 0)
				break; /* kiln closed the connection: it exited */
		}
		if (!(pfd[0].revents & POLLIN))
			continue;
		if (read(uffd, &m, sizeof(m)) != sizeof(m)) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			break; /* kiln went away */
		}
		if (m.event != UFFD_EVENT_PAGEFAULT)
			continue;
		addr = m.arg.pagefault.address;
		for (unsigned int i = 0; i < nr; i++)
			if (addr >= regions[i].base && addr - regions[i].base < regions[i].size)
				r = &regions[i];
		if (!r) {
			fprintf(stderr, "kiln-uffd-handler: fault at 0x%llx outside every region\n",
				(unsigned long long)addr);
			return 1;
		}
		addr &= ~(r->page_size - 1);
		copy = (struct uffdio_copy){
			.dst = addr,
			.src = (uint64_t)(uintptr_t)(mem + r->offset + (addr - r->base)),
			.len = r->page_size,
		};
		if (ioctl(uffd, UFFDIO_COPY, &copy) && errno != EEXIST) {
			if (errno == ENOENT || errno == ESRCH)
				break; /* the mapping is gone: kiln is exiting */
			fprintf(stderr, "kiln-uffd-handler: UFFDIO_COPY at 0x%llx: %s\n", (unsigned long long)addr,
				strerror(errno));
			return 1;
		}
		served++;
	}
	fprintf(stderr, "kiln-uffd-handler: served %llu page(s), kiln is gone\n",
		(unsigned long long)served);
	unlink(argv[1]);
	return 0;
}
