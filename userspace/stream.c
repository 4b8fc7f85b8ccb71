// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace stream: the events, live from the cpuN files or from a recording.
 *
 * Live, every cpuN file is read without blocking as poll() says it has
 * records; records wait in a heap ordered by (ts_ns, cpu, seq) until they
 * are HOLD_NS old by CLOCK_MONOTONIC, so that a CPU read a little later
 * still merges in time order, and all of them go out at the end.  The
 * reader wakes up SLACK_NS after the oldest is due and emits all that are
 * due, in batches.  Each
 * CPU's sequence numbers are checked: a gap is that many lost records.
 *
 * A recording (-o) is a struct twtrace_file_header and then the records,
 * unfiltered, in the order they were emitted; -i decodes one through the
 * same filters and formats.
 */
#define _GNU_SOURCE		/* ppoll() */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
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
#define READ_RECS	64
#define READ_ROUNDS	16
#define RSZ		sizeof(struct twtrace_record)

struct cpu_src {
	int fd;
	int cpu;
	bool eof;
	__u64 nread;		/* records read */
	__u64 off;		/* bytes read */
	bool have_seq;
	__u64 next_seq;
	__u64 gaps;		/* records missing between sequence numbers */
	__u64 backwards;	/* sequence numbers that went back */
	size_t part;		/* bytes of an incomplete record in pend */
	unsigned char pend[RSZ];
};

/*
 * The heap orders small keys; the records wait in slots, so that sifting
 * moves 24 bytes, not 128.
 */
struct hkey {
	__u64 ts;
	__u64 seq;
	__u32 cpu;
	__u32 slot;
};

struct stream {
	struct tw_filter filter;
	bool json, wide, ext, hms, rel, quiet;
	__u64 duration;		/* ns, 0: none */
	__u64 count;		/* 0: no limit */
	const char *out_path;
	const char *in_path;

	FILE *out;		/* the recording being written */
	bool text;		/* lines on stdout */
	__u64 start_ns;		/* CLOCK_MONOTONIC at the start */
	__u64 start_rt_ns;	/* CLOCK_REALTIME then */
	__u64 shown;
	__u64 nread;
	__u64 written;
	__u64 late;		/* shown after a younger record */
	__u64 last_ts;
	bool stop;
	bool ended;		/* every cpuN file came to its end */
	int rc;

	struct hkey *heap;
	size_t nheap;
	struct twtrace_record *slots;
	__u32 *free_slots;	/* a stack of the slots given back */
	size_t nslots, nfree, cap;
	struct cpu_src *src;
	int nsrc;
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
		"Output:\n"
		"  -T              wall clock time column (HH:MM:SS)\n"
		"  -t              seconds since the start column\n"
		"  -w              wide address columns (IPv6)\n"
		"  -x              extended columns: cpu, socket id, netns, substate,\n"
		"                  rearms, timeout, FIN_WAIT2 time, tcp_tw_reuse\n"
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

/* Heap of records by (ts_ns, cpu, seq). */
static bool key_before(const struct hkey *a, const struct hkey *b)
{
	if (a->ts != b->ts)
		return a->ts < b->ts;
	if (a->cpu != b->cpu)
		return a->cpu < b->cpu;
	return a->seq < b->seq;
}

static int grow(struct stream *s)
{
	size_t cap = s->cap ? s->cap * 2 : 1024;
	struct twtrace_record *slots;
	struct hkey *heap;
	__u32 *free_slots;

	if (cap > UINT32_MAX)
		goto oom;
	heap = realloc(s->heap, cap * sizeof(*heap));
	if (!heap)
		goto oom;
	s->heap = heap;
	slots = realloc(s->slots, cap * sizeof(*slots));
	if (!slots)
		goto oom;
	s->slots = slots;
	free_slots = realloc(s->free_slots, cap * sizeof(*free_slots));
	if (!free_slots)
		goto oom;
	s->free_slots = free_slots;
	s->cap = cap;
	return 0;
oom:
	tw_err("out of memory (%zu records waiting)", s->nheap);
	return -1;
}

static int heap_push(struct stream *s, const struct twtrace_record *r,
		     int cpu)
{
	struct hkey k = { .ts = r->ts_ns, .seq = r->seq, .cpu = cpu };
	size_t i, parent;

	if (s->nfree) {
		k.slot = s->free_slots[--s->nfree];
	} else {
		if (s->nslots == s->cap && grow(s))
			return -1;
		k.slot = s->nslots++;
	}
	s->slots[k.slot] = *r;
	for (i = s->nheap++; i; i = parent) {
		parent = (i - 1) / 2;
		if (!key_before(&k, &s->heap[parent]))
			break;
		s->heap[i] = s->heap[parent];
	}
	s->heap[i] = k;
	return 0;
}

/* The oldest key; its slot stays taken until given back. */
static struct hkey heap_pop(struct stream *s)
{
	struct hkey *h = s->heap, top = h[0], last;
	size_t i = 0, c, n;

