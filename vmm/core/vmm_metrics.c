/* Metrics lines; see vmm_metrics.h. */
#include "vmm/core/vmm_metrics.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vmm/core/vm.h"
#include "vmm/core/vmm_metrics_devices.h"
#include "vmm/log/log.h"

void vmm_metrics_init(struct vmm_metrics *m)
{
	memset(m, 0, sizeof(*m));
	m->fd = -1;
}

void vmm_metrics_close(struct vmm_metrics *m)
{
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
}

int vmm_metrics_open(struct vmm_metrics *m, const char *path, char err[VMM_METRICS_ERR_MAX])
{
	struct stat st;
	int fd, ret;

	if (m->fd >= 0) {
		snprintf(err, VMM_METRICS_ERR_MAX, "Reinitialization of metrics not allowed.");
		return -EALREADY;
	}
	/* O_NONBLOCK: opening a FIFO without a reader fails (ENXIO) instead of
	 * hanging, and a full FIFO drops a line instead of stalling the VMM. */
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0600);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, VMM_METRICS_ERR_MAX, "cannot open %s: %s", path, strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st) || !(S_ISREG(st.st_mode) || S_ISFIFO(st.st_mode))) {
		snprintf(err, VMM_METRICS_ERR_MAX, "%s: not a regular file or FIFO", path);
		close(fd);
		return -EINVAL;
	}
	m->fd = fd;
	return 0;
}

static uint64_t vmm_metrics_utc_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int vmm_metrics_add(cJSON *obj, const char *name, uint64_t v)
{
	return cJSON_AddNumberToObject(obj, name, (double)v) ? 0 : -ENOMEM;
}

static int vmm_metrics_vcpu(struct vmm_metrics *m, const struct vm *vm, cJSON *obj)
{
	cJSON *vcpu = cJSON_AddObjectToObject(obj, "vcpu");
	uint64_t now[VCPU_EXIT_NR] = { 0 };
	char name[48];
	int r = 0;

	if (!vcpu)
		return -ENOMEM;
	for (unsigned int i = 0; vm && i < vm->vcpus_created; i++)
		for (int k = 0; k < VCPU_EXIT_NR; k++)
			now[k] += atomic_load(&vm->vcpus[i].exits[k]);
	for (int k = 0; k < VCPU_EXIT_NR && !r; k++) {
		snprintf(name, sizeof(name), "exit_%s", vcpu_exit_kind_names[k]);
		r = vmm_metrics_add(vcpu, name, now[k] - m->last_exits[k]);
		m->last_exits[k] = now[k];
	}
	return r;
}

static int vmm_metrics_uart(struct vmm_metrics *m, struct vm *vm, cJSON *obj)
{
	struct serial8250_metrics now = { 0 }, *last = &m->last_serial;
	cJSON *uart = cJSON_AddObjectToObject(obj, "uart");
	int r;

	if (!uart)
		return -ENOMEM;
	if (vm && vm->legacy.serial)
		serial8250_metrics_get(vm->legacy.serial, &now);
	r = vmm_metrics_add(uart, "write_count", now.tx_bytes - last->tx_bytes) ?:
	    vmm_metrics_add(uart, "missed_write_count", now.tx_dropped - last->tx_dropped) ?:
	    vmm_metrics_add(uart, "read_count", now.rx_bytes - last->rx_bytes) ?:
	    vmm_metrics_add(uart, "missed_read_count", now.missed_reads - last->missed_reads) ?:
	    vmm_metrics_add(uart, "overrun_count", now.rx_overruns - last->rx_overruns);
	*last = now;
	return r;
}

/* Firecracker's "block_<drive_id>" objects and their sum "block". */
struct vmm_block_delta {
	uint64_t activate_fails, event_fails, execute_fails, invalid_reqs_count, flush_count,
		queue_event_count, update_count, update_fails, read_bytes, write_bytes, read_count,
		write_count, rate_limiter_throttled_events;
};

static int vmm_metrics_block_obj(cJSON *obj, const char *name, const struct vmm_block_delta *d)
{
	cJSON *o = cJSON_AddObjectToObject(obj, name);

	if (!o)
		return -ENOMEM;
	return vmm_metrics_add(o, "activate_fails", d->activate_fails) ?:
	       vmm_metrics_add(o, "event_fails", d->event_fails) ?:
	       vmm_metrics_add(o, "execute_fails", d->execute_fails) ?:
	       vmm_metrics_add(o, "invalid_reqs_count", d->invalid_reqs_count) ?:
	       vmm_metrics_add(o, "flush_count", d->flush_count) ?:
	       vmm_metrics_add(o, "queue_event_count", d->queue_event_count) ?:
	       vmm_metrics_add(o, "update_count", d->update_count) ?:
	       vmm_metrics_add(o, "update_fails", d->update_fails) ?:
	       vmm_metrics_add(o, "read_bytes", d->read_bytes) ?:
	       vmm_metrics_add(o, "write_bytes", d->write_bytes) ?:
	       vmm_metrics_add(o, "read_count", d->read_count) ?:
	       vmm_metrics_add(o, "write_count", d->write_count) ?:
	       vmm_metrics_add(o, "rate_limiter_throttled_events", d->rate_limiter_throttled_events);
}

