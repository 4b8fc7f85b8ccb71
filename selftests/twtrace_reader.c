// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace reader tests.  Every command of the reader is run as a user runs
 * it (/opt/twtrace/twtrace, a child process) against real TIME_WAIT
 * traffic in a network namespace of its own, and what it prints is checked
 * against the module's files and the kernel's own figures: TcpExt
 * counters, the rows of /proc/net/tcp and tcp6, connect()'s results.
 * Then the ways it must refuse to run: module unloaded, debugfs not
 * mounted, not root.
 *
 * Records are consumed by whoever reads the cpuN files: while a stream
 * runs here, it is the only reader.
 */
#include <ctype.h>
#include <grp.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "twtrace_lib.h"

#define NSEC		1000000000LL

#define REUSE_PORT	61100U	/* outside the default ephemeral range */
#define REUSE_RANGE	"61100 61100"
#define DEFAULT_RANGE	"32768 60999"
#define BOUND_PORT	41000

/* ------------------------------------------------------------------ */
/* stat -j and --prometheus, as the stats file names its counters.     */
/* ------------------------------------------------------------------ */

static void stats_put(struct tw_stats *s, const char *name, long long v)
{
	if (s->n >= TW_STATS_MAX)
		return;
	snprintf(s->name[s->n], sizeof(s->name[0]), "%.39s", name);
	s->val[s->n++] = v;
}

/*
 * A "stat -j" object into the stats file's names; the number of keys it
 * lacks (every reason of every kind must be there).
 */
static int stats_from_json(const char *obj, struct tw_stats *s)
{
	static const char * const plain[] = {
		"births", "rearms", "born_before_load", "untracked", "live",
		"records", "lost", "probe_misses",
	};
	char path[64], name[64];
	const char *e;
	int i, missing = 0;
	long long v;

	s->n = 0;
	for (i = 0; i < (int)ARRAY_SIZE(plain); i++) {
		if (js_num(obj, plain[i], &v))
			missing++;
		else
			stats_put(s, plain[i], v);
	}
	for (i = 0; i < TWTRACE_DEATH_NR; i++) {
		snprintf(path, sizeof(path), "deaths.%s", tw_death_name(i));
		snprintf(name, sizeof(name), "death_%s", tw_death_name(i));
		if (js_num(obj, path, &v))
			missing++;
		else
			stats_put(s, name, v);
	}
	for (i = 0; i < TWTRACE_REUSE_NR; i++) {
		snprintf(path, sizeof(path), "reuse.%s", tw_reuse_name(i));
		snprintf(name, sizeof(name), "reuse_%s", tw_reuse_name(i));
		if (js_num(obj, path, &v))
			missing++;
		else
			stats_put(s, name, v);
	}
	for (i = 0; i < TWTRACE_OVERFLOW_NR; i++) {
		snprintf(path, sizeof(path), "overflows.%s",
			 tw_overflow_name(i));
		snprintf(name, sizeof(name), "overflow_%s",
			 tw_overflow_name(i));
		if (js_num(obj, path, &v))
			missing++;
		else
			stats_put(s, name, v);
	}
	for (i = 0; (e = js_elem(obj, "lost_cpu", i)); i++) {
		snprintf(name, sizeof(name), "lost_cpu%d", i);
		stats_put(s, name, strtoll(e, NULL, 10));
	}
	if (!js_get(obj, "lost_cpu"))
		missing++;
	return missing;
}

