// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace selftests library: loopback sockets, IPv4 and IPv6 alike, and
 * TIME_WAIT sockets made to order.
 */
#include "twtrace_lib.h"

/* ---- addresses ---- */

socklen_t tw_sa_len(const union tw_sa *a)
{
	return a->sa.sa_family == AF_INET6 ? sizeof(a->v6) : sizeof(a->v4);
}

unsigned int tw_sa_port(const union tw_sa *a)
{
	return ntohs(a->sa.sa_family == AF_INET6 ? a->v6.sin6_port :
			 a->v4.sin_port);
}

static void tw_sa_set_port(union tw_sa *a, unsigned int port)
{
	if (a->sa.sa_family == AF_INET6)
		a->v6.sin6_port = htons(port);
	else
		a->v4.sin_port = htons(port);
}

/* The address bytes (4 or 16, network order). */
const unsigned char *tw_sa_addr(const union tw_sa *a)
{
	if (a->sa.sa_family == AF_INET6)
		return a->v6.sin6_addr.s6_addr;
	return (const unsigned char *)&a->v4.sin_addr.s_addr;
}

size_t tw_sa_addrlen(const union tw_sa *a)
{
	return a->sa.sa_family == AF_INET6 ? 16 : 4;
}

/* 4 or 6, as the module spells families. */
int tw_sa_fam(const union tw_sa *a)
{
	return a->sa.sa_family == AF_INET6 ? 6 : 4;
}

int tw_sa_set(union tw_sa *a, int family, const char *ip,
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
const char *tw_lo(int family)
{
	return family == AF_INET6 ? "::1" : "127.0.0.1";
}

/* ---- sockets, IPv4 and IPv6 alike ---- */

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT	24
#endif

/* A listening socket on @ip, any port; its address in @addr. */
int tw_listen(int family, const char *ip, union tw_sa *addr)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	return tw_listen_fd(fd, ip, addr);
}

/*
 * tw_listen() with a TCP socket @fd made elsewhere, of @ip's family: @fd,
 * or -errno and @fd closed.
 */
int tw_listen_fd(int fd, const char *ip, union tw_sa *addr)
{
	socklen_t len = sizeof(*addr);
	int one = 1, family = strchr(ip, ':') ? AF_INET6 : AF_INET;

	if (tw_sa_set(addr, family, ip, 0)) {
		close(fd);
		return -EINVAL;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, &addr->sa, tw_sa_len(addr)) || listen(fd, 128) ||
	    getsockname(fd, &addr->sa, &len)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/*
 * Connect to @dst, listening on @lfd.  With @src, SO_REUSEADDR and bind
 * to it first: a nonzero port makes the kernel take the bound-port path
 * of connect(), port 0 only fixes the address (IP_BIND_ADDRESS_NO_PORT)
 * and leaves the ephemeral-port path.  0, or -errno of the failing call
 * (connect()'s EADDRNOTAVAIL in particular).
 */
int tw_conn_open(struct tw_conn *k, int lfd,
		 const union tw_sa *dst, const union tw_sa *src)
{
	int fd = socket(dst->sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		k->c = -1;
		k->a = -1;
		return -errno;
	}
	return tw_conn_open_fd(k, fd, lfd, dst, src);
}

/*
 * tw_conn_open() with a TCP socket @fd made elsewhere (another process
 * made it and passed it on, say): closed on failure.
 */
int tw_conn_open_fd(struct tw_conn *k, int fd, int lfd,
		    const union tw_sa *dst, const union tw_sa *src)
{
	socklen_t len = sizeof(k->caddr);
	int one = 1, err;

	k->a = -1;
	k->saddr = *dst;
	k->c = fd;
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

#ifndef SO_COOKIE
#define SO_COOKIE	57
#endif

/* The SO_COOKIE of socket @fd (the one ss -e and sock_diag show); 0. */
unsigned long long tw_sock_cookie(int fd)
{
	unsigned long long cookie = 0;
	socklen_t len = sizeof(cookie);

	if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) ||
	    len != sizeof(cookie))
		return 0;
	return cookie;
}

/* Read @fd until EOF or error. */
static void tw_drain_eof(int fd)
{
	char buf[256];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/* Client closes, server closes after EOF: the client's end is a TW. */
void tw_conn_close_client_first(struct tw_conn *k)
{
	close(k->c);
	tw_drain_eof(k->a);
	close(k->a);
	k->c = -1;
	k->a = -1;
}

/* The TCP state of socket @fd (TCP_INFO), -1 on error. */
static int tw_tcp_state(int fd)
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
int tw_conn_close_client_only(struct tw_conn *k)
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
void tw_conn_close_server_first(struct tw_conn *k)
{
	close(k->a);
	tw_drain_eof(k->c);
	close(k->c);
	k->c = -1;
	k->a = -1;
}

void tw_conn_close(struct tw_conn *k)
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
bool tw_wait_tw_row(const union tw_sa *local,
		    const union tw_sa *remote, double secs)
{
	return tw_wait_until(tw_proc_tw_find(tw_sa_port(local),
					     tw_sa_port(remote), NULL), secs);
}

/* Wait until the kernel no longer lists it. */
bool tw_wait_tw_gone(const union tw_sa *local,
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
int tw_make_client_tw(struct tw_conn *k, int lfd,
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
int tw_make_fw2_tw(struct tw_conn *k, int lfd,
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
int tw_make_rearmed_tw(struct tw_conn *k, int lfd,
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
int tw_make_server_tw(struct tw_conn *k, int lfd,
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
int tw_conn_abort_server(struct tw_conn *k)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (setsockopt(k->a, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)))
		return -errno;
	close(k->a);
	k->a = -1;
	return tw_wait_tw_gone(&k->caddr, &k->saddr, 5) ? 0 : -ETIMEDOUT;
}

/*
 * One TIME_WAIT socket made on each CPU in turn, so that each CPU's ring
 * gets a record (loopback delivers in the sender's softirq).
 */
void tw_prime_cpus(int ncpus, int lfd, const union tw_sa *dst)
{
	struct tw_conn k;
	int c;

	for (c = 0; c < ncpus; c++) {
		tw_pin(c);
		tw_make_client_tw(&k, lfd, dst, NULL);
	}
	tw_pin(-1);
}
