// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace: probes on the TCP TIME_WAIT lifecycle, and their classification.
 *
 * The probe set is the same on every supported kernel, 5.10 to 7.3: which
 * function each probe hooks, at entry or return, what it records and on
 * which kernels is the probe map in Documentation/internals.rst, "Probe
 * map"; the order in which a death's reason is decided is its "Death
 * reasons".
 *
 * The deciding probes leave the tw they saw in this CPU's twtrace_ctx, and
 * inet_twsk_kill() finds it there on the same CPU (internals.rst, "The
 * deciding probes and the kill"); the one decision taken in process
 * context, tcp_abort(), is marked on the live-table entry instead.
 * From 6.11 the live-table entry is made at the allocation
 * (TWTRACE_ENTRY_AT_ALLOC in compat.h), so that a rearm that comes before
 * the birth finds it.
 *
 * The owner of a new tw (struct twtrace_owner) is read from its full
 * socket at the hashdance, the one call of tcp_time_wait() that has both.
 * From 6.11 the hashdance arms the timer itself, so the birth follows and
 * takes the owner from the entry; before, the birth comes first, in the
 * same BH-disabled section on the same CPU, and leaves its record in this
 * CPU's twtrace_ctx for the hashdance to complete and emit.
 *
 * Every handler, and every function of ours that a handler calls, is
 * NOKPROBE_SYMBOL() (internals.rst, "Probe safety").
 */
#include "twtrace.h"

#include <linux/kernel.h>
#include <linux/kprobes.h>
#include <linux/ktime.h>
#include <linux/ptrace.h>
#include <linux/rcupdate.h>
#include <linux/sock_diag.h>
#include <linux/timekeeping.h>
#include <net/inet_timewait_sock.h>
#include <net/ipv6.h>
#include <net/net_namespace.h>
#include <net/tcp.h>
#include <net/tcp_states.h>

#include "compat.h"

/* What the deciding probes left on this CPU for inet_twsk_kill. */
struct twtrace_ctx {
	const struct inet_timewait_sock *expiring;	/* tw_timer_handler */
	const struct inet_timewait_sock *desched;	/* deschedule_put */
	const struct inet_timewait_sock *in_tsp;	/* inside tsp() */
	const struct inet_timewait_sock *tsp_tw;	/* last tsp() result */
	const struct inet_timewait_sock *reuse_tw;	/* reuse allowed */
	const struct inet_timewait_sock *birth_tw;	/* birth, up to 6.10 */
	const struct inet_timewait_sock *dance_tw;	/* hashdance, from 6.11 */
	u16 dance_group;		/* its owner's group, for the birth */
	int tsp_ret;
	struct twtrace_record birth;	/* waiting for its owner */
};

static DEFINE_PER_CPU(struct twtrace_ctx, twtrace_ctx);

/* Untracked births whose death has not been seen yet. */
static atomic_t twtrace_untracked_live = ATOMIC_INIT(0);

enum twtrace_probe_id {
	P_SCHEDULE,
	P_KILL,
	P_FREE,
	P_ALLOC,
	P_UNIQUE,
	P_TSP,
	P_TIMER,
	P_ABORT,
	P_DESCHED,
	P_HASHDANCE,
	P_CONNECT,
	P_CONNECT6,
	P_NR
};

struct twtrace_probe {
	struct kprobe kp;		/* for kretprobes: rp.kp */
	struct kretprobe *rp;		/* NULL for plain kprobes */
	bool required;
	bool attached;
};

struct twtrace_hits {
	unsigned long n[P_NR];
};

static struct twtrace_hits __percpu *twtrace_hits;

static void hit(enum twtrace_probe_id id)
{
	this_cpu_inc(twtrace_hits->n[id]);
}

NOKPROBE_SYMBOL(hit);

static bool is_tcp_tw(const struct inet_timewait_sock *tw)
{
	/* DCCP shares this code with a death row of its own. */
	return tw->tw_dr == twtrace_tcp_death_row(twsk_net(tw));
}

NOKPROBE_SYMBOL(is_tcp_tw);

static struct inet_timewait_sock *arg_tw(struct pt_regs *regs, unsigned int n)
{
	return (struct inet_timewait_sock *)regs_get_kernel_argument(regs, n);
}

NOKPROBE_SYMBOL(arg_tw);

/* FIN_WAIT2 time in a u32 of us (71 minutes), saturating; 0 is "never". */
static u32 ns_to_us_u32(u64 ns)
{
	return clamp_t(u64, div_u64(ns, NSEC_PER_USEC), 1, U32_MAX);
}

NOKPROBE_SYMBOL(ns_to_us_u32);

/*
 * The substate @e was born in, even if a rearm came before the birth: a
 * TIME_WAIT that was FIN_WAIT2 has its FIN_WAIT2 time set.
 */
static u8 birth_substate(const struct twtrace_tw *e)
{
	u8 sub = READ_ONCE(e->substate);

	if (sub == TCP_FIN_WAIT2)
		return sub;
	smp_rmb();	/* pairs with the smp_wmb() in schedule_pre() */
	return READ_ONCE(e->fin_wait2_us) ? TCP_FIN_WAIT2 : sub;
}

NOKPROBE_SYMBOL(birth_substate);

/*
 * The entry of a tw being born (see TWTRACE_ENTRY_AT_ALLOC): its id in
 * rec->tw_id, 0 if the tw is untracked.  From 6.11 also the time,
 * substate and owner it was born with, and the entry, a reference the
 * caller puts.  Caller holds rcu_read_lock().
 */
static struct twtrace_tw *birth_entry(const struct inet_timewait_sock *tw,
				      u64 *now, struct twtrace_record *rec)
{
	struct twtrace_tw *e;

	if (!TWTRACE_ENTRY_AT_ALLOC) {
		rec->tw_id = twtrace_table_insert(tw, *now, rec->substate);
		return NULL;
	}
	e = twtrace_table_get(tw);
	rec->tw_id = e ? twtrace_tw_id(e) : 0;
	if (!e)
		return NULL;
	*now = e->birth_ns;
	rec->substate = birth_substate(e);
	twtrace_tw_owner(e, &rec->owner);
	return e;
}

NOKPROBE_SYMBOL(birth_entry);

static bool probe_attached(enum twtrace_probe_id id);

/*
 * The group of tracked tw @e, whose events all count there: the one the
 * hashdance found for its owner; else the one of @netns and the entry's
 * owner (0: not known), found now and kept; else, @netns not known
 * either (a free: the netns may be gone), "other".
 */
static u16 entry_group(struct twtrace_tw *e, u32 netns)
{
	u16 g = READ_ONCE(e->group);

	if (g)
		return g - 1;
	if (!netns)
		return 0;
	g = twtrace_group_of(netns, READ_ONCE(e->cgroup));
	WRITE_ONCE(e->group, g + 1);
	return g;
}

NOKPROBE_SYMBOL(entry_group);

/*
 * A birth goes out, counted in group @g; with its entry @e (or NULL), it
 * is live there until its death, which takes it off only if so: a birth
 * that went unseen, or was counted without its entry, leaves the live
 * counts balanced.
 */
static void emit_birth(struct twtrace_record *rec, u16 g,
		       struct twtrace_tw *e)
{
	twtrace_group_count(g, TWTRACE_G_BIRTHS);
	if (e) {
		twtrace_group_count(g, TWTRACE_G_LIVE);
		WRITE_ONCE(e->live_counted, 1);
	}
	twtrace_ring_emit(rec);
}

NOKPROBE_SYMBOL(emit_birth);

/* An event that is not about a tw of the table, counted in its group. */
static void emit_grouped(struct twtrace_record *rec, enum twtrace_gcounter c)
{
	twtrace_group_count(twtrace_group_of(rec->netns, rec->owner.cgroup), c);
	twtrace_ring_emit(rec);
}

NOKPROBE_SYMBOL(emit_grouped);

/*
 * Up to 6.10, a birth's record waits in this CPU's twtrace_ctx for the
 * hashdance that follows it in the same BH-disabled section, if that
 * probe is attached: true if it does.  One still waiting (its hashdance
 * probe missed, or went away) goes out now, without an owner.
 */
static bool birth_wait_owner(const struct twtrace_record *rec,
			     const struct inet_timewait_sock *tw)
{
	struct twtrace_ctx *ctx = this_cpu_ptr(&twtrace_ctx);

	if (ctx->birth_tw) {
		ctx->birth_tw = NULL;
		emit_birth(&ctx->birth,
			   twtrace_group_of(ctx->birth.netns, 0), NULL);
	}
	if (!probe_attached(P_HASHDANCE))
		return false;
	ctx->birth = *rec;
	ctx->birth_tw = tw;
	return true;
}

NOKPROBE_SYMBOL(birth_wait_owner);

/*
 * A birth that goes out now: from 6.11 with the entry @e made at the
 * allocation, or the owner's group the hashdance left for an untracked
 * tw; up to 6.10 without the hashdance probe, with the entry just made.
 */
static void birth_now(struct twtrace_record *rec,
		      const struct inet_timewait_sock *tw, struct twtrace_tw *e)
{
	struct twtrace_ctx *ctx = this_cpu_ptr(&twtrace_ctx);
	struct twtrace_tw *made = NULL;
	u16 g;

	if (!e && rec->tw_id) {
		made = twtrace_table_get(tw);
		e = made;
	}
	if (e)
		g = entry_group(e, rec->netns);
	else if (ctx->dance_tw == tw)
		g = ctx->dance_group;
	else
		g = twtrace_group_of(rec->netns, 0);
	ctx->dance_tw = NULL;
	emit_birth(rec, g, e);
	if (made)
		twtrace_table_put(made);
}

NOKPROBE_SYMBOL(birth_now);

/* __inet_twsk_schedule(tw, timeo, rearm) */
static int schedule_pre(struct kprobe *p, struct pt_regs *regs)
{
	struct inet_timewait_sock *tw = arg_tw(regs, 0);
	int timeo = (int)regs_get_kernel_argument(regs, 1);
	bool rearm = regs_get_kernel_argument(regs, 2) & 0xff;
	struct twtrace_record rec;
	struct twtrace_tw *e = NULL;
	u16 g;
	u64 now;
	u8 sub;

	if (!is_tcp_tw(tw))
		return 0;
	hit(P_SCHEDULE);
	now = ktime_get_ns();
	twtrace_fill_tw(&rec, tw, rearm ? TWTRACE_EV_REARM : TWTRACE_EV_BIRTH);
	sub = rec.substate;

	rcu_read_lock();
	if (!rearm) {
		twtrace_count(TWTRACE_C_BIRTHS);
		rec.birth.timeo_ms = jiffies_to_msecs(timeo);
		e = birth_entry(tw, &now, &rec);
		if (!rec.tw_id) {
			/*
			 * The table was full or memory short, or (6.11+) the
			 * allocation went unseen: before the load, or missed.
			 */
			twtrace_count(TWTRACE_C_UNTRACKED);
			atomic_inc(&twtrace_untracked_live);
		}
	} else {
		twtrace_count(TWTRACE_C_REARMS);
		rec.rearm.timeo_ms = jiffies_to_msecs(timeo);
		rec.rearm.old_substate = sub;
		e = twtrace_table_get(tw);
		g = e ? entry_group(e, rec.netns) :
			twtrace_group_of(rec.netns, 0);
		twtrace_group_count(g, TWTRACE_G_REARMS);
		if (e) {
			rec.rearm.old_substate = READ_ONCE(e->substate);
			if (rec.rearm.old_substate == TCP_FIN_WAIT2 &&
			    sub != TCP_FIN_WAIT2) {
				WRITE_ONCE(e->fin_wait2_us,
					   ns_to_us_u32(now - e->birth_ns));
				smp_wmb();	/* see birth_substate() */
			}
			WRITE_ONCE(e->substate, sub);
			rec.rearms = READ_ONCE(e->rearms);
			if (rec.rearms < U16_MAX)
				WRITE_ONCE(e->rearms, ++rec.rearms);
			rec.tw_id = twtrace_tw_id(e);
			twtrace_tw_owner(e, &rec.owner);
			twtrace_table_put(e);
			e = NULL;
		}
	}

	rec.ts_ns = now;
	if (rearm)
		twtrace_ring_emit(&rec);
	else if (TWTRACE_ENTRY_AT_ALLOC || !birth_wait_owner(&rec, tw))
		birth_now(&rec, tw, e);
	if (e)
		twtrace_table_put(e);
	rcu_read_unlock();
	return 0;
}

NOKPROBE_SYMBOL(schedule_pre);

static enum twtrace_death_reason
early_death_reason(struct twtrace_ctx *ctx, const struct inet_timewait_sock *tw,
		   const struct twtrace_tw *e)
{
	enum twtrace_death_reason r;
	u8 pending;

	if (ctx->in_tsp == tw)
		return TWTRACE_DEATH_RST_RECEIVED;
	if (ctx->reuse_tw == tw) {
		ctx->reuse_tw = NULL;
		return TWTRACE_DEATH_REUSED;
	}
	pending = e ? READ_ONCE(e->pending) : 0;
	if (pending)
		return pending - 1;
	if (!check_net(twsk_net(tw)))
		return TWTRACE_DEATH_NETNS_PURGE;
	if (ctx->tsp_tw == tw) {
		ctx->tsp_tw = NULL;
		r = TWTRACE_DEATH_UNKNOWN;
		if (ctx->tsp_ret == TCP_TW_SYN)
			r = TWTRACE_DEATH_SYN_RECYCLED;
		else if (ctx->tsp_ret == TCP_TW_RST)
			r = TWTRACE_DEATH_RST_SENT;
		return r;
	}
	return TWTRACE_DEATH_UNKNOWN;
}

NOKPROBE_SYMBOL(early_death_reason);

static enum twtrace_death_reason
death_reason(struct twtrace_ctx *ctx, const struct inet_timewait_sock *tw,
	     const struct twtrace_tw *e)
{
	if (ctx->expiring == tw) {
		ctx->expiring = NULL;
		return TWTRACE_DEATH_EXPIRED;
	}
	if (ctx->desched == tw) {
		ctx->desched = NULL;
		return early_death_reason(ctx, tw, e);
	}
	/* 6.1 inlines inet_twsk_deschedule_put() into inet_twsk_purge(). */
	if (!check_net(twsk_net(tw)))
		return TWTRACE_DEATH_NETNS_PURGE;
	/* Without the timer probe, a kill that is not early is the timer's. */
	if (!probe_attached(P_TIMER))
		return TWTRACE_DEATH_EXPIRED;
	return TWTRACE_DEATH_UNKNOWN;
}

NOKPROBE_SYMBOL(death_reason);

static void emit_death(struct twtrace_record *rec, struct twtrace_tw *e,
		       enum twtrace_death_reason reason, u64 now)
{
	u64 life;
	u16 g;

	rec->reason = reason;
	rec->ts_ns = now;
	if (e) {
		life = now - e->birth_ns;
		rec->tw_id = twtrace_tw_id(e);
		rec->rearms = READ_ONCE(e->rearms);
		rec->death.lifetime_ns = life;
		twtrace_tw_owner(e, &rec->owner);
		rec->death.fin_wait2_ns = (u64)READ_ONCE(e->fin_wait2_us) *
					  NSEC_PER_USEC;
		if (READ_ONCE(e->substate) == TCP_FIN_WAIT2)
			rec->death.fin_wait2_ns = life;
		twtrace_hist_lifetime(reason, life);
		g = entry_group(e, rec->netns);
		if (READ_ONCE(e->live_counted))
			twtrace_group_live_dec(g);
		twtrace_table_remove(e);
		twtrace_table_put(e);
	} else {
		rec->death.lifetime_ns = TWTRACE_NS_UNKNOWN;
		rec->death.fin_wait2_ns = TWTRACE_NS_UNKNOWN;
		/*
		 * Not in the table: born before the module was loaded, or
		 * untracked (see schedule_pre()).  Only the count of
		 * the latter is known, not which sockets they were.
		 */
		if (atomic_add_unless(&twtrace_untracked_live, -1, 0)) {
			rec->flags |= TWTRACE_F_UNTRACKED;
		} else {
			rec->flags |= TWTRACE_F_BORN_BEFORE_LOAD;
			twtrace_count(TWTRACE_C_BORN_BEFORE_LOAD);
		}
		/* Owner unknown; a free's netns too: then "other". */
		g = rec->netns ? twtrace_group_of(rec->netns, 0) : 0;
	}
	twtrace_count(TWTRACE_C_DEATH + reason);
	twtrace_group_count(g, TWTRACE_G_DEATH + reason);
	twtrace_ring_emit(rec);
}

NOKPROBE_SYMBOL(emit_death);

/* inet_twsk_kill(tw): every death passes here exactly once. */
static int kill_pre(struct kprobe *p, struct pt_regs *regs)
{
	struct inet_timewait_sock *tw = arg_tw(regs, 0);
	struct twtrace_ctx *ctx = this_cpu_ptr(&twtrace_ctx);
	enum twtrace_death_reason reason;
	struct twtrace_record rec;
	struct twtrace_tw *e;
	u64 now;

	if (!is_tcp_tw(tw))
		return 0;
	hit(P_KILL);
	if (ctx->birth_tw == tw) {	/* its hashdance went unseen */
		ctx->birth_tw = NULL;
		emit_birth(&ctx->birth, twtrace_group_of(ctx->birth.netns, 0),
			   NULL);
	}
	now = ktime_get_ns();
	twtrace_fill_tw(&rec, tw, TWTRACE_EV_DEATH);

	rcu_read_lock();
	e = twtrace_table_get(tw);
	reason = death_reason(ctx, tw, e);
	emit_death(&rec, e, reason, now);
	rcu_read_unlock();
	return 0;
}

NOKPROBE_SYMBOL(kill_pre);

/*
 * tcp_twsk_destructor(sk): inet_twsk_free() is freeing the tw.  Its entry
 * is normally removed at the kill; one still here means the kill probe
 * missed it.  The netns may be gone by now (a late reference can outlive
 * it): report none.
 *
 * The destructor, not inet_twsk_free() itself: from 6.16 (DCCP gone),
 * inet_twsk_put() is inet_twsk_free()'s only caller but one and the
 * compiler inlines it there, so a probe on it attaches and never fires.
 * The destructor lives in another file, and TCP's alone calls it.
 */
static int free_pre(struct kprobe *p, struct pt_regs *regs)
{
	struct inet_timewait_sock *tw = arg_tw(regs, 0);
	struct twtrace_record rec;
	struct twtrace_tw *e;

	hit(P_FREE);
	rcu_read_lock();
	e = twtrace_table_get(tw);
	if (e) {
		memset(&rec, 0, sizeof(rec));
		rec.type = TWTRACE_EV_DEATH;
		rec.flags = TWTRACE_F_NO_TUPLE;
		rec.family = tw->tw_family == AF_INET6 ? 6 : 4;
		rec.owner.cookie = atomic64_read(&tw->tw_cookie);
		rec.substate = READ_ONCE(e->substate);
		emit_death(&rec, e, TWTRACE_DEATH_UNKNOWN, ktime_get_ns());
	}
	rcu_read_unlock();
	return 0;
}

NOKPROBE_SYMBOL(free_pre);

/* inet_twsk_deschedule_put(tw): an early death may follow. */
static int desched_pre(struct kprobe *p, struct pt_regs *regs)
{
	struct inet_timewait_sock *tw = arg_tw(regs, 0);

	if (!is_tcp_tw(tw))
		return 0;
	hit(P_DESCHED);
	this_cpu_write(twtrace_ctx.desched, tw);
	return 0;
}

NOKPROBE_SYMBOL(desched_pre);

/*
 * inet_twsk_hashdance(tw, sk, hashinfo) up to 6.10, after the birth;
 * inet_twsk_hashdance_schedule(tw, sk, hashinfo, timeo) from 6.11, before
 * it: the owner, from the full socket.
 */
static int hashdance_pre(struct kprobe *p, struct pt_regs *regs)
{
	struct inet_timewait_sock *tw = arg_tw(regs, 0);
	struct sock *sk = (struct sock *)regs_get_kernel_argument(regs, 1);
	struct twtrace_ctx *ctx = this_cpu_ptr(&twtrace_ctx);
	struct twtrace_owner owner;
	struct twtrace_tw *e;
	u16 g;

	if (!is_tcp_tw(tw))
		return 0;
	hit(P_HASHDANCE);
	rcu_read_lock();
	twtrace_fill_owner(&owner, sk, false);
	g = twtrace_group_of(twsk_net(tw)->ns.inum, owner.cgroup);
	e = twtrace_table_get(tw);
	if (e) {
		/* Not hashed yet: nobody else reads the entry's owner. */
		e->role = owner.role;
		e->uid = owner.uid;
		e->cgroup = owner.cgroup;
		e->group = g + 1;
	} else if (TWTRACE_ENTRY_AT_ALLOC) {
		/* For the birth of this untracked tw, which follows. */
		ctx->dance_tw = tw;
		ctx->dance_group = g;
	}
	if (ctx->birth_tw == tw) {
		ctx->birth_tw = NULL;
		/* The entry's part: the cookie stays the tw's. */
		ctx->birth.owner.role = owner.role;
		ctx->birth.owner.uid = owner.uid;
		ctx->birth.owner.cgroup = owner.cgroup;
		emit_birth(&ctx->birth, g, e);
	}
	if (e)
		twtrace_table_put(e);
	rcu_read_unlock();
	return 0;
}

NOKPROBE_SYMBOL(hashdance_pre);

/* tw_timer_handler(timer): tail-jumps into inet_twsk_kill(). */
static int timer_pre(struct kprobe *p, struct pt_regs *regs)
{
	struct timer_list *t = (struct timer_list *)regs_get_kernel_argument(regs, 0);
	struct inet_timewait_sock *tw = timer_container_of(tw, t, tw_timer);

	if (!is_tcp_tw(tw))
		return 0;
	hit(P_TIMER);
	this_cpu_write(twtrace_ctx.expiring, tw);
	return 0;
}

NOKPROBE_SYMBOL(timer_pre);

/* tcp_abort(sk, err): SOCK_DESTROY; for a tw, always its death. */
static int abort_pre(struct kprobe *p, struct pt_regs *regs)
{
	struct sock *sk = (struct sock *)regs_get_kernel_argument(regs, 0);
	struct twtrace_tw *e;

	/* Before 6.0 tcp_abort() refuses a tw (compat.h): nothing dies. */
	if (!TWTRACE_ABORT_KILLS_TW ||
	    READ_ONCE(sk->sk_state) != TCP_TIME_WAIT)
		return 0;
	hit(P_ABORT);
	rcu_read_lock();
	e = twtrace_table_get(inet_twsk(sk));
	if (e) {
		WRITE_ONCE(e->pending, TWTRACE_DEATH_ADMIN_DESTROYED + 1);
		twtrace_table_put(e);
	}
	rcu_read_unlock();
	return 0;
}

NOKPROBE_SYMBOL(abort_pre);

/* tcp_timewait_state_process(tw, skb, th[, tw_isn]) */
struct tsp_data {
	struct inet_timewait_sock *tw;
};

static int tsp_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct tsp_data *d = (struct tsp_data *)ri->data;

	d->tw = arg_tw(regs, 0);
	hit(P_TSP);
	this_cpu_write(twtrace_ctx.in_tsp, d->tw);
	return 0;
}

