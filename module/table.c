// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace: the live table, one entry per TIME_WAIT socket born while the
 * module is loaded, keyed by the tw pointer (rhashtable).
 *
 * Entries are inserted when the tw is allocated (6.11+) or born (older; see
 * TWTRACE_ENTRY_AT_ALLOC), before it is hashed, and removed at the death
 * (or, if the kill was missed, at the final free).  Probes and the "live"
 * file take a reference to use one (twtrace_table_get()); the last
 * reference frees it after an RCU grace period, since lookups walk the
 * table under rcu_read_lock().  The tw pointer never leaves the kernel:
 * readers see the entry's id.
 */
#include <linux/atomic.h>
#include <linux/rcupdate.h>
#include <linux/refcount.h>
#include <linux/rhashtable.h>
#include <linux/slab.h>
#include <net/inet_timewait_sock.h>
#include <net/net_namespace.h>

#include "compat.h"
#include "twtrace.h"

static struct rhashtable twtrace_table;
static struct kmem_cache *twtrace_tw_cache;
static atomic_t twtrace_tracked = ATOMIC_INIT(0);
static atomic64_t twtrace_last_id = ATOMIC64_INIT(0);

static const struct rhashtable_params twtrace_table_params = {
	.key_len		= sizeof(const struct inet_timewait_sock *),
	.key_offset		= offsetof(struct twtrace_tw, tw),
	.head_offset		= offsetof(struct twtrace_tw, node),
	.automatic_shrinking	= true,
};

int twtrace_table_init(void)
{
	int ret;

	twtrace_tw_cache = KMEM_CACHE(twtrace_tw, 0);
	if (!twtrace_tw_cache)
		return -ENOMEM;
	ret = rhashtable_init(&twtrace_table, &twtrace_table_params);
	if (ret)
		goto err_cache;
	return 0;

err_cache:
	kmem_cache_destroy(twtrace_tw_cache);
	return ret;
}

static void twtrace_tw_free(void *ptr, void *arg)
{
	kmem_cache_free(twtrace_tw_cache, ptr);
}

static void twtrace_tw_free_rcu(struct rcu_head *head)
{
	twtrace_tw_free(container_of(head, struct twtrace_tw, rcu), NULL);
}

/* After the probes and the files are gone: nobody holds a reference. */
void twtrace_table_exit(void)
{
	rhashtable_free_and_destroy(&twtrace_table, twtrace_tw_free, NULL);
	rcu_barrier();	/* entries whose last put was a call_rcu() */
	kmem_cache_destroy(twtrace_tw_cache);
}

/* @tw's entry with a reference, or NULL.  Caller holds rcu_read_lock(). */
struct twtrace_tw *twtrace_table_get(const struct inet_timewait_sock *tw)
{
	struct twtrace_tw *e;

	e = rhashtable_lookup(&twtrace_table, &tw, twtrace_table_params);
	if (e && !refcount_inc_not_zero(&e->ref))
		return NULL;	/* removed, its last user is letting go */
	return e;
}

void twtrace_table_put(struct twtrace_tw *e)
{
	if (refcount_dec_and_test(&e->ref))
		call_rcu(&e->rcu, twtrace_tw_free_rcu);
}

/* Unlink @e, whose reference the caller holds, and drop the table's. */
void twtrace_table_remove(struct twtrace_tw *e)
{
	/* Only the one who unlinks it drops the table's reference. */
	if (rhashtable_remove_fast(&twtrace_table, &e->node,
				   twtrace_table_params))
		return;
	atomic_dec(&twtrace_tracked);
	twtrace_table_put(e);
}

/*
 * The entry keeps the low 32 bits of its id; the high ones follow from the
 * last id handed out, as TCP extends its sequence numbers: fewer than 2^31
 * births happen during one TIME_WAIT socket's life.  The signed distance
 * also copes with a last id read older than the entry's own.
 */
u64 twtrace_tw_id(const struct twtrace_tw *e)
{
	u64 last = atomic64_read(&twtrace_last_id);

	return last + (s32)(e->id - (u32)last);
}

