/* SPDX-License-Identifier: GPL-2.0 */
/*
 * twtrace: internal interfaces between the module's files.
 *
 * Calls go one way, down: main.c and debugfs.c on top, then probes.c, then
 * table.c, ring.c and record.c, then stats.c (Documentation/internals.rst,
 * "Layout").  Only debugfs.c prints to the debugfs files, through the
 * getters and iterators declared here; only compat.h knows kernel versions.
 */
#ifndef _TWTRACE_H
#define _TWTRACE_H

/*
 * Every message the module prints starts with "twtrace: ".  This header
 * comes first in every .c file, before any kernel header brings in the
 * default pr_fmt (a later definition would be a redefinition warning).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kprobes.h>
#include <linux/llist.h>
#include <linux/percpu.h>
#include <linux/refcount.h>
#include <linux/rhashtable-types.h>
#include <linux/types.h>
#include <uapi/linux/twtrace.h>

struct file;
struct inet_timewait_sock;
struct poll_table_struct;
struct sock;
struct sock_common;

/*
 * stats.c: per-CPU counters and log2 histograms.  Every event is counted
 * here whatever happens to its record, so "stats" and "hist" are exact.
 */
enum twtrace_counter {
	TWTRACE_C_BIRTHS,
	TWTRACE_C_REARMS,
	TWTRACE_C_DEATH,	/* + enum twtrace_death_reason */
	TWTRACE_C_REUSE = TWTRACE_C_DEATH + TWTRACE_DEATH_NR,
	TWTRACE_C_OVERFLOW = TWTRACE_C_REUSE + TWTRACE_REUSE_NR,
	TWTRACE_C_CONNECT_FAIL = TWTRACE_C_OVERFLOW + TWTRACE_OVERFLOW_NR,
	TWTRACE_C_BORN_BEFORE_LOAD,
	TWTRACE_C_UNTRACKED,
	TWTRACE_C_RECORDS,	/* records produced for the rings */
	TWTRACE_C_NR
};

struct twtrace_cpu_stats {
	u64 c[TWTRACE_C_NR];
	u64 lifetime[TWTRACE_DEATH_NR][TWTRACE_HIST_BUCKETS];
	u64 reuse_age[TWTRACE_HIST_BUCKETS];
};

extern struct twtrace_cpu_stats __percpu *twtrace_stats;

static nokprobe_inline void twtrace_count(enum twtrace_counter c)
{
	this_cpu_inc(twtrace_stats->c[c]);
}

int twtrace_stats_init(void);
void twtrace_stats_exit(void);

void twtrace_hist_lifetime(enum twtrace_death_reason r, u64 ns);
void twtrace_hist_reuse_age(u64 ns);
u64 twtrace_counter_sum(enum twtrace_counter c);
u64 twtrace_hist_lifetime_sum(enum twtrace_death_reason r, unsigned int b);
u64 twtrace_hist_reuse_age_sum(unsigned int b);
void twtrace_stats_reset(void);
u64 twtrace_stats_loaded_ns(void);
u64 twtrace_stats_since_ns(void);

/*
 * groups.c: the same events counted again per (netns, cgroup) group, for
 * the groups file.  Index 0 is "other", where the events of groups beyond
 * the groups parameter go.  TWTRACE_G_LIVE comes first: a reset keeps it.
 */
#define TWTRACE_GROUPS_DEFAULT	256
#define TWTRACE_GROUPS_MAX	4096

enum twtrace_gcounter {
	TWTRACE_G_LIVE,		/* tracked births less their deaths */
	TWTRACE_G_BIRTHS,
	TWTRACE_G_REARMS,
	TWTRACE_G_DEATH,	/* + enum twtrace_death_reason */
	TWTRACE_G_REUSE_ALLOWED = TWTRACE_G_DEATH + TWTRACE_DEATH_NR,
	TWTRACE_G_REUSE_REFUSED,
	TWTRACE_G_OVERFLOW,
	TWTRACE_G_CONNECT_FAIL,
	TWTRACE_G_NR
};

int twtrace_groups_init(void);
void twtrace_groups_exit(void);
u16 twtrace_group_of(u32 netns, u64 cgroup);
void twtrace_group_count(u16 idx, enum twtrace_gcounter c);
void twtrace_group_live_dec(u16 idx);
unsigned int twtrace_groups_count(void);
unsigned int twtrace_groups_max(void);
void twtrace_group_read(u16 idx, u32 *netns, u64 *cgroup,
			u64 c[TWTRACE_G_NR]);
void twtrace_groups_reset(void);

