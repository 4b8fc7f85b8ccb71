// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace selftests library: NETLINK_SOCK_DIAG, to find and destroy
 * TIME_WAIT sockets as ss -K does.
 */
#include "twtrace_lib.h"

struct diag_req {
	struct nlmsghdr nlh;
	struct inet_diag_req_v2 r;
};

/* A sock_diag request of @type for the TCP sockets of @family in @states. */
static struct diag_req tw_diag_req(int type, int flags, int family,
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
bool tw_tcp_diag_answers(void)
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
int tw_diag_find_tw(int family, const union tw_sa *local,
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

/* The socket cookie in a sock_diag id, as SO_COOKIE gives it. */
unsigned long long tw_diag_cookie(const struct inet_diag_sockid *id)
{
	return (unsigned long long)id->idiag_cookie[1] << 32 |
	       id->idiag_cookie[0];
}

/* SOCK_DESTROY of socket @id: the kernel's answer, 0 or -errno. */
int tw_diag_destroy(int family, const struct inet_diag_sockid *id)
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
