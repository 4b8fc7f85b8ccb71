// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace stress and robustness tests.
 *
 * Real traffic (client-closing loopback connections, each client in a
 * network namespace of its own) against the module's lifecycle and its
 * interfaces: loading and unloading under a connection storm with readers
 * holding the cpuN files, several readers and exact loss accounting, a
 * full live table, CPU hotplug, namespaces coming and going, sockets older
 * than the module and sockets that outlive it, hostile writes to the
 * controls, file modes, and kernel addresses in what the module exports.
 *
 * Every child process dies with the test process (PR_SET_PDEATHSIG),
 * every wait is bounded, and the loops are scaled down on the debug
 * kernel (the one with kmemleak).  The fixture puts back what a test
 * changed, from the harness's own process: CPU 1 online, the module
 * loaded, its controls and max_tracked.
 */
#include <grp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <linux/capability.h>

#include "kselftest_harness.h"
#include "twtrace_lib.h"

#define KADDR_MIN	0xffff800000000000ULL
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

/* ------------------------------------------------------------------ */
/* Processes, bounded waits, the module.                               */
/* ------------------------------------------------------------------ */

/* @n, or a fifth of it (at least 1) on the debug kernel. */
static int scaled(int n)
{
	if (!tw_slow_kernel())
		return n;
	return n / 5 > 0 ? n / 5 : 1;
}

/* Seconds a module load or unload may take before it counts as a hang. */
static double mod_secs(void)
{
	return tw_slow_kernel() ? 120 : 30;
}

/*
 * finit_module() or delete_module(O_NONBLOCK), in a child so that a hang
 * cannot hang the test: 0, -errno, or -ETIMEDOUT when it did not return
 * within mod_secs().
 */
static double mod_secs_spent[2];
static int mod_calls[2];

static int mod_op(bool load)
{
	double t0 = tw_now();
	int status;
	pid_t pid;

	pid = tw_spawn();
	if (pid < 0)
		return -errno;
	if (!pid)
		_exit(-(load ? tw_module_load() : tw_module_unload()));
	status = tw_reap(pid, mod_secs());
	mod_secs_spent[load] += tw_now() - t0;
	mod_calls[load]++;
	if (status < 0 || !WIFEXITED(status))
		return -ETIMEDOUT;
	return -WEXITSTATUS(status);
}

/* Unload, trying again while the module is busy, for up to 5 s. */
static int mod_unload_retry(long long *retries)
{
	double end = tw_now() + 5;
	int ret;

	for (;;) {
		ret = mod_op(false);
		if ((ret != -EAGAIN && ret != -EBUSY) || tw_now() > end)
			return ret;
		(*retries)++;
		usleep(10000);
	}
}

/* ------------------------------------------------------------------ */
/* TIME_WAIT sockets made in a namespace that lives until released.    */
/* ------------------------------------------------------------------ */

struct mk {
	int n4, n6;		/* client-closed connections */
	int fw2;		/* client-closed, server end kept open */
	bool reuse;		/* a refused tcp_twsk_unique() first */
	bool overflow;		/* an overflow last */
	int cpu;		/* run there, -1: anywhere */
};

static int mk_tws(const struct mk *m)
{
	union tw_sa d4, d6;
	struct tw_conn k;
	char buf[32];
	int l4, l6, i;

	if (m->cpu >= 0)
		tw_pin(m->cpu);
	l4 = tw_listen(AF_INET, "127.0.0.1", &d4);
	l6 = tw_listen(AF_INET6, "::1", &d6);
	if (l4 < 0 || l6 < 0)
		return -1;
	if (m->reuse) {
		/* One ephemeral port, its TIME_WAIT socket, no reuse. */
		if (tw_sysctl_set("net/ipv4/tcp_tw_reuse", "0") ||
		    tw_sysctl_set("net/ipv4/ip_local_port_range",
				  "40000 40000") ||
		    tw_make_client_tw(&k, l4, &d4, NULL))
			return -1;
		if (tw_conn_open(&k, l4, &d4, NULL) != -EADDRNOTAVAIL)
			return -1;
		if (tw_sysctl_set("net/ipv4/ip_local_port_range",
				  "32768 60999"))
			return -1;
	}
	for (i = 0; i < m->n4; i++)
		if (tw_make_client_tw(&k, l4, &d4, NULL))
			return -1;
	for (i = 0; i < m->n6; i++)
		if (tw_make_client_tw(&k, l6, &d6, NULL))
			return -1;
	/* The server ends stay open: these stay in FIN_WAIT2. */
	for (i = 0; i < m->fw2; i++)
		if (tw_make_fw2_tw(&k, l4, &d4))
			return -1;
	if (m->overflow) {
		snprintf(buf, sizeof(buf), "%lld", tw_sockstat_tw());
		if (tw_sysctl_set("net/ipv4/tcp_max_tw_buckets", buf) ||
		    tw_conn_open(&k, l4, &d4, NULL))
			return -1;
		tw_conn_close_client_first(&k);
		if (!tw_wait_until(tw_snmp("TcpExt", "TCPTimeWaitOverflow") > 0,
				   5))
			return -1;
	}
	return 0;
}

struct nsjob {
	pid_t pid;
	unsigned int ns;
	int ret;		/* mk_tws() */
	long long births;	/* TcpExt TW + TWKilled of its netns */
	long long sockstat;	/* sockstat tw of its netns */
};

/*
 * A child makes the TIME_WAIT sockets of @m in a network namespace of its
 * own, reports, and stays, holding the namespace, until nsjob_end().
 * 0 when it did all of @m within @secs.
 */
static int nsjob_start(struct nsjob *j, const struct mk *m, double secs)
{
	struct nsjob rep = { .ret = -1, .births = -1, .sockstat = -1 };
	struct pollfd p;
	int pfd[2];
	bool ok;

	memset(j, 0, sizeof(*j));
	j->ret = -1;
	if (pipe(pfd))
		return -1;
	j->pid = tw_spawn();
	if (j->pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (!j->pid) {
		close(pfd[0]);
		if (!tw_netns_new()) {
			rep.ns = tw_netns_inum();
			rep.ret = m ? mk_tws(m) : 0;
			rep.births = tw_births_kernel();
			rep.sockstat = tw_sockstat_tw();
		}
		if (write(pfd[1], &rep, sizeof(rep)) != sizeof(rep))
			_exit(1);
		for (;;)
			pause();
	}
	close(pfd[1]);
	p.fd = pfd[0];
	p.events = POLLIN;
	ok = poll(&p, 1, secs * 1000) == 1 &&
	     read(pfd[0], &rep, sizeof(rep)) == sizeof(rep);
	close(pfd[0]);
	if (!ok)
		return -1;
	rep.pid = j->pid;
	*j = rep;
	return j->ret;
}

/* The child goes, and its namespace with every TIME_WAIT socket in it. */
static void nsjob_end(struct nsjob *j)
{
	if (j->pid > 0)
		tw_kill_reap(j->pid, 5);
	j->pid = 0;
}

/* ------------------------------------------------------------------ */
/* The storm: workers making connections, each in its own netns.       */
/* ------------------------------------------------------------------ */

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

static void storm_worker(struct storm_shm *shm, int i,
			 const struct storm_opts *o)
{
	struct storm_worker *w = &shm->w[i];
	union tw_sa d4, d6;
	struct tw_conn k;
	char buf[16];
	int l4, l6;
	bool six;

	if (tw_netns_new())
		goto fail;
	STORE(w->ns, tw_netns_inum());
	/* A wide port range: the storm must not run out of ports. */
	tw_sysctl_set("net/ipv4/ip_local_port_range", "1024 65001");
	if (!o->reuse)
		tw_sysctl_set("net/ipv4/tcp_tw_reuse", "0");
	if (o->max_tw) {
		snprintf(buf, sizeof(buf), "%d", o->max_tw);
		tw_sysctl_set("net/ipv4/tcp_max_tw_buckets", buf);
	}
	if (o->pin)
		tw_pin(i % tw_cpus_online());
	if (o->nice)
		setpriority(PRIO_PROCESS, 0, o->nice);
	l4 = tw_listen(AF_INET, "127.0.0.1", &d4);
	l6 = tw_listen(AF_INET6, "::1", &d6);
	if (l4 < 0 || l6 < 0)
		goto fail;
	STORE(w->ready, 1);
	while (!LOAD(shm->stop) && (!o->limit || LOAD(w->conns) < o->limit) &&
	       LOAD(w->errs) < 1000) {
		six = LOAD(w->conns) % 4 == 3;
		if (tw_conn_open(&k, six ? l6 : l4, six ? &d6 : &d4, NULL)) {
			ADD(w->errs, 1);
			usleep(1000);
			continue;
		}
		tw_conn_close_client_first(&k);
		ADD(w->conns, 1);
		if (o->pace_us)
			usleep(o->pace_us);
	}
	/* Each connection left a TIME_WAIT socket or an overflow. */
	tw_wait_until(tw_births_kernel() +
		      tw_snmp("TcpExt", "TCPTimeWaitOverflow") >=
		      LOAD(w->conns), 5);
	w->births = tw_births_kernel();
	w->overflows = tw_snmp("TcpExt", "TCPTimeWaitOverflow");
	w->sockstat = tw_sockstat_tw();
	STORE(w->done, 1);
	for (;;) {
		int gen = LOAD(shm->report);

		if (gen != LOAD(w->reported)) {
			STORE(w->sockstat, tw_sockstat_tw());
			STORE(w->reported, gen);
		}
		usleep(10000);
	}
fail:
	STORE(w->failed, 1);
	STORE(w->done, 1);
	for (;;)
		pause();
}

static bool storm_all(struct storm *s, bool done)
{
	int i;

	for (i = 0; i < s->n; i++) {
		if (LOAD(s->shm->w[i].failed))
			return true;
		if (done && !LOAD(s->shm->w[i].done))
			return false;
		if (!done && !LOAD(s->shm->w[i].ready))
			return false;
	}
	return true;
}

static bool storm_failed(struct storm *s)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (LOAD(s->shm->w[i].failed))
			return true;
	return false;
}

/* @n workers; 0 when all of them are connecting. */
static int storm_start(struct storm *s, int n, const struct storm_opts *o)
{
	int i;

	memset(s, 0, sizeof(*s));
	s->shm = tw_shm_alloc(sizeof(*s->shm));
	if (!s->shm)
		return -ENOMEM;
	for (i = 0; i < n && i < STORM_MAX; i++) {
		s->pid[i] = tw_spawn();
		if (s->pid[i] < 0)
			return -errno;
		if (!s->pid[i])
			storm_worker(s->shm, i, o);
		s->n++;
	}
	tw_wait_until(storm_all(s, false), 30);
	return storm_all(s, false) && !storm_failed(s) ? 0 : -1;
}

/* 0 when every worker has made its connections and reported. */
static int storm_wait(struct storm *s, double secs)
{
	tw_wait_until(storm_all(s, true), secs);
	return storm_all(s, true) && !storm_failed(s) ? 0 : -1;
}

/* Stop connecting; 0 when every worker has reported. */
static int storm_stop(struct storm *s, double secs)
{
	STORE(s->shm->stop, 1);
	return storm_wait(s, secs);
}

static bool storm_done(struct storm *s)
{
	return storm_all(s, true);
}

/* The TIME_WAIT sockets in the workers' namespaces now, or -1. */
static long long storm_sockstat(struct storm *s)
{
	int gen = ADD(s->shm->report, 1), i;
	long long sum = 0;
	double end = tw_now() + 10;
	bool all;

	do {
		for (all = true, i = 0; i < s->n; i++)
			all &= LOAD(s->shm->w[i].reported) == gen;
		if (!all)
			usleep(5000);
	} while (!all && tw_now() < end);
	for (i = 0; i < s->n; i++)
		sum += LOAD(s->shm->w[i].sockstat);
	return all ? sum : -1;
}