	last = h[--s->nheap];
	n = s->nheap;
	while ((c = 2 * i + 1) < n) {
		if (c + 1 < n && key_before(&h[c + 1], &h[c]))
			c++;
		if (!key_before(&h[c], &last))
			break;
		h[i] = h[c];
		i = c;
	}
	if (n)
		h[i] = last;
	return top;
}

static void put_header(struct stream *s)
{
	int aw = s->wide ? 47 : 21;
	struct tw_line l;

	line_init(&l);
	if (s->hms)
		line_put(&l, 8, false, "TIME");
	if (s->rel)
		line_put(&l, 11, false, "TIME(s)");
	line_put(&l, 8, false, "EVENT");
	line_put(&l, aw, false, "LOCAL");
	line_put(&l, aw, false, "REMOTE");
	line_put(&l, 17, false, "REASON");
	if (s->ext) {
		line_put(&l, 3, true, "CPU");
		line_put(&l, 7, true, "ID");
		line_put(&l, 10, true, "NETNS");
		line_put(&l, 9, false, "SUBSTATE");
		line_put(&l, 6, true, "REARMS");
		line_put(&l, 6, true, "TIMEO");
		line_put(&l, 9, true, "FW2_MS");
		line_put(&l, 3, true, "TWR");
	}
	line_put(&l, 9, true, "MS");
	line_out(&l, stdout);
}

static bool death_life_known(const struct twtrace_record *r)
{
	return record_ns_known(r->death.lifetime_ns) &&
	       !(r->flags & (TWTRACE_F_BORN_BEFORE_LOAD |
			     TWTRACE_F_UNTRACKED));
}

static void put_ms(char *buf, size_t len, __u64 ns, bool known)
{
	if (known)
		fmt_ms(buf, len, ns);
	else
		snprintf(buf, len, "?");
}

/* Seconds between two CLOCK_MONOTONIC stamps, signed, microseconds. */
static void fmt_rel(char *buf, size_t len, __u64 ts, __u64 start)
{
	bool neg = ts < start;
	__u64 d = neg ? start - ts : ts - start;
	__u64 us = d / 1000 + (d % 1000 >= 500);

	snprintf(buf, len, "%s%llu.%06llu", neg ? "-" : "", us / 1000000,
		 us % 1000000);
}

static void print_text(struct stream *s, const struct twtrace_record *r,
		       int cpu)
{
	int aw = s->wide ? 47 : 21;
	char buf[128], ms[32] = "";
	const char *reason = tw_reason_name(r);
	struct tw_line l;

	line_init(&l);
	if (s->hms) {
		fmt_hms(buf, sizeof(buf), r->ts_ns + (s->start_rt_ns -
						      s->start_ns));
		line_put(&l, 8, false, buf);
	}
	if (s->rel) {
		fmt_rel(buf, sizeof(buf), r->ts_ns, s->start_ns);
		line_put(&l, 11, false, buf);
	}
	line_put(&l, 8, false, tw_event_names[r->type]);
	if (r->flags & TWTRACE_F_NO_TUPLE) {
		/* A death found only at the final free: no tuple known. */
		line_put(&l, aw, false, "-");
		line_put(&l, aw, false, "-");
	} else {
		fmt_endpoint(buf, sizeof(buf), r->family, r->saddr, r->sport);
		line_put(&l, aw, false, buf);
		fmt_endpoint(buf, sizeof(buf), r->family, r->daddr, r->dport);
		line_put(&l, aw, false, buf);
	}

	/* Births and rearms have no reason: their substate instead. */
	if (r->type == TWTRACE_EV_REARM &&
	    r->rearm.old_substate != r->substate) {
		snprintf(buf, sizeof(buf), "%s>%s",
			 tw_substate_name(r->rearm.old_substate),
			 tw_substate_name(r->substate));
		reason = buf;
	} else if (!reason) {
		reason = tw_substate_name(r->substate);
	}
	line_put(&l, 17, false, reason);

	if (s->ext) {
		if (cpu >= 0)
			snprintf(buf, sizeof(buf), "%d", cpu);
		else
			snprintf(buf, sizeof(buf), "-");
		line_put(&l, 3, true, buf);
		if (r->tw_id)
			snprintf(buf, sizeof(buf), "%llu", r->tw_id);
		else
			snprintf(buf, sizeof(buf), "-");
		line_put(&l, 7, true, buf);
		snprintf(buf, sizeof(buf), "%u", r->netns);
		line_put(&l, 10, true, buf);
		line_put(&l, 9, false, tw_substate_name(r->substate));
		if (r->type == TWTRACE_EV_OVERFLOW)
			snprintf(buf, sizeof(buf), "-");
		else
			snprintf(buf, sizeof(buf), "%u", r->rearms);
		line_put(&l, 6, true, buf);
		if (r->type == TWTRACE_EV_BIRTH)
			snprintf(buf, sizeof(buf), "%u", r->birth.timeo_ms);
		else if (r->type == TWTRACE_EV_REARM)
			snprintf(buf, sizeof(buf), "%u", r->rearm.timeo_ms);
		else
			snprintf(buf, sizeof(buf), "-");
		line_put(&l, 6, true, buf);
		if (r->type == TWTRACE_EV_DEATH)
			put_ms(buf, sizeof(buf), r->death.fin_wait2_ns,
			       death_life_known(r) &&
			       record_ns_known(r->death.fin_wait2_ns));
		else
			snprintf(buf, sizeof(buf), "-");
		line_put(&l, 9, true, buf);
		if (r->type == TWTRACE_EV_REUSE)
			snprintf(buf, sizeof(buf), "%u", r->reuse_sysctl);
		else
			snprintf(buf, sizeof(buf), "-");
		line_put(&l, 3, true, buf);
	}

	if (r->type == TWTRACE_EV_DEATH)
		put_ms(ms, sizeof(ms), r->death.lifetime_ns,
		       death_life_known(r));
	else if (r->type == TWTRACE_EV_REUSE)
		put_ms(ms, sizeof(ms), r->reuse.age_ns,
		       record_ns_known(r->reuse.age_ns));
	line_put(&l, 9, true, ms);
	line_out(&l, stdout);
}

static void json_ns(const char *key, __u64 ns, bool known)
{
	if (known)
		printf(",\"%s\":%llu", key, ns);
	else
		printf(",\"%s\":null", key);
}

static void json_bool(const char *key, bool v)
{
	printf(",\"%s\":%s", key, v ? "true" : "false");
}

static void print_json(const struct twtrace_record *r, int cpu)
{
	char a[64];

	printf("{\"ts_ns\":%llu,\"cpu\":", r->ts_ns);
	if (cpu >= 0)
		printf("%d", cpu);
	else
		printf("null");
	printf(",\"seq\":%llu,\"event\":\"%s\",\"netns\":%u,\"family\":%u",
	       r->seq, tw_event_names[r->type], r->netns, r->family);
	fmt_addr(a, sizeof(a), r->family, r->saddr);
	printf(",\"saddr\":");
	json_str(stdout, a);
	printf(",\"sport\":%u", r->sport);
	fmt_addr(a, sizeof(a), r->family, r->daddr);
	printf(",\"daddr\":");
	json_str(stdout, a);
	printf(",\"dport\":%u,\"substate\":\"%s\"", r->dport,
	       tw_substate_name(r->substate));
	json_ns("tw_id", r->tw_id, r->tw_id != 0);

	switch (r->type) {
	case TWTRACE_EV_BIRTH:
		printf(",\"timeo_ms\":%u", r->birth.timeo_ms);
		break;
	case TWTRACE_EV_REARM:
		printf(",\"timeo_ms\":%u,\"old_substate\":\"%s\",\"rearms\":%u",
		       r->rearm.timeo_ms,
		       tw_substate_name(r->rearm.old_substate), r->rearms);
		break;
	case TWTRACE_EV_DEATH:
		printf(",\"reason\":\"%s\"", tw_death_names[r->reason]);
		json_ns("lifetime_ns", r->death.lifetime_ns,
			death_life_known(r));
		printf(",\"rearms\":%u", r->rearms);
		json_ns("fin_wait2_ns", r->death.fin_wait2_ns,
			death_life_known(r) &&
			record_ns_known(r->death.fin_wait2_ns));
		json_bool("born_before_load",
			  r->flags & TWTRACE_F_BORN_BEFORE_LOAD);
		json_bool("untracked", r->flags & TWTRACE_F_UNTRACKED);
		json_bool("no_tuple", r->flags & TWTRACE_F_NO_TUPLE);
		break;
	case TWTRACE_EV_REUSE:
		json_bool("allowed", r->flags & TWTRACE_F_ALLOWED);
		printf(",\"reason\":\"%s\"", tw_reuse_names[r->reason]);
		json_ns("age_ns", r->reuse.age_ns,
			record_ns_known(r->reuse.age_ns));
		printf(",\"tw_reuse\":%u", r->reuse_sysctl);
		/* 0: recorded by a module that did not know the delay. */
		if (r->reuse.delay_ms)
			printf(",\"reuse_delay_ms\":%u", r->reuse.delay_ms);
		else
			printf(",\"reuse_delay_ms\":null");
		json_bool("tuple_differs", r->flags & TWTRACE_F_TUPLE_DIFFERS);
		break;
	case TWTRACE_EV_OVERFLOW:
		printf(",\"reason\":\"%s\",\"tw_count\":%u,\"tw_limit\":%u",
		       tw_overflow_names[r->reason], r->overflow.tw_count,
		       r->overflow.tw_limit);
		break;
	}
	printf("}\n");
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
static void emit(struct stream *s, const struct twtrace_record *r, int cpu)
{
	if (s->out) {
		if (fwrite(r, RSZ, 1, s->out) == 1)
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
		print_json(r, cpu);
	else
		print_text(s, r, cpu);
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
	struct hkey k;

	while (s->nheap && (all || s->heap[0].ts <= limit)) {
		k = heap_pop(s);
		emit(s, &s->slots[k.slot], k.cpu);
		s->free_slots[s->nfree++] = k.slot;
	}
	flush_out(s);
}

/* Per-CPU sequence numbers: a gap is that many lost records. */
static void check_seq(struct cpu_src *c, const struct twtrace_record *r)
{
	if (c->have_seq && r->seq != c->next_seq) {
		if (r->seq > c->next_seq)
			c->gaps += r->seq - c->next_seq;
		else
			c->backwards++;
	}
	c->have_seq = true;
	c->next_seq = r->seq + 1;
}

static const char *src_name(struct stream *s, struct cpu_src *c, char *buf,
			    size_t len)
{
	if (s->in_path)
		snprintf(buf, len, "%s", s->in_path);
	else
		snprintf(buf, len, "cpu%d", c->cpu);
	return buf;
}

/* -d: @ts is SECS or more after the start. */
static bool past_duration(const struct stream *s, __u64 ts)
{
	return s->duration && ts >= s->start_ns &&
	       ts - s->start_ns >= s->duration;
}

/* Whole records from @buf; an incomplete tail stays in c->pend. */
static int take_records(struct stream *s, struct cpu_src *c,
			const unsigned char *buf, size_t len, bool live)
{
	struct twtrace_record r;
	char why[160], name[TW_PATH_MAX];
	size_t i;

	for (i = 0; i + RSZ <= len; i += RSZ) {
		memcpy(&r, buf + i, RSZ);
		if (record_check(&r, why, sizeof(why))) {
			tw_err("%s: corrupt record %llu at byte offset %llu: %s",
			       src_name(s, c, name, sizeof(name)), c->nread + 1,
			       c->off, why);
			return EXIT_DATA;
		}
		if (live && r.cpu != c->cpu) {
			tw_err("%s: corrupt record %llu at byte offset %llu: from cpu %u",
			       src_name(s, c, name, sizeof(name)), c->nread + 1,
			       c->off, r.cpu);
			return EXIT_DATA;
		}
		if (!live && r.cpu >= s->nsrc) {
			tw_err("%s: corrupt record %llu at byte offset %llu: cpu %u, but the recording has %d CPUs",
			       src_name(s, c, name, sizeof(name)), c->nread + 1,
			       c->off, r.cpu, s->nsrc);
			return EXIT_DATA;
		}
		c->nread++;
		c->off += RSZ;
		s->nread++;
		if (live) {
			check_seq(c, &r);
		} else {
			/* A recording's per-CPU accounts, by the record's CPU. */
			s->src[r.cpu].nread++;
			check_seq(&s->src[r.cpu], &r);
		}
		if (live) {
			if (heap_push(s, &r, c->cpu))
				return EXIT_ERR;
		} else {
			if (past_duration(s, r.ts_ns)) {
				s->stop = true;
				return 0;
			}
			emit(s, &r, r.cpu);
			if (s->stop || interrupted)
				return 0;
		}
	}
	c->part = len - i;
	memcpy(c->pend, buf + i, c->part);
	return 0;
}

static int report_truncated(struct stream *s, struct cpu_src *c)
{
	char name[TW_PATH_MAX];

	tw_err("%s: truncated at byte offset %llu: the last record has %zu of %zu bytes",
	       src_name(s, c, name, sizeof(name)), c->off, c->part, RSZ);
	return EXIT_DATA;
}

/* Read what a cpuN file has now, without blocking. */
static int drain(struct stream *s, struct cpu_src *c)
{
	unsigned char buf[READ_RECS * RSZ];
	int round, rc;
	ssize_t n;

	for (round = 0; round < READ_ROUNDS; round++) {
		memcpy(buf, c->pend, c->part);
		n = read(c->fd, buf + c->part, sizeof(buf) - c->part);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n < 0) {
			tw_err("cpu%d: read: %s", c->cpu, strerror(errno));
			c->eof = true;
			return EXIT_ERR;
		}
		if (!n) {
			/* The module is going away, or a plain file ended. */
			c->eof = true;
			return c->part ? report_truncated(s, c) : 0;
		}
		rc = take_records(s, c, buf, c->part + n, true);
		if (rc)
			return rc;
	}
	return 0;
}

static int cmp_src(const void *a, const void *b)
{
	return ((const struct cpu_src *)a)->cpu -
	       ((const struct cpu_src *)b)->cpu;
}

/* Open every cpuN file of @dir, in CPU order. */
static int open_cpus(struct stream *s, const char *dir)
{
	struct cpu_src *c;
	struct dirent *de;
	int rc = EXIT_OK, i;
	DIR *d = opendir(dir);
	__u64 cpu;

	if (!d && (errno == EACCES || errno == EPERM)) {
		tw_err("%s: permission denied: reading twtrace's debugfs files needs root (run twtrace as root, e.g. with sudo)",
		       dir);
		return EXIT_ERR;
	}
	if (!d) {
		tw_err("%s: %s", dir, strerror(errno));
		return EXIT_ERR;
	}
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "cpu", 3) ||
		    parse_u64(de->d_name + 3, &cpu) || cpu > 65535)
			continue;
		c = realloc(s->src, (s->nsrc + 1) * sizeof(*c));
		if (!c) {
			tw_err("out of memory");
			rc = EXIT_ERR;
			break;
		}
		s->src = c;
		c = &s->src[s->nsrc++];
		memset(c, 0, sizeof(*c));
		c->fd = -1;
		c->cpu = cpu;
	}
	closedir(d);
	if (rc)
		return rc;
	if (!s->nsrc) {
		tw_err("%s: no cpuN files: is this the twtrace module's directory?",
		       dir);
		return EXIT_ERR;
	}
	qsort(s->src, s->nsrc, sizeof(*s->src), cmp_src);
	for (i = 0; i < s->nsrc; i++) {
		char name[16];

		snprintf(name, sizeof(name), "cpu%d", s->src[i].cpu);
		s->src[i].fd = tw_open(dir, name, O_RDONLY | O_NONBLOCK, &rc);
		if (s->src[i].fd < 0)
			return rc;
	}
	return EXIT_OK;
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

