// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace reuse tests: every decision of tcp_twsk_unique(), allowed and
 * refused, with connect()'s result, TcpExt TWRecycled and the kernel's rows.
 */
#include "fixture_tw.h"
#include "fixture_tw_af.h"

#define ONE_PORT	"40000 40000"
#define THE_PORT	40000U
#define BOUND_PORT	41000

/* Sleep past the kernel's one-second TIME_WAIT reuse rule. */
static void sleep_past_one_second(void)
{
	usleep(1100000);
}

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

struct reuse_snap {
	struct tw_stats s0;
	long long recycled0;	/* TcpExt TWRecycled */
	long long age0;		/* the reuse_age histogram's total */
};

/* The counters before a reuse test's decisions. */
static void reuse_snap(struct __test_metadata *_metadata,
		       struct reuse_snap *snap)
{
	ASSERT_EQ(0, tw_stats_read(&snap->s0));
	snap->recycled0 = tw_tcpext("TWRecycled");
	snap->age0 = tw_hist_get("reuse_age", -1);
}

/* The reuse test's netns: one ephemeral port, timestamps, @reuse. */
static void reuse_sysctls(struct __test_metadata *_metadata, const char *ts,
			  const char *reuse)
{
	ASSERT_EQ(0, tw_sysctl_set("net/ipv4/tcp_timestamps", ts));
	ASSERT_EQ(0, tw_sysctl_set("net/ipv4/tcp_tw_reuse", reuse));
	ASSERT_EQ(0, tw_sysctl_set("net/ipv4/ip_local_port_range", ONE_PORT));
}

/* The reuse test's netns (reuse_sysctls()), the counters, a listener. */
static int reuse_begin(struct __test_metadata *_metadata,
		       struct reuse_snap *snap, union tw_sa *dst,
		       const char *ts, const char *reuse)
{
	int l = tw_listen(AF_INET, "127.0.0.1", dst);

	ASSERT_LE(0, l);
	reuse_sysctls(_metadata, ts, reuse);
	reuse_snap(_metadata, snap);
	return l;
}

/*
 * Every reuse_* counter is still, except reuse_<@reason> by @n; reused
 * deaths and TcpExt TWRecycled grew by @reused.
 */
