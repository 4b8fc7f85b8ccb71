// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace stress tests: a full live table (max_tracked), and namespaces
 * that come and go with their TIME_WAIT sockets.
 */
#include "fixture_stress.h"

/*
 * max_tracked = live + 8, then a storm of 2 x 100 connections (one worker
 * per CPU): births == TcpExt TW+TWKilled == connections; the first 8 are
 * tracked (birth records with an id), untracked grows by births - 8
 * exactly; stats live and the lines of live never exceed the bound while
 * the storm runs.  Then the storm's namespaces go: every birth has its
 * netns_purge death (the sum of death_* grows by births), the untracked
 * ones flagged so, born_before_load does not move, and live returns to
 * what it was.  max_tracked is put back.
 */
TEST_F_TIMEOUT(stress, live_table_full, 120)
{
	struct storm_opts o = { .limit = scaled(100), .pin = true };
	long long live0, bound, max_live = 0, max_lines = 0, v, births;
	long long tracked, conns, kernel, other_deaths, other_tracked;
	struct nsset set = { .n = 0 };
	struct tw_stats s0, s1, s2;
	struct tw_recs rs;
	struct storm st;
	double end;
	char buf[32];
	int i;

	ASSERT_TRUE(tw_settle(30));
	tw_recs_init(&rs, 0);
	ASSERT_EQ(0, tw_recs_drain(&rs));
	live0 = tw_stat("live");
	ASSERT_LE(0, live0);
	bound = live0 + 8;
	snprintf(buf, sizeof(buf), "%lld", bound);
	ASSERT_EQ(0, tw_write_str(MAX_TRACKED, buf));
	ASSERT_EQ(0, tw_stats_read(&s0));

	ASSERT_EQ(0, storm_start(&st, tw_cpus_online() > 1 ? 2 : 1, &o));
	for (i = 0; i < st.n; i++)
		nsset_add(&set, st.shm->w[i].ns);
	end = tw_now() + (tw_slow_kernel() ? 300 : 60);
	while (!storm_done(&st) && tw_now() < end) {
		v = tw_stat("live");
		max_live = v > max_live ? v : max_live;
		v = tw_live_read(NULL, 0, 0);
		max_lines = v > max_lines ? v : max_lines;
		tw_recs_read(&rs);
	}
	ASSERT_EQ(0, storm_stop(&st, 10));
	tw_wait_until((tw_recs_read(&rs),
		       nrec(&rs, TWTRACE_EV_BIRTH, -1, &set, false, 0) >=
		       STORM_SUM(&st, births)), 5);
	ASSERT_EQ(0, tw_stats_read(&s1));
	v = tw_live_read(NULL, 0, 0);
	max_lines = v > max_lines ? v : max_lines;

	conns = STORM_SUM(&st, conns);
	kernel = STORM_SUM(&st, births);
	births = tw_stats_delta(&s0, &s1, "births");
	tracked = nrec_id(&rs, TWTRACE_EV_BIRTH, &set, true);
	other_tracked = 0;
	for (i = 0; i < (int)rs.n; i++)
		other_tracked += rs.v[i].r.type == TWTRACE_EV_DEATH &&
				 rs.v[i].r.tw_id &&
				 !nsset_has(&set, rs.v[i].r.netns);
	TH_LOG("max_tracked %lld: %lld connections, births +%lld (TcpExt %lld)",
	       bound, conns, births, kernel);
	TH_LOG("tracked %lld, untracked +%lld", tracked,
	       tw_stats_delta(&s0, &s1, "untracked"));
	TH_LOG("while storming: stats live at most %lld, live lines at most %lld; now live %lld",
	       max_live, max_lines, tw_stats_get(&s1, "live"));
	ASSERT_EQ(0, tw_stats_delta(&s0, &s1, "lost"));
	EXPECT_EQ(conns, kernel);
	EXPECT_EQ(kernel, births);
	EXPECT_EQ(births, nrec(&rs, TWTRACE_EV_BIRTH, -1, &set, false, 0));
	EXPECT_EQ(bound - live0 + other_tracked, tracked);
	EXPECT_EQ(births - tracked, tw_stats_delta(&s0, &s1, "untracked"));
	EXPECT_EQ(live0 + tracked - other_tracked, tw_stats_get(&s1, "live"));
	EXPECT_GE(bound, max_live);
	EXPECT_GE(bound, max_lines);

	/* The storm's namespaces go, and every socket in them. */
	storm_end(&st);
	EXPECT_TRUE(wait_deaths(&rs, &set, tw_slow_kernel() ? 120 : 30));
	tw_wait_until(tw_stat("live") <= live0, 5);
	ASSERT_EQ(0, tw_stats_read(&s2));
	other_deaths = nrec(&rs, TWTRACE_EV_DEATH, -1, &set, true, 0);
	births = tw_stats_delta(&s0, &s2, "births");
	TH_LOG("after the purge: deaths +%lld (netns_purge +%lld, %lld elsewhere)",
	       tw_stats_delta_sum(&s0, &s2, "death_"),
	       tw_stats_delta(&s0, &s2, "death_netns_purge"), other_deaths);
	TH_LOG("untracked-flagged %d, born_before_load +%lld, live %lld (was %lld)",
	       nrec(&rs, TWTRACE_EV_DEATH, -1, &set, false,
		    TWTRACE_F_UNTRACKED),
	       tw_stats_delta(&s0, &s2, "born_before_load"),
	       tw_stats_get(&s2, "live"), live0);
	ASSERT_EQ(0, tw_stats_delta(&s0, &s2, "lost"));
	EXPECT_EQ(births + other_deaths,
		  tw_stats_delta_sum(&s0, &s2, "death_"));
	EXPECT_EQ(births, nrec(&rs, TWTRACE_EV_DEATH,
			       TWTRACE_DEATH_NETNS_PURGE, &set, false, 0));
	EXPECT_EQ(births - tracked,
		  nrec(&rs, TWTRACE_EV_DEATH, -1, &set, false,
		       TWTRACE_F_UNTRACKED));
	EXPECT_EQ(tracked, nrec_id(&rs, TWTRACE_EV_DEATH, &set, true));
	EXPECT_EQ(0, nrec(&rs, TWTRACE_EV_DEATH, -1, NULL, false,
			  TWTRACE_F_BORN_BEFORE_LOAD));
	EXPECT_EQ(live0 - other_tracked, tw_stats_get(&s2, "live"));
	storm_free(&st);
	tw_recs_free(&rs);

	ASSERT_EQ(0, tw_write_str(MAX_TRACKED, self->saved.max_tracked));
	check_module_works(_metadata, 2);
}

