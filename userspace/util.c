// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace reader: messages, numbers, time and addresses.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reader.h"

const char *prog = "twtrace";

/* "twtrace: " and the message, after what stdout has so far. */
static void vmsg(const char *fmt, va_list ap)
{
	fflush(stdout);
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
}

void tw_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The end of a command's output: EXIT_ERR if it could not be written. */
int tw_flush(void)
{
	if (fflush(stdout) != EOF)
		return EXIT_OK;
	tw_err("standard output: write error");
	return EXIT_ERR;
}

int usage_err(void (*usage)(FILE *f), const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	fputs("\n\n", stderr);
	usage(stderr);
	return EXIT_USAGE;
}

/*
 * An option no command takes itself, from getopt_long() called with
 * opterr = 0 and a leading ':': -h prints the usage on stdout and gives
 * OPT_HELP (the command ends with EXIT_OK); the rest are usage errors.
 */
int opt_err(int c, char **argv, void (*usage)(FILE *f))
{
	const char *opt = argv[optind - 1];

	if (c == 'h') {
		usage(stdout);
		return OPT_HELP;
	}
	if (c == ':')
		return usage_err(usage, "option '%s' needs an argument", opt);
	if (optopt && optopt < 256)
		return usage_err(usage, "unknown option '-%c'", optopt);
	return usage_err(usage, "unknown option '%s'", opt);
}

/* An argument left after the options and operands: a usage error. */
int opt_extra(int argc, char **argv, void (*usage)(FILE *f))
{
	if (optind < argc)
		return usage_err(usage, "unexpected argument '%s'",
				 argv[optind]);
	return 0;
}

/* A whole decimal number, nothing else. */
int parse_u64(const char *s, __u64 *v)
{
	__u64 n = 0;
	unsigned int d;

	if (!s || !*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		d = *s - '0';
		if (n > (~0ULL - d) / 10)
			return -1;
		n = n * 10 + d;
	}
	*v = n;
	return 0;
}

/* Seconds, "2" or "0.25" (up to nanoseconds), into nanoseconds. */
int parse_secs(const char *s, __u64 *ns)
{
	char whole[24], frac[10] = "000000000";
	const char *dot = strchr(s, '.');
	size_t wl = dot ? (size_t)(dot - s) : strlen(s);
	__u64 w, f;

	if (wl >= sizeof(whole) || (dot && (!dot[1] || strlen(dot + 1) > 9)))
		return -1;
	if (!wl && !dot)
		return -1;
	memcpy(whole, s, wl);
	whole[wl] = '\0';
	if (!wl)
		snprintf(whole, sizeof(whole), "0");
	if (dot)
		memcpy(frac, dot + 1, strlen(dot + 1));
	if (parse_u64(whole, &w) || parse_u64(frac, &f))
		return -1;
	if (w > 1000000000ULL)		/* 31 years is enough */
		return -1;
	*ns = w * 1000000000ULL + f;
	return 0;
}

__u64 now_ns(int clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Nanoseconds as milliseconds with three decimals, rounded. */
void fmt_ms(char *buf, size_t len, __u64 ns)
{
	__u64 us = ns / 1000 + (ns % 1000 >= 500);

	snprintf(buf, len, "%llu.%03llu", us / 1000, us % 1000);
}

void fmt_hms(char *buf, size_t len, __u64 realtime_ns)
{
	time_t t = realtime_ns / 1000000000ULL;
	struct tm tm;

	if (!localtime_r(&t, &tm) || !strftime(buf, len, "%H:%M:%S", &tm))
		snprintf(buf, len, "??:??:??");
}

void fmt_addr(char *buf, size_t len, int family, const __u8 *addr)
{
	if (!inet_ntop(family == 6 ? AF_INET6 : AF_INET, addr, buf, len))
		snprintf(buf, len, "?");
}

/*
 * An IPv6 socket on IPv4-mapped addresses connects through IPv4 and takes
 * its ports from the same pool as IPv4 sockets to that destination: as a
 * destination, ::ffff:a.b.c.d is a.b.c.d.  @addr has 16 bytes.
 */
int addr_unmap(int family, __u8 *addr)
{
	static const __u8 mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (family != 6 || memcmp(addr, mapped, sizeof(mapped)))
		return family;
	memmove(addr, addr + 12, 4);
	memset(addr + 4, 0, 12);
	return 4;
}

void fmt_endpoint(char *buf, size_t len, int family, const __u8 *addr,
		  unsigned int port)
{
	char a[INET6_ADDRSTRLEN];

	fmt_addr(a, sizeof(a), family, addr);
	if (family == 6)
		snprintf(buf, len, "[%s]:%u", a, port);
	else
		snprintf(buf, len, "%s:%u", a, port);
}

/*
 * Array @v of @cap elements of @elem bytes, @n used: itself if there is
 * room for one more, else grown (doubled, 64 at first).  NULL, said, if
 * memory is short: @v and @cap are left as they were.
 */
void *tw_grow(void *v, size_t *cap, size_t n, size_t elem)
{
	size_t c = *cap ? *cap * 2 : 64;
	void *nv;

	if (n < *cap)
		return v;
	nv = realloc(v, c * elem);
	if (!nv) {
		tw_err("out of memory");
		return NULL;
	}
	*cap = c;
	return nv;
}
