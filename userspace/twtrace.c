// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace: read what the twtrace kernel module records about TCP TIME_WAIT.
 *
 *   twtrace stat        print the module's exact counters
 *   twtrace --version   print the reader's version and record ABI
 *
 * Exit codes: 0 success, 1 runtime error (module not loaded, debugfs not
 * mounted, permission denied, ABI mismatch), 2 usage error.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <linux/magic.h>
#include <linux/twtrace.h>

#define EXIT_USAGE	2

#define DEBUGFS_MOUNT	"/sys/kernel/debug"

static const char *prog = "twtrace";

static void __attribute__((format(printf, 1, 2))) err(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [--version] [--help] COMMAND\n"
		"\n"
		"Commands:\n"
		"  stat    print the module's exact event counters\n"
		"\n"
		"The module's files are read from %s/%s/\n"
		"(override the directory with TWTRACE_DIR).\n",
		prog, DEBUGFS_MOUNT, TWTRACE_DEBUGFS_DIR);
}

/*
 * The directory the module exports, after checking, in this order, that
 * debugfs is mounted and the module is loaded, so the user is told what
 * is actually wrong.
 */
static const char *twtrace_dir(void)
{
	static char path[4096];
	const char *env = getenv("TWTRACE_DIR");
	struct statfs sfs;

	if (env && *env)
		return env;

	if (statfs(DEBUGFS_MOUNT, &sfs) || sfs.f_type != DEBUGFS_MAGIC) {
		err("debugfs is not mounted at %s; mount it with:\n"
		    "  mount -t debugfs none %s", DEBUGFS_MOUNT, DEBUGFS_MOUNT);
		return NULL;
	}
	if (access("/sys/module/twtrace", F_OK)) {
		err("the twtrace module is not loaded (insmod twtrace.ko)");
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/%s", DEBUGFS_MOUNT,
		 TWTRACE_DEBUGFS_DIR);
	return path;
}

static FILE *open_file(const char *dir, const char *name)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (f)
		return f;
	if (errno == EACCES || errno == EPERM)
		err("%s: permission denied: reading twtrace needs root", path);
	else if (errno == ENOENT)
		err("%s: not found: is the twtrace module loaded?", path);
	else
		err("%s: %s", path, strerror(errno));
	return NULL;
}

/* The module must speak the record ABI this reader was built for. */
static int check_abi(const char *dir)
{
	char key[64], val[128];
	long abi = -1;
	FILE *f;

	f = open_file(dir, "version");
	if (!f)
		return -1;
	while (fscanf(f, "%63s %127s", key, val) == 2)
		if (!strcmp(key, "abi"))
			abi = strtol(val, NULL, 10);
	fclose(f);
	if (abi != TWTRACE_ABI_VERSION) {
		err("record ABI mismatch: the module speaks version %ld, this "
		    "reader version %d; use the reader built with the module",
		    abi, TWTRACE_ABI_VERSION);
		return -1;
	}
	return 0;
}

static int cmd_stat(int argc, char **argv)
{
	char line[256], key[64];
	unsigned long long val;
	const char *dir;
	FILE *f;
	int n = 0;

	if (argc > 1) {
		err("stat: unexpected argument '%s'", argv[1]);
		usage(stderr);
		return EXIT_USAGE;
	}
	dir = twtrace_dir();
	if (!dir || check_abi(dir))
		return EXIT_FAILURE;
	f = open_file(dir, "stats");
	if (!f)
		return EXIT_FAILURE;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %llu", key, &val) != 2)
			continue;
		printf("%-24s %llu\n", key, val);
		n++;
	}
	fclose(f);
	if (!n) {
		err("%s/stats: no counters", dir);
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return EXIT_SUCCESS;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("twtrace %s (record ABI %d)\n", TWTRACE_VERSION,
		       TWTRACE_ABI_VERSION);
		return EXIT_SUCCESS;
	}
	if (!strcmp(argv[1], "stat"))
		return cmd_stat(argc - 1, argv + 1);

	err("unknown command '%s'", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
