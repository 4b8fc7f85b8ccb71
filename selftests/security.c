// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace security tests: the module's files have the least privilege they
 * need (as root and as nobody, with and without the DAC capabilities), and
 * no kernel address leaks through anything it exports (records, stats,
 * hist, live, probes, version).
 */
#include <linux/capability.h>
#include <sys/stat.h>
#include <grp.h>

#include "fixture_stress.h"

#define KADDR_MIN	0xffff800000000000ULL

static bool kaddr_like(unsigned long long v)
{
	return v >= KADDR_MIN && v != ~0ULL;
}

/* A text token that reads as a kernel address, in hex or decimal. */
static bool token_is_kaddr(const char *t)
{
	size_t len = strlen(t);
	const char *h = t;
	unsigned long long v;

	if (!strncasecmp(t, "0x", 2))
		h = t + 2;
	if (strlen(h) >= 12 && strlen(h) <= 16 &&
	    strspn(h, "0123456789abcdefABCDEF") == strlen(h)) {
		v = strtoull(h, NULL, 16);
		if (v >= KADDR_MIN)
			return true;
	}
	if (len && strspn(t, "0123456789") == len) {
		errno = 0;
		v = strtoull(t, NULL, 10);
		if (!errno && v >= KADDR_MIN)
			return true;
	}
	return false;
}

/* Kernel-address-like tokens in @text; the first in @what. */
static int scan_text(const char *text, char *what, size_t len)
{
	static const char seps[] = " \t\n:[],=()/";
	const char *p = text;
	char tok[64];
	int found = 0;
	size_t n;

	while (*p) {
		p += strspn(p, seps);
		n = strcspn(p, seps);
		if (!n)
			break;
		snprintf(tok, sizeof(tok), "%.*s", (int)n, p);
		p += n;
		if (n < sizeof(tok) && token_is_kaddr(tok)) {
			if (!found)
				snprintf(what, len, "%s", tok);
			found++;
		}
	}
	return found;
}

/* Bytes of the union a record of @type uses; the rest must be zero. */
static size_t union_used(int type)
{
	switch (type) {
	case TWTRACE_EV_BIRTH:
		return 4;
	case TWTRACE_EV_REARM:
		return 5;
	case TWTRACE_EV_DEATH:
		return 16;
	case TWTRACE_EV_REUSE:
		return 48;
	case TWTRACE_EV_OVERFLOW:
		return 8;
	case TWTRACE_EV_CONNECT_FAIL:
		return 8 + sizeof(((struct twtrace_record *)0)->connect.reasons);
	}
	return 0;
}

/* May the 64-bit word at @off of @r be TWTRACE_NS_UNKNOWN? */
static bool unknown_allowed(const struct twtrace_record *r, size_t off)
{
	if (r->type == TWTRACE_EV_DEATH)
		return off == offsetof(struct twtrace_record, death.lifetime_ns) ||
		       off == offsetof(struct twtrace_record, death.fin_wait2_ns);
	if (r->type == TWTRACE_EV_REUSE)
		return off == offsetof(struct twtrace_record, reuse.age_ns);
	return false;
}

/*
 * What is wrong with record @r, or NULL: a word that looks like a kernel
 * address, ~0 where no unknown may be, or a nonzero byte where the record
 * has nothing to say (padding, the unused part of the union).
 */
static const char *record_leak(const struct twtrace_record *r, char *buf,
			       size_t len)
{
	const unsigned char *b = (const unsigned char *)r;
	size_t u = offsetof(struct twtrace_record, __size), off;
	unsigned long long w;

	for (off = 0; off + 8 <= sizeof(*r); off += 8) {
		memcpy(&w, b + off, 8);
		if (kaddr_like(w) || (w == ~0ULL && !unknown_allowed(r, off))) {
			snprintf(buf, len, "type %u: 0x%llx at offset %zu",
				 r->type, w, off);
			return buf;
		}
	}
	for (off = u + union_used(r->type);
	     off < offsetof(struct twtrace_record, owner); off++) {
		if (b[off]) {
			snprintf(buf, len, "type %u: byte 0x%02x at unused offset %zu",
				 r->type, b[off], off);
			return buf;
		}
	}
	if (r->owner.__pad[0] || r->owner.__pad[1] || r->owner.__pad[2] ||
	    r->owner.role >= TWTRACE_ROLE_NR) {
		snprintf(buf, len, "type %u: owner padding or role %u",
			 r->type, r->owner.role);
		return buf;
	}
	if (r->type == TWTRACE_EV_REARM &&
	    (r->rearm.__pad[0] || r->rearm.__pad[1] || r->rearm.__pad[2])) {
		snprintf(buf, len, "type %u: nonzero padding", r->type);
		return buf;
	}
	/* The reuse delay, in the sysctl's own range (1000 before 6.14). */
	if (r->type == TWTRACE_EV_REUSE &&
	    (r->reuse.delay_ms < 1 || r->reuse.delay_ms > 60000)) {
		snprintf(buf, len, "type %u: reuse delay %u ms", r->type,
			 r->reuse.delay_ms);
		return buf;
	}
	return NULL;
}