NOKPROBE_SYMBOL(tsp_entry);

static int tsp_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct tsp_data *d = (struct tsp_data *)ri->data;
	struct twtrace_ctx *ctx = this_cpu_ptr(&twtrace_ctx);

	ctx->in_tsp = NULL;
	ctx->tsp_tw = d->tw;
	ctx->tsp_ret = (int)regs_return_value(regs);
	return 0;
}

NOKPROBE_SYMBOL(tsp_ret);

/* inet_twsk_alloc(sk, dr, state): the entry, or an overflow. */
struct alloc_data {
	const struct sock *sk;
	u32 count;
	u32 limit;
	u8 state;
};

static int alloc_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct alloc_data *d = (struct alloc_data *)ri->data;
	const struct sock *sk = (const struct sock *)regs_get_kernel_argument(regs, 0);
	struct inet_timewait_death_row *dr;
	u32 cookie[2];

	dr = (struct inet_timewait_death_row *)regs_get_kernel_argument(regs, 1);
	if (dr != twtrace_tcp_death_row(sock_net(sk)))
		return 1;	/* not TCP: no return probe */
	hit(P_ALLOC);
	/* Made now, the tw inherits it: ss shows both with one cookie. */
	sock_diag_save_cookie((struct sock *)sk, cookie);
	d->sk = sk;
	d->count = twtrace_tw_count(dr);
	d->limit = READ_ONCE(dr->sysctl_max_tw_buckets);
	d->state = regs_get_kernel_argument(regs, 2);
	return 0;
}

