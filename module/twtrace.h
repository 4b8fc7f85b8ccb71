/* SPDX-License-Identifier: GPL-2.0 */
/*
 * twtrace: internal interfaces between the module's files.
 */
#ifndef _TWTRACE_H
#define _TWTRACE_H

#include <linux/percpu.h>
#include <linux/seq_file.h>
#include <uapi/linux/twtrace.h>

struct dentry;

/* stats.c: per-CPU event counters, lossless. */
struct twtrace_cpu_stats {
	u64 c[TWTRACE_C_NR];
};

DECLARE_PER_CPU(struct twtrace_cpu_stats, twtrace_stats);

static inline void twtrace_count(enum twtrace_counter c)
{
	this_cpu_inc(twtrace_stats.c[c]);
}

u64 twtrace_counter_sum(enum twtrace_counter c);
int twtrace_stats_show(struct seq_file *m, void *unused);

/* probes.c */
int twtrace_probes_register(void);
void twtrace_probes_unregister(void);
unsigned long twtrace_probes_nmissed(void);

/* debugfs.c */
int twtrace_debugfs_init(void);
void twtrace_debugfs_exit(void);

#endif /* _TWTRACE_H */
