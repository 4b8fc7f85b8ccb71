// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace stress test: several readers share the cpuN files, die, and
 * account for every record.
 */
#include <signal.h>

#include "fixture_stress.h"

static int spawn_reader(struct rd_shm *rd, pid_t *pid, int i, int cpu,
			bool never)
{
	pid[i] = tw_spawn();
	if (!pid[i])
		reader_main(rd, i, cpu, never);
	return pid[i] < 0 ? -1 : 0;
}

/*
 * Several readers: A and B on cpu0, C and K on cpu1, N on cpu1 that never
 * reads.  K, blocked in read(), dies at once of SIGKILL.  Phase 1: 2 x 60
 * connections, one worker per CPU, 1 MiB rings: nothing lost, each
 * record read exactly once (per-CPU seqs, no duplicate, no gap).  Phase
 * 2: C goes, the rings shrink to 4 KiB under the readers, 120 connections
 * on CPU 1 (only N there) and 40 on CPU 0: CPU 1 drops.  In the end, per
 * CPU, records read + lost_cpuN == records produced there (the seq of
 * the next record says how many), none read twice, and records read +
 * lost == records for the whole.
 */
TEST_F_TIMEOUT(stress, readers_share_die_and_account_every_record, 150)
{
	enum { A, B, C, K, N, NR };
	static const int cpu_of[NR] = { 0, 0, 1, 1, 1 };
	static const int live_idx[] = { A, B, C, K };
	struct storm_opts o = { .pin = true };
	struct mk m1 = { .n4 = 120, .cpu = 1 };
	struct nsjob j;
	long long read_c[RD_CPUS], dup[RD_CPUS], beyond[RD_CPUS];
	long long first_seq[RD_CPUS], lost_c[RD_CPUS], produced, bad = 0;
	long long total_read = 0, lost, recs;
	struct tw_stats s0, s1, s2;
	int ncpus = tw_ncpus(), c, i, status;
	struct rd_shm *rd;
	struct tw_recs rs;
	struct storm st;
	pid_t pid[NR];
	char wchan[64], name[32];
	double t;

	if (ncpus < 2 || tw_cpus_online() < 2)
		SKIP(return, "needs two CPUs online");
	ASSERT_LE(ncpus, RD_CPUS);
	rd = tw_shm_alloc(sizeof(*rd));
	ASSERT_NE(NULL, rd);
	ASSERT_EQ(0, tw_ctl_set("overwrite", "0"));
	ASSERT_TRUE(tw_settle(30));

	/* Where each CPU's seq stands. */
	ASSERT_EQ(0, nsjob_prime_cpus(ncpus));
	ASSERT_TRUE(tw_settle(30));
	tw_recs_init(&rs, 0);
	ASSERT_EQ(0, tw_recs_drain(&rs));
	for (c = 0; c < ncpus; c++) {
		rd->base[c] = rs.last_seq[c];
		ASSERT_LE(0, rd->base[c]) TH_LOG("cpu%d: no record yet", c);
	}
	ASSERT_EQ(0, tw_stats_read(&s0));

	for (i = 0; i < NR; i++)
		ASSERT_EQ(0, spawn_reader(rd, pid, i, cpu_of[i], i == N));
	ASSERT_TRUE(rd_wait_state(rd, live_idx, ARRAY_SIZE(live_idx),
				  RD_READING, 10));
	i = N;
	ASSERT_TRUE(rd_wait_state(rd, &i, 1, RD_OPEN, 10));
	usleep(200000);

	/* K is blocked in read(): SIGKILL ends it at once. */
	EXPECT_EQ(RD_READING, LOAD(rd->r[K].state));
	EXPECT_EQ('S', proc_state(pid[K], wchan, sizeof(wchan)));
	t = tw_now();
	status = tw_kill_reap(pid[K], 5);
	TH_LOG("reader K (cpu1, blocked in read(), wchan %s) died of SIGKILL in %.3f s",
	       wchan, tw_now() - t);
	EXPECT_TRUE(tw_killed_by_sigkill(status));

	/* Phase 1: the readers keep up. */
	o.limit = scaled(60);
	ASSERT_EQ(0, storm_start(&st, 2, &o));
	ASSERT_EQ(0, storm_wait(&st, tw_slow_kernel() ? 300 : 60));
	storm_end(&st);
	storm_free(&st);
	tw_wait_until((tw_stats_read(&s1),
		       tw_stats_delta_sum(&s0, &s1, "death_") >=
		       tw_stats_delta(&s0, &s1, "births")), 30);
	EXPECT_TRUE(quiesce(rd, 0.5, 30));
	ASSERT_EQ(0, tw_stats_read(&s1));
	TH_LOG("phase 1: records +%lld, read %lld (A %lld, B %lld, C %lld), lost +%lld",
	       tw_stats_delta(&s0, &s1, "records"), rd_total_read(rd),
	       rd->r[A].nread, rd->r[B].nread, rd->r[C].nread,
	       tw_stats_delta(&s0, &s1, "lost"));
	EXPECT_EQ(0, tw_stats_delta(&s0, &s1, "lost"));
	EXPECT_EQ(tw_stats_delta(&s0, &s1, "records"), rd_total_read(rd));
	EXPECT_LT(0, rd->r[A].nread + rd->r[B].nread);
	EXPECT_LT(0, rd->r[C].nread);

	/* Phase 2: C goes; only N, which never reads, is left on cpu1. */
	status = tw_kill_reap(pid[C], 5);
	EXPECT_TRUE(tw_killed_by_sigkill(status));
	ASSERT_EQ(0, tw_ctl_set("ring_kb", "4"));
	/* 40 connections on CPU 0 (worker 0), then 120 on CPU 1. */
	o.limit = 40;
	ASSERT_EQ(0, storm_start(&st, 1, &o));
	ASSERT_EQ(0, storm_wait(&st, tw_slow_kernel() ? 300 : 60));
	storm_end(&st);
	storm_free(&st);
	EXPECT_EQ(0, nsjob_start(&j, &m1, tw_slow_kernel() ? 300 : 60));
	nsjob_end(&j);
	tw_wait_until((tw_stats_read(&s1),
		       tw_stats_delta_sum(&s0, &s1, "death_") >=
		       tw_stats_delta(&s0, &s1, "births")), 30);
	EXPECT_TRUE(quiesce(rd, 0.5, 30));

	/* Everyone goes; what is left in the rings is read here. */
	for (i = 0; i < NR; i++) {
		if (i == K || i == C)
			continue;
		EXPECT_EQ(i == N ? RD_OPEN : RD_READING, LOAD(rd->r[i].state));
		status = tw_kill_reap(pid[i], 5);
		EXPECT_TRUE(tw_killed_by_sigkill(status)) TH_LOG("reader %d", i);
	}
	/* Until nothing came between the last drain and the stats. */
	for (i = 0; i < 5; i++) {
		long long got = 0;

		for (c = 0; c < ncpus; c++)
			got += rd_drain_cpu(rd, c, &bad);
		total_read += got;
		if (i && !got)
			break;
		ASSERT_EQ(0, tw_stats_read(&s2));
	}

	/* The next record on each CPU says how many were made there. */
	tw_recs_free(&rs);
	tw_recs_init(&rs, 0);
	ASSERT_EQ(0, nsjob_prime_cpus(ncpus));
	ASSERT_LE(0, tw_recs_read(&rs));
	for (c = 0; c < ncpus; c++) {
		size_t k;

		first_seq[c] = -1;
		for (k = 0; k < rs.n && first_seq[c] < 0; k++)
			if (rs.v[k].cpu == c)
				first_seq[c] = rs.v[k].r.seq;
		ASSERT_LE(0, first_seq[c]) TH_LOG("cpu%d: no record", c);
	}
	total_read += rd_total_read(rd);
	lost = tw_stats_delta(&s0, &s2, "lost");
	recs = tw_stats_delta(&s0, &s2, "records");
	for (c = 0; c < ncpus; c++) {
		produced = first_seq[c] - rd->base[c] - 1;
		read_c[c] = 0;
		dup[c] = 0;
		beyond[c] = 0;
		for (i = 0; i < RD_SEEN; i++) {
			if (!rd->seen[c][i])
				continue;
			if (i >= produced)
				beyond[c]++;
			read_c[c]++;
			dup[c] += rd->seen[c][i] - 1;
		}
		snprintf(name, sizeof(name), "lost_cpu%d", c);
		lost_c[c] = tw_stats_delta(&s0, &s2, name);
		TH_LOG("cpu%d: produced %lld (seq %lld..%lld), read %lld, %s +%lld",
		       c, produced, rd->base[c] + 1, first_seq[c] - 1,
		       read_c[c], name, lost_c[c]);
		TH_LOG("cpu%d: read twice %lld, out of window %lld", c, dup[c],
		       rd->oor[c]);
		EXPECT_EQ(produced, read_c[c] + lost_c[c]);
		EXPECT_EQ(0, dup[c]);
		EXPECT_EQ(0, beyond[c]);
		EXPECT_EQ(0, rd->oor[c]);
	}
	TH_LOG("records +%lld == read %lld + lost +%lld", recs, total_read,
	       lost);
	EXPECT_EQ(recs, total_read + lost);
	EXPECT_LT(0, lost_c[1]) TH_LOG("nothing dropped on cpu1");
	for (i = 0; i < NR; i++)
		bad += rd->r[i].bad;
	EXPECT_EQ(0, bad);
	tw_recs_free(&rs);
	munmap(rd, sizeof(*rd));
}

TEST_HARNESS_MAIN