NOKPROBE_SYMBOL(alloc_entry);

static int alloc_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct alloc_data *d = (struct alloc_data *)ri->data;
	struct inet_timewait_sock *tw;
	enum twtrace_overflow_reason reason;
	struct twtrace_record rec;

	tw = (struct inet_timewait_sock *)regs_return_value(regs);
	if (tw) {
		/* Not hashed yet: no rearm can come before this. */
		if (TWTRACE_ENTRY_AT_ALLOC) {
			rcu_read_lock();
			twtrace_table_insert(tw, ktime_get_ns(), d->state);
			rcu_read_unlock();
		}
		return 0;
	}
	reason = d->count >= d->limit ? TWTRACE_OVERFLOW_LIMIT :
					 TWTRACE_OVERFLOW_NOMEM;
	memset(&rec, 0, sizeof(rec));
	rec.type = TWTRACE_EV_OVERFLOW;
	rec.ts_ns = ktime_get_ns();
	/* tcp_time_wait() still holds the full socket. */
	twtrace_fill_tuple(&rec, &d->sk->__sk_common, d->sk->sk_num);
	rcu_read_lock();
	twtrace_fill_owner(&rec.owner, (struct sock *)d->sk, false);
	rcu_read_unlock();
	rec.substate = d->state;
	rec.reason = reason;
	rec.overflow.tw_count = d->count;
	rec.overflow.tw_limit = d->limit;
	twtrace_count(TWTRACE_C_OVERFLOW + reason);
	emit_grouped(&rec, TWTRACE_G_OVERFLOW);
	return 0;
}

