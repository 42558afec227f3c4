/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Helpers of tests/bench/run. Each subcommand measures one repeat and prints
 * "key value" lines; the driver takes medians over repeats. Rates and
 * endpoint create/delete are means over the repeat's operations; latencies
 * (rtt, socket, udp-ping) are medians of single operations, cs and its
 * baseline alternating one by one.
 *
 *   csbench cp SOCK N L        control plane: N creates/deletes of tenants,
 *                              vnets, endpoints and L lists of each (ops/s)
 *   csbench rtt SOCK M         hello round trip vs a bare SOCK_SEQPACKET echo
 *                              of the same sizes to a thread (us)
 *   csbench epcreate SOCK VNET N   endpoint create/delete through libcs (ms)
 *   csbench socket SOCK T/V/E M    cs_socket() vs the floor: one SEQPACKET
 *                              round trip carrying an fd + setns, socket,
 *                              setns back in an echo thread (us)
 *   csbench udp-serve PORT     UDP echo (runs until killed)
 *   csbench udp-ping ADDR PORT COUNT   64-byte ping-pong, median RTT (us)
 *   csbench metrics SOCK ADDR PORT TOKENFILE S   GET /metrics: the time of a
 *                              scrape that builds a snapshot (the previous one
 *                              over a second old) and of one served cached
 *                              (ms); hello latency p50/p99/max for S seconds
 *                              idle, then S seconds with a thread scraping
 *                              ten times a second (us)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cs/cs.h>

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* median of @n samples (sorts them) */
static double median(double *v, int n)
{
	qsort(v, n, sizeof(double), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void die_cs(cs_t *cs, const char *what, int r)
{
	fprintf(stderr, "csbench: %s: %s (%s)\n", what, cs_strerror(r), cs ? cs_last_error(cs) : "");
	exit(1);
}

static cs_t *open_cs(const char *sock)
{
	cs_t *cs;
	int r = cs_open(sock, &cs);
	if (r < 0)
		die_cs(NULL, "cs_open", r);
	return cs;
}

/* ---- control plane ---------------------------------------------------- */

static int cmd_cp(const char *sock, int n, int l)
{
	cs_t *cs = open_cs(sock);
	char name[128], *out;
	double t;
	int r, i;

#define TIMED(label, count, body)                                                    \
	do {                                                                             \
		t = now_us();                                                            \
		for (i = 0; i < (count); i++) {                                          \
			body;                                                            \
			if (r < 0) {                                                     \
				snprintf(name, sizeof(name), "%s #%d", label, i);        \
				die_cs(cs, name, r);                                     \
			}                                                                \
		}                                                                        \
		printf("%s %.1f\n", label, (count) / ((now_us() - t) / 1e6));            \
	} while (0)

	TIMED("tenant_create", n,
	      (snprintf(name, sizeof(name), "bt%d", i), r = cs_tenant_create(cs, name, NULL)));
	TIMED("tenant_list", l, (r = cs_tenant_list(cs, &out), cs_free(out)));
	TIMED("vnet_create", n,
	      (snprintf(name, sizeof(name), "bt0/v%d", i),
	       r = cs_vnet_create(cs, name, i ? "{\"subnet\":\"10.1.0.0/24\"}"
					      : "{\"subnet\":\"10.0.0.0/16\"}")));
	TIMED("vnet_list", l, (r = cs_vnet_list(cs, "bt0", &out), cs_free(out)));
	TIMED("endpoint_create", n,
	      (snprintf(name, sizeof(name), "bt0/v0/e%d", i), r = cs_endpoint_create(cs, name, NULL)));
	TIMED("endpoint_list", l, (r = cs_endpoint_list(cs, "bt0/v0", &out), cs_free(out)));
	TIMED("endpoint_delete", n,
	      (snprintf(name, sizeof(name), "bt0/v0/e%d", i), r = cs_endpoint_delete(cs, name)));
	TIMED("vnet_delete", n,
	      (snprintf(name, sizeof(name), "bt0/v%d", i), r = cs_vnet_delete(cs, name)));
	TIMED("tenant_delete", n,
	      (snprintf(name, sizeof(name), "bt%d", i), r = cs_tenant_delete(cs, name)));
	cs_close(cs);
	return 0;
}

/* ---- hello vs bare SOCK_SEQPACKET echo -------------------------------- */

struct echo {
	int fd;
	size_t reply_len;
	int nsfd, selffd; /* for the socket floor; -1 for a plain echo */
};

static void *echo_thread(void *arg)
{
	struct echo *e = arg;
	char buf[65536], *reply = calloc(1, e->reply_len + 1);
	memset(reply, 'x', e->reply_len);
	for (;;) {
		ssize_t n = recv(e->fd, buf, sizeof(buf), 0);
		if (n <= 0)
			break;
		if (e->nsfd < 0) {
			if (send(e->fd, reply, e->reply_len, 0) < 0)
				break;
			continue;
		}
		/* the floor of cs_socket: enter, socket, come back, pass the fd */
		int s = -1;
		if (setns(e->nsfd, CLONE_NEWNET) == 0) {
			s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
			if (setns(e->selffd, CLONE_NEWNET) < 0)
				abort();
		}
		if (s < 0) {
			perror("csbench: floor: setns/socket");
			exit(1);
		}
		char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
		struct iovec iov = { reply, e->reply_len };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				     .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &s, sizeof(int));
		if (sendmsg(e->fd, &mh, 0) < 0)
			break;
		close(s);
	}
	free(reply);
	return NULL;
}

/* one request of @req_len bytes, one reply; returns the fd passed, if any */
static int echo_rt(int fd, const char *req, size_t req_len)
{
	char buf[65536], cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	int passed = -1;

	if (send(fd, req, req_len, 0) < 0 || recvmsg(fd, &mh, MSG_CMSG_CLOEXEC) <= 0) {
		perror("csbench: echo");
		exit(1);
	}
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(&passed, CMSG_DATA(c), sizeof(int));
	return passed;
}

static int start_echo(struct echo *e, pthread_t *th)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		perror("csbench: socketpair");
		exit(1);
	}
	e->fd = sv[1];
	pthread_create(th, NULL, echo_thread, e);
	return sv[0];
}

