// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace stream: the events, live from the cpuN files or from a recording.
 *
 * Live, the cpuN files are merged in time order (merge.c): records wait
 * until they are HOLD_NS old by CLOCK_MONOTONIC, and all of them go out at
 * the end.  The reader wakes up SLACK_NS after the oldest is due and emits
 * all that are due, in batches.  At the end, a summary of what was read
 * and lost, per CPU, on stderr.
 *
 * -o records every record read (recording.c); -i decodes a recording
 * through the same filters and formats (format.c).
 */
#define _GNU_SOURCE		/* ppoll() */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "reader.h"

#define HOLD_NS		(100 * 1000000ULL)
/*
 * Wake up for the oldest held record this much after it is due, and emit
 * every record due by then: one wake-up per batch, not one per record.
 */
#define SLACK_NS	(25 * 1000000ULL)
#define READ_BYTES	16384

struct stream {
	struct tw_filter filter;
	struct tw_fmt fmt;	/* -w -x -T -t, and the start */
	bool json, quiet;
	__u64 duration;		/* ns, 0: none */
	__u64 count;		/* 0: no limit */
	const char *out_path;
	const char *in_path;

	FILE *out;		/* the recording being written */
	bool text;		/* lines on stdout */
	__u64 shown;
	__u64 written;
	__u64 late;		/* shown after a younger record */
	__u64 last_ts;
	bool stop;
	bool ended;		/* every cpuN file came to its end */
	int rc;

	struct tw_merge merge;	/* live: the cpuN files */
};

static atomic_int interrupted;

static void on_signal(int sig)
{
	if (interrupted) {
		/* A second one: the user means it. */
		signal(sig, SIG_DFL);
		raise(sig);
	}
	interrupted = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [stream] [OPTIONS]\n"
		"\n"
		"TIME_WAIT events from every CPU, merged in time order, one per line, until\n"
		"Ctrl-C; a summary of what was read and lost goes to stderr.\n"
		"\n"
		"Filters (in the reader: they do not lessen what the module records):\n"
		"  -4, -6          IPv4 or IPv6 only\n"
		"  -L PORTS        local ports, e.g. 80,443,8000-8100\n"
		"  -D PORTS        remote ports\n"
		"  -N NETNS        network namespace: inode number, name under /run/netns,\n"
		"                  or a path such as /proc/PID/ns/net\n"
		"  -e EVENTS       comma list of birth,rearm,death,reuse,overflow\n"
		"  -r REASONS      comma list of death, reuse or overflow reasons, or\n"
		"                  patterns such as 'refuse_*'\n"
		"  -u, --user USERS\n"
		"                  comma list of user names or uids: the sockets' owners\n"
		"  --cgroup PATH   sockets of this cgroup and those under it: the path from\n"
		"                  the cgroup2 mount's root (/system.slice/nginx.service)\n"
		"                  or the directory's (/sys/fs/cgroup/system.slice/...)\n"
		"Output:\n"
		"  -T              wall clock time column (HH:MM:SS)\n"
		"  -t              seconds since the start column\n"
		"  -w              wide address columns (IPv6)\n"
		"  -x              extended columns: cpu, socket id, netns, substate,\n"
		"                  rearms, timeout, FIN_WAIT2 time, tcp_tw_reuse; after MS\n"
		"                  the owner: role, uid, user, cookie, unit, cgroup\n"
		"  -j, --json      NDJSON, one object per event\n"
		"  -q, --quiet     no per-CPU summary at the end (warnings stay)\n"
		"Run:\n"
		"  -d, --duration SECS  stop after SECS seconds (-i: of recorded time)\n"
		"  -c, --count COUNT    stop after COUNT events shown\n"
		"  -o, --output FILE    also record every record read, unfiltered, to FILE\n"
		"                       ('-': to stdout, instead of the text)\n"
		"  -i, --input FILE     decode a recording instead of the live files\n"
		"                       ('-': from stdin)\n"
		"  -h, --help\n"
		"\n"
		"Durations (MS) are milliseconds: lifetime for deaths, age for reuse decisions.\n",
		prog);
}

/* Writing the recording failed: a closed pipe ends the run quietly. */
static void out_failed(struct stream *s)
{
	if (s->out != stdout || errno != EPIPE) {
		tw_err("%s: %s", s->out_path, strerror(errno));
		s->rc = EXIT_ERR;
	}
	if (s->out != stdout)
		fclose(s->out);
	s->out = NULL;
	s->stop = true;
}

