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
 * readers see the entry's id.  twtrace_table_for_each() hands the entries
 * to the "live" file, in debugfs.c.
 *
 * On PREEMPT_RT the slab allocator takes sleeping locks, and the probes
 * that make entries run with preemption disabled: there entries come from
 * a per-CPU pool, filled in process context by a work item that irq_work
 * kicks when a pool runs low.  A probe is the only taker of its CPU's pool
 * (handlers do not nest on a CPU), so llist_del_first() is safe.  An empty
 * pool makes the birth untracked, as a full table does
 * (Documentation/internals.rst, "The PREEMPT_RT entry pool").
 */
#include "twtrace.h"

#include <linux/atomic.h>
#include <linux/irq_work.h>
#include <linux/kprobes.h>
#include <linux/llist.h>
#include <linux/moduleparam.h>
#include <linux/rcupdate.h>
#include <linux/refcount.h>
#include <linux/rhashtable.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/workqueue.h>
#include <net/inet_timewait_sock.h>
#include <net/net_namespace.h>

#include "compat.h"

static unsigned int twtrace_max_tracked = 262144;
module_param_named(max_tracked, twtrace_max_tracked, uint, 0644);
MODULE_PARM_DESC(max_tracked,
		 "Most TIME_WAIT sockets tracked at once (56 bytes each, plus the hash table); more are counted as untracked");

static struct rhashtable twtrace_table;
static struct kmem_cache *twtrace_tw_cache;
static atomic_t twtrace_tracked = ATOMIC_INIT(0);
static atomic64_t twtrace_last_id = ATOMIC64_INIT(0);

#define TWTRACE_POOL_SIZE	1024	/* entries per CPU (PREEMPT_RT) */
#define TWTRACE_POOL_LOW	768	/* refill below this */

struct twtrace_pool {
	struct llist_head free;
	atomic_t n;
};

static DEFINE_PER_CPU(struct twtrace_pool, twtrace_pool);
static struct irq_work twtrace_pool_kick;
static struct work_struct twtrace_pool_work;
static bool twtrace_pool_dying;

static bool pool_used(void)
{
	return IS_ENABLED(CONFIG_PREEMPT_RT);
}

NOKPROBE_SYMBOL(pool_used);

/* Fill every CPU's pool, in process context. */
static void twtrace_pool_fill(struct work_struct *work)
{
	struct twtrace_pool *p;
	struct twtrace_tw *e;
	int cpu;

	for_each_possible_cpu(cpu) {
		p = per_cpu_ptr(&twtrace_pool, cpu);
		while (atomic_read(&p->n) < TWTRACE_POOL_SIZE) {
			e = kmem_cache_alloc(twtrace_tw_cache, GFP_KERNEL);
			if (!e)
				return;
			llist_add(&e->free, &p->free);
			atomic_inc(&p->n);
		}
	}
}

static void twtrace_pool_kicked(struct irq_work *work)
{
	if (!READ_ONCE(twtrace_pool_dying))
		queue_work(system_unbound_wq, &twtrace_pool_work);
}

/* A new entry, from any context a probe runs in; NULL if none. */
static struct twtrace_tw *twtrace_tw_alloc(void)
{
	struct twtrace_pool *p;
	struct llist_node *n;

	if (!pool_used())
		return kmem_cache_alloc(twtrace_tw_cache,
					GFP_ATOMIC | __GFP_NOWARN);
	p = this_cpu_ptr(&twtrace_pool);
	n = llist_del_first(&p->free);
	if (n && atomic_dec_return(&p->n) >= TWTRACE_POOL_LOW)
		return llist_entry(n, struct twtrace_tw, free);
	irq_work_queue(&twtrace_pool_kick);
	return n ? llist_entry(n, struct twtrace_tw, free) : NULL;
}

NOKPROBE_SYMBOL(twtrace_tw_alloc);

/* An entry that never made it into the table, from a probe. */
static void twtrace_tw_unalloc(struct twtrace_tw *e)
{
	struct twtrace_pool *p;

	if (!pool_used()) {
		kmem_cache_free(twtrace_tw_cache, e);
		return;
	}
	p = this_cpu_ptr(&twtrace_pool);
	llist_add(&e->free, &p->free);
	atomic_inc(&p->n);
}