static void stop_echo(int fd, struct echo *e, pthread_t th)
{
	shutdown(fd, SHUT_RDWR);
	pthread_join(th, NULL);
	close(fd);
	close(e->fd);
}

/* sizes of the hello exchange as libcs sends it: 8-byte header + JSON */
#define HELLO_REQ "{\"id\":1,\"op\":\"hello\",\"args\":{\"version\":1}}"

static int cmd_rtt(const char *sock, int m)
{
	cs_t *cs = open_cs(sock);
	char *res = NULL;
	int r = cs_call(cs, "hello", "{\"version\":1}", &res);
	if (r < 0)
		die_cs(cs, "hello", r);
	size_t req_len = 8 + strlen(HELLO_REQ), reply_len = 8 + strlen(res) + 20;
	cs_free(res);

	struct echo e = { .reply_len = reply_len, .nsfd = -1, .selffd = -1 };
	pthread_t th;
	int fd = start_echo(&e, &th);
	char *req = calloc(1, req_len);
	memset(req, 'x', req_len);

	/* alternate one of each, so that both see the same machine; the median
	 * of each keeps preemptions by other load out of the figure */
	double *tcs = calloc(m, sizeof(double)), *tbase = calloc(m, sizeof(double));
	for (int i = 0; i < m; i++) {
		double t = now_us();
		if ((r = cs_call(cs, "hello", "{\"version\":1}", NULL)) < 0)
			die_cs(cs, "hello", r);
		tcs[i] = now_us() - t;
		t = now_us();
		echo_rt(fd, req, req_len);
		tbase[i] = now_us() - t;
	}
	printf("hello_us %.2f\necho_us %.2f\n", median(tcs, m), median(tbase, m));
	free(tcs);
	free(tbase);
	stop_echo(fd, &e, th);
	free(req);
	cs_close(cs);
	return 0;
}

/* ---- endpoint create through libcs ------------------------------------ */

static int cmd_epcreate(const char *sock, const char *vnet, int n)
{
	cs_t *cs = open_cs(sock);
	char name[256];
	double tc = 0, td = 0, t;
	int r;

	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s/c%d", vnet, i);
		t = now_us();
		if ((r = cs_endpoint_create(cs, name, NULL)) < 0)
			die_cs(cs, name, r);
		tc += now_us() - t;
	}
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s/c%d", vnet, i);
		t = now_us();
		if ((r = cs_endpoint_delete(cs, name)) < 0)
			die_cs(cs, name, r);
		td += now_us() - t;
	}
	printf("create_ms %.3f\ndelete_ms %.3f\n", tc / n / 1e3, td / n / 1e3);
	cs_close(cs);
	return 0;
}

/* ---- cs_socket vs its floor ------------------------------------------- */

