// SPDX-License-Identifier: GPL-2.0
/*
 * tw_storm: the workload of the twtrace benchmark (scripts/bench.sh).
 *
 *   tw_storm storm [-v VARIANT] [-n CONNS] [-w WORKERS] [-p PORTS]
 *                  [-W WARMUP] [-m MAX_TW] [-b CMD] [-a CMD]
 *	A loopback short-connection storm in a network namespace of its own:
 *	WORKERS processes (one per CPU, pinned) each make CONNS connections
 *	to their own listener, and the client always closes first, so that
 *	every connection leaves a TIME_WAIT socket (born in the FIN_WAIT2
 *	substate, re-armed into TIME_WAIT by the server's FIN).  Variants:
 *
 *	plain     the kernel's defaults; each worker spreads its connections
 *		  over 16 loopback addresses so that no connect() meets a
 *		  TIME_WAIT socket of its own storm (the ephemeral port search
 *		  wraps after about 3000 connections per destination)
 *	reuse     tcp_tw_reuse=1, timestamps on, ip_local_port_range narrowed
 *		  to PORTS ports and filled by WARMUP connections per worker
 *		  (not timed, then 1.1 s so that they pass the kernel's
 *		  1-second rule): the timed connects keep meeting TIME_WAIT
 *		  sockets, and tcp_twsk_unique() decides on each
 *	overflow  tcp_max_tw_buckets=MAX_TW: nearly every close overflows
 *
 *	CMD -b runs just before the timed part, CMD -a just after it, both
 *	still inside the namespace (sh -c).  One JSON object goes to stdout:
 *	the time of the timed part and the namespace's own counters.
 *	The namespace and its TIME_WAIT sockets go away when tw_storm exits.
 *
 *   tw_storm waitns [-t SECS]
 *	Wait until every network namespace that is being dismantled is gone,
 *	TIME_WAIT sockets purged: with /proc/sys/user/max_net_namespaces set
 *	to 1, a new namespace can be made only then.  Prints how long that
 *	took, in nanoseconds.
 *
 *   tw_storm rusage FILE CMD [ARG...]
 *	Run CMD, pass SIGINT/SIGTERM on to it, and write its resource usage
 *	to FILE: "utime_us stime_us nvcsw nivcsw maxrss_kb status".
 *
 *   tw_storm drain DIR MS
 *	Read every cpuN file of DIR (the twtrace debugfs directory) without
 *	blocking every MS milliseconds, never poll(): the module then has no
 *	sleeping reader to wake.  Records are counted, checked for sequence
 *	gaps and thrown away.  At SIGINT/SIGTERM, a last read, then
 *	"tw_storm: total N records read, 0 shown, L lost" on stderr.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/twtrace.h>
#include <linux/types.h>

#define MAX_WORKERS	16
#define NR_DADDRS	16
#define LISTEN_PORT	5000
#define PORT_LOW	20000

enum variant { V_PLAIN, V_REUSE, V_OVERFLOW };

static const char * const variant_names[] = { "plain", "reuse", "overflow" };

struct opts {
	enum variant variant;
	long conns;		/* per worker, timed */
	int workers;
	long ports;		/* reuse: ip_local_port_range size */
	long warmup;		/* reuse: connections per worker, not timed */
	long max_tw;		/* overflow: tcp_max_tw_buckets */
	const char *before;
	const char *after;
};

/* What a worker tells its parent through the pipe when it is done. */
struct worker_result {
	long done;
	long failed;		/* connect() refused: EADDRNOTAVAIL */
	int err;		/* errno of a fatal error, 0 if none */
};

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "tw_storm: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int write_file(const char *path, const char *val)
{
	ssize_t len = strlen(val), n;
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = write(fd, val, len);
	close(fd);
	return n == len ? 0 : -1;
}

static void sysctl_set(const char *name, const char *val)
{
	char path[128];

	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/%s", name);
	if (write_file(path, val)) {
		fprintf(stderr, "tw_storm: %s=%s: %s\n", name, val,
			strerror(errno));
		exit(1);
	}
}

/* A fresh network namespace; ENOSPC while max_net_namespaces is reached. */
static void new_netns(int timeout_s)
{
	__u64 end = now_ns() + (__u64)timeout_s * 1000000000ULL;

	while (unshare(CLONE_NEWNET)) {
		if ((errno != ENOSPC && errno != EUSERS) || now_ns() > end)
			die("unshare(CLONE_NEWNET)");
		usleep(5000);
	}
}

static void lo_up(void)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket");
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr))
		die("SIOCGIFFLAGS lo");
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr))
		die("SIOCSIFFLAGS lo");
	close(fd);
}

