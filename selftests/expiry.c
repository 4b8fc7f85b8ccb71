// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace expiry test: the 60-second timer, IPv4 and IPv6, and FIN_WAIT2,
 * against the kernel's own countdown in /proc/net/tcp.
 */
#include <math.h>

#include "fixture_tw.h"

static long long ts_of(double t)
{
	return (long long)(t * NSEC);
}

/* The last re-arm record of tw @id, or NULL. */
static const struct twtrace_record *find_rearm(const struct tw_recs *rs,
					       unsigned long long id)
{
	return tw_recs_find(rs, TWTRACE_EV_REARM, -1, 0, 0, id);
}

/*
 * When a TW's /proc/net/tcp row disappeared: between seen and gone; when
 * the kernel's own countdown (the row's time left, in jiffies) said, at
 * the first look, that its timer would be due; and since when it said the
 * timer was due.
 */
struct watch {
	unsigned int lport, rport;
	double seen, gone, due, due_first;
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
		if (!w->seen)
			w->due_first = t0 + row.when / 100.0;
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

/*
 * How much later than its first word the kernel's countdown reached 0 s:
 * the countdown is in jiffies, and a guest on a loaded host loses jiffies
 * against CLOCK_MONOTONIC (on the debug kernel, 59.65 s left took 69.7 s).
 * About 0 (the 50 ms between looks) on a quiet host.  The bounds grow by
 * this much too.
 */
static double watch_lag(const struct watch *w)
{
	return w->due > w->due_first ? w->due - w->due_first : 0;
}

/* Still listed, and overdue by the kernel's own countdown. */
static bool watch_overdue(const struct watch *w)
{
	return !w->gone && w->due;
}

/* Listed at the last look, not yet due by the kernel's own countdown. */
static bool watch_pending(const struct watch *w)
{
	return w->seen && !w->gone && !w->due;
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
	TH_LOG("tw %llu: death at %.3f, kernel row seen %.3f, gone %.3f",
	       d->tw_id, d->ts_ns / 1e9, w->seen, w->gone);
	TH_LOG("tw %llu: listed %.3f s past due, due %.3f s later than first said",
	       d->tw_id, watch_late(w), watch_lag(w));
	/* The bounds already allow hi_s - lo_s for the wheel's rounding. */
	if (watch_late(w) > hi_s - lo_s)
		hi_s = lo_s + watch_late(w);
	hi_s += watch_lag(w);
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
TEST_F_TIMEOUT(tw, time_wait_v4_v6_and_fin_wait2, 600)
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
	/* The kernel's first word on when each timer is due, early. */
	watch_poll(&wc);
	watch_poll(&wa);
	watch_poll(&wb);
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
		EXPECT_GE(0.25, fabs(t0 - arm + row.when / 100.0 - 60.0));
	}

	/*
	 * C: FIN_WAIT2 with tcp_fin_timeout=2.  The waits go on while the
	 * kernel lists the socket and its countdown has not said it is due,
	 * or says it is overdue (a guest's jiffies can fall behind).
	 */
	while (!wc.gone && (tw_now() < tc1 + 10 || watch_overdue(&wc) ||
			    watch_pending(&wc))) {
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
		watch_overdue(&wb) || watch_pending(&wa) ||
		watch_pending(&wb))) {
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
		EXPECT_GE(ts_of(arm + 62.5 + watch_late(w) + watch_lag(w)),
			  (long long)d->ts_ns);
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

TEST_HARNESS_MAIN
