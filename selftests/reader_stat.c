// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace reader tests: "stat" in JSON and Prometheus form and at
 * intervals, and "hist", against the stats and hist files.
 */
#include <signal.h>
#include <time.h>

#include "fixture_rd.h"

/* The value of the series "@series " (a whole line prefix); -1 if none. */
static long long prom_get(const char *text, const char *series)
{
	size_t n = strlen(series);
	const char *p = text;

	while (p && *p) {
		if (!strncmp(p, series, n) && p[n] == ' ')
			return strtoll(p + n + 1, NULL, 10);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

/* @series's value, seconds with up to 9 decimals, in ns; -1 if none. */
static long long prom_get_ns(const char *text, const char *series)
{
	char want[160], frac[10] = "000000000";
	const char *p;
	size_t n;
	long long s;

	snprintf(want, sizeof(want), "\n%s ", series);
	p = strstr(text, want);
	if (!p)
		return -1;
	p += strlen(want);
	s = strtoll(p, (char **)&p, 10);
	if (*p == '.') {
		n = strspn(++p, "0123456789");
		memcpy(frac, p, n < 9 ? n : 9);
	}
	return s * NSEC + strtoll(frac, NULL, 10);
}

/* "# HELP name " and "# TYPE name type" both there? */
static bool prom_has_head(const char *text, const char *name,
			  const char *type)
{
	char want[128];

	snprintf(want, sizeof(want), "# HELP %s ", name);
	if (!strstr(text, want))
		return false;
	snprintf(want, sizeof(want), "# TYPE %s %s\n", name, type);
	return strstr(text, want);
}

/* The Prometheus output into the stats file's names (no lost_cpuN). */
/* @series's value into @s as @name; 1 if the series is missing. */
static int prom_take(const char *text, const char *series, struct tw_stats *s,
		     const char *name)
{
	long long v = prom_get(text, series);

	if (v < 0)
		return 1;
	stats_put(s, name, v);
	return 0;
}

static int stats_from_prom(const char *text, struct tw_stats *s)
{
	static const struct { const char *series, *name; } plain[] = {
		{ "twtrace_births_total", "births" },
		{ "twtrace_rearms_total", "rearms" },
		{ "twtrace_live", "live" },
		{ "twtrace_lost_records_total", "lost" },
		{ "twtrace_records_total", "records" },
		{ "twtrace_connect_failures_total", "connect_fail" },
		{ "twtrace_born_before_load_total", "born_before_load" },
		{ "twtrace_untracked_total", "untracked" },
		{ "twtrace_probe_misses_total", "probe_misses" },
		{ "twtrace_groups", "groups" },
		{ "twtrace_groups_max", "groups_max" },
	};
	char series[160], name[64];
	int i, missing = 0;

	s->n = 0;
	for (i = 0; i < (int)ARRAY_SIZE(plain); i++)
		missing += prom_take(text, plain[i].series, s, plain[i].name);
	if (prom_get_ns(text, "twtrace_counters_start_time_seconds") < 0)
		missing++;
	else
		stats_put(s, "since_ns",
			  prom_get_ns(text,
				      "twtrace_counters_start_time_seconds"));
	for (i = 0; i < TWTRACE_DEATH_NR; i++) {
		snprintf(series, sizeof(series),
			 "twtrace_deaths_total{reason=\"%s\"}",
			 tw_death_name(i));
		snprintf(name, sizeof(name), "death_%s", tw_death_name(i));
		missing += prom_take(text, series, s, name);
	}
	for (i = 0; i < TWTRACE_REUSE_NR; i++) {
		snprintf(series, sizeof(series),
			 "twtrace_reuse_decisions_total{reason=\"%s\",allowed=\"%s\"}",
			 tw_reuse_name(i),
			 twtrace_reuse_allows(i) ? "true" : "false");
		snprintf(name, sizeof(name), "reuse_%s", tw_reuse_name(i));
		missing += prom_take(text, series, s, name);
	}
	for (i = 0; i < TWTRACE_OVERFLOW_NR; i++) {
		snprintf(series, sizeof(series),
			 "twtrace_overflows_total{reason=\"%s\"}",
			 tw_overflow_name(i));
		snprintf(name, sizeof(name), "overflow_%s",
			 tw_overflow_name(i));
		missing += prom_take(text, series, s, name);
	}
	return missing;
}

static bool stats_equal(const struct tw_stats *a, const struct tw_stats *b)
{
	int i;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++)
		if (strcmp(a->name[i], b->name[i]) || a->val[i] != b->val[i])
			return false;
	return true;
}

/*
 * Every counter of the stats file @f, in @r (what the reader said) with
 * the same value; lost_cpuN only if @cpus.  The number of differences,
 * each logged.
 */
static int stats_compare(struct __test_metadata *_metadata,
			 const struct tw_stats *f, const struct tw_stats *r,
			 bool cpus, const char *what)
{
	int i, bad = 0;
	long long v;

	for (i = 0; i < f->n; i++) {
		if (!cpus && !strncmp(f->name[i], "lost_cpu", 8))
			continue;
		v = tw_stats_get(r, f->name[i]);
		if (v == f->val[i])
			continue;
		TH_LOG("%s: %s is %lld, the stats file says %lld", what,
		       f->name[i], v, f->val[i]);
		bad++;
	}
	return bad;
}

/* Some of everything: births, rearms, deaths (rst_received). */
static void some_traffic(struct __test_metadata *_metadata, int n)
{
	struct tw_conn k;
	union tw_sa dst;
	int l, i;

	l = tw_listen(AF_INET, "127.0.0.1", &dst);
	ASSERT_LE(0, l);
	for (i = 0; i < n; i++)
		ASSERT_EQ(0, tw_make_client_tw(&k, l, &dst, NULL));
	ASSERT_EQ(0, tw_make_fw2_tw(&k, l, &dst));
	ASSERT_EQ(0, tw_conn_abort_server(&k));
	tw_conn_close(&k);
	close(l);
}

/* "Nanoseconds as seconds", as Prometheus le labels say them. */
static void le_secs(char *buf, size_t len, unsigned long long ns)
{
	int n = snprintf(buf, len, "%llu.%09llu", ns / NSEC, ns % NSEC);

	while (n > 0 && buf[n - 1] == '0')
		buf[--n] = '\0';
	if (n > 0 && buf[n - 1] == '.')
		buf[--n] = '\0';
}

/*
 * "stat -j": one object, every counter and every reason key there, each
 * value the stats file's.  "stat --prometheus": the metric families with
 * HELP and TYPE, every series the stats file's value, the lifetime
 * histograms cumulative over the hist file's buckets.  Both compared
 * while nothing happens (the file read before and after is the same).
 */
TEST_F_TIMEOUT(rd, stat_json_and_prometheus, 60)
{
	static const struct { const char *name, *type; } metrics[] = {
		{ "twtrace_births_total", "counter" },
		{ "twtrace_deaths_total", "counter" },
		{ "twtrace_reuse_decisions_total", "counter" },
		{ "twtrace_overflows_total", "counter" },
		{ "twtrace_connect_failures_total", "counter" },
		{ "twtrace_live", "gauge" },
		{ "twtrace_counters_start_time_seconds", "gauge" },
		{ "twtrace_module_load_time_seconds", "gauge" },
		{ "twtrace_lost_records_total", "counter" },
		{ "twtrace_lifetime_seconds", "histogram" },
		{ "twtrace_reuse_age_seconds", "histogram" },
	};
	long long h[TWTRACE_HIST_BUCKETS], h2[TWTRACE_HIST_BUCKETS];
	struct tw_stats f0, f1, rs;
	char series[160], le[32];
	long long cum, total, v, loaded;
	struct timespec now;
	int i, k, b, try;
	bool stable;
	struct rd r;

	some_traffic(_metadata, 3);

	/* stat -j */
	for (try = 0; try < 3; try++) {
		ASSERT_EQ(0, tw_stats_read(&f0));
		ASSERT_EQ(0, rd_run(&r, RD_ROOT, RD("stat", "-j")))
			TH_LOG("stat -j: %s", r.err);
		ASSERT_EQ(0, tw_stats_read(&f1));
		if (stats_equal(&f0, &f1))
			break;
		rd_free(&r);
	}
	ASSERT_GT(3, try) TH_LOG("the stats file never held still");
	ASSERT_EQ(1, count_lines(r.out));
	EXPECT_EQ(0, stats_from_json(r.out, &rs)) TH_LOG("%s", r.out);
	TH_LOG("stat -j: %d values (stats file: %d), births %lld, rst_received %lld, live %lld",
	       rs.n, f1.n, tw_stats_get(&rs, "births"),
	       tw_stats_get(&rs, "death_rst_received"),
	       tw_stats_get(&rs, "live"));
	EXPECT_EQ(f1.n, rs.n);
	EXPECT_EQ(0, stats_compare(_metadata, &f1, &rs, true, "stat -j"));
	EXPECT_TRUE(js_is_null(r.out, "interval_ns") ||
		    !js_get(r.out, "interval_ns"));
	rd_free(&r);

	/* stat --prometheus */
	for (try = 0; try < 3; try++) {
		ASSERT_EQ(0, tw_stats_read(&f0));
		ASSERT_EQ(0, tw_hist_buckets("lifetime rst_received", h));
		ASSERT_EQ(0, rd_run(&r, RD_ROOT, RD("stat", "--prometheus")))
			TH_LOG("stat --prometheus: %s", r.err);
		ASSERT_EQ(0, tw_stats_read(&f1));
		ASSERT_EQ(0, tw_hist_buckets("lifetime rst_received", h2));
		stable = stats_equal(&f0, &f1) &&
			 !memcmp(h, h2, sizeof(h));
		if (stable)
			break;
		rd_free(&r);
	}
	ASSERT_GT(3, try) TH_LOG("the stats file never held still");
	for (i = 0; i < (int)ARRAY_SIZE(metrics); i++) {
		const char *name = metrics[i].name, *type = metrics[i].type;

		EXPECT_TRUE(prom_has_head(r.out, name, type))
			TH_LOG("no # HELP and # TYPE %s %s", name, type);
	}
	EXPECT_EQ(0, stats_from_prom(r.out, &rs));
	EXPECT_EQ(0, stats_compare(_metadata, &f1, &rs, false,
				   "--prometheus"));
	/* Every reason's lifetime histogram against the hist file. */
	for (i = 0; i < TWTRACE_DEATH_NR; i++) {
		snprintf(series, sizeof(series), "lifetime %s",
			 tw_death_name(i));
		ASSERT_EQ(0, tw_hist_buckets(series, h));
		for (total = 0, b = 0; b < TWTRACE_HIST_BUCKETS; b++)
			total += h[b];
		/* le = 2^k ns counts the buckets below k, cumulatively. */
		for (k = 20, b = 0, cum = 0; k <= 38; k++) {
			for (; b < k; b++)
				cum += h[b];
			le_secs(le, sizeof(le), 1ULL << k);
			snprintf(series, sizeof(series),
				 "twtrace_lifetime_seconds_bucket{reason=\"%s\",le=\"%s\"}",
				 tw_death_name(i), le);
			v = prom_get(r.out, series);
			EXPECT_EQ(cum, v) TH_LOG("%s", series);
		}
		snprintf(series, sizeof(series),
			 "twtrace_lifetime_seconds_bucket{reason=\"%s\",le=\"+Inf\"}",
			 tw_death_name(i));
		EXPECT_EQ(total, prom_get(r.out, series)) TH_LOG("%s", series);
		snprintf(series, sizeof(series),
			 "twtrace_lifetime_seconds_count{reason=\"%s\"}",
			 tw_death_name(i));
		EXPECT_EQ(total, prom_get(r.out, series)) TH_LOG("%s", series);
		if (total)
			TH_LOG("%s %lld (hist file: %lld)", series,
			       prom_get(r.out, series), total);
	}
	snprintf(series, sizeof(series), "twtrace_reuse_age_seconds_count");
	EXPECT_EQ(tw_hist_get("reuse_age", -1), prom_get(r.out, series));
	/* The load time, so counter resets show: the version file's. */
	loaded = tw_kv_read(TW_DIR "/version", "loaded_ns");
	EXPECT_LT(0, loaded);
	EXPECT_EQ(loaded, prom_get_ns(r.out,
				      "twtrace_module_load_time_seconds"));
	EXPECT_LE(loaded, tw_stats_get(&f1, "since_ns"));
	clock_gettime(CLOCK_REALTIME, &now);
	EXPECT_GE(now.tv_sec * NSEC + now.tv_nsec,
		  tw_stats_get(&f1, "since_ns"));
	TH_LOG("prometheus: %d lines; births %lld, deaths{rst_received} %lld, live %lld",
	       count_lines(r.out), prom_get(r.out, "twtrace_births_total"),
	       prom_get(r.out,
			"twtrace_deaths_total{reason=\"rst_received\"}"),
	       prom_get(r.out, "twtrace_live"));
	rd_free(&r);
}

/*
 * "stat -j 1 2": two objects, one per second, each of deltas with
 * interval_ns first; the four TIME_WAIT sockets made during the first
 * second are four births over both.
 */
TEST_F_TIMEOUT(rd, stat_interval_json, 60)
{
	char line[2048];
	const char *p;
	long long births = 0, iv;
	struct tw_stats d;
	int n = 0;

	ASSERT_EQ(0, rd_start(&self->bg, RD_ROOT, RD("stat", "-j", "1", "2")));
	/* Its first snapshot is taken once it sleeps. */
	EXPECT_TRUE(tw_wait_until(rd_sleeping(&self->bg), 5));
	some_traffic(_metadata, 3);
	rd_wait(&self->bg, 0, 20);
	EXPECT_EQ(0, self->bg.rc) TH_LOG("stderr: %s", self->bg.err);
	TH_LOG("stat -j 1 2 ran %.2f s", self->bg.t1 - self->bg.t0);
	p = self->bg.out;
	while ((p = next_line(p, line, sizeof(line)))) {
		if (!line[0])
			continue;
		n++;
		EXPECT_EQ(0, strncmp(line, "{\"interval_ns\":", 15)) {
			TH_LOG("%s", line);
		}
		iv = js_num_or(line, "interval_ns", -1);
		EXPECT_EQ(0, stats_from_json(line, &d));
		TH_LOG("object %d: interval_ns %lld, births %lld, rearms %lld, rst_received %lld",
		       n, iv, tw_stats_get(&d, "births"),
		       tw_stats_get(&d, "rearms"),
		       tw_stats_get(&d, "death_rst_received"));
		EXPECT_LE(9 * NSEC / 10, iv);
		EXPECT_GE(5 * NSEC, iv);
		births += tw_stats_get(&d, "births");
	}
	EXPECT_EQ(2, n);
	EXPECT_EQ(4, births);
}

/* ------------------------------------------------------------------ */
/* hist                                                                */
/* ------------------------------------------------------------------ */

/* How "hist" labels bucket @b in ms: rounded down, as twtrace(8) says. */
static void bucket_label(int b, unsigned long long *lo, unsigned long long *hi)
{
	*lo = b ? (1ULL << b) / 1000000 : 0;
	*hi = (b == 63 ? ~0ULL : (1ULL << (b + 1)) - 1) / 1000000;
}

/*
 * The text block titled @title: the sum of its counts into *@sum, each
 * row checked against the buckets @h it stands for.  Rows found, or -1
 * without a block.
 */
static int hist_block(struct __test_metadata *_metadata, const char *text,
		      const char *title, const long long *h, long long *sum)
{
	unsigned long long lo, hi, cnt, blo, bhi;
	char line[512];
	const char *p = text;
	int rows = 0, b, found = 0;
	long long want;

	*sum = 0;
	while ((p = next_line(p, line, sizeof(line)))) {
		if (!found) {
			found = !strcmp(line, title);
			continue;
		}
		if (!line[0])
			break;
		if (sscanf(line, " %llu -> %llu : %llu", &lo, &hi, &cnt) != 3)
			continue;
		rows++;
		*sum += cnt;
		for (want = 0, b = 0; b < TWTRACE_HIST_BUCKETS; b++) {
			bucket_label(b, &blo, &bhi);
			if (blo == lo && bhi == hi)
				want += h[b];
		}
		EXPECT_EQ(want, (long long)cnt)
			TH_LOG("%s: row %llu -> %llu", title, lo, hi);
	}
	return found ? rows : -1;
}

/*
 * After deaths (two rst_received, one rst_sent): "hist" has a block for
 * each reason with deaths and none for the others, each row's count the
 * hist file's; "hist -j" has every reason, counts and buckets the hist
 * file's.
 */
TEST_F(rd, hist_after_deaths)
{
	long long h[TWTRACE_DEATH_NR + 1][TWTRACE_HIST_BUCKETS];
	long long h2[TWTRACE_DEATH_NR + 1][TWTRACE_HIST_BUCKETS];
	long long n0_rr, n0_rs, sum, total, cnt, bk;
	struct rd rt, rj;
	struct tw_conn k;
	union tw_sa d4, d6;
	char key[64], title[64], path[96];
	const char *e;
	int l4, l6, i, b, nb, rows, try;
	char c = 'x';

	n0_rr = tw_hist_get("lifetime rst_received", -1);
	n0_rs = tw_hist_get("lifetime rst_sent", -1);
	l4 = tw_listen(AF_INET, "127.0.0.1", &d4);
	l6 = tw_listen(AF_INET6, "::1", &d6);
	ASSERT_LE(0, l4);
	ASSERT_LE(0, l6);
	ASSERT_EQ(0, tw_make_fw2_tw(&k, l4, &d4));
	ASSERT_EQ(0, tw_conn_abort_server(&k));
	tw_conn_close(&k);
	ASSERT_EQ(0, tw_make_fw2_tw(&k, l6, &d6));
	ASSERT_EQ(0, tw_conn_abort_server(&k));
	tw_conn_close(&k);
	/* New data into a FIN_WAIT2 tw: it answers with an RST, dies. */
	ASSERT_EQ(0, tw_make_fw2_tw(&k, l4, &d4));
	ASSERT_EQ(1, write(k.a, &c, 1));
	EXPECT_TRUE(tw_wait_tw_gone(&k.caddr, &k.saddr, 5));
	tw_conn_close(&k);
	EXPECT_TRUE(tw_wait_until(tw_hist_get("lifetime rst_sent", -1) ==
				  n0_rs + 1, 5));
	TH_LOG("hist file: rst_received +%lld, rst_sent +%lld",
	       tw_hist_get("lifetime rst_received", -1) - n0_rr,
	       tw_hist_get("lifetime rst_sent", -1) - n0_rs);
	EXPECT_EQ(2, tw_hist_get("lifetime rst_received", -1) - n0_rr);
	EXPECT_EQ(1, tw_hist_get("lifetime rst_sent", -1) - n0_rs);

	for (try = 0; try < 3; try++) {
		for (i = 0; i <= TWTRACE_DEATH_NR; i++) {
			snprintf(key, sizeof(key), "lifetime %s",
				 tw_death_name(i));
			ASSERT_EQ(0, tw_hist_buckets(i < TWTRACE_DEATH_NR ?
						     key : "reuse_age", h[i]));
		}
		ASSERT_EQ(0, rd_run(&rt, RD_ROOT, RD("hist")))
			TH_LOG("hist: %s", rt.err);
		ASSERT_EQ(0, rd_run(&rj, RD_ROOT, RD("hist", "-j")))
			TH_LOG("hist -j: %s", rj.err);
		for (i = 0; i <= TWTRACE_DEATH_NR; i++) {
			snprintf(key, sizeof(key), "lifetime %s",
				 tw_death_name(i));
			ASSERT_EQ(0, tw_hist_buckets(i < TWTRACE_DEATH_NR ?
						     key : "reuse_age", h2[i]));
		}
		if (!memcmp(h, h2, sizeof(h)))
			break;
		rd_free(&rt);
		rd_free(&rj);
	}
	ASSERT_GT(3, try) TH_LOG("the hist file never held still");

	/* Text: a block per reason with deaths, none for the others. */
	for (i = 0; i <= TWTRACE_DEATH_NR; i++) {
		if (i < TWTRACE_DEATH_NR)
			snprintf(title, sizeof(title), "lifetime, reason = %s",
				 tw_death_name(i));
		else
			snprintf(title, sizeof(title), "age at reuse decision");
		for (total = 0, b = 0; b < TWTRACE_HIST_BUCKETS; b++)
			total += h[i][b];
		rows = hist_block(_metadata, rt.out, title, h[i], &sum);
		if (total)
			TH_LOG("hist: \"%s\": %d rows, %lld in all (hist file: %lld)",
			       title, rows, sum, total);
		if (!total) {
			EXPECT_EQ(-1, rows) TH_LOG("block \"%s\" with no deaths",
						   title);
			continue;
		}
		EXPECT_LT(0, rows) TH_LOG("no block \"%s\"", title);
		EXPECT_EQ(total, sum) TH_LOG("%s", title);
	}
	EXPECT_NE(NULL, strstr(rt.out, "lifetime, reason = rst_received\n"));
	EXPECT_NE(NULL, strstr(rt.out, "lifetime, reason = rst_sent\n"));

	/* JSON: every reason, counts and non-empty buckets. */
	ASSERT_EQ(1, count_lines(rj.out));
	for (i = 0; i <= TWTRACE_DEATH_NR; i++) {
		if (i < TWTRACE_DEATH_NR)
			snprintf(key, sizeof(key), "lifetime.%s",
				 tw_death_name(i));
		else
			snprintf(key, sizeof(key), "reuse_age");
		for (total = 0, nb = 0, b = 0; b < TWTRACE_HIST_BUCKETS; b++) {
			total += h[i][b];
			nb += h[i][b] != 0;
		}
		snprintf(path, sizeof(path), "%s.count", key);
		EXPECT_EQ(total, js_num_or(rj.out, path, -1))
			TH_LOG("hist -j %s", path);
		snprintf(path, sizeof(path), "%s.buckets", key);
		for (b = 0; (e = js_elem(rj.out, path, b)); b++) {
			bk = js_num_or(e, "b", -1);
			cnt = js_num_or(e, "count", -1);
			ASSERT_LE(0, bk);
			ASSERT_GT(TWTRACE_HIST_BUCKETS, bk);
			EXPECT_EQ(h[i][bk], cnt) TH_LOG("%s bucket %lld", key,
							bk);
			EXPECT_EQ(bk ? 1LL << bk : 0,
				  js_num_or(e, "low_ns", -1));
		}
		EXPECT_EQ(nb, b) TH_LOG("%s: buckets listed", key);
	}
	TH_LOG("hist -j: lifetime.rst_received.count %lld, lifetime.rst_sent.count %lld",
	       js_num_or(rj.out, "lifetime.rst_received.count", -1),
	       js_num_or(rj.out, "lifetime.rst_sent.count", -1));
	rd_free(&rt);
	rd_free(&rj);
	close(l4);
	close(l6);
}

TEST_HARNESS_MAIN
