// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace ring tests: the cpuN files as a reader sees them (poll(), short
 * and blocking reads, per-CPU seq, batches) and exact loss accounting when
 * a ring is full, in drop and overwrite mode, against the stats and the
 * kernel's own counters.
 */
#include <signal.h>

#include "fixture_ring.h"

/*
 * The records of event @ev, reason by reason, against the deltas of the
 * stats "<@prefix>_<reason>"; and their sum against all records of @ev.
 */
static void check_reasons(struct __test_metadata *_metadata,
			  const struct tw_recs *rs, const struct tw_stats *s0,
			  const struct tw_stats *s1, int ev, unsigned int nr,
			  const char *prefix,
			  const char *(*reason_name)(unsigned int r))
{
	char name[64];
	long long n, sum = 0;
	unsigned int i;

	for (i = 0; i < nr; i++) {
		snprintf(name, sizeof(name), "%s_%s", prefix, reason_name(i));
		n = tw_recs_count(rs, ev, i, 0, 0, 0);
		EXPECT_EQ(tw_stats_delta(s0, s1, name), n) {
			TH_LOG("%s", name);
		}
		sum += n;
	}
	EXPECT_EQ(sum, tw_recs_count(rs, ev, -1, 0, 0, 0));
}

/* Per-type record counts against stats deltas. */
static void check_types(struct __test_metadata *_metadata,
			const struct tw_recs *rs, const struct tw_stats *s0,
			const struct tw_stats *s1)
{
	EXPECT_EQ(tw_stats_delta(s0, s1, "births"),
		  tw_recs_count(rs, TWTRACE_EV_BIRTH, -1, 0, 0, 0));
	EXPECT_EQ(tw_stats_delta(s0, s1, "rearms"),
		  tw_recs_count(rs, TWTRACE_EV_REARM, -1, 0, 0, 0));
	check_reasons(_metadata, rs, s0, s1, TWTRACE_EV_DEATH,
		      TWTRACE_DEATH_NR, "death", tw_death_name);
	check_reasons(_metadata, rs, s0, s1, TWTRACE_EV_REUSE,
		      TWTRACE_REUSE_NR, "reuse", tw_reuse_name);
	check_reasons(_metadata, rs, s0, s1, TWTRACE_EV_OVERFLOW,
		      TWTRACE_OVERFLOW_NR, "overflow", tw_overflow_name);
	EXPECT_EQ(rs->nread, (long long)rs->n);
}

/* A child that makes a client tw on CPU 0 in 0.3 s; its pid. */
static pid_t tw_later(int l, const union tw_sa *dst)
{
	struct tw_conn k;
	pid_t pid = fork();

	if (pid)
		return pid;
	tw_pin(0);
	usleep(300000);
	_exit(tw_make_client_tw(&k, l, dst, NULL) ? 1 : 0);
}

static void on_alarm(int sig)
{
}

/*
 * The reader keeps up.  poll() says nothing is there, then wakes up for
 * a record made on another process; a read smaller than a record is
 * EINVAL and consumes nothing; a blocking read waits for the next
 * record.  Then 40 connections of two kinds (TIME_WAIT, and rst_sent
 * deaths) and 3 overflows, read as they come: per-CPU seq contiguous,
 * nothing lost, records == stats records growth, per-type counts ==
 * the stats deltas, births == TcpExt TW+TWKilled, rst_sent deaths ==
 * Tcp OutRsts, overflows == TCPTimeWaitOverflow.
 */