NOKPROBE_SYMBOL(alloc_ret);

/* tcp_twsk_unique(sk, sktw, twp): 1 if the connect may take the tw over. */
struct unique_data {
	struct twtrace_record rec;
	const struct inet_timewait_sock *tw;
	const struct sock *sk;
	u64 age_ns;
};

/*
 * The connects inside inet_hash_connect(), where the reuse decisions on
 * the ports they try are made, each found by its socket (which it holds
 * locked, so it is there once): their tally for a connect_fail record.
 * A fixed array, not the rhashtable: a connect runs with BH enabled, and
 * before 6.7 a bucket lock would run softirqs inside the handler.  A
 * connect that finds every slot taken is not counted
 * (TWTRACE_F_UNCOUNTED).  A connect can sleep in its port search, so the
 * return probes have more instances than there are slots: a shortage of
 * slots loses a tally, not the record.
 */
#define TWTRACE_CONNECTS	64
#define TWTRACE_CONNECT_INSTANCES	(4 * TWTRACE_CONNECTS)

struct twtrace_connect {
	const struct sock *sk;		/* NULL: free */
	u16 tw_seen;
	u16 reasons[TWTRACE_REUSE_NR];
};

static struct twtrace_connect twtrace_connects[TWTRACE_CONNECTS];

