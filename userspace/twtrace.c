// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace: read what the twtrace kernel module records about TCP TIME_WAIT.
 *
 *   twtrace [stream] [options]   live events, or a recording's (-i)
 *   twtrace stat                 the module's exact counters
 *   twtrace hist                 lifetime histograms, per death reason
 *   twtrace ls                   the TIME_WAIT sockets alive now
 *   twtrace probes               which kernel hooks are attached
 *   twtrace top                  TIME_WAIT activity per group, each interval
 *   twtrace ports                port pressure per destination (no module)
 *
 * Exit codes (twtrace.8): 0 success, 1 cannot read the module (or a probe
 * is not attached), 2 usage, 3 ABI mismatch or corrupt input, 4 records
 * were lost.
 */
#include <stdlib.h>
#include <string.h>

#include "reader.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [COMMAND] [OPTIONS]\n"
		"       %s COMMAND --help\n"
		"       %s --version\n"
		"\n"
		"Commands:\n"
		"  stream  live TIME_WAIT events, one per line (the default)\n"
		"  stat    the module's exact counters [INTERVAL [COUNT]]\n"
		"  hist    lifetime histograms per death reason, age at reuse\n"
		"  ls      the TIME_WAIT sockets alive now, with their age\n"
		"  probes  which kernel hooks are attached; exit 1 if one is not\n"
		"  top     TIME_WAIT activity per destination, port, cgroup or user\n"
		"  ports   port pressure: local ports left per destination\n"
		"\n"
		"The module's files are read from %s/%s/\n"
		"(TWTRACE_DIR overrides the directory). See twtrace(8).\n",
		prog, prog, prog, DEBUGFS_MOUNT, TWTRACE_DEBUGFS_DIR);
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} commands[] = {
	{ "stream", cmd_stream },
	{ "stat", cmd_stat },
	{ "hist", cmd_hist },
	{ "ls", cmd_ls },
	{ "probes", cmd_probes },
	{ "ports", cmd_ports },
	{ "top", cmd_top },
};

static int run(const char *name, int argc, char **argv)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(name, commands[i].name))
			return commands[i].fn(argc, argv);
	return usage_err(usage, "unknown command '%s'", name);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return cmd_stream(argc, argv);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("twtrace %s (record ABI %d)\n", TWTRACE_VERSION,
		       TWTRACE_ABI_VERSION);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "help")) {
		if (argc < 3) {
			usage(stdout);
			return EXIT_OK;
		}
		/* "help CMD" is "CMD --help" */
		argv[1] = argv[2];
		argv[2] = "--help";
		return run(argv[1], 2, argv + 1);
	}
	/* Options without a command are the stream's. */
	if (argv[1][0] == '-')
		return cmd_stream(argc, argv);
	return run(argv[1], argc - 1, argv + 1);
}