static void write_header(struct stream *s, int ncpus)
{
	struct twtrace_file_header h;

	memset(&h, 0, sizeof(h));
	memcpy(h.magic, TWTRACE_FILE_MAGIC, sizeof(h.magic));
	h.abi = TWTRACE_ABI_VERSION;
	h.record_size = RSZ;
	h.ncpus = ncpus;
	h.start_ns = s->start_ns;
	h.start_realtime_ns = s->start_rt_ns;
	if (fwrite(&h, sizeof(h), 1, s->out) != 1)
		out_failed(s);
}

static struct timespec *poll_timeout(struct stream *s, struct timespec *ts)
{
	__u64 now = now_ns(CLOCK_MONOTONIC), wait = ~0ULL, end;

	if (s->nheap) {
		end = s->heap[0].ts;
		end = end > ~0ULL - HOLD_NS - SLACK_NS ? ~0ULL - 1 :
		      end + HOLD_NS + SLACK_NS;
		wait = end > now ? end - now : 0;
	}
	if (s->duration) {
		end = s->start_ns + s->duration;
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
	struct pollfd *pfd = calloc(s->nsrc, sizeof(*pfd));
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
		for (i = 0; i < s->nsrc; i++) {
			pfd[i].fd = s->src[i].eof ? -1 : s->src[i].fd;
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
			open_srcs += !s->src[i].eof;
		}
		if (!open_srcs) {
			s->ended = true;
			break;
		}
		tsp = poll_timeout(s, &ts);
		/* Signals arrive only while waiting, never between. */
		sigprocmask(SIG_BLOCK, &block, &orig);
		n = interrupted ? 0 : ppoll(pfd, s->nsrc, tsp, &orig);
		sigprocmask(SIG_SETMASK, &orig, NULL);
		if (interrupted)
			break;
		if (n < 0 && errno != EINTR) {
			tw_err("poll: %s", strerror(errno));
			s->rc = EXIT_ERR;
			break;
		}
		for (i = 0; n > 0 && i < s->nsrc; i++) {
			if (!pfd[i].revents)
				continue;
			rc = drain(s, &s->src[i]);
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
		"%s:   -r) do not help: they run in this reader, after the module has recorded\n"
		"%s:   every event. The counters of 'twtrace stat' and 'twtrace hist' are exact\n"
		"%s:   whatever is lost.\n",
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
	struct cpu_src *c;
	int i;

	have1 = have0 && !tw_stats_read(dir, &st1, true);
	if (have1 && st1.probe_misses > st0->probe_misses)
		misses = st1.probe_misses - st0->probe_misses;
	for (i = 0; i < s->nsrc; i++) {
		c = &s->src[i];
		gaps = c->gaps;
		growth = 0;
		if (have1 && c->cpu < st0->ncpus && c->cpu < st1.ncpus) {
			if (st1.lost_cpu[c->cpu] >= st0->lost_cpu[c->cpu])
				growth = st1.lost_cpu[c->cpu] -
					 st0->lost_cpu[c->cpu];
			else
				reset = true;
		}
		lost += gaps > growth ? gaps : growth;
		/* The CPUs that had something to say. */
		if (s->quiet || (!c->nread && !gaps && !growth &&
				 !c->backwards))
			continue;
		fprintf(stderr, "%s: cpu%-3d %10llu records read, %llu lost",
			prog, c->cpu, c->nread, gaps > growth ? gaps : growth);
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
			prog, s->nread, s->shown, lost);
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
	       lost, pct(lost, lost + s->nread), lost + s->nread);
	lost_note(dir, read_ctl(dir, "ring_kb"));
	return EXIT_LOST;
}

static int run_live(struct stream *s)
{
	struct tw_stats st0;
	const char *dir;
	bool have0;
	int rc, i;

	dir = tw_dir(&rc);
	if (!dir)
		return rc;
	rc = tw_check_abi(dir);
	if (rc)
		return rc;
	rc = open_cpus(s, dir);
	if (rc)
		return rc;
	have0 = !tw_stats_read(dir, &st0, true);
	if (read_ctl(dir, "enable") == 0)
		tw_err("note: recording is disabled; enable it with: echo 1 > %s/enable",
		       dir);
	s->start_ns = now_ns(CLOCK_MONOTONIC);
	s->start_rt_ns = now_ns(CLOCK_REALTIME);
	if (s->out)
		write_header(s, s->nsrc);
	if (s->text && !s->json)
		put_header(s);
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
	for (i = 0; i < s->nsrc; i++)
		close(s->src[i].fd);
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

static int file_header(struct stream *s, int fd, struct cpu_src *c)
{
	struct twtrace_file_header h;
	ssize_t n = read_full(fd, &h, sizeof(h));
	int i;

	if (n < 0) {
		tw_err("%s: %s", s->in_path, strerror(errno));
		return EXIT_ERR;
	}
	if (!n) {
		tw_err("%s: empty: not a twtrace recording", s->in_path);
		return EXIT_DATA;
	}
	if ((size_t)n < sizeof(h.magic) ||
	    memcmp(h.magic, TWTRACE_FILE_MAGIC, sizeof(h.magic))) {
		tw_err("%s: not a twtrace recording (no \"TWTRACE\" magic at byte offset 0)",
		       s->in_path);
		return EXIT_DATA;
	}
	if ((size_t)n < sizeof(h)) {
		tw_err("%s: truncated at byte offset %zd: the header has %zu bytes",
		       s->in_path, n, sizeof(h));
		return EXIT_DATA;
	}
	if (h.abi != TWTRACE_ABI_VERSION &&
	    __builtin_bswap32(h.abi) == TWTRACE_ABI_VERSION) {
		tw_err("%s: recorded on a host of the other byte order: decode it on one like it",
		       s->in_path);
		return EXIT_DATA;
	}
	if (h.abi != TWTRACE_ABI_VERSION) {
		tw_err("%s: recorded with record ABI %u; this reader (twtrace %s) reads ABI %d: decode it with the twtrace that recorded it",
		       s->in_path, h.abi, TWTRACE_VERSION, TWTRACE_ABI_VERSION);
		return EXIT_DATA;
	}
	if (h.record_size != RSZ) {
		tw_err("%s: corrupt header at byte offset %zu: records of %u bytes, ABI %d has %zu",
		       s->in_path,
		       offsetof(struct twtrace_file_header, record_size),
		       h.record_size, TWTRACE_ABI_VERSION, RSZ);
		return EXIT_DATA;
	}
	if (!h.ncpus || h.ncpus > 65536) {
		tw_err("%s: corrupt header at byte offset %zu: %u CPUs",
		       s->in_path, offsetof(struct twtrace_file_header, ncpus),
		       h.ncpus);
		return EXIT_DATA;
	}
	s->start_ns = h.start_ns;
	s->start_rt_ns = h.start_realtime_ns;
	s->src = calloc(h.ncpus, sizeof(*s->src));
	if (!s->src) {
		tw_err("out of memory");
		return EXIT_ERR;
	}
	s->nsrc = h.ncpus;
	for (i = 0; i < s->nsrc; i++) {
		s->src[i].fd = -1;
		s->src[i].cpu = i;
	}
	c->cpu = -1;	/* the file itself: records of every CPU */
	c->off = sizeof(h);
	return EXIT_OK;
}

static int file_summary(struct stream *s, struct cpu_src *c)
{
	__u64 gaps = 0, backwards = 0;
	struct cpu_src *t;
	int i;

	for (i = 0; i < s->nsrc; i++) {
		t = &s->src[i];
		gaps += t->gaps;
		backwards += t->backwards;
		if (s->quiet || (!t->nread && !t->gaps))
			continue;
		fprintf(stderr, "%s: cpu%-3d %10llu records read, %llu lost\n",
			prog, t->cpu, t->nread, t->gaps);
	}
	if (!s->quiet) {
		fprintf(stderr,
			"%s: %s: %llu records read, %llu shown, %llu lost, from %d CPU%s\n",
			prog, s->in_path, c->nread, s->shown, gaps, s->nsrc,
			s->nsrc == 1 ? "" : "s");
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
	       gaps, pct(gaps, gaps + c->nread));
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
	unsigned char buf[READ_RECS * RSZ];
	struct cpu_src c;
	int fd, rc;
	ssize_t n;

	memset(&c, 0, sizeof(c));
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
	rc = file_header(s, fd, &c);
	if (rc)
		goto out;
	if (s->out)
		write_header(s, s->nsrc);
	if (s->text && !s->json)
		put_header(s);
	while (!s->stop && !interrupted && !s->rc) {
		memcpy(buf, c.pend, c.part);
		n = read_full(fd, buf + c.part, sizeof(buf) - c.part);
		if (n < 0) {
			tw_err("%s: %s", s->in_path, strerror(errno));
			rc = EXIT_ERR;
			break;
		}
		if (!n) {
			if (c.part)
				rc = report_truncated(s, &c);
			break;
		}
		rc = take_records(s, &c, buf, c.part + n, false);
		flush_out(s);
		if (rc)
			break;
	}
	flush_out(s);
	if (!rc && !s->rc)
		rc = file_summary(s, &c);
	else
		file_summary(s, &c);
out:
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
		{ NULL, 0, NULL, 0 }
	};
	int c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":46L:D:N:e:r:Ttwxjqd:c:o:i:h",
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
		case 'T':
			s->hms = true;
			break;
		case 't':
			s->rel = true;
			break;
		case 'w':
			s->wide = true;
			break;
		case 'x':
			s->ext = true;
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
		case 'h':
			usage(stdout);
			return -1;
		default:
			return opt_err(c, argv, usage);
		}
	}
	if (optind < argc)
		return usage_err(usage, "unexpected argument '%s'",
				 argv[optind]);
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
		return rc < 0 ? EXIT_OK : rc;
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
	free(s.heap);
	free(s.slots);
	free(s.free_slots);
	free(s.src);
	return rc;
}
