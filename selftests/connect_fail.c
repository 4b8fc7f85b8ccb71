// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace connect_fail tests: a connect() that found no local port for its
 * destination, produced for real, and its record held to what the failing
 * program saw (connect()'s errno, the socket's SO_COOKIE and owner as
 * fstat() shows it), to the kernel's own rows (/proc/net/tcp and tcp6:
 * the TIME_WAIT and established sockets toward the destination), to the
 * sysctls in force (ip_local_port_range, tcp_tw_reuse, tcp_timestamps)
 * and to the reuse decisions the same connect() produced.
 *
 * The port range is made tiny, a few ports not used by the test's
 * listeners (which are bound before it shrinks: listen() needs a port of
 * it), and even: connect() tries the ports of both parities of an even
 * range, but drops one port of an odd one (__inet_hash_connect()).
 */
#include <sys/mount.h>
#include <sys/stat.h>

#include "fixture_tw.h"
#include "fixture_tw_af.h"

#ifndef SO_COOKIE
#define SO_COOKIE	57
#endif

#define RANGE_LOW	40000U
#define BOUND_PORT	41000U
#define OTHER_UID	1001U

/* A client socket whose connect() may fail. */
struct cf_sock {
	int fd;
	unsigned long long cookie;	/* SO_COOKIE, before connect() */
	unsigned int uid;		/* its inode's owner, as fstat() says */
	int err;			/* connect(): 0 or -errno */
	union tw_sa local;		/* after a connect() that succeeded */
};

/*
 * A socket of @dst's family, bound to @src (SO_REUSEADDR) if given, its
 * cookie and owner taken, then connect(): its result in s->err.  0, or
 * -errno of a step before connect().
 */
static int cf_connect(struct cf_sock *s, const union tw_sa *dst,
		      const union tw_sa *src)
{
	socklen_t len = sizeof(s->cookie);
	struct stat st;
	int one = 1, err;

	memset(s, 0, sizeof(*s));
	s->fd = socket(dst->sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return -errno;
	if (getsockopt(s->fd, SOL_SOCKET, SO_COOKIE, &s->cookie, &len) ||
	    fstat(s->fd, &st))
		goto fail;
	s->uid = st.st_uid;
	if (src && (setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one,
			       sizeof(one)) ||
		    bind(s->fd, &src->sa, tw_sa_len(src))))
		goto fail;
	if (connect(s->fd, &dst->sa, tw_sa_len(dst))) {
		s->err = -errno;
		return 0;
	}
	len = sizeof(s->local);
	if (getsockname(s->fd, &s->local.sa, &len))
		goto fail;
	return 0;
fail:
	err = -errno;
	close(s->fd);
	s->fd = -1;
	return err;
}

static void cf_close(struct cf_sock *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

/*
 * net.ipv4.ip_local_port_range := @n ports from RANGE_LOW up, moved up
 * past the ports of the listeners @lsn[0..@nl); the range as the kernel
 * then reads it back in @lo, @hi.
 */
static void set_range(struct __test_metadata *_metadata,
		      const union tw_sa *lsn, int nl, unsigned int n,
		      unsigned int *lo, unsigned int *hi)
{
	unsigned int low = RANGE_LOW, rlo = 0, rhi = 0;
	char buf[64];
	bool clash;
	int i, got;

	do {
		clash = false;
		for (i = 0; i < nl; i++)
			clash |= tw_sa_port(&lsn[i]) >= low &&
				 tw_sa_port(&lsn[i]) < low + n;
		if (clash)
			low += 2 * n;
	} while (clash);
	snprintf(buf, sizeof(buf), "%u %u", low, low + n - 1);
	ASSERT_EQ(0, tw_sysctl_set("net/ipv4/ip_local_port_range", buf));
	ASSERT_EQ(0, tw_read_str("/proc/sys/net/ipv4/ip_local_port_range",
				 buf, sizeof(buf)));
	got = sscanf(buf, "%u %u", &rlo, &rhi);
	ASSERT_EQ(2, got) TH_LOG("%s", buf);
	ASSERT_EQ(low, rlo);
	ASSERT_EQ(low + n - 1, rhi);
	*lo = rlo;
	*hi = rhi;
}

/* tcp_timestamps and tcp_tw_reuse of the netns, and checked. */
static void set_ts_reuse(struct __test_metadata *_metadata, const char *ts,
			 const char *reuse)
{
	ASSERT_EQ(0, tw_sysctl_set("net/ipv4/tcp_timestamps", ts));
	ASSERT_EQ(0, tw_sysctl_set("net/ipv4/tcp_tw_reuse", reuse));
	ASSERT_EQ(atoi(ts), tw_sysctl_get("net/ipv4/tcp_timestamps"));
	ASSERT_EQ(atoi(reuse), tw_sysctl_get("net/ipv4/tcp_tw_reuse"));
}

/*
 * The kernel's rows (/proc/net/tcp, tcp6) toward @dst from a local port
 * in [@lo, @hi]: TIME_WAIT sockets (timer 3) of substate @sub (0: either),
 * or with @sub 1 the established ones.  -1 if the files cannot be read.
 */
static int rows_toward(const union tw_sa *dst, unsigned int lo,
		       unsigned int hi, unsigned int sub)
{
	struct tw_tcprow *v;
	int i, n, got = 0, max = 1024;

	v = calloc(max, sizeof(*v));
	if (!v)
		return -1;
	n = tw_proc_tcp_read(v, max, false);
	for (i = 0; i < n && i < max; i++) {
		bool tw = v[i].timer == 3;

		if (v[i].family != tw_sa_fam(dst) ||
		    v[i].rport != tw_sa_port(dst) ||
		    memcmp(v[i].raddr, tw_sa_addr(dst), tw_sa_addrlen(dst)) ||
		    v[i].lport < lo || v[i].lport > hi)
			continue;
		if (sub == 1 ? !tw && v[i].st == 1 :
		    tw && (!sub || v[i].st == sub))
			got++;
	}
	free(v);
	return n < 0 || n > max ? -1 : got;
}

/* @n client TIME_WAIT sockets toward @dst, the kernel listing them all. */
static void make_tws(struct __test_metadata *_metadata, int l,
		     const union tw_sa *dst, int n, unsigned int lo,
		     unsigned int hi)
{
	struct tw_conn k;
	int i;

	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, tw_make_client_tw(&k, l, dst, NULL))
			TH_LOG("TIME_WAIT socket %d of %d", i + 1, n);
		ASSERT_LE(lo, tw_sa_port(&k.caddr));
		ASSERT_GE(hi, tw_sa_port(&k.caddr));
	}
	/* Born in FIN_WAIT2, they turn TIME_WAIT with the server's FIN. */
	ASSERT_TRUE(tw_wait_until(rows_toward(dst, lo, hi, SUB_TW) == n, 10))
		TH_LOG("%d TIME_WAIT rows toward port %u, %d wanted",
		       rows_toward(dst, lo, hi, SUB_TW), tw_sa_port(dst), n);
}

