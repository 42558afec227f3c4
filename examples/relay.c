/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * relay: multinetting in one program. It holds an endpoint in two vnets at
 * once, listens in the first and relays every connection to a peer (a name
 * or an address) in the second.
 *
 *   relay FROM-VNET TO-VNET PEER PORT [NAME]
 *   e.g. relay acme/blue acme/red db 7000
 *
 * Both endpoints are called NAME (default "relay") and are ephemeral: they
 * go away when the program exits. Build: cc relay.c $(pkg-config --cflags
 * --libs libcs)
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <cs/cs.h>

/*
 * Copy both ways until both sides are done. An end of file from one side is
 * passed on as a half-close (shutdown of the write side) to the other, whose
 * answer still has to travel back: a client typically sends its request,
 * half-closes, and then reads.
 */
static void pump(int a, int b)
{
	struct pollfd p[2] = { { a, POLLIN, 0 }, { b, POLLIN, 0 } };
	char buf[65536];
	int open = 2;

	while (open > 0) {
		if (poll(p, 2, -1) < 0)
			return;
		for (int i = 0; i < 2; i++) {
			int to = i ? a : b;

			if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t n = read(p[i].fd, buf, sizeof(buf));
			if (n < 0)
				return;
			if (n == 0) {
				shutdown(to, SHUT_WR);
				p[i].fd = -1; /* poll() skips it */
				open--;
				continue;
			}
			if (write(to, buf, (size_t)n) != n)
				return;
		}
	}
}

int main(int argc, char **argv)
{
	cs_t *cs;
	cs_endpoint_t *in, *out;
	int r;

	if (argc < 5) {
		fprintf(stderr, "usage: relay FROM-VNET TO-VNET PEER PORT [NAME]\n");
		return 2;
	}
	const char *name = argc > 5 ? argv[5] : "relay";
	uint16_t port = (uint16_t)atoi(argv[4]);
	if ((r = cs_open(NULL, &cs)) < 0) {
		fprintf(stderr, "relay: cannot reach csd: %s\n", cs_strerror(r));
		return 1;
	}
	if ((r = cs_endpoint_open(cs, argv[1], name, CS_EP_EPHEMERAL, &in)) < 0 ||
	    (r = cs_endpoint_open(cs, argv[2], name, CS_EP_EPHEMERAL, &out)) < 0) {
		fprintf(stderr, "relay: %s\n", cs_last_error(cs));
		return 1;
	}
	int lfd = cs_listen(in, SOCK_STREAM, port, 16);
	if (lfd < 0) {
		fprintf(stderr, "relay: listen: %s\n", cs_last_error(cs));
		return 1;
	}
	struct sockaddr_storage ss;
	socklen_t len;
	char addr[INET6_ADDRSTRLEN] = "?";
	if (cs_endpoint_address(in, AF_UNSPEC, &ss, &len) == 0)
		inet_ntop(ss.ss_family, ss.ss_family == AF_INET
			  ? (void *)&((struct sockaddr_in *)&ss)->sin_addr
			  : (void *)&((struct sockaddr_in6 *)&ss)->sin6_addr, addr, sizeof(addr));
	printf("relay: listening on %s port %u in %s, relaying to %s in %s\n", addr, port,
	       argv[1], argv[3], argv[2]);
	fflush(stdout);
	for (;;) {
		int c = cs_accept(lfd, NULL, NULL);
		if (c < 0)
			continue;
		/* one connection at a time keeps the example short */
		int s = cs_connect(out, SOCK_STREAM, argv[3], port);
		if (s < 0) {
			fprintf(stderr, "relay: %s\n", cs_last_error(cs));
			close(c);
			continue;
		}
		pump(c, s);
		close(c);
		close(s);
	}
}
