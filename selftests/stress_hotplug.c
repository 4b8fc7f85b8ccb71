// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace stress test: CPU hotplug under a storm of connections.
 */
#include "fixture_stress.h"

/*
 * CPU 1 goes offline and comes back, three times, while two workers make
 * connections and every cpuN file is read: births == TcpExt TW+TWKilled
 * of the workers' namespaces (on 5.10, less the early deaths, which it
 * counts nowhere), nothing lost, every record read, and each
 * CPU's seqs contiguous, CPU 1's too when it is back.
 */
TEST_F_TIMEOUT(stress, cpu_hotplug, 120)
{
	struct storm_opts o = { .limit = 0 };
	int rounds = scaled(3), r, c, ncpus = tw_ncpus();
	long long before1, conns, kernel, early;
	struct mk m = { .n4 = 3, .cpu = 1 };
	struct tw_stats s0, s1;
	struct tw_recs rs;
	struct storm st;
	struct nsjob j;
	double t, down = 0, up = 0;
	struct nsset set = { .n = 0 };
	char on[8];
	size_t k;
	int ret;

	if (access(CPU1_ONLINE, W_OK))
		SKIP(return, "%s: %s", CPU1_ONLINE, strerror(errno));
	ASSERT_EQ(0, tw_read_str(CPU1_ONLINE, on, sizeof(on)));
	self->saved.cpu1_touched = true;
	if (strcmp(on, "1"))
		ASSERT_EQ(0, tw_write_str(CPU1_ONLINE, "1"));
	ASSERT_LE(2, ncpus);
	ASSERT_TRUE(tw_settle(30));
	tw_recs_init(&rs, 0);
	ASSERT_EQ(0, tw_recs_drain(&rs));
	ASSERT_EQ(0, tw_stats_read(&s0));

	ASSERT_EQ(0, storm_start(&st, 2, &o));
	for (r = 0; r < rounds; r++) {
		t = tw_now() + 0.3;
		while (tw_now() < t)
			tw_recs_read_keep(&rs, true);
		t = tw_now();
		ret = tw_write_str(CPU1_ONLINE, "0");
		down += tw_now() - t;
		ASSERT_EQ(0, ret) TH_LOG("cpu1 offline: %s", strerror(-ret));
		EXPECT_EQ(1, tw_cpus_online());
		t = tw_now() + 0.3;
		while (tw_now() < t)
			tw_recs_read_keep(&rs, true);
		t = tw_now();
		ret = tw_write_str(CPU1_ONLINE, "1");
		up += tw_now() - t;
		ASSERT_EQ(0, ret) TH_LOG("cpu1 online: %s", strerror(-ret));
	}
	ASSERT_EQ(0, storm_stop(&st, 30));
	/* Something on CPU 1 now that it is back. */
	before1 = rs.cpu_read[1];
	ASSERT_EQ(0, nsjob_start(&j, &m, 30));
	usleep(100000);
	tw_wait_until((tw_recs_read_keep(&rs, true),
		       tw_stat("records") - tw_stats_get(&s0, "records") <=
		       rs.nread), 10);
	ASSERT_EQ(0, tw_stats_read(&s1));
	conns = STORM_SUM(&st, conns);
	kernel = STORM_SUM(&st, births) + j.births;
	TH_LOG("%d offline/online rounds (%.3f s offline, %.3f s online in all): %lld connections",
	       rounds, down, up, conns);
	TH_LOG("births +%lld (TcpExt TW+TWKilled %lld), lost +%lld",
	       tw_stats_delta(&s0, &s1, "births"), kernel,
	       tw_stats_delta(&s0, &s1, "lost"));
	TH_LOG("records +%lld, read %lld (cpu0 %lld, cpu1 %lld)",
	       tw_stats_delta(&s0, &s1, "records"), rs.nread, rs.cpu_read[0],
	       rs.cpu_read[1]);
	/*
	 * 5.10's TcpExt counts a tw at its expiry, and the oracle adds the
	 * live ones: a tw of the workers' or the job's namespaces that died
	 * early is in neither.  Say which, if any.
	 */
	nsset_add(&set, j.ns);
	for (c = 0; c < st.n; c++)
		nsset_add(&set, st.shm->w[c].ns);
	for (early = 0, k = 0; k < rs.n; k++) {
		const struct twtrace_record *d = &rs.v[k].r;

		if (d->type != TWTRACE_EV_DEATH || !nsset_has(&set, d->netns) ||
		    d->reason == TWTRACE_DEATH_EXPIRED)
			continue;
		TH_LOG("early death: tw %llu, netns %u, %s", d->tw_id,
		       d->netns, tw_death_name(d->reason));
		early++;
	}
	EXPECT_EQ(kernel, tw_births_kernel_want(tw_stats_delta(&s0, &s1,
							       "births"),
						early));
	EXPECT_EQ(0, tw_stats_delta(&s0, &s1, "lost"));
	EXPECT_EQ(tw_stats_delta(&s0, &s1, "records"), rs.nread);
	EXPECT_EQ(0, rs.bad);
	EXPECT_LT(before1, rs.cpu_read[1]);
	for (c = 0; c < ncpus; c++)
		EXPECT_EQ(0, rs.seq_breaks[c])
			TH_LOG("cpu%d: %lld seq breaks, first %lld -> %lld", c,
			       rs.seq_breaks[c], rs.brk_prev[c],
			       rs.brk_seq[c]);
	nsjob_end(&j);
	storm_end(&st);
	storm_free(&st);
	/* Let the namespaces go before the next test. */
	tw_wait_until((tw_stats_read(&s1),
		       tw_stats_delta_sum(&s0, &s1, "death_") >=
		       tw_stats_delta(&s0, &s1, "births")), 30);
	tw_recs_free(&rs);
}

TEST_HARNESS_MAIN
