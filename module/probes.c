// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace: probes on the TCP TIME_WAIT lifecycle.
 *
 * Birth: __inet_twsk_schedule(tw, timeo, rearm) with rearm == false is the
 * one place both target kernels pass exactly once per TIME_WAIT socket,
 * with the socket's identity already filled in (kernel-internals.md 1.1).
 * It is the same place that counts TcpExtTW / TcpExtTWKilled.
 */
#include <linux/kernel.h>
#include <linux/kprobes.h>
#include <net/inet_timewait_sock.h>
#include <net/net_namespace.h>

#include "compat.h"
#include "twtrace.h"

/* Only TCP: DCCP shares the TIME_WAIT code with its own death row. */
static bool twtrace_is_tcp_tw(const struct inet_timewait_sock *tw)
{
	return tw->tw_dr == &twsk_net(tw)->ipv4.tcp_death_row;
}

static int schedule_pre(struct kprobe *p, struct pt_regs *regs)
{
	struct inet_timewait_sock *tw;
	bool rearm;

	tw = (struct inet_timewait_sock *)regs_get_kernel_argument(regs, 0);
	rearm = !!(regs_get_kernel_argument(regs, 2) & 0xff);
	if (rearm || !twtrace_is_tcp_tw(tw))
		return 0;

	twtrace_count(TWTRACE_C_BIRTHS);
	return 0;
}

static struct kprobe kp_schedule = {
	.symbol_name	= "__inet_twsk_schedule",
	.pre_handler	= schedule_pre,
};

static struct kprobe *twtrace_kprobes[] = {
	&kp_schedule,
};

int twtrace_probes_register(void)
{
	int ret;

	ret = register_kprobes(twtrace_kprobes, ARRAY_SIZE(twtrace_kprobes));
	if (ret)
		pr_err("twtrace: cannot register probes: %d\n", ret);
	return ret;
}

void twtrace_probes_unregister(void)
{
	unregister_kprobes(twtrace_kprobes, ARRAY_SIZE(twtrace_kprobes));
}

unsigned long twtrace_probes_nmissed(void)
{
	unsigned long n = 0;
	int i;

	for (i = 0; i < ARRAY_SIZE(twtrace_kprobes); i++)
		n += twtrace_kprobes[i]->nmissed;
	return n;
}