/* The whole of the text file @name. */
static int slurp(const char *name, char *buf, size_t len)
{
	char path[128];
	size_t got = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), TW_DIR "/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (got < len - 1 && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += n;
	buf[got] = '\0';
	close(fd);
	return got;
}

static const struct {
	const char *name;
	mode_t mode;
} tw_files[] = {
	{ "version", 0444 }, { "stats", 0444 }, { "hist", 0444 },
	{ "live", 0444 }, { "groups", 0444 }, { "probes", 0444 },
	{ "enable", 0600 }, { "overwrite", 0600 }, { "ring_kb", 0600 },
	{ "reset", 0200 },
};

/* The mode file @name must have; 0 if it is not one of ours. */
static mode_t expected_mode(const char *name, int ncpus)
{
	unsigned int i;
	int cpu;
	char end;

	for (i = 0; i < ARRAY_SIZE(tw_files); i++)
		if (!strcmp(name, tw_files[i].name))
			return tw_files[i].mode;
	if (sscanf(name, "cpu%d%c", &cpu, &end) == 1 && cpu >= 0 &&
	    cpu < ncpus)
		return 0400;
	return 0;
}

/* Drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH: modes apply to root. */
static int drop_dac_caps(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -errno;
	d[0].effective &= ~((1U << CAP_DAC_OVERRIDE) |
			    (1U << CAP_DAC_READ_SEARCH));
	d[0].permitted &= ~((1U << CAP_DAC_OVERRIDE) |
			    (1U << CAP_DAC_READ_SEARCH));
	return syscall(SYS_capset, &h, d) ? -errno : 0;
}

/*
 * In a child, as root without the DAC capabilities (@nobody false) or as
 * nobody: open every file for reading and for writing.  Per file and
 * mode, 1 if the open succeeded, else -errno, into @res.
 */
static int open_as(bool nobody, char names[][64], int n, int res[][2])
{
	int (*shm)[2] = tw_shm_alloc(sizeof(int) * 2 * 64);
	char path[128];
	int i, m, fd, status;
	pid_t pid;

	if (!shm)
		return -ENOMEM;
	pid = tw_spawn();
	if (!pid) {
		if (nobody && (setgroups(0, NULL) ||
			       setresgid(65534, 65534, 65534) ||
			       setresuid(65534, 65534, 65534)))
			_exit(1);
		if (!nobody && drop_dac_caps())
			_exit(1);
		for (i = 0; i < n && i < 64; i++) {
			for (m = 0; m < 2; m++) {
				snprintf(path, sizeof(path), TW_DIR "/%s",
					 names[i]);
				fd = open(path, (m ? O_WRONLY : O_RDONLY) |
					  O_NONBLOCK | O_CLOEXEC);
				shm[i][m] = fd >= 0 ? 1 : -errno;
				if (fd >= 0)
					close(fd);
			}
		}
		_exit(0);
	}
	status = tw_reap(pid, 10);
	for (i = 0; i < n && i < 64; i++)
		for (m = 0; m < 2; m++)
			res[i][m] = shm[i][m];
	munmap(shm, sizeof(int) * 2 * 64);
	return status == 0 ? 0 : -1;
}

/*
 * Every file has the least mode it needs (cpuN 0400, text 0444, controls
 * 0600, reset 0200), is root's, and nothing else is in the directory.
 * Root without CAP_DAC_OVERRIDE can open exactly what the modes say;
 * nobody can open nothing for writing and no cpuN file at all; root
 * cannot write to a read-only file even with every capability.
 */
