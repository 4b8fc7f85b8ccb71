/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The twtrace selftests' library (lib/, built into libtwtrace.a): the
 * module's files, the kernel's own figures (the oracles: /proc/net/netstat,
 * /proc/net/sockstat, /proc/net/tcp), loopback workloads that leave
 * TIME_WAIT sockets behind, namespaces and processes, and the reader run
 * as a child.  Declarations only.
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
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/twtrace.h>

#define TW_DIR		"/sys/kernel/debug/" TWTRACE_DEBUGFS_DIR

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

#define NOBODY		65534

#define NSEC		1000000000LL
#define MSEC		1000000LL

#define SUB_FW2		TWTRACE_SUBSTATE_FIN_WAIT2
#define SUB_TW		TWTRACE_SUBSTATE_TIME_WAIT

/* Poll @expr (re-evaluated) for up to @secs seconds. */
#define tw_wait_until(expr, secs) ({				\
	double __end = tw_now() + (secs);			\
	bool __ok;						\
	while (!(__ok = (expr)) && tw_now() < __end)		\
		usleep(20000);					\
	__ok;							\
})

#define TW_STATS_MAX	256

struct tw_stats {
	int n;
	char name[TW_STATS_MAX][40];
	long long val[TW_STATS_MAX];
};

#define TW_MAX_CPUS	64

#define TW_REC_SIZE	((ssize_t)sizeof(struct twtrace_record))

/* The controls a test may change, as they were before it. */
struct tw_ctls {
	char enable[32], ring_kb[32], overwrite[32];
};

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

struct tw_live {
	unsigned long long id, age_ns;
	unsigned int netns, rearms;
	int family;			/* 4 or 6 */
	unsigned char laddr[16], raddr[16];
	unsigned int lport, rport;
	int substate;			/* 5, 6; -1 if the name is unknown */
	long long uid;			/* the owner's; -1: "-" (unknown) */
	unsigned long long cgroup;	/* cgroup v2 id; 0: "-" */
	unsigned long long cookie;	/* SO_COOKIE */
	int role;			/* enum twtrace_role; -1 if unknown name */
};

/* A line of the groups file; netns 0 and cgroup 0: the "other" line. */
struct tw_group {
	unsigned int netns;
	unsigned long long cgroup;	/* 0: owner not known */
	long long live, births, rearms, death[TWTRACE_DEATH_NR];
	long long reuse_allowed, reuse_refused, overflow, connect_fail;
};

struct tw_tcprow {
	int family;			/* 4 or 6 */
	unsigned char laddr[16], raddr[16];
	unsigned int lport, rport;
	unsigned int st;		/* TCP state; the substate for a TW */
	unsigned int timer;		/* 3: a TIME_WAIT socket */
	unsigned long when;		/* its time left, in USER_HZ ticks */
};

union tw_sa {
	struct sockaddr sa;
	struct sockaddr_in v4;
	struct sockaddr_in6 v6;
	struct sockaddr_storage ss;
};

/* One accepted connection: client @c, server end @a. */
struct tw_conn {
	int c, a;
	union tw_sa caddr;		/* the client's local address */
	union tw_sa saddr;		/* the server's */
};

enum rd_as {
	RD_ROOT,		/* as the test runs */
	RD_NOBODY,		/* setuid(65534) after fork() */
	RD_NO_DEBUGFS,		/* own mount namespace without debugfs */
};

/* Exit codes of the child before it became the reader. */
#define RD_SETUP_FAILED	125
#define RD_EXEC_FAILED	127

struct rd {
	pid_t pid;
	int ofd, efd;		/* its stdout and stderr, unlinked files */
	int rc;			/* exit status; -1: killed by a signal */
	int sig;		/* the signal that killed it */
	char *out, *err;	/* what it wrote */
	double t0, t1;		/* started, ended (CLOCK_MONOTONIC) */
};

#define RD(...)	((const char *const []){ "twtrace", __VA_ARGS__, NULL })

/* ---- the module, its controls, stats and hist (lib/module.c) ---- */

const char *tw_ko_path(void);

bool tw_module_loaded(void);

int tw_module_load(void);

int tw_module_unload(void);

