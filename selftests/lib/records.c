// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace selftests library: the binary records of the cpuN files and
 * the lines of the live file.
 */
#include "twtrace_lib.h"

/* ---- the binary records of the cpuN files ---- */

void tw_recs_init(struct tw_recs *rs, unsigned int netns)
{
	int c;

	memset(rs, 0, sizeof(*rs));
	rs->netns = netns;
	for (c = 0; c < TW_MAX_CPUS; c++)
		rs->last_seq[c] = -1;
}

void tw_recs_free(struct tw_recs *rs)
{
	free(rs->v);
	rs->v = NULL;
	rs->n = 0;
	rs->cap = 0;
}

/* Forget what was counted and kept, but not the last seq per CPU. */
static void tw_recs_clear(struct tw_recs *rs)
{
	int c;

	rs->n = 0;
	rs->nread = 0;
	rs->bad = 0;
	rs->err = 0;
	for (c = 0; c < TW_MAX_CPUS; c++) {
		rs->cpu_read[c] = 0;
		rs->seq_breaks[c] = 0;
	}
}

static void tw_recs_add(struct tw_recs *rs, int cpu,
			const struct twtrace_record *r, bool keep)
{
	void *p;

	/* Each ring holds only the records written on its own CPU. */
	if (r->magic != TWTRACE_MAGIC || r->abi != TWTRACE_ABI_VERSION ||
	    r->cpu != cpu)
		rs->bad++;
	rs->nread++;
	rs->cpu_read[cpu]++;
	if (rs->last_seq[cpu] >= 0 &&
	    r->seq != (unsigned long long)rs->last_seq[cpu] + 1 &&
	    !rs->seq_breaks[cpu]++) {
		rs->brk_prev[cpu] = rs->last_seq[cpu];
		rs->brk_seq[cpu] = r->seq;
		rs->brk_type[cpu] = r->type;
	}
	rs->last_seq[cpu] = r->seq;
	if (!keep || (rs->netns && r->netns != rs->netns))
		return;
	if (rs->n == rs->cap) {
		p = realloc(rs->v, (rs->cap * 2 + 64) * sizeof(*rs->v));
		if (!p) {
			rs->err = -ENOMEM;
			return;
		}
		rs->v = p;
		rs->cap = rs->cap * 2 + 64;
	}
	rs->v[rs->n].r = *r;
	rs->v[rs->n].cpu = cpu;
	rs->n++;
}

/* Read, without blocking, every record of cpu file @cpu. */
static int tw_recs_read_cpu(struct tw_recs *rs, int cpu, bool keep)
{
	struct twtrace_record buf[32];
	char path[64];
	ssize_t n, i;
	int fd, got = 0;

	snprintf(path, sizeof(path), TW_DIR "/cpu%d", cpu);
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0) {
			if (errno != EAGAIN && !rs->err)
				rs->err = -errno;
			break;
		}
		if (!n)
			break;
		if (n % TW_REC_SIZE)
			rs->bad++;
		for (i = 0; i < n / TW_REC_SIZE; i++)
			tw_recs_add(rs, cpu, &buf[i], keep);
		got += n / TW_REC_SIZE;
	}
	close(fd);
	return got;
}

/*
 * Read what every cpuN file holds now; keep the records of rs->netns
 * (all with netns 0) unless @keep is false.  Records read, or -errno.
 */
int tw_recs_read_keep(struct tw_recs *rs, bool keep)
{
	int c, n, got = 0, ncpus = tw_ncpus();

	if (!ncpus)
		return -ENOENT;
	for (c = 0; c < ncpus; c++) {
		n = tw_recs_read_cpu(rs, c, keep);
		if (n < 0 && n != -ENOENT)
			return n;
		if (n > 0)
			got += n;
	}
	return rs->err ? rs->err : got;
}

int tw_recs_read(struct tw_recs *rs)
{
	return tw_recs_read_keep(rs, true);
}

/*
 * Throw away whatever earlier tests left in the rings (records are
 * consumed by reading), remembering each CPU's last seq.
 */
