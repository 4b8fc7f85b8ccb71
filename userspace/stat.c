// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace stat: the module's exact counters, once or per interval, as
 * text, JSON or Prometheus text exposition (node_exporter's textfile
 * collector).
 */
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reader.h"

struct stat_opts {
	bool json;
	bool prom;
	__u64 interval;		/* ns, 0: one snapshot */
	__u64 count;		/* 0: until interrupted */
};

static atomic_int stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s stat [-j | --prometheus] [INTERVAL [COUNT]]\n"
		"\n"
		"The module's exact counters (nothing is lost here, whatever the stream loses).\n"
		"With INTERVAL (seconds), one line of deltas per interval, COUNT times or until\n"
		"Ctrl-C; LIVE is the number alive at the end of the interval, not a delta.\n"
		"\n"
		"  -j, --json      one JSON object (per interval: of deltas)\n"
		"      --prometheus  Prometheus text format, for node_exporter's textfile\n"
		"                  collector (no INTERVAL)\n"
		"  -h, --help\n",
		prog);
}

static __u64 delta(__u64 before, __u64 after)
{
	/* Counters only go back when reset: count from zero then. */
	return after >= before ? after - before : after;
}

/* @d = @b - @a, counter by counter, for every counter but live. */
static int stats_delta(const struct tw_stats *a, const struct tw_stats *b,
		       struct tw_stats *d)
{
	int i;

	*d = *b;
	d->lost_cpu = calloc(b->ncpus ? b->ncpus : 1, sizeof(__u64));
	if (!d->lost_cpu)
		return -1;
	d->births = delta(a->births, b->births);
	d->rearms = delta(a->rearms, b->rearms);
	for (i = 0; i < TWTRACE_DEATH_NR; i++)
		d->death[i] = delta(a->death[i], b->death[i]);
	for (i = 0; i < TWTRACE_REUSE_NR; i++)
		d->reuse[i] = delta(a->reuse[i], b->reuse[i]);
	for (i = 0; i < TWTRACE_OVERFLOW_NR; i++)
		d->overflow[i] = delta(a->overflow[i], b->overflow[i]);
	d->connect_fail = delta(a->connect_fail, b->connect_fail);
	d->born_before_load = delta(a->born_before_load, b->born_before_load);
	d->untracked = delta(a->untracked, b->untracked);
	d->records = delta(a->records, b->records);
	d->lost = delta(a->lost, b->lost);
	d->probe_misses = delta(a->probe_misses, b->probe_misses);
	d->since_ns = b->since_ns;
	for (i = 0; i < b->ncpus; i++)
		d->lost_cpu[i] = delta(i < a->ncpus ? a->lost_cpu[i] : 0,
				       b->lost_cpu[i]);
	return 0;
}

static void print_text(const struct tw_stats *st)
{
	int i;

	printf("%-27s %llu\n", "births", st->births);
	printf("%-27s %llu\n", "rearms", st->rearms);
	for (i = 0; i < TWTRACE_DEATH_NR; i++)
		printf("death_%-21s %llu\n", tw_death_names[i], st->death[i]);
	for (i = 0; i < TWTRACE_REUSE_NR; i++)
		printf("reuse_%-21s %llu\n", tw_reuse_names[i], st->reuse[i]);
	for (i = 0; i < TWTRACE_OVERFLOW_NR; i++)
		printf("overflow_%-18s %llu\n", tw_overflow_names[i],
		       st->overflow[i]);
	printf("%-27s %llu\n", "connect_fail", st->connect_fail);
	printf("%-27s %llu\n", "born_before_load", st->born_before_load);
	printf("%-27s %llu\n", "untracked", st->untracked);
	printf("%-27s %llu\n", "live", st->live);
	printf("%-27s %llu\n", "records", st->records);
	printf("%-27s %llu\n", "lost", st->lost);
	for (i = 0; i < st->ncpus; i++)
		printf("lost_cpu%-19d %llu\n", i, st->lost_cpu[i]);
	printf("%-27s %llu\n", "probe_misses", st->probe_misses);
	printf("%-27s %llu\n", "since_ns", st->since_ns);
	printf("%-27s %llu\n", "groups", st->groups);
	printf("%-27s %llu\n", "groups_max", st->groups_max);
}

static void json_map(const char *key, const char *const *names,
		     const __u64 *v, int n)
{
	int i;

	printf(",\"%s\":{", key);
	for (i = 0; i < n; i++)
		printf("%s\"%s\":%llu", i ? "," : "", names[i], v[i]);
	printf("}");
}