/* Load the module if the runner has not; 0 when it is loaded. */
int tw_module_ensure(void);

/* Value of "key value" line @key in file @path; -1 if absent. */
long long tw_kv_read(const char *path, const char *key);

long long tw_stat(const char *name);

/* The reasons' names, as the stats and hist files spell them. */
const char *tw_death_name(unsigned int r);

const char *tw_reuse_name(unsigned int r);

const char *tw_overflow_name(unsigned int r);

int tw_stats_read(struct tw_stats *s);

/* Counter @name; -1 if the module does not have it. */
long long tw_stats_get(const struct tw_stats *s,
		       const char *name);

/* @name grew by this much from @a to @b (LLONG_MIN if absent). */
long long tw_stats_delta(const struct tw_stats *a,
			 const struct tw_stats *b,
			 const char *name);

/* Growth of "<prefix><reason>" summed over every @prefix counter. */
long long tw_stats_delta_sum(const struct tw_stats *a,
			     const struct tw_stats *b,
			     const char *prefix);

/* The log2 bucket of @ns, as the module's histograms count it. */
int tw_log2_bucket(unsigned long long ns);

/*
 * Sum of the counts of hist lines "<key> <bucket> <count>", where @key is
 * "lifetime <reason>" or "reuse_age"; @bucket < 0 sums every bucket.
 */
long long tw_hist_get(const char *key, int bucket);

/* All buckets of hist lines "<key> <bucket> <count>" into @out. */
int tw_hist_buckets(const char *key,
		    long long out[TWTRACE_HIST_BUCKETS]);

/* A control file of the module ("enable", "ring_kb", ...). */
int tw_ctl_set(const char *name, const char *val);

int tw_ctl_str(const char *name, char *buf, size_t len);

long long tw_ctl_get(const char *name);

/* Put back the controls tw_ctls_save() saved (from the harness). */
void tw_ctls_restore(const struct tw_ctls *c);

/* Number of cpuN files (highest N + 1). */
int tw_ncpus(void);

/* Load /lib/modules/$(uname -r)/@name.ko unless it is there. */
int tw_load_kmod(const char *name);

/* ---- the kernel's own figures (lib/oracles.c) ---- */

/*
 * A counter of /proc/net/netstat or /proc/net/snmp ("TcpExt", "TW"),
 * as the kernel reports it for the caller's network namespace; -1 if absent.
 */
long long tw_snmp(const char *proto, const char *name);

/* TIME_WAIT sockets alive in the caller's netns, per /proc/net/sockstat. */
long long tw_sockstat_tw(void);

/* Write @val to the file @path; 0 or -errno. */
int tw_write_str(const char *path, const char *val);

/* The first line of @path, without its newline; 0 or -errno. */
int tw_read_str(const char *path, char *buf, size_t len);

/*
 * A sysctl of the caller's network namespace, by its /proc/sys path
 * ("net/ipv4/tcp_tw_reuse"): /proc/sys/net is per netns.
 */
int tw_sysctl_set(const char *name, const char *val);

long long tw_sysctl_get(const char *name);

/* The debug kernel (kmemleak, KASAN, lockdep): everything takes longer. */
bool tw_slow_kernel(void);

/* The running kernel's release, as major * 1000 + minor (5.10: 5010). */
int tw_kernel_release(void);

/*
 * Whether TcpExt TW and TWKilled count TIME_WAIT births.  6.1 and later
 * count a tw when it is born (__inet_twsk_schedule()); 5.10 counts it when
 * its timer expires (tw_timer_handler()), never for one that dies early.
 * No kernel between the two is tested; 6.0 is taken as the cut.
 */
bool tw_mib_counts_births(void);

/*
 * The kernel's own count of TIME_WAIT births in this netns, as a cursor
 * whose deltas the tests compare: TcpExt TW + TWKilled where the kernel
 * counts births; on 5.10, which counts expiries, those plus the live ones
 * (sockstat tw), so that a delta is the births less the early deaths in
 * between (tw_births_kernel_want()).
 */
long long tw_mib_tw(void);

