// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace stress tests: sockets older than the module and sockets that
 * outlive it, and loading and unloading under a storm of connections with
 * readers holding the cpuN files.
 */
#include <signal.h>

#include "fixture_stress.h"

/*
 * Four TIME_WAIT sockets tracked, then rmmod: it succeeds with them live
 * (kmemleak, at the end of the run, says whether their entries leaked).
 * Five more are made with no module.  insmod: births 0, no live line
 * for either namespace.  Then both namespaces go: nine deaths, all
 * netns_purge, born before load (flag, counter), lifetime and FIN_WAIT2
 * time unknown (TWTRACE_NS_UNKNOWN), no id, none in the histograms.
 */
TEST_F_TIMEOUT(stress, sockets_older_and_younger_than_the_module, 120)
{
	struct mk m1 = { .n4 = 3, .n6 = 1, .cpu = -1 };
	struct mk m2 = { .n4 = 3, .n6 = 1, .fw2 = 1, .cpu = -1 };
	struct nsset set = { .n = 0 };
	struct tw_stats s;
	struct tw_recs rs;
	struct nsjob j1, j2;
	int ret, bbl = 0, tot;
	size_t k;

	ASSERT_TRUE(tw_settle(30));
	ASSERT_EQ(0, nsjob_start(&j1, &m1, 30));
	nsset_add(&set, j1.ns);
	EXPECT_EQ(4, tw_live_read(NULL, 0, j1.ns));
	ret = mod_op(false);
	TH_LOG("rmmod with %d sockets of netns %u live: %s", 4, j1.ns,
	       ret ? strerror(-ret) : "ok");
	ASSERT_EQ(0, ret);
	ASSERT_FALSE(tw_module_loaded());

	ASSERT_EQ(0, nsjob_start(&j2, &m2, 30));
	nsset_add(&set, j2.ns);
	EXPECT_EQ(5, j2.sockstat);
	ret = mod_op(true);
	ASSERT_EQ(0, ret) TH_LOG("insmod: %s", strerror(-ret));
	EXPECT_EQ(0, tw_stat("births"));
	EXPECT_EQ(0, tw_live_read(NULL, 0, j1.ns));
	EXPECT_EQ(0, tw_live_read(NULL, 0, j2.ns));
	tw_recs_init(&rs, 0);

	nsjob_end(&j1);
	nsjob_end(&j2);
	EXPECT_TRUE(tw_wait_until((tw_recs_read(&rs),
				   nrec(&rs, TWTRACE_EV_DEATH, -1, &set, false,
					0) >= 9), 30));
	usleep(100000);
	tw_recs_read(&rs);
	ASSERT_EQ(0, tw_stats_read(&s));
	for (k = 0; k < rs.n; k++) {
		const struct twtrace_record *r = &rs.v[k].r;

		if (r->type != TWTRACE_EV_DEATH)
			continue;
		bbl += !!(r->flags & TWTRACE_F_BORN_BEFORE_LOAD);
		if (!nsset_has(&set, r->netns))
			continue;
		EXPECT_EQ(TWTRACE_DEATH_NETNS_PURGE, r->reason);
		EXPECT_EQ(TWTRACE_F_BORN_BEFORE_LOAD, r->flags);
		EXPECT_EQ(TWTRACE_NS_UNKNOWN, r->death.lifetime_ns);
		EXPECT_EQ(TWTRACE_NS_UNKNOWN, r->death.fin_wait2_ns);
		EXPECT_EQ(0ULL, r->tw_id);
	}
	tot = nrec(&rs, TWTRACE_EV_DEATH, -1, &set, false, 0);
	TH_LOG("after insmod: %d deaths of the two namespaces, %d born before load",
	       tot, nrec(&rs, TWTRACE_EV_DEATH, -1, &set, false,
			 TWTRACE_F_BORN_BEFORE_LOAD));
	TH_LOG("stats: born_before_load %lld, death_netns_purge %lld, births %lld, untracked %lld",
	       tw_stats_get(&s, "born_before_load"),
	       tw_stats_get(&s, "death_netns_purge"),
	       tw_stats_get(&s, "births"), tw_stats_get(&s, "untracked"));
	EXPECT_EQ(9, tot);
	EXPECT_EQ(9, nrec(&rs, TWTRACE_EV_DEATH, TWTRACE_DEATH_NETNS_PURGE,
			  &set, false, TWTRACE_F_BORN_BEFORE_LOAD));
	EXPECT_EQ(bbl, tw_stats_get(&s, "born_before_load"));
	EXPECT_EQ(0, tw_stats_get(&s, "births"));
	EXPECT_EQ(0, tw_stats_get(&s, "untracked"));
	EXPECT_EQ(0, tw_stats_get(&s, "lost"));
	EXPECT_EQ(0, tw_hist_get("lifetime netns_purge", -1));
	tw_recs_free(&rs);
	check_module_works(_metadata, 2);
}

