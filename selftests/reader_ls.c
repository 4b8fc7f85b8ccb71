// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace reader tests: "ls" against /proc/net/tcp and tcp6, and
 * "probes" against the probes file and the traffic that makes them fire.
 */
#include "fixture_rd.h"

#define BOUND_PORT	41000

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

TEST_HARNESS_MAIN