TEST_F_TIMEOUT(ring, reader_keeps_up, 120)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct pollfd pfd[TW_MAX_CPUS];
	struct twtrace_record rec[2];
	long long kb0, rst0, ovf0, rsts;
	struct tw_stats s0, s1;
	int ncpus, c, i, ret, ready = -1, status, rst_deaths = 0;
	char path[64];
	double t0;
	pid_t pid;

	ASSERT_EQ(0, tw_ctl_set("overwrite", "0"));
	ncpus = tw_ncpus();
	ASSERT_LT(0, ncpus);
	tw_recs_init(&self->rs, 0);
	tw_prime_cpus(ncpus, self->l, &self->dst);
	ASSERT_EQ(0, tw_recs_drain(&self->rs));

	for (c = 0; c < ncpus; c++) {
		snprintf(path, sizeof(path), TW_DIR "/cpu%d", c);
		pfd[c].fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		pfd[c].events = POLLIN;
		ASSERT_LE(0, pfd[c].fd);
	}
	EXPECT_EQ(0, poll(pfd, ncpus, 0));
	EXPECT_EQ(-1, read(pfd[0].fd, rec, sizeof(rec[0])));
	EXPECT_EQ(EAGAIN, errno);

	/* poll() wakes up for a record. */
	pid = tw_later(self->l, &self->dst);
	ASSERT_LE(0, pid);
	t0 = tw_now();
	ret = poll(pfd, ncpus, 10000);
	TH_LOG("poll() returned %d after %.3f s", ret, tw_now() - t0);
	EXPECT_LT(0, ret);
	EXPECT_LE(0.2, tw_now() - t0);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status);
	for (c = 0; c < ncpus; c++)
		if (pfd[c].revents & POLLIN)
			ready = c;
	ASSERT_LE(0, ready);

	/* Too small a buffer: EINVAL, and the record stays. */
	EXPECT_EQ(-1, read(pfd[ready].fd, rec, sizeof(rec[0]) / 2));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(TW_REC_SIZE, read(pfd[ready].fd, rec, sizeof(rec[0])));
	EXPECT_EQ(TWTRACE_MAGIC, rec[0].magic);
	EXPECT_EQ(TWTRACE_ABI_VERSION, rec[0].abi);
	EXPECT_EQ(self->rs.last_seq[ready] + 1, (long long)rec[0].seq);
	self->rs.last_seq[ready] = rec[0].seq;
	for (c = 0; c < ncpus; c++)
		close(pfd[c].fd);

	/* A blocking read waits for the next record (made on CPU 0). */
	ASSERT_EQ(0, tw_recs_drain(&self->rs));
	snprintf(path, sizeof(path), TW_DIR "/cpu0");
	pfd[0].fd = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, pfd[0].fd);
	pid = tw_later(self->l, &self->dst);
	ASSERT_LE(0, pid);
	sigaction(SIGALRM, &sa, NULL);
	alarm(10);
	t0 = tw_now();
	ret = read(pfd[0].fd, rec, sizeof(rec[0]));
	alarm(0);
	TH_LOG("blocking read() returned %d after %.3f s", ret,
	       tw_now() - t0);
	EXPECT_EQ((int)sizeof(rec[0]), ret);
	EXPECT_LE(0.2, tw_now() - t0);
	EXPECT_EQ(TWTRACE_MAGIC, rec[0].magic);
	EXPECT_EQ(self->rs.last_seq[0] + 1, (long long)rec[0].seq);
	self->rs.last_seq[0] = rec[0].seq;
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	close(pfd[0].fd);
	usleep(100000);
	ASSERT_EQ(0, tw_recs_drain(&self->rs));

	/* The main run: read while producing. */
	ASSERT_EQ(0, tw_stats_read(&s0));
	kb0 = tw_births_kernel();
	rst0 = tw_snmp("Tcp", "OutRsts");
	ovf0 = tw_tcpext("TCPTimeWaitOverflow");
	for (i = 0; i < 40; i++) {
		struct tw_conn k;
		char x = 'x';

		tw_pin(i % ncpus);
		if (i % 4 == 3) {
			ASSERT_EQ(0, tw_make_fw2_tw(&k, self->l, &self->dst));
			ASSERT_EQ(1, write(k.a, &x, 1));
			rst_deaths++;
			tw_wait_until(tw_snmp("Tcp", "OutRsts") - rst0 >=
				      rst_deaths, 5);
			tw_conn_close(&k);
		} else {
			ASSERT_EQ(0, tw_make_client_tw(&k, self->l,
						       &self->dst, NULL));
		}
		ASSERT_LE(0, tw_recs_read(&self->rs));
	}
	tw_pin(-1);
	rsts = tw_snmp("Tcp", "OutRsts") - rst0;
	/* Three overflows: the limit is what there is. */
	snprintf(path, sizeof(path), "%lld", tw_sockstat_tw());
	ASSERT_EQ(0, tw_sysctl_set("net/ipv4/tcp_max_tw_buckets", path));
	for (i = 0; i < 3; i++) {
		struct tw_conn k;

		ASSERT_EQ(0, tw_conn_open(&k, self->l, &self->dst, NULL));
		tw_conn_close_client_first(&k);
		tw_wait_until(tw_tcpext("TCPTimeWaitOverflow") - ovf0 > i, 5);
		ASSERT_LE(0, tw_recs_read(&self->rs));
	}
	usleep(200000);
	ASSERT_LE(0, tw_recs_read(&self->rs));
	ASSERT_EQ(0, tw_stats_read(&s1));

	TH_LOG("read %lld records; stats records +%lld, lost +%lld",
	       self->rs.nread, tw_stats_delta(&s0, &s1, "records"),
	       tw_stats_delta(&s0, &s1, "lost"));
	TH_LOG("births +%lld (TcpExt TW+TWKilled +%lld)",
	       tw_stats_delta(&s0, &s1, "births"), tw_births_kernel() - kb0);
	TH_LOG("rst_sent deaths %d (Tcp OutRsts +%lld)",
	       tw_recs_count(&self->rs, TWTRACE_EV_DEATH,
			     TWTRACE_DEATH_RST_SENT, 0, 0, 0), rsts);
	TH_LOG("overflows %d (TcpExt TCPTimeWaitOverflow +%lld)",
	       tw_recs_count(&self->rs, TWTRACE_EV_OVERFLOW, -1, 0, 0, 0),
	       tw_tcpext("TCPTimeWaitOverflow") - ovf0);
	for (c = 0; c < ncpus; c++) {
		EXPECT_EQ(0, self->rs.seq_breaks[c]) {
			TH_LOG("cpu%d: %lld seq breaks, first %lld -> %lld (type %d)",
			       c, self->rs.seq_breaks[c],
			       self->rs.brk_prev[c], self->rs.brk_seq[c],
			       self->rs.brk_type[c]);
		}
	}
	EXPECT_EQ(0, self->rs.bad);
	EXPECT_EQ(0, tw_stats_delta(&s0, &s1, "lost"));
	EXPECT_EQ(self->rs.nread, tw_stats_delta(&s0, &s1, "records"));
	check_types(_metadata, &self->rs, &s0, &s1);
	EXPECT_EQ(40, tw_stats_delta(&s0, &s1, "births"));
	EXPECT_EQ(tw_births_kernel_want(40, rsts), tw_births_kernel() - kb0);
	EXPECT_EQ(10, rsts);
	EXPECT_EQ(rsts, tw_recs_count(&self->rs, TWTRACE_EV_DEATH,
				      TWTRACE_DEATH_RST_SENT, 0, 0, 0));
	EXPECT_EQ(3, tw_tcpext("TCPTimeWaitOverflow") - ovf0);
	EXPECT_EQ(3, tw_recs_count(&self->rs, TWTRACE_EV_OVERFLOW, -1, 0, 0,
				   0));
}

