// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace owner tests: the owner every record carries (uid, cgroup v2 id,
 * cookie, client or server role), against what the test knows without
 * the module: the uid a child took and the inode number of the cgroup
 * directory it joined before it made a socket, the socket's SO_COOKIE,
 * which end closed first and whether a listener was there, and the cookie
 * sock_diag reports for the TIME_WAIT socket (what "ss -e" shows).
 *
 * The sockets are made by children ("makers") that join a cgroup and take
 * a uid first, and hand them over (SCM_RIGHTS) to the test, which
 * connects and closes them as root from its own cgroup: a socket belongs
 * to whoever made it, not to whoever uses or closes it.
 */
#include <sys/fsuid.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/uio.h>

#include "twtrace_test.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC	0x63677270
#endif

#define CG_SYS		"/sys/fs/cgroup"
#define UID_A		1001U
#define UID_B		1002U
#define MAX_SOCKS	4
#define ROLE_CLIENT	TWTRACE_ROLE_CLIENT
#define ROLE_SERVER	TWTRACE_ROLE_SERVER

/* Generous bounds: the guest runs under TCG, the debug kernel 10x slower. */
static double wait_secs(void)
{
	return tw_slow_kernel() ? 60 : 15;
}

/* Two cgroups of the test's own, a and b, and the test's own cgroup. */
struct cgroups {
	bool ok;			/* cgroup v2 there, a and b made */
	char why[160];			/* if not, why */
	char mnt[256];			/* cgroup2's mount */
	bool mounted;			/* by the test, on a directory of its own */
	char top[320];			/* <mnt>/twtrace-owners.<pid> */
	char dir[2][330];		/* <top>/a and <top>/b */
	unsigned long long id[2];	/* their cgroup v2 ids: st_ino */
	unsigned long long self;	/* the test's; 0 without cgroups */
};

/* Is file system @name in /proc/filesystems? */
static bool fs_listed(const char *name)
{
	char line[128], type[64];
	bool found = false;
	FILE *f = fopen("/proc/filesystems", "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "nodev %63s", type) == 1 &&
			!strcmp(type, name);
	fclose(f);
	return found;
}

/*
 * The cgroup v2 id of process @pid ("self"): the inode number of its
 * directory, as /proc/<pid>/cgroup's "0::<path>" line names it.  0 or
 * -errno.
 */
static int cg_of(const struct cgroups *c, const char *pid,
		 unsigned long long *id)
{
	char path[700], line[512];
	struct stat st;
	int ret = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/cgroup", pid);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (ret && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = '\0';
		if (snprintf(path, sizeof(path), "%s%s", c->mnt,
			     line + 3) >= (int)sizeof(path))
			ret = -ENAMETOOLONG;
		else
			ret = stat(path, &st) ? -errno : 0;
		*id = st.st_ino;
	}
	fclose(f);
	return ret;
}

/*
 * cgroup v2 where a system has it, /sys/fs/cgroup (scripts/guest-init.sh
 * mounts it there), else a mount of the test's own; and in it two
 * cgroups, a and b.  Without cgroup2 (a kernel without CONFIG_CGROUPS)
 * c->ok stays false: the tests that need cgroups skip, the others expect
 * cgroup 0.
 */
static void cg_setup(struct __test_metadata *_metadata, struct cgroups *c)
{
	struct statfs sf;
	struct stat st;
	int i;

	memset(c, 0, sizeof(*c));
	if (!fs_listed("cgroup2")) {
		snprintf(c->why, sizeof(c->why),
			 "no cgroup2 in /proc/filesystems: a kernel without CONFIG_CGROUPS");
		return;
	}
	if (!statfs(CG_SYS, &sf) && sf.f_type == CGROUP2_SUPER_MAGIC) {
		snprintf(c->mnt, sizeof(c->mnt), "%s", CG_SYS);
	} else {
		snprintf(c->mnt, sizeof(c->mnt), "/tmp/twtrace-cg.XXXXXX");
		ASSERT_NE(NULL, mkdtemp(c->mnt));
		ASSERT_EQ(0, mount("cgroup2", c->mnt, "cgroup2", 0, NULL))
			TH_LOG("mount cgroup2 on %s: %s", c->mnt,
			       strerror(errno));
		c->mounted = true;
	}
	ASSERT_EQ(0, cg_of(c, "self", &c->self))
		TH_LOG("no cgroup v2 path in /proc/self/cgroup under %s",
		       c->mnt);
	snprintf(c->top, sizeof(c->top), "%s/twtrace-owners.%d", c->mnt,
		 getpid());
	ASSERT_EQ(0, mkdir(c->top, 0755))
		TH_LOG("mkdir %s: %s", c->top, strerror(errno));
	for (i = 0; i < 2; i++) {
		snprintf(c->dir[i], sizeof(c->dir[i]), "%s/%c", c->top,
			 'a' + i);
		ASSERT_EQ(0, mkdir(c->dir[i], 0755))
			TH_LOG("mkdir %s: %s", c->dir[i], strerror(errno));
		ASSERT_EQ(0, stat(c->dir[i], &st));
		c->id[i] = st.st_ino;
	}
	TH_LOG("cgroup2 on %s: the test's cgroup %llu, a %llu, b %llu",
	       c->mnt, c->self, c->id[0], c->id[1]);
	c->ok = true;
}

/* rmdir, for a while: the makers' cgroup may be emptied a little late. */
static void cg_rmdir(const char *path)
{
	if (path[0])
		tw_wait_until(!rmdir(path) || errno != EBUSY, 5);
}

static void cg_teardown(struct cgroups *c)
{
	cg_rmdir(c->dir[1]);
	cg_rmdir(c->dir[0]);
	cg_rmdir(c->top);
	if (c->mounted) {
		umount2(c->mnt, MNT_DETACH);
		rmdir(c->mnt);
	}
}

