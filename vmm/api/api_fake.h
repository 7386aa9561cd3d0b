/*
 * A fake VMM behind api_dispatch for tests, benchmarks and fuzz targets: it
 * keeps a config and a VM state, applies the pre-/post-boot rule like the real
 * VMM, and records what it was asked.  No KVM, no threads, no files.
 */
#ifndef KILN_API_FAKE_H
#define KILN_API_FAKE_H

#include "vmm/api/api.h"

struct api_fake {
	enum api_vm_state state;
	struct vm_config cfg;
	unsigned int calls;           /* handle() calls */
	enum api_op last_op;
	struct logger_config last_logger;
	struct metrics_config last_metrics;
	bool metrics_set;
	int fail_start;               /* InstanceStart fails with this (-errno), when set */
};

void api_fake_init(struct api_fake *f);
void api_fake_free(struct api_fake *f);

extern const struct api_backend_ops api_fake_ops; /* opaque = struct api_fake */

#endif
