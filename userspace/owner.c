// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace reader: who owned a TIME_WAIT socket.
 *
 * The module records the full socket's uid and cgroup v2 id when it goes
 * to TIME_WAIT (a tw has no owner of its own).  Here they get names, from
 * the host the reader runs on, when it reads them:
 *
 *  - uid to user name from the passwd file (the reader is static, so no
 *    NSS; a uid with no line stays a number);
 *  - cgroup v2 id to path: a cgroup v2 id is the inode number of the
 *    cgroup's directory on the cgroup2 mount, so one walk of the mount
 *    maps them all (walked again, at most once a second, on a miss: a
 *    cgroup made after the walk);
 *  - path to the systemd unit or container it names, if any.
 *
 * Both tables are loaded on first use and kept.  TWTRACE_PASSWD and
 * TWTRACE_CGROUP2 name another passwd file and cgroup2 mount (the host
 * tests).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "reader.h"

#define OWNER_RELOAD_NS	1000000000ULL
#define CG_DEPTH_MAX	64	/* cgroup trees are a few levels deep */
#define CG_DEAD_MAX	4096

struct user_ent {
	__u32 uid;
	unsigned int line;	/* the first line of a uid wins */
	char *name;
};

static struct {
	struct user_ent *ent;
	size_t n;
	__u64 loaded_ns;	/* CLOCK_MONOTONIC of the last load, 0: never */
} pw;

struct cg_ent {
	__u64 id;
	char *path;		/* from the mount's root, "/" for the root */
};

static struct {
	char mount[TW_PATH_MAX];
	bool mount_known;
	struct cg_ent *ent;
	size_t n, cap;
	__u64 walked_ns;	/* CLOCK_MONOTONIC of the last walk, 0: never */
	__u64 *dead;		/* ids a whole walk after their record missed */
	size_t ndead;
} cg;

/* The passwd file. */

const char *owner_passwd(void)
{
	const char *p = getenv("TWTRACE_PASSWD");

	return p && *p ? p : "/etc/passwd";
}

static void pw_clear(void)
{
	size_t i;

	for (i = 0; i < pw.n; i++)
		free(pw.ent[i].name);
	free(pw.ent);
	pw.ent = NULL;
	pw.n = 0;
}

