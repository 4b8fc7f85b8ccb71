/* SPDX-License-Identifier: GPL-2.0 */
/*
 * twtrace reader: interfaces between the reader's files.
 *
 * The record layout, the names and the file formats come from the uapi
 * header <linux/twtrace.h> only; nothing here repeats them.
 */
#ifndef _TWTRACE_READER_H
#define _TWTRACE_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <linux/types.h>
#include <linux/twtrace.h>

/* Exit codes, documented in twtrace.8. */
#define EXIT_OK		0
#define EXIT_ERR	1	/* cannot read the module; probes not attached */
#define EXIT_USAGE	2	/* bad command, option, filter or argument */
#define EXIT_DATA	3	/* ABI mismatch, corrupt or truncated input */
#define EXIT_LOST	4	/* stream: records were lost, output incomplete */

#define DEBUGFS_MOUNT	"/sys/kernel/debug"
#define TW_PATH_MAX	4096

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define TW_ATTR(x)	__attribute__((x))
#define __printf(a, b)	TW_ATTR(format(printf, a, b))
#define __maybe_unused	TW_ATTR(unused)

extern const char *prog;

void __printf(1, 2) tw_err(const char *fmt, ...);
int tw_flush(void);
void *tw_grow(void *v, size_t *cap, size_t n, size_t elem);

/* Usage errors: the message, then the command's usage, on stderr. */
int __printf(2, 3) usage_err(void (*usage)(FILE *f), const char *fmt, ...);
#define OPT_HELP	(-1)	/* -h: the usage went to stdout */
int opt_err(int c, char **argv, void (*usage)(FILE *f));
int opt_extra(int argc, char **argv, void (*usage)(FILE *f));

/* Name tables, expanded from the uapi X-macros. */
extern const char *const tw_event_names[TWTRACE_EV_NR];
extern const char *const tw_death_names[TWTRACE_DEATH_NR];
extern const char *const tw_reuse_names[TWTRACE_REUSE_NR];
extern const char *const tw_overflow_names[TWTRACE_OVERFLOW_NR];
extern const char *const tw_role_names[TWTRACE_ROLE_NR];

int tw_name_index(const char *const *names, int n, const char *s);
const char *tw_substate_name(unsigned int substate);
const char *tw_reason_name(const struct twtrace_record *r);

/* The module's directory and its text files. */
const char *tw_dir(int *rc);
const char *tw_module(int *rc, size_t *rsz);
int tw_open(const char *dir, const char *name, int flags, int *rc);
int tw_read_text(const char *dir, const char *name, char **buf, int *rc);
int tw_version_value(const char *dir, const char *name, __u64 *v);
int tw_check_abi(const char *dir, size_t *rsz);
char *tw_next_line(char **cursor);
int tw_split(char *line, char **tok, int max);

/* The "stats" file. */
struct tw_stats {
	__u64 births;
	__u64 rearms;
	__u64 death[TWTRACE_DEATH_NR];
	__u64 reuse[TWTRACE_REUSE_NR];
	__u64 overflow[TWTRACE_OVERFLOW_NR];
	__u64 connect_fail;
	__u64 born_before_load;
	__u64 untracked;
	__u64 live;
	__u64 records;
	__u64 lost;
	__u64 probe_misses;
	__u64 since_ns;		/* not a counter: CLOCK_REALTIME, from 0 */
	__u64 groups;		/* gauges: the groups file's groups */
	__u64 groups_max;	/* and their bound */
	__u64 *lost_cpu;
	int ncpus;
};

int tw_stats_read(const char *dir, struct tw_stats *st, bool quiet);
void tw_stats_free(struct tw_stats *st);

/* The "hist" file: log2 buckets, [2^b, 2^(b+1)) ns. */
struct hist_data {
	__u64 lifetime[TWTRACE_DEATH_NR][TWTRACE_HIST_BUCKETS];
	__u64 reuse_age[TWTRACE_HIST_BUCKETS];
};

int hist_read(const char *dir, struct hist_data *h);

/* Numbers and time. */
int parse_u64(const char *s, __u64 *v);
int parse_secs(const char *s, __u64 *ns);
__u64 now_ns(int clock);
void fmt_ms(char *buf, size_t len, __u64 ns);
void fmt_hms(char *buf, size_t len, __u64 realtime_ns);

/* Addresses: plain, or "addr:port" / "[addr]:port". */
void fmt_addr(char *buf, size_t len, int family, const __u8 *addr);
int addr_unmap(int family, __u8 *addr);
void fmt_endpoint(char *buf, size_t len, int family, const __u8 *addr,
		  unsigned int port);

/*
 * Owners' names (owner.c), from this host when the reader reads them:
 * user names from the passwd file, cgroup paths from the cgroup2 mount
 * (TWTRACE_PASSWD and TWTRACE_CGROUP2 name others), units from paths.
 */
