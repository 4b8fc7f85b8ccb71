// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace reader: the client-side filters (-4 -6 -L -D -N -e -r -u
 * --cgroup).
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

/* One user of -u @arg: a name or a uid. */
static int add_user(struct tw_filter *f, const char *arg, const char *s)
{
	__u32 uid, *u;
	int err = owner_uid(s, &uid);

	if (err == -ERANGE) {
		tw_err("-u %s: %s is not a uid (0-4294967295)", arg, s);
		return -1;
	}
	if (err) {
		tw_err("-u %s: no user '%s' in %s (a user name or a uid)", arg,
		       s, owner_passwd());
		return -1;
	}
	u = realloc(f->uids, (f->nuids + 1) * sizeof(*u));
	if (!u) {
		tw_err("out of memory");
		return -1;
	}
	f->uids = u;
	f->uids[f->nuids++] = uid;
	return 0;
}

/* -u alice,33: a comma list of user names or uids, added to earlier ones. */
int filter_user(struct tw_filter *f, const char *arg)
{
	char *copy = strdup(arg), *s, *save = NULL;
	size_t before = f->nuids;
	int rc = 0;

	if (!copy) {
		tw_err("out of memory");
		return -1;
	}
	for (s = strtok_r(copy, ",", &save); s && !rc;
	     s = strtok_r(NULL, ",", &save))
		rc = add_user(f, arg, s);
	free(copy);
	if (!rc && f->nuids == before) {
		tw_err("-u '%s': no user named", arg);
		rc = -1;
	}
	return rc;
}

/*
 * --cgroup PATH: a cgroup and its descendants, by the path shown (from
 * the cgroup2 mount's root) or the directory's absolute path; repeated,
 * any of them.  It must exist now; what is under it is matched by path,
 * so cgroups made later match too.
 */
int filter_cgroup(struct tw_filter *f, const char *arg)
{
	const char *mnt = owner_cgroup_mount();
	char path[TW_PATH_MAX], **c;
	int err;

	if (!mnt) {
		tw_err("--cgroup %s: no cgroup2 file system is mounted (none in /proc/self/mountinfo)",
		       arg);
		return -1;
	}
	err = owner_cgroup_arg(arg, path, sizeof(path));
	if (err == -EINVAL) {
		tw_err("--cgroup '%s': not a cgroup path (from the root of %s, or under it; no '.' or '..')",
		       arg, mnt);
		return -1;
	}
	if (err == -ENOTDIR || err == -EXDEV) {
		tw_err("--cgroup %s: %s%s is not a cgroup", arg,
		       strcmp(mnt, "/") ? mnt : "", path);
		return -1;
	}
	if (err) {
		tw_err("--cgroup %s: no cgroup %s under %s: %s", arg, path, mnt,
		       strerror(-err));
		return -1;
	}
	c = realloc(f->cgroups, (f->ncgroups + 1) * sizeof(*c));
	if (!c) {
		tw_err("out of memory");
		return -1;
	}
	f->cgroups = c;
	f->cgroups[f->ncgroups] = strdup(path);
	if (!f->cgroups[f->ncgroups]) {
		tw_err("out of memory");
		return -1;
	}
	f->ncgroups++;
	return 0;
}

/* -u and --cgroup: an owner that is not known matches neither. */
bool filter_owner(const struct tw_filter *f, const struct twtrace_owner *o)
{
	bool known = o->role > TWTRACE_ROLE_UNKNOWN &&
		     o->role < TWTRACE_ROLE_NR;
	const char *path;
	size_t i;

	if (f->nuids) {
		if (!known)
			return false;
		for (i = 0; i < f->nuids && f->uids[i] != o->uid; i++)
			;
		if (i == f->nuids)
			return false;
	}
	if (f->ncgroups) {
		path = known && o->cgroup ? owner_cgroup_path(o->cgroup) : NULL;
		if (!path)
			return false;
		for (i = 0; i < f->ncgroups; i++)
			if (owner_cgroup_under(path, f->cgroups[i]))
				return true;
		return false;
	}
	return true;
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
	return filter_tuple(f, r->family, r->sport, r->dport, r->netns) &&
	       filter_owner(f, &r->owner);
}

void filter_free(struct tw_filter *f)
{
	size_t i;

	free(f->lports);
	free(f->dports);
	free(f->uids);
	for (i = 0; i < f->ncgroups; i++)
		free(f->cgroups[i]);
	free(f->cgroups);
	f->lports = NULL;
	f->dports = NULL;
	f->uids = NULL;
	f->cgroups = NULL;
	f->nuids = 0;
	f->ncgroups = 0;
}
