/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the twtrace selftests: the module's files, the kernel's
 * own figures (the oracles: /proc/net/netstat, /proc/net/sockstat) and
 * loopback workloads that leave TIME_WAIT sockets behind.
 */
#ifndef TWTRACE_LIB_H
#define TWTRACE_LIB_H

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/twtrace.h>

#define TW_DIR		"/sys/kernel/debug/" TWTRACE_DEBUGFS_DIR
#define TW_KO_DEFAULT	"/opt/twtrace/twtrace.ko"

static inline const char *tw_ko_path(void)
{
	const char *p = getenv("TWTRACE_KO");

	return p && *p ? p : TW_KO_DEFAULT;
}

static inline bool tw_module_loaded(void)
{
	return access("/sys/module/twtrace", F_OK) == 0;
}

static inline int tw_module_load(void)
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

static inline int tw_module_unload(void)
{
	return syscall(__NR_delete_module, "twtrace", O_NONBLOCK) ? -errno : 0;
}

/* Load the module if the runner has not; 0 when it is loaded. */
static inline int tw_module_ensure(void)
{
	return tw_module_loaded() ? 0 : tw_module_load();
}

/* Value of "key value" line @key in file @path; -1 if absent. */
static inline long long tw_kv_read(const char *path, const char *key)
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

static inline long long tw_stat(const char *name)
{
	return tw_kv_read(TW_DIR "/stats", name);
}

/*
 * A counter of /proc/net/netstat or /proc/net/snmp ("TcpExt", "TW"),
 * as the kernel reports it for the caller's network namespace; -1 if absent.
 */
static inline long long tw_snmp(const char *proto, const char *name)
{
	static const char * const files[] = { "/proc/net/netstat",
					      "/proc/net/snmp" };
	char hdr[8192], val[8192], *hs, *vs, *h, *v;
	size_t plen = strlen(proto);
	long long ret = -1;
	unsigned int i;

	for (i = 0; i < 2 && ret < 0; i++) {
		FILE *f = fopen(files[i], "r");

		if (!f)
			continue;
		while (fgets(hdr, sizeof(hdr), f) && fgets(val, sizeof(val), f)) {
			if (strncmp(hdr, proto, plen) || hdr[plen] != ':')
				continue;
			h = strtok_r(hdr + plen + 1, "\n ", &hs);
			v = strtok_r(val + plen + 1, "\n ", &vs);
			while (h && v) {
				if (!strcmp(h, name)) {
					ret = atoll(v);
					break;
				}
				h = strtok_r(NULL, "\n ", &hs);
				v = strtok_r(NULL, "\n ", &vs);
			}
			break;
		}
		fclose(f);
	}
	return ret;
}

/* TIME_WAIT sockets alive in the caller's netns, per /proc/net/sockstat. */
static inline long long tw_sockstat_tw(void)
{
	char line[512];
	long long tw = -1;
	FILE *f = fopen("/proc/net/sockstat", "r");
	char *p;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "TCP:", 4))
			continue;
		p = strstr(line, " tw ");
		if (p)
			tw = atoll(p + 4);
	}
	fclose(f);
	return tw;
}

static inline double tw_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Move the caller into a new network namespace with lo up. */
static inline int tw_netns_new(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd, ret = -1;

	if (unshare(CLONE_NEWNET))
		return -errno;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (!ioctl(fd, SIOCGIFFLAGS, &ifr)) {
		ifr.ifr_flags |= IFF_UP;
		ret = ioctl(fd, SIOCSIFFLAGS, &ifr) ? -errno : 0;
	}
	close(fd);
	return ret;
}

/* A listening TCP socket on 127.0.0.1, any port; its address in @addr. */
static inline int tw_listen4(struct sockaddr_in *addr)
{
	socklen_t len = sizeof(*addr);
	int fd, one = 1;

	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)addr, sizeof(*addr)) ||
	    listen(fd, 128) ||
	    getsockname(fd, (struct sockaddr *)addr, &len)) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * One connection to @addr that the client closes first, so the client's
 * end becomes a TIME_WAIT socket (born in the FIN_WAIT2 substate, turned
 * TIME_WAIT by the server's FIN).  0 on success.
 */
static inline int tw_conn_client_closes(int lfd, const struct sockaddr_in *addr)
{
	char buf[16];
	int c, a;

	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0)
		return -1;
	if (connect(c, (const struct sockaddr *)addr, sizeof(*addr))) {
		close(c);
		return -1;
	}
	a = accept(lfd, NULL, NULL);
	if (a < 0) {
		close(c);
		return -1;
	}
	close(c);
	/* EOF on the server side: the client's FIN has arrived. */
	while (read(a, buf, sizeof(buf)) > 0)
		;
	close(a);
	return 0;
}

/* Poll @expr (re-evaluated) for up to @secs seconds. */
#define tw_wait_until(expr, secs) ({				\
	double __end = tw_now() + (secs);			\
	bool __ok;						\
	while (!(__ok = (expr)) && tw_now() < __end)		\
		usleep(20000);					\
	__ok;							\
})

/*
 * Everything below is for tests that follow single TIME_WAIT sockets
 * through their life: the module's records, stats, hist and live files,
 * the kernel's /proc/net/tcp rows, per-netns sysctls and a few socket
 * helpers that work for both IPv4 and IPv6.
 */

