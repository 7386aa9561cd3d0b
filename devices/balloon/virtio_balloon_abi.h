/*
 * virtio-balloon guest ABI (virtio 1.2 section 5.5, plus the statistics tags
 * Linux added after it): device id, feature bits, configuration space, page
 * frame numbers and the statistics record.  Little-endian in guest memory.
 */
#ifndef KILN_VIRTIO_BALLOON_ABI_H
#define KILN_VIRTIO_BALLOON_ABI_H

#include <stdint.h>

#include "devices/virtio/virtio_abi.h"

#define VIRTIO_ID_BALLOON 5

#define VIRTIO_BALLOON_F_MUST_TELL_HOST 0
#define VIRTIO_BALLOON_F_STATS_VQ       1
#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM 2
#define VIRTIO_BALLOON_F_FREE_PAGE_HINT 3
#define VIRTIO_BALLOON_F_PAGE_POISON    4
#define VIRTIO_BALLOON_F_REPORTING      5

/* inflateq and deflateq carry arrays of le32 PFNs of 4 KiB pages, whatever
 * the guest's page size. */
#define VIRTIO_BALLOON_PFN_SHIFT 12
#define VIRTIO_BALLOON_PAGE_SIZE (1u << VIRTIO_BALLOON_PFN_SHIFT)

/* Configuration space: the device sets num_pages (the target), the driver
 * writes actual (pages it holds).  The hint/poison fields follow; kiln
 * offers neither feature, so they read 0. */
struct virtio_balloon_config {
	le32 num_pages;
	le32 actual;
	le32 free_page_hint_cmd_id;
	le32 poison_val;
};

#define VIRTIO_BALLOON_CFG_NUM_PAGES 0
#define VIRTIO_BALLOON_CFG_ACTUAL    4

/* Statistics tags (virtio 1.2 5.5.6.3; 10-15 are Linux extensions). */
#define VIRTIO_BALLOON_S_SWAP_IN        0
#define VIRTIO_BALLOON_S_SWAP_OUT       1
#define VIRTIO_BALLOON_S_MAJFLT         2
#define VIRTIO_BALLOON_S_MINFLT         3
#define VIRTIO_BALLOON_S_MEMFREE        4
#define VIRTIO_BALLOON_S_MEMTOT         5
#define VIRTIO_BALLOON_S_AVAIL          6
#define VIRTIO_BALLOON_S_CACHES         7
#define VIRTIO_BALLOON_S_HTLB_PGALLOC   8
#define VIRTIO_BALLOON_S_HTLB_PGFAIL    9
#define VIRTIO_BALLOON_S_OOM_KILL       10
#define VIRTIO_BALLOON_S_ALLOC_STALL    11
#define VIRTIO_BALLOON_S_ASYNC_SCAN     12
#define VIRTIO_BALLOON_S_DIRECT_SCAN    13
#define VIRTIO_BALLOON_S_ASYNC_RECLAIM  14
#define VIRTIO_BALLOON_S_DIRECT_RECLAIM 15
#define VIRTIO_BALLOON_S_NR             16

/* One statistic in the statsq buffer: 10 bytes, packed. */
struct virtio_balloon_stat {
	le16 tag;
	le64 val;
} __attribute__((packed));

#endif
