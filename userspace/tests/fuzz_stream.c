// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the reader's decoder of recordings (decode(), what
 * "twtrace stream -i FILE" runs), on arbitrary bytes, each record it
 * passes shown as JSON and as text with every column.  The bytes are
 * decoded twice: in one piece, and in small pieces that split headers and
 * records.  Any crash, sanitizer report or leak is a bug; any exit code is
 * fine.  Run it with -close_fd_mask=3: the reader's own output is not what
 * is tested.
 *
 * (LLVMFuzzerTestOneInput is libFuzzer's name for the entry point: the one
 * CamelCase identifier scripts/check.sh lets checkpatch pass, here only.)
 */
#include <linux/types.h>
#include <stdio.h>

#include "../reader.h"

static int on_header(void *arg, const struct twtrace_file_header *h)
{
	struct tw_fmt *f = arg;

	f->start_ns = h->start_ns;
	f->start_rt_ns = h->start_realtime_ns;
	fmt_event_head(f);
	return 0;
}

static int on_record(void *arg, const struct twtrace_record *r)
{
	struct tw_fmt *f = arg, all = *f;

	fmt_event_json(r, r->cpu);
	fmt_event_text(f, r, r->cpu);
	all.wide = true;
	all.ext = true;
	all.hms = true;
	all.rel = true;
	fmt_event_text(&all, r, -1);
	return 0;
}

static const struct tw_decode_ops ops = {
	.header = on_header,
	.record = on_record,
};

/* @data in pieces of @piece bytes, then the end of the input. */
static void run(const __u8 *data, size_t size, size_t piece)
{
	struct tw_fmt f = { .rel = true };
	struct tw_decoder d;
	size_t off, n;
	int rc = 0;

	decode_init(&d, "recording", -1, 0, &ops, &f);
	for (off = 0; off < size && !rc; off += n) {
		n = size - off < piece ? size - off : piece;
		rc = decode(&d, data + off, n);
	}
	if (!rc)
		decode_end(&d);
	decode_free(&d);
	fflush(stdout);
}

int LLVMFuzzerTestOneInput(const __u8 *data, size_t size)
{
	run(data, size, size ? size : 1);
	run(data, size, 1 + (size % 97));
	return 0;
}
