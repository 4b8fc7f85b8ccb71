// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace reader: output.  Columns that stay aligned, tables described
 * once for their header and their rows, JSON strings, and the stream's
 * events as text and as JSON.
 */
#include <errno.h>
#include <string.h>

#include "reader.h"

void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

void line_init(struct tw_line *l)
{
	l->len = 0;
	l->want = 0;
	l->first = true;
	l->buf[0] = '\0';
}

static void line_pad(struct tw_line *l, size_t to)
{
	while (l->len < to && l->len < sizeof(l->buf) - 1)
		l->buf[l->len++] = ' ';
	l->buf[l->len] = '\0';
}

/*
 * Append a column of @width, left or right aligned, separated by a space.
 * A value wider than its column pushes the rest of the line only as far as
 * it must: the next columns take back the room as soon as they can.
 */
void line_put(struct tw_line *l, int width, bool right, const char *s)
{
	size_t n = strlen(s), start, end;

	if (!l->first)
		l->want++;
	start = l->want;
	if (!l->first && l->len >= start)
		line_pad(l, l->len + 1);
	else
		line_pad(l, start);
	end = start + width;
	if (right && l->len + n < end)
		line_pad(l, end - n);
	if (n > sizeof(l->buf) - 1 - l->len)
		n = sizeof(l->buf) - 1 - l->len;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
	l->buf[l->len] = '\0';
	l->want = end;
	l->first = false;
}

int line_out(struct tw_line *l, FILE *f)
{
	while (l->len && l->buf[l->len - 1] == ' ')
		l->buf[--l->len] = '\0';
	fputs(l->buf, f);
	return fputc('\n', f) == EOF ? -1 : 0;
}

/* One row of a table: @vals[i] in column @cols[i]; NULL: the heads. */
int table_row(const struct tw_col *cols, int n, const char *const *vals,
	      FILE *f)
{
	struct tw_line l;
	int i;

	line_init(&l);
	for (i = 0; i < n; i++)
		line_put(&l, cols[i].width, cols[i].right,
			 vals ? vals[i] : cols[i].head);
	return line_out(&l, f);
}

/* A socket's owner, for the stream's events and ls's sockets. */

static bool owner_known(const struct twtrace_owner *o)
{
	return o->role > TWTRACE_ROLE_UNKNOWN && o->role < TWTRACE_ROLE_NR;
}

/* The cgroup's path, NULL if not known or not found. */
static const char *owner_path(const struct twtrace_owner *o)
{
	return owner_known(o) && o->cgroup ? owner_cgroup_path(o->cgroup) :
	       NULL;
}

void fmt_owner_text(const struct twtrace_owner *o, struct tw_owner_text *t)
{
	const char *path = owner_path(o);

	snprintf(t->cookie, sizeof(t->cookie), o->cookie ? "%llx" : "-",
		 o->cookie);
	snprintf(t->role, sizeof(t->role), "%s",
		 owner_known(o) ? tw_role_names[o->role] : "-");
	snprintf(t->unit, sizeof(t->unit), "-");
	if (!owner_known(o)) {
		snprintf(t->uid, sizeof(t->uid), "-");
		snprintf(t->user, sizeof(t->user), "-");
		snprintf(t->cgroup, sizeof(t->cgroup), "-");
		return;
	}
	snprintf(t->uid, sizeof(t->uid), "%u", o->uid);
	owner_user(o->uid, t->user, sizeof(t->user));
	if (path) {
		snprintf(t->cgroup, sizeof(t->cgroup), "%s", path);
		if (!owner_unit(path, t->unit, sizeof(t->unit)))
			snprintf(t->unit, sizeof(t->unit), "-");
	} else if (o->cgroup) {
		snprintf(t->cgroup, sizeof(t->cgroup), "%llu", o->cgroup);
	} else {
		snprintf(t->cgroup, sizeof(t->cgroup), "-");
	}
}

/*
 * The cookie is a u64, and parsers that hold JSON numbers in doubles
 * (JavaScript, jq 1.6) would round one past 2^53: a string, in hex as
 * "ss -e" shows it.  cgroup ids are inode numbers, far from 2^53.
 */
