// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace ls: the TIME_WAIT sockets alive now, with their age (like
 * "ss -tan state time-wait", which shows the time left instead).
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "reader.h"

#define LIVE_COLS	12	/* those this reader knows */

static void ls_usage(FILE *f)
{
	fprintf(f,
		"Usage: %s ls [-j] [-x] [-4|-6] [-L PORTS] [-D PORTS] [-N NETNS] [-u USERS]\n"
		"          [--cgroup PATH]\n"
		"\n"
		"The TIME_WAIT sockets alive now that the module saw born, oldest first, with\n"
		"their substate (FIN_WAIT2 or TIME_WAIT), rearms and age.\n"
		"\n"
		"  -4, -6       IPv4 or IPv6 only\n"
		"  -L PORTS     local ports, e.g. 80,443,8000-8100\n"
		"  -D PORTS     remote ports\n"
		"  -N NETNS     network namespace: inode number, name under /run/netns, or path\n"
		"  -u, --user USERS\n"
		"               comma list of user names or uids: the sockets' owners\n"
		"  --cgroup PATH\n"
		"               sockets of this cgroup and those under it: the path from the\n"
		"               cgroup2 mount's root, or the directory's absolute path\n"
		"  -x           also the network namespace, the module's socket id and the\n"
		"               owner: role, uid, user, cookie, unit, cgroup\n"
		"  -j, --json   one JSON object per socket\n"
		"  -h, --help\n",
		prog);
}

/* "10.0.0.1:80" or "[2001:db8::1]:80". */
static int parse_endpoint(char *s, int family, __u8 *addr,
			  unsigned int *port)
{
	char *colon;
	__u64 p;

	memset(addr, 0, 16);
	if (family == 6) {
		if (*s != '[')
			return -1;
		colon = strstr(s, "]:");
		if (!colon)
			return -1;
		*colon = '\0';
		s++;
		colon++;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -1;
		*colon = '\0';
	}
	if (inet_pton(family == 6 ? AF_INET6 : AF_INET, s, addr) != 1)
		return -1;
	if (parse_u64(colon + 1, &p) || p > 65535)
		return -1;
	*port = p;
	return 0;
}

/*
 * "<uid> <cgroup> <cookie> <role>": uid "-" when the role is unknown,
 * cgroup "-" when not known.
 */
static int parse_owner(char **tok, struct twtrace_owner *o)
{
	int role = tw_name_index(tw_role_names, TWTRACE_ROLE_NR, tok[3]);
	__u64 v;

	if (role < 0 || parse_u64(tok[2], &o->cookie))
		return -1;
	o->role = role;
	if (role == TWTRACE_ROLE_UNKNOWN) {
		/* nothing but the cookie is known */
		return strcmp(tok[0], "-") || strcmp(tok[1], "-") ? -1 : 0;
	}
	if (parse_u64(tok[0], &v) || v > 0xffffffffULL)
		return -1;
	o->uid = v;
	if (!strcmp(tok[1], "-"))
		o->cgroup = 0;
	else if (parse_u64(tok[1], &o->cgroup) || !o->cgroup)
		return -1;
	return 0;
}

/* A line's columns, @n of them: 8, or 12 and more (the owner's). */
static int parse_sock(char **tok, int n, struct tw_sock *t)
{
	__u64 v;

	memset(t, 0, sizeof(*t));
	if (n != 8 && n < 12)
		return -1;
	if (n >= 12 && parse_owner(tok + 8, &t->owner))
		return -1;

	if (parse_u64(tok[0], &t->id) || parse_u64(tok[1], &v) ||
	    v > 0xffffffffULL)
		return -1;
	t->netns = v;
	if (!strcmp(tok[2], "4"))
		t->family = 4;
	else if (!strcmp(tok[2], "6"))
		t->family = 6;
	else
		return -1;
	if (parse_endpoint(tok[3], t->family, t->saddr, &t->sport) ||
	    parse_endpoint(tok[4], t->family, t->daddr, &t->dport))
		return -1;
	if (!strcmp(tok[5], "TIME_WAIT"))
		t->substate = "TIME_WAIT";
	else if (!strcmp(tok[5], "FIN_WAIT2"))
		t->substate = "FIN_WAIT2";
	else
		return -1;
	if (parse_u64(tok[6], &t->age_ns) || parse_u64(tok[7], &t->rearms))
		return -1;
	return 0;
}