/* The value of the series "@series " (a whole line prefix); -1 if none. */
static long long prom_get(const char *text, const char *series)
{
	size_t n = strlen(series);
	const char *p = text;

	while (p && *p) {
		if (!strncmp(p, series, n) && p[n] == ' ')
			return strtoll(p + n + 1, NULL, 10);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

/* "# HELP name " and "# TYPE name type" both there? */
static bool prom_has_head(const char *text, const char *name,
			  const char *type)
{
	char want[128];

	snprintf(want, sizeof(want), "# HELP %s ", name);
	if (!strstr(text, want))
		return false;
	snprintf(want, sizeof(want), "# TYPE %s %s\n", name, type);
	return strstr(text, want);
}

/* The Prometheus output into the stats file's names (no lost_cpuN). */
/* @series's value into @s as @name; 1 if the series is missing. */
static int prom_take(const char *text, const char *series, struct tw_stats *s,
		     const char *name)
{
	long long v = prom_get(text, series);

	if (v < 0)
		return 1;
	stats_put(s, name, v);
	return 0;
}

static int stats_from_prom(const char *text, struct tw_stats *s)
{
	static const struct { const char *series, *name; } plain[] = {
		{ "twtrace_births_total", "births" },
		{ "twtrace_rearms_total", "rearms" },
		{ "twtrace_live", "live" },
		{ "twtrace_lost_records_total", "lost" },
		{ "twtrace_records_total", "records" },
		{ "twtrace_born_before_load_total", "born_before_load" },
		{ "twtrace_untracked_total", "untracked" },
		{ "twtrace_probe_misses_total", "probe_misses" },
	};
	char series[160], name[64];
	int i, missing = 0;

	s->n = 0;
	for (i = 0; i < (int)ARRAY_SIZE(plain); i++)
		missing += prom_take(text, plain[i].series, s, plain[i].name);
	for (i = 0; i < TWTRACE_DEATH_NR; i++) {
		snprintf(series, sizeof(series),
			 "twtrace_deaths_total{reason=\"%s\"}",
			 tw_death_name(i));
		snprintf(name, sizeof(name), "death_%s", tw_death_name(i));
		missing += prom_take(text, series, s, name);
	}
	for (i = 0; i < TWTRACE_REUSE_NR; i++) {
		snprintf(series, sizeof(series),
			 "twtrace_reuse_decisions_total{reason=\"%s\",allowed=\"%s\"}",
			 tw_reuse_name(i),
			 twtrace_reuse_allows(i) ? "true" : "false");
		snprintf(name, sizeof(name), "reuse_%s", tw_reuse_name(i));
		missing += prom_take(text, series, s, name);
	}
	for (i = 0; i < TWTRACE_OVERFLOW_NR; i++) {
		snprintf(series, sizeof(series),
			 "twtrace_overflows_total{reason=\"%s\"}",
			 tw_overflow_name(i));
		snprintf(name, sizeof(name), "overflow_%s",
			 tw_overflow_name(i));
		missing += prom_take(text, series, s, name);
	}
	return missing;
}

static bool stats_equal(const struct tw_stats *a, const struct tw_stats *b)
{
	int i;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++)
		if (strcmp(a->name[i], b->name[i]) || a->val[i] != b->val[i])
			return false;
	return true;
}

/*
 * Every counter of the stats file @f, in @r (what the reader said) with
 * the same value; lost_cpuN only if @cpus.  The number of differences,
 * each logged.
 */
static int stats_compare(struct __test_metadata *_metadata,
			 const struct tw_stats *f, const struct tw_stats *r,
			 bool cpus, const char *what)
{
	int i, bad = 0;
	long long v;

	for (i = 0; i < f->n; i++) {
		if (!cpus && !strncmp(f->name[i], "lost_cpu", 8))
			continue;
		v = tw_stats_get(r, f->name[i]);
		if (v == f->val[i])
			continue;
		TH_LOG("%s: %s is %lld, the stats file says %lld", what,
		       f->name[i], v, f->val[i]);
		bad++;
	}
	return bad;
}

/* Run "stat -j" and read its object into @s (stats file names). */
static void stat_json(struct __test_metadata *_metadata, struct tw_stats *s)
{
	struct rd r;

	ASSERT_EQ(0, rd_run(&r, RD_ROOT, RD("stat", "-j")))
		TH_LOG("stat -j: %s", r.err);
	ASSERT_EQ(1, count_lines(r.out));
	ASSERT_EQ(0, stats_from_json(r.out, s))
		TH_LOG("stat -j lacks keys: %s", r.out);
	rd_free(&r);
}

/* ------------------------------------------------------------------ */
/* The fixture: a fresh netns, nothing left over from earlier tests.   */
/* ------------------------------------------------------------------ */

FIXTURE(rd) {
	unsigned int ns;
	char nsarg[16];
	struct rd bg;		/* a reader running in the background */
};

FIXTURE_SETUP(rd)
{
	struct tw_recs rs;

	ASSERT_EQ(0, tw_module_ensure());
	ASSERT_EQ(0, tw_netns_new());
	self->ns = tw_netns_inum();
	ASSERT_NE(0U, self->ns);
	snprintf(self->nsarg, sizeof(self->nsarg), "%u", self->ns);
	ASSERT_TRUE(tw_settle(30))
		TH_LOG("sockets of dead namespaces are still tracked");
	ASSERT_EQ(1, tw_ctl_get("enable"))
		TH_LOG("recording is off: an earlier test left enable=0");
	/*
	 * Records earlier tests left unread: network namespace inode numbers
	 * are used again, those of a dead netns could pass for this one's.
	 */
	tw_recs_init(&rs, 0);
	ASSERT_EQ(0, tw_recs_drain(&rs));
}

FIXTURE_TEARDOWN(rd)
{
	/* A reader left running by a failed test would hold the module. */
	rd_free(&self->bg);
}

/* ------------------------------------------------------------------ */
/* stream -j                                                           */
/* ------------------------------------------------------------------ */

struct ev {
	char event[16], reason[32], substate[16], old_substate[16];
	long long tw_id, netns, family, sport, dport;
	long long lifetime_ns, fin_wait2_ns, tw_reuse, tw_count, tw_limit;
	int allowed;
};

static int ev_parse(const char *line, struct ev *e)
{
	memset(e, 0, sizeof(*e));
	if (js_str(line, "event", e->event, sizeof(e->event)) ||
	    js_str(line, "substate", e->substate, sizeof(e->substate)) ||
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
	/* 6 births, 4 rearms, 3 deaths, 2 decisions, 2 overflows */
	EXPECT_EQ(17, ec.n);

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

/* ------------------------------------------------------------------ */
/* stat -j, --prometheus, intervals                                    */
/* ------------------------------------------------------------------ */

/* Some of everything: births, rearms, deaths (rst_received). */
static void some_traffic(struct __test_metadata *_metadata, int n)
{
	struct tw_conn k;
	union tw_sa dst;
	int l, i;

	l = tw_listen(AF_INET, "127.0.0.1", &dst);
	ASSERT_LE(0, l);
	for (i = 0; i < n; i++)
		ASSERT_EQ(0, tw_make_client_tw(&k, l, &dst, NULL));
	ASSERT_EQ(0, tw_make_fw2_tw(&k, l, &dst));
	ASSERT_EQ(0, tw_conn_abort_server(&k));
	tw_conn_close(&k);
	close(l);
}

/* "Nanoseconds as seconds", as Prometheus le labels say them. */
static void le_secs(char *buf, size_t len, unsigned long long ns)
{
	int n = snprintf(buf, len, "%llu.%09llu", ns / NSEC, ns % NSEC);

	while (n > 0 && buf[n - 1] == '0')
		buf[--n] = '\0';
	if (n > 0 && buf[n - 1] == '.')
		buf[--n] = '\0';
}

/*
 * "stat -j": one object, every counter and every reason key there, each
 * value the stats file's.  "stat --prometheus": the metric families with
 * HELP and TYPE, every series the stats file's value, the lifetime
 * histograms cumulative over the hist file's buckets.  Both compared
 * while nothing happens (the file read before and after is the same).
 */
TEST_F_TIMEOUT(rd, stat_json_and_prometheus, 60)
{
	static const struct { const char *name, *type; } metrics[] = {
		{ "twtrace_births_total", "counter" },
		{ "twtrace_deaths_total", "counter" },
		{ "twtrace_reuse_decisions_total", "counter" },
		{ "twtrace_overflows_total", "counter" },
		{ "twtrace_live", "gauge" },
		{ "twtrace_lost_records_total", "counter" },
		{ "twtrace_lifetime_seconds", "histogram" },
		{ "twtrace_reuse_age_seconds", "histogram" },
	};
	long long h[TWTRACE_HIST_BUCKETS], h2[TWTRACE_HIST_BUCKETS];
	struct tw_stats f0, f1, rs;
	char series[160], le[32];
	long long cum, total, v;
	int i, k, b, try;
	bool stable;
	struct rd r;

	some_traffic(_metadata, 3);

	/* stat -j */
	for (try = 0; try < 3; try++) {
		ASSERT_EQ(0, tw_stats_read(&f0));
		ASSERT_EQ(0, rd_run(&r, RD_ROOT, RD("stat", "-j")))
			TH_LOG("stat -j: %s", r.err);
		ASSERT_EQ(0, tw_stats_read(&f1));
		if (stats_equal(&f0, &f1))
			break;
		rd_free(&r);
	}
	ASSERT_GT(3, try) TH_LOG("the stats file never held still");
	ASSERT_EQ(1, count_lines(r.out));
	EXPECT_EQ(0, stats_from_json(r.out, &rs)) TH_LOG("%s", r.out);
	TH_LOG("stat -j: %d values (stats file: %d), births %lld, rst_received %lld, live %lld",
	       rs.n, f1.n, tw_stats_get(&rs, "births"),
	       tw_stats_get(&rs, "death_rst_received"),
	       tw_stats_get(&rs, "live"));
	EXPECT_EQ(f1.n, rs.n);
	EXPECT_EQ(0, stats_compare(_metadata, &f1, &rs, true, "stat -j"));
	EXPECT_TRUE(js_is_null(r.out, "interval_ns") ||
		    !js_get(r.out, "interval_ns"));
	rd_free(&r);

	/* stat --prometheus */
	for (try = 0; try < 3; try++) {
		ASSERT_EQ(0, tw_stats_read(&f0));
		ASSERT_EQ(0, tw_hist_buckets("lifetime rst_received", h));
		ASSERT_EQ(0, rd_run(&r, RD_ROOT, RD("stat", "--prometheus")))
			TH_LOG("stat --prometheus: %s", r.err);
		ASSERT_EQ(0, tw_stats_read(&f1));
		ASSERT_EQ(0, tw_hist_buckets("lifetime rst_received", h2));
		stable = stats_equal(&f0, &f1) &&
			 !memcmp(h, h2, sizeof(h));
		if (stable)
			break;
		rd_free(&r);
	}
	ASSERT_GT(3, try) TH_LOG("the stats file never held still");
	for (i = 0; i < (int)ARRAY_SIZE(metrics); i++) {
		const char *name = metrics[i].name, *type = metrics[i].type;

		EXPECT_TRUE(prom_has_head(r.out, name, type))
			TH_LOG("no # HELP and # TYPE %s %s", name, type);
	}
	EXPECT_EQ(0, stats_from_prom(r.out, &rs));
	EXPECT_EQ(0, stats_compare(_metadata, &f1, &rs, false,
				   "--prometheus"));
	/* Every reason's lifetime histogram against the hist file. */
	for (i = 0; i < TWTRACE_DEATH_NR; i++) {
		snprintf(series, sizeof(series), "lifetime %s",
			 tw_death_name(i));
		ASSERT_EQ(0, tw_hist_buckets(series, h));
		for (total = 0, b = 0; b < TWTRACE_HIST_BUCKETS; b++)
			total += h[b];
		/* le = 2^k ns counts the buckets below k, cumulatively. */
		for (k = 20, b = 0, cum = 0; k <= 38; k++) {
			for (; b < k; b++)
				cum += h[b];
			le_secs(le, sizeof(le), 1ULL << k);
			snprintf(series, sizeof(series),
				 "twtrace_lifetime_seconds_bucket{reason=\"%s\",le=\"%s\"}",
				 tw_death_name(i), le);
			v = prom_get(r.out, series);
			EXPECT_EQ(cum, v) TH_LOG("%s", series);
		}
		snprintf(series, sizeof(series),
			 "twtrace_lifetime_seconds_bucket{reason=\"%s\",le=\"+Inf\"}",
			 tw_death_name(i));
		EXPECT_EQ(total, prom_get(r.out, series)) TH_LOG("%s", series);
		snprintf(series, sizeof(series),
			 "twtrace_lifetime_seconds_count{reason=\"%s\"}",
			 tw_death_name(i));
		EXPECT_EQ(total, prom_get(r.out, series)) TH_LOG("%s", series);
		if (total)
			TH_LOG("%s %lld (hist file: %lld)", series,
			       prom_get(r.out, series), total);
	}
	snprintf(series, sizeof(series), "twtrace_reuse_age_seconds_count");
	EXPECT_EQ(tw_hist_get("reuse_age", -1), prom_get(r.out, series));
	TH_LOG("prometheus: %d lines; births %lld, deaths{rst_received} %lld, live %lld",
	       count_lines(r.out), prom_get(r.out, "twtrace_births_total"),
	       prom_get(r.out,
			"twtrace_deaths_total{reason=\"rst_received\"}"),
	       prom_get(r.out, "twtrace_live"));
	rd_free(&r);
}

/*
 * "stat -j 1 2": two objects, one per second, each of deltas with
 * interval_ns first; the four TIME_WAIT sockets made during the first
 * second are four births over both.
 */
TEST_F_TIMEOUT(rd, stat_interval_json, 60)
{
	char line[2048];
	const char *p;
	long long births = 0, iv;
	struct tw_stats d;
	int n = 0;

	ASSERT_EQ(0, rd_start(&self->bg, RD_ROOT, RD("stat", "-j", "1", "2")));
	/* Its first snapshot is taken once it sleeps. */
	EXPECT_TRUE(tw_wait_until(rd_sleeping(&self->bg), 5));
	some_traffic(_metadata, 3);
	rd_wait(&self->bg, 0, 20);
	EXPECT_EQ(0, self->bg.rc) TH_LOG("stderr: %s", self->bg.err);
	TH_LOG("stat -j 1 2 ran %.2f s", self->bg.t1 - self->bg.t0);
	p = self->bg.out;
	while ((p = next_line(p, line, sizeof(line)))) {
		if (!line[0])
			continue;
		n++;
		EXPECT_EQ(0, strncmp(line, "{\"interval_ns\":", 15)) {
			TH_LOG("%s", line);
		}
		iv = js_num_or(line, "interval_ns", -1);
		EXPECT_EQ(0, stats_from_json(line, &d));
		TH_LOG("object %d: interval_ns %lld, births %lld, rearms %lld, rst_received %lld",
		       n, iv, tw_stats_get(&d, "births"),
		       tw_stats_get(&d, "rearms"),
		       tw_stats_get(&d, "death_rst_received"));
		EXPECT_LE(9 * NSEC / 10, iv);
		EXPECT_GE(5 * NSEC, iv);
		births += tw_stats_get(&d, "births");
	}
	EXPECT_EQ(2, n);
	EXPECT_EQ(4, births);
}

/* ------------------------------------------------------------------ */
/* hist                                                                */
/* ------------------------------------------------------------------ */

/* How "hist" labels bucket @b in ms: rounded down, as twtrace(8) says. */
static void bucket_label(int b, unsigned long long *lo, unsigned long long *hi)
{
	*lo = b ? (1ULL << b) / 1000000 : 0;
	*hi = (b == 63 ? ~0ULL : (1ULL << (b + 1)) - 1) / 1000000;
}

/*
 * The text block titled @title: the sum of its counts into *@sum, each
 * row checked against the buckets @h it stands for.  Rows found, or -1
 * without a block.
 */
static int hist_block(struct __test_metadata *_metadata, const char *text,
		      const char *title, const long long *h, long long *sum)
{
	unsigned long long lo, hi, cnt, blo, bhi;
	char line[512];
	const char *p = text;
	int rows = 0, b, found = 0;
	long long want;

	*sum = 0;
	while ((p = next_line(p, line, sizeof(line)))) {
		if (!found) {
			found = !strcmp(line, title);
			continue;
		}
		if (!line[0])
			break;
		if (sscanf(line, " %llu -> %llu : %llu", &lo, &hi, &cnt) != 3)
			continue;
		rows++;
		*sum += cnt;
		for (want = 0, b = 0; b < TWTRACE_HIST_BUCKETS; b++) {
			bucket_label(b, &blo, &bhi);
			if (blo == lo && bhi == hi)
				want += h[b];
		}
		EXPECT_EQ(want, (long long)cnt)
			TH_LOG("%s: row %llu -> %llu", title, lo, hi);
	}
	return found ? rows : -1;
}

/*
 * After deaths (two rst_received, one rst_sent): "hist" has a block for
 * each reason with deaths and none for the others, each row's count the
 * hist file's; "hist -j" has every reason, counts and buckets the hist
 * file's.
 */
TEST_F(rd, hist_after_deaths)
{
	long long h[TWTRACE_DEATH_NR + 1][TWTRACE_HIST_BUCKETS];
	long long h2[TWTRACE_DEATH_NR + 1][TWTRACE_HIST_BUCKETS];
	long long n0_rr, n0_rs, sum, total, cnt, bk;
	struct rd rt, rj;
	struct tw_conn k;
	union tw_sa d4, d6;
	char key[64], title[64], path[96];
	const char *e;
	int l4, l6, i, b, nb, rows, try;
	char c = 'x';

	n0_rr = tw_hist_get("lifetime rst_received", -1);
	n0_rs = tw_hist_get("lifetime rst_sent", -1);
	l4 = tw_listen(AF_INET, "127.0.0.1", &d4);
	l6 = tw_listen(AF_INET6, "::1", &d6);
	ASSERT_LE(0, l4);
	ASSERT_LE(0, l6);
	ASSERT_EQ(0, tw_make_fw2_tw(&k, l4, &d4));
	ASSERT_EQ(0, tw_conn_abort_server(&k));
	tw_conn_close(&k);
	ASSERT_EQ(0, tw_make_fw2_tw(&k, l6, &d6));
	ASSERT_EQ(0, tw_conn_abort_server(&k));
	tw_conn_close(&k);
	/* New data into a FIN_WAIT2 tw: it answers with an RST, dies. */
	ASSERT_EQ(0, tw_make_fw2_tw(&k, l4, &d4));
	ASSERT_EQ(1, write(k.a, &c, 1));
	EXPECT_TRUE(tw_wait_tw_gone(&k.caddr, &k.saddr, 5));
	tw_conn_close(&k);
	EXPECT_TRUE(tw_wait_until(tw_hist_get("lifetime rst_sent", -1) ==
				  n0_rs + 1, 5));
	TH_LOG("hist file: rst_received +%lld, rst_sent +%lld",
	       tw_hist_get("lifetime rst_received", -1) - n0_rr,
	       tw_hist_get("lifetime rst_sent", -1) - n0_rs);
	EXPECT_EQ(2, tw_hist_get("lifetime rst_received", -1) - n0_rr);
	EXPECT_EQ(1, tw_hist_get("lifetime rst_sent", -1) - n0_rs);

	for (try = 0; try < 3; try++) {
		for (i = 0; i <= TWTRACE_DEATH_NR; i++) {
			snprintf(key, sizeof(key), "lifetime %s",
				 tw_death_name(i));
			ASSERT_EQ(0, tw_hist_buckets(i < TWTRACE_DEATH_NR ?
						     key : "reuse_age", h[i]));
		}
		ASSERT_EQ(0, rd_run(&rt, RD_ROOT, RD("hist")))
			TH_LOG("hist: %s", rt.err);
		ASSERT_EQ(0, rd_run(&rj, RD_ROOT, RD("hist", "-j")))
			TH_LOG("hist -j: %s", rj.err);
		for (i = 0; i <= TWTRACE_DEATH_NR; i++) {
			snprintf(key, sizeof(key), "lifetime %s",
				 tw_death_name(i));
			ASSERT_EQ(0, tw_hist_buckets(i < TWTRACE_DEATH_NR ?
						     key : "reuse_age", h2[i]));
		}
		if (!memcmp(h, h2, sizeof(h)))
			break;
		rd_free(&rt);
		rd_free(&rj);
	}
	ASSERT_GT(3, try) TH_LOG("the hist file never held still");

	/* Text: a block per reason with deaths, none for the others. */
	for (i = 0; i <= TWTRACE_DEATH_NR; i++) {
		if (i < TWTRACE_DEATH_NR)
			snprintf(title, sizeof(title), "lifetime, reason = %s",
				 tw_death_name(i));
		else
			snprintf(title, sizeof(title), "age at reuse decision");
		for (total = 0, b = 0; b < TWTRACE_HIST_BUCKETS; b++)
			total += h[i][b];
		rows = hist_block(_metadata, rt.out, title, h[i], &sum);
		if (total)
			TH_LOG("hist: \"%s\": %d rows, %lld in all (hist file: %lld)",
			       title, rows, sum, total);
		if (!total) {
			EXPECT_EQ(-1, rows) TH_LOG("block \"%s\" with no deaths",
						   title);
			continue;
		}
		EXPECT_LT(0, rows) TH_LOG("no block \"%s\"", title);
		EXPECT_EQ(total, sum) TH_LOG("%s", title);
	}
	EXPECT_NE(NULL, strstr(rt.out, "lifetime, reason = rst_received\n"));
	EXPECT_NE(NULL, strstr(rt.out, "lifetime, reason = rst_sent\n"));

	/* JSON: every reason, counts and non-empty buckets. */
	ASSERT_EQ(1, count_lines(rj.out));
	for (i = 0; i <= TWTRACE_DEATH_NR; i++) {
		if (i < TWTRACE_DEATH_NR)
			snprintf(key, sizeof(key), "lifetime.%s",
				 tw_death_name(i));
		else
			snprintf(key, sizeof(key), "reuse_age");
		for (total = 0, nb = 0, b = 0; b < TWTRACE_HIST_BUCKETS; b++) {
			total += h[i][b];
			nb += h[i][b] != 0;
		}
		snprintf(path, sizeof(path), "%s.count", key);
		EXPECT_EQ(total, js_num_or(rj.out, path, -1))
			TH_LOG("hist -j %s", path);
		snprintf(path, sizeof(path), "%s.buckets", key);
		for (b = 0; (e = js_elem(rj.out, path, b)); b++) {
			bk = js_num_or(e, "b", -1);
			cnt = js_num_or(e, "count", -1);
			ASSERT_LE(0, bk);
			ASSERT_GT(TWTRACE_HIST_BUCKETS, bk);
			EXPECT_EQ(h[i][bk], cnt) TH_LOG("%s bucket %lld", key,
							bk);
			EXPECT_EQ(bk ? 1LL << bk : 0,
				  js_num_or(e, "low_ns", -1));
		}
		EXPECT_EQ(nb, b) TH_LOG("%s: buckets listed", key);
	}
	TH_LOG("hist -j: lifetime.rst_received.count %lld, lifetime.rst_sent.count %lld",
	       js_num_or(rj.out, "lifetime.rst_received.count", -1),
	       js_num_or(rj.out, "lifetime.rst_sent.count", -1));
	rd_free(&rt);
	rd_free(&rj);
	close(l4);
	close(l6);
}

/* ------------------------------------------------------------------ */
/* ls                                                                  */
/* ------------------------------------------------------------------ */

struct lsent {
	long long id, netns, family, sport, dport, rearms, age_ns;
	unsigned char saddr[16], daddr[16];
	char substate[16];
	bool matched;
};

static int ls_parse_json(const char *text, struct lsent *v, int max)
{
	char line[1024], a[64];
	struct lsent t;
	int n = 0;

	while ((text = next_line(text, line, sizeof(line)))) {
		if (!line[0])
			continue;
		memset(&t, 0, sizeof(t));
		if (js_num(line, "id", &t.id) ||
		    js_num(line, "netns", &t.netns) ||
		    js_num(line, "family", &t.family) ||
		    js_num(line, "sport", &t.sport) ||
		    js_num(line, "dport", &t.dport) ||
		    js_num(line, "rearms", &t.rearms) ||
		    js_num(line, "age_ns", &t.age_ns) ||
		    js_str(line, "substate", t.substate, sizeof(t.substate)))
			return -1;
		if (js_str(line, "saddr", a, sizeof(a)) ||
		    inet_pton(t.family == 6 ? AF_INET6 : AF_INET, a,
			      t.saddr) != 1 ||
		    js_str(line, "daddr", a, sizeof(a)) ||
		    inet_pton(t.family == 6 ? AF_INET6 : AF_INET, a,
			      t.daddr) != 1)
			return -1;
		if (n < max)
			v[n] = t;
		n++;
	}
	return n;
}

/*
 * "ls -x" text: State Netns Id Local Peer Rearms Age(ms).  Each row's
 * Local column starts where the header's does.
 */
static int ls_parse_text(struct __test_metadata *_metadata, const char *text,
			 struct lsent *v, int max, bool ext)
{
	char line[1024], st[16], la[80], ra[80], age[32];
	const char *p = text, *hdr_local = NULL;
	struct lsent t;
	int n = 0, got, col = -1;
	char *q;

	while ((p = next_line(p, line, sizeof(line)))) {
		if (!line[0])
			continue;
		if (!hdr_local) {
			hdr_local = strstr(line, "Local Address:Port");
			if (!hdr_local)
				return -1;
			col = strstr(line, "Local") - line;
			continue;
		}
		memset(&t, 0, sizeof(t));
		if (ext)
			got = sscanf(line, "%15s %lld %lld %79s %79s %lld %31s",
				     st, &t.netns, &t.id, la, ra, &t.rearms,
				     age) == 7;
		else
			got = sscanf(line, "%15s %79s %79s %lld %31s", st, la,
				     ra, &t.rearms, age) == 5;
		if (!got)
			return -1;
		EXPECT_EQ(0, strncmp(line + col, la, strlen(la)))
			TH_LOG("column of %s not under Local: '%s'", la, line);
		snprintf(t.substate, sizeof(t.substate), "%s", st);
		t.family = la[0] == '[' ? 6 : 4;
		q = strrchr(la, ':');
		if (!q)
			return -1;
		*q = '\0';
		t.sport = atoi(q + 1);
		q = strrchr(ra, ':');
		if (!q)
			return -1;
		*q = '\0';
		t.dport = atoi(q + 1);
		if (t.family == 6) {
			la[strlen(la) - 1] = '\0';
			ra[strlen(ra) - 1] = '\0';
			got = inet_pton(AF_INET6, la + 1, t.saddr) == 1 &&
			      inet_pton(AF_INET6, ra + 1, t.daddr) == 1;
		} else {
			got = inet_pton(AF_INET, la, t.saddr) == 1 &&
			      inet_pton(AF_INET, ra, t.daddr) == 1;
		}
		if (!got)
			return -1;
		t.age_ns = (long long)(atof(age) * 1e6);
		if (n < max)
			v[n] = t;
		n++;
	}
	return hdr_local ? n : -1;
}

/*
 * The kernel's TIME_WAIT rows and the reader's list, one for one: same
 * 4-tuples and count, the substate label from the row's state (06
 * TIME_WAIT, 05 FIN_WAIT2).  Mismatches, each logged.
 */
static int ls_vs_proc(struct __test_metadata *_metadata,
		      const struct tw_tcprow *rows, int nrows,
		      struct lsent *v, int n, const char *what)
{
	int i, j, bad = 0;
	size_t alen;

	for (j = 0; j < n; j++)
		v[j].matched = false;
	for (i = 0; i < nrows; i++) {
		const char *want = rows[i].st == TWTRACE_SUBSTATE_FIN_WAIT2 ?
				   "FIN_WAIT2" : "TIME_WAIT";

		alen = rows[i].family == 6 ? 16 : 4;
		for (j = 0; j < n; j++) {
			if (v[j].matched || v[j].family != rows[i].family ||
			    v[j].sport != rows[i].lport ||
			    v[j].dport != rows[i].rport ||
			    memcmp(v[j].saddr, rows[i].laddr, alen) ||
			    memcmp(v[j].daddr, rows[i].raddr, alen))
				continue;
			v[j].matched = true;
			break;
		}
		if (j == n) {
			TH_LOG("%s: no line for the kernel's row IPv%d port %u -> %u (st %02X)",
			       what, rows[i].family, rows[i].lport,
			       rows[i].rport, rows[i].st);
			bad++;
			continue;
		}
		if (strcmp(v[j].substate, want)) {
			TH_LOG("%s: port %u: %s, the kernel's row says st %02X",
			       what, rows[i].lport, v[j].substate,
			       rows[i].st);
			bad++;
		}
	}
	for (j = 0; j < n; j++) {
		if (v[j].matched)
			continue;
		TH_LOG("%s: line IPv%lld port %lld -> %lld has no kernel row",
		       what, v[j].family, v[j].sport, v[j].dport);
		bad++;
	}
	return bad;
}

/*
 * Eight TIME_WAIT sockets (client and server side, IPv4 and IPv6, two in
 * the FIN_WAIT2 substate): "ls -j -N", "ls -x -N" and "ls -N" list
 * exactly the kernel's /proc/net/tcp and tcp6 TIME_WAIT rows of this
 * netns with the right substates; "ls -j" (every netns) has them all;
 * "-6" keeps the IPv6 ones; ids and rearms are the live file's.
 */
TEST_F(rd, ls_matches_proc_net_tcp)
{
	struct tw_conn k[8];
	struct tw_tcprow rows[64];
	struct tw_live lv[64];
	struct lsent v[64];
	union tw_sa d4, d6;
	int l4, l6, i, j, n, nrows, nlive, fw2 = 0, v6 = 0;
	const struct tw_live *lp;
	char buf[128];
	struct rd r;

	l4 = tw_listen(AF_INET, "127.0.0.1", &d4);
	l6 = tw_listen(AF_INET6, "::1", &d6);
	ASSERT_LE(0, l4);
	ASSERT_LE(0, l6);
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, tw_make_client_tw(&k[i], l4, &d4, NULL));
	for (i = 3; i < 5; i++)
		ASSERT_EQ(0, tw_make_client_tw(&k[i], l6, &d6, NULL));
	ASSERT_EQ(0, tw_make_server_tw(&k[5], l4, &d4));
	ASSERT_EQ(0, tw_make_fw2_tw(&k[6], l4, &d4));
	ASSERT_EQ(0, tw_make_fw2_tw(&k[7], l6, &d6));

	nrows = tw_proc_tcp_read(rows, 64, true);
	for (i = 0; i < nrows; i++) {
		fw2 += rows[i].st == TWTRACE_SUBSTATE_FIN_WAIT2;
		v6 += rows[i].family == 6;
	}
	TH_LOG("/proc/net/tcp+tcp6: %d TIME_WAIT rows, %d of them st 05 (FIN_WAIT2), %d IPv6",
	       nrows, fw2, v6);
	ASSERT_EQ(8, nrows);
	EXPECT_EQ(2, fw2);

	/* ls -j -N */
	ASSERT_EQ(0, rd_run(&r, RD_ROOT, RD("ls", "-j", "-N", self->nsarg)))
		TH_LOG("ls -j: %s", r.err);
	n = ls_parse_json(r.out, v, 64);
	TH_LOG("ls -j -N %u: %d sockets", self->ns, n);
	ASSERT_EQ(nrows, n) TH_LOG("%s", r.out);
	EXPECT_EQ(0, ls_vs_proc(_metadata, rows, nrows, v, n, "ls -j"));
	nlive = tw_live_read(lv, 64, self->ns);
	for (j = 0; j < n; j++) {
		EXPECT_EQ(self->ns, v[j].netns);
		lp = tw_live_find(lv, nlive, v[j].id);
		ASSERT_NE(NULL, lp) TH_LOG("id %lld not in live", v[j].id);
		EXPECT_EQ((long long)lp->lport, v[j].sport);
		EXPECT_EQ((long long)lp->rearms, v[j].rearms);
		EXPECT_STREQ(lp->substate == TWTRACE_SUBSTATE_FIN_WAIT2 ?
			     "FIN_WAIT2" : "TIME_WAIT", v[j].substate);
		EXPECT_LT(0, v[j].age_ns);
		EXPECT_GT(30 * NSEC, v[j].age_ns);
		/* Oldest first. */
		if (j)
			EXPECT_GE(v[j - 1].age_ns, v[j].age_ns);
	}
	rd_free(&r);

	/* ls -j, every netns: ours among them. */
	ASSERT_EQ(0, rd_run(&r, RD_ROOT, RD("ls", "-j")));
	n = ls_parse_json(r.out, v, 64);
	for (i = 0, j = 0; j < n && j < 64; j++)
		i += v[j].netns == self->ns;
	TH_LOG("ls -j: %d sockets, %d of this netns", n, i);
	EXPECT_EQ(nrows, i);
	rd_free(&r);

	/* ls -j -6 -N: the IPv6 ones. */
	ASSERT_EQ(0, rd_run(&r, RD_ROOT, RD("ls", "-j", "-6", "-N",
					    self->nsarg)));
	n = ls_parse_json(r.out, v, 64);
	EXPECT_EQ(v6, n);
	for (j = 0; j < n; j++)
		EXPECT_EQ(6, v[j].family);
	rd_free(&r);

	/* ls -x -N: text, with netns and id. */
	ASSERT_EQ(0, rd_run(&r, RD_ROOT, RD("ls", "-x", "-N", self->nsarg)));
	n = ls_parse_text(_metadata, r.out, v, 64, true);
	TH_LOG("ls -x -N: %d rows; %s", n,
	       first_line(r.out, buf, sizeof(buf)));
	ASSERT_EQ(nrows, n) TH_LOG("%s", r.out);
	EXPECT_EQ(0, ls_vs_proc(_metadata, rows, nrows, v, n, "ls -x"));
	for (j = 0; j < n; j++) {
		EXPECT_EQ(self->ns, v[j].netns);
		EXPECT_NE(NULL, tw_live_find(lv, nlive, v[j].id));
	}
	rd_free(&r);

	/* ls -N: the default columns. */
	ASSERT_EQ(0, rd_run(&r, RD_ROOT, RD("ls", "-N", self->nsarg)));
	n = ls_parse_text(_metadata, r.out, v, 64, false);
	ASSERT_EQ(nrows, n) TH_LOG("%s", r.out);
	EXPECT_EQ(0, ls_vs_proc(_metadata, rows, nrows, v, n, "ls"));
	rd_free(&r);

	for (i = 0; i < 8; i++)
		tw_conn_close(&k[i]);
	close(l4);
	close(l6);
}

/* ------------------------------------------------------------------ */
/* probes                                                              */
/* ------------------------------------------------------------------ */

struct probe {
	char sym[64];
	char fires[8];
	int attached;
	long long hits, missed;
};

static int probes_json(const char *text, struct probe *p, int max)
{
	char line[512];
	int n = 0;

	while ((text = next_line(text, line, sizeof(line)))) {
		if (!line[0])
			continue;
		if (n == max || js_str(line, "symbol", p[n].sym,
				       sizeof(p[n].sym)))
			return -1;
		p[n].attached = js_bool(line, "attached");
		p[n].hits = js_num_or(line, "hits", -1);
		p[n].missed = js_num_or(line, "missed", -1);
		if (js_str(line, "fires", p[n].fires, sizeof(p[n].fires)))
			return -1;
		n++;
	}
	return n;
}

static int probes_file(struct probe *p, int max)
{
	FILE *f = fopen(TW_DIR "/probes", "r");
	char line[256], att[8];
	int n = 0;

	if (!f)
		return -1;
	while (n < max && fgets(line, sizeof(line), f)) {
		if (line[0] == '#')
			continue;
		if (sscanf(line, "%63s %7s %lld %lld %7s", p[n].sym, att,
			   &p[n].hits, &p[n].missed, p[n].fires) != 5)
			continue;
		p[n].attached = !strcmp(att, "yes");
		n++;
	}
	fclose(f);
	return n;
}

static const struct probe *probe_find(const struct probe *p, int n,
				      const char *sym)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(p[i].sym, sym))
			return &p[i];
	return NULL;
}

