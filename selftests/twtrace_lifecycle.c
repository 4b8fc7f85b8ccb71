// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace lifecycle tests.  Each test makes the kernel take one TIME_WAIT
 * path for real, in a network namespace of its own, and compares what the
 * module reports (records, stats, hist, live) with figures the kernel keeps
 * without twtrace: TcpExt and Tcp counters, sockstat's tw, the rows of
 * /proc/net/tcp and tcp6, connect()'s result, NETLINK_SOCK_DIAG dumps, and
 * the test's own CLOCK_MONOTONIC.
 *
 * Tests run one after the other; records are consumed by reading, so each
 * test drains the rings first and then keeps the records of its own netns.
 * A finished test's namespace is purged asynchronously: each test first
 * waits until the module tracks no socket of a dead namespace.
 */
#include <signal.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <net/ethernet.h>
#include <netpacket/packet.h>

#include "kselftest_harness.h"
#include "twtrace_lib.h"

#define NSEC		1000000000LL
#define MSEC		1000000LL

#define ONE_PORT	"40000 40000"
#define THE_PORT	40000U
#define BOUND_PORT	41000

#define SUB_FW2		TWTRACE_SUBSTATE_FIN_WAIT2
#define SUB_TW		TWTRACE_SUBSTATE_TIME_WAIT

static long long ts_of(double t)
{
	return (long long)(t * NSEC);
}

static double dabs(double d)
{
	return d < 0 ? -d : d;
}

/* Sleep past the kernel's one-second TIME_WAIT reuse rule. */
static void sleep_past_one_second(void)
{
	usleep(1100000);
}

/*
 * The common start of every test: module loaded, a fresh netns, nothing
 * left over from earlier tests, the rings drained.  @rs then collects the
 * records of this netns.
 */
static void begin(struct __test_metadata *_metadata, struct tw_recs *rs,
		  unsigned int *ns)
{
	ASSERT_EQ(0, tw_module_ensure());
	ASSERT_EQ(0, tw_netns_new());
	*ns = tw_netns_inum();
	ASSERT_NE(0U, *ns);
	ASSERT_TRUE(tw_settle(30))
		TH_LOG("sockets of dead namespaces are still tracked");
	ASSERT_EQ(1, tw_ctl_get("enable"))
		TH_LOG("recording is off: an earlier test left enable=0");
	tw_recs_init(rs, *ns);
	ASSERT_EQ(0, tw_recs_drain(rs));
}

/* Wait for the birth record of the TW @local -> @remote; a copy of it. */
static struct twtrace_record
wait_birth(struct __test_metadata *_metadata, struct tw_recs *rs,
	   const union tw_sa *local, const union tw_sa *remote)
{
	const struct twtrace_record *r = NULL;
	unsigned int lp = tw_sa_port(local), rp = tw_sa_port(remote);
	double end = tw_now() + 5;
	size_t i;

	/* The newest birth with this tuple (ports can be used again). */
	do {
		tw_recs_read(rs);
		for (i = rs->n; !r && i-- > 0;)
			if (tw_rec_match(&rs->v[i].r, TWTRACE_EV_BIRTH, -1,
					 lp, rp, 0) &&
			    tw_rec_tuple_is(&rs->v[i].r, local, remote))
				r = &rs->v[i].r;
		if (!r)
			usleep(20000);
	} while (!r && tw_now() < end);
	ASSERT_NE(NULL, r)
		TH_LOG("no birth record for local port %u remote port %u",
		       lp, rp);
	EXPECT_NE(0ULL, r->tw_id);
	EXPECT_EQ(rs->netns, r->netns);
	return *r;
}

/* Wait for a record of @type for tw @id; a copy of it. */
static struct twtrace_record
wait_event(struct __test_metadata *_metadata, struct tw_recs *rs, int type,
	   unsigned long long id, double secs)
{
	const struct twtrace_record *r;

	tw_wait_until((tw_recs_read(rs),
		       tw_recs_count(rs, type, -1, 0, 0, id) > 0), secs);
	r = tw_recs_find(rs, type, -1, 0, 0, id);
	ASSERT_NE(NULL, r)
		TH_LOG("no record of type %d for tw %llu", type, id);
	return *r;
}

/* The last re-arm record of tw @id, or NULL. */
static const struct twtrace_record *find_rearm(const struct tw_recs *rs,
					       unsigned long long id)
{
	return tw_recs_find(rs, TWTRACE_EV_REARM, -1, 0, 0, id);
}

/*
 * A server-side TW: the server closes first.  Done when the kernel lists
 * it, like tw_make_client_tw(): sockstat's count also falls as older TWs
 * of the test expire, which a long test on a slow kernel sees.
 */
static int make_server_tw(struct tw_conn *k, int lfd, const union tw_sa *dst)
{
	int ret = tw_conn_open(k, lfd, dst, NULL);

	if (ret)
		return ret;
	tw_conn_close_server_first(k);
	return tw_wait_tw_row(&k->saddr, &k->caddr, 5) ? 0 : -ETIMEDOUT;
}

/* Is tw @id in the live file? */
static bool live_has(unsigned int ns, unsigned long long id,
		     struct tw_live *out)
{
	struct tw_live v[256];
	const struct tw_live *l;
	int n = tw_live_read(v, 256, ns);

	l = n > 0 ? tw_live_find(v, n < 256 ? n : 256, id) : NULL;
	if (l && out)
		*out = *l;
	return l;
}

FIXTURE(tw) {
	struct tw_recs rs;
	unsigned int ns;
};

FIXTURE_SETUP(tw)
{
	begin(_metadata, &self->rs, &self->ns);
}

FIXTURE_TEARDOWN(tw)
{
	tw_recs_free(&self->rs);
}

/* ------------------------------------------------------------------ */
/* 1. Census: births, the live file, sockstat, /proc/net/tcp.          */
/* ------------------------------------------------------------------ */

enum { CLIENT_FIRST, SERVER_FIRST, CLIENT_ONLY };

/*
 * Fourteen TIME_WAIT sockets of every kind (client and server side, IPv4
 * and IPv6, TIME_WAIT and FIN_WAIT2 substates):
 *   births (stats, records) == TcpExt TW + TWKilled == sockstat tw,
 *   each has a live line and a /proc/net/tcp(6) TW row with the same
 *   4-tuple and substate, the live ids are the birth records' ids,
 *   stats live == the number of live lines of every netns,
 *   birth.timeo_ms == 60 s (tcp_fin_timeout for a FIN_WAIT2 birth,
 *   TCP_TIMEWAIT_LEN for a TIME_WAIT one), no probe missed a hit.
 */
TEST_F_TIMEOUT(tw, census, 90)
{
	static const struct { int family, how; } plan[] = {
		{ AF_INET, CLIENT_FIRST }, { AF_INET, CLIENT_FIRST },
		{ AF_INET, CLIENT_FIRST }, { AF_INET, CLIENT_FIRST },
		{ AF_INET, CLIENT_FIRST }, { AF_INET, CLIENT_FIRST },
		{ AF_INET6, CLIENT_FIRST }, { AF_INET6, CLIENT_FIRST },
		{ AF_INET6, CLIENT_FIRST },
		{ AF_INET, SERVER_FIRST }, { AF_INET6, SERVER_FIRST },
		{ AF_INET, CLIENT_ONLY }, { AF_INET, CLIENT_ONLY },
		{ AF_INET6, CLIENT_ONLY },
	};
	enum { N = ARRAY_SIZE(plan) };
	struct tw_conn k[N];
	union tw_sa d4, d6, *local[N], *remote[N];
	struct twtrace_record b[N];
	struct tw_tcprow rows[64];
	struct tw_live lv[64], *all;
	struct tw_stats s0, s1;
	long long kb0, kb1, fin_ms, a = -1, c = -1;
	int l4, l6, i, j, ret, nrows, nlive, fw2 = 0, rearms = 0;
	unsigned long long missed = 0, hits;
	char line[256], sym[128], att[16];
	bool consistent = false;
	FILE *f;

	fin_ms = tw_sysctl_get("net/ipv4/tcp_fin_timeout") * 1000;
	l4 = tw_listen(AF_INET, "127.0.0.1", &d4);
	l6 = tw_listen(AF_INET6, "::1", &d6);
	ASSERT_LE(0, l4);
	ASSERT_LE(0, l6);
	ASSERT_EQ(0, tw_stats_read(&s0));
	kb0 = tw_births_kernel();
	ASSERT_EQ(0, tw_sockstat_tw());

	for (i = 0; i < N; i++) {
		int lfd = plan[i].family == AF_INET ? l4 : l6;
		union tw_sa *d = plan[i].family == AF_INET ? &d4 : &d6;

		if (plan[i].how == CLIENT_FIRST)
			ret = tw_make_client_tw(&k[i], lfd, d, NULL);
		else if (plan[i].how == SERVER_FIRST)
			ret = make_server_tw(&k[i], lfd, d);
		else
			ret = tw_make_fw2_tw(&k[i], lfd, d);
		ASSERT_EQ(0, ret) TH_LOG("connection %d", i);
		local[i] = plan[i].how == SERVER_FIRST ? &k[i].saddr :
							 &k[i].caddr;
		remote[i] = plan[i].how == SERVER_FIRST ? &k[i].caddr :
							  &k[i].saddr;
		fw2 += plan[i].how == CLIENT_ONLY;
	}
	for (i = 0; i < N; i++)
		b[i] = wait_birth(_metadata, &self->rs, local[i], remote[i]);
	/* Rearms come with the peer's FIN, already processed by now. */
	usleep(100000);
	tw_recs_read(&self->rs);

	ASSERT_EQ(0, tw_stats_read(&s1));
	kb1 = tw_births_kernel();
	TH_LOG("made %d: births +%lld, birth records %d", N,
	       tw_stats_delta(&s0, &s1, "births"),
	       tw_recs_count(&self->rs, TWTRACE_EV_BIRTH, -1, 0, 0, 0));
	TH_LOG("TcpExt TW+TWKilled +%lld, sockstat tw %lld", kb1 - kb0,
	       tw_sockstat_tw());
	EXPECT_EQ(N, tw_sockstat_tw());
	EXPECT_EQ(N, kb1 - kb0);
	EXPECT_EQ(N, tw_stats_delta(&s0, &s1, "births"));
	EXPECT_EQ(N, tw_recs_count(&self->rs, TWTRACE_EV_BIRTH, -1, 0, 0, 0));
	EXPECT_EQ(0, self->rs.bad);

	/* Every birth: its tuple, the timeout the kernel armed. */
	for (i = 0; i < N; i++) {
		EXPECT_EQ(tw_sa_fam(local[i]), b[i].family);
		EXPECT_EQ(fin_ms, b[i].birth.timeo_ms)
			TH_LOG("tw %d born with timeo %u ms, fin_timeout %lld ms",
			       i, b[i].birth.timeo_ms, fin_ms);
		if (plan[i].how == CLIENT_ONLY)
			EXPECT_EQ(SUB_FW2, b[i].substate);
		for (j = 0; j < i; j++)
			EXPECT_NE(b[j].tw_id, b[i].tw_id);
	}

	/* The kernel's rows and the module's live lines, one for one. */
	nrows = tw_proc_tcp_read(rows, 64, true);
	nlive = tw_live_read(lv, 64, self->ns);
	TH_LOG("/proc/net/tcp+tcp6 TW rows %d, live lines %d, sockstat tw %lld",
	       nrows, nlive, tw_sockstat_tw());
	EXPECT_EQ(N, nrows);
	EXPECT_EQ(N, nlive);
	ASSERT_LE(0, nlive);
	for (i = 0; i < N; i++) {
		const struct tw_live *l = tw_live_find(lv, nlive, b[i].tw_id);
		size_t alen = tw_sa_addrlen(local[i]);
		int want = plan[i].how == CLIENT_ONLY ? SUB_FW2 : SUB_TW;
		bool row = false;

		ASSERT_NE(NULL, l) TH_LOG("tw %d (id %llu) not live", i,
					  b[i].tw_id);
		EXPECT_EQ(self->ns, l->netns);
		EXPECT_EQ(tw_sa_fam(local[i]), l->family);
		EXPECT_EQ(tw_sa_port(local[i]), l->lport);
		EXPECT_EQ(tw_sa_port(remote[i]), l->rport);
		EXPECT_EQ(0, memcmp(l->laddr, tw_sa_addr(local[i]), alen));
		EXPECT_EQ(0, memcmp(l->raddr, tw_sa_addr(remote[i]), alen));
		EXPECT_EQ(want, l->substate);
		EXPECT_EQ(tw_recs_count(&self->rs, TWTRACE_EV_REARM, -1, 0, 0,
					b[i].tw_id), (int)l->rearms);
		rearms += l->rearms;
		for (j = 0; j < nrows && j < 64; j++) {
			if (rows[j].family != l->family ||
			    rows[j].lport != l->lport ||
			    rows[j].rport != l->rport ||
			    memcmp(rows[j].laddr, l->laddr, alen) ||
			    memcmp(rows[j].raddr, l->raddr, alen))
				continue;
			row = true;
			EXPECT_EQ(want, (int)rows[j].st);
		}
		EXPECT_TRUE(row) TH_LOG("tw %d has no /proc/net/tcp row", i);
	}
	c = 0;
	for (j = 0; j < nrows && j < 64; j++)
		c += rows[j].st == SUB_FW2;
	EXPECT_EQ(fw2, c);
	TH_LOG("rearms +%lld, rearm records %d, live rearms %d",
	       tw_stats_delta(&s0, &s1, "rearms"),
	       tw_recs_count(&self->rs, TWTRACE_EV_REARM, -1, 0, 0, 0),
	       rearms);
	EXPECT_EQ(rearms, tw_stats_delta(&s0, &s1, "rearms"));
	EXPECT_EQ(rearms,
		  tw_recs_count(&self->rs, TWTRACE_EV_REARM, -1, 0, 0, 0));

	/* stats live == every netns' live lines (read until stable). */
	all = calloc(4096, sizeof(*all));
	ASSERT_NE(NULL, all);
	for (i = 0; i < 10 && !consistent; i++) {
		a = tw_stat("live");
		c = tw_live_read(all, 4096, 0);
		consistent = a == c && a == tw_stat("live");
	}
	TH_LOG("stats live %lld, live lines (all netns) %lld", a, c);
	EXPECT_TRUE(consistent);
	EXPECT_LE(N, c);
	free(all);

	/* Every probe: attached or not, no kprobe missed. */
	f = fopen(TW_DIR "/probes", "r");
	ASSERT_NE(NULL, f);
	c = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long m;

		if (line[0] == '#')
			continue;
		if (sscanf(line, "%127s %15s %llu %llu", sym, att, &hits,
			   &m) != 4)
			continue;
		c += !strcmp(att, "yes");
		missed += m;
		if (strcmp(att, "yes"))
			TH_LOG("probe %s not attached", sym);
	}
	fclose(f);
	TH_LOG("probes attached %lld, nmissed %llu, probe_misses %lld", c,
	       missed, tw_stat("probe_misses"));
	EXPECT_LT(0, c);
	EXPECT_EQ(0ULL, missed);
	EXPECT_EQ(0, tw_stat("probe_misses"));

	for (i = 0; i < N; i++)
		tw_conn_close(&k[i]);
	close(l4);
	close(l6);
}