/* What the kernel and the module count, before a connect(). */
struct cf_snap {
	struct tw_stats s;
	long long recycled;	/* TcpExt TWRecycled */
	long long sockstat;	/* sockstat tw */
	unsigned int ns;	/* the caller's netns */
	struct tw_group g[128];	/* its groups */
	int ng;
};

static void cf_snap(struct __test_metadata *_metadata, struct cf_snap *c)
{
	static struct tw_group all[512];
	int n, i;

	ASSERT_EQ(0, tw_stats_read(&c->s));
	c->recycled = tw_tcpext("TWRecycled");
	c->sockstat = tw_sockstat_tw();
	c->ns = tw_netns_inum();
	n = tw_groups_read(all, 512);
	ASSERT_LE(0, n);
	ASSERT_GT(512, n);
	for (c->ng = 0, i = 0; i < n; i++) {
		if (all[i].netns != c->ns)
			continue;
		/* A netns inode number can be a dead netns's: its groups. */
		ASSERT_GT(128, c->ng) TH_LOG("more than 128 groups in netns");
		c->g[c->ng++] = all[i];
	}
}

/* The group (@c's netns, @cgroup) as @c saw it: zeroes if not there. */
static struct tw_group cf_group(const struct cf_snap *c,
				unsigned long long cgroup)
{
	struct tw_group g = { 0 };
	int i;

	for (i = 0; i < c->ng; i++)
		if (c->g[i].cgroup == cgroup)
			g = c->g[i];
	return g;
}

/* The records of @type whose owner is @cookie; the last one in @out. */
static int recs_of(const struct tw_recs *rs, int type,
		   unsigned long long cookie, struct twtrace_record *out)
{
	size_t i;
	int n = 0;

	for (i = 0; i < rs->n; i++) {
		if (rs->v[i].r.type != type ||
		    rs->v[i].r.owner.cookie != cookie)
			continue;
		if (out)
			*out = rs->v[i].r;
		n++;
	}
	return n;
}

/*
 * The one connect_fail record of the socket with @cookie; a copy of it.
 * A connect() emits its records before it returns: a second read a
 * little later finds any extra one.
 */
static struct twtrace_record
wait_fail(struct __test_metadata *_metadata, struct tw_recs *rs,
	  unsigned long long cookie)
{
	struct twtrace_record r;
	int n;

	memset(&r, 0, sizeof(r));
	tw_wait_until((tw_recs_read(rs),
		       recs_of(rs, TWTRACE_EV_CONNECT_FAIL, cookie, NULL) > 0),
		      10);
	usleep(100000);
	tw_recs_read(rs);
	n = recs_of(rs, TWTRACE_EV_CONNECT_FAIL, cookie, &r);
	EXPECT_EQ(0, rs->bad);
	EXPECT_EQ(0, rs->err);
	ASSERT_EQ(1, n)
		TH_LOG("%d connect_fail records for socket cookie %llu", n,
		       cookie);
	return r;
}