/*
 * "probes -j": every hook the probes file lists, all attached, exit 0;
 * after traffic that takes every hook (a birth and rearm, a bound-port
 * reuse, an RST, a FIN_WAIT2 timer, ss -K where the kernel allows it on a
 * tw), their hits grew, every hook says it fires (none "never": attached
 * to a function inlined where it matters), and all match the probes file
 * read right after.  "probes": the same hooks, as text, all "yes".
 */
TEST_F(rd, probes_attached_and_counting)
{
	static const char * const grow[] = {
		"__inet_twsk_schedule", "inet_twsk_kill", "tcp_twsk_destructor",
		"inet_twsk_alloc", "tcp_twsk_unique",
		"tcp_timewait_state_process", "inet_twsk_deschedule_put",
	};
	struct probe p0[32], p1[32], pf[32];
	const struct probe *a, *b;
	int n0, n1, nf, i, try;
	bool abort_fires;
	int ret;
	union tw_sa dst, src;
	struct tw_conn k, k2;
	char line[256];
	const char *t;
	struct rd r;
	int l;

	ASSERT_EQ(0, rd_run(&r, RD_ROOT, RD("probes", "-j")))
		TH_LOG("probes -j: %s", r.err);
	n0 = probes_json(r.out, p0, 32);
	nf = probes_file(pf, 32);
	rd_free(&r);
	ASSERT_LT(0, n0);
	EXPECT_EQ(nf, n0);
	for (i = 0; i < n0; i++)
		EXPECT_EQ(1, p0[i].attached) TH_LOG("%s not attached",
						    p0[i].sym);

	l = tw_listen(AF_INET, "127.0.0.1", &dst);
	ASSERT_LE(0, l);
	ASSERT_EQ(0, tw_sa_set(&src, AF_INET, "127.0.0.1", BOUND_PORT));
	ASSERT_EQ(0, tw_make_client_tw(&k, l, &dst, &src));
	ASSERT_EQ(0, tw_conn_open(&k2, l, &dst, &src))
		TH_LOG("the kernel refused the bound-port reuse");
	ASSERT_EQ(0, tw_make_fw2_tw(&k, l, &dst));
	ASSERT_EQ(0, tw_conn_abort_server(&k));
	tw_conn_close(&k);
	/*
	 * The timer: a FIN_WAIT2 tw with tcp_fin_timeout=1, waited for
	 * until the kernel no longer lists it, however late its timer runs.
	 */
	ASSERT_EQ(0, tw_sysctl_set("net/ipv4/tcp_fin_timeout", "1"));
	ASSERT_EQ(0, tw_make_fw2_tw(&k, l, &dst));
	while (tw_proc_tw_find(tw_sa_port(&k.caddr), tw_sa_port(&k.saddr),
			       NULL))
		usleep(50000);
	tw_conn_close(&k);
	/* tcp_abort(): ss -K, where the kernel kills a tw that way. */
	ret = tw_load_kmod("inet_diag");
	if (!ret)
		ret = tw_load_kmod("tcp_diag");
	/* No module file: fine if the kernel has them built in. */
	if (ret == -ENOENT && tw_tcp_diag_answers())
		ret = 0;
	abort_fires = tw_abort_kills_tw() && !ret;
	if (abort_fires) {
		struct inet_diag_sockid id;
		unsigned char state;

		ASSERT_EQ(0, tw_make_client_tw(&k, l, &dst, NULL));
		ASSERT_EQ(1, tw_diag_find_tw(AF_INET, &k.caddr, &dst, &id,
					     &state));
		EXPECT_EQ(0, tw_diag_destroy(AF_INET, &id));
		tw_conn_close(&k);
	} else {
		TH_LOG("tcp_abort: %s", tw_abort_kills_tw() ?
		       "no inet_diag/tcp_diag" :
		       "this kernel's tcp_abort() refuses a tw (before 6.0)");
	}
	/* The last reference to a dead tw may go a little later. */
	usleep(200000);

	for (try = 0; try < 3; try++) {
		ASSERT_EQ(0, rd_run(&r, RD_ROOT, RD("probes", "-j")));
		n1 = probes_json(r.out, p1, 32);
		nf = probes_file(pf, 32);
		rd_free(&r);
		for (i = 0; i < n1 && i < nf; i++)
			if (p1[i].hits != pf[i].hits)
				break;
		if (n1 == nf && i == n1)
			break;
	}
	ASSERT_GT(3, try) TH_LOG("the probes file never held still");
	for (i = 0; i < n1; i++) {
		a = probe_find(p0, n0, p1[i].sym);
		TH_LOG("%-28s attached %d, hits %lld (+%lld), missed %lld",
		       p1[i].sym, p1[i].attached, p1[i].hits,
		       a ? p1[i].hits - a->hits : -1, p1[i].missed);
		EXPECT_EQ(1, p1[i].attached);
		EXPECT_STREQ(pf[i].sym, p1[i].sym);
		EXPECT_EQ(pf[i].missed, p1[i].missed);
		EXPECT_STREQ(pf[i].fires, p1[i].fires);
		/* Attached to a function inlined where it matters? */
		EXPECT_STRNE("never", p1[i].fires)
			TH_LOG("%s can never fire", p1[i].sym);
		/* The workload reached every hook. */
		if (abort_fires || strcmp(p1[i].sym, "tcp_abort"))
			EXPECT_STREQ("yes", p1[i].fires) TH_LOG("%s",
								p1[i].sym);
	}
	for (i = 0; i < (int)ARRAY_SIZE(grow); i++) {
		a = probe_find(p0, n0, grow[i]);
		b = probe_find(p1, n1, grow[i]);
		ASSERT_NE(NULL, a) TH_LOG("no probe %s", grow[i]);
		ASSERT_NE(NULL, b);
		EXPECT_LT(a->hits, b->hits) TH_LOG("%s did not count", grow[i]);
		EXPECT_STREQ("yes", b->fires);
	}

	ASSERT_EQ(0, rd_run(&r, RD_ROOT, RD("probes")))
		TH_LOG("probes: %s", r.err);
	EXPECT_EQ(n1 + 1, count_lines(r.out));
	EXPECT_EQ(0, strncmp(r.out, "SYMBOL", 6));
	for (i = 0; i < n1; i++) {
		char *s;

		snprintf(line, sizeof(line), "\n%.63s ", p1[i].sym);
		s = strstr(r.out, line);
		EXPECT_NE(NULL, s) TH_LOG("%s not listed", p1[i].sym);
		if (!s)
			continue;
		next_line(s + 1, line, sizeof(line));
		t = line + strlen(p1[i].sym);
		EXPECT_EQ(0, strncmp(js_ws(t), "yes", 3))
			TH_LOG("'%s'", line);
	}
	rd_free(&r);
	tw_conn_close(&k2);
	close(l);
}

