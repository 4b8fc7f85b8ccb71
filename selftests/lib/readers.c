// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace selftests library: readers of the cpuN files in processes of
 * their own, which note in shared memory what they read, and what the
 * stress tests ask of them.
 */
#include "twtrace_lib.h"

/* Note records read from cpu @cpu in the shared seq window. */
static long long rd_note(struct rd_shm *shm, int cpu,
			 const struct twtrace_record *buf, ssize_t n)
{
	long long bad = 0, idx;
	ssize_t i;

	for (i = 0; i < n; i++) {
		const struct twtrace_record *r = &buf[i];

		if (r->magic != TWTRACE_MAGIC ||
		    r->abi != TWTRACE_ABI_VERSION || r->cpu != cpu)
			bad++;
		if (cpu >= RD_CPUS)
			continue;
		idx = (long long)r->seq - shm->base[cpu] - 1;
		if (idx >= 0 && idx < RD_SEEN)
			ADD(shm->seen[cpu][idx], 1);
		else
			ADD(shm->oor[cpu], 1);
	}
	return bad;
}

/*
 * A reader: opens cpu @cpu and reads it, blocking, until killed; or, if
 * @never, opens it and never reads.
 */
void reader_main(struct rd_shm *shm, int i, int cpu, bool never)
{
	struct twtrace_record buf[16];
	struct rd_slot *s = &shm->r[i];
	char path[64];
	ssize_t n;
	int fd;

	s->cpu = cpu;
	snprintf(path, sizeof(path), TW_DIR "/cpu%d", cpu);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		s->err = errno;
		STORE(s->state, RD_EXIT);
		_exit(1);
	}
	STORE(s->state, RD_OPEN);
	while (never)
		pause();
	for (;;) {
		STORE(s->state, RD_READING);
		n = read(fd, buf, sizeof(buf));
		if (n <= 0) {
			s->err = n ? errno : 0;
			break;
		}
		if (n % TW_REC_SIZE)
			ADD(s->bad, 1);
		ADD(s->bad, rd_note(shm, cpu, buf, n / TW_REC_SIZE));
		ADD(s->nread, n / TW_REC_SIZE);
	}
	STORE(s->state, RD_EXIT);
	_exit(0);
}

/* "probes": an unattached probe never fired. */
static long long probes_bad_lines(const char *text)
{
	char sym[128], att[16];
	unsigned long long hits, missed;
	long long bad = 0;
	const char *p;

	for (p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (*p == '#' || *p == '\n')
			continue;
		if (sscanf(p, "%127s %15s %llu %llu", sym, att, &hits,
			   &missed) != 4)
			bad++;
		else if (strcmp(att, "yes") && hits)
			bad++;
	}
	return bad;
}

/*
 * An opener: opens, reads and closes cpu @cpu and "probes" in a loop,
 * every half millisecond, while the module comes and goes.  A file that is not
 * there (ENOENT) or whose module is going (ENXIO) is fine; any other
 * error is not.
 */
void opener_main(struct rd_shm *shm, int i, int cpu)
{
	struct twtrace_record rec[4];
	struct rd_slot *s = &shm->r[i];
	char path[64], text[4096];
	bool probes = false;
	ssize_t n;
	int fd;

	s->cpu = cpu;
	STORE(s->state, RD_READING);
	for (;; probes = !probes) {
		if (probes)
			snprintf(path, sizeof(path), TW_DIR "/probes");
		else
			snprintf(path, sizeof(path), TW_DIR "/cpu%d", cpu);
		fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0) {
			if (errno != ENOENT && errno != ENXIO)
				s->err = errno;
			usleep(200);
			continue;
		}
		ADD(s->opens, 1);
		if (probes) {
			n = read(fd, text, sizeof(text) - 1);
			if (n >= 0) {
				text[n] = '\0';
				ADD(s->bad, probes_bad_lines(text));
			}
		} else {
			n = read(fd, rec, sizeof(rec));
			if (n > 0)
				ADD(s->nread, n / TW_REC_SIZE);
		}
		if (n < 0 && errno != EAGAIN)
			s->err = errno;
		close(fd);
		usleep(500);
	}
}

long long rd_total_read(struct rd_shm *shm)
{
	long long n = 0;
	int i;

	for (i = 0; i < RD_MAX; i++)
		n += LOAD(shm->r[i].nread);
	return n;
}

/* Every reader in @idx reached @state (or beyond) within @secs. */
bool rd_wait_state(struct rd_shm *shm, const int *idx, int n,
		   int state, double secs)
{
	double end = tw_now() + secs;
	bool all;
	int i;

	do {
		for (all = true, i = 0; i < n && all; i++)
			all = LOAD(shm->r[idx[i]].state) >= state;
		if (!all)
			usleep(5000);
	} while (!all && tw_now() < end);
	return all;
}

/* The state letter of /proc/@pid/stat ('S': sleeping), and its wchan. */
char proc_state(pid_t pid, char *wchan, size_t len)
{
	char path[64], buf[512], *p;
	char st = '?';

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (!tw_read_str(path, buf, sizeof(buf))) {
		p = strrchr(buf, ')');
		if (p && p[1] == ' ')
			st = p[2];
	}
	snprintf(path, sizeof(path), "/proc/%d/wchan", pid);
	if (tw_read_str(path, wchan, len))
		snprintf(wchan, len, "?");
	return st;
}

/* Read, without blocking, what cpu @cpu holds into the seq window. */
long long rd_drain_cpu(struct rd_shm *shm, int cpu, long long *bad)
{
	struct twtrace_record buf[32];
	long long got = 0;
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), TW_DIR "/cpu%d", cpu);
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		*bad += rd_note(shm, cpu, buf, n / TW_REC_SIZE);
		got += n / TW_REC_SIZE;
	}
	close(fd);
	return got;
}

/* Nothing produced and nothing read for @quiet seconds (within @secs). */
bool quiesce(struct rd_shm *shm, double quiet, double secs)
{
	double end = tw_now() + secs, since = tw_now();
	long long rec = -2, nr = -2, r, n;

	while (tw_now() < end) {
		r = tw_stat("records");
		n = rd_total_read(shm);
		if (r != rec || n != nr) {
			rec = r;
			nr = n;
			since = tw_now();
		} else if (tw_now() - since >= quiet) {
			return true;
		}
		usleep(50000);
	}
	return false;
}
