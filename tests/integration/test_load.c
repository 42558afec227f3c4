/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Load: N concurrent well-behaved clients issue requests while hostile
 * clients run (slow readers that flood requests and never read, oversized
 * messages, malformed JSON, clients that half-close mid-message). Every
 * well-behaved client must be served, the hostile ones must not stall it,
 * csd must stay up and its memory bounded. Prints p50/p99 request latency
 * under load against the same measured idle.
 *   test_load CSD_BINARY [CLIENTS] [ROUNDS]
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"

static char dir[64], sock_path[128];
static pid_t csd_pid;

static void cleanup(void)
{
	char cmd[160];

	if (csd_pid > 0) {
		kill(csd_pid, SIGKILL);
		waitpid(csd_pid, NULL, 0);
	}
	if (dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cleanup of %s failed\n", dir);
	}
}

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int connect_csd(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	strcpy(sa.sun_path, sock_path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int send_raw(int fd, const char *msg)
{
	return cs_wire_send(fd, msg, strlen(msg), NULL, 0);
}

static long rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (!(f = fopen(path, "re")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			kb = atol(line + 6);
	fclose(f);
	return kb;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* One blocking client doing @n status requests; latencies into lat[]. */
static int serial_round(int n, double *lat)
{
	int fd = connect_csd();
	char *reply;
	size_t len;

	if (fd < 0 || send_raw(fd, "{\"id\":0,\"op\":\"hello\",\"args\":{\"version\":1}}") < 0 ||
	    cs_wire_recv(fd, 1 << 24, &reply, &len, NULL, NULL) < 0)
		return -1;
	free(reply);
	for (int i = 0; i < n; i++) {
		double t = now_us();
		if (send_raw(fd, "{\"id\":1,\"op\":\"status\"}") < 0 ||
		    cs_wire_recv(fd, 1 << 24, &reply, &len, NULL, NULL) < 0) {
			close(fd);
			return -1;
		}
		lat[i] = now_us() - t;
		free(reply);
	}
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	int nclients = argc > 2 ? atoi(argv[2]) : 1000;
	int rounds = argc > 3 ? atoi(argv[3]) : 5;
	int failures = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: test_load CSD [CLIENTS] [ROUNDS]\n");
		return 2;
	}
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < (rlim_t)nclients + 100) {
		printf("SKIP: RLIMIT_NOFILE %lu too low for %d clients\n", (unsigned long)rl.rlim_cur,
		       nclients);
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof(dir), "/tmp/cs-load.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	atexit(cleanup);
	snprintf(sock_path, sizeof(sock_path), "%s/csd.sock", dir);
	char state[128];
	snprintf(state, sizeof(state), "%s/state", dir);
	if ((csd_pid = fork()) == 0) {
		execl(argv[1], "csd", "-S", sock_path, "-D", state, "-p", "ld", "--backend",
		      "recording", "-l", "error", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		int fd = connect_csd();
		if (fd >= 0) {
			close(fd);
			break;
		}
		usleep(20000);
	}

	/* idle baseline */
	enum { SERIAL = 400 };
	double idle[SERIAL], busy[SERIAL];
	if (serial_round(SERIAL, idle) < 0) {
		printf("FAIL - csd does not answer\n");
		return 1;
	}
	long rss0 = rss_kb(csd_pid);

	/* hostile clients */
	int hostile[64], nh = 0;
	char *big = malloc(CS_WIRE_PART_MAX);
	memset(big, 'x', CS_WIRE_PART_MAX);
	for (int i = 0; i < 8; i++) { /* slow: flood requests, never read */
		int fd = connect_csd();
		if (fd < 0)
			continue;
		fcntl(fd, F_SETFL, O_NONBLOCK);
		send_raw(fd, "{\"id\":0,\"op\":\"hello\",\"args\":{\"version\":1}}");
		for (int k = 0; k < 20000; k++)
			if (cs_wire_send_part(fd, "{\"id\":2,\"op\":\"tenant.list\"}", 28, 0, NULL, 0) < 0)
				break;
		hostile[nh++] = fd;
	}
	for (int i = 0; i < 8; i++) { /* oversized: announce 1 GiB, send parts */
		int fd = connect_csd();
		if (fd < 0)
			continue;
		fcntl(fd, F_SETFL, O_NONBLOCK);
		for (int k = 0; k < 4; k++)
			cs_wire_send_part(fd, big, (size_t)1 << 30, (size_t)k, NULL, 0);
		hostile[nh++] = fd;
	}
	for (int i = 0; i < 8; i++) { /* malformed, then half-closed mid-message */
		int fd = connect_csd();
		if (fd < 0)
			continue;
		send_raw(fd, "{\"id\":1,\"op\":");
		send_raw(fd, "\x01\x02garbage");
		cs_wire_send_part(fd, big, 3 * CS_WIRE_PART_MAX, 0, NULL, 0);
		shutdown(fd, SHUT_WR);
		hostile[nh++] = fd;
	}

	/* N concurrent well-behaved clients, each: hello, then rounds x status */
	int ep = epoll_create1(0);
	int *fds = calloc(nclients, sizeof(int)), *left = calloc(nclients, sizeof(int));
	int connected = 0, done = 0;
	for (int i = 0; i < nclients; i++) {
		fds[i] = connect_csd();
		if (fds[i] < 0) {
			printf("FAIL - client %d could not connect: %s\n", i, strerror(errno));
			failures++;
			continue;
		}
		connected++;
		left[i] = rounds + 1;
		send_raw(fds[i], "{\"id\":0,\"op\":\"hello\",\"args\":{\"version\":1}}");
		struct epoll_event e = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
		epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &e);
	}
	double t0 = now_us();
	int served = 0;
	while (done < connected && now_us() - t0 < 60e6) {
		struct epoll_event ev[64];
		int n = epoll_wait(ep, ev, 64, 1000);
		for (int k = 0; k < n; k++) {
			int i = (int)ev[k].data.u32;
			char *reply;
			size_t len;
			if (cs_wire_recv(fds[i], 1 << 24, &reply, &len, NULL, NULL) < 0) {
				printf("FAIL - client %d lost its connection\n", i);
				failures++;
				epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], NULL);
				done++;
				continue;
			}
			if (!strstr(reply, "\"ok\":true")) {
				printf("FAIL - client %d got an error: %.200s\n", i, reply);
				failures++;
			}
			free(reply);
			served++;
			if (--left[i] == 0) {
				epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], NULL);
				done++;
			} else {
				send_raw(fds[i], "{\"id\":1,\"op\":\"status\"}");
			}
		}
		/* latency of one more client while the crowd runs */
		static bool measured;
		if (!measured && done > connected / 4) {
			measured = true;
			if (serial_round(SERIAL, busy) < 0) {
				printf("FAIL - a serial client was not served under load\n");
				failures++;
			}
		}
	}
	double secs = (now_us() - t0) / 1e6;
	if (done < connected) {
		printf("FAIL - only %d of %d clients finished within 60 s\n", done, connected);
		failures++;
	} else {
		printf("ok - %d concurrent clients served %d replies in %.2f s with %d hostile "
		       "clients\n", connected, served, secs, nh);
	}
	long rss1 = rss_kb(csd_pid);
	if (rss1 < 0 || kill(csd_pid, 0) < 0) {
		printf("FAIL - csd died under load\n");
		failures++;
	} else if (rss1 > 256 * 1024) {
		printf("FAIL - csd RSS grew to %ld kB (from %ld kB)\n", rss1, rss0);
		failures++;
	} else {
		printf("ok - csd alive, RSS %ld kB (idle %ld kB)\n", rss1, rss0);
	}
	qsort(idle, SERIAL, sizeof(double), cmp_d);
	qsort(busy, SERIAL, sizeof(double), cmp_d);
	printf("latency idle p50 %.1f us p99 %.1f us; under load p50 %.1f us p99 %.1f us\n",
	       idle[SERIAL / 2], idle[SERIAL * 99 / 100], busy[SERIAL / 2],
	       busy[SERIAL * 99 / 100]);
	for (int i = 0; i < nh; i++)
		close(hostile[i]);
	for (int i = 0; i < nclients; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	/* csd still serves after everyone left */
	if (serial_round(10, idle) < 0) {
		printf("FAIL - csd does not answer after the load\n");
		failures++;
	}
	free(big);
	free(fds);
	free(left);
	printf("%d passed, %d failed\n", failures ? 0 : 1, failures ? 1 : 0);
	return failures ? 1 : 0;
}