int tw_recs_drain(struct tw_recs *rs)
{
	int ret = tw_recs_read_keep(rs, false);

	tw_recs_clear(rs);
	return ret < 0 ? ret : 0;
}

/*
 * Does record @r match: @type, @reason (< 0: any), local port @sport and
 * remote port @dport (0: any), tw id @id (0: any)?
 */
bool tw_rec_match(const struct twtrace_record *r, int type,
		  int reason, unsigned int sport,
		  unsigned int dport, unsigned long long id)
{
	return r->type == type && (reason < 0 || r->reason == reason) &&
	       (!sport || r->sport == sport) &&
	       (!dport || r->dport == dport) && (!id || r->tw_id == id);
}

int tw_recs_count(const struct tw_recs *rs, int type,
		  int reason, unsigned int sport,
		  unsigned int dport, unsigned long long id)
{
	size_t i;
	int n = 0;

	for (i = 0; i < rs->n; i++)
		n += tw_rec_match(&rs->v[i].r, type, reason, sport, dport, id);
	return n;
}

/* The last matching record, or NULL. */
const struct twtrace_record *
tw_recs_find(const struct tw_recs *rs, int type, int reason,
	     unsigned int sport, unsigned int dport, unsigned long long id)
{
	size_t i;

	for (i = rs->n; i-- > 0;)
		if (tw_rec_match(&rs->v[i].r, type, reason, sport, dport, id))
			return &rs->v[i].r;
	return NULL;
}

/* Same local and remote tuple in record @r as the sockaddrs given? */
bool tw_rec_tuple_is(const struct twtrace_record *r,
		     const union tw_sa *local,
		     const union tw_sa *remote)
{
	size_t len = tw_sa_addrlen(local);

	return r->family == tw_sa_fam(local) &&
	       r->sport == tw_sa_port(local) &&
	       r->dport == tw_sa_port(remote) &&
	       !memcmp(r->saddr, tw_sa_addr(local), len) &&
	       !memcmp(r->daddr, tw_sa_addr(remote), len);
}

/* ---- the live file ---- */

/* "1.2.3.4:80" or "[::1]:80" into address bytes and port. */
static int tw_parse_addrport(const char *s, int fam,
			     unsigned char *addr, unsigned int *port)
{
	char buf[80], *colon;

	snprintf(buf, sizeof(buf), "%s", s);
	colon = strrchr(buf, ':');
	if (!colon)
		return -1;
	*colon = '\0';
	*port = atoi(colon + 1);
	if (fam == 6) {
		if (buf[0] != '[' || colon[-1] != ']')
			return -1;
		colon[-1] = '\0';
		return inet_pton(AF_INET6, buf + 1, addr) == 1 ? 0 : -1;
	}
	memset(addr, 0, 16);
	return inet_pton(AF_INET, buf, addr) == 1 ? 0 : -1;
}

/* "-" or a decimal number; -1 if neither. */
static int tw_parse_dash(const char *s, unsigned long long *out)
{
	char *end;

	if (!strcmp(s, "-")) {
		*out = 0;
		return 0;
	}
	errno = 0;
	*out = strtoull(s, &end, 10);
	return *s >= '0' && *s <= '9' && !*end && !errno ? 1 : -1;
}

/* The owner columns of a live line: uid cgroup (cookie) role. */
static int tw_parse_owner(const char *uid, const char *cg, const char *role,
			  struct tw_live *l)
{
	static const char * const roles[] = TWTRACE_ROLE_NAMES;
	unsigned long long u;
	int known = tw_parse_dash(uid, &u);
	int i;

	if (known < 0 || (known && u > UINT32_MAX) ||
	    tw_parse_dash(cg, &l->cgroup) < 0)
		return -1;
	l->uid = known ? (long long)u : -1;
	l->role = -1;
	for (i = 0; i < (int)ARRAY_SIZE(roles); i++)
		if (roles[i] && !strcmp(role, roles[i]))
			l->role = i;
	return 0;
}