/*
 * On 5.10 an expiry moves a tw from sockstat to TcpExt, counter first.
 * Files read one after the other miss a tw whose timer fires between the
 * two reads, so the sum is taken only when a second pass reads the same
 * (a tw that expires, or is born, in between changes one of them).
 */
long long tw_births_kernel(void);

/*
 * What a tw_births_kernel() delta must be after @born births, @early of
 * which died before their timer (5.10 counts those nowhere).
 */
long long tw_births_kernel_want(long long born, long long early);

/* A PREEMPT_RT kernel. */
bool tw_kernel_rt(void);

/* tcp_abort() kills a TIME_WAIT socket from 6.0 on; -EOPNOTSUPP before. */
bool tw_abort_kills_tw(void);

/* Hex words as /proc/net/tcp prints addresses (%08X of each u32). */
int tw_parse_hexaddr(const char *s, unsigned char *addr,
		     int words);

/*
 * The rows of /proc/net/tcp and /proc/net/tcp6 (the caller's netns),
 * TIME_WAIT sockets only (timer 3) if @tw_only; the first @max into @v.
 * The number of rows, or -1.
 */
int tw_proc_tcp_read(struct tw_tcprow *v, int max, bool tw_only);

/*
 * The TIME_WAIT row of the socket with this local and remote port, among
 * all of them (a storm test has hundreds).
 */
bool tw_proc_tw_find(unsigned int lport, unsigned int rport,
		     struct tw_tcprow *out);

/* A TcpExt counter of /proc/net/netstat; -1 if absent. */
long long tw_tcpext(const char *name);

/* ---- records and the live file (lib/records.c) ---- */

void tw_recs_init(struct tw_recs *rs, unsigned int netns);

void tw_recs_free(struct tw_recs *rs);

/*
 * Read what every cpuN file holds now; keep the records of rs->netns
 * (all with netns 0) unless @keep is false.  Records read, or -errno.
 */
int tw_recs_read_keep(struct tw_recs *rs, bool keep);

int tw_recs_read(struct tw_recs *rs);

/*
 * Throw away whatever earlier tests left in the rings (records are
 * consumed by reading), remembering each CPU's last seq.
 */
int tw_recs_drain(struct tw_recs *rs);

/*
 * Does record @r match: @type, @reason (< 0: any), local port @sport and
 * remote port @dport (0: any), tw id @id (0: any)?
 */
bool tw_rec_match(const struct twtrace_record *r, int type, int reason,
		  unsigned int sport, unsigned int dport, unsigned long long id);

int tw_recs_count(const struct tw_recs *rs, int type,
		  int reason, unsigned int sport,
		  unsigned int dport, unsigned long long id);

/* The last matching record, or NULL. */
const struct twtrace_record *
tw_recs_find(const struct tw_recs *rs, int type, int reason,
	     unsigned int sport, unsigned int dport, unsigned long long id);

/* Same local and remote tuple in record @r as the sockaddrs given? */
bool tw_rec_tuple_is(const struct twtrace_record *r,
		     const union tw_sa *local,
		     const union tw_sa *remote);

/*
 * The lines of the live file for @netns (0: every netns), the first @max
 * into @v.  The number of lines, or -1 if the file is missing or a line
 * does not parse.
 */
int tw_live_read(struct tw_live *v, int max, unsigned int netns);

/* The live line of tw @id, or NULL. */
const struct tw_live *tw_live_find(const struct tw_live *v,
				   int n, unsigned long long id);

/*
 * stats live and the number of live lines of every netns (the first @max
 * into @v), read until they agree, at most 10 times: whether they did.
 */
bool tw_live_stat_stable(struct tw_live *v, int max, long long *stat,
			 long long *lines);

/* Is tw @id in the live file (of netns @ns)?  Its line in @out. */
bool tw_live_has(unsigned int ns, unsigned long long id, struct tw_live *out);
/*
 * The groups file's lines, by the names of its header's columns (others
 * are ignored), the first @max into @v: their number, -1 if the file is
 * missing or does not parse.
 */
int tw_groups_read(struct tw_group *v, int max);
/* The group (@netns, @cgroup) into @out, zeroes if absent: whether there. */
bool tw_group_get(unsigned int netns, unsigned long long cgroup,
		  struct tw_group *out);