static void log_fail(struct __test_metadata *_metadata,
		     const struct twtrace_record *r)
{
	static const char * const roles[] = TWTRACE_ROLE_NAMES;
	char why[256] = "";
	size_t len = 0;
	int i;

	for (i = 0; i < TWTRACE_REUSE_NR; i++)
		if (r->connect.reasons[i] && len < sizeof(why))
			len += snprintf(why + len, sizeof(why) - len, " %s=%u",
					tw_reuse_name(i), r->connect.reasons[i]);
	TH_LOG("connect_fail: err %d (%s), IPv%u sport %u -> dport %u",
	       r->connect.err, strerror(-r->connect.err), r->family,
	       r->sport, r->dport);
	TH_LOG("  ports %u, tw_seen %u,%s, flags %#x", r->connect.ports,
	       r->connect.tw_seen, len ? why : " no reasons", r->flags);
	TH_LOG("  owner: cookie %llu, uid %u, cgroup %llu, role %s",
	       (unsigned long long)r->owner.cookie, r->owner.uid,
	       (unsigned long long)r->owner.cgroup,
	       r->owner.role < TWTRACE_ROLE_NR ? roles[r->owner.role] : "?");
}

#define CG_MNT	"/tmp/twtrace-cgroup2"

/*
 * The cgroup v2 id of the caller's cgroup: the inode number of its
 * directory ("0::<path>" of /proc/self/cgroup, a line the kernel shows
 * once cgroup2 has been mounted) in a cgroup2 mount of our own at CG_MNT,
 * in a mount namespace of this test's own (each test is a process of its
 * own, the mount goes with it).  0 if there is none, why in cg_why.
 */
static char cg_why[700] = "not looked up";

static unsigned long long self_cgroup_id(void)
{
	static unsigned long long id;
	static bool done;
	char line[512], path[600], *p = NULL;
	struct stat st;
	FILE *f;

	if (done)
		return id;
	done = true;
	if (unshare(CLONE_NEWNS) ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		snprintf(cg_why, sizeof(cg_why), "a mount namespace: %s",
			 strerror(errno));
		return 0;
	}
	mkdir(CG_MNT, 0700);
	if (mount("cgroup2", CG_MNT, "cgroup2", 0, NULL)) {
		snprintf(cg_why, sizeof(cg_why), "mount cgroup2: %s",
			 strerror(errno));
		return 0;
	}
	f = fopen("/proc/self/cgroup", "r");
	if (f) {
		while (!p && fgets(line, sizeof(line), f))
			if (!strncmp(line, "0::", 3))
				p = line + 3;
		fclose(f);
	}
	if (p) {
		p[strcspn(p, "\n")] = '\0';
		snprintf(path, sizeof(path), "%s%s", CG_MNT, p);
		if (stat(path, &st)) {
			snprintf(cg_why, sizeof(cg_why), "%s: %s", path,
				 strerror(errno));
		} else {
			id = st.st_ino;
			snprintf(cg_why, sizeof(cg_why), "%s: inode %llu",
				 path, id);
		}
	} else {
		snprintf(cg_why, sizeof(cg_why),
			 "no 0:: line in /proc/self/cgroup");
	}
	return id;
}

/* What a failed connect() should have produced. */
struct cf_want {
	const union tw_sa *dst;
	const struct cf_sock *s;	/* the socket, as its program saw it */
	unsigned int sport;		/* the bound port, or 0 */
	unsigned int ports;		/* the range's size, or 0 if bound */
	int tw_seen;			/* TIME_WAIT rows it had to pass */
	int reason;			/* theirs, all of them */
	const struct cf_snap *before;
	unsigned long long cgroup;	/* its cgroup id; 0: the caller's */
};

/*
 * The record of a failed connect() against what its program saw, the
 * kernel's rows and counters; the reuse records of the same connect()
 * (same owner cookie) are its tw_seen decisions, by the same reasons,
 * all refused, each about a TIME_WAIT socket toward the destination.
 */
