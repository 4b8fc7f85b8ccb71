// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace selftests library: the reader, run as a user runs it, in a child
 * process whose output lands in unlinked files.
 */
#include <ctype.h>
#include <grp.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include "twtrace_lib.h"

/* The reader: $TWTRACE_READER, or where the initramfs puts it. */
const char *tw_reader_path(void)
{
	const char *p = getenv("TWTRACE_READER");

	return p && *p ? p : "/opt/twtrace/twtrace";
}

static int rd_tmpfile(void)
{
	char path[] = "/tmp/twtrace-reader.XXXXXX";
	int fd = mkstemp(path);

	if (fd >= 0)
		unlink(path);
	return fd;
}

/* In the child: become what @as says, or exit RD_SETUP_FAILED. */
static void rd_become(enum rd_as as)
{
	switch (as) {
	case RD_ROOT:
		return;
	case RD_NOBODY:
		if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
			break;
		return;
	case RD_NO_DEBUGFS:
		if (unshare(CLONE_NEWNS) ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    umount2("/sys/kernel/debug", MNT_DETACH))
			break;
		return;
	}
	dprintf(2, "reader child: cannot set up (as %d): %s\n", as,
		strerror(errno));
	_exit(RD_SETUP_FAILED);
}

int rd_start(struct rd *r, enum rd_as as, const char *const *argv)
{
	memset(r, 0, sizeof(*r));
	r->pid = -1;
	r->rc = -1;
	r->ofd = rd_tmpfile();
	r->efd = rd_tmpfile();
	if (r->ofd < 0 || r->efd < 0)
		return -errno;
	r->t0 = tw_now();
	r->pid = fork();
	if (r->pid < 0)
		return -errno;
	if (!r->pid) {
		dup2(r->ofd, 1);
		dup2(r->efd, 2);
		rd_become(as);
		execv(tw_reader_path(), (char *const *)argv);
		dprintf(2, "reader child: exec %s: %s\n", tw_reader_path(),
			strerror(errno));
		_exit(RD_EXEC_FAILED);
	}
	return 0;
}

static char *rd_slurp(int fd)
{
	off_t len = lseek(fd, 0, SEEK_END);
	char *buf;
	ssize_t n;

	if (len < 0)
		len = 0;
	buf = calloc(1, len + 1);
	if (!buf)
		return NULL;
	n = pread(fd, buf, len, 0);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/*
 * Send @sig (0: none) and wait up to @secs for the reader to end; kill it
 * if it does not.  Its exit status in r->rc, its output in r->out/err.
 */
int rd_wait(struct rd *r, int sig, double secs)
{
	double end = tw_now() + secs;
	int status = 0;
	pid_t p;

	if (r->pid <= 0)
		return r->rc;
	if (sig)
		kill(r->pid, sig);
	while ((p = waitpid(r->pid, &status, WNOHANG)) == 0 &&
	       tw_now() < end)
		usleep(10000);
	if (!p) {
		kill(r->pid, SIGKILL);
		waitpid(r->pid, &status, 0);
	}
	r->t1 = tw_now();
	r->pid = 0;
	if (WIFEXITED(status))
		r->rc = WEXITSTATUS(status);
	else
		r->sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	r->out = rd_slurp(r->ofd);
	r->err = rd_slurp(r->efd);
	if (!r->out)
		r->out = strdup("");
	if (!r->err)
		r->err = strdup("");
	return r->rc;
}

void rd_free(struct rd *r)
{
	if (r->pid > 0) {
		kill(r->pid, SIGKILL);
		waitpid(r->pid, NULL, 0);
		r->pid = 0;
	}
	if (r->ofd > 0)
		close(r->ofd);
	if (r->efd > 0)
		close(r->efd);
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

/* Run the reader to its end (at most 30 s); its exit status. */
int rd_run(struct rd *r, enum rd_as as, const char *const *argv)
{
	int ret = rd_start(r, as, argv);

	if (ret)
		return ret;
	return rd_wait(r, 0, 30);
}

/* The first line of @s, for a log. */
const char *first_line(const char *s, char *buf, size_t len)
{
	snprintf(buf, len, "%.*s", (int)strcspn(s, "\n"), s);
	return buf;
}

/* Is the reader asleep in clock_nanosleep() (its interval wait)? */
bool rd_sleeping(const struct rd *r)
{
	char path[64], buf[64] = "";

	snprintf(path, sizeof(path), "/proc/%d/syscall", r->pid);
	if (tw_read_str(path, buf, sizeof(buf)) || !isdigit(buf[0]))
		return false;
	return strtol(buf, NULL, 10) == __NR_clock_nanosleep;
}

/* ------------------------------------------------------------------ */
/* JSON, just enough: find a member by its dotted path, read a value.  */
