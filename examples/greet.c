/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * greet: two programs talking by name over their vnet, in 70 lines.
 *   greet serve TENANT/VNET NAME PORT        answer every greeting
 *   greet ask TENANT/VNET NAME PEER PORT     greet PEER, print the answer
 * NAME is this program's endpoint (attached if it exists, else created);
 * PEER is another endpoint's name in the same vnet.
 * Build: cc greet.c $(pkg-config --cflags --libs libcs)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cs/cs.h>

int main(int argc, char **argv)
{
	cs_t *cs;
	cs_endpoint_t *ep;
	char buf[256];
	ssize_t n;

	if (argc < 5 || (strcmp(argv[1], "serve") && strcmp(argv[1], "ask")) ||
	    (!strcmp(argv[1], "ask") && argc < 6)) {
		fprintf(stderr, "usage: greet serve VNET NAME PORT | greet ask VNET NAME PEER PORT\n");
		return 2;
	}
	if (cs_open(NULL, &cs) < 0) {
		fprintf(stderr, "greet: cannot reach csd (is it running? set CS_SOCKET)\n");
		return 1;
	}
	if (cs_endpoint_open(cs, argv[2], argv[3], 0, &ep) < 0) {
		fprintf(stderr, "greet: %s\n", cs_last_error(cs));
		return 1;
	}
	if (!strcmp(argv[1], "serve")) {
		int lfd = cs_listen(ep, SOCK_STREAM, (uint16_t)atoi(argv[4]), 16);
		if (lfd < 0) {
			fprintf(stderr, "greet: %s\n", cs_last_error(cs));
			return 1;
		}
		for (;;) {
			int c = cs_accept(lfd, NULL, NULL);
			if (c < 0)
				continue;
			if ((n = read(c, buf, sizeof(buf) - 1)) > 0) {
				buf[n] = '\0';
				dprintf(c, "%s/%s says hello back to %s", argv[2], argv[3], buf);
			}
			close(c);
		}
	}
	int fd = cs_connect(ep, SOCK_STREAM, argv[4], (uint16_t)atoi(argv[5]));
	if (fd < 0) {
		fprintf(stderr, "greet: %s\n", cs_last_error(cs));
		return 1;
	}
	dprintf(fd, "%s/%s", argv[2], argv[3]);
	shutdown(fd, SHUT_WR);
	size_t got = 0;
	while ((n = read(fd, buf, sizeof(buf) - 1)) > 0) {
		buf[n] = '\0';
		fputs(buf, stdout);
		got += (size_t)n;
	}
	close(fd);
	if (!got) {
		fprintf(stderr, "greet: no answer from %s port %s: the connection %s\n", argv[4],
			argv[5], n < 0 ? "failed while reading" : "closed before any reply");
		return 1;
	}
	putchar('\n');
	cs_endpoint_close(ep);
	cs_close(cs);
	return 0;
}