static struct twtrace_record
check_fail(struct __test_metadata *_metadata, struct tw_recs *rs,
	   const struct cf_want *w)
{
	const union tw_sa *dst = w->dst;
	size_t alen = tw_sa_addrlen(dst), i;
	struct twtrace_record r;
	int by[TWTRACE_REUSE_NR] = { 0 };
	unsigned char lo[16] = { 0 };
	unsigned int ports[64];
	int sum = 0, nreuse = 0, j;
	struct tw_group g0, g1;
	long long refused;
	struct tw_stats s1;
	char name[64];

	r = wait_fail(_metadata, rs, w->s->cookie);
	log_fail(_metadata, &r);
	EXPECT_EQ(w->s->err, r.connect.err)
		TH_LOG("connect() said %s", strerror(-w->s->err));
	EXPECT_EQ(TWTRACE_MAGIC, r.magic);
	EXPECT_EQ(TWTRACE_ABI_VERSION, r.abi);
	EXPECT_EQ(tw_sa_fam(dst), r.family);
	EXPECT_EQ(rs->netns, r.netns);
	EXPECT_EQ(tw_sa_port(dst), r.dport);
	EXPECT_EQ(0, memcmp(tw_sa_addr(dst), r.daddr, alen));
	EXPECT_EQ(0, memcmp(lo, r.daddr + alen, 16 - alen));
	/* Loopback both ends: the source the route gave is the same. */
	EXPECT_EQ(0, memcmp(tw_sa_addr(dst), r.saddr, alen));
	EXPECT_EQ(w->sport, r.sport);
	EXPECT_EQ(0ULL, r.tw_id);
	EXPECT_EQ(w->ports, r.connect.ports);
	EXPECT_EQ(0, r.flags & TWTRACE_F_UNCOUNTED);
	EXPECT_EQ(w->tw_seen, r.connect.tw_seen);
	for (i = 0; i < TWTRACE_REUSE_NR; i++) {
		sum += r.connect.reasons[i];
		EXPECT_EQ((int)i == w->reason ? w->tw_seen : 0,
			  r.connect.reasons[i]) {
			TH_LOG("reasons[%s]", tw_reuse_name(i));
		}
	}
	EXPECT_EQ(r.connect.tw_seen, sum);
	EXPECT_EQ(w->s->uid, r.owner.uid);
	EXPECT_EQ(TWTRACE_ROLE_CLIENT, r.owner.role);
	if (!self_cgroup_id())
		TH_LOG("owner's cgroup not checked: %s", cg_why);
	if (self_cgroup_id())
		EXPECT_EQ(w->cgroup ?: self_cgroup_id(), r.owner.cgroup) {
			TH_LOG("the caller's cgroup: %s", cg_why);
		}

	/* The decisions the same connect() made, one per TIME_WAIT socket. */
	for (i = 0; i < rs->n; i++) {
		const struct twtrace_record *u = &rs->v[i].r;

		if (u->type != TWTRACE_EV_REUSE ||
		    u->owner.cookie != w->s->cookie)
			continue;
		nreuse++;
		if (u->reason < TWTRACE_REUSE_NR)
			by[u->reason]++;
		EXPECT_EQ(0, u->flags & TWTRACE_F_ALLOWED);
		EXPECT_EQ(tw_sa_port(dst), u->dport);
		EXPECT_EQ(tw_sa_port(dst), u->reuse.dport);
		EXPECT_EQ(0, memcmp(tw_sa_addr(dst), u->daddr, alen));
		EXPECT_EQ(0, memcmp(tw_sa_addr(dst), u->reuse.daddr, alen));
		EXPECT_EQ(u->sport, u->reuse.sport);
		EXPECT_EQ(0, u->flags & TWTRACE_F_TUPLE_DIFFERS);
		EXPECT_NE(0ULL, u->tw_id);
		EXPECT_EQ(w->s->uid, u->owner.uid);
		EXPECT_EQ(r.owner.cgroup, u->owner.cgroup);
		EXPECT_EQ(TWTRACE_ROLE_CLIENT, u->owner.role);
		EXPECT_GE(r.ts_ns, u->ts_ns);
		if (w->sport)
			EXPECT_EQ(w->sport, u->sport);
		/* Each about another tw toward D, one the kernel lists. */
		EXPECT_EQ(1, rows_toward(dst, u->sport, u->sport, 0)) {
			TH_LOG("no TIME_WAIT row from port %u", u->sport);
		}
		for (j = 0; j < nreuse - 1 && j < (int)ARRAY_SIZE(ports); j++)
			EXPECT_NE(ports[j], u->sport);
		if (nreuse <= (int)ARRAY_SIZE(ports))
			ports[nreuse - 1] = u->sport;
	}
	TH_LOG("reuse records of the same connect(): %d", nreuse);
	EXPECT_EQ(w->tw_seen, nreuse);
	for (i = 0; i < TWTRACE_REUSE_NR; i++)
		EXPECT_EQ(r.connect.reasons[i], by[i]) {
			TH_LOG("reuse records %s", tw_reuse_name(i));
		}

	/* Counted once; no TIME_WAIT socket was taken over or killed. */
	ASSERT_EQ(0, tw_stats_read(&s1));
	TH_LOG("stats connect_fail +%lld, reuse_* +%lld",
	       tw_stats_delta(&w->before->s, &s1, "connect_fail"),
	       tw_stats_delta_sum(&w->before->s, &s1, "reuse_"));
	TH_LOG("TcpExt TWRecycled +%lld, sockstat tw %lld -> %lld",
	       tw_tcpext("TWRecycled") - w->before->recycled,
	       w->before->sockstat, tw_sockstat_tw());
	EXPECT_EQ(1, tw_stats_delta(&w->before->s, &s1, "connect_fail"));
	for (i = 0; i < TWTRACE_REUSE_NR; i++) {
		snprintf(name, sizeof(name), "reuse_%s", tw_reuse_name(i));
		EXPECT_EQ(r.connect.reasons[i],
			  tw_stats_delta(&w->before->s, &s1, name)) {
			TH_LOG("%s", name);
		}
	}
	EXPECT_EQ(0, tw_tcpext("TWRecycled") - w->before->recycled);
	EXPECT_EQ(w->before->sockstat, tw_sockstat_tw());

	/* In the caller's group too: the failure and its refusals. */
	g0 = cf_group(w->before, r.owner.cgroup);
	EXPECT_TRUE(tw_group_get(w->before->ns, r.owner.cgroup, &g1));
	for (refused = 0, i = 0; i < TWTRACE_REUSE_NR; i++)
		refused += twtrace_reuse_allows(i) ? 0 : r.connect.reasons[i];
	TH_LOG("group (%u, %llu): connect_fail +%lld, reuse refused +%lld",
	       w->before->ns, r.owner.cgroup,
	       g1.connect_fail - g0.connect_fail,
	       g1.reuse_refused - g0.reuse_refused);
	EXPECT_EQ(1, g1.connect_fail - g0.connect_fail);
	EXPECT_EQ(refused, g1.reuse_refused - g0.reuse_refused);
	EXPECT_EQ(0, g1.reuse_allowed - g0.reuse_allowed);
	return r;
}