/* One drive's counters since the previous line; remembers what it reported. */
static void vmm_block_take(struct vm_drive *d, struct vmm_block_delta *out)
{
	struct blk_metrics now, *last = &d->last;
	struct vmmio_metrics t;
	uint64_t events = d->vdev ? d->vdev->queue_events : 0;

	blk_metrics_get(&d->blk, &now);
	memset(&t, 0, sizeof(t));
	if (d->vdev && d->vdev->transport_ready)
		vmmio_metrics_get(&d->vdev->transport, &t);
	*out = (struct vmm_block_delta){
		.activate_fails = t.activate_failed - d->last_activate_fails,
		.event_fails = now.queue_errors - last->queue_errors,
		.execute_fails = (now.io_errors - now.invalid) - (last->io_errors - last->invalid),
		.invalid_reqs_count = now.invalid - last->invalid,
		.flush_count = now.flush_count - last->flush_count,
		.queue_event_count = events - d->last_queue_events,
		.update_count = d->update_count - d->last_updates,
		.update_fails = d->update_fails - d->last_update_fails,
		.read_bytes = now.read_bytes - last->read_bytes,
		.write_bytes = now.write_bytes - last->write_bytes,
		.read_count = now.read_count - last->read_count,
		.write_count = now.write_count - last->write_count,
		.rate_limiter_throttled_events = now.rate_limited - last->rate_limited,
	};
	*last = now;
	d->last_activate_fails = t.activate_failed;
	d->last_queue_events = events;
	d->last_updates = d->update_count;
	d->last_update_fails = d->update_fails;
}

static int vmm_metrics_block(struct vm *vm, cJSON *obj)
{
	struct vmm_block_delta sum = { 0 }, d;
	char name[16 + CONFIG_ID_MAX];
	int r;

	for (unsigned int i = 0; vm && i < vm->nr_drives; i++) {
		vmm_block_take(vm->drives[i], &d);
		snprintf(name, sizeof(name), "block_%s", vm->drives[i]->cfg.drive_id);
		r = vmm_metrics_block_obj(obj, name, &d);
		if (r)
			return r;
		sum.activate_fails += d.activate_fails;
		sum.event_fails += d.event_fails;
		sum.execute_fails += d.execute_fails;
		sum.invalid_reqs_count += d.invalid_reqs_count;
		sum.flush_count += d.flush_count;
		sum.queue_event_count += d.queue_event_count;
		sum.update_count += d.update_count;
		sum.update_fails += d.update_fails;
		sum.read_bytes += d.read_bytes;
		sum.write_bytes += d.write_bytes;
		sum.read_count += d.read_count;
		sum.write_count += d.write_count;
		sum.rate_limiter_throttled_events += d.rate_limiter_throttled_events;
	}
	return vmm_metrics_block_obj(obj, "block", &sum);
}

static int vmm_metrics_build(struct vmm_metrics *m, struct vm *vm, cJSON *obj)
{
	cJSON *api, *self;

	if (vmm_metrics_add(obj, "utc_timestamp_ms", vmm_metrics_utc_ms()) ||
	    !(api = cJSON_AddObjectToObject(obj, "api_server")) ||
	    vmm_metrics_add(api, "process_startup_time_us", m->startup_us) ||
	    vmm_metrics_add(api, "process_startup_time_cpu_us", m->startup_cpu_us) ||
	    api_counters_take_json(&m->api, obj) || vmm_metrics_vcpu(m, vm, obj) ||
	    vmm_metrics_uart(m, vm, obj) || vmm_metrics_block(vm, obj) || vmm_metrics_devices(vm, obj))
		return -ENOMEM;
	self = cJSON_AddObjectToObject(obj, "metrics");
	if (!self || vmm_metrics_add(self, "lines_dropped", m->lines_dropped))
		return -ENOMEM;
	return 0;
}

int vmm_metrics_flush(struct vmm_metrics *m, struct vm *vm)
{
	cJSON *obj;
	char *text;
	size_t len;
	ssize_t n;
	int r;

	if (m->fd < 0)
		return 0;
	obj = cJSON_CreateObject();
	r = obj ? vmm_metrics_build(m, vm, obj) : -ENOMEM;
	text = r ? NULL : cJSON_PrintUnformatted(obj);
	cJSON_Delete(obj);
	if (!text) {
		m->lines_dropped++;
		return -ENOMEM;
	}
	/* One write per line, newline included, so a reader never sees half. */
	len = strlen(text);
	text[len] = '\n';
	n = write(m->fd, text, len + 1);
	r = n == (ssize_t)(len + 1) ? 0 : n < 0 ? -errno : -EIO;
	free(text);
	if (r) {
		m->lines_dropped++;
		LOG_DEBUG("metrics line dropped: %s", strerror(-r));
		return r;
	}
	m->lines_dropped = 0;
	return 0;
}
