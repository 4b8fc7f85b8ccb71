// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace control tests: enable, overwrite, ring_kb and reset.  What they
 * take and what they refuse, and what they do: enable=0 stops the records
 * but not the counters, reset zeroes the counters but not what is live.
 */
#include "fixture_ring.h"

/* ---- what the ABI says a control takes ---- */

struct ctl {
	const char *name;
	unsigned int min, max;
	bool readable;
};

static const struct ctl ctls[] = {
	{ "enable", 0, 1, true },
	{ "overwrite", 0, 1, true },
	{ "ring_kb", 4, 65536, true },
	{ "reset", 1, 1, false },
};

/*
 * What the ABI says a control makes of @len bytes written at offset 0:
 * one decimal number in range, optionally with a newline, nothing else
 * (16 bytes at most; the kernel's kstrtouint() also takes a '+').
 * 1 and the value if it must take them, 0 if it must refuse them.
 */
static int ctl_model(const struct ctl *c, const char *buf, size_t len,
		     unsigned int *val)
{
	unsigned long long v = 0;
	size_t i = 0, digits = 0;

	if (!len || len > 16)
		return 0;
	if (buf[0] == '+')
		i++;
	for (; i < len && buf[i] >= '0' && buf[i] <= '9'; i++, digits++) {
		v = v * 10 + (buf[i] - '0');
		if (v > UINT_MAX)
			return 0;
	}
	if (i < len && buf[i] == '\n')
		i++;
	if (!digits || i != len || v < c->min || v > c->max)
		return 0;
	*val = v;
	return 1;
}

static int ctl_open(const struct ctl *c)
{
	char path[128];

	snprintf(path, sizeof(path), TW_DIR "/%s", c->name);
	return open(path, (c->readable ? O_RDWR : O_WRONLY) | O_CLOEXEC);
}

/*
 * What a write may have changed: the control's value, or for reset the
 * counters it zeroes (nothing else makes events meanwhile).
 */
static long long ctl_state(const struct ctl *c)
{
	if (c->readable)
		return tw_ctl_get(c->name);
	return tw_stat("births") * 1000003 + tw_stat("records");
}

/* Errors a refused write may give. */
static bool refusal_errno(int e)
{
	return e == EINVAL || e == ERANGE || e == EFBIG || e == EOVERFLOW ||
	       e == EFAULT;
}

/* A deterministic generator (xorshift64). */
static unsigned long long rnd_state = 0x7477747261636521ULL;

static unsigned long long rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

struct fuzz_count {
	int tried, taken, refused, skipped, wrong;
};

/*
 * Write @len bytes of @buf to control @c at @off on @fd and check the
 * answer against the model: what it must take is taken (and read back),
 * what it must refuse fails with an error and changes nothing.  A taken
 * value is put back (@good).  @buf below 4096 is a bad address.
 */
static void ctl_try(struct __test_metadata *_metadata, const struct ctl *c,
		    int fd, const char *buf, size_t len, off_t off,
		    const char *good, struct fuzz_count *fc, const char *what)
{
	bool bad_addr = (unsigned long)buf < 4096;
	unsigned int val = 0;
	long long before, after;
	bool take = !off && !bad_addr && ctl_model(c, buf, len, &val);
	ssize_t ret;
	int err;

	/* A valid ring size costs memory: no more than 1 MiB per CPU. */
	if (take && !strcmp(c->name, "ring_kb") && val > 1024) {
		fc->skipped++;
		return;
	}
	fc->tried++;
	before = ctl_state(c);
	ret = pwrite(fd, buf, len, off);
	err = errno;
	after = ctl_state(c);
	if (take) {
		fc->taken++;
		if (ret != (ssize_t)len ||
		    (c->readable && after != val)) {
			fc->wrong++;
			TH_LOG("%s <- %s: must be taken: returned %zd (%s), reads %lld",
			       c->name, what, ret, ret < 0 ? strerror(err) : "",
			       after);
		}
		if (c->readable)
			EXPECT_EQ((ssize_t)strlen(good),
				  pwrite(fd, good, strlen(good), 0));
		return;
	}
	fc->refused++;
	if (ret >= 0 || !refusal_errno(err) || after != before) {
		fc->wrong++;
		TH_LOG("%s <- %s at offset %lld: must be refused",
		       c->name, what, (long long)off);
		TH_LOG("returned %zd (%s), %lld before, %lld after", ret,
		       ret < 0 ? strerror(err) : "taken", before, after);
		if (c->readable && after != before)
			pwrite(fd, good, strlen(good), 0);
	}
}