/* ---- sockets (lib/sock.c) ---- */

socklen_t tw_sa_len(const union tw_sa *a);

unsigned int tw_sa_port(const union tw_sa *a);

/* The address bytes (4 or 16, network order). */
const unsigned char *tw_sa_addr(const union tw_sa *a);

size_t tw_sa_addrlen(const union tw_sa *a);

/* 4 or 6, as the module spells families. */
int tw_sa_fam(const union tw_sa *a);

int tw_sa_set(union tw_sa *a, int family, const char *ip,
	      unsigned int port);

/* The loopback address of @family. */
const char *tw_lo(int family);

/* A listening socket on @ip, any port; its address in @addr. */
int tw_listen(int family, const char *ip, union tw_sa *addr);

/*
 * tw_listen() with a TCP socket @fd made elsewhere, of @ip's family: @fd,
 * or -errno and @fd closed.
 */
int tw_listen_fd(int fd, const char *ip, union tw_sa *addr);

/*
 * Connect to @dst, listening on @lfd.  With @src, SO_REUSEADDR and bind
 * to it first: a nonzero port makes the kernel take the bound-port path
 * of connect(), port 0 only fixes the address (IP_BIND_ADDRESS_NO_PORT)
 * and leaves the ephemeral-port path.  0, or -errno of the failing call
 * (connect()'s EADDRNOTAVAIL in particular).
 */
int tw_conn_open(struct tw_conn *k, int lfd,
		 const union tw_sa *dst, const union tw_sa *src);

/*
 * tw_conn_open() with a TCP socket @fd made elsewhere (another process
 * made it and passed it on, say): closed on failure.
 */
int tw_conn_open_fd(struct tw_conn *k, int fd, int lfd,
		    const union tw_sa *dst, const union tw_sa *src);

/* The SO_COOKIE of socket @fd (the one ss -e and sock_diag show); 0. */
unsigned long long tw_sock_cookie(int fd);

/* Client closes, server closes after EOF: the client's end is a TW. */
void tw_conn_close_client_first(struct tw_conn *k);

/*
 * Client closes, the server keeps its end open: the client's end is a TW
 * that stays in the FIN_WAIT2 substate (the server's FIN never comes).
 *
 * The server acks the FIN late (delayed ACK); if that ACK met the client
 * inside close(), the kernel would keep a full orphan FIN_WAIT2 socket
 * instead of a TW.  So: shutdown(), wait for FIN_WAIT2, then close(),
 * which makes the TW at once.  0, or -ETIMEDOUT.
 */
int tw_conn_close_client_only(struct tw_conn *k);

/* Server closes first: the server's end becomes the TW. */
void tw_conn_close_server_first(struct tw_conn *k);

void tw_conn_close(struct tw_conn *k);

/* Wait until the kernel lists the TIME_WAIT socket @local -> @remote. */
bool tw_wait_tw_row(const union tw_sa *local,
		    const union tw_sa *remote, double secs);

/* Wait until the kernel no longer lists it. */
bool tw_wait_tw_gone(const union tw_sa *local,
		     const union tw_sa *remote, double secs);

/*
 * A client-side TW from @src (or an ephemeral port) to @dst, listening on
 * @lfd: the client closes first.  Done when the kernel lists it (not by
 * sockstat's count, which other sockets may change meanwhile).  0, -errno
 * of the connection, or -ETIMEDOUT.
 */
int tw_make_client_tw(struct tw_conn *k, int lfd,
		      const union tw_sa *dst,
		      const union tw_sa *src);

/*
 * A client-side TW that stays in the FIN_WAIT2 substate: the server end,
 * k->a, stays open (close it, abort it or write to it later).
 */
int tw_make_fw2_tw(struct tw_conn *k, int lfd,
		   const union tw_sa *dst);

/*
 * A client-side TW born in the FIN_WAIT2 substate and turned TIME_WAIT by
 * the server's FIN just after: always a birth and a rearm.  (With
 * tw_make_client_tw() the server's FIN may reach the client before its
 * TW is made, which is then born TIME_WAIT, with no rearm.)
 */
