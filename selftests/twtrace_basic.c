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

static const char *reader_path(void)
{
	const char *p = getenv("TWTRACE_READER");

	return p && *p ? p : "/opt/twtrace/twtrace";
}

/* Run the reader with @arg, its stdout and stderr into @out; exit code. */
static int run_reader(const char *arg, char *out, size_t len)
{
	int pfd[2], status;
	ssize_t n, got = 0;
	pid_t pid;

	if (pipe(pfd))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		close(pfd[0]);
		execl(reader_path(), "twtrace", arg, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	while (got < (ssize_t)len - 1 &&
	       (n = read(pfd[0], out + got, len - 1 - got)) > 0)
		got += n;
	out[got] = '\0';
	close(pfd[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

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
	struct sockaddr_in addr;
	int lfd, i;

	ASSERT_EQ(0, tw_module_ensure());
	ASSERT_EQ(0, tw_netns_new());

	b0 = tw_stat("births");
	tw0 = tw_sockstat_tw();
	snmp0 = tw_births_kernel();
	ASSERT_LE(0, b0);
	ASSERT_EQ(0, tw0);

	lfd = tw_listen4(&addr);
	ASSERT_LE(0, lfd);
	for (i = 0; i < N_CONNS; i++)
		ASSERT_EQ(0, tw_conn_client_closes(lfd, &addr));
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
	char out[4096], *p;
	long long births;

	ASSERT_EQ(0, tw_module_ensure());
	births = tw_stat("births");
	ASSERT_EQ(0, run_reader("stat", out, sizeof(out)));
	p = strstr(out, "births");
	ASSERT_NE(NULL, p);
	EXPECT_EQ(births, atoll(p + strlen("births")));
}

/*
 * rmmod while nothing holds a file succeeds, the reader then says the
 * module is not loaded, and a fresh load counts from zero.
 */
TEST(unload_and_reload)
{
	struct sockaddr_in addr;
	char out[4096];
	int lfd;

	ASSERT_EQ(0, tw_module_ensure());
	ASSERT_EQ(0, tw_module_unload());
	ASSERT_FALSE(tw_module_loaded());
	ASSERT_NE(0, access(TW_DIR, F_OK));

	EXPECT_EQ(1, run_reader("stat", out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "not loaded"));

	ASSERT_EQ(0, tw_module_load());
	ASSERT_EQ(0, tw_stat("births"));

	ASSERT_EQ(0, tw_netns_new());
	lfd = tw_listen4(&addr);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, tw_conn_client_closes(lfd, &addr));
	close(lfd);
	EXPECT_TRUE(tw_wait_until(tw_stat("births") == 1, 5));
	EXPECT_EQ(1, tw_sockstat_tw());
}

TEST_HARNESS_MAIN
