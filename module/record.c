// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace: the socket identity in a record (include/uapi/linux/twtrace.h):
 * 4-tuple, netns and substate, read from a full socket or a tw, and the
 * owner, read from a full socket.  The probes fill their records and the
 * live-table entries with them, and the "live" file its lines.
 */
#include "twtrace.h"

#include <linux/kprobes.h>
#include <linux/rcupdate.h>
#include <linux/sock_diag.h>
#include <linux/string.h>
#include <linux/uidgid.h>
#include <linux/user_namespace.h>
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

/* A zeroed record of @type with @tw's identity and cookie. */
void twtrace_fill_tw(struct twtrace_record *rec,
		     const struct inet_timewait_sock *tw, u8 type)
{
	memset(rec, 0, sizeof(*rec));
	rec->type = type;
	twtrace_fill_tuple(rec, &tw->__tw_common, tw->tw_num);
	rec->substate = twtrace_tw_substate(tw);
	rec->owner.cookie = atomic64_read(&tw->tw_cookie);
}

NOKPROBE_SYMBOL(twtrace_fill_tw);

/*
 * The owner of a full socket (struct twtrace_owner).  A @connecting socket
 * is the client; for any other the listener lookup tells, the one costly
 * part, under RCU.  Makes the socket's cookie if it has none yet, as
 * sock_diag would.
 */
void twtrace_fill_owner(struct twtrace_owner *o, struct sock *sk,
			bool connecting)
{
	u32 cookie[2];

	sock_diag_save_cookie(sk, cookie);
	o->cookie = (u64)cookie[1] << 32 | cookie[0];
	o->cgroup = twtrace_sk_cgroup_id(sk);
	o->uid = from_kuid_munged(&init_user_ns, READ_ONCE(sk->sk_uid));
	o->role = TWTRACE_ROLE_CLIENT;
	if (!connecting) {
		rcu_read_lock();
		if (twtrace_port_listened(sk))
			o->role = TWTRACE_ROLE_SERVER;
		rcu_read_unlock();
	}
	memset(o->__pad, 0, sizeof(o->__pad));
}

NOKPROBE_SYMBOL(twtrace_fill_owner);
