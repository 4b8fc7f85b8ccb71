// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace top: TIME_WAIT activity per group (destination, local port,
 * cgroup or user), each interval, like tcptop.
 *
 * By cgroup, it reads the module's own counters per (netns, cgroup), the
 * groups file, and shows what they gained in the interval: it takes no
 * record from the rings.  By anything else, each interval it consumes the
 * records written since the last one from the cpuN files (as stream does:
 * one reader at a time) and takes a snapshot of the live file.
 *
 * Memory is bounded: at most TOP_GROUPS groups an interval; the records
 * and sockets of further keys are summed into one "(other)" group, as are
 * the module's groups beyond its own bound.
 */
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "reader.h"

#define TOP_GROUPS	4096		/* groups kept per interval */
#define TOP_HASH	(2 * TOP_GROUPS)	/* a power of 2 */
#define TOP_ROWS	20

enum top_by { BY_DEST, BY_LPORT, BY_CGROUP, BY_UID };

static const char *const by_names[] = { "dest", "lport", "cgroup", "uid" };

/* A group's key: the fields of its kind, the rest zero. */
struct top_key {
	__u64 id;		/* cgroup id, uid */
	__u32 netns;
	__u32 port;		/* dport, lport */
	__u8 addr[16];		/* daddr */
	__u8 family;
	__u8 known;		/* the owner is known */
	__u8 other;		/* the "(other)" group */
	__u8 __pad[5];
};

struct top_counts {
	__u64 live, births, rearms, deaths;
	__u64 death[TWTRACE_DEATH_NR];
	__u64 reuse_ok, reuse_no, ovf, cfail;
};

struct top_group {
	struct top_key key;
	struct top_counts c;		/* this interval's; live: now */
	struct top_counts total;	/* -g cgroup: cumulative */
	bool have_headroom;
	__s64 headroom;
};

struct top_opts {
	enum top_by by;
	bool no_clear, json;
	__u64 rows, interval, count;
};

struct top_state {
	const struct top_opts *o;
	struct top_group *g;	/* TOP_GROUPS + 1: the last is "(other)" */
	int *hash;		/* TOP_HASH slots: index into g, -1 empty */
	size_t n;
	bool other_used;
	bool no_headroom;	/* sock_diag could not be read */
	__u32 own_netns;
	struct top_group tot;
	struct tw_kgroup *prev;	/* -g cgroup: the groups file, last read */
	size_t nprev;
	__u64 since_ns;		/* and the counters' start then */
	bool reset;		/* which moved: the counters were reset */
};

static atomic_int stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void top_usage(FILE *f)
{
	fprintf(f,
		"Usage: %s top [-C] [-g dest|lport|cgroup|uid] [-n ROWS] [-j] [INTERVAL [COUNT]]\n"
		"\n"
		"TIME_WAIT activity per group each INTERVAL seconds (1), COUNT times or until\n"
		"Ctrl-C: LIVE now, BIRTHS/s, DEATHS (EXPIRED, REUSED, RST, OTHER), reuse\n"
		"decisions ALLOWED/REFUSED, overflows OVF, failed connects CFAIL and, per\n"
		"destination, the HEADROOM of local ports left (twtrace ports).  By cgroup\n"
		"(and netns) it reads the module's own counters and takes no record; else it\n"
		"consumes the module's records, as stream does, and the first interval counts\n"
		"those waiting when it starts.  At most %d groups: the rest in one \"(other)\".\n"
		"\n"
		"  -g, --group BY  dest (the default), lport, cgroup or uid\n"
		"  -n ROWS         rows shown (%d); -j shows them all\n"
		"  -C              do not clear the screen\n"
		"  -j, --json      one JSON object per interval\n"
		"  -h, --help\n",
		prog, TOP_GROUPS, TOP_ROWS);
}

