// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace_floor: the benchmark's floor.  The same kprobes and kretprobes
 * as the twtrace module (module/probes.c), on the same symbols, with the
 * same kretprobe instance pools, and handlers that do nothing: what any
 * kprobe-based TIME_WAIT tracer pays before it does any work.
 *
 * Not part of twtrace; built and loaded only by scripts/bench.sh.
 */
#include <linux/kernel.h>
#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/string.h>
#include <linux/sysfs.h>

static int floor_pre(struct kprobe *p, struct pt_regs *regs)
{
	return 0;
}

static int floor_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return 0;
}

static int floor_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return 0;
}

#define FLOOR_KP(sym) { .symbol_name = sym, .pre_handler = floor_pre }
#define FLOOR_RP(sym) { .kp.symbol_name = sym, .entry_handler = floor_entry, \
			.handler = floor_ret }

/* module/probes.c: the plain kprobes ... */
static struct kprobe floor_kps[] = {
	FLOOR_KP("__inet_twsk_schedule"),
	FLOOR_KP("inet_twsk_kill"),
	FLOOR_KP("tcp_twsk_destructor"),
	FLOOR_KP("tw_timer_handler"),
	FLOOR_KP("tcp_abort"),
	FLOOR_KP("inet_twsk_deschedule_put"),
	/* The hashdance: one of the two exists on a given kernel. */
	FLOOR_KP("inet_twsk_hashdance"),
	FLOOR_KP("inet_twsk_hashdance_schedule"),
};

/* ... and the kretprobes. */
static struct kretprobe floor_rps[] = {
	FLOOR_RP("inet_twsk_alloc"),
	FLOOR_RP("tcp_twsk_unique"),
	FLOOR_RP("tcp_timewait_state_process"),
	FLOOR_RP("inet_hash_connect"),
	FLOOR_RP("inet6_hash_connect"),
};

static bool floor_kp_on[ARRAY_SIZE(floor_kps)];
static bool floor_rp_on[ARRAY_SIZE(floor_rps)];

/*
 * /sys/module/twtrace_floor/parameters/probes: "attached N missed M", the
 * kprobe core's own miss counts, summed when read (nothing in the handlers).
 */
static int floor_probes_get(char *buf, const struct kernel_param *kp)
{
	unsigned long missed = 0;
	int i, n = 0;

	for (i = 0; i < ARRAY_SIZE(floor_kps); i++) {
		n += floor_kp_on[i];
		if (floor_kp_on[i])
			missed += floor_kps[i].nmissed;
	}
	for (i = 0; i < ARRAY_SIZE(floor_rps); i++) {
		n += floor_rp_on[i];
		if (floor_rp_on[i])
			missed += floor_rps[i].kp.nmissed + floor_rps[i].nmissed;
	}
	return sysfs_emit(buf, "attached %d missed %lu\n", n, missed);
}

static const struct kernel_param_ops floor_probes_ops = {
	.get = floor_probes_get,
};
module_param_cb(probes, &floor_probes_ops, NULL, 0444);
MODULE_PARM_DESC(probes, "probes attached and kprobe misses (read-only)");

static void floor_unregister(void)
{
	int i;

	for (i = ARRAY_SIZE(floor_rps) - 1; i >= 0; i--)
		if (floor_rp_on[i])
			unregister_kretprobe(&floor_rps[i]);
	for (i = ARRAY_SIZE(floor_kps) - 1; i >= 0; i--)
		if (floor_kp_on[i])
			unregister_kprobe(&floor_kps[i]);
}

static int __init floor_init(void)
{
	int i, ret;

	/* Like twtrace, go on without a probe that cannot be placed. */
	for (i = 0; i < ARRAY_SIZE(floor_kps); i++) {
		ret = register_kprobe(&floor_kps[i]);
		if (ret)
			pr_warn("twtrace_floor: cannot probe %s: %d\n",
				floor_kps[i].symbol_name, ret);
		floor_kp_on[i] = !ret;
	}
	for (i = 0; i < ARRAY_SIZE(floor_rps); i++) {
		/* twtrace's connect probes have 64: a connect can sleep. */
		floor_rps[i].maxactive = max_t(int, 16, 4 * num_possible_cpus());
		if (strstr(floor_rps[i].kp.symbol_name, "hash_connect"))
			floor_rps[i].maxactive = 64;
		ret = register_kretprobe(&floor_rps[i]);
		if (ret)
			pr_warn("twtrace_floor: cannot probe %s: %d\n",
				floor_rps[i].kp.symbol_name, ret);
		floor_rp_on[i] = !ret;
	}
	return 0;
}

static void __exit floor_exit(void)
{
	floor_unregister();
}

module_init(floor_init);
module_exit(floor_exit);
MODULE_DESCRIPTION("twtrace benchmark floor: twtrace's probes, empty handlers");
MODULE_LICENSE("GPL");