/* Take one of the max_tracked places, if one is free. */
static bool twtrace_table_reserve(void)
{
	int n = atomic_read(&twtrace_tracked);

	do {
		if ((unsigned int)n >= READ_ONCE(twtrace_max_tracked))
			return false;
	} while (!atomic_try_cmpxchg(&twtrace_tracked, &n, n + 1));
	return true;
}

/*
 * A new entry for @tw, not hashed yet: its id, or 0 when the table is at
 * its bound or memory is short (the birth then counts as untracked).  The
 * entry may die as soon as it is in the table: it is not returned.  Caller
 * holds rcu_read_lock().
 */
u64 twtrace_table_insert(const struct inet_timewait_sock *tw, u64 now,
			 u8 substate)
{
	struct twtrace_tw *e, *old;
	u64 id;

	if (!twtrace_table_reserve())
		goto untracked;
	e = kmem_cache_alloc(twtrace_tw_cache, GFP_ATOMIC | __GFP_NOWARN);
	if (!e)
		goto unreserve;
	id = atomic64_inc_return(&twtrace_last_id);
	e->tw = tw;
	refcount_set(&e->ref, 1);	/* the table's */
	e->id = (u32)id;
	e->birth_ns = now;
	e->fin_wait2_us = 0;
	e->rearms = 0;
	e->substate = substate;
	e->pending = 0;

	old = rhashtable_lookup_get_insert_fast(&twtrace_table, &e->node,
						twtrace_table_params);
	if (!old)
		return id;
	if (!IS_ERR(old) && refcount_inc_not_zero(&old->ref)) {
		/* A stale entry: its tw died unseen and the slab reused it. */
		twtrace_table_remove(old);
		twtrace_table_put(old);
		if (!rhashtable_insert_fast(&twtrace_table, &e->node,
					    twtrace_table_params))
			return id;
	}
	kmem_cache_free(twtrace_tw_cache, e);
unreserve:
	atomic_dec(&twtrace_tracked);
untracked:
	return 0;
}

unsigned int twtrace_table_count(void)
{
	return atomic_read(&twtrace_tracked);
}

static void show_addr(struct seq_file *m, const struct twtrace_record *r,
		      const u8 *addr, u16 port)
{
	if (r->family == 6)
		seq_printf(m, " [%pI6c]:%u", addr, port);
	else
		seq_printf(m, " %pI4:%u", addr, port);
}

/*
 * The "live" file.  The tw memory is SLAB_TYPESAFE_BY_RCU (TCP's slab), so
 * reading it under RCU is safe even if it dies meanwhile.
 */
int twtrace_live_show(struct seq_file *m, void *unused)
{
	struct rhashtable_iter iter;
	struct twtrace_record r;
	struct twtrace_tw *e;
	u64 now = ktime_get_ns();

	seq_puts(m, "# id netns family local remote substate age_ns rearms\n");
	rhashtable_walk_enter(&twtrace_table, &iter);
	rhashtable_walk_start(&iter);
	while ((e = rhashtable_walk_next(&iter))) {
		/* -EAGAIN: a resize, keep walking; or a dying entry */
		if (IS_ERR(e) || !refcount_inc_not_zero(&e->ref))
			continue;
		/* Allocated, not hashed yet: not a TIME_WAIT socket so far. */
		if (!refcount_read(&e->tw->tw_refcnt)) {
			twtrace_table_put(e);
			continue;
		}
		twtrace_fill_tw(&r, e->tw, 0);
		seq_printf(m, "%llu %u %u", twtrace_tw_id(e), r.netns, r.family);
		show_addr(m, &r, r.saddr, r.sport);
		show_addr(m, &r, r.daddr, r.dport);
		seq_printf(m, " %s %llu %u\n",
			   READ_ONCE(e->substate) == TWTRACE_SUBSTATE_FIN_WAIT2 ?
			   "FIN_WAIT2" : "TIME_WAIT",
			   now > e->birth_ns ? now - e->birth_ns : 0,
			   READ_ONCE(e->rearms));
		twtrace_table_put(e);
	}
	rhashtable_walk_stop(&iter);
	rhashtable_walk_exit(&iter);
	return 0;
}
