// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace selftests library: the kernel's own figures, the oracles the
 * tests compare the module with: /proc/net/netstat and snmp, sockstat,
 * /proc/net/tcp and tcp6, per-netns sysctls, and what differs between
 * the kernels the suite runs on.
 */
#include "twtrace_lib.h"

/*
 * A counter of /proc/net/netstat or /proc/net/snmp ("TcpExt", "TW"),
 * as the kernel reports it for the caller's network namespace; -1 if absent.
 */
long long tw_snmp(const char *proto, const char *name)
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
			h = strtok_r(hdr + plen + 1, "\n ", &hs);
			v = strtok_r(val + plen + 1, "\n ", &vs);
			while (h && v) {
				if (!strcmp(h, name)) {
					ret = atoll(v);
					break;
				}
				h = strtok_r(NULL, "\n ", &hs);
				v = strtok_r(NULL, "\n ", &vs);
			}
			break;
		}
		fclose(f);
	}
	return ret;
}

/* TIME_WAIT sockets alive in the caller's netns, per /proc/net/sockstat. */
long long tw_sockstat_tw(void)
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

/* Write @val to the file @path; 0 or -errno. */
int tw_write_str(const char *path, const char *val)
{
	size_t len = strlen(val);
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, len);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n < 0)
		return n;
	return (size_t)n == len ? 0 : -EIO;
}

/* The first line of @path, without its newline; 0 or -errno. */
int tw_read_str(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n < 0)
		return n;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/*
 * A sysctl of the caller's network namespace, by its /proc/sys path
 * ("net/ipv4/tcp_tw_reuse"): /proc/sys/net is per netns.
 */
int tw_sysctl_set(const char *name, const char *val)
{
	char path[256];

	snprintf(path, sizeof(path), "/proc/sys/%s", name);
	return tw_write_str(path, val);
}

long long tw_sysctl_get(const char *name)
{
	char path[256], buf[64];

	snprintf(path, sizeof(path), "/proc/sys/%s", name);
	if (tw_read_str(path, buf, sizeof(buf)))
		return -1;
	return atoll(buf);
}

/* The debug kernel (kmemleak, KASAN, lockdep): everything takes longer. */
bool tw_slow_kernel(void)
{
	return !access("/sys/kernel/debug/kmemleak", F_OK);
}

/* The running kernel's release, as major * 1000 + minor (5.10: 5010). */
int tw_kernel_release(void)
{
	struct utsname u;
	int major = 0, minor = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return 0;
	return major * 1000 + minor;
}

/*
 * Whether TcpExt TW and TWKilled count TIME_WAIT births.  6.1 and later
 * count a tw when it is born (__inet_twsk_schedule()); 5.10 counts it when
 * its timer expires (tw_timer_handler()), never for one that dies early.
 * No kernel between the two is tested; 6.0 is taken as the cut.
 */
bool tw_mib_counts_births(void)
{
	return tw_kernel_release() >= 6000;
}

/*
 * The kernel's own count of TIME_WAIT births in this netns, as a cursor
 * whose deltas the tests compare: TcpExt TW + TWKilled where the kernel
 * counts births; on 5.10, which counts expiries, those plus the live ones
 * (sockstat tw), so that a delta is the births less the early deaths in
 * between (tw_births_kernel_want()).
 */
long long tw_mib_tw(void)
{
	return tw_snmp("TcpExt", "TW") + tw_snmp("TcpExt", "TWKilled");
}

/*
 * On 5.10 an expiry moves a tw from sockstat to TcpExt, counter first.
 * Files read one after the other miss a tw whose timer fires between the
 * two reads, so the sum is taken only when a second pass reads the same
 * (a tw that expires, or is born, in between changes one of them).
 */