/*
 * The lines of the live file for @netns (0: every netns), the first @max
 * into @v.  The number of lines, or -1 if the file is missing or a line
 * does not parse.
 */
int tw_live_read(struct tw_live *v, int max, unsigned int netns)
{
	char line[512], la[80], ra[80], st[32], uid[32], cg[32], role[32];
	FILE *f = fopen(TW_DIR "/live", "r");
	struct tw_live l;
	int n = 0, bad = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		memset(&l, 0, sizeof(l));
		if (sscanf(line, "%llu %u %d %79s %79s %31s %llu %u %31s %31s %llu %31s",
			   &l.id, &l.netns, &l.family, la, ra, st, &l.age_ns,
			   &l.rearms, uid, cg, &l.cookie, role) != 12 ||
		    tw_parse_addrport(la, l.family, l.laddr, &l.lport) ||
		    tw_parse_addrport(ra, l.family, l.raddr, &l.rport) ||
		    tw_parse_owner(uid, cg, role, &l)) {
			bad++;
			continue;
		}
		l.substate = !strcmp(st, "TIME_WAIT") ?
			     TWTRACE_SUBSTATE_TIME_WAIT :
			     !strcmp(st, "FIN_WAIT2") ?
			     TWTRACE_SUBSTATE_FIN_WAIT2 : -1;
		if (netns && l.netns != netns)
			continue;
		if (v && n < max)
			v[n] = l;
		n++;
	}
	fclose(f);
	return bad ? -1 : n;
}

/* The live line of tw @id, or NULL. */
const struct tw_live *tw_live_find(const struct tw_live *v,
				   int n, unsigned long long id)
{
	int i;

	for (i = 0; i < n; i++)
		if (v[i].id == id)
			return &v[i];
	return NULL;
}

/* Is tw @id in the live file (of netns @ns)?  Its line in @out. */
bool tw_live_has(unsigned int ns, unsigned long long id, struct tw_live *out)
{
	struct tw_live v[256];
	const struct tw_live *l;
	int n = tw_live_read(v, 256, ns);

	l = n > 0 ? tw_live_find(v, n < 256 ? n : 256, id) : NULL;
	if (l && out)
		*out = *l;
	return l;
}

/* Where a groups file column goes in a struct tw_group; NULL: ignored. */
static long long *tw_group_field(struct tw_group *g, const char *name)
{
	unsigned int r;

	if (!strcmp(name, "live"))
		return &g->live;
	if (!strcmp(name, "births"))
		return &g->births;
	if (!strcmp(name, "rearms"))
		return &g->rearms;
	if (!strcmp(name, "reuse_allowed"))
		return &g->reuse_allowed;
	if (!strcmp(name, "reuse_refused"))
		return &g->reuse_refused;
	if (!strcmp(name, "overflow"))
		return &g->overflow;
	if (!strcmp(name, "connect_fail"))
		return &g->connect_fail;
	for (r = 0; r < TWTRACE_DEATH_NR; r++)
		if (!strncmp(name, "death_", 6) &&
		    !strcmp(name + 6, tw_death_name(r)))
			return &g->death[r];
	return NULL;
}

#define TW_GROUP_COLS	32

int tw_groups_read(struct tw_group *v, int max)
{
	char line[1024], cols[TW_GROUP_COLS][32], *tok, *save;
	FILE *f = fopen(TW_DIR "/groups", "r");
	int ncols = 0, n = 0, bad = 0, i;
	struct tw_group g;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#') {
			ncols = 0;
			for (tok = strtok_r(line + 1, " ", &save);
			     tok && ncols < TW_GROUP_COLS;
			     tok = strtok_r(NULL, " ", &save))
				snprintf(cols[ncols++], sizeof(cols[0]), "%s",
					 tok);
			continue;
		}
		memset(&g, 0, sizeof(g));
		i = 0;
		for (tok = strtok_r(line, " ", &save); tok;
		     tok = strtok_r(NULL, " ", &save), i++) {
			if (i >= ncols) {
				bad++;
				break;
			}
			if (!strcmp(cols[i], "netns"))
				g.netns = strcmp(tok, "-") ?
					  strtoul(tok, NULL, 10) : 0;
			else if (!strcmp(cols[i], "cgroup"))
				g.cgroup = strcmp(tok, "-") ?
					   strtoull(tok, NULL, 10) : 0;
			else if (tw_group_field(&g, cols[i]))
				*tw_group_field(&g, cols[i]) =
					strtoll(tok, NULL, 10);
		}
		if (i != ncols || ncols < 4) {
			bad++;
			continue;
		}
		if (v && n < max)
			v[n] = g;
		n++;
	}
	fclose(f);
	return bad ? -1 : n;
}