/*
 * The FIN_WAIT2 -> TIME_WAIT re-arm.  With tcp_fin_timeout=20, three
 * client-closed TWs (two IPv4, one IPv6) wait in FIN_WAIT2 with a 20 s
 * timer, as the kernel's /proc/net/tcp says (st 05, < 20 s left).  Then
 * the servers close: each tw gets the FIN, the kernel lists it TIME_WAIT
 * (st 06) with 60 s left, and the module has one rearm record per tw
 * (old_substate 5, substate 6, timeo 60000 ms, rearms 1, timestamped when
 * the kernel's timer was set), live says TIME_WAIT with 1 rearm, stats
 * rearms +3; birth.timeo_ms was 20000.
 */
TEST_F(tw, rearm_fin_wait2_to_time_wait)
{
	enum { N = 3 };
	struct twtrace_record b[N], r;
	struct tw_tcprow row;
	struct tw_conn k[N];
	struct tw_live l;
	struct tw_stats s0, s1;
	union tw_sa d4, d6;
	int l4, l6, i;
	double t;

	ASSERT_EQ(0, tw_sysctl_set("net/ipv4/tcp_fin_timeout", "20"));
	l4 = tw_listen(AF_INET, "127.0.0.1", &d4);
	l6 = tw_listen(AF_INET6, "::1", &d6);
	ASSERT_LE(0, l4);
	ASSERT_LE(0, l6);
	for (i = 0; i < N; i++) {
		ASSERT_EQ(0, tw_make_fw2_tw(&k[i], i == 2 ? l6 : l4,
					    i == 2 ? &d6 : &d4));
		b[i] = wait_birth(_metadata, &self->rs, &k[i].caddr,
				  &k[i].saddr);
		EXPECT_EQ(SUB_FW2, b[i].substate);
		EXPECT_EQ(20000U, b[i].birth.timeo_ms);
		ASSERT_TRUE(tw_proc_tw_find(b[i].sport, b[i].dport, &row));
		EXPECT_EQ(SUB_FW2, (int)row.st);
		EXPECT_GE(2000UL, row.when);
		ASSERT_TRUE(live_has(self->ns, b[i].tw_id, &l));
		EXPECT_EQ(SUB_FW2, l.substate);
		EXPECT_EQ(0U, l.rearms);
	}
	ASSERT_EQ(0, tw_stats_read(&s0));

	for (i = 0; i < N; i++) {
		close(k[i].a);
		k[i].a = -1;
		r = wait_event(_metadata, &self->rs, TWTRACE_EV_REARM,
			       b[i].tw_id, 5);
		t = tw_now();
		ASSERT_TRUE(tw_proc_tw_find(b[i].sport, b[i].dport, &row));
		TH_LOG("tw %llu: rearmed %.3f s after birth, kernel: st %02X, %.2f s left",
		       b[i].tw_id, (r.ts_ns - b[i].ts_ns) / 1e9, row.st,
		       row.when / 100.0);
		EXPECT_EQ(SUB_TW, (int)row.st);
		EXPECT_GE(0.25, dabs(t - r.ts_ns / 1e9 + row.when / 100.0 -
				     60.0));
		EXPECT_EQ(SUB_FW2, r.rearm.old_substate);
		EXPECT_EQ(SUB_TW, r.substate);
		EXPECT_EQ(60000U, r.rearm.timeo_ms);
		EXPECT_EQ(1U, r.rearms);
		EXPECT_TRUE(tw_rec_tuple_is(&r, &k[i].caddr, &k[i].saddr));
		ASSERT_TRUE(live_has(self->ns, b[i].tw_id, &l));
		EXPECT_EQ(SUB_TW, l.substate);
		EXPECT_EQ(1U, l.rearms);
	}
	ASSERT_EQ(0, tw_stats_read(&s1));
	TH_LOG("stats rearms +%lld, rearm records %d, sockstat tw %lld",
	       tw_stats_delta(&s0, &s1, "rearms"),
	       tw_recs_count(&self->rs, TWTRACE_EV_REARM, -1, 0, 0, 0),
	       tw_sockstat_tw());
	EXPECT_EQ(N, tw_stats_delta(&s0, &s1, "rearms"));
	EXPECT_EQ(N, tw_recs_count(&self->rs, TWTRACE_EV_REARM, -1, 0, 0, 0));
	EXPECT_EQ(N, tw_sockstat_tw());
	EXPECT_EQ(0, tw_recs_count(&self->rs, TWTRACE_EV_DEATH, -1, 0, 0, 0));
	for (i = 0; i < N; i++)
		tw_conn_close(&k[i]);
	close(l4);
	close(l6);
}

/* ------------------------------------------------------------------ */
/* 2. Expiry: the 60-second timer, IPv4 and IPv6, and FIN_WAIT2.       */
/* ------------------------------------------------------------------ */

/*
 * When a TW's /proc/net/tcp row disappeared: between seen and gone; and
 * since when the kernel's own countdown (the row's time left) said its
 * timer was due.
 */
struct watch {
	unsigned int lport, rport;
	double seen, gone, due;
};

static void watch_init(struct watch *w, const struct tw_conn *k)
{
	memset(w, 0, sizeof(*w));
	w->lport = tw_sa_port(&k->caddr);
	w->rport = tw_sa_port(&k->saddr);
}

static void watch_poll(struct watch *w)
{
	struct tw_tcprow row;
	double t0;
	bool found;

	if (w->gone)
		return;
	t0 = tw_now();
	found = tw_proc_tw_find(w->lport, w->rport, &row);
	if (found) {
		w->seen = t0;
		if (!row.when && !w->due)
			w->due = t0;
	} else {
		w->gone = tw_now();
	}
}

/*
 * How late the kernel's timer ran, by the kernel's own view: how long the
 * row stayed listed once its time left was 0 (the timer wheel's rounding
 * and any lateness of a loaded machine).  The bounds on a lifetime grow by
 * this much; that the death falls where the row disappeared is checked
 * whatever it is.
 */
static double watch_late(const struct watch *w)
{
	return w->due && w->gone > w->due ? w->gone - w->due : 0;
}

/* Still listed, and overdue by the kernel's own countdown. */
static bool watch_overdue(const struct watch *w)
{
	return !w->gone && w->due;
}

/*
 * The death record of an expired TW, against the test's clock: reason
 * expired, @sub substate, lifetime in [@lo_s, @hi_s], death.ts between
 * the last time the kernel still listed the socket and the first time it
 * did not, lifetime == death.ts - birth.ts.
 */
static void check_expiry(struct __test_metadata *_metadata,
			 const struct twtrace_record *b,
			 const struct twtrace_record *d,
			 const struct watch *w, int sub, double lo_s,
			 double hi_s)
{
	long long life = d->death.lifetime_ns;

	TH_LOG("tw %llu (port %u): lifetime %.3f s, fin_wait2 %.3f s",
	       d->tw_id, d->sport, life / 1e9, d->death.fin_wait2_ns / 1e9);
	TH_LOG("tw %llu: death at %.3f, kernel row seen %.3f, gone %.3f, listed %.3f s past due",
	       d->tw_id, d->ts_ns / 1e9, w->seen, w->gone, watch_late(w));
	/* The bounds already allow hi_s - lo_s for the wheel's rounding. */
	if (watch_late(w) > hi_s - lo_s)
		hi_s = lo_s + watch_late(w);
	EXPECT_EQ(TWTRACE_DEATH_EXPIRED, d->reason)
		TH_LOG("death reason %s", tw_death_name(d->reason));
	EXPECT_EQ(sub, d->substate);
	EXPECT_LE(ts_of(lo_s), life);
	EXPECT_GE(ts_of(hi_s), life);
	EXPECT_NE(0, w->gone);
	EXPECT_LE(ts_of(w->seen) - 20 * MSEC, (long long)d->ts_ns);
	EXPECT_GE(ts_of(w->gone) + 20 * MSEC, (long long)d->ts_ns);
	EXPECT_GE(MSEC, llabs((long long)(d->ts_ns - b->ts_ns) - life));
	EXPECT_EQ(0, d->flags & (TWTRACE_F_BORN_BEFORE_LOAD |
				 TWTRACE_F_UNTRACKED));
}

FIXTURE(expiry) {
	struct tw_recs rs;
	unsigned int ns;
};

FIXTURE_SETUP(expiry)
{
	begin(_metadata, &self->rs, &self->ns);
}

FIXTURE_TEARDOWN(expiry)
{
	tw_recs_free(&self->rs);
}

/*
 * One wait for all: an IPv4 and an IPv6 TIME_WAIT socket and, with
 * tcp_fin_timeout=2, a FIN_WAIT2-substate one.  FIN_WAIT2 dies after
 * 1.5..4.5 s with fin_wait2_ns == lifetime; TIME_WAIT after 60..63 s (the
 * timer wheel rounds 60 s up by up to 2 s).  Death timestamps fall where
 * the kernel's /proc/net/tcp rows disappear; a rearm's timestamp plus the
 * kernel's own time left (/proc/net/tcp) is 60 s; death_expired and the
 * expired lifetime histogram grow by exactly 3, in the right buckets.
 * On a loaded machine the kernel's timers themselves run late (95 s
 * lifetimes were seen on the debug kernel): the upper bounds grow by the
 * time the kernel's own rows stayed listed past due (watch_late()), and
 * the waits go on while the kernel says a timer is overdue; the death must
 * still fall where the kernel's rows disappear.
 */
TEST_F_TIMEOUT(expiry, time_wait_v4_v6_and_fin_wait2, 600)
{
	long long h0[TWTRACE_HIST_BUCKETS], h1[TWTRACE_HIST_BUCKETS];
	long long want[TWTRACE_HIST_BUCKETS] = { 0 };
	struct twtrace_record ba, bb, bc, da, db, dc;
	const struct twtrace_record *r;
	struct tw_conn ka, kb, kc;
	struct watch wa, wb, wc;
	struct tw_stats s0, s1;
	struct tw_tcprow row;
	union tw_sa d4, d6;
	long long kb0, fw2;
	double t0, tc0, tc1, arm;
	int l4, l6, i;

	ASSERT_EQ(0, tw_sysctl_set("net/ipv4/tcp_fin_timeout", "2"));
	l4 = tw_listen(AF_INET, "127.0.0.1", &d4);
	l6 = tw_listen(AF_INET6, "::1", &d6);
	ASSERT_LE(0, l4);
	ASSERT_LE(0, l6);
	ASSERT_EQ(0, tw_stats_read(&s0));
	ASSERT_EQ(0, tw_hist_buckets("lifetime expired", h0));
	kb0 = tw_births_kernel();

	tc0 = tw_now();
	ASSERT_EQ(0, tw_make_fw2_tw(&kc, l4, &d4));
	tc1 = tw_now();
	ASSERT_EQ(0, tw_make_client_tw(&ka, l4, &d4, NULL));
	ASSERT_EQ(0, tw_make_client_tw(&kb, l6, &d6, NULL));
	bc = wait_birth(_metadata, &self->rs, &kc.caddr, &kc.saddr);
	ba = wait_birth(_metadata, &self->rs, &ka.caddr, &ka.saddr);
	bb = wait_birth(_metadata, &self->rs, &kb.caddr, &kb.saddr);
	EXPECT_EQ(SUB_FW2, bc.substate);
	EXPECT_EQ(2000U, bc.birth.timeo_ms);
	/* The birth happens when the ACK of the client's FIN arrives. */
	EXPECT_LE(ts_of(tc0), (long long)bc.ts_ns);
	EXPECT_GE(ts_of(tc1), (long long)bc.ts_ns);

	watch_init(&wa, &ka);
	watch_init(&wb, &kb);
	watch_init(&wc, &kc);

	/*
	 * The kernel's time left for A and B, against the module's time of
	 * the last (re)arm: the two add up to TCP_TIMEWAIT_LEN.
	 */
	usleep(100000);
	tw_recs_read(&self->rs);
	for (i = 0; i < 2; i++) {
		const struct twtrace_record *b = i ? &bb : &ba;
		const struct watch *w = i ? &wb : &wa;

		r = find_rearm(&self->rs, b->tw_id);
		if (r) {
			EXPECT_EQ(SUB_FW2, r->rearm.old_substate);
			EXPECT_EQ(SUB_TW, r->substate);
			EXPECT_EQ(60000U, r->rearm.timeo_ms);
			EXPECT_EQ(1U, r->rearms);
		}
		arm = (r ? r->ts_ns : b->ts_ns) / 1e9;
		t0 = tw_now();
		ASSERT_TRUE(tw_proc_tw_find(w->lport, w->rport, &row));
		EXPECT_EQ(SUB_TW, (int)row.st);
		TH_LOG("tw %llu: armed %.3f s ago, kernel says %.2f s left",
		       b->tw_id, t0 - arm, row.when / 100.0);
		EXPECT_GE(0.25, dabs(t0 - arm + row.when / 100.0 - 60.0));
	}

	/* C: FIN_WAIT2 with tcp_fin_timeout=2. */
	while (!wc.gone && (tw_now() < tc1 + 10 || watch_overdue(&wc))) {
		watch_poll(&wc);
		usleep(20000);
	}
	dc = wait_event(_metadata, &self->rs, TWTRACE_EV_DEATH, bc.tw_id, 5);
	check_expiry(_metadata, &bc, &dc, &wc, SUB_FW2, 1.5, 4.5);
	EXPECT_GE(MSEC, llabs((long long)dc.death.fin_wait2_ns -
			      (long long)dc.death.lifetime_ns));
	EXPECT_EQ(0U, dc.rearms);
	/* Its server end may go now: its FIN finds no socket. */
	tw_conn_close(&kc);

	/* A and B: a full TIME_WAIT. */
	while ((!wa.gone || !wb.gone) &&
	       (tw_now() < tc1 + 80 || watch_overdue(&wa) ||
		watch_overdue(&wb))) {
		watch_poll(&wa);
		watch_poll(&wb);
		usleep(50000);
	}
	da = wait_event(_metadata, &self->rs, TWTRACE_EV_DEATH, ba.tw_id, 5);
	db = wait_event(_metadata, &self->rs, TWTRACE_EV_DEATH, bb.tw_id, 5);
	check_expiry(_metadata, &ba, &da, &wa, SUB_TW, 59.99, 63);
	check_expiry(_metadata, &bb, &db, &wb, SUB_TW, 59.99, 63);
	EXPECT_EQ(4, da.family);
	EXPECT_EQ(6, db.family);
	for (i = 0; i < 2; i++) {
		const struct twtrace_record *b = i ? &bb : &ba;
		const struct twtrace_record *d = i ? &db : &da;
		const struct watch *w = i ? &wb : &wa;

		r = find_rearm(&self->rs, b->tw_id);
		arm = (r ? r->ts_ns : b->ts_ns) / 1e9;
		/* 60 s after the last arm, rounded up by the timer wheel. */
		EXPECT_LE(ts_of(arm + 59.99), (long long)d->ts_ns);
		EXPECT_GE(ts_of(arm + 62.5 + watch_late(w)), (long long)d->ts_ns);
		EXPECT_EQ(r ? 1U : 0U, d->rearms);
		/* FIN_WAIT2 from birth to the rearm (or not at all). */
		fw2 = r ? (long long)(r->ts_ns - b->ts_ns) : 0;
		EXPECT_GE(MSEC, llabs((long long)d->death.fin_wait2_ns - fw2));
	}

	ASSERT_EQ(0, tw_stats_read(&s1));
	ASSERT_EQ(0, tw_hist_buckets("lifetime expired", h1));
	want[tw_log2_bucket(da.death.lifetime_ns)]++;
	want[tw_log2_bucket(db.death.lifetime_ns)]++;
	want[tw_log2_bucket(dc.death.lifetime_ns)]++;
	TH_LOG("death_expired +%lld, TcpExt TW+TWKilled +%lld, sockstat tw %lld",
	       tw_stats_delta(&s0, &s1, "death_expired"),
	       tw_births_kernel() - kb0, tw_sockstat_tw());
	EXPECT_EQ(3, tw_stats_delta(&s0, &s1, "death_expired"));
	EXPECT_EQ(3, tw_stats_delta(&s0, &s1, "births"));
	EXPECT_EQ(3, tw_births_kernel() - kb0);
	EXPECT_EQ(0, tw_sockstat_tw());
	for (i = 0; i < TWTRACE_HIST_BUCKETS; i++) {
		EXPECT_EQ(want[i], h1[i] - h0[i])
			TH_LOG("hist lifetime expired bucket %d", i);
	}
	EXPECT_EQ(0, tw_live_read(NULL, 0, self->ns));

	tw_conn_close(&ka);
	tw_conn_close(&kb);
	close(l4);
	close(l6);
}