static int cmd_socket(const char *sock, const char *epname, int m)
{
	cs_t *cs = open_cs(sock);
	char vnet[256];
	cs_endpoint_t *ep;
	int r;

	snprintf(vnet, sizeof(vnet), "%s", epname);
	char *slash = strrchr(vnet, '/');
	if (!slash) {
		fprintf(stderr, "csbench: endpoint name must be T/V/E\n");
		return 1;
	}
	*slash = '\0';
	if ((r = cs_endpoint_open(cs, vnet, slash + 1, CS_EP_ATTACH, &ep)) < 0)
		die_cs(cs, "cs_endpoint_open", r);
	int nsfd = cs_endpoint_netns(cs, epname);
	if (nsfd < 0)
		die_cs(cs, "cs_endpoint_netns", nsfd);

	/* the floor speaks the same sizes as endpoint.socket */
	char req[512];
	int req_len = snprintf(req, sizeof(req),
			       "12345678{\"id\":1,\"op\":\"endpoint.socket\",\"args\":{\"name\":\"%s\","
			       "\"domain\":2,\"type\":2,\"protocol\":0}}", epname);
	struct echo e = { .reply_len = 8 + strlen("{\"id\":1,\"ok\":true,\"result\":null}"),
			  .nsfd = nsfd, .selffd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC) };
	pthread_t th;
	int fd = start_echo(&e, &th);

	double *tcs = calloc(m, sizeof(double)), *tbase = calloc(m, sizeof(double));
	for (int i = 0; i < m; i++) {
		double t = now_us();
		int s = cs_socket(ep, AF_INET, SOCK_DGRAM, 0);
		if (s < 0)
			die_cs(cs, "cs_socket", s);
		close(s);
		tcs[i] = now_us() - t;
		t = now_us();
		s = echo_rt(fd, req, req_len);
		if (s < 0) {
			fprintf(stderr, "csbench: floor passed no fd\n");
			return 1;
		}
		close(s);
		tbase[i] = now_us() - t;
	}
	printf("socket_us %.2f\nfloor_us %.2f\n", median(tcs, m), median(tbase, m));
	free(tcs);
	free(tbase);
	stop_echo(fd, &e, th);
	cs_endpoint_close(ep);
	cs_close(cs);
	return 0;
}

/* ---- UDP ping-pong ----------------------------------------------------- */

static int cmd_udp_serve(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("csbench: udp-serve");
		return 1;
	}
	char buf[2048];
	for (;;) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (n > 0)
			sendto(fd, buf, n, 0, (struct sockaddr *)&from, fl);
	}
}


static int cmd_udp_ping(const char *addr, int port, int count)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || inet_pton(AF_INET, addr, &sa.sin_addr) != 1 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("csbench: udp-ping");
		return 1;
	}
	char buf[64] = { 0 }, in[2048];
	double *rtt = calloc(count, sizeof(double));
	int warm = 50, got = 0, lost = 0;
	for (int i = -warm; i < count; i++) {
		memcpy(buf, &i, sizeof(i));
		double t = now_us();
		if (send(fd, buf, sizeof(buf), 0) < 0) {
			perror("csbench: send");
			return 1;
		}
		for (;;) {
			struct pollfd p = { fd, POLLIN, 0 };
			if (poll(&p, 1, 1000) <= 0) {
				lost++;
				break;
			}
			ssize_t n = recv(fd, in, sizeof(in), 0);
			int seq;
			if (n < (ssize_t)sizeof(int))
				continue;
			memcpy(&seq, in, sizeof(seq));
			if (seq != i)
				continue; /* a late reply to a lost one */
			if (i >= 0)
				rtt[got++] = now_us() - t;
			break;
		}
		if (lost > 10) {
			fprintf(stderr, "csbench: udp-ping: no replies from %s:%d\n", addr, port);
			return 1;
		}
	}
	qsort(rtt, got, sizeof(double), cmp_double);
	printf("rtt_us %.2f\n", rtt[got / 2]);
	return 0;
}

/* ---- metrics: scrape time, request latency while scraped -------------- */

struct scraper {
	struct sockaddr_in sa;
	char req[4400];
	volatile int stop;
	long scrapes;
};

/* One GET /metrics (HTTP/1.0: the server closes when done); bytes of the
 * body, or -1 when the answer is not a 200. */
static long scrape_once(struct scraper *sc)
{
	static __thread char buf[1 << 16];
	long total = 0, hdr = -1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ssize_t n;

	if (fd < 0 || connect(fd, (struct sockaddr *)&sc->sa, sizeof(sc->sa)) < 0 ||
	    send(fd, sc->req, strlen(sc->req), MSG_NOSIGNAL) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	int ok = 0;
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
		if (!total)
			ok = !strncmp(buf, "HTTP/1.0 200", 12) || !strncmp(buf, "HTTP/1.1 200", 12);
		if (hdr < 0) {
			char *e = memmem(buf, (size_t)n, "\r\n\r\n", 4);
			if (e)
				hdr = total + (e + 4 - buf);
		}
		total += n;
	}
	close(fd);
	return ok && hdr >= 0 ? total - hdr : -1;
}