static void print_json(const struct tw_stats *st, __u64 interval)
{
	int i;

	printf("{");
	if (interval)
		printf("\"interval_ns\":%llu,", interval);
	printf("\"births\":%llu,\"rearms\":%llu", st->births, st->rearms);
	json_map("deaths", tw_death_names, st->death, TWTRACE_DEATH_NR);
	json_map("reuse", tw_reuse_names, st->reuse, TWTRACE_REUSE_NR);
	json_map("overflows", tw_overflow_names, st->overflow,
		 TWTRACE_OVERFLOW_NR);
	printf(",\"connect_fail\":%llu", st->connect_fail);
	printf(",\"lost\":%llu,\"lost_cpu\":[", st->lost);
	for (i = 0; i < st->ncpus; i++)
		printf("%s%llu", i ? "," : "", st->lost_cpu[i]);
	printf("],\"untracked\":%llu,\"born_before_load\":%llu",
	       st->untracked, st->born_before_load);
	printf(",\"live\":%llu,\"records\":%llu,\"probe_misses\":%llu",
	       st->live, st->records, st->probe_misses);
	printf(",\"since_ns\":%llu,\"groups\":%llu,\"groups_max\":%llu}\n",
	       st->since_ns, st->groups, st->groups_max);
}

/* The interval lines' columns: deltas but LIVE. */
static const struct tw_col interval_cols[] = {
	{ "TIME", 8, false },
	{ "BIRTHS", 7, true },
	{ "REARMS", 7, true },
	{ "DEATHS", 7, true },
	{ "EXPIRED", 7, true },
	{ "REUSED", 7, true },
	{ "REFUSED", 7, true },
	{ "OVERFL", 7, true },
	{ "LIVE", 7, true },
	{ "LOST", 7, true },
};

#define NCOLS	ARRAY_SIZE(interval_cols)

static void interval_line(const struct tw_stats *d)
{
	__u64 deaths = 0, reused = 0, refused = 0, ovf = 0, v[NCOLS - 1];
	char buf[NCOLS][24];
	const char *val[NCOLS];
	size_t k;
	int i;

	for (i = 0; i < TWTRACE_DEATH_NR; i++)
		deaths += d->death[i];
	for (i = 0; i < TWTRACE_REUSE_NR; i++) {
		if (twtrace_reuse_allows(i))
			reused += d->reuse[i];
		else
			refused += d->reuse[i];
	}
	for (i = 0; i < TWTRACE_OVERFLOW_NR; i++)
		ovf += d->overflow[i];
	v[0] = d->births;
	v[1] = d->rearms;
	v[2] = deaths;
	v[3] = d->death[TWTRACE_DEATH_EXPIRED];
	v[4] = reused;
	v[5] = refused;
	v[6] = ovf;
	v[7] = d->live;
	v[8] = d->lost;
	fmt_hms(buf[0], sizeof(buf[0]), now_ns(CLOCK_REALTIME));
	val[0] = buf[0];
	for (k = 1; k < NCOLS; k++) {
		snprintf(buf[k], sizeof(buf[k]), "%llu", v[k - 1]);
		val[k] = buf[k];
	}
	table_row(interval_cols, NCOLS, val, stdout);
}

/* Nanoseconds as seconds, exactly: "0.001048576", "68.719476736". */
static void prom_secs(char *buf, size_t len, __u64 ns)
{
	int n;

	n = snprintf(buf, len, "%llu.%09llu", ns / 1000000000ULL,
		     ns % 1000000000ULL);
	while (n > 0 && buf[n - 1] == '0')
		buf[--n] = '\0';
	if (n > 0 && buf[n - 1] == '.')
		buf[--n] = '\0';
}

