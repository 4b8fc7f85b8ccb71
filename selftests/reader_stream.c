// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace reader tests: "stream", its JSON events against the module's
 * records and the kernel's own figures (TcpExt, /proc/net/tcp, connect()),
 * its count and event filter.
 */
#include <signal.h>

#include "fixture_rd.h"

#define REUSE_PORT	61100U	/* outside the default ephemeral range */
#define REUSE_RANGE	"61100 61100"
#define DEFAULT_RANGE	"32768 60999"

struct ev {
	char event[16], reason[32], substate[16], old_substate[16];
	long long tw_id, netns, family, sport, dport;
	long long lifetime_ns, fin_wait2_ns, tw_reuse, tw_count, tw_limit;
	long long err, tw_seen;
	int allowed;
};

static int ev_parse(const char *line, struct ev *e)
{
	memset(e, 0, sizeof(*e));
	if (js_str(line, "event", e->event, sizeof(e->event)) ||
	    /* a failed connect is about no TIME_WAIT socket */
	    (strcmp(e->event, "connect_fail") ?
	     js_str(line, "substate", e->substate, sizeof(e->substate)) :
	     !js_is_null(line, "substate")) ||
	    js_num(line, "netns", &e->netns) ||
	    js_num(line, "family", &e->family) ||
	    js_num(line, "sport", &e->sport) ||
	    js_num(line, "dport", &e->dport) || !js_get(line, "ts_ns") ||
	    !js_get(line, "saddr") || !js_get(line, "daddr") ||
	    !js_get(line, "seq") || !js_get(line, "cpu"))
		return -1;
	js_str(line, "reason", e->reason, sizeof(e->reason));
	js_str(line, "old_substate", e->old_substate, sizeof(e->old_substate));
	e->tw_id = js_num_or(line, "tw_id", 0);
	e->lifetime_ns = js_num_or(line, "lifetime_ns", -1);
	e->fin_wait2_ns = js_num_or(line, "fin_wait2_ns", -1);
	e->tw_reuse = js_num_or(line, "tw_reuse", -1);
	e->tw_count = js_num_or(line, "tw_count", -1);
	e->tw_limit = js_num_or(line, "tw_limit", -1);
	e->allowed = js_bool(line, "allowed");
	e->err = js_num_or(line, "errno", -1);
	e->tw_seen = js_num_or(line, "tw_seen", -1);
	return 0;
}

/* The stream's events, counted like the stats file counts them. */
struct evcount {
	int n, bad;
	struct tw_stats s;	/* births, rearms, death_X, reuse_X, ... */
	struct ev v[64];
	int nv;
};

static void evcount_add(struct evcount *c, const char *name)
{
	int i;

	for (i = 0; i < c->s.n; i++) {
		if (!strcmp(c->s.name[i], name)) {
			c->s.val[i]++;
			return;
		}
	}
	stats_put(&c->s, name, 1);
}

static void evcount_init(struct evcount *c)
{
	char name[64];
	int i;

	memset(c, 0, sizeof(*c));
	stats_put(&c->s, "births", 0);
	stats_put(&c->s, "rearms", 0);
	for (i = 0; i < TWTRACE_DEATH_NR; i++) {
		snprintf(name, sizeof(name), "death_%s", tw_death_name(i));
		stats_put(&c->s, name, 0);
	}
	for (i = 0; i < TWTRACE_REUSE_NR; i++) {
		snprintf(name, sizeof(name), "reuse_%s", tw_reuse_name(i));
		stats_put(&c->s, name, 0);
	}
	for (i = 0; i < TWTRACE_OVERFLOW_NR; i++) {
		snprintf(name, sizeof(name), "overflow_%s",
			 tw_overflow_name(i));
		stats_put(&c->s, name, 0);
	}
	stats_put(&c->s, "connect_fail", 0);
}

