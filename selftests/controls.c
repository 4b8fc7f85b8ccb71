// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace control tests: enable, overwrite, ring_kb and reset.  What they
 * take and what they refuse, and what they do: enable=0 stops the records
 * but not the counters, reset zeroes the counters but not what is live.
 */
#include "twtrace_test.h"

FIXTURE(controls) {
	struct tw_recs rs;
	unsigned int ns;
	struct tw_ctls ctls;
	int l;
	union tw_sa dst;
};

FIXTURE_SETUP(controls)
{
	begin_ctls(_metadata, &self->ctls, &self->rs, &self->ns, &self->l,
		   &self->dst);
}

/*
 * Put the controls back from the parent, whatever happened to the test.
 * (self is shared with the test process; its heap is not: no free.)
 */
FIXTURE_TEARDOWN_PARENT(controls)
{
	tw_ctls_restore(&self->ctls);
}

/*
 * Bad writes to every control return EINVAL and change nothing; good
 * ones are taken and read back.
 */
TEST_F(controls, controls_reject_bad_writes)
{
	static const struct { const char *ctl, *val; } bad[] = {
		{ "enable", "abc" }, { "enable", "2" }, { "enable", "-1" },
		{ "enable", "" }, { "enable", "1x" }, { "enable", "1 1" },
		{ "overwrite", "2" }, { "overwrite", "abc" },
		{ "overwrite", "" }, { "overwrite", "-1" },
		{ "ring_kb", "abc" }, { "ring_kb", "-1" }, { "ring_kb", "0" },
		{ "ring_kb", "3" }, { "ring_kb", "65537" },
		{ "ring_kb", "99999999999" }, { "ring_kb", "" },
		{ "ring_kb", "4096k" },
		{ "reset", "abc" }, { "reset", "2" }, { "reset", "" },
		{ "reset", "-1" },
	};
	char before[64], after[64], bb[64];
	long long births;
	unsigned int i;
	int ret;

	births = tw_stat("births");
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		bool is_reset = !strcmp(bad[i].ctl, "reset");

		if (!is_reset)
			ASSERT_EQ(0, tw_ctl_str(bad[i].ctl, before,
						sizeof(before)));
		ret = tw_ctl_set(bad[i].ctl, bad[i].val);
		EXPECT_EQ(-EINVAL, ret)
			TH_LOG("%s <- \"%s\": %s", bad[i].ctl, bad[i].val,
			       ret ? strerror(-ret) : "accepted");
		if (is_reset) {
			EXPECT_EQ(births, tw_stat("births"));
			continue;
		}
		ASSERT_EQ(0, tw_ctl_str(bad[i].ctl, after, sizeof(after)));
		EXPECT_STREQ(before, after)
			TH_LOG("%s <- \"%s\"", bad[i].ctl, bad[i].val);
	}

	/* Good writes, with and without a newline. */
	ASSERT_EQ(0, tw_ctl_str("ring_kb", bb, sizeof(bb)));
	EXPECT_EQ(0, tw_ctl_set("ring_kb", "8\n"));
	EXPECT_EQ(8, tw_ctl_get("ring_kb"));
	EXPECT_EQ(0, tw_ctl_set("ring_kb", bb));
	EXPECT_EQ(atoll(bb), tw_ctl_get("ring_kb"));
	EXPECT_EQ(0, tw_ctl_set("overwrite", "1"));
	EXPECT_EQ(1, tw_ctl_get("overwrite"));
	EXPECT_EQ(0, tw_ctl_set("overwrite", "0\n"));
	EXPECT_EQ(0, tw_ctl_get("overwrite"));
	EXPECT_EQ(0, tw_ctl_set("enable", "1\n"));
	EXPECT_EQ(1, tw_ctl_get("enable"));
}

/*
 * enable=0 stops the records, not the counters: births == TcpExt
 * TW+TWKilled, no record, stats records still; live still tracks them
 * (== sockstat).  enable=1 brings the records back.
 */
