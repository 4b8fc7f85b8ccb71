// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace hist: the module's log2 histograms in bcc's layout, one block
 * per death reason, plus the age of TIME_WAIT sockets at reuse decisions.
 *
 * The module's buckets are [2^b, 2^(b+1)) nanoseconds.  They are shown as
 * they are, labelled in milliseconds (or microseconds) rounded down, never
 * re-binned: adjacent labels may share an end, and buckets that round to
 * the same label are one row.
 */
#include <fnmatch.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "reader.h"

#define STARS	40

struct hist_opts {
	bool json;
	__u64 div;		/* ns per unit */
	const char *unit;	/* "msecs" */
	bool selected;		/* -r given */
	bool death[TWTRACE_DEATH_NR];
	bool reuse_age;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s hist [-j] [-r REASONS] [-m | -u]\n"
		"\n"
		"TIME_WAIT lifetimes (birth to death), one log2 histogram per death reason,\n"
		"and the age of TIME_WAIT sockets at reuse decisions, exact from the module.\n"
		"\n"
		"  -r REASONS   comma list of death reasons or patterns, and reuse_age\n"
		"  -m           milliseconds (the default)\n"
		"  -u           microseconds\n"
		"  -j, --json   one JSON object, buckets in nanoseconds\n"
		"  -h, --help\n",
		prog);
}

/* Parse and check the "hist" file. */
int hist_read(const char *dir, struct hist_data *h)
{
	char *buf, *cur, *line, *tok[5];
	int rc, n, r, lineno = 0;
	__u64 b, v, *slot;

	memset(h, 0, sizeof(*h));
	if (tw_read_text(dir, "hist", &buf, &rc))
		return rc;
	cur = buf;
	rc = EXIT_DATA;
	while ((line = tw_next_line(&cur))) {
		lineno++;
		n = tw_split(line, tok, 4);
		if (!n)
			continue;
		if (n == 4 && !strcmp(tok[0], "lifetime")) {
			r = tw_name_index(tw_death_names, TWTRACE_DEATH_NR,
					  tok[1]);
			if (r < 0) {
				tw_err("%s/hist: line %d: unknown death reason '%s': the module and this reader (record ABI %d) disagree",
				       dir, lineno, tok[1],
				       TWTRACE_ABI_VERSION);
				goto out;
			}
			if (parse_u64(tok[2], &b) || parse_u64(tok[3], &v) ||
			    b >= TWTRACE_HIST_BUCKETS)
				goto bad;
			slot = &h->lifetime[r][b];
		} else if (n == 3 && !strcmp(tok[0], "reuse_age")) {
			if (parse_u64(tok[1], &b) || parse_u64(tok[2], &v) ||
			    b >= TWTRACE_HIST_BUCKETS)
				goto bad;
			slot = &h->reuse_age[b];
		} else {
			goto bad;
		}
		if (*slot) {
			tw_err("%s/hist: line %d: bucket %llu given twice", dir,
			       lineno, b);
			goto out;
		}
		*slot = v;
	}
	rc = EXIT_OK;
	goto out;
bad:
	tw_err("%s/hist: line %d: not 'lifetime REASON BUCKET COUNT' or 'reuse_age BUCKET COUNT'",
	       dir, lineno);
out:
	free(buf);
	return rc;
}

struct row {
	__u64 lo, hi, count;
};

/* Buckets into rows labelled in the unit; the number of rows. */
static int make_rows(const __u64 *bucket, __u64 div, struct row *rows)
{
	__u64 lo, hi;
	int b, n = 0;

	for (b = 0; b < TWTRACE_HIST_BUCKETS; b++) {
		lo = b ? (1ULL << b) / div : 0;
		hi = (b == 63 ? ~0ULL : (1ULL << (b + 1)) - 1) / div;
		if (n && rows[n - 1].lo == lo && rows[n - 1].hi == hi) {
			rows[n - 1].count += bucket[b];
			continue;
		}
		rows[n].lo = lo;
		rows[n].hi = hi;
		rows[n].count = bucket[b];
		n++;
	}
	return n;
}

/* bcc's _stars(): floor(width * val / max) stars. */
static void stars(char *buf, __u64 val, __u64 max, int width)
{
	int n = max ? (int)((long double)width * val / max) : 0;

	if (n > width)
		n = width;
	memset(buf, '*', n);
	buf[n] = '\0';
}

static __u64 total(const __u64 *bucket)
{
	__u64 n = 0;
	int b;

	for (b = 0; b < TWTRACE_HIST_BUCKETS; b++)
		n += bucket[b];
	return n;
}

