/* virtio-mmio register decoding; the status machine is in
 * virtio_mmio_status.c, snapshots in virtio_mmio_state.c.  See virtio_mmio.h. */
#include "devices/virtio/virtio_mmio.h"

#include <errno.h>
#include <string.h>

#include "devices/virtio/virtio_mmio_priv.h"

/* The selected queue, or NULL when QueueSel names none (checked on every use:
 * the guest writes QueueSel freely). */
static struct virtq *sel_queue(struct vmmio *t)
{
	return t->queue_sel < t->info.nr_queues ? &t->queues[t->queue_sel] : NULL;
}

static uint32_t reg_read(struct vmmio *t, uint64_t off)
{
	struct virtq *q = sel_queue(t);

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION:
		return VIRTIO_MMIO_VERSION_MODERN;
	case VIRTIO_MMIO_DEVICE_ID:
		return t->info.device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return 0;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		if (t->device_features_sel > 1)
			return 0;
		return (uint32_t)(t->info.features >> (32 * t->device_features_sel));
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return q ? q->max_size : 0;
	case VIRTIO_MMIO_QUEUE_READY:
		return q ? q->ready : 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return atomic_load(&t->isr);
	case VIRTIO_MMIO_STATUS:
		return vmmio_status(t);
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
	case VIRTIO_MMIO_SHM_BASE_LOW:
	case VIRTIO_MMIO_SHM_BASE_HIGH:
		return 0xffffffffu; /* no shared memory regions */
	case VIRTIO_MMIO_QUEUE_RESET:
		return 0;
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return atomic_load(&t->config_generation);
	default:
		t->metrics.bad_access++;
		return 0;
	}
}

/* QueueNum and the ring addresses: only while configuring, and only for a
 * queue that exists and is not ready. */
static struct virtq *queue_for_config(struct vmmio *t)
{
	struct virtq *q = sel_queue(t);

	if (!q || q->ready ||
	    !vmmio_status_in(t, VIRTIO_STATUS_FEATURES_OK, VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FAILED))
		return NULL;
	return q;
}

static void set_half(uint64_t *v, int high, uint32_t half)
{
	if (high)
		*v = (*v & 0xffffffffULL) | ((uint64_t)half << 32);
	else
		*v = (*v & ~0xffffffffULL) | half;
}

static void queue_write(struct vmmio *t, uint64_t off, uint32_t v)
{
	struct virtq *q;

	if (off == VIRTIO_MMIO_QUEUE_READY) {
		q = sel_queue(t);
		if (q && vmmio_status_in(t, VIRTIO_STATUS_FEATURES_OK,
					 VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FAILED))
			q->ready = v & 1;
		else
			t->metrics.ignored++;
		return;
	}
	q = queue_for_config(t);
	if (!q) {
		t->metrics.ignored++;
		return;
	}
	switch (off) {
	case VIRTIO_MMIO_QUEUE_NUM:
		/* Kept as written (16 bits); checked at DRIVER_OK. */
		q->size = v > 0xffff ? 0 : (uint16_t)v;
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		set_half(&q->desc_gpa, off == VIRTIO_MMIO_QUEUE_DESC_HIGH, v);
		break;
	case VIRTIO_MMIO_QUEUE_DRIVER_LOW:
	case VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
		set_half(&q->avail_gpa, off == VIRTIO_MMIO_QUEUE_DRIVER_HIGH, v);
		break;
	default:
		set_half(&q->used_gpa, off == VIRTIO_MMIO_QUEUE_DEVICE_HIGH, v);
		break;
	}
}

static void queue_notify(struct vmmio *t, uint32_t v)
{
	if (!t->active || v >= t->info.nr_queues || !virtq_is_active(&t->queues[v])) {
		t->metrics.notify_ignored++;
		return;
	}
	t->ops->notify(t->dev, v);
}

static void reg_write(struct vmmio *t, uint64_t off, uint32_t v)
{
	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		t->device_features_sel = v;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		if (t->driver_features_sel > 1 ||
		    !vmmio_status_in(t, VIRTIO_STATUS_DRIVER, VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_FAILED)) {
			t->metrics.ignored++;
			break;
		}
		set_half(&t->driver_features, t->driver_features_sel, v);
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		t->driver_features_sel = v;
		break;
	case VIRTIO_MMIO_QUEUE_SEL:
		t->queue_sel = v;
		break;
	case VIRTIO_MMIO_QUEUE_NUM:
	case VIRTIO_MMIO_QUEUE_READY:
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
	case VIRTIO_MMIO_QUEUE_DRIVER_LOW:
	case VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
	case VIRTIO_MMIO_QUEUE_DEVICE_LOW:
	case VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
		queue_write(t, off, v);
		break;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		queue_notify(t, v);
		break;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		atomic_fetch_and(&t->isr, ~v);
		break;
	case VIRTIO_MMIO_STATUS:
		vmmio_status_write(t, v);
		break;
	case VIRTIO_MMIO_SHM_SEL:
		break; /* no regions to select */
	default:
		t->metrics.bad_access++;
		break;
	}
}