static long long storm_sum(struct storm *s, size_t off)
{
	long long sum = 0;
	int i;

	for (i = 0; i < s->n; i++)
		sum += *(long long *)((char *)&s->shm->w[i] + off);
	return sum;
}

#define STORM_SUM(s, field) storm_sum(s, offsetof(struct storm_worker, field))

/* The workers go, and their namespaces with their TIME_WAIT sockets. */
static void storm_end(struct storm *s)
{
	int i;

	for (i = 0; i < s->n; i++)
		tw_kill_reap(s->pid[i], 5);
	s->n = 0;
}

static void storm_free(struct storm *s)
{
	if (s->shm)
		munmap(s->shm, sizeof(*s->shm));
	s->shm = NULL;
}

/* ------------------------------------------------------------------ */
/* Readers of the cpuN files, in processes of their own.               */
/* ------------------------------------------------------------------ */

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

/* Note records read from cpu @cpu in the shared seq window. */
static long long rd_note(struct rd_shm *shm, int cpu,
			 const struct twtrace_record *buf, ssize_t n)
{
	long long bad = 0, idx;
	ssize_t i;

	for (i = 0; i < n; i++) {
		const struct twtrace_record *r = &buf[i];

		if (r->magic != TWTRACE_MAGIC ||
		    r->abi != TWTRACE_ABI_VERSION || r->cpu != cpu)
			bad++;
		if (cpu >= RD_CPUS)
			continue;
		idx = (long long)r->seq - shm->base[cpu] - 1;
		if (idx >= 0 && idx < RD_SEEN)
			ADD(shm->seen[cpu][idx], 1);
		else
			ADD(shm->oor[cpu], 1);
	}
	return bad;
}

/*
 * A reader: opens cpu @cpu and reads it, blocking, until killed; or, if
 * @never, opens it and never reads.
 */
static void reader_main(struct rd_shm *shm, int i, int cpu, bool never)
{
	struct twtrace_record buf[16];
	struct rd_slot *s = &shm->r[i];
	char path[64];
	ssize_t n;
	int fd;

	s->cpu = cpu;
	snprintf(path, sizeof(path), TW_DIR "/cpu%d", cpu);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		s->err = errno;
		STORE(s->state, RD_EXIT);
		_exit(1);
	}
	STORE(s->state, RD_OPEN);
	while (never)
		pause();
	for (;;) {
		STORE(s->state, RD_READING);
		n = read(fd, buf, sizeof(buf));
		if (n <= 0) {
			s->err = n ? errno : 0;
			break;
		}
		if (n % TW_REC_SIZE)
			ADD(s->bad, 1);
		ADD(s->bad, rd_note(shm, cpu, buf, n / TW_REC_SIZE));
		ADD(s->nread, n / TW_REC_SIZE);
	}
	STORE(s->state, RD_EXIT);
	_exit(0);
}

/* "probes": an unattached probe never fired. */
static long long probes_bad_lines(const char *text)
{
	char sym[128], att[16];
	unsigned long long hits, missed;
	long long bad = 0;
	const char *p;

	for (p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (*p == '#' || *p == '\n')
			continue;
		if (sscanf(p, "%127s %15s %llu %llu", sym, att, &hits,
			   &missed) != 4)
			bad++;
		else if (strcmp(att, "yes") && hits)
			bad++;
	}
	return bad;
}

/*
 * An opener: opens, reads and closes cpu @cpu and "probes" in a loop,
 * every half millisecond, while the module comes and goes.  A file that is not
 * there (ENOENT) or whose module is going (ENXIO) is fine; any other
 * error is not.
 */
static void opener_main(struct rd_shm *shm, int i, int cpu)
{
	struct twtrace_record rec[4];
	struct rd_slot *s = &shm->r[i];
	char path[64], text[4096];
	bool probes = false;
	ssize_t n;
	int fd;

	s->cpu = cpu;
	STORE(s->state, RD_READING);
	for (;; probes = !probes) {
		if (probes)
			snprintf(path, sizeof(path), TW_DIR "/probes");
		else
			snprintf(path, sizeof(path), TW_DIR "/cpu%d", cpu);
		fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0) {
			if (errno != ENOENT && errno != ENXIO)
				s->err = errno;
			usleep(200);
			continue;
		}
		ADD(s->opens, 1);
		if (probes) {
			n = read(fd, text, sizeof(text) - 1);
			if (n >= 0) {
				text[n] = '\0';
				ADD(s->bad, probes_bad_lines(text));
			}
		} else {
			n = read(fd, rec, sizeof(rec));
			if (n > 0)
				ADD(s->nread, n / TW_REC_SIZE);
		}
		if (n < 0 && errno != EAGAIN)
			s->err = errno;
		close(fd);
		usleep(500);
	}
}

static long long rd_total_read(struct rd_shm *shm)
{
	long long n = 0;
	int i;

	for (i = 0; i < RD_MAX; i++)
		n += LOAD(shm->r[i].nread);
	return n;
}

/* Every reader in @idx reached @state (or beyond) within @secs. */
static bool rd_wait_state(struct rd_shm *shm, const int *idx, int n,
			  int state, double secs)
{
	double end = tw_now() + secs;
	bool all;
	int i;

	do {
		for (all = true, i = 0; i < n && all; i++)
			all = LOAD(shm->r[idx[i]].state) >= state;
		if (!all)
			usleep(5000);
	} while (!all && tw_now() < end);
	return all;
}

/* The state letter of /proc/@pid/stat ('S': sleeping), and its wchan. */
static char proc_state(pid_t pid, char *wchan, size_t len)
{
	char path[64], buf[512], *p;
	char st = '?';

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (!tw_read_str(path, buf, sizeof(buf))) {
		p = strrchr(buf, ')');
		if (p && p[1] == ' ')
			st = p[2];
	}
	snprintf(path, sizeof(path), "/proc/%d/wchan", pid);
	if (tw_read_str(path, wchan, len))
		snprintf(wchan, len, "?");
	return st;
}

/* Read, without blocking, what cpu @cpu holds into the seq window. */
static long long rd_drain_cpu(struct rd_shm *shm, int cpu, long long *bad)
{
	struct twtrace_record buf[32];
	long long got = 0;
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), TW_DIR "/cpu%d", cpu);
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		*bad += rd_note(shm, cpu, buf, n / TW_REC_SIZE);
		got += n / TW_REC_SIZE;
	}
	close(fd);
	return got;
}

/* Nothing produced and nothing read for @quiet seconds (within @secs). */
static bool quiesce(struct rd_shm *shm, double quiet, double secs)
{
	double end = tw_now() + secs, since = tw_now();
	long long rec = -2, nr = -2, r, n;

	while (tw_now() < end) {
		r = tw_stat("records");
		n = rd_total_read(shm);
		if (r != rec || n != nr) {
			rec = r;
			nr = n;
			since = tw_now();
		} else if (tw_now() - since >= quiet) {
			return true;
		}
		usleep(50000);
	}
	return false;
}

/* ------------------------------------------------------------------ */
/* Records and namespaces.                                             */
/* ------------------------------------------------------------------ */

struct nsset {
	unsigned int ns[NSSET_MAX];
	int n;
};

static void nsset_add(struct nsset *s, unsigned int ns)
{
	if (ns && s->n < NSSET_MAX)
		s->ns[s->n++] = ns;
}

static bool nsset_has(const struct nsset *s, unsigned int ns)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (s->ns[i] == ns)
			return true;
	return false;
}

/*
 * Records of @type (and @reason, unless < 0) whose netns is in @in (or,
 * if @out, is not), with all of @flags set.  @in NULL: every netns.
 */
static int nrec(const struct tw_recs *rs, int type, int reason,
		const struct nsset *in, bool out, unsigned int flags)
{
	const struct twtrace_record *r;
	size_t i;
	int n = 0;

	for (i = 0; i < rs->n; i++) {
		r = &rs->v[i].r;
		if (r->type != type || (reason >= 0 && r->reason != reason) ||
		    (r->flags & flags) != flags)
			continue;
		if (in && nsset_has(in, r->netns) == out)
			continue;
		n++;
	}
	return n;
}

/* Records as nrec(), with a tw id (tracked sockets) or without. */
static int nrec_id(const struct tw_recs *rs, int type,
		   const struct nsset *in, bool with_id)
{
	const struct twtrace_record *r;
	size_t i;
	int n = 0;

	for (i = 0; i < rs->n; i++) {
		r = &rs->v[i].r;
		if (r->type == type && (!in || nsset_has(in, r->netns)) &&
		    !!r->tw_id == with_id)
			n++;
	}
	return n;
}

/* Read records until @in has as many deaths as births, within @secs. */
static bool wait_deaths(struct tw_recs *rs, const struct nsset *in,
			double secs)
{
	return tw_wait_until((tw_recs_read(rs),
			      nrec(rs, TWTRACE_EV_DEATH, -1, in, false, 0) >=
			      nrec(rs, TWTRACE_EV_BIRTH, -1, in, false, 0)),
			     secs);
}

/* No live line for a namespace nobody is in, none for @dead. */
static int live_dead_lines(const struct nsset *dead)
{
	struct tw_live *v = calloc(4096, sizeof(*v));
	int i, n, bad = 0;

	if (!v)
		return -1;
	n = tw_live_read(v, 4096, 0);
	for (i = 0; i < n && i < 4096; i++)
		if ((dead && nsset_has(dead, v[i].netns)) ||
		    !tw_netns_in_use(v[i].netns))
			bad++;
	free(v);
	return n < 0 ? -1 : bad;
}

/*
 * The module still counts: @n TIME_WAIT sockets made in a fresh netns are
 * @n births, as many as TcpExt says, each with a birth record and an id.
 */
static void check_module_works(struct __test_metadata *_metadata, int n)
{
	struct mk m = { .n4 = n, .cpu = -1 };
	struct tw_recs rs;
	struct nsjob j;
	long long b0;
	int ret;

	ASSERT_TRUE(tw_module_loaded());
	ASSERT_EQ(1, tw_ctl_get("enable"));
	b0 = tw_stat("births");
	ret = nsjob_start(&j, &m, 30);
	tw_recs_init(&rs, j.ns);
	EXPECT_EQ(0, ret);
	EXPECT_EQ(n, j.births);
	tw_wait_until(tw_stat("births") - b0 >= n, 5);
	tw_wait_until((tw_recs_read(&rs),
		       tw_recs_count(&rs, TWTRACE_EV_BIRTH, -1, 0, 0, 0) >= n),
		      5);
	TH_LOG("module works: %d made, births +%lld (TcpExt %lld), birth records %d",
	       n, tw_stat("births") - b0, j.births,
	       tw_recs_count(&rs, TWTRACE_EV_BIRTH, -1, 0, 0, 0));
	EXPECT_EQ(n, tw_stat("births") - b0);
	EXPECT_EQ(n, tw_recs_count(&rs, TWTRACE_EV_BIRTH, -1, 0, 0, 0));
	EXPECT_EQ(0, nrec_id(&rs, TWTRACE_EV_BIRTH, NULL, false));
	nsjob_end(&j);
	tw_recs_free(&rs);
}

/* ------------------------------------------------------------------ */
/* Kernel addresses.                                                   */
/* ------------------------------------------------------------------ */

static bool kaddr_like(unsigned long long v)
{
	return v >= KADDR_MIN && v != ~0ULL;
}

/* A text token that reads as a kernel address, in hex or decimal. */
static bool token_is_kaddr(const char *t)
{
	size_t len = strlen(t);
	const char *h = t;
	unsigned long long v;

	if (!strncasecmp(t, "0x", 2))
		h = t + 2;
	if (strlen(h) >= 12 && strlen(h) <= 16 &&
	    strspn(h, "0123456789abcdefABCDEF") == strlen(h)) {
		v = strtoull(h, NULL, 16);
		if (v >= KADDR_MIN)
			return true;
	}
	if (len && strspn(t, "0123456789") == len) {
		errno = 0;
		v = strtoull(t, NULL, 10);
		if (!errno && v >= KADDR_MIN)
			return true;
	}
	return false;
}