static struct twtrace_connect *connect_find(const struct sock *sk)
{
	int i;

	for (i = 0; i < TWTRACE_CONNECTS; i++)
		if (READ_ONCE(twtrace_connects[i].sk) == sk)
			return &twtrace_connects[i];
	return NULL;
}

NOKPROBE_SYMBOL(connect_find);

static void connect_tally(const struct sock *sk, u8 reason)
{
	struct twtrace_connect *c = connect_find(sk);

	if (!c)
		return;
	if (c->tw_seen < U16_MAX)
		c->tw_seen++;
	if (c->reasons[reason] < U16_MAX)
		c->reasons[reason]++;
}

NOKPROBE_SYMBOL(connect_tally);

static bool tw_is_loopback(const struct inet_timewait_sock *tw)
{
	if (tw->tw_bound_dev_if == LOOPBACK_IFINDEX)
		return true;
#if IS_ENABLED(CONFIG_IPV6)
	if (tw->tw_family == AF_INET6)
		return ipv6_addr_loopback(&tw->tw_v6_daddr) ||
		       ipv6_addr_v4mapped_loopback(&tw->tw_v6_daddr) ||
		       ipv6_addr_loopback(&tw->tw_v6_rcv_saddr) ||
		       ipv6_addr_v4mapped_loopback(&tw->tw_v6_rcv_saddr);
#endif
	return ipv4_is_loopback(tw->tw_daddr) ||
	       ipv4_is_loopback(tw->tw_rcv_saddr);
}