/* The reasons' names, as the stats and hist files spell them. */
static inline const char *tw_death_name(unsigned int r)
{
	static const char * const n[] = TWTRACE_DEATH_NAMES;

	return r < TWTRACE_DEATH_NR ? n[r] : "?";
}

static inline const char *tw_reuse_name(unsigned int r)
{
	static const char * const n[] = TWTRACE_REUSE_NAMES;

	return r < TWTRACE_REUSE_NR ? n[r] : "?";
}

static inline const char *tw_overflow_name(unsigned int r)
{
	static const char * const n[] = TWTRACE_OVERFLOW_NAMES;

	return r < TWTRACE_OVERFLOW_NR ? n[r] : "?";
}

/* The inode number of the caller's network namespace; 0 on error. */
static inline unsigned int tw_netns_inum(void)
{
	char buf[64] = "";
	unsigned int inum = 0;
	ssize_t n = readlink("/proc/self/ns/net", buf, sizeof(buf) - 1);

	if (n > 0) {
		buf[n] = '\0';
		if (sscanf(buf, "net:[%u]", &inum) != 1)
			inum = 0;
	}
	return inum;
}

/* Write @val to the file @path; 0 or -errno. */
static inline int tw_write_str(const char *path, const char *val)
{
	size_t len = strlen(val);
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, len);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n < 0)
		return n;
	return (size_t)n == len ? 0 : -EIO;
}

/* The first line of @path, without its newline; 0 or -errno. */
static inline int tw_read_str(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n < 0)
		return n;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/*
 * A sysctl of the caller's network namespace, by its /proc/sys path
 * ("net/ipv4/tcp_tw_reuse"): /proc/sys/net is per netns.
 */
static inline int tw_sysctl_set(const char *name, const char *val)
{
	char path[256];

	snprintf(path, sizeof(path), "/proc/sys/%s", name);
	return tw_write_str(path, val);
}

static inline long long tw_sysctl_get(const char *name)
{
	char path[256], buf[64];

	snprintf(path, sizeof(path), "/proc/sys/%s", name);
	if (tw_read_str(path, buf, sizeof(buf)))
		return -1;
	return atoll(buf);
}

/* A control file of the module ("enable", "ring_kb", ...). */
static inline int tw_ctl_set(const char *name, const char *val)
{
	char path[256];

	snprintf(path, sizeof(path), TW_DIR "/%s", name);
	return tw_write_str(path, val);
}

static inline int tw_ctl_str(const char *name, char *buf, size_t len)
{
	char path[256];

	snprintf(path, sizeof(path), TW_DIR "/%s", name);
	return tw_read_str(path, buf, len);
}

static inline long long tw_ctl_get(const char *name)
{
	char buf[64];

	if (tw_ctl_str(name, buf, sizeof(buf)))
		return -1;
	return atoll(buf);
}

/* ---- the stats file, all counters read at once ---- */

#define TW_STATS_MAX	256

struct tw_stats {
	int n;
	char name[TW_STATS_MAX][40];
	long long val[TW_STATS_MAX];
};

static inline int tw_stats_read(struct tw_stats *s)
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
static inline long long tw_stats_get(const struct tw_stats *s,
				     const char *name)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->name[i], name))
			return s->val[i];
	return -1;
}

/* @name grew by this much from @a to @b (LLONG_MIN if absent). */
static inline long long tw_stats_delta(const struct tw_stats *a,
				       const struct tw_stats *b,
				       const char *name)
{
	long long x = tw_stats_get(a, name), y = tw_stats_get(b, name);

	return x < 0 || y < 0 ? LLONG_MIN : y - x;
}