/* Kernel-address-like tokens in @text; the first in @what. */
static int scan_text(const char *text, char *what, size_t len)
{
	static const char seps[] = " \t\n:[],=()/";
	const char *p = text;
	char tok[64];
	int found = 0;
	size_t n;

	while (*p) {
		p += strspn(p, seps);
		n = strcspn(p, seps);
		if (!n)
			break;
		snprintf(tok, sizeof(tok), "%.*s", (int)n, p);
		p += n;
		if (n < sizeof(tok) && token_is_kaddr(tok)) {
			if (!found)
				snprintf(what, len, "%s", tok);
			found++;
		}
	}
	return found;
}

/* Bytes of the union a record of @type uses; the rest must be zero. */
static size_t union_used(int type)
{
	switch (type) {
	case TWTRACE_EV_BIRTH:
		return 4;
	case TWTRACE_EV_REARM:
		return 5;
	case TWTRACE_EV_DEATH:
		return 16;
	case TWTRACE_EV_REUSE:
		return 48;
	case TWTRACE_EV_OVERFLOW:
		return 8;
	}
	return 0;
}

/* May the 64-bit word at @off of @r be TWTRACE_NS_UNKNOWN? */
static bool unknown_allowed(const struct twtrace_record *r, size_t off)
{
	if (r->type == TWTRACE_EV_DEATH)
		return off == offsetof(struct twtrace_record, death.lifetime_ns) ||
		       off == offsetof(struct twtrace_record, death.fin_wait2_ns);
	if (r->type == TWTRACE_EV_REUSE)
		return off == offsetof(struct twtrace_record, reuse.age_ns);
	return false;
}

/*
 * What is wrong with record @r, or NULL: a word that looks like a kernel
 * address, ~0 where no unknown may be, or a nonzero byte where the record
 * has nothing to say (padding, the unused part of the union).
 */
static const char *record_leak(const struct twtrace_record *r, char *buf,
			       size_t len)
{
	const unsigned char *b = (const unsigned char *)r;
	size_t u = offsetof(struct twtrace_record, __size), off;
	unsigned long long w;

	for (off = 0; off + 8 <= sizeof(*r); off += 8) {
		memcpy(&w, b + off, 8);
		if (kaddr_like(w) || (w == ~0ULL && !unknown_allowed(r, off))) {
			snprintf(buf, len, "type %u: 0x%llx at offset %zu",
				 r->type, w, off);
			return buf;
		}
	}
	for (off = u + union_used(r->type); off < sizeof(*r); off++) {
		if (b[off]) {
			snprintf(buf, len, "type %u: byte 0x%02x at unused offset %zu",
				 r->type, b[off], off);
			return buf;
		}
	}
	if (r->type == TWTRACE_EV_REARM &&
	    (r->rearm.__pad[0] || r->rearm.__pad[1] || r->rearm.__pad[2])) {
		snprintf(buf, len, "type %u: nonzero padding", r->type);
		return buf;
	}
	/* The reuse delay, in the sysctl's own range (1000 before 6.14). */
	if (r->type == TWTRACE_EV_REUSE &&
	    (r->reuse.delay_ms < 1 || r->reuse.delay_ms > 60000)) {
		snprintf(buf, len, "type %u: reuse delay %u ms", r->type,
			 r->reuse.delay_ms);
		return buf;
	}
	return NULL;
}

/* The whole of the text file @name. */
static int slurp(const char *name, char *buf, size_t len)
{
	char path[128];
	size_t got = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), TW_DIR "/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (got < len - 1 && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += n;
	buf[got] = '\0';
	close(fd);
	return got;
}

/* ------------------------------------------------------------------ */
/* The controls.                                                       */
/* ------------------------------------------------------------------ */

struct ctl {
	const char *name;
	unsigned int min, max;
	bool readable;
};

static const struct ctl ctls[] = {
	{ "enable", 0, 1, true },
	{ "overwrite", 0, 1, true },
	{ "ring_kb", 4, 65536, true },
	{ "reset", 1, 1, false },
};

/*
 * What the ABI says a control makes of @len bytes written at offset 0:
 * one decimal number in range, optionally with a newline, nothing else
 * (16 bytes at most; the kernel's kstrtouint() also takes a '+').
 * 1 and the value if it must take them, 0 if it must refuse them.
 */
static int ctl_model(const struct ctl *c, const char *buf, size_t len,
		     unsigned int *val)
{
	unsigned long long v = 0;
	size_t i = 0, digits = 0;

	if (!len || len > 16)
		return 0;
	if (buf[0] == '+')
		i++;
	for (; i < len && buf[i] >= '0' && buf[i] <= '9'; i++, digits++) {
		v = v * 10 + (buf[i] - '0');
		if (v > UINT_MAX)
			return 0;
	}
	if (i < len && buf[i] == '\n')
		i++;
	if (!digits || i != len || v < c->min || v > c->max)
		return 0;
	*val = v;
	return 1;
}

static int ctl_open(const struct ctl *c)
{
	char path[128];

	snprintf(path, sizeof(path), TW_DIR "/%s", c->name);
	return open(path, (c->readable ? O_RDWR : O_WRONLY) | O_CLOEXEC);
}

/*
 * What a write may have changed: the control's value, or for reset the
 * counters it zeroes (nothing else makes events meanwhile).
 */
static long long ctl_state(const struct ctl *c)
{
	if (c->readable)
		return tw_ctl_get(c->name);
	return tw_stat("births") * 1000003 + tw_stat("records");
}

/* Errors a refused write may give. */
static bool refusal_errno(int e)
{
	return e == EINVAL || e == ERANGE || e == EFBIG || e == EOVERFLOW ||
	       e == EFAULT;
}

/* A deterministic generator (xorshift64). */
static unsigned long long rnd_state = 0x7477747261636521ULL;

static unsigned long long rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

struct fuzz_count {
	int tried, taken, refused, skipped, wrong;
};

/*
 * Write @len bytes of @buf to control @c at @off on @fd and check the
 * answer against the model: what it must take is taken (and read back),
 * what it must refuse fails with an error and changes nothing.  A taken
 * value is put back (@good).  @buf below 4096 is a bad address.
 */
static void ctl_try(struct __test_metadata *_metadata, const struct ctl *c,
		    int fd, const char *buf, size_t len, off_t off,
		    const char *good, struct fuzz_count *fc, const char *what)
{
	bool bad_addr = (unsigned long)buf < 4096;
	unsigned int val = 0;
	long long before, after;
	bool take = !off && !bad_addr && ctl_model(c, buf, len, &val);
	ssize_t ret;
	int err;

	/* A valid ring size costs memory: no more than 1 MiB per CPU. */
	if (take && !strcmp(c->name, "ring_kb") && val > 1024) {
		fc->skipped++;
		return;
	}
	fc->tried++;
	before = ctl_state(c);
	ret = pwrite(fd, buf, len, off);
	err = errno;
	after = ctl_state(c);
	if (take) {
		fc->taken++;
		if (ret != (ssize_t)len ||
		    (c->readable && after != val)) {
			fc->wrong++;
			TH_LOG("%s <- %s: must be taken: returned %zd (%s), reads %lld",
			       c->name, what, ret, ret < 0 ? strerror(err) : "",
			       after);
		}
		if (c->readable)
			EXPECT_EQ((ssize_t)strlen(good),
				  pwrite(fd, good, strlen(good), 0));
		return;
	}
	fc->refused++;
	if (ret >= 0 || !refusal_errno(err) || after != before) {
		fc->wrong++;
		TH_LOG("%s <- %s at offset %lld: must be refused",
		       c->name, what, (long long)off);
		TH_LOG("returned %zd (%s), %lld before, %lld after", ret,
		       ret < 0 ? strerror(err) : "taken", before, after);
		if (c->readable && after != before)
			pwrite(fd, good, strlen(good), 0);
	}
}

/* Printable form of a fuzz input, for the log. */
static const char *show(const char *buf, size_t len, char *out, size_t olen)
{
	size_t i, o = 0;

	for (i = 0; i < len && o + 5 < olen; i++) {
		unsigned char ch = buf[i];

		if (ch >= 0x20 && ch < 0x7f && ch != '\\')
			out[o++] = ch;
		else
			o += snprintf(out + o, olen - o, "\\x%02x", ch);
	}
	out[o] = '\0';
	return out;
}

/* ------------------------------------------------------------------ */
/* The fixture: what a test changes is put back by the harness.        */
/* ------------------------------------------------------------------ */

FIXTURE(stress) {
	char enable[16], overwrite[16], ring_kb[16], max_tracked[32];
	bool cpu1_touched;
};

FIXTURE_SETUP(stress)
{
	ASSERT_EQ(0, tw_module_ensure());
	ASSERT_EQ(0, tw_ctl_str("enable", self->enable,
				sizeof(self->enable)));
	ASSERT_EQ(0, tw_ctl_str("overwrite", self->overwrite,
				sizeof(self->overwrite)));
	ASSERT_EQ(0, tw_ctl_str("ring_kb", self->ring_kb,
				sizeof(self->ring_kb)));
	ASSERT_EQ(0, tw_read_str(MAX_TRACKED, self->max_tracked,
				 sizeof(self->max_tracked)));
	self->cpu1_touched = false;
	ASSERT_EQ(1, tw_ctl_get("enable"))
		TH_LOG("recording is off: an earlier test left enable=0");
}

/* From the harness's process, whatever happened to the test. */
FIXTURE_TEARDOWN_PARENT(stress)
{
	char on[8] = "";

	if (self->cpu1_touched && !tw_read_str(CPU1_ONLINE, on, sizeof(on)) &&
	    strcmp(on, "1"))
		tw_write_str(CPU1_ONLINE, "1");
	if (!tw_module_loaded())
		tw_module_load();
	if (self->max_tracked[0])
		tw_write_str(MAX_TRACKED, self->max_tracked);
	if (self->overwrite[0])
		tw_ctl_set("overwrite", self->overwrite);
	if (self->ring_kb[0])
		tw_ctl_set("ring_kb", self->ring_kb);
	if (self->enable[0])
		tw_ctl_set("enable", self->enable);
}

/* ------------------------------------------------------------------ */
/* 1. Least privilege.                                                 */
/* ------------------------------------------------------------------ */

static const struct {
	const char *name;
	mode_t mode;
} tw_files[] = {
	{ "version", 0444 }, { "stats", 0444 }, { "hist", 0444 },
	{ "live", 0444 }, { "probes", 0444 },
	{ "enable", 0600 }, { "overwrite", 0600 }, { "ring_kb", 0600 },
	{ "reset", 0200 },
};

/* The mode file @name must have; 0 if it is not one of ours. */
static mode_t expected_mode(const char *name, int ncpus)
{
	unsigned int i;
	int cpu;
	char end;

	for (i = 0; i < ARRAY_SIZE(tw_files); i++)
		if (!strcmp(name, tw_files[i].name))
			return tw_files[i].mode;
	if (sscanf(name, "cpu%d%c", &cpu, &end) == 1 && cpu >= 0 &&
	    cpu < ncpus)
		return 0400;
	return 0;
}

/* Drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH: modes apply to root. */
static int drop_dac_caps(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -errno;
	d[0].effective &= ~((1U << CAP_DAC_OVERRIDE) |
			    (1U << CAP_DAC_READ_SEARCH));
	d[0].permitted &= ~((1U << CAP_DAC_OVERRIDE) |
			    (1U << CAP_DAC_READ_SEARCH));
	return syscall(SYS_capset, &h, d) ? -errno : 0;
}

/*
 * In a child, as root without the DAC capabilities (@nobody false) or as
 * nobody: open every file for reading and for writing.  Per file and
 * mode, 1 if the open succeeded, else -errno, into @res.
 */
