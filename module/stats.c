// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace: per-CPU event counters and log2 histograms.
 *
 * Every event is counted here, whatever happens to its record, so the
 * "stats" and "hist" files are exact even when the rings drop records.
 * Probes only increment their own CPU's copy; readers sum at read time.
 */
#include "twtrace.h"

#include <linux/cpumask.h>
#include <linux/errno.h>
#include <linux/log2.h>
#include <linux/seq_file.h>
#include <linux/string.h>


/* Dynamic: too large for the modules' static per-CPU reserve. */
struct twtrace_cpu_stats __percpu *twtrace_stats;

static const char * const death_names[] = TWTRACE_DEATH_NAMES;
static const char * const reuse_names[] = TWTRACE_REUSE_NAMES;
static const char * const overflow_names[] = TWTRACE_OVERFLOW_NAMES;

int twtrace_stats_init(void)
{
	twtrace_stats = alloc_percpu(struct twtrace_cpu_stats);
	return twtrace_stats ? 0 : -ENOMEM;
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

void twtrace_hist_lifetime(enum twtrace_death_reason r, u64 ns)
{
	this_cpu_inc(twtrace_stats->lifetime[r][hist_bucket(ns)]);
}

void twtrace_hist_reuse_age(u64 ns)
{
	this_cpu_inc(twtrace_stats->reuse_age[hist_bucket(ns)]);
}

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
}

int twtrace_stats_show(struct seq_file *m, void *unused)
{
	u64 lost = 0;
	int i, cpu;

	seq_printf(m, "births %llu\n", twtrace_counter_sum(TWTRACE_C_BIRTHS));
	seq_printf(m, "rearms %llu\n", twtrace_counter_sum(TWTRACE_C_REARMS));
	for (i = 0; i < TWTRACE_DEATH_NR; i++)
		seq_printf(m, "death_%s %llu\n", death_names[i],
			   twtrace_counter_sum(TWTRACE_C_DEATH + i));
	for (i = 0; i < TWTRACE_REUSE_NR; i++)
		seq_printf(m, "reuse_%s %llu\n", reuse_names[i],
			   twtrace_counter_sum(TWTRACE_C_REUSE + i));
	for (i = 0; i < TWTRACE_OVERFLOW_NR; i++)
		seq_printf(m, "overflow_%s %llu\n", overflow_names[i],
			   twtrace_counter_sum(TWTRACE_C_OVERFLOW + i));
	seq_printf(m, "born_before_load %llu\n",
		   twtrace_counter_sum(TWTRACE_C_BORN_BEFORE_LOAD));
	seq_printf(m, "untracked %llu\n",
		   twtrace_counter_sum(TWTRACE_C_UNTRACKED));
	seq_printf(m, "live %u\n", twtrace_table_count());
	seq_printf(m, "records %llu\n", twtrace_counter_sum(TWTRACE_C_RECORDS));
	for_each_possible_cpu(cpu)
		lost += twtrace_ring_lost_cpu(cpu);
	seq_printf(m, "lost %llu\n", lost);
	for_each_possible_cpu(cpu)
		seq_printf(m, "lost_cpu%d %llu\n", cpu,
			   twtrace_ring_lost_cpu(cpu));
	seq_printf(m, "probe_misses %lu\n", twtrace_probes_nmissed());
	return 0;
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

int twtrace_hist_show(struct seq_file *m, void *unused)
{
	int r, b;
	u64 n;

	for (r = 0; r < TWTRACE_DEATH_NR; r++) {
		for (b = 0; b < TWTRACE_HIST_BUCKETS; b++) {
			n = hist_sum(lifetime_of, r, b);
			if (n)
				seq_printf(m, "lifetime %s %d %llu\n",
					   death_names[r], b, n);
		}
	}
	for (b = 0; b < TWTRACE_HIST_BUCKETS; b++) {
		n = hist_sum(reuse_age_of, 0, b);
		if (n)
			seq_printf(m, "reuse_age %d %llu\n", b, n);
	}
	return 0;
}