int owner_user(__u32 uid, char *buf, size_t len);
int owner_uid(const char *name, __u32 *uid);
const char *owner_passwd(void);
const char *owner_cgroup_mount(void);
const char *owner_cgroup_path(__u64 id);
int owner_cgroup_arg(const char *arg, char *buf, size_t len);
bool owner_cgroup_under(const char *path, const char *top);
const char *owner_unit(const char *path, char *buf, size_t len);
void owner_free(void);

/* Client-side filters: -4 -6 -L -D -N -e -r -u --cgroup. */
struct tw_filter {
	bool family_set;
	bool family[7];			/* [4], [6] */
	unsigned char *lports;		/* bitmap, NULL: any */
	unsigned char *dports;
	bool netns_set;
	__u32 netns;
	unsigned int events;		/* bit per event, 0: any */
	bool reasons_set;
	bool death[TWTRACE_DEATH_NR];
	bool reuse[TWTRACE_REUSE_NR];
	bool overflow[TWTRACE_OVERFLOW_NR];
	__u32 *uids;			/* -u, NULL: any */
	size_t nuids;
	char **cgroups;			/* --cgroup: paths as shown */
	size_t ncgroups;
};

/* The long options without a short one. */
#define OPT_CGROUP	256

int filter_ports(unsigned char **bitmap, const char *arg, const char *opt);
int filter_netns(struct tw_filter *f, const char *arg);
int filter_events(struct tw_filter *f, const char *arg);
int filter_reasons(struct tw_filter *f, const char *arg);
int filter_user(struct tw_filter *f, const char *arg);
int filter_cgroup(struct tw_filter *f, const char *arg);
bool filter_owner(const struct tw_filter *f, const struct twtrace_owner *o);
bool filter_tuple(const struct tw_filter *f, int family, unsigned int sport,
		  unsigned int dport, __u32 netns);
bool filter_record(const struct tw_filter *f, const struct twtrace_record *r);
void filter_free(struct tw_filter *f);

/* Output (format.c): JSON strings, aligned columns, tables, events. */
void json_str(FILE *f, const char *s);

/* Fixed-width columns that stay aligned when a value overflows. */
struct tw_line {
	char buf[TW_PATH_MAX + 1024];	/* a cgroup path and the rest */
	size_t len;
	size_t want;		/* where the next column should start */
	bool first;
};

void line_init(struct tw_line *l);
void line_put(struct tw_line *l, int width, bool right, const char *s);
int line_out(struct tw_line *l, FILE *f);

/* A table's column: its head, width and alignment, for every row. */
struct tw_col {
	const char *head;
	int width;
	bool right;		/* numbers right, names left */
};

int table_row(const struct tw_col *cols, int n, const char *const *vals,
	      FILE *f);

/*
 * A socket's owner (struct twtrace_owner) as text: "-" for what is not
 * known (role unknown: uid and cgroup not known either; cookie 0), the
 * cookie in hex as "ss -e" shows it after "sk:", the user's name or its
 * uid, the cgroup's path or, not found, its id, the unit or container
 * the path names.  As JSON: the keys cookie (a "0x..." string), uid,
 * user, cgroup_id, cgroup, unit and role, null for what is not known.
 */
struct tw_owner_text {
	char role[16];
	char uid[16];
	char user[64];
	char cookie[24];
	char unit[96];
	char cgroup[TW_PATH_MAX];
};

void fmt_owner_text(const struct twtrace_owner *o, struct tw_owner_text *t);
void fmt_owner_json(const struct twtrace_owner *o);

/* The stream's events: text (-w -x -T -t) or JSON, on stdout. */
struct tw_fmt {
	bool wide, ext, hms, rel;
	__u64 start_ns;		/* CLOCK_MONOTONIC at the start */
	__u64 start_rt_ns;	/* CLOCK_REALTIME then */
};

void fmt_event_head(const struct tw_fmt *f);
void fmt_event_text(const struct tw_fmt *f, const struct twtrace_record *r,
		    int cpu);
void fmt_event_json(const struct twtrace_record *r, int cpu);

/*
 * Records and recordings (recording.c).  A source's records may be longer
 * or shorter than this reader's struct (<linux/twtrace.h>): from
 * TWTRACE_RECORD_SIZE_MIN bytes up to TW_RECORD_SIZE_MAX, a bound for
 * sanity (a ring buffer event fits in a page).
 */
#define TW_RECORD_SIZE_MAX	4096

int record_size_check(__u64 size, char *why, size_t len);
int record_check(const struct twtrace_record *r, char *why, size_t len);
bool record_ns_known(__u64 ns);

/* A CPU's sequence numbers: a gap is that many lost records. */
struct tw_seq {
	__u64 nread;		/* records read */
	__u64 gaps;		/* records missing between sequence numbers */
	__u64 backwards;	/* sequence numbers that went back */
	__u64 next_seq;
	bool have_seq;
};

/* A callback's return: stop decoding, no error. */
#define DECODE_STOP	(-1)

