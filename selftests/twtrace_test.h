/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The helpers of the twtrace selftests that fail a test (ASSERT_*,
 * EXPECT_*), shared by the test programs.  kselftest_harness.h defines
 * its runner in the file that includes it, so these cannot go into the
 * library (lib/): they are static inline, here, as the kernel's own
 * selftests keep such helpers (landlock's common.h).  Everything else is
 * in lib/twtrace_lib.h.
 */
#ifndef TWTRACE_TEST_H
#define TWTRACE_TEST_H

#include "kselftest_harness.h"
#include "twtrace_lib.h"

/*
 * The common start of every test: module loaded, a fresh netns, nothing
 * left over from earlier tests, the rings drained.  @rs then collects the
 * records of this netns.
 */
static inline void begin(struct __test_metadata *_metadata,
			 struct tw_recs *rs, unsigned int *ns)
{
	ASSERT_EQ(0, tw_module_ensure());
	ASSERT_EQ(0, tw_netns_new());
	*ns = tw_netns_inum();
	ASSERT_NE(0U, *ns);
	ASSERT_TRUE(tw_settle(30))
		TH_LOG("sockets of dead namespaces are still tracked");
	ASSERT_EQ(1, tw_ctl_get("enable"))
		TH_LOG("recording is off: an earlier test left enable=0");
	tw_recs_init(rs, *ns);
	ASSERT_EQ(0, tw_recs_drain(rs));
}

/* Wait for the birth record of the TW @local -> @remote; a copy of it. */
static inline struct twtrace_record
wait_birth(struct __test_metadata *_metadata, struct tw_recs *rs,
	   const union tw_sa *local, const union tw_sa *remote)
{
	const struct twtrace_record *r = NULL;
	unsigned int lp = tw_sa_port(local), rp = tw_sa_port(remote);
	double end = tw_now() + 5;
	size_t i;

	/* The newest birth with this tuple (ports can be used again). */
	do {
		tw_recs_read(rs);
		for (i = rs->n; !r && i-- > 0;)
			if (tw_rec_match(&rs->v[i].r, TWTRACE_EV_BIRTH, -1,
					 lp, rp, 0) &&
			    tw_rec_tuple_is(&rs->v[i].r, local, remote))
				r = &rs->v[i].r;
		if (!r)
			usleep(20000);
	} while (!r && tw_now() < end);
	ASSERT_NE(NULL, r)
		TH_LOG("no birth record for local port %u remote port %u",
		       lp, rp);
	EXPECT_NE(0ULL, r->tw_id);
	EXPECT_EQ(rs->netns, r->netns);
	return *r;
}

/* Wait for a record of @type for tw @id; a copy of it. */
static inline struct twtrace_record
wait_event(struct __test_metadata *_metadata, struct tw_recs *rs, int type,
	   unsigned long long id, double secs)
{
	const struct twtrace_record *r;

	tw_wait_until((tw_recs_read(rs),
		       tw_recs_count(rs, type, -1, 0, 0, id) > 0), secs);
	r = tw_recs_find(rs, type, -1, 0, 0, id);
	ASSERT_NE(NULL, r)
		TH_LOG("no record of type %d for tw %llu", type, id);
	return *r;
}

static inline void tw_ctls_save(struct __test_metadata *_metadata,
				struct tw_ctls *c)
{
	ASSERT_EQ(0, tw_ctl_str("enable", c->enable, sizeof(c->enable)));
	ASSERT_EQ(0, tw_ctl_str("ring_kb", c->ring_kb, sizeof(c->ring_kb)));
	ASSERT_EQ(0, tw_ctl_str("overwrite", c->overwrite,
				sizeof(c->overwrite)));
}

/*
 * The start of a test that changes the controls: the module loaded, the
 * controls saved (tw_ctls_restore() puts them back, from the harness),
 * then as begin(), and a listener on 127.0.0.1 (@l, @dst).
 */
static inline void begin_ctls(struct __test_metadata *_metadata,
			      struct tw_ctls *ctls, struct tw_recs *rs,
			      unsigned int *ns, int *l, union tw_sa *dst)
{
	ASSERT_EQ(0, tw_module_ensure());
	tw_ctls_save(_metadata, ctls);
	begin(_metadata, rs, ns);
	*l = tw_listen(AF_INET, "127.0.0.1", dst);
	ASSERT_LE(0, *l);
}

/*
 * The module still counts: @n TIME_WAIT sockets made in a fresh netns are
 * @n births, as many as TcpExt says, each with a birth record and an id.
 */
static inline void check_module_works(struct __test_metadata *_metadata,
				      int n)
{
	struct mk m = { .n4 = n, .cpu = -1 };
	struct tw_recs rs;
	struct nsjob j;
	long long b0;
	int ret;

	ASSERT_TRUE(tw_module_loaded());
	ASSERT_EQ(1, tw_ctl_get("enable"));
	b0 = tw_stat("births");
	ret = nsjob_start(&j, &m, 30);
	tw_recs_init(&rs, j.ns);
	EXPECT_EQ(0, ret);
	EXPECT_EQ(n, j.births);
	tw_wait_until(tw_stat("births") - b0 >= n, 5);
	tw_wait_until((tw_recs_read(&rs),
		       tw_recs_count(&rs, TWTRACE_EV_BIRTH, -1, 0, 0, 0) >= n),
		      5);
	TH_LOG("module works: %d made, births +%lld (TcpExt %lld), birth records %d",
	       n, tw_stat("births") - b0, j.births,
	       tw_recs_count(&rs, TWTRACE_EV_BIRTH, -1, 0, 0, 0));
	EXPECT_EQ(n, tw_stat("births") - b0);
	EXPECT_EQ(n, tw_recs_count(&rs, TWTRACE_EV_BIRTH, -1, 0, 0, 0));
	EXPECT_EQ(0, nrec_id(&rs, TWTRACE_EV_BIRTH, NULL, false));
	nsjob_end(&j);
	tw_recs_free(&rs);
}

/* The start of a stress test: what it may change saved, recording on. */
static inline void tw_saved_save(struct __test_metadata *_metadata,
				 struct tw_saved *s)
{
	ASSERT_EQ(0, tw_module_ensure());
	tw_ctls_save(_metadata, &s->ctls);
	ASSERT_EQ(0, tw_read_str(MAX_TRACKED, s->max_tracked,
				 sizeof(s->max_tracked)));
	s->cpu1_touched = false;
	ASSERT_EQ(1, tw_ctl_get("enable"))
		TH_LOG("recording is off: an earlier test left enable=0");
}

/* Run "stat -j" and read its object into @s (stats file names). */
static inline void stat_json(struct __test_metadata *_metadata,
			     struct tw_stats *s)
{
	struct rd r;

	ASSERT_EQ(0, rd_run(&r, RD_ROOT, RD("stat", "-j")))
		TH_LOG("stat -j: %s", r.err);
	ASSERT_EQ(1, count_lines(r.out));
	ASSERT_EQ(0, stats_from_json(r.out, s))
		TH_LOG("stat -j lacks keys: %s", r.out);
	rd_free(&r);
}

/*
 * The start of a reader test: as begin(), the records of earlier tests
 * thrown away (network namespace inode numbers are used again: those of a
 * dead netns could pass for this one's), @nsarg the netns for "-n".
 */
static inline void begin_rd(struct __test_metadata *_metadata,
			    unsigned int *ns, char *nsarg, size_t len)
{
	struct tw_recs rs;

	begin(_metadata, &rs, ns);
	tw_recs_free(&rs);
	snprintf(nsarg, len, "%u", *ns);
}

#endif /* TWTRACE_TEST_H */
