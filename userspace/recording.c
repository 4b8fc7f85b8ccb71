// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace reader: decoding records, and the recording format.
 *
 * decode() turns bytes into events: those of a cpuN file (records only,
 * all of one CPU) or of a recording (-o: a struct twtrace_file_header,
 * then the records of every CPU, unfiltered, in the order they were
 * emitted).  Every record is checked before it is believed, and each
 * CPU's sequence numbers are followed: a gap is that many lost records.
 * The bytes may come in pieces of any size; decode_end() says whether
 * the input stopped in the middle of something.
 *
 * Records grow only at their end (<linux/twtrace.h>): a source's records
 * are d->rsz bytes, the size its "version" file or header gives, any size
 * from TWTRACE_RECORD_SIZE_MIN up.  Each is read into a zeroed struct
 * twtrace_record: the bytes past the fields this reader knows are
 * ignored, and the fields past the end of a shorter record read as zero
 * ("not known").
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "reader.h"

#define RSZ	sizeof(struct twtrace_record)
#define HSZ	sizeof(struct twtrace_file_header)

bool record_ns_known(__u64 ns)
{
	return ns != TWTRACE_NS_UNKNOWN;
}

/* A source's record size, from its "version" file or its header. */
int record_size_check(__u64 size, char *why, size_t len)
{
	if (size < TWTRACE_RECORD_SIZE_MIN) {
		snprintf(why, len,
			 "records of %llu bytes: records of ABI %d have at least %d",
			 size, TWTRACE_ABI_VERSION, TWTRACE_RECORD_SIZE_MIN);
		return -1;
	}
	if (size > TW_RECORD_SIZE_MAX) {
		snprintf(why, len,
			 "records of %llu bytes: more than %d, the most a record can have",
			 size, TW_RECORD_SIZE_MAX);
		return -1;
	}
	return 0;
}

/*
 * A record is believed only if it is one this reader can decode: the
 * magic, the ABI, and every enumerated field in range.  @why says what
 * is wrong otherwise.
 */
int record_check(const struct twtrace_record *r, char *why, size_t len)
{
	unsigned int nreasons = 0;

	if (r->magic != TWTRACE_MAGIC) {
		snprintf(why, len, "bad magic 0x%08x (expected 0x%08x)",
			 r->magic, TWTRACE_MAGIC);
		return -1;
	}
	if (r->abi != TWTRACE_ABI_VERSION) {
		snprintf(why, len,
			 "record ABI %u, this reader (twtrace %s) reads ABI %d",
			 r->abi, TWTRACE_VERSION, TWTRACE_ABI_VERSION);
		return -1;
	}
	if (r->type <= TWTRACE_EV_NONE || r->type >= TWTRACE_EV_NR) {
		snprintf(why, len, "unknown event type %u", r->type);
		return -1;
	}
	if (r->family != 4 && r->family != 6) {
		snprintf(why, len, "bad address family %u", r->family);
		return -1;
	}
	/* A failed connect has no TIME_WAIT socket, so no substate. */
	if (r->type == TWTRACE_EV_CONNECT_FAIL ? r->substate != 0 :
	    !r->substate || !tw_substate_name(r->substate)) {
		snprintf(why, len, "bad substate %u", r->substate);
		return -1;
	}
	if (r->type == TWTRACE_EV_REARM &&
	    (!r->rearm.old_substate ||
	     !tw_substate_name(r->rearm.old_substate))) {
		snprintf(why, len, "bad old substate %u",
			 r->rearm.old_substate);
		return -1;
	}
	if (r->owner.role >= TWTRACE_ROLE_NR) {
		snprintf(why, len, "bad role %u", r->owner.role);
		return -1;
	}
	if (r->type == TWTRACE_EV_DEATH)
		nreasons = TWTRACE_DEATH_NR;
	else if (r->type == TWTRACE_EV_REUSE)
		nreasons = TWTRACE_REUSE_NR;
	else if (r->type == TWTRACE_EV_OVERFLOW)
		nreasons = TWTRACE_OVERFLOW_NR;
	if (nreasons && r->reason >= nreasons) {
		snprintf(why, len, "bad %s reason %u", tw_event_names[r->type],
			 r->reason);
		return -1;
	}
	return 0;
}