static void *scrape_loop(void *arg)
{
	struct scraper *sc = arg;

	/* ten a second: 150 times Prometheus' default, and each second one
	 * of them finds the snapshot old and has the loop build another */
	while (!sc->stop) {
		if (scrape_once(sc) >= 0)
			sc->scrapes++;
		usleep(100 * 1000);
	}
	return NULL;
}

/* hello round trips for @secs seconds: p50, p99 and max (us) */
static void hello_for(cs_t *cs, double secs, const char *label)
{
	size_t cap = 1 << 20, n = 0;
	double *v = malloc(cap * sizeof(double)), end = now_us() + secs * 1e6, t;
	int r;

	while ((t = now_us()) < end && n < cap) {
		if ((r = cs_call(cs, "hello", "{\"version\":1}", NULL)) < 0)
			die_cs(cs, "hello", r);
		v[n++] = now_us() - t;
	}
	qsort(v, n, sizeof(double), cmp_double);
	printf("%s_p50_us %.1f\n%s_p99_us %.1f\n%s_max_us %.1f\n", label, v[n / 2], label,
	       v[(size_t)(n * 0.99)], label, v[n - 1]);
	free(v);
}

static int cmd_metrics(const char *sock, const char *addr, int port, const char *tokfile,
		       double secs)
{
	struct scraper sc = { .sa = { .sin_family = AF_INET, .sin_port = htons(port) } };
	char tok[4200] = "";
	FILE *f = fopen(tokfile, "r");
	double cold[5], warm[5], t;
	long bytes = 0;

	if (!f || !fgets(tok, sizeof(tok), f) || inet_pton(AF_INET, addr, &sc.sa.sin_addr) != 1) {
		fprintf(stderr, "csbench: metrics: cannot read %s or parse %s\n", tokfile, addr);
		return 1;
	}
	fclose(f);
	tok[strcspn(tok, "\r\n")] = '\0';
	snprintf(sc.req, sizeof(sc.req), "GET /metrics HTTP/1.0\r\nAuthorization: Bearer %s\r\n\r\n",
		 tok);
	for (int i = 0; i < 5; i++) {
		usleep(1100 * 1000); /* older than a second: this scrape builds one */
		t = now_us();
		bytes = scrape_once(&sc);
		cold[i] = (now_us() - t) / 1e3;
		t = now_us();
		long b2 = scrape_once(&sc);
		warm[i] = (now_us() - t) / 1e3;
		if (bytes < 0 || b2 < 0) {
			fprintf(stderr, "csbench: metrics: a scrape was not answered 200\n");
			return 1;
		}
	}
	printf("scrape_ms %.2f\nscrape_cached_ms %.2f\nscrape_kb %.1f\n", median(cold, 5),
	       median(warm, 5), bytes / 1024.0);
	cs_t *cs = open_cs(sock);
	if (secs <= 0) {
		cs_close(cs);
		return 0;
	}
	hello_for(cs, secs, "idle");
	pthread_t th;
	pthread_create(&th, NULL, scrape_loop, &sc);
	hello_for(cs, secs, "scraped");
	sc.stop = 1;
	pthread_join(th, NULL);
	printf("scrapes_per_s %.1f\n", sc.scrapes / secs);
	cs_close(cs);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 5 && !strcmp(argv[1], "cp"))
		return cmd_cp(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (argc >= 4 && !strcmp(argv[1], "rtt"))
		return cmd_rtt(argv[2], atoi(argv[3]));
	if (argc >= 5 && !strcmp(argv[1], "epcreate"))
		return cmd_epcreate(argv[2], argv[3], atoi(argv[4]));
	if (argc >= 5 && !strcmp(argv[1], "socket"))
		return cmd_socket(argv[2], argv[3], atoi(argv[4]));
	if (argc >= 3 && !strcmp(argv[1], "udp-serve"))
		return cmd_udp_serve(atoi(argv[2]));
	if (argc >= 5 && !strcmp(argv[1], "udp-ping"))
		return cmd_udp_ping(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (argc >= 7 && !strcmp(argv[1], "metrics"))
		return cmd_metrics(argv[2], argv[3], atoi(argv[4]), argv[5], atof(argv[6]));
	fprintf(stderr, "usage: csbench cp SOCK N L | rtt SOCK M | epcreate SOCK VNET N | "
			"socket SOCK T/V/E M | udp-serve PORT | udp-ping ADDR PORT COUNT | "
			"metrics SOCK ADDR PORT TOKENFILE SECONDS\n");
	return 2;
}