/* inet_diag and tcp_diag there (loaded, or built in): 0, or -errno. */
static int diag_ready(void)
{
	int ret = tw_load_kmod("inet_diag");

	if (!ret)
		ret = tw_load_kmod("tcp_diag");
	if (ret == -ENOENT && tw_tcp_diag_answers())
		ret = 0;
	return ret;
}

FIXTURE(owners) {
	struct tw_recs rs;
	unsigned int ns;
	struct cgroups cg;
	int diag;			/* diag_ready() */
};

FIXTURE_SETUP(owners)
{
	begin(_metadata, &self->rs, &self->ns);
	cg_setup(_metadata, &self->cg);
	self->diag = diag_ready();
}

FIXTURE_TEARDOWN(owners)
{
	tw_recs_free(&self->rs);
	cg_teardown(&self->cg);
}

/* As owners, once for IPv4 (v4) and once for IPv6 (v6). */
FIXTURE(owners_af) {
	struct tw_recs rs;
	unsigned int ns;
	struct cgroups cg;
	int diag;
};

FIXTURE_VARIANT(owners_af) {
	int family;
};

FIXTURE_VARIANT_ADD(owners_af, v4) {
	.family = AF_INET,
};

FIXTURE_VARIANT_ADD(owners_af, v6) {
	.family = AF_INET6,
};

FIXTURE_SETUP(owners_af)
{
	begin(_metadata, &self->rs, &self->ns);
	cg_setup(_metadata, &self->cg);
	self->diag = diag_ready();
}

FIXTURE_TEARDOWN(owners_af)
{
	tw_recs_free(&self->rs);
	cg_teardown(&self->cg);
}

/* ---- makers: children that make sockets as someone else ---- */

struct maker {
	int cg;			/* 0: cgroup a, 1: b, -1: the test's own */
	unsigned int uid;
	bool fsuid_only;	/* setfsuid() only, else every uid and gid */
};

/* Why a maker failed: its exit status. */
enum {
	MK_CGROUP = 10,		/* could not join its cgroup */
	MK_CGROUP_CHECK,	/* /proc/self/cgroup does not say it did */
	MK_UID,			/* could not take its uid */
	MK_SOCKET,
	MK_SEND,
};

/* The test's own file system uid: its sockets', and its accepted ones'. */
static unsigned int my_fsuid(void)
{
	return setfsuid(-1);	/* an invalid uid: changes nothing */
}

static void maker_main(const struct cgroups *c, const struct maker *m,
		       int sv, const int *fams, int n)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * MAX_SOCKS)];
	} u;
	struct iovec iov = { .iov_base = "s", .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf,
		.msg_controllen = CMSG_SPACE(sizeof(int) * n),
	};
	unsigned long long id;
	char path[400], pid[32];
	struct cmsghdr *cm;
	int fds[MAX_SOCKS], i;

	/* The cgroup first, while still root: sockets are made after. */
	if (m->cg >= 0) {
		snprintf(path, sizeof(path), "%s/cgroup.procs", c->dir[m->cg]);
		snprintf(pid, sizeof(pid), "%d", getpid());
		if (tw_write_str(path, pid))
			_exit(MK_CGROUP);
		if (cg_of(c, "self", &id) || id != c->id[m->cg])
			_exit(MK_CGROUP_CHECK);
	}
	if (m->fsuid_only) {
		setfsuid(m->uid);
		if (my_fsuid() != m->uid || geteuid() != 0)
			_exit(MK_UID);
	} else if (setresgid(m->uid, m->uid, m->uid) ||
		   setresuid(m->uid, m->uid, m->uid) || my_fsuid() != m->uid) {
		_exit(MK_UID);
	}
	for (i = 0; i < n; i++) {
		fds[i] = socket(fams[i], SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fds[i] < 0)
			_exit(MK_SOCKET);
	}
	memset(&u, 0, sizeof(u));
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int) * n);
	memcpy(CMSG_DATA(cm), fds, sizeof(int) * n);
	_exit(sendmsg(sv, &msg, 0) == 1 ? 0 : MK_SEND);
}

static const char *maker_str(const struct maker *m, char *buf, size_t len)
{
	snprintf(buf, len, "cgroup %c, uid %u (%s)",
		 m->cg < 0 ? '-' : 'a' + m->cg, m->uid,
		 m->fsuid_only ? "fsuid only" : "all uids");
	return buf;
}

/*
 * A maker joins its cgroup, takes its uid, makes a TCP socket of each
 * family @fams[0..n) and hands them over: into @fds, in that order.
 */
static void make_socks(struct __test_metadata *_metadata,
		       const struct cgroups *c, const struct maker *m,
		       const int *fams, int n, int *fds)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * MAX_SOCKS)];
	} u;
	char byte, who[64];
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *cm;
	int sv[2], status;
	pid_t pid;

	ASSERT_GE(MAX_SOCKS, n);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv));
	pid = tw_spawn();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(sv[0]);
		maker_main(c, m, sv[1], fams, n);
	}
	close(sv[1]);
	/* It exits once it has sent: its sockets wait in ours. */
	status = tw_reap(pid, wait_secs());
	maker_str(m, who, sizeof(who));
	ASSERT_TRUE(status >= 0 && WIFEXITED(status) &&
		    !WEXITSTATUS(status))
		TH_LOG("maker (%s): status %#x (%s)", who, status,
		       "exit 10 cgroup, 11 cgroup check, 12 uid, 13 socket, 14 send");
	ASSERT_EQ(1, recvmsg(sv[0], &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC));
	close(sv[0]);
	cm = CMSG_FIRSTHDR(&msg);
	ASSERT_NE(NULL, cm);
	ASSERT_EQ(SCM_RIGHTS, cm->cmsg_type);
	ASSERT_EQ(CMSG_LEN(sizeof(int) * n), cm->cmsg_len);
	memcpy(fds, CMSG_DATA(cm), sizeof(int) * n);
}

/* ---- the truth, and the module's records and live lines ---- */

struct want {
	const char *what;		/* for the log */
	unsigned long long cookie;	/* SO_COOKIE */
	unsigned long long cgroup;
	unsigned int uid;
	int role;
};