int tw_make_rearmed_tw(struct tw_conn *k, int lfd,
		       const union tw_sa *dst);

/* A server-side TW: the server closes first. */
int tw_make_server_tw(struct tw_conn *k, int lfd,
		      const union tw_sa *dst);

/*
 * The server end of a tw_make_fw2_tw() connection aborts (SO_LINGER
 * {1, 0}, close()): its RST kills the client's FIN_WAIT2-substate TW.
 * 0 when the kernel no longer lists the TW, -errno or -ETIMEDOUT.
 */
int tw_conn_abort_server(struct tw_conn *k);

/*
 * One TIME_WAIT socket made on each CPU in turn, so that each CPU's ring
 * gets a record (loopback delivers in the sender's softirq).
 */
void tw_prime_cpus(int ncpus, int lfd, const union tw_sa *dst);

/* ---- sock_diag (lib/diag.c) ---- */

/*
 * Whether TCP sock_diag answers (built into the kernel, or loaded): a dump
 * of no state gets NLMSG_DONE, not ENOENT.
 */
bool tw_tcp_diag_answers(void);

/*
 * Dump the TIME_WAIT sockets (both substates) of @family; the id of the
 * one @local -> @remote into @id.  1 found, 0 not, -errno.
 */
int tw_diag_find_tw(int family, const union tw_sa *local,
		    const union tw_sa *remote,
		    struct inet_diag_sockid *id,
		    unsigned char *state);

/* The socket cookie in a sock_diag id, as SO_COOKIE gives it. */
unsigned long long tw_diag_cookie(const struct inet_diag_sockid *id);

/* SOCK_DESTROY of socket @id: the kernel's answer, 0 or -errno. */
int tw_diag_destroy(int family, const struct inet_diag_sockid *id);

/* ---- time, namespaces, CPUs, processes (lib/proc.c) ---- */

double tw_now(void);

/* Move the caller into a new network namespace with lo up. */
int tw_netns_new(void);

/* The inode number of the caller's network namespace; 0 on error. */
unsigned int tw_netns_inum(void);

/* Run on CPU @cpu only (-1: any). */
void tw_pin(int cpu);

/* Is some process in the network namespace @inum? */
bool tw_netns_in_use(unsigned int inum);

/*
 * The TIME_WAIT sockets of a namespace die when the namespace goes, a
 * little after its last process (cleanup_net runs from a workqueue).
 * Wait until the module tracks no socket of a namespace nobody is in, so
 * that earlier tests' purges do not land in this test's figures.
 */
bool tw_settle(double secs);

/* The CPUs online. */
int tw_cpus_online(void);

/* @len bytes of memory shared with the children forked after; NULL. */
void *tw_shm_alloc(size_t len);

/* fork(), the child killed when its parent goes (a failed test). */
pid_t tw_spawn(void);

/* Reap @pid within @secs: its wait status, or -1 (killed, maybe stuck). */
int tw_reap(pid_t pid, double secs);

int tw_kill_reap(pid_t pid, double secs);

bool tw_killed_by_sigkill(int status);

/* ---- the reader as a child (lib/reader.c) ---- */

/* The reader: $TWTRACE_READER, or where the initramfs puts it. */
const char *tw_reader_path(void);

int rd_start(struct rd *r, enum rd_as as, const char *const *argv);

/*
 * Send @sig (0: none) and wait up to @secs for the reader to end; kill it
 * if it does not.  Its exit status in r->rc, its output in r->out/err.
 */
int rd_wait(struct rd *r, int sig, double secs);

void rd_free(struct rd *r);

/* Run the reader to its end (at most 30 s); its exit status. */
int rd_run(struct rd *r, enum rd_as as, const char *const *argv);

/* The first line of @s, for a log. */
const char *first_line(const char *s, char *buf, size_t len);

/* Is the reader asleep in clock_nanosleep() (its interval wait)? */
bool rd_sleeping(const struct rd *r);

/* ---- JSON and text (lib/json.c) ---- */

/* @p past any whitespace. */
const char *js_ws(const char *p);

/* The value at dotted @path ("deaths.expired") in @obj, or NULL. */
const char *js_get(const char *obj, const char *path);