static __u32 hash_key(const struct top_key *k)
{
	const unsigned char *p = (const void *)k;
	__u32 h = 2166136261u;
	size_t i;

	for (i = 0; i < sizeof(*k); i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static struct top_group *group_of(struct top_state *s,
				  const struct top_key *k)
{
	__u32 h = hash_key(k) & (TOP_HASH - 1);
	struct top_group *g;

	for (; s->hash[h] >= 0; h = (h + 1) & (TOP_HASH - 1)) {
		g = &s->g[s->hash[h]];
		if (!memcmp(&g->key, k, sizeof(*k)))
			return g;
	}
	if (s->n == TOP_GROUPS) {
		s->other_used = true;
		return &s->g[TOP_GROUPS];
	}
	s->hash[h] = s->n;
	g = &s->g[s->n++];
	memset(g, 0, sizeof(*g));
	g->key = *k;
	return g;
}

static bool known(const struct twtrace_owner *o)
{
	return o->role > TWTRACE_ROLE_UNKNOWN && o->role < TWTRACE_ROLE_NR;
}

static struct top_group *group(struct top_state *s, __u32 netns, int family,
			       const __u8 *daddr, unsigned int dport,
			       unsigned int lport,
			       const struct twtrace_owner *o)
{
	struct top_key k;

	memset(&k, 0, sizeof(k));
	switch (s->o->by) {
	case BY_DEST:
		k.netns = netns;
		memcpy(k.addr, daddr, 16);
		k.family = addr_unmap(family, k.addr);
		k.port = dport;
		break;
	case BY_LPORT:
		k.port = lport;
		break;
	case BY_CGROUP:
		k.netns = netns;
		k.known = known(o) && o->cgroup;
		k.id = k.known ? o->cgroup : 0;
		break;
	case BY_UID:
		k.known = known(o);
		k.id = k.known ? o->uid : 0;
		break;
	}
	return group_of(s, &k);
}

/*
 * A record's group: births, rearms and deaths the tw's tuple and owner; a
 * reuse decision the tw's tuple and the connecting socket's owner (the
 * record's); overflows and failed connects their own.
 */
static void count(void *arg, const struct twtrace_record *r, int cpu)
{
	struct top_state *s = arg;
	struct top_group *g;
	int i;

	(void)cpu;
	g = group(s, r->netns, r->family, r->daddr, r->dport, r->sport,
		  &r->owner);
	for (i = 0; i < 2; i++, g = &s->tot) {
		switch (r->type) {
		case TWTRACE_EV_BIRTH:
			g->c.births++;
			break;
		case TWTRACE_EV_REARM:
			g->c.rearms++;
			break;
		case TWTRACE_EV_DEATH:
			g->c.deaths++;
			if (r->reason < TWTRACE_DEATH_NR)
				g->c.death[r->reason]++;
			break;
		case TWTRACE_EV_REUSE:
			if (r->flags & TWTRACE_F_ALLOWED)
				g->c.reuse_ok++;
			else
				g->c.reuse_no++;
			break;
		case TWTRACE_EV_OVERFLOW:
			g->c.ovf++;
			break;
		case TWTRACE_EV_CONNECT_FAIL:
			g->c.cfail++;
			break;
		}
	}
}

static void count_live(struct top_state *s, const struct tw_sock *v,
		       size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		group(s, v[i].netns, v[i].family, v[i].daddr, v[i].dport,
		      v[i].sport, &v[i].owner)->c.live++;
		s->tot.c.live++;
	}
}

/* What counter @now gained since @then (a reset drops @then). */
static __u64 gain(__u64 now, __u64 then)
{
	return now >= then ? now - then : now;
}

/*
 * The groups file, and when its counters started (stats since_ns): if
 * that moved since the last read, they were reset meanwhile, and the
 * counts read then are no base for the gains.
 */
static int kg_read(const char *dir, struct top_state *s, struct tw_kgroup **v,
		   size_t *n)
{
	struct tw_stats st = { 0 };
	int rc;

	rc = tw_stats_read(dir, &st, false);
	if (rc)
		return rc;
	tw_stats_free(&st);
	rc = groups_read(dir, v, n);
	if (rc)
		return rc;
	s->reset = s->since_ns && st.since_ns != s->since_ns;
	s->since_ns = st.since_ns;
	return EXIT_OK;
}

static bool kg_any(const struct tw_kgroup *g)
{
	int r;

	for (r = 0; r < TWTRACE_DEATH_NR; r++)
		if (g->death[r])
			return true;
	return g->live || g->births || g->rearms || g->reuse_ok ||
	       g->reuse_no || g->ovf || g->cfail;
}

/* Group @g's counters as they were at the last interval; NULL: new. */
static const struct tw_kgroup *kg_prev(const struct top_state *s,
				       const struct tw_kgroup *g)
{
	size_t i;

	for (i = 0; i < s->nprev; i++)
		if (s->prev[i].other == g->other &&
		    s->prev[i].netns == g->netns &&
		    s->prev[i].cgroup == g->cgroup)
			return &s->prev[i];
	return NULL;
}

/* The module's counters of @g into @c, less those of @then if any. */
static void kg_counts(struct top_counts *c, const struct tw_kgroup *g,
		      const struct tw_kgroup *then)
{
	static const struct tw_kgroup zero;
	int r;

	if (!then)
		then = &zero;
	c->live += g->live > 0 ? g->live : 0;
	c->births += gain(g->births, then->births);
	c->rearms += gain(g->rearms, then->rearms);
	for (r = 0; r < TWTRACE_DEATH_NR; r++) {
		c->death[r] += gain(g->death[r], then->death[r]);
		c->deaths += gain(g->death[r], then->death[r]);
	}
	c->reuse_ok += gain(g->reuse_ok, then->reuse_ok);
	c->reuse_no += gain(g->reuse_no, then->reuse_no);
	c->ovf += gain(g->ovf, then->ovf);
	c->cfail += gain(g->cfail, then->cfail);
}

/*
 * -g cgroup: the groups file read now, each group's gain since the last
 * read, and its cumulative counts (since the counters' start).
 */
static int kg_interval(const char *dir, struct top_state *s)
{
	struct twtrace_owner o = { .role = TWTRACE_ROLE_CLIENT };
	const struct tw_kgroup *then;
	struct tw_kgroup *v;
	struct top_group *g;
	size_t n, i;
	int rc;

	rc = kg_read(dir, s, &v, &n);
	if (rc)
		return rc;
	for (i = 0; i < n; i++) {
		if (v[i].other) {
			/* the module's bound, not ours: "(other)" too */
			g = &s->g[TOP_GROUPS];
			s->other_used |= kg_any(&v[i]);
		} else {
			o.cgroup = v[i].cgroup;
			g = group(s, v[i].netns, 0, NULL, 0, 0, &o);
		}
		then = s->reset ? NULL : kg_prev(s, &v[i]);
		kg_counts(&g->c, &v[i], then);
		kg_counts(&s->tot.c, &v[i], then);
		kg_counts(&g->total, &v[i], NULL);
		kg_counts(&s->tot.total, &v[i], NULL);
	}
	free(s->prev);
	s->prev = v;
	s->nprev = n;
	return EXIT_OK;
}

/* Per destination of the reader's namespace: the fewest ports left. */
static void headroom(struct top_state *s, const struct pp_table *t)
{
	struct top_group *g;
	size_t i, j;

	for (i = 0; i < s->n; i++) {
		g = &s->g[i];
		if (g->key.netns != t->netns)
			continue;
		g->have_headroom = true;
		g->headroom = t->hi - t->lo + 1;
		for (j = 0; j < t->n; j++)
			if (t->v[j].family == g->key.family &&
			    t->v[j].dport == g->key.port &&
			    !memcmp(t->v[j].daddr, g->key.addr, 16) &&
			    t->v[j].headroom < g->headroom)
				g->headroom = t->v[j].headroom;
	}
}

static __u64 pressure(const struct top_group *g)
{
	return g->c.live + g->c.cfail;
}

static int cmp_groups(const void *a, const void *b)
{
	const struct top_group *x = a, *y = b;

	if (x->have_headroom != y->have_headroom)
		return x->have_headroom ? -1 : 1;
	if (x->have_headroom && x->headroom != y->headroom)
		return x->headroom < y->headroom ? -1 : 1;
	if (pressure(x) != pressure(y))
		return pressure(x) > pressure(y) ? -1 : 1;
	if (x->c.births != y->c.births)
		return x->c.births > y->c.births ? -1 : 1;
	return memcmp(&x->key, &y->key, sizeof(x->key));
}

static void group_name(const struct top_state *s, const struct top_group *g,
		       char *buf, size_t len)
{
	const struct top_key *k = &g->key;
	const char *path;
	char user[64];
	size_t n;

	if (k->other) {
		snprintf(buf, len, "(other)");
		return;
	}
	switch (s->o->by) {
	case BY_DEST:
		fmt_endpoint(buf, len, k->family, k->addr, k->port);
		n = strlen(buf);
		if (k->netns != s->own_netns && n < len)
			snprintf(buf + n, len - n, " netns %u", k->netns);
		break;
	case BY_LPORT:
		snprintf(buf, len, "%u", k->port);
		break;
	case BY_CGROUP:
		path = k->known ? owner_cgroup_path(k->id) : NULL;
		if (!k->known)
			snprintf(buf, len, "-");
		else if (path)
			snprintf(buf, len, "%s", path);
		else
			snprintf(buf, len, "%llu", k->id);
		n = strlen(buf);
		if (k->netns != s->own_netns && n < len)
			snprintf(buf + n, len - n, " netns %u", k->netns);
		break;
	case BY_UID:
		if (!k->known)
			snprintf(buf, len, "-");
		else if (!owner_user(k->id, user, sizeof(user)))
			snprintf(buf, len, "%llu %s", k->id, user);
		else
			snprintf(buf, len, "%llu", k->id);
		break;
	}
}

static __u64 rst(const struct top_group *g)
{
	return g->c.death[TWTRACE_DEATH_RST_RECEIVED] +
	       g->c.death[TWTRACE_DEATH_RST_SENT];
}

static __u64 death_other(const struct top_group *g)
{
	return g->c.deaths - g->c.death[TWTRACE_DEATH_EXPIRED] -
	       g->c.death[TWTRACE_DEATH_REUSED] - rst(g);
}

static const struct tw_col top_cols[] = {
	{ "GROUP", 28, false },
	{ "LIVE", 7, true },
	{ "BIRTHS/s", 9, true },
	{ "DEATHS", 7, true },
	{ "EXPIRED", 7, true },
	{ "REUSED", 7, true },
	{ "RST", 5, true },
	{ "OTHER", 5, true },
	{ "ALLOWED", 7, true },
	{ "REFUSED", 7, true },
	{ "OVF", 5, true },
	{ "CFAIL", 6, true },
	{ "HEADROOM", 8, true },
};

#define TOP_NCOLS	ARRAY_SIZE(top_cols)

static void text_row(const struct top_state *s, const struct top_group *g,
		     double secs)
{
	char cell[TOP_NCOLS][64], name[TW_PATH_MAX];
	const char *vals[TOP_NCOLS];
	size_t i;

	group_name(s, g, name, sizeof(name));
	vals[0] = name;
	for (i = 1; i < TOP_NCOLS; i++)
		vals[i] = cell[i];
	snprintf(cell[1], 64, "%llu", g->c.live);
	snprintf(cell[2], 64, "%.1f", secs > 0 ? g->c.births / secs : 0.0);
	snprintf(cell[3], 64, "%llu", g->c.deaths);
	snprintf(cell[4], 64, "%llu", g->c.death[TWTRACE_DEATH_EXPIRED]);
	snprintf(cell[5], 64, "%llu", g->c.death[TWTRACE_DEATH_REUSED]);
	snprintf(cell[6], 64, "%llu", rst(g));
	snprintf(cell[7], 64, "%llu", death_other(g));
	snprintf(cell[8], 64, "%llu", g->c.reuse_ok);
	snprintf(cell[9], 64, "%llu", g->c.reuse_no);
	snprintf(cell[10], 64, "%llu", g->c.ovf);
	snprintf(cell[11], 64, "%llu", g->c.cfail);
	if (g->have_headroom)
		snprintf(cell[12], 64, "%lld", g->headroom);
	else
		snprintf(cell[12], 64, "-");
	table_row(top_cols, TOP_NCOLS, vals, stdout);
}

/* The counts of an interval of @secs; < 0: cumulative, no live or rate. */
static void json_counts(const struct top_counts *c, double secs)
{
	int i;

	if (secs >= 0)
		printf("\"live\":%llu,\"births\":%llu,\"births_per_s\":%.3f,",
		       c->live, c->births, secs > 0 ? c->births / secs : 0.0);
	else
		printf("\"births\":%llu,", c->births);
	printf("\"rearms\":%llu,\"deaths\":%llu,\"death\":{", c->rearms,
	       c->deaths);
	for (i = 0; i < TWTRACE_DEATH_NR; i++)
		printf("%s\"%s\":%llu", i ? "," : "", tw_death_names[i],
		       c->death[i]);
	printf("},\"reuse_allowed\":%llu,\"reuse_refused\":%llu,",
	       c->reuse_ok, c->reuse_no);
	printf("\"overflows\":%llu,\"connect_fail\":%llu", c->ovf, c->cfail);
}

static void json_group(const struct top_state *s, const struct top_group *g,
		       double secs)
{
	const struct top_key *k = &g->key;
	char name[TW_PATH_MAX], a[64];

	group_name(s, g, name, sizeof(name));
	printf("{\"group\":");
	json_str(stdout, name);
	printf(",\"other\":%s", k->other ? "true" : "false");
	if (!k->other) {
		switch (s->o->by) {
		case BY_DEST:
			fmt_addr(a, sizeof(a), k->family, k->addr);
			printf(",\"netns\":%u,\"family\":%u,\"daddr\":",
			       k->netns, k->family);
			json_str(stdout, a);
			printf(",\"dport\":%u", k->port);
			break;
		case BY_LPORT:
			printf(",\"lport\":%u", k->port);
			break;
		case BY_CGROUP:
			printf(",\"netns\":%u", k->netns);
			if (k->known)
				printf(",\"cgroup_id\":%llu", k->id);
			else
				printf(",\"cgroup_id\":null");
			break;
		case BY_UID:
			if (k->known)
				printf(",\"uid\":%llu", k->id);
			else
				printf(",\"uid\":null");
			break;
		}
	}
	printf(",");
	json_counts(&g->c, secs);
	if (s->o->by == BY_CGROUP) {
		printf(",\"cumulative\":{");
		json_counts(&g->total, -1);
		printf("}");
	}
	if (g->have_headroom)
		printf(",\"headroom\":%lld}", g->headroom);
	else
		printf(",\"headroom\":null}");
}

static void show(struct top_state *s, double secs, __u64 lost)
{
	size_t n = s->n + (s->other_used ? 1 : 0), i;
	struct top_group *v = s->g;
	char hms[32];

	/* used only once TOP_GROUPS are: the slot after them, sorted too */
	if (s->other_used)
		s->g[TOP_GROUPS].key.other = 1;
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_groups);
	if (s->o->json) {
		printf("{\"time_ns\":%llu,\"interval_ns\":%llu,",
		       now_ns(CLOCK_REALTIME), (__u64)(secs * 1e9));
		printf("\"group_by\":\"%s\",\"groups_max\":%d,",
		       by_names[s->o->by], TOP_GROUPS);
		printf("\"source\":\"%s\",",
		       s->o->by == BY_CGROUP ? "groups" : "rings");
		printf("\"other_used\":%s,\"lost\":%llu,\"totals\":{",
		       s->other_used ? "true" : "false", lost);
		json_counts(&s->tot.c, secs);
		printf("},\"groups\":[");
		for (i = 0; i < n; i++) {
			if (i)
				printf(",");
			json_group(s, &v[i], secs);
		}
		printf("]}\n");
		return;
	}
	if (!s->o->no_clear)
		printf("\033[H\033[2J");
	fmt_hms(hms, sizeof(hms), now_ns(CLOCK_REALTIME));
	printf("%s  live %llu  births %llu  deaths %llu  reuse %llu/%llu",
	       hms, s->tot.c.live, s->tot.c.births, s->tot.c.deaths,
	       s->tot.c.reuse_ok, s->tot.c.reuse_no);
	printf("  ovf %llu  cfail %llu", s->tot.c.ovf, s->tot.c.cfail);
	if (s->o->by != BY_CGROUP)
		printf("  lost %llu", lost);
	printf("  groups %zu%s\n", s->n, s->other_used ?
	       " (more keys than the bound: summed in \"(other)\")" : "");
	table_row(top_cols, TOP_NCOLS, NULL, stdout);
	for (i = 0; i < n && i < s->o->rows; i++)
		text_row(s, &v[i], secs);
	printf("\n");
}