void fmt_owner_json(const struct twtrace_owner *o)
{
	const char *path = owner_path(o);
	char buf[96];

	if (o->cookie)
		printf(",\"cookie\":\"0x%llx\"", o->cookie);
	else
		printf(",\"cookie\":null");
	if (!owner_known(o)) {
		printf(",\"uid\":null,\"user\":null,\"cgroup_id\":null");
		printf(",\"cgroup\":null,\"unit\":null,\"role\":null");
		return;
	}
	printf(",\"uid\":%u,\"user\":", o->uid);
	if (owner_user(o->uid, buf, sizeof(buf)))
		printf("null");
	else
		json_str(stdout, buf);
	if (o->cgroup)
		printf(",\"cgroup_id\":%llu,\"cgroup\":", o->cgroup);
	else
		printf(",\"cgroup_id\":null,\"cgroup\":");
	if (path)
		json_str(stdout, path);
	else
		printf("null");
	printf(",\"unit\":");
	if (path && owner_unit(path, buf, sizeof(buf)))
		json_str(stdout, buf);
	else
		printf("null");
	printf(",\"role\":\"%s\"", tw_role_names[o->role]);
}

/* The stream's events as text: one table, its columns chosen by options. */

static bool death_life_known(const struct twtrace_record *r)
{
	return record_ns_known(r->death.lifetime_ns) &&
	       !(r->flags & (TWTRACE_F_BORN_BEFORE_LOAD |
			     TWTRACE_F_UNTRACKED));
}

static void put_ms(char *buf, size_t len, __u64 ns, bool known)
{
	if (known)
		fmt_ms(buf, len, ns);
	else
		snprintf(buf, len, "?");
}

/* Seconds between two CLOCK_MONOTONIC stamps, signed, microseconds. */
static void fmt_rel(char *buf, size_t len, __u64 ts, __u64 start)
{
	bool neg = ts < start;
	__u64 d = neg ? start - ts : ts - start;
	__u64 us = d / 1000 + (d % 1000 >= 500);

	snprintf(buf, len, "%s%llu.%06llu", neg ? "-" : "", us / 1000000,
		 us % 1000000);
}

/* Each column's value; not every column needs every argument. */
#define EV_ARGS	char *buf, size_t len, \
		const struct tw_fmt *f __maybe_unused, \
		const struct twtrace_record *r __maybe_unused, \
		int cpu __maybe_unused, \
		const struct tw_owner_text *o __maybe_unused

static void ev_time(EV_ARGS)
{
	fmt_hms(buf, len, r->ts_ns + (f->start_rt_ns - f->start_ns));
}

static void ev_rel(EV_ARGS)
{
	fmt_rel(buf, len, r->ts_ns, f->start_ns);
}

static void ev_event(EV_ARGS)
{
	snprintf(buf, len, "%s", tw_event_names[r->type]);
}

/* A death found only at the final free: no tuple known. */
static void ev_local(EV_ARGS)
{
	if (r->flags & TWTRACE_F_NO_TUPLE)
		snprintf(buf, len, "-");
	else
		fmt_endpoint(buf, len, r->family, r->saddr, r->sport);
}

static void ev_remote(EV_ARGS)
{
	if (r->flags & TWTRACE_F_NO_TUPLE)
		snprintf(buf, len, "-");
	else
		fmt_endpoint(buf, len, r->family, r->daddr, r->dport);
}

/* A failed connect's error and the TIME_WAIT sockets it met. */
static void connect_reason(char *buf, size_t len,
			   const struct twtrace_record *r)
{
	const char *err = r->connect.err == -EADDRNOTAVAIL ? "EADDRNOTAVAIL" :
			  r->connect.err == -EADDRINUSE ? "EADDRINUSE" : NULL;

	if (err)
		snprintf(buf, len, "%s tw=", err);
	else
		snprintf(buf, len, "err%d tw=", r->connect.err);
	if (r->flags & TWTRACE_F_UNCOUNTED)
		snprintf(buf + strlen(buf), len - strlen(buf), "?");
	else
		snprintf(buf + strlen(buf), len - strlen(buf), "%u",
			 r->connect.tw_seen);
}

