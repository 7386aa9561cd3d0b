/* virtio-vsock device: lifecycle, features, configuration space, the
 * transport-facing ops, entry points from the VMM loop and snapshot state.
 * Packet handling is in vsock_tx.c / vsock_rx.c, host sockets in
 * vsock_host.c, the connection table in vsock_conn.c.  See vsock.h. */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "devices/vsock/vsock_priv.h"
#include "vmm/log/log.h"

static void vsock_info(void *dev, struct virtio_dev_info *info)
{
	struct vsock_dev *v = dev;

	memset(info, 0, sizeof(*info));
	info->device_id = VIRTIO_ID_VSOCK;
	info->features = v->features;
	info->nr_queues = VSOCK_NR_QUEUES;
	for (unsigned int i = 0; i < VSOCK_NR_QUEUES; i++)
		info->queue_max[i] = v->queue_size;
}

/* Forgets everything tied to a driver: connections, RSTs owed, a held rx
 * buffer (its queue is being reset too). */
static void vsock_forget(struct vsock_dev *v)
{
	vsock_conns_drop_all(v);
	v->rx_held = false;
}

static int vsock_activate(void *dev, const struct virtio_activation *act)
{
	struct vsock_dev *v = dev;

	if (act->nr_queues < VSOCK_NR_QUEUES)
		return -EINVAL;
	for (unsigned int i = 0; i < VSOCK_NR_QUEUES; i++)
		if (!virtq_is_active(&act->queues[i]))
			return -EINVAL; /* Linux readies all three */
	pthread_mutex_lock(&v->lock);
	vsock_forget(v);
	v->mem = act->mem;
	for (unsigned int i = 0; i < VSOCK_NR_QUEUES; i++)
		v->q[i] = &act->queues[i];
	v->irq = act->irq;
	v->broken = false;
	v->reset_pending = false;
	v->active = true;
	pthread_mutex_unlock(&v->lock);
	return 0;
}

static void vsock_reset(void *dev)
{
	struct vsock_dev *v = dev;

	pthread_mutex_lock(&v->lock);
	vsock_forget(v);
	v->active = false;
	v->broken = false;
	v->reset_pending = false;
	for (unsigned int i = 0; i < VSOCK_NR_QUEUES; i++)
		v->q[i] = NULL;
	v->mem = NULL;
	pthread_mutex_unlock(&v->lock);
}

static void vsock_notify(void *dev, unsigned int queue)
{
	struct vsock_dev *v = dev;

	if (v->kick)
		v->kick(v->kick_opaque, queue);
	else
		(void)vsock_process_queue(v, queue);
}

static void vsock_config_read(void *dev, uint64_t offset, void *data, uint32_t len)
{
	struct vsock_dev *v = dev;
	struct virtio_vsock_config cfg;

	if (offset >= sizeof(cfg))
		return;
	if (len > sizeof(cfg) - offset)
		len = (uint32_t)(sizeof(cfg) - offset);
	cfg.guest_cid = htole64(v->cid); /* fixed at init/restore */
	memcpy(data, (uint8_t *)&cfg + offset, len);
}

static void vsock_config_write(void *dev, uint64_t offset, const void *data, uint32_t len)
{
	/* guest_cid is read-only. */
}

const struct virtio_dev_ops vsock_virtio_ops = {
	.info = vsock_info,
	.activate = vsock_activate,
	.reset = vsock_reset,
	.notify = vsock_notify,
	.config_read = vsock_config_read,
	.config_write = vsock_config_write,
};

static bool cid_valid(uint64_t cid)
{
	return cid >= VSOCK_CID_MIN_GUEST && cid < UINT32_MAX;
}

