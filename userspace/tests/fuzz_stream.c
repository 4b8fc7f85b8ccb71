// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the reader's decoder of recordings ("twtrace stream
 * -i FILE"), on arbitrary bytes, in JSON and in extended text output.  Any
 * crash, sanitizer report or leak is a bug; any exit code is fine.  Run
 * it with -close_fd_mask=3: the reader's own output is not what is tested.
 *
 * (LLVMFuzzerTestOneInput is libFuzzer's name for the entry point: the one
 * CamelCase identifier scripts/check.sh lets checkpatch pass, here only.)
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <linux/types.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../reader.h"

/* "twtrace stream -q MODE1 MODE2 -i PATH"; getopt only permutes argv. */
static void run(const char *path, const char *mode1, const char *mode2)
{
	char *argv[7];

	argv[0] = (char *)"stream";
	argv[1] = (char *)"-q";
	argv[2] = (char *)mode1;
	argv[3] = (char *)mode2;
	argv[4] = (char *)"-i";
	argv[5] = (char *)path;
	argv[6] = NULL;
	optind = 0;	/* glibc: reinitialise getopt */
	cmd_stream(6, argv);
	fflush(stdout);
}

int LLVMFuzzerTestOneInput(const __u8 *data, size_t size)
{
	char path[64];
	int fd;

	fd = memfd_create("recording", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		run(path, "-j", "-t");
		run(path, "-x", "-w");
	}
	close(fd);
	return 0;
}
