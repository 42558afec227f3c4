/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cs-stack SOCKET TENANT/VNET: the stack process of one vnet on one node
 * (stack.h). csd starts it, talks to it over SOCKET and finds it again
 * after a restart by connecting there; it exits when csd says US_QUIT.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cs/cs.h"
#include "lwip/tcpip.h"
#include "stack.h"
#include "uvx.h"

#define REQ_MAX (sizeof(struct us_req) + US_RULES_MAX * sizeof(struct us_rule))
#define EV_LISTEN 2

static const char *vnet_name = "?";
static volatile int tcpip_ready;
static bool quitting;

static void tcpip_up(void *arg)
{
	tcpip_ready = 1;
}

static void core_lock(void)
{
	LOCK_TCPIP_CORE();
	g_main_holds = true;
}

/* what the main thread's work sent goes in before the lock goes */
static void core_unlock(void)
{
	sw_drain();
	up_flush();
	g_main_holds = false;
	UNLOCK_TCPIP_CORE();
}

static void rep_counters(const struct sport *s, struct us_rep *rep)
{
	rep->rx_bytes = s->rx_bytes;
	rep->tx_bytes = s->tx_bytes;
	rep->rx_packets = s->rx_packets;
	rep->tx_packets = s->tx_packets;
	rep->rx_dropped = s->rx_dropped;
	rep->tx_dropped = s->tx_dropped;
	rep->denied = s->denied;
	rep->arg = s->dflt != US_FW_NONE;
}

static void rep_list(struct us_rep *rep)
{
	size_t n = 0;

	for (struct sport *s = g_ports; s; s = s->next) {
		int w = snprintf(rep->text + n, sizeof(rep->text) - n, "%s\n", s->name);
		if (w < 0 || (size_t)w >= sizeof(rep->text) - n) {
			rep->code = CS_ETOOBIG;
			return;
		}
		n += (size_t)w;
	}
}

/* One request, under the core lock; takes @fd. */
static void handle(const struct us_req *q, size_t len, int fd, struct us_rep *rep)
{
	bool portless = q->op == US_HELLO || q->op == US_LIST || q->op == US_QUIT ||
			q->op == US_UNDERLAY || q->op == US_UPLINK;
	struct sport *s = portless ? NULL : sw_port_find(q->ep);
	bool needs_port = !portless && q->op != US_EP_ADD && q->op != US_EP_DEL;

	if (needs_port && !s) {
		rep->code = CS_ENOENT;
		snprintf(rep->text, sizeof(rep->text), "endpoint %s is not in the stack of %s",
			 q->ep, vnet_name);
		goto out;
	}
	switch (q->op) {
	case US_HELLO: rep->arg = US_VERSION; break;
	case US_LIST: rep_list(rep); break;
	case US_QUIT: quitting = true; break;
	case US_EP_ADD: rep->code = sw_port_add(q, rep->text, sizeof(rep->text)); break;
	case US_EP_DEL: if (s) sw_port_del(s); break;
	case US_EP_STATS: rep_counters(s, rep); break;
	case US_EP_QOS: sw_port_qos(s, q->rate, q->burst); break;
	case US_EP_FW:
		if (q->nrules > US_RULES_MAX ||
		    len != sizeof(*q) + q->nrules * sizeof(struct us_rule)) {
			rep->code = CS_EPROTO;
			break;
		}
		sw_port_fw(s, q->dflt, (const struct us_rule *)(q + 1), q->nrules);
		break;
	case US_UNDERLAY:
		if (q->nrules > US_PEERS_MAX ||
		    len != sizeof(*q) + q->nrules * sizeof(struct uvx_peer)) {
			rep->code = CS_EPROTO;
			break;
		}
		rep->code = up_underlay(fd, (uint32_t)q->arg, (const struct uvx_peer *)(q + 1),
					q->nrules);
		fd = -1;
		break;
	case US_UPLINK:
		rep->code = fd < 0 ? CS_EPROTO : up_uplink(fd);
		fd = -1;
		break;
	case US_CHAN:
		if (fd < 0) {
			rep->code = CS_EPROTO;
			break;
		}
		rep->code = chan_open(s, q, fd);
		fd = -1;
		break;
	default: rep->code = CS_ENOTSUP; break;
	}
out:
	if (fd >= 0)
		close(fd);
}

