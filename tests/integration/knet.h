/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Socket helpers of the root-only tests that drive the kernel backend
 * directly (test_kernel_backend, test_nft_kernel, test_multinode_kernel):
 * addresses, connect with a timeout, moving bytes and checking they
 * arrived. Include after CHECK is defined (ktest.h, or the test's own).
 */
#ifndef TESTS_INTEGRATION_KNET_H
#define TESTS_INTEGRATION_KNET_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "cs/cs.h"

#ifndef CHECK
#error "define CHECK before including knet.h"
#endif

#define KNET_FN static __attribute__((unused))

KNET_FN struct cs_addr addr(const char *s)
{
	struct cs_addr a = { 0 };

	CHECK(cs_addr_parse(s, &a) == 0, "bad address %s", s);
	return a;
}

KNET_FN double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

KNET_FN int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* @ip (IPv4 or IPv6) and @port as a socket address. */
KNET_FN void sa_of(const char *ip, int port, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		inet_pton(AF_INET6, ip, &s6->sin6_addr);
		*len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		inet_pton(AF_INET, ip, &s4->sin_addr);
		*len = sizeof(*s4);
	}
}

KNET_FN int wait_readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

/* 0, or -errno (ETIMEDOUT after @ms) */
KNET_FN int connect_to(int fd, const char *ip, int port, int ms)
{
	struct sockaddr_storage ss;
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	socklen_t len, elen = sizeof(int);
	int fl, e = 0;

	sa_of(ip, port, &ss, &len);
	fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
		if (errno != EINPROGRESS)
			return -errno;
		if (poll(&p, 1, ms) == 0)
			return -ETIMEDOUT;
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen);
	}
	fcntl(fd, F_SETFL, fl);
	return -e;
}

KNET_FN int accept_one(int lfd)
{
	int fd;

	CHECK(wait_readable(lfd, 3000), "no connection arrived");
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	CHECK(fd >= 0, "accept: %m");
	return fd;
}

/* @msg goes from @a to @b and arrives whole. */
KNET_FN void transfer(int a, int b, const char *msg)
{
	char buf[256];
	size_t len = strlen(msg), got = 0;
	ssize_t n;

	CHECK(send(a, msg, len, MSG_NOSIGNAL) == (ssize_t)len, "send: %m");
	while (got < len) {
		CHECK(wait_readable(b, 3000), "\"%s\" did not arrive", msg);
		n = recv(b, buf + got, sizeof(buf) - got, 0);
		CHECK(n > 0, "recv: %zd %m", n);
		got += n;
	}
	CHECK(got == len && !memcmp(buf, msg, len), "got other bytes than \"%s\"", msg);
}

/* @total bytes from @a to @b, both polled so neither side stalls; a 3 s
 * pause anywhere is a stall. */
KNET_FN void pump(int a, int b, size_t total)
{
	static char chunk[65536], sink[65536];
	size_t sent = 0, got = 0, len;
	ssize_t n;

	memset(chunk, 'x', sizeof(chunk));
	while (got < total) {
		struct pollfd p[2] = {
			{ .fd = a, .events = sent < total ? POLLOUT : 0 },
			{ .fd = b, .events = POLLIN },
		};

		CHECK(poll(p, 2, 3000) > 0, "transfer stalled at %zu of %zu bytes", got, total);
		if (p[0].revents & POLLOUT) {
			len = total - sent < sizeof(chunk) ? total - sent : sizeof(chunk);
			n = send(a, chunk, len, MSG_DONTWAIT | MSG_NOSIGNAL);
			CHECK(n > 0 || errno == EAGAIN, "send: %m");
			if (n > 0)
				sent += n;
		}
		if (p[1].revents & POLLIN) {
			n = recv(b, sink, sizeof(sink), MSG_DONTWAIT);
			CHECK(n > 0, "recv: %zd %m", n);
			got += n;
		}
	}
}

/* The Internet checksum (RFC 1071) of @n bytes, ready to store. */
KNET_FN uint16_t csum(const void *p, size_t n)
{
	const uint16_t *w = p;
	uint32_t s = 0;

	for (; n > 1; n -= 2)
		s += *w++;
	if (n)
		s += *(const uint8_t *)w;
	s = (s >> 16) + (s & 0xffff);
	s += s >> 16;
	return (uint16_t)~s;
}

#endif
