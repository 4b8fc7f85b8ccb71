/* SPDX-License-Identifier: GPL-2.0 */
/*
 * twtrace: the one place that knows which kernel it is built for.
 *
 * Every difference between the target kernels (today Debian's 6.1 and 6.12)
 * is wrapped here so that no .c file needs a version check.
 */
#ifndef _TWTRACE_COMPAT_H
#define _TWTRACE_COMPAT_H

#include <net/inet_timewait_sock.h>

/*
 * The TIME_WAIT substate: a volatile field on 6.1, read with READ_ONCE()
 * since 6.12.  READ_ONCE() is right for both.
 */
static inline u8 twtrace_tw_substate(const struct inet_timewait_sock *tw)
{
	return READ_ONCE(tw->tw_substate);
}

#endif /* _TWTRACE_COMPAT_H */
