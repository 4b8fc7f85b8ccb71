// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace overflow tests: tcp_max_tw_buckets reached, and the tw caches'
 * allocation failing (failslab), against TcpExt TCPTimeWaitOverflow.
 */
#include "fixture_tw.h"

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

TEST_HARNESS_MAIN
