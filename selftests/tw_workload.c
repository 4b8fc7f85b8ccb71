// SPDX-License-Identifier: GPL-2.0
/*
 * tw_workload: drive real TIME_WAIT traffic on loopback for the demo and
 * for hand testing inside the test VM, in the caller's network namespace.
 * Sysctls it changes are put back before it exits.
 *
 *   tw_workload client-close N   N connections closed by the client first,
 *                                each leaving a TIME_WAIT socket (born
 *                                FIN_WAIT2, then the server's FIN)
 *   tw_workload expire [N]       N (1) TIME_WAIT sockets left in the
 *                                FIN_WAIT2 substate with tcp_fin_timeout=2,
 *                                waited for until they expire
 *   tw_workload reuse            a TIME_WAIT socket on the only ephemeral
 *                                port: its reuse refused (tcp_tw_reuse=0),
 *                                refused (too recent), then allowed
 *   tw_workload rst              an RST from the peer kills a TIME_WAIT
 *                                socket in the FIN_WAIT2 substate
 *   tw_workload overflow N       N connections closed by the client with
 *                                tcp_max_tw_buckets reached: no TIME_WAIT
 */
#include "twtrace_lib.h"

#define REUSE_RANGE	"61100 61100"	/* outside the default range */

static const char *prog = "tw_workload";

static int usage(void)
{
	fprintf(stderr,
		"Usage: %s client-close N | expire [N] | reuse | rst | overflow N\n",
		prog);
	return 2;
}

static int fail(const char *what, int err)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(err));
	return 1;
}

