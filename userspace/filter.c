// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace reader: the client-side filters (-4 -6 -L -D -N -e -r).
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <linux/magic.h>

#include "reader.h"

#define PORT_BITMAP	(65536 / 8)

static int parse_port(const char *s, const char *end, unsigned int *port)
{
	char buf[8];
	__u64 v;

	if (end - s <= 0 || end - s >= (long)sizeof(buf))
		return -1;
	memcpy(buf, s, end - s);
	buf[end - s] = '\0';
	if (parse_u64(buf, &v) || v > 65535)
		return -1;
	*port = v;
	return 0;
}

/* "80,443,8000-8080": ports into a bitmap, added to earlier ones. */
int filter_ports(unsigned char **bitmap, const char *arg, const char *opt)
{
	const char *s = arg, *comma, *dash;
	unsigned int lo, hi, p;

	if (!*bitmap) {
		*bitmap = calloc(1, PORT_BITMAP);
		if (!*bitmap) {
			tw_err("out of memory");
			return -1;
		}
	}
	for (;;) {
		comma = strchr(s, ',');
		if (!comma)
			comma = s + strlen(s);
		dash = memchr(s, '-', comma - s);
		if (dash) {
			if (parse_port(s, dash, &lo) ||
			    parse_port(dash + 1, comma, &hi) || lo > hi)
				goto bad;
		} else {
			if (parse_port(s, comma, &lo))
				goto bad;
			hi = lo;
		}
		for (p = lo; p <= hi; p++)
			(*bitmap)[p / 8] |= 1 << (p % 8);
		if (!*comma)
			return 0;
		s = comma + 1;
	}
bad:
	tw_err("%s %s: not a port list (PORT[,PORT|LOW-HIGH]..., 0-65535)", opt,
	       arg);
	return -1;
}

/*
 * -N: a network namespace inode number, a name under /run/netns, or the
 * path of a namespace file such as /proc/PID/ns/net.
 */
int filter_netns(struct tw_filter *f, const char *arg)
{
	char path[TW_PATH_MAX];
	struct statfs sfs;
	struct stat st;
	__u64 v;

	if (!parse_u64(arg, &v)) {
		if (!v || v > 0xffffffffULL) {
			tw_err("-N %s: not a network namespace inode number",
			       arg);
			return -1;
		}
		f->netns = v;
		f->netns_set = true;
		return 0;
	}
	if (strchr(arg, '/'))
		snprintf(path, sizeof(path), "%s", arg);
	else
		snprintf(path, sizeof(path), "/run/netns/%s", arg);
	if (!*arg || stat(path, &st)) {
		tw_err("-N %s: %s: %s (a namespace inode number, a name under /run/netns, or a path such as /proc/PID/ns/net)",
		       arg, path, *arg ? strerror(errno) : "empty name");
		return -1;
	}
	if (statfs(path, &sfs) || sfs.f_type != NSFS_MAGIC) {
		tw_err("-N %s: %s is not a namespace file", arg, path);
		return -1;
	}
	f->netns = st.st_ino;
	f->netns_set = true;
	return 0;
}

static void list_names(const char *const *names, int n, int first)
{
	int i;

	for (i = first; i < n; i++)
		fprintf(stderr, "%s%s", i == first ? "" : ",", names[i]);
}

/* -e birth,death: a comma list of event names. */
int filter_events(struct tw_filter *f, const char *arg)
{
	char *copy = strdup(arg), *s, *save = NULL;
	int i;

	if (!copy) {
		tw_err("out of memory");
		return -1;
	}
	for (s = strtok_r(copy, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
		i = tw_name_index(tw_event_names, TWTRACE_EV_NR, s);
		if (i <= TWTRACE_EV_NONE) {
			tw_err("-e %s: unknown event '%s'", arg, s);
			fprintf(stderr, "%s: events: ", prog);
			list_names(tw_event_names, TWTRACE_EV_NR, 1);
			fputc('\n', stderr);
			free(copy);
			return -1;
		}
		f->events |= 1U << i;
	}
	free(copy);
	if (!f->events) {
		tw_err("-e '%s': no event named", arg);
		return -1;
	}
	return 0;
}

static int match_names(const char *pat, const char *const *names, int n,
		       bool *sel)
{
	int i, hits = 0;

	for (i = 0; i < n; i++) {
		if (!fnmatch(pat, names[i], 0)) {
			sel[i] = true;
			hits++;
		}
	}
	return hits;
}

/*
 * -r expired,refuse_*: a comma list of death, reuse or overflow reasons,
 * each a name or a shell pattern that must match at least one.
 */
int filter_reasons(struct tw_filter *f, const char *arg)
{
	char *copy = strdup(arg), *s, *save = NULL;
	int hits;

	if (!copy) {
		tw_err("out of memory");
		return -1;
	}
	for (s = strtok_r(copy, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
		hits = match_names(s, tw_death_names, TWTRACE_DEATH_NR,
				   f->death);
		hits += match_names(s, tw_reuse_names, TWTRACE_REUSE_NR,
				    f->reuse);
		hits += match_names(s, tw_overflow_names, TWTRACE_OVERFLOW_NR,
				    f->overflow);
		if (!hits) {
			tw_err("-r %s: no reason matches '%s'", arg, s);
			fprintf(stderr, "%s: death reasons: ", prog);
			list_names(tw_death_names, TWTRACE_DEATH_NR, 0);
			fprintf(stderr, "\n%s: reuse reasons: ", prog);
			list_names(tw_reuse_names, TWTRACE_REUSE_NR, 0);
			fprintf(stderr, "\n%s: overflow reasons: ", prog);
			list_names(tw_overflow_names, TWTRACE_OVERFLOW_NR, 0);
			fputc('\n', stderr);
			free(copy);
			return -1;
		}
		f->reasons_set = true;
	}
	free(copy);
	if (!f->reasons_set) {
		tw_err("-r '%s': no reason named", arg);
		return -1;
	}
	return 0;
}

static bool port_in(const unsigned char *bitmap, unsigned int port)
{
	return !bitmap || (bitmap[port / 8] & (1 << (port % 8)));
}

bool filter_tuple(const struct tw_filter *f, int family, unsigned int sport,
		  unsigned int dport, __u32 netns)
{
	if (f->family_set && (family > 6 || !f->family[family]))
		return false;
	if (!port_in(f->lports, sport) || !port_in(f->dports, dport))
		return false;
	return !f->netns_set || f->netns == netns;
}

bool filter_record(const struct tw_filter *f, const struct twtrace_record *r)
{
	if (f->events && !(f->events & (1U << r->type)))
		return false;
	if (f->reasons_set) {
		switch (r->type) {
		case TWTRACE_EV_DEATH:
			if (!f->death[r->reason])
				return false;
			break;
		case TWTRACE_EV_REUSE:
			if (!f->reuse[r->reason])
				return false;
			break;
		case TWTRACE_EV_OVERFLOW:
			if (!f->overflow[r->reason])
				return false;
			break;
		default:
			return false;	/* births and rearms have no reason */
		}
	}
	return filter_tuple(f, r->family, r->sport, r->dport, r->netns);
}

void filter_free(struct tw_filter *f)
{
	free(f->lports);
	free(f->dports);
	f->lports = NULL;
	f->dports = NULL;
}