static void evcount_text(struct evcount *c, const char *text)
{
	char line[1024], name[64];
	struct ev e;

	while ((text = next_line(text, line, sizeof(line)))) {
		if (!line[0])
			continue;
		c->n++;
		if (ev_parse(line, &e)) {
			c->bad++;
			continue;
		}
		if (c->nv < (int)ARRAY_SIZE(c->v))
			c->v[c->nv++] = e;
		if (!strcmp(e.event, "birth"))
			snprintf(name, sizeof(name), "births");
		else if (!strcmp(e.event, "rearm"))
			snprintf(name, sizeof(name), "rearms");
		else if (!strcmp(e.event, "death"))
			snprintf(name, sizeof(name), "death_%s", e.reason);
		else if (!strcmp(e.event, "reuse"))
			snprintf(name, sizeof(name), "reuse_%s", e.reason);
		else if (!strcmp(e.event, "overflow"))
			snprintf(name, sizeof(name), "overflow_%s", e.reason);
		else if (!strcmp(e.event, "connect_fail"))
			snprintf(name, sizeof(name), "connect_fail");
		else
			snprintf(name, sizeof(name), "?%s", e.event);
		evcount_add(c, name);
	}
}

static long long evc(const struct evcount *c, const char *name)
{
	long long v = tw_stats_get(&c->s, name);

	return v < 0 ? 0 : v;
}

/* The stream's events of @type with local port @sport (0: any). */
static int ev_find(const struct evcount *c, const char *type,
		   const char *reason, unsigned int sport,
		   const struct ev **out)
{
	int i, n = 0;

	for (i = 0; i < c->nv; i++) {
		if (strcmp(c->v[i].event, type) ||
		    (reason && strcmp(c->v[i].reason, reason)) ||
		    (sport && c->v[i].sport != sport))
			continue;
		if (out && !n)
			*out = &c->v[i];
		n++;
	}
	return n;
}

/*
 * A known workload, with "stream -j -N <this netns>" running: a
 * FIN_WAIT2-substate tw that expires (tcp_fin_timeout=2), three
 * client-closed connections (each tw rearmed TIME_WAIT by the server's
 * FIN), an RST into a FIN_WAIT2 tw, a reuse refused (tcp_tw_reuse=0) then
 * allowed (tcp_tw_reuse=1, a second later) on the only ephemeral port,
 * two overflows (tcp_max_tw_buckets=1).  The stream
 * is stopped with SIGINT once everything happened.
 *
 * Its events are exactly the workload's, with the right reasons, tuples
 * and lifetimes, and per kind as many as "stat -j", the stats file and
 * the kernel (TcpExt TW+TWKilled, TWRecycled, TCPTimeWaitOverflow) grew.
 */