static const char *role_name(unsigned int role)
{
	static const char * const names[] = TWTRACE_ROLE_NAMES;

	return role < ARRAY_SIZE(names) && names[role] ? names[role] : "?";
}

/* The truth for a socket @m made: its cookie is read off @fd. */
static struct want want_of(const struct cgroups *c, const struct maker *m,
			   int fd, int role, const char *what)
{
	struct want w = {
		.what = what,
		.cookie = tw_sock_cookie(fd),
		.cgroup = !m || m->cg < 0 ? c->self : c->id[m->cg],
		.uid = m ? m->uid : my_fsuid(),
		.role = role,
	};

	return w;
}

static void check_owner(struct __test_metadata *_metadata,
			const char *rec, const struct twtrace_owner *o,
			const struct want *w)
{
	EXPECT_EQ(w->cookie, o->cookie)
		TH_LOG("%s, %s record: cookie", w->what, rec);
	EXPECT_EQ(w->uid, o->uid)
		TH_LOG("%s, %s record: uid", w->what, rec);
	EXPECT_EQ(w->cgroup, o->cgroup)
		TH_LOG("%s, %s record: cgroup", w->what, rec);
	EXPECT_EQ(w->role, o->role)
		TH_LOG("%s, %s record: role %s, expected %s", w->what, rec,
		       role_name(o->role), role_name(w->role));
}

/* Records of @type whose owner's cookie is @cookie; the last in @out. */
static int recs_by_cookie(const struct tw_recs *rs, int type,
			  unsigned long long cookie,
			  struct twtrace_record *out)
{
	size_t i;
	int n = 0;

	for (i = 0; i < rs->n; i++) {
		if (rs->v[i].r.type != type ||
		    rs->v[i].r.owner.cookie != cookie)
			continue;
		if (out)
			*out = rs->v[i].r;
		n++;
	}
	return n;
}

/* Wait for the one record of @type with @cookie; a copy. */
static struct twtrace_record
wait_cookie(struct __test_metadata *_metadata, struct tw_recs *rs, int type,
	    const struct want *w)
{
	struct twtrace_record r;
	int n;

	tw_wait_until((tw_recs_read(rs),
		       recs_by_cookie(rs, type, w->cookie, NULL) > 0),
		      wait_secs());
	n = recs_by_cookie(rs, type, w->cookie, &r);
	ASSERT_EQ(1, n)
		TH_LOG("%s: %d records of type %d with cookie %llu", w->what, n,
		       type, w->cookie);
	return r;
}

/* Wait for the TIME_WAIT socket @local -> @remote in /proc/net/tcp*. */
static void wait_tw(struct __test_metadata *_metadata,
		    const union tw_sa *local, const union tw_sa *remote,
		    const char *what)
{
	ASSERT_TRUE(tw_wait_tw_row(local, remote, wait_secs()))
		TH_LOG("%s: no TIME_WAIT socket from port %u to %u", what,
		       tw_sa_port(local), tw_sa_port(remote));
}

/*
 * The TIME_WAIT socket @local -> @remote, whose owner is @w: one birth
 * record has its cookie, with the tuple, the netns and the owner; its
 * rearms carry the owner too, and so does its live line; sock_diag (if
 * @diag is 0, diag_ready()) reports the same cookie for it.  The birth.
 */
static struct twtrace_record
check_tw(struct __test_metadata *_metadata, struct tw_recs *rs, int diag,
	 const union tw_sa *local, const union tw_sa *remote,
	 const struct want *w)
{
	struct inet_diag_sockid id;
	struct twtrace_record b;
	unsigned char state;
	struct tw_live l;
	size_t i;

	ASSERT_NE(0ULL, w->cookie) TH_LOG("%s: no SO_COOKIE", w->what);
	b = wait_cookie(_metadata, rs, TWTRACE_EV_BIRTH, w);
	TH_LOG("%s: tw %llu IPv%u port %u -> %u: uid %u, cgroup %llu, cookie %llu, %s",
	       w->what, b.tw_id, b.family, b.sport, b.dport, b.owner.uid,
	       b.owner.cgroup, b.owner.cookie, role_name(b.owner.role));
	EXPECT_TRUE(tw_rec_tuple_is(&b, local, remote))
		TH_LOG("%s: birth record of another tuple", w->what);
	EXPECT_EQ(rs->netns, b.netns);
	EXPECT_NE(0ULL, b.tw_id);
	check_owner(_metadata, "birth", &b.owner, w);
	for (i = 0; i < rs->n; i++)
		if (rs->v[i].r.type == TWTRACE_EV_REARM &&
		    rs->v[i].r.tw_id == b.tw_id)
			check_owner(_metadata, "rearm", &rs->v[i].r.owner, w);

	ASSERT_TRUE(tw_live_has(rs->netns, b.tw_id, &l))
		TH_LOG("%s: tw %llu not in live", w->what, b.tw_id);
	EXPECT_EQ(tw_sa_port(local), l.lport);
	EXPECT_EQ(w->uid, l.uid) TH_LOG("%s: live uid", w->what);
	EXPECT_EQ(w->cgroup, l.cgroup) TH_LOG("%s: live cgroup", w->what);
	EXPECT_EQ(w->cookie, l.cookie) TH_LOG("%s: live cookie", w->what);
	EXPECT_EQ(w->role, l.role) TH_LOG("%s: live role", w->what);

	if (!diag) {
		ASSERT_EQ(1, tw_diag_find_tw(local->sa.sa_family, local, remote,
					     &id, &state))
			TH_LOG("%s: not in a sock_diag dump", w->what);
		EXPECT_EQ(w->cookie, tw_diag_cookie(&id))
			TH_LOG("%s: sock_diag's cookie", w->what);
	}
	return b;
}

/* ---- the groups file ---- */

/*
 * How many of the sockets @local[i] -> @remote[i % nr], i < n, are
 * TIME_WAIT rows of /proc/net/tcp{,6}: what the kernel says is live.
 */
