// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tunrelay NETNS TUN LPORT RPORT: the ceiling of a userspace forwarder, a
 * baseline for tests/bench/user. Binds UDP 127.0.0.1:LPORT in the caller's
 * network namespace, then enters NETNS (a /run/netns path) and opens the
 * tun TUN there; every packet read from the tun is sendto() 127.0.0.1:RPORT
 * and every datagram received is written to the tun, one packet per
 * syscall, no encapsulation, no crypto. Two of them, crossed, give two
 * namespaces a path through userspace twice over UDP loopback, as cs's
 * user nodes do. Prints "ready" once both ends are open.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int udp_open(int lport, int rport)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0), buf = 4 << 20;

	if (s < 0)
		return -1;
	setsockopt(s, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	setsockopt(s, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	a.sin_port = htons(lport);
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0)
		return -1;
	a.sin_port = htons(rport);
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0)
		return -1;
	return s;
}

static int tun_open(const char *ns, const char *name)
{
	struct ifreq r = { .ifr_flags = IFF_TUN | IFF_NO_PI };
	int n = open(ns, O_RDONLY | O_CLOEXEC), t;

	if (n < 0 || setns(n, CLONE_NEWNET) < 0)
		return -1;
	close(n);
	t = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	snprintf(r.ifr_name, IFNAMSIZ, "%s", name);
	if (t < 0 || ioctl(t, TUNSETIFF, &r) < 0)
		return -1;
	return t;
}

int main(int argc, char **argv)
{
	static char b[65536];
	struct pollfd p[2];
	int u, t, i, k;
	ssize_t n;

	if (argc != 5) {
		fprintf(stderr, "usage: tunrelay NETNS TUN LPORT RPORT\n");
		return 2;
	}
	u = udp_open(atoi(argv[3]), atoi(argv[4]));
	t = u < 0 ? -1 : tun_open(argv[1], argv[2]);
	if (t < 0) {
		perror("tunrelay");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	p[0] = (struct pollfd){ .fd = t, .events = POLLIN };
	p[1] = (struct pollfd){ .fd = u, .events = POLLIN };
	for (;;) {
		if (poll(p, 2, -1) < 0)
			return 1;
		for (i = 0; i < 2; i++) {
			/* up to 64 per turn, so neither direction starves; the other side drops on a full buffer as
			 * a real forwarder would */
			for (k = 0; p[i].revents && k < 64 && (n = read(p[i].fd, b, sizeof(b))) > 0; k++)
				(void)!write(p[1 - i].fd, b, n);
		}
	}
}