NOKPROBE_SYMBOL(tw_is_loopback);

/*
 * The kernel's policy, evaluated in its order (Documentation/twtrace.rst,
 * "Reuse decisions"), with @delay_ms the reuse delay in force.
 */
static enum twtrace_reuse_reason
reuse_policy(const struct inet_timewait_sock *tw, u8 reuse, bool bound,
	     u32 delay_ms)
{
	const struct tcp_timewait_sock *tcptw = tcp_twsk((struct sock *)tw);

	if (!READ_ONCE(tcptw->tw_ts_recent_stamp))
		return TWTRACE_REUSE_REFUSE_NO_TIMESTAMPS;
	if (bound)
		return TWTRACE_REUSE_ALLOW_BOUND_PORT;
	if (!reuse)
		return TWTRACE_REUSE_REFUSE_SYSCTL_OFF;
	if (twtrace_tw_substate(tw) == TCP_FIN_WAIT2)
		return TWTRACE_REUSE_REFUSE_FIN_WAIT2;
	if (reuse == 2 && !tw_is_loopback(tw))
		return TWTRACE_REUSE_REFUSE_NOT_LOOPBACK;
	if (twtrace_reuse_too_recent(tw, delay_ms))
		return TWTRACE_REUSE_REFUSE_TOO_RECENT;
	return TWTRACE_REUSE_ALLOW_REUSE;
}

NOKPROBE_SYMBOL(reuse_policy);

/* The connecting socket's tuple; its local port is not set yet. */
static void fill_peer(struct twtrace_record *rec, const struct sock *sk,
		      u16 lport)
{
	struct twtrace_record c = {};

	twtrace_fill_tuple(&c, &sk->__sk_common, lport);
	rec->reuse.sport = c.sport;
	rec->reuse.dport = c.dport;
	memcpy(rec->reuse.saddr, c.saddr, sizeof(c.saddr));
	memcpy(rec->reuse.daddr, c.daddr, sizeof(c.daddr));
	if (c.dport != rec->dport || c.family != rec->family ||
	    memcmp(c.saddr, rec->saddr, sizeof(c.saddr)) ||
	    memcmp(c.daddr, rec->daddr, sizeof(c.daddr)))
		rec->flags |= TWTRACE_F_TUPLE_DIFFERS;
}

NOKPROBE_SYMBOL(fill_peer);

static int unique_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct unique_data *d = (struct unique_data *)ri->data;
	struct sock *sk = (struct sock *)regs_get_kernel_argument(regs, 0);
	struct sock *sktw = (struct sock *)regs_get_kernel_argument(regs, 1);
	bool bound = !regs_get_kernel_argument(regs, 2);
	const struct inet_timewait_sock *tw = inet_twsk(sktw);
	struct twtrace_record *rec = &d->rec;
	struct twtrace_tw *e;
	u8 reuse;

	hit(P_UNIQUE);
	reuse = READ_ONCE(sock_net(sk)->ipv4.sysctl_tcp_tw_reuse);
	twtrace_fill_tw(rec, tw, TWTRACE_EV_REUSE);
	d->sk = sk;
	rec->reuse_sysctl = reuse;
	rec->reuse.delay_ms = twtrace_reuse_delay_ms(sock_net(sk));
	rec->reason = reuse_policy(tw, reuse, bound, rec->reuse.delay_ms);
	d->tw = tw;

	rcu_read_lock();
	e = twtrace_table_get(tw);
	rec->tw_id = 0;
	rec->rearms = 0;
	d->age_ns = 0;
	if (e) {
		rec->tw_id = twtrace_tw_id(e);
		rec->rearms = READ_ONCE(e->rearms);
		d->age_ns = e->birth_ns;
		twtrace_table_put(e);
	}
	rcu_read_unlock();

	fill_peer(rec, sk, tw->tw_num);
	twtrace_fill_owner(&rec->owner, sk, true);
	return 0;
}

NOKPROBE_SYMBOL(unique_entry);

