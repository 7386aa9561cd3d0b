/* Drives into virtio-blk devices, and PATCH /drives; see drives.h. */
#include "vmm/core/drives.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/core/virtio_wiring.h"
#include "vmm/core/vm.h"
#include "vmm/log/log.h"

static enum blk_cache_type drive_cache(const struct drive_config *d)
{
	return d->cache_type == DRIVE_CACHE_WRITEBACK ? BLK_CACHE_WRITEBACK : BLK_CACHE_UNSAFE;
}

/* The Async engine on path: 0 with *u, or -errno with err. */
static int drive_open_uring(const struct drive_config *d, const char *path, struct blk_uring **u,
			    const char *section, char err[VM_ERR_MAX])
{
	int ret;

	if (!blk_uring_supported()) {
		snprintf(err, VM_ERR_MAX, "%s.io_engine: Async needs io_uring, and this kiln was built without liburing",
			 section);
		return -EOPNOTSUPP;
	}
	ret = blk_uring_open(u, path, d->is_read_only, drive_cache(d), BLK_QUEUE_SIZE);
	if (ret == -ENOSYS || ret == -EPERM) {
		snprintf(err, VM_ERR_MAX, "%s.io_engine: Async: io_uring is not available on this host (%s)",
			 section, strerror(-ret));
		return ret;
	}
	if (ret == -EINVAL) {
		snprintf(err, VM_ERR_MAX, "%s.path_on_host: %s: not a regular file or block device, or empty",
			 section, path);
		return ret;
	}
	if (ret) {
		snprintf(err, VM_ERR_MAX, "%s.path_on_host: %s: %s (os error %d)", section, path, strerror(-ret),
			 -ret);
		return ret;
	}
	return 0;
}

/* Opens d's image (or path instead of d's) as the device will use it. */
static int drive_open(const struct drive_config *d, const char *path, struct blk_file *f,
		      const char *section, char err[VM_ERR_MAX])
{
	int ret = blk_file_open(f, path, d->is_read_only, drive_cache(d));

	if (ret == -EINVAL) {
		snprintf(err, VM_ERR_MAX, "%s.path_on_host: %s: not a regular file or block device, or empty",
			 section, path);
		return ret;
	}
	if (ret) {
		snprintf(err, VM_ERR_MAX, "%s.path_on_host: %s: %s (os error %d)", section, path,
			 strerror(-ret), -ret);
		return ret;
	}
	if (f->be.size < VIRTIO_BLK_SECTOR_SIZE) {
		snprintf(err, VM_ERR_MAX, "%s.path_on_host: %s: smaller than one sector (%d bytes)", section,
			 path, VIRTIO_BLK_SECTOR_SIZE);
		blk_file_close(f);
		return -EINVAL;
	}
	return 0;
}

int vm_drive_check(const struct drive_config *d, const char *section, char err[VM_ERR_MAX])
{
	struct blk_file f;
	int ret;

	if (ratelimit_config_check(&d->rate_limiter)) {
		snprintf(err, VM_ERR_MAX, "%s.rate_limiter: refill_time too large", section);
		return -EINVAL;
	}
	if (d->io_engine == DRIVE_IO_ASYNC && !blk_uring_supported()) {
		snprintf(err, VM_ERR_MAX, "%s.io_engine: Async needs io_uring, and this kiln was built without liburing",
			 section);
		return -EOPNOTSUPP;
	}
	ret = drive_open(d, d->path_on_host, &f, section, err);
	if (!ret)
		blk_file_close(&f);
	return ret;
}

static void drive_process(void *dev, unsigned int queue)
{
	/* -EIO: the driver broke the queue; the device already asked for a reset. */
	(void)blk_process_queue(dev);
}

/* "root=/dev/vda rw" or "root=PARTUUID=<uuid> ro", as Firecracker adds it. */
static int drive_root_cmdline(struct vm *vm, const struct drive_config *d)
{
	int ret = d->partuuid[0] ? vm_cmdline_add(vm, "root=PARTUUID=%s", d->partuuid)
				 : vm_cmdline_add(vm, "root=/dev/vda");

	return ret ?: vm_cmdline_add(vm, "%s", d->is_read_only ? "ro" : "rw");
}

static int drive_create(struct vm *vm, const struct drive_config *cfg, char err[VM_ERR_MAX])
{
	struct blk_opts opts = { .drive_id = cfg->drive_id, .kick = vm_virtio_kick,
				 .rate_limiter = &cfg->rate_limiter };
	const char *section = cfg->origin[0] ? cfg->origin : "drives";
	const struct blk_backend *be;
	char name[VM_VIRTIO_NAME_MAX];
	struct vm_drive *d = calloc(1, sizeof(*d));
	struct dev_event_loop loop;
	int ret;

	if (!d || !(d->file = calloc(1, sizeof(*d->file)))) {
		free(d);
		snprintf(err, VM_ERR_MAX, "drive %s: out of memory", cfg->drive_id);
		return -ENOMEM;
	}
	d->file->fd = -1;
	d->cfg = *cfg;
	vm->drives[vm->nr_drives++] = d; /* vm_drives_destroy frees it from here on */

	if (cfg->io_engine == DRIVE_IO_ASYNC) {
		ret = drive_open_uring(cfg, cfg->path_on_host, &d->uring, section, err);
		if (ret)
			return ret;
		be = blk_uring_backend(d->uring);
	} else {
		ret = drive_open(cfg, cfg->path_on_host, d->file, section, err);
		if (ret)
			return ret;
		be = &d->file->be;
	}
	snprintf(name, sizeof(name), "virtio-blk %s", cfg->drive_id);
	ret = vm_virtio_reserve(vm, name, &d->vdev, err);
	if (ret)
		return ret;
	opts.kick_opaque = d->vdev;
	/* The limiter's timerfd and the Async engine's eventfd join the VMM loop. */
	vm_virtio_events(d->vdev, blk_dev_event, &d->blk, &loop);
	opts.events = &loop;
	ret = blk_dev_init(&d->blk, be, &opts);
	if (ret) {
		snprintf(err, VM_ERR_MAX, "drive %s: %s", cfg->drive_id, strerror(-ret));
		return ret;
	}
	d->blk_ready = true;
	if (cfg->is_root_device) {
		ret = drive_root_cmdline(vm, cfg);
		if (ret) {
			snprintf(err, VM_ERR_MAX, "drive %s: kernel command line full", cfg->drive_id);
			return ret;
		}
	}
	ret = vm_virtio_attach(vm, d->vdev, &blk_virtio_ops, &d->blk, drive_process, err);
	if (ret)
		return ret;
	LOG_INFO("drive %s: %s, %llu sectors, %s, cache %s, engine %s%s%s", cfg->drive_id, cfg->path_on_host,
		 (unsigned long long)blk_dev_capacity(&d->blk), cfg->is_read_only ? "read-only" : "read-write",
		 cfg->cache_type == DRIVE_CACHE_WRITEBACK ? "Writeback" : "Unsafe",
		 cfg->io_engine == DRIVE_IO_ASYNC ? "Async" : "Sync",
		 ratelimit_config_is_unlimited(&cfg->rate_limiter) ? "" : ", rate limited",
		 cfg->is_root_device ? ", root device" : "");
	return 0;
}