static void check_reuse_counters(struct __test_metadata *_metadata,
				 const struct reuse_snap *snap,
				 int reason, int n, int reused)
{
	const struct tw_stats *s0 = &snap->s0;
	long long recycled0 = snap->recycled0, age0 = snap->age0;
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

/*
 * tcp_tw_reuse=1, one ephemeral port: a second connect() to the same
 * destination more than a second later takes the TIME_WAIT socket over.
 * connect() succeeds from the same port, the tw dies "reused", one
 * allow_reuse decision, TcpExt TWRecycled +1 == death_reused +1.
 */
TEST_F(tw_af, reuse_allowed)
{
	struct tw_recs *rs = &self->rs;
	int family = variant->family;
	struct twtrace_record b, d, u;
	struct tw_conn k, k2;
	struct reuse_snap snap;
	union tw_sa dst;
	int l;

	l = tw_listen(family, tw_lo(family), &dst);
	ASSERT_LE(0, l);
	reuse_sysctls(_metadata, "1", "1");
	reuse_snap(_metadata, &snap);

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
	EXPECT_FALSE(tw_live_has(rs->netns, b.tw_id, NULL));
	check_reuse_counters(_metadata, &snap,
			     TWTRACE_REUSE_ALLOW_REUSE, 1, 1);
	tw_conn_close(&k2);
	close(l);
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
	struct reuse_snap snap;
	int l;

	l = tw_listen(AF_INET, "127.0.0.1", &dst);
	ASSERT_LE(0, l);
	reuse_sysctls(_metadata, "1", "0");
	ASSERT_EQ(0, tw_sa_set(&src, AF_INET, "127.0.0.1", BOUND_PORT));
	reuse_snap(_metadata, &snap);

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
	check_reuse_counters(_metadata, &snap,
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
	EXPECT_TRUE(tw_live_has(rs->netns, b->tw_id, NULL));
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
	struct reuse_snap snap;
	int l, ret;

	l = tw_listen(AF_INET, "127.0.0.1", &dst);
	ASSERT_LE(0, l);
	reuse_sysctls(_metadata, "0", "1");
	ASSERT_EQ(0, tw_sa_set(&src, AF_INET, "127.0.0.1", BOUND_PORT));
	reuse_snap(_metadata, &snap);

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
	check_reuse_counters(_metadata, &snap,
			     TWTRACE_REUSE_REFUSE_NO_TIMESTAMPS, 2, 0);
	close(l);
}

/* tcp_tw_reuse=0 on the ephemeral path: refused, whatever the age. */
TEST_F(tw, refuse_sysctl_off)
{
	struct twtrace_record b;
	struct tw_conn k, kx;
	struct reuse_snap snap;
	union tw_sa dst;
	int l, ret;

	l = reuse_begin(_metadata, &snap, &dst, "1", "0");

	ASSERT_EQ(0, tw_make_client_tw(&k, l, &dst, NULL));
	b = wait_birth(_metadata, &self->rs, &k.caddr, &dst);
	sleep_past_one_second();
	ret = tw_conn_open(&kx, l, &dst, NULL);
	check_refused(_metadata, &self->rs, ret, &b,
		      TWTRACE_REUSE_REFUSE_SYSCTL_OFF, 0, &dst);
	EXPECT_EQ(1, tw_sockstat_tw());
	check_reuse_counters(_metadata, &snap,
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
	struct reuse_snap snap;
	int l[4], i, ret;
	double t0, t1;

	/* Listeners first: listen() needs more than the one port. */
	for (i = 0; i < 4; i++) {
		l[i] = tw_listen(AF_INET, "127.0.0.1", &dst[i]);
		ASSERT_LE(0, l[i]);
	}
	reuse_sysctls(_metadata, "1", "1");
	for (i = 0; i < 4; i++) {
		reuse_snap(_metadata, &snap);
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
	check_reuse_counters(_metadata, &snap,
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
	struct reuse_snap snap;
	union tw_sa dst;
	int l, ret;

	if (tw_sysctl_get("net/ipv4/tcp_tw_reuse_delay") < 0)
		SKIP(return,
		     "no net.ipv4.tcp_tw_reuse_delay: it came in 6.14, before which the rule is the seconds clock (refuse_too_recent)");
	l = tw_listen(AF_INET, "127.0.0.1", &dst);
	ASSERT_LE(0, l);
	reuse_sysctls(_metadata, "1", "1");
	ASSERT_EQ(0, tw_sysctl_set("net/ipv4/tcp_tw_reuse_delay", "60000"));
	reuse_snap(_metadata, &snap);
	ASSERT_EQ(0, tw_make_client_tw(&k, l, &dst, NULL));
	b = wait_birth(_metadata, &self->rs, &k.caddr, &dst);
	sleep_past_one_second();
	usleep(200000);

	ret = tw_conn_open(&kx, l, &dst, NULL);
	u = check_refused(_metadata, &self->rs, ret, &b,
			  TWTRACE_REUSE_REFUSE_TOO_RECENT, 1, &dst);
	EXPECT_EQ(60000U, u.reuse.delay_ms);
	EXPECT_LT(NSEC, (long long)u.reuse.age_ns);
	check_reuse_counters(_metadata, &snap,
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
	struct reuse_snap snap;
	union tw_sa dst;
	int l, ret;

	l = reuse_begin(_metadata, &snap, &dst, "1", "1");

	ASSERT_EQ(0, tw_make_fw2_tw(&k, l, &dst));
	b = wait_birth(_metadata, &self->rs, &k.caddr, &dst);
	EXPECT_EQ(SUB_FW2, b.substate);
	sleep_past_one_second();
	ret = tw_conn_open(&kx, l, &dst, NULL);
	u = check_refused(_metadata, &self->rs, ret, &b,
			  TWTRACE_REUSE_REFUSE_FIN_WAIT2, 1, &dst);
	EXPECT_EQ(SUB_FW2, u.substate);
	check_reuse_counters(_metadata, &snap,
			     TWTRACE_REUSE_REFUSE_FIN_WAIT2, 1, 0);
	tw_conn_close(&k);
	close(l);
}

TEST_HARNESS_MAIN