static int listen_on(int port)
{
	struct sockaddr_in a = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr.s_addr = htonl(INADDR_ANY),
	};
	int one = 1, fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)))
		die("bind listener");
	if (listen(fd, 4096))
		die("listen");
	return fd;
}

/*
 * One connection, closed by the client first: its socket becomes a
 * TIME_WAIT socket in the FIN_WAIT2 substate as soon as the FIN is acked,
 * and the server's FIN re-arms it into TIME_WAIT.  1 if connect() found no
 * free tuple, -1 on any other error.
 */
static int one_conn(int lfd, const struct sockaddr_in *dst)
{
	char buf[16];
	int c, s;

	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0)
		return -1;
	if (connect(c, (const struct sockaddr *)dst, sizeof(*dst))) {
		int err = errno;

		close(c);
		errno = err;
		return err == EADDRNOTAVAIL ? 1 : -1;
	}
	s = accept(lfd, NULL, NULL);
	if (s < 0) {
		close(c);
		return -1;
	}
	close(c);
	/* EOF: the client's FIN has arrived, its TIME_WAIT socket exists. */
	while (read(s, buf, sizeof(buf)) > 0)
		;
	close(s);
	return 0;
}

/* @n successful connections to @ndst destinations in turn. */
static void conns(int lfd, const struct sockaddr_in *dst, int ndst, long n,
		  struct worker_result *res)
{
	long i, tries = 0;
	int r;

	for (i = 0; i < n; tries++) {
		r = one_conn(lfd, &dst[i % ndst]);
		if (r < 0) {
			res->err = errno;
			return;
		}
		if (r > 0) {
			res->failed++;
			/* Every tuple taken and too recent: give up at some point. */
			if (res->failed > 10 * n + 1000) {
				res->err = EADDRNOTAVAIL;
				return;
			}
			continue;
		}
		res->done++;
		i++;
	}
}

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	/* Fewer CPUs than workers: run unpinned. */
	sched_setaffinity(0, sizeof(set), &set);
}

static void run_hook(const char *cmd)
{
	int st;

	if (!cmd)
		return;
	fflush(stdout);
	st = system(cmd);
	if (st)
		fprintf(stderr, "tw_storm: hook '%s' exited with %d\n", cmd, st);
}

struct worker {
	pid_t pid;
	int go[2];		/* parent -> worker: start the timed part */
	int res[2];		/* worker -> parent: ready, then results */
	struct worker_result wr;
};

static void worker_main(const struct opts *o, int idx, struct worker *w)
{
	struct sockaddr_in dst[NR_DADDRS];
	struct worker_result wr = { 0 };
	int lfd, ndst, i;
	char c = 0;

	pin(idx);
	lfd = listen_on(LISTEN_PORT + idx);
	ndst = o->variant == V_PLAIN ? NR_DADDRS : 1;
	for (i = 0; i < ndst; i++) {
		memset(&dst[i], 0, sizeof(dst[i]));
		dst[i].sin_family = AF_INET;
		dst[i].sin_port = htons(LISTEN_PORT + idx);
		dst[i].sin_addr.s_addr = htonl(INADDR_LOOPBACK + i);
	}
	if (o->variant == V_REUSE)
		conns(lfd, dst, ndst, o->warmup, &wr);
	wr.done = 0;
	wr.failed = 0;
	/* Ready (after the warm-up); wait for the start. */
	if (write(w->res[1], &wr, sizeof(wr)) != sizeof(wr) ||
	    read(w->go[0], &c, 1) != 1)
		_exit(1);
	if (!wr.err)
		conns(lfd, dst, ndst, o->conns, &wr);
	if (write(w->res[1], &wr, sizeof(wr)) != sizeof(wr))
		_exit(1);
	close(lfd);
	_exit(0);
}

/* A TcpExt counter of this namespace, -1 if not found. */
static long long netstat_get(const char *name)
{
	char hdr[4096], val[4096], *hs, *vs, *h, *v;
	long long ret = -1;
	FILE *f = fopen("/proc/net/netstat", "re");

	if (!f)
		return -1;
	while (fgets(hdr, sizeof(hdr), f) && fgets(val, sizeof(val), f)) {
		if (strncmp(hdr, "TcpExt:", 7))
			continue;
		h = strtok_r(hdr, "\n ", &hs);
		v = strtok_r(val, "\n ", &vs);
		while ((h = strtok_r(NULL, "\n ", &hs)) &&
		       (v = strtok_r(NULL, "\n ", &vs))) {
			if (!strcmp(h, name)) {
				ret = atoll(v);
				break;
			}
		}
		break;
	}
	fclose(f);
	return ret;
}