/*
 * Make @n TIME_WAIT sockets without reading, with a 4 KiB ring; then read
 * everything: read + lost growth == records growth, the per-CPU lost
 * counters add up to lost, births == TcpExt TW+TWKilled; per CPU, the
 * records read + lost_cpuN == the records made there, as the seq of the
 * next record made on that CPU tells.
 */
static void ring_full(struct __test_metadata *_metadata, struct tw_recs *rs,
		      int lfd, const union tw_sa *dst, bool overwrite)
{
	long long lost_c, produced, first_seq[TW_MAX_CPUS];
	long long drained[TW_MAX_CPUS], lost = 0, kb0;
	struct tw_stats s0, s1;
	struct tw_recs after;
	int ncpus, c, i, n;
	char name[32];
	size_t j;

	ASSERT_EQ(0, tw_ctl_set("overwrite", overwrite ? "1" : "0"));
	ASSERT_EQ(0, tw_ctl_set("ring_kb", "4"));
	ASSERT_EQ(4, tw_ctl_get("ring_kb"));
	ncpus = tw_ncpus();
	ASSERT_LT(0, ncpus);
	/* 150 per CPU: well over what 4 KiB holds, in either mode. */
	n = 150 * ncpus;
	tw_recs_init(rs, 0);
	tw_prime_cpus(ncpus, lfd, dst);
	ASSERT_EQ(0, tw_recs_drain(rs));
	for (c = 0; c < ncpus; c++) {
		drained[c] = rs->last_seq[c];
		ASSERT_LE(0, drained[c]) TH_LOG("cpu%d: no record", c);
	}

	ASSERT_EQ(0, tw_stats_read(&s0));
	kb0 = tw_births_kernel();
	for (i = 0; i < n; i++) {
		struct tw_conn k;

		tw_pin(i % ncpus);
		ASSERT_EQ(0, tw_make_client_tw(&k, lfd, dst, NULL));
	}
	tw_pin(-1);
	usleep(200000);
	ASSERT_EQ(0, tw_stats_read(&s1));
	ASSERT_LE(0, tw_recs_read(rs));

	TH_LOG("%s: made %d TWs: records +%lld, read %lld, lost +%lld",
	       overwrite ? "overwrite" : "drop", n,
	       tw_stats_delta(&s0, &s1, "records"), rs->nread,
	       tw_stats_delta(&s0, &s1, "lost"));
	TH_LOG("births +%lld, TcpExt TW+TWKilled +%lld",
	       tw_stats_delta(&s0, &s1, "births"), tw_births_kernel() - kb0);
	EXPECT_EQ(n, tw_births_kernel() - kb0);
	EXPECT_EQ(n, tw_stats_delta(&s0, &s1, "births"));
	/* One record per event the counters counted. */
	EXPECT_EQ(tw_stats_delta(&s0, &s1, "births") +
		  tw_stats_delta(&s0, &s1, "rearms") +
		  tw_stats_delta_sum(&s0, &s1, "death_") +
		  tw_stats_delta_sum(&s0, &s1, "reuse_") +
		  tw_stats_delta_sum(&s0, &s1, "overflow_"),
		  tw_stats_delta(&s0, &s1, "records"));
	EXPECT_LT(0, tw_stats_delta(&s0, &s1, "lost"));
	EXPECT_EQ(tw_stats_delta(&s0, &s1, "records"),
		  rs->nread + tw_stats_delta(&s0, &s1, "lost"));
	EXPECT_EQ(0, rs->bad);

	/* The next record on each CPU tells how many were made there. */
	tw_recs_init(&after, 0);
	tw_prime_cpus(ncpus, lfd, dst);
	ASSERT_LE(0, tw_recs_read(&after));
	for (c = 0; c < ncpus; c++) {
		first_seq[c] = -1;
		for (j = 0; j < after.n && first_seq[c] < 0; j++)
			if (after.v[j].cpu == c)
				first_seq[c] = after.v[j].r.seq;
	}
	for (c = 0; c < ncpus; c++) {
		snprintf(name, sizeof(name), "lost_cpu%d", c);
		lost_c = tw_stats_delta(&s0, &s1, name);
		lost += lost_c;
		ASSERT_LE(0, first_seq[c]) TH_LOG("cpu%d: no record", c);
		produced = first_seq[c] - drained[c] - 1;
		TH_LOG("cpu%d: made %lld (seq %lld..%lld), read %lld, %s +%lld, seq breaks %lld",
		       c, produced, drained[c] + 1, first_seq[c] - 1,
		       rs->cpu_read[c], name, lost_c,
		       rs->seq_breaks[c]);
		EXPECT_EQ(produced, rs->cpu_read[c] + lost_c);
		/* Drop mode loses the newest, overwrite the oldest. */
		EXPECT_GE(overwrite ? 1 : 0, rs->seq_breaks[c]);
		if (rs->cpu_read[c] && rs->last_seq[c] >= 0)
			EXPECT_EQ(overwrite ? first_seq[c] - 1 :
				  drained[c] + rs->cpu_read[c],
				  rs->last_seq[c]);
	}
	EXPECT_EQ(tw_stats_delta(&s0, &s1, "lost"), lost);
	tw_recs_free(&after);
}