/*
 * One destination's ports exhausted by TIME_WAIT sockets: a four-port
 * range, tcp_tw_reuse=0, four client-closed connections to D, then a
 * fifth connect() to D fails with EADDRNOTAVAIL.  Its one connect_fail
 * record: that errno, D, the netns, ports == 4 as the sysctl reads,
 * tw_seen == the TIME_WAIT rows toward D in the range (4), all of them
 * refuse_sysctl_off, and as many reuse records with its cookie.  Pressure
 * is per destination: meanwhile every port still connects to D2, with no
 * connect_fail and no reuse decision; D stays exhausted (a second record).
 */
TEST_F_TIMEOUT(tw_af, exhaust_one_destination, 120)
{
	int family = variant->family, l[2], i, nrows;
	struct tw_recs *rs = &self->rs;
	struct cf_sock s, s2[4];
	union tw_sa dst[2];
	unsigned int lo, hi;
	struct cf_snap snap;
	struct tw_stats s1;
	struct cf_want w;

	for (i = 0; i < 2; i++) {
		l[i] = tw_listen(family, tw_lo(family), &dst[i]);
		ASSERT_LE(0, l[i]);
	}
	set_ts_reuse(_metadata, "1", "0");
	set_range(_metadata, dst, 2, 4, &lo, &hi);
	make_tws(_metadata, l[0], &dst[0], 4, lo, hi);
	nrows = rows_toward(&dst[0], lo, hi, 0);
	TH_LOG("range %u-%u; TIME_WAIT rows toward D (port %u): %d", lo, hi,
	       tw_sa_port(&dst[0]), nrows);
	ASSERT_EQ(4, nrows);

	cf_snap(_metadata, &snap);
	ASSERT_EQ(0, cf_connect(&s, &dst[0], NULL));
	ASSERT_EQ(-EADDRNOTAVAIL, s.err)
		TH_LOG("connect() to D: %s", strerror(-s.err));
	w = (struct cf_want){ .dst = &dst[0], .s = &s, .ports = hi - lo + 1,
			      .tw_seen = nrows,
			      .reason = TWTRACE_REUSE_REFUSE_SYSCTL_OFF,
			      .before = &snap };
	check_fail(_metadata, rs, &w);
	EXPECT_EQ(nrows, rows_toward(&dst[0], lo, hi, 0));
	cf_close(&s);

	/* D2: every port of the range, no decision, no failure. */
	cf_snap(_metadata, &snap);
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, cf_connect(&s2[i], &dst[1], NULL));
		EXPECT_EQ(0, s2[i].err)
			TH_LOG("connect() %d to D2 while D is exhausted: %s",
			       i, strerror(-s2[i].err));
		EXPECT_LE(lo, tw_sa_port(&s2[i].local));
		EXPECT_GE(hi, tw_sa_port(&s2[i].local));
	}
	EXPECT_EQ(4, rows_toward(&dst[1], lo, hi, 1));
	usleep(100000);
	tw_recs_read(rs);
	ASSERT_EQ(0, tw_stats_read(&s1));
	TH_LOG("D2: 4 connects, established rows %d, connect_fail +%lld, reuse_* +%lld",
	       rows_toward(&dst[1], lo, hi, 1),
	       tw_stats_delta(&snap.s, &s1, "connect_fail"),
	       tw_stats_delta_sum(&snap.s, &s1, "reuse_"));
	EXPECT_EQ(0, tw_stats_delta(&snap.s, &s1, "connect_fail"));
	EXPECT_EQ(0, tw_stats_delta_sum(&snap.s, &s1, "reuse_"));
	for (i = 0; i < 4; i++) {
		EXPECT_EQ(0, recs_of(rs, TWTRACE_EV_CONNECT_FAIL,
				     s2[i].cookie, NULL));
		EXPECT_EQ(0, recs_of(rs, TWTRACE_EV_REUSE, s2[i].cookie,
				     NULL));
	}

	/* D is still exhausted, the same way. */
	cf_snap(_metadata, &snap);
	ASSERT_EQ(0, cf_connect(&s, &dst[0], NULL));
	ASSERT_EQ(-EADDRNOTAVAIL, s.err)
		TH_LOG("connect() to D again: %s", strerror(-s.err));
	check_fail(_metadata, rs, &w);
	cf_close(&s);
	EXPECT_EQ(2, tw_recs_count(rs, TWTRACE_EV_CONNECT_FAIL, -1, 0, 0, 0));

	for (i = 0; i < 4; i++)
		cf_close(&s2[i]);
	close(l[0]);
	close(l[1]);
}

/*
 * tcp_timestamps=0, tcp_tw_reuse=1: TIME_WAIT sockets without a
 * timestamp are never reused, whatever their age.  Two ports, two
 * TIME_WAIT sockets toward D: the connect() fails, tw_seen 2, both
 * refuse_no_timestamps.
 */
