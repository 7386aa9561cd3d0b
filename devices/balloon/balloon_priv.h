/* Internals shared by the balloon unit's files (and its tests); not an API. */
#ifndef KILN_BALLOON_PRIV_H
#define KILN_BALLOON_PRIV_H

#include "devices/balloon/balloon.h"

/* (Re-)arms the polling timerfd with stats_interval_s from now, periodic.
 * 0 or -errno; nothing without statistics. */
int balloon_timer_arm(struct balloon_dev *b);

#endif
