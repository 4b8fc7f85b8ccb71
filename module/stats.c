// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace: per-CPU event counters.
 *
 * Every event is counted here, whatever happens to its record, so the
 * "stats" file is exact even when the rings drop records.
 */
#include <linux/cpumask.h>
#include <linux/seq_file.h>

#include "twtrace.h"

DEFINE_PER_CPU(struct twtrace_cpu_stats, twtrace_stats);

static const char * const twtrace_counter_names[TWTRACE_C_NR] = {
#define TWTRACE_C_NAME(id, name) [TWTRACE_C_##id] = name,
	TWTRACE_COUNTERS(TWTRACE_C_NAME)
#undef TWTRACE_C_NAME
};

u64 twtrace_counter_sum(enum twtrace_counter c)
{
	u64 sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += READ_ONCE(per_cpu(twtrace_stats, cpu).c[c]);
	return sum;
}

int twtrace_stats_show(struct seq_file *m, void *unused)
{
	int i;

	for (i = 0; i < TWTRACE_C_NR; i++)
		seq_printf(m, "%s %llu\n", twtrace_counter_names[i],
			   twtrace_counter_sum(i));
	seq_printf(m, "probe_misses %lu\n", twtrace_probes_nmissed());
	return 0;
}
