// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace: make the TCP TIME_WAIT state observable.
 *
 * Module init and exit.  Each module parameter lives in the file of the
 * subsystem that uses it.  Init sets up where events go (counters, live
 * table, rings) before the probes that produce them, and the debugfs files
 * last.  Exit stops the producers first (the probes), then releases the
 * readers and removes the files, then frees what they used; every init
 * failure path unwinds in the reverse order of init.
 */
#include "twtrace.h"

#include <linux/build_bug.h>
#include <linux/module.h>
#include <linux/stddef.h>

static int __init twtrace_init(void)
{
	int ret;

	/* The record grows only at its end (uapi/linux/twtrace.h). */
	BUILD_BUG_ON(offsetof(struct twtrace_record, owner) !=
		     TWTRACE_RECORD_SIZE_MIN);
	BUILD_BUG_ON(sizeof(struct twtrace_record) != 152);
	BUILD_BUG_ON(sizeof(struct twtrace_tw) > 56);

	ret = twtrace_stats_init();
	if (ret)
		goto err;
	ret = twtrace_groups_init();
	if (ret)
		goto err_stats;
	ret = twtrace_table_init();
	if (ret)
		goto err_groups;
	ret = twtrace_ring_init();
	if (ret)
		goto err_table;
	ret = twtrace_probes_register();
	if (ret)
		goto err_ring;
	/* Last: no file may be opened on a half-initialised module. */
	ret = twtrace_debugfs_init();
	if (ret)
		goto err_probes;

	pr_info("version %s (record ABI %u) loaded\n",
		TWTRACE_VERSION, TWTRACE_ABI_VERSION);
	return 0;

err_probes:
	twtrace_probes_unregister();
err_ring:
	twtrace_ring_stop();
	twtrace_ring_exit();
err_table:
	twtrace_table_exit();
err_groups:
	twtrace_groups_exit();
err_stats:
	twtrace_stats_exit();
err:
	return ret;
}

static void __exit twtrace_exit(void)
{
	twtrace_probes_unregister();	/* waits for running handlers */
	twtrace_ring_stop();
	twtrace_debugfs_exit();
	twtrace_ring_exit();
	twtrace_table_exit();
	twtrace_groups_exit();
	twtrace_stats_exit();
	pr_info("unloaded\n");
}

module_init(twtrace_init);
module_exit(twtrace_exit);

MODULE_DESCRIPTION("Observe the TCP TIME_WAIT lifecycle");
MODULE_AUTHOR("The twtrace developers");
MODULE_LICENSE("GPL");
MODULE_VERSION(TWTRACE_VERSION);
