/* Inside the vmstate library: shared by the encoder, decoder and checks. */
#ifndef KILN_SNAP_PRIV_H
#define KILN_SNAP_PRIV_H

#include "vmm/snapshot/snap_state.h"
#include "vmm/snapshot/snap_wire.h"

/* printf into err; returns -EINVAL. */
int snap_fail(char err[SNAP_ERR_MAX], const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Cross-section consistency (see snap_state.h).  0 or -EINVAL with err. */
int snap_state_check(const struct snap_state *st, char err[SNAP_ERR_MAX]) __must_check;

#endif
