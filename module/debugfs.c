// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace: the debugfs interface, /sys/kernel/debug/twtrace/.
 *
 * Every file lives here, on top of the rest of the module: what the files
 * show comes from the getters and iterators of stats.c, table.c, ring.c
 * and probes.c, and nothing below calls back into this file.  The formats
 * are an ABI (Documentation/ABI/testing/debugfs-twtrace): the selftests
 * and the reader parse them.
 *
 * Read-only files are 0444 (0400 for the binary cpuN files) and have no
 * mmap or ioctl, so they keep working under lockdown.  Controls are 0600
 * and strict: a write that is not exactly one number in range, written
 * whole at offset 0, returns -EINVAL and changes nothing.
 */
#include "twtrace.h"

#include <linux/cpumask.h>
#include <linux/debugfs.h>
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/ktime.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/seq_file.h>
#include <linux/string.h>
#include <linux/string_helpers.h>
#include <linux/uaccess.h>
#include <linux/utsname.h>

#include "compat.h"

static struct dentry *twtrace_dir;
static DEFINE_MUTEX(twtrace_ctl_lock);

static int version_show(struct seq_file *m, void *unused)
{
	seq_printf(m, "version %s\n", TWTRACE_VERSION);
	seq_printf(m, "abi %u\n", TWTRACE_ABI_VERSION);
	seq_printf(m, "record_size %zu\n", sizeof(struct twtrace_record));
	seq_printf(m, "kernel %s\n", init_utsname()->release);
	seq_printf(m, "loaded_ns %llu\n", twtrace_stats_loaded_ns());
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(version);

static const char * const death_names[] = TWTRACE_DEATH_NAMES;
static const char * const role_names[] = TWTRACE_ROLE_NAMES;
static const char * const reuse_names[] = TWTRACE_REUSE_NAMES;
static const char * const overflow_names[] = TWTRACE_OVERFLOW_NAMES;

static int stats_show(struct seq_file *m, void *unused)
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
	seq_printf(m, "connect_fail %llu\n",
		   twtrace_counter_sum(TWTRACE_C_CONNECT_FAIL));
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
	seq_printf(m, "since_ns %llu\n", twtrace_stats_since_ns());
	seq_printf(m, "groups %u\n", twtrace_groups_count());
	seq_printf(m, "groups_max %u\n", twtrace_groups_max());
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(stats);

/*
 * One line a group, in the order they were made, and "other" last, with
 * "-" for its netns and cgroup.  A cgroup of 0 is an owner not known.
 * An iterator, one group a show(): up to 4097 lines, each a sum over the
 * CPUs, that a buffer overflow must not make seq_file sum again.  The
 * position is the line: 0 the header, 1 to n the groups, n + 1 other.
 * Groups made during a read come before other, which is shown once: its
 * position is kept in m->private, and nothing comes after it.
 */
static bool groups_past_other(struct seq_file *m, loff_t pos)
{
	return m->private && pos > (uintptr_t)m->private;
}

static void *groups_start(struct seq_file *m, loff_t *pos)
{
	if (!*pos)
		m->private = NULL;
	if (groups_past_other(m, *pos))
		return NULL;
	return *pos <= twtrace_groups_count() + 1 ? pos : NULL;
}

static void *groups_next(struct seq_file *m, void *v, loff_t *pos)
{
	++*pos;
	return groups_start(m, pos);
}

static void groups_stop(struct seq_file *m, void *v)
{
}

static int groups_show(struct seq_file *m, void *v)
{
	loff_t i = *(loff_t *)v;
	u64 c[TWTRACE_G_NR], cgroup;
	unsigned int k;
	u32 netns;

	if (!i) {
		seq_puts(m, "# netns cgroup live births rearms");
		for (k = 0; k < TWTRACE_DEATH_NR; k++)
			seq_printf(m, " death_%s", death_names[k]);
		seq_puts(m, " reuse_allowed reuse_refused overflow connect_fail\n");
		return 0;
	}
	/* The last line is other's, however many groups there are now. */
	if (i > twtrace_groups_count()) {
		m->private = (void *)(uintptr_t)i;
		twtrace_group_read(0, &netns, &cgroup, c);
		seq_puts(m, "- -");
	} else {
		twtrace_group_read(i, &netns, &cgroup, c);
		seq_printf(m, "%u %llu", netns, cgroup);
	}
	seq_printf(m, " %lld", (s64)c[TWTRACE_G_LIVE]);
	for (k = TWTRACE_G_BIRTHS; k < TWTRACE_G_NR; k++)
		seq_printf(m, " %llu", c[k]);
	seq_putc(m, '\n');
	return 0;
}

static const struct seq_operations groups_sops = {
	.start	= groups_start,
	.next	= groups_next,
	.stop	= groups_stop,
	.show	= groups_show,
};
DEFINE_SEQ_ATTRIBUTE(groups);

static int hist_show(struct seq_file *m, void *unused)
{
	int r, b;
	u64 n;

	for (r = 0; r < TWTRACE_DEATH_NR; r++) {
		for (b = 0; b < TWTRACE_HIST_BUCKETS; b++) {
			n = twtrace_hist_lifetime_sum(r, b);
			if (n)
				seq_printf(m, "lifetime %s %d %llu\n",
					   death_names[r], b, n);
		}
	}
	for (b = 0; b < TWTRACE_HIST_BUCKETS; b++) {
		n = twtrace_hist_reuse_age_sum(b);
		if (n)
			seq_printf(m, "reuse_age %d %llu\n", b, n);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(hist);

static void show_addr(struct seq_file *m, const struct twtrace_record *r,
		      const u8 *addr, u16 port)
{
	if (r->family == 6)
		seq_printf(m, " [%pI6c]:%u", addr, port);
	else
		seq_printf(m, " %pI4:%u", addr, port);
}

struct live_walk {
	struct seq_file *m;
	u64 now;
};

/* uid cgroup cookie role, "-" for what is not known */
static void show_owner(struct seq_file *m, const struct twtrace_owner *o)
{
	u8 role = o->role < TWTRACE_ROLE_NR ? o->role : TWTRACE_ROLE_UNKNOWN;

	if (role == TWTRACE_ROLE_UNKNOWN)
		seq_puts(m, " -");
	else
		seq_printf(m, " %u", o->uid);
	if (role == TWTRACE_ROLE_UNKNOWN || !o->cgroup)
		seq_puts(m, " -");
	else
		seq_printf(m, " %llu", o->cgroup);
	seq_printf(m, " %llu %s\n", o->cookie, role_names[role]);
}

static void live_show_one(const struct twtrace_tw *e, void *arg)
{
	struct live_walk *w = arg;
	struct seq_file *m = w->m;
	struct twtrace_record r;

	twtrace_fill_tw(&r, e->tw, 0);
	seq_printf(m, "%llu %u %u", twtrace_tw_id(e), r.netns, r.family);
	show_addr(m, &r, r.saddr, r.sport);
	show_addr(m, &r, r.daddr, r.dport);
	seq_printf(m, " %s %llu %u",
		   READ_ONCE(e->substate) == TWTRACE_SUBSTATE_FIN_WAIT2 ?
		   "FIN_WAIT2" : "TIME_WAIT",
		   w->now > e->birth_ns ? w->now - e->birth_ns : 0,
		   READ_ONCE(e->rearms));
	twtrace_tw_owner(e, &r.owner);
	show_owner(m, &r.owner);
}

/* The tracked TIME_WAIT sockets, by id: their tw pointers stay here. */
static int live_show(struct seq_file *m, void *unused)
{
	struct live_walk w = { .m = m, .now = ktime_get_ns() };

	seq_puts(m, "# id netns family local remote substate age_ns rearms uid cgroup cookie role\n");
	twtrace_table_for_each(live_show_one, &w);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(live);

static int probes_show(struct seq_file *m, void *unused)
{
	struct twtrace_probe_info pi;
	unsigned int i;

	seq_puts(m, "# symbol attached hits missed fires\n");
	for (i = 0; twtrace_probe_info(i, &pi); i++)
		seq_printf(m, "%s %s %lu %lu %s\n", pi.symbol,
			   str_yes_no(pi.attached), pi.hits, pi.missed,
			   pi.fires);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(probes);

/* cpuN: the binary records of CPU N's ring (see ring.c). */
static int cpu_open(struct inode *inode, struct file *file)
{
	file->private_data = inode->i_private;
	return stream_open(inode, file);
}

static int ring_cpu(struct file *file)
{
	return (long)file->private_data;
}

static ssize_t cpu_read(struct file *file, char __user *ubuf, size_t count,
			loff_t *ppos)
{
	return twtrace_ring_read(ring_cpu(file), ubuf, count,
				 file->f_flags & O_NONBLOCK);
}

static __poll_t cpu_poll(struct file *file, poll_table *wait)
{
	return twtrace_ring_poll(ring_cpu(file), file, wait);
}

static const struct file_operations cpu_fops = {
	.owner		= THIS_MODULE,
	.open		= cpu_open,
	.read		= cpu_read,
	.poll		= cpu_poll,
};

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
	twtrace_groups_reset();
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
	char name[16];
	int i, cpu;

	dir = debugfs_create_dir(TWTRACE_DEBUGFS_DIR, NULL);
	if (IS_ERR(dir))
		return PTR_ERR(dir);

	debugfs_create_file("version", 0444, dir, NULL, &version_fops);
	debugfs_create_file("stats", 0444, dir, NULL, &stats_fops);
	debugfs_create_file("hist", 0444, dir, NULL, &hist_fops);
	debugfs_create_file("live", 0444, dir, NULL, &live_fops);
	debugfs_create_file("groups", 0444, dir, NULL, &groups_fops);
	debugfs_create_file("probes", 0444, dir, NULL, &probes_fops);
	for (i = 0; i < ARRAY_SIZE(twtrace_ctls); i++)
		debugfs_create_file(twtrace_ctls[i].name, twtrace_ctls[i].mode,
				    dir, (void *)&twtrace_ctls[i], &ctl_fops);
	for_each_possible_cpu(cpu) {
		snprintf(name, sizeof(name), "cpu%d", cpu);
		debugfs_create_file(name, 0400, dir, (void *)(long)cpu,
				    &cpu_fops);
	}
	twtrace_dir = dir;
	return 0;
}

void twtrace_debugfs_exit(void)
{
	debugfs_remove_recursive(twtrace_dir);
	twtrace_dir = NULL;
}