/* Growth of "<prefix><reason>" summed over every @prefix counter. */
static inline long long tw_stats_delta_sum(const struct tw_stats *a,
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
static inline int tw_log2_bucket(unsigned long long ns)
{
	return ns ? 63 - __builtin_clzll(ns) : 0;
}

/*
 * Sum of the counts of hist lines "<key> <bucket> <count>", where @key is
 * "lifetime <reason>" or "reuse_age"; @bucket < 0 sums every bucket.
 */
static inline long long tw_hist_get(const char *key, int bucket)
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
static inline int tw_hist_buckets(const char *key,
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

/* ---- the binary records of the cpuN files ---- */

#define TW_MAX_CPUS	64
#define TW_REC_SIZE	((ssize_t)sizeof(struct twtrace_record))

struct tw_rec {
	struct twtrace_record r;
	int cpu;
};

struct tw_recs {
	struct tw_rec *v;		/* kept records, in reading order */
	size_t n, cap;
	unsigned int netns;		/* keep this netns only; 0: all */
	long long nread;		/* records read, every netns */
	long long cpu_read[TW_MAX_CPUS];
	long long last_seq[TW_MAX_CPUS]; /* -1: none read yet */
	long long seq_breaks[TW_MAX_CPUS]; /* seq != previous + 1 */
	long long brk_prev[TW_MAX_CPUS];   /* the first break: after this */
	long long brk_seq[TW_MAX_CPUS];    /* came this */
	int brk_type[TW_MAX_CPUS];	   /* of this type */
	long long bad;			/* bad magic/abi/cpu, partial reads */
	int err;			/* first read error, -errno */
};

static inline void tw_recs_init(struct tw_recs *rs, unsigned int netns)
{
	int c;

	memset(rs, 0, sizeof(*rs));
	rs->netns = netns;
	for (c = 0; c < TW_MAX_CPUS; c++)
		rs->last_seq[c] = -1;
}

static inline void tw_recs_free(struct tw_recs *rs)
{
	free(rs->v);
	rs->v = NULL;
	rs->n = 0;
	rs->cap = 0;
}

/* Forget what was counted and kept, but not the last seq per CPU. */
static inline void tw_recs_clear(struct tw_recs *rs)
{
	int c;

	rs->n = 0;
	rs->nread = 0;
	rs->bad = 0;
	rs->err = 0;
	for (c = 0; c < TW_MAX_CPUS; c++) {
		rs->cpu_read[c] = 0;
		rs->seq_breaks[c] = 0;
	}
}

static inline void tw_recs_add(struct tw_recs *rs, int cpu,
			       const struct twtrace_record *r, bool keep)
{
	void *p;

	/* Each ring holds only the records written on its own CPU. */
	if (r->magic != TWTRACE_MAGIC || r->abi != TWTRACE_ABI_VERSION ||
	    r->cpu != cpu)
		rs->bad++;
	rs->nread++;
	rs->cpu_read[cpu]++;
	if (rs->last_seq[cpu] >= 0 &&
	    r->seq != (unsigned long long)rs->last_seq[cpu] + 1 &&
	    !rs->seq_breaks[cpu]++) {
		rs->brk_prev[cpu] = rs->last_seq[cpu];
		rs->brk_seq[cpu] = r->seq;
		rs->brk_type[cpu] = r->type;
	}
	rs->last_seq[cpu] = r->seq;
	if (!keep || (rs->netns && r->netns != rs->netns))
		return;
	if (rs->n == rs->cap) {
		p = realloc(rs->v, (rs->cap * 2 + 64) * sizeof(*rs->v));
		if (!p) {
			rs->err = -ENOMEM;
			return;
		}
		rs->v = p;
		rs->cap = rs->cap * 2 + 64;
	}
	rs->v[rs->n].r = *r;
	rs->v[rs->n].cpu = cpu;
	rs->n++;
}

/* Read, without blocking, every record of cpu file @cpu. */
static inline int tw_recs_read_cpu(struct tw_recs *rs, int cpu, bool keep)
{
	struct twtrace_record buf[32];
	char path[64];
	ssize_t n, i;
	int fd, got = 0;

	snprintf(path, sizeof(path), TW_DIR "/cpu%d", cpu);
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0) {
			if (errno != EAGAIN && !rs->err)
				rs->err = -errno;
			break;
		}
		if (!n)
			break;
		if (n % TW_REC_SIZE)
			rs->bad++;
		for (i = 0; i < n / TW_REC_SIZE; i++)
			tw_recs_add(rs, cpu, &buf[i], keep);
		got += n / TW_REC_SIZE;
	}
	close(fd);
	return got;
}

/* Number of cpuN files (highest N + 1). */
/* The debug kernel (kmemleak, KASAN, lockdep): everything takes longer. */
static inline bool tw_slow_kernel(void)
{
	return !access("/sys/kernel/debug/kmemleak", F_OK);
}

/* The running kernel's release, as major * 1000 + minor (5.10: 5010). */
static inline int tw_kernel_release(void)
{
	struct utsname u;
	int major = 0, minor = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return 0;
	return major * 1000 + minor;
}

/*
 * Whether TcpExt TW and TWKilled count TIME_WAIT births.  6.1 and later
 * count a tw when it is born (__inet_twsk_schedule()); 5.10 counts it when
 * its timer expires (tw_timer_handler()), never for one that dies early.
 * No kernel between the two is tested; 6.0 is taken as the cut.
 */
static inline bool tw_mib_counts_births(void)
{
	return tw_kernel_release() >= 6000;
}

/*
 * The kernel's own count of TIME_WAIT births in this netns, as a cursor
 * whose deltas the tests compare: TcpExt TW + TWKilled where the kernel
 * counts births; on 5.10, which counts expiries, those plus the live ones
 * (sockstat tw), so that a delta is the births less the early deaths in
 * between (tw_births_kernel_want()).
 */
static inline long long tw_mib_tw(void)
{
	return tw_snmp("TcpExt", "TW") + tw_snmp("TcpExt", "TWKilled");
}

/*
 * On 5.10 an expiry moves a tw from sockstat to TcpExt, counter first.
 * Files read one after the other miss a tw whose timer fires between the
 * two reads, so the sum is taken only when a second pass reads the same
 * (a tw that expires, or is born, in between changes one of them).
 */
static inline long long tw_births_kernel(void)
{
	long long a1, s1, a2 = 0, s2 = 0;
	int i;

	if (tw_mib_counts_births())
		return tw_mib_tw();
	for (i = 0; i < 100; i++) {
		a1 = tw_mib_tw();
		s1 = tw_sockstat_tw();
		a2 = tw_mib_tw();
		s2 = tw_sockstat_tw();
		if (a1 == a2 && s1 == s2)
			break;
	}
	return a2 + s2;
}

