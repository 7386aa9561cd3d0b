/* The vmstate format: round trips, and every kind of corruption refused by
 * name with nothing read out of bounds. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/snapshot/crc64.h"
#include "vmm/snapshot/snap_priv.h"

static struct snap_state *sample(unsigned int vcpus, unsigned int devices)
{
	struct snap_state *st = snap_state_new();

	cr_assert_not_null(st);
	st->machine = (struct snap_machine){ .vcpu_count = vcpus, .mem_size_mib = 3200, .track_dirty_pages = true };
	st->memory.page_size = SNAP_PAGE_SIZE;
	st->memory.nr_regions = 2;
	st->memory.regions[0] = (struct snap_region){ 0, 3072ULL << 20, 0 };
	st->memory.regions[1] = (struct snap_region){ 4ULL << 30, 128ULL << 20, 3072ULL << 20 };
	st->nr_vcpus = vcpus;
	for (unsigned int i = 0; i < vcpus; i++) {
		struct snap_vcpu *v = &st->vcpus[i];

		v->id = vcpus - 1 - i; /* any order */
		v->flags = SNAP_VCPU_XSAVE | SNAP_VCPU_CPUID | (i ? 0 : SNAP_VCPU_XCRS | SNAP_VCPU_DEBUGREGS);
		v->tsc_khz = 2000000 + i;
		v->regs.rip = 0x100000 + i;
		v->regs.rax = 0xdeadbeefULL << i;
		v->sregs.cr0 = 0x80050033;
		v->xsave[7] = 0x1234 + i;
		v->xcrs.nr_xcrs = 1;
		v->lapic.regs[0x20] = (char)i;
		v->mp_state.mp_state = KVM_MP_STATE_HALTED;
		v->nr_msrs = 3;
		for (unsigned int m = 0; m < 3; m++)
			v->msrs[m] = (struct kvm_msr_entry){ .index = 0x10 + m, .data = 0x1000ULL * m + i };
		v->nr_cpuid = 2;
		v->cpuid[1].function = 0x40000001;
		v->cpuid[1].eax = 0xabc;
	}
	st->vm.clock.clock = 123456789;
	st->vm.pit.channels[0].count = 0x1234;
	st->vm.ioapic.chip_id = 2;
	st->serial.lcr = 0x03;
	st->serial.rx_count = 2;
	st->serial.rx_fifo[0] = 'k';
	st->i8042.ctr = 0x45;
	st->has_boot_timer = true;
	st->boot_timer.writes = 1;
	st->boot_timer.boot_us = 42;
	st->nr_devices = devices;
	for (unsigned int i = 0; i < devices; i++) {
		struct snap_virtio *d = &st->devices[i];

		d->type = SNAP_SEC_VIRTIO_BLK;
		d->slot = i;
		d->transport.status = 0xf;
		d->transport.nr_queues = 1;
		d->transport.queues[0] = (struct virtq_state){ .size = 256, .ready = 1, .last_avail = 7,
							       .next_used = 7, .desc_gpa = 0x10000,
							       .avail_gpa = 0x11000, .used_gpa = 0x12000 };
		snprintf(d->u.blk.drive_id, sizeof(d->u.blk.drive_id), "disk%u", i);
		snprintf(d->u.blk.path_on_host, sizeof(d->u.blk.path_on_host), "/images/disk%u.ext4", i);
		d->u.blk.is_root_device = i == 0;
		d->u.blk.dev.capacity = 128;
		d->u.blk.dev.id[0] = 'd';
		d->u.blk.rate_limiter.ops = (struct rl_bucket_config){ .size = 100, .refill_time_ms = 1000 };
		d->u.blk.dev.rl_ops = (struct rl_bucket_state){ .cfg = d->u.blk.rate_limiter.ops, .budget = 42 + i };
	}
	return st;
}

static void encode(const struct snap_state *st, uint8_t **img, size_t *len)
{
	char err[SNAP_ERR_MAX] = "";

	cr_assert_eq(snap_encode(st, img, len, err), 0, "encode: %s", err);
}

/* Decodes and expects -EINVAL with a message containing want. */
static void expect_refused(const uint8_t *img, size_t len, const char *want)
{
	struct snap_state *st = snap_state_new();
	char err[SNAP_ERR_MAX] = "";

	cr_assert_eq(snap_decode(img, len, st, err), -EINVAL, "accepted; wanted \"%s\"", want);
	cr_assert(strstr(err, want), "error \"%s\" does not say \"%s\"", err, want);
	snap_state_free(st);
}