static __u64 lost_of(const struct tw_merge *m)
{
	__u64 lost = 0;
	int i;

	for (i = 0; i < m->nsrc; i++)
		lost += m->src[i].dec.self.gaps;
	return lost;
}

/* Every record waiting, consumed. */
static int drain_all(struct tw_merge *m, struct top_state *s)
{
	__u64 before;
	int i, rc;

	do {
		before = m->nread;
		for (i = 0; i < m->nsrc; i++) {
			if (m->src[i].eof)
				continue;
			rc = merge_drain(m, i);
			if (rc)
				return rc;
		}
		merge_emit(m, 0, true, count, s);
	} while (m->nread != before);
	return EXIT_OK;
}

static int interval(const char *dir, struct tw_merge *m,
		    struct top_state *s, double secs, __u64 *lost)
{
	struct tw_filter f = { 0 };
	struct tw_sock *v;
	struct pp_table t;
	__u64 l;
	size_t n;
	int rc;

	s->n = 0;
	s->other_used = false;
	memset(s->hash, 0xff, TOP_HASH * sizeof(*s->hash));
	memset(&s->g[TOP_GROUPS], 0, sizeof(s->g[TOP_GROUPS]));
	memset(&s->tot, 0, sizeof(s->tot));
	if (s->o->by == BY_CGROUP) {
		rc = kg_interval(dir, s);
		if (rc)
			return rc;
		goto shown;
	}
	rc = drain_all(m, s);
	if (rc)
		return rc;
	rc = read_live(dir, &f, &v, &n);
	if (rc)
		return rc;
	count_live(s, v, n);
	free(v);
	/* Without sock_diag (said once), no headroom: "-". */
	if (s->o->by == BY_DEST && !s->no_headroom) {
		if (ports_read(NULL, &t)) {
			s->no_headroom = true;
		} else {
			headroom(s, &t);
			ports_free(&t);
		}
	}
shown:
	l = lost_of(m);
	show(s, secs, l - *lost);
	*lost = l;
	return tw_flush() ? EXIT_ERR : EXIT_OK;
}

