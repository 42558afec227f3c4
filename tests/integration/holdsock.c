/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * holdsock VNET ENDPOINT PEER PORT FILE: attach to ENDPOINT through libcs,
 * connect one TCP socket to PEER (name or address), then every 50 ms send a
 * line and expect its echo, appending "ok N" or "fail N" to FILE. The test
 * restarts or stops csd meanwhile: the fd must keep working.
 */
#include <poll.h>
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
	FILE *out;

	if (argc < 6 || !(out = fopen(argv[5], "a")))
		return 2;
	setvbuf(out, NULL, _IOLBF, 0);
	if (cs_open(NULL, &cs) < 0 || cs_endpoint_open(cs, argv[1], argv[2], CS_EP_ATTACH, &ep) < 0) {
		fprintf(out, "open-failed %s\n", cs ? cs_last_error(cs) : "");
		return 1;
	}
	int fd = cs_connect(ep, SOCK_STREAM, argv[3], (uint16_t)atoi(argv[4]));
	if (fd < 0) {
		fprintf(out, "connect-failed %s\n", cs_last_error(cs));
		return 1;
	}
	fprintf(out, "connected\n");
	for (unsigned long n = 0;; n++) {
		char msg[64], buf[64];
		snprintf(msg, sizeof(msg), "line %lu\n", n);
		size_t len = strlen(msg), got = 0;
		int ok = send(fd, msg, len, MSG_NOSIGNAL) == (ssize_t)len;
		while (ok && got < len) {
			struct pollfd p = { fd, POLLIN, 0 };
			ssize_t r;
			if (poll(&p, 1, 2000) != 1 || (r = recv(fd, buf + got, sizeof(buf) - got, 0)) <= 0)
				ok = 0;
			else
				got += (size_t)r;
		}
		fprintf(out, "%s %lu\n", ok && !memcmp(buf, msg, len) ? "ok" : "fail", n);
		usleep(50000);
	}
}