static int unique_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct unique_data *d = (struct unique_data *)ri->data;
	struct twtrace_record *rec = &d->rec;
	bool allowed = regs_return_value(regs) != 0;
	u64 now = ktime_get_ns();

	/* The return value is the truth; reconcile the explanation. */
	if (allowed && !twtrace_reuse_allows(rec->reason))
		rec->reason = TWTRACE_REUSE_ALLOW_REUSE;	/* second ticked */
	else if (!allowed && twtrace_reuse_allows(rec->reason))
		rec->reason = TWTRACE_REUSE_REFUSE_DYING;
	if (allowed) {
		rec->flags |= TWTRACE_F_ALLOWED;
		this_cpu_write(twtrace_ctx.reuse_tw, d->tw);
	}
	rec->ts_ns = now;
	rec->reuse.age_ns = TWTRACE_NS_UNKNOWN;
	if (d->age_ns) {
		rec->reuse.age_ns = now - d->age_ns;
		twtrace_hist_reuse_age(rec->reuse.age_ns);
	}
	twtrace_count(TWTRACE_C_REUSE + rec->reason);
	connect_tally(d->sk, rec->reason);
	emit_grouped(rec, allowed ? TWTRACE_G_REUSE_ALLOWED :
				    TWTRACE_G_REUSE_REFUSED);
	return 0;
}

NOKPROBE_SYMBOL(unique_ret);

/* inet_hash_connect(dr, sk), inet6_hash_connect(dr, sk) */
struct connect_data {
	struct sock *sk;
	struct twtrace_connect *c;
	u16 bound;		/* the local port it was bound to, or 0 */
};

/*
 * A TCP connect (DCCP shares the function up to 6.15: no return probe for
 * it) takes a free slot, searched from one that depends on the CPU so that
 * connects on different CPUs do not all contend for the first ones.
 */
static int connect_start(struct connect_data *d, struct pt_regs *regs)
{
	struct sock *sk = (struct sock *)regs_get_kernel_argument(regs, 1);
	const void *dr = (const void *)regs_get_kernel_argument(regs, 0);
	unsigned int first = raw_smp_processor_id();
	struct twtrace_connect *c;
	int i;

	if (dr != twtrace_tcp_death_row(sock_net(sk)))
		return 1;
	d->sk = sk;
	d->bound = sk->sk_num;
	d->c = NULL;
	for (i = 0; i < TWTRACE_CONNECTS; i++) {
		c = &twtrace_connects[(first + i) % TWTRACE_CONNECTS];
		if (!READ_ONCE(c->sk) && !cmpxchg(&c->sk, NULL, sk)) {
			c->tw_seen = 0;
			memset(c->reasons, 0, sizeof(c->reasons));
			d->c = c;
			break;
		}
	}
	return 0;
}

NOKPROBE_SYMBOL(connect_start);

static int connect_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	if (connect_start((struct connect_data *)ri->data, regs))
		return 1;
	hit(P_CONNECT);
	return 0;
}

NOKPROBE_SYMBOL(connect_entry);

static int connect6_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	if (connect_start((struct connect_data *)ri->data, regs))
		return 1;
	hit(P_CONNECT6);
	return 0;
}

NOKPROBE_SYMBOL(connect6_entry);

static int connect_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct connect_data *d = (struct connect_data *)ri->data;
	int err = (int)regs_return_value(regs);
	struct twtrace_record rec;

	if (err == -EADDRNOTAVAIL || err == -EADDRINUSE) {
		memset(&rec, 0, sizeof(rec));
		rec.type = TWTRACE_EV_CONNECT_FAIL;
		rec.ts_ns = ktime_get_ns();
		twtrace_fill_tuple(&rec, &d->sk->__sk_common, d->bound);
		rec.connect.err = err;
		rec.connect.ports = d->bound ? 0 : twtrace_port_range(d->sk);
		if (d->c) {
			rec.connect.tw_seen = d->c->tw_seen;
			memcpy(rec.connect.reasons, d->c->reasons,
			       sizeof(rec.connect.reasons));
		} else {
			rec.flags |= TWTRACE_F_UNCOUNTED;
		}
		twtrace_fill_owner(&rec.owner, d->sk, true);
		twtrace_count(TWTRACE_C_CONNECT_FAIL);
		emit_grouped(&rec, TWTRACE_G_CONNECT_FAIL);
	}
	if (d->c) {
		/* Ordered after the tally's reads: the next user resets it. */
		smp_store_release(&d->c->sk, NULL);
	}
	return 0;
}

NOKPROBE_SYMBOL(connect_ret);
/* The uapi's inline is only a hint: keep any out-of-line copy unprobed. */
NOKPROBE_SYMBOL(twtrace_reuse_allows);

static struct kretprobe rp_alloc = {
	.kp.symbol_name	= "inet_twsk_alloc",
	.entry_handler	= alloc_entry,
	.handler	= alloc_ret,
	.data_size	= sizeof(struct alloc_data),
};

static struct kretprobe rp_unique = {
	.kp.symbol_name	= "tcp_twsk_unique",
	.entry_handler	= unique_entry,
	.handler	= unique_ret,
	.data_size	= sizeof(struct unique_data),
};

static struct kretprobe rp_connect = {
	.kp.symbol_name	= "inet_hash_connect",
	.entry_handler	= connect_entry,
	.handler	= connect_ret,
	.data_size	= sizeof(struct connect_data),
	.maxactive	= TWTRACE_CONNECT_INSTANCES,
};

static struct kretprobe rp_connect6 = {
	.kp.symbol_name	= "inet6_hash_connect",
	.entry_handler	= connect6_entry,
	.handler	= connect_ret,
	.data_size	= sizeof(struct connect_data),
	.maxactive	= TWTRACE_CONNECT_INSTANCES,
};