static ssize_t recv_req(int cfd, void *buf, int *fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { buf, REQ_MAX };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	ssize_t n = recvmsg(cfd, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);

	*fd = -1;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); n >= 0 && cm; cm = CMSG_NXTHDR(&m, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(fd, CMSG_DATA(cm), sizeof(int));
	return n;
}

/* A message from csd; false when the connection is done. */
static bool control_event(int cfd)
{
	static uint8_t buf[REQ_MAX];
	static struct us_rep rep;
	int fd;
	ssize_t n = recv_req(cfd, buf, &fd);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (n < (ssize_t)sizeof(struct us_req)) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	memset(&rep, 0, sizeof(rep));
	((struct us_req *)buf)->ep[US_NAME_MAX - 1] = '\0';
	core_lock();
	handle((struct us_req *)buf, (size_t)n, fd, &rep);
	core_unlock();
	send(cfd, &rep, sizeof(rep) - sizeof(rep.text) + strlen(rep.text) + 1, MSG_NOSIGNAL);
	return true;
}

/* csd, as the user it runs as (root's csd also holds root): the socket's
 * mode says so already; a peer of another uid is refused all the same. */
static void control_accept(int lfd)
{
	int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (c < 0)
		return;
	if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 ||
	    (cr.uid != geteuid() && cr.uid != 0)) {
		close(c);
		return;
	}
	struct epoll_event e = { .events = EPOLLIN, .data.u64 = (uint64_t)c << 2 };
	epoll_ctl(g_epfd, EPOLL_CTL_ADD, c, &e);
}

/* Every channel is a descriptor: as many as the hard limit allows. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int listen_on(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	strcpy(sa.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
		return -1;
	unlink(path);
	umask(077);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void loop(int lfd)
{
	struct epoll_event ev[64];

	while (!quitting) {
		int n = epoll_wait(g_epfd, ev, 64, -1);
		for (int i = 0; i < n; i++) {
			uint64_t tag = ev[i].data.u64;
			if (tag == EV_LISTEN)
				control_accept(lfd);
			else if ((tag & 3) == 2) {
				core_lock();
				bool open = up_input((int)(tag >> 2));
				core_unlock();
				if (!open)
					up_close((int)(tag >> 2));
			}
			else if (tag & 1) {
				core_lock();
				chan_event((struct chan *)(uintptr_t)(tag & ~1ULL), ev[i].events);
				core_unlock();
			} else if (!control_event((int)(tag >> 2))) {
				epoll_ctl(g_epfd, EPOLL_CTL_DEL, (int)(tag >> 2), NULL);
				close((int)(tag >> 2));
			}
		}
	}
}

int main(int argc, char **argv)
{
	int lfd;

	if (argc != 3) {
		fprintf(stderr, "usage: cs-stack SOCKET TENANT/VNET (started by csd)\n");
		return 2;
	}
	vnet_name = argv[2];
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	if ((g_epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 || (lfd = listen_on(argv[1])) < 0) {
		fprintf(stderr, "cs-stack %s: cannot listen on %s: %s\n", vnet_name, argv[1],
			strerror(errno));
		return 1;
	}
	tcpip_init(tcpip_up, NULL);
	while (!tcpip_ready)
		usleep(1000);
	struct epoll_event e = { .events = EPOLLIN, .data.u64 = EV_LISTEN };
	epoll_ctl(g_epfd, EPOLL_CTL_ADD, lfd, &e);
	fprintf(stderr, "cs-stack %s: serving %s\n", vnet_name, argv[1]);
	loop(lfd);
	unlink(argv[1]);
	fprintf(stderr, "cs-stack %s: stopped by csd\n", vnet_name);
	return 0;
}