/*
 * @name: for messages; @cpu: a cpuN file's CPU, -1 for a recording; @rsz:
 * a cpuN file's record size, checked (record_size_check()); a recording's
 * comes from its header.
 */
void decode_init(struct tw_decoder *d, const char *name, int cpu, size_t rsz,
		 const struct tw_decode_ops *ops, void *arg)
{
	memset(d, 0, sizeof(*d));
	d->name = name;
	d->cpu = cpu;
	d->ops = ops;
	d->arg = arg;
	if (cpu >= 0) {
		d->have_header = true;	/* a cpuN file has none */
		d->ncpus = 1;
		d->rsz = rsz;
	}
}

void decode_free(struct tw_decoder *d)
{
	free(d->seq);
	d->seq = NULL;
}

/* The sequence numbers of @cpu's records: the recording's or the file's. */
struct tw_seq *decode_seq(struct tw_decoder *d, int cpu)
{
	return d->cpu >= 0 ? &d->self : &d->seq[cpu];
}

/* Per-CPU sequence numbers: a gap is that many lost records. */
static void check_seq(struct tw_seq *c, const struct twtrace_record *r)
{
	c->nread++;
	if (c->have_seq && r->seq != c->next_seq) {
		if (r->seq > c->next_seq)
			c->gaps += r->seq - c->next_seq;
		else
			c->backwards++;
	}
	c->have_seq = true;
	c->next_seq = r->seq + 1;
}

/* The header, @n bytes of it (fewer only at the end of the input). */
static int check_header(struct tw_decoder *d, const void *buf, size_t n)
{
	struct twtrace_file_header h;
	char why[160];

	memset(&h, 0, sizeof(h));
	memcpy(&h, buf, n < HSZ ? n : HSZ);
	if (!n) {
		tw_err("%s: empty: not a twtrace recording", d->name);
		return EXIT_DATA;
	}
	if (n < sizeof(h.magic) ||
	    memcmp(h.magic, TWTRACE_FILE_MAGIC, sizeof(h.magic))) {
		tw_err("%s: not a twtrace recording (no \"TWTRACE\" magic at byte offset 0)",
		       d->name);
		return EXIT_DATA;
	}
	if (n < HSZ) {
		tw_err("%s: truncated at byte offset %zu: the header has %zu bytes",
		       d->name, n, HSZ);
		return EXIT_DATA;
	}
	if (h.abi != TWTRACE_ABI_VERSION &&
	    __builtin_bswap32(h.abi) == TWTRACE_ABI_VERSION) {
		tw_err("%s: recorded on a host of the other byte order: decode it on one like it",
		       d->name);
		return EXIT_DATA;
	}
	if (h.abi != TWTRACE_ABI_VERSION) {
		tw_err("%s: recorded with record ABI %u; this reader (twtrace %s) reads ABI %d: decode it with the twtrace that recorded it",
		       d->name, h.abi, TWTRACE_VERSION, TWTRACE_ABI_VERSION);
		return EXIT_DATA;
	}
	if (record_size_check(h.record_size, why, sizeof(why))) {
		tw_err("%s: corrupt header at byte offset %zu: %s", d->name,
		       offsetof(struct twtrace_file_header, record_size), why);
		return EXIT_DATA;
	}
	if (!h.ncpus || h.ncpus > 65536) {
		tw_err("%s: corrupt header at byte offset %zu: %u CPUs",
		       d->name, offsetof(struct twtrace_file_header, ncpus),
		       h.ncpus);
		return EXIT_DATA;
	}
	d->seq = calloc(h.ncpus, sizeof(*d->seq));
	if (!d->seq) {
		tw_err("out of memory");
		return EXIT_ERR;
	}
	d->ncpus = h.ncpus;
	d->rsz = h.record_size;
	d->have_header = true;
	d->off = HSZ;
	return d->ops->header ? d->ops->header(d->arg, &h) : EXIT_OK;
}