/* One record, in emission order: record it, filter it, show it. */
static void emit(void *arg, const struct twtrace_record *r, int cpu)
{
	struct stream *s = arg;

	if (s->out) {
		if (!recording_put(s->out, r))
			s->written++;
		else
			out_failed(s);
	}
	if (r->ts_ns < s->last_ts)
		s->late++;
	else
		s->last_ts = r->ts_ns;
	if (s->count && s->shown >= s->count)
		return;
	if (!filter_record(&s->filter, r))
		return;
	s->shown++;
	if (s->count && s->shown >= s->count)
		s->stop = true;
	if (!s->text)
		return;
	if (s->json)
		fmt_event_json(r, cpu);
	else
		fmt_event_text(&s->fmt, r, cpu);
}

/* After each batch: push the lines out, notice a reader that went away. */
static void flush_out(struct stream *s)
{
	if (s->text && fflush(stdout) == EOF) {
		if (errno != EPIPE) {
			tw_err("standard output: %s", strerror(errno));
			s->rc = s->rc ? s->rc : EXIT_ERR;
		}
		s->text = false;
		s->stop = true;
	}
	if (s->out && fflush(s->out) == EOF)
		out_failed(s);
}

static void emit_ready(struct stream *s, __u64 limit, bool all)
{
	merge_emit(&s->merge, limit, all, emit, s);
	flush_out(s);
}

/* -d: @ts is SECS or more after the start. */
static bool past_duration(const struct stream *s, __u64 ts)
{
	return s->duration && ts >= s->fmt.start_ns &&
	       ts - s->fmt.start_ns >= s->duration;
}

/* A control file's number, quietly; -1 if it cannot be read. */
static long long read_ctl(const char *dir, const char *name)
{
	char path[TW_PATH_MAX], buf[32];
	__u64 v;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return parse_u64(buf, &v) ? -1 : (long long)v;
}

/* The recording's header (-o) and the text's, before the first record. */
static void start_output(struct stream *s, int ncpus)
{
	if (s->out && recording_header(s->out, ncpus, s->fmt.start_ns,
				       s->fmt.start_rt_ns))
		out_failed(s);
	if (s->text && !s->json)
		fmt_event_head(&s->fmt);
}

static struct timespec *poll_timeout(struct stream *s, struct timespec *ts)
{
	__u64 now = now_ns(CLOCK_MONOTONIC), wait = ~0ULL, end;

	if (merge_oldest(&s->merge, &end)) {
		end = end > ~0ULL - HOLD_NS - SLACK_NS ? ~0ULL - 1 :
		      end + HOLD_NS + SLACK_NS;
		wait = end > now ? end - now : 0;
	}
	if (s->duration) {
		end = s->fmt.start_ns + s->duration;
		if (end <= now)
			wait = 0;
		else if (end - now < wait)
			wait = end - now;
	}
	if (wait == ~0ULL)
		return NULL;
	ts->tv_sec = wait / 1000000000ULL;
	ts->tv_nsec = wait % 1000000000ULL;
	return ts;
}

static int live_loop(struct stream *s)
{
	struct tw_merge *m = &s->merge;
	struct pollfd *pfd = calloc(m->nsrc, sizeof(*pfd));
	struct timespec ts, *tsp;
	sigset_t block, orig;
	int i, n, open_srcs, rc;
	__u64 now;

	if (!pfd) {
		tw_err("out of memory");
		return EXIT_ERR;
	}
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	while (!s->stop) {
		open_srcs = 0;
		for (i = 0; i < m->nsrc; i++) {
			pfd[i].fd = m->src[i].eof ? -1 : m->src[i].fd;
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
			open_srcs += !m->src[i].eof;
		}
		if (!open_srcs) {
			s->ended = true;
			break;
		}
		tsp = poll_timeout(s, &ts);
		/* Signals arrive only while waiting, never between. */
		sigprocmask(SIG_BLOCK, &block, &orig);
		n = interrupted ? 0 : ppoll(pfd, m->nsrc, tsp, &orig);
		sigprocmask(SIG_SETMASK, &orig, NULL);
		if (interrupted)
			break;
		if (n < 0 && errno != EINTR) {
			tw_err("poll: %s", strerror(errno));
			s->rc = EXIT_ERR;
			break;
		}
		for (i = 0; n > 0 && i < m->nsrc; i++) {
			if (!pfd[i].revents)
				continue;
			rc = merge_drain(m, i);
			if (rc) {
				s->rc = rc;
				s->stop = true;
				break;
			}
		}
		now = now_ns(CLOCK_MONOTONIC);
		emit_ready(s, now > HOLD_NS ? now - HOLD_NS : 0, false);
		if (past_duration(s, now))
			break;
	}
	free(pfd);
	return EXIT_OK;
}

