/* Mock virtio-balloon driver and the balloon test doubles; see balloon_mock.h. */
#include "devices/balloon/balloon_mock.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static void must(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "balloon mock misuse: %s\n", what);
		abort();
	}
}

static void mock_irq(void *opaque, unsigned int gsi, int level)
{
	struct balloon_mock *bm = opaque;

	if (level)
		bm->irq_raises++;
}

static unsigned int nr_queues(uint64_t features)
{
	return 2 + !!(features & VIRTIO_FEATURE(VIRTIO_BALLOON_F_STATS_VQ)) +
	       !!(features & VIRTIO_FEATURE(VIRTIO_BALLOON_F_REPORTING));
}

int balloon_mock_negotiate(struct balloon_mock *bm, uint64_t features)
{
	vmock_clear(&bm->m);
	memset(bm->next_slot, 0, sizeof(bm->next_slot));
	bm->slots = vmock_alloc(&bm->m, BALLOON_Q_NR * BALLOON_MOCK_SLOTS * BALLOON_MOCK_SLOT_SIZE, 16);
	bm->features = features & vmock_device_features(&bm->m);
	return vmock_negotiate(&bm->m, bm->features, nr_queues(bm->features), 0);
}

int balloon_mock_init(struct balloon_mock *bm, const struct balloon_opts *opts, uint64_t features,
		      uint64_t pages_size)
{
	struct irq_line line = { .set_level = mock_irq, .opaque = bm, .gsi = 7 };
	struct balloon_opts o = opts ? *opts : (struct balloon_opts){ 0 };
	struct dev_event_loop loop;
	int ret;

	memset(bm, 0, sizeof(*bm));
	bm->loop.fd = -1;
	if (!pages_size || pages_size % VIRTIO_BALLOON_PAGE_SIZE)
		return -EINVAL;
	ret = vmock_init(&bm->m, VMOCK_RAM_GPA, BALLOON_MOCK_RING_RAM);
	if (ret)
		return ret;
	bm->pages = mmap(NULL, pages_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			 -1, 0);
	if (bm->pages == MAP_FAILED) {
		ret = -ENOMEM;
		goto err_mock;
	}
	bm->pages_size = pages_size;
	ret = gmem_add_region(&bm->m.mem, BALLOON_MOCK_PAGES_GPA, pages_size, bm->pages);
	if (ret)
		goto err_pages;
	loop = vmock_event_loop(&bm->loop);
	ret = balloon_dev_init(&bm->dev, &o, &loop);
	if (ret)
		goto err_pages;
	ret = vmmio_init(&bm->t, &balloon_virtio_ops, &bm->dev, &bm->m.mem, &line);
	if (ret)
		goto err_dev;
	vmock_attach(&bm->m, &bm->t);
	ret = balloon_mock_negotiate(bm, features);
	if (ret)
		goto err_mmio;
	return 0;
err_mmio:
	vmmio_destroy(&bm->t);
err_dev:
	balloon_dev_destroy(&bm->dev);
err_pages:
	munmap(bm->pages, pages_size);
err_mock:
	vmock_destroy(&bm->m);
	return ret;
}

void balloon_mock_destroy(struct balloon_mock *bm)
{
	vmmio_destroy(&bm->t);
	balloon_dev_destroy(&bm->dev);
	munmap(bm->pages, bm->pages_size);
	vmock_destroy(&bm->m);
}

int balloon_mock_qidx(const struct balloon_mock *bm, enum balloon_queue role)
{
	bool stats = bm->features & VIRTIO_FEATURE(VIRTIO_BALLOON_F_STATS_VQ);
	bool reporting = bm->features & VIRTIO_FEATURE(VIRTIO_BALLOON_F_REPORTING);

	switch (role) {
	case BALLOON_Q_INFLATE:
		return 0;
	case BALLOON_Q_DEFLATE:
		return 1;
	case BALLOON_Q_STATS:
		return stats ? 2 : -1;
	case BALLOON_Q_REPORTING:
		return reporting ? 2 + stats : -1;
	default:
		return -1;
	}
}

