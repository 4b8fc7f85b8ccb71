// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace reader tests: "ports" against /proc/net/tcp and tcp6, "top"
 * against the live file and the connect()s that failed, "stat
 * --prometheus" against top.  In a fresh netns: three destinations, TIME_WAIT
 * sockets of three uids toward them, one destination's ports exhausted.
 */
#include <sys/stat.h>

#include "fixture_rd.h"

#define CG_MNT		"/sys/fs/cgroup"	/* scripts/guest-init.sh */

#define LO		61000	/* outside the default range: no listener */
#define HI		61007
#define RANGE		(HI - LO + 1)
#define N_B		2	/* uid 1000's toward B */
#define N_C		3	/* uid 2000's toward C */
#define N_FAIL		2	/* connect()s to A that find no port */

struct dest {
	const char *ip;
	int family, lfd, tw;
	union tw_sa sa;
	unsigned char addr[16];
};

/* A child of uid @uid makes @n client TIME_WAIT sockets toward @d. */
static int make_as(struct dest *d, unsigned int uid, int n)
{
	struct tw_conn k;
	pid_t pid = tw_spawn();
	int i, status;

	if (pid < 0)
		return -1;
	if (!pid) {
		if (setresgid(uid, uid, uid) || setresuid(uid, uid, uid))
			_exit(10);
		for (i = 0; i < n; i++)
			if (tw_make_client_tw(&k, d->lfd, &d->sa, NULL))
				_exit(11);
		_exit(0);
	}
	status = tw_reap(pid, 60);
	return status >= 0 && WIFEXITED(status) && !WEXITSTATUS(status) ?
	       0 : -1;
}

/* What /proc/net/tcp{,6} says toward @d from a port in the range. */
static void proc_counts(const struct dest *d, int *tw, int *others)
{
	struct tw_tcprow rows[256];
	size_t alen = d->family == 6 ? 16 : 4;
	int n, i;

	*tw = *others = 0;
	n = tw_proc_tcp_read(rows, 256, false);
	for (i = 0; i < n && i < 256; i++) {
		if (rows[i].family != d->family ||
		    rows[i].rport != tw_sa_port(&d->sa) ||
		    memcmp(rows[i].raddr, d->addr, alen) ||
		    rows[i].lport < LO || rows[i].lport > HI)
			continue;
		if (rows[i].timer == 3)
			(*tw)++;
		else if (rows[i].st != 10)
			(*others)++;
	}
}

static int live_count(const struct dest *d, unsigned int ns)
{
	struct tw_live lv[256];
	size_t alen = d->family == 6 ? 16 : 4;
	int n, i, c = 0;

	n = tw_live_read(lv, 256, ns);
	for (i = 0; i < n && i < 256; i++)
		c += lv[i].family == d->family &&
		     lv[i].rport == tw_sa_port(&d->sa) &&
		     !memcmp(lv[i].raddr, d->addr, alen);
	return c;
}

/* The group of top -j's object @obj with this destination; NULL. */
static const char *top_group(const char *obj, const struct dest *d,
			     char *buf, size_t len)
{
	const char *e;
	char a[64];
	long long port;
	int i;

	for (i = 0; (e = js_elem(obj, "groups", i)); i++) {
		if (js_str(e, "daddr", a, sizeof(a)) ||
		    js_num(e, "dport", &port) || strcmp(a, d->ip) ||
		    port != tw_sa_port(&d->sa))
			continue;
		snprintf(buf, len, "%s", e);
		return buf;
	}
	return NULL;
}

/*
 * The test's cgroup v2 path and id (its directory's inode number), from
 * /proc/self/cgroup and cgroup2 on CG_MNT: 0, or -1 without them.
 */
static int my_cgroup(char *path, size_t len, unsigned long long *id)
{
	char line[512], dir[700];
	FILE *f = fopen("/proc/self/cgroup", "r");
	struct stat st;
	int ret = -1;

	if (!f)
		return -1;
	while (ret && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = '\0';
		snprintf(path, len, "%s", line + 3);
		snprintf(dir, sizeof(dir), "%s%s", CG_MNT, line + 3);
		if (!stat(dir, &st)) {
			*id = st.st_ino;
			ret = 0;
		}
	}
	fclose(f);
	return ret;
}