static void lost_note(const char *dir, long long ring_kb)
{
	char kb[48] = "";

	if (ring_kb > 0)
		snprintf(kb, sizeof(kb), " (now %lld)", ring_kb);
	fprintf(stderr,
		"%s:   The module's per-CPU ring buffers filled up before this reader emptied\n"
		"%s:   them. To lose less: give the rings more room%s,\n"
		"%s:     echo 8192 > %s/ring_kb\n"
		"%s:   and read faster: write to a file rather than a terminal, or record\n"
		"%s:   with -o FILE and decode later with -i FILE. Filters (-4 -6 -L -D -N -e\n"
		"%s:   -r -u --cgroup) do not help: they run in this reader, after the module\n"
		"%s:   has recorded every event. The counters of 'twtrace stat' and 'twtrace\n"
		"%s:   hist' are exact whatever is lost.\n",
		prog, prog, kb, prog, dir, prog, prog, prog, prog, prog);
}

static double pct(__u64 part, __u64 whole)
{
	return whole ? 100.0 * part / whole : 0;
}

/* The summary on stderr; the exit code for the losses. */
static int live_summary(struct stream *s, const char *dir,
			const struct tw_stats *st0, bool have0)
{
	__u64 lost = 0, gaps, growth, misses = 0;
	bool have1, reset = false;
	struct tw_stats st1;
	struct tw_seq *c;
	int i, cpu;

	have1 = have0 && !tw_stats_read(dir, &st1, true);
	if (have1 && st1.probe_misses > st0->probe_misses)
		misses = st1.probe_misses - st0->probe_misses;
	for (i = 0; i < s->merge.nsrc; i++) {
		cpu = s->merge.src[i].dec.cpu;
		c = decode_seq(&s->merge.src[i].dec, cpu);
		gaps = c->gaps;
		growth = 0;
		if (have1 && cpu < st0->ncpus && cpu < st1.ncpus) {
			if (st1.lost_cpu[cpu] >= st0->lost_cpu[cpu])
				growth = st1.lost_cpu[cpu] - st0->lost_cpu[cpu];
			else
				reset = true;
		}
		lost += gaps > growth ? gaps : growth;
		/* The CPUs that had something to say. */
		if (s->quiet || (!c->nread && !gaps && !growth &&
				 !c->backwards))
			continue;
		fprintf(stderr, "%s: cpu%-3d %10llu records read, %llu lost",
			prog, cpu, c->nread, gaps > growth ? gaps : growth);
		if (gaps || growth)
			fprintf(stderr,
				" (sequence gaps %llu, module counter +%llu)",
				gaps, growth);
		if (c->backwards)
			fprintf(stderr,
				", sequence went back %llu times (module reloaded?)",
				c->backwards);
		fputc('\n', stderr);
	}
	if (!s->quiet) {
		fprintf(stderr,
			"%s: total  %10llu records read, %llu shown, %llu lost\n",
			prog, s->merge.nread, s->shown, lost);
		if (s->out)
			fprintf(stderr, "%s: %llu records written to %s\n",
				prog, s->written, s->out_path);
	}
	if (!have0 || !have1)
		tw_err("note: %s/stats could not be read: losses after the last record read are not known",
		       dir);
	if (reset)
		tw_err("note: the module's counters were reset during the run; losses may be undercounted");
	if (s->late)
		tw_err("note: %llu records reached this reader more than %llu ms late and were shown out of time order",
		       s->late, HOLD_NS / 1000000);
	if (misses)
		tw_err("WARNING: the kernel missed %llu probe hits (kprobe reentrancy): those events are in neither this output nor the counters",
		       misses);
	if (have1)
		tw_stats_free(&st1);
	if (!lost)
		return EXIT_OK;
	tw_err("WARNING: %llu records were lost (%.1f%% of %llu): this output is incomplete.",
	       lost, pct(lost, lost + s->merge.nread), lost + s->merge.nread);
	lost_note(dir, read_ctl(dir, "ring_kb"));
	return EXIT_LOST;
}