/* ------------------------------------------------------------------ */
/* 3. and 4. Reuse decisions: allowed and refused.                     */
/* ------------------------------------------------------------------ */

/* The one reuse record about tw @id; a copy of it. */
static struct twtrace_record get_reuse(struct __test_metadata *_metadata,
				       struct tw_recs *rs,
				       unsigned long long id)
{
	return wait_event(_metadata, rs, TWTRACE_EV_REUSE, id, 5);
}

/* net.ipv4.tcp_tw_reuse_delay (6.14+), or the 1000 ms of the seconds rule. */
static long long reuse_delay_ms(void)
{
	long long v = tw_sysctl_get("net/ipv4/tcp_tw_reuse_delay");

	return v < 0 ? 1000 : v;
}

/*
 * A reuse decision record: @reason, allowed or not, the sysctl in force,
 * the tw's own tuple, the connecting socket's (the same, towards @to),
 * its age (== the record's time since the birth record).
 */
static void check_reuse(struct __test_metadata *_metadata,
			const struct twtrace_record *u,
			const struct twtrace_record *b, int reason,
			bool allowed, int sysctl, const union tw_sa *to)
{
	size_t alen = tw_sa_addrlen(to);

	TH_LOG("reuse decision on tw %llu: %s, %s, reuse_sysctl %u, age %.3f s",
	       u->tw_id, tw_reuse_name(u->reason),
	       u->flags & TWTRACE_F_ALLOWED ? "allowed" : "refused",
	       u->reuse_sysctl, u->reuse.age_ns / 1e9);
	EXPECT_EQ(reason, u->reason)
		TH_LOG("reason %s, expected %s", tw_reuse_name(u->reason),
		       tw_reuse_name(reason));
	EXPECT_EQ(allowed, !!(u->flags & TWTRACE_F_ALLOWED));
	EXPECT_EQ(sysctl, u->reuse_sysctl);
	EXPECT_EQ(b->tw_id, u->tw_id);
	EXPECT_EQ(b->sport, u->sport);
	EXPECT_EQ(b->dport, u->dport);
	EXPECT_EQ(0, memcmp(b->saddr, u->saddr, 16));
	EXPECT_EQ(0, memcmp(b->daddr, u->daddr, 16));
	/* The connecting socket wants exactly the tw's tuple. */
	EXPECT_EQ(b->sport, u->reuse.sport);
	EXPECT_EQ(b->dport, u->reuse.dport);
	EXPECT_EQ(0, memcmp(b->saddr, u->reuse.saddr, 16));
	EXPECT_EQ(0, memcmp(b->daddr, u->reuse.daddr, 16));
	EXPECT_EQ(tw_sa_port(to), u->reuse.dport);
	EXPECT_EQ(0, memcmp(tw_sa_addr(to), u->reuse.daddr, alen));
	EXPECT_EQ(0, u->flags & TWTRACE_F_TUPLE_DIFFERS);
	EXPECT_LE((long long)(u->ts_ns - b->ts_ns) - MSEC,
		  (long long)u->reuse.age_ns);
	EXPECT_GE((long long)(u->ts_ns - b->ts_ns) + MSEC,
		  (long long)u->reuse.age_ns);
	/* The delay in force: the netns' sysctl from 6.14, else 1000 ms. */
	EXPECT_EQ(reuse_delay_ms(), (long long)u->reuse.delay_ms);
}

/*
 * Every reuse_* counter is still, except reuse_<@reason> by @n; reused
 * deaths and TcpExt TWRecycled grew by @reused.
 */
static void check_reuse_counters(struct __test_metadata *_metadata,
				 const struct tw_stats *s0,
				 long long recycled0, long long age0,
				 int reason, int n, int reused)
{
	struct tw_stats s1;
	char name[64];
	int i;

	ASSERT_EQ(0, tw_stats_read(&s1));
	snprintf(name, sizeof(name), "reuse_%s", tw_reuse_name(reason));
	TH_LOG("TcpExt TWRecycled +%lld, death_reused +%lld, %s +%lld, reuse_age hist +%lld",
	       tw_tcpext("TWRecycled") - recycled0,
	       tw_stats_delta(s0, &s1, "death_reused"), name,
	       tw_stats_delta(s0, &s1, name),
	       tw_hist_get("reuse_age", -1) - age0);
	EXPECT_EQ(reused, tw_tcpext("TWRecycled") - recycled0);
	EXPECT_EQ(reused, tw_stats_delta(s0, &s1, "death_reused"));
	for (i = 0; i < TWTRACE_REUSE_NR; i++) {
		snprintf(name, sizeof(name), "reuse_%s", tw_reuse_name(i));
		EXPECT_EQ(i == reason ? n : 0, tw_stats_delta(s0, &s1, name)) {
			TH_LOG("%s", name);
		}
	}
	EXPECT_EQ(n, tw_hist_get("reuse_age", -1) - age0);
}

/* The reuse test's netns: one ephemeral port, timestamps, @reuse. */
static void reuse_sysctls(struct __test_metadata *_metadata, const char *ts,
			  const char *reuse)
{
	ASSERT_EQ(0, tw_sysctl_set("net/ipv4/tcp_timestamps", ts));
	ASSERT_EQ(0, tw_sysctl_set("net/ipv4/tcp_tw_reuse", reuse));
	ASSERT_EQ(0, tw_sysctl_set("net/ipv4/ip_local_port_range", ONE_PORT));
}

/*
 * tcp_tw_reuse=1, one ephemeral port: a second connect() to the same
 * destination more than a second later takes the TIME_WAIT socket over.
 * connect() succeeds from the same port, the tw dies "reused", one
 * allow_reuse decision, TcpExt TWRecycled +1 == death_reused +1.
 */
static void reuse_allowed(struct __test_metadata *_metadata,
			  struct tw_recs *rs, int family)
{
	struct twtrace_record b, d, u;
	struct tw_conn k, k2;
	struct tw_stats s0;
	long long rec0, age0;
	union tw_sa dst;
	int l;

	l = tw_listen(family, tw_lo(family), &dst);
	ASSERT_LE(0, l);
	reuse_sysctls(_metadata, "1", "1");
	ASSERT_EQ(0, tw_stats_read(&s0));
	rec0 = tw_tcpext("TWRecycled");
	age0 = tw_hist_get("reuse_age", -1);

	ASSERT_EQ(0, tw_make_client_tw(&k, l, &dst, NULL));
	ASSERT_EQ(THE_PORT, tw_sa_port(&k.caddr));
	b = wait_birth(_metadata, rs, &k.caddr, &dst);
	sleep_past_one_second();

	ASSERT_EQ(0, tw_conn_open(&k2, l, &dst, NULL))
		TH_LOG("the kernel refused the reuse");
	EXPECT_EQ(THE_PORT, tw_sa_port(&k2.caddr));
	u = get_reuse(_metadata, rs, b.tw_id);
	check_reuse(_metadata, &u, &b, TWTRACE_REUSE_ALLOW_REUSE, true, 1,
		    &dst);
	EXPECT_LE(NSEC, (long long)u.reuse.age_ns);
	d = wait_event(_metadata, rs, TWTRACE_EV_DEATH, b.tw_id, 5);
	EXPECT_EQ(TWTRACE_DEATH_REUSED, d.reason)
		TH_LOG("death reason %s", tw_death_name(d.reason));
	EXPECT_EQ(0, tw_sockstat_tw());
	EXPECT_FALSE(tw_proc_tw_find(THE_PORT, tw_sa_port(&dst), NULL));
	EXPECT_FALSE(live_has(rs->netns, b.tw_id, NULL));
	check_reuse_counters(_metadata, &s0, rec0, age0,
			     TWTRACE_REUSE_ALLOW_REUSE, 1, 1);
	tw_conn_close(&k2);
	close(l);
}

TEST_F(tw, reuse_allowed_v4)
{
	reuse_allowed(_metadata, &self->rs, AF_INET);
}

TEST_F(tw, reuse_allowed_v6)
{
	reuse_allowed(_metadata, &self->rs, AF_INET6);
}

/*
 * bind(port) + connect() with tcp_tw_reuse=0, at once: the bound-port
 * path ignores the sysctl and the one-second rule.  allow_bound_port,
 * tw dies "reused", TWRecycled +1.
 */
TEST_F(tw, reuse_bound_port)
{
	struct twtrace_record b, d, u;
	struct tw_conn k, k2;
	union tw_sa dst, src;
	struct tw_stats s0;
	long long rec0, age0;
	int l;

	l = tw_listen(AF_INET, "127.0.0.1", &dst);
	ASSERT_LE(0, l);
	reuse_sysctls(_metadata, "1", "0");
	ASSERT_EQ(0, tw_sa_set(&src, AF_INET, "127.0.0.1", BOUND_PORT));
	ASSERT_EQ(0, tw_stats_read(&s0));
	rec0 = tw_tcpext("TWRecycled");
	age0 = tw_hist_get("reuse_age", -1);

	ASSERT_EQ(0, tw_make_client_tw(&k, l, &dst, &src));
	b = wait_birth(_metadata, &self->rs, &src, &dst);
	ASSERT_EQ(0, tw_conn_open(&k2, l, &dst, &src))
		TH_LOG("the kernel refused the bound-port reuse");
	u = get_reuse(_metadata, &self->rs, b.tw_id);
	check_reuse(_metadata, &u, &b, TWTRACE_REUSE_ALLOW_BOUND_PORT, true,
		    0, &dst);
	d = wait_event(_metadata, &self->rs, TWTRACE_EV_DEATH, b.tw_id, 5);
	EXPECT_EQ(TWTRACE_DEATH_REUSED, d.reason)
		TH_LOG("death reason %s", tw_death_name(d.reason));
	EXPECT_EQ(0, tw_sockstat_tw());
	check_reuse_counters(_metadata, &s0, rec0, age0,
			     TWTRACE_REUSE_ALLOW_BOUND_PORT, 1, 1);
	tw_conn_close(&k2);
	close(l);
}

/*
 * A refused reuse: connect() failed with EADDRNOTAVAIL (one port only),
 * the record says @reason and not allowed, and the tw lives on: still in
 * sockstat, /proc/net/tcp and live, no death record.
 */
static struct twtrace_record
check_refused(struct __test_metadata *_metadata, struct tw_recs *rs, int ret,
	      const struct twtrace_record *b, int reason, int sysctl,
	      const union tw_sa *to)
{
	struct twtrace_record u;

	EXPECT_EQ(-EADDRNOTAVAIL, ret)
		TH_LOG("connect(): %s", strerror(-ret));
	u = get_reuse(_metadata, rs, b->tw_id);
	check_reuse(_metadata, &u, b, reason, false, sysctl, to);
	EXPECT_TRUE(tw_proc_tw_find(b->sport, b->dport, NULL));
	EXPECT_TRUE(live_has(rs->netns, b->tw_id, NULL));
	EXPECT_EQ(0, tw_recs_count(rs, TWTRACE_EV_DEATH, -1, 0, 0,
				   b->tw_id));
	return u;
}

/*
 * tcp_timestamps=0: the tw has no timestamp, reuse is refused on both
 * paths (ephemeral with tcp_tw_reuse=1 after a second, and bound port).
 */
TEST_F(tw, refuse_no_timestamps)
{
	struct twtrace_record b1, b2;
	struct tw_conn k1, k2, kx;
	union tw_sa dst, src;
	struct tw_stats s0;
	long long rec0, age0;
	int l, ret;

	l = tw_listen(AF_INET, "127.0.0.1", &dst);
	ASSERT_LE(0, l);
	reuse_sysctls(_metadata, "0", "1");
	ASSERT_EQ(0, tw_sa_set(&src, AF_INET, "127.0.0.1", BOUND_PORT));
	ASSERT_EQ(0, tw_stats_read(&s0));
	rec0 = tw_tcpext("TWRecycled");
	age0 = tw_hist_get("reuse_age", -1);

	ASSERT_EQ(0, tw_make_client_tw(&k1, l, &dst, NULL));
	ASSERT_EQ(0, tw_make_client_tw(&k2, l, &dst, &src));
	b1 = wait_birth(_metadata, &self->rs, &k1.caddr, &dst);
	b2 = wait_birth(_metadata, &self->rs, &src, &dst);
	sleep_past_one_second();

	ret = tw_conn_open(&kx, l, &dst, NULL);
	check_refused(_metadata, &self->rs, ret, &b1,
		      TWTRACE_REUSE_REFUSE_NO_TIMESTAMPS, 1, &dst);
	ret = tw_conn_open(&kx, l, &dst, &src);
	check_refused(_metadata, &self->rs, ret, &b2,
		      TWTRACE_REUSE_REFUSE_NO_TIMESTAMPS, 1, &dst);
	EXPECT_EQ(2, tw_sockstat_tw());
	check_reuse_counters(_metadata, &s0, rec0, age0,
			     TWTRACE_REUSE_REFUSE_NO_TIMESTAMPS, 2, 0);
	close(l);
}

