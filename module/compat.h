/* SPDX-License-Identifier: GPL-2.0 */
/*
 * twtrace: the one place that knows which kernel it is built for.
 *
 * Every difference between the kernels twtrace runs on (Debian's 5.10 to
 * 7.3, see Documentation/twtrace.rst "Supported kernels") is wrapped here
 * so that no .c file needs a version check.  Where a change reached older
 * kernels through stable backports, it is keyed to the feature, read from
 * the target's own headers by Kbuild (TWTRACE_HAVE_*), not to the release;
 * the rest to the release that made it, with the upstream change named.
 *
 * The helpers the probe handlers call are nokprobe_inline: always inlined
 * where kprobes exist, so no probe can land on them.
 */
#ifndef _TWTRACE_COMPAT_H
#define _TWTRACE_COMPAT_H

#include <linux/version.h>
#include <linux/cgroup.h>
#include <linux/kprobes.h>
#include <linux/ring_buffer.h>
#include <linux/timer.h>
#include <net/inet6_hashtables.h>
#include <net/inet_hashtables.h>
#include <net/inet_timewait_sock.h>
#include <net/ipv6.h>
#include <net/net_namespace.h>
#include <net/tcp.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(5, 10, 0)
#error "twtrace needs Linux 5.10 or later: the oldest kernel it is tested on"
#endif

/*
 * Where the live-table entry of a new tw is made.
 *
 * Kernels with inet_twsk_hashdance_schedule() (b334b924c9b7 "net: tcp/dccp:
 * prepare for tw_timer un-pinning", 6.11, and 6.10.9 stable) hash the tw
 * before they arm its timer, under the ehash lock, which lockless lookups
 * do not take: the peer's FIN can rearm the tw on another CPU before its
 * birth.  There the entry is made when inet_twsk_alloc() returns, before
 * anyone can see the tw.  That return can be in process context with BH
 * enabled, which their rhashtable allows: its bucket locks save and restore
 * IRQs (since 6.7).
 *
 * Older kernels arm the timer first, with BH disabled, then hash the tw:
 * nobody can rearm it before its birth, and the entry is made at the birth.
 * Their bucket locks disable and re-enable BH, which at the allocation
 * could run softirqs inside the kretprobe handler.
 */
#ifdef TWTRACE_HAVE_HASHDANCE_SCHEDULE
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 7, 0)
#error "hash-before-arm without IRQ-saving rhashtable locks: no entry at alloc"
#endif
#define TWTRACE_ENTRY_AT_ALLOC	1
#define TWTRACE_HASHDANCE_SYMBOL	"inet_twsk_hashdance_schedule"
#else
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 11, 0)
#error "6.11+ without inet_twsk_hashdance_schedule(): Kbuild read the wrong headers"
#endif
#define TWTRACE_ENTRY_AT_ALLOC	0
#define TWTRACE_HASHDANCE_SYMBOL	"inet_twsk_hashdance"
#endif

/*
 * The death row of TCP in a netns: a pointer from fbb8295248e1 ("tcp:
 * allocate tcp_death_row outside of struct netns_ipv4", 5.18) until
 * e9bd0cca09d1 ("tcp: Don't allocate tcp_death_row outside of struct
 * netns_ipv4", 6.1) embedded it again.
 */
static nokprobe_inline
const struct inet_timewait_death_row *twtrace_tcp_death_row(const struct net *net)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(5, 18, 0) && \
	LINUX_VERSION_CODE < KERNEL_VERSION(6, 1, 0)
	return net->ipv4.tcp_death_row;
#else
	return &net->ipv4.tcp_death_row;
#endif
}

/*
 * TIME_WAIT sockets of a death row, as inet_twsk_alloc() compares them with
 * tcp_max_tw_buckets: an atomic_t tw_count before 5.18, then a refcount_t
 * tw_refcount that starts at 1 (fbb8295248e1, 5.18).
 */
static nokprobe_inline u32 twtrace_tw_count(const struct inet_timewait_death_row *dr)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(5, 18, 0)
	return refcount_read(&dr->tw_refcount) - 1;
