/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The fixture of the lifecycle tests that run once for IPv4 (variant v4)
 * and once for IPv6 (v6), the address family in variant->family.  As the
 * tw fixture otherwise.
 */
#ifndef TWTRACE_FIXTURE_TW_AF_H
#define TWTRACE_FIXTURE_TW_AF_H

#include "twtrace_test.h"

FIXTURE(tw_af) {
	struct tw_recs rs;
	unsigned int ns;
};

FIXTURE_VARIANT(tw_af) {
	int family;
};

FIXTURE_VARIANT_ADD(tw_af, v4) {
	.family = AF_INET,
};

FIXTURE_VARIANT_ADD(tw_af, v6) {
	.family = AF_INET6,
};

FIXTURE_SETUP(tw_af)
{
	begin(_metadata, &self->rs, &self->ns);
}

FIXTURE_TEARDOWN(tw_af)
{
	tw_recs_free(&self->rs);
}

#endif /* TWTRACE_FIXTURE_TW_AF_H */