static int run_live(struct stream *s)
{
	struct tw_stats st0;
	const char *dir;
	size_t rsz;
	bool have0;
	int rc;

	dir = tw_module(&rc, &rsz);
	if (!dir)
		return rc;
	rc = merge_open(&s->merge, dir, rsz);
	if (rc)
		return rc;
	have0 = !tw_stats_read(dir, &st0, true);
	if (read_ctl(dir, "enable") == 0)
		tw_err("note: recording is disabled; enable it with: echo 1 > %s/enable",
		       dir);
	s->fmt.start_ns = now_ns(CLOCK_MONOTONIC);
	s->fmt.start_rt_ns = now_ns(CLOCK_REALTIME);
	start_output(s, s->merge.nsrc);
	flush_out(s);
	if (!s->rc)
		live_loop(s);
	emit_ready(s, 0, true);
	/* Copies of the files end; the module's only when it goes away. */
	if (s->ended && !getenv("TWTRACE_DIR"))
		tw_err("note: the module's cpuN files ended: the module is being unloaded");
	rc = live_summary(s, dir, &st0, have0);
	if (have0)
		tw_stats_free(&st0);
	return s->rc ? s->rc : rc;
}

/* Up to @len bytes; fewer only at the end of the file. */
static ssize_t read_full(int fd, void *buf, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = read(fd, (char *)buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (!n)
			break;
		done += n;
	}
	return done;
}

/* decode()'s callbacks for a recording (-i). */
static int file_header(void *arg, const struct twtrace_file_header *h)
{
	struct stream *s = arg;

	s->fmt.start_ns = h->start_ns;
	s->fmt.start_rt_ns = h->start_realtime_ns;
	start_output(s, h->ncpus);
	return EXIT_OK;
}

static int file_record(void *arg, const struct twtrace_record *r)
{
	struct stream *s = arg;

	if (past_duration(s, r->ts_ns)) {
		s->stop = true;
		return DECODE_STOP;
	}
	emit(s, r, r->cpu);
	return s->stop || interrupted ? DECODE_STOP : 0;
}

static const struct tw_decode_ops file_ops = {
	.header = file_header,
	.record = file_record,
};

static int file_summary(struct stream *s, struct tw_decoder *d)
{
	__u64 gaps = 0, backwards = 0;
	struct tw_seq *t;
	int i;

	for (i = 0; i < d->ncpus; i++) {
		t = decode_seq(d, i);
		gaps += t->gaps;
		backwards += t->backwards;
		if (s->quiet || (!t->nread && !t->gaps))
			continue;
		fprintf(stderr, "%s: cpu%-3d %10llu records read, %llu lost\n",
			prog, i, t->nread, t->gaps);
	}
	if (!s->quiet) {
		fprintf(stderr,
			"%s: %s: %llu records read, %llu shown, %llu lost, from %d CPU%s\n",
			prog, s->in_path, d->nread, s->shown, gaps, d->ncpus,
			d->ncpus == 1 ? "" : "s");
		if (s->out)
			fprintf(stderr, "%s: %llu records written to %s\n",
				prog, s->written, s->out_path);
	}
	if (backwards)
		tw_err("note: sequence numbers went back %llu times: records from several runs?",
		       backwards);
	if (!gaps)
		return EXIT_OK;
	tw_err("WARNING: the recording has gaps: %llu records (%.1f%%) were lost while it was made; this output is incomplete",
	       gaps, pct(gaps, gaps + d->nread));
	return EXIT_LOST;
}