#else
	return atomic_read(&dr->tw_count);
#endif
}

/*
 * The reuse rule's "not too recent" test, in tcp_twsk_unique().
 *
 * With net.ipv4.tcp_tw_reuse_delay (ca6a6f93867a, on the millisecond
 * tw_entry_stamp of 19ce8cd30465, 6.14): tcp_clock_ms() must be after
 * tw_entry_stamp + delay.  Before: the seconds clock must have ticked past
 * tw_ts_recent_stamp, which is what a 1000 ms delay is reported as.
 */
static nokprobe_inline u32 twtrace_reuse_delay_ms(const struct net *net)
{
#ifdef TWTRACE_HAVE_TW_REUSE_DELAY
	return READ_ONCE(net->ipv4.sysctl_tcp_tw_reuse_delay);
#else
	return MSEC_PER_SEC;
#endif
}

static nokprobe_inline bool
twtrace_reuse_too_recent(const struct inet_timewait_sock *tw, u32 delay_ms)
{
#ifdef TWTRACE_HAVE_TW_REUSE_DELAY
	return !time_after32(tcp_clock_ms(),
			     READ_ONCE(tw->tw_entry_stamp) + delay_ms);
#else
	const struct tcp_timewait_sock *tcptw = tcp_twsk((struct sock *)tw);

	return !time_after32(ktime_get_seconds(),
			     READ_ONCE(tcptw->tw_ts_recent_stamp));
#endif
}

/*
 * The TIME_WAIT substate: a volatile field up to 6.1, read with READ_ONCE()
 * since.  READ_ONCE() is right for both.
 */
static nokprobe_inline u8 twtrace_tw_substate(const struct inet_timewait_sock *tw)
{
	return READ_ONCE(tw->tw_substate);
}

/*
 * tcp_abort() (SOCK_DESTROY, ss -K) kills a TIME_WAIT socket since
 * af9784d007d8 gave it a TIME_WAIT case (6.0); before, it answers
 * -EOPNOTSUPP and the tw lives on.
 */
#define TWTRACE_ABORT_KILLS_TW	(LINUX_VERSION_CODE >= KERNEL_VERSION(6, 0, 0))

/*
 * The cgroup v2 id of the cgroup a socket was made in (for a child of a
 * listener, the listener's): what bpf_sk_cgroup_id() reports.  Kernels
 * without socket cgroup data (the tiny debug config without cgroups) have
 * none.
 */
static nokprobe_inline u64 twtrace_sk_cgroup_id(struct sock *sk)
{
#ifdef CONFIG_SOCK_CGROUP_DATA
	struct cgroup *cgrp = sock_cgroup_ptr(&sk->sk_cgrp_data);

	return cgrp ? cgroup_id(cgrp) : 0;
#else
	return 0;
#endif
}

/*
 * The listener an incoming SYN to @sk's local address and port would find,
 * under rcu_read_lock(), with no packet: socket lookup BPF programs and
 * reuseport groups choose as they would for the SYN, but without the
 * packet a reuseport program does not run.  The lookups lost their
 * hashinfo argument in 7.x (each address family has one table again):
 * TWTRACE_HAVE_LOOKUP_HASHINFO is read from the headers.  An IPv6 socket
 * on IPv4-mapped addresses takes IPv4's SYNs.
 */
#ifdef TWTRACE_HAVE_LOOKUP_HASHINFO
static nokprobe_inline struct sock *
twtrace_listener4(struct net *net, __be32 saddr, __be16 sport, __be32 daddr,
		  unsigned short hnum, int dif)
{
	return __inet_lookup_listener(net, twtrace_tcp_death_row(net)->hashinfo,
				      NULL, 0, saddr, sport, daddr, hnum, dif,
				      0);
}

