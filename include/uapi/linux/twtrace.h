/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * twtrace: the contract between the twtrace kernel module and its readers.
 *
 * Everything a reader needs to decode what the module exports lives here and
 * only here: the version strings, the debugfs location, the binary record
 * read from the cpuN files, and the names of events, reasons and counters.
 */
#ifndef _UAPI_LINUX_TWTRACE_H
#define _UAPI_LINUX_TWTRACE_H

#include <linux/types.h>

#define TWTRACE_VERSION		"0.2.0"

/* "TWTR" in memory order: first field of every binary record. */
#define TWTRACE_MAGIC		0x52545754U
/* Bumped on any incompatible change of a record or file format. */
#define TWTRACE_ABI_VERSION	2

#define TWTRACE_DEBUGFS_DIR	"twtrace"

/*
 * Records grow only at their end, and only with fields whose zero means
 * "unknown": a reader takes the record size from the "version" file or a
 * recording's header, accepts any size from TWTRACE_RECORD_SIZE_MIN up,
 * ignores the bytes past the fields it knows and reads the fields past the
 * end of a shorter record as zero.  TWTRACE_ABI_VERSION changes only when
 * a field moves or changes its meaning.
 */
#define TWTRACE_RECORD_SIZE_MIN	128	/* up to and with the union */

/* TIME_WAIT substates, the kernel's TCP state numbers. */
#define TWTRACE_SUBSTATE_FIN_WAIT2	5
#define TWTRACE_SUBSTATE_TIME_WAIT	6

/* Record types. */
enum twtrace_event {
	TWTRACE_EV_NONE,
	TWTRACE_EV_BIRTH,
	TWTRACE_EV_REARM,
	TWTRACE_EV_DEATH,
	TWTRACE_EV_REUSE,
	TWTRACE_EV_OVERFLOW,
	TWTRACE_EV_CONNECT_FAIL,
	TWTRACE_EV_NR
};

/* Why a TIME_WAIT socket ended. */
enum twtrace_death_reason {
	TWTRACE_DEATH_EXPIRED,
	TWTRACE_DEATH_REUSED,
	TWTRACE_DEATH_RST_RECEIVED,
	TWTRACE_DEATH_SYN_RECYCLED,
	TWTRACE_DEATH_RST_SENT,
	TWTRACE_DEATH_ADMIN_DESTROYED,
	TWTRACE_DEATH_NETNS_PURGE,
	TWTRACE_DEATH_UNKNOWN,
	TWTRACE_DEATH_NR
};

/*
 * A tcp_twsk_unique() decision, in the kernel's evaluation order.  The
 * kernel's return value is the truth; the reason explains it.
 */
enum twtrace_reuse_reason {
	TWTRACE_REUSE_REFUSE_NO_TIMESTAMPS,
	TWTRACE_REUSE_ALLOW_BOUND_PORT,
	TWTRACE_REUSE_REFUSE_SYSCTL_OFF,
	TWTRACE_REUSE_REFUSE_FIN_WAIT2,
	TWTRACE_REUSE_REFUSE_NOT_LOOPBACK,
	TWTRACE_REUSE_REFUSE_TOO_RECENT,
	TWTRACE_REUSE_ALLOW_REUSE,
	TWTRACE_REUSE_REFUSE_DYING,
	TWTRACE_REUSE_NR
};

/* Whether a reuse reason is one the kernel allows. */
static __inline__ int twtrace_reuse_allows(unsigned int reason)
{
	return reason == TWTRACE_REUSE_ALLOW_BOUND_PORT ||
	       reason == TWTRACE_REUSE_ALLOW_REUSE;
}

/*
 * Which side of its connection a socket was when it entered TIME_WAIT: the
 * server if a listener in its netns took SYNs on its local address and
 * port at that moment (the lookup an incoming SYN does), else the client.
 */
enum twtrace_role {
	TWTRACE_ROLE_UNKNOWN,
	TWTRACE_ROLE_CLIENT,
	TWTRACE_ROLE_SERVER,
	TWTRACE_ROLE_NR
};

/* Why no TIME_WAIT socket could be made. */
enum twtrace_overflow_reason {
	TWTRACE_OVERFLOW_LIMIT,
	TWTRACE_OVERFLOW_NOMEM,
	TWTRACE_OVERFLOW_NR
};

/*
 * The names of the above, as the debugfs files, the reader and its JSON
 * spell them:  static const char * const names[] = TWTRACE_DEATH_NAMES;
 */
#define TWTRACE_EVENT_NAMES {					\
	[TWTRACE_EV_NONE] = "none",				\
	[TWTRACE_EV_BIRTH] = "birth",				\
	[TWTRACE_EV_REARM] = "rearm",				\
	[TWTRACE_EV_DEATH] = "death",				\
	[TWTRACE_EV_REUSE] = "reuse",				\
	[TWTRACE_EV_OVERFLOW] = "overflow",			\
	[TWTRACE_EV_CONNECT_FAIL] = "connect_fail",		\
}