TEST_F_TIMEOUT(rd, stream_json_workload, 90)
{
	struct tw_conn e, c[3], x, r, r2, ov[2];
	struct tw_stats f0, f1, j0, j1;
	long long kb0, rec0, ovf0, v;
	const struct ev *d = NULL;
	struct evcount ec;
	union tw_sa dst;
	char buf[256];
	int l, i, j, ret, bad;
	double te;

	l = tw_listen(AF_INET, "127.0.0.1", &dst);
	ASSERT_LE(0, l);
	ASSERT_EQ(0, tw_sysctl_set("net/ipv4/tcp_fin_timeout", "2"));
	ASSERT_EQ(0, tw_sysctl_set("net/ipv4/tcp_timestamps", "1"));
	ASSERT_EQ(0, tw_sysctl_set("net/ipv4/tcp_tw_reuse", "0"));

	stat_json(_metadata, &j0);
	ASSERT_EQ(0, tw_stats_read(&f0));
	kb0 = tw_births_kernel();
	rec0 = tw_tcpext("TWRecycled");
	ovf0 = tw_tcpext("TCPTimeWaitOverflow");

	ASSERT_EQ(0, rd_start(&self->bg, RD_ROOT,
			      RD("stream", "-j", "-N", self->nsarg, "-d",
				 "60")));

	/* E: FIN_WAIT2 substate, expires after tcp_fin_timeout. */
	te = tw_now();
	ASSERT_EQ(0, tw_make_fw2_tw(&e, l, &dst));
	/* C: three client-closed connections, FIN_WAIT2 then TIME_WAIT. */
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, tw_make_rearmed_tw(&c[i], l, &dst));
	/* X: the server's RST kills a FIN_WAIT2 tw. */
	ASSERT_EQ(0, tw_make_fw2_tw(&x, l, &dst));
	ASSERT_EQ(0, tw_conn_abort_server(&x));
	/* R: the only ephemeral port; refused, then allowed. */
	ASSERT_EQ(0, tw_sysctl_set("net/ipv4/ip_local_port_range",
				   REUSE_RANGE));
	ASSERT_EQ(0, tw_make_rearmed_tw(&r, l, &dst));
	ASSERT_EQ(REUSE_PORT, tw_sa_port(&r.caddr));
	ret = tw_conn_open(&r2, l, &dst, NULL);
	EXPECT_EQ(-EADDRNOTAVAIL, ret)
		TH_LOG("connect() with tcp_tw_reuse=0: %s", strerror(-ret));
	ASSERT_EQ(0, tw_sysctl_set("net/ipv4/tcp_tw_reuse", "1"));
	usleep(1100000);
	ASSERT_EQ(0, tw_conn_open(&r2, l, &dst, NULL))
		TH_LOG("the kernel refused the reuse");
	EXPECT_EQ(REUSE_PORT, tw_sa_port(&r2.caddr));
	ASSERT_EQ(0, tw_sysctl_set("net/ipv4/ip_local_port_range",
				   DEFAULT_RANGE));
	/* O: no room for more TIME_WAIT sockets. */
	ASSERT_EQ(0, tw_sysctl_set("net/ipv4/tcp_max_tw_buckets", "1"));
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, tw_conn_open(&ov[i], l, &dst, NULL));
		tw_conn_close_client_first(&ov[i]);
		EXPECT_TRUE(tw_wait_until(tw_tcpext("TCPTimeWaitOverflow") -
					  ovf0 >= i + 1, 5));
	}
	/* E expires. */
	EXPECT_TRUE(tw_wait_tw_gone(&e.caddr, &e.saddr, 10));
	TH_LOG("FIN_WAIT2 tw gone from /proc/net/tcp %.2f s after it was made",
	       tw_now() - te);
	usleep(300000);

	rd_wait(&self->bg, SIGINT, 10);
	TH_LOG("stream ran %.2f s, exit %d, %d lines; stderr: %s",
	       self->bg.t1 - self->bg.t0, self->bg.rc,
	       count_lines(self->bg.out),
	       first_line(strstr(self->bg.err, "total") ?: self->bg.err, buf,
			  sizeof(buf)));
	EXPECT_EQ(0, self->bg.rc) TH_LOG("stderr: %s", self->bg.err);

	stat_json(_metadata, &j1);
	ASSERT_EQ(0, tw_stats_read(&f1));

	evcount_init(&ec);
	evcount_text(&ec, self->bg.out);
	EXPECT_EQ(0, ec.bad);
	EXPECT_EQ(ec.n, ec.nv);

	/* Per kind: stream == stat -j delta == stats file delta. */
	bad = 0;
	for (i = 0; i < ec.s.n; i++) {
		const char *k = ec.s.name[i];
		long long dj = tw_stats_delta(&j0, &j1, k);
		long long df = tw_stats_delta(&f0, &f1, k);

		if (ec.s.val[i] || dj || df)
			TH_LOG("%-26s stream %lld, stat -j +%lld, stats file +%lld",
			       k, ec.s.val[i], dj, df);
		if (ec.s.val[i] != dj || dj != df)
			bad++;
	}
	EXPECT_EQ(0, bad);

	/* The workload's own figures. */
	EXPECT_EQ(6, evc(&ec, "births"));
	EXPECT_EQ(4, evc(&ec, "rearms"));
	EXPECT_EQ(1, evc(&ec, "death_expired"));
	EXPECT_EQ(1, evc(&ec, "death_rst_received"));
	EXPECT_EQ(1, evc(&ec, "death_reused"));
	EXPECT_EQ(1, evc(&ec, "reuse_refuse_sysctl_off"));
	EXPECT_EQ(1, evc(&ec, "reuse_allow_reuse"));
	EXPECT_EQ(2, evc(&ec, "overflow_limit"));
	/* The refused reuse: a connect() that found no port. */
	EXPECT_EQ(1, evc(&ec, "connect_fail"));
	for (i = 0; i < ec.nv; i++)
		if (!strcmp(ec.v[i].event, "connect_fail")) {
			EXPECT_EQ(EADDRNOTAVAIL, ec.v[i].err);
			EXPECT_EQ(1, ec.v[i].tw_seen);
		}
	/* 6 births, 4 rearms, 3 deaths, 2 decisions, 2 overflows, 1 failed */
	EXPECT_EQ(18, ec.n);

	/* The kernel's. */
	v = tw_births_kernel() - kb0;
	TH_LOG("TcpExt TW+TWKilled +%lld, TWRecycled +%lld, TCPTimeWaitOverflow +%lld",
	       v, tw_tcpext("TWRecycled") - rec0,
	       tw_tcpext("TCPTimeWaitOverflow") - ovf0);
	TH_LOG("sockstat tw %lld", tw_sockstat_tw());
	/* 5.10 counts no early death: the reused one, the RST's one. */
	EXPECT_EQ(tw_births_kernel_want(evc(&ec, "births"),
					tw_tcpext("TWRecycled") - rec0 + 1), v);
	EXPECT_EQ(evc(&ec, "death_reused"), tw_tcpext("TWRecycled") - rec0);
	EXPECT_EQ(evc(&ec, "overflow_limit") + evc(&ec, "overflow_nomem"),
		  tw_tcpext("TCPTimeWaitOverflow") - ovf0);
	EXPECT_EQ(3, tw_sockstat_tw());

	/* Every event: this netns; every death: a birth seen here. */
	for (i = 0; i < ec.nv; i++) {
		EXPECT_EQ(self->ns, ec.v[i].netns);
		EXPECT_EQ(4, ec.v[i].family);
		if (strcmp(ec.v[i].event, "death"))
			continue;
		for (j = 0; j < ec.nv; j++)
			if (!strcmp(ec.v[j].event, "birth") &&
			    ec.v[j].tw_id == ec.v[i].tw_id)
				break;
		EXPECT_GT(ec.nv, j) TH_LOG("death of tw %lld: no birth",
					   ec.v[i].tw_id);
	}
	/* Births: exactly the sockets made, E and X born FIN_WAIT2. */
	ASSERT_EQ(1, ev_find(&ec, "birth", NULL, tw_sa_port(&e.caddr), &d));
	EXPECT_STREQ("FIN_WAIT2", d->substate);
	ASSERT_EQ(1, ev_find(&ec, "birth", NULL, tw_sa_port(&x.caddr), &d));
	EXPECT_STREQ("FIN_WAIT2", d->substate);
	for (i = 0; i < 4; i++) {
		unsigned int port = i < 3 ? tw_sa_port(&c[i].caddr) :
					    REUSE_PORT;

		ASSERT_EQ(1, ev_find(&ec, "birth", NULL, port, &d));
		EXPECT_STREQ("FIN_WAIT2", d->substate);
		/* and the server's FIN turned them TIME_WAIT */
		ASSERT_EQ(1, ev_find(&ec, "rearm", NULL, port, &d));
		EXPECT_STREQ("FIN_WAIT2", d->old_substate);
		EXPECT_STREQ("TIME_WAIT", d->substate);
	}

	/* Expired: E, in FIN_WAIT2, after about tcp_fin_timeout. */
	ASSERT_EQ(1, ev_find(&ec, "death", "expired", 0, &d));
	TH_LOG("expired: port %lld, %s, lifetime %.3f s, fin_wait2 %.3f s",
	       d->sport, d->substate, d->lifetime_ns / 1e9,
	       d->fin_wait2_ns / 1e9);
	EXPECT_EQ(tw_sa_port(&e.caddr), d->sport);
	EXPECT_STREQ("FIN_WAIT2", d->substate);
	EXPECT_LE(15 * NSEC / 10, d->lifetime_ns);
	EXPECT_GE(45 * NSEC / 10, d->lifetime_ns);
	EXPECT_GE(NSEC / 1000, llabs(d->lifetime_ns - d->fin_wait2_ns));
	/* The RST's and the reuse's victims. */
	ASSERT_EQ(1, ev_find(&ec, "death", "rst_received", 0, &d));
	EXPECT_EQ(tw_sa_port(&x.caddr), d->sport);
	ASSERT_EQ(1, ev_find(&ec, "death", "reused", 0, &d));
	EXPECT_EQ(REUSE_PORT, d->sport);
	/* The decisions: refused with the sysctl off, then allowed. */
	ASSERT_EQ(1, ev_find(&ec, "reuse", "refuse_sysctl_off", 0, &d));
	EXPECT_EQ(REUSE_PORT, d->sport);
	EXPECT_EQ(tw_sa_port(&dst), d->dport);
	EXPECT_EQ(0, d->allowed);
	EXPECT_EQ(0, d->tw_reuse);
	ASSERT_EQ(1, ev_find(&ec, "reuse", "allow_reuse", 0, &d));
	EXPECT_EQ(REUSE_PORT, d->sport);
	EXPECT_EQ(1, d->allowed);
	EXPECT_EQ(1, d->tw_reuse);
	/* The overflows: the connections closed with no room left. */
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(1, ev_find(&ec, "overflow", "limit",
				     tw_sa_port(&ov[i].caddr), &d));
		TH_LOG("overflow: port %lld, tw_count %lld, tw_limit %lld",
		       d->sport, d->tw_count, d->tw_limit);
		EXPECT_EQ(1, d->tw_limit);
		EXPECT_LE(1, d->tw_count);
	}

	tw_conn_close(&e);
	tw_conn_close(&r2);
	for (i = 0; i < 3; i++)
		tw_conn_close(&c[i]);
	close(l);
}