static nokprobe_inline struct sock *
twtrace_listener6(struct net *net, const struct in6_addr *saddr, __be16 sport,
		  const struct in6_addr *daddr, unsigned short hnum, int dif)
{
	return inet6_lookup_listener(net, twtrace_tcp_death_row(net)->hashinfo,
				     NULL, 0, saddr, sport, daddr, hnum, dif,
				     0);
}
#else
static nokprobe_inline struct sock *
twtrace_listener4(struct net *net, __be32 saddr, __be16 sport, __be32 daddr,
		  unsigned short hnum, int dif)
{
	return __inet_lookup_listener(net, NULL, 0, saddr, sport, daddr, hnum,
				      dif, 0);
}

static nokprobe_inline struct sock *
twtrace_listener6(struct net *net, const struct in6_addr *saddr, __be16 sport,
		  const struct in6_addr *daddr, unsigned short hnum, int dif)
{
	return inet6_lookup_listener(net, NULL, 0, saddr, sport, daddr, hnum,
				     dif, 0);
}
#endif

static nokprobe_inline bool twtrace_port_listened(struct sock *sk)
{
	struct net *net = sock_net(sk);
	int dif = READ_ONCE(sk->sk_bound_dev_if);

#if IS_ENABLED(CONFIG_IPV6)
	if (sk->sk_family == AF_INET6 &&
	    !ipv6_addr_v4mapped(&sk->sk_v6_daddr))
		return twtrace_listener6(net, &sk->sk_v6_daddr, sk->sk_dport,
					 &sk->sk_v6_rcv_saddr, sk->sk_num,
					 dif);
#endif
	return twtrace_listener4(net, sk->sk_daddr, sk->sk_dport,
				 sk->sk_rcv_saddr, sk->sk_num, dif);
}

/*
 * How many local ports a connect() of @sk may choose from.  Kernels that
 * keep ip_local_port_range in one u32 (TWTRACE_HAVE_PORT_RANGE_U32, read
 * from the headers; 6.12 and 7.3 here) read it locklessly, with the
 * socket's own IP_LOCAL_PORT_RANGE applied.  Older ones (5.10, 6.1) keep
 * the pair under a seqlock, a sleeping lock on PREEMPT_RT: it is read
 * without, which can tear only during a sysctl write, and without the
 * per-socket range.
 */
static nokprobe_inline u16 twtrace_port_range(const struct sock *sk)
{
	int low, high;

#ifdef TWTRACE_HAVE_PORT_RANGE_U32
	inet_sk_get_local_port_range(sk, &low, &high);
#else
	const struct net *net = sock_net(sk);

	low = READ_ONCE(net->ipv4.ip_local_ports.range[0]);
	high = READ_ONCE(net->ipv4.ip_local_ports.range[1]);
#endif
	return high >= low ? min(high - low + 1, U16_MAX) : 0;
}

/* from_timer() is timer_container_of() since 41cb08555c41 (6.16). */
#ifndef timer_container_of
#define timer_container_of(var, timer, field)	from_timer(var, timer, field)
#endif

/*
 * timer_shutdown_sync() came with f571faf6e443 ("timers: Provide
 * timer_shutdown[_sync]()", 6.2), and to 6.1.y and other stable series
 * later: read from the headers.  Without it, del_timer_sync(); ring.c
 * shuts the timer down again once no reader can re-arm it.
 */
#ifndef TWTRACE_HAVE_TIMER_SHUTDOWN
static inline int timer_shutdown_sync(struct timer_list *timer)
{
	return del_timer_sync(timer);
}
#endif

/* ring_buffer_time_stamp() lost its unused cpu argument in 5.12. */
static inline u64 twtrace_rb_time_stamp(struct trace_buffer *rb)
{
#if LINUX_VERSION_CODE < KERNEL_VERSION(5, 12, 0)
	return ring_buffer_time_stamp(rb, raw_smp_processor_id());
#else
	return ring_buffer_time_stamp(rb);
#endif
}

/* str_yes_no() came to linux/string_helpers.h in 5.17. */
#if LINUX_VERSION_CODE < KERNEL_VERSION(5, 17, 0)
static inline const char *str_yes_no(bool v)
{
	static const char * const yes_no[] = { "no", "yes" };

	return yes_no[v];
}
#endif

#endif /* _TWTRACE_COMPAT_H */
