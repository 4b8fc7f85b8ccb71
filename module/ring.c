// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace: the per-CPU ring buffers and their readers' wait queues; the
 * cpuN files in debugfs.c drain them through twtrace_ring_read() and
 * twtrace_ring_poll().
 *
 * One kernel tracing ring buffer (it keeps one buffer per CPU) holds fixed
 * size records.  Probes write to their own CPU's buffer, locklessly.  In
 * drop mode (the default) a full buffer refuses new records; in overwrite
 * mode the oldest unread ones go.  Either way each loss is counted per CPU,
 * and every record carries a per-CPU sequence number, so a reader can tell
 * exactly what it missed.
 *
 * The ring buffer's own wait/poll helpers are not exported: each CPU has a
 * wait queue, woken through irq_work (never directly from a probe).  A
 * wake-up per record would cost the reader more than the record, so a CPU
 * file polls ready (and a blocking read that found nothing returns) only
 * once a batch of records is pending, or once the oldest pending record is
 * TWTRACE_WAKE_DELAY_MS old: writers wake a waiting reader when a batch is
 * there, and a timer that runs only while readers wait wakes them for
 * records that aged.  A reader that polls again as soon as it has read thus
 * sleeps until there is a batch, instead of spinning on single records.
 * The batch is 64 records, or a quarter of what a small ring holds.
 * Documentation/internals.rst, "Ring buffers", has the whole hand-off.
 */
#include "twtrace.h"

#include <linux/fs.h>
#include <linux/irq_work.h>
#include <linux/kprobes.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/ring_buffer.h>
#include <linux/slab.h>
#include <linux/stringify.h>
#include <linux/timer.h>
#include <linux/uaccess.h>
#include <linux/wait.h>

#include "compat.h"

#define TWTRACE_WAKE_BATCH	64
#define TWTRACE_WAKE_DELAY_MS	50
/* A record and the ring buffer's event header. */
#define TWTRACE_EVENT_BYTES	(sizeof(struct twtrace_record) + 8)

struct twtrace_ring {
	wait_queue_head_t wq;
	struct irq_work wake;
	struct mutex read_lock;		/* one consumer at a time */
	u64 seq;			/* next sequence number (writer CPU) */
	unsigned int unwoken;		/* records since the last wake-up */
	u64 dropped;			/* refused writes (writer CPU) */
	u64 overrun_base;		/* ring overruns at the last reset */
};

/* Read at load, then kept current by twtrace_ring_resize(). */
static unsigned int twtrace_ring_kb_param = TWTRACE_RING_KB_DEFAULT;
module_param_named(ring_kb, twtrace_ring_kb_param, uint, 0444);
MODULE_PARM_DESC(ring_kb,
		 "Ring buffer size per CPU in KiB at load ("
		 __stringify(TWTRACE_RING_KB_MIN) "-"
		 __stringify(TWTRACE_RING_KB_MAX) ", default "
		 __stringify(TWTRACE_RING_KB_DEFAULT)
		 ": 1 MiB with the ring's own pages); change it later through debugfs ring_kb");

static struct trace_buffer *twtrace_rb;
static struct twtrace_ring *twtrace_rings;	/* [nr_cpu_ids] */
static bool twtrace_overwrite_on;
static bool twtrace_dying;
static struct timer_list twtrace_flush_timer;
static unsigned int twtrace_wake_batch = TWTRACE_WAKE_BATCH;
static bool twtrace_recording = true;

static void twtrace_ring_wake(struct irq_work *work)
{
	struct twtrace_ring *r = container_of(work, struct twtrace_ring, wake);

	wake_up_interruptible(&r->wq);
}

/* A batch of records is pending, or the oldest one has waited enough. */
static bool ring_ready(int cpu)
{
	u64 ts;

	if (READ_ONCE(twtrace_dying))
		return true;
	if (ring_buffer_entries_cpu(twtrace_rb, cpu) >=
	    READ_ONCE(twtrace_wake_batch))
		return true;
	if (!ring_buffer_peek(twtrace_rb, cpu, &ts, NULL))
		return false;
	/* The ring's own clock, as its timestamps. */
	return (s64)(twtrace_rb_time_stamp(twtrace_rb) - ts) >=
	       (s64)TWTRACE_WAKE_DELAY_MS * NSEC_PER_MSEC;
}