long long tw_births_kernel(void)
{
	long long a1, s1, a2 = 0, s2 = 0;
	int i;

	if (tw_mib_counts_births())
		return tw_mib_tw();
	for (i = 0; i < 100; i++) {
		a1 = tw_mib_tw();
		s1 = tw_sockstat_tw();
		a2 = tw_mib_tw();
		s2 = tw_sockstat_tw();
		if (a1 == a2 && s1 == s2)
			break;
	}
	return a2 + s2;
}

/*
 * What a tw_births_kernel() delta must be after @born births, @early of
 * which died before their timer (5.10 counts those nowhere).
 */
long long tw_births_kernel_want(long long born, long long early)
{
	return tw_mib_counts_births() ? born : born - early;
}

/* A PREEMPT_RT kernel. */
bool tw_kernel_rt(void)
{
	return !access("/sys/kernel/realtime", F_OK);
}

/* tcp_abort() kills a TIME_WAIT socket from 6.0 on; -EOPNOTSUPP before. */
bool tw_abort_kills_tw(void)
{
	return tw_kernel_release() >= 6000;
}

/* ---- the kernel's /proc/net/tcp and tcp6 ---- */

/* Hex words as /proc/net/tcp prints addresses (%08X of each u32). */
int tw_parse_hexaddr(const char *s, unsigned char *addr,
		     int words)
{
	char w[9];
	__u32 v;
	int i;

	if ((int)strlen(s) != words * 8)
		return -1;
	memset(addr, 0, 16);
	for (i = 0; i < words; i++) {
		memcpy(w, s + i * 8, 8);
		w[8] = '\0';
		v = strtoul(w, NULL, 16);
		memcpy(addr + i * 4, &v, 4);
	}
	return 0;
}

/*
 * The rows of /proc/net/tcp and /proc/net/tcp6 (the caller's netns),
 * TIME_WAIT sockets only (timer 3) if @tw_only; the first @max into @v.
 * The number of rows, or -1.
 */
int tw_proc_tcp_read(struct tw_tcprow *v, int max, bool tw_only)
{
	static const char * const files[] = { "/proc/net/tcp",
					      "/proc/net/tcp6" };
	static const char fmt[] =
		" %*d: %39[0-9A-F]:%x %39[0-9A-F]:%x %x %*x:%*x %x:%lx";
	char line[512], la[40], ra[40];
	struct tw_tcprow r;
	int i, n = 0;
	FILE *f;

	for (i = 0; i < 2; i++) {
		f = fopen(files[i], "r");
		if (!f)
			return -1;
		while (fgets(line, sizeof(line), f)) {
			memset(&r, 0, sizeof(r));
			r.family = i ? 6 : 4;
			if (sscanf(line, fmt, la, &r.lport, ra, &r.rport,
				   &r.st, &r.timer, &r.when) != 7)
				continue;
			if (tw_parse_hexaddr(la, r.laddr, i ? 4 : 1) ||
			    tw_parse_hexaddr(ra, r.raddr, i ? 4 : 1))
				continue;
			if (tw_only && r.timer != 3)
				continue;
			if (v && n < max)
				v[n] = r;
			n++;
		}
		fclose(f);
	}
	return n;
}

/*
 * The TIME_WAIT row of the socket with this local and remote port, among
 * all of them (a storm test has hundreds).
 */
bool tw_proc_tw_find(unsigned int lport, unsigned int rport,
		     struct tw_tcprow *out)
{
	struct tw_tcprow *rows = NULL;
	int i, n, max = 512;
	bool found = false;

	do {
		free(rows);
		max *= 2;
		rows = calloc(max, sizeof(*rows));
		if (!rows)
			return false;
		n = tw_proc_tcp_read(rows, max, true);
	} while (n > max);
	for (i = 0; i < n && !found; i++) {
		if (rows[i].lport != lport || rows[i].rport != rport)
			continue;
		if (out)
			*out = rows[i];
		found = true;
	}
	free(rows);
	return found;
}

/* A TcpExt counter of /proc/net/netstat; -1 if absent. */
long long tw_tcpext(const char *name)
{
	return tw_snmp("TcpExt", name);
}
