// SPDX-License-Identifier: GPL-2.0
/*
 * mkrec: write twtrace records and recordings for the reader's host tests,
 * from a text description on stdin, to stdout.  One item per line:
 *
 *   header [magic=STR] [abi=N] [size=N] [ncpus=N] [start=NS] [rt=NS]
 *   recsize N                   the size of the records that follow
 *                               (default: this build's sizeof)
 *   rec KEY=VALUE ...
 *   garbage N                   N bytes of 0xa5
 *   # comment
 *
 * rec keys: magic abi type (event name or number) family cpu seq ts id netns
 * sport dport saddr daddr (text addresses) sub (TIME_WAIT, FIN_WAIT2 or a
 * number) reason (name for the type, or number) flags (number, or a
 * "+"-list of allowed,bbl,untracked,differs,notuple) reuse rearms timeo old
 * (old substate) life fw2 age (ns or "unknown") count limit cookie cgroup
 * uid role (name or number) size=N (this record's size: a shorter one is
 * cut, a longer one gets bytes of 0xa5 past the struct) cut=N (write only
 * the first N bytes).  Unset fields are zero, magic and ABI right.
 *
 * "mkrec -s" prints sizeof(struct twtrace_record).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/twtrace.h>

static const char *const events[TWTRACE_EV_NR] = TWTRACE_EVENT_NAMES;
static const char *const deaths[] = TWTRACE_DEATH_NAMES;
static const char *const reuses[] = TWTRACE_REUSE_NAMES;
static const char *const overflows[] = TWTRACE_OVERFLOW_NAMES;
static const char *const roles[] = TWTRACE_ROLE_NAMES;

#define MAX_SIZE	65536

static int lineno;
static size_t rec_size = sizeof(struct twtrace_record);

static void die(const char *what, const char *val)
{
	fprintf(stderr, "mkrec: line %d: bad %s '%s'\n", lineno, what, val);
	exit(2);
}

static unsigned long long num(const char *key, const char *v)
{
	char *end;
	unsigned long long n;

	if (!strcmp(v, "unknown"))
		return TWTRACE_NS_UNKNOWN;
	n = strtoull(v, &end, 0);
	if (!*v || *end)
		die(key, v);
	return n;
}

static int lookup(const char *const *names, int n, const char *key,
		  const char *v)
{
	int i;

	for (i = 0; i < n; i++)
		if (names[i] && !strcmp(names[i], v))
			return i;
	return num(key, v);
}

static void addr(__u8 *dst, const char *v, int *family)
{
	if (inet_pton(AF_INET, v, dst) == 1) {
		*family = 4;
		return;
	}
	if (inet_pton(AF_INET6, v, dst) == 1) {
		*family = 6;
		return;
	}
	die("address", v);
}

static int substate(const char *key, const char *v)
{
	if (!strcmp(v, "TIME_WAIT"))
		return TWTRACE_SUBSTATE_TIME_WAIT;
	if (!strcmp(v, "FIN_WAIT2"))
		return TWTRACE_SUBSTATE_FIN_WAIT2;
	return num(key, v);
}

static unsigned int flags(const char *v)
{
	char *copy = strdup(v), *s, *save = NULL;
	unsigned int f = 0;

	if (v[0] >= '0' && v[0] <= '9') {
		free(copy);
		return num("flags", v);
	}
	for (s = strtok_r(copy, "+", &save); s; s = strtok_r(NULL, "+", &save)) {
		if (!strcmp(s, "allowed"))
			f |= TWTRACE_F_ALLOWED;
		else if (!strcmp(s, "bbl"))
			f |= TWTRACE_F_BORN_BEFORE_LOAD;
		else if (!strcmp(s, "untracked"))
			f |= TWTRACE_F_UNTRACKED;
		else if (!strcmp(s, "differs"))
			f |= TWTRACE_F_TUPLE_DIFFERS;
		else if (!strcmp(s, "notuple"))
			f |= TWTRACE_F_NO_TUPLE;
		else
			die("flag", s);
	}
	free(copy);
	return f;
}

static void record(char *args)
{
	static unsigned char out[MAX_SIZE];
	struct twtrace_record r;
	const char *reason = NULL;
	char *kv, *v, *save = NULL;
	size_t cut = MAX_SIZE, size = rec_size;
	int fam = 0;

	memset(&r, 0, sizeof(r));
	r.magic = TWTRACE_MAGIC;
	r.abi = TWTRACE_ABI_VERSION;
	r.type = TWTRACE_EV_BIRTH;
	r.family = 4;
	r.substate = TWTRACE_SUBSTATE_TIME_WAIT;
	for (kv = strtok_r(args, " \t", &save); kv;
	     kv = strtok_r(NULL, " \t", &save)) {
		v = strchr(kv, '=');
		if (!v)
			die("key=value", kv);
		*v++ = '\0';
		if (!strcmp(kv, "magic"))
			r.magic = num(kv, v);
		else if (!strcmp(kv, "abi"))
			r.abi = num(kv, v);
		else if (!strcmp(kv, "type"))
			r.type = lookup(events, TWTRACE_EV_NR, kv, v);
		else if (!strcmp(kv, "family"))
			r.family = num(kv, v);
		else if (!strcmp(kv, "seq"))
			r.seq = num(kv, v);
		else if (!strcmp(kv, "cpu"))
			r.cpu = num(kv, v);
		else if (!strcmp(kv, "ts"))
			r.ts_ns = num(kv, v);
		else if (!strcmp(kv, "id"))
			r.tw_id = num(kv, v);
		else if (!strcmp(kv, "netns"))
			r.netns = num(kv, v);
		else if (!strcmp(kv, "sport"))
			r.sport = num(kv, v);
		else if (!strcmp(kv, "dport"))
			r.dport = num(kv, v);
		else if (!strcmp(kv, "saddr"))
			addr(r.saddr, v, &fam);
		else if (!strcmp(kv, "daddr"))
			addr(r.daddr, v, &fam);
		else if (!strcmp(kv, "sub"))
			r.substate = substate(kv, v);
		else if (!strcmp(kv, "reason"))
			reason = v;
		else if (!strcmp(kv, "flags"))
			r.flags = flags(v);
		else if (!strcmp(kv, "reuse"))
			r.reuse_sysctl = num(kv, v);
		else if (!strcmp(kv, "rearms"))
			r.rearms = num(kv, v);
		else if (!strcmp(kv, "timeo"))
			r.birth.timeo_ms = num(kv, v);	/* rearm: same place */
		else if (!strcmp(kv, "old"))
			r.rearm.old_substate = substate(kv, v);
		else if (!strcmp(kv, "life"))
			r.death.lifetime_ns = num(kv, v);
		else if (!strcmp(kv, "fw2"))
			r.death.fin_wait2_ns = num(kv, v);
		else if (!strcmp(kv, "age"))
			r.reuse.age_ns = num(kv, v);
		else if (!strcmp(kv, "count"))
			r.overflow.tw_count = num(kv, v);
		else if (!strcmp(kv, "limit"))
			r.overflow.tw_limit = num(kv, v);
		else if (!strcmp(kv, "cookie"))
			r.owner.cookie = num(kv, v);
		else if (!strcmp(kv, "cgroup"))
			r.owner.cgroup = num(kv, v);
		else if (!strcmp(kv, "uid"))
			r.owner.uid = num(kv, v);
		else if (!strcmp(kv, "role"))
			r.owner.role = lookup(roles, TWTRACE_ROLE_NR, kv, v);
		else if (!strcmp(kv, "size"))
			size = num(kv, v);
		else if (!strcmp(kv, "cut"))
			cut = num(kv, v);
		else
			die("key", kv);
		if (fam)
			r.family = fam;
	}
	if (reason) {
		if (r.type == TWTRACE_EV_DEATH)
			r.reason = lookup(deaths, TWTRACE_DEATH_NR, "reason",
					  reason);
		else if (r.type == TWTRACE_EV_REUSE)
			r.reason = lookup(reuses, TWTRACE_REUSE_NR, "reason",
					  reason);
		else if (r.type == TWTRACE_EV_OVERFLOW)
			r.reason = lookup(overflows, TWTRACE_OVERFLOW_NR,
					  "reason", reason);
		else
			r.reason = num("reason", reason);
	}
	if (size > MAX_SIZE)
		die("size", "too big");
	memset(out, 0xa5, size);
	memcpy(out, &r, size < sizeof(r) ? size : sizeof(r));
	fwrite(out, cut < size ? cut : size, 1, stdout);
}

