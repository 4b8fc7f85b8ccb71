// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace: the debugfs interface, /sys/kernel/debug/twtrace/.
 *
 * Read-only files are 0444 and have no mmap or ioctl, so they keep working
 * under lockdown.
 */
#include <linux/debugfs.h>
#include <linux/err.h>
#include <linux/seq_file.h>
#include <linux/utsname.h>

#include "twtrace.h"

static struct dentry *twtrace_dir;

static int version_show(struct seq_file *m, void *unused)
{
	seq_printf(m, "version %s\n", TWTRACE_VERSION);
	seq_printf(m, "abi %u\n", TWTRACE_ABI_VERSION);
	seq_printf(m, "kernel %s\n", init_utsname()->release);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(version);

static int stats_show(struct seq_file *m, void *unused)
{
	return twtrace_stats_show(m, unused);
}
DEFINE_SHOW_ATTRIBUTE(stats);

int twtrace_debugfs_init(void)
{
	struct dentry *dir;

	dir = debugfs_create_dir(TWTRACE_DEBUGFS_DIR, NULL);
	if (IS_ERR(dir))
		return PTR_ERR(dir);

	debugfs_create_file("version", 0444, dir, NULL, &version_fops);
	debugfs_create_file("stats", 0444, dir, NULL, &stats_fops);
	twtrace_dir = dir;
	return 0;
}

void twtrace_debugfs_exit(void)
{
	debugfs_remove_recursive(twtrace_dir);
	twtrace_dir = NULL;
}