/* Printable form of a fuzz input, for the log. */
static const char *show(const char *buf, size_t len, char *out, size_t olen)
{
	size_t i, o = 0;

	for (i = 0; i < len && o + 5 < olen; i++) {
		unsigned char ch = buf[i];

		if (ch >= 0x20 && ch < 0x7f && ch != '\\')
			out[o++] = ch;
		else
			o += snprintf(out + o, olen - o, "\\x%02x", ch);
	}
	out[o] = '\0';
	return out;
}

/*
 * Bad writes to every control return EINVAL and change nothing; good
 * ones are taken and read back.
 */
TEST_F(ring, controls_reject_bad_writes)
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
TEST_F(ring, enable_off_counts_without_records)
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
 * Every line of the groups file has zero events but @births births (and
 * their rearms), and their live counts sum to @live.
 */
static void groups_zeroed(struct __test_metadata *_metadata, long long live,
			  long long births)
{
	struct tw_group v[512];
	long long sum_live = 0, sum_births = 0, ev;
	int n = tw_groups_read(v, 512), i, r;

	ASSERT_LE(1, n) TH_LOG("groups: %d lines", n);
	for (i = 0; i < n && i < 512; i++) {
		for (ev = 0, r = 0; r < TWTRACE_DEATH_NR; r++)
			ev += v[i].death[r];
		ev += v[i].reuse_allowed + v[i].reuse_refused +
		      v[i].overflow + v[i].connect_fail;
		EXPECT_EQ(0, ev) TH_LOG("group (%u, %llu): %lld events",
					v[i].netns, v[i].cgroup, ev);
		sum_live += v[i].live;
		sum_births += v[i].births;
	}
	EXPECT_EQ(live, sum_live);
	EXPECT_EQ(births, sum_births);
}

/*
 * reset=1 zeroes every event counter and the histograms, but not what
 * is live; counting goes on from zero (births == TcpExt TW+TWKilled).
 */
TEST_F(ring, reset_zeroes_counters)
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
	consistent = tw_live_stat_stable(NULL, 0, &a, &c);
	TH_LOG("after reset: stats live %lld, live lines %lld", a, c);
	EXPECT_TRUE(consistent);
	EXPECT_LE(1, c);
	/* The groups: the same, their live counts summing to stats live. */
	groups_zeroed(_metadata, a, 0);

	kb0 = tw_births_kernel();
	ASSERT_EQ(0, tw_make_client_tw(&k, self->l, &self->dst, NULL));
	EXPECT_EQ(1, tw_births_kernel() - kb0);
	EXPECT_EQ(1, tw_stat("births"));
	groups_zeroed(_metadata, tw_stat("live"), 1);
}

/* What a control is put back to after a write it had to take. */
static void ctl_good(const struct ctl *c, char *good, size_t len)
{
	if (!c->readable || tw_ctl_str(c->name, good, len))
		snprintf(good, len, "1");
}

/*
 * Every control (enable, overwrite, ring_kb, reset), with a fixed seed:
 * random bytes, random strings of digits, signs, blanks and newlines;
 * huge, negative and malformed numbers; 4 KiB and 1 MiB writes; a bad
 * buffer address; writes at offsets 1, 4096 and 2^40; and partial writes
 * whose rest is the newline.  What the ABI says must be refused fails
 * with an error and changes nothing (read back; for reset, the counters
 * it would zero); what it must take is taken.  Then the module still
 * counts births.
 */