static int proc_tw_rows(const union tw_sa *local, int n,
			const union tw_sa *remote, int nr)
{
	struct tw_tcprow v[512];
	int rows = tw_proc_tcp_read(v, 512, true), i, j, c = 0;

	for (i = 0; i < n; i++)
		for (j = 0; j < rows && j < 512; j++)
			if (v[j].lport == tw_sa_port(&local[i]) &&
			    v[j].rport == tw_sa_port(&remote[i % nr]) &&
			    v[j].family == tw_sa_fam(&local[i])) {
				c++;
				break;
			}
	return c;
}

/*
 * The group (@ns, @cgroup) has the counters of @want, every one; its
 * live count and births are also logged.
 */
static void check_group(struct __test_metadata *_metadata, unsigned int ns,
			unsigned long long cgroup, const char *what,
			const struct tw_group *want)
{
	struct tw_group g;
	unsigned int r;

	ASSERT_TRUE(tw_group_get(ns, cgroup, &g))
		TH_LOG("%s: no group (netns %u, cgroup %llu)", what, ns,
		       cgroup);
	TH_LOG("%s: group (%u, %llu): live %lld births %lld reuse %lld/%lld ovf %lld cfail %lld",
	       what, ns, cgroup, g.live, g.births, g.reuse_allowed,
	       g.reuse_refused, g.overflow, g.connect_fail);
	EXPECT_EQ(want->live, g.live) TH_LOG("%s: live", what);
	EXPECT_EQ(want->births, g.births) TH_LOG("%s: births", what);
	for (r = 0; r < TWTRACE_DEATH_NR; r++) {
		const char *name = tw_death_name(r);

		EXPECT_EQ(want->death[r], g.death[r])
			TH_LOG("%s: deaths %s", what, name);
	}
	EXPECT_EQ(want->reuse_allowed, g.reuse_allowed)
		TH_LOG("%s: reuse allowed", what);
	EXPECT_EQ(want->reuse_refused, g.reuse_refused)
		TH_LOG("%s: reuse refused", what);
	EXPECT_EQ(want->overflow, g.overflow) TH_LOG("%s: overflows", what);
	EXPECT_EQ(want->connect_fail, g.connect_fail)
		TH_LOG("%s: failed connects", what);
}

/* ---- the tests ---- */

/*
 * Four makers, two cgroups (a, b) by two uids (1001, 1002; all uids, or
 * the file system uid only: that is the one a socket takes), each make
 * an IPv4 socket to 127.0.0.2, another to 127.0.0.3 and an IPv6 one to
 * ::1, each destination a listener of the test's.  The test connects
 * them and closes them first: twelve client-side TIME_WAIT sockets, each
 * with its maker's uid and cgroup, its own cookie, role client, in its
 * birth record, its rearms, its live line and sock_diag.
 */
TEST_F_TIMEOUT(owners, two_cgroups_two_uids, 300)
{
	static const struct maker makers[4] = {
		{ .cg = 0, .uid = UID_A },
		{ .cg = 0, .uid = UID_B, .fsuid_only = true },
		{ .cg = 1, .uid = UID_A, .fsuid_only = true },
		{ .cg = 1, .uid = UID_B },
	};
	static const char * const ips[3] = { "127.0.0.2", "127.0.0.3", "::1" };
	static const int fams[3] = { AF_INET, AF_INET, AF_INET6 };
	struct twtrace_record b[12];
	union tw_sa dst[3], src[12];
	struct tw_group g0, g;
	char what[12][96], who[64];
	struct want w[12];
	int l[3], fds[3], i, j, n = 0;
	struct tw_conn k;

	if (!self->cg.ok)
		SKIP(return, "cgroup parts: %s", self->cg.why);
	if (self->diag)
		TH_LOG("no sock_diag (%s): its cookies unchecked here",
		       strerror(-self->diag));
	/* A netns inode number can be a dead netns's: its groups from now. */
	tw_group_get(self->ns, self->cg.self, &g0);
	for (j = 0; j < 3; j++) {
		l[j] = tw_listen(fams[j], ips[j], &dst[j]);
		ASSERT_LE(0, l[j]) TH_LOG("listen on %s", ips[j]);
	}
	for (i = 0; i < 4; i++) {
		make_socks(_metadata, &self->cg, &makers[i], fams, 3, fds);
		for (j = 0; j < 3; j++, n++) {
			snprintf(what[n], sizeof(what[n]), "%s to %s",
				 maker_str(&makers[i], who, sizeof(who)),
				 ips[j]);
			w[n] = want_of(&self->cg, &makers[i], fds[j],
				       ROLE_CLIENT, what[n]);
			ASSERT_EQ(0, tw_conn_open_fd(&k, fds[j], l[j], &dst[j],
						     NULL));
			src[n] = k.caddr;
			tw_conn_close_client_first(&k);
			wait_tw(_metadata, &src[n], &dst[j], what[n]);
		}
	}
	for (i = 0; i < n; i++)
		b[i] = check_tw(_metadata, &self->rs, self->diag, &src[i],
				&dst[i % 3], &w[i]);
	/* Twelve sockets, twelve ids, twelve cookies. */
	for (i = 0; i < n; i++)
		for (j = 0; j < i; j++) {
			EXPECT_NE(b[j].tw_id, b[i].tw_id);
			EXPECT_NE(w[j].cookie, w[i].cookie);
		}
	EXPECT_EQ(n, tw_recs_count(&self->rs, TWTRACE_EV_BIRTH, -1, 0, 0, 0));

	/*
	 * The groups file: cgroup a's six sockets and b's six, born there
	 * and live as long as /proc/net/tcp has them (under a slow kernel
	 * the first may expire: then as expired deaths).  The accepted
	 * ends, the test's own, closed second: no TIME_WAIT.
	 */
	for (i = 0; i < 2; i++) {
		struct tw_group want = { .births = 6 }, g;
		int rows, again = 10;

		do {
			rows = proc_tw_rows(&src[6 * i], 6, dst, 3);
			tw_group_get(self->ns, self->cg.id[i], &g);
		} while (--again && (g.live != rows ||
				     rows != proc_tw_rows(&src[6 * i], 6,
							  dst, 3)));
		want.live = rows;
		want.death[TWTRACE_DEATH_EXPIRED] = 6 - rows;
		check_group(_metadata, self->ns, self->cg.id[i],
			    i ? "cgroup b" : "cgroup a", &want);
	}
	tw_group_get(self->ns, self->cg.self, &g);
	EXPECT_EQ(g0.births, g.births)
		TH_LOG("the test's own cgroup made no TIME_WAIT socket");
	for (j = 0; j < 3; j++)
		close(l[j]);
}

