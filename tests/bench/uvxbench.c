/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * uvxbench MODE SIZE SECONDS: frames of SIZE bytes from one process to
 * another over 127.0.0.1 for SECONDS, batches of 32; prints
 * "frames_s N gbit G" as received (frames per second, Gbit/s of frames).
 *   MODE uvx:  uvx_send() -> uvx_recv() (VXLAN, peer check, learning)
 *   MODE bare: sendmmsg() -> recvmmsg() of the same datagrams (SIZE + 8),
 *              the ceiling of any user-space forwarder over this loopback
 * For tests/bench/run (the uvx section).
 */
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vnet/user/uvx.h"

#define BATCH 32
#define VNI 77

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Receive until nothing came for 300 ms after the first datagram; report
 * frames and the span from the first to the last. */
static void receive(int bare, struct uvx *u, int fd, size_t size, int out)
{
	static uint8_t bufs[BATCH][4096];
	struct uvx_frame f[BATCH];
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];
	double first = 0, last = 0;
	uint64_t n = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int r;

		if (poll(&p, 1, n ? 300 : 10000) != 1)
			break;
		if (bare) {
			for (int i = 0; i < BATCH; i++) {
				iov[i] = (struct iovec){ bufs[i], sizeof(bufs[i]) };
				m[i].msg_hdr = (struct msghdr){ .msg_iov = &iov[i], .msg_iovlen = 1 };
			}
			r = recvmmsg(fd, m, BATCH, MSG_DONTWAIT, NULL);
		} else {
			for (int i = 0; i < BATCH; i++)
				f[i] = (struct uvx_frame){ .buf = bufs[i], .cap = sizeof(bufs[i]) };
			r = uvx_recv(u, f, BATCH);
		}
		if (r <= 0)
			continue;
		if (!n)
			first = now_s();
		n += (uint64_t)r;
		last = now_s();
	}
	double span = last > first ? last - first : 1e-9;
	dprintf(out, "frames_s %.0f gbit %.3f\n", (double)n / span,
		(double)n * (double)size * 8 / span / 1e9);
}

static void send_for(int bare, struct uvx *u, int fd, const union uvx_sa *to, size_t size,
		     double secs)
{
	static uint8_t frame[4096];
	struct uvx_frame f[BATCH];
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];
	double end = now_s() + secs;

	memset(frame, 0xff, 6);		/* broadcast: flooded to the one peer */
	frame[6] = 2;
	uvx_hdr_put(frame + 2048, VNI);
	for (int i = 0; i < BATCH; i++) {
		f[i] = (struct uvx_frame){ .vni = VNI, .buf = frame, .len = size };
		iov[i] = (struct iovec){ frame + 2048, size + UVX_HDR };
		m[i].msg_hdr = (struct msghdr){ .msg_name = (void *)&to->sa,
						.msg_namelen = sizeof(to->in), .msg_iov = &iov[i],
						.msg_iovlen = 1 };
	}
	while (now_s() < end) {
		int r = bare ? sendmmsg(fd, m, BATCH, MSG_DONTWAIT) : uvx_send(u, f, BATCH);

		if (r < BATCH) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };
			poll(&p, 1, 10);
		}
	}
}

int main(int argc, char **argv)
{
	struct uvx *tx, *rx;
	union uvx_sa a_tx, a_rx;
	int pfd[2], bare;
	size_t size;
	char line[128];
	ssize_t n;

	if (argc != 4 || (strcmp(argv[1], "uvx") && strcmp(argv[1], "bare")))
		return fprintf(stderr, "usage: uvxbench uvx|bare SIZE SECONDS\n"), 2;
	bare = !strcmp(argv[1], "bare");
	size = strtoul(argv[2], NULL, 10);
	if (size < UVX_ETH_MIN || size > 2048 - UVX_HDR)
		return fprintf(stderr, "uvxbench: SIZE 14-2040\n"), 2;
	if (uvx_open("127.0.0.1:0", &tx) < 0 || uvx_open("127.0.0.1:0", &rx) < 0 ||
	    uvx_local(tx, &a_tx) < 0 || uvx_local(rx, &a_rx) < 0 || pipe(pfd) < 0)
		return perror("uvxbench"), 1;
	struct uvx_peer ptx = { .to = a_rx, .from_port = ntohs(a_rx.in.sin_port) };
	struct uvx_peer prx = { .to = a_tx, .from_port = ntohs(a_tx.in.sin_port) };
	int bufsz = 4 << 20;
	setsockopt(uvx_fd(rx), SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	if (uvx_set_peers(tx, VNI, &ptx, 1) < 0 || uvx_set_peers(rx, VNI, &prx, 1) < 0)
		return fprintf(stderr, "uvxbench: peers\n"), 1;
	pid_t pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		receive(bare, rx, uvx_fd(rx), size, pfd[1]);
		_exit(0);
	}
	close(pfd[1]);
	usleep(50000);
	send_for(bare, tx, uvx_fd(tx), &a_rx, size, atof(argv[3]));
	n = read(pfd[0], line, sizeof(line) - 1);
	waitpid(pid, NULL, 0);
	if (n <= 0)
		return fprintf(stderr, "uvxbench: the receiver said nothing\n"), 1;
	line[n] = '\0';
	fputs(line, stdout);
	uvx_free(tx);
	uvx_free(rx);
	return 0;
}