#define TWTRACE_DEATH_NAMES {					\
	[TWTRACE_DEATH_EXPIRED] = "expired",			\
	[TWTRACE_DEATH_REUSED] = "reused",			\
	[TWTRACE_DEATH_RST_RECEIVED] = "rst_received",		\
	[TWTRACE_DEATH_SYN_RECYCLED] = "syn_recycled",		\
	[TWTRACE_DEATH_RST_SENT] = "rst_sent",			\
	[TWTRACE_DEATH_ADMIN_DESTROYED] = "admin_destroyed",	\
	[TWTRACE_DEATH_NETNS_PURGE] = "netns_purge",		\
	[TWTRACE_DEATH_UNKNOWN] = "unknown",			\
}

#define TWTRACE_REUSE_NAMES {					\
	[TWTRACE_REUSE_REFUSE_NO_TIMESTAMPS] = "refuse_no_timestamps", \
	[TWTRACE_REUSE_ALLOW_BOUND_PORT] = "allow_bound_port",	\
	[TWTRACE_REUSE_REFUSE_SYSCTL_OFF] = "refuse_sysctl_off", \
	[TWTRACE_REUSE_REFUSE_FIN_WAIT2] = "refuse_fin_wait2",	\
	[TWTRACE_REUSE_REFUSE_NOT_LOOPBACK] = "refuse_not_loopback", \
	[TWTRACE_REUSE_REFUSE_TOO_RECENT] = "refuse_too_recent", \
	[TWTRACE_REUSE_ALLOW_REUSE] = "allow_reuse",		\
	[TWTRACE_REUSE_REFUSE_DYING] = "refuse_dying",		\
}

#define TWTRACE_ROLE_NAMES {					\
	[TWTRACE_ROLE_UNKNOWN] = "unknown",			\
	[TWTRACE_ROLE_CLIENT] = "client",			\
	[TWTRACE_ROLE_SERVER] = "server",			\
}

#define TWTRACE_OVERFLOW_NAMES {				\
	[TWTRACE_OVERFLOW_LIMIT] = "limit",			\
	[TWTRACE_OVERFLOW_NOMEM] = "nomem",			\
}

/* twtrace_record.flags */
#define TWTRACE_F_ALLOWED		0x01	/* reuse: the kernel allowed it */
#define TWTRACE_F_BORN_BEFORE_LOAD	0x02	/* death: lifetime unknown */
#define TWTRACE_F_UNTRACKED		0x04	/* death: not in the live table */
#define TWTRACE_F_TUPLE_DIFFERS		0x08	/* reuse: new tuple != tw's */
#define TWTRACE_F_NO_TUPLE		0x10	/* death found at the free */
#define TWTRACE_F_UNCOUNTED		0x20	/* connect_fail: no tally */

/*
 * Who made a socket, read from the full socket: for a TIME_WAIT socket
 * when it entered TIME_WAIT (tcp_time_wait()), so its births, rearms and
 * deaths all carry it; for a reuse decision the connecting socket (a
 * client); for an overflow the socket that could not become a TIME_WAIT
 * one.  The cookie is the socket's SO_COOKIE, the one "ss -e" shows as
 * "sk:<hex>" and sock_diag and BPF report: the module makes it if the
 * socket has none yet, and a tw keeps its full socket's.
 *
 * The cgroup v2 id is the inode number of the cgroup's directory in the
 * cgroup2 filesystem.  role 0 (unknown) means uid and cgroup are not known
 * either: a tw born before the module was loaded or untracked, or a record
 * of an older module.  The cookie is 0 only for a tw born before the load
 * whose socket nobody had asked the cookie of.  The uid is the fsuid of
 * the task that created the socket, for an accepted one of the task that
 * accepted it (accept() sets it).
 */
struct twtrace_owner {
	__u64 cookie;		/* SO_COOKIE */
	__u64 cgroup;		/* cgroup v2 id, 0 if not known */
	__u32 uid;		/* sk_uid, in the initial user namespace */
	__u8  role;		/* enum twtrace_role */
	__u8  __pad[3];
};

/* Lifetime or age not known (socket born before the module was loaded). */
#define TWTRACE_NS_UNKNOWN		(~0ULL)

/*
 * One event, as read from /sys/kernel/debug/twtrace/cpuN: a read returns
 * whole records only.  Fixed size; all integers in host byte order except
 * the addresses, which are in network order: IPv4 addresses in the first
 * four bytes of saddr/daddr, the rest zero.
 */
