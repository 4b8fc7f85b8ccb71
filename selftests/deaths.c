// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace death tests: every way a TIME_WAIT socket dies early (RST
 * received and sent, SYN recycled, netns purge, admin destroy), each for
 * real, with the kernel's own counters and rows.
 */
#include <net/ethernet.h>
#include <netpacket/packet.h>

#include "fixture_tw.h"
#include "fixture_tw_af.h"

/*
 * Client close(), then the server aborts (SO_LINGER {1, 0} + close()):
 * its RST kills the FIN_WAIT2-substate tw.  The kernel counts the one RST
 * it sent (Tcp OutRsts, TcpExt TCPAbortOnData) and the tw is gone from
 * sockstat and /proc/net/tcp; death rst_received, substate 5.
 */
TEST_F(tw_af, rst_received_fin_wait2)
{
	struct tw_recs *rs = &self->rs;
	int family = variant->family;
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	long long rst0, abort0, n0;
	struct twtrace_record b, d;
	union tw_sa dst;
	struct tw_conn k;
	int l;

	l = tw_listen(family, tw_lo(family), &dst);
	ASSERT_LE(0, l);
	ASSERT_EQ(0, tw_make_fw2_tw(&k, l, &dst));
	b = wait_birth(_metadata, rs, &k.caddr, &dst);
	n0 = tw_stat("death_rst_received");
	rst0 = tw_snmp("Tcp", "OutRsts");
	abort0 = tw_tcpext("TCPAbortOnData");

	ASSERT_EQ(0, setsockopt(k.a, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
	close(k.a);
	k.a = -1;
	d = wait_event(_metadata, rs, TWTRACE_EV_DEATH, b.tw_id, 5);
	TH_LOG("death %s, Tcp OutRsts +%lld, TCPAbortOnData +%lld, sockstat tw %lld",
	       tw_death_name(d.reason), tw_snmp("Tcp", "OutRsts") - rst0,
	       tw_tcpext("TCPAbortOnData") - abort0, tw_sockstat_tw());
	EXPECT_EQ(TWTRACE_DEATH_RST_RECEIVED, d.reason);
	EXPECT_EQ(SUB_FW2, d.substate);
	EXPECT_GE(MSEC, llabs((long long)d.death.fin_wait2_ns -
			      (long long)d.death.lifetime_ns));
	EXPECT_EQ(1, tw_snmp("Tcp", "OutRsts") - rst0);
	EXPECT_EQ(1, tw_tcpext("TCPAbortOnData") - abort0);
	EXPECT_EQ(0, tw_sockstat_tw());
	EXPECT_FALSE(tw_proc_tw_find(b.sport, b.dport, NULL));
	EXPECT_EQ(1, tw_stat("death_rst_received") - n0);
	close(l);
}

/* A packet socket on lo: every IPv4 packet that lo receives. */
static int capture_open(void)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_IP),
		.sll_ifindex = if_nametoindex("lo"),
	};
	int fd;

	fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    htons(ETH_P_IP));
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll))) {
		close(fd);
		return -errno;
	}
	return fd;
}

struct seen {
	bool fin;
	__u32 fin_end;		/* sequence number after the FIN */
	int rsts;
	__u32 rst_seq;
};

