/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * uprobe: a libcs program for the user backend's tests and bench (it runs
 * unchanged on the kernel backend too). Every mode opens endpoint EP of
 * VNET through csd ($CS_SOCKET).
 *   uprobe serve VNET EP PORT hello|echo|sink|http   (a process per connection)
 *   uprobe ask VNET EP PEER PORT       connect, read the server's hello
 *   uprobe send VNET EP PEER PORT SECS   bulk to a sink; prints bit/s it took
 *   uprobe rtt VNET EP PEER PORT N     64-byte request/response; prints µs
 *   uprobe hold VNET EP PEER PORT      connect, say "held", wait for EOF
 *   uprobe udpecho VNET EP PORT         datagrams back to their sender
 *   uprobe udpask VNET EP PEER PORT     cs_connect(SOCK_DGRAM): one echoed
 *   uprobe udpto VNET EP ADDR PORT      cs_socket(SOCK_DGRAM): one echoed
 *   uprobe create VNET EP N PREFIX      N endpoints VNET/PREFIXi created one
 *                                       by one; prints the median ms (EP:
 *                                       any endpoint of VNET, to start)
 * Exit 0 on success, 1 on failure (the reason on stderr).
 */
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cs/cs.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int full(int fd, char *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static void serve_one(int c, const char *mode)
{
	static char buf[65536];
	ssize_t n;
	unsigned long long total = 0;

	if (!strcmp(mode, "hello")) {
		dprintf(c, "hello\n");
		return;
	}
	if (!strcmp(mode, "http")) {
		/* one request, one answer (curl sends it in one piece) */
		if (read(c, buf, sizeof(buf)) > 0)
			dprintf(c, "HTTP/1.0 200 OK\r\nContent-Length: 6\r\n\r\nhello\n");
		return;
	}
	while ((n = read(c, buf, sizeof(buf))) > 0) {
		total += (unsigned long long)n;
		if (!strcmp(mode, "echo") && write(c, buf, (size_t)n) != n)
			return;
	}
	if (!strcmp(mode, "sink"))
		dprintf(c, "%llu\n", total);
}

static int serve(cs_endpoint_t *ep, int port, const char *mode)
{
	int l = cs_listen(ep, SOCK_STREAM, (uint16_t)port, 64);

	if (l < 0)
		return l;
	signal(SIGCHLD, SIG_IGN);
	printf("listening\n");
	fflush(stdout);
	for (;;) {
		int c = cs_accept(l, NULL, NULL);
		if (c == CS_ECONN || c == CS_EINVAL)
			return c; /* the listening channel closed (endpoint deleted) */
		if (c < 0)
			continue;
		if (fork() == 0) {
			close(l);
			serve_one(c, mode);
			_exit(0);
		}
		close(c);
	}
}

static int send_bulk(int fd, double secs)
{
	static char buf[65536];
	double t0 = now();
	char ans[64] = "";

	while (now() - t0 < secs)
		if (write(fd, buf, sizeof(buf)) < 0)
			return -1;
	shutdown(fd, SHUT_WR);
	ssize_t n = read(fd, ans, sizeof(ans) - 1);
	double dt = now() - t0;
	if (n <= 0)
		return -1;
	printf("%.0f\n", strtod(ans, NULL) * 8 / dt);
	return 0;
}

static int rtt(int fd, int n)
{
	char buf[64] = "ping";
	double t0 = now();

	for (int i = 0; i < n; i++)
		if (write(fd, buf, sizeof(buf)) != sizeof(buf) || full(fd, buf, sizeof(buf)) < 0)
			return -1;
	printf("%.1f\n", (now() - t0) / n * 1e6);
	return 0;
}

/* Datagrams on a channel from cs_listen(SOCK_DGRAM) carry struct cs_dgram:
 * sent back as they came, they go back to their sender. On the kernel
 * backend the same program uses recvfrom/sendto. */
static int udp_echo(cs_endpoint_t *ep, int port)
{
	int fd = cs_listen(ep, SOCK_DGRAM, (uint16_t)port, 0);
	char buf[2048];
	struct sockaddr_storage from;
	socklen_t fl;
	int dom = 0;
	socklen_t dl = sizeof(dom);

	if (fd < 0)
		return fd;
	getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &dl);
	printf("listening\n");
	fflush(stdout);
	for (;;) {
		fl = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (n <= 0)
			return n == 0 ? 0 : -1;
		if (dom == AF_UNIX)
			send(fd, buf, (size_t)n, 0);
		else
			sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
	}
}

