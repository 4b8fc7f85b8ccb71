// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace census tests: every kind of TIME_WAIT socket is born, listed and
 * counted as the kernel sees it (TcpExt, sockstat, /proc/net/tcp and tcp6),
 * and the FIN_WAIT2 -> TIME_WAIT re-arm.
 */
#include <math.h>

#include "fixture_tw.h"

enum { CLIENT_FIRST, SERVER_FIRST, CLIENT_ONLY };

/*
 * Fourteen TIME_WAIT sockets of every kind (client and server side, IPv4
 * and IPv6, TIME_WAIT and FIN_WAIT2 substates):
 *   births (stats, records) == TcpExt TW + TWKilled == sockstat tw,
 *   each has a live line and a /proc/net/tcp(6) TW row with the same
 *   4-tuple and substate, the live ids are the birth records' ids,
 *   stats live == the number of live lines of every netns,
 *   birth.timeo_ms == 60 s (tcp_fin_timeout for a FIN_WAIT2 birth,
 *   TCP_TIMEWAIT_LEN for a TIME_WAIT one), no probe missed a hit.
 */
TEST_F_TIMEOUT(tw, census, 90)
{
	static const struct { int family, how; } plan[] = {
		{ AF_INET, CLIENT_FIRST }, { AF_INET, CLIENT_FIRST },
		{ AF_INET, CLIENT_FIRST }, { AF_INET, CLIENT_FIRST },
		{ AF_INET, CLIENT_FIRST }, { AF_INET, CLIENT_FIRST },
		{ AF_INET6, CLIENT_FIRST }, { AF_INET6, CLIENT_FIRST },
		{ AF_INET6, CLIENT_FIRST },
		{ AF_INET, SERVER_FIRST }, { AF_INET6, SERVER_FIRST },
		{ AF_INET, CLIENT_ONLY }, { AF_INET, CLIENT_ONLY },
		{ AF_INET6, CLIENT_ONLY },
	};
	enum { N = ARRAY_SIZE(plan) };
	struct tw_conn k[N];
	union tw_sa d4, d6, *local[N], *remote[N];
	struct twtrace_record b[N];
	struct tw_tcprow rows[64];
	struct tw_live lv[64], *all;
	struct tw_stats s0, s1;
	long long kb0, kb1, fin_ms, a = -1, c = -1;
	int l4, l6, i, j, ret, nrows, nlive, fw2 = 0, rearms = 0;
	unsigned long long missed = 0, hits;
	char line[256], sym[128], att[16];
	bool consistent = false;
	FILE *f;

	fin_ms = tw_sysctl_get("net/ipv4/tcp_fin_timeout") * 1000;
	l4 = tw_listen(AF_INET, "127.0.0.1", &d4);
	l6 = tw_listen(AF_INET6, "::1", &d6);
	ASSERT_LE(0, l4);
	ASSERT_LE(0, l6);
	ASSERT_EQ(0, tw_stats_read(&s0));
	kb0 = tw_births_kernel();
	ASSERT_EQ(0, tw_sockstat_tw());

	for (i = 0; i < N; i++) {
		int lfd = plan[i].family == AF_INET ? l4 : l6;
		union tw_sa *d = plan[i].family == AF_INET ? &d4 : &d6;

		if (plan[i].how == CLIENT_FIRST)
			ret = tw_make_client_tw(&k[i], lfd, d, NULL);
		else if (plan[i].how == SERVER_FIRST)
			ret = tw_make_server_tw(&k[i], lfd, d);
		else
			ret = tw_make_fw2_tw(&k[i], lfd, d);
		ASSERT_EQ(0, ret) TH_LOG("connection %d", i);
		local[i] = plan[i].how == SERVER_FIRST ? &k[i].saddr :
							 &k[i].caddr;
		remote[i] = plan[i].how == SERVER_FIRST ? &k[i].caddr :
							  &k[i].saddr;
		fw2 += plan[i].how == CLIENT_ONLY;
	}
	for (i = 0; i < N; i++)
		b[i] = wait_birth(_metadata, &self->rs, local[i], remote[i]);
	/* Rearms come with the peer's FIN, already processed by now. */
	usleep(100000);
	tw_recs_read(&self->rs);

	ASSERT_EQ(0, tw_stats_read(&s1));
	kb1 = tw_births_kernel();
	TH_LOG("made %d: births +%lld, birth records %d", N,
	       tw_stats_delta(&s0, &s1, "births"),
	       tw_recs_count(&self->rs, TWTRACE_EV_BIRTH, -1, 0, 0, 0));
	TH_LOG("TcpExt TW+TWKilled +%lld, sockstat tw %lld", kb1 - kb0,
	       tw_sockstat_tw());
	EXPECT_EQ(N, tw_sockstat_tw());
	EXPECT_EQ(N, kb1 - kb0);
	EXPECT_EQ(N, tw_stats_delta(&s0, &s1, "births"));
	EXPECT_EQ(N, tw_recs_count(&self->rs, TWTRACE_EV_BIRTH, -1, 0, 0, 0));
	EXPECT_EQ(0, self->rs.bad);

	/* Every birth: its tuple, the timeout the kernel armed. */
	for (i = 0; i < N; i++) {
		EXPECT_EQ(tw_sa_fam(local[i]), b[i].family);
		EXPECT_EQ(fin_ms, b[i].birth.timeo_ms)
			TH_LOG("tw %d born with timeo %u ms, fin_timeout %lld ms",
			       i, b[i].birth.timeo_ms, fin_ms);
		if (plan[i].how == CLIENT_ONLY)
			EXPECT_EQ(SUB_FW2, b[i].substate);
		for (j = 0; j < i; j++)
			EXPECT_NE(b[j].tw_id, b[i].tw_id);
	}

	/* The kernel's rows and the module's live lines, one for one. */
	nrows = tw_proc_tcp_read(rows, 64, true);
	nlive = tw_live_read(lv, 64, self->ns);
	TH_LOG("/proc/net/tcp+tcp6 TW rows %d, live lines %d, sockstat tw %lld",
	       nrows, nlive, tw_sockstat_tw());
	EXPECT_EQ(N, nrows);
	EXPECT_EQ(N, nlive);
	ASSERT_LE(0, nlive);
	for (i = 0; i < N; i++) {
		const struct tw_live *l = tw_live_find(lv, nlive, b[i].tw_id);
		size_t alen = tw_sa_addrlen(local[i]);
		int want = plan[i].how == CLIENT_ONLY ? SUB_FW2 : SUB_TW;
		bool row = false;

		ASSERT_NE(NULL, l) TH_LOG("tw %d (id %llu) not live", i,
					  b[i].tw_id);
		EXPECT_EQ(self->ns, l->netns);
		EXPECT_EQ(tw_sa_fam(local[i]), l->family);
		EXPECT_EQ(tw_sa_port(local[i]), l->lport);
		EXPECT_EQ(tw_sa_port(remote[i]), l->rport);
		EXPECT_EQ(0, memcmp(l->laddr, tw_sa_addr(local[i]), alen));
		EXPECT_EQ(0, memcmp(l->raddr, tw_sa_addr(remote[i]), alen));
		EXPECT_EQ(want, l->substate);
		EXPECT_EQ(tw_recs_count(&self->rs, TWTRACE_EV_REARM, -1, 0, 0,
					b[i].tw_id), (int)l->rearms);
		rearms += l->rearms;
		for (j = 0; j < nrows && j < 64; j++) {
			if (rows[j].family != l->family ||
			    rows[j].lport != l->lport ||
			    rows[j].rport != l->rport ||
			    memcmp(rows[j].laddr, l->laddr, alen) ||
			    memcmp(rows[j].raddr, l->raddr, alen))
				continue;
			row = true;
			EXPECT_EQ(want, (int)rows[j].st);
		}
		EXPECT_TRUE(row) TH_LOG("tw %d has no /proc/net/tcp row", i);
	}
	c = 0;
	for (j = 0; j < nrows && j < 64; j++)
		c += rows[j].st == SUB_FW2;
	EXPECT_EQ(fw2, c);
	TH_LOG("rearms +%lld, rearm records %d, live rearms %d",
	       tw_stats_delta(&s0, &s1, "rearms"),
	       tw_recs_count(&self->rs, TWTRACE_EV_REARM, -1, 0, 0, 0),
	       rearms);
	EXPECT_EQ(rearms, tw_stats_delta(&s0, &s1, "rearms"));
	EXPECT_EQ(rearms,
		  tw_recs_count(&self->rs, TWTRACE_EV_REARM, -1, 0, 0, 0));

	/* stats live == every netns' live lines (read until stable). */
	all = calloc(4096, sizeof(*all));
	ASSERT_NE(NULL, all);
	consistent = tw_live_stat_stable(all, 4096, &a, &c);
	TH_LOG("stats live %lld, live lines (all netns) %lld", a, c);
	EXPECT_TRUE(consistent);
	EXPECT_LE(N, c);
	free(all);

	/* Every probe: attached or not, no kprobe missed. */
	f = fopen(TW_DIR "/probes", "r");
	ASSERT_NE(NULL, f);
	c = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long m;

		if (line[0] == '#')
			continue;
		if (sscanf(line, "%127s %15s %llu %llu", sym, att, &hits,
			   &m) != 4)
			continue;
		c += !strcmp(att, "yes");
		missed += m;
		if (strcmp(att, "yes"))
			TH_LOG("probe %s not attached", sym);
	}
	fclose(f);
	TH_LOG("probes attached %lld, nmissed %llu, probe_misses %lld", c,
	       missed, tw_stat("probe_misses"));
	EXPECT_LT(0, c);
	EXPECT_EQ(0ULL, missed);
	EXPECT_EQ(0, tw_stat("probe_misses"));

	for (i = 0; i < N; i++)
		tw_conn_close(&k[i]);
	close(l4);
	close(l6);
}