static void header(char *args)
{
	struct twtrace_file_header h;
	char *kv, *v, *save = NULL;

	memset(&h, 0, sizeof(h));
	memcpy(h.magic, TWTRACE_FILE_MAGIC, sizeof(h.magic));
	h.abi = TWTRACE_ABI_VERSION;
	h.record_size = sizeof(struct twtrace_record);
	h.ncpus = 1;
	for (kv = strtok_r(args, " \t", &save); kv;
	     kv = strtok_r(NULL, " \t", &save)) {
		v = strchr(kv, '=');
		if (!v)
			die("key=value", kv);
		*v++ = '\0';
		if (!strcmp(kv, "magic"))
			memcpy(h.magic, v, strlen(v) < sizeof(h.magic) ?
			       strlen(v) : sizeof(h.magic));
		else if (!strcmp(kv, "abi"))
			h.abi = num(kv, v);
		else if (!strcmp(kv, "size"))
			h.record_size = num(kv, v);
		else if (!strcmp(kv, "ncpus"))
			h.ncpus = num(kv, v);
		else if (!strcmp(kv, "start"))
			h.start_ns = num(kv, v);
		else if (!strcmp(kv, "rt"))
			h.start_realtime_ns = num(kv, v);
		else
			die("key", kv);
	}
	fwrite(&h, sizeof(h), 1, stdout);
}

int main(int argc, char **argv)
{
	char line[1024], *nl;
	unsigned long long n;

	if (argc == 2 && !strcmp(argv[1], "-s")) {
		printf("%zu\n", sizeof(struct twtrace_record));
		return 0;
	}
	while (fgets(line, sizeof(line), stdin)) {
		lineno++;
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		if (!line[0] || line[0] == '#')
			continue;
		if (!strncmp(line, "rec", 3) && (!line[3] || line[3] == ' ')) {
			record(line + 3);
		} else if (!strncmp(line, "header", 6) &&
			   (!line[6] || line[6] == ' ')) {
			header(line + 6);
		} else if (!strncmp(line, "recsize ", 8)) {
			rec_size = num("recsize", line + 8);
		} else if (!strncmp(line, "garbage ", 8)) {
			for (n = num("garbage", line + 8); n; n--)
				putchar(0xa5);
		} else {
			die("line", line);
		}
	}
	return fflush(stdout) ? 1 : 0;
}
