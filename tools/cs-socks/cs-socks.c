/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cs-socks VNET/ENDPOINT LISTEN: a SOCKS5 proxy (RFC 1928: no
 * authentication, CONNECT) into one endpoint, for programs not linked to
 * libcs (curl --proxy socks5h://...). LISTEN is a unix socket path, made
 * mode 0600, or a port on 127.0.0.1. Each connection is served by a child
 * of its own with its own connection to csd, and reaches the vnet through
 * cs_connect: a channel on the user backend, a socket on the kernel one.
 * Names (socks5h) resolve in the endpoint's vnet.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cs/cs.h>

static const char *vnet, *endpoint;

static int full_read(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static int full_write(int fd, const void *buf, size_t n)
{
	size_t put = 0;

	while (put < n) {
		ssize_t w = write(fd, (const char *)buf + put, n - put);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		put += (size_t)w;
	}
	return 0;
}

static void reply(int c, uint8_t code)
{
	uint8_t r[10] = { 5, code, 0, 1 };

	full_write(c, r, sizeof(r));
}

/* The request's destination as text (an address or a name) and port; or
 * the SOCKS reply code that refuses it. */
static int request(int c, char *host, size_t hostlen, uint16_t *port)
{
	uint8_t h[4], len, p[2], a[16];

	if (full_read(c, h, 4) < 0 || h[0] != 5)
		return 1;
	if (h[1] != 1)
		return 7; /* only CONNECT */
	if (h[3] == 1) {
		if (full_read(c, a, 4) < 0)
			return 1;
		inet_ntop(AF_INET, a, host, (socklen_t)hostlen);
	} else if (h[3] == 4) {
		if (full_read(c, a, 16) < 0)
			return 1;
		inet_ntop(AF_INET6, a, host, (socklen_t)hostlen);
	} else if (h[3] == 3) {
		if (full_read(c, &len, 1) < 0 || len >= hostlen || full_read(c, host, len) < 0)
			return 1;
		host[len] = '\0';
	} else {
		return 8;
	}
	if (full_read(c, p, 2) < 0)
		return 1;
	*port = (uint16_t)(p[0] << 8 | p[1]);
	return 0;
}

/* Both ways until both sides are done; an end of file is passed on as a
 * half-close. */
static void pump(int a, int b)
{
	struct pollfd p[2] = { { a, POLLIN, 0 }, { b, POLLIN, 0 } };
	static char buf[65536];
	int open = 2;

	while (open > 0 && poll(p, 2, -1) > 0) {
		for (int i = 0; i < 2; i++) {
			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t n = read(p[i].fd, buf, sizeof(buf));
			if (n > 0 && full_write(p[!i].fd, buf, (size_t)n) == 0)
				continue;
			if (n < 0 && errno == EINTR)
				continue;
			shutdown(p[!i].fd, SHUT_WR);
			p[i].fd = -1;
			open--;
		}
	}
}

static void serve(int c)
{
	uint8_t g[2], methods[255];
	char host[256];
	uint16_t port = 0;
	cs_t *cs = NULL;
	cs_endpoint_t *ep = NULL;
	int code, fd;

	if (full_read(c, g, 2) < 0 || g[0] != 5 || full_read(c, methods, g[1]) < 0 ||
	    !memchr(methods, 0, g[1])) {
		full_write(c, "\x05\xff", 2);
		return;
	}
	full_write(c, "\x05\x00", 2);
	if ((code = request(c, host, sizeof(host), &port)) != 0) {
		reply(c, (uint8_t)code);
		return;
	}
	if (cs_open(NULL, &cs) < 0 || cs_endpoint_open(cs, vnet, endpoint, CS_EP_ATTACH, &ep) < 0) {
		fprintf(stderr, "cs-socks: %s\n", cs ? cs_last_error(cs) : "cannot reach csd");
		reply(c, 1);
		return;
	}
	fd = cs_connect(ep, SOCK_STREAM, host, port);
	if (fd < 0) {
		fprintf(stderr, "cs-socks: %s\n", cs_last_error(cs));
		reply(c, fd == CS_ENOENT ? 4 : 5);
		return;
	}
	reply(c, 0);
	pump(c, fd);
}

static int listen_on(const char *where)
{
	int fd;

	if (where[0] == '/') {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		if (strlen(where) >= sizeof(sa.sun_path))
			return -1;
		strcpy(sa.sun_path, where);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		umask(077);
		if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			return -1;
	} else {
		struct sockaddr_in sa = { .sin_family = AF_INET,
					  .sin_port = htons((uint16_t)atoi(where)),
					  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		int one = 1;
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			return -1;
	}
	return listen(fd, 64) < 0 ? -1 : fd;
}

int main(int argc, char **argv)
{
	static char path[256];
	char *slash;
	int l;

	if (argc != 3 || snprintf(path, sizeof(path), "%s", argv[1]) >= (int)sizeof(path) ||
	    !(slash = strrchr(path, '/')) || slash == path) {
		fprintf(stderr, "usage: cs-socks TENANT/VNET/ENDPOINT /PATH/OF/SOCKET|PORT\n");
		return 2;
	}
	*slash = '\0';
	vnet = path;
	endpoint = slash + 1;
	if ((l = listen_on(argv[2])) < 0) {
		fprintf(stderr, "cs-socks: cannot listen on %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	signal(SIGCHLD, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	fprintf(stderr, "cs-socks: serving %s/%s on %s\n", vnet, endpoint, argv[2]);
	for (;;) {
		int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		if (fork() == 0) {
			close(l);
			serve(c);
			_exit(0);
		}
		close(c);
	}
}