/*
 * The role is the server's if a listener takes SYNs on the socket's local
 * address and port when it enters TIME_WAIT, the lookup an incoming SYN
 * does; else the client's.  The test's own sockets (its uid and cgroup):
 * - the client closes first: its TIME_WAIT socket is the client;
 * - the accepted end closes first, its listener listening: the server;
 * - the same with a wildcard listener (0.0.0.0 or ::): the server;
 * - the accepted end closes first after its listener was closed: nothing
 *   takes SYNs on that port any more, so it is the client, as a socket
 *   that had connected from there would be.
 */
TEST_F_TIMEOUT(owners_af, roles, 120)
{
	int family = variant->family;
	const char *lo = tw_lo(family);
	const char *any = family == AF_INET6 ? "::" : "0.0.0.0";
	union tw_sa dst, dany;
	struct tw_conn k;
	struct want w;
	int l, la;

	l = tw_listen(family, lo, &dst);
	ASSERT_LE(0, l);
	la = tw_listen(family, any, &dany);
	ASSERT_LE(0, la);

	ASSERT_EQ(0, tw_conn_open(&k, l, &dst, NULL));
	w = want_of(&self->cg, NULL, k.c, ROLE_CLIENT, "client closed first");
	tw_conn_close_client_first(&k);
	wait_tw(_metadata, &k.caddr, &dst, w.what);
	check_tw(_metadata, &self->rs, self->diag, &k.caddr, &dst, &w);

	ASSERT_EQ(0, tw_conn_open(&k, l, &dst, NULL));
	w = want_of(&self->cg, NULL, k.a, ROLE_SERVER,
		    "server closed first, listener listening");
	tw_conn_close_server_first(&k);
	wait_tw(_metadata, &dst, &k.caddr, w.what);
	check_tw(_metadata, &self->rs, self->diag, &dst, &k.caddr, &w);

	/* To the loopback address, on the wildcard listener's port. */
	ASSERT_EQ(0, tw_sa_set(&dst, family, lo, tw_sa_port(&dany)));
	ASSERT_EQ(0, tw_conn_open(&k, la, &dst, NULL));
	w = want_of(&self->cg, NULL, k.a, ROLE_SERVER,
		    "server closed first, wildcard listener listening");
	tw_conn_close_server_first(&k);
	wait_tw(_metadata, &dst, &k.caddr, w.what);
	check_tw(_metadata, &self->rs, self->diag, &dst, &k.caddr, &w);

	ASSERT_EQ(0, tw_conn_open(&k, la, &dst, NULL));
	close(la);
	close(l);
	w = want_of(&self->cg, NULL, k.a, ROLE_CLIENT,
		    "server closed first, listener closed before");
	tw_conn_close_server_first(&k);
	wait_tw(_metadata, &dst, &k.caddr, w.what);
	check_tw(_metadata, &self->rs, self->diag, &dst, &k.caddr, &w);
}

/*
 * An accepted socket is the listener's child: its cgroup is the one the
 * listener was made in (cgroup_sk_clone()), and its uid that of whoever
 * accepted it (sock_graft() gives it the accepting socket's file's owner):
 * here the test's, not the listener's maker's.  The listener is made in
 * cgroup a by uid 1001, the connecting sockets in cgroup b by uid 1002.
 * The accepted end closes first: a server-side TIME_WAIT socket of cgroup
 * a, uid the test's, role server.  The connecting end closes first: a
 * client-side one of cgroup b, uid 1002, role client.
 */
TEST_F_TIMEOUT(owners, accepted_socket_has_listener_cgroup, 120)
{
	static const struct maker ma = { .cg = 0, .uid = UID_A };
	static const struct maker mb = { .cg = 1, .uid = UID_B };
	static const int fams[2] = { AF_INET, AF_INET };
	struct tw_conn k;
	union tw_sa dst;
	int lfd, cfd[2];
	struct want w;

	if (!self->cg.ok)
		SKIP(return, "cgroup parts: %s", self->cg.why);
	make_socks(_metadata, &self->cg, &ma, fams, 1, &lfd);
	make_socks(_metadata, &self->cg, &mb, fams, 2, cfd);
	ASSERT_LE(0, tw_listen_fd(lfd, "127.0.0.1", &dst));

	ASSERT_EQ(0, tw_conn_open_fd(&k, cfd[0], lfd, &dst, NULL));
	w = want_of(&self->cg, NULL, k.a, ROLE_SERVER,
		    "accepted end closed first (listener: cgroup a, uid 1001)");
	w.cgroup = self->cg.id[0];
	tw_conn_close_server_first(&k);
	wait_tw(_metadata, &dst, &k.caddr, w.what);
	check_tw(_metadata, &self->rs, self->diag, &dst, &k.caddr, &w);

	ASSERT_EQ(0, tw_conn_open_fd(&k, cfd[1], lfd, &dst, NULL));
	w = want_of(&self->cg, &mb, k.c, ROLE_CLIENT,
		    "connecting end closed first (cgroup b, uid 1002)");
	tw_conn_close_client_first(&k);
	wait_tw(_metadata, &k.caddr, &dst, w.what);
	check_tw(_metadata, &self->rs, self->diag, &k.caddr, &dst, &w);
	close(lfd);
}

