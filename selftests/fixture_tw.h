/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The fixture of the lifecycle tests (census, expiry, reuse, deaths,
 * overflow).
 *
 * Each test makes the kernel take one TIME_WAIT path for real, in a
 * network namespace of its own, and compares what the module reports
 * (records, stats, hist, live) with figures the kernel keeps without
 * twtrace.  Tests run one after the other; records are consumed by
 * reading, so each test drains the rings first and then keeps the records
 * of its own netns.
 */
#ifndef TWTRACE_FIXTURE_TW_H
#define TWTRACE_FIXTURE_TW_H

#include "twtrace_test.h"

FIXTURE(tw) {
	struct tw_recs rs;
	unsigned int ns;
};

FIXTURE_SETUP(tw)
{
	begin(_metadata, &self->rs, &self->ns);
}

FIXTURE_TEARDOWN(tw)
{
	tw_recs_free(&self->rs);
}

#endif /* TWTRACE_FIXTURE_TW_H */
