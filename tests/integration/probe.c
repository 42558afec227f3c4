/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * probe: what integration tests run inside endpoints to prove reachability.
 *   probe serve PORT              TCP and UDP echo on PORT (IPv4 and IPv6)
 *   probe tcp ADDR PORT [MS]      connect, send, expect the echo; exit 0/1
 *   probe udp ADDR PORT [MS]      send a datagram, expect the echo; exit 0/1
 *   probe stream ADDR PORT FILE   connect once, then every 50 ms send a line
 *                                 and expect the echo, appending "ok N" or
 *                                 "fail N" to FILE, until killed
 * Exit status 0 only when the bytes came back, so a probe cannot pass by
 * accident; 1 on timeout or refusal; 2 on usage errors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int parse(const char *addr, const char *port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	int p = atoi(port);

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)p);
		*len = sizeof(*a4);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)p);
		*len = sizeof(*a6);
		return 0;
	}
	fprintf(stderr, "probe: %s is not an address\n", addr);
	return -1;
}

static int wait_fd(int fd, short ev, int ms)
{
	struct pollfd p = { .fd = fd, .events = ev };
	return poll(&p, 1, ms) == 1 ? 0 : -1;
}

static int serve(int port)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port),
				   .sin6_addr = IN6ADDR_ANY_INIT };
	int one = 1, zero = 0;
	int t = socket(AF_INET6, SOCK_STREAM, 0), u = socket(AF_INET6, SOCK_DGRAM, 0);

	setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(t, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	setsockopt(u, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(t, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(t, 64) < 0 ||
	    bind(u, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("probe serve");
		return 1;
	}
	struct pollfd fds[66] = { { t, POLLIN, 0 }, { u, POLLIN, 0 } };
	int n = 2;
	for (;;) {
		if (poll(fds, (nfds_t)n, -1) < 0)
			continue;
		if (fds[0].revents & POLLIN) {
			int c = accept(t, NULL, NULL);
			if (c >= 0 && n < 66)
				fds[n++] = (struct pollfd){ c, POLLIN, 0 };
			else if (c >= 0)
				close(c);
		}
		if (fds[1].revents & POLLIN) {
			char buf[65536];
			struct sockaddr_storage from;
			socklen_t fl = sizeof(from);
			ssize_t r = recvfrom(u, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
			if (r > 0)
				sendto(u, buf, (size_t)r, 0, (struct sockaddr *)&from, fl);
		}
		for (int i = 2; i < n; i++) {
			if (!fds[i].revents)
				continue;
			char buf[65536];
			ssize_t r = read(fds[i].fd, buf, sizeof(buf));
			if (r <= 0 || write(fds[i].fd, buf, (size_t)r) != r) {
				close(fds[i].fd);
				fds[i--] = fds[--n];
			}
		}
	}
}

static int echo_once(int fd, const char *msg, int ms)
{
	char buf[256];
	size_t len = strlen(msg), got = 0;

	if (send(fd, msg, len, MSG_NOSIGNAL) != (ssize_t)len)
		return -1;
	while (got < len) {
		if (wait_fd(fd, POLLIN, ms) < 0)
			return -1;
		ssize_t r = recv(fd, buf + got, sizeof(buf) - got, 0);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return memcmp(buf, msg, len) == 0 ? 0 : -1;
}

static int client(int type, const char *addr, const char *port, int ms)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, r;

	if (parse(addr, port, &ss, &len) < 0)
		return 2;
	fd = socket(ss.ss_family, type | SOCK_NONBLOCK, 0);
	r = connect(fd, (struct sockaddr *)&ss, len);
	if (r < 0 && errno == EINPROGRESS) {
		int err = 0;
		socklen_t el = sizeof(err);
		if (wait_fd(fd, POLLOUT, ms) < 0)
			return 1;
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
		r = err ? -1 : 0;
	}
	if (r < 0)
		return 1;
	r = echo_once(fd, "cs-probe\n", ms);
	close(fd);
	return r == 0 ? 0 : 1;
}

static int stream(const char *addr, const char *port, const char *file)
{
	struct sockaddr_storage ss;
	socklen_t len;
	FILE *out = fopen(file, "a");

	if (!out || parse(addr, port, &ss, &len) < 0)
		return 2;
	setvbuf(out, NULL, _IOLBF, 0);
	int fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
		fprintf(out, "connect-failed\n");
		return 1;
	}
	for (unsigned long n = 0;; n++) {
		char msg[64];
		snprintf(msg, sizeof(msg), "line %lu\n", n);
		fprintf(out, "%s %lu\n", echo_once(fd, msg, 2000) == 0 ? "ok" : "fail", n);
		usleep(50000);
	}
}

int main(int argc, char **argv)
{
	int ms = argc > 4 ? atoi(argv[4]) : 2000;

	if (argc >= 3 && !strcmp(argv[1], "serve"))
		return serve(atoi(argv[2]));
	if (argc >= 4 && !strcmp(argv[1], "tcp"))
		return client(SOCK_STREAM, argv[2], argv[3], ms);
	if (argc >= 4 && !strcmp(argv[1], "udp"))
		return client(SOCK_DGRAM, argv[2], argv[3], ms);
	if (argc >= 5 && !strcmp(argv[1], "stream"))
		return stream(argv[2], argv[3], argv[4]);
	fprintf(stderr, "usage: probe serve PORT | tcp|udp ADDR PORT [MS] | stream ADDR PORT FILE\n");
	return 2;
}