/* ------------------------------------------------------------------ */
/* When the reader must refuse.                                        */
/* ------------------------------------------------------------------ */

static const char *const *const every_command[] = {
	RD("stat"),
	RD("stat", "-j"),
	RD("stream", "-d", "1"),
	RD("-j", "-d", "1"),
	RD("hist"),
	RD("ls"),
	RD("probes"),
};

/* Every command run @as: exit 1, @want (and @want2) on stderr, no output. */
static void refuses(struct __test_metadata *_metadata, enum rd_as as,
		    const char *want, const char *want2)
{
	const char *const *argv;
	char buf[256];
	struct rd r;
	int i;

	for (i = 0; i < (int)ARRAY_SIZE(every_command); i++) {
		argv = every_command[i];
		rd_run(&r, as, argv);
		TH_LOG("twtrace %s%s%s: exit %d: %s", argv[1],
		       argv[2] ? " " : "", argv[2] ?: "", r.rc,
		       first_line(r.err, buf, sizeof(buf)));
		ASSERT_NE(RD_SETUP_FAILED, r.rc) TH_LOG("%s", r.err);
		ASSERT_NE(RD_EXEC_FAILED, r.rc) TH_LOG("%s", r.err);
		EXPECT_EQ(1, r.rc);
		EXPECT_NE(NULL, strstr(r.err, want)) TH_LOG("%s", r.err);
		if (want2)
			EXPECT_NE(NULL, strstr(r.err, want2))
				TH_LOG("%s", r.err);
		EXPECT_STREQ("", r.out);
		rd_free(&r);
	}
}

