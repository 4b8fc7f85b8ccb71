/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The fixture of the reader tests: a fresh netns, nothing left over from
 * earlier tests.  Every command of the reader is run as a user runs it
 * (/opt/twtrace/twtrace, a child process) against real TIME_WAIT traffic
 * in that namespace, and what it prints is checked against the module's
 * files and the kernel's own figures.  Records are consumed by whoever
 * reads the cpuN files: while a stream runs, it is the only reader.
 */
#ifndef TWTRACE_FIXTURE_RD_H
#define TWTRACE_FIXTURE_RD_H

#include "twtrace_test.h"

FIXTURE(rd) {
	unsigned int ns;
	char nsarg[16];
	struct rd bg;		/* a reader running in the background */
};

FIXTURE_SETUP(rd)
{
	begin_rd(_metadata, &self->ns, self->nsarg, sizeof(self->nsarg));
}

FIXTURE_TEARDOWN(rd)
{
	/* A reader left running by a failed test would hold the module. */
	rd_free(&self->bg);
}

#endif /* TWTRACE_FIXTURE_RD_H */
