// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the reader's decoder of recordings ("twtrace stream
 * -i FILE"), on arbitrary bytes, in JSON and in extended text output.  Any
 * crash, sanitizer report or leak is a bug; any exit code is fine.  Run
 * it with -close_fd_mask=3: the reader's own output is not what is tested.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../reader.h"

static void run(char *path, char *mode1, char *mode2)
{
	char *argv[] = { "stream", "-q", mode1, mode2, "-i", path, NULL };

	optind = 0;	/* glibc: reinitialise getopt */
	cmd_stream(6, argv);
	fflush(stdout);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
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