static int cmp_age(const void *a, const void *b)
{
	const struct tw_sock *x = a, *y = b;

	if (x->age_ns != y->age_ns)
		return x->age_ns > y->age_ns ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/*
 * The "live" file, filtered; *out freed by the caller.  Columns are only
 * ever added at the end: those past the owner's are not read, and a line
 * of an older module has none of the owner's.
 */
int read_live(const char *dir, const struct tw_filter *f,
	      struct tw_sock **out, size_t *count)
{
	char *buf, *cur, *line, *tok[LIVE_COLS + 1];
	struct tw_sock *v = NULL, *nv, t;
	size_t n = 0, size = 0;
	int rc, lineno = 0, n_tok;

	if (tw_read_text(dir, "live", &buf, &rc))
		return rc;
	cur = buf;
	rc = EXIT_OK;
	while ((line = tw_next_line(&cur))) {
		lineno++;
		if (line[0] == '#')
			continue;
		n_tok = tw_split(line, tok, LIVE_COLS);
		if (!n_tok)
			continue;
		if (parse_sock(tok, n_tok, &t)) {
			tw_err("%s/live: line %d: not 'id netns family local remote substate age_ns rearms [uid cgroup cookie role]'",
			       dir, lineno);
			rc = EXIT_DATA;
			break;
		}
		if (!filter_tuple(f, t.family, t.sport, t.dport, t.netns) ||
		    !filter_owner(f, &t.owner))
			continue;
		nv = tw_grow(v, &size, n, sizeof(*v));
		if (!nv) {
			rc = EXIT_ERR;
			break;
		}
		v = nv;
		v[n++] = t;
	}
	free(buf);
	if (rc) {
		free(v);
		return rc;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_age);
	*out = v;
	*count = n;
	return EXIT_OK;
}

static void ls_json(const struct tw_sock *t)
{
	char a[64];

	printf("{\"id\":%llu,\"netns\":%u,\"family\":%d,\"saddr\":", t->id,
	       t->netns, t->family);
	fmt_addr(a, sizeof(a), t->family, t->saddr);
	json_str(stdout, a);
	printf(",\"sport\":%u,\"daddr\":", t->sport);
	fmt_addr(a, sizeof(a), t->family, t->daddr);
	json_str(stdout, a);
	printf(",\"dport\":%u,\"substate\":\"%s\",\"age_ns\":%llu,\"rearms\":%llu",
	       t->dport, t->substate, t->age_ns, t->rearms);
	fmt_owner_json(&t->owner);
	printf("}\n");
}

/* -x adds the Netns, Id and the owner's columns; widths: the widest value. */
static const struct {
	struct tw_col col;
	bool ext;
} ls_cols[] = {
	{ { "State", 0, false }, false },
	{ { "Netns", 0, true }, true },
	{ { "Id", 0, true }, true },
	{ { "Local Address:Port", 0, false }, false },
	{ { "Peer Address:Port", 0, false }, false },
	{ { "Rearms", 0, true }, false },
	{ { "Age(ms)", 0, true }, false },
	/* the owner's, last: the unit and the path have no bound */
	{ { "Role", 0, false }, true },
	{ { "Uid", 0, true }, true },
	{ { "User", 0, false }, true },
	{ { "Cookie", 0, true }, true },
	{ { "Unit", 0, false }, true },
	{ { "Cgroup", 0, false }, true },
};

#define LS_COLS	ARRAY_SIZE(ls_cols)

struct ls_row {
	char c[7][64];
	struct tw_owner_text o;
	const char *val[LS_COLS];
};

/* The owner's names are looked up only when shown (@ext). */
static void ls_fill(const struct tw_sock *t, struct ls_row *w, bool ext)
{
	snprintf(w->c[0], 64, "%s", t->substate);
	snprintf(w->c[1], 64, "%u", t->netns);
	snprintf(w->c[2], 64, "%llu", t->id);
	fmt_endpoint(w->c[3], 64, t->family, t->saddr, t->sport);
	fmt_endpoint(w->c[4], 64, t->family, t->daddr, t->dport);
	snprintf(w->c[5], 64, "%llu", t->rearms);
	fmt_ms(w->c[6], 64, t->age_ns);
	if (!ext)
		return;
	fmt_owner_text(&t->owner, &w->o);
	w->val[7] = w->o.role;
	w->val[8] = w->o.uid;
	w->val[9] = w->o.user;
	w->val[10] = w->o.cookie;
	w->val[11] = w->o.unit;
	w->val[12] = w->o.cgroup;
}

/* ss-like: columns as wide as their widest value. */
static void ls_text(const struct tw_sock *v, size_t n, bool ext)
{
	struct tw_col cols[LS_COLS];
	const char *val[LS_COLS];
	struct ls_row w;
	int i, len, ncols = 0, pick[LS_COLS];
	size_t k;

	for (i = 0; i < 7; i++)
		w.val[i] = w.c[i];
	for (i = 0; i < (int)LS_COLS; i++) {
		if (!ext && ls_cols[i].ext)
			continue;
		pick[ncols] = i;
		cols[ncols] = ls_cols[i].col;
		cols[ncols++].width = strlen(ls_cols[i].col.head);
	}
	for (k = 0; k < n; k++) {
		ls_fill(&v[k], &w, ext);
		for (i = 0; i < ncols; i++) {
			len = strlen(w.val[pick[i]]);
			if (len > cols[i].width)
				cols[i].width = len;
		}
	}
	table_row(cols, ncols, NULL, stdout);
	for (k = 0; k < n; k++) {
		ls_fill(&v[k], &w, ext);
		for (i = 0; i < ncols; i++)
			val[i] = w.val[pick[i]];
		table_row(cols, ncols, val, stdout);
	}
}

int cmd_ls(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "user", required_argument, NULL, 'u' },
		{ "cgroup", required_argument, NULL, OPT_CGROUP },
		{ NULL, 0, NULL, 0 }
	};
	struct tw_filter f;
	bool json = false, ext = false;
	struct tw_sock *v = NULL;
	const char *dir;
	size_t n = 0, k;
	int c, rc = EXIT_OK;

	memset(&f, 0, sizeof(f));
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":46L:D:N:u:jxh", longopts,
				NULL)) != -1) {
		switch (c) {
		case '4':
		case '6':
			f.family_set = true;
			f.family[c - '0'] = true;
			break;
		case 'L':
		case 'D':
			if (filter_ports(c == 'L' ? &f.lports : &f.dports,
					 optarg, c == 'L' ? "-L" : "-D"))
				rc = usage_err(ls_usage, "bad filter");
			break;
		case 'N':
			if (filter_netns(&f, optarg))
				rc = usage_err(ls_usage, "bad filter");
			break;
		case 'u':
			if (filter_user(&f, optarg))
				rc = usage_err(ls_usage, "bad filter");
			break;
		case OPT_CGROUP:
			if (filter_cgroup(&f, optarg))
				rc = usage_err(ls_usage, "bad filter");
			break;
		case 'j':
			json = true;
			break;
		case 'x':
			ext = true;
			break;
		default:
			rc = opt_err(c, argv, ls_usage);
		}
		if (rc)
			goto out;
	}
	rc = opt_extra(argc, argv, ls_usage);
	if (rc)
		goto out;
	dir = tw_module(&rc, NULL);
	if (!dir)
		goto out;
	rc = read_live(dir, &f, &v, &n);
	if (rc)
		goto out;
	if (json)
		for (k = 0; k < n; k++)
			ls_json(&v[k]);
	else
		ls_text(v, n, ext);
	rc = tw_flush();
out:
	free(v);
	filter_free(&f);
	owner_free();
	return rc == OPT_HELP ? EXIT_OK : rc;
}