/* While pollers wait: wake those whose ring is ready, come back later. */
static void twtrace_flush(struct timer_list *t)
{
	struct twtrace_ring *r;
	bool waiting = false;
	int cpu;

	for_each_possible_cpu(cpu) {
		r = &twtrace_rings[cpu];
		if (!wq_has_sleeper(&r->wq))
			continue;
		if (ring_ready(cpu))
			wake_up_interruptible(&r->wq);
		else
			waiting = true;
	}
	if (waiting && !READ_ONCE(twtrace_dying))
		mod_timer(t, jiffies + msecs_to_jiffies(TWTRACE_WAKE_DELAY_MS));
}

/* A batch: 64 records, or a quarter of what a ring of @kb KiB holds. */
static void ring_batch_set(unsigned int kb)
{
	unsigned long n = ((unsigned long)kb << 10) / TWTRACE_EVENT_BYTES / 4;

	WRITE_ONCE(twtrace_wake_batch,
		   clamp_t(unsigned long, n, 1, TWTRACE_WAKE_BATCH));
}

/*
 * For a poller or a blocked reader already on the ring's wait queue: ready,
 * or the flush timer will look again (it sees the waiter, so it re-arms
 * itself until the ring is ready).
 */
static bool ring_ready_or_arm(int cpu)
{
	if (ring_ready(cpu))
		return true;
	if (!timer_pending(&twtrace_flush_timer))
		mod_timer(&twtrace_flush_timer,
			  jiffies + msecs_to_jiffies(TWTRACE_WAKE_DELAY_MS));
	return false;
}

static bool ring_kb_valid(unsigned int kb)
{
	return kb >= TWTRACE_RING_KB_MIN && kb <= TWTRACE_RING_KB_MAX;
}

int twtrace_ring_init(void)
{
	unsigned int kb = twtrace_ring_kb_param;
	int cpu;

	if (!ring_kb_valid(kb))
		return -EINVAL;
	twtrace_rings = kcalloc(nr_cpu_ids, sizeof(*twtrace_rings), GFP_KERNEL);
	if (!twtrace_rings)
		return -ENOMEM;
	for_each_possible_cpu(cpu) {
		init_waitqueue_head(&twtrace_rings[cpu].wq);
		init_irq_work(&twtrace_rings[cpu].wake, twtrace_ring_wake);
		mutex_init(&twtrace_rings[cpu].read_lock);
	}
	timer_setup(&twtrace_flush_timer, twtrace_flush, 0);
	twtrace_rb = ring_buffer_alloc((unsigned long)kb << 10, 0);
	if (!twtrace_rb) {
		kfree(twtrace_rings);
		twtrace_rings = NULL;
		return -ENOMEM;
	}
	ring_batch_set(kb);
	return 0;
}

/* After the probes are gone: flush wake-ups, release blocked readers. */
void twtrace_ring_stop(void)
{
	int cpu;

	for_each_possible_cpu(cpu)
		irq_work_sync(&twtrace_rings[cpu].wake);
	WRITE_ONCE(twtrace_dying, true);
	timer_shutdown_sync(&twtrace_flush_timer);
	for_each_possible_cpu(cpu)
		wake_up_interruptible_all(&twtrace_rings[cpu].wq);
}

void twtrace_ring_exit(void)
{
	/*
	 * Before 6.1 the shutdown in twtrace_ring_stop() is a plain
	 * del_timer_sync() (compat.h), after which a reader could still arm
	 * the timer; none can by now.
	 */
	timer_shutdown_sync(&twtrace_flush_timer);
	ring_buffer_free(twtrace_rb);
	twtrace_rb = NULL;
	kfree(twtrace_rings);
	twtrace_rings = NULL;
}

