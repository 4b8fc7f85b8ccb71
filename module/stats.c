// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace: per-CPU event counters and log2 histograms.
 *
 * Every event is counted here, whatever happens to its record, so the
 * "stats" and "hist" files are exact even when the rings drop records.
 * Probes only increment their own CPU's copy; readers sum at read time,
 * through the getters below (debugfs.c prints them).
 */
#include "twtrace.h"

#include <linux/cpumask.h>
#include <linux/errno.h>
#include <linux/kprobes.h>
#include <linux/log2.h>
#include <linux/string.h>
#include <linux/timekeeping.h>

/* Dynamic: too large for the modules' static per-CPU reserve. */
struct twtrace_cpu_stats __percpu *twtrace_stats;

/* CLOCK_REALTIME at the load, and when the counters last started from 0. */
static u64 twtrace_loaded_ns, twtrace_since_ns;

int twtrace_stats_init(void)
{
	twtrace_stats = alloc_percpu(struct twtrace_cpu_stats);
	if (!twtrace_stats)
		return -ENOMEM;
	twtrace_loaded_ns = ktime_get_real_ns();
	WRITE_ONCE(twtrace_since_ns, twtrace_loaded_ns);
	return 0;
}

u64 twtrace_stats_loaded_ns(void)
{
	return twtrace_loaded_ns;
}

u64 twtrace_stats_since_ns(void)
{
	return READ_ONCE(twtrace_since_ns);
}

void twtrace_stats_exit(void)
{
	free_percpu(twtrace_stats);
	twtrace_stats = NULL;
}

static unsigned int hist_bucket(u64 ns)
{
	return ns ? ilog2(ns) : 0;
}

NOKPROBE_SYMBOL(hist_bucket);

void twtrace_hist_lifetime(enum twtrace_death_reason r, u64 ns)
{
	this_cpu_inc(twtrace_stats->lifetime[r][hist_bucket(ns)]);
}

NOKPROBE_SYMBOL(twtrace_hist_lifetime);

void twtrace_hist_reuse_age(u64 ns)
{
	this_cpu_inc(twtrace_stats->reuse_age[hist_bucket(ns)]);
}

NOKPROBE_SYMBOL(twtrace_hist_reuse_age);

u64 twtrace_counter_sum(enum twtrace_counter c)
{
	u64 sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += READ_ONCE(per_cpu_ptr(twtrace_stats, cpu)->c[c]);
	return sum;
}

/*
 * Not atomic against probes running on other CPUs: an event counted while
 * the reset runs may survive it.  Good enough for a debugging reset.
 */
void twtrace_stats_reset(void)
{
	int cpu;

	for_each_possible_cpu(cpu)
		memset(per_cpu_ptr(twtrace_stats, cpu), 0,
		       sizeof(struct twtrace_cpu_stats));
	WRITE_ONCE(twtrace_since_ns, ktime_get_real_ns());
}

static u64 hist_sum(const u64 *(*get)(int cpu, int r), int r, int b)
{
	u64 sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += READ_ONCE(get(cpu, r)[b]);
	return sum;
}

static const u64 *lifetime_of(int cpu, int r)
{
	return per_cpu_ptr(twtrace_stats, cpu)->lifetime[r];
}

static const u64 *reuse_age_of(int cpu, int r)
{
	return per_cpu_ptr(twtrace_stats, cpu)->reuse_age;
}

/* One bucket of a lifetime histogram, summed over the CPUs. */
u64 twtrace_hist_lifetime_sum(enum twtrace_death_reason r, unsigned int b)
{
	return hist_sum(lifetime_of, r, b);
}

/* One bucket of the reuse age histogram, summed over the CPUs. */
u64 twtrace_hist_reuse_age_sum(unsigned int b)
{
	return hist_sum(reuse_age_of, 0, b);
}
