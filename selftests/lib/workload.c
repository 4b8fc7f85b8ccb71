// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace selftests library: workloads for the stress tests, each in
 * processes and network namespaces of its own: TIME_WAIT sockets made to
 * order in a namespace that lives until released (nsjob), a storm of
 * connections (storm), and the module loaded and unloaded from a child
 * so that a hang cannot hang the test.
 *
 * Every child process dies with the test process (PR_SET_PDEATHSIG) and
 * every wait is bounded.
 */
#include <sys/resource.h>

#include "twtrace_lib.h"

/* @n, or a fifth of it (at least 1) on the debug kernel. */
int scaled(int n)
{
	if (!tw_slow_kernel())
		return n;
	return n / 5 > 0 ? n / 5 : 1;
}

/* Seconds a module load or unload may take before it counts as a hang. */
double mod_secs(void)
{
	return tw_slow_kernel() ? 120 : 30;
}

/* Time spent in and number of mod_op() calls: [0] unloads, [1] loads. */
double mod_secs_spent[2];
int mod_calls[2];

/*
 * finit_module() or delete_module(O_NONBLOCK), in a child so that a hang
 * cannot hang the test: 0, -errno, or -ETIMEDOUT when it did not return
 * within mod_secs().
 */
int mod_op(bool load)
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
int mod_unload_retry(long long *retries)
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

/*
 * A child makes the TIME_WAIT sockets of @m in a network namespace of its
 * own, reports, and stays, holding the namespace, until nsjob_end().
 * 0 when it did all of @m within @secs.
 */
int nsjob_start(struct nsjob *j, const struct mk *m, double secs)
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
void nsjob_end(struct nsjob *j)
{
	if (j->pid > 0)
		tw_kill_reap(j->pid, 5);
	j->pid = 0;
}

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
int storm_start(struct storm *s, int n, const struct storm_opts *o)
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
int storm_wait(struct storm *s, double secs)
{
	tw_wait_until(storm_all(s, true), secs);
	return storm_all(s, true) && !storm_failed(s) ? 0 : -1;
}

/* Stop connecting; 0 when every worker has reported. */
int storm_stop(struct storm *s, double secs)
{
	STORE(s->shm->stop, 1);
	return storm_wait(s, secs);
}

bool storm_done(struct storm *s)
{
	return storm_all(s, true);
}

/* The TIME_WAIT sockets in the workers' namespaces now, or -1. */
long long storm_sockstat(struct storm *s)
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

long long storm_sum(struct storm *s, size_t off)
{
	long long sum = 0;
	int i;

	for (i = 0; i < s->n; i++)
		sum += *(long long *)((char *)&s->shm->w[i] + off);
	return sum;
}

/* The workers go, and their namespaces with their TIME_WAIT sockets. */
void storm_end(struct storm *s)
{
	int i;

	for (i = 0; i < s->n; i++)
		tw_kill_reap(s->pid[i], 5);
	s->n = 0;
}

void storm_free(struct storm *s)
{
	if (s->shm)
		munmap(s->shm, sizeof(*s->shm));
	s->shm = NULL;
}

/*
 * One TIME_WAIT socket made on each CPU in turn, each in a namespace of
 * its own that goes at once: a record in each ring.
 */
int nsjob_prime_cpus(int ncpus)
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

/* Put back what tw_saved_save() saved (from the harness's process). */
void tw_saved_restore(const struct tw_saved *s)
{
	char on[8] = "";

	if (s->cpu1_touched && !tw_read_str(CPU1_ONLINE, on, sizeof(on)) &&
	    strcmp(on, "1"))
		tw_write_str(CPU1_ONLINE, "1");
	if (!tw_module_loaded())
		tw_module_load();
	if (s->max_tracked[0])
		tw_write_str(MAX_TRACKED, s->max_tracked);
	tw_ctls_restore(&s->ctls);
}