TEST_F_TIMEOUT(tw, refused_no_timestamps, 120)
{
	struct cf_snap snap;
	struct cf_sock s;
	union tw_sa dst;
	unsigned int lo, hi;
	struct cf_want w;
	int l;

	l = tw_listen(AF_INET, "127.0.0.1", &dst);
	ASSERT_LE(0, l);
	set_ts_reuse(_metadata, "0", "1");
	set_range(_metadata, &dst, 1, 2, &lo, &hi);
	make_tws(_metadata, l, &dst, 2, lo, hi);
	ASSERT_EQ(2, rows_toward(&dst, lo, hi, 0));

	cf_snap(_metadata, &snap);
	ASSERT_EQ(0, cf_connect(&s, &dst, NULL));
	ASSERT_EQ(-EADDRNOTAVAIL, s.err)
		TH_LOG("connect(): %s", strerror(-s.err));
	w = (struct cf_want){ .dst = &dst, .s = &s, .ports = 2, .tw_seen = 2,
			      .reason = TWTRACE_REUSE_REFUSE_NO_TIMESTAMPS,
			      .before = &snap };
	check_fail(_metadata, &self->rs, &w);
	cf_close(&s);
	close(l);
}

#define TRIES	6

/*
 * tcp_tw_reuse=1 on loopback, timestamps on, but the TIME_WAIT sockets
 * are too recent.  From 6.14 the kernel's rule is tcp_tw_reuse_delay
 * (ms since the last timestamped segment), set to its maximum, 60 s:
 * always too recent.  Before, it is "not in the same second"
 * (ktime_get_seconds()): the test starts 50 ms into a second, and when
 * TCG is too slow to stay in it the connect() takes a tw over and
 * succeeds; then again, toward a new destination.  Two ports: tw_seen 2,
 * both refuse_too_recent.
 */
TEST_F_TIMEOUT(tw, refused_too_recent, 120)
{
	unsigned int lo = 0, hi = 0;
	union tw_sa dst[TRIES];
	int l[TRIES], i;
	struct cf_snap snap;
	struct cf_sock s;
	struct cf_want w;
	double t0;

	/* Listeners first: listen() needs a port outside the tiny range. */
	for (i = 0; i < TRIES; i++) {
		l[i] = tw_listen(AF_INET, "127.0.0.1", &dst[i]);
		ASSERT_LE(0, l[i]);
	}
	set_ts_reuse(_metadata, "1", "1");
	if (tw_sysctl_get("net/ipv4/tcp_tw_reuse_delay") >= 0) {
		ASSERT_EQ(0, tw_sysctl_set("net/ipv4/tcp_tw_reuse_delay",
					   "60000"));
		ASSERT_EQ(60000, tw_sysctl_get("net/ipv4/tcp_tw_reuse_delay"));
	}
	set_range(_metadata, dst, TRIES, 2, &lo, &hi);
	for (i = 0; i < TRIES; i++) {
		t0 = tw_now();
		usleep((1.05 - (t0 - (long long)t0)) * 1e6);
		t0 = tw_now();
		make_tws(_metadata, l[i], &dst[i], 2, lo, hi);
		cf_snap(_metadata, &snap);
		ASSERT_EQ(0, cf_connect(&s, &dst[i], NULL));
		if (s.err)
			break;
		TH_LOG("try %d: connect() took a tw over, %.3f s from %.3f: again",
		       i, tw_now() - t0, t0);
		cf_close(&s);
	}
	ASSERT_GT(TRIES, i) TH_LOG("never inside one second");
	ASSERT_EQ(-EADDRNOTAVAIL, s.err)
		TH_LOG("connect(): %s", strerror(-s.err));
	w = (struct cf_want){ .dst = &dst[i], .s = &s, .ports = 2,
			      .tw_seen = rows_toward(&dst[i], lo, hi, SUB_TW),
			      .reason = TWTRACE_REUSE_REFUSE_TOO_RECENT,
			      .before = &snap };
	EXPECT_EQ(2, w.tw_seen);
	check_fail(_metadata, &self->rs, &w);
	cf_close(&s);
	for (i = 0; i < TRIES; i++)
		close(l[i]);
}

/*
 * A bound local port: a client TIME_WAIT socket from 127.0.0.1:41000 to
 * D (bound with SO_REUSEADDR, so that the port can be bound again), then
 * a socket bound to the same port connects to D.  The kernel asks
 * tcp_twsk_unique() with no twp: with timestamps on it is
 * allow_bound_port, whatever tcp_tw_reuse says (the connect() succeeds,
 * no connect_fail); with tcp_timestamps=0, refuse_no_timestamps: the
 * connect() fails, and the record has that errno, sport 41000, ports 0
 * (no range was searched), tw_seen 1.
 */
static void bound_port(struct __test_metadata *_metadata,
		       struct tw_recs *rs, bool timestamps)
{
	struct twtrace_record u;
	union tw_sa dst, src;
	struct cf_snap snap;
	unsigned int port;
	struct tw_stats s1;
	struct tw_conn k;
	struct cf_sock s;
	struct cf_want w;
	int l, n;