/* The one reuse record whose owner is @w (the connecting socket's). */
static struct twtrace_record
check_reuse_owner(struct __test_metadata *_metadata, struct tw_recs *rs,
		  const struct twtrace_record *b, const struct want *w,
		  int reason, bool allowed)
{
	struct twtrace_record u = wait_cookie(_metadata, rs,
					      TWTRACE_EV_REUSE, w);

	TH_LOG("%s: reuse of tw %llu %s (%s): uid %u, cgroup %llu, cookie %llu, %s",
	       w->what, u.tw_id, u.flags & TWTRACE_F_ALLOWED ? "allowed" :
	       "refused", tw_reuse_name(u.reason), u.owner.uid,
	       u.owner.cgroup, u.owner.cookie, role_name(u.owner.role));
	EXPECT_EQ(b->tw_id, u.tw_id);
	EXPECT_EQ(reason, u.reason)
		TH_LOG("reason %s", tw_reuse_name(u.reason));
	EXPECT_EQ(allowed, !!(u.flags & TWTRACE_F_ALLOWED));
	EXPECT_EQ(b->sport, u.reuse.sport);
	EXPECT_EQ(b->dport, u.reuse.dport);
	check_owner(_metadata, "reuse", &u.owner, w);
	return u;
}

/*
 * A reuse decision is about the connecting socket: its record carries
 * that socket's owner, role client, while the TIME_WAIT socket keeps its
 * own to its death.  One ephemeral port (40000); its tw is made in cgroup
 * a by uid 1001.  With tcp_tw_reuse=0 a socket of cgroup b, uid 1002, is
 * refused (refuse_sysctl_off, EADDRNOTAVAIL); with tcp_tw_reuse=1 a
 * second later one of cgroup b, uid 1001 takes the tw over (allow_reuse),
 * which dies "reused" with its own owner.
 */
TEST_F_TIMEOUT(owners, reuse_has_connecting_owner, 120)
{
	static const struct maker ma = { .cg = 0, .uid = UID_A };
	static const struct maker mb[2] = {
		{ .cg = 1, .uid = UID_B },
		{ .cg = 1, .uid = UID_A, .fsuid_only = true },
	};
	static const int fams[1] = { AF_INET };
	struct twtrace_record b, d;
	struct tw_group ga = {}, gb = {};
	struct want wt, w1, w2;
	int l, fa, fb[2], ret;
	struct tw_conn k, k2;
	long long recycled0;
	union tw_sa dst;

	if (!self->cg.ok)
		SKIP(return, "cgroup parts: %s", self->cg.why);
	/* The listener first: its port comes from the range. */
	l = tw_listen(AF_INET, "127.0.0.1", &dst);
	ASSERT_LE(0, l);
	ASSERT_EQ(0, tw_sysctl_set("net/ipv4/tcp_timestamps", "1"));
	ASSERT_EQ(0, tw_sysctl_set("net/ipv4/tcp_tw_reuse", "0"));
	ASSERT_EQ(0, tw_sysctl_set("net/ipv4/ip_local_port_range",
				   "40000 40000"));
	make_socks(_metadata, &self->cg, &ma, fams, 1, &fa);
	make_socks(_metadata, &self->cg, &mb[0], fams, 1, &fb[0]);
	make_socks(_metadata, &self->cg, &mb[1], fams, 1, &fb[1]);
	recycled0 = tw_tcpext("TWRecycled");

	wt = want_of(&self->cg, &ma, fa, ROLE_CLIENT,
		     "the tw (cgroup a, uid 1001)");
	ASSERT_EQ(0, tw_conn_open_fd(&k, fa, l, &dst, NULL));
	ASSERT_EQ(40000U, tw_sa_port(&k.caddr));
	tw_conn_close_client_first(&k);
	wait_tw(_metadata, &k.caddr, &dst, wt.what);
	b = check_tw(_metadata, &self->rs, self->diag, &k.caddr, &dst, &wt);

	w1 = want_of(&self->cg, &mb[0], fb[0], ROLE_CLIENT,
		     "refused connect (cgroup b, uid 1002)");
	ret = tw_conn_open_fd(&k2, fb[0], l, &dst, NULL);
	ASSERT_EQ(-EADDRNOTAVAIL, ret) TH_LOG("connect(): %s", strerror(-ret));
	check_reuse_owner(_metadata, &self->rs, &b, &w1,
			  TWTRACE_REUSE_REFUSE_SYSCTL_OFF, false);

	ASSERT_EQ(0, tw_sysctl_set("net/ipv4/tcp_tw_reuse", "1"));
	usleep(1100000);	/* past the one-second rule */
	w2 = want_of(&self->cg, &mb[1], fb[1], ROLE_CLIENT,
		     "allowed connect (cgroup b, fsuid 1001)");
	ASSERT_EQ(0, tw_conn_open_fd(&k2, fb[1], l, &dst, NULL))
		TH_LOG("the kernel refused the reuse");
	EXPECT_EQ(40000U, tw_sa_port(&k2.caddr));
	check_reuse_owner(_metadata, &self->rs, &b, &w2,
			  TWTRACE_REUSE_ALLOW_REUSE, true);

	d = wait_event(_metadata, &self->rs, TWTRACE_EV_DEATH, b.tw_id,
		       wait_secs());
	EXPECT_EQ(TWTRACE_DEATH_REUSED, d.reason)
		TH_LOG("death reason %s", tw_death_name(d.reason));
	check_owner(_metadata, "death", &d.owner, &wt);

	/*
	 * The groups: a's tw was born and died reused in a; b's connects
	 * were refused once (the connect failed: the program saw
	 * EADDRNOTAVAIL) and allowed once, as TcpExt TWRecycled counts.
	 */
	ga.births = 1;
	ga.death[TWTRACE_DEATH_REUSED] = 1;
	check_group(_metadata, self->ns, self->cg.id[0], "cgroup a", &ga);
	gb.reuse_refused = 1;
	gb.reuse_allowed = tw_tcpext("TWRecycled") - recycled0;
	EXPECT_EQ(1, gb.reuse_allowed) TH_LOG("TcpExt TWRecycled");
	gb.connect_fail = 1;
	check_group(_metadata, self->ns, self->cg.id[1], "cgroup b", &gb);
	tw_conn_close(&k2);
	close(l);
}

