// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace selftests library: the module itself (load, unload, its
 * debugfs controls) and what it counts (the stats and hist files).
 */
#include "twtrace_lib.h"

#define TW_KO_DEFAULT	"/opt/twtrace/twtrace.ko"

const char *tw_ko_path(void)
{
	const char *p = getenv("TWTRACE_KO");

	return p && *p ? p : TW_KO_DEFAULT;
}

bool tw_module_loaded(void)
{
	return access("/sys/module/twtrace", F_OK) == 0;
}

int tw_module_load(void)
{
	int fd, ret;

	fd = open(tw_ko_path(), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = syscall(__NR_finit_module, fd, "", 0);
	ret = ret ? -errno : 0;
	close(fd);
	return ret;
}

int tw_module_unload(void)
{
	return syscall(__NR_delete_module, "twtrace", O_NONBLOCK) ? -errno : 0;
}

/* Load the module if the runner has not; 0 when it is loaded. */
int tw_module_ensure(void)
{
	return tw_module_loaded() ? 0 : tw_module_load();
}

/* Value of "key value" line @key in file @path; -1 if absent. */
long long tw_kv_read(const char *path, const char *key)
{
	char line[256], k[128];
	long long v, ret = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%127s %lld", k, &v) == 2 && !strcmp(k, key)) {
			ret = v;
			break;
		}
	}
	fclose(f);
	return ret;
}

long long tw_stat(const char *name)
{
	return tw_kv_read(TW_DIR "/stats", name);
}

/* The reasons' names, as the stats and hist files spell them. */
const char *tw_death_name(unsigned int r)
{
	static const char * const n[] = TWTRACE_DEATH_NAMES;

	return r < TWTRACE_DEATH_NR ? n[r] : "?";
}

const char *tw_reuse_name(unsigned int r)
{
	static const char * const n[] = TWTRACE_REUSE_NAMES;

	return r < TWTRACE_REUSE_NR ? n[r] : "?";
}

const char *tw_overflow_name(unsigned int r)
{
	static const char * const n[] = TWTRACE_OVERFLOW_NAMES;

	return r < TWTRACE_OVERFLOW_NR ? n[r] : "?";
}

/* ---- the stats file, all counters read at once ---- */

int tw_stats_read(struct tw_stats *s)
{
	FILE *f = fopen(TW_DIR "/stats", "r");
	char line[256];
	long long v;

	s->n = 0;
	if (!f)
		return -errno;
	while (s->n < TW_STATS_MAX && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%39s %lld", s->name[s->n], &v) != 2)
			continue;
		s->val[s->n++] = v;
	}
	fclose(f);
	return s->n ? 0 : -ENODATA;
}

/* Counter @name; -1 if the module does not have it. */
long long tw_stats_get(const struct tw_stats *s,
		       const char *name)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->name[i], name))
			return s->val[i];
	return -1;
}

/* @name grew by this much from @a to @b (LLONG_MIN if absent). */
long long tw_stats_delta(const struct tw_stats *a,
			 const struct tw_stats *b,
			 const char *name)
{
	long long x = tw_stats_get(a, name), y = tw_stats_get(b, name);

	return x < 0 || y < 0 ? LLONG_MIN : y - x;
}

/* Growth of "<prefix><reason>" summed over every @prefix counter. */
long long tw_stats_delta_sum(const struct tw_stats *a,
			     const struct tw_stats *b,
			     const char *prefix)
{
	size_t plen = strlen(prefix);
	long long sum = 0;
	int i;

	for (i = 0; i < b->n; i++) {
		if (strncmp(b->name[i], prefix, plen))
			continue;
		sum += tw_stats_delta(a, b, b->name[i]);
	}
	return sum;
}

/* ---- the hist file ---- */

/* The log2 bucket of @ns, as the module's histograms count it. */
int tw_log2_bucket(unsigned long long ns)
{
	return ns ? 63 - __builtin_clzll(ns) : 0;
}

/*
 * Sum of the counts of hist lines "<key> <bucket> <count>", where @key is
 * "lifetime <reason>" or "reuse_age"; @bucket < 0 sums every bucket.
 */
long long tw_hist_get(const char *key, int bucket)
{
	FILE *f = fopen(TW_DIR "/hist", "r");
	size_t klen = strlen(key);
	long long c, sum = 0;
	char line[256];
	int b;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen) || line[klen] != ' ')
			continue;
		if (sscanf(line + klen, "%d %lld", &b, &c) != 2)
			continue;
		if (bucket < 0 || b == bucket)
			sum += c;
	}
	fclose(f);
	return sum;
}

/* All buckets of hist lines "<key> <bucket> <count>" into @out. */
int tw_hist_buckets(const char *key,
		    long long out[TWTRACE_HIST_BUCKETS])
{
	FILE *f = fopen(TW_DIR "/hist", "r");
	size_t klen = strlen(key);
	char line[256];
	long long c;
	int b;

	memset(out, 0, TWTRACE_HIST_BUCKETS * sizeof(out[0]));
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen) || line[klen] != ' ')
			continue;
		if (sscanf(line + klen, "%d %lld", &b, &c) == 2 &&
		    b >= 0 && b < TWTRACE_HIST_BUCKETS)
			out[b] += c;
	}
	fclose(f);
	return 0;
}

/* A control file of the module ("enable", "ring_kb", ...). */
int tw_ctl_set(const char *name, const char *val)
{
	char path[256];

	snprintf(path, sizeof(path), TW_DIR "/%s", name);
	return tw_write_str(path, val);
}

int tw_ctl_str(const char *name, char *buf, size_t len)
{
	char path[256];

	snprintf(path, sizeof(path), TW_DIR "/%s", name);
	return tw_read_str(path, buf, len);
}

long long tw_ctl_get(const char *name)
{
	char buf[64];

	if (tw_ctl_str(name, buf, sizeof(buf)))
		return -1;
	return atoll(buf);
}

/* Number of cpuN files (highest N + 1). */
int tw_ncpus(void)
{
	char path[64];
	int c, n = 0;

	for (c = 0; c < TW_MAX_CPUS; c++) {
		snprintf(path, sizeof(path), TW_DIR "/cpu%d", c);
		if (!access(path, F_OK))
			n = c + 1;
	}
	return n;
}

/* Load /lib/modules/$(uname -r)/@name.ko unless it is there. */
int tw_load_kmod(const char *name)
{
	char path[512];
	struct utsname u;
	int fd, ret;

	snprintf(path, sizeof(path), "/sys/module/%s", name);
	if (!access(path, F_OK))
		return 0;
	if (uname(&u))
		return -errno;
	snprintf(path, sizeof(path), "/lib/modules/%s/%s.ko", u.release,
		 name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = syscall(__NR_finit_module, fd, "", 0) ? -errno : 0;
	close(fd);
	return ret == -EEXIST ? 0 : ret;
}

/* Put back the controls tw_ctls_save() saved (from the harness). */
void tw_ctls_restore(const struct tw_ctls *c)
{
	if (c->overwrite[0])
		tw_ctl_set("overwrite", c->overwrite);
	if (c->ring_kb[0])
		tw_ctl_set("ring_kb", c->ring_kb);
	if (c->enable[0])
		tw_ctl_set("enable", c->enable);
}