/*
 * debugfs not mounted (in the reader's own mount namespace): every
 * command says how to mount it and exits 1.
 */
TEST(refuses_without_debugfs)
{
	ASSERT_EQ(0, tw_module_ensure());
	refuses(_metadata, RD_NO_DEBUGFS, "debugfs is not mounted",
		"mount -t debugfs none /sys/kernel/debug");
	EXPECT_EQ(0, access(TW_DIR "/stats", R_OK));
}

/*
 * Not root (uid and gid 65534): every command says it needs root and
 * exits 1.  The initramfs's / may be 0700 (it is the mode of the
 * directory it was packed from), which would stop nobody before any
 * twtrace file: open it for the test.
 */
TEST(refuses_without_root)
{
	struct stat st;
	bool opened = false;

	ASSERT_EQ(0, tw_module_ensure());
	ASSERT_EQ(0, stat("/", &st));
	if (!(st.st_mode & 0001)) {
		TH_LOG("/ is %04o: o+x for the test", st.st_mode & 07777);
		ASSERT_EQ(0, chmod("/", (st.st_mode & 07777) | 0055));
		opened = true;
	}
	refuses(_metadata, RD_NOBODY, "needs root", NULL);
	if (opened)
		EXPECT_EQ(0, chmod("/", st.st_mode & 07777));
}