static int pw_cmp(const void *a, const void *b)
{
	const struct user_ent *x = a, *y = b;

	if (x->uid != y->uid)
		return x->uid < y->uid ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

/* "name:password:uid:...": the name and the uid, or -1. */
static int pw_parse(char *line, char **name, __u32 *uid)
{
	char *pass, *end;
	unsigned long v;

	pass = strchr(line, ':');
	if (!pass || pass == line)
		return -1;
	*pass++ = '\0';
	pass = strchr(pass, ':');
	if (!pass || pass[1] < '0' || pass[1] > '9')
		return -1;
	errno = 0;
	v = strtoul(pass + 1, &end, 10);
	if (errno || *end != ':' || v > 0xffffffffUL)
		return -1;
	*name = line;
	*uid = v;
	return 0;
}

/* (Re)load the passwd file; what cannot be read is no names. */
static void pw_load(void)
{
	struct user_ent *e;
	size_t cap = 0, len = 0;
	unsigned int lineno = 0;
	char *line = NULL, *name;
	FILE *f;
	__u32 uid;

	pw_clear();
	pw.loaded_ns = now_ns(CLOCK_MONOTONIC);
	f = fopen(owner_passwd(), "re");
	if (!f)
		return;
	while (getline(&line, &len, f) > 0) {
		lineno++;
		line[strcspn(line, "\n")] = '\0';
		if (pw_parse(line, &name, &uid))
			continue;
		if (pw.n == cap) {
			cap = cap ? cap * 2 : 64;
			e = realloc(pw.ent, cap * sizeof(*e));
			if (!e)
				break;
			pw.ent = e;
		}
		e = &pw.ent[pw.n];
		e->uid = uid;
		e->line = lineno;
		e->name = strdup(name);
		if (!e->name)
			break;
		pw.n++;
	}
	free(line);
	fclose(f);
	if (pw.n)
		qsort(pw.ent, pw.n, sizeof(*pw.ent), pw_cmp);
}

static const char *pw_name(__u32 uid)
{
	size_t lo = 0, hi = pw.n, mid;

	/* the first entry of @uid: its first line */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (pw.ent[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < pw.n && pw.ent[lo].uid == uid ? pw.ent[lo].name : NULL;
}

/* Reloaded at most once a second, when a uid or a name is missing. */
static bool pw_reload_due(void)
{
	return !pw.loaded_ns ||
	       now_ns(CLOCK_MONOTONIC) - pw.loaded_ns >= OWNER_RELOAD_NS;
}

/* @uid's user name into @buf; 0, or -ENOENT and the number. */
int owner_user(__u32 uid, char *buf, size_t len)
{
	const char *name = pw.loaded_ns ? pw_name(uid) : NULL;

	if (!name && pw_reload_due()) {
		pw_load();
		name = pw_name(uid);
	}
	if (!name) {
		snprintf(buf, len, "%u", uid);
		return -ENOENT;
	}
	snprintf(buf, len, "%s", name);
	return 0;
}

/* -u: a user name or a number; -ENOENT if neither. */
int owner_uid(const char *name, __u32 *uid)
{
	unsigned int best = 0;
	size_t i;
	__u64 v;

	if (!parse_u64(name, &v)) {
		if (v > 0xffffffffULL)
			return -ERANGE;
		*uid = v;
		return 0;
	}
	if (pw_reload_due())
		pw_load();
	for (i = 0; i < pw.n; i++) {
		if (strcmp(pw.ent[i].name, name) ||
		    (best && pw.ent[i].line > best))
			continue;
		best = pw.ent[i].line;
		*uid = pw.ent[i].uid;
	}
	return best ? 0 : -ENOENT;
}

/* The cgroup2 mount. */

/* mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
	char *d = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*d++ = (s[1] - '0') << 6 | (s[2] - '0') << 3 |
			       (s[3] - '0');
			s += 3;
		} else {
			*d++ = *s;
		}
	}
	*d = '\0';
}

/* The first cgroup2 mount in mountinfo, or TWTRACE_CGROUP2; NULL: none. */
const char *owner_cgroup_mount(void)
{
	const char *env = getenv("TWTRACE_CGROUP2");
	char *line = NULL, *sep, *tok[8];
	size_t len = 0, n;
	FILE *f;

	if (cg.mount_known)
		return cg.mount[0] ? cg.mount : NULL;
	cg.mount_known = true;
	if (env && *env) {
		snprintf(cg.mount, sizeof(cg.mount), "%s", env);
	} else {
		f = fopen("/proc/self/mountinfo", "re");
		if (!f)
			return NULL;
		/* "id parent dev root mountpoint opts [opt...] - fstype ..." */
		while (getline(&line, &len, f) > 0) {
			sep = strstr(line, " - ");
			if (!sep || strncmp(sep + 3, "cgroup2 ", 8))
				continue;
			*sep = '\0';
			if (tw_split(line, tok, ARRAY_SIZE(tok)) < 5)
				continue;
			unescape(tok[4]);
			snprintf(cg.mount, sizeof(cg.mount), "%s", tok[4]);
			break;
		}
		free(line);
		fclose(f);
	}
	/* "/sys/fs/cgroup/" is "/sys/fs/cgroup": paths are cut after it */
	n = strlen(cg.mount);
	while (n > 1 && cg.mount[n - 1] == '/')
		cg.mount[--n] = '\0';
	return cg.mount[0] ? cg.mount : NULL;
}

/* The cgroup tree, by id. */

static void cg_clear(void)
{
	size_t i;

	for (i = 0; i < cg.n; i++)
		free(cg.ent[i].path);
	cg.n = 0;
}

static int cg_add(__u64 id, const char *path)
{
	struct cg_ent *e;
	size_t cap;

	if (cg.n == cg.cap) {
		cap = cg.cap ? cg.cap * 2 : 256;
		e = realloc(cg.ent, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		cg.ent = e;
		cg.cap = cap;
	}
	e = &cg.ent[cg.n];
	e->id = id;
	e->path = strdup(*path ? path : "/");
	if (!e->path)
		return -ENOMEM;
	cg.n++;
	return 0;
}

/*
 * Every directory under the open directory @fd (closed here), @path its
 * path from the mount's root, @len long.  A cgroup directory holds
 * dozens of files: only the directories are looked at (d_type), one
 * fstat() each, on the mount's own device.  Returns 0, or the first
 * error (the walk goes on past the directories it cannot read).
 */
static int cg_walk_dir(int fd, char *path, size_t len, dev_t dev, int depth)
{
	struct dirent *de;
	struct stat st;
	int sub, n, rc = 0, err;
	DIR *d;

	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		if ((de->d_type != DT_DIR && de->d_type != DT_UNKNOWN) ||
		    !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		sub = openat(dirfd(d), de->d_name,
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0) {
			/* not a directory after all, or gone since */
			if (errno != ENOTDIR && errno != ELOOP &&
			    errno != ENOENT && !rc)
				rc = -errno;
			continue;
		}
		n = snprintf(path + len, TW_PATH_MAX - len, "/%s", de->d_name);
		if (fstat(sub, &st) || st.st_dev != dev ||
		    n >= (int)(TW_PATH_MAX - len)) {
			close(sub);
			continue;
		}
		err = cg_add(st.st_ino, path);
		if (!err && depth < CG_DEPTH_MAX)
			err = cg_walk_dir(sub, path, len + n, dev, depth + 1);
		else
			close(sub);
		if (err && !rc)
			rc = err;
		if (err == -ENOMEM)
			break;
	}
	path[len] = '\0';
	closedir(d);
	return rc;
}

static int cg_cmp(const void *a, const void *b)
{
	const struct cg_ent *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static int cg_walk(void)
{
	char path[TW_PATH_MAX] = "";
	struct stat st;
	int fd, rc;

	cg_clear();
	cg.walked_ns = now_ns(CLOCK_MONOTONIC);
	if (!owner_cgroup_mount())
		return -ENOENT;
	fd = open(cg.mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		rc = -errno;
		close(fd);
		return rc;
	}
	rc = cg_add(st.st_ino, "/");
	if (rc)
		close(fd);
	else
		rc = cg_walk_dir(fd, path, 0, st.st_dev, 1);
	/* sorted whatever happened: what was found is looked up */
	qsort(cg.ent, cg.n, sizeof(*cg.ent), cg_cmp);
	return rc;
}

static const char *cg_lookup(__u64 id)
{
	struct cg_ent key = { .id = id }, *e;

	if (!cg.n)
		return NULL;
	e = bsearch(&key, cg.ent, cg.n, sizeof(*cg.ent), cg_cmp);
	return e ? e->path : NULL;
}

static int u64_cmp(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

static bool cg_is_dead(__u64 id)
{
	return cg.ndead &&
	       bsearch(&id, cg.dead, cg.ndead, sizeof(id), u64_cmp);
}

/*
 * @id's cgroup was there when its record was made, before the walk that
 * did not find it: it is gone, and ids are not reused.  Remember it, so
 * that its records do not walk the tree again every second.
 */
static void cg_bury(__u64 id)
{
	size_t i;

	if (!cg.dead) {
		cg.dead = malloc(CG_DEAD_MAX * sizeof(*cg.dead));
		if (!cg.dead)
			return;
	}
	if (cg.ndead == CG_DEAD_MAX)
		cg.ndead = 0;
	for (i = cg.ndead; i && cg.dead[i - 1] > id; i--)
		cg.dead[i] = cg.dead[i - 1];
	cg.dead[i] = id;
	cg.ndead++;
}

/* @id's path from the mount's root ("/system.slice/..."), or NULL. */
const char *owner_cgroup_path(__u64 id)
{
	const char *p = cg_lookup(id);

	if (p || !id || cg_is_dead(id))
		return p;
	if (cg.walked_ns &&
	    now_ns(CLOCK_MONOTONIC) - cg.walked_ns < OWNER_RELOAD_NS)
		return NULL;
	if (cg_walk())
		return cg_lookup(id);
	p = cg_lookup(id);
	if (!p)
		cg_bury(id);
	return p;
}

/*
 * --cgroup: @arg, a path as shown (from the mount's root: "/system.slice",
 * "system.slice") or the absolute path of the directory under the mount
 * ("/sys/fs/cgroup/system.slice"), as shown, into @buf: one "/" between
 * components, none at the end (the root is "/").  It must be a cgroup
 * directory now.  0, or a negative errno.
 */
int owner_cgroup_arg(const char *arg, char *buf, size_t len)
{
	const char *m = owner_cgroup_mount(), *s = arg, *end;
	char full[TW_PATH_MAX];
	struct stat st, mst;
	size_t ml, o = 0, n;

	if (!m)
		return -ENOENT;
	ml = strlen(m);
	if (!*arg)
		return -EINVAL;
	if (!strncmp(arg, m, ml) && (arg[ml] == '/' || !arg[ml]) &&
	    strcmp(m, "/"))
		s = arg + ml;
	while (*s) {
		while (*s == '/')
			s++;
		if (!*s)
			break;
		end = strchrnul(s, '/');
		n = end - s;
		if ((n == 1 && s[0] == '.') || (n == 2 && !strncmp(s, "..", 2)))
			return -EINVAL;
		if (o + 1 + n >= len)
			return -ENAMETOOLONG;
		buf[o++] = '/';
		memcpy(buf + o, s, n);
		o += n;
		s = end;
	}
	if (!o)
		buf[o++] = '/';
	buf[o] = '\0';
	if ((size_t)snprintf(full, sizeof(full), "%s%s", strcmp(m, "/") ? m : "",
			     buf) >= sizeof(full))
		return -ENAMETOOLONG;
	if (stat(full, &st) || stat(m, &mst))
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (st.st_dev != mst.st_dev)
		return -EXDEV;
	return 0;
}

/* @path, as owner_cgroup_path() gives it, is @top or under it. */
bool owner_cgroup_under(const char *path, const char *top)
{
	size_t n = strlen(top);

	if (!strcmp(top, "/"))
		return true;
	return !strncmp(path, top, n) && (!path[n] || path[n] == '/');
}

void owner_free(void)
{
	pw_clear();
	pw.loaded_ns = 0;
	cg_clear();
	free(cg.ent);
	free(cg.dead);
	cg.ent = NULL;
	cg.dead = NULL;
	cg.cap = 0;
	cg.ndead = 0;
	cg.walked_ns = 0;
}

/* What the cgroup path names. */

/* @s, @n chars, is all lower-case hex digits. */
static bool all_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!s[i] || !strchr("0123456789abcdef", s[i]))
			return false;
	return true;
}

/*
 * A container id in one path component: "<64 hex>" (cgroupfs driver:
 * /docker/<id>, /kubepods/.../<id>) or "<runtime>-<64 hex>.scope"
 * (systemd driver: docker-, libpod-, cri-containerd-, crio-).
 */
static const char *container_id(const char *c, size_t n)
{
	const char *dash;

	if (n == 64 && all_hex(c, 64))
		return c;
	if (n < 64 + 7 || strncmp(c + n - 6, ".scope", 6))
		return NULL;
	dash = c + n - 6 - 64 - 1;
	if (*dash != '-' || !all_hex(dash + 1, 64))
		return NULL;
	return dash + 1;
}

static bool is_unit(const char *c, size_t n)
{
	static const char *const sfx[] = { ".service", ".scope", ".socket",
					   ".mount", ".swap" };
	size_t i, l;

	for (i = 0; i < ARRAY_SIZE(sfx); i++) {
		l = strlen(sfx[i]);
		if (n > l && !strncmp(c + n - l, sfx[i], l))
			return true;
	}
	return false;
}

/*
 * What the cgroup path names: "container:<12 hex>" for the outermost
 * container in it (the host's view of it), else the innermost systemd
 * unit ("nginx.service", "session-3.scope"; slices are not named), else
 * NULL.
 */
const char *owner_unit(const char *path, char *buf, size_t len)
{
	const char *c = path, *end, *id, *unit = NULL;
	size_t n, unit_n = 0;

	while (*c) {
		while (*c == '/')
			c++;
		end = strchrnul(c, '/');
		n = end - c;
		id = n ? container_id(c, n) : NULL;
		if (id) {
			snprintf(buf, len, "container:%.12s", id);
			return buf;
		}
		if (n && is_unit(c, n)) {
			unit = c;
			unit_n = n;
		}
		c = end;
	}
	if (!unit)
		return NULL;
	snprintf(buf, len, "%.*s", (int)unit_n, unit);
	return buf;
}