static void fix_crc(uint8_t *img, size_t len)
{
	uint64_t crc = crc64(img + SNAP_HEADER_LEN, len - SNAP_HEADER_LEN);

	memcpy(img + 24, &crc, 8);
}

/* Offset of the nth section of type in img (its header). */
static size_t find_section(const uint8_t *img, size_t len, unsigned int type, unsigned int nth)
{
	size_t off = SNAP_HEADER_LEN;

	while (off + SNAP_SECTION_HDR_LEN <= len) {
		uint16_t t;
		uint32_t l;

		memcpy(&t, img + off, 2);
		memcpy(&l, img + off + 4, 4);
		if (t == type && nth-- == 0)
			return off;
		off += SNAP_SECTION_HDR_LEN + l;
	}
	cr_assert_fail("section %u not found", type);
	return 0;
}

Test(crc64, check_value)
{
	cr_assert_eq(crc64("123456789", 9), 0x995dc9bbdf1939faULL);
	cr_assert_eq(crc64_update(crc64("1234", 4), "56789", 5), 0x995dc9bbdf1939faULL);
	cr_assert_eq(crc64("", 0), 0);
}

Test(wire, reader_is_bounded_and_sticky)
{
	uint8_t b[3] = { 1, 2, 3 };
	struct snap_rd r = snap_rd_init(b, sizeof(b));
	char s[8];

	cr_assert_eq(snap_rd_u16(&r), 0x0201);
	cr_assert_eq(snap_rd_u32(&r), 0); /* only 1 byte left */
	cr_assert(r.overrun);
	cr_assert_eq(snap_rd_u8(&r), 0, "sticky: no read after an overrun");
	r = snap_rd_init((uint8_t[]){ 5, 0, 'a', 'b' }, 4);
	cr_assert_eq(snap_rd_str(&r, s, sizeof(s)), -EINVAL, "length 5 with 2 bytes left");
	r = snap_rd_init((uint8_t[]){ 2, 0, 'a', 0 }, 4);
	cr_assert_eq(snap_rd_str(&r, s, sizeof(s)), -EINVAL, "embedded NUL");
	r = snap_rd_init((uint8_t[]){ 8, 0, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h' }, 10);
	cr_assert_eq(snap_rd_str(&r, s, sizeof(s)), -EINVAL, "no room for the NUL");
}

Test(format, round_trip_is_exact)
{
	struct snap_state *st = sample(3, 2), *back = snap_state_new();
	uint8_t *img, *img2;
	size_t len, len2;
	char err[SNAP_ERR_MAX] = "";

	encode(st, &img, &len);
	cr_assert_eq(snap_peek_version(img, len), SNAP_FORMAT_VERSION);
	cr_assert_eq(snap_decode(img, len, back, err), 0, "%s", err);
	cr_assert_eq(back->nr_vcpus, 3);
	for (unsigned int i = 0; i < 3; i++) {
		cr_assert_eq(back->vcpus[i].id, st->vcpus[i].id);
		cr_assert_eq(back->vcpus[i].flags, st->vcpus[i].flags);
		cr_assert_eq(memcmp(&back->vcpus[i].regs, &st->vcpus[i].regs, sizeof(st->vcpus[i].regs)), 0);
		cr_assert_eq(memcmp(&back->vcpus[i].xsave, &st->vcpus[i].xsave, sizeof(st->vcpus[i].xsave)), 0);
		cr_assert_eq(memcmp(back->vcpus[i].msrs, st->vcpus[i].msrs, 3 * sizeof(st->vcpus[i].msrs[0])), 0);
		cr_assert_eq(back->vcpus[i].cpuid[1].eax, 0xabc);
	}
	cr_assert_eq(back->vm.clock.clock, 123456789);
	cr_assert_eq(back->vm.pit.channels[0].count, 0x1234);
	cr_assert_eq(back->serial.rx_fifo[0], 'k');
	cr_assert_eq(back->i8042.ctr, 0x45);
	cr_assert(back->has_boot_timer);
	cr_assert_eq(back->boot_timer.boot_us, 42);
	cr_assert_eq(back->nr_devices, 2);
	cr_assert_str_eq(back->devices[1].u.blk.path_on_host, "/images/disk1.ext4");
	cr_assert_eq(back->devices[1].transport.queues[0].used_gpa, 0x12000);
	cr_assert_eq(back->devices[0].transport.queues[0].last_avail, 7);
	cr_assert(back->devices[0].u.blk.is_root_device);
	cr_assert_eq(back->devices[1].u.blk.dev.rl_ops.budget, 43);
	cr_assert_eq(back->devices[1].u.blk.rate_limiter.ops.refill_time_ms, 1000);
	cr_assert_eq(back->devices[1].u.blk.dev.capacity, 128);
	cr_assert_eq(back->memory.regions[1].gpa, 4ULL << 30);
	/* And encoding what was decoded gives the same bytes. */
	encode(back, &img2, &len2);
	cr_assert_eq(len2, len);
	cr_assert_eq(memcmp(img, img2, len), 0);
	free(img);
	free(img2);
	snap_state_free(st);
	snap_state_free(back);
}

Test(format, minimal_state_without_optional_parts)
{
	struct snap_state *st = sample(1, 0), *back = snap_state_new();
	uint8_t *img;
	size_t len;
	char err[SNAP_ERR_MAX];

	st->has_boot_timer = false;
	st->vcpus[0].flags = 0;
	st->vcpus[0].nr_cpuid = 0;
	st->vcpus[0].nr_msrs = 0;
	encode(st, &img, &len);
	cr_assert_eq(snap_decode(img, len, back, err), 0, "%s", err);
	cr_assert(!back->has_boot_timer);
	cr_assert_eq(back->nr_devices, 0);
	free(img);
	snap_state_free(st);
	snap_state_free(back);
}

Test(corrupt, every_flipped_payload_byte_fails_the_crc)
{
	struct snap_state *st = sample(2, 1);
	uint8_t *img;
	size_t len;

	encode(st, &img, &len);
	for (size_t off = SNAP_HEADER_LEN; off < len; off += 37) {
		img[off] ^= 0x10;
		expect_refused(img, len, "CRC mismatch");
		img[off] ^= 0x10;
	}
	img[len - 1] ^= 1;
	expect_refused(img, len, "CRC mismatch");
	free(img);
	snap_state_free(st);
}

Test(corrupt, header_fields)
{
	struct snap_state *st = sample(1, 1);
	uint8_t *img;
	size_t len;
	uint32_t v;
	uint64_t big;

	encode(st, &img, &len);
	img[0] = 'X';
	expect_refused(img, len, "bad magic");
	img[0] = 'K';
	v = 2;
	memcpy(img + 8, &v, 4);
	expect_refused(img, len, "format version 2 (this kiln reads version 1)");
	cr_assert_eq(snap_peek_version(img, len), 2);
	v = SNAP_FORMAT_VERSION;
	memcpy(img + 8, &v, 4);
	big = 1ULL << 40;
	memcpy(img + 16, &big, 8);
	expect_refused(img, len, "oversized");
	big = len - SNAP_HEADER_LEN - 1;
	memcpy(img + 16, &big, 8);
	expect_refused(img, len, "trailing garbage");
	big = len - SNAP_HEADER_LEN;
	memcpy(img + 16, &big, 8);
	v = 1000;
	memcpy(img + 12, &v, 4);
	expect_refused(img, len, "1000 sections");
	v = 3;
	memcpy(img + 12, &v, 4);
	expect_refused(img, len, "more sections than the 3");
	free(img);
	snap_state_free(st);
}

Test(corrupt, every_truncation_is_refused)
{
	struct snap_state *st = sample(2, 2), *back = snap_state_new();
	uint8_t *img;
	size_t len;
	char err[SNAP_ERR_MAX];

	encode(st, &img, &len);
	for (size_t cut = 0; cut < len; cut += (cut < 64 ? 1 : 97)) {
		/* A heap copy of exactly cut bytes, so ASan sees any read past it. */
		uint8_t *part = malloc(cut ? cut : 1);

		memcpy(part, img, cut);
		cr_assert_eq(snap_decode(part, cut, back, err), -EINVAL, "accepted %zu of %zu bytes", cut, len);
		cr_assert(strstr(err, "truncated"), "cut %zu: \"%s\"", cut, err);
		free(part);
	}
	free(img);
	snap_state_free(st);
	snap_state_free(back);
}

/* Corruptions that keep a valid CRC: what a bad writer (or an attacker)
 * could produce.  Each must be refused by name. */
Test(corrupt, section_lengths_and_counts)
{
	struct snap_state *st = sample(2, 1);
	uint8_t *img;
	size_t len, off;
	uint32_t v;
	uint16_t t;

	encode(st, &img, &len);
	/* Body length past the end. */
	off = find_section(img, len, SNAP_SEC_VM, 0);
	v = 0x7fffffff;
	memcpy(img + off + 4, &v, 4);
	fix_crc(img, len);
	expect_refused(img, len, "exceeds the");
	free(img);

	/* A body shorter than its contents: the next section's header is read as data. */
	encode(st, &img, &len);
	off = find_section(img, len, SNAP_SEC_MACHINE, 0);
	memcpy(&v, img + off + 4, 4);
	v -= 1;
	memcpy(img + off + 4, &v, 4);
	fix_crc(img, len);
	expect_refused(img, len, "section 1 (machine)");
	free(img);

	/* Unknown type and unknown section version. */
	encode(st, &img, &len);
	off = find_section(img, len, SNAP_SEC_I8042, 0);
	t = 99;
	memcpy(img + off, &t, 2);
	fix_crc(img, len);
	expect_refused(img, len, "unknown section type");
	t = SNAP_SEC_I8042;
	memcpy(img + off, &t, 2);
	t = 7;
	memcpy(img + off + 2, &t, 2);
	fix_crc(img, len);
	expect_refused(img, len, "version 7 (this kiln reads 1)");
	free(img);

	/* A huge MSR count. */
	encode(st, &img, &len);
	off = find_section(img, len, SNAP_SEC_VCPU, 0) + SNAP_SECTION_HDR_LEN + 12 + sizeof(struct kvm_regs) +
	      sizeof(struct kvm_sregs) + sizeof(struct kvm_fpu) + 4096 +
	      sizeof(struct kvm_xcrs) + sizeof(struct kvm_lapic_state) + sizeof(struct kvm_mp_state) +
	      sizeof(struct kvm_vcpu_events) + sizeof(struct kvm_debugregs);
	memcpy(&v, img + off, 4);
	cr_assert_eq(v, 3, "test offset arithmetic");
	v = 0xffffffff;
	memcpy(img + off, &v, 4);
	fix_crc(img, len);
	expect_refused(img, len, "4294967295 MSRs");
	free(img);

	/* Queue count over the transport's maximum. */
	encode(st, &img, &len);
	off = find_section(img, len, SNAP_SEC_VIRTIO_BLK, 0) + SNAP_SECTION_HDR_LEN + 4 + 6 * 4 + 8;
	v = 1000;
	memcpy(img + off, &v, 4);
	fix_crc(img, len);
	expect_refused(img, len, "1000 queues");
	free(img);

	/* A section repeated, and one missing. */
	encode(st, &img, &len);
	off = find_section(img, len, SNAP_SEC_SERIAL, 0);
	t = SNAP_SEC_I8042;
	memcpy(img + off, &t, 2);
	fix_crc(img, len);
	/* The serial body has the wrong size for an i8042: either message names it. */
	expect_refused(img, len, "i8042");
	free(img);
	snap_state_free(st);
}

Test(corrupt, inconsistent_states)
{
	struct snap_state *st = sample(2, 2);
	uint8_t *img;
	size_t len;
	char err[SNAP_ERR_MAX];

	/* The encoder refuses what the decoder would: every file kiln writes reads back. */
	st->vcpus[1].id = st->vcpus[0].id;
	cr_assert_eq(snap_encode(st, &img, &len, err), -EINVAL);
	cr_assert(strstr(err, "repeated"), "%s", err);
	st->vcpus[1].id = 0;
	st->vcpus[0].id = 1;

	st->machine.vcpu_count = 3;
	cr_assert_eq(snap_encode(st, &img, &len, err), -EINVAL);
	cr_assert(strstr(err, "2 vcpu sections for vcpu_count 3"), "%s", err);
	st->machine.vcpu_count = 2;

	st->memory.regions[1].file_offset = 0;
	cr_assert_eq(snap_encode(st, &img, &len, err), -EINVAL);
	cr_assert(strstr(err, "file offset"), "%s", err);
	st->memory.regions[1].file_offset = 3072ULL << 20;

	st->machine.mem_size_mib = 4096;
	cr_assert_eq(snap_encode(st, &img, &len, err), -EINVAL);
	cr_assert(strstr(err, "mem_size_mib is 4096"), "%s", err);
	st->machine.mem_size_mib = 3200;

	st->devices[1].slot = 0;
	cr_assert_eq(snap_encode(st, &img, &len, err), -EINVAL);
	cr_assert(strstr(err, "two devices in virtio slot 0"), "%s", err);
	st->devices[1].slot = 1;

	st->devices[1].u.blk.is_root_device = true;
	cr_assert_eq(snap_encode(st, &img, &len, err), -EINVAL);
	cr_assert(strstr(err, "2 root block devices"), "%s", err);
	st->devices[1].u.blk.is_root_device = false;

	strcpy(st->devices[1].u.blk.drive_id, "bad id!");
	cr_assert_eq(snap_encode(st, &img, &len, err), -EINVAL);
	cr_assert(strstr(err, "bad drive_id"), "%s", err);
	strcpy(st->devices[1].u.blk.drive_id, "ok");

	cr_assert_eq(snap_encode(st, &img, &len, err), 0, "%s", err);
	free(img);
	snap_state_free(st);
}

Test(file, write_read_and_refuse_non_files)
{
	struct snap_state *st = sample(1, 1), *back = snap_state_new();
	char path[] = "/tmp/test_snap_XXXXXX", err[SNAP_ERR_MAX];
	int fd = mkstemp(path);
	FILE *f;

	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(snap_write_file(path, st, err), 0, "%s", err);
	cr_assert_eq(snap_read_file(path, back, err), 0, "%s", err);
	cr_assert_eq(back->vcpus[0].regs.rip, 0x100000);
	f = fopen(path, "r+");
	fseek(f, 40, SEEK_SET);
	fputc(0xff, f);
	fclose(f);
	cr_assert_eq(snap_read_file(path, back, err), -EINVAL);
	cr_assert(strstr(err, path) && strstr(err, "CRC mismatch"), "%s", err);
	cr_assert_eq(snap_read_file("/tmp", back, err), -EISDIR);
	cr_assert_eq(snap_read_file("/nonexistent/snap", back, err), -ENOENT);
	unlink(path);
	snap_state_free(st);
	snap_state_free(back);
}

/* ---- net, vsock, balloon, rng sections -------------------------------------- */

/* sample() with one drive, then a net, vsock, balloon and rng device. */
static struct snap_state *sample_all_devices(void)
{
	struct snap_state *st = sample(1, 1);
	struct snap_virtio *d;

	d = &st->devices[st->nr_devices];
	memset(d, 0, sizeof(*d));
	d->type = SNAP_SEC_VIRTIO_NET;
	d->slot = st->nr_devices++;
	d->transport.status = 0xf;
	d->transport.nr_queues = 2;
	d->transport.queues[1] = (struct virtq_state){ .size = 256, .ready = 1, .desc_gpa = 0x20000,
						       .avail_gpa = 0x21000, .used_gpa = 0x22000 };
	strcpy(d->u.net.cfg.iface_id, "eth0");
	strcpy(d->u.net.cfg.host_dev_name, "tap0");
	d->u.net.cfg.has_guest_mac = true;
	memcpy(d->u.net.cfg.guest_mac, "\x06\x00\xac\x10\x00\x02", 6);
	d->u.net.cfg.mtu = 1500;
	d->u.net.cfg.tx_rate_limiter.bandwidth = (struct rl_bucket_config){ .size = 1 << 20, .refill_time_ms = 100 };
	d->u.net.dev.magic = NET_STATE_MAGIC;
	d->u.net.dev.mtu = 1500;
	d->u.net.dev.has_mac = 1;
	memcpy(d->u.net.dev.mac, d->u.net.cfg.guest_mac, 6);
	d->u.net.dev.acked_features = 1ULL << 32;
	d->u.net.dev.rx_have = 1;
	d->u.net.dev.rx_len = 1000;
	d->u.net.dev.rx_done = 300;
	d->u.net.dev.rx_nheld = 2;
	d->u.net.dev.rx_held[0] = (struct net_rx_held){ .head = 4, .len = 100 };
	d->u.net.dev.rx_held[1] = (struct net_rx_held){ .head = 9, .len = 200 };
	d->u.net.dev.rx_nb_gpa[0] = 0x30000;
	for (unsigned int i = 0; i < 1000; i++)
		d->u.net.dev.rx_frame[i] = (uint8_t)(i * 13);
	d->u.net.dev.tx_pending = 1;
	d->u.net.dev.tx_head = 17;
	d->u.net.dev.tx_len = 64;
	d->u.net.dev.tx_frame[63] = 0xee;
	d->u.net.dev.tx_bw = (struct rl_bucket_state){ .cfg = d->u.net.cfg.tx_rate_limiter.bandwidth, .budget = 5000 };

	d = &st->devices[st->nr_devices];
	memset(d, 0, sizeof(*d));
	d->type = SNAP_SEC_VIRTIO_VSOCK;
	d->slot = st->nr_devices++;
	d->transport.nr_queues = 3;
	d->u.vsock.cfg = (struct vsock_config){ .present = true, .vsock_id = "vsock0", .guest_cid = 3 };
	strcpy(d->u.vsock.cfg.uds_path, "/run/v.sock");
	d->u.vsock.dev = (struct vsock_state){ .guest_cid = 3, .reset_pending = 1 };

	d = &st->devices[st->nr_devices];
	memset(d, 0, sizeof(*d));
	d->type = SNAP_SEC_VIRTIO_BALLOON;
	d->slot = st->nr_devices++;
	d->transport.nr_queues = 3;
	d->u.balloon.cfg = (struct balloon_config){ .present = true, .amount_mib = 64, .deflate_on_oom = true,
						    .stats_polling_interval_s = 2 };
	d->u.balloon.dev = (struct balloon_state){ .target_pages = 64 * 256, .actual_pages = 1000,
						   .stats_interval_s = 2, .deflate_on_oom = 1, .stats_enabled = 1,
						   .stats_held = 1, .stats_head = 3, .stats_present = 0x5 };
	d->u.balloon.dev.stats[2] = 77;

	d = &st->devices[st->nr_devices];
	memset(d, 0, sizeof(*d));
	d->type = SNAP_SEC_VIRTIO_RNG;
	d->slot = st->nr_devices++;
	d->transport.nr_queues = 1;
	d->u.rng.cfg = (struct entropy_config){ .present = true };
	d->u.rng.cfg.rate_limiter.ops = (struct rl_bucket_config){ .size = 10, .one_time_burst = 5, .refill_time_ms = 10 };
	d->u.rng.dev.ops = (struct rl_bucket_state){ .cfg = d->u.rng.cfg.rate_limiter.ops, .budget = 3, .burst_left = 2 };
	return st;
}

Test(devices, round_trip_of_every_kind)
{
	struct snap_state *st = sample_all_devices(), *back = snap_state_new();
	const struct snap_virtio *d;
	uint8_t *img, *img2;
	size_t len, len2;
	char err[SNAP_ERR_MAX] = "", *desc = NULL;
	size_t desc_len = 0;
	FILE *f;

	encode(st, &img, &len);
	/* Only the used parts of the frames go into the file. */
	cr_assert_lt(len, 16 * 1024, "%zu bytes", len);
	cr_assert_eq(snap_decode(img, len, back, err), 0, "%s", err);
	cr_assert_eq(back->nr_devices, 5);
	d = &back->devices[1];
	cr_assert_eq(d->type, SNAP_SEC_VIRTIO_NET);
	cr_assert_str_eq(d->u.net.cfg.iface_id, "eth0");
	cr_assert_str_eq(d->u.net.cfg.host_dev_name, "tap0");
	cr_assert(d->u.net.cfg.has_guest_mac);
	cr_assert_eq(memcmp(d->u.net.cfg.guest_mac, "\x06\x00\xac\x10\x00\x02", 6), 0);
	cr_assert_eq(d->u.net.cfg.mtu, 1500);
	cr_assert_eq(d->u.net.cfg.tx_rate_limiter.bandwidth.size, 1 << 20);
	cr_assert_eq(d->u.net.dev.rx_held[1].head, 9);
	cr_assert_eq(d->u.net.dev.rx_held[1].len, 200);
	cr_assert_eq(d->u.net.dev.rx_frame[999], (uint8_t)(999 * 13));
	cr_assert_eq(d->u.net.dev.tx_frame[63], 0xee);
	cr_assert_eq(d->u.net.dev.tx_head, 17);
	cr_assert_eq(d->u.net.dev.tx_bw.budget, 5000);
	cr_assert_eq(d->u.net.dev.acked_features, 1ULL << 32);
	cr_assert_eq(d->transport.queues[1].used_gpa, 0x22000);
	d = &back->devices[2];
	cr_assert_eq(d->type, SNAP_SEC_VIRTIO_VSOCK);
	cr_assert_str_eq(d->u.vsock.cfg.uds_path, "/run/v.sock");
	cr_assert_str_eq(d->u.vsock.cfg.vsock_id, "vsock0");
	cr_assert_eq(d->u.vsock.dev.reset_pending, 1);
	d = &back->devices[3];
	cr_assert_eq(d->type, SNAP_SEC_VIRTIO_BALLOON);
	cr_assert_eq(d->u.balloon.cfg.amount_mib, 64);
	cr_assert_eq(d->u.balloon.dev.target_pages, 64 * 256);
	cr_assert_eq(d->u.balloon.dev.actual_pages, 1000);
	cr_assert_eq(d->u.balloon.dev.stats_head, 3);
	cr_assert_eq(d->u.balloon.dev.stats[2], 77);
	d = &back->devices[4];
	cr_assert_eq(d->type, SNAP_SEC_VIRTIO_RNG);
	cr_assert_eq(d->u.rng.dev.ops.burst_left, 2);
	cr_assert_eq(d->u.rng.cfg.rate_limiter.ops.one_time_burst, 5);
	encode(back, &img2, &len2);
	cr_assert_eq(len2, len);
	cr_assert_eq(memcmp(img, img2, len), 0, "a stable round trip");
	f = open_memstream(&desc, &desc_len);
	snap_describe(back, f);
	fclose(f);
	cr_assert(strstr(desc, "interface eth0 on TAP tap0"), "%s", desc);
	cr_assert(strstr(desc, "guest CID 3, host socket /run/v.sock"), "%s", desc);
	cr_assert(strstr(desc, "target 16384 pages"), "%s", desc);
	cr_assert(strstr(desc, "virtio-rng, status"), "%s", desc);
	free(desc);
	free(img);
	free(img2);
	snap_state_free(st);
	snap_state_free(back);
}

/* Re-encodes after a change to st and expects the encoder (which runs the
 * decoder's checks) to refuse it naming want; then undoes nothing: callers
 * restore the field. */
static void expect_encode_refused(const struct snap_state *st, const char *want)
{
	char err[SNAP_ERR_MAX] = "";
	uint8_t *img = NULL;
	size_t len;

	cr_assert_eq(snap_encode(st, &img, &len, err), -EINVAL, "accepted; wanted \"%s\"", want);
	cr_assert(strstr(err, want), "error \"%s\" does not say \"%s\"", err, want);
}

Test(devices, inconsistent_device_states_are_refused)
{
	struct snap_state *st = sample_all_devices();
	struct snap_net *n = &st->devices[1].u.net;
	struct snap_vsock *v = &st->devices[2].u.vsock;
	struct snap_balloon *b = &st->devices[3].u.balloon;
	struct snap_rng *r = &st->devices[4].u.rng;

	n->dev.magic = 0;
	expect_encode_refused(st, "state magic");
	n->dev.magic = NET_STATE_MAGIC;
	n->dev.mtu = 9000;
	expect_encode_refused(st, "MAC or MTU");
	n->dev.mtu = 1500;
	n->dev.mac[5] = 9;
	expect_encode_refused(st, "MAC or MTU");
	n->dev.mac[5] = 2;
	n->dev.rx_done = 1001;
	expect_encode_refused(st, "1001 delivered");
	n->dev.rx_done = 300;
	n->dev.rx_have = 0;
	expect_encode_refused(st, "without a frame");
	n->dev.rx_have = 2;
	expect_encode_refused(st, "not 0 or 1");
	n->dev.rx_have = 1;
	n->dev.tx_len = NET_BUF_MAX + 1;
	expect_encode_refused(st, "frames of");
	n->dev.tx_len = 64;
	n->dev.tx_bw.budget = (1 << 20) + 1;
	expect_encode_refused(st, "bucket");
	n->dev.tx_bw.budget = 0;
	strcpy(n->cfg.host_dev_name, "");
	expect_encode_refused(st, "host_dev_name empty");
	strcpy(n->cfg.host_dev_name, "tap0");
	n->cfg.mtu = n->dev.mtu = 20;
	expect_encode_refused(st, "mtu 20");
	n->cfg.mtu = n->dev.mtu = 1500;

	v->cfg.guest_cid = v->dev.guest_cid = 2;
	expect_encode_refused(st, "not a guest CID");
	v->cfg.guest_cid = 3;
	expect_encode_refused(st, "not a guest CID");
	v->dev.guest_cid = 3;
	v->dev.reset_pending = 7;
	expect_encode_refused(st, "reset_pending 7");
	v->dev.reset_pending = 0;
	v->cfg.uds_path[0] = 0;
	expect_encode_refused(st, "empty uds_path");
	strcpy(v->cfg.uds_path, "/run/v.sock");

	b->dev.target_pages = 100;
	expect_encode_refused(st, "target 100 pages, but amount_mib 64");
	b->dev.target_pages = 64 * 256;
	b->dev.stats_enabled = 0;
	expect_encode_refused(st, "settings are not the config's");
	b->dev.stats_enabled = 1;
	b->dev.stats_present = 1u << 20;
	expect_encode_refused(st, "unknown statistics");
	b->dev.stats_present = 0;

	r->dev.ops.budget = 11;
	expect_encode_refused(st, "virtio-rng");
	r->dev.ops.budget = 3;

	/* One vsock, balloon and rng at most, distinct interfaces. */
	st->devices[5] = st->devices[4];
	st->devices[5].slot = 5;
	st->nr_devices = 6;
	expect_encode_refused(st, "2 rng devices");
	st->devices[5] = st->devices[1];
	st->devices[5].slot = 5;
	expect_encode_refused(st, "two network interfaces");
	strcpy(st->devices[5].u.net.cfg.iface_id, "eth1");
	strcpy(st->devices[5].u.net.cfg.host_dev_name, "tap1");
	{
		char err[SNAP_ERR_MAX] = "";
		uint8_t *img;
		size_t len;

		cr_assert_eq(snap_encode(st, &img, &len, err), 0, "%s", err);
		free(img);
	}
	snap_state_free(st);
}

/* Byte offset of a device section's body (after slot and transport). */
static size_t device_body(const uint8_t *img, size_t len, unsigned int type)
{
	size_t off = find_section(img, len, type, 0) + SNAP_SECTION_HDR_LEN;
	uint32_t nq;

	memcpy(&nq, img + off + 4 + 24 + 8, 4); /* slot, six u32s, u64 driver_features */
	return off + 4 + 24 + 8 + 4 + nq * (2 + 1 + 2 + 2 + 2 + 24);
}

Test(devices, corrupted_device_sections_are_refused_by_name)
{
	struct snap_state *st = sample_all_devices();
	uint8_t *img;
	size_t len, body;
	uint32_t v32;

	encode(st, &img, &len);
	/* A net frame length past the buffer: refused before any copy. */
	body = device_body(img, len, SNAP_SEC_VIRTIO_NET);
	body += 2 + 4 + 2 + 4 + 1 + 6 + 4 + 2 * 48; /* iface_id, host_dev_name, mac, mtu, two limiters */
	body += 4 + 2 + 1 + 6 + 4 + 8 + 4;         /* magic .. offload_flags */
	memcpy(&v32, img + body, 4);
	cr_assert_eq(v32, 1000, "found rx_len");
	v32 = NET_BUF_MAX + 1;
	memcpy(img + body, &v32, 4);
	fix_crc(img, len);
	expect_refused(img, len, "section 17 (virtio-net)");
	expect_refused(img, len, "frames of 65563");
	v32 = 1000;
	memcpy(img + body, &v32, 4);
	/* A held-chain count that promises more than the body holds. */
	img[body + 8] = 200;
	fix_crc(img, len);
	expect_refused(img, len, "body too short");
	img[body + 8] = 2;
	fix_crc(img, len);

	/* The balloon's bools and the vsock's strings. */
	body = device_body(img, len, SNAP_SEC_VIRTIO_BALLOON);
	img[body + 8] = 2; /* deflate_on_oom */
	fix_crc(img, len);
	expect_refused(img, len, "deflate_on_oom 2");
	img[body + 8] = 1;
	body = device_body(img, len, SNAP_SEC_VIRTIO_VSOCK);
	img[body + 2 + 1] = 0; /* a NUL inside vsock_id */
	fix_crc(img, len);
	expect_refused(img, len, "vsock_id");
	img[body + 2 + 1] = 's';
	fix_crc(img, len);
	{
		struct snap_state *back = snap_state_new();
		char err[SNAP_ERR_MAX];

		cr_assert_eq(snap_decode(img, len, back, err), 0, "undone: %s", err);
		snap_state_free(back);
	}
	free(img);
	snap_state_free(st);
}
