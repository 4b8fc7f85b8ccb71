// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace stat --prometheus: gauges of the live file, grouped, with a
 * bounded cardinality: the PROM_TOP largest groups, the rest summed in one
 * "other" series.  Counters by cgroup or destination are not exported: the
 * module counts per reason only, and a reader cannot count them exactly
 * without consuming the records (which stream and top do).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "reader.h"

#define PROM_TOP	20

static const char *const help_cgroup[] = {
	"TIME_WAIT sockets alive now, by network namespace and cgroup of their owner: the ",
	" largest, the rest in cgroup=\"other\".",
};

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
	__u64 cgroup;		/* ~0: not known */
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

static int cmp_cgroup(const void *a, const void *b)
{
	const struct pg *x = a, *y = b;

	if (x->netns != y->netns)
		return x->netns < y->netns ? -1 : 1;
	if (x->cgroup != y->cgroup)
		return x->cgroup < y->cgroup ? -1 : 1;
	return 0;
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

static void cgroup_series(struct pg *v, size_t n)
{
	__u64 rest = 0;
	const char *path;
	char id[24];
	size_t i;

	printf("# HELP twtrace_live_sockets %s%d%s\n", help_cgroup[0], PROM_TOP,
	       help_cgroup[1]);
	printf("# TYPE twtrace_live_sockets gauge\n");
	for (i = 0; i < n; i++) {
		if (i >= PROM_TOP) {
			rest += v[i].n;
			continue;
		}
		path = NULL;
		if (v[i].cgroup != ~0ULL)
			path = owner_cgroup_path(v[i].cgroup);
		if (v[i].cgroup == ~0ULL)
			path = "unknown";
		else if (!path)
			path = (snprintf(id, sizeof(id), "%llu", v[i].cgroup),
				id);
		printf("twtrace_live_sockets{netns=\"%u\",cgroup=\"",
		       v[i].netns);
		label(path);
		printf("\"} %llu\n", v[i].n);
	}
	printf("twtrace_live_sockets{netns=\"\",cgroup=\"other\"} %llu\n",
	       rest);
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
	struct pg *cg = NULL, *dst = NULL;
	struct tw_sock *s;
	struct pp_table t;
	bool have_t;
	size_t n, i;
	int rc;

	rc = read_live(dir, &f, &s, &n);
	if (rc)
		return rc;
	if (n) {
		cg = calloc(n, sizeof(*cg));
		dst = calloc(n, sizeof(*dst));
		if (!cg || !dst) {
			tw_err("out of memory");
			rc = EXIT_ERR;
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		bool known = s[i].owner.role > TWTRACE_ROLE_UNKNOWN &&
			     s[i].owner.role < TWTRACE_ROLE_NR &&
			     s[i].owner.cgroup;

		cg[i].n = 1;
		cg[i].netns = s[i].netns;
		cg[i].cgroup = known ? s[i].owner.cgroup : ~0ULL;
		dst[i].n = 1;
		dst[i].netns = s[i].netns;
		memcpy(dst[i].daddr, s[i].daddr, 16);
		dst[i].family = addr_unmap(s[i].family, dst[i].daddr);
		dst[i].dport = s[i].dport;
	}
	cgroup_series(cg, collapse(cg, n, cmp_cgroup));
	/* Headroom is of the reader's namespace; not an error if unknown. */
	have_t = !ports_read(NULL, &t);
	dest_series(dst, collapse(dst, n, cmp_dest), have_t ? &t : NULL);
	if (have_t)
		ports_free(&t);
out:
	free(cg);
	free(dst);
	free(s);
	return rc;
}
