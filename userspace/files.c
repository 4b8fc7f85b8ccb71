// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace reader: finding the module's debugfs directory and reading its
 * text files (version, stats), with a plain message for every way that
 * can fail.
 */
#include <errno.h>
#include <fcntl.h>
#include <mntent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <linux/magic.h>

#include "reader.h"

const char *const tw_event_names[TWTRACE_EV_NR] = TWTRACE_EVENT_NAMES;
const char *const tw_death_names[TWTRACE_DEATH_NR] = TWTRACE_DEATH_NAMES;
const char *const tw_reuse_names[TWTRACE_REUSE_NR] = TWTRACE_REUSE_NAMES;
const char *const tw_overflow_names[TWTRACE_OVERFLOW_NR] =
	TWTRACE_OVERFLOW_NAMES;
const char *const tw_role_names[TWTRACE_ROLE_NR] = TWTRACE_ROLE_NAMES;

int tw_name_index(const char *const *names, int n, const char *s)
{
	int i;

	for (i = 0; i < n; i++)
		if (names[i] && !strcmp(names[i], s))
			return i;
	return -1;
}

const char *tw_substate_name(unsigned int substate)
{
	switch (substate) {
	case 0:		/* a record about no TIME_WAIT socket: connect_fail */
		return "-";
	case TWTRACE_SUBSTATE_TIME_WAIT:
		return "TIME_WAIT";
	case TWTRACE_SUBSTATE_FIN_WAIT2:
		return "FIN_WAIT2";
	}
	return NULL;
}

/* The reason of a checked record, or NULL for events that have none. */
const char *tw_reason_name(const struct twtrace_record *r)
{
	switch (r->type) {
	case TWTRACE_EV_DEATH:
		return tw_death_names[r->reason];
	case TWTRACE_EV_REUSE:
		return tw_reuse_names[r->reason];
	case TWTRACE_EV_OVERFLOW:
		return tw_overflow_names[r->reason];
	}
	return NULL;
}

/* Where debugfs is mounted: the usual place, else the first one listed. */
static const char *debugfs_mount(void)
{
	static char path[TW_PATH_MAX - 64];
	struct statfs sfs;
	struct mntent *m;
	FILE *f;

	if (!statfs(DEBUGFS_MOUNT, &sfs) && sfs.f_type == DEBUGFS_MAGIC)
		return DEBUGFS_MOUNT;
	/* Not allowed to look: not the same as "not mounted". */
	if (errno == EACCES || errno == EPERM)
		return DEBUGFS_MOUNT;
	f = setmntent("/proc/self/mounts", "r");
	if (!f)
		return NULL;
	while ((m = getmntent(f))) {
		if (strcmp(m->mnt_type, "debugfs"))
			continue;
		snprintf(path, sizeof(path), "%s", m->mnt_dir);
		endmntent(f);
		return path;
	}
	endmntent(f);
	return NULL;
}

/*
 * The directory the module exports, after checking, in this order, that
 * debugfs is mounted and the module is loaded, so the user is told what
 * is actually wrong.  TWTRACE_DIR points the reader at another directory
 * with the same files instead.
 */