static __u32 get32(const unsigned char *p)
{
	return (__u32)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

/* Read what the capture holds: TCP segments @sport -> @dport. */
static void capture_scan(int fd, unsigned int sport, unsigned int dport,
			 struct seen *s)
{
	unsigned char p[2048], *t;
	unsigned int ihl, doff, len;
	ssize_t n;

	while ((n = recv(fd, p, sizeof(p), 0)) > 0) {
		if (n < 20 || (p[0] >> 4) != 4 || p[9] != IPPROTO_TCP)
			continue;
		ihl = (p[0] & 15) * 4;
		len = p[2] << 8 | p[3];
		if (len > n || ihl + 20 > len)
			continue;
		t = p + ihl;
		doff = (t[12] >> 4) * 4;
		if ((unsigned int)(t[0] << 8 | t[1]) != sport ||
		    (unsigned int)(t[2] << 8 | t[3]) != dport)
			continue;
		if (t[13] & 0x01) {		/* FIN */
			s->fin = true;
			s->fin_end = get32(t + 4) + (len - ihl - doff) + 1;
		}
		if (t[13] & 0x04) {		/* RST */
			s->rsts++;
			s->rst_seq = get32(t + 4);
		}
	}
}

static __u16 csum_fold(__u32 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

/* A bare RST @from -> @to with sequence number @seq, by a raw socket. */
static int inject_rst4(const struct sockaddr_in *from,
		       const struct sockaddr_in *to, __u32 seq)
{
	unsigned char t[20] = { 0 };
	const unsigned char *sa = (const unsigned char *)&from->sin_addr;
	const unsigned char *da = (const unsigned char *)&to->sin_addr;
	__u32 sum = 0;
	__u16 c;
	int fd, i, ret = 0;

	memcpy(t, &from->sin_port, 2);
	memcpy(t + 2, &to->sin_port, 2);
	t[4] = seq >> 24;
	t[5] = seq >> 16;
	t[6] = seq >> 8;
	t[7] = seq;
	t[12] = 5 << 4;
	t[13] = 0x04;
	/* Pseudo header: addresses, protocol, length; then the segment. */
	for (i = 0; i < 4; i += 2)
		sum += (sa[i] << 8 | sa[i + 1]) + (da[i] << 8 | da[i + 1]);
	sum += IPPROTO_TCP + sizeof(t);
	for (i = 0; i < (int)sizeof(t); i += 2)
		sum += t[i] << 8 | t[i + 1];
	c = csum_fold(sum);
	t[16] = c >> 8;
	t[17] = c;

	fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0)
		return -errno;
	if (bind(fd, (const struct sockaddr *)from, sizeof(*from)) ||
	    sendto(fd, t, sizeof(t), 0, (const struct sockaddr *)to,
		   sizeof(*to)) != sizeof(t))
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * An RST into a TIME_WAIT-substate tw, with seq == the tw's rcv_nxt (read
 * off the server's FIN with a packet socket), injected by a raw socket:
 * with tcp_rfc1337=1 the tw ignores it and lives on (sockstat, the
 * kernel's row, live, no death, no rearm); then with tcp_rfc1337=0 the
 * same RST kills it: death rst_received, substate 6.
 */
TEST_F(tw, rst_received_time_wait_rfc1337)
{
	struct twtrace_record b, d;
	struct tw_live l0, l1;
	struct seen seen = { 0 };
	struct sockaddr_in from;
	struct tw_conn k;
	union tw_sa dst;
	long long n0;
	int l, cap;

	cap = capture_open();
	ASSERT_LE(0, cap) TH_LOG("packet socket: %s", strerror(-cap));
	l = tw_listen(AF_INET, "127.0.0.1", &dst);
	ASSERT_LE(0, l);
	ASSERT_EQ(0, tw_make_client_tw(&k, l, &dst, NULL));
	b = wait_birth(_metadata, &self->rs, &k.caddr, &dst);
	capture_scan(cap, b.dport, b.sport, &seen);
	ASSERT_TRUE(seen.fin) TH_LOG("did not see the server's FIN");
	/* The capture sees the FIN before the tw takes it (the rearm). */
	tw_wait_until(tw_live_has(self->ns, b.tw_id, &l0) &&
		      l0.substate == SUB_TW, 10);
	ASSERT_TRUE(tw_live_has(self->ns, b.tw_id, &l0));
	ASSERT_EQ(SUB_TW, l0.substate);
	n0 = tw_stat("death_rst_received");
	from = dst.v4;

	ASSERT_EQ(0, tw_sysctl_set("net/ipv4/tcp_rfc1337", "1"));
	ASSERT_EQ(0, inject_rst4(&from, &k.caddr.v4, seen.fin_end));
	ASSERT_TRUE(tw_wait_until((capture_scan(cap, b.dport, b.sport,
						&seen), seen.rsts == 1), 5));
	EXPECT_EQ(seen.fin_end, seen.rst_seq);
	usleep(500000);
	tw_recs_read(&self->rs);
	TH_LOG("rfc1337=1: RST seq %u seen on lo, sockstat tw %lld",
	       seen.rst_seq, tw_sockstat_tw());
	EXPECT_EQ(1, tw_sockstat_tw());
	EXPECT_TRUE(tw_proc_tw_find(b.sport, b.dport, NULL));
	ASSERT_TRUE(tw_live_has(self->ns, b.tw_id, &l1));
	EXPECT_EQ(l0.rearms, l1.rearms);
	EXPECT_EQ(0, tw_recs_count(&self->rs, TWTRACE_EV_DEATH, -1, 0, 0,
				   b.tw_id));
	EXPECT_EQ(0, tw_stat("death_rst_received") - n0);

	ASSERT_EQ(0, tw_sysctl_set("net/ipv4/tcp_rfc1337", "0"));
	ASSERT_EQ(0, inject_rst4(&from, &k.caddr.v4, seen.fin_end));
	d = wait_event(_metadata, &self->rs, TWTRACE_EV_DEATH, b.tw_id, 5);
	capture_scan(cap, b.dport, b.sport, &seen);
	TH_LOG("rfc1337=0: RSTs seen %d, death %s, sockstat tw %lld",
	       seen.rsts, tw_death_name(d.reason), tw_sockstat_tw());
	EXPECT_EQ(2, seen.rsts);
	EXPECT_EQ(TWTRACE_DEATH_RST_RECEIVED, d.reason);
	EXPECT_EQ(SUB_TW, d.substate);
	EXPECT_EQ(0, tw_sockstat_tw());
	EXPECT_FALSE(tw_proc_tw_find(b.sport, b.dport, NULL));
	EXPECT_EQ(1, tw_stat("death_rst_received") - n0);
	close(cap);
	close(l);
}

/* ------------------------------------------------------------------ */
/* 6. SYN recycled, 7. RST sent.                                       */
/* ------------------------------------------------------------------ */

/*
 * The server closes first, so the tw is on the server's side; the client
 * connects again from the same port to the still listening server.  The
 * SYN takes the tw over: connect() succeeds, the server accepts, the tw
 * leaves sockstat and /proc/net/tcp; death syn_recycled.
 */
TEST_F(tw_af, syn_recycled)
{
	struct tw_recs *rs = &self->rs;
	int family = variant->family;
	struct twtrace_record b, d;
	struct tw_conn k, k2;
	union tw_sa dst, src;
	long long n0;
	int l, ret;

	l = tw_listen(family, tw_lo(family), &dst);
	ASSERT_LE(0, l);
	ASSERT_EQ(0, tw_make_server_tw(&k, l, &dst));
	b = wait_birth(_metadata, rs, &k.saddr, &k.caddr);
	EXPECT_EQ(tw_sa_port(&dst), b.sport);
	src = k.caddr;
	n0 = tw_stat("death_syn_recycled");

	/* The client's old socket may still hold the port for a moment. */
	tw_wait_until((ret = tw_conn_open(&k2, l, &dst, &src)) != -EADDRINUSE,
		      3);
	ASSERT_EQ(0, ret) TH_LOG("reconnect: %s", strerror(-ret));
	EXPECT_EQ(tw_sa_port(&src), tw_sa_port(&k2.caddr));
	d = wait_event(_metadata, rs, TWTRACE_EV_DEATH, b.tw_id, 5);
	TH_LOG("death %s, sockstat tw %lld", tw_death_name(d.reason),
	       tw_sockstat_tw());
	EXPECT_EQ(TWTRACE_DEATH_SYN_RECYCLED, d.reason);
	EXPECT_EQ(SUB_TW, d.substate);
	EXPECT_EQ(0, tw_sockstat_tw());
	EXPECT_FALSE(tw_proc_tw_find(b.sport, b.dport, NULL));
	EXPECT_EQ(1, tw_stat("death_syn_recycled") - n0);
	tw_conn_close(&k2);
	close(l);
}

/*
 * Client close(), then the server write()s: new data into a
 * FIN_WAIT2-substate tw make it answer with an RST and die.  Tcp OutRsts
 * +1, the server's socket is reset (SO_ERROR EPIPE: the kernel's answer to
 * an RST in CLOSE_WAIT), death rst_sent.
 */
TEST_F(tw_af, rst_sent)
{
	struct tw_recs *rs = &self->rs;
	int family = variant->family;
	struct twtrace_record b, d;
	socklen_t len = sizeof(int);
	long long rst0, n0;
	struct tw_conn k;
	union tw_sa dst;
	int l, err = 0;
	char c = 'x';

	l = tw_listen(family, tw_lo(family), &dst);
	ASSERT_LE(0, l);
	ASSERT_EQ(0, tw_make_fw2_tw(&k, l, &dst));
	b = wait_birth(_metadata, rs, &k.caddr, &dst);
	n0 = tw_stat("death_rst_sent");
	rst0 = tw_snmp("Tcp", "OutRsts");

	ASSERT_EQ(1, write(k.a, &c, 1));
	d = wait_event(_metadata, rs, TWTRACE_EV_DEATH, b.tw_id, 5);
	ASSERT_EQ(0, getsockopt(k.a, SOL_SOCKET, SO_ERROR, &err, &len));
	TH_LOG("death %s, Tcp OutRsts +%lld, server SO_ERROR: %s",
	       tw_death_name(d.reason), tw_snmp("Tcp", "OutRsts") - rst0,
	       strerror(err));
	EXPECT_EQ(TWTRACE_DEATH_RST_SENT, d.reason);
	EXPECT_EQ(SUB_FW2, d.substate);
	EXPECT_EQ(1, tw_snmp("Tcp", "OutRsts") - rst0);
	EXPECT_EQ(EPIPE, err);
	EXPECT_EQ(0, tw_sockstat_tw());
	EXPECT_FALSE(tw_proc_tw_find(b.sport, b.dport, NULL));
	EXPECT_EQ(1, tw_stat("death_rst_sent") - n0);
	tw_conn_close(&k);
	close(l);
}

/* ------------------------------------------------------------------ */
/* 8. netns purge.                                                     */
/* ------------------------------------------------------------------ */

struct purge_report {
	unsigned int ns;
	long long sockstat, kernel_births;
	int made;
};

/*
 * A child makes TWs in a netns of its own and exits; the namespace goes
 * and takes them along.  Every birth of that netns ends in a
 * netns_purge death (within 30 s: cleanup_net is asynchronous), as many
 * as the child's sockstat tw and TcpExt TW+TWKilled said, death_netns_purge
 * grows by as much, and live keeps no line of the namespace.
 */
TEST_F_TIMEOUT(tw, netns_purge, 90)
{
	struct purge_report rep = { 0 };
	struct tw_stats s0, s1;
	struct tw_recs rs;
	int pfd[2], status, i, n;
	size_t j;
	pid_t pid;

	ASSERT_EQ(0, tw_stats_read(&s0));
	ASSERT_EQ(0, pipe(pfd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		union tw_sa d4, d6;
		struct tw_conn k;
		int l4, l6;

		close(pfd[0]);
		if (tw_netns_new())
			_exit(1);
		rep.ns = tw_netns_inum();
		l4 = tw_listen(AF_INET, "127.0.0.1", &d4);
		l6 = tw_listen(AF_INET6, "::1", &d6);
		if (l4 < 0 || l6 < 0)
			_exit(1);
		for (i = 0; i < 6; i++)
			if (!tw_make_client_tw(&k, i < 4 ? l4 : l6,
					       i < 4 ? &d4 : &d6, NULL))
				rep.made++;
		rep.sockstat = tw_sockstat_tw();
		rep.kernel_births = tw_births_kernel();
		close(l4);
		close(l6);
		if (write(pfd[1], &rep, sizeof(rep)) != sizeof(rep))
			_exit(1);
		_exit(0);
	}
	close(pfd[1]);
	n = read(pfd[0], &rep, sizeof(rep));
	close(pfd[0]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ((int)sizeof(rep), n);
	ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	TH_LOG("child netns %u made %d, sockstat tw %lld, TcpExt TW+TWKilled %lld",
	       rep.ns, rep.made, rep.sockstat, rep.kernel_births);
	ASSERT_EQ(6, rep.made);
	EXPECT_EQ(6, rep.sockstat);
	EXPECT_EQ(6, rep.kernel_births);

	tw_recs_init(&rs, rep.ns);
	tw_wait_until((tw_recs_read(&rs),
		       tw_recs_count(&rs, TWTRACE_EV_DEATH, -1, 0, 0, 0) >= 6),
		      30);
	usleep(100000);
	tw_recs_read(&rs);
	ASSERT_EQ(0, tw_stats_read(&s1));
	TH_LOG("births %d, netns_purge deaths %d (all deaths %d), death_netns_purge +%lld",
	       tw_recs_count(&rs, TWTRACE_EV_BIRTH, -1, 0, 0, 0),
	       tw_recs_count(&rs, TWTRACE_EV_DEATH,
			     TWTRACE_DEATH_NETNS_PURGE, 0, 0, 0),
	       tw_recs_count(&rs, TWTRACE_EV_DEATH, -1, 0, 0, 0),
	       tw_stats_delta(&s0, &s1, "death_netns_purge"));
	EXPECT_EQ(rep.sockstat,
		  tw_recs_count(&rs, TWTRACE_EV_BIRTH, -1, 0, 0, 0));
	EXPECT_EQ(rep.sockstat,
		  tw_recs_count(&rs, TWTRACE_EV_DEATH,
				TWTRACE_DEATH_NETNS_PURGE, 0, 0, 0));
	EXPECT_EQ(rep.sockstat,
		  tw_recs_count(&rs, TWTRACE_EV_DEATH, -1, 0, 0, 0));
	EXPECT_EQ(rep.sockstat,
		  tw_stats_delta(&s0, &s1, "death_netns_purge"));
	EXPECT_EQ(rep.sockstat, tw_stats_delta(&s0, &s1, "births"));
	for (j = 0; j < rs.n; j++)
		if (rs.v[j].r.type == TWTRACE_EV_BIRTH)
			EXPECT_EQ(1, tw_recs_count(&rs, TWTRACE_EV_DEATH,
						   TWTRACE_DEATH_NETNS_PURGE,
						   0, 0, rs.v[j].r.tw_id));
	EXPECT_EQ(0, tw_live_read(NULL, 0, rep.ns));
	EXPECT_FALSE(tw_netns_in_use(rep.ns));
	tw_recs_free(&rs);
}

/* ------------------------------------------------------------------ */
/* 9. Admin destroy: SOCK_DESTROY over NETLINK_SOCK_DIAG.              */
/* ------------------------------------------------------------------ */

/*
 * ss -K for a TIME_WAIT socket: dump it by SOCK_DIAG_BY_FAMILY, destroy
 * it by exact 4-tuple and cookie.  The kernel acks 0, the tw leaves the
 * dump and sockstat, a second destroy finds nothing (ENOENT); death
 * admin_destroyed, death_admin_destroyed +2 for IPv4 and IPv6.
 */
TEST_F(tw, admin_destroyed)
{
	struct inet_diag_sockid id;
	struct twtrace_record b, d;
	unsigned char state;
	struct tw_conn k;
	union tw_sa dst;
	long long n0;
	int f, l, ret;

	ret = tw_load_kmod("inet_diag");
	if (!ret)
		ret = tw_load_kmod("tcp_diag");
	/* No module file: fine if the kernel has them built in. */
	if (ret == -ENOENT && tw_tcp_diag_answers())
		ret = 0;
	if (ret)
		SKIP(return, "inet_diag/tcp_diag not loadable: %s",
		     strerror(-ret));
	n0 = tw_stat("death_admin_destroyed");

	for (f = 0; f < 2; f++) {
		int family = f ? AF_INET6 : AF_INET;

		l = tw_listen(family, tw_lo(family), &dst);
		ASSERT_LE(0, l);
		ASSERT_EQ(0, tw_make_client_tw(&k, l, &dst, NULL));
		b = wait_birth(_metadata, &self->rs, &k.caddr, &dst);
		ret = tw_diag_find_tw(family, &k.caddr, &dst, &id, &state);
		ASSERT_EQ(1, ret) TH_LOG("sock_diag dump: %d", ret);
		EXPECT_EQ(SUB_TW, state);

		ret = tw_diag_destroy(family, &id);
		if (!tw_abort_kills_tw()) {
			/* The kernel refuses: the tw lives on, undying. */
			EXPECT_EQ(-EOPNOTSUPP, ret);
			usleep(200000);
			EXPECT_EQ(1, tw_diag_find_tw(family, &k.caddr, &dst,
						     &id, &state));
			EXPECT_TRUE(tw_live_has(self->ns, b.tw_id, NULL));
			tw_recs_read(&self->rs);
			EXPECT_EQ(0, tw_recs_count(&self->rs, TWTRACE_EV_DEATH,
						   -1, 0, 0, b.tw_id));
			close(l);
			continue;
		}
		EXPECT_EQ(0, ret) TH_LOG("SOCK_DESTROY: %s", strerror(-ret));
		d = wait_event(_metadata, &self->rs, TWTRACE_EV_DEATH,
			       b.tw_id, 5);
		TH_LOG("IPv%d: death %s, sockstat tw %lld", b.family,
		       tw_death_name(d.reason), tw_sockstat_tw());
		EXPECT_EQ(TWTRACE_DEATH_ADMIN_DESTROYED, d.reason);
		EXPECT_EQ(0, tw_sockstat_tw());
		EXPECT_EQ(0, tw_diag_find_tw(family, &k.caddr, &dst, &id,
					     &state));
		EXPECT_EQ(-ENOENT, tw_diag_destroy(family, &id));
		EXPECT_FALSE(tw_live_has(self->ns, b.tw_id, NULL));
		close(l);
	}
	if (!tw_abort_kills_tw()) {
		EXPECT_EQ(0, tw_stat("death_admin_destroyed") - n0);
		SKIP(return,
		     "tcp_abort() kills TIME_WAIT sockets from 6.0 on: this kernel refused (checked), so no admin_destroyed death");
	}
	EXPECT_EQ(2, tw_stat("death_admin_destroyed") - n0);
}

TEST_HARNESS_MAIN