/* tcp_tw_reuse=0 on the ephemeral path: refused, whatever the age. */
TEST_F(tw, refuse_sysctl_off)
{
	struct twtrace_record b;
	struct tw_conn k, kx;
	struct tw_stats s0;
	long long rec0, age0;
	union tw_sa dst;
	int l, ret;

	l = tw_listen(AF_INET, "127.0.0.1", &dst);
	ASSERT_LE(0, l);
	reuse_sysctls(_metadata, "1", "0");
	ASSERT_EQ(0, tw_stats_read(&s0));
	rec0 = tw_tcpext("TWRecycled");
	age0 = tw_hist_get("reuse_age", -1);

	ASSERT_EQ(0, tw_make_client_tw(&k, l, &dst, NULL));
	b = wait_birth(_metadata, &self->rs, &k.caddr, &dst);
	sleep_past_one_second();
	ret = tw_conn_open(&kx, l, &dst, NULL);
	check_refused(_metadata, &self->rs, ret, &b,
		      TWTRACE_REUSE_REFUSE_SYSCTL_OFF, 0, &dst);
	EXPECT_EQ(1, tw_sockstat_tw());
	check_reuse_counters(_metadata, &s0, rec0, age0,
			     TWTRACE_REUSE_REFUSE_SYSCTL_OFF, 1, 0);
	close(l);
}

/* Add @ip/32 to lo, with the old ioctls and an alias label. */
static int add_lo_addr(const char *ip)
{
	struct ifreq ifr;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
	int fd, ret = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo:9");
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, ip, &sin->sin_addr);
	if (ioctl(fd, SIOCSIFADDR, &ifr))
		ret = -errno;
	inet_pton(AF_INET, "255.255.255.255", &sin->sin_addr);
	if (!ret && ioctl(fd, SIOCSIFNETMASK, &ifr))
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * tcp_tw_reuse=2 means loopback only, and only 127/8 and ::1 count: a
 * tw between 10.9.9.9 addresses (on lo!) is refused not_loopback, one
 * between 127.0.0.1 addresses is allowed (allow_reuse, tw_reuse 2).
 */
TEST_F(tw, refuse_not_loopback)
{
	struct twtrace_record bx, bl, d;
	struct tw_conn kx, kl, k2;
	union tw_sa dx, dl, srcx;
	struct tw_stats s0, s1;
	long long rec0;
	int lx, ll, ret;

	ASSERT_EQ(0, add_lo_addr("10.9.9.9"));
	lx = tw_listen(AF_INET, "10.9.9.9", &dx);
	ll = tw_listen(AF_INET, "127.0.0.1", &dl);
	ASSERT_LE(0, lx);
	ASSERT_LE(0, ll);
	reuse_sysctls(_metadata, "1", "2");
	ASSERT_EQ(0, tw_sa_set(&srcx, AF_INET, "10.9.9.9", 0));
	ASSERT_EQ(0, tw_stats_read(&s0));
	rec0 = tw_tcpext("TWRecycled");

	ASSERT_EQ(0, tw_make_client_tw(&kx, lx, &dx, &srcx));
	ASSERT_EQ(0, tw_make_client_tw(&kl, ll, &dl, NULL));
	ASSERT_EQ(THE_PORT, tw_sa_port(&kx.caddr));
	ASSERT_EQ(THE_PORT, tw_sa_port(&kl.caddr));
	bx = wait_birth(_metadata, &self->rs, &kx.caddr, &dx);
	bl = wait_birth(_metadata, &self->rs, &kl.caddr, &dl);
	sleep_past_one_second();

	ret = tw_conn_open(&k2, lx, &dx, &srcx);
	check_refused(_metadata, &self->rs, ret, &bx,
		      TWTRACE_REUSE_REFUSE_NOT_LOOPBACK, 2, &dx);

	ASSERT_EQ(0, tw_conn_open(&k2, ll, &dl, NULL))
		TH_LOG("the kernel refused the loopback reuse");
	d = get_reuse(_metadata, &self->rs, bl.tw_id);
	check_reuse(_metadata, &d, &bl, TWTRACE_REUSE_ALLOW_REUSE, true, 2,
		    &dl);
	d = wait_event(_metadata, &self->rs, TWTRACE_EV_DEATH, bl.tw_id, 5);
	EXPECT_EQ(TWTRACE_DEATH_REUSED, d.reason);

	ASSERT_EQ(0, tw_stats_read(&s1));
	TH_LOG("reuse_refuse_not_loopback +%lld, reuse_allow_reuse +%lld",
	       tw_stats_delta(&s0, &s1, "reuse_refuse_not_loopback"),
	       tw_stats_delta(&s0, &s1, "reuse_allow_reuse"));
	TH_LOG("TcpExt TWRecycled +%lld, death_reused +%lld",
	       tw_tcpext("TWRecycled") - rec0,
	       tw_stats_delta(&s0, &s1, "death_reused"));
	EXPECT_EQ(1, tw_stats_delta(&s0, &s1, "reuse_refuse_not_loopback"));
	EXPECT_EQ(1, tw_stats_delta(&s0, &s1, "reuse_allow_reuse"));
	EXPECT_EQ(2, tw_stats_delta_sum(&s0, &s1, "reuse_"));
	EXPECT_EQ(1, tw_tcpext("TWRecycled") - rec0);
	EXPECT_EQ(1, tw_stats_delta(&s0, &s1, "death_reused"));
	EXPECT_EQ(1, tw_sockstat_tw());
	tw_conn_close(&k2);
	close(lx);
	close(ll);
}

/*
 * The one-second rule: a reconnect within the second of the tw's last
 * timestamped segment is refused too_recent.  The test aligns itself on
 * a CLOCK_MONOTONIC second (the kernel's ktime_get_seconds()) and tries
 * again, with a new destination, if TCG was too slow to stay inside it.
 */
TEST_F(tw, refuse_too_recent)
{
	struct twtrace_record b, u;
	struct tw_conn k, kx;
	union tw_sa dst[4];
	struct tw_stats s0;
	long long rec0, age0;
	int l[4], i, ret;
	double t0, t1;

	/* Listeners first: listen() needs more than the one port. */
	for (i = 0; i < 4; i++) {
		l[i] = tw_listen(AF_INET, "127.0.0.1", &dst[i]);
		ASSERT_LE(0, l[i]);
	}
	reuse_sysctls(_metadata, "1", "1");
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, tw_stats_read(&s0));
		rec0 = tw_tcpext("TWRecycled");
		age0 = tw_hist_get("reuse_age", -1);
		/* Start 50 ms into a second. */
		t0 = tw_now();
		usleep((1.05 - (t0 - (long long)t0)) * 1e6);
		t0 = tw_now();
		ASSERT_EQ(0, tw_make_client_tw(&k, l[i], &dst[i], NULL));
		ret = tw_conn_open(&kx, l[i], &dst[i], NULL);
		t1 = tw_now();
		if ((long long)t0 == (long long)t1 &&
		    t1 - (long long)t1 < 0.95)
			break;
		TH_LOG("took %.3f s from %.3f, across a second: again",
		       t1 - t0, t0);
		tw_conn_close(&kx);
	}
	ASSERT_GT(4, i);
	b = wait_birth(_metadata, &self->rs, &k.caddr, &dst[i]);
	u = check_refused(_metadata, &self->rs, ret, &b,
			  TWTRACE_REUSE_REFUSE_TOO_RECENT, 1, &dst[i]);
	EXPECT_GT(NSEC, (long long)u.reuse.age_ns);
	check_reuse_counters(_metadata, &s0, rec0, age0,
			     TWTRACE_REUSE_REFUSE_TOO_RECENT, 1, 0);
	for (i = 0; i < 4; i++)
		close(l[i]);
}

/*
 * 6.14's rule: with tcp_tw_reuse_delay at its maximum, 60000 ms, a
 * reconnect 1.3 s after the tw's birth is refused by the kernel (the
 * seconds rule of older kernels would have allowed it): refuse_too_recent,
 * with the delay in force, 60000 ms, and an age over a second.  (Before
 * twtrace knew the rule, it said refuse_dying here.)
 */
TEST_F(tw, refuse_too_recent_reuse_delay)
{
	struct twtrace_record b, u;
	struct tw_conn k, kx;
	struct tw_stats s0;
	long long rec0, age0;
	union tw_sa dst;
	int l, ret;

	if (tw_sysctl_get("net/ipv4/tcp_tw_reuse_delay") < 0)
		SKIP(return,
		     "no net.ipv4.tcp_tw_reuse_delay: it came in 6.14, before which the rule is the seconds clock (refuse_too_recent)");
	l = tw_listen(AF_INET, "127.0.0.1", &dst);
	ASSERT_LE(0, l);
	reuse_sysctls(_metadata, "1", "1");
	ASSERT_EQ(0, tw_sysctl_set("net/ipv4/tcp_tw_reuse_delay", "60000"));
	ASSERT_EQ(0, tw_stats_read(&s0));
	rec0 = tw_tcpext("TWRecycled");
	age0 = tw_hist_get("reuse_age", -1);
	ASSERT_EQ(0, tw_make_client_tw(&k, l, &dst, NULL));
	b = wait_birth(_metadata, &self->rs, &k.caddr, &dst);
	sleep_past_one_second();
	usleep(200000);

	ret = tw_conn_open(&kx, l, &dst, NULL);
	u = check_refused(_metadata, &self->rs, ret, &b,
			  TWTRACE_REUSE_REFUSE_TOO_RECENT, 1, &dst);
	EXPECT_EQ(60000U, u.reuse.delay_ms);
	EXPECT_LT(NSEC, (long long)u.reuse.age_ns);
	check_reuse_counters(_metadata, &s0, rec0, age0,
			     TWTRACE_REUSE_REFUSE_TOO_RECENT, 1, 0);
	tw_conn_close(&k);
	close(l);
}

/*
 * A tw still in the FIN_WAIT2 substate (the server never closed) is not
 * reusable even with tcp_tw_reuse=1: refuse_fin_wait2, substate 5.
 */
TEST_F(tw, refuse_fin_wait2)
{
	struct twtrace_record b, u;
	struct tw_conn k, kx;
	struct tw_stats s0;
	long long rec0, age0;
	union tw_sa dst;
	int l, ret;

	l = tw_listen(AF_INET, "127.0.0.1", &dst);
	ASSERT_LE(0, l);
	reuse_sysctls(_metadata, "1", "1");
	ASSERT_EQ(0, tw_stats_read(&s0));
	rec0 = tw_tcpext("TWRecycled");
	age0 = tw_hist_get("reuse_age", -1);

	ASSERT_EQ(0, tw_make_fw2_tw(&k, l, &dst));
	b = wait_birth(_metadata, &self->rs, &k.caddr, &dst);
	EXPECT_EQ(SUB_FW2, b.substate);
	sleep_past_one_second();
	ret = tw_conn_open(&kx, l, &dst, NULL);
	u = check_refused(_metadata, &self->rs, ret, &b,
			  TWTRACE_REUSE_REFUSE_FIN_WAIT2, 1, &dst);
	EXPECT_EQ(SUB_FW2, u.substate);
	check_reuse_counters(_metadata, &s0, rec0, age0,
			     TWTRACE_REUSE_REFUSE_FIN_WAIT2, 1, 0);
	tw_conn_close(&k);
	close(l);
}

/* ------------------------------------------------------------------ */
/* 5. RST received.                                                    */
/* ------------------------------------------------------------------ */

/*
 * Client close(), then the server aborts (SO_LINGER {1, 0} + close()):
 * its RST kills the FIN_WAIT2-substate tw.  The kernel counts the one RST
 * it sent (Tcp OutRsts, TcpExt TCPAbortOnData) and the tw is gone from
 * sockstat and /proc/net/tcp; death rst_received, substate 5.
 */
static void rst_received_fw2(struct __test_metadata *_metadata,
			     struct tw_recs *rs, int family)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	long long rst0, abort0, n0;
	struct twtrace_record b, d;
	union tw_sa dst;
	struct tw_conn k;
	int l;

	l = tw_listen(family, tw_lo(family), &dst);
	ASSERT_LE(0, l);
	ASSERT_EQ(0, tw_make_fw2_tw(&k, l, &dst));
	b = wait_birth(_metadata, rs, &k.caddr, &dst);
	n0 = tw_stat("death_rst_received");
	rst0 = tw_snmp("Tcp", "OutRsts");
	abort0 = tw_tcpext("TCPAbortOnData");

	ASSERT_EQ(0, setsockopt(k.a, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
	close(k.a);
	k.a = -1;
	d = wait_event(_metadata, rs, TWTRACE_EV_DEATH, b.tw_id, 5);
	TH_LOG("death %s, Tcp OutRsts +%lld, TCPAbortOnData +%lld, sockstat tw %lld",
	       tw_death_name(d.reason), tw_snmp("Tcp", "OutRsts") - rst0,
	       tw_tcpext("TCPAbortOnData") - abort0, tw_sockstat_tw());
	EXPECT_EQ(TWTRACE_DEATH_RST_RECEIVED, d.reason);
	EXPECT_EQ(SUB_FW2, d.substate);
	EXPECT_GE(MSEC, llabs((long long)d.death.fin_wait2_ns -
			      (long long)d.death.lifetime_ns));
	EXPECT_EQ(1, tw_snmp("Tcp", "OutRsts") - rst0);
	EXPECT_EQ(1, tw_tcpext("TCPAbortOnData") - abort0);
	EXPECT_EQ(0, tw_sockstat_tw());
	EXPECT_FALSE(tw_proc_tw_find(b.sport, b.dport, NULL));
	EXPECT_EQ(1, tw_stat("death_rst_received") - n0);
	close(l);
}

TEST_F(tw, rst_received_fin_wait2_v4)
{
	rst_received_fw2(_metadata, &self->rs, AF_INET);
}

TEST_F(tw, rst_received_fin_wait2_v6)
{
	rst_received_fw2(_metadata, &self->rs, AF_INET6);
}

/* A packet socket on lo: every IPv4 packet that lo receives. */
static int capture_open(void)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_IP),
		.sll_ifindex = if_nametoindex("lo"),
	};
	int fd;

	fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    htons(ETH_P_IP));
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll))) {
		close(fd);
		return -errno;
	}
	return fd;
}

