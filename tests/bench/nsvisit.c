// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * nsvisit PREFIX: the floor under csd's restart in tests/bench/flat. Visits
 * every namespace /run/netns/PREFIX* once, as cheaply as adoption could:
 * open it, enter it, one netlink dump of its links (RTM_GETLINK, every
 * message read), back home. Prints "N namespaces, MS ms".
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* One RTM_GETLINK dump on a fresh socket of the namespace we are in. */
static int dump_links(void)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
	} req = {
		.nh = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETLINK,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1 },
		.ifi = { .ifi_family = AF_UNSPEC },
	};
	static char buf[65536];
	int sk = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), done = 0;

	if (sk < 0 || send(sk, &req, sizeof(req), 0) < 0)
		goto fail;
	while (!done) {
		ssize_t n = recv(sk, buf, sizeof(buf), 0);
		if (n <= 0)
			goto fail;
		for (struct nlmsghdr *nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)n);
		     nh = NLMSG_NEXT(nh, n))
			if (nh->nlmsg_type == NLMSG_DONE || nh->nlmsg_type == NLMSG_ERROR)
				done = 1;
	}
	close(sk);
	return 0;
fail:
	if (sk >= 0)
		close(sk);
	return -1;
}

int main(int argc, char **argv)
{
	int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC), n = 0;
	size_t plen;
	struct dirent *de;
	DIR *d;

	if (argc != 2 || home < 0 || !(d = opendir("/run/netns"))) {
		fprintf(stderr, "usage: nsvisit PREFIX (as root)\n");
		return 2;
	}
	plen = strlen(argv[1]);
	double t0 = now_ms();
	while ((de = readdir(d))) {
		char path[512];
		int fd;
		if (strncmp(de->d_name, argv[1], plen) || de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/run/netns/%s", de->d_name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		if (setns(fd, CLONE_NEWNET) == 0) {
			if (dump_links() == 0)
				n++;
			if (setns(home, CLONE_NEWNET) < 0)
				return 1;
		}
		close(fd);
	}
	closedir(d);
	printf("%d namespaces, %.1f ms\n", n, now_ms() - t0);
	return 0;
}
