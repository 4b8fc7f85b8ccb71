// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace: the socket identity in a record (include/uapi/linux/twtrace.h):
 * 4-tuple, netns and substate, read from a full socket or a tw.  The probes
 * fill their records with it, and the "live" file its lines.
 */
#include "twtrace.h"

#include <linux/kprobes.h>
#include <linux/string.h>
#include <net/inet_timewait_sock.h>
#include <net/net_namespace.h>
#include <net/sock.h>

#include "compat.h"

/* 4-tuple and netns of a full socket or a tw (they share sock_common). */
void twtrace_fill_tuple(struct twtrace_record *rec,
			const struct sock_common *skc, u16 lport)
{
	rec->sport = lport;
	rec->dport = ntohs(skc->skc_dport);
	rec->netns = read_pnet(&skc->skc_net)->ns.inum;
	if (skc->skc_family == AF_INET6) {
		rec->family = 6;
		memcpy(rec->saddr, &skc->skc_v6_rcv_saddr, 16);
		memcpy(rec->daddr, &skc->skc_v6_daddr, 16);
	} else {
		rec->family = 4;
		memcpy(rec->saddr, &skc->skc_rcv_saddr, 4);
		memcpy(rec->daddr, &skc->skc_daddr, 4);
	}
}

NOKPROBE_SYMBOL(twtrace_fill_tuple);

/* A zeroed record of @type with @tw's identity. */
void twtrace_fill_tw(struct twtrace_record *rec,
		     const struct inet_timewait_sock *tw, u8 type)
{
	memset(rec, 0, sizeof(*rec));
	rec->type = type;
	twtrace_fill_tuple(rec, &tw->__tw_common, tw->tw_num);
	rec->substate = twtrace_tw_substate(tw);
}

NOKPROBE_SYMBOL(twtrace_fill_tw);