int vsock_dev_init(struct vsock_dev *v, const struct vsock_backend *be, const struct dev_event_loop *loop,
		   const struct vsock_opts *opts)
{
	uint16_t qs = opts->queue_size ? opts->queue_size : VSOCK_QUEUE_SIZE;
	unsigned int max_conns = opts->max_conns ? opts->max_conns : VSOCK_MAX_CONNS_DEFAULT;
	uint32_t bufsz = opts->conn_buf_size ? opts->conn_buf_size : VSOCK_CONN_BUF_DEFAULT;
	int ret;

	if (!be || !be->ops || !be->ops->listen || !be->ops->accept || !be->ops->connect || !loop ||
	    !loop->watch || !loop->unwatch || !cid_valid(opts->guest_cid))
		return -EINVAL;
	if (qs < 4 || qs > VIRTQ_MAX_SIZE || (qs & (qs - 1)) || max_conns > VSOCK_MAX_CONNS_LIMIT ||
	    bufsz < 4096 || bufsz > (16u << 20))
		return -EINVAL;
	memset(v, 0, sizeof(*v));
	v->listen_fd = -1;
	ret = pthread_mutex_init(&v->lock, NULL);
	if (ret)
		return -ret;
	v->cid = opts->guest_cid;
	v->features = VIRTIO_FEATURE(VIRTIO_F_VERSION_1) | VIRTIO_FEATURE(VIRTIO_F_RING_EVENT_IDX) |
		      VIRTIO_FEATURE(VIRTIO_F_RING_INDIRECT_DESC);
	v->queue_size = qs;
	v->max_conns = max_conns;
	v->conn_buf_size = bufsz;
	v->be = *be;
	v->loop = *loop;
	v->kick = opts->kick;
	v->kick_opaque = opts->kick_opaque;
	v->next_host_port = VSOCK_HOST_PORT_FIRST;
	ret = vsock_conns_alloc(v);
	if (ret)
		goto err_lock;
	ret = v->be.ops->listen(v->be.opaque);
	if (ret < 0)
		goto err_conns;
	v->listen_fd = ret;
	ret = dev_watch(&v->loop, v->listen_fd, EPOLLIN, VSOCK_TOKEN_LISTENER);
	if (ret)
		goto err_listen;
	return 0;
err_listen:
	close(v->listen_fd);
	if (v->be.ops->unlisten)
		v->be.ops->unlisten(v->be.opaque);
err_conns:
	vsock_conns_free(v);
err_lock:
	pthread_mutex_destroy(&v->lock);
	return ret;
}

void vsock_dev_destroy(struct vsock_dev *v)
{
	vsock_conns_drop_all(v);
	dev_unwatch(&v->loop, v->listen_fd);
	close(v->listen_fd);
	if (v->be.ops->unlisten)
		v->be.ops->unlisten(v->be.opaque);
	vsock_conns_free(v);
	pthread_mutex_destroy(&v->lock);
}

/* Everything the device can do now, queue by queue, then the interrupt. */
static void vsock_run(struct vsock_dev *v)
{
	if (!v->active)
		return;
	vsock_tx_process(v);
	vsock_rx_process(v);
	vsock_event_process(v);
	vsock_signal(v);
}

void vsock_handle_event(void *dev, uint32_t token, uint32_t events)
{
	struct vsock_dev *v = dev;

	pthread_mutex_lock(&v->lock);
	vsock_host_event(v, token, events);
	if (v->active && !v->broken) {
		vsock_rx_process(v);
		vsock_signal(v);
	}
	pthread_mutex_unlock(&v->lock);
}

int vsock_process_queue(struct vsock_dev *v, unsigned int queue)
{
	int ret;

	pthread_mutex_lock(&v->lock);
	/* Any queue's kick runs everything: tx packets queue rx replies, and
	 * new rx buffers let waiting packets out. */
	if (v->active && !v->broken && queue < VSOCK_NR_QUEUES)
		vsock_run(v);
	ret = v->active && v->broken ? -EIO : 0;
	pthread_mutex_unlock(&v->lock);
	return ret;
}

int vsock_send_transport_reset(struct vsock_dev *v)
{
	int ret = 0;

	pthread_mutex_lock(&v->lock);
	vsock_forget(v);
	if (!v->active) {
		ret = -ENODEV;
	} else {
		v->reset_pending = true;
		vsock_event_process(v);
		vsock_signal(v);
	}
	pthread_mutex_unlock(&v->lock);
	return ret;
}

void vsock_metrics_get(struct vsock_dev *v, struct vsock_metrics *m)
{
	pthread_mutex_lock(&v->lock);
	*m = v->metrics;
	pthread_mutex_unlock(&v->lock);
}

unsigned int vsock_conn_count(struct vsock_dev *v)
{
	unsigned int n;

	pthread_mutex_lock(&v->lock);
	n = v->nr_conns;
	pthread_mutex_unlock(&v->lock);
	return n;
}

void vsock_save(struct vsock_dev *v, struct vsock_state *st)
{
	pthread_mutex_lock(&v->lock);
	memset(st, 0, sizeof(*st));
	st->guest_cid = v->cid;
	st->reset_pending = v->reset_pending;
	pthread_mutex_unlock(&v->lock);
}

int vsock_restore(struct vsock_dev *v, const struct vsock_state *st)
{
	if (!cid_valid(st->guest_cid) || st->reset_pending > 1)
		return -EINVAL;
	pthread_mutex_lock(&v->lock);
	vsock_forget(v);
	v->cid = st->guest_cid;
	v->reset_pending = v->active && st->reset_pending;
	pthread_mutex_unlock(&v->lock);
	return 0;
}
