// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace ports: port pressure.  Per (local address, destination address,
 * destination port), the TCP sockets of a network namespace whose local
 * port is in ip_local_port_range, TIME_WAIT and others, and the headroom
 * left: the ports a new connect() to that destination from that address
 * can still take (ip_local_reserved_ports is not subtracted).  Read from
 * NETLINK_SOCK_DIAG, the source of "ss -tan", so the counts are exactly
 * those ss shows.  Needs no module.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>

#include "reader.h"

#define PORT_RANGE	"/proc/sys/net/ipv4/ip_local_port_range"
#define ST_TIME_WAIT	6	/* TCP_TIME_WAIT */
#define ST_LISTEN	10	/* TCP_LISTEN */
#define ST_ALL		0xfff	/* TCP_ESTABLISHED .. TCP_NEW_SYN_RECV */

static void ports_usage(FILE *f)
{
	fprintf(f,
		"Usage: %s ports [-j] [-N NETNS]\n"
		"\n"
		"Port pressure: per local address, destination address and port, the TCP\n"
		"sockets whose local port is in ip_local_port_range (TIME_WAIT and others)\n"
		"and the headroom left, range - tw - others, fewest first.\n"
		"ip_local_reserved_ports is not subtracted.  Needs no module.\n"
		"\n"
		"  -N NETNS     another network namespace: a path such as /run/netns/X or\n"
		"               /proc/PID/ns/net, or a name under /run/netns\n"
		"  -j, --json   one JSON object per destination\n"
		"  -h, --help\n",
		prog);
}

static int read_range(unsigned int *lo, unsigned int *hi)
{
	FILE *f = fopen(PORT_RANGE, "r");
	int n;

	if (!f) {
		tw_err("%s: %s", PORT_RANGE, strerror(errno));
		return EXIT_ERR;
	}
	n = fscanf(f, "%u %u", lo, hi);
	fclose(f);
	if (n != 2 || *lo > *hi || *hi > 65535) {
		tw_err("%s: not 'low high'", PORT_RANGE);
		return EXIT_DATA;
	}
	return EXIT_OK;
}

static int enter_netns(const char *arg)
{
	char path[TW_PATH_MAX];
	int fd;

	if (strchr(arg, '/'))
		snprintf(path, sizeof(path), "%s", arg);
	else
		snprintf(path, sizeof(path), "/run/netns/%s", arg);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		tw_err("%s: %s", path, strerror(errno));
		return EXIT_USAGE;
	}
	if (setns(fd, CLONE_NEWNET)) {
		tw_err("%s: setns: %s", path, strerror(errno));
		close(fd);
		return EXIT_ERR;
	}
	close(fd);
	return EXIT_OK;
}

static int add(struct pp_table *t, size_t *cap, const struct pp_dest *d)
{
	struct pp_dest *nv = tw_grow(t->v, cap, t->n, sizeof(*nv));

	if (!nv)
		return EXIT_ERR;
	t->v = nv;
	t->v[t->n++] = *d;
	return EXIT_OK;
}

#define DUMP_AGAIN	(-1)	/* the kernel says the dump was inconsistent */
#define DUMP_TRIES	5

/*
 * One family's sockets, all states but LISTEN, one entry per socket:
 * EXIT_OK, an error, or DUMP_AGAIN if the tables changed under the dump
 * (NLM_F_DUMP_INTR: a socket may be missing or counted twice).
 */