/* bcc's print_log2_hist(), leading and trailing empty rows left out. */
static void print_block(const struct hist_opts *o, const char *title,
			const __u64 *bucket, bool *first)
{
	struct row rows[TWTRACE_HIST_BUCKETS];
	int n, i, lo = -1, hi = -1;
	__u64 max = 0;
	char bar[STARS + 1];
	bool wide;

	printf("%s%s\n", *first ? "" : "\n", title);
	*first = false;
	n = make_rows(bucket, o->div, rows);
	for (i = 0; i < n; i++) {
		if (!rows[i].count)
			continue;
		if (lo < 0)
			lo = i;
		hi = i;
		if (rows[i].count > max)
			max = rows[i].count;
	}
	if (lo < 0) {
		printf("     (no events)\n");
		return;
	}
	wide = rows[hi].hi > 9999999999ULL;
	if (wide)
		printf("               %-29s : count     distribution\n",
		       o->unit);
	else
		printf("     %-19s : count     distribution\n", o->unit);
	for (i = lo; i <= hi; i++) {
		stars(bar, rows[i].count, max, wide ? STARS / 2 : STARS);
		if (wide)
			printf("%20llu -> %-20llu : %-8llu |%-*s|\n",
			       rows[i].lo, rows[i].hi, rows[i].count, STARS / 2,
			       bar);
		else
			printf("%10llu -> %-10llu : %-8llu |%-*s|\n",
			       rows[i].lo, rows[i].hi, rows[i].count, STARS,
			       bar);
	}
}

static void json_block(const __u64 *bucket)
{
	bool first = true;
	int b;

	printf("{\"count\":%llu,\"buckets\":[", total(bucket));
	for (b = 0; b < TWTRACE_HIST_BUCKETS; b++) {
		if (!bucket[b])
			continue;
		printf("%s{\"b\":%d,\"low_ns\":%llu,\"high_ns\":",
		       first ? "" : ",", b, b ? 1ULL << b : 0);
		if (b == 63)
			printf("18446744073709551616");
		else
			printf("%llu", 1ULL << (b + 1));
		printf(",\"count\":%llu}", bucket[b]);
		first = false;
	}
	printf("]}");
}

static void print_json(const struct hist_opts *o, const struct hist_data *h)
{
	bool first = true;
	int r;

	printf("{\"lifetime\":{");
	for (r = 0; r < TWTRACE_DEATH_NR; r++) {
		if (o->selected && !o->death[r])
			continue;
		printf("%s\"%s\":", first ? "" : ",", tw_death_names[r]);
		json_block(h->lifetime[r]);
		first = false;
	}
	printf("}");
	if (!o->selected || o->reuse_age) {
		printf(",\"reuse_age\":");
		json_block(h->reuse_age);
	}
	printf("}\n");
}

static void print_text(const struct hist_opts *o, const struct hist_data *h)
{
	char title[64];
	bool first = true;
	int r;

	for (r = 0; r < TWTRACE_DEATH_NR; r++) {
		if (o->selected ? !o->death[r] : !total(h->lifetime[r]))
			continue;
		snprintf(title, sizeof(title), "lifetime, reason = %s",
			 tw_death_names[r]);
		print_block(o, title, h->lifetime[r], &first);
	}
	if (o->selected ? o->reuse_age : total(h->reuse_age) > 0)
		print_block(o, "age at reuse decision", h->reuse_age, &first);
	if (first)
		printf("no TIME_WAIT deaths or reuse decisions recorded yet\n");
}

static int select_reasons(struct hist_opts *o, const char *arg)
{
	char *copy = strdup(arg), *s, *save = NULL;
	int r, hits;

	if (!copy) {
		tw_err("out of memory");
		return EXIT_ERR;
	}
	for (s = strtok_r(copy, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
		hits = 0;
		for (r = 0; r < TWTRACE_DEATH_NR; r++) {
			if (!fnmatch(s, tw_death_names[r], 0)) {
				o->death[r] = true;
				hits++;
			}
		}
		if (!fnmatch(s, "reuse_age", 0)) {
			o->reuse_age = true;
			hits++;
		}
		if (!hits) {
			hits = usage_err(usage,
					 "-r %s: no death reason matches '%s' (and it is not reuse_age)",
					 arg, s);
			free(copy);
			return hits;
		}
		o->selected = true;
	}
	free(copy);
	if (!o->selected)
		return usage_err(usage, "-r '%s': no reason named", arg);
	return 0;
}

static int parse_args(struct hist_opts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	int c, rc, unit = 0;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":jr:muh", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			o->json = true;
			break;
		case 'r':
			rc = select_reasons(o, optarg);
			if (rc)
				return rc;
			break;
		case 'm':
		case 'u':
			if (unit && unit != c)
				return usage_err(usage,
						 "-m and -u exclude each other");
			unit = c;
			break;
		default:
			return opt_err(c, argv, usage);
		}
	}
	rc = opt_extra(argc, argv, usage);
	if (rc)
		return rc;
	o->div = unit == 'u' ? 1000 : 1000000;
	o->unit = unit == 'u' ? "usecs" : "msecs";
	return 0;
}

int cmd_hist(int argc, char **argv)
{
	struct hist_opts o;
	struct hist_data *h;
	const char *dir;
	int rc;

	memset(&o, 0, sizeof(o));
	rc = parse_args(&o, argc, argv);
	if (rc)
		return rc == OPT_HELP ? EXIT_OK : rc;
	dir = tw_module(&rc, NULL);
	if (!dir)
		return rc;
	h = malloc(sizeof(*h));
	if (!h) {
		tw_err("out of memory");
		return EXIT_ERR;
	}
	rc = hist_read(dir, h);
	if (!rc) {
		if (o.json)
			print_json(&o, h);
		else
			print_text(&o, h);
		rc = tw_flush();
	}
	free(h);
	return rc;
}
