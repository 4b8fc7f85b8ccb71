// SPDX-License-Identifier: GPL-2.0
/*
 * The module's "groups" file: its counters per (netns, cgroup) group, the
 * last line "other" (netns and cgroup "-").  Columns are found by the
 * names in the header line, so that columns a newer module adds are
 * skipped and a missing one reads as zero.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reader.h"

#define GROUP_COLS	64

/* Where column @name goes in @g; NULL: not one the reader knows. */
static __u64 *group_field(struct tw_kgroup *g, const char *name)
{
	int r;

	if (!strcmp(name, "births"))
		return &g->births;
	if (!strcmp(name, "rearms"))
		return &g->rearms;
	if (!strcmp(name, "reuse_allowed"))
		return &g->reuse_ok;
	if (!strcmp(name, "reuse_refused"))
		return &g->reuse_no;
	if (!strcmp(name, "overflow"))
		return &g->ovf;
	if (!strcmp(name, "connect_fail"))
		return &g->cfail;
	if (strncmp(name, "death_", 6))
		return NULL;
	r = tw_name_index(tw_death_names, TWTRACE_DEATH_NR, name + 6);
	return r < 0 ? NULL : &g->death[r];
}

/* One line of @ncols tokens into @g: 0, or -1 if it does not parse. */
static int parse_group(char **tok, char **cols, int ncols,
		       struct tw_kgroup *g)
{
	__u64 v, *p;
	bool neg;
	int i;

	memset(g, 0, sizeof(*g));
	for (i = 0; i < ncols; i++) {
		if (!strcmp(cols[i], "netns") || !strcmp(cols[i], "cgroup")) {
			if (!strcmp(tok[i], "-")) {
				g->other = true;
				continue;
			}
			if (parse_u64(tok[i], &v))
				return -1;
			if (cols[i][0] == 'n' && v > UINT32_MAX)
				return -1;
			if (cols[i][0] == 'n')
				g->netns = v;
			else
				g->cgroup = v;
		} else if (!strcmp(cols[i], "live")) {
			neg = tok[i][0] == '-';
			if (parse_u64(tok[i] + neg, &v) || v > INT64_MAX)
				return -1;
			g->live = neg ? -(__s64)v : (__s64)v;
		} else {
			p = group_field(g, cols[i]);
			if (p && parse_u64(tok[i], p))
				return -1;
		}
	}
	return 0;
}

int groups_read(const char *dir, struct tw_kgroup **out, size_t *count)
{
	char *buf, *cur, *line, *tok[GROUP_COLS + 1], *cols[GROUP_COLS + 1];
	struct tw_kgroup *v = NULL, *nv;
	int rc, lineno = 0, ncols = 0, n_tok;
	size_t n = 0, size = 0;

	if (tw_read_text(dir, "groups", &buf, &rc))
		return rc;
	cur = buf;
	rc = EXIT_OK;
	while ((line = tw_next_line(&cur))) {
		lineno++;
		if (line[0] == '#') {
			ncols = tw_split(line + 1, cols, GROUP_COLS);
			if (ncols > GROUP_COLS) {
				tw_err("%s/groups: more than %d columns",
				       dir, GROUP_COLS);
				rc = EXIT_DATA;
				break;
			}
			continue;
		}
		n_tok = tw_split(line, tok, GROUP_COLS);
		if (!n_tok)
			continue;
		nv = tw_grow(v, &size, n, sizeof(*v));
		if (!nv) {
			rc = EXIT_ERR;
			break;
		}
		v = nv;
		if (ncols < 3 || n_tok != ncols ||
		    parse_group(tok, cols, ncols, &v[n])) {
			tw_err("%s/groups: line %d: not as its header says",
			       dir, lineno);
			rc = EXIT_DATA;
			break;
		}
		n++;
	}
	free(buf);
	if (rc) {
		free(v);
		return rc;
	}
	*out = v;
	*count = n;
	return EXIT_OK;
}
