/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the twtrace selftests: the module's files, the kernel's
 * own figures (the oracles: /proc/net/netstat, /proc/net/sockstat) and
 * loopback workloads that leave TIME_WAIT sockets behind.
 */
#ifndef TWTRACE_LIB_H
#define TWTRACE_LIB_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

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
			h = strtok_r(hdr + plen + 1, " \n", &hs);
			v = strtok_r(val + plen + 1, " \n", &vs);
			while (h && v) {
				if (!strcmp(h, name)) {
					ret = atoll(v);
					break;
				}
				h = strtok_r(NULL, " \n", &hs);
				v = strtok_r(NULL, " \n", &vs);
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

#endif /* TWTRACE_LIB_H */