static int same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	if (!strcmp(a, "-") || !strcmp(b, "-"))
		return 0;
	if (stat(a, &sa) || stat(b, &sb))
		return 0;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static int run_file(struct stream *s)
{
	unsigned char buf[READ_BYTES];
	struct tw_decoder d;
	int fd, rc;
	ssize_t n;

	if (!strcmp(s->in_path, "-")) {
		fd = STDIN_FILENO;
		s->in_path = "standard input";
	} else {
		fd = open(s->in_path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0) {
		tw_err("%s: %s", s->in_path, strerror(errno));
		return EXIT_ERR;
	}
	decode_init(&d, s->in_path, -1, 0, &file_ops, s);
	/* The header first, on its own. */
	n = read_full(fd, buf, sizeof(struct twtrace_file_header));
	if (n < 0) {
		tw_err("%s: %s", s->in_path, strerror(errno));
		rc = EXIT_ERR;
		goto out;
	}
	rc = decode(&d, buf, n);
	if (!rc && (size_t)n < sizeof(struct twtrace_file_header))
		rc = decode_end(&d);
	if (rc)
		goto out;
	while (!s->stop && !interrupted && !s->rc) {
		n = read_full(fd, buf, sizeof(buf) - d.part);
		if (n < 0) {
			tw_err("%s: %s", s->in_path, strerror(errno));
			rc = EXIT_ERR;
			break;
		}
		if (!n) {
			rc = decode_end(&d);
			break;
		}
		rc = decode(&d, buf, n);
		flush_out(s);
		if (rc)
			break;
	}
	flush_out(s);
	if (!rc && !s->rc)
		rc = file_summary(s, &d);
	else
		file_summary(s, &d);
out:
	decode_free(&d);
	if (fd != STDIN_FILENO)
		close(fd);
	return s->rc ? s->rc : rc;
}

static int parse_args(struct stream *s, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "duration", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'c' },
		{ "output", required_argument, NULL, 'o' },
		{ "input", required_argument, NULL, 'i' },
		{ "user", required_argument, NULL, 'u' },
		{ "cgroup", required_argument, NULL, OPT_CGROUP },
		{ NULL, 0, NULL, 0 }
	};
	int c, rc;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":46L:D:N:e:r:u:Ttwxjqd:c:o:i:h",
				longopts, NULL)) != -1) {
		switch (c) {
		case '4':
		case '6':
			s->filter.family_set = true;
			s->filter.family[c - '0'] = true;
			break;
		case 'L':
			if (filter_ports(&s->filter.lports, optarg, "-L"))
				return usage_err(usage, "bad filter");
			break;
		case 'D':
			if (filter_ports(&s->filter.dports, optarg, "-D"))
				return usage_err(usage, "bad filter");
			break;
		case 'N':
			if (filter_netns(&s->filter, optarg))
				return usage_err(usage, "bad filter");
			break;
		case 'e':
			if (filter_events(&s->filter, optarg))
				return usage_err(usage, "bad filter");
			break;
		case 'r':
			if (filter_reasons(&s->filter, optarg))
				return usage_err(usage, "bad filter");
			break;
		case 'u':
			if (filter_user(&s->filter, optarg))
				return usage_err(usage, "bad filter");
			break;
		case OPT_CGROUP:
			if (filter_cgroup(&s->filter, optarg))
				return usage_err(usage, "bad filter");
			break;
		case 'T':
			s->fmt.hms = true;
			break;
		case 't':
			s->fmt.rel = true;
			break;
		case 'w':
			s->fmt.wide = true;
			break;
		case 'x':
			s->fmt.ext = true;
			break;
		case 'j':
			s->json = true;
			break;
		case 'q':
			s->quiet = true;
			break;
		case 'd':
			if (parse_secs(optarg, &s->duration) || !s->duration)
				return usage_err(usage,
						 "-d %s: not a positive number of seconds",
						 optarg);
			break;
		case 'c':
			if (parse_u64(optarg, &s->count) || !s->count)
				return usage_err(usage,
						 "-c %s: not a positive count",
						 optarg);
			break;
		case 'o':
			s->out_path = optarg;
			break;
		case 'i':
			s->in_path = optarg;
			break;
		default:
			return opt_err(c, argv, usage);
		}
	}
	rc = opt_extra(argc, argv, usage);
	if (rc)
		return rc;
	if (s->out_path && !strcmp(s->out_path, "-") && s->json)
		return usage_err(usage,
				 "-o - and -j both want standard output");
	if (s->out_path && s->in_path && (!strcmp(s->out_path, s->in_path) ||
					  same_file(s->out_path, s->in_path)))
		return usage_err(usage, "-o and -i name the same file");
	return 0;
}

static void setup_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int cmd_stream(int argc, char **argv)
{
	struct stream s;
	int rc;

	memset(&s, 0, sizeof(s));
	rc = parse_args(&s, argc, argv);
	if (rc) {
		filter_free(&s.filter);
		return rc == OPT_HELP ? EXIT_OK : rc;
	}
	s.text = true;
	if (s.out_path) {
		if (!strcmp(s.out_path, "-")) {
			s.out = stdout;
			s.text = false;
		} else {
			s.out = fopen(s.out_path, "we");
			if (!s.out) {
				tw_err("%s: %s", s.out_path, strerror(errno));
				filter_free(&s.filter);
				return EXIT_ERR;
			}
		}
	}
	setup_signals();
	rc = s.in_path ? run_file(&s) : run_live(&s);
	if (s.out && s.out != stdout && fclose(s.out) && !rc) {
		tw_err("%s: %s", s.out_path, strerror(errno));
		rc = EXIT_ERR;
	}
	filter_free(&s.filter);
	merge_free(&s.merge);
	owner_free();
	return rc;
}
