/* In-memory TAP; see net_tap_fake.h. */
#include "devices/net/net_tap_fake.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

static ssize_t fake_read(void *opaque, void *buf, size_t len)
{
	struct net_tap_fake *f = opaque;
	struct net_fake_frame *fr;
	size_t n;

	if (f->read_fail)
		return f->read_fail;
	if (!f->in_count)
		return -EAGAIN;
	fr = &f->in[f->in_head];
	n = fr->len < len ? fr->len : len; /* cut, as the TAP does */
	memcpy(buf, fr->data, n);
	free(fr->data);
	fr->data = NULL;
	f->in_head = (f->in_head + 1) % NET_FAKE_QUEUE;
	f->in_count--;
	return (ssize_t)n;
}

static ssize_t fake_writev(void *opaque, const struct iovec *iov, int iovcnt)
{
	struct net_tap_fake *f = opaque;
	struct net_fake_frame *slot;
	size_t len = 0, at = 0;

	if (iovcnt < 1)
		return -EINVAL;
	if (f->full || f->eagain_next) {
		if (f->eagain_next)
			f->eagain_next--;
		f->eagains++;
		return -EAGAIN;
	}
	for (int i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;
	if (f->keep) {
		slot = &f->out[f->writes % NET_FAKE_KEEP];
		free(slot->data);
		slot->data = malloc(len ? len : 1);
		if (!slot->data)
			return -ENOMEM;
		for (int i = 0; i < iovcnt; i++) {
			memcpy(slot->data + at, iov[i].iov_base, iov[i].iov_len);
			at += iov[i].iov_len;
		}
		slot->len = (uint32_t)len;
	}
	f->writes++;
	f->write_bytes += len;
	return (ssize_t)len;
}

static int fake_set_offload(void *opaque, unsigned int flags)
{
	struct net_tap_fake *f = opaque;

	f->offload_calls++;
	if (f->offload_fail)
		return f->offload_fail;
	f->offload_flags = flags;
	return 0;
}

static const struct net_backend_ops fake_ops = {
	.read = fake_read,
	.writev = fake_writev,
	.set_offload = fake_set_offload,
};

int net_tap_fake_init(struct net_tap_fake *f)
{
	memset(f, 0, sizeof(*f));
	f->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (f->fd < 0)
		return -errno;
	f->be = (struct net_backend){ .ops = &fake_ops, .opaque = f, .fd = f->fd };
	return 0;
}

void net_tap_fake_destroy(struct net_tap_fake *f)
{
	for (unsigned int i = 0; i < NET_FAKE_QUEUE; i++)
		free(f->in[i].data);
	for (unsigned int i = 0; i < NET_FAKE_KEEP; i++)
		free(f->out[i].data);
	if (f->fd >= 0)
		close(f->fd);
	memset(f, 0, sizeof(*f));
	f->fd = -1;
}

int net_tap_fake_inject(struct net_tap_fake *f, const void *frame, size_t len)
{
	struct net_fake_frame *fr;

	if (f->in_count >= NET_FAKE_QUEUE)
		return -ENOSPC;
	fr = &f->in[(f->in_head + f->in_count) % NET_FAKE_QUEUE];
	fr->data = malloc(len ? len : 1);
	if (!fr->data)
		return -ENOMEM;
	memcpy(fr->data, frame, len);
	fr->len = (uint32_t)len;
	f->in_count++;
	return 0;
}

unsigned int net_tap_fake_pending(const struct net_tap_fake *f)
{
	return f->in_count;
}

const struct net_fake_frame *net_tap_fake_written(const struct net_tap_fake *f, uint64_t i)
{
	if (!f->keep || i >= f->writes || f->writes - i > NET_FAKE_KEEP)
		return NULL;
	return &f->out[i % NET_FAKE_KEEP];
}
