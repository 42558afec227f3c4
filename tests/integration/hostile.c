/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * hostile: a local user attacking csd's control socket, for test_hostile.sh
 * and the bench. Run as an unprivileged user; it prints what it achieved
 * and holds it until HOLD seconds pass (or it is killed).
 *   hostile partial SOCK N HOLD [FDS]
 *       N connections, each sending the first part of a 16 MiB message,
 *       with FDS passed fds (dups of /dev/null) riding on that part
 *   hostile memory SOCK N MIB HOLD
 *       N connections, each announcing MIB MiB and sending all but the
 *       last part
 *   hostile request SOCK HOLD JSON...
 *       one connection: hello, then each JSON request in turn, each reply
 *       printed on a line of its own; the connection is held HOLD seconds
 *   hostile pipeline SOCK N HOLD JSON
 *       one connection: hello, then N copies of request JSON sent without
 *       reading a reply (until csd stops taking them); held HOLD seconds
 *   hostile send SOCK FILE
 *       one connection: hello, then FILE's bytes as one message (in parts);
 *       prints the reply
 *   hostile latency SOCK N
 *       one connection: hello, then N "status" requests one after another;
 *       prints "p50 A p99 B max C" in ms
 * Prints "opened K refused R parts P": K connections csd kept, R it closed
 * or refused, P parts it took. Exit 1 on a failed system call, 2 on usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"

static int dial(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Send part @i of a message of @total bytes (payload of 'x'), @nfds fds
 * attached whatever the part. Returns 0, or -1 when csd is gone. */
static int send_part(int fd, size_t total, size_t i, int nfds)
{
	static char buf[CS_WIRE_HDR_LEN + CS_WIRE_PART_MAX];
	struct cs_wire_hdr hdr;
	size_t off = i * CS_WIRE_PART_MAX;
	size_t plen = total - off < CS_WIRE_PART_MAX ? total - off : CS_WIRE_PART_MAX;
	union {
		char b[CMSG_SPACE(sizeof(int) * CS_WIRE_MAX_FDS)];
		struct cmsghdr align;
	} u;
	int fds[CS_WIRE_MAX_FDS];

	cs_wire_hdr_fill(&hdr, total, i);
	memcpy(buf, &hdr, CS_WIRE_HDR_LEN);
	memset(buf + CS_WIRE_HDR_LEN, 'x', plen);
	struct iovec iov = { buf, CS_WIRE_HDR_LEN + plen };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (nfds > 0) {
		for (int k = 0; k < nfds; k++)
			fds[k] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		cs_wire_attach_fds(&mh, u.b, fds, nfds);
	}
	ssize_t r = sendmsg(fd, &mh, MSG_NOSIGNAL);
	for (int k = 0; k < nfds; k++)
		close(fds[k]);
	return r < 0 ? -1 : 0;
}

/* Did csd close this connection (or refuse it with a message)? */
static int closed(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };
	char b[512];

	if (poll(&p, 1, 0) <= 0)
		return 0;
	if (p.revents & (POLLHUP | POLLERR))
		return 1;
	ssize_t n = recv(fd, b, sizeof(b) - 1, MSG_DONTWAIT);
	if (n <= 0)
		return 1;
	b[n] = '\0';
	return strstr(b, "connection refused") != NULL;
}