struct twtrace_record {
	__u32 magic;		/* TWTRACE_MAGIC */
	__u16 abi;		/* TWTRACE_ABI_VERSION */
	__u8  type;		/* enum twtrace_event */
	__u8  family;		/* 4 or 6 */
	__u64 seq;		/* per-CPU sequence number, from 0 */
	__u64 ts_ns;		/* CLOCK_MONOTONIC */
	__u64 tw_id;		/* the module's id of the socket, 0 if none */
	__u32 netns;		/* network namespace inode number */
	__u16 sport;		/* local port */
	__u16 dport;		/* remote port */
	__u8  saddr[16];	/* local address */
	__u8  daddr[16];	/* remote address */
	__u8  substate;		/* TWTRACE_SUBSTATE_*, after the event */
	__u8  reason;		/* death, reuse or overflow reason */
	__u8  flags;		/* TWTRACE_F_* */
	__u8  reuse_sysctl;	/* reuse: net.ipv4.tcp_tw_reuse in force */
	__u16 cpu;		/* the CPU whose ring the record went to */
	__u16 rearms;		/* so far (saturates at 65535) */
	union {
		struct {
			__u32 timeo_ms;		/* timer armed for */
		} birth;
		struct {
			__u32 timeo_ms;		/* timer re-armed for */
			__u8  old_substate;	/* substate before */
			__u8  __pad[3];
		} rearm;
		struct {
			__u64 lifetime_ns;	/* birth to death */
			__u64 fin_wait2_ns;	/* time in FIN_WAIT2; to the us once left */
		} death;
		struct {
			__u64 age_ns;		/* of the tw at the decision */
			__u16 sport;		/* the connecting socket's */
			__u16 dport;
			__u32 delay_ms;		/* the reuse delay in force */
			__u8  saddr[16];
			__u8  daddr[16];
		} reuse;
		struct {
			__u32 tw_count;		/* TIME_WAIT sockets in netns */
			__u32 tw_limit;		/* its tcp_max_tw_buckets */
		} overflow;
		/*
		 * A connect() that found no local port: the connecting
		 * socket's tuple (sport 0 unless it was bound) and owner;
		 * how many ports its local port range has (0 if it was
		 * bound); how many TIME_WAIT sockets it met on the ports it
		 * tried, and their reuse decisions by reason (unless
		 * TWTRACE_F_UNCOUNTED).
		 */
		struct {
			__s32 err;		/* -EADDRNOTAVAIL */
			__u16 ports;
			__u16 tw_seen;
			__u16 reasons[TWTRACE_REUSE_NR];
		} connect;
		__u8 __size[48];
	};
	/* From here on, past TWTRACE_RECORD_SIZE_MIN: see its comment. */
	struct twtrace_owner owner;
};

/*
 * A recording ("twtrace stream -o FILE"): this header, then whole records
 * exactly as read from the cpuN files, in the order the reader emitted them.
 */
#define TWTRACE_FILE_MAGIC	"TWTRACE\n"

struct twtrace_file_header {
	char  magic[8];		/* TWTRACE_FILE_MAGIC, no NUL */
	__u32 abi;		/* TWTRACE_ABI_VERSION of the records */
	__u32 record_size;	/* sizeof(struct twtrace_record) of the writer */
	__u32 ncpus;		/* cpuN files the recording read */
	__u32 __reserved;	/* zero */
	__u64 start_ns;		/* CLOCK_MONOTONIC at the start */
	__u64 start_realtime_ns; /* CLOCK_REALTIME at the same moment */
};

/*
 * The "stats" file: one "name value" line per counter, in this order:
 *
 *   births, rearms, death_<reason> for every death reason,
 *   reuse_<reason> for every reuse reason, overflow_<reason>, connect_fail,
 *   born_before_load, untracked, live, records, lost, lost_cpuN ...,
 *   probe_misses, since_ns
 *
 * since_ns is not a counter: the CLOCK_REALTIME (ns) at which the
 * counters started from 0, the module's load or the last reset.
 *
 * The "version" file: "version <TWTRACE_VERSION>", "abi <N>",
 * "record_size <bytes>", "kernel <release>" and "loaded_ns <CLOCK_REALTIME
 * of the module's load>" lines.
 *
 * The "live" file: a "# ..." header line, then one line per tracked socket:
 *
 *   <id> <netns> <4|6> <laddr>:<lport> <raddr>:<rport> <substate> <age_ns>
 *   <rearms> <uid> <cgroup> <cookie> <role>
 *
 * with IPv6 addresses as [addr]:port, substate TIME_WAIT or FIN_WAIT2,
 * the owner as in struct twtrace_owner (uid "-" when the role is unknown,
 * cgroup "-" when not known; cookie and cgroup in decimal) and role a TWTRACE_ROLE_NAMES
 * name.  Columns are only ever added at the end.
 *
 * The "probes" file: a "# ..." header line, then per probe
 * "<symbol> <yes|no attached> <hits> <missed>".
 *
 * The "hist" file: one line per non-empty log2 bucket:
 *
 *   lifetime <death reason> <b> <count>	lifetime in [2^b, 2^(b+1)) ns
 *   reuse_age <b> <count>			age at a reuse decision
 *
 * (bucket 0 also holds 0 ns).  Histograms cover every event, lossless.
 */
#define TWTRACE_HIST_BUCKETS	64

#endif /* _UAPI_LINUX_TWTRACE_H */
