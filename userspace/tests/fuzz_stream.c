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

static char json[] = "-j", rel[] = "-t", ext[] = "-x", wide[] = "-w";

static void run(char *path, char *mode1, char *mode2)
{
	static char stream[] = "stream", quiet[] = "-q", input[] = "-i";
	char *argv[] = { stream, quiet, mode1, mode2, input, path, NULL };

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
		run(path, json, rel);
		run(path, ext, wide);
	}
	close(fd);
	return 0;
}