bool tw_group_get(unsigned int netns, unsigned long long cgroup,
		  struct tw_group *out)
{
	struct tw_group v[512];
	int n = tw_groups_read(v, 512), i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < n && i < 512; i++) {
		if (v[i].netns == netns && v[i].cgroup == cgroup) {
			*out = v[i];
			return true;
		}
	}
	return false;
}

/*
 * stats live and the number of live lines of every netns (the first @max
 * into @v), read until they agree, at most 10 times: whether they did.
 */
bool tw_live_stat_stable(struct tw_live *v, int max, long long *stat,
			 long long *lines)
{
	bool consistent = false;
	long long a = -1, c = -1;
	int i;

	for (i = 0; i < 10 && !consistent; i++) {
		a = tw_stat("live");
		c = tw_live_read(v, max, 0);
		consistent = a == c && a == tw_stat("live");
	}
	*stat = a;
	*lines = c;
	return consistent;
}

/* ---- records and namespaces ---- */

void nsset_add(struct nsset *s, unsigned int ns)
{
	if (ns && s->n < NSSET_MAX)
		s->ns[s->n++] = ns;
}

bool nsset_has(const struct nsset *s, unsigned int ns)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (s->ns[i] == ns)
			return true;
	return false;
}

/*
 * Records of @type (and @reason, unless < 0) whose netns is in @in (or,
 * if @out, is not), with all of @flags set.  @in NULL: every netns.
 */
int nrec(const struct tw_recs *rs, int type, int reason,
	 const struct nsset *in, bool out, unsigned int flags)
{
	const struct twtrace_record *r;
	size_t i;
	int n = 0;

	for (i = 0; i < rs->n; i++) {
		r = &rs->v[i].r;
		if (r->type != type || (reason >= 0 && r->reason != reason) ||
		    (r->flags & flags) != flags)
			continue;
		if (in && nsset_has(in, r->netns) == out)
			continue;
		n++;
	}
	return n;
}

/* Records as nrec(), with a tw id (tracked sockets) or without. */
int nrec_id(const struct tw_recs *rs, int type,
	    const struct nsset *in, bool with_id)
{
	const struct twtrace_record *r;
	size_t i;
	int n = 0;

	for (i = 0; i < rs->n; i++) {
		r = &rs->v[i].r;
		if (r->type == type && (!in || nsset_has(in, r->netns)) &&
		    !!r->tw_id == with_id)
			n++;
	}
	return n;
}

/* Read records until @in has as many deaths as births, within @secs. */
bool wait_deaths(struct tw_recs *rs, const struct nsset *in,
		 double secs)
{
	return tw_wait_until((tw_recs_read(rs),
			      nrec(rs, TWTRACE_EV_DEATH, -1, in, false, 0) >=
			      nrec(rs, TWTRACE_EV_BIRTH, -1, in, false, 0)),
			     secs);
}

/* No live line for a namespace nobody is in, none for @dead. */
int live_dead_lines(const struct nsset *dead)
{
	struct tw_live *v = calloc(4096, sizeof(*v));
	int i, n, bad = 0;

	if (!v)
		return -1;
	n = tw_live_read(v, 4096, 0);
	for (i = 0; i < n && i < 4096; i++)
		if ((dead && nsset_has(dead, v[i].netns)) ||
		    !tw_netns_in_use(v[i].netns))
			bad++;
	free(v);
	return n < 0 ? -1 : bad;
}