static int open_as(bool nobody, char names[][64], int n, int res[][2])
{
	int (*shm)[2] = tw_shm_alloc(sizeof(int) * 2 * 64);
	char path[128];
	int i, m, fd, status;
	pid_t pid;

	if (!shm)
		return -ENOMEM;
	pid = tw_spawn();
	if (!pid) {
		if (nobody && (setgroups(0, NULL) ||
			       setresgid(65534, 65534, 65534) ||
			       setresuid(65534, 65534, 65534)))
			_exit(1);
		if (!nobody && drop_dac_caps())
			_exit(1);
		for (i = 0; i < n && i < 64; i++) {
			for (m = 0; m < 2; m++) {
				snprintf(path, sizeof(path), TW_DIR "/%s",
					 names[i]);
				fd = open(path, (m ? O_WRONLY : O_RDONLY) |
					  O_NONBLOCK | O_CLOEXEC);
				shm[i][m] = fd >= 0 ? 1 : -errno;
				if (fd >= 0)
					close(fd);
			}
		}
		_exit(0);
	}
	status = tw_reap(pid, 10);
	for (i = 0; i < n && i < 64; i++)
		for (m = 0; m < 2; m++)
			res[i][m] = shm[i][m];
	munmap(shm, sizeof(int) * 2 * 64);
	return status == 0 ? 0 : -1;
}

/*
 * Every file has the least mode it needs (cpuN 0400, text 0444, controls
 * 0600, reset 0200), is root's, and nothing else is in the directory.
 * Root without CAP_DAC_OVERRIDE can open exactly what the modes say;
 * nobody can open nothing for writing and no cpuN file at all; root
 * cannot write to a read-only file even with every capability.
 */
TEST_F(stress, file_modes_are_least_privilege)
{
	char names[64][64], path[512];
	int res_root[64][2], res_nobody[64][2];
	int i, n = 0, ncpus = tw_ncpus(), cpus = 0;
	struct dirent *de;
	struct stat st;
	mode_t want;
	ssize_t w;
	DIR *d;
	int fd;

	d = opendir(TW_DIR);
	ASSERT_NE(NULL, d);
	while ((de = readdir(d)) && n < 64) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(names[n], sizeof(names[n]), "%.63s", de->d_name);
		snprintf(path, sizeof(path), TW_DIR "/%.63s", de->d_name);
		ASSERT_EQ(0, stat(path, &st));
		want = expected_mode(de->d_name, ncpus);
		EXPECT_NE(0U, want) TH_LOG("unexpected file %s", de->d_name);
		EXPECT_TRUE(S_ISREG(st.st_mode)) TH_LOG("%s", de->d_name);
		EXPECT_EQ(want, st.st_mode & 07777)
			TH_LOG("%s: mode %04o, want %04o", de->d_name,
			       st.st_mode & 07777, want);
		EXPECT_EQ(0U, st.st_uid);
		EXPECT_EQ(0U, st.st_gid);
		cpus += !strncmp(de->d_name, "cpu", 3);
		n++;
	}
	closedir(d);
	TH_LOG("%d files, %d cpuN files for %d possible CPUs", n, cpus,
	       ncpus);
	EXPECT_EQ((int)ARRAY_SIZE(tw_files) + ncpus, n);
	EXPECT_EQ(ncpus, cpus);

	/* Root with every capability: read-only files refuse writes. */
	for (i = 0; i < n; i++) {
		want = expected_mode(names[i], ncpus);
		if (want & 0200)
			continue;
		snprintf(path, sizeof(path), TW_DIR "/%.63s", names[i]);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0) {
			EXPECT_TRUE(errno == EACCES || errno == EPERM)
				TH_LOG("%s: open for writing: %s", names[i],
				       strerror(errno));
			continue;
		}
		w = write(fd, "1\n", 2);
		EXPECT_EQ(-1, w) TH_LOG("%s took a write", names[i]);
		close(fd);
	}

	/* Root without DAC override: exactly what the modes allow. */
	ASSERT_EQ(0, open_as(false, names, n, res_root));
	ASSERT_EQ(0, open_as(true, names, n, res_nobody));
	for (i = 0; i < n; i++) {
		want = expected_mode(names[i], ncpus);
		EXPECT_EQ(want & 0400 ? 1 : -EACCES, res_root[i][0])
			TH_LOG("root without CAP_DAC_OVERRIDE, %s for reading: %d",
			       names[i], res_root[i][0]);
		EXPECT_EQ(want & 0200 ? 1 : -EACCES, res_root[i][1])
			TH_LOG("root without CAP_DAC_OVERRIDE, %s for writing: %d",
			       names[i], res_root[i][1]);
		EXPECT_EQ(-EACCES, res_nobody[i][1])
			TH_LOG("nobody, %s for writing: %d", names[i],
			       res_nobody[i][1]);
		if (!strncmp(names[i], "cpu", 3))
			EXPECT_EQ(-EACCES, res_nobody[i][0])
				TH_LOG("nobody, %s for reading: %d", names[i],
				       res_nobody[i][0]);
	}
}

/*
 * No raw kernel pointer leaves the module: the text of version, stats,
 * hist, live (with sockets in it, IPv4 and IPv6) and probes has no token
 * that reads as a kernel address (0xffff8..., or a decimal number that
 * large), and no record of any type (birth, rearm, death, reuse,
 * overflow) has a word that does, nor ~0 outside the fields where it
 * means "unknown", nor a nonzero byte in padding or the unused part of
 * its union.
 */
TEST_F_TIMEOUT(stress, no_kernel_addresses, 60)
{
	static const char * const text[] = {
		"version", "stats", "hist", "live", "probes",
	};
	struct mk m = { .n4 = 3, .n6 = 2, .fw2 = 1, .reuse = true,
			.overflow = true, .cpu = -1 };
	char *buf, what[128], why[160];
	int types[TWTRACE_EV_NR] = { 0 };
	struct nsset set = { .n = 0 };
	struct tw_recs rs;
	struct nsjob j;
	unsigned int i;
	size_t k;
	int n, bad = 0;

	ASSERT_TRUE(tw_settle(30));
	tw_recs_init(&rs, 0);
	ASSERT_EQ(0, tw_recs_drain(&rs));
	buf = malloc(1 << 20);
	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, nsjob_start(&j, &m, 30));
	nsset_add(&set, j.ns);
	EXPECT_LE(6, tw_live_read(NULL, 0, j.ns));
	for (i = 0; i < ARRAY_SIZE(text); i++) {
		n = slurp(text[i], buf, 1 << 20);
		ASSERT_LE(0, n) TH_LOG("%s", text[i]);
		n = scan_text(buf, what, sizeof(what));
		EXPECT_EQ(0, n) TH_LOG("%s: %d kernel-address-like tokens, first \"%s\"",
				       text[i], n, what);
	}
	nsjob_end(&j);
	EXPECT_TRUE(wait_deaths(&rs, &set, 30));
	for (k = 0; k < rs.n; k++) {
		const struct twtrace_record *r = &rs.v[k].r;

		if (r->type < TWTRACE_EV_NR)
			types[r->type]++;
		if (record_leak(r, why, sizeof(why)) && !bad++)
			TH_LOG("record %zu: %s", k, why);
	}
	TH_LOG("%zu records scanned: %d births, %d rearms, %d deaths, %d reuses, %d overflows",
	       rs.n, types[TWTRACE_EV_BIRTH], types[TWTRACE_EV_REARM],
	       types[TWTRACE_EV_DEATH], types[TWTRACE_EV_REUSE],
	       types[TWTRACE_EV_OVERFLOW]);
	EXPECT_EQ(0, bad);
	EXPECT_EQ(0, rs.bad);
	for (i = TWTRACE_EV_BIRTH; i < TWTRACE_EV_NR; i++)
		EXPECT_LT(0, types[i]);
	free(buf);
	tw_recs_free(&rs);
}

/* ------------------------------------------------------------------ */
/* 2. Hostile input to the controls.                                   */
/* ------------------------------------------------------------------ */

/* What a control is put back to after a write it had to take. */
static void ctl_good(const struct ctl *c, char *good, size_t len)
{
	if (!c->readable || tw_ctl_str(c->name, good, len))
		snprintf(good, len, "1");
}

/*
 * Every control (enable, overwrite, ring_kb, reset), with a fixed seed:
 * random bytes, random strings of digits, signs, blanks and newlines;
 * huge, negative and malformed numbers; 4 KiB and 1 MiB writes; a bad
 * buffer address; writes at offsets 1, 4096 and 2^40; and partial writes
 * whose rest is the newline.  What the ABI says must be refused fails
 * with an error and changes nothing (read back; for reset, the counters
 * it would zero); what it must take is taken.  Then the module still
 * counts births.
 */
TEST_F_TIMEOUT(stress, controls_refuse_hostile_writes, 90)
{
	static const char * const hostile[] = {
		"4294967295", "4294967296", "18446744073709551615",
		"18446744073709551616", "99999999999999999999999999999",
		"-1", "-0", "-4294967295", "-1\n", "- 1", " 1", "1 ", "\t1",
		"1\n\n", "1\r\n", "\n1", "0x1", "1e3", "1.0", "", "\n", "+",
		"++1", "+-1", "1,", "00000000000000001", "0000000000000004\n",
		"1\n1", "one", "\xff", "4k", "65536", "65537", "3", "2",
	};
	static const char alphabet[] = "0123456789+-\n \tx";
	int rounds = scaled(300), i, fd;
	struct fuzz_count fc[ARRAY_SIZE(ctls)];
	char buf[48], good[32], shown[160];
	char *big;
	unsigned int c, h;
	size_t len;

	memset(fc, 0, sizeof(fc));
	ASSERT_TRUE(tw_settle(30));
	big = malloc(1 << 20);
	ASSERT_NE(NULL, big);
	for (c = 0; c < ARRAY_SIZE(ctls); c++) {
		const struct ctl *ct = &ctls[c];

		ctl_good(ct, good, sizeof(good));
		fd = ctl_open(ct);
		ASSERT_LE(0, fd) TH_LOG("%s: %s", ct->name, strerror(errno));

		for (i = 0; i < rounds; i++) {
			len = rnd() % 24;
			for (h = 0; h < len; h++)
				buf[h] = i % 2 ? (char)(rnd() & 0xff) :
					 alphabet[rnd() % (sizeof(alphabet) - 1)];
			ctl_try(_metadata, ct, fd, buf, len, 0, good, &fc[c],
				show(buf, len, shown, sizeof(shown)));
		}
		for (h = 0; h < ARRAY_SIZE(hostile); h++)
			ctl_try(_metadata, ct, fd, hostile[h],
				strlen(hostile[h]), 0, good, &fc[c],
				show(hostile[h], strlen(hostile[h]), shown,
				     sizeof(shown)));
		memset(big, '9', 4096);
		ctl_try(_metadata, ct, fd, big, 4096, 0, good, &fc[c],
			"4 KiB of 9s");
		memset(big, '1', 1 << 20);
		ctl_try(_metadata, ct, fd, big, 1 << 20, 0, good, &fc[c],
			"1 MiB of 1s");
		ctl_try(_metadata, ct, fd, (const char *)8, 2, 0, good, &fc[c],
			"a bad address");
		/* A good value, not at offset 0. */
		snprintf(buf, sizeof(buf), "%s\n", good);
		ctl_try(_metadata, ct, fd, buf, strlen(buf), 1, good, &fc[c],
			"a good value");
		ctl_try(_metadata, ct, fd, buf, strlen(buf), 4096, good, &fc[c],
			"a good value");
		ctl_try(_metadata, ct, fd, buf, strlen(buf), 1LL << 40, good,
			&fc[c], "a good value");
		close(fd);
	}

	/* Partial writes on one open file: the number, then its newline. */
	for (c = 0; c < ARRAY_SIZE(ctls); c++) {
		const struct ctl *ct = &ctls[c];
		const char *val = !strcmp(ct->name, "ring_kb") ? "16" :
				  !strcmp(ct->name, "overwrite") ? "0" : "1";
		long long before;
		ssize_t ret;

		ctl_good(ct, good, sizeof(good));
		fd = ctl_open(ct);
		ASSERT_LE(0, fd);
		ASSERT_EQ((ssize_t)strlen(val), write(fd, val, strlen(val)));
		if (ct->readable)
			EXPECT_EQ(atoll(val), tw_ctl_get(ct->name));
		before = ctl_state(ct);
		ret = write(fd, "\n", 1);
		EXPECT_EQ(-1, ret) TH_LOG("%s: the lone newline was taken",
					  ct->name);
		EXPECT_EQ(EINVAL, errno);
		EXPECT_EQ(before, ctl_state(ct));
		close(fd);
		if (ct->readable)
			EXPECT_EQ(0, tw_ctl_set(ct->name, good));
	}

	for (c = 0; c < ARRAY_SIZE(ctls); c++) {
		TH_LOG("%s: %d writes, %d taken, %d refused, %d wrong (%d skipped)",
		       ctls[c].name, fc[c].tried, fc[c].taken, fc[c].refused,
		       fc[c].wrong, fc[c].skipped);
		EXPECT_EQ(0, fc[c].wrong);
		EXPECT_LT(0, fc[c].refused);
	}
	free(big);
	ASSERT_EQ(0, tw_ctl_set("enable", "1"));
	check_module_works(_metadata, 3);
}