/*
 * What a tw_births_kernel() delta must be after @born births, @early of
 * which died before their timer (5.10 counts those nowhere).
 */
static inline long long tw_births_kernel_want(long long born, long long early)
{
	return tw_mib_counts_births() ? born : born - early;
}

/* A PREEMPT_RT kernel. */
static inline bool tw_kernel_rt(void)
{
	return !access("/sys/kernel/realtime", F_OK);
}

/* tcp_abort() kills a TIME_WAIT socket from 6.0 on; -EOPNOTSUPP before. */
static inline bool tw_abort_kills_tw(void)
{
	return tw_kernel_release() >= 6000;
}

/* Run on CPU @cpu only (-1: any). */
static inline void tw_pin(int cpu)
{
	cpu_set_t set;
	int c;

	CPU_ZERO(&set);
	for (c = 0; c < CPU_SETSIZE && c < TW_MAX_CPUS; c++)
		if (cpu < 0 || c == cpu)
			CPU_SET(c, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static inline int tw_ncpus(void)
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

/*
 * Read what every cpuN file holds now; keep the records of rs->netns
 * (all with netns 0) unless @keep is false.  Records read, or -errno.
 */
static inline int __tw_recs_read(struct tw_recs *rs, bool keep)
{
	int c, n, got = 0, ncpus = tw_ncpus();

	if (!ncpus)
		return -ENOENT;
	for (c = 0; c < ncpus; c++) {
		n = tw_recs_read_cpu(rs, c, keep);
		if (n < 0 && n != -ENOENT)
			return n;
		if (n > 0)
			got += n;
	}
	return rs->err ? rs->err : got;
}

static inline int tw_recs_read(struct tw_recs *rs)
{
	return __tw_recs_read(rs, true);
}

/*
 * Throw away whatever earlier tests left in the rings (records are
 * consumed by reading), remembering each CPU's last seq.
 */
static inline int tw_recs_drain(struct tw_recs *rs)
{
	int ret = __tw_recs_read(rs, false);

	tw_recs_clear(rs);
	return ret < 0 ? ret : 0;
}

/*
 * Does record @r match: @type, @reason (< 0: any), local port @sport and
 * remote port @dport (0: any), tw id @id (0: any)?
 */
static inline bool tw_rec_match(const struct twtrace_record *r, int type,
				int reason, unsigned int sport,
				unsigned int dport, unsigned long long id)
{
	return r->type == type && (reason < 0 || r->reason == reason) &&
	       (!sport || r->sport == sport) &&
	       (!dport || r->dport == dport) && (!id || r->tw_id == id);
}

static inline int tw_recs_count(const struct tw_recs *rs, int type,
				int reason, unsigned int sport,
				unsigned int dport, unsigned long long id)
{
	size_t i;
	int n = 0;

	for (i = 0; i < rs->n; i++)
		n += tw_rec_match(&rs->v[i].r, type, reason, sport, dport, id);
	return n;
}

/* The last matching record, or NULL. */
static inline const struct twtrace_record *
tw_recs_find(const struct tw_recs *rs, int type, int reason,
	     unsigned int sport, unsigned int dport, unsigned long long id)
{
	size_t i;

	for (i = rs->n; i-- > 0;)
		if (tw_rec_match(&rs->v[i].r, type, reason, sport, dport, id))
			return &rs->v[i].r;
	return NULL;
}

/* Keep reading until @n matching records are there or @secs passed. */
static inline bool tw_recs_wait(struct tw_recs *rs, int n, int type,
				int reason, unsigned int sport,
				unsigned int dport, double secs)
{
	return tw_wait_until((tw_recs_read(rs),
			      tw_recs_count(rs, type, reason, sport, dport,
					    0) >= n), secs);
}

/* ---- addresses ---- */

union tw_sa {
	struct sockaddr sa;
	struct sockaddr_in v4;
	struct sockaddr_in6 v6;
	struct sockaddr_storage ss;
};

static inline socklen_t tw_sa_len(const union tw_sa *a)
{
	return a->sa.sa_family == AF_INET6 ? sizeof(a->v6) : sizeof(a->v4);
}

static inline unsigned int tw_sa_port(const union tw_sa *a)
{
	return ntohs(a->sa.sa_family == AF_INET6 ? a->v6.sin6_port :
			 a->v4.sin_port);
}

static inline void tw_sa_set_port(union tw_sa *a, unsigned int port)
{
	if (a->sa.sa_family == AF_INET6)
		a->v6.sin6_port = htons(port);
	else
		a->v4.sin_port = htons(port);
}

/* The address bytes (4 or 16, network order). */
static inline const unsigned char *tw_sa_addr(const union tw_sa *a)
{
	if (a->sa.sa_family == AF_INET6)
		return a->v6.sin6_addr.s6_addr;
	return (const unsigned char *)&a->v4.sin_addr.s_addr;
}

static inline size_t tw_sa_addrlen(const union tw_sa *a)
{
	return a->sa.sa_family == AF_INET6 ? 16 : 4;
}

/* 4 or 6, as the module spells families. */
static inline int tw_sa_fam(const union tw_sa *a)
{
	return a->sa.sa_family == AF_INET6 ? 6 : 4;
}

static inline int tw_sa_set(union tw_sa *a, int family, const char *ip,
			    unsigned int port)
{
	memset(a, 0, sizeof(*a));
	a->sa.sa_family = family;
	tw_sa_set_port(a, port);
	if (family == AF_INET6)
		return inet_pton(AF_INET6, ip, &a->v6.sin6_addr) == 1 ? 0 : -1;
	return inet_pton(AF_INET, ip, &a->v4.sin_addr) == 1 ? 0 : -1;
}

/* The loopback address of @family. */
static inline const char *tw_lo(int family)
{
	return family == AF_INET6 ? "::1" : "127.0.0.1";
}

/* Same local and remote tuple in record @r as the sockaddrs given? */
static inline bool tw_rec_tuple_is(const struct twtrace_record *r,
				   const union tw_sa *local,
				   const union tw_sa *remote)
{
	size_t len = tw_sa_addrlen(local);

	return r->family == tw_sa_fam(local) &&
	       r->sport == tw_sa_port(local) &&
	       r->dport == tw_sa_port(remote) &&
	       !memcmp(r->saddr, tw_sa_addr(local), len) &&
	       !memcmp(r->daddr, tw_sa_addr(remote), len);
}

/* ---- the live file ---- */

struct tw_live {
	unsigned long long id, age_ns;
	unsigned int netns, rearms;
	int family;			/* 4 or 6 */
	unsigned char laddr[16], raddr[16];
	unsigned int lport, rport;
	int substate;			/* 5, 6; -1 if the name is unknown */
};

/* "1.2.3.4:80" or "[::1]:80" into address bytes and port. */
static inline int tw_parse_addrport(const char *s, int fam,
				    unsigned char *addr, unsigned int *port)
{
	char buf[80], *colon;

	snprintf(buf, sizeof(buf), "%s", s);
	colon = strrchr(buf, ':');
	if (!colon)
		return -1;
	*colon = '\0';
	*port = atoi(colon + 1);
	if (fam == 6) {
		if (buf[0] != '[' || colon[-1] != ']')
			return -1;
		colon[-1] = '\0';
		return inet_pton(AF_INET6, buf + 1, addr) == 1 ? 0 : -1;
	}
	memset(addr, 0, 16);
	return inet_pton(AF_INET, buf, addr) == 1 ? 0 : -1;
}

/*
 * The lines of the live file for @netns (0: every netns), the first @max
 * into @v.  The number of lines, or -1 if the file is missing or a line
 * does not parse.
 */
static inline int tw_live_read(struct tw_live *v, int max, unsigned int netns)
{
	char line[512], la[80], ra[80], st[32];
	FILE *f = fopen(TW_DIR "/live", "r");
	struct tw_live l;
	int n = 0, bad = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		memset(&l, 0, sizeof(l));
		if (sscanf(line, "%llu %u %d %79s %79s %31s %llu %u", &l.id,
			   &l.netns, &l.family, la, ra, st, &l.age_ns,
			   &l.rearms) != 8 ||
		    tw_parse_addrport(la, l.family, l.laddr, &l.lport) ||
		    tw_parse_addrport(ra, l.family, l.raddr, &l.rport)) {
			bad++;
			continue;
		}
		l.substate = !strcmp(st, "TIME_WAIT") ?
			     TWTRACE_SUBSTATE_TIME_WAIT :
			     !strcmp(st, "FIN_WAIT2") ?
			     TWTRACE_SUBSTATE_FIN_WAIT2 : -1;
		if (netns && l.netns != netns)
			continue;
		if (v && n < max)
			v[n] = l;
		n++;
	}
	fclose(f);
	return bad ? -1 : n;
}

/* The live line of tw @id, or NULL. */
static inline const struct tw_live *tw_live_find(const struct tw_live *v,
						 int n, unsigned long long id)
{
	int i;

	for (i = 0; i < n; i++)
		if (v[i].id == id)
			return &v[i];
	return NULL;
}

/* ---- the kernel's /proc/net/tcp and tcp6 ---- */

struct tw_tcprow {
	int family;			/* 4 or 6 */
	unsigned char laddr[16], raddr[16];
	unsigned int lport, rport;
	unsigned int st;		/* TCP state; the substate for a TW */
	unsigned int timer;		/* 3: a TIME_WAIT socket */
	unsigned long when;		/* its time left, in USER_HZ ticks */
};

/* Hex words as /proc/net/tcp prints addresses (%08X of each u32). */
static inline int tw_parse_hexaddr(const char *s, unsigned char *addr,
				   int words)
{
	char w[9];
	__u32 v;
	int i;

	if ((int)strlen(s) != words * 8)
		return -1;
	memset(addr, 0, 16);
	for (i = 0; i < words; i++) {
		memcpy(w, s + i * 8, 8);
		w[8] = '\0';
		v = strtoul(w, NULL, 16);
		memcpy(addr + i * 4, &v, 4);
	}
	return 0;
}

/*
 * The rows of /proc/net/tcp and /proc/net/tcp6 (the caller's netns),
 * TIME_WAIT sockets only (timer 3) if @tw_only; the first @max into @v.
 * The number of rows, or -1.
 */
static inline int tw_proc_tcp_read(struct tw_tcprow *v, int max, bool tw_only)
{
	static const char * const files[] = { "/proc/net/tcp",
					      "/proc/net/tcp6" };
	static const char fmt[] =
		" %*d: %39[0-9A-F]:%x %39[0-9A-F]:%x %x %*x:%*x %x:%lx";
	char line[512], la[40], ra[40];
	struct tw_tcprow r;
	int i, n = 0;
	FILE *f;

	for (i = 0; i < 2; i++) {
		f = fopen(files[i], "r");
		if (!f)
			return -1;
		while (fgets(line, sizeof(line), f)) {
			memset(&r, 0, sizeof(r));
			r.family = i ? 6 : 4;
			if (sscanf(line, fmt, la, &r.lport, ra, &r.rport,
				   &r.st, &r.timer, &r.when) != 7)
				continue;
			if (tw_parse_hexaddr(la, r.laddr, i ? 4 : 1) ||
			    tw_parse_hexaddr(ra, r.raddr, i ? 4 : 1))
				continue;
			if (tw_only && r.timer != 3)
				continue;
			if (v && n < max)
				v[n] = r;
			n++;
		}
		fclose(f);
	}
	return n;
}

/*
 * The TIME_WAIT row of the socket with this local and remote port, among
 * all of them (a storm test has hundreds).
 */
static inline bool tw_proc_tw_find(unsigned int lport, unsigned int rport,
				   struct tw_tcprow *out)
{
	struct tw_tcprow *rows = NULL;
	int i, n, max = 512;
	bool found = false;

	do {
		free(rows);
		max *= 2;
		rows = calloc(max, sizeof(*rows));
		if (!rows)
			return false;
		n = tw_proc_tcp_read(rows, max, true);
	} while (n > max);
	for (i = 0; i < n && !found; i++) {
		if (rows[i].lport != lport || rows[i].rport != rport)
			continue;
		if (out)
			*out = rows[i];
		found = true;
	}
	free(rows);
	return found;
}

/* ---- quiet: no left-overs of earlier tests' namespaces ---- */

/* Is some process in the network namespace @inum? */
static inline bool tw_netns_in_use(unsigned int inum)
{
	char path[300], buf[64], want[32];
	bool found = false;
	struct dirent *de;
	ssize_t n;
	DIR *d;

	snprintf(want, sizeof(want), "net:[%u]", inum);
	d = opendir("/proc");
	if (!d)
		return true;
	while (!found && (de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/ns/net", de->d_name);
		n = readlink(path, buf, sizeof(buf) - 1);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		found = !strcmp(buf, want);
	}
	closedir(d);
	return found;
}

/*
 * The TIME_WAIT sockets of a namespace die when the namespace goes, a
 * little after its last process (cleanup_net runs from a workqueue).
 * Wait until the module tracks no socket of a namespace nobody is in, so
 * that earlier tests' purges do not land in this test's figures.
 */
static inline bool tw_settle(double secs)
{
	double end = tw_now() + secs;
	struct tw_live *v;
	bool quiet;
	int i, n;

	v = calloc(4096, sizeof(*v));
	if (!v)
		return false;
	do {
		quiet = true;
		n = tw_live_read(v, 4096, 0);
		if (n < 0 || n > 4096)
			quiet = false;
		for (i = 0; quiet && i < n; i++)
			if (!tw_netns_in_use(v[i].netns))
				quiet = false;
		if (!quiet)
			usleep(50000);
	} while (!quiet && tw_now() < end);
	free(v);
	return quiet;
}

/* ---- sockets, IPv4 and IPv6 alike ---- */

/* A listening socket on @ip, any port; its address in @addr. */
static inline int tw_listen(int family, const char *ip, union tw_sa *addr)
{
	socklen_t len = sizeof(*addr);
	int fd, one = 1;

	if (tw_sa_set(addr, family, ip, 0))
		return -EINVAL;
	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, &addr->sa, tw_sa_len(addr)) || listen(fd, 128) ||
	    getsockname(fd, &addr->sa, &len)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* One accepted connection: client @c, server end @a. */
struct tw_conn {
	int c, a;
	union tw_sa caddr;		/* the client's local address */
	union tw_sa saddr;		/* the server's */
};

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT	24
#endif

/*
 * Connect to @dst, listening on @lfd.  With @src, SO_REUSEADDR and bind
 * to it first: a nonzero port makes the kernel take the bound-port path
 * of connect(), port 0 only fixes the address (IP_BIND_ADDRESS_NO_PORT)
 * and leaves the ephemeral-port path.  0, or -errno of the failing call
 * (connect()'s EADDRNOTAVAIL in particular).
 */
static inline int tw_conn_open(struct tw_conn *k, int lfd,
			       const union tw_sa *dst, const union tw_sa *src)
{
	socklen_t len = sizeof(k->caddr);
	int one = 1, err;

	k->c = -1;
	k->a = -1;
	k->saddr = *dst;
	k->c = socket(dst->sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (k->c < 0)
		return -errno;
	if (src) {
		setsockopt(k->c, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (!tw_sa_port(src) && src->sa.sa_family == AF_INET)
			setsockopt(k->c, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT,
				   &one, sizeof(one));
		if (bind(k->c, &src->sa, tw_sa_len(src)))
			goto fail;
	}
	if (connect(k->c, &dst->sa, tw_sa_len(dst)))
		goto fail;
	if (getsockname(k->c, &k->caddr.sa, &len))
		goto fail;
	k->a = accept(lfd, NULL, NULL);
	if (k->a < 0)
		goto fail;
	return 0;
fail:
	err = -errno;
	close(k->c);
	k->c = -1;
	return err;
}

/* Read @fd until EOF or error. */
static inline void tw_drain_eof(int fd)
{
	char buf[256];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/* Client closes, server closes after EOF: the client's end is a TW. */
static inline void tw_conn_close_client_first(struct tw_conn *k)
{
	close(k->c);
	tw_drain_eof(k->a);
	close(k->a);
	k->c = -1;
	k->a = -1;
}

/* The TCP state of socket @fd (TCP_INFO), -1 on error. */
static inline int tw_tcp_state(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len))
		return -1;
	return ti.tcpi_state;
}

/*
 * Client closes, the server keeps its end open: the client's end is a TW
 * that stays in the FIN_WAIT2 substate (the server's FIN never comes).
 *
 * The server acks the FIN late (delayed ACK); if that ACK met the client
 * inside close(), the kernel would keep a full orphan FIN_WAIT2 socket
 * instead of a TW.  So: shutdown(), wait for FIN_WAIT2, then close(),
 * which makes the TW at once.  0, or -ETIMEDOUT.
 */
static inline int tw_conn_close_client_only(struct tw_conn *k)
{
	bool ok;

	shutdown(k->c, SHUT_WR);
	tw_drain_eof(k->a);
	ok = tw_wait_until(tw_tcp_state(k->c) == TWTRACE_SUBSTATE_FIN_WAIT2,
			   5);
	close(k->c);
	k->c = -1;
	return ok ? 0 : -ETIMEDOUT;
}

/* Server closes first: the server's end becomes the TW. */
static inline void tw_conn_close_server_first(struct tw_conn *k)
{
	close(k->a);
	tw_drain_eof(k->c);
	close(k->c);
	k->c = -1;
	k->a = -1;
}

static inline void tw_conn_close(struct tw_conn *k)
{
	if (k->c >= 0)
		close(k->c);
	if (k->a >= 0)
		close(k->a);
	k->c = -1;
	k->a = -1;
}

/* ---- TIME_WAIT sockets made to order (the tests and tw_workload) ---- */

/* Wait until the kernel lists the TIME_WAIT socket @local -> @remote. */
static inline bool tw_wait_tw_row(const union tw_sa *local,
				  const union tw_sa *remote, double secs)
{
	return tw_wait_until(tw_proc_tw_find(tw_sa_port(local),
					     tw_sa_port(remote), NULL), secs);
}

/* Wait until the kernel no longer lists it. */
static inline bool tw_wait_tw_gone(const union tw_sa *local,
				   const union tw_sa *remote, double secs)
{
	return tw_wait_until(!tw_proc_tw_find(tw_sa_port(local),
					      tw_sa_port(remote), NULL), secs);
}

/*
 * A client-side TW from @src (or an ephemeral port) to @dst, listening on
 * @lfd: the client closes first.  Done when the kernel lists it (not by
 * sockstat's count, which other sockets may change meanwhile).  0, -errno
 * of the connection, or -ETIMEDOUT.
 */
static inline int tw_make_client_tw(struct tw_conn *k, int lfd,
				    const union tw_sa *dst,
				    const union tw_sa *src)
{
	int ret = tw_conn_open(k, lfd, dst, src);

	if (ret)
		return ret;
	tw_conn_close_client_first(k);
	return tw_wait_tw_row(&k->caddr, &k->saddr, 5) ? 0 : -ETIMEDOUT;
}

/*
 * A client-side TW that stays in the FIN_WAIT2 substate: the server end,
 * k->a, stays open (close it, abort it or write to it later).
 */
static inline int tw_make_fw2_tw(struct tw_conn *k, int lfd,
				 const union tw_sa *dst)
{
	int ret = tw_conn_open(k, lfd, dst, NULL);

	if (ret)
		return ret;
	ret = tw_conn_close_client_only(k);
	if (ret)
		return ret;
	return tw_wait_tw_row(&k->caddr, &k->saddr, 5) ? 0 : -ETIMEDOUT;
}

/*
 * A client-side TW born in the FIN_WAIT2 substate and turned TIME_WAIT by
 * the server's FIN just after: always a birth and a rearm.  (With
 * tw_make_client_tw() the server's FIN may reach the client before its
 * TW is made, which is then born TIME_WAIT, with no rearm.)
 */
static inline int tw_make_rearmed_tw(struct tw_conn *k, int lfd,
				     const union tw_sa *dst)
{
	struct tw_tcprow row;
	int ret = tw_make_fw2_tw(k, lfd, dst);

	if (ret)
		return ret;
	close(k->a);
	k->a = -1;
	ret = tw_wait_until(tw_proc_tw_find(tw_sa_port(&k->caddr),
					    tw_sa_port(&k->saddr), &row) &&
			    row.st == TWTRACE_SUBSTATE_TIME_WAIT, 5);
	return ret ? 0 : -ETIMEDOUT;
}

/* A server-side TW: the server closes first. */
static inline int tw_make_server_tw(struct tw_conn *k, int lfd,
				    const union tw_sa *dst)
{
	int ret = tw_conn_open(k, lfd, dst, NULL);

	if (ret)
		return ret;
	tw_conn_close_server_first(k);
	return tw_wait_tw_row(&k->saddr, &k->caddr, 5) ? 0 : -ETIMEDOUT;
}

/*
 * The server end of a tw_make_fw2_tw() connection aborts (SO_LINGER
 * {1, 0}, close()): its RST kills the client's FIN_WAIT2-substate TW.
 * 0 when the kernel no longer lists the TW, -errno or -ETIMEDOUT.
 */
static inline int tw_conn_abort_server(struct tw_conn *k)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (setsockopt(k->a, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)))
		return -errno;
	close(k->a);
	k->a = -1;
	return tw_wait_tw_gone(&k->caddr, &k->saddr, 5) ? 0 : -ETIMEDOUT;
}

/* sock_diag: ss -K for TIME_WAIT sockets (admin_destroyed, probes). */

/* Load /lib/modules/$(uname -r)/@name.ko unless it is there. */
static inline int tw_load_kmod(const char *name)
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

struct diag_req {
	struct nlmsghdr nlh;
	struct inet_diag_req_v2 r;
};

/* A sock_diag request of @type for the TCP sockets of @family in @states. */
static inline struct diag_req tw_diag_req(int type, int flags, int family,
					  unsigned int states)
{
	struct diag_req req = {
		.nlh = {
			.nlmsg_len = sizeof(req),
			.nlmsg_type = type,
			.nlmsg_flags = NLM_F_REQUEST | flags,
			.nlmsg_seq = 1,
		},
		.r = {
			.sdiag_family = family,
			.sdiag_protocol = IPPROTO_TCP,
			.idiag_states = states,
		},
	};

	return req;
}

/* A tw's states, in its substates' bits. */
static const unsigned int tw_diag_states = 1 << TWTRACE_SUBSTATE_TIME_WAIT |
					   1 << TWTRACE_SUBSTATE_FIN_WAIT2;

/*
 * Whether TCP sock_diag answers (built into the kernel, or loaded): a dump
 * of no state gets NLMSG_DONE, not ENOENT.
 */
static inline bool tw_tcp_diag_answers(void)
{
	struct diag_req req = tw_diag_req(SOCK_DIAG_BY_FAMILY, NLM_F_DUMP,
					  AF_INET, 0);
	long buf[1024 / sizeof(long)];
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	bool ok = false;
	ssize_t n;
	int fd;

	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return false;
	if (send(fd, &req, sizeof(req), 0) == sizeof(req)) {
		n = recv(fd, buf, sizeof(buf), 0);
		ok = n > 0 && NLMSG_OK(h, n) && h->nlmsg_type != NLMSG_ERROR;
	}
	close(fd);
	return ok;
}

/*
 * Dump the TIME_WAIT sockets (both substates) of @family; the id of the
 * one @local -> @remote into @id.  1 found, 0 not, -errno.
 */
static inline int tw_diag_find_tw(int family, const union tw_sa *local,
				  const union tw_sa *remote,
				  struct inet_diag_sockid *id,
				  unsigned char *state)
{
	struct diag_req req = tw_diag_req(SOCK_DIAG_BY_FAMILY, NLM_F_DUMP,
					  family, tw_diag_states);
	size_t alen = tw_sa_addrlen(local);
	long buf[8192 / sizeof(long)];
	int fd, found = 0, done = 0;
	struct nlmsghdr *h;
	ssize_t n;

	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -errno;
	if (send(fd, &req, sizeof(req), 0) != sizeof(req)) {
		close(fd);
		return -errno;
	}
	while (!done && (n = recv(fd, buf, sizeof(buf), 0)) > 0) {
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, n);
		     h = NLMSG_NEXT(h, n)) {
			struct inet_diag_msg *m = NLMSG_DATA(h);

			if (h->nlmsg_type == NLMSG_DONE) {
				done = 1;
				break;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(h);

				close(fd);
				return e->error;
			}
			if (ntohs(m->id.idiag_sport) != tw_sa_port(local) ||
			    ntohs(m->id.idiag_dport) != tw_sa_port(remote) ||
			    memcmp(m->id.idiag_src, tw_sa_addr(local), alen) ||
			    memcmp(m->id.idiag_dst, tw_sa_addr(remote), alen))
				continue;
			*id = m->id;
			*state = m->idiag_state;
			found = 1;
		}
	}
	close(fd);
	return found;
}

/* SOCK_DESTROY of socket @id: the kernel's answer, 0 or -errno. */
static inline int tw_diag_destroy(int family, const struct inet_diag_sockid *id)
{
	struct diag_req req = tw_diag_req(SOCK_DESTROY, NLM_F_ACK, family,
					  tw_diag_states);
	long buf[1024 / sizeof(long)];
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	int fd, ret = -EPROTO;
	ssize_t n;

	req.r.id = *id;
	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -errno;
	if (send(fd, &req, sizeof(req), 0) != sizeof(req)) {
		ret = -errno;
	} else {
		n = recv(fd, buf, sizeof(buf), 0);
		if (n > 0 && NLMSG_OK(h, n) && h->nlmsg_type == NLMSG_ERROR)
			ret = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
	}
	close(fd);
	return ret;
}

#endif /* TWTRACE_LIB_H */