TEST_F(stress, file_modes_are_least_privilege)
{
	char names[64][64], path[512];
	int res_root[64][2], res_nobody[64][2];
	int i, n = 0, ncpus = tw_ncpus(), cpus = 0;
	struct dirent *de;
	struct stat st;
	mode_t want;
	ssize_t w;
	DIR *d;
	int fd;

	d = opendir(TW_DIR);
	ASSERT_NE(NULL, d);
	while ((de = readdir(d)) && n < 64) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(names[n], sizeof(names[n]), "%.63s", de->d_name);
		snprintf(path, sizeof(path), TW_DIR "/%.63s", de->d_name);
		ASSERT_EQ(0, stat(path, &st));
		want = expected_mode(de->d_name, ncpus);
		EXPECT_NE(0U, want) TH_LOG("unexpected file %s", de->d_name);
		EXPECT_TRUE(S_ISREG(st.st_mode)) TH_LOG("%s", de->d_name);
		EXPECT_EQ(want, st.st_mode & 07777)
			TH_LOG("%s: mode %04o, want %04o", de->d_name,
			       st.st_mode & 07777, want);
		EXPECT_EQ(0U, st.st_uid);
		EXPECT_EQ(0U, st.st_gid);
		cpus += !strncmp(de->d_name, "cpu", 3);
		n++;
	}
	closedir(d);
	TH_LOG("%d files, %d cpuN files for %d possible CPUs", n, cpus,
	       ncpus);
	EXPECT_EQ((int)ARRAY_SIZE(tw_files) + ncpus, n);
	EXPECT_EQ(ncpus, cpus);

	/* Root with every capability: read-only files refuse writes. */
	for (i = 0; i < n; i++) {
		want = expected_mode(names[i], ncpus);
		if (want & 0200)
			continue;
		snprintf(path, sizeof(path), TW_DIR "/%.63s", names[i]);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0) {
			EXPECT_TRUE(errno == EACCES || errno == EPERM)
				TH_LOG("%s: open for writing: %s", names[i],
				       strerror(errno));
			continue;
		}
		w = write(fd, "1\n", 2);
		EXPECT_EQ(-1, w) TH_LOG("%s took a write", names[i]);
		close(fd);
	}

	/* Root without DAC override: exactly what the modes allow. */
	ASSERT_EQ(0, open_as(false, names, n, res_root));
	ASSERT_EQ(0, open_as(true, names, n, res_nobody));
	for (i = 0; i < n; i++) {
		want = expected_mode(names[i], ncpus);
		EXPECT_EQ(want & 0400 ? 1 : -EACCES, res_root[i][0])
			TH_LOG("root without CAP_DAC_OVERRIDE, %s for reading: %d",
			       names[i], res_root[i][0]);
		EXPECT_EQ(want & 0200 ? 1 : -EACCES, res_root[i][1])
			TH_LOG("root without CAP_DAC_OVERRIDE, %s for writing: %d",
			       names[i], res_root[i][1]);
		EXPECT_EQ(-EACCES, res_nobody[i][1])
			TH_LOG("nobody, %s for writing: %d", names[i],
			       res_nobody[i][1]);
		if (!strncmp(names[i], "cpu", 3))
			EXPECT_EQ(-EACCES, res_nobody[i][0])
				TH_LOG("nobody, %s for reading: %d", names[i],
				       res_nobody[i][0]);
	}
}

/*
 * No raw kernel pointer leaves the module: the text of version, stats,
 * hist, live (with sockets in it, IPv4 and IPv6), groups and probes has no token
 * that reads as a kernel address (0xffff8..., or a decimal number that
 * large), and no record of any type (birth, rearm, death, reuse,
 * overflow, connect_fail: the workload's refused reuse is a failed
 * connect) has a word that does, nor ~0 outside the fields where it
 * means "unknown", nor a nonzero byte in padding or the unused part of
 * its union, nor an owner role out of range.
 */
TEST_F_TIMEOUT(stress, no_kernel_addresses, 60)
{
	static const char * const text[] = {
		"version", "stats", "hist", "live", "groups", "probes",
	};
	struct mk m = { .n4 = 3, .n6 = 2, .fw2 = 1, .reuse = true,
			.overflow = true, .cpu = -1 };
	char *buf, what[128], why[160];
	int types[TWTRACE_EV_NR] = { 0 };
	struct nsset set = { .n = 0 };
	struct tw_recs rs;
	struct nsjob j;
	unsigned int i;
	size_t k;
	int n, bad = 0;

	ASSERT_TRUE(tw_settle(30));
	tw_recs_init(&rs, 0);
	ASSERT_EQ(0, tw_recs_drain(&rs));
	buf = malloc(1 << 20);
	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, nsjob_start(&j, &m, 30));
	nsset_add(&set, j.ns);
	EXPECT_LE(6, tw_live_read(NULL, 0, j.ns));
	for (i = 0; i < ARRAY_SIZE(text); i++) {
		n = slurp(text[i], buf, 1 << 20);
		ASSERT_LE(0, n) TH_LOG("%s", text[i]);
		n = scan_text(buf, what, sizeof(what));
		EXPECT_EQ(0, n) TH_LOG("%s: %d kernel-address-like tokens, first \"%s\"",
				       text[i], n, what);
	}
	nsjob_end(&j);
	EXPECT_TRUE(wait_deaths(&rs, &set, 30));
	for (k = 0; k < rs.n; k++) {
		const struct twtrace_record *r = &rs.v[k].r;

		if (r->type < TWTRACE_EV_NR)
			types[r->type]++;
		if (record_leak(r, why, sizeof(why)) && !bad++)
			TH_LOG("record %zu: %s", k, why);
	}
	TH_LOG("%zu records: %d birth, %d rearm, %d death, %d reuse, %d overflow, %d connect_fail",
	       rs.n, types[TWTRACE_EV_BIRTH], types[TWTRACE_EV_REARM],
	       types[TWTRACE_EV_DEATH], types[TWTRACE_EV_REUSE],
	       types[TWTRACE_EV_OVERFLOW], types[TWTRACE_EV_CONNECT_FAIL]);
	EXPECT_EQ(0, bad);
	EXPECT_EQ(0, rs.bad);
	for (i = TWTRACE_EV_BIRTH; i < TWTRACE_EV_NR; i++)
		EXPECT_LT(0, types[i]);
	free(buf);
	tw_recs_free(&rs);
}

TEST_HARNESS_MAIN