	l = tw_listen(AF_INET, "127.0.0.1", &dst);
	ASSERT_LE(0, l);
	port = tw_sa_port(&dst) == BOUND_PORT ? BOUND_PORT + 1 : BOUND_PORT;
	set_ts_reuse(_metadata, timestamps ? "1" : "0", "0");
	ASSERT_EQ(0, tw_sa_set(&src, AF_INET, "127.0.0.1", port));
	ASSERT_EQ(0, tw_make_client_tw(&k, l, &dst, &src));
	ASSERT_EQ(1, rows_toward(&dst, port, port, 0));

	cf_snap(_metadata, &snap);
	ASSERT_EQ(0, cf_connect(&s, &dst, &src));
	TH_LOG("bound to port %u, timestamps %s: connect() %s", port,
	       timestamps ? "on" : "off",
	       s.err ? strerror(-s.err) : "succeeded");
	if (timestamps) {
		ASSERT_EQ(0, s.err);
		EXPECT_EQ(port, tw_sa_port(&s.local));
		tw_wait_until((tw_recs_read(rs),
			       recs_of(rs, TWTRACE_EV_REUSE, s.cookie,
				       NULL) > 0), 10);
		usleep(100000);
		tw_recs_read(rs);
		ASSERT_EQ(0, tw_stats_read(&s1));
		n = recs_of(rs, TWTRACE_EV_REUSE, s.cookie, &u);
		TH_LOG("reuse records %d (%s), TcpExt TWRecycled +%lld, connect_fail +%lld",
		       n, n ? tw_reuse_name(u.reason) : "-",
		       tw_tcpext("TWRecycled") - snap.recycled,
		       tw_stats_delta(&snap.s, &s1, "connect_fail"));
		ASSERT_EQ(1, n);
		EXPECT_EQ(TWTRACE_REUSE_ALLOW_BOUND_PORT, u.reason);
		EXPECT_TRUE(u.flags & TWTRACE_F_ALLOWED);
		EXPECT_EQ(port, u.sport);
		EXPECT_EQ(0U, u.reuse_sysctl);
		EXPECT_EQ(1, tw_tcpext("TWRecycled") - snap.recycled);
		EXPECT_EQ(0, recs_of(rs, TWTRACE_EV_CONNECT_FAIL, s.cookie,
				     NULL));
		EXPECT_EQ(0, tw_stats_delta(&snap.s, &s1, "connect_fail"));
	} else {
		ASSERT_NE(0, s.err);
		EXPECT_TRUE(s.err == -EADDRNOTAVAIL || s.err == -EADDRINUSE)
			TH_LOG("connect(): %s", strerror(-s.err));
		w = (struct cf_want){ .dst = &dst, .s = &s, .sport = port,
				      .ports = 0,
				      .tw_seen = rows_toward(&dst, port,
							     port, 0),
				      .reason = TWTRACE_REUSE_REFUSE_NO_TIMESTAMPS,
				      .before = &snap };
		EXPECT_EQ(1, w.tw_seen);
		check_fail(_metadata, rs, &w);
	}
	cf_close(&s);
	close(l);
}

TEST_F_TIMEOUT(tw, bound_port_timestamps, 120)
{
	bound_port(_metadata, &self->rs, true);
}

TEST_F_TIMEOUT(tw, bound_port_no_timestamps, 120)
{
	bound_port(_metadata, &self->rs, false);
}

/*
 * Ports held by established connections only, no TIME_WAIT socket at
 * all: a four-port range, four open connections to D, a fifth connect()
 * fails with EADDRNOTAVAIL.  The record says so with tw_seen 0 and no
 * reason (the failure is not TIME_WAIT's), and no reuse record comes
 * with it.  The same for a port bound (SO_REUSEADDR) by an open
 * connection to D and bound again: ports 0, tw_seen 0.
 */
TEST_F_TIMEOUT(tw, established_only, 120)
{
	union tw_sa dst, src;
	struct tw_conn k[5];
	unsigned int lo, hi, port;
	struct cf_snap snap;
	struct cf_sock s;
	struct cf_want w;
	int l, i, nrows;

	l = tw_listen(AF_INET, "127.0.0.1", &dst);
	ASSERT_LE(0, l);
	set_ts_reuse(_metadata, "1", "1");
	set_range(_metadata, &dst, 1, 4, &lo, &hi);
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, tw_conn_open(&k[i], l, &dst, NULL));
	nrows = rows_toward(&dst, lo, hi, 1);
	TH_LOG("range %u-%u: established rows toward D %d, TIME_WAIT rows %d, sockstat tw %lld",
	       lo, hi, nrows, rows_toward(&dst, lo, hi, 0), tw_sockstat_tw());
	ASSERT_EQ(4, nrows);
	ASSERT_EQ(0, rows_toward(&dst, lo, hi, 0));
	ASSERT_EQ(0, tw_sockstat_tw());

	cf_snap(_metadata, &snap);
	ASSERT_EQ(0, cf_connect(&s, &dst, NULL));
	ASSERT_EQ(-EADDRNOTAVAIL, s.err)
		TH_LOG("connect(): %s", strerror(-s.err));
	w = (struct cf_want){ .dst = &dst, .s = &s, .ports = 4, .tw_seen = 0,
			      .reason = -1, .before = &snap };
	check_fail(_metadata, &self->rs, &w);
	cf_close(&s);

	/* A bound port held by an open connection to D. */
	port = tw_sa_port(&dst) == BOUND_PORT ? BOUND_PORT + 1 : BOUND_PORT;
	ASSERT_EQ(0, tw_sa_set(&src, AF_INET, "127.0.0.1", port));
	ASSERT_EQ(0, tw_conn_open(&k[4], l, &dst, &src));
	ASSERT_EQ(1, rows_toward(&dst, port, port, 1));
	cf_snap(_metadata, &snap);
	ASSERT_EQ(0, cf_connect(&s, &dst, &src));
	ASSERT_EQ(-EADDRNOTAVAIL, s.err)
		TH_LOG("bound connect(): %s", strerror(-s.err));
	w = (struct cf_want){ .dst = &dst, .s = &s, .sport = port, .ports = 0,
			      .tw_seen = 0, .reason = -1, .before = &snap };
	check_fail(_metadata, &self->rs, &w);
	cf_close(&s);
	for (i = 0; i < 5; i++)
		tw_conn_close(&k[i]);
	close(l);
}