TEST_F(controls, enable_off_counts_without_records)
{
	struct tw_stats s0, s1;
	struct twtrace_record b;
	struct tw_conn k;
	long long kb0;
	int i;

	ASSERT_EQ(0, tw_ctl_set("enable", "0"));
	ASSERT_EQ(0, tw_ctl_get("enable"));
	ASSERT_EQ(0, tw_stats_read(&s0));
	kb0 = tw_births_kernel();
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, tw_make_client_tw(&k, self->l, &self->dst, NULL));
	usleep(200000);
	ASSERT_EQ(0, tw_stats_read(&s1));
	ASSERT_LE(0, tw_recs_read(&self->rs));
	TH_LOG("enable=0: births +%lld, TcpExt TW+TWKilled +%lld",
	       tw_stats_delta(&s0, &s1, "births"), tw_births_kernel() - kb0);
	TH_LOG("enable=0: records +%lld, read %zu, live %d, sockstat tw %lld",
	       tw_stats_delta(&s0, &s1, "records"), self->rs.n,
	       tw_live_read(NULL, 0, self->ns), tw_sockstat_tw());
	EXPECT_EQ(3, tw_births_kernel() - kb0);
	EXPECT_EQ(3, tw_stats_delta(&s0, &s1, "births"));
	EXPECT_EQ(0, tw_stats_delta(&s0, &s1, "records"));
	EXPECT_EQ(0UL, self->rs.n);
	EXPECT_EQ(tw_sockstat_tw(), tw_live_read(NULL, 0, self->ns));

	ASSERT_EQ(0, tw_ctl_set("enable", "1"));
	ASSERT_EQ(0, tw_make_client_tw(&k, self->l, &self->dst, NULL));
	b = wait_birth(_metadata, &self->rs, &k.caddr, &self->dst);
	EXPECT_EQ(4, tw_live_read(NULL, 0, self->ns));
	EXPECT_TRUE(tw_live_has(self->ns, b.tw_id, NULL));
}

/*
 * reset=1 zeroes every event counter and the histograms, but not what
 * is live; counting goes on from zero (births == TcpExt TW+TWKilled).
 */
TEST_F(controls, reset_zeroes_counters)
{
	struct tw_stats s;
	struct tw_conn k;
	char line[256];
	long long kb0, a = -1, c = -1;
	int i, lines = 0;
	bool consistent = false;
	FILE *f;

	/* Something to zero: a birth and a rearm at least. */
	ASSERT_EQ(0, tw_make_client_tw(&k, self->l, &self->dst, NULL));
	ASSERT_LT(0, tw_stat("births"));

	ASSERT_EQ(0, tw_ctl_set("reset", "1"));
	ASSERT_EQ(0, tw_stats_read(&s));
	for (i = 0; i < s.n; i++) {
		if (strcmp(s.name[i], "births") &&
		    strcmp(s.name[i], "rearms") &&
		    strncmp(s.name[i], "death_", 6) &&
		    strncmp(s.name[i], "reuse_", 6) &&
		    strncmp(s.name[i], "overflow_", 9))
			continue;
		EXPECT_EQ(0, s.val[i]) TH_LOG("%s after reset", s.name[i]);
	}
	f = fopen(TW_DIR "/hist", "r");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f))
		lines += line[0] != '#' && line[0] != '\n';
	fclose(f);
	EXPECT_EQ(0, lines);
	for (i = 0; i < 10 && !consistent; i++) {
		a = tw_stat("live");
		c = tw_live_read(NULL, 0, 0);
		consistent = a == c && a == tw_stat("live");
	}
	TH_LOG("after reset: stats live %lld, live lines %lld", a, c);
	EXPECT_TRUE(consistent);
	EXPECT_LE(1, c);

	kb0 = tw_births_kernel();
	ASSERT_EQ(0, tw_make_client_tw(&k, self->l, &self->dst, NULL));
	EXPECT_EQ(1, tw_births_kernel() - kb0);
	EXPECT_EQ(1, tw_stat("births"));
}

TEST_HARNESS_MAIN