/* A number at @path: 0 and *@out, -1 if absent or not a number. */
int js_num(const char *obj, const char *path, long long *out);

long long js_num_or(const char *obj, const char *path, long long def);

/* A string at @path into @buf: 0, or -1. */
int js_str(const char *obj, const char *path, char *buf, size_t len);

/* A boolean at @path: 1, 0, or -1. */
int js_bool(const char *obj, const char *path);

bool js_is_null(const char *obj, const char *path);

/* Element @i of the array at @path, or NULL. */
const char *js_elem(const char *obj, const char *path, int i);

/* The lines of @text, one at a time: a copy in @line. */
const char *next_line(const char *text, char *line, size_t len);

int count_lines(const char *text);

/* Add counter @name = @v to @s (no more than TW_STATS_MAX). */
void stats_put(struct tw_stats *s, const char *name, long long v);

/*
 * A "stat -j" object into the stats file's names; the number of keys it
 * lacks (every reason of every kind must be there).
 */
int stats_from_json(const char *obj, struct tw_stats *s);

/* ---- the stress tests' workloads and readers ---- */

#define MAX_TRACKED	"/sys/module/twtrace/parameters/max_tracked"
#define CPU1_ONLINE	"/sys/devices/system/cpu/cpu1/online"
#define STORM_MAX	4
#define RD_MAX		8
#define RD_CPUS		8
#define RD_SEEN		16384
#define NSSET_MAX	64

#define LOAD(x)		__atomic_load_n(&(x), __ATOMIC_SEQ_CST)
#define STORE(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_SEQ_CST)
#define ADD(x, v)	__atomic_add_fetch(&(x), (v), __ATOMIC_SEQ_CST)

struct mk {
	int n4, n6;		/* client-closed connections */
	int fw2;		/* client-closed, server end kept open */
	bool reuse;		/* a refused tcp_twsk_unique() first */
	bool overflow;		/* an overflow last */
	int cpu;		/* run there, -1: anywhere */
};

struct nsjob {
	pid_t pid;
	unsigned int ns;
	int ret;		/* mk_tws() */
	long long births;	/* TcpExt TW + TWKilled of its netns */
	long long sockstat;	/* sockstat tw of its netns */
};

struct storm_worker {
	int ready, done, failed, reported;
	unsigned int ns;
	long long conns, errs;
	long long births, overflows, sockstat;	/* of its netns, when done */
};

struct storm_shm {
	int stop;
	int report;		/* bump it: the workers read sockstat again */
	struct storm_worker w[STORM_MAX];
};

struct storm_opts {
	int limit;		/* connections per worker; 0: until stopped */
	bool pin;		/* worker i on CPU i */
	bool reuse;		/* leave tcp_tw_reuse at its default */
	int pace_us;		/* sleep after each connection */
	int nice;		/* scheduling priority of the workers */
	int max_tw;		/* tcp_max_tw_buckets; 0: the default */
};

struct storm {
	struct storm_shm *shm;
	pid_t pid[STORM_MAX];
	int n;
};

#define STORM_SUM(s, field) storm_sum(s, offsetof(struct storm_worker, field))

enum { RD_START, RD_OPEN, RD_READING, RD_EXIT };

struct rd_slot {
	int state;
	int cpu;
	long long nread;	/* records */
	long long opens;	/* opener: files opened */
	long long bad;		/* bad records, or bad lines of "probes" */
	int err;		/* an unexpected errno */
};

struct rd_shm {
	long long base[RD_CPUS];	/* last seq read before the test */
	long long oor[RD_CPUS];		/* seqs outside the window */
	struct rd_slot r[RD_MAX];
	unsigned char seen[RD_CPUS][RD_SEEN];	/* by seq - base - 1 */
};

struct nsset {
	unsigned int ns[NSSET_MAX];
	int n;
};

/* What a stress test changes, as it was before it. */
struct tw_saved {
	struct tw_ctls ctls;
	char max_tracked[32];
	bool cpu1_touched;
};

extern double mod_secs_spent[2];
extern int mod_calls[2];

/* ---- the stress tests' workloads (lib/workload.c) ---- */