/* The namespace's live TIME_WAIT sockets (/proc/net/sockstat "tw"). */
static long long sockstat_tw(void)
{
	char line[256], *p;
	long long ret = -1;
	FILE *f = fopen("/proc/net/sockstat", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		p = strstr(line, " tw ");
		if (!strncmp(line, "TCP:", 4) && p) {
			ret = atoll(p + 4);
			break;
		}
	}
	fclose(f);
	return ret;
}

static int cmd_storm(const struct opts *o)
{
	struct worker w[MAX_WORKERS];
	long done = 0, failed = 0;
	__u64 t0, t1;
	char buf[64];
	int i, err = 0;

	new_netns(120);
	lo_up();
	switch (o->variant) {
	case V_PLAIN:
		sysctl_set("tcp_max_tw_buckets", "1000000");
		break;
	case V_REUSE:
		sysctl_set("tcp_max_tw_buckets", "1000000");
		sysctl_set("tcp_tw_reuse", "1");
		sysctl_set("tcp_timestamps", "1");
		snprintf(buf, sizeof(buf), "%d %ld", PORT_LOW,
			 PORT_LOW + o->ports - 1);
		sysctl_set("ip_local_port_range", buf);
		break;
	case V_OVERFLOW:
		snprintf(buf, sizeof(buf), "%ld", o->max_tw);
		sysctl_set("tcp_max_tw_buckets", buf);
		break;
	}

	for (i = 0; i < o->workers; i++) {
		if (pipe2(w[i].go, O_CLOEXEC) || pipe2(w[i].res, O_CLOEXEC))
			die("pipe");
		w[i].pid = fork();
		if (w[i].pid < 0)
			die("fork");
		if (!w[i].pid)
			worker_main(o, i, &w[i]);
	}
	for (i = 0; i < o->workers; i++) {
		if (read(w[i].res[0], &w[i].wr, sizeof(w[i].wr)) !=
		    sizeof(w[i].wr))
			die("worker");
		if (w[i].wr.err)
			err = w[i].wr.err;
	}
	/* The warm-up's sockets must pass the 1-second rule. */
	if (o->variant == V_REUSE)
		usleep(1100000);
	run_hook(o->before);

	t0 = now_ns();
	for (i = 0; i < o->workers; i++)
		if (write(w[i].go[1], "g", 1) != 1)
			die("start worker");
	for (i = 0; i < o->workers; i++) {
		if (read(w[i].res[0], &w[i].wr, sizeof(w[i].wr)) !=
		    sizeof(w[i].wr))
			die("worker result");
		if (w[i].wr.err)
			err = w[i].wr.err;
		done += w[i].wr.done;
		failed += w[i].wr.failed;
	}
	t1 = now_ns();
	for (i = 0; i < o->workers; i++)
		waitpid(w[i].pid, NULL, 0);
	run_hook(o->after);

	printf("{\"variant\":\"%s\",\"workers\":%d,\"conns\":%ld,\"failed\":%ld,\"ns\":%llu,",
	       variant_names[o->variant], o->workers, done, failed,
	       (unsigned long long)(t1 - t0));
	printf("\"warmup\":%ld,\"netns_tw\":%lld,\"tcpext_tw\":%lld,",
	       o->variant == V_REUSE ? o->warmup * o->workers : 0,
	       sockstat_tw(), netstat_get("TW"));
	printf("\"tcpext_twrecycled\":%lld,\"tcpext_overflow\":%lld}\n",
	       netstat_get("TWRecycled"), netstat_get("TCPTimeWaitOverflow"));
	if (err) {
		fprintf(stderr, "tw_storm: %s\n", strerror(err));
		return 1;
	}
	return 0;
}

static int cmd_waitns(int timeout_s)
{
	__u64 t0 = now_ns();

	new_netns(timeout_s);
	printf("%llu\n", (unsigned long long)(now_ns() - t0));
	return 0;
}

static pid_t rusage_child;

static void forward_signal(int sig)
{
	if (rusage_child > 0)
		kill(rusage_child, sig);
}