/*
 * A number written in two parts on one open file ("12", then "8\n"):
 * the first part is a whole number and is taken; the rest comes at
 * offset 2 and must be refused, not taken as a number of its own.
 */
TEST_F(stress, controls_refuse_the_rest_of_a_partial_write)
{
	ssize_t ret;
	int fd;

	fd = ctl_open(&ctls[2]);
	ASSERT_LE(0, fd);
	ASSERT_EQ(2, write(fd, "12", 2));
	EXPECT_EQ(12, tw_ctl_get("ring_kb"));
	ret = write(fd, "8\n", 2);
	TH_LOG("ring_kb <- \"12\" then \"8\\n\": second write returned %zd (%s), ring_kb now %lld",
	       ret, ret < 0 ? strerror(errno) : "taken",
	       tw_ctl_get("ring_kb"));
	EXPECT_EQ(-1, ret);
	EXPECT_EQ(12, tw_ctl_get("ring_kb"));
	close(fd);
}

/*
 * A number followed by a NUL and more bytes is not "one decimal number,
 * optionally followed by a newline": refused, nothing changed.
 */
TEST_F(stress, controls_refuse_embedded_nul)
{
	static const struct { const char *ctl, *buf; size_t len; } w[] = {
		{ "enable", "0\0junk", 6 },
		{ "overwrite", "1\0", 2 },
		{ "ring_kb", "8\0\n", 3 },
	};
	char before[32], after[32], shown[64];
	unsigned int i;
	ssize_t ret;
	int fd;

	for (i = 0; i < ARRAY_SIZE(w); i++) {
		ASSERT_EQ(0, tw_ctl_str(w[i].ctl, before, sizeof(before)));
		fd = ctl_open(&ctls[i]);
		ASSERT_LE(0, fd);
		ret = pwrite(fd, w[i].buf, w[i].len, 0);
		close(fd);
		ASSERT_EQ(0, tw_ctl_str(w[i].ctl, after, sizeof(after)));
		TH_LOG("%s <- \"%s\": returned %zd, %s -> %s", w[i].ctl,
		       show(w[i].buf, w[i].len, shown, sizeof(shown)), ret,
		       before, after);
		EXPECT_EQ(-1, ret);
		EXPECT_STREQ(before, after);
		if (strcmp(before, after))
			tw_ctl_set(w[i].ctl, before);
	}
}

struct cw_shm {
	int stop;
	long long writes[8], wrong[8], reads, bad_reads;
	int last_err[8];
};

/* A writer process: good and bad values to enable, overwrite, ring_kb. */
static void cw_writer(struct cw_shm *shm, int id, int rounds)
{
	static const char * const vals[][8] = {
		{ "0", "1\n", "1", "2", "-1", "x", "", "1 " },
		{ "1", "0\n", "0", "2", "+-0", "1x", "\n", "99999999999999999" },
		{ "4", "8\n", "16", "32", "3", "65537", "-8", "8k" },
	};
	unsigned long long s = 0x9e3779b97f4a7c15ULL * (id + 1);
	unsigned int c, v, val;
	const char *b;
	ssize_t ret;
	int fd[3], i;
	bool take;

	for (c = 0; c < 3; c++) {
		fd[c] = ctl_open(&ctls[c]);
		if (fd[c] < 0)
			_exit(1);
	}
	for (i = 0; i < rounds; i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		c = s % 3;
		v = (s >> 8) % 8;
		b = vals[c][v];
		take = ctl_model(&ctls[c], b, strlen(b), &val);
		ret = pwrite(fd[c], b, strlen(b), 0);
		ADD(shm->writes[id], 1);
		if (take ? ret != (ssize_t)strlen(b) :
			   ret != -1 || !refusal_errno(errno)) {
			ADD(shm->wrong[id], 1);
			shm->last_err[id] = ret < 0 ? errno : 0;
		}
	}
	_exit(0);
}

/* A process reading the controls: each must read as a value in range. */
static void cw_reader(struct cw_shm *shm)
{
	long long v;
	unsigned int c;

	while (!LOAD(shm->stop)) {
		for (c = 0; c < 3; c++) {
			v = tw_ctl_get(ctls[c].name);
			ADD(shm->reads, 1);
			if (v < ctls[c].min || v > ctls[c].max)
				ADD(shm->bad_reads, 1);
		}
	}
	_exit(0);
}

/*
 * Four processes write good and bad values to enable, overwrite and
 * ring_kb at once (ring resizes among them) while a storm runs, a reader
 * drains every cpuN file and another reads the controls back: every
 * write is answered as the ABI says, every read-back is in range, and
 * afterwards the controls take a value and the module counts births.
 */
TEST_F_TIMEOUT(stress, controls_concurrent_writers, 90)
{
	struct storm_opts o = { .reuse = true };
	int rounds = scaled(150), i, status, ncpus = tw_ncpus();
	long long writes = 0, wrong = 0;
	struct cw_shm *shm;
	struct tw_recs rs;
	struct storm st;
	pid_t w[4], r;
	double end;

	shm = tw_shm_alloc(sizeof(*shm));
	ASSERT_NE(NULL, shm);
	ASSERT_LT(0, ncpus);
	ASSERT_EQ(0, storm_start(&st, 1, &o));
	r = tw_spawn();
	if (!r)
		cw_reader(shm);
	for (i = 0; i < 4; i++) {
		w[i] = tw_spawn();
		if (!w[i])
			cw_writer(shm, i, rounds);
	}
	tw_recs_init(&rs, 0);
	end = tw_now() + (tw_slow_kernel() ? 200 : 60);
	for (i = 0; i < 4; i++) {
		status = -1;
		while (waitpid(w[i], &status, WNOHANG) != w[i] &&
		       tw_now() < end) {
			tw_recs_read_keep(&rs, false);
			usleep(5000);
		}
		if (status == -1)
			status = tw_reap(w[i], 1);
		EXPECT_EQ(0, status) TH_LOG("writer %d did not finish", i);
		writes += shm->writes[i];
		wrong += shm->wrong[i];
		if (shm->wrong[i])
			TH_LOG("writer %d: %lld wrong answers, last errno %d",
			       i, shm->wrong[i], shm->last_err[i]);
	}
	STORE(shm->stop, 1);
	EXPECT_EQ(0, tw_reap(r, 5));
	EXPECT_EQ(0, storm_stop(&st, 30));
	TH_LOG("%lld concurrent writes, %lld wrong; %lld control reads, %lld out of range",
	       writes, wrong, shm->reads, shm->bad_reads);
	TH_LOG("meanwhile: %lld connections, %lld records read",
	       STORM_SUM(&st, conns), rs.nread);
	storm_end(&st);
	storm_free(&st);
	EXPECT_EQ(0, wrong);
	EXPECT_EQ(0, shm->bad_reads);
	EXPECT_EQ(0, rs.bad);
	ASSERT_EQ(0, tw_ctl_set("ring_kb", self->ring_kb));
	ASSERT_EQ(0, tw_ctl_set("overwrite", "0"));
	ASSERT_EQ(0, tw_ctl_set("enable", "1"));
	EXPECT_EQ(atoll(self->ring_kb), tw_ctl_get("ring_kb"));
	tw_recs_drain(&rs);
	tw_recs_free(&rs);
	munmap(shm, sizeof(*shm));
	check_module_works(_metadata, 3);
}

/* ------------------------------------------------------------------ */
/* 3. Readers.                                                         */
/* ------------------------------------------------------------------ */

/* One TIME_WAIT socket made on each CPU in turn: a record in each ring. */
static int prime_cpus(int ncpus)
{
	struct nsjob j;
	int c, ret = 0;

	for (c = 0; c < ncpus; c++) {
		struct mk m = { .n4 = 1, .cpu = c };

		ret |= nsjob_start(&j, &m, 30);
		nsjob_end(&j);
	}
	return ret;
}

static int spawn_reader(struct rd_shm *rd, pid_t *pid, int i, int cpu,
			bool never)
{
	pid[i] = tw_spawn();
	if (!pid[i])
		reader_main(rd, i, cpu, never);
	return pid[i] < 0 ? -1 : 0;
}

/*
 * Several readers: A and B on cpu0, C and K on cpu1, N on cpu1 that never
 * reads.  K, blocked in read(), dies at once of SIGKILL.  Phase 1: 2 x 60
 * connections, one worker per CPU, 1 MiB rings: nothing lost, each
 * record read exactly once (per-CPU seqs, no duplicate, no gap).  Phase
 * 2: C goes, the rings shrink to 4 KiB under the readers, 120 connections
 * on CPU 1 (only N there) and 40 on CPU 0: CPU 1 drops.  In the end, per
 * CPU, records read + lost_cpuN == records produced there (the seq of
 * the next record says how many), none read twice, and records read +
 * lost == records for the whole.
 */