/* One datagram out on @fd (with @head first, if any) and its echo back. */
static int udp_once(int fd, const struct cs_dgram *head)
{
	char buf[2048], msg[64];
	size_t hl = head ? sizeof(*head) : 0;
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (head)
		memcpy(msg, head, hl);
	memcpy(msg + hl, "ping", 4);
	for (int i = 0; i < 5; i++) {
		if (send(fd, msg, hl + 4, 0) < 0)
			return -1;
		if (poll(&p, 1, 1000) == 1) {
			ssize_t n = recv(fd, buf, sizeof(buf), 0);
			return n == (ssize_t)(hl + 4) && !memcmp(buf + hl, "ping", 4) ? 0 : -1;
		}
	}
	return -1;
}

static int udp_client(cs_endpoint_t *ep, const char *mode, const char *peer, int port)
{
	struct cs_dgram h = { .port = htons((uint16_t)port) };
	int fd, r;

	if (!strcmp(mode, "udpask")) {
		fd = cs_connect(ep, SOCK_DGRAM, peer, (uint16_t)port);
		r = fd < 0 ? fd : udp_once(fd, NULL);
	} else {
		inet_pton(AF_INET, peer, &h.addr);
		fd = cs_socket(ep, AF_INET, SOCK_DGRAM, 0);
		r = fd < 0 ? fd : udp_once(fd, &h);
	}
	if (fd >= 0)
		close(fd);
	return r;
}

static int client(cs_endpoint_t *ep, int argc, char **argv)
{
	const char *mode = argv[1];
	if (!strncmp(mode, "udp", 3))
		return udp_client(ep, mode, argv[4], atoi(argv[5]));
	int fd = cs_connect(ep, SOCK_STREAM, argv[4], (uint16_t)atoi(argv[5]));
	char buf[64] = "";

	if (fd < 0)
		return fd;
	setvbuf(stdout, NULL, _IONBF, 0);
	if (!strcmp(mode, "ask")) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		return n > 0 && !strncmp(buf, "hello", 5) ? 0 : -1;
	}
	if (!strcmp(mode, "send") && argc > 6)
		return send_bulk(fd, atof(argv[6]));
	if (!strcmp(mode, "rtt") && argc > 6)
		return rtt(fd, atoi(argv[6]));
	if (!strcmp(mode, "hold")) {
		printf("held\n");
		while (read(fd, buf, sizeof(buf)) > 0)
			;
		printf("eof\n");
		return 0;
	}
	return -1;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int create(cs_t *cs, const char *vnet, int n, const char *prefix)
{
	double *ms = calloc((size_t)n, sizeof(*ms));
	char name[256];

	for (int i = 0; ms && i < n; i++) {
		snprintf(name, sizeof(name), "%s/%s%d", vnet, prefix, i);
		double t0 = now();
		if (cs_endpoint_create(cs, name, "{}") < 0) {
			free(ms);
			return -2;
		}
		ms[i] = (now() - t0) * 1e3;
	}
	if (!ms)
		return -1;
	qsort(ms, (size_t)n, sizeof(*ms), cmp_d);
	printf("%.3f\n", ms[n / 2]);
	free(ms);
	return 0;
}

int main(int argc, char **argv)
{
	cs_t *cs;
	cs_endpoint_t *ep;
	int r;

	if (argc < 5) {
		fprintf(stderr, "usage: see the comment atop uprobe.c\n");
		return 2;
	}
	if (cs_open(NULL, &cs) < 0 || cs_endpoint_open(cs, argv[2], argv[3], CS_EP_ATTACH, &ep) < 0) {
		fprintf(stderr, "uprobe: %s\n", cs ? cs_last_error(cs) : "no csd");
		return 1;
	}
	if (!strcmp(argv[1], "serve"))
		r = serve(ep, atoi(argv[4]), argc > 5 ? argv[5] : "hello");
	else if (!strcmp(argv[1], "create") && argc > 5)
		r = create(cs, argv[2], atoi(argv[4]), argv[5]);
	else if (!strcmp(argv[1], "udpecho"))
		r = udp_echo(ep, atoi(argv[4]));
	else
		r = argc > 5 ? client(ep, argc, argv) : -1;
	if (r < 0)
		fprintf(stderr, "uprobe %s: %s\n", argv[1], r < -1 || cs_last_error(cs)[0] ?
			cs_last_error(cs) : "the connection failed");
	cs_endpoint_close(ep);
	cs_close(cs);
	return r < 0;
}