/* Births and rearms have no reason: their substate instead. */
static void ev_reason(EV_ARGS)
{
	const char *reason = tw_reason_name(r);

	if (r->type == TWTRACE_EV_CONNECT_FAIL)
		connect_reason(buf, len, r);
	else if (r->type == TWTRACE_EV_REARM &&
		 r->rearm.old_substate != r->substate)
		snprintf(buf, len, "%s>%s",
			 tw_substate_name(r->rearm.old_substate),
			 tw_substate_name(r->substate));
	else
		snprintf(buf, len, "%s",
			 reason ? reason : tw_substate_name(r->substate));
}

static void ev_cpu(EV_ARGS)
{
	if (cpu >= 0)
		snprintf(buf, len, "%d", cpu);
	else
		snprintf(buf, len, "-");
}

static void ev_id(EV_ARGS)
{
	if (r->tw_id)
		snprintf(buf, len, "%llu", r->tw_id);
	else
		snprintf(buf, len, "-");
}

static void ev_netns(EV_ARGS)
{
	snprintf(buf, len, "%u", r->netns);
}

static void ev_substate(EV_ARGS)
{
	snprintf(buf, len, "%s", tw_substate_name(r->substate));
}

static void ev_rearms(EV_ARGS)
{
	if (r->type == TWTRACE_EV_OVERFLOW ||
	    r->type == TWTRACE_EV_CONNECT_FAIL)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%u", r->rearms);
}

static void ev_timeo(EV_ARGS)
{
	if (r->type == TWTRACE_EV_BIRTH)
		snprintf(buf, len, "%u", r->birth.timeo_ms);
	else if (r->type == TWTRACE_EV_REARM)
		snprintf(buf, len, "%u", r->rearm.timeo_ms);
	else
		snprintf(buf, len, "-");
}

static void ev_fw2(EV_ARGS)
{
	if (r->type == TWTRACE_EV_DEATH)
		put_ms(buf, len, r->death.fin_wait2_ns,
		       death_life_known(r) &&
		       record_ns_known(r->death.fin_wait2_ns));
	else
		snprintf(buf, len, "-");
}

static void ev_twr(EV_ARGS)
{
	if (r->type == TWTRACE_EV_REUSE)
		snprintf(buf, len, "%u", r->reuse_sysctl);
	else
		snprintf(buf, len, "-");
}

/* Lifetime for deaths, age for reuse decisions, nothing for the rest. */
static void ev_ms(EV_ARGS)
{
	if (r->type == TWTRACE_EV_DEATH)
		put_ms(buf, len, r->death.lifetime_ns, death_life_known(r));
	else if (r->type == TWTRACE_EV_REUSE)
		put_ms(buf, len, r->reuse.age_ns,
		       record_ns_known(r->reuse.age_ns));
	else
		buf[0] = '\0';
}

static void ev_role(EV_ARGS)
{
	snprintf(buf, len, "%s", o->role);
}

static void ev_uid(EV_ARGS)
{
	snprintf(buf, len, "%s", o->uid);
}

static void ev_user(EV_ARGS)
{
	snprintf(buf, len, "%s", o->user);
}

static void ev_cookie(EV_ARGS)
{
	snprintf(buf, len, "%s", o->cookie);
}

static void ev_unit(EV_ARGS)
{
	snprintf(buf, len, "%s", o->unit);
}

static void ev_cgroup(EV_ARGS)
{
	snprintf(buf, len, "%s", o->cgroup);
}

enum ev_need { EV_ALWAYS, EV_HMS, EV_REL, EV_EXT };