struct seen {
	bool fin;
	__u32 fin_end;		/* sequence number after the FIN */
	int rsts;
	__u32 rst_seq;
};

static __u32 get32(const unsigned char *p)
{
	return (__u32)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

/* Read what the capture holds: TCP segments @sport -> @dport. */
static void capture_scan(int fd, unsigned int sport, unsigned int dport,
			 struct seen *s)
{
	unsigned char p[2048], *t;
	unsigned int ihl, doff, len;
	ssize_t n;

	while ((n = recv(fd, p, sizeof(p), 0)) > 0) {
		if (n < 20 || (p[0] >> 4) != 4 || p[9] != IPPROTO_TCP)
			continue;
		ihl = (p[0] & 15) * 4;
		len = p[2] << 8 | p[3];
		if (len > n || ihl + 20 > len)
			continue;
		t = p + ihl;
		doff = (t[12] >> 4) * 4;
		if ((unsigned int)(t[0] << 8 | t[1]) != sport ||
		    (unsigned int)(t[2] << 8 | t[3]) != dport)
			continue;
		if (t[13] & 0x01) {		/* FIN */
			s->fin = true;
			s->fin_end = get32(t + 4) + (len - ihl - doff) + 1;
		}
		if (t[13] & 0x04) {		/* RST */
			s->rsts++;
			s->rst_seq = get32(t + 4);
		}
	}
}

static __u16 csum_fold(__u32 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

/* A bare RST @from -> @to with sequence number @seq, by a raw socket. */
static int inject_rst4(const struct sockaddr_in *from,
		       const struct sockaddr_in *to, __u32 seq)
{
	unsigned char t[20] = { 0 };
	const unsigned char *sa = (const unsigned char *)&from->sin_addr;
	const unsigned char *da = (const unsigned char *)&to->sin_addr;
	__u32 sum = 0;
	__u16 c;
	int fd, i, ret = 0;

	memcpy(t, &from->sin_port, 2);
	memcpy(t + 2, &to->sin_port, 2);
	t[4] = seq >> 24;
	t[5] = seq >> 16;
	t[6] = seq >> 8;
	t[7] = seq;
	t[12] = 5 << 4;
	t[13] = 0x04;
	/* Pseudo header: addresses, protocol, length; then the segment. */
	for (i = 0; i < 4; i += 2)
		sum += (sa[i] << 8 | sa[i + 1]) + (da[i] << 8 | da[i + 1]);
	sum += IPPROTO_TCP + sizeof(t);
	for (i = 0; i < (int)sizeof(t); i += 2)
		sum += t[i] << 8 | t[i + 1];
	c = csum_fold(sum);
	t[16] = c >> 8;
	t[17] = c;

	fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0)
		return -errno;
	if (bind(fd, (const struct sockaddr *)from, sizeof(*from)) ||
	    sendto(fd, t, sizeof(t), 0, (const struct sockaddr *)to,
		   sizeof(*to)) != sizeof(t))
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * An RST into a TIME_WAIT-substate tw, with seq == the tw's rcv_nxt (read
 * off the server's FIN with a packet socket), injected by a raw socket:
 * with tcp_rfc1337=1 the tw ignores it and lives on (sockstat, the
 * kernel's row, live, no death, no rearm); then with tcp_rfc1337=0 the
 * same RST kills it: death rst_received, substate 6.
 */
TEST_F(tw, rst_received_time_wait_rfc1337)
{
	struct twtrace_record b, d;
	struct tw_live l0, l1;
	struct seen seen = { 0 };
	struct sockaddr_in from;
	struct tw_conn k;
	union tw_sa dst;
	long long n0;
	int l, cap;

	cap = capture_open();
	ASSERT_LE(0, cap) TH_LOG("packet socket: %s", strerror(-cap));
	l = tw_listen(AF_INET, "127.0.0.1", &dst);
	ASSERT_LE(0, l);
	ASSERT_EQ(0, tw_make_client_tw(&k, l, &dst, NULL));
	b = wait_birth(_metadata, &self->rs, &k.caddr, &dst);
	capture_scan(cap, b.dport, b.sport, &seen);
	ASSERT_TRUE(seen.fin) TH_LOG("did not see the server's FIN");
	ASSERT_TRUE(live_has(self->ns, b.tw_id, &l0));
	ASSERT_EQ(SUB_TW, l0.substate);
	n0 = tw_stat("death_rst_received");
	from = dst.v4;

	ASSERT_EQ(0, tw_sysctl_set("net/ipv4/tcp_rfc1337", "1"));
	ASSERT_EQ(0, inject_rst4(&from, &k.caddr.v4, seen.fin_end));
	ASSERT_TRUE(tw_wait_until((capture_scan(cap, b.dport, b.sport,
						&seen), seen.rsts == 1), 5));
	EXPECT_EQ(seen.fin_end, seen.rst_seq);
	usleep(500000);
	tw_recs_read(&self->rs);
	TH_LOG("rfc1337=1: RST seq %u seen on lo, sockstat tw %lld",
	       seen.rst_seq, tw_sockstat_tw());
	EXPECT_EQ(1, tw_sockstat_tw());
	EXPECT_TRUE(tw_proc_tw_find(b.sport, b.dport, NULL));
	ASSERT_TRUE(live_has(self->ns, b.tw_id, &l1));
	EXPECT_EQ(l0.rearms, l1.rearms);
	EXPECT_EQ(0, tw_recs_count(&self->rs, TWTRACE_EV_DEATH, -1, 0, 0,
				   b.tw_id));
	EXPECT_EQ(0, tw_stat("death_rst_received") - n0);

	ASSERT_EQ(0, tw_sysctl_set("net/ipv4/tcp_rfc1337", "0"));
	ASSERT_EQ(0, inject_rst4(&from, &k.caddr.v4, seen.fin_end));
	d = wait_event(_metadata, &self->rs, TWTRACE_EV_DEATH, b.tw_id, 5);
	capture_scan(cap, b.dport, b.sport, &seen);
	TH_LOG("rfc1337=0: RSTs seen %d, death %s, sockstat tw %lld",
	       seen.rsts, tw_death_name(d.reason), tw_sockstat_tw());
	EXPECT_EQ(2, seen.rsts);
	EXPECT_EQ(TWTRACE_DEATH_RST_RECEIVED, d.reason);
	EXPECT_EQ(SUB_TW, d.substate);
	EXPECT_EQ(0, tw_sockstat_tw());
	EXPECT_FALSE(tw_proc_tw_find(b.sport, b.dport, NULL));
	EXPECT_EQ(1, tw_stat("death_rst_received") - n0);
	close(cap);
	close(l);
}

/* ------------------------------------------------------------------ */
/* 6. SYN recycled, 7. RST sent.                                       */
/* ------------------------------------------------------------------ */

/*
 * The server closes first, so the tw is on the server's side; the client
 * connects again from the same port to the still listening server.  The
 * SYN takes the tw over: connect() succeeds, the server accepts, the tw
 * leaves sockstat and /proc/net/tcp; death syn_recycled.
 */
static void syn_recycled(struct __test_metadata *_metadata,
			 struct tw_recs *rs, int family)
{
	struct twtrace_record b, d;
	struct tw_conn k, k2;
	union tw_sa dst, src;
	long long n0;
	int l, ret;

	l = tw_listen(family, tw_lo(family), &dst);
	ASSERT_LE(0, l);
	ASSERT_EQ(0, make_server_tw(&k, l, &dst));
	b = wait_birth(_metadata, rs, &k.saddr, &k.caddr);
	EXPECT_EQ(tw_sa_port(&dst), b.sport);
	src = k.caddr;
	n0 = tw_stat("death_syn_recycled");

	/* The client's old socket may still hold the port for a moment. */
	tw_wait_until((ret = tw_conn_open(&k2, l, &dst, &src)) != -EADDRINUSE,
		      3);
	ASSERT_EQ(0, ret) TH_LOG("reconnect: %s", strerror(-ret));
	EXPECT_EQ(tw_sa_port(&src), tw_sa_port(&k2.caddr));
	d = wait_event(_metadata, rs, TWTRACE_EV_DEATH, b.tw_id, 5);
	TH_LOG("death %s, sockstat tw %lld", tw_death_name(d.reason),
	       tw_sockstat_tw());
	EXPECT_EQ(TWTRACE_DEATH_SYN_RECYCLED, d.reason);
	EXPECT_EQ(SUB_TW, d.substate);
	EXPECT_EQ(0, tw_sockstat_tw());
	EXPECT_FALSE(tw_proc_tw_find(b.sport, b.dport, NULL));
	EXPECT_EQ(1, tw_stat("death_syn_recycled") - n0);
	tw_conn_close(&k2);
	close(l);
}

TEST_F(tw, syn_recycled_v4)
{
	syn_recycled(_metadata, &self->rs, AF_INET);
}

TEST_F(tw, syn_recycled_v6)
{
	syn_recycled(_metadata, &self->rs, AF_INET6);
}

/*
 * Client close(), then the server write()s: new data into a
 * FIN_WAIT2-substate tw make it answer with an RST and die.  Tcp OutRsts
 * +1, the server's socket is reset (SO_ERROR EPIPE: the kernel's answer to
 * an RST in CLOSE_WAIT), death rst_sent.
 */
static void rst_sent(struct __test_metadata *_metadata, struct tw_recs *rs,
		     int family)
{
	struct twtrace_record b, d;
	socklen_t len = sizeof(int);
	long long rst0, n0;
	struct tw_conn k;
	union tw_sa dst;
	int l, err = 0;
	char c = 'x';

	l = tw_listen(family, tw_lo(family), &dst);
	ASSERT_LE(0, l);
	ASSERT_EQ(0, tw_make_fw2_tw(&k, l, &dst));
	b = wait_birth(_metadata, rs, &k.caddr, &dst);
	n0 = tw_stat("death_rst_sent");
	rst0 = tw_snmp("Tcp", "OutRsts");

	ASSERT_EQ(1, write(k.a, &c, 1));
	d = wait_event(_metadata, rs, TWTRACE_EV_DEATH, b.tw_id, 5);
	ASSERT_EQ(0, getsockopt(k.a, SOL_SOCKET, SO_ERROR, &err, &len));
	TH_LOG("death %s, Tcp OutRsts +%lld, server SO_ERROR: %s",
	       tw_death_name(d.reason), tw_snmp("Tcp", "OutRsts") - rst0,
	       strerror(err));
	EXPECT_EQ(TWTRACE_DEATH_RST_SENT, d.reason);
	EXPECT_EQ(SUB_FW2, d.substate);
	EXPECT_EQ(1, tw_snmp("Tcp", "OutRsts") - rst0);
	EXPECT_EQ(EPIPE, err);
	EXPECT_EQ(0, tw_sockstat_tw());
	EXPECT_FALSE(tw_proc_tw_find(b.sport, b.dport, NULL));
	EXPECT_EQ(1, tw_stat("death_rst_sent") - n0);
	tw_conn_close(&k);
	close(l);
}

TEST_F(tw, rst_sent_v4)
{
	rst_sent(_metadata, &self->rs, AF_INET);
}

TEST_F(tw, rst_sent_v6)
{
	rst_sent(_metadata, &self->rs, AF_INET6);
}

/* ------------------------------------------------------------------ */
/* 8. netns purge.                                                     */
/* ------------------------------------------------------------------ */

struct purge_report {
	unsigned int ns;
	long long sockstat, kernel_births;
	int made;
};

/*
 * A child makes TWs in a netns of its own and exits; the namespace goes
 * and takes them along.  Every birth of that netns ends in a
 * netns_purge death (within 30 s: cleanup_net is asynchronous), as many
 * as the child's sockstat tw and TcpExt TW+TWKilled said, death_netns_purge
 * grows by as much, and live keeps no line of the namespace.
 */
TEST_F_TIMEOUT(tw, netns_purge, 90)
{
	struct purge_report rep = { 0 };
	struct tw_stats s0, s1;
	struct tw_recs rs;
	int pfd[2], status, i, n;
	size_t j;
	pid_t pid;

	ASSERT_EQ(0, tw_stats_read(&s0));
	ASSERT_EQ(0, pipe(pfd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		union tw_sa d4, d6;
		struct tw_conn k;
		int l4, l6;

		close(pfd[0]);
		if (tw_netns_new())
			_exit(1);
		rep.ns = tw_netns_inum();
		l4 = tw_listen(AF_INET, "127.0.0.1", &d4);
		l6 = tw_listen(AF_INET6, "::1", &d6);
		if (l4 < 0 || l6 < 0)
			_exit(1);
		for (i = 0; i < 6; i++)
			if (!tw_make_client_tw(&k, i < 4 ? l4 : l6,
					       i < 4 ? &d4 : &d6, NULL))
				rep.made++;
		rep.sockstat = tw_sockstat_tw();
		rep.kernel_births = tw_births_kernel();
		close(l4);
		close(l6);
		if (write(pfd[1], &rep, sizeof(rep)) != sizeof(rep))
			_exit(1);
		_exit(0);
	}
	close(pfd[1]);
	n = read(pfd[0], &rep, sizeof(rep));
	close(pfd[0]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ((int)sizeof(rep), n);
	ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	TH_LOG("child netns %u made %d, sockstat tw %lld, TcpExt TW+TWKilled %lld",
	       rep.ns, rep.made, rep.sockstat, rep.kernel_births);
	ASSERT_EQ(6, rep.made);
	EXPECT_EQ(6, rep.sockstat);
	EXPECT_EQ(6, rep.kernel_births);

	tw_recs_init(&rs, rep.ns);
	tw_wait_until((tw_recs_read(&rs),
		       tw_recs_count(&rs, TWTRACE_EV_DEATH, -1, 0, 0, 0) >= 6),
		      30);
	usleep(100000);
	tw_recs_read(&rs);
	ASSERT_EQ(0, tw_stats_read(&s1));
	TH_LOG("births %d, netns_purge deaths %d (all deaths %d), death_netns_purge +%lld",
	       tw_recs_count(&rs, TWTRACE_EV_BIRTH, -1, 0, 0, 0),
	       tw_recs_count(&rs, TWTRACE_EV_DEATH,
			     TWTRACE_DEATH_NETNS_PURGE, 0, 0, 0),
	       tw_recs_count(&rs, TWTRACE_EV_DEATH, -1, 0, 0, 0),
	       tw_stats_delta(&s0, &s1, "death_netns_purge"));
	EXPECT_EQ(rep.sockstat,
		  tw_recs_count(&rs, TWTRACE_EV_BIRTH, -1, 0, 0, 0));
	EXPECT_EQ(rep.sockstat,
		  tw_recs_count(&rs, TWTRACE_EV_DEATH,
				TWTRACE_DEATH_NETNS_PURGE, 0, 0, 0));
	EXPECT_EQ(rep.sockstat,
		  tw_recs_count(&rs, TWTRACE_EV_DEATH, -1, 0, 0, 0));
	EXPECT_EQ(rep.sockstat,
		  tw_stats_delta(&s0, &s1, "death_netns_purge"));
	EXPECT_EQ(rep.sockstat, tw_stats_delta(&s0, &s1, "births"));
	for (j = 0; j < rs.n; j++)
		if (rs.v[j].r.type == TWTRACE_EV_BIRTH)
			EXPECT_EQ(1, tw_recs_count(&rs, TWTRACE_EV_DEATH,
						   TWTRACE_DEATH_NETNS_PURGE,
						   0, 0, rs.v[j].r.tw_id));
	EXPECT_EQ(0, tw_live_read(NULL, 0, rep.ns));
	EXPECT_FALSE(tw_netns_in_use(rep.ns));
	tw_recs_free(&rs);
}

/* ------------------------------------------------------------------ */
/* 9. Admin destroy: SOCK_DESTROY over NETLINK_SOCK_DIAG.              */
/* ------------------------------------------------------------------ */

/*
 * ss -K for a TIME_WAIT socket: dump it by SOCK_DIAG_BY_FAMILY, destroy
 * it by exact 4-tuple and cookie.  The kernel acks 0, the tw leaves the
 * dump and sockstat, a second destroy finds nothing (ENOENT); death
 * admin_destroyed, death_admin_destroyed +2 for IPv4 and IPv6.
 */
TEST_F(tw, admin_destroyed)
{
	struct inet_diag_sockid id;
	struct twtrace_record b, d;
	unsigned char state;
	struct tw_conn k;
	union tw_sa dst;
	long long n0;
	int f, l, ret;

	ret = tw_load_kmod("inet_diag");
	if (!ret)
		ret = tw_load_kmod("tcp_diag");
	/* No module file: fine if the kernel has them built in. */
	if (ret == -ENOENT && tw_tcp_diag_answers())
		ret = 0;
	if (ret)
		SKIP(return, "inet_diag/tcp_diag not loadable: %s",
		     strerror(-ret));
	n0 = tw_stat("death_admin_destroyed");

	for (f = 0; f < 2; f++) {
		int family = f ? AF_INET6 : AF_INET;

		l = tw_listen(family, tw_lo(family), &dst);
		ASSERT_LE(0, l);
		ASSERT_EQ(0, tw_make_client_tw(&k, l, &dst, NULL));
		b = wait_birth(_metadata, &self->rs, &k.caddr, &dst);
		ret = tw_diag_find_tw(family, &k.caddr, &dst, &id, &state);
		ASSERT_EQ(1, ret) TH_LOG("sock_diag dump: %d", ret);
		EXPECT_EQ(SUB_TW, state);

		ret = tw_diag_destroy(family, &id);
		if (!tw_abort_kills_tw()) {
			/* The kernel refuses: the tw lives on, undying. */
			EXPECT_EQ(-EOPNOTSUPP, ret);
			usleep(200000);
			EXPECT_EQ(1, tw_diag_find_tw(family, &k.caddr, &dst,
						     &id, &state));
			EXPECT_TRUE(live_has(self->ns, b.tw_id, NULL));
			tw_recs_read(&self->rs);
			EXPECT_EQ(0, tw_recs_count(&self->rs, TWTRACE_EV_DEATH,
						   -1, 0, 0, b.tw_id));
			close(l);
			continue;
		}
		EXPECT_EQ(0, ret) TH_LOG("SOCK_DESTROY: %s", strerror(-ret));
		d = wait_event(_metadata, &self->rs, TWTRACE_EV_DEATH,
			       b.tw_id, 5);
		TH_LOG("IPv%d: death %s, sockstat tw %lld", b.family,
		       tw_death_name(d.reason), tw_sockstat_tw());
		EXPECT_EQ(TWTRACE_DEATH_ADMIN_DESTROYED, d.reason);
		EXPECT_EQ(0, tw_sockstat_tw());
		EXPECT_EQ(0, tw_diag_find_tw(family, &k.caddr, &dst, &id,
					     &state));
		EXPECT_EQ(-ENOENT, tw_diag_destroy(family, &id));
		EXPECT_FALSE(live_has(self->ns, b.tw_id, NULL));
		close(l);
	}
	if (!tw_abort_kills_tw()) {
		EXPECT_EQ(0, tw_stat("death_admin_destroyed") - n0);
		SKIP(return,
		     "tcp_abort() kills TIME_WAIT sockets from 6.0 on: this kernel refused (checked), so no admin_destroyed death");
	}
	EXPECT_EQ(2, tw_stat("death_admin_destroyed") - n0);
}

/* ------------------------------------------------------------------ */
/* 10. Overflow: tcp_max_tw_buckets.                                   */
/* ------------------------------------------------------------------ */

/*
 * The records of an overflow test: each birth is one of @born[0..nborn),
 * each overflow says @reason, @limit and the netns, and is one of
 * @lost[0..4), each of which gets exactly one.  With reason "limit" the
 * count had reached the limit, with "nomem" it had not.
 */
static void check_overflow_recs(struct __test_metadata *_metadata,
				const struct tw_recs *rs, unsigned int ns,
				const struct tw_conn *born, int nborn,
				const struct tw_conn *lost,
				unsigned int reason, long long limit)
{
	int seen[4] = { 0 }, j;
	size_t m;

	for (m = 0; m < rs->n; m++) {
		const struct twtrace_record *r = &rs->v[m].r;
		bool mine = false;

		if (r->type == TWTRACE_EV_BIRTH) {
			for (j = 0; j < nborn; j++)
				mine |= tw_rec_tuple_is(r, &born[j].caddr,
							&born[j].saddr);
			EXPECT_TRUE(mine);
			continue;
		}
		if (r->type != TWTRACE_EV_OVERFLOW)
			continue;
		TH_LOG("overflow: %s, IPv%u port %u, tw_count %u, tw_limit %u",
		       tw_overflow_name(r->reason), r->family, r->sport,
		       r->overflow.tw_count, r->overflow.tw_limit);
		EXPECT_EQ(reason, r->reason);
		EXPECT_EQ((unsigned long long)limit, r->overflow.tw_limit);
		EXPECT_EQ(reason == TWTRACE_OVERFLOW_LIMIT,
			  r->overflow.tw_count >= r->overflow.tw_limit);
		EXPECT_EQ(ns, r->netns);
		for (j = 0; j < 4; j++)
			if (tw_rec_tuple_is(r, &lost[j].caddr, &lost[j].saddr))
				seen[j]++;
	}
	/* One record for each connection that got no tw. */
	for (j = 0; j < 4; j++)
		EXPECT_EQ(1, seen[j]) TH_LOG("connection %d", j);
}

/*
 * tcp_max_tw_buckets=2 in the netns, six client-closed connections (three
 * IPv4, three IPv6): two births, four overflows.  Overflow records ==
 * TcpExt TCPTimeWaitOverflow growth == overflow_limit growth; each says
 * limit, tw_limit == the sysctl, tw_count >= tw_limit, and carries the
 * tuple of one of the last four connections.
 */
TEST_F(tw, overflow_limit)
{
	struct tw_conn k[6];
	union tw_sa d4, d6;
	struct tw_stats s0, s1;
	long long ovf0;
	int l4, l6, i, n;

	l4 = tw_listen(AF_INET, "127.0.0.1", &d4);
	l6 = tw_listen(AF_INET6, "::1", &d6);
	ASSERT_LE(0, l4);
	ASSERT_LE(0, l6);
	ASSERT_EQ(0, tw_sysctl_set("net/ipv4/tcp_max_tw_buckets", "2"));
	ASSERT_EQ(2, tw_sysctl_get("net/ipv4/tcp_max_tw_buckets"));
	ASSERT_EQ(0, tw_stats_read(&s0));
	ovf0 = tw_tcpext("TCPTimeWaitOverflow");

	for (i = 0; i < 6; i++) {
		ASSERT_EQ(0, tw_conn_open(&k[i], i % 2 ? l6 : l4,
					  i % 2 ? &d6 : &d4, NULL));
		tw_conn_close_client_first(&k[i]);
		/* Each close ends in a TW or an overflow, one at a time. */
		tw_wait_until(tw_sockstat_tw() + tw_tcpext("TCPTimeWaitOverflow") -
			      ovf0 >= i + 1, 5);
	}
	tw_wait_until((tw_recs_read(&self->rs),
		       tw_recs_count(&self->rs, TWTRACE_EV_OVERFLOW, -1, 0, 0,
				     0) >= 4), 5);
	usleep(100000);
	tw_recs_read(&self->rs);
	ASSERT_EQ(0, tw_stats_read(&s1));
	n = tw_recs_count(&self->rs, TWTRACE_EV_OVERFLOW, -1, 0, 0, 0);
	TH_LOG("TcpExt TCPTimeWaitOverflow +%lld, overflow records %d",
	       tw_tcpext("TCPTimeWaitOverflow") - ovf0, n);
	TH_LOG("overflow_limit +%lld, births +%lld, sockstat tw %lld",
	       tw_stats_delta(&s0, &s1, "overflow_limit"),
	       tw_stats_delta(&s0, &s1, "births"), tw_sockstat_tw());
	EXPECT_EQ(4, tw_tcpext("TCPTimeWaitOverflow") - ovf0);
	EXPECT_EQ(tw_tcpext("TCPTimeWaitOverflow") - ovf0, n);
	EXPECT_EQ(n, tw_stats_delta(&s0, &s1, "overflow_limit"));
	EXPECT_EQ(0, tw_stats_delta(&s0, &s1, "overflow_nomem"));
	EXPECT_EQ(2, tw_sockstat_tw());
	EXPECT_EQ(2, tw_stats_delta(&s0, &s1, "births"));
	EXPECT_EQ(2, tw_recs_count(&self->rs, TWTRACE_EV_BIRTH, -1, 0, 0, 0));

	check_overflow_recs(_metadata, &self->rs, self->ns, k, 2, &k[2],
			    TWTRACE_OVERFLOW_LIMIT, 2);
	close(l4);
	close(l6);
}

#define FAILSLAB	"/sys/kernel/debug/failslab/"
#define TW_SLAB4	"/sys/kernel/slab/tw_sock_TCP/failslab"
#define TW_SLAB6	"/sys/kernel/slab/tw_sock_TCPv6/failslab"

/* failslab off for the tw caches; the faults left to inject, or -1. */
static long long failslab_off(void)
{
	char buf[32];

	tw_write_str(FAILSLAB "probability", "0");
	tw_write_str(TW_SLAB4, "0");
	tw_write_str(TW_SLAB6, "0");
	if (tw_read_str(FAILSLAB "times", buf, sizeof(buf)))
		return -1;
	return atoll(buf);
}

/*
 * The kernel's failslab (CONFIG_FAILSLAB: the debug kernel) fails the next
 * four allocations from the tw caches, tw_sock_TCP and tw_sock_TCPv6 only:
 * four client-closed connections (two IPv4, two IPv6) get no TIME_WAIT
 * socket although the bucket limit is far.  Overflow records == TcpExt
 * TCPTimeWaitOverflow growth == overflow_nomem growth == the four faults
 * failslab counted down; each says nomem, tw_count < tw_limit == the
 * sysctl, with its connection's tuple.  The next connection gets its tw.
 */
TEST_F(tw, overflow_nomem)
{
	struct tw_conn k[5];
	union tw_sa d4, d6;
	struct tw_stats s0, s1;
	long long ovf0, limit, left;
	int l4, l6, i, n;

	if (access(FAILSLAB "times", W_OK) || access(TW_SLAB4, W_OK) ||
	    access(TW_SLAB6, W_OK))
		SKIP(return, "no failslab for the tw caches (%s)",
		     "CONFIG_FAILSLAB, the debug kernel has it");
	l4 = tw_listen(AF_INET, "127.0.0.1", &d4);
	l6 = tw_listen(AF_INET6, "::1", &d6);
	ASSERT_LE(0, l4);
	ASSERT_LE(0, l6);
	limit = tw_sysctl_get("net/ipv4/tcp_max_tw_buckets");
	ASSERT_LT(8, limit);
	ASSERT_EQ(0, tw_stats_read(&s0));
	ovf0 = tw_tcpext("TCPTimeWaitOverflow");

	/* Quiet, exactly four faults, only where the cache asks for them. */
	ASSERT_EQ(0, tw_write_str(FAILSLAB "verbose", "0"));
	ASSERT_EQ(0, tw_write_str(FAILSLAB "cache-filter", "Y"));
	ASSERT_EQ(0, tw_write_str(FAILSLAB "interval", "1"));
	ASSERT_EQ(0, tw_write_str(FAILSLAB "times", "4"));
	ASSERT_EQ(0, tw_write_str(FAILSLAB "probability", "100"));
	ASSERT_EQ(0, tw_write_str(TW_SLAB4, "1"));
	ASSERT_EQ(0, tw_write_str(TW_SLAB6, "1"));

	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, tw_conn_open(&k[i], i % 2 ? l6 : l4,
					  i % 2 ? &d6 : &d4, NULL));
		tw_conn_close_client_first(&k[i]);
		tw_wait_until(tw_tcpext("TCPTimeWaitOverflow") - ovf0 >= i + 1 ||
			      tw_sockstat_tw() > 0, 5);
	}
	left = failslab_off();
	ASSERT_EQ(0, tw_conn_open(&k[4], l4, &d4, NULL));
	tw_conn_close_client_first(&k[4]);
	tw_wait_until(tw_sockstat_tw() >= 1, 5);
	tw_wait_until((tw_recs_read(&self->rs),
		       tw_recs_count(&self->rs, TWTRACE_EV_OVERFLOW, -1, 0, 0,
				     0) >= 4 &&
		       tw_recs_count(&self->rs, TWTRACE_EV_BIRTH, -1, 0, 0,
				     0) >= 1), 5);
	ASSERT_EQ(0, tw_stats_read(&s1));
	n = tw_recs_count(&self->rs, TWTRACE_EV_OVERFLOW, -1, 0, 0, 0);
	TH_LOG("failslab faults left %lld; TcpExt TCPTimeWaitOverflow +%lld, overflow records %d",
	       left, tw_tcpext("TCPTimeWaitOverflow") - ovf0, n);
	TH_LOG("overflow_nomem +%lld, overflow_limit +%lld, births +%lld, sockstat tw %lld",
	       tw_stats_delta(&s0, &s1, "overflow_nomem"),
	       tw_stats_delta(&s0, &s1, "overflow_limit"),
	       tw_stats_delta(&s0, &s1, "births"), tw_sockstat_tw());
	EXPECT_EQ(0, left);
	EXPECT_EQ(4, tw_tcpext("TCPTimeWaitOverflow") - ovf0);
	EXPECT_EQ(4, n);
	EXPECT_EQ(4, tw_stats_delta(&s0, &s1, "overflow_nomem"));
	EXPECT_EQ(0, tw_stats_delta(&s0, &s1, "overflow_limit"));
	EXPECT_EQ(1, tw_sockstat_tw());
	EXPECT_EQ(1, tw_stats_delta(&s0, &s1, "births"));
	EXPECT_EQ(1, tw_recs_count(&self->rs, TWTRACE_EV_BIRTH, -1, 0, 0, 0));

	check_overflow_recs(_metadata, &self->rs, self->ns, &k[4], 1, k,
			    TWTRACE_OVERFLOW_NOMEM, limit);
	close(l4);
	close(l6);
}

/* ------------------------------------------------------------------ */
/* 11. The rings, 12. the controls.                                    */
/* ------------------------------------------------------------------ */

FIXTURE(ring) {
	struct tw_recs rs;
	unsigned int ns;
	char enable[32], ring_kb[32], overwrite[32];
	int l;
	union tw_sa dst;
};

FIXTURE_SETUP(ring)
{
	ASSERT_EQ(0, tw_module_ensure());
	ASSERT_EQ(0, tw_ctl_str("enable", self->enable,
				sizeof(self->enable)));
	ASSERT_EQ(0, tw_ctl_str("ring_kb", self->ring_kb,
				sizeof(self->ring_kb)));
	ASSERT_EQ(0, tw_ctl_str("overwrite", self->overwrite,
				sizeof(self->overwrite)));
	begin(_metadata, &self->rs, &self->ns);
	self->l = tw_listen(AF_INET, "127.0.0.1", &self->dst);
	ASSERT_LE(0, self->l);
}

/*
 * Put the controls back from the parent, whatever happened to the test.
 * (self is shared with the test process; its heap is not: no free.)
 */
FIXTURE_TEARDOWN_PARENT(ring)
{
	if (self->overwrite[0])
		tw_ctl_set("overwrite", self->overwrite);
	if (self->ring_kb[0])
		tw_ctl_set("ring_kb", self->ring_kb);
	if (self->enable[0])
		tw_ctl_set("enable", self->enable);
}

/*
 * One TIME_WAIT socket made on each CPU in turn, so that each CPU's ring
 * gets a record (loopback delivers in the sender's softirq).
 */
static void prime_cpus(int ncpus, int lfd, const union tw_sa *dst)
{
	struct tw_conn k;
	int c;

	for (c = 0; c < ncpus; c++) {
		tw_pin(c);
		tw_make_client_tw(&k, lfd, dst, NULL);
	}
	tw_pin(-1);
}

/* Per-type record counts against stats deltas. */
static void check_types(struct __test_metadata *_metadata,
			const struct tw_recs *rs, const struct tw_stats *s0,
			const struct tw_stats *s1)
{
	char name[64];
	int i, deaths = 0, reuses = 0, ovfs = 0;

	EXPECT_EQ(tw_stats_delta(s0, s1, "births"),
		  tw_recs_count(rs, TWTRACE_EV_BIRTH, -1, 0, 0, 0));
	EXPECT_EQ(tw_stats_delta(s0, s1, "rearms"),
		  tw_recs_count(rs, TWTRACE_EV_REARM, -1, 0, 0, 0));
	for (i = 0; i < TWTRACE_DEATH_NR; i++) {
		snprintf(name, sizeof(name), "death_%s", tw_death_name(i));
		EXPECT_EQ(tw_stats_delta(s0, s1, name),
			  tw_recs_count(rs, TWTRACE_EV_DEATH, i, 0, 0, 0)) {
			TH_LOG("%s", name);
		}
		deaths += tw_recs_count(rs, TWTRACE_EV_DEATH, i, 0, 0, 0);
	}
	for (i = 0; i < TWTRACE_REUSE_NR; i++) {
		snprintf(name, sizeof(name), "reuse_%s", tw_reuse_name(i));
		EXPECT_EQ(tw_stats_delta(s0, s1, name),
			  tw_recs_count(rs, TWTRACE_EV_REUSE, i, 0, 0, 0)) {
			TH_LOG("%s", name);
		}
		reuses += tw_recs_count(rs, TWTRACE_EV_REUSE, i, 0, 0, 0);
	}
	for (i = 0; i < TWTRACE_OVERFLOW_NR; i++) {
		snprintf(name, sizeof(name), "overflow_%s",
			 tw_overflow_name(i));
		EXPECT_EQ(tw_stats_delta(s0, s1, name),
			  tw_recs_count(rs, TWTRACE_EV_OVERFLOW, i, 0, 0,
					0)) {
			TH_LOG("%s", name);
		}
		ovfs += tw_recs_count(rs, TWTRACE_EV_OVERFLOW, i, 0, 0, 0);
	}
	EXPECT_EQ(deaths, tw_recs_count(rs, TWTRACE_EV_DEATH, -1, 0, 0, 0));
	EXPECT_EQ(reuses, tw_recs_count(rs, TWTRACE_EV_REUSE, -1, 0, 0, 0));
	EXPECT_EQ(ovfs, tw_recs_count(rs, TWTRACE_EV_OVERFLOW, -1, 0, 0, 0));
	EXPECT_EQ(rs->nread, (long long)rs->n);
}

static void on_alarm(int sig)
{
}

/*
 * The reader keeps up.  poll() says nothing is there, then wakes up for
 * a record made on another process; a read smaller than a record is
 * EINVAL and consumes nothing; a blocking read waits for the next
 * record.  Then 40 connections of two kinds (TIME_WAIT, and rst_sent
 * deaths) and 3 overflows, read as they come: per-CPU seq contiguous,
 * nothing lost, records == stats records growth, per-type counts ==
 * the stats deltas, births == TcpExt TW+TWKilled, rst_sent deaths ==
 * Tcp OutRsts, overflows == TCPTimeWaitOverflow.
 */
TEST_F_TIMEOUT(ring, reader_keeps_up, 120)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct pollfd pfd[TW_MAX_CPUS];
	struct twtrace_record rec[2];
	long long kb0, rst0, ovf0, rsts;
	struct tw_stats s0, s1;
	int ncpus, c, i, ret, ready = -1, status, rst_deaths = 0;
	char path[64];
	double t0;
	pid_t pid;

	ASSERT_EQ(0, tw_ctl_set("overwrite", "0"));
	ncpus = tw_ncpus();
	ASSERT_LT(0, ncpus);
	tw_recs_init(&self->rs, 0);
	prime_cpus(ncpus, self->l, &self->dst);
	ASSERT_EQ(0, tw_recs_drain(&self->rs));

	for (c = 0; c < ncpus; c++) {
		snprintf(path, sizeof(path), TW_DIR "/cpu%d", c);
		pfd[c].fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		pfd[c].events = POLLIN;
		ASSERT_LE(0, pfd[c].fd);
	}
	EXPECT_EQ(0, poll(pfd, ncpus, 0));
	EXPECT_EQ(-1, read(pfd[0].fd, rec, sizeof(rec[0])));
	EXPECT_EQ(EAGAIN, errno);

	/* poll() wakes up for a record. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct tw_conn k;

		tw_pin(0);
		usleep(300000);
		_exit(tw_make_client_tw(&k, self->l, &self->dst, NULL) ? 1 : 0);
	}
	t0 = tw_now();
	ret = poll(pfd, ncpus, 10000);
	TH_LOG("poll() returned %d after %.3f s", ret, tw_now() - t0);
	EXPECT_LT(0, ret);
	EXPECT_LE(0.2, tw_now() - t0);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status);
	for (c = 0; c < ncpus; c++)
		if (pfd[c].revents & POLLIN)
			ready = c;
	ASSERT_LE(0, ready);

	/* Too small a buffer: EINVAL, and the record stays. */
	EXPECT_EQ(-1, read(pfd[ready].fd, rec, sizeof(rec[0]) / 2));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(TW_REC_SIZE, read(pfd[ready].fd, rec, sizeof(rec[0])));
	EXPECT_EQ(TWTRACE_MAGIC, rec[0].magic);
	EXPECT_EQ(TWTRACE_ABI_VERSION, rec[0].abi);
	EXPECT_EQ(self->rs.last_seq[ready] + 1, (long long)rec[0].seq);
	self->rs.last_seq[ready] = rec[0].seq;
	for (c = 0; c < ncpus; c++)
		close(pfd[c].fd);

	/* A blocking read waits for the next record (made on CPU 0). */
	ASSERT_EQ(0, tw_recs_drain(&self->rs));
	snprintf(path, sizeof(path), TW_DIR "/cpu0");
	pfd[0].fd = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, pfd[0].fd);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct tw_conn k;

		tw_pin(0);
		usleep(300000);
		_exit(tw_make_client_tw(&k, self->l, &self->dst, NULL) ? 1 : 0);
	}
	sigaction(SIGALRM, &sa, NULL);
	alarm(10);
	t0 = tw_now();
	ret = read(pfd[0].fd, rec, sizeof(rec[0]));
	alarm(0);
	TH_LOG("blocking read() returned %d after %.3f s", ret,
	       tw_now() - t0);
	EXPECT_EQ((int)sizeof(rec[0]), ret);
	EXPECT_LE(0.2, tw_now() - t0);
	EXPECT_EQ(TWTRACE_MAGIC, rec[0].magic);
	EXPECT_EQ(self->rs.last_seq[0] + 1, (long long)rec[0].seq);
	self->rs.last_seq[0] = rec[0].seq;
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	close(pfd[0].fd);
	usleep(100000);
	ASSERT_EQ(0, tw_recs_drain(&self->rs));

	/* The main run: read while producing. */
	ASSERT_EQ(0, tw_stats_read(&s0));
	kb0 = tw_births_kernel();
	rst0 = tw_snmp("Tcp", "OutRsts");
	ovf0 = tw_tcpext("TCPTimeWaitOverflow");
	for (i = 0; i < 40; i++) {
		struct tw_conn k;
		char x = 'x';

		tw_pin(i % ncpus);
		if (i % 4 == 3) {
			ASSERT_EQ(0, tw_make_fw2_tw(&k, self->l, &self->dst));
			ASSERT_EQ(1, write(k.a, &x, 1));
			rst_deaths++;
			tw_wait_until(tw_snmp("Tcp", "OutRsts") - rst0 >=
				      rst_deaths, 5);
			tw_conn_close(&k);
		} else {
			ASSERT_EQ(0, tw_make_client_tw(&k, self->l,
						       &self->dst, NULL));
		}
		ASSERT_LE(0, tw_recs_read(&self->rs));
	}
	tw_pin(-1);
	rsts = tw_snmp("Tcp", "OutRsts") - rst0;
	/* Three overflows: the limit is what there is. */
	snprintf(path, sizeof(path), "%lld", tw_sockstat_tw());
	ASSERT_EQ(0, tw_sysctl_set("net/ipv4/tcp_max_tw_buckets", path));
	for (i = 0; i < 3; i++) {
		struct tw_conn k;

		ASSERT_EQ(0, tw_conn_open(&k, self->l, &self->dst, NULL));
		tw_conn_close_client_first(&k);
		tw_wait_until(tw_tcpext("TCPTimeWaitOverflow") - ovf0 > i, 5);
		ASSERT_LE(0, tw_recs_read(&self->rs));
	}
	usleep(200000);
	ASSERT_LE(0, tw_recs_read(&self->rs));
	ASSERT_EQ(0, tw_stats_read(&s1));

	TH_LOG("read %lld records; stats records +%lld, lost +%lld",
	       self->rs.nread, tw_stats_delta(&s0, &s1, "records"),
	       tw_stats_delta(&s0, &s1, "lost"));
	TH_LOG("births +%lld (TcpExt TW+TWKilled +%lld)",
	       tw_stats_delta(&s0, &s1, "births"), tw_births_kernel() - kb0);
	TH_LOG("rst_sent deaths %d (Tcp OutRsts +%lld)",
	       tw_recs_count(&self->rs, TWTRACE_EV_DEATH,
			     TWTRACE_DEATH_RST_SENT, 0, 0, 0), rsts);
	TH_LOG("overflows %d (TcpExt TCPTimeWaitOverflow +%lld)",
	       tw_recs_count(&self->rs, TWTRACE_EV_OVERFLOW, -1, 0, 0, 0),
	       tw_tcpext("TCPTimeWaitOverflow") - ovf0);
	for (c = 0; c < ncpus; c++) {
		EXPECT_EQ(0, self->rs.seq_breaks[c]) {
			TH_LOG("cpu%d: %lld seq breaks, first %lld -> %lld (type %d)",
			       c, self->rs.seq_breaks[c],
			       self->rs.brk_prev[c], self->rs.brk_seq[c],
			       self->rs.brk_type[c]);
		}
	}
	EXPECT_EQ(0, self->rs.bad);
	EXPECT_EQ(0, tw_stats_delta(&s0, &s1, "lost"));
	EXPECT_EQ(self->rs.nread, tw_stats_delta(&s0, &s1, "records"));
	check_types(_metadata, &self->rs, &s0, &s1);
	EXPECT_EQ(40, tw_stats_delta(&s0, &s1, "births"));
	EXPECT_EQ(tw_births_kernel_want(40, rsts), tw_births_kernel() - kb0);
	EXPECT_EQ(10, rsts);
	EXPECT_EQ(rsts, tw_recs_count(&self->rs, TWTRACE_EV_DEATH,
				      TWTRACE_DEATH_RST_SENT, 0, 0, 0));
	EXPECT_EQ(3, tw_tcpext("TCPTimeWaitOverflow") - ovf0);
	EXPECT_EQ(3, tw_recs_count(&self->rs, TWTRACE_EV_OVERFLOW, -1, 0, 0,
				   0));
}