/*
 * A CPU file is ready once a batch (64 records) is pending, or once the
 * oldest pending record is 50 ms old: a reader that polls again as soon as
 * it has read sleeps until there is a batch instead of spinning on single
 * records.  A lone record: poll() says ready when it is 50 ms to 2 s old
 * (8 s on the debug kernel) by its own timestamp, never younger.  70
 * records on one CPU: ready.
 */
TEST_F_TIMEOUT(ring, poll_waits_for_a_batch, 120)
{
	struct pollfd pfd[TW_MAX_CPUS];
	struct twtrace_record rec[64];
	struct tw_stats s0, s1;
	struct tw_conn k;
	int ncpus, c, i, n, ret;
	double ready, oldest = 0;

	ASSERT_EQ(0, tw_ctl_set("overwrite", "0"));
	ncpus = tw_ncpus();
	ASSERT_LT(0, ncpus);
	tw_recs_init(&self->rs, 0);
	ASSERT_EQ(0, tw_recs_drain(&self->rs));
	for (c = 0; c < ncpus; c++) {
		char path[64];

		snprintf(path, sizeof(path), TW_DIR "/cpu%d", c);
		pfd[c].fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		pfd[c].events = POLLIN;
		ASSERT_LE(0, pfd[c].fd);
	}
	EXPECT_EQ(0, poll(pfd, ncpus, 0));

	ASSERT_EQ(0, tw_stats_read(&s0));
	ASSERT_EQ(0, tw_make_client_tw(&k, self->l, &self->dst, NULL));
	ASSERT_EQ(0, tw_stats_read(&s1));
	ASSERT_LE(1, tw_stats_delta(&s0, &s1, "records"));
	ASSERT_GT(64, tw_stats_delta(&s0, &s1, "records"));
	ret = poll(pfd, ncpus, 10000);
	ready = tw_now();
	ASSERT_LT(0, ret);
	for (c = 0; c < ncpus; c++) {
		if (!(pfd[c].revents & POLLIN))
			continue;
		n = read(pfd[c].fd, rec, sizeof(rec));
		ASSERT_LE(TW_REC_SIZE, n) TH_LOG("cpu%d", c);
		for (i = 0; i < n / TW_REC_SIZE; i++)
			if (!oldest || rec[i].ts_ns / 1e9 < oldest)
				oldest = rec[i].ts_ns / 1e9;
	}
	TH_LOG("%lld record(s): poll() said ready when the oldest was %.3f s old",
	       tw_stats_delta(&s0, &s1, "records"), ready - oldest);
	EXPECT_LE(0.045, ready - oldest);
	/* The flush timer, not the 10 s poll timeout (the debug kernel's
	 * timers run late under load).
	 */
	EXPECT_GE(tw_slow_kernel() ? 8.0 : 2.0, ready - oldest);
	ASSERT_EQ(0, tw_recs_drain(&self->rs));

	/* A batch on one CPU: ready. */
	tw_pin(0);
	ASSERT_EQ(0, tw_stats_read(&s0));
	for (i = 0; i < 70; i++)
		ASSERT_EQ(0, tw_make_client_tw(&k, self->l, &self->dst, NULL));
	tw_pin(-1);
	ASSERT_EQ(0, tw_stats_read(&s1));
	ret = poll(pfd, ncpus, 0);
	TH_LOG("%lld records: poll(0) returned %d",
	       tw_stats_delta(&s0, &s1, "records"), ret);
	EXPECT_LT(0, ret);
	for (c = 0; c < ncpus; c++)
		close(pfd[c].fd);
	ASSERT_EQ(0, tw_recs_drain(&self->rs));
	EXPECT_EQ(0, self->rs.bad);
}

TEST_F_TIMEOUT(ring, drop_when_full, 120)
{
	ring_full(_metadata, &self->rs, self->l, &self->dst, false);
}

TEST_F_TIMEOUT(ring, overwrite_when_full, 120)
{
	ring_full(_metadata, &self->rs, self->l, &self->dst, true);
}

TEST_HARNESS_MAIN
