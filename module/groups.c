// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace: the counters of each owner group, a (netns, cgroup v2 id) pair.
 *
 * The stats file counts every event once; this file counts it once more,
 * in the group of the socket it is about: births and live TIME_WAIT
 * sockets, deaths by reason, reuse decisions allowed and refused,
 * overflows and failed connects.  Prometheus exports them per group, and
 * "twtrace top -g cgroup" reads them without taking records from the
 * rings.
 *
 * Groups are made by the probes the first time their key is seen, and
 * stay until the unload: at most "groups" of them (a module parameter).
 * Once they are all taken, a new key's events go to the "other" group,
 * index 0, which has no key.  The hash of the keys is open-addressed,
 * with twice the slots there are groups, so that a probe sequence always
 * ends at a free slot.  Lookups are lock-free; insertions, rare, take a
 * raw spinlock with interrupts off, which any probe may take, and publish
 * the slot's group index last (release) after its key, so that a lookup
 * that sees the index sees the key.
 * The counters are per CPU, in chunks of TWTRACE_GROUP_CHUNK groups (7.5
 * KiB): the per-CPU allocator takes at most 32 KiB at a time.
 */
#include "twtrace.h"

#include <linux/cpumask.h>
#include <linux/errno.h>
#include <linux/jhash.h>
#include <linux/kernel.h>
#include <linux/kprobes.h>
#include <linux/log2.h>
#include <linux/moduleparam.h>
#include <linux/percpu.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>

static unsigned int twtrace_max_groups = TWTRACE_GROUPS_DEFAULT;
module_param_named(groups, twtrace_max_groups, uint, 0444);
MODULE_PARM_DESC(groups,
		 "Most (netns, cgroup) groups counted apart (0-"
		 __stringify(TWTRACE_GROUPS_MAX)
		 "); the events of more are counted as \"other\"");

#define TWTRACE_GROUP_CHUNK	64

struct twtrace_gkey {
	u64 cgroup;
	u32 netns;
};

struct twtrace_gcount {
	u64 c[TWTRACE_G_NR];
};

static u16 *twtrace_gslots;		/* group index, 0: free */
static unsigned int twtrace_gslot_mask;
static struct twtrace_gkey *twtrace_gkeys;	/* by group index */
static struct twtrace_gcount __percpu **twtrace_gchunks;
static unsigned int twtrace_groups_used;	/* under the lock */
static DEFINE_RAW_SPINLOCK(twtrace_groups_lock);

static unsigned int nr_chunks(void)
{
	return DIV_ROUND_UP(twtrace_max_groups + 1, TWTRACE_GROUP_CHUNK);
}

int twtrace_groups_init(void)
{
	unsigned int i, slots;

	if (twtrace_max_groups > TWTRACE_GROUPS_MAX) {
		pr_err("groups=%u: at most %u\n", twtrace_max_groups,
		       TWTRACE_GROUPS_MAX);
		return -EINVAL;
	}
	slots = roundup_pow_of_two(2 * max(twtrace_max_groups, 1U));
	twtrace_gslots = kcalloc(slots, sizeof(*twtrace_gslots), GFP_KERNEL);
	if (!twtrace_gslots)
		goto err;
	twtrace_gslot_mask = slots - 1;
	twtrace_gkeys = kcalloc(twtrace_max_groups + 1, sizeof(*twtrace_gkeys),
				GFP_KERNEL);
	if (!twtrace_gkeys)
		goto err_slots;
	twtrace_gchunks = kcalloc(nr_chunks(), sizeof(*twtrace_gchunks),
				  GFP_KERNEL);
	if (!twtrace_gchunks)
		goto err_keys;
	for (i = 0; i < nr_chunks(); i++) {
		twtrace_gchunks[i] = __alloc_percpu(TWTRACE_GROUP_CHUNK *
						    sizeof(struct twtrace_gcount),
						    __alignof__(u64));
		if (!twtrace_gchunks[i])
			goto err_chunks;
	}
	return 0;

err_chunks:
	while (i--)
		free_percpu(twtrace_gchunks[i]);
	kfree(twtrace_gchunks);
	twtrace_gchunks = NULL;
err_keys:
	kfree(twtrace_gkeys);
	twtrace_gkeys = NULL;
err_slots:
	kfree(twtrace_gslots);
	twtrace_gslots = NULL;
err:
	return -ENOMEM;
}

void twtrace_groups_exit(void)
{
	unsigned int i;

	for (i = 0; i < nr_chunks(); i++)
		free_percpu(twtrace_gchunks[i]);
	kfree(twtrace_gchunks);
	twtrace_gchunks = NULL;
	kfree(twtrace_gkeys);
	twtrace_gkeys = NULL;
	kfree(twtrace_gslots);
	twtrace_gslots = NULL;
}