NOKPROBE_SYMBOL(twtrace_tw_unalloc);

static int twtrace_pool_init(void)
{
	int cpu;

	init_irq_work(&twtrace_pool_kick, twtrace_pool_kicked);
	INIT_WORK(&twtrace_pool_work, twtrace_pool_fill);
	if (!pool_used())
		return 0;
	twtrace_pool_fill(NULL);
	for_each_possible_cpu(cpu)
		if (atomic_read(&per_cpu_ptr(&twtrace_pool, cpu)->n) <
		    TWTRACE_POOL_SIZE)
			return -ENOMEM;
	return 0;
}

/* After the probes are gone. */
static void twtrace_pool_exit(void)
{
	struct llist_node *first, *n, *next;
	struct twtrace_pool *p;
	int cpu;

	WRITE_ONCE(twtrace_pool_dying, true);
	irq_work_sync(&twtrace_pool_kick);
	cancel_work_sync(&twtrace_pool_work);
	for_each_possible_cpu(cpu) {
		p = per_cpu_ptr(&twtrace_pool, cpu);
		first = llist_del_all(&p->free);
		llist_for_each_safe(n, next, first)
			kmem_cache_free(twtrace_tw_cache,
					llist_entry(n, struct twtrace_tw, free));
		atomic_set(&p->n, 0);
	}
}

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
	WRITE_ONCE(twtrace_pool_dying, false);
	ret = twtrace_pool_init();
	if (ret)
		goto err_pool;
	return 0;

err_pool:
	twtrace_pool_exit();
	rhashtable_destroy(&twtrace_table);
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
	twtrace_pool_exit();
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

NOKPROBE_SYMBOL(twtrace_table_get);

void twtrace_table_put(struct twtrace_tw *e)
{
	if (refcount_dec_and_test(&e->ref))
		call_rcu(&e->rcu, twtrace_tw_free_rcu);
}

NOKPROBE_SYMBOL(twtrace_table_put);

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

NOKPROBE_SYMBOL(twtrace_table_remove);

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

NOKPROBE_SYMBOL(twtrace_tw_id);

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

NOKPROBE_SYMBOL(twtrace_table_reserve);

/*
 * A new entry for @tw, not hashed yet, with no owner (the hashdance probe
 * fills it in): its id, or 0 when the table is at its
 * bound or memory is short (the birth then counts as untracked).  The
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
	e = twtrace_tw_alloc();
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
	e->role = TWTRACE_ROLE_UNKNOWN;
	e->live_counted = 0;
	e->group = 0;
	e->uid = 0;
	e->cgroup = 0;

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
	twtrace_tw_unalloc(e);
unreserve:
	atomic_dec(&twtrace_tracked);
untracked:
	return 0;
}

NOKPROBE_SYMBOL(twtrace_table_insert);

unsigned int twtrace_table_count(void)
{
	return atomic_read(&twtrace_tracked);
}

/*
 * Call @fn on every entry whose tw is hashed, holding a reference to the
 * entry, under RCU.  The tw memory is SLAB_TYPESAFE_BY_RCU (TCP's slab),
 * so @fn may read it even if the tw dies meanwhile.
 */
void twtrace_table_for_each(void (*fn)(const struct twtrace_tw *e, void *arg),
			    void *arg)
{
	struct rhashtable_iter iter;
	struct twtrace_tw *e;

	rhashtable_walk_enter(&twtrace_table, &iter);
	rhashtable_walk_start(&iter);
	while ((e = rhashtable_walk_next(&iter))) {
		/* -EAGAIN: a resize, keep walking; or a dying entry */
		if (IS_ERR(e) || !refcount_inc_not_zero(&e->ref))
			continue;
		/* Allocated, not hashed yet: not a TIME_WAIT socket so far. */
		if (refcount_read(&e->tw->tw_refcnt))
			fn(e, arg);
		twtrace_table_put(e);
	}
	rhashtable_walk_stop(&iter);
	rhashtable_walk_exit(&iter);
}