/*
 * table.c: the live TIME_WAIT sockets, keyed by the tw pointer, which never
 * leaves the kernel: readers see the entry's id.
 *
 * 56 bytes an entry.  The table holds one reference, every user found by
 * twtrace_table_get() another; the last put hands the entry to call_rcu().
 * Only holders of a reference read the payload, so the rcu_head shares its
 * place: lookups that still find the entry meanwhile use only node, tw and
 * ref, and refcount_inc_not_zero() keeps them from the rest.
 */
struct twtrace_tw {
	union {
		struct rhash_head node;
		struct llist_node free;	/* in a pool (PREEMPT_RT) */
	};
	const struct inet_timewait_sock *tw;	/* key */
	refcount_t ref;
	u32 id;			/* low half of the id; see twtrace_tw_id() */
	union {
		struct {
			u64 birth_ns;
			u32 fin_wait2_us;	/* time in FIN_WAIT2, once left */
			u16 rearms;		/* saturating */
			u8 substate;		/* as last seen by a probe */
			u8 pending;		/* death reason decided early, + 1 */
			/* The owner, but its cookie: the tw has that. */
			u8 role;		/* TWTRACE_ROLE_UNKNOWN: none */
			u8 live_counted;	/* in its group's live count */
			u16 group;		/* its group + 1, 0: none yet */
			u32 uid;
			u64 cgroup;
		};
		struct rcu_head rcu;	/* after the last put */
	};
};

int twtrace_table_init(void);
void twtrace_table_exit(void);
u64 twtrace_table_insert(const struct inet_timewait_sock *tw, u64 now,
			 u8 substate);
struct twtrace_tw *twtrace_table_get(const struct inet_timewait_sock *tw);
void twtrace_table_put(struct twtrace_tw *e);
void twtrace_table_remove(struct twtrace_tw *e);
u64 twtrace_tw_id(const struct twtrace_tw *e);

/* The entry's part of a record's owner; the cookie comes from the tw. */
static nokprobe_inline void twtrace_tw_owner(const struct twtrace_tw *e,
					     struct twtrace_owner *o)
{
	o->role = e->role;
	o->uid = e->uid;
	o->cgroup = e->cgroup;
}

unsigned int twtrace_table_count(void);
void twtrace_table_for_each(void (*fn)(const struct twtrace_tw *e, void *arg),
			    void *arg);

/*
 * ring.c: per-CPU ring buffers and their readers' wait queues.  The bounds
 * of the ring size hold for the ring_kb module parameter and the debugfs
 * control alike.
 */
#define TWTRACE_RING_KB_MIN	4
#define TWTRACE_RING_KB_MAX	65536
#define TWTRACE_RING_KB_DEFAULT	960	/* 1 MiB with the ring's own pages */

int twtrace_ring_init(void);
void twtrace_ring_stop(void);
void twtrace_ring_exit(void);
void twtrace_ring_emit(struct twtrace_record *rec);
bool twtrace_ring_recording(void);
void twtrace_ring_set_recording(bool on);
unsigned int twtrace_ring_kb(void);
int twtrace_ring_resize(unsigned int kb);
void twtrace_ring_set_overwrite(bool on);
bool twtrace_ring_overwrite(void);
u64 twtrace_ring_lost_cpu(int cpu);
void twtrace_ring_reset_lost(void);
ssize_t twtrace_ring_read(int cpu, char __user *ubuf, size_t count,
			  bool nonblock);
__poll_t twtrace_ring_poll(int cpu, struct file *file,
			   struct poll_table_struct *wait);

/* record.c: the socket identity and owner in a record. */
void twtrace_fill_tuple(struct twtrace_record *rec,
			const struct sock_common *skc, u16 lport);
void twtrace_fill_owner(struct twtrace_owner *o, struct sock *sk,
			bool connecting);
void twtrace_fill_tw(struct twtrace_record *rec,
		     const struct inet_timewait_sock *tw, u8 type);

/* probes.c: the probes, their hits and what they classify. */
struct twtrace_probe_info {
	const char *symbol;
	bool attached;
	unsigned long hits;
	unsigned long missed;
	const char *fires;	/* "yes", "no" or "never" */
};

int twtrace_probes_register(void);
void twtrace_probes_unregister(void);
unsigned long twtrace_probes_nmissed(void);
bool twtrace_probe_info(unsigned int i, struct twtrace_probe_info *info);

/* debugfs.c: every file, on top of the getters above; main.c its only user. */
int twtrace_debugfs_init(void);
void twtrace_debugfs_exit(void);

#endif /* _TWTRACE_H */