/*
 * Make @n TIME_WAIT sockets without reading, with a 4 KiB ring; then read
 * everything: read + lost growth == records growth, the per-CPU lost
 * counters add up to lost, births == TcpExt TW+TWKilled; per CPU, the
 * records read + lost_cpuN == the records made there, as the seq of the
 * next record made on that CPU tells.
 */
static void ring_full(struct __test_metadata *_metadata, struct tw_recs *rs,
		      int lfd, const union tw_sa *dst, bool overwrite)
{
	long long lost_c, produced, first_seq[TW_MAX_CPUS];
	long long drained[TW_MAX_CPUS], lost = 0, kb0;
	struct tw_stats s0, s1;
	struct tw_recs after;
	int ncpus, c, i, n;
	char name[32];
	size_t j;

	ASSERT_EQ(0, tw_ctl_set("overwrite", overwrite ? "1" : "0"));
	ASSERT_EQ(0, tw_ctl_set("ring_kb", "4"));
	ASSERT_EQ(4, tw_ctl_get("ring_kb"));
	ncpus = tw_ncpus();
	ASSERT_LT(0, ncpus);
	/* 150 per CPU: well over what 4 KiB holds, in either mode. */
	n = 150 * ncpus;
	tw_recs_init(rs, 0);
	prime_cpus(ncpus, lfd, dst);
	ASSERT_EQ(0, tw_recs_drain(rs));
	for (c = 0; c < ncpus; c++) {
		drained[c] = rs->last_seq[c];
		ASSERT_LE(0, drained[c]) TH_LOG("cpu%d: no record", c);
	}

	ASSERT_EQ(0, tw_stats_read(&s0));
	kb0 = tw_births_kernel();
	for (i = 0; i < n; i++) {
		struct tw_conn k;

		tw_pin(i % ncpus);
		ASSERT_EQ(0, tw_make_client_tw(&k, lfd, dst, NULL));
	}
	tw_pin(-1);
	usleep(200000);
	ASSERT_EQ(0, tw_stats_read(&s1));
	ASSERT_LE(0, tw_recs_read(rs));

	TH_LOG("%s: made %d TWs: records +%lld, read %lld, lost +%lld",
	       overwrite ? "overwrite" : "drop", n,
	       tw_stats_delta(&s0, &s1, "records"), rs->nread,
	       tw_stats_delta(&s0, &s1, "lost"));
	TH_LOG("births +%lld, TcpExt TW+TWKilled +%lld",
	       tw_stats_delta(&s0, &s1, "births"), tw_births_kernel() - kb0);
	EXPECT_EQ(n, tw_births_kernel() - kb0);
	EXPECT_EQ(n, tw_stats_delta(&s0, &s1, "births"));
	/* One record per event the counters counted. */
	EXPECT_EQ(tw_stats_delta(&s0, &s1, "births") +
		  tw_stats_delta(&s0, &s1, "rearms") +
		  tw_stats_delta_sum(&s0, &s1, "death_") +
		  tw_stats_delta_sum(&s0, &s1, "reuse_") +
		  tw_stats_delta_sum(&s0, &s1, "overflow_"),
		  tw_stats_delta(&s0, &s1, "records"));
	EXPECT_LT(0, tw_stats_delta(&s0, &s1, "lost"));
	EXPECT_EQ(tw_stats_delta(&s0, &s1, "records"),
		  rs->nread + tw_stats_delta(&s0, &s1, "lost"));
	EXPECT_EQ(0, rs->bad);

	/* The next record on each CPU tells how many were made there. */
	tw_recs_init(&after, 0);
	prime_cpus(ncpus, lfd, dst);
	ASSERT_LE(0, tw_recs_read(&after));
	for (c = 0; c < ncpus; c++) {
		first_seq[c] = -1;
		for (j = 0; j < after.n && first_seq[c] < 0; j++)
			if (after.v[j].cpu == c)
				first_seq[c] = after.v[j].r.seq;
	}
	for (c = 0; c < ncpus; c++) {
		snprintf(name, sizeof(name), "lost_cpu%d", c);
		lost_c = tw_stats_delta(&s0, &s1, name);
		lost += lost_c;
		ASSERT_LE(0, first_seq[c]) TH_LOG("cpu%d: no record", c);
		produced = first_seq[c] - drained[c] - 1;
		TH_LOG("cpu%d: made %lld (seq %lld..%lld), read %lld, %s +%lld, seq breaks %lld",
		       c, produced, drained[c] + 1, first_seq[c] - 1,
		       rs->cpu_read[c], name, lost_c,
		       rs->seq_breaks[c]);
		EXPECT_EQ(produced, rs->cpu_read[c] + lost_c);
		/* Drop mode loses the newest, overwrite the oldest. */
		EXPECT_GE(overwrite ? 1 : 0, rs->seq_breaks[c]);
		if (rs->cpu_read[c] && rs->last_seq[c] >= 0)
			EXPECT_EQ(overwrite ? first_seq[c] - 1 :
				  drained[c] + rs->cpu_read[c],
				  rs->last_seq[c]);
	}
	EXPECT_EQ(tw_stats_delta(&s0, &s1, "lost"), lost);
	tw_recs_free(&after);
}