static const struct ev_col {
	struct tw_col col;
	int wide_width;		/* with -w, if not 0 */
	enum ev_need need;
	void (*fill)(char *buf, size_t len, const struct tw_fmt *f,
		     const struct twtrace_record *r, int cpu,
		     const struct tw_owner_text *o);
} ev_cols[] = {
	{ { "TIME", 8, false }, 0, EV_HMS, ev_time },
	{ { "TIME(s)", 11, false }, 0, EV_REL, ev_rel },
	{ { "EVENT", 8, false }, 0, EV_ALWAYS, ev_event },
	{ { "LOCAL", 21, false }, 47, EV_ALWAYS, ev_local },
	{ { "REMOTE", 21, false }, 47, EV_ALWAYS, ev_remote },
	{ { "REASON", 17, false }, 0, EV_ALWAYS, ev_reason },
	{ { "CPU", 3, true }, 0, EV_EXT, ev_cpu },
	{ { "ID", 7, true }, 0, EV_EXT, ev_id },
	{ { "NETNS", 10, true }, 0, EV_EXT, ev_netns },
	{ { "SUBSTATE", 9, false }, 0, EV_EXT, ev_substate },
	{ { "REARMS", 6, true }, 0, EV_EXT, ev_rearms },
	{ { "TIMEO", 6, true }, 0, EV_EXT, ev_timeo },
	{ { "FW2_MS", 9, true }, 0, EV_EXT, ev_fw2 },
	{ { "TWR", 3, true }, 0, EV_EXT, ev_twr },
	{ { "MS", 9, true }, 0, EV_ALWAYS, ev_ms },
	/* the owner's, after MS: the unit and the path have no bound */
	{ { "ROLE", 6, false }, 0, EV_EXT, ev_role },
	{ { "UID", 5, true }, 0, EV_EXT, ev_uid },
	{ { "USER", 8, false }, 0, EV_EXT, ev_user },
	{ { "COOKIE", 8, true }, 0, EV_EXT, ev_cookie },
	{ { "UNIT", 20, false }, 0, EV_EXT, ev_unit },
	{ { "CGROUP", 0, false }, 0, EV_EXT, ev_cgroup },
};

static bool ev_shown(const struct tw_fmt *f, const struct ev_col *c)
{
	switch (c->need) {
	case EV_HMS:
		return f->hms;
	case EV_REL:
		return f->rel;
	case EV_EXT:
		return f->ext;
	default:
		return true;
	}
}

/* The header (@r NULL) or an event's line. */
static void ev_line(const struct tw_fmt *f, const struct twtrace_record *r,
		    int cpu)
{
	struct tw_owner_text o;
	char buf[TW_PATH_MAX];
	const struct ev_col *c;
	struct tw_line l;

	if (r && f->ext)
		fmt_owner_text(&r->owner, &o);
	line_init(&l);
	for (c = ev_cols; c < ev_cols + ARRAY_SIZE(ev_cols); c++) {
		if (!ev_shown(f, c))
			continue;
		if (r)
			c->fill(buf, sizeof(buf), f, r, cpu, &o);
		line_put(&l, f->wide && c->wide_width ? c->wide_width :
			 c->col.width, c->col.right, r ? buf : c->col.head);
	}
	line_out(&l, stdout);
}

void fmt_event_head(const struct tw_fmt *f)
{
	ev_line(f, NULL, -1);
}

void fmt_event_text(const struct tw_fmt *f, const struct twtrace_record *r,
		    int cpu)
{
	ev_line(f, r, cpu);
}

/* The stream's events as JSON: one object per line. */

static void json_ns(const char *key, __u64 ns, bool known)
{
	if (known)
		printf(",\"%s\":%llu", key, ns);
	else
		printf(",\"%s\":null", key);
}

static void json_bool(const char *key, bool v)
{
	printf(",\"%s\":%s", key, v ? "true" : "false");
}

/*
 * A failed connect: errno (positive, as errno(3) has it), the size of its
 * port range (null if it was bound), the TIME_WAIT sockets it met and
 * their reuse decisions by reason (null if not counted).
 */
