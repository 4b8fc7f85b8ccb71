// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace: the debugfs interface, /sys/kernel/debug/twtrace/.
 *
 * Read-only files are 0444 (0400 for the binary cpuN files) and have no
 * mmap or ioctl, so they keep working under lockdown.  Controls are 0600
 * and strict: a write that is not exactly one number in range, written
 * whole at offset 0, returns -EINVAL and changes nothing.
 */
#include "twtrace.h"

#include <linux/debugfs.h>
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/mutex.h>
#include <linux/seq_file.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/utsname.h>


static struct dentry *twtrace_dir;
static DEFINE_MUTEX(twtrace_ctl_lock);

static int version_show(struct seq_file *m, void *unused)
{
	seq_printf(m, "version %s\n", TWTRACE_VERSION);
	seq_printf(m, "abi %u\n", TWTRACE_ABI_VERSION);
	seq_printf(m, "record_size %zu\n", sizeof(struct twtrace_record));
	seq_printf(m, "kernel %s\n", init_utsname()->release);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(version);

#define TWTRACE_SHOW_FILE(name, fn)				\
static int name##_show(struct seq_file *m, void *unused)	\
{								\
	return fn(m, unused);					\
}								\
DEFINE_SHOW_ATTRIBUTE(name)

TWTRACE_SHOW_FILE(stats, twtrace_stats_show);
TWTRACE_SHOW_FILE(hist, twtrace_hist_show);
TWTRACE_SHOW_FILE(live, twtrace_live_show);
TWTRACE_SHOW_FILE(probes, twtrace_probes_show);

/* Writable controls: one unsigned number each. */
struct twtrace_ctl {
	const char *name;
	umode_t mode;
	unsigned int min, max;
	unsigned int (*get)(void);
	int (*set)(unsigned int val);
};

static unsigned int enable_get(void)
{
	return twtrace_ring_recording();
}

static int enable_set(unsigned int val)
{
	twtrace_ring_set_recording(val);
	return 0;
}

static unsigned int overwrite_get(void)
{
	return twtrace_ring_overwrite();
}

static int overwrite_set(unsigned int val)
{
	twtrace_ring_set_overwrite(val);
	return 0;
}

static unsigned int ring_kb_get(void)
{
	return twtrace_ring_kb();
}

static int ring_kb_set(unsigned int val)
{
	return twtrace_ring_resize(val);
}

static int reset_set(unsigned int val)
{
	twtrace_stats_reset();
	twtrace_ring_reset_lost();
	return 0;
}

static const struct twtrace_ctl twtrace_ctls[] = {
	{ "enable", 0600, 0, 1, enable_get, enable_set },
	{ "overwrite", 0600, 0, 1, overwrite_get, overwrite_set },
	{ "ring_kb", 0600, TWTRACE_RING_KB_MIN, TWTRACE_RING_KB_MAX,
	  ring_kb_get, ring_kb_set },
	{ "reset", 0200, 1, 1, NULL, reset_set },
};

static ssize_t ctl_read(struct file *file, char __user *ubuf, size_t count,
			loff_t *ppos)
{
	const struct twtrace_ctl *ctl = file->private_data;
	char buf[16];
	int len;

	if (!ctl->get)
		return -EINVAL;
	len = scnprintf(buf, sizeof(buf), "%u\n", ctl->get());
	return simple_read_from_buffer(ubuf, count, ppos, buf, len);
}

static ssize_t ctl_write(struct file *file, const char __user *ubuf,
			 size_t count, loff_t *ppos)
{
	const struct twtrace_ctl *ctl = file->private_data;
	char buf[17];
	unsigned int val;
	int ret;

	/* One whole write at offset 0; the rest of a partial one is refused. */
	if (*ppos || !count || count >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, count))
		return -EFAULT;
	buf[count] = '\0';
	/* kstrtouint() would stop at an embedded NUL and take "1\0junk". */
	if (strlen(buf) != count || kstrtouint(buf, 10, &val))
		return -EINVAL;
	if (val < ctl->min || val > ctl->max)
		return -EINVAL;

	mutex_lock(&twtrace_ctl_lock);
	ret = ctl->set(val);
	mutex_unlock(&twtrace_ctl_lock);
	if (ret)
		return ret;
	*ppos += count;
	return count;
}

static const struct file_operations ctl_fops = {
	.owner	= THIS_MODULE,
	.open	= simple_open,
	.read	= ctl_read,
	.write	= ctl_write,
};

int twtrace_debugfs_init(void)
{
	struct dentry *dir;
	int i;

	dir = debugfs_create_dir(TWTRACE_DEBUGFS_DIR, NULL);
	if (IS_ERR(dir))
		return PTR_ERR(dir);

	debugfs_create_file("version", 0444, dir, NULL, &version_fops);
	debugfs_create_file("stats", 0444, dir, NULL, &stats_fops);
	debugfs_create_file("hist", 0444, dir, NULL, &hist_fops);
	debugfs_create_file("live", 0444, dir, NULL, &live_fops);
	debugfs_create_file("probes", 0444, dir, NULL, &probes_fops);
	for (i = 0; i < ARRAY_SIZE(twtrace_ctls); i++)
		debugfs_create_file(twtrace_ctls[i].name, twtrace_ctls[i].mode,
				    dir, (void *)&twtrace_ctls[i], &ctl_fops);
	twtrace_ring_debugfs(dir);
	twtrace_dir = dir;
	return 0;
}

void twtrace_debugfs_exit(void)
{
	debugfs_remove_recursive(twtrace_dir);
	twtrace_dir = NULL;
}