/* The one overflow record with @w's cookie: its tuple and owner. */
static void check_overflow_owner(struct __test_metadata *_metadata,
				 struct tw_recs *rs, const union tw_sa *local,
				 const union tw_sa *remote,
				 const struct want *w)
{
	struct twtrace_record o = wait_cookie(_metadata, rs,
					      TWTRACE_EV_OVERFLOW, w);

	TH_LOG("%s: overflow (%s) port %u -> %u: uid %u, cgroup %llu, cookie %llu, %s",
	       w->what, tw_overflow_name(o.reason), o.sport, o.dport,
	       o.owner.uid, o.owner.cgroup, o.owner.cookie,
	       role_name(o.owner.role));
	EXPECT_EQ(TWTRACE_OVERFLOW_LIMIT, o.reason);
	EXPECT_TRUE(tw_rec_tuple_is(&o, local, remote));
	check_owner(_metadata, "overflow", &o.owner, w);
}

/*
 * An overflow record carries the owner of the socket that could not
 * become a TIME_WAIT one.  tcp_max_tw_buckets=1; the listener is made in
 * cgroup b by fsuid 1001.  A socket of cgroup a, uid 1001 closes first:
 * the one tw.  A socket of cgroup b, uid 1002 closes first: an overflow
 * with its owner, role client.  Then an accepted end closes first, its
 * listener listening: an overflow of cgroup b (the listener's), uid the
 * test's (the accepter's), role server.  TcpExt TCPTimeWaitOverflow +2.
 */
TEST_F_TIMEOUT(owners, overflow_has_owner, 120)
{
	static const struct maker ml = { .cg = 1, .uid = UID_A,
					 .fsuid_only = true };
	static const struct maker ma = { .cg = 0, .uid = UID_A };
	static const struct maker mb = { .cg = 1, .uid = UID_B };
	static const int fams[2] = { AF_INET, AF_INET };
	struct tw_group ga = {}, gb = {};
	struct want w0, w1, w2;
	int lfd, fa, fb[2];
	long long ovf0;
	struct tw_conn k;
	union tw_sa dst;

	if (!self->cg.ok)
		SKIP(return, "cgroup parts: %s", self->cg.why);
	make_socks(_metadata, &self->cg, &ml, fams, 1, &lfd);
	make_socks(_metadata, &self->cg, &ma, fams, 1, &fa);
	make_socks(_metadata, &self->cg, &mb, fams, 2, fb);
	ASSERT_LE(0, tw_listen_fd(lfd, "127.0.0.1", &dst));
	ASSERT_EQ(0, tw_sysctl_set("net/ipv4/tcp_max_tw_buckets", "1"));
	ovf0 = tw_tcpext("TCPTimeWaitOverflow");

	w0 = want_of(&self->cg, &ma, fa, ROLE_CLIENT,
		     "the one tw (cgroup a, uid 1001)");
	ASSERT_EQ(0, tw_conn_open_fd(&k, fa, lfd, &dst, NULL));
	tw_conn_close_client_first(&k);
	wait_tw(_metadata, &k.caddr, &dst, w0.what);
	check_tw(_metadata, &self->rs, self->diag, &k.caddr, &dst, &w0);

	w1 = want_of(&self->cg, &mb, fb[0], ROLE_CLIENT,
		     "client overflow (cgroup b, uid 1002)");
	ASSERT_EQ(0, tw_conn_open_fd(&k, fb[0], lfd, &dst, NULL));
	tw_conn_close_client_first(&k);
	ASSERT_TRUE(tw_wait_until(tw_tcpext("TCPTimeWaitOverflow") - ovf0 >= 1,
				  wait_secs()))
		TH_LOG("%s: TcpExt TCPTimeWaitOverflow did not grow", w1.what);
	check_overflow_owner(_metadata, &self->rs, &k.caddr, &dst, &w1);

	ASSERT_EQ(0, tw_conn_open_fd(&k, fb[1], lfd, &dst, NULL));
	w2 = want_of(&self->cg, NULL, k.a, ROLE_SERVER,
		     "server overflow (listener: cgroup b)");
	w2.cgroup = self->cg.id[1];
	tw_conn_close_server_first(&k);
	ASSERT_TRUE(tw_wait_until(tw_tcpext("TCPTimeWaitOverflow") - ovf0 >= 2,
				  wait_secs()))
		TH_LOG("%s: TcpExt TCPTimeWaitOverflow did not grow", w2.what);
	check_overflow_owner(_metadata, &self->rs, &dst, &k.caddr, &w2);

	usleep(100000);
	tw_recs_read(&self->rs);
	EXPECT_EQ(2, tw_tcpext("TCPTimeWaitOverflow") - ovf0);
	EXPECT_EQ(2, tw_recs_count(&self->rs, TWTRACE_EV_OVERFLOW, -1, 0, 0,
				   0));
	EXPECT_EQ(1, tw_sockstat_tw());
	/* The groups: a's one tw, b's two overflows (TcpExt's two). */
	ga.births = 1;
	ga.live = tw_sockstat_tw();
	check_group(_metadata, self->ns, self->cg.id[0], "cgroup a", &ga);
	gb.overflow = tw_tcpext("TCPTimeWaitOverflow") - ovf0;
	check_group(_metadata, self->ns, self->cg.id[1], "cgroup b", &gb);
	close(lfd);
}

/*
 * A TIME_WAIT socket born while the module was not loaded has no owner
 * the module could read (role unknown, uid and cgroup 0, no live line),
 * but its cookie, the tw's own, is known: a socket of cgroup a, uid 1001,
 * whose SO_COOKIE was read, enters TIME_WAIT (FIN_WAIT2 substate) with
 * the module unloaded; after the load its death (the peer's RST) carries
 * born_before_load, no id, and that cookie with nothing else.
 */