/*
 * A CPU file is ready once a batch (64 records) is pending, or once the
 * oldest pending record is 50 ms old: a reader that polls again as soon as
 * it has read sleeps until there is a batch instead of spinning on single
 * records.  A lone record: poll() says ready when it is 50 ms to 2 s old
 * (8 s on the debug kernel) by its own timestamp, never younger.  70
 * records on one CPU: ready.
 */
TEST_F_TIMEOUT(ring, poll_waits_for_a_batch, 120)
{
	struct pollfd pfd[TW_MAX_CPUS];
	struct twtrace_record rec[64];
	struct tw_stats s0, s1;
	struct tw_conn k;
	int ncpus, c, i, n, ret;
	double ready, oldest = 0;

	ASSERT_EQ(0, tw_ctl_set("overwrite", "0"));
	ncpus = tw_ncpus();
	ASSERT_LT(0, ncpus);
	tw_recs_init(&self->rs, 0);
	ASSERT_EQ(0, tw_recs_drain(&self->rs));
	for (c = 0; c < ncpus; c++) {
		char path[64];

		snprintf(path, sizeof(path), TW_DIR "/cpu%d", c);
		pfd[c].fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		pfd[c].events = POLLIN;
		ASSERT_LE(0, pfd[c].fd);
	}
	EXPECT_EQ(0, poll(pfd, ncpus, 0));

	ASSERT_EQ(0, tw_stats_read(&s0));
	ASSERT_EQ(0, tw_make_client_tw(&k, self->l, &self->dst, NULL));
	ASSERT_EQ(0, tw_stats_read(&s1));
	ASSERT_LE(1, tw_stats_delta(&s0, &s1, "records"));
	ASSERT_GT(64, tw_stats_delta(&s0, &s1, "records"));
	ret = poll(pfd, ncpus, 10000);
	ready = tw_now();
	ASSERT_LT(0, ret);
	for (c = 0; c < ncpus; c++) {
		if (!(pfd[c].revents & POLLIN))
			continue;
		n = read(pfd[c].fd, rec, sizeof(rec));
		ASSERT_LE(TW_REC_SIZE, n) TH_LOG("cpu%d", c);
		for (i = 0; i < n / TW_REC_SIZE; i++)
			if (!oldest || rec[i].ts_ns / 1e9 < oldest)
				oldest = rec[i].ts_ns / 1e9;
	}
	TH_LOG("%lld record(s): poll() said ready when the oldest was %.3f s old",
	       tw_stats_delta(&s0, &s1, "records"), ready - oldest);
	EXPECT_LE(0.045, ready - oldest);
	/* The flush timer, not the 10 s poll timeout (the debug kernel's
	 * timers run late under load).
	 */
	EXPECT_GE(tw_slow_kernel() ? 8.0 : 2.0, ready - oldest);
	ASSERT_EQ(0, tw_recs_drain(&self->rs));

	/* A batch on one CPU: ready. */
	tw_pin(0);
	ASSERT_EQ(0, tw_stats_read(&s0));
	for (i = 0; i < 70; i++)
		ASSERT_EQ(0, tw_make_client_tw(&k, self->l, &self->dst, NULL));
	tw_pin(-1);
	ASSERT_EQ(0, tw_stats_read(&s1));
	ret = poll(pfd, ncpus, 0);
	TH_LOG("%lld records: poll(0) returned %d",
	       tw_stats_delta(&s0, &s1, "records"), ret);
	EXPECT_LT(0, ret);
	for (c = 0; c < ncpus; c++)
		close(pfd[c].fd);
	ASSERT_EQ(0, tw_recs_drain(&self->rs));
	EXPECT_EQ(0, self->rs.bad);
}