void prom_head(const char *name, const char *type, const char *help)
{
	printf("# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The le bounds exported: 2^PROM_LE_FIRST .. 2^PROM_LE_LAST ns, +Inf. */
#define PROM_LE_FIRST	20	/* 1.048576 ms */
#define PROM_LE_LAST	38	/* 274.877906944 s */

/*
 * One histogram series from log2 ns buckets [2^b, 2^(b+1)): bucket b is
 * counted under le = 2^(b+1) ns.  _sum is approximate: each observation
 * at its bucket's midpoint, 1.5 * 2^b ns.
 */
static void prom_hist(const char *name, const char *label, const __u64 *b)
{
	long double sum = 0;
	__u64 cum = 0, total = 0;
	char le[32];
	int i, k;

	for (i = 0; i < TWTRACE_HIST_BUCKETS; i++) {
		total += b[i];
		sum += (long double)b[i] * 1.5L * (long double)(1ULL << i);
	}
	i = 0;
	for (k = PROM_LE_FIRST; k <= PROM_LE_LAST; k++) {
		for (; i < k; i++)
			cum += b[i];
		prom_secs(le, sizeof(le), 1ULL << k);
		printf("%s_bucket{%s%sle=\"%s\"} %llu\n", name, label,
		       *label ? "," : "", le, cum);
	}
	printf("%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, label,
	       *label ? "," : "", total);
	printf("%s_sum%s%s%s %.9Lg\n", name, *label ? "{" : "", label,
	       *label ? "}" : "", sum / 1e9L);
	printf("%s_count%s%s%s %llu\n", name, *label ? "{" : "", label,
	       *label ? "}" : "", total);
}

/* The series without labels: name, type, help, counter. */
struct prom_scalar {
	const char *name;
	const char *type;
	const char *help;
	size_t off;		/* in struct tw_stats */
};

#define PROM(n, t, h, f)	{ n, t, h, offsetof(struct tw_stats, f) }

static const struct prom_scalar prom_first[] = {
	PROM("twtrace_births_total", "counter",
	     "TCP sockets that entered TIME_WAIT.", births),
	PROM("twtrace_rearms_total", "counter",
	     "TIME_WAIT timer re-arms (FIN_WAIT2 to TIME_WAIT, retransmitted FIN).",
	     rearms),
};

static const struct prom_scalar prom_rest[] = {
	PROM("twtrace_connect_failures_total", "counter",
	     "connect() calls that found no local port (EADDRNOTAVAIL, EADDRINUSE).",
	     connect_fail),
	PROM("twtrace_live", "gauge",
	     "TIME_WAIT sockets tracked now (born since the module was loaded).",
	     live),
	PROM("twtrace_lost_records_total", "counter",
	     "Event records the module's ring buffers dropped (the counters here are exact).",
	     lost),
	PROM("twtrace_records_total", "counter",
	     "Event records the module produced.", records),
	PROM("twtrace_born_before_load_total", "counter",
	     "Deaths of TIME_WAIT sockets born before the module was loaded (lifetime unknown).",
	     born_before_load),
	PROM("twtrace_untracked_total", "counter",
	     "TIME_WAIT sockets the module could not track (lifetime unknown).",
	     untracked),
	PROM("twtrace_probe_misses_total", "counter",
	     "Probe hits the kernel missed: events in no counter.",
	     probe_misses),
	PROM("twtrace_groups", "gauge",
	     "(netns, cgroup) groups the module counts apart (twtrace_group_*).",
	     groups),
	PROM("twtrace_groups_max", "gauge",
	     "The most groups the module counts apart (its groups parameter); the events of more go to cgroup=\"other\".",
	     groups_max),
};

static void prom_scalars(const struct prom_scalar *p, size_t n,
			 const struct tw_stats *st)
{
	size_t i;

	for (i = 0; i < n; i++) {
		prom_head(p[i].name, p[i].type, p[i].help);
		printf("%s %llu\n", p[i].name,
		       *(const __u64 *)((const char *)st + p[i].off));
	}
}

static int print_prom(const char *dir, const struct tw_stats *st)
{
	struct hist_data *h = calloc(1, sizeof(*h));
	char label[96];
	__u64 loaded;
	int i, rc;

	if (!h) {
		tw_err("out of memory");
		return EXIT_ERR;
	}
	rc = hist_read(dir, h);
	if (rc) {
		free(h);
		return rc;
	}
	prom_scalars(prom_first, ARRAY_SIZE(prom_first), st);
	prom_head("twtrace_deaths_total", "counter",
		  "TIME_WAIT sockets that ended, by reason.");
	for (i = 0; i < TWTRACE_DEATH_NR; i++)
		printf("twtrace_deaths_total{reason=\"%s\"} %llu\n",
		       tw_death_names[i], st->death[i]);
	prom_head("twtrace_reuse_decisions_total", "counter",
		  "tcp_twsk_unique() decisions on reusing a TIME_WAIT socket's tuple, by reason.");
	for (i = 0; i < TWTRACE_REUSE_NR; i++)
		printf("twtrace_reuse_decisions_total{reason=\"%s\",allowed=\"%s\"} %llu\n",
		       tw_reuse_names[i], twtrace_reuse_allows(i) ? "true" : "false",
		       st->reuse[i]);
	prom_head("twtrace_overflows_total", "counter",
		  "Connections that got no TIME_WAIT socket, by reason.");
	for (i = 0; i < TWTRACE_OVERFLOW_NR; i++)
		printf("twtrace_overflows_total{reason=\"%s\"} %llu\n",
		       tw_overflow_names[i], st->overflow[i]);
	prom_scalars(prom_rest, ARRAY_SIZE(prom_rest), st);
	prom_head("twtrace_counters_start_time_seconds", "gauge",
		  "When the counters started from 0 (the module's load or the last reset), seconds since the epoch.");
	prom_secs(label, sizeof(label), st->since_ns);
	printf("twtrace_counters_start_time_seconds %s\n", label);
	if (!tw_version_value(dir, "loaded_ns", &loaded)) {
		prom_head("twtrace_module_load_time_seconds", "gauge",
			  "When the module was loaded, seconds since the epoch.");
		prom_secs(label, sizeof(label), loaded);
		printf("twtrace_module_load_time_seconds %s\n", label);
	}
	prom_head("twtrace_lifetime_seconds", "histogram",
		  "TIME_WAIT lifetime, birth to death, by death reason (_sum approximate: bucket midpoints).");
	for (i = 0; i < TWTRACE_DEATH_NR; i++) {
		snprintf(label, sizeof(label), "reason=\"%s\"",
			 tw_death_names[i]);
		prom_hist("twtrace_lifetime_seconds", label, h->lifetime[i]);
	}
	prom_head("twtrace_reuse_age_seconds", "histogram",
		  "Age of the TIME_WAIT socket at a reuse decision (_sum approximate: bucket midpoints).");
	prom_hist("twtrace_reuse_age_seconds", "", h->reuse_age);
	free(h);
	/* Per (netns, cgroup): the module's groups; per destination. */
	return prom_groups(dir);
}

static int parse_args(struct stat_opts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "prometheus", no_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 }
	};
	int c, rc;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":jh", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			o->json = true;
			break;
		case 'P':
			o->prom = true;
			break;
		default:
			return opt_err(c, argv, usage);
		}
	}
	if (o->json && o->prom)
		return usage_err(usage,
				 "-j and --prometheus exclude each other");
	if (optind < argc) {
		if (parse_secs(argv[optind], &o->interval) || !o->interval)
			return usage_err(usage,
					 "INTERVAL '%s': not a positive number of seconds",
					 argv[optind]);
		optind++;
	}
	if (optind < argc) {
		if (parse_u64(argv[optind], &o->count) || !o->count)
			return usage_err(usage,
					 "COUNT '%s': not a positive number",
					 argv[optind]);
		optind++;
	}
	rc = opt_extra(argc, argv, usage);
	if (rc)
		return rc;
	if (o->prom && o->interval)
		return usage_err(usage,
				 "--prometheus takes no INTERVAL: the collector wants one snapshot");
	return 0;
}