TEST_F_TIMEOUT(ring, controls_refuse_hostile_writes, 90)
{
	static const char * const hostile[] = {
		"4294967295", "4294967296", "18446744073709551615",
		"18446744073709551616", "99999999999999999999999999999",
		"-1", "-0", "-4294967295", "-1\n", "- 1", " 1", "1 ", "\t1",
		"1\n\n", "1\r\n", "\n1", "0x1", "1e3", "1.0", "", "\n", "+",
		"++1", "+-1", "1,", "00000000000000001", "0000000000000004\n",
		"1\n1", "one", "\xff", "4k", "65536", "65537", "3", "2",
	};
	static const char alphabet[] = "0123456789+-\n \tx";
	int rounds = scaled(300), i, fd;
	struct fuzz_count fc[ARRAY_SIZE(ctls)];
	char buf[48], good[32], shown[160];
	char *big;
	unsigned int c, h;
	size_t len;

	memset(fc, 0, sizeof(fc));
	ASSERT_TRUE(tw_settle(30));
	big = malloc(1 << 20);
	ASSERT_NE(NULL, big);
	for (c = 0; c < ARRAY_SIZE(ctls); c++) {
		const struct ctl *ct = &ctls[c];

		ctl_good(ct, good, sizeof(good));
		fd = ctl_open(ct);
		ASSERT_LE(0, fd) TH_LOG("%s: %s", ct->name, strerror(errno));

		for (i = 0; i < rounds; i++) {
			len = rnd() % 24;
			for (h = 0; h < len; h++)
				buf[h] = i % 2 ? (char)(rnd() & 0xff) :
					 alphabet[rnd() % (sizeof(alphabet) - 1)];
			ctl_try(_metadata, ct, fd, buf, len, 0, good, &fc[c],
				show(buf, len, shown, sizeof(shown)));
		}
		for (h = 0; h < ARRAY_SIZE(hostile); h++)
			ctl_try(_metadata, ct, fd, hostile[h],
				strlen(hostile[h]), 0, good, &fc[c],
				show(hostile[h], strlen(hostile[h]), shown,
				     sizeof(shown)));
		memset(big, '9', 4096);
		ctl_try(_metadata, ct, fd, big, 4096, 0, good, &fc[c],
			"4 KiB of 9s");
		memset(big, '1', 1 << 20);
		ctl_try(_metadata, ct, fd, big, 1 << 20, 0, good, &fc[c],
			"1 MiB of 1s");
		ctl_try(_metadata, ct, fd, (const char *)8, 2, 0, good, &fc[c],
			"a bad address");
		/* A good value, not at offset 0. */
		snprintf(buf, sizeof(buf), "%s\n", good);
		ctl_try(_metadata, ct, fd, buf, strlen(buf), 1, good, &fc[c],
			"a good value");
		ctl_try(_metadata, ct, fd, buf, strlen(buf), 4096, good, &fc[c],
			"a good value");
		ctl_try(_metadata, ct, fd, buf, strlen(buf), 1LL << 40, good,
			&fc[c], "a good value");
		close(fd);
	}

	/* Partial writes on one open file: the number, then its newline. */
	for (c = 0; c < ARRAY_SIZE(ctls); c++) {
		const struct ctl *ct = &ctls[c];
		const char *val = !strcmp(ct->name, "ring_kb") ? "16" :
				  !strcmp(ct->name, "overwrite") ? "0" : "1";
		long long before;
		ssize_t ret;

		ctl_good(ct, good, sizeof(good));
		fd = ctl_open(ct);
		ASSERT_LE(0, fd);
		ASSERT_EQ((ssize_t)strlen(val), write(fd, val, strlen(val)));
		if (ct->readable)
			EXPECT_EQ(atoll(val), tw_ctl_get(ct->name));
		before = ctl_state(ct);
		ret = write(fd, "\n", 1);
		EXPECT_EQ(-1, ret) TH_LOG("%s: the lone newline was taken",
					  ct->name);
		EXPECT_EQ(EINVAL, errno);
		EXPECT_EQ(before, ctl_state(ct));
		close(fd);
		if (ct->readable)
			EXPECT_EQ(0, tw_ctl_set(ct->name, good));
	}

	for (c = 0; c < ARRAY_SIZE(ctls); c++) {
		TH_LOG("%s: %d writes, %d taken, %d refused, %d wrong (%d skipped)",
		       ctls[c].name, fc[c].tried, fc[c].taken, fc[c].refused,
		       fc[c].wrong, fc[c].skipped);
		EXPECT_EQ(0, fc[c].wrong);
		EXPECT_LT(0, fc[c].refused);
	}
	free(big);
	ASSERT_EQ(0, tw_ctl_set("enable", "1"));
	check_module_works(_metadata, 3);
}

