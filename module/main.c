// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace: make the TCP TIME_WAIT state observable.
 *
 * Module init and exit.  Init sets up the place events go to before the
 * probes that produce them; exit and every init failure path tear down in
 * the reverse order.
 */
#include <linux/module.h>

#include "twtrace.h"

static int __init twtrace_init(void)
{
	int ret;

	ret = twtrace_debugfs_init();
	if (ret)
		goto err;

	ret = twtrace_probes_register();
	if (ret)
		goto err_debugfs;

	pr_info("twtrace: version %s (record ABI %u) loaded\n",
		TWTRACE_VERSION, TWTRACE_ABI_VERSION);
	return 0;

err_debugfs:
	twtrace_debugfs_exit();
err:
	return ret;
}

static void __exit twtrace_exit(void)
{
	twtrace_probes_unregister();
	twtrace_debugfs_exit();
	pr_info("twtrace: unloaded\n");
}

module_init(twtrace_init);
module_exit(twtrace_exit);

MODULE_DESCRIPTION("Observe the TCP TIME_WAIT lifecycle");
MODULE_AUTHOR("The twtrace developers");
MODULE_LICENSE("GPL");
MODULE_VERSION(TWTRACE_VERSION);