const char *tw_dir(int *rc)
{
	static char path[TW_PATH_MAX];
	const char *env = getenv("TWTRACE_DIR");
	const char *mnt;
	struct stat st;

	*rc = EXIT_ERR;
	if (env && *env) {
		if (stat(env, &st)) {
			tw_err("TWTRACE_DIR=%s: %s", env, strerror(errno));
			return NULL;
		}
		if (!S_ISDIR(st.st_mode)) {
			tw_err("TWTRACE_DIR=%s: not a directory", env);
			return NULL;
		}
		*rc = EXIT_OK;
		return env;
	}
	mnt = debugfs_mount();
	if (!mnt) {
		tw_err("debugfs is not mounted; mount it with:\n"
		       "  mount -t debugfs none %s", DEBUGFS_MOUNT);
		return NULL;
	}
	if (access("/sys/module/twtrace", F_OK)) {
		tw_err("the twtrace module is not loaded (insmod twtrace.ko)");
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/%s", mnt, TWTRACE_DEBUGFS_DIR);
	*rc = EXIT_OK;
	return path;
}

static int open_file(const char *dir, const char *name, int flags, int *rc,
		     bool quiet)
{
	char path[TW_PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, flags | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	*rc = EXIT_ERR;
	if (quiet)
		return -1;
	if (errno == EACCES || errno == EPERM)
		tw_err("%s: permission denied: reading twtrace's debugfs files needs root (run twtrace as root, e.g. with sudo)",
		       path);
	else if (errno == ENOENT)
		tw_err("%s: no such file: is the twtrace module loaded, and is debugfs not restricted (debugfs= boot parameter, lockdown)?",
		       path);
	else
		tw_err("%s: %s", path, strerror(errno));
	return -1;
}

int tw_open(const char *dir, const char *name, int flags, int *rc)
{
	return open_file(dir, name, flags, rc, false);
}

/* A whole text file, NUL-terminated, in a buffer the caller frees. */
static int read_text(const char *dir, const char *name, char **buf, int *rc,
		     bool quiet)
{
	size_t len = 0, size = 4096;
	char *p = malloc(size), *q;
	ssize_t n;
	int fd;

	if (!p) {
		tw_err("out of memory");
		*rc = EXIT_ERR;
		return -1;
	}
	fd = open_file(dir, name, O_RDONLY, rc, quiet);
	if (fd < 0) {
		free(p);
		return -1;
	}
	for (;;) {
		if (size - len < 2) {
			q = realloc(p, size * 2);
			if (!q) {
				tw_err("out of memory");
				goto fail;
			}
			p = q;
			size *= 2;
		}
		n = read(fd, p + len, size - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			tw_err("%s/%s: %s", dir, name, strerror(errno));
			goto fail;
		}
		if (!n)
			break;
		len += n;
	}
	close(fd);
	p[len] = '\0';
	if (strlen(p) != len) {
		if (!quiet)
			tw_err("%s/%s: not a text file (NUL byte at offset %zu)",
			       dir, name, strlen(p));
		free(p);
		*rc = EXIT_DATA;
		return -1;
	}
	*buf = p;
	return 0;

fail:
	close(fd);
	free(p);
	*rc = EXIT_ERR;
	return -1;
}

int tw_read_text(const char *dir, const char *name, char **buf, int *rc)
{
	return read_text(dir, name, buf, rc, false);
}

/* The number on the "@name N" line of the version file; -1 if none. */
int tw_version_value(const char *dir, const char *name, __u64 *v)
{
	char *buf, *cur, *line, *tok[3];
	int rc, ret = -1;

	if (read_text(dir, "version", &buf, &rc, true))
		return -1;
	cur = buf;
	while ((line = tw_next_line(&cur)))
		if (tw_split(line, tok, 2) == 2 && !strcmp(tok[0], name) &&
		    !parse_u64(tok[1], v)) {
			ret = 0;
			break;
		}
	free(buf);
	return ret;
}

/* The next line of a buffer, cut at its newline; NULL at the end. */
char *tw_next_line(char **cursor)
{
	char *line = *cursor, *nl;

	if (!line || !*line)
		return NULL;
	nl = strchr(line, '\n');
	if (nl) {
		*nl = '\0';
		*cursor = nl + 1;
	} else {
		*cursor = line + strlen(line);
	}
	return line;
}

/* Split on blanks; more than @max fields returns @max + 1. */
int tw_split(char *line, char **tok, int max)
{
	int n = 0;
	char *s;

	for (s = strtok(line, " \t"); s; s = strtok(NULL, " \t")) {
		if (n == max)
			return max + 1;
		tok[n++] = s;
	}
	return n;
}

/*
 * The module's directory, once it is known to speak this reader's ABI;
 * @rsz (if not NULL): its record size.
 */
const char *tw_module(int *rc, size_t *rsz)
{
	const char *dir = tw_dir(rc);
	size_t size;

	if (!dir)
		return NULL;
	*rc = tw_check_abi(dir, &size);
	if (*rc)
		return NULL;
	if (rsz)
		*rsz = size;
	return dir;
}

/*
 * The module must speak the record ABI this reader was built for.  Its
 * records may be longer or shorter than this reader's (they grow at their
 * end): any size from TWTRACE_RECORD_SIZE_MIN up, into *@rsz.
 */
int tw_check_abi(const char *dir, size_t *rsz)
{
	char *buf, *cur, *line, *tok[3], version[64] = "unknown version";
	bool have_abi = false, have_size = false;
	__u64 abi = 0, size = 0;
	char why[160];
	int rc, n;

	if (tw_read_text(dir, "version", &buf, &rc))
		return rc;
	cur = buf;
	while ((line = tw_next_line(&cur))) {
		n = tw_split(line, tok, 2);
		if (n != 2)
			continue;
		if (!strcmp(tok[0], "version"))
			snprintf(version, sizeof(version), "%s", tok[1]);
		else if (!strcmp(tok[0], "abi"))
			have_abi = !parse_u64(tok[1], &abi);
		else if (!strcmp(tok[0], "record_size"))
			have_size = !parse_u64(tok[1], &size);
	}
	free(buf);
	if (!have_abi) {
		tw_err("%s/version: no 'abi N' line: not a twtrace module this reader knows (twtrace %s, record ABI %d)",
		       dir, TWTRACE_VERSION, TWTRACE_ABI_VERSION);
		return EXIT_DATA;
	}
	if (abi != TWTRACE_ABI_VERSION) {
		tw_err("record ABI mismatch: the module (twtrace %s) speaks record ABI %llu, this reader (twtrace %s) ABI %d; use the reader built with the module",
		       version, abi, TWTRACE_VERSION, TWTRACE_ABI_VERSION);
		return EXIT_DATA;
	}
	if (!have_size) {
		tw_err("%s/version: no 'record_size N' line: not a twtrace module this reader knows (twtrace %s, record ABI %d)",
		       dir, TWTRACE_VERSION, TWTRACE_ABI_VERSION);
		return EXIT_DATA;
	}
	if (record_size_check(size, why, sizeof(why))) {
		tw_err("%s/version: the module (twtrace %s) writes %s",
		       dir, version, why);
		return EXIT_DATA;
	}
	*rsz = size;
	return EXIT_OK;
}

struct stats_slot {
	char name[48];
	__u64 *p;
	bool seen;
};

/*
 * births, rearms, connect_fail, born_before_load, untracked, live,
 * records, lost, probe_misses, since_ns; and the reasons'.
 */
#define STATS_NAMED	(12 + TWTRACE_DEATH_NR + TWTRACE_REUSE_NR + \
			 TWTRACE_OVERFLOW_NR)

/* Every counter this reader needs, by its name in the stats file. */
static int stats_slots(struct tw_stats *st, struct stats_slot *s)
{
	int n = 0, i;

#define SLOT(ptr, fmt, ...) do {					\
		snprintf(s[n].name, sizeof(s[n].name), fmt, ##__VA_ARGS__); \
		s[n].p = (ptr);						\
		s[n++].seen = false;					\
	} while (0)
	SLOT(&st->births, "births");
	SLOT(&st->rearms, "rearms");
	for (i = 0; i < TWTRACE_DEATH_NR; i++)
		SLOT(&st->death[i], "death_%s", tw_death_names[i]);
	for (i = 0; i < TWTRACE_REUSE_NR; i++)
		SLOT(&st->reuse[i], "reuse_%s", tw_reuse_names[i]);
	for (i = 0; i < TWTRACE_OVERFLOW_NR; i++)
		SLOT(&st->overflow[i], "overflow_%s", tw_overflow_names[i]);
	SLOT(&st->connect_fail, "connect_fail");
	SLOT(&st->born_before_load, "born_before_load");
	SLOT(&st->untracked, "untracked");
	SLOT(&st->live, "live");
	SLOT(&st->records, "records");
	SLOT(&st->lost, "lost");
	SLOT(&st->probe_misses, "probe_misses");
	SLOT(&st->since_ns, "since_ns");
	SLOT(&st->groups, "groups");
	SLOT(&st->groups_max, "groups_max");
#undef SLOT
	if (n != STATS_NAMED)
		abort();	/* STATS_NAMED is out of date */
	return n;
}

static int stats_cpu(struct tw_stats *st, const char *name, __u64 v)
{
	__u64 cpu, *p;

	if (strncmp(name, "lost_cpu", 8) || parse_u64(name + 8, &cpu) ||
	    cpu >= 65536)
		return 0;	/* not a lost_cpuN counter */
	if ((int)cpu >= st->ncpus) {
		p = realloc(st->lost_cpu, (cpu + 1) * sizeof(*p));
		if (!p)
			return -1;
		memset(p + st->ncpus, 0, (cpu + 1 - st->ncpus) * sizeof(*p));
		st->lost_cpu = p;
		st->ncpus = cpu + 1;
	}
	st->lost_cpu[cpu] = v;
	return 0;
}

/*
 * Parse and check the "stats" file: every line "name value", every
 * counter this reader knows present.  Counters it does not know are
 * ignored.  @quiet: no messages.
 */
int tw_stats_read(const char *dir, struct tw_stats *st, bool quiet)
{
	struct stats_slot slot[STATS_NAMED];
	char *buf, *cur, *line, *tok[3];
	int rc, n, lineno = 0, i, nslots;
	__u64 v;

	memset(st, 0, sizeof(*st));
	nslots = stats_slots(st, slot);
	if (read_text(dir, "stats", &buf, &rc, quiet))
		return rc;
	cur = buf;
	rc = EXIT_DATA;
	while ((line = tw_next_line(&cur))) {
		lineno++;
		n = tw_split(line, tok, 2);
		if (!n)
			continue;
		if (n != 2 || parse_u64(tok[1], &v)) {
			if (!quiet)
				tw_err("%s/stats: line %d: not 'name value'",
				       dir, lineno);
			goto out;
		}
		for (i = 0; i < nslots; i++) {
			if (!strcmp(tok[0], slot[i].name)) {
				*slot[i].p = v;
				slot[i].seen = true;
				break;
			}
		}
		if (i == nslots && stats_cpu(st, tok[0], v)) {
			if (!quiet)
				tw_err("out of memory");
			rc = EXIT_ERR;
			goto out;
		}
	}
	for (i = 0; i < nslots; i++) {
		if (slot[i].seen)
			continue;
		if (!quiet)
			tw_err("%s/stats: no '%s' counter: the module and this reader (twtrace %s, record ABI %d) disagree",
			       dir, slot[i].name, TWTRACE_VERSION,
			       TWTRACE_ABI_VERSION);
		goto out;
	}
	rc = EXIT_OK;
out:
	free(buf);
	if (rc)
		tw_stats_free(st);
	return rc;
}

void tw_stats_free(struct tw_stats *st)
{
	free(st->lost_cpu);
	st->lost_cpu = NULL;
	st->ncpus = 0;
}