static int parse_args(struct top_opts *o, int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "group", required_argument, NULL, 'g' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, i;

	o->rows = TOP_ROWS;
	o->interval = 1000000000ULL;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":Cg:n:jh", lopts, NULL)) != -1) {
		switch (c) {
		case 'C':
			o->no_clear = true;
			break;
		case 'j':
			o->json = true;
			break;
		case 'g':
			for (i = 0; i < (int)ARRAY_SIZE(by_names); i++)
				if (!strcmp(optarg, by_names[i]))
					break;
			if (i == (int)ARRAY_SIZE(by_names))
				return usage_err(top_usage,
						 "-g '%s': not dest, lport, cgroup or uid",
						 optarg);
			o->by = i;
			break;
		case 'n':
			if (parse_u64(optarg, &o->rows) || !o->rows)
				return usage_err(top_usage,
						 "-n '%s': not a positive number",
						 optarg);
			break;
		default:
			return opt_err(c, argv, top_usage);
		}
	}
	if (optind < argc) {
		if (parse_secs(argv[optind], &o->interval) || !o->interval)
			return usage_err(top_usage,
					 "INTERVAL '%s': not a positive number of seconds",
					 argv[optind]);
		optind++;
	}
	if (optind < argc) {
		if (parse_u64(argv[optind], &o->count) || !o->count)
			return usage_err(top_usage,
					 "COUNT '%s': not a positive number",
					 argv[optind]);
		optind++;
	}
	return opt_extra(argc, argv, top_usage);
}

