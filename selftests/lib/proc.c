// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace selftests library: time, network namespaces, CPUs and child
 * processes.
 */
#include "twtrace_lib.h"

double tw_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Move the caller into a new network namespace with lo up. */
int tw_netns_new(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd, ret = -1;

	if (unshare(CLONE_NEWNET))
		return -errno;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (!ioctl(fd, SIOCGIFFLAGS, &ifr)) {
		ifr.ifr_flags |= IFF_UP;
		ret = ioctl(fd, SIOCSIFFLAGS, &ifr) ? -errno : 0;
	}
	close(fd);
	return ret;
}

/* The inode number of the caller's network namespace; 0 on error. */
unsigned int tw_netns_inum(void)
{
	char buf[64] = "";
	unsigned int inum = 0;
	ssize_t n = readlink("/proc/self/ns/net", buf, sizeof(buf) - 1);

	if (n > 0) {
		buf[n] = '\0';
		if (sscanf(buf, "net:[%u]", &inum) != 1)
			inum = 0;
	}
	return inum;
}

/* Run on CPU @cpu only (-1: any). */
void tw_pin(int cpu)
{
	cpu_set_t set;
	int c;

	CPU_ZERO(&set);
	for (c = 0; c < CPU_SETSIZE && c < TW_MAX_CPUS; c++)
		if (cpu < 0 || c == cpu)
			CPU_SET(c, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* ---- quiet: no left-overs of earlier tests' namespaces ---- */

/* Is some process in the network namespace @inum? */
bool tw_netns_in_use(unsigned int inum)
{
	char path[300], buf[64], want[32];
	bool found = false;
	struct dirent *de;
	ssize_t n;
	DIR *d;

	snprintf(want, sizeof(want), "net:[%u]", inum);
	d = opendir("/proc");
	if (!d)
		return true;
	while (!found && (de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/ns/net", de->d_name);
		n = readlink(path, buf, sizeof(buf) - 1);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		found = !strcmp(buf, want);
	}
	closedir(d);
	return found;
}

/*
 * The TIME_WAIT sockets of a namespace die when the namespace goes, a
 * little after its last process (cleanup_net runs from a workqueue).
 * Wait until the module tracks no socket of a namespace nobody is in, so
 * that earlier tests' purges do not land in this test's figures.
 */
bool tw_settle(double secs)
{
	double end = tw_now() + secs;
	struct tw_live *v;
	bool quiet;
	int i, n;

	v = calloc(4096, sizeof(*v));
	if (!v)
		return false;
	do {
		quiet = true;
		n = tw_live_read(v, 4096, 0);
		if (n < 0 || n > 4096)
			quiet = false;
		for (i = 0; quiet && i < n; i++)
			if (!tw_netns_in_use(v[i].netns))
				quiet = false;
		if (!quiet)
			usleep(50000);
	} while (!quiet && tw_now() < end);
	free(v);
	return quiet;
}

/* The CPUs online. */
int tw_cpus_online(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? n : 1;
}

/* @len bytes of memory shared with the children forked after; NULL. */
void *tw_shm_alloc(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* fork(), the child killed when its parent goes (a failed test). */
pid_t tw_spawn(void)
{
	pid_t parent = getpid(), pid;

	fflush(NULL);
	pid = fork();
	if (!pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
	}
	return pid;
}

/* Reap @pid within @secs: its wait status, or -1 (killed, maybe stuck). */
int tw_reap(pid_t pid, double secs)
{
	double end = tw_now() + secs;
	int status;
	pid_t r;

	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r < 0)
			return -1;
		if (tw_now() > end)
			break;
		usleep(2000);
	}
	kill(pid, SIGKILL);
	end = tw_now() + 5;
	while (waitpid(pid, &status, WNOHANG) == 0 && tw_now() < end)
		usleep(10000);
	return -1;
}

int tw_kill_reap(pid_t pid, double secs)
{
	kill(pid, SIGKILL);
	return tw_reap(pid, secs);
}

bool tw_killed_by_sigkill(int status)
{
	return status >= 0 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}
