/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The fixture of the tests that change the controls (rings, controls): as
 * the tw fixture, with the controls put back afterwards and a listener on
 * 127.0.0.1 (self->l, self->dst).
 */
#ifndef TWTRACE_FIXTURE_RING_H
#define TWTRACE_FIXTURE_RING_H

#include "twtrace_test.h"

FIXTURE(ring) {
	struct tw_recs rs;
	unsigned int ns;
	struct tw_ctls ctls;
	int l;
	union tw_sa dst;
};

FIXTURE_SETUP(ring)
{
	begin_ctls(_metadata, &self->ctls, &self->rs, &self->ns, &self->l,
		   &self->dst);
}

/*
 * Put the controls back from the parent, whatever happened to the test.
 * (self is shared with the test process; its heap is not: no free.)
 */
FIXTURE_TEARDOWN_PARENT(ring)
{
	tw_ctls_restore(&self->ctls);
}

#endif /* TWTRACE_FIXTURE_RING_H */