static bool config_allowed(const struct vmmio *t)
{
	return vmmio_status_in(t, VIRTIO_STATUS_DRIVER, VIRTIO_STATUS_FAILED);
}

void vmmio_read(struct vmmio *t, uint64_t offset, void *data, uint32_t len)
{
	uint32_t v;

	memset(data, 0, len);
	pthread_mutex_lock(&t->lock);
	if (offset >= VIRTIO_MMIO_CONFIG) {
		if (!config_allowed(t))
			t->metrics.ignored++;
		else if (t->ops->config_read && len <= 8)
			t->ops->config_read(t->dev, offset - VIRTIO_MMIO_CONFIG, data, len);
	} else if (len == 4 && !(offset & 3)) {
		v = reg_read(t, offset);
		memcpy(data, &v, 4);
	} else {
		t->metrics.bad_access++;
	}
	pthread_mutex_unlock(&t->lock);
}

void vmmio_write(struct vmmio *t, uint64_t offset, const void *data, uint32_t len)
{
	uint32_t v;

	pthread_mutex_lock(&t->lock);
	if (offset >= VIRTIO_MMIO_CONFIG) {
		if (!config_allowed(t))
			t->metrics.ignored++;
		else if (t->ops->config_write && len <= 8)
			t->ops->config_write(t->dev, offset - VIRTIO_MMIO_CONFIG, data, len);
	} else if (len == 4 && !(offset & 3)) {
		memcpy(&v, data, 4);
		reg_write(t, offset, v);
	} else {
		t->metrics.bad_access++;
	}
	pthread_mutex_unlock(&t->lock);
}

static void vmmio_bus_read(void *opaque, uint64_t offset, void *data, uint32_t len)
{
	vmmio_read(opaque, offset, data, len);
}

static void vmmio_bus_write(void *opaque, uint64_t offset, const void *data, uint32_t len)
{
	vmmio_write(opaque, offset, data, len);
}

const struct bus_dev_ops vmmio_bus_ops = {
	.read = vmmio_bus_read,
	.write = vmmio_bus_write,
};

uint32_t vmmio_status(struct vmmio *t)
{
	return __atomic_load_n(&t->status, __ATOMIC_RELAXED) |
	       (atomic_load(&t->needs_reset) ? VIRTIO_STATUS_DEVICE_NEEDS_RESET : 0);
}

static bool info_valid(const struct virtio_dev_info *info)
{
	unsigned int i;

	if (!info->device_id || !(info->features & VIRTIO_FEATURE(VIRTIO_F_VERSION_1)) ||
	    !info->nr_queues || info->nr_queues > VIRTIO_MAX_QUEUES)
		return false;
	for (i = 0; i < info->nr_queues; i++) {
		uint16_t m = info->queue_max[i];

		if (!m || (m & (m - 1)) || m > VIRTQ_MAX_SIZE)
			return false;
	}
	return true;
}

int vmmio_init(struct vmmio *t, const struct virtio_dev_ops *ops, void *dev, const struct gmem *mem,
	       const struct irq_line *irq)
{
	unsigned int i;
	int ret;

	if (!ops || !ops->info || !ops->activate || !ops->reset || !ops->notify || !mem || !irq)
		return -EINVAL;
	memset(t, 0, sizeof(*t));
	ops->info(dev, &t->info);
	if (!info_valid(&t->info))
		return -EINVAL;
	for (i = 0; i < t->info.nr_queues; i++) {
		ret = virtq_init(&t->queues[i], t->info.queue_max[i]);
		if (ret)
			return ret;
	}
	ret = pthread_mutex_init(&t->lock, NULL);
	if (ret)
		return -ret;
	t->ops = ops;
	t->dev = dev;
	t->mem = mem;
	t->irq = *irq;
	return 0;
}

void vmmio_destroy(struct vmmio *t)
{
	pthread_mutex_lock(&t->lock);
	if (t->active)
		t->ops->reset(t->dev);
	t->active = false;
	pthread_mutex_unlock(&t->lock);
	pthread_mutex_destroy(&t->lock);
}

void vmmio_metrics_get(struct vmmio *t, struct vmmio_metrics *m)
{
	pthread_mutex_lock(&t->lock);
	*m = t->metrics;
	m->interrupts = __atomic_load_n(&t->metrics.interrupts, __ATOMIC_RELAXED);
	m->needs_reset = __atomic_load_n(&t->metrics.needs_reset, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&t->lock);
}
