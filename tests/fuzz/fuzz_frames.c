/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * api/proto.c reading from a real socket (cs_wire_read), with passed file
 * descriptors riding on arbitrary parts: what csd does for each datagram a
 * client sends. Input: records of one control byte and then as in
 * fuzz_wire.c a 16-bit length and its bytes; the control byte's low three
 * bits say how many fds (dups of /dev/null) ride on that datagram.
 * Invariants: a partial message never holds an fd (they come only with a
 * message's last part, the rest are closed at once); no fd leaks: after
 * each completed message its fds are closed, and at the end the process
 * has exactly the fds it had before.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cs/cs.h>
#include "proto.h"
#include "fuzz.h"

static int open_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

static void send_dgram(int fd, const uint8_t *d, size_t n, int nfds)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * 7)];
		struct cmsghdr align;
	} u;
	int fds[7];
	struct iovec iov = { (void *)d, n };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds) {
		for (int i = 0; i < nfds; i++)
			fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		cs_wire_attach_fds(&mh, u.b, fds, nfds);
	}
	sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
}

static void read_one(int fd, struct cs_wire_rx *rx)
{
	int r = cs_wire_read(fd, rx);

	if (r == 0 || r == -EAGAIN) {
		/* mid-message or nothing: no fd is held */
		FUZZ_CHECK(rx->nfds == 0);
		return;
	}
	if (r == 1)
		FUZZ_CHECK(rx->nfds <= CS_WIRE_MAX_FDS);
	cs_wire_rx_reset(rx);
	FUZZ_CHECK(rx->nfds == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2], before = open_fds();
	struct cs_wire_rx rx;
	size_t off = 0;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
		return 0;
	cs_wire_rx_init(&rx, 1u << 20);
	while (size - off >= 3) {
		int nfds = data[off] & 7;
		size_t l = (size_t)data[off + 1] | (size_t)(data[off + 2] & 0x0f) << 8;
		off += 3;
		if (l > size - off)
			l = size - off;
		send_dgram(sv[0], data + off, l, nfds);
		off += l;
		read_one(sv[1], &rx);
	}
	cs_wire_rx_reset(&rx);
	close(sv[0]);
	close(sv[1]);
	FUZZ_CHECK(open_fds() == before);
	return 0;
}