/*
 * The FIN_WAIT2 -> TIME_WAIT re-arm.  With tcp_fin_timeout=20, three
 * client-closed TWs (two IPv4, one IPv6) wait in FIN_WAIT2 with a 20 s
 * timer, as the kernel's /proc/net/tcp says (st 05, < 20 s left).  Then
 * the servers close: each tw gets the FIN, the kernel lists it TIME_WAIT
 * (st 06) with 60 s left, and the module has one rearm record per tw
 * (old_substate 5, substate 6, timeo 60000 ms, rearms 1, timestamped when
 * the kernel's timer was set), live says TIME_WAIT with 1 rearm, stats
 * rearms +3; birth.timeo_ms was 20000.
 */
TEST_F(tw, rearm_fin_wait2_to_time_wait)
{
	enum { N = 3 };
	struct twtrace_record b[N], r;
	struct tw_tcprow row;
	struct tw_conn k[N];
	struct tw_live l;
	struct tw_stats s0, s1;
	union tw_sa d4, d6;
	int l4, l6, i;
	double t;

	ASSERT_EQ(0, tw_sysctl_set("net/ipv4/tcp_fin_timeout", "20"));
	l4 = tw_listen(AF_INET, "127.0.0.1", &d4);
	l6 = tw_listen(AF_INET6, "::1", &d6);
	ASSERT_LE(0, l4);
	ASSERT_LE(0, l6);
	for (i = 0; i < N; i++) {
		ASSERT_EQ(0, tw_make_fw2_tw(&k[i], i == 2 ? l6 : l4,
					    i == 2 ? &d6 : &d4));
		b[i] = wait_birth(_metadata, &self->rs, &k[i].caddr,
				  &k[i].saddr);
		EXPECT_EQ(SUB_FW2, b[i].substate);
		EXPECT_EQ(20000U, b[i].birth.timeo_ms);
		ASSERT_TRUE(tw_proc_tw_find(b[i].sport, b[i].dport, &row));
		EXPECT_EQ(SUB_FW2, (int)row.st);
		EXPECT_GE(2000UL, row.when);
		ASSERT_TRUE(tw_live_has(self->ns, b[i].tw_id, &l));
		EXPECT_EQ(SUB_FW2, l.substate);
		EXPECT_EQ(0U, l.rearms);
	}
	ASSERT_EQ(0, tw_stats_read(&s0));

	for (i = 0; i < N; i++) {
		close(k[i].a);
		k[i].a = -1;
		r = wait_event(_metadata, &self->rs, TWTRACE_EV_REARM,
			       b[i].tw_id, 5);
		t = tw_now();
		ASSERT_TRUE(tw_proc_tw_find(b[i].sport, b[i].dport, &row));
		TH_LOG("tw %llu: rearmed %.3f s after birth, kernel: st %02X, %.2f s left",
		       b[i].tw_id, (r.ts_ns - b[i].ts_ns) / 1e9, row.st,
		       row.when / 100.0);
		EXPECT_EQ(SUB_TW, (int)row.st);
		EXPECT_GE(0.25, fabs(t - r.ts_ns / 1e9 + row.when / 100.0 -
				     60.0));
		EXPECT_EQ(SUB_FW2, r.rearm.old_substate);
		EXPECT_EQ(SUB_TW, r.substate);
		EXPECT_EQ(60000U, r.rearm.timeo_ms);
		EXPECT_EQ(1U, r.rearms);
		EXPECT_TRUE(tw_rec_tuple_is(&r, &k[i].caddr, &k[i].saddr));
		ASSERT_TRUE(tw_live_has(self->ns, b[i].tw_id, &l));
		EXPECT_EQ(SUB_TW, l.substate);
		EXPECT_EQ(1U, l.rearms);
	}
	ASSERT_EQ(0, tw_stats_read(&s1));
	TH_LOG("stats rearms +%lld, rearm records %d, sockstat tw %lld",
	       tw_stats_delta(&s0, &s1, "rearms"),
	       tw_recs_count(&self->rs, TWTRACE_EV_REARM, -1, 0, 0, 0),
	       tw_sockstat_tw());
	EXPECT_EQ(N, tw_stats_delta(&s0, &s1, "rearms"));
	EXPECT_EQ(N, tw_recs_count(&self->rs, TWTRACE_EV_REARM, -1, 0, 0, 0));
	EXPECT_EQ(N, tw_sockstat_tw());
	EXPECT_EQ(0, tw_recs_count(&self->rs, TWTRACE_EV_DEATH, -1, 0, 0, 0));
	for (i = 0; i < N; i++)
		tw_conn_close(&k[i]);
	close(l4);
	close(l6);
}

TEST_HARNESS_MAIN