/*
 * -c COUNT stops the stream by itself, after COUNT events shown (here
 * births only, -e birth): two lines for three connections, in order.
 */
TEST_F_TIMEOUT(rd, stream_count_and_event_filter, 60)
{
	struct tw_conn c[3];
	struct evcount ec;
	union tw_sa dst;
	int l, i;

	l = tw_listen(AF_INET6, "::1", &dst);
	ASSERT_LE(0, l);
	ASSERT_EQ(0, rd_start(&self->bg, RD_ROOT,
			      RD("stream", "-j", "-N", self->nsarg, "-e",
				 "birth", "-c", "2", "-d", "30")));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, tw_make_client_tw(&c[i], l, &dst, NULL));
	rd_wait(&self->bg, 0, 30);
	TH_LOG("stream -c 2 ended by itself after %.2f s, exit %d, %d lines",
	       self->bg.t1 - self->bg.t0, self->bg.rc,
	       count_lines(self->bg.out));
	EXPECT_EQ(0, self->bg.rc) TH_LOG("stderr: %s", self->bg.err);
	EXPECT_GT(20, self->bg.t1 - self->bg.t0);
	evcount_init(&ec);
	evcount_text(&ec, self->bg.out);
	ASSERT_EQ(2, ec.n);
	ASSERT_EQ(2, ec.nv);
	for (i = 0; i < 2; i++) {
		EXPECT_STREQ("birth", ec.v[i].event);
		EXPECT_EQ(6, ec.v[i].family);
		EXPECT_EQ(tw_sa_port(&c[i].caddr), ec.v[i].sport);
	}
	close(l);
}

TEST_HARNESS_MAIN
