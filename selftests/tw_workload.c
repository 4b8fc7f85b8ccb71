// SPDX-License-Identifier: GPL-2.0
/*
 * tw_workload: drive real TIME_WAIT traffic on loopback for the demo and
 * for hand testing inside the test VM.
 *
 *   tw_workload client-close N   N connections closed by the client first,
 *                                each leaving a TIME_WAIT socket
 */
#include "twtrace_lib.h"

static int usage(void)
{
	fprintf(stderr, "usage: tw_workload client-close N\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr;
	int lfd, i, n;

	if (argc != 3 || strcmp(argv[1], "client-close"))
		return usage();
	n = atoi(argv[2]);
	if (n <= 0)
		return usage();

	lfd = tw_listen4(&addr);
	if (lfd < 0) {
		perror("tw_workload: listen");
		return 1;
	}
	for (i = 0; i < n; i++) {
		if (tw_conn_client_closes(lfd, &addr)) {
			perror("tw_workload: connection");
			return 1;
		}
	}
	close(lfd);
	printf("tw_workload: %d connections to 127.0.0.1:%u closed by the client\n",
	       n, ntohs(addr.sin_port));
	return 0;
}
