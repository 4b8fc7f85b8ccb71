/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The fixture of the stress tests (security, stress_*).  Real traffic
 * (client-closing loopback connections, each client in a network
 * namespace of its own), every child process dies with the test process
 * (PR_SET_PDEATHSIG), every wait is bounded, and the loops are scaled down
 * on the debug kernel (the one with kmemleak).  The fixture puts back what
 * a test changed, from the harness's own process: CPU 1 online, the module
 * loaded, its controls and max_tracked.
 */
#ifndef TWTRACE_FIXTURE_STRESS_H
#define TWTRACE_FIXTURE_STRESS_H

#include "twtrace_test.h"

FIXTURE(stress) {
	struct tw_saved saved;
};

FIXTURE_SETUP(stress)
{
	tw_saved_save(_metadata, &self->saved);
}

FIXTURE_TEARDOWN_PARENT(stress)
{
	tw_saved_restore(&self->saved);
}

#endif /* TWTRACE_FIXTURE_STRESS_H */
