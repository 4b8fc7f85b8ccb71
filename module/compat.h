/* SPDX-License-Identifier: GPL-2.0 */
/*
 * twtrace: the one place that knows which kernel it is built for.
 *
 * Every difference between the target kernels (today Debian's 6.1 and 6.12)
 * is wrapped here so that no .c file needs a version check.
 */
#ifndef _TWTRACE_COMPAT_H
#define _TWTRACE_COMPAT_H

#include <linux/version.h>
#include <net/inet_timewait_sock.h>

/*
 * Where the live-table entry of a new tw is made.
 *
 * 6.12 hashes the tw before it arms its timer (under the ehash lock, which
 * lockless lookups do not take), so the peer's FIN can rearm the tw on
 * another CPU before its birth: the entry is made when inet_twsk_alloc()
 * returns, before anyone can see the tw.  That return can be in process
 * context with BH enabled, which 6.12's rhashtable allows: its bucket locks
 * save and restore IRQs.
 *
 * 6.1 arms the timer first, with BH disabled, then hashes the tw: nobody can
 * rearm it before its birth, and the entry is made at the birth.  Its
 * bucket locks disable and re-enable BH, which at the allocation could run
 * softirqs inside the kretprobe handler.
 *
 * Kernels between the two are not targets; they get the 6.1 way.
 */
#define TWTRACE_ENTRY_AT_ALLOC	(LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0))

/*
 * The TIME_WAIT substate: a volatile field on 6.1, read with READ_ONCE()
 * since 6.12.  READ_ONCE() is right for both.
 */
static inline u8 twtrace_tw_substate(const struct inet_timewait_sock *tw)
{
	return READ_ONCE(tw->tw_substate);
}

#endif /* _TWTRACE_COMPAT_H */