static const char *ep(const union tw_sa *a, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	inet_ntop(a->sa.sa_family, tw_sa_addr(a), ip, sizeof(ip));
	if (a->sa.sa_family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", ip, tw_sa_port(a));
	else
		snprintf(buf, len, "%s:%u", ip, tw_sa_port(a));
	return buf;
}

/* "local -> remote" of a connection's client end. */
static const char *tuple(const struct tw_conn *k, char *buf, size_t len)
{
	char a[64], b[64];

	snprintf(buf, len, "%s -> %s", ep(&k->caddr, a, sizeof(a)),
		 ep(&k->saddr, b, sizeof(b)));
	return buf;
}

/* Sysctls to put back at the end. */
static struct {
	char name[64];
	char val[64];
} saved[8];
static int nsaved;

static int sysctl_set(const char *name, const char *val)
{
	char path[128];
	int ret;

	if (nsaved < (int)ARRAY_SIZE(saved)) {
		snprintf(path, sizeof(path), "/proc/sys/%s", name);
		if (!tw_read_str(path, saved[nsaved].val,
				 sizeof(saved[nsaved].val))) {
			snprintf(saved[nsaved].name, sizeof(saved[0].name),
				 "%s", name);
			nsaved++;
		}
	}
	ret = tw_sysctl_set(name, val);
	if (ret)
		fprintf(stderr, "%s: %s=%s: %s\n", prog, name, val,
			strerror(-ret));
	return ret;
}

static void sysctls_restore(void)
{
	while (nsaved-- > 0)
		tw_sysctl_set(saved[nsaved].name, saved[nsaved].val);
}

/*
 * The client closes first: its end becomes a TIME_WAIT socket, in the
 * FIN_WAIT2 substate until the server's FIN comes a moment later.
 */
static int client_close(int n)
{
	union tw_sa dst;
	struct tw_conn k;
	int l, i, ret;

	l = tw_listen(AF_INET, "127.0.0.1", &dst);
	if (l < 0)
		return fail("listen", -l);
	for (i = 0; i < n; i++) {
		ret = tw_make_rearmed_tw(&k, l, &dst);
		if (ret)
			return fail("connection", -ret);
	}
	close(l);
	printf("%d connections to 127.0.0.1:%u closed by the client first\n", n,
	       tw_sa_port(&dst));
	return 0;
}

/*
 * The client closes, the server does not: a TIME_WAIT socket in the
 * FIN_WAIT2 substate, whose timer is tcp_fin_timeout (2 s here) instead
 * of 60 s.  Wait until the kernel no longer lists it.
 */
static int expire(int n)
{
	struct tw_conn k[16];
	char buf[160];
	union tw_sa dst;
	int l, i, ret, left;
	double t0, end;

	if (n > 16)
		n = 16;
	if (sysctl_set("net/ipv4/tcp_fin_timeout", "2"))
		return 1;
	l = tw_listen(AF_INET, "127.0.0.1", &dst);
	if (l < 0)
		return fail("listen", -l);
	t0 = tw_now();
	for (i = 0; i < n; i++) {
		ret = tw_make_fw2_tw(&k[i], l, &dst);
		if (ret)
			return fail("connection", -ret);
		printf("%s  client closed, server did not: FIN_WAIT2\n",
		       tuple(&k[i], buf, sizeof(buf)));
	}
	fflush(stdout);
	end = t0 + 15;
	do {
		usleep(20000);
		for (left = 0, i = 0; i < n; i++)
			left += tw_proc_tw_find(tw_sa_port(&k[i].caddr),
						tw_sa_port(&k[i].saddr), NULL);
	} while (left && tw_now() < end);
	if (left) {
		fprintf(stderr, "%s: %d of %d still there after 15 s\n", prog,
			left, n);
		return 1;
	}
	printf("tcp_fin_timeout=2: gone from /proc/net/tcp %.1f s later\n",
	       tw_now() - t0);
	/* Their server ends can go now: the FINs find no socket. */
	for (i = 0; i < n; i++)
		tw_conn_close(&k[i]);
	close(l);
	return 0;
}

/* Sleep until @frac into the next second of CLOCK_MONOTONIC. */
static void align_second(double frac)
{
	double t = tw_now();

	usleep((1 + frac - (t - (long long)t)) * 1e6);
}

static void connect_result(const char *how, int ret, const struct tw_conn *k)
{
	char a[64];

	printf("connect(), %-28s ", how);
	if (!ret)
		printf("connected from %s\n", ep(&k->caddr, a, sizeof(a)));
	else if (ret == -EADDRNOTAVAIL)
		printf("refused (EADDRNOTAVAIL)\n");
	else
		printf("refused (%s)\n", strerror(-ret));
}

/*
 * One ephemeral port, so a new connection to the same server needs the
 * TIME_WAIT socket's tuple: tcp_twsk_unique() decides.  With
 * tcp_tw_reuse=0 it refuses; with 1, within the second of the socket's
 * last timestamped segment, it refuses too; a second later it allows.
 */
static int reuse(void)
{
	struct tw_conn k, k2;
	union tw_sa dst;
	char buf[160];
	int l, ret;
	double t0;

	l = tw_listen(AF_INET, "127.0.0.1", &dst);
	if (l < 0)
		return fail("listen", -l);
	if (sysctl_set("net/ipv4/tcp_timestamps", "1") ||
	    sysctl_set("net/ipv4/tcp_tw_reuse", "0") ||
	    sysctl_set("net/ipv4/ip_local_port_range", REUSE_RANGE))
		return 1;
	/* Everything up to the second refusal within one second. */
	align_second(0.05);
	ret = tw_make_client_tw(&k, l, &dst, NULL);
	if (ret)
		return fail("connection", -ret);
	t0 = tw_now();
	printf("%s  client closed first: TIME_WAIT\n",
	       tuple(&k, buf, sizeof(buf)));
	printf("ip_local_port_range=%s: a new connection needs its tuple\n",
	       REUSE_RANGE);
	ret = tw_conn_open(&k2, l, &dst, NULL);
	connect_result("tcp_tw_reuse=0:", ret, &k2);
	if (!ret)
		goto done;
	if (sysctl_set("net/ipv4/tcp_tw_reuse", "1"))
		return 1;
	snprintf(buf, sizeof(buf), "tcp_tw_reuse=1, %.0f ms later:",
		 (tw_now() - t0) * 1000);
	ret = tw_conn_open(&k2, l, &dst, NULL);
	connect_result(buf, ret, &k2);
	if (!ret)
		goto done;
	usleep(1100000);
	snprintf(buf, sizeof(buf), "tcp_tw_reuse=1, %.1f s later:",
		 tw_now() - t0);
	ret = tw_conn_open(&k2, l, &dst, NULL);
	connect_result(buf, ret, &k2);
	if (ret)
		return 1;
done:
	/* The new connection ends like the old one: a TIME_WAIT socket. */
	tw_conn_close_client_first(&k2);
	close(l);
	return 0;
}

/* The peer aborts a connection the client closed: its RST kills the TW. */
static int rst(void)
{
	struct tw_conn k;
	union tw_sa dst;
	char buf[160];
	int l, ret;

	l = tw_listen(AF_INET, "127.0.0.1", &dst);
	if (l < 0)
		return fail("listen", -l);
	ret = tw_make_fw2_tw(&k, l, &dst);
	if (ret)
		return fail("connection", -ret);
	printf("%s  client closed, server did not: FIN_WAIT2\n",
	       tuple(&k, buf, sizeof(buf)));
	ret = tw_conn_abort_server(&k);
	if (ret)
		return fail("abort", -ret);
	printf("the server aborts (SO_LINGER 0): its RST kills the TIME_WAIT socket\n");
	close(l);
	return 0;
}

/*
 * tcp_max_tw_buckets set to the number of TIME_WAIT sockets there are:
 * the next ones cannot be made, the connections just end.
 */
static int overflow(int n)
{
	long long tw = tw_sockstat_tw(), ovf0 = tw_snmp("TcpExt",
						      "TCPTimeWaitOverflow");
	struct tw_conn k;
	union tw_sa dst;
	char val[32];
	int l, i, ret;

	l = tw_listen(AF_INET, "127.0.0.1", &dst);
	if (l < 0)
		return fail("listen", -l);
	snprintf(val, sizeof(val), "%lld", tw < 0 ? 0 : tw);
	if (sysctl_set("net/ipv4/tcp_max_tw_buckets", val))
		return 1;
	for (i = 0; i < n; i++) {
		ret = tw_conn_open(&k, l, &dst, NULL);
		if (ret)
			return fail("connection", -ret);
		tw_conn_close_client_first(&k);
		tw_wait_until(tw_snmp("TcpExt", "TCPTimeWaitOverflow") - ovf0 >=
			      i + 1, 5);
	}
	printf("tcp_max_tw_buckets=%s: the TIME_WAIT sockets there are now\n",
	       val);
	printf("%d connections closed by the client first: TcpExt TCPTimeWaitOverflow +%lld\n",
	       n, tw_snmp("TcpExt", "TCPTimeWaitOverflow") - ovf0);
	close(l);
	return 0;
}

int main(int argc, char **argv)
{
	int n = 0, ret;

	if (argc < 2 || argc > 3)
		return usage();
	if (argc == 3) {
		n = atoi(argv[2]);
		if (n <= 0)
			return usage();
	}
	if (!strcmp(argv[1], "client-close") && n)
		ret = client_close(n);
	else if (!strcmp(argv[1], "expire"))
		ret = expire(n ? n : 1);
	else if (!strcmp(argv[1], "reuse") && !n)
		ret = reuse();
	else if (!strcmp(argv[1], "rst") && !n)
		ret = rst();
	else if (!strcmp(argv[1], "overflow") && n)
		ret = overflow(n);
	else
		return usage();
	sysctls_restore();
	return ret;
}