/*
 * A number written in two parts on one open file ("12", then "8\n"):
 * the first part is a whole number and is taken; the rest comes at
 * offset 2 and must be refused, not taken as a number of its own.
 */
TEST_F(ring, controls_refuse_the_rest_of_a_partial_write)
{
	ssize_t ret;
	int fd;

	fd = ctl_open(&ctls[2]);
	ASSERT_LE(0, fd);
	ASSERT_EQ(2, write(fd, "12", 2));
	EXPECT_EQ(12, tw_ctl_get("ring_kb"));
	ret = write(fd, "8\n", 2);
	TH_LOG("ring_kb <- \"12\" then \"8\\n\": second write returned %zd (%s), ring_kb now %lld",
	       ret, ret < 0 ? strerror(errno) : "taken",
	       tw_ctl_get("ring_kb"));
	EXPECT_EQ(-1, ret);
	EXPECT_EQ(12, tw_ctl_get("ring_kb"));
	close(fd);
}

/*
 * A number followed by a NUL and more bytes is not "one decimal number,
 * optionally followed by a newline": refused, nothing changed.
 */
TEST_F(ring, controls_refuse_embedded_nul)
{
	static const struct { const char *ctl, *buf; size_t len; } w[] = {
		{ "enable", "0\0junk", 6 },
		{ "overwrite", "1\0", 2 },
		{ "ring_kb", "8\0\n", 3 },
	};
	char before[32], after[32], shown[64];
	unsigned int i;
	ssize_t ret;
	int fd;

	for (i = 0; i < ARRAY_SIZE(w); i++) {
		ASSERT_EQ(0, tw_ctl_str(w[i].ctl, before, sizeof(before)));
		fd = ctl_open(&ctls[i]);
		ASSERT_LE(0, fd);
		ret = pwrite(fd, w[i].buf, w[i].len, 0);
		close(fd);
		ASSERT_EQ(0, tw_ctl_str(w[i].ctl, after, sizeof(after)));
		TH_LOG("%s <- \"%s\": returned %zd, %s -> %s", w[i].ctl,
		       show(w[i].buf, w[i].len, shown, sizeof(shown)), ret,
		       before, after);
		EXPECT_EQ(-1, ret);
		EXPECT_STREQ(before, after);
		if (strcmp(before, after))
			tw_ctl_set(w[i].ctl, before);
	}
}

struct cw_shm {
	int stop;
	long long writes[8], wrong[8], reads, bad_reads;
	int last_err[8];
};

/* A writer process: good and bad values to enable, overwrite, ring_kb. */
static void cw_writer(struct cw_shm *shm, int id, int rounds)
{
	static const char * const vals[][8] = {
		{ "0", "1\n", "1", "2", "-1", "x", "", "1 " },
		{ "1", "0\n", "0", "2", "+-0", "1x", "\n", "99999999999999999" },
		{ "4", "8\n", "16", "32", "3", "65537", "-8", "8k" },
	};
	unsigned long long s = 0x9e3779b97f4a7c15ULL * (id + 1);
	unsigned int c, v, val;
	const char *b;
	ssize_t ret;
	int fd[3], i;
	bool take;

	for (c = 0; c < 3; c++) {
		fd[c] = ctl_open(&ctls[c]);
		if (fd[c] < 0)
			_exit(1);
	}
	for (i = 0; i < rounds; i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		c = s % 3;
		v = (s >> 8) % 8;
		b = vals[c][v];
		take = ctl_model(&ctls[c], b, strlen(b), &val);
		ret = pwrite(fd[c], b, strlen(b), 0);
		ADD(shm->writes[id], 1);
		if (take ? ret != (ssize_t)strlen(b) :
			   ret != -1 || !refusal_errno(errno)) {
			ADD(shm->wrong[id], 1);
			shm->last_err[id] = ret < 0 ? errno : 0;
		}
	}
	_exit(0);
}