TEST_F_TIMEOUT(ring, drop_when_full, 120)
{
	ring_full(_metadata, &self->rs, self->l, &self->dst, false);
}

TEST_F_TIMEOUT(ring, overwrite_when_full, 120)
{
	ring_full(_metadata, &self->rs, self->l, &self->dst, true);
}

/*
 * Bad writes to every control return EINVAL and change nothing; good
 * ones are taken and read back.
 */
TEST_F(ring, controls_reject_bad_writes)
{
	static const struct { const char *ctl, *val; } bad[] = {
		{ "enable", "abc" }, { "enable", "2" }, { "enable", "-1" },
		{ "enable", "" }, { "enable", "1x" }, { "enable", "1 1" },
		{ "overwrite", "2" }, { "overwrite", "abc" },
		{ "overwrite", "" }, { "overwrite", "-1" },
		{ "ring_kb", "abc" }, { "ring_kb", "-1" }, { "ring_kb", "0" },
		{ "ring_kb", "3" }, { "ring_kb", "65537" },
		{ "ring_kb", "99999999999" }, { "ring_kb", "" },
		{ "ring_kb", "4096k" },
		{ "reset", "abc" }, { "reset", "2" }, { "reset", "" },
		{ "reset", "-1" },
	};
	char before[64], after[64], bb[64];
	long long births;
	unsigned int i;
	int ret;

	births = tw_stat("births");
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		bool is_reset = !strcmp(bad[i].ctl, "reset");

		if (!is_reset)
			ASSERT_EQ(0, tw_ctl_str(bad[i].ctl, before,
						sizeof(before)));
		ret = tw_ctl_set(bad[i].ctl, bad[i].val);
		EXPECT_EQ(-EINVAL, ret)
			TH_LOG("%s <- \"%s\": %s", bad[i].ctl, bad[i].val,
			       ret ? strerror(-ret) : "accepted");
		if (is_reset) {
			EXPECT_EQ(births, tw_stat("births"));
			continue;
		}
		ASSERT_EQ(0, tw_ctl_str(bad[i].ctl, after, sizeof(after)));
		EXPECT_STREQ(before, after)
			TH_LOG("%s <- \"%s\"", bad[i].ctl, bad[i].val);
	}

	/* Good writes, with and without a newline. */
	ASSERT_EQ(0, tw_ctl_str("ring_kb", bb, sizeof(bb)));
	EXPECT_EQ(0, tw_ctl_set("ring_kb", "8\n"));
	EXPECT_EQ(8, tw_ctl_get("ring_kb"));
	EXPECT_EQ(0, tw_ctl_set("ring_kb", bb));
	EXPECT_EQ(atoll(bb), tw_ctl_get("ring_kb"));
	EXPECT_EQ(0, tw_ctl_set("overwrite", "1"));
	EXPECT_EQ(1, tw_ctl_get("overwrite"));
	EXPECT_EQ(0, tw_ctl_set("overwrite", "0\n"));
	EXPECT_EQ(0, tw_ctl_get("overwrite"));
	EXPECT_EQ(0, tw_ctl_set("enable", "1\n"));
	EXPECT_EQ(1, tw_ctl_get("enable"));
}

/*
 * enable=0 stops the records, not the counters: births == TcpExt
 * TW+TWKilled, no record, stats records still; live still tracks them
 * (== sockstat).  enable=1 brings the records back.
 */
TEST_F(ring, enable_off_counts_without_records)
{
	struct tw_stats s0, s1;
	struct twtrace_record b;
	struct tw_conn k;
	long long kb0;
	int i;

	ASSERT_EQ(0, tw_ctl_set("enable", "0"));
	ASSERT_EQ(0, tw_ctl_get("enable"));
	ASSERT_EQ(0, tw_stats_read(&s0));
	kb0 = tw_births_kernel();
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, tw_make_client_tw(&k, self->l, &self->dst, NULL));
	usleep(200000);
	ASSERT_EQ(0, tw_stats_read(&s1));
	ASSERT_LE(0, tw_recs_read(&self->rs));
	TH_LOG("enable=0: births +%lld, TcpExt TW+TWKilled +%lld",
	       tw_stats_delta(&s0, &s1, "births"), tw_births_kernel() - kb0);
	TH_LOG("enable=0: records +%lld, read %zu, live %d, sockstat tw %lld",
	       tw_stats_delta(&s0, &s1, "records"), self->rs.n,
	       tw_live_read(NULL, 0, self->ns), tw_sockstat_tw());
	EXPECT_EQ(3, tw_births_kernel() - kb0);
	EXPECT_EQ(3, tw_stats_delta(&s0, &s1, "births"));
	EXPECT_EQ(0, tw_stats_delta(&s0, &s1, "records"));
	EXPECT_EQ(0UL, self->rs.n);
	EXPECT_EQ(tw_sockstat_tw(), tw_live_read(NULL, 0, self->ns));

	ASSERT_EQ(0, tw_ctl_set("enable", "1"));
	ASSERT_EQ(0, tw_make_client_tw(&k, self->l, &self->dst, NULL));
	b = wait_birth(_metadata, &self->rs, &k.caddr, &self->dst);
	EXPECT_EQ(4, tw_live_read(NULL, 0, self->ns));
	EXPECT_TRUE(live_has(self->ns, b.tw_id, NULL));
}

/*
 * reset=1 zeroes every event counter and the histograms, but not what
 * is live; counting goes on from zero (births == TcpExt TW+TWKilled).
 */
TEST_F(ring, reset_zeroes_counters)
{
	struct tw_stats s;
	struct tw_conn k;
	char line[256];
	long long kb0, a = -1, c = -1;
	int i, lines = 0;
	bool consistent = false;
	FILE *f;

	/* Something to zero: a birth and a rearm at least. */
	ASSERT_EQ(0, tw_make_client_tw(&k, self->l, &self->dst, NULL));
	ASSERT_LT(0, tw_stat("births"));

	ASSERT_EQ(0, tw_ctl_set("reset", "1"));
	ASSERT_EQ(0, tw_stats_read(&s));
	for (i = 0; i < s.n; i++) {
		if (strcmp(s.name[i], "births") &&
		    strcmp(s.name[i], "rearms") &&
		    strncmp(s.name[i], "death_", 6) &&
		    strncmp(s.name[i], "reuse_", 6) &&
		    strncmp(s.name[i], "overflow_", 9))
			continue;
		EXPECT_EQ(0, s.val[i]) TH_LOG("%s after reset", s.name[i]);
	}
	f = fopen(TW_DIR "/hist", "r");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f))
		lines += line[0] != '#' && line[0] != '\n';
	fclose(f);
	EXPECT_EQ(0, lines);
	for (i = 0; i < 10 && !consistent; i++) {
		a = tw_stat("live");
		c = tw_live_read(NULL, 0, 0);
		consistent = a == c && a == tw_stat("live");
	}
	TH_LOG("after reset: stats live %lld, live lines %lld", a, c);
	EXPECT_TRUE(consistent);
	EXPECT_LE(1, c);

	kb0 = tw_births_kernel();
	ASSERT_EQ(0, tw_make_client_tw(&k, self->l, &self->dst, NULL));
	EXPECT_EQ(1, tw_births_kernel() - kb0);
	EXPECT_EQ(1, tw_stat("births"));
}

TEST_HARNESS_MAIN
