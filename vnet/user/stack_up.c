/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The stack's way across nodes (csd(8) BACKENDS, user across nodes). csd
 * owns the node's one VXLAN socket and receives on it (one port per node,
 * one stack per vnet): it hands this stack the frames of its VNI over an
 * uplink (a SOCK_SEQPACKET socketpair, US_UPLINK), one frame a message. The
 * stack sends by itself through its own dup of that socket (US_UNDERLAY),
 * with the vnet's peers: no extra hop on send. It only sends there, so it
 * learns nothing and floods unknown unicast to the vnet's peers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cs/cs.h"
#include "stack.h"
#include "uvx.h"

static struct uvx *ux;
static uint32_t ux_vni;
static int up_fd = -1;

/* Frames the main thread's work sends wait here until it lets go of the
 * core lock (up_flush), so that a burst of TCP segments costs one
 * sendmmsg(2) rather than one sendto(2) each; larger frames go alone. */
#define SLOT 2048
static uint8_t pend_buf[UVX_BATCH][SLOT];
static struct uvx_frame pend[UVX_BATCH];
static size_t npend;

void up_flush(void)
{
	if (ux && npend)
		uvx_send(ux, pend, npend);
	npend = 0;
}

static int up_tx(void *ctx, const uint8_t *frame, size_t len)
{
	struct uvx_frame f = { .vni = ux_vni, .buf = (void *)frame, .len = len };

	if (!ux)
		return 0;
	if (len < UVX_ETH_MIN) /* refused alone, as uvx_send would */
		return CS_EINVAL;
	/* the tcpip thread's frames (timers, retransmits) go at once, in order */
	if (!g_main_holds || len > SLOT) {
		up_flush();
		return uvx_send(ux, &f, 1);
	}
	memcpy(pend_buf[npend], frame, len);
	pend[npend] = (struct uvx_frame){ .vni = ux_vni, .buf = pend_buf[npend], .len = len };
	if (++npend == UVX_BATCH)
		up_flush();
	return 0;
}

/* Under the core lock; takes @fd (the vnet's socket, or -1: forget it). */
int up_underlay(int fd, uint32_t vni, const struct uvx_peer *peers, size_t n)
{
	struct uvx *nu = NULL;
	int r;

	if (fd >= 0 && (r = uvx_adopt(fd, 0, &nu)) < 0) {
		close(fd);
		return r;
	}
	if (nu && (r = uvx_set_peers(nu, vni, peers, n)) < 0) {
		uvx_free(nu);
		return r;
	}
	up_flush();
	uvx_free(ux);
	ux = nu;
	ux_vni = vni;
	sw_set_uplink(&(struct sw_uplink){ .tx = nu ? up_tx : NULL });
	return 0;
}

/* Takes @fd, the uplink from csd (a new one replaces the old). */
int up_uplink(int fd)
{
	struct epoll_event e = { .events = EPOLLIN, .data.u64 = ((uint64_t)fd << 2) | 2 };

	if (up_fd >= 0) {
		epoll_ctl(g_epfd, EPOLL_CTL_DEL, up_fd, NULL);
		close(up_fd);
	}
	up_fd = fd;
	return epoll_ctl(g_epfd, EPOLL_CTL_ADD, fd, &e) < 0 ? CS_EIO : 0;
}

/* Frames from the uplink, under the core lock; false when csd closed it. */
bool up_input(int fd)
{
	static uint8_t buf[65536];

	for (int i = 0; i < 64; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR;
		if (n == 0)
			return false;
		sw_uplink_input(buf, (size_t)n);
	}
	return true;
}

void up_close(int fd)
{
	epoll_ctl(g_epfd, EPOLL_CTL_DEL, fd, NULL);
	close(fd);
	if (fd == up_fd)
		up_fd = -1;
}