static int dump_once(int fd, int family, struct pp_table *t, size_t *cap)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} q = {
		.nlh = {
			.nlmsg_len = sizeof(q),
			.nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
			.nlmsg_seq = family,
		},
		.req = {
			.sdiag_family = family,
			.sdiag_protocol = IPPROTO_TCP,
			.idiag_states = ST_ALL & ~(1U << ST_LISTEN),
		},
	};
	static char buf[32768];
	const struct inet_diag_msg *m;
	const struct nlmsghdr *h;
	unsigned int port;
	struct pp_dest d;
	int alen = family == AF_INET ? 4 : 16;
	bool intr = false;
	ssize_t n;

	if (send(fd, &q, sizeof(q), 0) < 0) {
		tw_err("sock_diag: send: %s", strerror(errno));
		return EXIT_ERR;
	}
	for (;;) {
		n = recv(fd, buf, sizeof(buf), MSG_TRUNC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			tw_err("sock_diag: recv: %s", strerror(errno));
			return EXIT_ERR;
		}
		if (!n || n > (ssize_t)sizeof(buf)) {
			tw_err("sock_diag: %s", n ? "a message larger than the buffer" :
			       "the dump ended without its end");
			return EXIT_ERR;
		}
		for (h = (void *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			intr |= !!(h->nlmsg_flags & NLM_F_DUMP_INTR);
			if (h->nlmsg_type == NLMSG_DONE)
				return intr ? DUMP_AGAIN : EXIT_OK;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);

				if (e->error == -ENOENT)
					tw_err("sock_diag: %s: the kernel's tcp_diag is not loaded (modprobe tcp_diag)",
					       strerror(-e->error));
				else
					tw_err("sock_diag: %s",
					       strerror(-e->error));
				return EXIT_ERR;
			}
			if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
			    h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
				continue;
			m = NLMSG_DATA(h);
			if (m->idiag_state == ST_LISTEN)
				continue;
			port = ntohs(m->id.idiag_sport);
			if (port < t->lo || port > t->hi)
				continue;
			memset(&d, 0, sizeof(d));
			d.family = family == AF_INET ? 4 : 6;
			memcpy(d.laddr, m->id.idiag_src, alen);
			memcpy(d.daddr, m->id.idiag_dst, alen);
			/* mapped: one pool with IPv4's (addr_unmap()) */
			addr_unmap(d.family, d.laddr);
			d.family = addr_unmap(d.family, d.daddr);
			d.dport = ntohs(m->id.idiag_dport);
			if (m->idiag_state == ST_TIME_WAIT)
				d.tw = 1;
			else
				d.others = 1;
			if (add(t, cap, &d))
				return EXIT_ERR;
		}
	}
}

/* dump_once() until the dump is consistent, a few times at most. */
static int dump(int fd, int family, struct pp_table *t, size_t *cap)
{
	size_t n0 = t->n;
	int i, rc = DUMP_AGAIN;

	for (i = 0; i < DUMP_TRIES && rc == DUMP_AGAIN; i++) {
		t->n = n0;
		rc = dump_once(fd, family, t, cap);
	}
	if (rc == DUMP_AGAIN) {
		tw_err("sock_diag: the sockets kept changing during %d dumps",
		       DUMP_TRIES);
		rc = EXIT_ERR;
	}
	return rc;
}

static int cmp_key(const void *a, const void *b)
{
	const struct pp_dest *x = a, *y = b;
	int c;

	if (x->family != y->family)
		return x->family - y->family;
	c = memcmp(x->daddr, y->daddr, 16);
	if (c)
		return c;
	if (x->dport != y->dport)
		return x->dport < y->dport ? -1 : 1;
	return memcmp(x->laddr, y->laddr, 16);
}

static int cmp_headroom(const void *a, const void *b)
{
	const struct pp_dest *x = a, *y = b;

	if (x->headroom != y->headroom)
		return x->headroom < y->headroom ? -1 : 1;
	return cmp_key(a, b);
}

/*
 * The table of @netns_path (NULL: the reader's own namespace).  Entering
 * another namespace is for good: the caller is a command that reads
 * nothing else afterwards.
 */