static void json_connect(const struct twtrace_record *r)
{
	bool counted = !(r->flags & TWTRACE_F_UNCOUNTED);
	int i, n = 0;

	/* negated in 64 bits: a corrupt INT_MIN must not overflow */
	printf(",\"errno\":%lld,\"error\":", -(long long)r->connect.err);
	json_str(stdout, r->connect.err == -EADDRNOTAVAIL ? "EADDRNOTAVAIL" :
		 r->connect.err == -EADDRINUSE ? "EADDRINUSE" : "");
	if (r->connect.ports)
		printf(",\"ports\":%u", r->connect.ports);
	else
		printf(",\"ports\":null");
	if (!counted) {
		printf(",\"tw_seen\":null,\"reasons\":null");
		return;
	}
	printf(",\"tw_seen\":%u,\"reasons\":{", r->connect.tw_seen);
	for (i = 0; i < TWTRACE_REUSE_NR; i++)
		if (r->connect.reasons[i])
			printf("%s\"%s\":%u", n++ ? "," : "", tw_reuse_names[i],
			       r->connect.reasons[i]);
	printf("}");
}

void fmt_event_json(const struct twtrace_record *r, int cpu)
{
	char a[64];

	printf("{\"ts_ns\":%llu,\"cpu\":", r->ts_ns);
	if (cpu >= 0)
		printf("%d", cpu);
	else
		printf("null");
	printf(",\"seq\":%llu,\"event\":\"%s\",\"netns\":%u,\"family\":%u",
	       r->seq, tw_event_names[r->type], r->netns, r->family);
	fmt_addr(a, sizeof(a), r->family, r->saddr);
	printf(",\"saddr\":");
	json_str(stdout, a);
	printf(",\"sport\":%u", r->sport);
	fmt_addr(a, sizeof(a), r->family, r->daddr);
	printf(",\"daddr\":");
	json_str(stdout, a);
	printf(",\"dport\":%u", r->dport);
	if (r->type == TWTRACE_EV_CONNECT_FAIL)
		printf(",\"substate\":null");
	else
		printf(",\"substate\":\"%s\"", tw_substate_name(r->substate));
	json_ns("tw_id", r->tw_id, r->tw_id != 0);
	fmt_owner_json(&r->owner);

	switch (r->type) {
	case TWTRACE_EV_BIRTH:
		printf(",\"timeo_ms\":%u", r->birth.timeo_ms);
		break;
	case TWTRACE_EV_REARM:
		printf(",\"timeo_ms\":%u,\"old_substate\":\"%s\",\"rearms\":%u",
		       r->rearm.timeo_ms,
		       tw_substate_name(r->rearm.old_substate), r->rearms);
		break;
	case TWTRACE_EV_DEATH:
		printf(",\"reason\":\"%s\"", tw_death_names[r->reason]);
		json_ns("lifetime_ns", r->death.lifetime_ns,
			death_life_known(r));
		printf(",\"rearms\":%u", r->rearms);
		json_ns("fin_wait2_ns", r->death.fin_wait2_ns,
			death_life_known(r) &&
			record_ns_known(r->death.fin_wait2_ns));
		json_bool("born_before_load",
			  r->flags & TWTRACE_F_BORN_BEFORE_LOAD);
		json_bool("untracked", r->flags & TWTRACE_F_UNTRACKED);
		json_bool("no_tuple", r->flags & TWTRACE_F_NO_TUPLE);
		break;
	case TWTRACE_EV_REUSE:
		json_bool("allowed", r->flags & TWTRACE_F_ALLOWED);
		printf(",\"reason\":\"%s\"", tw_reuse_names[r->reason]);
		json_ns("age_ns", r->reuse.age_ns,
			record_ns_known(r->reuse.age_ns));
		printf(",\"tw_reuse\":%u", r->reuse_sysctl);
		/* 0: recorded by a module that did not know the delay. */
		if (r->reuse.delay_ms)
			printf(",\"reuse_delay_ms\":%u", r->reuse.delay_ms);
		else
			printf(",\"reuse_delay_ms\":null");
		json_bool("tuple_differs", r->flags & TWTRACE_F_TUPLE_DIFFERS);
		break;
	case TWTRACE_EV_OVERFLOW:
		printf(",\"reason\":\"%s\",\"tw_count\":%u,\"tw_limit\":%u",
		       tw_overflow_names[r->reason], r->overflow.tw_count,
		       r->overflow.tw_limit);
		break;
	case TWTRACE_EV_CONNECT_FAIL:
		json_connect(r);
		break;
	}
	printf("}\n");
}