static struct kretprobe rp_tsp = {
	.kp.symbol_name	= "tcp_timewait_state_process",
	.entry_handler	= tsp_entry,
	.handler	= tsp_ret,
	.data_size	= sizeof(struct tsp_data),
};

#define KP(sym, fn, req) { .kp = { .symbol_name = sym, .pre_handler = fn }, \
			   .required = req }
#define RP(rpp, req) { .rp = rpp, .required = req }

static struct twtrace_probe twtrace_probes[P_NR] = {
	[P_SCHEDULE]	= KP("__inet_twsk_schedule", schedule_pre, true),
	[P_KILL]	= KP("inet_twsk_kill", kill_pre, true),
	[P_FREE]	= KP("tcp_twsk_destructor", free_pre, true),
	[P_ALLOC]	= RP(&rp_alloc, true),
	[P_UNIQUE]	= RP(&rp_unique, false),
	[P_TSP]		= RP(&rp_tsp, false),
	[P_TIMER]	= KP("tw_timer_handler", timer_pre, false),
	[P_ABORT]	= KP("tcp_abort", abort_pre, false),
	[P_DESCHED]	= KP("inet_twsk_deschedule_put", desched_pre, false),
	[P_HASHDANCE]	= KP(TWTRACE_HASHDANCE_SYMBOL, hashdance_pre, false),
	[P_CONNECT]	= RP(&rp_connect, false),
	[P_CONNECT6]	= RP(&rp_connect6, false),
};

static bool probe_attached(enum twtrace_probe_id id)
{
	return twtrace_probes[id].attached;
}

NOKPROBE_SYMBOL(probe_attached);

/*
 * A probe can attach to a function and still never fire: the compiler
 * inlined the function into the callers that matter on this kernel, and
 * the out-of-line copy the probe sits on is (almost) never called.  Such a
 * probe is told by its witness, a probe each of whose hits is soon followed
 * by one of its own: every killed tw is freed, and every freed tw was
 * killed but for the few that never got hashed.  Once its witness has
 * fired TWTRACE_WITNESS_HITS times and it has not, it is reported as
 * "never" in the probes file.
 */
#define TWTRACE_WITNESS_HITS	16

static const u8 probe_witness[P_NR] = {	/* probe id + 1, 0 for none */
	[P_KILL]	= P_FREE + 1,
	[P_FREE]	= P_KILL + 1,
};

static unsigned long probe_hits(enum twtrace_probe_id id)
{
	unsigned long hits = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		hits += per_cpu_ptr(twtrace_hits, cpu)->n[id];
	return hits;
}

/* "yes" it has fired, "no" not yet, "never" it cannot on this kernel. */
static const char *probe_fires(enum twtrace_probe_id id, unsigned long hits)
{
	u8 w = probe_witness[id];

	if (hits)
		return "yes";
	if (twtrace_probes[id].attached && w &&
	    probe_hits(w - 1) >= TWTRACE_WITNESS_HITS)
		return "never";
	return "no";
}

static const char *probe_symbol(const struct twtrace_probe *p)
{
	return p->rp ? p->rp->kp.symbol_name : p->kp.symbol_name;
}

static void probe_unregister(struct twtrace_probe *p)
{
	if (!p->attached)
		return;
	if (p->rp)
		unregister_kretprobe(p->rp);
	else
		unregister_kprobe(&p->kp);
	p->attached = false;
}

int twtrace_probes_register(void)
{
	struct twtrace_probe *p;
	int i, ret;

	twtrace_hits = alloc_percpu(struct twtrace_hits);
	if (!twtrace_hits)
		return -ENOMEM;

	for (i = 0; i < P_NR; i++) {
		p = &twtrace_probes[i];
		if (p->rp) {
			/* Most never sleep: one per CPU and nesting. */
			if (!p->rp->maxactive)
				p->rp->maxactive = max_t(int, 16,
							 4 * num_possible_cpus());
			ret = register_kretprobe(p->rp);
		} else {
			ret = register_kprobe(&p->kp);
		}
		if (!ret) {
			p->attached = true;
			continue;
		}
		pr_warn("cannot probe %s: %d\n", probe_symbol(p), ret);
		if (p->required)
			goto err_unwind;
	}
	return 0;

err_unwind:
	while (--i >= 0)
		probe_unregister(&twtrace_probes[i]);
	free_percpu(twtrace_hits);
	twtrace_hits = NULL;
	return ret;
}

void twtrace_probes_unregister(void)
{
	int i;

	for (i = P_NR - 1; i >= 0; i--)
		probe_unregister(&twtrace_probes[i]);
	free_percpu(twtrace_hits);
	twtrace_hits = NULL;
}

static unsigned long probe_nmissed(const struct twtrace_probe *p)
{
	if (!p->attached)
		return 0;
	return p->rp ? p->rp->kp.nmissed + p->rp->nmissed : p->kp.nmissed;
}

unsigned long twtrace_probes_nmissed(void)
{
	unsigned long n = 0;
	int i;

	for (i = 0; i < P_NR; i++)
		n += probe_nmissed(&twtrace_probes[i]);
	return n;
}

/*
 * Probe @i as the "probes" file shows it: false past the last probe.  Its
 * order is the registration order.
 */
bool twtrace_probe_info(unsigned int i, struct twtrace_probe_info *info)
{
	const struct twtrace_probe *p;

	if (i >= P_NR)
		return false;
	p = &twtrace_probes[i];
	info->symbol = probe_symbol(p);
	info->attached = p->attached;
	info->hits = probe_hits(i);
	info->missed = probe_nmissed(p);
	info->fires = probe_fires(i, info->hits);
	return true;
}