FIXTURE(unloaded) {
	int unused;
};

FIXTURE_SETUP(unloaded)
{
	ASSERT_EQ(0, tw_module_ensure());
}

FIXTURE_TEARDOWN(unloaded)
{
	/* Whatever happened, leave the module loaded for what follows. */
	if (!tw_module_loaded())
		EXPECT_EQ(0, tw_module_load());
}

/*
 * The module unloaded (delete_module): every command says it is not
 * loaded and exits 1.  Loaded again from the same file, the reader reads
 * it again: counters from zero.
 */
TEST_F(unloaded, refuses_without_module)
{
	struct tw_stats s;
	int ret = -1;
	struct rd r;

	ASSERT_TRUE(tw_wait_until((ret = tw_module_unload()) != -EAGAIN &&
				  ret != -EBUSY, 5));
	ASSERT_EQ(0, ret) TH_LOG("delete_module: %s", strerror(-ret));
	ASSERT_FALSE(tw_module_loaded());
	refuses(_metadata, RD_ROOT, "not loaded", NULL);

	ASSERT_EQ(0, tw_module_load()) TH_LOG("from %s", tw_ko_path());
	ASSERT_EQ(0, rd_run(&r, RD_ROOT, RD("stat", "-j")))
		TH_LOG("%s", r.err);
	ASSERT_EQ(0, stats_from_json(r.out, &s));
	TH_LOG("reloaded: stat -j births %lld, records %lld",
	       tw_stats_get(&s, "births"), tw_stats_get(&s, "records"));
	EXPECT_EQ(0, tw_stats_get(&s, "births"));
	rd_free(&r);
}

TEST_HARNESS_MAIN