static int run_intervals(const char *dir, const struct stat_opts *o)
{
	struct tw_stats prev, cur, d;
	struct timespec next;
	__u64 n = 0, t0, t1;
	struct sigaction sa;
	int rc;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	rc = tw_stats_read(dir, &prev, false);
	if (rc)
		return rc;
	t0 = now_ns(CLOCK_MONOTONIC);
	clock_gettime(CLOCK_MONOTONIC, &next);
	if (!o->json)
		table_row(interval_cols, NCOLS, NULL, stdout);
	while (!stop && (!o->count || n < o->count)) {
		next.tv_sec += o->interval / 1000000000ULL;
		next.tv_nsec += o->interval % 1000000000ULL;
		if (next.tv_nsec >= 1000000000L) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000L;
		}
		fflush(stdout);
		if (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next,
				    NULL) && stop)
			break;
		rc = tw_stats_read(dir, &cur, false);
		if (rc)
			break;
		t1 = now_ns(CLOCK_MONOTONIC);
		if (stats_delta(&prev, &cur, &d)) {
			tw_err("out of memory");
			tw_stats_free(&cur);
			rc = EXIT_ERR;
			break;
		}
		if (o->json)
			print_json(&d, t1 - t0);
		else
			interval_line(&d);
		tw_stats_free(&d);
		tw_stats_free(&prev);
		prev = cur;
		t0 = t1;
		n++;
	}
	tw_stats_free(&prev);
	return tw_flush() ? EXIT_ERR : rc;
}

int cmd_stat(int argc, char **argv)
{
	struct stat_opts o = { 0 };
	struct tw_stats st;
	const char *dir;
	int rc;

	rc = parse_args(&o, argc, argv);
	if (rc)
		return rc == OPT_HELP ? EXIT_OK : rc;
	dir = tw_module(&rc, NULL);
	if (!dir)
		return rc;
	if (o.interval)
		return run_intervals(dir, &o);
	rc = tw_stats_read(dir, &st, false);
	if (rc)
		return rc;
	if (o.prom)
		rc = print_prom(dir, &st);
	else if (o.json)
		print_json(&st, 0);
	else
		print_text(&st);
	tw_stats_free(&st);
	return tw_flush() ? EXIT_ERR : rc;
}