/* One whole record of d->rsz bytes: check it, count it, pass it on. */
static int take_record(struct tw_decoder *d, const void *buf)
{
	struct twtrace_record r;
	char why[160];

	memset(&r, 0, RSZ);
	memcpy(&r, buf, d->rsz < RSZ ? d->rsz : RSZ);
	if (record_check(&r, why, sizeof(why))) {
		tw_err("%s: corrupt record %llu at byte offset %llu: %s",
		       d->name, d->nread + 1, d->off, why);
		return EXIT_DATA;
	}
	if (d->cpu >= 0 && r.cpu != (unsigned int)d->cpu) {
		tw_err("%s: corrupt record %llu at byte offset %llu: from cpu %u",
		       d->name, d->nread + 1, d->off, r.cpu);
		return EXIT_DATA;
	}
	if (d->cpu < 0 && r.cpu >= (unsigned int)d->ncpus) {
		tw_err("%s: corrupt record %llu at byte offset %llu: cpu %u, but the recording has %d CPUs",
		       d->name, d->nread + 1, d->off, r.cpu, d->ncpus);
		return EXIT_DATA;
	}
	d->nread++;
	d->off += d->rsz;
	check_seq(decode_seq(d, r.cpu), &r);
	return d->ops->record(d->arg, &r);
}

/*
 * The next @len bytes of the input.  An incomplete header or record waits
 * for the next call.  Returns EXIT_OK, also when a callback said stop
 * (then d->stopped), or the exit code of what was wrong.
 */
int decode(struct tw_decoder *d, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t want, n;
	int rc;

	while (len && !d->stopped) {
		want = d->have_header ? d->rsz : HSZ;
		if (d->part || len < want) {
			/* gather the pieces */
			n = want - d->part < len ? want - d->part : len;
			memcpy(d->pend + d->part, p, n);
			d->part += n;
			p += n;
			len -= n;
			if (d->part < want)
				break;
			d->part = 0;
			rc = d->have_header ? take_record(d, d->pend) :
			     check_header(d, d->pend, want);
		} else {
			rc = d->have_header ? take_record(d, p) :
			     check_header(d, p, want);
			p += want;
			len -= want;
		}
		if (rc < 0)
			d->stopped = true;
		else if (rc)
			return rc;
	}
	return EXIT_OK;
}

/* The end of the input: was it in the middle of something? */
int decode_end(struct tw_decoder *d)
{
	if (d->stopped)
		return EXIT_OK;
	if (!d->have_header)
		return check_header(d, d->pend, d->part);
	if (!d->part)
		return EXIT_OK;
	tw_err("%s: truncated at byte offset %llu: the last record has %zu of %zu bytes",
	       d->name, d->off, d->part, d->rsz);
	return EXIT_DATA;
}

/* A recording's header, for the records of @ncpus CPUs from @start_ns. */
int recording_header(FILE *f, int ncpus, __u64 start_ns, __u64 start_rt_ns)
{
	struct twtrace_file_header h;

	memset(&h, 0, sizeof(h));
	memcpy(h.magic, TWTRACE_FILE_MAGIC, sizeof(h.magic));
	h.abi = TWTRACE_ABI_VERSION;
	h.record_size = RSZ;
	h.ncpus = ncpus;
	h.start_ns = start_ns;
	h.start_realtime_ns = start_rt_ns;
	return fwrite(&h, sizeof(h), 1, f) == 1 ? 0 : -1;
}

/*
 * A recording is written in this reader's record size, whatever the size
 * of its source: every record is the struct twtrace_record the decoder
 * made, zero-extended from a shorter source, cut from a longer one.  The
 * header's record_size is documented as the writer's sizeof, and this
 * reader can vouch only for the fields it knows and checked; a recording
 * made from -i of another one is written the same way.  What a newer
 * module adds past this reader's fields is not kept: record with the
 * twtrace built with that module to keep it.
 */
int recording_put(FILE *f, const struct twtrace_record *r)
{
	return fwrite(r, RSZ, 1, f) == 1 ? 0 : -1;
}