/* Hello, then each request; prints the replies. */
static int requests(const char *sock, int hold, char **reqs, int n)
{
	const char *hello = "{\"id\":1,\"op\":\"hello\",\"args\":{\"version\":1}}";
	int fd = dial(sock);
	char *reply;
	size_t len;

	if (fd < 0)
		return 1;
	for (int i = -1; i < n; i++) {
		const char *m = i < 0 ? hello : reqs[i];
		if (cs_wire_send(fd, m, strlen(m), NULL, 0) < 0 ||
		    cs_wire_recv(fd, CS_WIRE_MSG_MAX_DEFAULT, &reply, &len, NULL, NULL) < 0)
			return 1;
		if (i >= 0)
			printf("%s\n", reply);
		free(reply);
	}
	fflush(stdout);
	sleep((unsigned)hold);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Round trips of "status" on one connection, in ms. */
static int latency(const char *sock, int n)
{
	const char *hello = "{\"id\":1,\"op\":\"hello\",\"args\":{\"version\":1}}";
	const char *status = "{\"id\":2,\"op\":\"status\"}";
	double *ms = calloc((size_t)n, sizeof(double));
	int fd = dial(sock);
	char *reply;
	size_t len;

	if (fd < 0 || !ms)
		return 1;
	for (int i = -1; i < n; i++) {
		struct timespec a, b;
		clock_gettime(CLOCK_MONOTONIC, &a);
		const char *m = i < 0 ? hello : status;
		if (cs_wire_send(fd, m, strlen(m), NULL, 0) < 0 ||
		    cs_wire_recv(fd, CS_WIRE_MSG_MAX_DEFAULT, &reply, &len, NULL, NULL) < 0)
			return 1;
		free(reply);
		clock_gettime(CLOCK_MONOTONIC, &b);
		if (i >= 0)
			ms[i] = (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
		usleep(2000);
	}
	qsort(ms, (size_t)n, sizeof(double), cmp_double);
	printf("p50 %.2f p99 %.2f max %.2f\n", ms[n / 2], ms[(n * 99) / 100], ms[n - 1]);
	free(ms);
	return 0;
}

/* One message read from @path, sent whole; the reply printed. */
static int send_file(const char *sock, const char *path)
{
	const char *hello = "{\"id\":1,\"op\":\"hello\",\"args\":{\"version\":1}}";
	FILE *f = fopen(path, "r");
	char *buf = NULL, *reply;
	size_t cap = 0, len;
	int fd = dial(sock);

	if (!f || fd < 0 || getdelim(&buf, &cap, '\0', f) < 0)
		return 1;
	fclose(f);
	if (cs_wire_send(fd, hello, strlen(hello), NULL, 0) < 0 ||
	    cs_wire_recv(fd, CS_WIRE_MSG_MAX_DEFAULT, &reply, &len, NULL, NULL) < 0)
		return 1;
	free(reply);
	if (cs_wire_send(fd, buf, strlen(buf), NULL, 0) < 0 ||
	    cs_wire_recv(fd, CS_WIRE_MSG_MAX_DEFAULT, &reply, &len, NULL, NULL) < 0)
		return 1;
	printf("%s\n", reply);
	free(reply);
	free(buf);
	return 0;
}

/* Requests sent as fast as csd takes them, no reply read. */
static int pipeline(const char *sock, int n, int hold, const char *req)
{
	const char *hello = "{\"id\":1,\"op\":\"hello\",\"args\":{\"version\":1}}";
	int fd = dial(sock), sent = 0;

	if (fd < 0 || cs_wire_send(fd, hello, strlen(hello), NULL, 0) < 0)
		return 1;
	/* csd may pause reading; push on for 3 s at most */
	for (int waited = 0; sent < n && waited < 3000;) {
		int r = cs_wire_send_part(fd, req, strlen(req), 0, NULL, 0);
		if (r == -EAGAIN) {
			usleep(1000);
			waited++;
		} else if (r < 0) {
			break;
		} else {
			sent++;
		}
	}
	printf("sent %d\n", sent);
	fflush(stdout);
	sleep((unsigned)hold);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "send"))
		return send_file(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "latency"))
		return latency(argv[2], atoi(argv[3]));
	if (argc < 5)
		goto usage;
	if (!strcmp(argv[1], "pipeline") && argc == 6)
		return pipeline(argv[2], atoi(argv[3]), atoi(argv[4]), argv[5]);
	if (!strcmp(argv[1], "request"))
		return requests(argv[2], atoi(argv[3]), argv + 4, argc - 4);
	const char *mode = argv[1], *sock = argv[2];
	int n = atoi(argv[3]), hold, nfds = 0;
	size_t total = 16u << 20, parts = 1;

	if (!strcmp(mode, "partial")) {
		hold = atoi(argv[4]);
		nfds = argc > 5 ? atoi(argv[5]) : 0;
	} else if (!strcmp(mode, "memory") && argc >= 6) {
		total = (size_t)atoi(argv[4]) << 20;
		parts = cs_wire_parts(total) - 1;
		hold = atoi(argv[5]);
	} else {
		goto usage;
	}
	if (n < 1 || nfds < 0 || nfds > CS_WIRE_MAX_FDS)
		goto usage;
	int *fds = calloc((size_t)n, sizeof(int)), opened = 0, refused = 0;
	long sent = 0;
	for (int i = 0; i < n; i++) {
		if ((fds[i] = dial(sock)) < 0) {
			refused++;
			continue;
		}
		for (size_t p = 0; p < parts; p++) {
			if (send_part(fds[i], total, p, nfds) < 0)
				break;
			sent++;
		}
	}
	usleep(300 * 1000);
	for (int i = 0; i < n; i++) {
		if (fds[i] < 0)
			continue;
		if (closed(fds[i]))
			refused++;
		else
			opened++;
	}
	printf("opened %d refused %d parts %ld\n", opened, refused, sent);
	fflush(stdout);
	sleep((unsigned)hold);
	return 0;
usage:
	fprintf(stderr, "usage: hostile partial SOCK N HOLD [FDS] | memory SOCK N MIB HOLD | "
		"request SOCK HOLD JSON... | latency SOCK N\n");
	return 2;
}