static u32 group_hash(u32 netns, u64 cgroup)
{
	return jhash_3words(netns, (u32)cgroup, (u32)(cgroup >> 32), 0);
}

NOKPROBE_SYMBOL(group_hash);

/* The slot that holds the key's index, or the free one where it would go. */
static u16 *group_slot(u32 netns, u64 cgroup, u16 *idx)
{
	u32 i = group_hash(netns, cgroup);
	const struct twtrace_gkey *k;
	u16 *s;

	for (;; i++) {
		s = &twtrace_gslots[i & twtrace_gslot_mask];
		/* Pairs with the release in twtrace_group_of(): the key. */
		*idx = smp_load_acquire(s);
		if (!*idx)
			return s;
		k = &twtrace_gkeys[*idx];
		if (k->netns == netns && k->cgroup == cgroup)
			return s;
	}
}

NOKPROBE_SYMBOL(group_slot);

/*
 * The group of (@netns, @cgroup), made if new: its index for
 * twtrace_group_count(), 0 for "other".
 */
u16 twtrace_group_of(u32 netns, u64 cgroup)
{
	unsigned long flags;
	u16 idx, *s;

	s = group_slot(netns, cgroup, &idx);
	if (idx)
		return idx;
	/* All taken: "other", without the lock every event would take. */
	if (READ_ONCE(twtrace_groups_used) >= twtrace_max_groups)
		return 0;
	raw_spin_lock_irqsave(&twtrace_groups_lock, flags);
	s = group_slot(netns, cgroup, &idx);
	if (!idx && twtrace_groups_used < twtrace_max_groups) {
		idx = twtrace_groups_used + 1;
		twtrace_gkeys[idx].netns = netns;
		twtrace_gkeys[idx].cgroup = cgroup;
		/* The key, then the index: see group_slot(). */
		smp_store_release(s, idx);
		/* The key, then the count: see twtrace_groups_count(). */
		smp_store_release(&twtrace_groups_used, idx);
	}
	raw_spin_unlock_irqrestore(&twtrace_groups_lock, flags);
	return idx;
}

NOKPROBE_SYMBOL(twtrace_group_of);

static struct twtrace_gcount __percpu *group_counters(u16 idx)
{
	return twtrace_gchunks[idx / TWTRACE_GROUP_CHUNK] +
	       idx % TWTRACE_GROUP_CHUNK;
}

NOKPROBE_SYMBOL(group_counters);

void twtrace_group_count(u16 idx, enum twtrace_gcounter c)
{
	this_cpu_inc(group_counters(idx)->c[c]);
}

NOKPROBE_SYMBOL(twtrace_group_count);

/* A tracked tw left the group: live is a sum of +1s and -1s. */
void twtrace_group_live_dec(u16 idx)
{
	this_cpu_dec(group_counters(idx)->c[TWTRACE_G_LIVE]);
}

NOKPROBE_SYMBOL(twtrace_group_live_dec);

unsigned int twtrace_groups_count(void)
{
	/* Pairs with twtrace_group_of()'s release: the keys are written. */
	return smp_load_acquire(&twtrace_groups_used);
}

unsigned int twtrace_groups_max(void)
{
	return twtrace_max_groups;
}

/*
 * Group @idx, 0 (other) to twtrace_groups_count(): its key (0, 0 for
 * other) and its counters summed over the CPUs.  Groups never go away,
 * and the count is read after their keys are written (release, acquire):
 * no lock is needed.
 */
void twtrace_group_read(u16 idx, u32 *netns, u64 *cgroup,
			u64 c[TWTRACE_G_NR])
{
	struct twtrace_gcount __percpu *p = group_counters(idx);
	unsigned int i;
	int cpu;

	*netns = twtrace_gkeys[idx].netns;
	*cgroup = twtrace_gkeys[idx].cgroup;
	memset(c, 0, TWTRACE_G_NR * sizeof(*c));
	for_each_possible_cpu(cpu)
		for (i = 0; i < TWTRACE_G_NR; i++)
			c[i] += READ_ONCE(per_cpu_ptr(p, cpu)->c[i]);
}

/*
 * Zero every counter but the live ones, which count sockets, not events.
 * Not atomic against the probes, as twtrace_stats_reset() is not.
 */
void twtrace_groups_reset(void)
{
	struct twtrace_gcount *g;
	unsigned int i;
	int cpu;

	for (i = 0; i <= twtrace_max_groups; i++) {
		for_each_possible_cpu(cpu) {
			g = per_cpu_ptr(group_counters(i), cpu);
			memset(&g->c[TWTRACE_G_LIVE + 1], 0,
			       sizeof(g->c) - sizeof(g->c[0]));
		}
	}
}
