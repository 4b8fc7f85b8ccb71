// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace reader: the per-CPU sources of the live stream, merged in time
 * order.
 *
 * Every cpuN file is read without blocking when poll() says it has
 * records, and decoded (decode()) on its own, its sequence numbers
 * followed.  The records wait in a heap ordered by (ts_ns, cpu, seq)
 * until the caller lets out those old enough, so that a CPU read a little
 * later still merges in time order.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reader.h"

#define READ_RECS	64
#define READ_ROUNDS	16

/* Heap of records by (ts_ns, cpu, seq). */
static bool key_before(const struct tw_hkey *a, const struct tw_hkey *b)
{
	if (a->ts != b->ts)
		return a->ts < b->ts;
	if (a->cpu != b->cpu)
		return a->cpu < b->cpu;
	return a->seq < b->seq;
}

static int grow(struct tw_merge *m)
{
	size_t cap = m->cap ? m->cap * 2 : 1024;
	struct twtrace_record *slots;
	struct tw_hkey *heap;
	__u32 *free_slots;

	if (cap > UINT32_MAX)
		goto oom;
	heap = realloc(m->heap, cap * sizeof(*heap));
	if (!heap)
		goto oom;
	m->heap = heap;
	slots = realloc(m->slots, cap * sizeof(*slots));
	if (!slots)
		goto oom;
	m->slots = slots;
	free_slots = realloc(m->free_slots, cap * sizeof(*free_slots));
	if (!free_slots)
		goto oom;
	m->free_slots = free_slots;
	m->cap = cap;
	return 0;
oom:
	tw_err("out of memory (%zu records waiting)", m->nheap);
	return -1;
}

/* decode()'s callback for the cpuN files: into the heap. */
static int heap_push(void *arg, const struct twtrace_record *r)
{
	struct tw_hkey k = { .ts = r->ts_ns, .seq = r->seq, .cpu = r->cpu };
	struct tw_merge *m = arg;
	size_t i, parent;

	m->nread++;
	if (m->nfree) {
		k.slot = m->free_slots[--m->nfree];
	} else {
		if (m->nslots == m->cap && grow(m))
			return EXIT_ERR;
		k.slot = m->nslots++;
	}
	m->slots[k.slot] = *r;
	for (i = m->nheap++; i; i = parent) {
		parent = (i - 1) / 2;
		if (!key_before(&k, &m->heap[parent]))
			break;
		m->heap[i] = m->heap[parent];
	}
	m->heap[i] = k;
	return 0;
}

/* The oldest key; its slot stays taken until given back. */
static struct tw_hkey heap_pop(struct tw_merge *m)
{
	struct tw_hkey *h = m->heap, top = h[0], last;
	size_t i = 0, c, n;

	last = h[--m->nheap];
	n = m->nheap;
	while ((c = 2 * i + 1) < n) {
		if (c + 1 < n && key_before(&h[c + 1], &h[c]))
			c++;
		if (!key_before(&h[c], &last))
			break;
		h[i] = h[c];
		i = c;
	}
	if (n)
		h[i] = last;
	return top;
}

/* The time of the oldest record waiting; false if none is. */
bool merge_oldest(const struct tw_merge *m, __u64 *ts)
{
	if (!m->nheap)
		return false;
	*ts = m->heap[0].ts;
	return true;
}

/* Every record up to @limit (@all: every one), oldest first, to @fn. */
void merge_emit(struct tw_merge *m, __u64 limit, bool all,
		void (*fn)(void *arg, const struct twtrace_record *r, int cpu),
		void *arg)
{
	struct tw_hkey k;

	while (m->nheap && (all || m->heap[0].ts <= limit)) {
		k = heap_pop(m);
		fn(arg, &m->slots[k.slot], k.cpu);
		m->free_slots[m->nfree++] = k.slot;
	}
}

/* Read what a cpuN file has now, without blocking, into @buf. */
static int drain(struct tw_src *c, unsigned char *buf, size_t len)
{
	int round, rc;
	ssize_t n;

	for (round = 0; round < READ_ROUNDS; round++) {
		n = read(c->fd, buf, len - c->dec.part);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n < 0) {
			tw_err("%s: read: %s", c->name, strerror(errno));
			c->eof = true;
			return EXIT_ERR;
		}
		if (!n) {
			/* The module is going away, or a plain file ended. */
			c->eof = true;
			return decode_end(&c->dec);
		}
		rc = decode(&c->dec, buf, n);
		if (rc)
			return rc;
	}
	return 0;
}

int merge_drain(struct tw_merge *m, int i)
{
	return drain(&m->src[i], m->buf, m->buf_len);
}

static int cmp_src(const void *a, const void *b)
{
	return ((const struct tw_src *)a)->dec.cpu -
	       ((const struct tw_src *)b)->dec.cpu;
}

static const struct tw_decode_ops push_ops = {
	.record = heap_push,
};

/* Open every cpuN file of @dir, in CPU order; records of @rsz bytes. */
int merge_open(struct tw_merge *m, const char *dir, size_t rsz)
{
	struct tw_src *c;
	struct dirent *de;
	int rc = EXIT_OK, i;
	DIR *d = opendir(dir);
	__u64 cpu;

	if (!d && (errno == EACCES || errno == EPERM)) {
		tw_err("%s: permission denied: reading twtrace's debugfs files needs root (run twtrace as root, e.g. with sudo)",
		       dir);
		return EXIT_ERR;
	}
	if (!d) {
		tw_err("%s: %s", dir, strerror(errno));
		return EXIT_ERR;
	}
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "cpu", 3) ||
		    parse_u64(de->d_name + 3, &cpu) || cpu > 65535)
			continue;
		c = realloc(m->src, (m->nsrc + 1) * sizeof(*c));
		if (!c) {
			tw_err("out of memory");
			rc = EXIT_ERR;
			break;
		}
		m->src = c;
		c = &m->src[m->nsrc++];
		memset(c, 0, sizeof(*c));
		c->fd = -1;
		c->dec.cpu = cpu;
	}
	closedir(d);
	if (rc)
		return rc;
	if (!m->nsrc) {
		tw_err("%s: no cpuN files: is this the twtrace module's directory?",
		       dir);
		return EXIT_ERR;
	}
	qsort(m->src, m->nsrc, sizeof(*m->src), cmp_src);
	/* A read returns whole records only: room for READ_RECS of them. */
	m->buf_len = READ_RECS * rsz;
	m->buf = malloc(m->buf_len);
	if (!m->buf) {
		tw_err("out of memory");
		return EXIT_ERR;
	}
	/* The array stays where it is from here on. */
	for (i = 0; i < m->nsrc; i++) {
		c = &m->src[i];
		snprintf(c->name, sizeof(c->name), "cpu%d", c->dec.cpu);
		decode_init(&c->dec, c->name, c->dec.cpu, rsz, &push_ops, m);
		c->fd = tw_open(dir, c->name, O_RDONLY | O_NONBLOCK, &rc);
		if (c->fd < 0)
			return rc;
	}
	return EXIT_OK;
}

void merge_free(struct tw_merge *m)
{
	int i;

	for (i = 0; i < m->nsrc; i++)
		if (m->src[i].fd >= 0)
			close(m->src[i].fd);
	free(m->heap);
	free(m->slots);
	free(m->free_slots);
	free(m->src);
	free(m->buf);
	memset(m, 0, sizeof(*m));
}