/* The value of Prometheus sample @name{@labels}; -1 if absent. */
static long long prom_value(const char *out, const char *name,
			    const char *labels)
{
	char want[1200];
	const char *p;

	snprintf(want, sizeof(want), "\n%s{%s} ", name, labels);
	p = strstr(out, want);
	return p ? atoll(p + strlen(want)) : -1;
}

/* The group of top -j -g cgroup's @obj of @netns and @cgroup; NULL. */
static const char *top_cgroup(const char *obj, unsigned int netns,
			      unsigned long long cgroup)
{
	const char *e;
	long long ns, id;
	int i;

	for (i = 0; (e = js_elem(obj, "groups", i)); i++)
		if (!js_num(e, "netns", &ns) && ns == netns &&
		    !js_num(e, "cgroup_id", &id) &&
		    (unsigned long long)id == cgroup)
			return e;
	return NULL;
}

/* inet_diag and tcp_diag there (loaded, or built in): 0, or -errno. */
static int diag_ready(void)
{
	int ret = tw_load_kmod("inet_diag");

	if (!ret)
		ret = tw_load_kmod("tcp_diag");
	if (ret == -ENOENT && tw_tcp_diag_answers())
		ret = 0;
	return ret;
}

TEST_F(rd, top_ports_per_destination)
{
	struct dest ds[3] = {
		{ .ip = "127.0.0.2", .family = 4 },
		{ .ip = "127.0.0.3", .family = 4 },
		{ .ip = "::1", .family = 6 },
	};
	struct dest *a = &ds[0], *b = &ds[1], *c = &ds[2];
	char line[1024], path[64], want[700], ip[64], *g, cgpath[512];
	long long v, tw, others, range, headroom, port, got;
	int i, n, ptw, pothers, fails = 0, seen, proc_tw;
	struct tw_group g0, g1, g2;
	struct tw_stats s0, s1;
	unsigned long long cg = 0;
	long long refused;
	unsigned int u;
	bool have_cg;
	struct tw_conn k;
	const char *p;
	struct rd r;

	/* ports reads sock_diag, as ss does */
	ASSERT_EQ(0, diag_ready())
		TH_LOG("tcp_diag cannot be loaded: ports cannot be read");
	g = malloc(65536);
	ASSERT_NE(NULL, g);
	for (i = 0; i < 3; i++) {
		ds[i].lfd = tw_listen(ds[i].family == 6 ? AF_INET6 : AF_INET,
				      ds[i].ip, &ds[i].sa);
		ASSERT_LE(0, ds[i].lfd);
		memcpy(ds[i].addr, tw_sa_addr(&ds[i].sa),
		       tw_sa_addrlen(&ds[i].sa));
	}
	snprintf(want, sizeof(want), "%d %d", LO, HI);
	ASSERT_EQ(0, tw_sysctl_set("net/ipv4/ip_local_port_range", want));
	ASSERT_EQ(0, tw_sysctl_set("net/ipv4/tcp_tw_reuse", "0"));
	/* A netns inode number can be one a dead netns had: from here on. */
	have_cg = !my_cgroup(cgpath, sizeof(cgpath), &cg);
	if (have_cg) {
		tw_group_get(self->ns, cg, &g0);
		ASSERT_EQ(0, tw_stats_read(&s0));
	} else {
		TH_LOG("no cgroup v2: the groups are not checked");
	}

	ASSERT_EQ(0, make_as(b, 1000, N_B));
	ASSERT_EQ(0, make_as(c, 2000, N_C));
	for (i = 0; i < RANGE; i++)
		ASSERT_EQ(0, tw_make_client_tw(&k, a->lfd, &a->sa, NULL));
	for (i = 0; i < N_FAIL; i++)
		fails += tw_conn_open(&k, a->lfd, &a->sa, NULL) ==
			 -EADDRNOTAVAIL;
	ASSERT_EQ(N_FAIL, fails);
	a->tw = RANGE;
	b->tw = N_B;
	c->tw = N_C;

	/* ports -j -N: every destination as /proc/net/tcp counts it */
	snprintf(path, sizeof(path), "/proc/%d/ns/net", getpid());
	ASSERT_EQ(0, rd_run(&r, RD_ROOT, RD("ports", "-j", "-N", path)))
		TH_LOG("ports: %s", r.err);
	TH_LOG("ports -j -N %s:\n%s", path, r.out);
	for (i = 0; i < 3; i++) {
		proc_counts(&ds[i], &ptw, &pothers);
		EXPECT_EQ(ds[i].tw, ptw);
		seen = 0;
		p = r.out;
		while ((p = next_line(p, line, sizeof(line)))) {
			if (!line[0] || js_str(line, "daddr", ip, sizeof(ip)) ||
			    js_num(line, "dport", &port) ||
			    strcmp(ip, ds[i].ip) ||
			    port != tw_sa_port(&ds[i].sa))
				continue;
			seen++;
			ASSERT_EQ(0, js_num(line, "tw", &tw));
			ASSERT_EQ(0, js_num(line, "others", &others));
			ASSERT_EQ(0, js_num(line, "range", &range));
			ASSERT_EQ(0, js_num(line, "headroom", &headroom));
			ASSERT_EQ(0, js_num(line, "netns", &v));
			EXPECT_EQ(self->ns, v);
			EXPECT_EQ(ptw, tw);
			EXPECT_EQ(pothers, others);
			EXPECT_EQ(RANGE, range);
			EXPECT_EQ(RANGE - ptw - pothers, headroom);
		}
		EXPECT_EQ(1, seen) TH_LOG("%s: %d lines", ds[i].ip, seen);
	}
	rd_free(&r);

	/* top -j -g dest: live as the live file, the failed connects */
	ASSERT_EQ(0, rd_run(&r, RD_ROOT, RD("top", "-j", "-g", "dest",
					    "0.5", "1")))
		TH_LOG("top: %s", r.err);
	ASSERT_EQ(1, count_lines(r.out)) TH_LOG("%s", r.out);
	for (i = 0; i < 3; i++) {
		n = live_count(&ds[i], self->ns);
		EXPECT_EQ(ds[i].tw, n);
		ASSERT_NE(NULL, top_group(r.out, &ds[i], g, 65536))
			TH_LOG("no group %s in %s", ds[i].ip, r.out);
		ASSERT_EQ(0, js_num(g, "live", &got));
		EXPECT_EQ(n, got);
		ASSERT_EQ(0, js_num(g, "connect_fail", &got));
		EXPECT_EQ(i ? 0 : N_FAIL, got);
		ASSERT_EQ(0, js_num(g, "headroom", &got));
		EXPECT_EQ(i ? RANGE - ds[i].tw : 0, got);
		ASSERT_EQ(0, js_num(g, "netns", &got));
		EXPECT_EQ(self->ns, got);
	}
	rd_free(&r);

	/* top -j -g uid: the owners */
	ASSERT_EQ(0, rd_run(&r, RD_ROOT, RD("top", "-j", "-g", "uid",
					    "0.5", "1")))
		TH_LOG("top -g uid: %s", r.err);
	for (i = 0; (p = js_elem(r.out, "groups", i)); i++) {
		if (js_num(p, "uid", &v) || js_num(p, "live", &got))
			continue;
		if (v == 1000)
			EXPECT_LE(N_B, got);
		if (v == 2000)
			EXPECT_LE(N_C, got);
	}
	rd_free(&r);

	/* stat --prometheus: the destinations' gauges as top's live */
	ASSERT_EQ(0, rd_run(&r, RD_ROOT, RD("stat", "--prometheus")))
		TH_LOG("stat --prometheus: %s", r.err);
	for (i = 0; i < 3; i++) {
		snprintf(want, sizeof(want),
			 "twtrace_live_destination_sockets{netns=\"%u\",daddr=\"%s\",dport=\"%u\"} ",
			 self->ns, ds[i].ip, tw_sa_port(&ds[i].sa));
		p = strstr(r.out, want);
		ASSERT_NE(NULL, p) TH_LOG("no %s", want);
		EXPECT_EQ(live_count(&ds[i], self->ns),
			  atoll(p + strlen(want)));
		/* the local address is the route's: any */
		snprintf(want, sizeof(want),
			 "twtrace_port_headroom{daddr=\"%s\",dport=\"%u\",laddr=",
			 ds[i].ip, tw_sa_port(&ds[i].sa));
		p = strstr(r.out, want);
		ASSERT_NE(NULL, p) TH_LOG("no %s", want);
		p = strstr(p, "} ");
		ASSERT_NE(NULL, p);
		EXPECT_EQ(RANGE - ds[i].tw, atoll(p + 2));
	}
	rd_free(&r);

	if (!have_cg)
		goto out;
	/*
	 * The groups: every socket here is the test's cgroup's.  Its group
	 * gained the births, live as /proc/net/tcp says (or, if the guest
	 * is slow enough, expired), the failed connects the program saw and
	 * the refused reuses (each connect() to A met some TIME_WAIT
	 * sockets; how many, the random port offset decides): every one
	 * the module counted, since nothing else runs.  top -j -g cgroup
	 * and stat --prometheus show those same figures.
	 */
	tw_wait_until((proc_tw = tw_proc_tcp_read(NULL, 0, true),
		       tw_group_get(self->ns, cg, &g1),
		       proc_tw == tw_proc_tcp_read(NULL, 0, true) &&
		       g1.live == proc_tw), 10);
	TH_LOG("group (%u, %s = %llu): live %lld, births +%lld, cfail +%lld, refused +%lld",
	       self->ns, cgpath, cg, g1.live, g1.births - g0.births,
	       g1.connect_fail - g0.connect_fail,
	       g1.reuse_refused - g0.reuse_refused);
	EXPECT_EQ(proc_tw, g1.live);
	EXPECT_EQ(RANGE + N_B + N_C, g1.births - g0.births);
	EXPECT_EQ(RANGE + N_B + N_C - proc_tw,
		  g1.death[TWTRACE_DEATH_EXPIRED] -
		  g0.death[TWTRACE_DEATH_EXPIRED]);
	EXPECT_EQ(N_FAIL, g1.connect_fail - g0.connect_fail);
	ASSERT_EQ(0, tw_stats_read(&s1));
	for (refused = 0, u = 0; u < TWTRACE_REUSE_NR; u++) {
		snprintf(line, sizeof(line), "reuse_%s", tw_reuse_name(u));
		refused += twtrace_reuse_allows(u) ? 0 :
			   tw_stats_delta(&s0, &s1, line);
	}
	EXPECT_LE(N_FAIL * RANGE, refused);
	EXPECT_EQ(refused, g1.reuse_refused - g0.reuse_refused);
	EXPECT_EQ(0, g1.reuse_allowed - g0.reuse_allowed);

	/*
	 * Between the group read before each reader and the one after:
	 * only expiries can come meanwhile, taking from live and adding to
	 * the expired deaths.
	 */
	ASSERT_EQ(0, rd_run(&r, RD_ROOT, RD("top", "-j", "-g", "cgroup",
					    "0.5", "1")))
		TH_LOG("top -g cgroup: %s", r.err);
	tw_group_get(self->ns, cg, &g2);
	p = top_cgroup(r.out, self->ns, cg);
	ASSERT_NE(NULL, p) TH_LOG("no group of cgroup %llu in %s", cg, r.out);
	ASSERT_EQ(0, js_num(p, "live", &got));
	EXPECT_TRUE(got <= g1.live && got >= g2.live) TH_LOG("live %lld", got);
	ASSERT_EQ(0, js_num(p, "cumulative.births", &got));
	EXPECT_EQ(g1.births, got);
	ASSERT_EQ(0, js_num(p, "cumulative.connect_fail", &got));
	EXPECT_EQ(g1.connect_fail, got);
	ASSERT_EQ(0, js_num(p, "cumulative.reuse_refused", &got));
	EXPECT_EQ(g1.reuse_refused, got);
	ASSERT_EQ(0, js_num(p, "cumulative.death.expired", &got));
	EXPECT_TRUE(got >= g1.death[TWTRACE_DEATH_EXPIRED] &&
		    got <= g2.death[TWTRACE_DEATH_EXPIRED])
		TH_LOG("expired %lld", got);
	rd_free(&r);

	g1 = g2;
	ASSERT_EQ(0, rd_run(&r, RD_ROOT, RD("stat", "--prometheus")))
		TH_LOG("stat --prometheus: %s", r.err);
	tw_group_get(self->ns, cg, &g2);
	snprintf(want, sizeof(want), "netns=\"%u\",cgroup=\"%s\"", self->ns,
		 cgpath);
	got = prom_value(r.out, "twtrace_live_sockets", want);
	EXPECT_TRUE(got <= g1.live && got >= g2.live)
		TH_LOG("twtrace_live_sockets{%s} %lld", want, got);
	EXPECT_EQ(g1.births, prom_value(r.out, "twtrace_group_births_total",
					want));
	EXPECT_EQ(g1.connect_fail,
		  prom_value(r.out, "twtrace_group_connect_failures_total",
			     want));
	snprintf(line, sizeof(line), "%s,allowed=\"false\"", want);
	EXPECT_EQ(g1.reuse_refused,
		  prom_value(r.out, "twtrace_group_reuse_decisions_total",
			     line));
	snprintf(line, sizeof(line), "%s,reason=\"expired\"", want);
	got = prom_value(r.out, "twtrace_group_deaths_total", line);
	EXPECT_TRUE(got >= g1.death[TWTRACE_DEATH_EXPIRED] &&
		    got <= g2.death[TWTRACE_DEATH_EXPIRED])
		TH_LOG("expired %lld", got);
	rd_free(&r);
out:
	free(g);
	for (i = 0; i < 3; i++)
		close(ds[i].lfd);
}