/* ------------------------------------------------------------------ */
/* 8. Load and unload under a storm, with readers.                     */
/* ------------------------------------------------------------------ */

/*
 * 100 insmod/rmmod cycles.  Under TCG a cycle takes 0.7 s on an idle guest
 * (kprobe registration and RCU grace periods), 1 to 2.5 s under the storm;
 * a time budget (420 s; 900 s on the debug kernel, where a cycle takes
 * 4.4 s) only stops a run that would not end, and all 100 must be done.  TWTRACE_STRESS_SECS sets a
 * shorter budget for a quick run, which then needs only 5 cycles.
 * Meanwhile one worker per CPU makes connections, each in its own netns,
 * paced and niced so that the cycles get CPU time (TCG runs both vCPUs
 * on one host thread).  Cycles go in threes: readers (two on cpu0, one
 * on cpu1) blocked in read() hold the files, and rmmod must fail with
 * EAGAIN/EBUSY; openers open, read and close cpuN and "probes" again and
 * again, and rmmod may succeed or be busy (and no unattached probe
 * ever shows a hit); nobody holds a file, and rmmod must succeed.  Each
 * time the readers, killed, die within 5 s and the module then unloads;
 * no call hangs (each is bounded).  Afterwards the module loads and
 * counts, and the storm's sockets, born before that load, die counted as
 * born_before_load when their namespaces go: as many as were alive when
 * the module came back.
 */