/* A process reading the controls: each must read as a value in range. */
static void cw_reader(struct cw_shm *shm)
{
	long long v;
	unsigned int c;

	while (!LOAD(shm->stop)) {
		for (c = 0; c < 3; c++) {
			v = tw_ctl_get(ctls[c].name);
			ADD(shm->reads, 1);
			if (v < ctls[c].min || v > ctls[c].max)
				ADD(shm->bad_reads, 1);
		}
	}
	_exit(0);
}

/*
 * Four processes write good and bad values to enable, overwrite and
 * ring_kb at once (ring resizes among them) while a storm runs, a reader
 * drains every cpuN file and another reads the controls back: every
 * write is answered as the ABI says, every read-back is in range, and
 * afterwards the controls take a value and the module counts births.
 */
TEST_F_TIMEOUT(ring, controls_concurrent_writers, 90)
{
	struct storm_opts o = { .reuse = true };
	int rounds = scaled(150), i, status, ncpus = tw_ncpus();
	long long writes = 0, wrong = 0;
	struct cw_shm *shm;
	struct tw_recs rs;
	struct storm st;
	pid_t w[4], r;
	double end;

	shm = tw_shm_alloc(sizeof(*shm));
	ASSERT_NE(NULL, shm);
	ASSERT_LT(0, ncpus);
	ASSERT_EQ(0, storm_start(&st, 1, &o));
	r = tw_spawn();
	if (!r)
		cw_reader(shm);
	for (i = 0; i < 4; i++) {
		w[i] = tw_spawn();
		if (!w[i])
			cw_writer(shm, i, rounds);
	}
	tw_recs_init(&rs, 0);
	end = tw_now() + (tw_slow_kernel() ? 200 : 60);
	for (i = 0; i < 4; i++) {
		status = -1;
		while (waitpid(w[i], &status, WNOHANG) != w[i] &&
		       tw_now() < end) {
			tw_recs_read_keep(&rs, false);
			usleep(5000);
		}
		if (status == -1)
			status = tw_reap(w[i], 1);
		EXPECT_EQ(0, status) TH_LOG("writer %d did not finish", i);
		writes += shm->writes[i];
		wrong += shm->wrong[i];
		if (shm->wrong[i])
			TH_LOG("writer %d: %lld wrong answers, last errno %d",
			       i, shm->wrong[i], shm->last_err[i]);
	}
	STORE(shm->stop, 1);
	EXPECT_EQ(0, tw_reap(r, 5));
	EXPECT_EQ(0, storm_stop(&st, 30));
	TH_LOG("%lld concurrent writes, %lld wrong; %lld control reads, %lld out of range",
	       writes, wrong, shm->reads, shm->bad_reads);
	TH_LOG("meanwhile: %lld connections, %lld records read",
	       STORM_SUM(&st, conns), rs.nread);
	storm_end(&st);
	storm_free(&st);
	EXPECT_EQ(0, wrong);
	EXPECT_EQ(0, shm->bad_reads);
	EXPECT_EQ(0, rs.bad);
	ASSERT_EQ(0, tw_ctl_set("ring_kb", self->ctls.ring_kb));
	ASSERT_EQ(0, tw_ctl_set("overwrite", "0"));
	ASSERT_EQ(0, tw_ctl_set("enable", "1"));
	EXPECT_EQ(atoll(self->ctls.ring_kb), tw_ctl_get("ring_kb"));
	tw_recs_drain(&rs);
	tw_recs_free(&rs);
	munmap(shm, sizeof(*shm));
	check_module_works(_metadata, 3);
}

TEST_HARNESS_MAIN
