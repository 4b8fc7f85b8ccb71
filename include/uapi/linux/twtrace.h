/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * twtrace: the contract between the twtrace kernel module and its readers.
 *
 * Everything a reader needs to decode what the module exports lives here and
 * only here: the version strings, the debugfs location and the names of the
 * counters in the "stats" file.
 */
#ifndef _UAPI_LINUX_TWTRACE_H
#define _UAPI_LINUX_TWTRACE_H

#include <linux/types.h>

#define TWTRACE_VERSION		"0.1.0"

/* "TWTR": first field of every binary record. */
#define TWTRACE_MAGIC		0x52545754U
/* Bumped on any incompatible change of a record or file format. */
#define TWTRACE_ABI_VERSION	1

#define TWTRACE_DEBUGFS_DIR	"twtrace"

/*
 * Event counters of the "stats" file, one "name value" line each, in this
 * order, followed by the module's own figures (probe misses).  The X-macro
 * keeps the module and the reader on the same list.
 */
#define TWTRACE_COUNTERS(C)			\
	C(BIRTHS,		"births")

enum twtrace_counter {
#define TWTRACE_C_ENUM(id, name) TWTRACE_C_##id,
	TWTRACE_COUNTERS(TWTRACE_C_ENUM)
#undef TWTRACE_C_ENUM
	TWTRACE_C_NR
};

#endif /* _UAPI_LINUX_TWTRACE_H */