TEST_F_TIMEOUT(stress, load_unload_under_storm, 1200)
{
	struct storm_opts o = { .pin = true, .reuse = true, .pace_us = 5000,
				.nice = 10, .max_tw = 2048 };
	double budget = tw_slow_kernel() ? 900 : 420;
	int cycles = 100, need = cycles, i, k, ret, status, nk;
	int workers = tw_cpus_online() < STORM_MAX ? tw_cpus_online() : STORM_MAX;
	int last = tw_ncpus() - 1;
	long long busy = 0, racy = 0, plain = 0, retries = 0, reads = 0;
	long long opens = 0, refcnt = -1, socks, socks_after, bbl0, bbl;
	struct rd_shm *rd;
	struct storm st;
	pid_t kid[RD_MAX];
	double t0 = tw_now(), elapsed;
	char buf[32];

	ASSERT_LE(0, last);
	if (getenv("TWTRACE_STRESS_SECS")) {
		budget = atof(getenv("TWTRACE_STRESS_SECS"));
		need = 5;
	}
	rd = tw_shm_alloc(sizeof(*rd));
	ASSERT_NE(NULL, rd);
	ASSERT_EQ(0, storm_start(&st, workers, &o));

	for (i = 0; i < cycles && tw_now() - t0 < budget; i++) {
		int kind = i % 3;

		/*
		 * Not on PREEMPT_RT: the kernel's own debugfs WARNs when an
		 * open comes between delete_module()'s release of the
		 * module's references and its MODULE_STATE_GOING
		 * (full_proxy_open_regular(): "debugfs file owner did not
		 * clean up at exit"), a window full preemption makes wide.
		 */
		if (kind == 1 && tw_kernel_rt())
			kind = 2;

		if (!tw_module_loaded()) {
			ret = mod_op(true);
			ASSERT_EQ(0, ret)
				TH_LOG("cycle %d: insmod: %s", i, strerror(-ret));
		}
		memset(rd->r, 0, sizeof(rd->r));
		nk = 0;
		if (kind == 0) {
			static const int idx[] = { 0, 1, 2 };

			for (k = 0; k < 3; k++) {
				kid[nk] = tw_spawn();
				if (!kid[nk])
					reader_main(rd, nk, k < 2 ? 0 : last,
						    false);
				ASSERT_LT(0, kid[nk]);
				nk++;
			}
			ASSERT_TRUE(rd_wait_state(rd, idx, 3, RD_READING, 10))
				TH_LOG("cycle %d: readers did not open", i);
			if (refcnt < 0 && !tw_read_str("/sys/module/twtrace/refcnt",
						       buf, sizeof(buf)))
				refcnt = atoll(buf);
		} else if (kind == 1) {
			for (k = 0; k < 2; k++) {
				kid[nk] = tw_spawn();
				if (!kid[nk])
					opener_main(rd, nk, k ? last : 0);
				ASSERT_LT(0, kid[nk]);
				nk++;
			}
			usleep((i * 7919) % 20000);
		}
		ret = mod_op(false);
		if (kind == 0) {
			ASSERT_TRUE(ret == -EAGAIN || ret == -EBUSY)
				TH_LOG("cycle %d: rmmod with readers: %s", i,
				       ret ? strerror(-ret) : "unloaded");
		} else if (kind == 1) {
			ASSERT_TRUE(!ret || ret == -EAGAIN || ret == -EBUSY)
				TH_LOG("cycle %d: rmmod with openers: %s", i,
				       strerror(-ret));
		} else {
			ASSERT_EQ(0, ret)
				TH_LOG("cycle %d: rmmod: %s", i, strerror(-ret));
		}
		if (ret)
			busy++;
		else if (kind == 1)
			racy++;
		else
			plain++;
		if (!ret) {
			ASSERT_FALSE(tw_module_loaded());
			ASSERT_NE(0, access(TW_DIR, F_OK));
		}
		for (k = 0; k < nk; k++) {
			struct rd_slot *s = &rd->r[k];

			if (kind == 0) {
				EXPECT_EQ(RD_READING, LOAD(s->state))
					TH_LOG("cycle %d: reader %d stopped: %s",
					       i, k, strerror(s->err));
			}
			EXPECT_EQ(0, s->err)
				TH_LOG("cycle %d: reader %d: %s", i, k,
				       strerror(s->err));
			EXPECT_EQ(0, s->bad) TH_LOG("cycle %d: reader %d", i, k);
			status = tw_kill_reap(kid[k], 5);
			ASSERT_TRUE(tw_killed_by_sigkill(status))
				TH_LOG("cycle %d: reader %d did not die", i, k);
			reads += s->nread;
			opens += s->opens;
		}
		if (tw_module_loaded()) {
			ret = mod_unload_retry(&retries);
			ASSERT_EQ(0, ret)
				TH_LOG("cycle %d: rmmod once the readers are gone: %s",
				       i, strerror(-ret));
		}
		ASSERT_FALSE(tw_module_loaded());
	}
	ASSERT_EQ(0, storm_stop(&st, 30));
	elapsed = tw_now() - t0;
	socks = STORM_SUM(&st, sockstat);
	TH_LOG("%d cycles of %d in %.1f s (budget %.0f s): rmmod busy %lld, unloaded %lld",
	       i, cycles, elapsed, budget, busy, racy + plain);
	TH_LOG("(%lld with openers racing, %lld with nobody; %lld retries after the readers died)",
	       racy, plain, retries);
	TH_LOG("insmod %.1f ms, rmmod %.1f ms on average (%d and %d calls)",
	       mod_secs_spent[1] * 1000 / (mod_calls[1] ? mod_calls[1] : 1),
	       mod_secs_spent[0] * 1000 / (mod_calls[0] ? mod_calls[0] : 1),
	       mod_calls[1], mod_calls[0]);
	TH_LOG("refcnt with 3 readers %lld; readers read %lld records, openers opened %lld files",
	       refcnt, reads, opens);
	TH_LOG("storm: %lld connections (%lld failed), %lld overflows, %lld TIME_WAIT sockets left",
	       STORM_SUM(&st, conns), STORM_SUM(&st, errs),
	       STORM_SUM(&st, overflows), socks);
	EXPECT_LT(0, STORM_SUM(&st, conns));
	EXPECT_LE(3, refcnt);
	EXPECT_LE(need, i) TH_LOG("%d cycles of the %d needed in the budget", i,
				  need);

	/*
	 * Back again.  The storm's sockets were all born before this load:
	 * as many as were alive around the insmod (some may expire
	 * meanwhile) die counted born_before_load when the namespaces go.
	 */
	socks = storm_sockstat(&st);
	ret = mod_op(true);
	ASSERT_EQ(0, ret) TH_LOG("insmod: %s", strerror(-ret));
	socks_after = storm_sockstat(&st);
	bbl0 = tw_stat("born_before_load");
	check_module_works(_metadata, 3);
	storm_end(&st);
	tw_wait_until(tw_stat("born_before_load") - bbl0 >= socks_after,
		      tw_slow_kernel() ? 300 : 60);
	usleep(500000);
	bbl = tw_stat("born_before_load") - bbl0;
	TH_LOG("the storm's namespaces went: born_before_load +%lld for %lld..%lld sockets",
	       bbl, socks_after, socks);
	EXPECT_LE(0, socks_after);
	EXPECT_LE(socks_after, bbl);
	EXPECT_GE(socks, bbl);
	storm_free(&st);
	munmap(rd, sizeof(*rd));
}

TEST_HARNESS_MAIN