TEST_F_TIMEOUT(owners, born_before_load_has_cookie_only, 120)
{
	static const struct maker ma = { .cg = 0, .uid = UID_A };
	static const int fams[1] = { AF_INET };
	struct twtrace_record d;
	struct tw_group g = {};
	long long retries = 0;
	struct tw_conn k;
	union tw_sa dst;
	int l, fd, ret;
	struct want w;

	if (!self->cg.ok)
		SKIP(return, "cgroup parts: %s", self->cg.why);
	l = tw_listen(AF_INET, "127.0.0.1", &dst);
	ASSERT_LE(0, l);
	make_socks(_metadata, &self->cg, &ma, fams, 1, &fd);
	w = want_of(&self->cg, &ma, fd, TWTRACE_ROLE_UNKNOWN,
		    "born before load (cgroup a, uid 1001)");
	w.uid = 0;
	w.cgroup = 0;
	ASSERT_EQ(0, tw_conn_open_fd(&k, fd, l, &dst, NULL));

	ret = mod_unload_retry(&retries);
	ASSERT_EQ(0, ret) TH_LOG("rmmod: %s", strerror(-ret));
	ASSERT_EQ(0, tw_conn_close_client_only(&k));
	wait_tw(_metadata, &k.caddr, &dst, w.what);
	ret = mod_op(true);
	ASSERT_EQ(0, ret) TH_LOG("insmod: %s", strerror(-ret));
	/* A new module: its rings start again from seq 0. */
	tw_recs_free(&self->rs);
	tw_recs_init(&self->rs, self->ns);
	EXPECT_EQ(0, tw_live_read(NULL, 0, self->ns));

	ASSERT_EQ(0, tw_conn_abort_server(&k));
	d = wait_cookie(_metadata, &self->rs, TWTRACE_EV_DEATH, &w);
	TH_LOG("%s: death %s, flags %#x, id %llu: uid %u, cgroup %llu, cookie %llu, %s",
	       w.what, tw_death_name(d.reason), d.flags, d.tw_id, d.owner.uid,
	       d.owner.cgroup, d.owner.cookie, role_name(d.owner.role));
	EXPECT_TRUE(tw_rec_tuple_is(&d, &k.caddr, &dst));
	EXPECT_EQ(TWTRACE_DEATH_RST_RECEIVED, d.reason);
	EXPECT_TRUE(d.flags & TWTRACE_F_BORN_BEFORE_LOAD);
	EXPECT_EQ(0ULL, d.tw_id);
	check_owner(_metadata, "death", &d.owner, &w);
	EXPECT_EQ(0, recs_by_cookie(&self->rs, TWTRACE_EV_BIRTH, w.cookie,
				    NULL));
	/* Its death counts where owners not known go: cgroup 0. */
	g.death[TWTRACE_DEATH_RST_RECEIVED] = 1;
	check_group(_metadata, self->ns, 0, "born before load", &g);
	tw_conn_close(&k);
	close(l);
}

/*
 * The cookie is the one "ss -e" and sock_diag show: a TIME_WAIT socket
 * keeps its full socket's, which the module makes when nobody asked for
 * it yet.  A client-side tw whose SO_COOKIE was read, and one and a
 * server-side one whose cookie nobody asked for: each record's cookie is
 * the one an inet_diag dump reports for the tw, and it is not 0.
 */
TEST_F_TIMEOUT(owners_af, cookie_is_sock_diag_cookie, 120)
{
	int family = variant->family;
	struct inet_diag_sockid id;
	struct twtrace_record b;
	unsigned char state;
	struct tw_conn k;
	union tw_sa dst;
	struct want w;
	int l, i;

	if (self->diag)
		SKIP(return, "inet_diag/tcp_diag not loadable: %s",
		     strerror(-self->diag));
	l = tw_listen(family, tw_lo(family), &dst);
	ASSERT_LE(0, l);

	ASSERT_EQ(0, tw_conn_open(&k, l, &dst, NULL));
	w = want_of(&self->cg, NULL, k.c, ROLE_CLIENT,
		    "client side, SO_COOKIE read");
	tw_conn_close_client_first(&k);
	wait_tw(_metadata, &k.caddr, &dst, w.what);
	check_tw(_metadata, &self->rs, 0, &k.caddr, &dst, &w);

	/* Nobody asks for these cookies before the TIME_WAIT. */
	for (i = 0; i < 2; i++) {
		const union tw_sa *local = i ? &dst : &k.caddr;
		const union tw_sa *remote = i ? &k.caddr : &dst;
		size_t m;

		ASSERT_EQ(0, tw_conn_open(&k, l, &dst, NULL));
		if (i)
			tw_conn_close_server_first(&k);
		else
			tw_conn_close_client_first(&k);
		wait_tw(_metadata, local, remote, "cookie not asked for");
		ASSERT_EQ(1, tw_diag_find_tw(family, local, remote, &id,
					     &state));
		w = want_of(&self->cg, NULL, -1, i ? ROLE_SERVER : ROLE_CLIENT,
			    i ? "server side, cookie not asked for" :
			    "client side, cookie not asked for");
		w.cookie = tw_diag_cookie(&id);
		/* The same birth by tuple, whatever its cookie. */
		tw_wait_until((tw_recs_read(&self->rs),
			       recs_by_cookie(&self->rs, TWTRACE_EV_BIRTH,
					      w.cookie, NULL) > 0),
			      wait_secs());
		for (m = 0; m < self->rs.n; m++) {
			b = self->rs.v[m].r;
			if (b.type == TWTRACE_EV_BIRTH &&
			    tw_rec_tuple_is(&b, local, remote))
				break;
		}
		ASSERT_GT(self->rs.n, m) TH_LOG("%s: no birth", w.what);
		TH_LOG("%s: sock_diag cookie %llu, record's %llu", w.what,
		       w.cookie, b.owner.cookie);
		EXPECT_NE(0ULL, b.owner.cookie);
		check_tw(_metadata, &self->rs, 0, local, remote, &w);
	}
	close(l);
}

TEST_HARNESS_MAIN
