// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace stat --prometheus, grouped series, of bounded cardinality:
 * - per (netns, cgroup), the module's own counters and live sockets (the
 *   groups file): at most as many groups as its "groups" parameter, the
 *   rest in cgroup="other";
 * - per destination, gauges of the live file: the PROM_TOP largest, the
 *   rest summed in one "other" series (the module counts no events per
 *   destination, and a reader cannot without consuming the records).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "reader.h"

#define PROM_TOP	20

static const char *const help_dest[] = {
	"TIME_WAIT sockets alive now, by network namespace and destination: the ",
	" largest, the rest in daddr=\"other\".",
};

static const char *const help_headroom[] = {
	"Local ports a new connect() from laddr to the destination can still take ",
	"(ip_local_port_range less the sockets using one; ip_local_reserved_ports not subtracted), ",
	"for the destinations above in the reader's network namespace.",
};

struct pg {
	__u64 n;
	__u32 netns;
	int family;
	unsigned int dport;
	__u8 daddr[16];
};

static int cmp_dest(const void *a, const void *b)
{
	const struct pg *x = a, *y = b;
	int c;

	if (x->netns != y->netns)
		return x->netns < y->netns ? -1 : 1;
	if (x->family != y->family)
		return x->family - y->family;
	c = memcmp(x->daddr, y->daddr, 16);
	if (c)
		return c;
	return (int)x->dport - (int)y->dport;
}

static int cmp_count(const void *a, const void *b)
{
	const struct pg *x = a, *y = b;

	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	return 0;
}

/* Sorted by @cmp, summed per key, then largest first: the count left. */
static size_t collapse(struct pg *v, size_t n,
		       int (*cmp)(const void *, const void *))
{
	size_t i, j;

	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp);
	for (i = 1, j = 1; i < n; i++) {
		if (!cmp(&v[j - 1], &v[i]))
			v[j - 1].n += v[i].n;
		else
			v[j++] = v[i];
	}
	qsort(v, j, sizeof(*v), cmp_count);
	return j;
}

/* A label's value: backslash, double quote and newline escaped. */
static void label(const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			printf("\\%c", *s);
		else if (*s == '\n')
			printf("\\n");
		else
			putchar(*s);
	}
}

/* A group's labels: its netns and its cgroup's path ("unknown": 0). */
static void group_labels(const struct tw_kgroup *g)
{
	const char *path = NULL;
	char id[24];

	if (g->other) {
		printf("netns=\"\",cgroup=\"other\"");
		return;
	}
	if (g->cgroup)
		path = owner_cgroup_path(g->cgroup);
	if (!g->cgroup)
		path = "unknown";
	else if (!path)
		path = (snprintf(id, sizeof(id), "%llu", g->cgroup), id);
	printf("netns=\"%u\",cgroup=\"", g->netns);
	label(path);
	printf("\"");
}

/* A sample of @g's: its labels, then @more ("" or ",name=\"value\""). */
static void group_sample(const char *name, const struct tw_kgroup *g,
			 const char *more, long long value)
{
	printf("%s{", name);
	group_labels(g);
	printf("%s} %lld\n", more, value);
}

/* One counter of every group, and its lines' header. */
static void group_counter(const struct tw_kgroup *v, size_t n,
			  const char *name, const char *help, size_t off)
{
	size_t i;

	prom_head(name, "counter", help);
	for (i = 0; i < n; i++)
		group_sample(name, &v[i], "",
			     *(const __u64 *)((const char *)&v[i] + off));
}

#define GROUP_HELP " by network namespace and cgroup of the owner (the module's groups parameter bounds them; the rest: cgroup=\"other\")."