/*
 * top -j -g cgroup 1 2, started before four TIME_WAIT sockets of the
 * test's cgroup are made: two objects whose gains for the group sum to
 * the four births, each the growth of its cumulative count, whatever
 * interval the births fell in.  It reads the groups file, not the rings:
 * the records of those births are all still there after it.
 */
TEST_F_TIMEOUT(rd, top_cgroup_intervals, 60)
{
	long long births = 0, cum, prev = -1, got;
	char line[65536], cgpath[512];
	struct tw_group g0, g1;
	unsigned long long cg;
	struct tw_recs rs;
	struct tw_conn k;
	union tw_sa dst;
	const char *p, *e;
	int l, i, n = 0;

	if (my_cgroup(cgpath, sizeof(cgpath), &cg))
		SKIP(return, "no cgroup v2");
	l = tw_listen(AF_INET, "127.0.0.1", &dst);
	ASSERT_LE(0, l);
	tw_group_get(self->ns, cg, &g0);
	tw_recs_init(&rs, self->ns);
	ASSERT_EQ(0, tw_recs_drain(&rs));
	ASSERT_EQ(0, rd_start(&self->bg, RD_ROOT,
			      RD("top", "-j", "-g", "cgroup", "1", "2")));
	/* Its first read of the groups file is done once it sleeps. */
	EXPECT_TRUE(tw_wait_until(rd_sleeping(&self->bg), 5));
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, tw_make_client_tw(&k, l, &dst, NULL));
	rd_wait(&self->bg, 0, 20);
	EXPECT_EQ(0, self->bg.rc) TH_LOG("stderr: %s", self->bg.err);
	tw_group_get(self->ns, cg, &g1);
	EXPECT_EQ(4, g1.births - g0.births);
	prev = g0.births;
	p = self->bg.out;
	while ((p = next_line(p, line, sizeof(line)))) {
		if (!line[0])
			continue;
		n++;
		e = top_cgroup(line, self->ns, cg);
		ASSERT_NE(NULL, e) TH_LOG("object %d: no group: %s", n, line);
		ASSERT_EQ(0, js_num(e, "births", &got));
		ASSERT_EQ(0, js_num(e, "cumulative.births", &cum));
		TH_LOG("object %d: births %lld, cumulative %lld", n, got, cum);
		EXPECT_EQ(cum - prev, got);
		births += got;
		prev = cum;
	}
	EXPECT_EQ(2, n);
	EXPECT_EQ(4, births);
	EXPECT_EQ(g1.births, prev);
	/* The four births' records are still in the rings. */
	tw_recs_read(&rs);
	EXPECT_EQ(4, tw_recs_count(&rs, TWTRACE_EV_BIRTH, -1, 0, 0, 0));
	tw_recs_free(&rs);
	close(l);
}

TEST_HARNESS_MAIN