/* @n, or a fifth of it (at least 1) on the debug kernel. */
int scaled(int n);

/* Seconds a module load or unload may take before it counts as a hang. */
double mod_secs(void);

/*
 * finit_module() or delete_module(O_NONBLOCK), in a child so that a hang
 * cannot hang the test: 0, -errno, or -ETIMEDOUT when it did not return
 * within mod_secs().
 */
int mod_op(bool load);

/* Unload, trying again while the module is busy, for up to 5 s. */
int mod_unload_retry(long long *retries);

/*
 * A child makes the TIME_WAIT sockets of @m in a network namespace of its
 * own, reports, and stays, holding the namespace, until nsjob_end().
 * 0 when it did all of @m within @secs.
 */
int nsjob_start(struct nsjob *j, const struct mk *m, double secs);

/* The child goes, and its namespace with every TIME_WAIT socket in it. */
void nsjob_end(struct nsjob *j);

/* @n workers; 0 when all of them are connecting. */
int storm_start(struct storm *s, int n, const struct storm_opts *o);

/* 0 when every worker has made its connections and reported. */
int storm_wait(struct storm *s, double secs);

/* Stop connecting; 0 when every worker has reported. */
int storm_stop(struct storm *s, double secs);

bool storm_done(struct storm *s);

/* The TIME_WAIT sockets in the workers' namespaces now, or -1. */
long long storm_sockstat(struct storm *s);

long long storm_sum(struct storm *s, size_t off);

/* The workers go, and their namespaces with their TIME_WAIT sockets. */
void storm_end(struct storm *s);

void storm_free(struct storm *s);

/*
 * One TIME_WAIT socket made on each CPU in turn, each in a namespace of
 * its own that goes at once: a record in each ring.
 */
int nsjob_prime_cpus(int ncpus);

/* Put back what tw_saved_save() saved (from the harness's process). */
void tw_saved_restore(const struct tw_saved *s);

/* ---- readers in processes of their own (lib/readers.c) ---- */

/*
 * A reader: opens cpu @cpu and reads it, blocking, until killed; or, if
 * @never, opens it and never reads.
 */
void reader_main(struct rd_shm *shm, int i, int cpu, bool never);

/*
 * An opener: opens, reads and closes cpu @cpu and "probes" in a loop,
 * every half millisecond, while the module comes and goes.  A file that is not
 * there (ENOENT) or whose module is going (ENXIO) is fine; any other
 * error is not.
 */
void opener_main(struct rd_shm *shm, int i, int cpu);

long long rd_total_read(struct rd_shm *shm);

/* Every reader in @idx reached @state (or beyond) within @secs. */
bool rd_wait_state(struct rd_shm *shm, const int *idx, int n,
		   int state, double secs);

/* The state letter of /proc/@pid/stat ('S': sleeping), and its wchan. */
char proc_state(pid_t pid, char *wchan, size_t len);

/* Read, without blocking, what cpu @cpu holds into the seq window. */
long long rd_drain_cpu(struct rd_shm *shm, int cpu, long long *bad);

/* Nothing produced and nothing read for @quiet seconds (within @secs). */
bool quiesce(struct rd_shm *shm, double quiet, double secs);

/* ---- records and namespaces (lib/records.c) ---- */

void nsset_add(struct nsset *s, unsigned int ns);

bool nsset_has(const struct nsset *s, unsigned int ns);

/*
 * Records of @type (and @reason, unless < 0) whose netns is in @in (or,
 * if @out, is not), with all of @flags set.  @in NULL: every netns.
 */
int nrec(const struct tw_recs *rs, int type, int reason,
	 const struct nsset *in, bool out, unsigned int flags);

/* Records as nrec(), with a tw id (tracked sockets) or without. */
int nrec_id(const struct tw_recs *rs, int type,
	    const struct nsset *in, bool with_id);

/* Read records until @in has as many deaths as births, within @secs. */
bool wait_deaths(struct tw_recs *rs, const struct nsset *in,
		 double secs);

/* No live line for a namespace nobody is in, none for @dead. */
int live_dead_lines(const struct nsset *dead);

#endif /* TWTRACE_LIB_H */