/* Called from probes, on the CPU whose ring gets the record. */
void twtrace_ring_emit(struct twtrace_record *rec)
{
	struct twtrace_ring *r;
	int cpu;

	if (!READ_ONCE(twtrace_recording))
		return;
	cpu = smp_processor_id();
	r = &twtrace_rings[cpu];
	rec->magic = TWTRACE_MAGIC;
	rec->cpu = cpu;
	rec->abi = TWTRACE_ABI_VERSION;
	rec->seq = r->seq++;
	twtrace_count(TWTRACE_C_RECORDS);
	if (ring_buffer_write(twtrace_rb, sizeof(*rec), rec)) {
		WRITE_ONCE(r->dropped, r->dropped + 1);
		return;
	}
	/* Count first: the pending ones only once a batch may be there. */
	if (++r->unwoken < READ_ONCE(twtrace_wake_batch) ||
	    ring_buffer_entries_cpu(twtrace_rb, cpu) <
	    READ_ONCE(twtrace_wake_batch))
		return;
	r->unwoken = 0;
	if (wq_has_sleeper(&r->wq))
		irq_work_queue(&r->wake);
}

NOKPROBE_SYMBOL(twtrace_ring_emit);

u64 twtrace_ring_lost_cpu(int cpu)
{
	struct twtrace_ring *r = &twtrace_rings[cpu];

	return READ_ONCE(r->dropped) +
	       ring_buffer_overrun_cpu(twtrace_rb, cpu) - r->overrun_base;
}

void twtrace_ring_reset_lost(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		WRITE_ONCE(twtrace_rings[cpu].dropped, 0);
		twtrace_rings[cpu].overrun_base =
			ring_buffer_overrun_cpu(twtrace_rb, cpu);
	}
}

bool twtrace_ring_recording(void)
{
	return READ_ONCE(twtrace_recording);
}

void twtrace_ring_set_recording(bool on)
{
	WRITE_ONCE(twtrace_recording, on);
}

unsigned int twtrace_ring_kb(void)
{
	return READ_ONCE(twtrace_ring_kb_param);
}

/* Callers serialise resizes. */
int twtrace_ring_resize(unsigned int kb)
{
	int ret;

	if (!ring_kb_valid(kb))
		return -EINVAL;
	ret = ring_buffer_resize(twtrace_rb, (unsigned long)kb << 10,
				 RING_BUFFER_ALL_CPUS);
	if (ret < 0)
		return ret;
	ring_batch_set(kb);
	WRITE_ONCE(twtrace_ring_kb_param, kb);
	return 0;
}

void twtrace_ring_set_overwrite(bool on)
{
	ring_buffer_change_overwrite(twtrace_rb, on);
	WRITE_ONCE(twtrace_overwrite_on, on);
}

bool twtrace_ring_overwrite(void)
{
	return READ_ONCE(twtrace_overwrite_on);
}

/*
 * Whole records of @cpu's ring into @ubuf, as many as are pending and fit.
 * With none pending, block (unless @nonblock) until the ring is ready.
 */
ssize_t twtrace_ring_read(int cpu, char __user *ubuf, size_t count,
			  bool nonblock)
{
	struct twtrace_ring *r = &twtrace_rings[cpu];
	struct twtrace_record rec;
	struct ring_buffer_event *ev;
	size_t done = 0;
	long ret;

	if (count < sizeof(rec))
		return -EINVAL;

	for (;;) {
		if (mutex_lock_interruptible(&r->read_lock))
			return -ERESTARTSYS;
		while (done + sizeof(rec) <= count) {
			ev = ring_buffer_consume(twtrace_rb, cpu, NULL, NULL);
			if (!ev)
				break;
			memcpy(&rec, ring_buffer_event_data(ev), sizeof(rec));
			if (copy_to_user(ubuf + done, &rec, sizeof(rec))) {
				mutex_unlock(&r->read_lock);
				return done ? done : -EFAULT;
			}
			done += sizeof(rec);
		}
		mutex_unlock(&r->read_lock);
		if (done)
			return done;
		if (READ_ONCE(twtrace_dying))
			return 0;
		if (nonblock)
			return -EAGAIN;
		/* The condition runs once on the wait queue: see above. */
		ret = wait_event_interruptible(r->wq, ring_ready_or_arm(cpu));
		if (ret)
			return ret;
	}
}

/* poll() on @cpu's ring: readable once the ring is ready. */
__poll_t twtrace_ring_poll(int cpu, struct file *file,
			   struct poll_table_struct *wait)
{
	poll_wait(file, &twtrace_rings[cpu].wq, wait);
	return ring_ready_or_arm(cpu) ? EPOLLIN | EPOLLRDNORM : 0;
}