TEST_F_TIMEOUT(stress, readers_share_die_and_account_every_record, 150)
{
	enum { A, B, C, K, N, NR };
	static const int cpu_of[NR] = { 0, 0, 1, 1, 1 };
	static const int live_idx[] = { A, B, C, K };
	struct storm_opts o = { .pin = true };
	struct mk m1 = { .n4 = 120, .cpu = 1 };
	struct nsjob j;
	long long read_c[RD_CPUS], dup[RD_CPUS], beyond[RD_CPUS];
	long long first_seq[RD_CPUS], lost_c[RD_CPUS], produced, bad = 0;
	long long total_read = 0, lost, recs;
	struct tw_stats s0, s1, s2;
	int ncpus = tw_ncpus(), c, i, status;
	struct rd_shm *rd;
	struct tw_recs rs;
	struct storm st;
	pid_t pid[NR];
	char wchan[64], name[32];
	double t;

	if (ncpus < 2 || tw_cpus_online() < 2)
		SKIP(return, "needs two CPUs online");
	ASSERT_LE(ncpus, RD_CPUS);
	rd = tw_shm_alloc(sizeof(*rd));
	ASSERT_NE(NULL, rd);
	ASSERT_EQ(0, tw_ctl_set("overwrite", "0"));
	ASSERT_TRUE(tw_settle(30));

	/* Where each CPU's seq stands. */
	ASSERT_EQ(0, prime_cpus(ncpus));
	ASSERT_TRUE(tw_settle(30));
	tw_recs_init(&rs, 0);
	ASSERT_EQ(0, tw_recs_drain(&rs));
	for (c = 0; c < ncpus; c++) {
		rd->base[c] = rs.last_seq[c];
		ASSERT_LE(0, rd->base[c]) TH_LOG("cpu%d: no record yet", c);
	}
	ASSERT_EQ(0, tw_stats_read(&s0));

	for (i = 0; i < NR; i++)
		ASSERT_EQ(0, spawn_reader(rd, pid, i, cpu_of[i], i == N));
	ASSERT_TRUE(rd_wait_state(rd, live_idx, ARRAY_SIZE(live_idx),
				  RD_READING, 10));
	i = N;
	ASSERT_TRUE(rd_wait_state(rd, &i, 1, RD_OPEN, 10));
	usleep(200000);

	/* K is blocked in read(): SIGKILL ends it at once. */
	EXPECT_EQ(RD_READING, LOAD(rd->r[K].state));
	EXPECT_EQ('S', proc_state(pid[K], wchan, sizeof(wchan)));
	t = tw_now();
	status = tw_kill_reap(pid[K], 5);
	TH_LOG("reader K (cpu1, blocked in read(), wchan %s) died of SIGKILL in %.3f s",
	       wchan, tw_now() - t);
	EXPECT_TRUE(tw_killed_by_sigkill(status));

	/* Phase 1: the readers keep up. */
	o.limit = scaled(60);
	ASSERT_EQ(0, storm_start(&st, 2, &o));
	ASSERT_EQ(0, storm_wait(&st, tw_slow_kernel() ? 300 : 60));
	storm_end(&st);
	storm_free(&st);
	tw_wait_until((tw_stats_read(&s1),
		       tw_stats_delta_sum(&s0, &s1, "death_") >=
		       tw_stats_delta(&s0, &s1, "births")), 30);
	EXPECT_TRUE(quiesce(rd, 0.5, 30));
	ASSERT_EQ(0, tw_stats_read(&s1));
	TH_LOG("phase 1: records +%lld, read %lld (A %lld, B %lld, C %lld), lost +%lld",
	       tw_stats_delta(&s0, &s1, "records"), rd_total_read(rd),
	       rd->r[A].nread, rd->r[B].nread, rd->r[C].nread,
	       tw_stats_delta(&s0, &s1, "lost"));
	EXPECT_EQ(0, tw_stats_delta(&s0, &s1, "lost"));
	EXPECT_EQ(tw_stats_delta(&s0, &s1, "records"), rd_total_read(rd));
	EXPECT_LT(0, rd->r[A].nread + rd->r[B].nread);
	EXPECT_LT(0, rd->r[C].nread);

	/* Phase 2: C goes; only N, which never reads, is left on cpu1. */
	status = tw_kill_reap(pid[C], 5);
	EXPECT_TRUE(tw_killed_by_sigkill(status));
	ASSERT_EQ(0, tw_ctl_set("ring_kb", "4"));
	/* 40 connections on CPU 0 (worker 0), then 120 on CPU 1. */
	o.limit = 40;
	ASSERT_EQ(0, storm_start(&st, 1, &o));
	ASSERT_EQ(0, storm_wait(&st, tw_slow_kernel() ? 300 : 60));
	storm_end(&st);
	storm_free(&st);
	EXPECT_EQ(0, nsjob_start(&j, &m1, tw_slow_kernel() ? 300 : 60));
	nsjob_end(&j);
	tw_wait_until((tw_stats_read(&s1),
		       tw_stats_delta_sum(&s0, &s1, "death_") >=
		       tw_stats_delta(&s0, &s1, "births")), 30);
	EXPECT_TRUE(quiesce(rd, 0.5, 30));

	/* Everyone goes; what is left in the rings is read here. */
	for (i = 0; i < NR; i++) {
		if (i == K || i == C)
			continue;
		EXPECT_EQ(i == N ? RD_OPEN : RD_READING, LOAD(rd->r[i].state));
		status = tw_kill_reap(pid[i], 5);
		EXPECT_TRUE(tw_killed_by_sigkill(status)) TH_LOG("reader %d", i);
	}
	/* Until nothing came between the last drain and the stats. */
	for (i = 0; i < 5; i++) {
		long long got = 0;

		for (c = 0; c < ncpus; c++)
			got += rd_drain_cpu(rd, c, &bad);
		total_read += got;
		if (i && !got)
			break;
		ASSERT_EQ(0, tw_stats_read(&s2));
	}

	/* The next record on each CPU says how many were made there. */
	tw_recs_free(&rs);
	tw_recs_init(&rs, 0);
	ASSERT_EQ(0, prime_cpus(ncpus));
	ASSERT_LE(0, tw_recs_read(&rs));
	for (c = 0; c < ncpus; c++) {
		size_t k;

		first_seq[c] = -1;
		for (k = 0; k < rs.n && first_seq[c] < 0; k++)
			if (rs.v[k].cpu == c)
				first_seq[c] = rs.v[k].r.seq;
		ASSERT_LE(0, first_seq[c]) TH_LOG("cpu%d: no record", c);
	}
	total_read += rd_total_read(rd);
	lost = tw_stats_delta(&s0, &s2, "lost");
	recs = tw_stats_delta(&s0, &s2, "records");
	for (c = 0; c < ncpus; c++) {
		produced = first_seq[c] - rd->base[c] - 1;
		read_c[c] = 0;
		dup[c] = 0;
		beyond[c] = 0;
		for (i = 0; i < RD_SEEN; i++) {
			if (!rd->seen[c][i])
				continue;
			if (i >= produced)
				beyond[c]++;
			read_c[c]++;
			dup[c] += rd->seen[c][i] - 1;
		}
		snprintf(name, sizeof(name), "lost_cpu%d", c);
		lost_c[c] = tw_stats_delta(&s0, &s2, name);
		TH_LOG("cpu%d: produced %lld (seq %lld..%lld), read %lld, %s +%lld",
		       c, produced, rd->base[c] + 1, first_seq[c] - 1,
		       read_c[c], name, lost_c[c]);
		TH_LOG("cpu%d: read twice %lld, out of window %lld", c, dup[c],
		       rd->oor[c]);
		EXPECT_EQ(produced, read_c[c] + lost_c[c]);
		EXPECT_EQ(0, dup[c]);
		EXPECT_EQ(0, beyond[c]);
		EXPECT_EQ(0, rd->oor[c]);
	}
	TH_LOG("records +%lld == read %lld + lost +%lld", recs, total_read,
	       lost);
	EXPECT_EQ(recs, total_read + lost);
	EXPECT_LT(0, lost_c[1]) TH_LOG("nothing dropped on cpu1");
	for (i = 0; i < NR; i++)
		bad += rd->r[i].bad;
	EXPECT_EQ(0, bad);
	tw_recs_free(&rs);
	munmap(rd, sizeof(*rd));
}

/* ------------------------------------------------------------------ */
/* 4. The live table full.                                             */
/* ------------------------------------------------------------------ */

/*
 * max_tracked = live + 8, then a storm of 2 x 100 connections (one worker
 * per CPU): births == TcpExt TW+TWKilled == connections; the first 8 are
 * tracked (birth records with an id), untracked grows by births - 8
 * exactly; stats live and the lines of live never exceed the bound while
 * the storm runs.  Then the storm's namespaces go: every birth has its
 * netns_purge death (the sum of death_* grows by births), the untracked
 * ones flagged so, born_before_load does not move, and live returns to
 * what it was.  max_tracked is put back.
 */
TEST_F_TIMEOUT(stress, live_table_full, 120)
{
	struct storm_opts o = { .limit = scaled(100), .pin = true };
	long long live0, bound, max_live = 0, max_lines = 0, v, births;
	long long tracked, conns, kernel, other_deaths, other_tracked;
	struct nsset set = { .n = 0 };
	struct tw_stats s0, s1, s2;
	struct tw_recs rs;
	struct storm st;
	double end;
	char buf[32];
	int i;

	ASSERT_TRUE(tw_settle(30));
	tw_recs_init(&rs, 0);
	ASSERT_EQ(0, tw_recs_drain(&rs));
	live0 = tw_stat("live");
	ASSERT_LE(0, live0);
	bound = live0 + 8;
	snprintf(buf, sizeof(buf), "%lld", bound);
	ASSERT_EQ(0, tw_write_str(MAX_TRACKED, buf));
	ASSERT_EQ(0, tw_stats_read(&s0));

	ASSERT_EQ(0, storm_start(&st, tw_cpus_online() > 1 ? 2 : 1, &o));
	for (i = 0; i < st.n; i++)
		nsset_add(&set, st.shm->w[i].ns);
	end = tw_now() + (tw_slow_kernel() ? 300 : 60);
	while (!storm_done(&st) && tw_now() < end) {
		v = tw_stat("live");
		max_live = v > max_live ? v : max_live;
		v = tw_live_read(NULL, 0, 0);
		max_lines = v > max_lines ? v : max_lines;
		tw_recs_read(&rs);
	}
	ASSERT_EQ(0, storm_stop(&st, 10));
	tw_wait_until((tw_recs_read(&rs),
		       nrec(&rs, TWTRACE_EV_BIRTH, -1, &set, false, 0) >=
		       STORM_SUM(&st, births)), 5);
	ASSERT_EQ(0, tw_stats_read(&s1));
	v = tw_live_read(NULL, 0, 0);
	max_lines = v > max_lines ? v : max_lines;

	conns = STORM_SUM(&st, conns);
	kernel = STORM_SUM(&st, births);
	births = tw_stats_delta(&s0, &s1, "births");
	tracked = nrec_id(&rs, TWTRACE_EV_BIRTH, &set, true);
	other_tracked = 0;
	for (i = 0; i < (int)rs.n; i++)
		other_tracked += rs.v[i].r.type == TWTRACE_EV_DEATH &&
				 rs.v[i].r.tw_id &&
				 !nsset_has(&set, rs.v[i].r.netns);
	TH_LOG("max_tracked %lld: %lld connections, births +%lld (TcpExt %lld)",
	       bound, conns, births, kernel);
	TH_LOG("tracked %lld, untracked +%lld", tracked,
	       tw_stats_delta(&s0, &s1, "untracked"));
	TH_LOG("while storming: stats live at most %lld, live lines at most %lld; now live %lld",
	       max_live, max_lines, tw_stats_get(&s1, "live"));
	ASSERT_EQ(0, tw_stats_delta(&s0, &s1, "lost"));
	EXPECT_EQ(conns, kernel);
	EXPECT_EQ(kernel, births);
	EXPECT_EQ(births, nrec(&rs, TWTRACE_EV_BIRTH, -1, &set, false, 0));
	EXPECT_EQ(bound - live0 + other_tracked, tracked);
	EXPECT_EQ(births - tracked, tw_stats_delta(&s0, &s1, "untracked"));
	EXPECT_EQ(live0 + tracked - other_tracked, tw_stats_get(&s1, "live"));
	EXPECT_GE(bound, max_live);
	EXPECT_GE(bound, max_lines);

	/* The storm's namespaces go, and every socket in them. */
	storm_end(&st);
	EXPECT_TRUE(wait_deaths(&rs, &set, tw_slow_kernel() ? 120 : 30));
	tw_wait_until(tw_stat("live") <= live0, 5);
	ASSERT_EQ(0, tw_stats_read(&s2));
	other_deaths = nrec(&rs, TWTRACE_EV_DEATH, -1, &set, true, 0);
	births = tw_stats_delta(&s0, &s2, "births");
	TH_LOG("after the purge: deaths +%lld (netns_purge +%lld, %lld elsewhere)",
	       tw_stats_delta_sum(&s0, &s2, "death_"),
	       tw_stats_delta(&s0, &s2, "death_netns_purge"), other_deaths);
	TH_LOG("untracked-flagged %d, born_before_load +%lld, live %lld (was %lld)",
	       nrec(&rs, TWTRACE_EV_DEATH, -1, &set, false,
		    TWTRACE_F_UNTRACKED),
	       tw_stats_delta(&s0, &s2, "born_before_load"),
	       tw_stats_get(&s2, "live"), live0);
	ASSERT_EQ(0, tw_stats_delta(&s0, &s2, "lost"));
	EXPECT_EQ(births + other_deaths,
		  tw_stats_delta_sum(&s0, &s2, "death_"));
	EXPECT_EQ(births, nrec(&rs, TWTRACE_EV_DEATH,
			       TWTRACE_DEATH_NETNS_PURGE, &set, false, 0));
	EXPECT_EQ(births - tracked,
		  nrec(&rs, TWTRACE_EV_DEATH, -1, &set, false,
		       TWTRACE_F_UNTRACKED));
	EXPECT_EQ(tracked, nrec_id(&rs, TWTRACE_EV_DEATH, &set, true));
	EXPECT_EQ(0, nrec(&rs, TWTRACE_EV_DEATH, -1, NULL, false,
			  TWTRACE_F_BORN_BEFORE_LOAD));
	EXPECT_EQ(live0 - other_tracked, tw_stats_get(&s2, "live"));
	storm_free(&st);
	tw_recs_free(&rs);

	ASSERT_EQ(0, tw_write_str(MAX_TRACKED, self->max_tracked));
	check_module_works(_metadata, 2);
}

