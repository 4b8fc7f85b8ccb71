// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace reader tests: the ways the reader must refuse to run, every
 * command of it: module unloaded, debugfs not mounted, not root.
 */
#include <sys/stat.h>

#include "twtrace_test.h"

static const char *const *const every_command[] = {
	RD("stat"),
	RD("stat", "-j"),
	RD("stream", "-d", "1"),
	RD("-j", "-d", "1"),
	RD("hist"),
	RD("ls"),
	RD("probes"),
};

/* Every command run @as: exit 1, @want (and @want2) on stderr, no output. */
static void refuses(struct __test_metadata *_metadata, enum rd_as as,
		    const char *want, const char *want2)
{
	const char *const *argv;
	char buf[256];
	struct rd r;
	int i;

	for (i = 0; i < (int)ARRAY_SIZE(every_command); i++) {
		argv = every_command[i];
		rd_run(&r, as, argv);
		TH_LOG("twtrace %s%s%s: exit %d: %s", argv[1],
		       argv[2] ? " " : "", argv[2] ?: "", r.rc,
		       first_line(r.err, buf, sizeof(buf)));
		ASSERT_NE(RD_SETUP_FAILED, r.rc) TH_LOG("%s", r.err);
		ASSERT_NE(RD_EXEC_FAILED, r.rc) TH_LOG("%s", r.err);
		EXPECT_EQ(1, r.rc);
		EXPECT_NE(NULL, strstr(r.err, want)) TH_LOG("%s", r.err);
		if (want2)
			EXPECT_NE(NULL, strstr(r.err, want2))
				TH_LOG("%s", r.err);
		EXPECT_STREQ("", r.out);
		rd_free(&r);
	}
}

/*
 * debugfs not mounted (in the reader's own mount namespace): every
 * command says how to mount it and exits 1.
 */
TEST(refuses_without_debugfs)
{
	ASSERT_EQ(0, tw_module_ensure());
	refuses(_metadata, RD_NO_DEBUGFS, "debugfs is not mounted",
		"mount -t debugfs none /sys/kernel/debug");
	EXPECT_EQ(0, access(TW_DIR "/stats", R_OK));
}

/*
 * Not root (uid and gid 65534): every command says it needs root and
 * exits 1.  The initramfs's / may be 0700 (it is the mode of the
 * directory it was packed from), which would stop nobody before any
 * twtrace file: open it for the test.
 */
TEST(refuses_without_root)
{
	struct stat st;
	bool opened = false;

	ASSERT_EQ(0, tw_module_ensure());
	ASSERT_EQ(0, stat("/", &st));
	if (!(st.st_mode & 0001)) {
		TH_LOG("/ is %04o: o+x for the test", st.st_mode & 07777);
		ASSERT_EQ(0, chmod("/", (st.st_mode & 07777) | 0055));
		opened = true;
	}
	refuses(_metadata, RD_NOBODY, "needs root", NULL);
	if (opened)
		EXPECT_EQ(0, chmod("/", st.st_mode & 07777));
}

FIXTURE(unloaded) {
	int unused;
};

FIXTURE_SETUP(unloaded)
{
	ASSERT_EQ(0, tw_module_ensure());
}

FIXTURE_TEARDOWN(unloaded)
{
	/* Whatever happened, leave the module loaded for what follows. */
	if (!tw_module_loaded())
		EXPECT_EQ(0, tw_module_load());
}

/*
 * The module unloaded (delete_module): every command says it is not
 * loaded and exits 1.  Loaded again from the same file, the reader reads
 * it again: counters from zero.
 */
TEST_F(unloaded, refuses_without_module)
{
	struct tw_stats s;
	int ret = -1;
	struct rd r;

	ASSERT_TRUE(tw_wait_until((ret = tw_module_unload()) != -EAGAIN &&
				  ret != -EBUSY, 5));
	ASSERT_EQ(0, ret) TH_LOG("delete_module: %s", strerror(-ret));
	ASSERT_FALSE(tw_module_loaded());
	refuses(_metadata, RD_ROOT, "not loaded", NULL);

	ASSERT_EQ(0, tw_module_load()) TH_LOG("from %s", tw_ko_path());
	ASSERT_EQ(0, rd_run(&r, RD_ROOT, RD("stat", "-j")))
		TH_LOG("%s", r.err);
	ASSERT_EQ(0, stats_from_json(r.out, &s));
	TH_LOG("reloaded: stat -j births %lld, records %lld",
	       tw_stats_get(&s, "births"), tw_stats_get(&s, "records"));
	EXPECT_EQ(0, tw_stats_get(&s, "births"));
	rd_free(&r);
}

TEST_HARNESS_MAIN