int ports_read(const char *netns_path, struct pp_table *t)
{
	size_t cap = 0, i, j;
	struct stat st;
	int fd, rc;

	memset(t, 0, sizeof(*t));
	if (netns_path) {
		rc = enter_netns(netns_path);
		if (rc)
			return rc;
	}
	if (!stat("/proc/self/ns/net", &st))
		t->netns = st.st_ino;
	rc = read_range(&t->lo, &t->hi);
	if (rc)
		return rc;
	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0) {
		tw_err("sock_diag: socket: %s", strerror(errno));
		return EXIT_ERR;
	}
	rc = dump(fd, AF_INET, t, &cap);
	if (!rc)
		rc = dump(fd, AF_INET6, t, &cap);
	close(fd);
	if (rc) {
		ports_free(t);
		return rc;
	}
	/* One entry per socket: sum those of a key. */
	if (t->n > 1)
		qsort(t->v, t->n, sizeof(*t->v), cmp_key);
	for (i = 0, j = 0; i < t->n; i++) {
		if (j && !cmp_key(&t->v[j - 1], &t->v[i])) {
			t->v[j - 1].tw += t->v[i].tw;
			t->v[j - 1].others += t->v[i].others;
			continue;
		}
		t->v[j++] = t->v[i];
	}
	t->n = j;
	for (i = 0; i < t->n; i++) {
		t->v[i].range = t->hi - t->lo + 1;
		t->v[i].headroom = (__s64)t->v[i].range - t->v[i].tw -
				   t->v[i].others;
	}
	if (t->n > 1)
		qsort(t->v, t->n, sizeof(*t->v), cmp_headroom);
	return EXIT_OK;
}

void ports_free(struct pp_table *t)
{
	free(t->v);
	t->v = NULL;
	t->n = 0;
}

static const struct tw_col ports_cols[] = {
	{ "LADDR", 16, false },
	{ "DESTINATION", 22, false },
	{ "TW", 7, true },
	{ "OTHERS", 7, true },
	{ "RANGE", 6, true },
	{ "HEADROOM", 8, true },
};

static void ports_text(const struct pp_table *t)
{
	char cell[6][64];
	const char *vals[6];
	size_t i;
	int k;

	printf("netns %u ip_local_port_range %u-%u (%u ports; ",
	       t->netns, t->lo, t->hi, t->hi - t->lo + 1);
	printf("ip_local_reserved_ports not subtracted)\n");
	for (k = 0; k < 6; k++)
		vals[k] = ports_cols[k].head;
	table_row(ports_cols, 6, vals, stdout);
	for (k = 0; k < 6; k++)
		vals[k] = cell[k];
	for (i = 0; i < t->n; i++) {
		const struct pp_dest *d = &t->v[i];

		fmt_addr(cell[0], sizeof(cell[0]), d->family, d->laddr);
		fmt_endpoint(cell[1], sizeof(cell[1]), d->family, d->daddr,
			     d->dport);
		snprintf(cell[2], sizeof(cell[2]), "%llu", d->tw);
		snprintf(cell[3], sizeof(cell[3]), "%llu", d->others);
		snprintf(cell[4], sizeof(cell[4]), "%llu", d->range);
		snprintf(cell[5], sizeof(cell[5]), "%lld", d->headroom);
		table_row(ports_cols, 6, vals, stdout);
	}
}

static void ports_json(const struct pp_table *t)
{
	char a[64];
	size_t i;

	for (i = 0; i < t->n; i++) {
		const struct pp_dest *d = &t->v[i];

		printf("{\"netns\":%u,\"family\":%d,\"laddr\":", t->netns,
		       d->family);
		fmt_addr(a, sizeof(a), d->family, d->laddr);
		json_str(stdout, a);
		printf(",\"daddr\":");
		fmt_addr(a, sizeof(a), d->family, d->daddr);
		json_str(stdout, a);
		printf(",\"dport\":%u,\"tw\":%llu,\"others\":%llu,",
		       d->dport, d->tw, d->others);
		printf("\"range\":%llu,\"headroom\":%lld}\n", d->range,
		       d->headroom);
	}
}

int cmd_ports(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *netns = NULL;
	struct pp_table t;
	bool json = false;
	int c, rc;

	while ((c = getopt_long(argc, argv, "jN:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'N':
			netns = optarg;
			break;
		default:
			rc = opt_err(c, argv, ports_usage);
			return rc == OPT_HELP ? EXIT_OK : rc;
		}
	}
	rc = opt_extra(argc, argv, ports_usage);
	if (rc)
		return rc;
	rc = ports_read(netns, &t);
	if (rc)
		return rc;
	if (json)
		ports_json(&t);
	else
		ports_text(&t);
	ports_free(&t);
	return tw_flush();
}