static int cmd_rusage(const char *out, char **argv)
{
	struct sigaction sa;
	struct rusage ru;
	FILE *f;
	int st;

	rusage_child = fork();
	if (rusage_child < 0)
		die("fork");
	if (!rusage_child) {
		execvp(argv[0], argv);
		die(argv[0]);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = forward_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	while (wait4(rusage_child, &st, 0, &ru) < 0)
		if (errno != EINTR)
			die("wait4");
	f = fopen(out, "we");
	if (!f)
		die(out);
	fprintf(f, "%lld %lld %ld %ld %ld %d\n",
		(long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
		(long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec,
		ru.ru_nvcsw, ru.ru_nivcsw, ru.ru_maxrss,
		WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	fclose(f);
	return 0;
}

static atomic_int drain_stop;

static void on_drain_signal(int sig)
{
	(void)sig;
	drain_stop = 1;
}

struct drain_cpu {
	int fd;
	bool have_seq;
	__u64 next_seq;
};

/* Everything @c has now; returns the records read, adds gaps to *@lost. */
static __u64 drain_cpu(struct drain_cpu *c, __u64 *lost)
{
	static struct twtrace_record buf[512];
	__u64 n = 0;
	ssize_t len;
	size_t i;

	for (;;) {
		len = read(c->fd, buf, sizeof(buf));
		if (len < 0 && errno == EINTR)
			continue;
		if (len <= 0)
			return n;
		for (i = 0; i < len / sizeof(buf[0]); i++) {
			if (c->have_seq && buf[i].seq > c->next_seq)
				*lost += buf[i].seq - c->next_seq;
			c->have_seq = true;
			c->next_seq = buf[i].seq + 1;
		}
		n += len / sizeof(buf[0]);
	}
}

static int cmd_drain(const char *dir, long ms)
{
	struct drain_cpu cpus[256];
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	struct sigaction sa;
	__u64 nread = 0, lost = 0;
	char path[256];
	int i, n;

	for (n = 0; n < 256; n++) {
		snprintf(path, sizeof(path), "%s/cpu%d", dir, n);
		cpus[n].fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (cpus[n].fd < 0)
			break;
		cpus[n].have_seq = false;
	}
	if (!n)
		die(path);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_drain_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	while (!drain_stop) {
		for (i = 0; i < n; i++)
			nread += drain_cpu(&cpus[i], &lost);
		nanosleep(&ts, NULL);
	}
	for (i = 0; i < n; i++)
		nread += drain_cpu(&cpus[i], &lost);
	fprintf(stderr, "tw_storm: total %llu records read, 0 shown, %llu lost\n",
		(unsigned long long)nread, (unsigned long long)lost);
	return 0;
}

static int bad_usage(void)
{
	fprintf(stderr,
		"usage: tw_storm storm [-v plain|reuse|overflow] [-n CONNS] [-w WORKERS]\n"
		"                      [-p PORTS] [-W WARMUP] [-m MAX_TW] [-b CMD] [-a CMD]\n"
		"       tw_storm waitns [-t SECS]\n"
		"       tw_storm rusage FILE CMD [ARG...]\n"
		"       tw_storm drain DIR MS\n");
	return 2;
}

static long num(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < 0) {
		fprintf(stderr, "tw_storm: not a number: %s\n", s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	struct opts o = {
		.variant = V_PLAIN,
		.conns = 2000,
		.workers = 2,
		.ports = 2000,
		.warmup = 1000,
		.max_tw = 16,
	};
	int c, timeout = 120;

	if (argc < 2)
		return bad_usage();
	if (!strcmp(argv[1], "rusage")) {
		if (argc < 4)
			return bad_usage();
		return cmd_rusage(argv[2], argv + 3);
	}
	if (!strcmp(argv[1], "drain")) {
		if (argc != 4)
			return bad_usage();
		return cmd_drain(argv[2], num(argv[3]));
	}
	if (!strcmp(argv[1], "waitns")) {
		while ((c = getopt(argc - 1, argv + 1, "t:")) != -1) {
			if (c != 't')
				return bad_usage();
			timeout = num(optarg);
		}
		return cmd_waitns(timeout);
	}
	if (strcmp(argv[1], "storm"))
		return bad_usage();
	while ((c = getopt(argc - 1, argv + 1, "v:n:w:p:W:m:b:a:")) != -1) {
		switch (c) {
		case 'v':
			for (o.variant = 0; o.variant <= V_OVERFLOW; o.variant++)
				if (!strcmp(optarg, variant_names[o.variant]))
					break;
			if (o.variant > V_OVERFLOW)
				return bad_usage();
			break;
		case 'n':
			o.conns = num(optarg);
			break;
		case 'w':
			o.workers = num(optarg);
			break;
		case 'p':
			o.ports = num(optarg);
			break;
		case 'W':
			o.warmup = num(optarg);
			break;
		case 'm':
			o.max_tw = num(optarg);
			break;
		case 'b':
			o.before = optarg;
			break;
		case 'a':
			o.after = optarg;
			break;
		default:
			return bad_usage();
		}
	}
	if (optind != argc - 1 || o.workers < 1 || o.workers > MAX_WORKERS ||
	    o.ports < 2 || PORT_LOW + o.ports > 65536)
		return bad_usage();
	return cmd_storm(&o);
}