static uint64_t slot(struct balloon_mock *bm, enum balloon_queue role)
{
	unsigned int i = bm->next_slot[role]++ % BALLOON_MOCK_SLOTS;

	return bm->slots + ((uint64_t)role * BALLOON_MOCK_SLOTS + i) * BALLOON_MOCK_SLOT_SIZE;
}

static uint16_t publish(struct balloon_mock *bm, enum balloon_queue role, const struct vmock_buf *bufs,
			unsigned int n)
{
	int qi = balloon_mock_qidx(bm, role);
	uint16_t head;

	must(qi >= 0, "queue not negotiated");
	vmock_chain_add(&bm->m, (unsigned int)qi, bufs, n, &head);
	vmock_avail_push(&bm->m, (unsigned int)qi, head);
	vmock_notify(&bm->m, (unsigned int)qi);
	return head;
}

uint16_t balloon_mock_pfns(struct balloon_mock *bm, enum balloon_queue role, const uint32_t *pfns, unsigned int n)
{
	uint64_t at = slot(bm, role);
	struct vmock_buf buf = { at, n * 4, false };

	must(n && n <= BALLOON_MAX_PFNS && (role == BALLOON_Q_INFLATE || role == BALLOON_Q_DEFLATE), "pfn array");
	for (unsigned int i = 0; i < n; i++) {
		le32 v = htole32(pfns[i]);

		vmock_write(&bm->m, at + 4ULL * i, &v, 4);
	}
	return publish(bm, role, &buf, 1);
}

uint16_t balloon_mock_stats(struct balloon_mock *bm, const uint16_t *tags, const uint64_t *vals, unsigned int n)
{
	uint64_t at = slot(bm, BALLOON_Q_STATS);
	struct vmock_buf buf = { at, n * (uint32_t)sizeof(struct virtio_balloon_stat), false };

	must(n && n * sizeof(struct virtio_balloon_stat) <= BALLOON_MOCK_SLOT_SIZE, "stats records");
	for (unsigned int i = 0; i < n; i++) {
		struct virtio_balloon_stat s = { .tag = htole16(tags[i]), .val = htole64(vals[i]) };

		vmock_write(&bm->m, at + sizeof(s) * i, &s, sizeof(s));
	}
	return publish(bm, BALLOON_Q_STATS, &buf, 1);
}

uint16_t balloon_mock_report(struct balloon_mock *bm, const uint64_t *gpas, const uint32_t *lens, unsigned int n)
{
	struct vmock_buf bufs[VIRTQ_MAX_SIZE];

	must(n && n <= VIRTQ_MAX_SIZE, "report ranges");
	for (unsigned int i = 0; i < n; i++)
		bufs[i] = (struct vmock_buf){ gpas[i], lens[i], true };
	return publish(bm, BALLOON_Q_REPORTING, bufs, n);
}

int balloon_mock_used(struct balloon_mock *bm, enum balloon_queue role, uint16_t *head, uint32_t *len)
{
	int qi = balloon_mock_qidx(bm, role);
	uint32_t id;
	int ret;

	must(qi >= 0, "queue not negotiated");
	ret = vmock_used_next(&bm->m, (unsigned int)qi, &id, len);
	if (!ret)
		*head = (uint16_t)id;
	return ret;
}

unsigned int balloon_mock_resident(struct balloon_mock *bm, unsigned int first, unsigned int n)
{
	unsigned char vec[256];
	unsigned int count = 0;

	must((uint64_t)(first + n) * VIRTIO_BALLOON_PAGE_SIZE <= bm->pages_size, "pages outside the region");
	while (n) {
		unsigned int k = n < sizeof(vec) ? n : sizeof(vec);

		must(!mincore(bm->pages + (uint64_t)first * VIRTIO_BALLOON_PAGE_SIZE, (size_t)k * VIRTIO_BALLOON_PAGE_SIZE,
			      vec),
		     "mincore");
		for (unsigned int i = 0; i < k; i++)
			count += vec[i] & 1;
		first += k;
		n -= k;
	}
	return count;
}