static void group_series(const struct tw_kgroup *v, size_t n)
{
	char reason[64];
	size_t i;
	int r;

	prom_head("twtrace_live_sockets", "gauge",
		  "TIME_WAIT sockets alive now (born since the load)," GROUP_HELP);
	for (i = 0; i < n; i++)
		group_sample("twtrace_live_sockets", &v[i], "", v[i].live);
	group_counter(v, n, "twtrace_group_births_total",
		      "TCP sockets that entered TIME_WAIT," GROUP_HELP,
		      offsetof(struct tw_kgroup, births));
	prom_head("twtrace_group_deaths_total", "counter",
		  "TIME_WAIT sockets that ended, by reason," GROUP_HELP);
	for (i = 0; i < n; i++) {
		for (r = 0; r < TWTRACE_DEATH_NR; r++) {
			snprintf(reason, sizeof(reason), ",reason=\"%s\"",
				 tw_death_names[r]);
			group_sample("twtrace_group_deaths_total", &v[i], reason,
				     v[i].death[r]);
		}
	}
	prom_head("twtrace_group_reuse_decisions_total", "counter",
		  "Decisions on reusing a TIME_WAIT socket's tuple, by the connecting socket's owner,"
		  GROUP_HELP);
	for (i = 0; i < n; i++) {
		group_sample("twtrace_group_reuse_decisions_total", &v[i],
			     ",allowed=\"true\"", v[i].reuse_ok);
		group_sample("twtrace_group_reuse_decisions_total", &v[i],
			     ",allowed=\"false\"", v[i].reuse_no);
	}
	group_counter(v, n, "twtrace_group_overflows_total",
		      "Connections that got no TIME_WAIT socket," GROUP_HELP,
		      offsetof(struct tw_kgroup, ovf));
	group_counter(v, n, "twtrace_group_connect_failures_total",
		      "connect() calls that found no local port," GROUP_HELP,
		      offsetof(struct tw_kgroup, cfail));
}

static void dest_series(struct pg *v, size_t n, const struct pp_table *t)
{
	__u64 rest = 0;
	char a[64];
	size_t i, j;
	bool any;

	printf("# HELP twtrace_live_destination_sockets %s%d%s\n",
	       help_dest[0], PROM_TOP, help_dest[1]);
	printf("# TYPE twtrace_live_destination_sockets gauge\n");
	for (i = 0; i < n; i++) {
		if (i >= PROM_TOP) {
			rest += v[i].n;
			continue;
		}
		fmt_addr(a, sizeof(a), v[i].family, v[i].daddr);
		printf("twtrace_live_destination_sockets{netns=\"%u\",", v[i].netns);
		printf("daddr=\"%s\",dport=\"%u\"} %llu\n", a, v[i].dport,
		       v[i].n);
	}
	printf("twtrace_live_destination_sockets{netns=\"\",");
	printf("daddr=\"other\",dport=\"\"} %llu\n", rest);
	if (!t)
		return;
	printf("# HELP twtrace_port_headroom %s%s%s\n", help_headroom[0],
	       help_headroom[1], help_headroom[2]);
	printf("# TYPE twtrace_port_headroom gauge\n");
	for (i = 0; i < n && i < PROM_TOP; i++) {
		if (v[i].netns != t->netns)
			continue;
		fmt_addr(a, sizeof(a), v[i].family, v[i].daddr);
		any = false;
		for (j = 0; j < t->n; j++) {
			const struct pp_dest *d = &t->v[j];
			char l[64];

			if (d->family != v[i].family ||
			    d->dport != v[i].dport ||
			    memcmp(d->daddr, v[i].daddr, 16))
				continue;
			fmt_addr(l, sizeof(l), d->family, d->laddr);
			printf("twtrace_port_headroom{daddr=\"%s\",", a);
			printf("dport=\"%u\",laddr=\"%s\"} %lld\n",
			       v[i].dport, l, d->headroom);
			any = true;
		}
		if (!any)
			printf("twtrace_port_headroom{daddr=\"%s\",dport=\"%u\",laddr=\"\"} %u\n",
			       a, v[i].dport, t->hi - t->lo + 1);
	}
}

int prom_groups(const char *dir)
{
	struct tw_filter f = { 0 };
	struct tw_kgroup *kg = NULL;
	struct pg *dst = NULL;
	struct tw_sock *s;
	struct pp_table t;
	size_t n, nk, i;
	bool have_t;
	int rc;

	rc = groups_read(dir, &kg, &nk);
	if (rc)
		return rc;
	group_series(kg, nk);
	free(kg);
	rc = read_live(dir, &f, &s, &n);
	if (rc)
		return rc;
	if (n) {
		dst = calloc(n, sizeof(*dst));
		if (!dst) {
			tw_err("out of memory");
			rc = EXIT_ERR;
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		dst[i].n = 1;
		dst[i].netns = s[i].netns;
		memcpy(dst[i].daddr, s[i].daddr, 16);
		dst[i].family = addr_unmap(s[i].family, dst[i].daddr);
		dst[i].dport = s[i].dport;
	}
	/* Headroom is of the reader's namespace; not an error if unknown. */
	have_t = !ports_read(NULL, &t);
	dest_series(dst, collapse(dst, n, cmp_dest), have_t ? &t : NULL);
	if (have_t)
		ports_free(&t);
out:
	free(dst);
	free(s);
	return rc;
}