/* ------------------------------------------------------------------ */
/* 5. Namespaces come and go.                                          */
/* ------------------------------------------------------------------ */

/*
 * 20 namespaces, each with 6 TIME_WAIT sockets (IPv4, IPv6, one in
 * FIN_WAIT2), the next made while the last goes: per namespace, birth
 * records == TcpExt TW+TWKilled == sockstat tw, and as many netns_purge
 * deaths, with the same ids; death_netns_purge and births grow by the
 * total; nothing lost; no live line for any of them, nor for any other
 * namespace nobody is in.
 */
TEST_F_TIMEOUT(stress, namespaces_come_and_go, 120)
{
	struct mk m = { .n4 = 3, .n6 = 2, .fw2 = 1, .cpu = -1 };
	int rounds = scaled(20), r, i, total = 0;
	struct nsjob j[NSSET_MAX];
	struct nsset set = { .n = 0 };
	struct tw_stats s0, s1;
	struct tw_recs rs;
	size_t k;

	ASSERT_TRUE(tw_settle(30));
	tw_recs_init(&rs, 0);
	ASSERT_EQ(0, tw_recs_drain(&rs));
	ASSERT_EQ(0, tw_stats_read(&s0));
	for (r = 0; r < rounds; r++) {
		ASSERT_EQ(0, nsjob_start(&j[r], &m, 30)) TH_LOG("round %d", r);
		if (!nsset_has(&set, j[r].ns))
			nsset_add(&set, j[r].ns);
		EXPECT_EQ(6, j[r].births);
		EXPECT_EQ(6, j[r].sockstat);
		total += j[r].births;
		if (r)
			nsjob_end(&j[r - 1]);
		tw_recs_read(&rs);
	}
	nsjob_end(&j[rounds - 1]);
	EXPECT_TRUE(wait_deaths(&rs, &set, tw_slow_kernel() ? 120 : 30));
	ASSERT_EQ(0, tw_stats_read(&s1));
	TH_LOG("%d namespaces (%d inode numbers), %d TIME_WAIT sockets:",
	       rounds, set.n, total);
	TH_LOG("births +%lld, birth records %d, lost +%lld",
	       tw_stats_delta(&s0, &s1, "births"),
	       nrec(&rs, TWTRACE_EV_BIRTH, -1, &set, false, 0),
	       tw_stats_delta(&s0, &s1, "lost"));
	TH_LOG("netns_purge deaths %d, death_netns_purge +%lld",
	       nrec(&rs, TWTRACE_EV_DEATH, TWTRACE_DEATH_NETNS_PURGE, &set,
		    false, 0),
	       tw_stats_delta(&s0, &s1, "death_netns_purge"));
	ASSERT_EQ(0, tw_stats_delta(&s0, &s1, "lost"));
	EXPECT_EQ(total, tw_stats_delta(&s0, &s1, "births"));
	EXPECT_EQ(total + nrec(&rs, TWTRACE_EV_DEATH,
			       TWTRACE_DEATH_NETNS_PURGE, &set, true, 0),
		  tw_stats_delta(&s0, &s1, "death_netns_purge"));
	/* Inode numbers come back: a number may stand for several. */
	for (r = 0; r < rounds; r++) {
		struct nsset one = { .n = 0 };
		long long want = 0;

		for (i = 0; i < rounds; i++)
			want += j[i].ns == j[r].ns ? j[i].births : 0;
		nsset_add(&one, j[r].ns);
		EXPECT_EQ(want, nrec(&rs, TWTRACE_EV_BIRTH, -1, &one, false, 0))
			TH_LOG("netns %u", j[r].ns);
		EXPECT_EQ(want, nrec(&rs, TWTRACE_EV_DEATH,
				     TWTRACE_DEATH_NETNS_PURGE, &one, false, 0))
			TH_LOG("netns %u", j[r].ns);
		EXPECT_EQ(0, nrec_id(&rs, TWTRACE_EV_DEATH, &one, false));
	}
	/* Each birth's id dies once. */
	for (k = 0; k < rs.n; k++) {
		const struct twtrace_record *b = &rs.v[k].r;

		if (b->type != TWTRACE_EV_BIRTH || !nsset_has(&set, b->netns))
			continue;
		EXPECT_EQ(1, tw_recs_count(&rs, TWTRACE_EV_DEATH, -1, 0, 0,
					   b->tw_id));
	}
	i = live_dead_lines(&set);
	EXPECT_EQ(0, i) TH_LOG("%d live lines of dead namespaces", i);
	tw_recs_free(&rs);
}

/* ------------------------------------------------------------------ */
/* 6. CPU hotplug.                                                     */
/* ------------------------------------------------------------------ */

/*
 * CPU 1 goes offline and comes back, three times, while two workers make
 * connections and every cpuN file is read: births == TcpExt TW+TWKilled
 * of the workers' namespaces, nothing lost, every record read, and each
 * CPU's seqs contiguous, CPU 1's too when it is back.
 */
TEST_F_TIMEOUT(stress, cpu_hotplug, 120)
{
	struct storm_opts o = { .limit = 0 };
	int rounds = scaled(3), r, c, ncpus = tw_ncpus();
	long long before1, conns, kernel;
	struct mk m = { .n4 = 3, .cpu = 1 };
	struct tw_stats s0, s1;
	struct tw_recs rs;
	struct storm st;
	struct nsjob j;
	double t, down = 0, up = 0;
	char on[8];
	int ret;

	if (access(CPU1_ONLINE, W_OK))
		SKIP(return, "%s: %s", CPU1_ONLINE, strerror(errno));
	ASSERT_EQ(0, tw_read_str(CPU1_ONLINE, on, sizeof(on)));
	self->cpu1_touched = true;
	if (strcmp(on, "1"))
		ASSERT_EQ(0, tw_write_str(CPU1_ONLINE, "1"));
	ASSERT_LE(2, ncpus);
	ASSERT_TRUE(tw_settle(30));
	tw_recs_init(&rs, 0);
	ASSERT_EQ(0, tw_recs_drain(&rs));
	ASSERT_EQ(0, tw_stats_read(&s0));

	ASSERT_EQ(0, storm_start(&st, 2, &o));
	for (r = 0; r < rounds; r++) {
		t = tw_now() + 0.3;
		while (tw_now() < t)
			tw_recs_read_keep(&rs, false);
		t = tw_now();
		ret = tw_write_str(CPU1_ONLINE, "0");
		down += tw_now() - t;
		ASSERT_EQ(0, ret) TH_LOG("cpu1 offline: %s", strerror(-ret));
		EXPECT_EQ(1, tw_cpus_online());
		t = tw_now() + 0.3;
		while (tw_now() < t)
			tw_recs_read_keep(&rs, false);
		t = tw_now();
		ret = tw_write_str(CPU1_ONLINE, "1");
		up += tw_now() - t;
		ASSERT_EQ(0, ret) TH_LOG("cpu1 online: %s", strerror(-ret));
	}
	ASSERT_EQ(0, storm_stop(&st, 30));
	/* Something on CPU 1 now that it is back. */
	before1 = rs.cpu_read[1];
	ASSERT_EQ(0, nsjob_start(&j, &m, 30));
	usleep(100000);
	tw_wait_until((tw_recs_read_keep(&rs, false),
		       tw_stat("records") - tw_stats_get(&s0, "records") <=
		       rs.nread), 10);
	ASSERT_EQ(0, tw_stats_read(&s1));
	conns = STORM_SUM(&st, conns);
	kernel = STORM_SUM(&st, births) + j.births;
	TH_LOG("%d offline/online rounds (%.3f s offline, %.3f s online in all): %lld connections",
	       rounds, down, up, conns);
	TH_LOG("births +%lld (TcpExt TW+TWKilled %lld), lost +%lld",
	       tw_stats_delta(&s0, &s1, "births"), kernel,
	       tw_stats_delta(&s0, &s1, "lost"));
	TH_LOG("records +%lld, read %lld (cpu0 %lld, cpu1 %lld)",
	       tw_stats_delta(&s0, &s1, "records"), rs.nread, rs.cpu_read[0],
	       rs.cpu_read[1]);
	EXPECT_EQ(kernel, tw_stats_delta(&s0, &s1, "births"));
	EXPECT_EQ(0, tw_stats_delta(&s0, &s1, "lost"));
	EXPECT_EQ(tw_stats_delta(&s0, &s1, "records"), rs.nread);
	EXPECT_EQ(0, rs.bad);
	EXPECT_LT(before1, rs.cpu_read[1]);
	for (c = 0; c < ncpus; c++)
		EXPECT_EQ(0, rs.seq_breaks[c])
			TH_LOG("cpu%d: %lld seq breaks, first %lld -> %lld", c,
			       rs.seq_breaks[c], rs.brk_prev[c],
			       rs.brk_seq[c]);
	nsjob_end(&j);
	storm_end(&st);
	storm_free(&st);
	/* Let the namespaces go before the next test. */
	tw_wait_until((tw_stats_read(&s1),
		       tw_stats_delta_sum(&s0, &s1, "death_") >=
		       tw_stats_delta(&s0, &s1, "births")), 30);
	tw_recs_free(&rs);
}

/* ------------------------------------------------------------------ */
/* 7. Sockets older than the module, and sockets that outlive it.      */
/* ------------------------------------------------------------------ */

/*
 * Four TIME_WAIT sockets tracked, then rmmod: it succeeds with them live
 * (kmemleak, at the end of the run, says whether their entries leaked).
 * Five more are made with no module.  insmod: births 0, no live line
 * for either namespace.  Then both namespaces go: nine deaths, all
 * netns_purge, born before load (flag, counter), lifetime and FIN_WAIT2
 * time unknown (TWTRACE_NS_UNKNOWN), no id, none in the histograms.
 */
