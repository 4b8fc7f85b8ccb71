// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace foundation tests: the module is loaded and speaks our ABI, its
 * birth count agrees with the kernel's own figures, the reader prints it,
 * and the module unloads and loads again.
 */
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "twtrace_lib.h"

#define N_CONNS		20

TEST(module_loaded_and_version)
{
	char ver[64] = "";
	FILE *f;

	ASSERT_EQ(0, tw_module_ensure());
	ASSERT_EQ(TWTRACE_ABI_VERSION, tw_kv_read(TW_DIR "/version", "abi"));

	f = fopen("/sys/module/twtrace/version", "r");
	ASSERT_NE(NULL, f);
	ASSERT_EQ(1, fscanf(f, "%63s", ver));
	fclose(f);
	EXPECT_STREQ(TWTRACE_VERSION, ver);
}

/*
 * N loopback connections closed by the client leave N TIME_WAIT sockets:
 * the module's births must grow by exactly N, like the netns' sockstat
 * "tw" and TcpExt TW + TWKilled (both counted at birth by the kernel).
 */
TEST(births_match_kernel_counters)
{
	long long b0, tw0, snmp0, b1, tw1, snmp1;
	struct tw_conn k;
	union tw_sa addr;
	int lfd, i;

	ASSERT_EQ(0, tw_module_ensure());
	ASSERT_EQ(0, tw_netns_new());

	b0 = tw_stat("births");
	tw0 = tw_sockstat_tw();
	snmp0 = tw_births_kernel();
	ASSERT_LE(0, b0);
	ASSERT_EQ(0, tw0);

	lfd = tw_listen(AF_INET, "127.0.0.1", &addr);
	ASSERT_LE(0, lfd);
	for (i = 0; i < N_CONNS; i++) {
		ASSERT_EQ(0, tw_conn_open(&k, lfd, &addr, NULL));
		tw_conn_close_client_first(&k);
	}
	close(lfd);

	EXPECT_TRUE(tw_wait_until(tw_sockstat_tw() - tw0 >= N_CONNS, 5));
	b1 = tw_stat("births");
	tw1 = tw_sockstat_tw();
	snmp1 = tw_births_kernel();
	TH_LOG("births +%lld, sockstat tw +%lld, TcpExt TW+TWKilled +%lld",
	       b1 - b0, tw1 - tw0, snmp1 - snmp0);
	EXPECT_EQ(N_CONNS, tw1 - tw0);
	EXPECT_EQ(N_CONNS, snmp1 - snmp0);
	EXPECT_EQ(N_CONNS, b1 - b0);
	EXPECT_EQ(0, tw_stat("probe_misses"));
}

/* The reader's "stat" prints the module's counters, exactly. */
TEST(reader_stat)
{
	long long births;
	struct rd r;
	char *p;

	ASSERT_EQ(0, tw_module_ensure());
	births = tw_stat("births");
	ASSERT_EQ(0, rd_run(&r, RD_ROOT, RD("stat")));
	p = strstr(r.out, "births");
	ASSERT_NE(NULL, p);
	EXPECT_EQ(births, atoll(p + strlen("births")));
	rd_free(&r);
}

/*
 * rmmod while nothing holds a file succeeds, the reader then says the
 * module is not loaded, and a fresh load counts from zero.
 */
TEST(unload_and_reload)
{
	struct tw_conn k;
	union tw_sa addr;
	struct rd r;
	int lfd;

	ASSERT_EQ(0, tw_module_ensure());
	ASSERT_EQ(0, tw_module_unload());
	ASSERT_FALSE(tw_module_loaded());
	ASSERT_NE(0, access(TW_DIR, F_OK));

	EXPECT_EQ(1, rd_run(&r, RD_ROOT, RD("stat")));
	EXPECT_TRUE(strstr(r.out, "not loaded") || strstr(r.err, "not loaded"));
	rd_free(&r);

	ASSERT_EQ(0, tw_module_load());
	ASSERT_EQ(0, tw_stat("births"));

	ASSERT_EQ(0, tw_netns_new());
	lfd = tw_listen(AF_INET, "127.0.0.1", &addr);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, tw_conn_open(&k, lfd, &addr, NULL));
	tw_conn_close_client_first(&k);
	close(lfd);
	EXPECT_TRUE(tw_wait_until(tw_stat("births") == 1, 5));
	EXPECT_EQ(1, tw_sockstat_tw());
}

TEST_HARNESS_MAIN