struct tw_decode_ops {
	/* a recording's header, checked; NULL: nothing to do */
	int (*header)(void *arg, const struct twtrace_file_header *h);
	/* each record, checked: 0, DECODE_STOP or an exit code */
	int (*record)(void *arg, const struct twtrace_record *r);
};

struct tw_decoder {
	const char *name;	/* the input, in messages */
	int cpu;		/* a cpuN file's CPU; -1: a recording */
	const struct tw_decode_ops *ops;
	void *arg;
	bool have_header;
	bool stopped;		/* a callback said DECODE_STOP */
	int ncpus;
	size_t rsz;		/* the source's record size */
	struct tw_seq *seq;	/* a recording's, by CPU */
	struct tw_seq self;	/* a cpuN file's */
	__u64 nread;		/* records decoded */
	__u64 off;		/* bytes decoded */
	size_t part;		/* bytes of an incomplete header or record */
	unsigned char pend[TW_RECORD_SIZE_MAX];	/* a record or the header */
};

void decode_init(struct tw_decoder *d, const char *name, int cpu, size_t rsz,
		 const struct tw_decode_ops *ops, void *arg);
int decode(struct tw_decoder *d, const void *buf, size_t len);
int decode_end(struct tw_decoder *d);
struct tw_seq *decode_seq(struct tw_decoder *d, int cpu);
void decode_free(struct tw_decoder *d);

int recording_header(FILE *f, int ncpus, __u64 start_ns, __u64 start_rt_ns);
int recording_put(FILE *f, const struct twtrace_record *r);

/* The live stream's cpuN files, merged in time order (merge.c). */
struct tw_src {
	int fd;
	bool eof;
	char name[16];		/* "cpuN" */
	struct tw_decoder dec;	/* dec.cpu: N */
};

/* The heap orders small keys; the records wait in slots. */
struct tw_hkey {
	__u64 ts;
	__u64 seq;
	__u32 cpu;
	__u32 slot;
};

struct tw_merge {
	struct tw_hkey *heap;
	size_t nheap;
	struct twtrace_record *slots;
	__u32 *free_slots;	/* a stack of the slots given back */
	size_t nslots, nfree, cap;
	struct tw_src *src;
	int nsrc;
	__u64 nread;		/* records read, every CPU */
	unsigned char *buf;	/* for read(): whole records of rsz bytes */
	size_t buf_len;
};

int merge_open(struct tw_merge *m, const char *dir, size_t rsz);
int merge_drain(struct tw_merge *m, int i);
bool merge_oldest(const struct tw_merge *m, __u64 *ts);
void merge_emit(struct tw_merge *m, __u64 limit, bool all,
		void (*fn)(void *arg, const struct twtrace_record *r, int cpu),
		void *arg);
void merge_free(struct tw_merge *m);

/* The "live" file's sockets (ls.c), filtered (an empty @f: all). */
struct tw_sock {
	__u64 id;
	__u32 netns;
	int family;
	__u8 saddr[16];
	__u8 daddr[16];
	unsigned int sport;
	unsigned int dport;
	const char *substate;
	__u64 age_ns;
	__u64 rearms;
	struct twtrace_owner owner;	/* zero: an older module's line */
};

int read_live(const char *dir, const struct tw_filter *f,
	      struct tw_sock **out, size_t *count);

/*
 * Port pressure (ports.c): TCP sockets with a local port in
 * ip_local_port_range, per (netns, laddr, daddr, dport), from sock_diag.
 */
struct pp_dest {
	int family;
	__u8 laddr[16];
	__u8 daddr[16];
	unsigned int dport;
	__u64 tw;		/* TIME_WAIT */
	__u64 others;		/* any other state but LISTEN */
	__u64 range;		/* ports in ip_local_port_range */
	__s64 headroom;		/* range - tw - others */
};

struct pp_table {
	__u32 netns;		/* inode of the namespace read */
	unsigned int lo, hi;	/* ip_local_port_range */
	struct pp_dest *v;
	size_t n;
};

int ports_read(const char *netns_path, struct pp_table *t);
void ports_free(struct pp_table *t);

/* The module's counters per (netns, cgroup) group (groups.c). */
struct tw_kgroup {
	__u32 netns;
	__u64 cgroup;		/* 0: owner not known */
	bool other;		/* the groups beyond the module's bound */
	__s64 live;
	__u64 births, rearms, death[TWTRACE_DEATH_NR];
	__u64 reuse_ok, reuse_no, ovf, cfail;
};

int groups_read(const char *dir, struct tw_kgroup **out, size_t *count);

/*
 * stat --prometheus: the module's counters and live sockets per group,
 * the live file's gauges by destination.
 */
int prom_groups(const char *dir);
void prom_head(const char *name, const char *type, const char *help);

/* Commands. */
int cmd_stream(int argc, char **argv);
int cmd_stat(int argc, char **argv);
int cmd_hist(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_probes(int argc, char **argv);
int cmd_ports(int argc, char **argv);
int cmd_top(int argc, char **argv);

#endif /* _TWTRACE_READER_H */