/* What the child of the owner test saw. */
struct cf_child {
	int ret;		/* cf_connect(), or an earlier step's -errno */
	struct cf_sock s;
	unsigned int uid, euid;	/* getuid(), geteuid() after */
};

#define CG_CHILD	CG_MNT "/twtrace-connect-fail"

/*
 * The owner of a failed connect(): a child that moved to a cgroup of its
 * own (when there is cgroup2) and dropped to uid 1001 (setresuid())
 * before socket() connects to an exhausted D (two ports, two TIME_WAIT
 * sockets, tcp_tw_reuse=0).  Record and reuse records: uid 1001, as the
 * child's socket inode says, role client, its cookie, its cgroup's id
 * (the inode number of the cgroup's directory).
 */
TEST_F_TIMEOUT(tw, owner_other_uid, 120)
{
	struct cf_child *c = tw_shm_alloc(sizeof(*c));
	unsigned long long cg = 0;
	struct twtrace_record r;
	unsigned int lo, hi;
	struct cf_snap snap;
	struct stat st;
	struct cf_want w;
	union tw_sa dst;
	int l, status;
	pid_t pid;

	ASSERT_NE(NULL, c);
	if (self_cgroup_id()) {
		rmdir(CG_CHILD);
		ASSERT_EQ(0, mkdir(CG_CHILD, 0755))
			TH_LOG("mkdir %s: %s", CG_CHILD, strerror(errno));
		ASSERT_EQ(0, stat(CG_CHILD, &st));
		cg = st.st_ino;
		TH_LOG("the child's cgroup: %s, id %llu (the test's %llu)",
		       CG_CHILD, cg, self_cgroup_id());
		ASSERT_NE(self_cgroup_id(), cg);
	} else {
		TH_LOG("the child stays in the test's cgroup: %s", cg_why);
	}
	l = tw_listen(AF_INET, "127.0.0.1", &dst);
	ASSERT_LE(0, l);
	set_ts_reuse(_metadata, "1", "0");
	set_range(_metadata, &dst, 1, 2, &lo, &hi);
	make_tws(_metadata, l, &dst, 2, lo, hi);
	ASSERT_EQ(2, rows_toward(&dst, lo, hi, 0));

	cf_snap(_metadata, &snap);
	pid = tw_spawn();
	ASSERT_LE(0, pid);
	if (!pid) {
		c->ret = cg ? tw_write_str(CG_CHILD "/cgroup.procs", "0") : 0;
		if (!c->ret && setresuid(OTHER_UID, OTHER_UID, OTHER_UID))
			c->ret = -errno;
		if (c->ret)
			_exit(1);
		c->uid = getuid();
		c->euid = geteuid();
		c->ret = cf_connect(&c->s, &dst, NULL);
		cf_close(&c->s);
		_exit(0);
	}
	status = tw_reap(pid, 30);
	if (cg)
		rmdir(CG_CHILD);
	ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("child: status %#x, %s", status, strerror(-c->ret));
	TH_LOG("child: uid %u euid %u, socket owner %u, cookie %llu, connect() %s",
	       c->uid, c->euid, c->s.uid, c->s.cookie,
	       c->s.err ? strerror(-c->s.err) : "succeeded");
	ASSERT_EQ(0, c->ret);
	ASSERT_EQ(OTHER_UID, c->uid);
	ASSERT_EQ(OTHER_UID, c->s.uid);
	ASSERT_EQ(-EADDRNOTAVAIL, c->s.err);
	w = (struct cf_want){ .dst = &dst, .s = &c->s, .ports = 2,
			      .tw_seen = 2,
			      .reason = TWTRACE_REUSE_REFUSE_SYSCTL_OFF,
			      .before = &snap, .cgroup = cg };
	r = check_fail(_metadata, &self->rs, &w);
	EXPECT_EQ(OTHER_UID, r.owner.uid);
	EXPECT_EQ(TWTRACE_ROLE_CLIENT, r.owner.role);
	EXPECT_EQ(c->s.cookie, r.owner.cookie);
	munmap(c, sizeof(*c));
	close(l);
}

TEST_HARNESS_MAIN