/* ------------------------------------------------------------------ */
/* 5. Namespaces come and go.                                          */
/* ------------------------------------------------------------------ */

/*
 * 20 namespaces, each with 6 TIME_WAIT sockets (IPv4, IPv6, one in
 * FIN_WAIT2), the next made while the last goes: per namespace, birth
 * records == TcpExt TW+TWKilled == sockstat tw, and as many netns_purge
 * deaths, with the same ids; death_netns_purge and births grow by the
 * total; nothing lost; no live line for any of them, nor for any other
 * namespace nobody is in.
 */
TEST_F_TIMEOUT(stress, namespaces_come_and_go, 120)
{
	struct mk m = { .n4 = 3, .n6 = 2, .fw2 = 1, .cpu = -1 };
	int rounds = scaled(20), r, i, total = 0;
	struct nsjob j[NSSET_MAX];
	struct nsset set = { .n = 0 };
	struct tw_stats s0, s1;
	struct tw_recs rs;
	size_t k;

	ASSERT_TRUE(tw_settle(30));
	tw_recs_init(&rs, 0);
	ASSERT_EQ(0, tw_recs_drain(&rs));
	ASSERT_EQ(0, tw_stats_read(&s0));
	for (r = 0; r < rounds; r++) {
		ASSERT_EQ(0, nsjob_start(&j[r], &m, 30)) TH_LOG("round %d", r);
		if (!nsset_has(&set, j[r].ns))
			nsset_add(&set, j[r].ns);
		EXPECT_EQ(6, j[r].births);
		EXPECT_EQ(6, j[r].sockstat);
		total += j[r].births;
		if (r)
			nsjob_end(&j[r - 1]);
		tw_recs_read(&rs);
	}
	nsjob_end(&j[rounds - 1]);
	EXPECT_TRUE(wait_deaths(&rs, &set, tw_slow_kernel() ? 120 : 30));
	ASSERT_EQ(0, tw_stats_read(&s1));
	TH_LOG("%d namespaces (%d inode numbers), %d TIME_WAIT sockets:",
	       rounds, set.n, total);
	TH_LOG("births +%lld, birth records %d, lost +%lld",
	       tw_stats_delta(&s0, &s1, "births"),
	       nrec(&rs, TWTRACE_EV_BIRTH, -1, &set, false, 0),
	       tw_stats_delta(&s0, &s1, "lost"));
	TH_LOG("netns_purge deaths %d, death_netns_purge +%lld",
	       nrec(&rs, TWTRACE_EV_DEATH, TWTRACE_DEATH_NETNS_PURGE, &set,
		    false, 0),
	       tw_stats_delta(&s0, &s1, "death_netns_purge"));
	ASSERT_EQ(0, tw_stats_delta(&s0, &s1, "lost"));
	EXPECT_EQ(total, tw_stats_delta(&s0, &s1, "births"));
	EXPECT_EQ(total + nrec(&rs, TWTRACE_EV_DEATH,
			       TWTRACE_DEATH_NETNS_PURGE, &set, true, 0),
		  tw_stats_delta(&s0, &s1, "death_netns_purge"));
	/* Inode numbers come back: a number may stand for several. */
	for (r = 0; r < rounds; r++) {
		struct nsset one = { .n = 0 };
		long long want = 0;

		for (i = 0; i < rounds; i++)
			want += j[i].ns == j[r].ns ? j[i].births : 0;
		nsset_add(&one, j[r].ns);
		EXPECT_EQ(want, nrec(&rs, TWTRACE_EV_BIRTH, -1, &one, false, 0))
			TH_LOG("netns %u", j[r].ns);
		EXPECT_EQ(want, nrec(&rs, TWTRACE_EV_DEATH,
				     TWTRACE_DEATH_NETNS_PURGE, &one, false, 0))
			TH_LOG("netns %u", j[r].ns);
		EXPECT_EQ(0, nrec_id(&rs, TWTRACE_EV_DEATH, &one, false));
	}
	/* Each birth's id dies once. */
	for (k = 0; k < rs.n; k++) {
		const struct twtrace_record *b = &rs.v[k].r;

		if (b->type != TWTRACE_EV_BIRTH || !nsset_has(&set, b->netns))
			continue;
		EXPECT_EQ(1, tw_recs_count(&rs, TWTRACE_EV_DEATH, -1, 0, 0,
					   b->tw_id));
	}
	i = live_dead_lines(&set);
	EXPECT_EQ(0, i) TH_LOG("%d live lines of dead namespaces", i);
	tw_recs_free(&rs);
}

TEST_HARNESS_MAIN