int cmd_top(int argc, char **argv)
{
	struct top_opts o = { 0 };
	struct top_state s = { .o = &o };
	struct tw_merge m = { 0 };
	struct timespec next;
	struct sigaction sa;
	__u64 n = 0, t0, t1, lost = 0;
	const char *dir;
	struct stat st;
	size_t rsz;
	int rc;

	rc = parse_args(&o, argc, argv);
	if (rc)
		return rc == OPT_HELP ? EXIT_OK : rc;
	dir = tw_module(&rc, &rsz);
	if (!dir)
		return rc;
	if (!stat("/proc/self/ns/net", &st))
		s.own_netns = st.st_ino;
	s.g = calloc(TOP_GROUPS + 1, sizeof(*s.g));
	s.hash = calloc(TOP_HASH, sizeof(*s.hash));
	if (!s.g || !s.hash) {
		tw_err("out of memory");
		rc = EXIT_ERR;
		goto out;
	}
	/* By cgroup, the module's counters, read once now to start from. */
	if (o.by == BY_CGROUP)
		rc = kg_read(dir, &s, &s.prev, &s.nprev);
	else
		rc = merge_open(&m, dir, rsz);
	if (rc)
		goto out;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	t0 = now_ns(CLOCK_MONOTONIC);
	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!stop && (!o.count || n < o.count)) {
		next.tv_sec += o.interval / 1000000000ULL;
		next.tv_nsec += o.interval % 1000000000ULL;
		if (next.tv_nsec >= 1000000000L) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000L;
		}
		if (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next,
				    NULL) && stop)
			break;
		t1 = now_ns(CLOCK_MONOTONIC);
		rc = interval(dir, &m, &s, (t1 - t0) / 1e9, &lost);
		if (rc)
			break;
		t0 = t1;
		n++;
	}
out:
	merge_free(&m);
	free(s.prev);
	free(s.g);
	free(s.hash);
	owner_free();
	return rc;
}