TEST_F_TIMEOUT(stress, sockets_older_and_younger_than_the_module, 120)
{
	struct mk m1 = { .n4 = 3, .n6 = 1, .cpu = -1 };
	struct mk m2 = { .n4 = 3, .n6 = 1, .fw2 = 1, .cpu = -1 };
	struct nsset set = { .n = 0 };
	struct tw_stats s;
	struct tw_recs rs;
	struct nsjob j1, j2;
	int ret, bbl = 0, tot;
	size_t k;

	ASSERT_TRUE(tw_settle(30));
	ASSERT_EQ(0, nsjob_start(&j1, &m1, 30));
	nsset_add(&set, j1.ns);
	EXPECT_EQ(4, tw_live_read(NULL, 0, j1.ns));
	ret = mod_op(false);
	TH_LOG("rmmod with %d sockets of netns %u live: %s", 4, j1.ns,
	       ret ? strerror(-ret) : "ok");
	ASSERT_EQ(0, ret);
	ASSERT_FALSE(tw_module_loaded());

	ASSERT_EQ(0, nsjob_start(&j2, &m2, 30));
	nsset_add(&set, j2.ns);
	EXPECT_EQ(5, j2.sockstat);
	ret = mod_op(true);
	ASSERT_EQ(0, ret) TH_LOG("insmod: %s", strerror(-ret));
	EXPECT_EQ(0, tw_stat("births"));
	EXPECT_EQ(0, tw_live_read(NULL, 0, j1.ns));
	EXPECT_EQ(0, tw_live_read(NULL, 0, j2.ns));
	tw_recs_init(&rs, 0);

	nsjob_end(&j1);
	nsjob_end(&j2);
	EXPECT_TRUE(tw_wait_until((tw_recs_read(&rs),
				   nrec(&rs, TWTRACE_EV_DEATH, -1, &set, false,
					0) >= 9), 30));
	usleep(100000);
	tw_recs_read(&rs);
	ASSERT_EQ(0, tw_stats_read(&s));
	for (k = 0; k < rs.n; k++) {
		const struct twtrace_record *r = &rs.v[k].r;

		if (r->type != TWTRACE_EV_DEATH)
			continue;
		bbl += !!(r->flags & TWTRACE_F_BORN_BEFORE_LOAD);
		if (!nsset_has(&set, r->netns))
			continue;
		EXPECT_EQ(TWTRACE_DEATH_NETNS_PURGE, r->reason);
		EXPECT_EQ(TWTRACE_F_BORN_BEFORE_LOAD, r->flags);
		EXPECT_EQ(TWTRACE_NS_UNKNOWN, r->death.lifetime_ns);
		EXPECT_EQ(TWTRACE_NS_UNKNOWN, r->death.fin_wait2_ns);
		EXPECT_EQ(0ULL, r->tw_id);
	}
	tot = nrec(&rs, TWTRACE_EV_DEATH, -1, &set, false, 0);
	TH_LOG("after insmod: %d deaths of the two namespaces, %d born before load",
	       tot, nrec(&rs, TWTRACE_EV_DEATH, -1, &set, false,
			 TWTRACE_F_BORN_BEFORE_LOAD));
	TH_LOG("stats: born_before_load %lld, death_netns_purge %lld, births %lld, untracked %lld",
	       tw_stats_get(&s, "born_before_load"),
	       tw_stats_get(&s, "death_netns_purge"),
	       tw_stats_get(&s, "births"), tw_stats_get(&s, "untracked"));
	EXPECT_EQ(9, tot);
	EXPECT_EQ(9, nrec(&rs, TWTRACE_EV_DEATH, TWTRACE_DEATH_NETNS_PURGE,
			  &set, false, TWTRACE_F_BORN_BEFORE_LOAD));
	EXPECT_EQ(bbl, tw_stats_get(&s, "born_before_load"));
	EXPECT_EQ(0, tw_stats_get(&s, "births"));
	EXPECT_EQ(0, tw_stats_get(&s, "untracked"));
	EXPECT_EQ(0, tw_stats_get(&s, "lost"));
	EXPECT_EQ(0, tw_hist_get("lifetime netns_purge", -1));
	tw_recs_free(&rs);
	check_module_works(_metadata, 2);
}

/* ------------------------------------------------------------------ */
/* 8. Load and unload under a storm, with readers.                     */
/* ------------------------------------------------------------------ */

/*
 * 100 insmod/rmmod cycles.  Under TCG a cycle takes 0.7 s on an idle guest
 * (kprobe registration and RCU grace periods), 1 to 2.5 s under the storm;
 * a time budget (420 s; 900 s on the debug kernel, where a cycle takes
 * 4.4 s) only stops a run that would not end, and all 100 must be done.  TWTRACE_STRESS_SECS sets a
 * shorter budget for a quick run, which then needs only 5 cycles.
 * Meanwhile one worker per CPU makes connections, each in its own netns,
 * paced and niced so that the cycles get CPU time (TCG runs both vCPUs
 * on one host thread).  Cycles go in threes: readers (two on cpu0, one
 * on cpu1) blocked in read() hold the files, and rmmod must fail with
 * EAGAIN/EBUSY; openers open, read and close cpuN and "probes" again and
 * again, and rmmod may succeed or be busy (and no unattached probe
 * ever shows a hit); nobody holds a file, and rmmod must succeed.  Each
 * time the readers, killed, die within 5 s and the module then unloads;
 * no call hangs (each is bounded).  Afterwards the module loads and
 * counts, and the storm's sockets, born before that load, die counted as
 * born_before_load when their namespaces go: as many as were alive when
 * the module came back.
 */
TEST_F_TIMEOUT(stress, load_unload_under_storm, 1200)
{
	struct storm_opts o = { .pin = true, .reuse = true, .pace_us = 5000,
				.nice = 10, .max_tw = 2048 };
	double budget = tw_slow_kernel() ? 900 : 420;
	int cycles = 100, need = cycles, i, k, ret, status, nk;
	int workers = tw_cpus_online() < STORM_MAX ? tw_cpus_online() : STORM_MAX;
	int last = tw_ncpus() - 1;
	long long busy = 0, racy = 0, plain = 0, retries = 0, reads = 0;
	long long opens = 0, refcnt = -1, socks, socks_after, bbl0, bbl;
	struct rd_shm *rd;
	struct storm st;
	pid_t kid[RD_MAX];
	double t0 = tw_now(), elapsed;
	char buf[32];

	ASSERT_LE(0, last);
	if (getenv("TWTRACE_STRESS_SECS")) {
		budget = atof(getenv("TWTRACE_STRESS_SECS"));
		need = 5;
	}
	rd = tw_shm_alloc(sizeof(*rd));
	ASSERT_NE(NULL, rd);
	ASSERT_EQ(0, storm_start(&st, workers, &o));

	for (i = 0; i < cycles && tw_now() - t0 < budget; i++) {
		int kind = i % 3;

		/*
		 * Not on PREEMPT_RT: the kernel's own debugfs WARNs when an
		 * open comes between delete_module()'s release of the
		 * module's references and its MODULE_STATE_GOING
		 * (full_proxy_open_regular(): "debugfs file owner did not
		 * clean up at exit"), a window full preemption makes wide.
		 */
		if (kind == 1 && tw_kernel_rt())
			kind = 2;

		if (!tw_module_loaded()) {
			ret = mod_op(true);
			ASSERT_EQ(0, ret)
				TH_LOG("cycle %d: insmod: %s", i, strerror(-ret));
		}
		memset(rd->r, 0, sizeof(rd->r));
		nk = 0;
		if (kind == 0) {
			static const int idx[] = { 0, 1, 2 };

			for (k = 0; k < 3; k++) {
				kid[nk] = tw_spawn();
				if (!kid[nk])
					reader_main(rd, nk, k < 2 ? 0 : last,
						    false);
				ASSERT_LT(0, kid[nk]);
				nk++;
			}
			ASSERT_TRUE(rd_wait_state(rd, idx, 3, RD_READING, 10))
				TH_LOG("cycle %d: readers did not open", i);
			if (refcnt < 0 && !tw_read_str("/sys/module/twtrace/refcnt",
						       buf, sizeof(buf)))
				refcnt = atoll(buf);
		} else if (kind == 1) {
			for (k = 0; k < 2; k++) {
				kid[nk] = tw_spawn();
				if (!kid[nk])
					opener_main(rd, nk, k ? last : 0);
				ASSERT_LT(0, kid[nk]);
				nk++;
			}
			usleep((i * 7919) % 20000);
		}
		ret = mod_op(false);
		if (kind == 0) {
			ASSERT_TRUE(ret == -EAGAIN || ret == -EBUSY)
				TH_LOG("cycle %d: rmmod with readers: %s", i,
				       ret ? strerror(-ret) : "unloaded");
		} else if (kind == 1) {
			ASSERT_TRUE(!ret || ret == -EAGAIN || ret == -EBUSY)
				TH_LOG("cycle %d: rmmod with openers: %s", i,
				       strerror(-ret));
		} else {
			ASSERT_EQ(0, ret)
				TH_LOG("cycle %d: rmmod: %s", i, strerror(-ret));
		}
		if (ret)
			busy++;
		else if (kind == 1)
			racy++;
		else
			plain++;
		if (!ret) {
			ASSERT_FALSE(tw_module_loaded());
			ASSERT_NE(0, access(TW_DIR, F_OK));
		}
		for (k = 0; k < nk; k++) {
			struct rd_slot *s = &rd->r[k];

			if (kind == 0) {
				EXPECT_EQ(RD_READING, LOAD(s->state))
					TH_LOG("cycle %d: reader %d stopped: %s",
					       i, k, strerror(s->err));
			}
			EXPECT_EQ(0, s->err)
				TH_LOG("cycle %d: reader %d: %s", i, k,
				       strerror(s->err));
			EXPECT_EQ(0, s->bad) TH_LOG("cycle %d: reader %d", i, k);
			status = tw_kill_reap(kid[k], 5);
			ASSERT_TRUE(tw_killed_by_sigkill(status))
				TH_LOG("cycle %d: reader %d did not die", i, k);
			reads += s->nread;
			opens += s->opens;
		}
		if (tw_module_loaded()) {
			ret = mod_unload_retry(&retries);
			ASSERT_EQ(0, ret)
				TH_LOG("cycle %d: rmmod once the readers are gone: %s",
				       i, strerror(-ret));
		}
		ASSERT_FALSE(tw_module_loaded());
	}
	ASSERT_EQ(0, storm_stop(&st, 30));
	elapsed = tw_now() - t0;
	socks = STORM_SUM(&st, sockstat);
	TH_LOG("%d cycles of %d in %.1f s (budget %.0f s): rmmod busy %lld, unloaded %lld",
	       i, cycles, elapsed, budget, busy, racy + plain);
	TH_LOG("(%lld with openers racing, %lld with nobody; %lld retries after the readers died)",
	       racy, plain, retries);
	TH_LOG("insmod %.1f ms, rmmod %.1f ms on average (%d and %d calls)",
	       mod_secs_spent[1] * 1000 / (mod_calls[1] ? mod_calls[1] : 1),
	       mod_secs_spent[0] * 1000 / (mod_calls[0] ? mod_calls[0] : 1),
	       mod_calls[1], mod_calls[0]);
	TH_LOG("refcnt with 3 readers %lld; readers read %lld records, openers opened %lld files",
	       refcnt, reads, opens);
	TH_LOG("storm: %lld connections (%lld failed), %lld overflows, %lld TIME_WAIT sockets left",
	       STORM_SUM(&st, conns), STORM_SUM(&st, errs),
	       STORM_SUM(&st, overflows), socks);
	EXPECT_LT(0, STORM_SUM(&st, conns));
	EXPECT_LE(3, refcnt);
	EXPECT_LE(need, i) TH_LOG("%d cycles of the %d needed in the budget", i,
				  need);

	/*
	 * Back again.  The storm's sockets were all born before this load:
	 * as many as were alive around the insmod (some may expire
	 * meanwhile) die counted born_before_load when the namespaces go.
	 */
	socks = storm_sockstat(&st);
	ret = mod_op(true);
	ASSERT_EQ(0, ret) TH_LOG("insmod: %s", strerror(-ret));
	socks_after = storm_sockstat(&st);
	bbl0 = tw_stat("born_before_load");
	check_module_works(_metadata, 3);
	storm_end(&st);
	tw_wait_until(tw_stat("born_before_load") - bbl0 >= socks_after,
		      tw_slow_kernel() ? 300 : 60);
	usleep(500000);
	bbl = tw_stat("born_before_load") - bbl0;
	TH_LOG("the storm's namespaces went: born_before_load +%lld for %lld..%lld sockets",
	       bbl, socks_after, socks);
	EXPECT_LE(0, socks_after);
	EXPECT_LE(socks_after, bbl);
	EXPECT_GE(socks, bbl);
	storm_free(&st);
	munmap(rd, sizeof(*rd));
}

TEST_HARNESS_MAIN