int vm_drives_create(struct vm *vm, const struct vm_config *cfg, char err[VM_ERR_MAX])
{
	for (unsigned int i = 0; i < cfg->nr_drives; i++) {
		int ret = drive_create(vm, &cfg->drives[i], err);

		if (ret)
			return ret;
	}
	return 0;
}

void vm_drives_destroy(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->nr_drives; i++) {
		struct vm_drive *d = vm->drives[i];

		if (d->blk_ready)
			blk_dev_destroy(&d->blk);
		if (d->file) {
			blk_file_close(d->file);
			free(d->file);
		}
		blk_uring_close(d->uring); /* after blk_dev_destroy: nothing in flight */
		free(d);
		vm->drives[i] = NULL;
	}
	vm->nr_drives = 0;
}

static struct vm_drive *drive_find(struct vm *vm, const char *drive_id)
{
	for (unsigned int i = 0; i < vm->nr_drives; i++)
		if (!strcmp(vm->drives[i]->cfg.drive_id, drive_id))
			return vm->drives[i];
	return NULL;
}

int vm_drive_update(struct vm *vm, const char *drive_id, const char *path, char err[VM_ERR_MAX])
{
	struct vm_drive *d = drive_find(vm, drive_id);
	struct blk_file *f, *old;
	struct blk_uring *u, *old_u;
	struct virtio_irq irq;
	int ret;

	if (!d) {
		snprintf(err, VM_ERR_MAX, "drives: no drive '%s' in this VM", drive_id);
		return -ENOENT;
	}
	if (d->uring) {
		/* The Async engine: a new ring on the new image; the device lets
		 * the old one finish what it has in flight first. */
		ret = drive_open_uring(&d->cfg, path, &u, "drives", err);
		if (!ret) {
			ret = blk_dev_set_backend(&d->blk, blk_uring_backend(u));
			if (ret) {
				snprintf(err, VM_ERR_MAX, "drives.path_on_host: %s: the device refused it: %s", path,
					 strerror(-ret));
				blk_uring_close(u);
			}
		}
		if (ret) {
			d->update_fails++;
			return ret;
		}
		old_u = d->uring;
		d->uring = u;
		blk_uring_close(old_u);
		goto done;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		d->update_fails++;
		snprintf(err, VM_ERR_MAX, "drives: out of memory");
		return -ENOMEM;
	}
	ret = drive_open(&d->cfg, path, f, "drives", err);
	if (!ret) {
		ret = blk_dev_set_backend(&d->blk, &f->be);
		if (ret) {
			snprintf(err, VM_ERR_MAX, "drives.path_on_host: %s: the device refused it: %s", path,
				 strerror(-ret));
			blk_file_close(f);
		}
	}
	if (ret) {
		free(f);
		d->update_fails++;
		return ret;
	}
	/* The device no longer uses the old image once set_backend returned. */
	old = d->file;
	d->file = f;
	blk_file_close(old);
	free(old);
done:
	snprintf(d->cfg.path_on_host, sizeof(d->cfg.path_on_host), "%s", path);
	d->update_count++;
	irq = vmmio_irq(&d->vdev->transport);
	virtio_irq_signal(&irq, VIRTIO_ISR_CONFIG);
	LOG_INFO("drive %s: now %s, %llu sectors", drive_id, path,
		 (unsigned long long)blk_dev_capacity(&d->blk));
	return 0;
}

int vm_drive_update_ratelimit(struct vm *vm, const char *drive_id, const struct ratelimit_config *cfg,
			      char err[VM_ERR_MAX])
{
	struct vm_drive *d = drive_find(vm, drive_id);
	int ret;

	if (!d) {
		snprintf(err, VM_ERR_MAX, "drives: no drive '%s' in this VM", drive_id);
		return -ENOENT;
	}
	ret = blk_dev_update_ratelimit(&d->blk, cfg);
	if (ret) {
		snprintf(err, VM_ERR_MAX, "drives.rate_limiter: %s", strerror(-ret));
		return ret;
	}
	d->cfg.rate_limiter = *cfg;
	LOG_INFO("drive %s: rate limiter %s", drive_id, ratelimit_config_is_unlimited(cfg) ? "off" : "updated");
	return 0;
}
