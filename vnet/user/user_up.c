/* SPDX-License-Identifier: GPL-2.0-or-later */
/* csd's VXLAN socket and receiving thread for the user backend (user_up.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cs/cs.h"
#include "user_up.h"

#define FRAME_CAP 16384

struct link {
	uint32_t vni;
	int fd;                 /* csd's end of the uplink */
	uint64_t sum;           /* of the peers it was made with */
	struct link *next;
};

struct uup {
	pthread_mutex_t lock;   /* the handle (uvx is not thread-safe) and links */
	struct uvx *ux;
	struct link *links;
	pthread_t thread;
	bool running;
	int wake;               /* eventfd: the thread stops */
	uint8_t *bufs;
	uint64_t dropped;       /* frames a stack's uplink did not take */
};

int uup_new(struct uup **out)
{
	struct uup *u = calloc(1, sizeof(*u));

	if (!u || (u->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		free(u);
		return CS_ENOMEM;
	}
	pthread_mutex_init(&u->lock, NULL);
	*out = u;
	return 0;
}

void uup_free(struct uup *u)
{
	if (!u)
		return;
	if (u->running) {
		uint64_t one = 1;
		/* fails only when the counter is full: the thread is woken then too */
		(void)!write(u->wake, &one, sizeof(one));
		pthread_join(u->thread, NULL);
	}
	while (u->links) {
		struct link *l = u->links;
		u->links = l->next;
		close(l->fd);
		free(l);
	}
	uvx_free(u->ux);
	close(u->wake);
	free(u->bufs);
	pthread_mutex_destroy(&u->lock);
	free(u);
}

static int addr_to_sa(const struct cs_addr *a, uint16_t port, union uvx_sa *out)
{
	memset(out, 0, sizeof(*out));
	if (a->family == AF_INET) {
		out->in.sin_family = AF_INET;
		memcpy(&out->in.sin_addr, a->a, 4);
		out->in.sin_port = htons(port);
	} else if (a->family == AF_INET6) {
		out->in6.sin6_family = AF_INET6;
		memcpy(&out->in6.sin6_addr, a->a, 16);
		out->in6.sin6_port = htons(port);
	} else {
		return CS_EINVAL;
	}
	return 0;
}

int uup_peers(const struct vnet_spec *v, struct uvx_peer **out, size_t *n)
{
	struct uvx_peer *p = calloc(v->npeers ? v->npeers : 1, sizeof(*p));

	*out = NULL;
	*n = 0;
	if (!p)
		return CS_ENOMEM;
	for (size_t i = 0; i < v->npeers; i++) {
		uint16_t port = v->peer_ports && v->peer_ports[i] ? v->peer_ports[i]
				: CS_VXLAN_PORT;
		if (addr_to_sa(&v->peers[i], port, &p[i].to) < 0) {
			free(p);
			return CS_EINVAL;
		}
		p[i].from_port = v->peer_from_port && v->peer_from_port[i] ? port : 0;
	}
	*out = p;
	*n = v->npeers;
	return 0;
}

/* Every frame of a batch to the uplink of its VNI (lock held). A stack
 * that does not keep up loses frames, as a full link would. */
static void dispatch(struct uup *u, const struct uvx_frame *f, int n)
{
	for (int i = 0; i < n; i++) {
		struct link *l = u->links;
		while (l && l->vni != f[i].vni)
			l = l->next;
		if (!l || send(l->fd, f[i].buf, f[i].len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
			u->dropped++;
	}
}

static void *rx_thread(void *arg)
{
	struct uup *u = arg;
	struct uvx_frame f[UVX_BATCH];
	struct pollfd pf[2] = { { .fd = uvx_fd(u->ux), .events = POLLIN },
				{ .fd = u->wake, .events = POLLIN } };

	for (;;) {
		if (poll(pf, 2, -1) < 0 && errno != EINTR)
			break;
		if (pf[1].revents)
			break;
		pthread_mutex_lock(&u->lock);
		for (int i = 0; i < UVX_BATCH; i++)
			f[i] = (struct uvx_frame){ .buf = u->bufs + (size_t)i * FRAME_CAP,
						   .cap = FRAME_CAP };
		int n = uvx_recv(u->ux, f, UVX_BATCH);
		if (n > 0)
			dispatch(u, f, n);
		pthread_mutex_unlock(&u->lock);
	}
	return NULL;
}

int uup_bind(struct uup *u, const struct vnet_spec *v)
{
	union uvx_sa sa;
	char host[INET6_ADDRSTRLEN], addr[INET6_ADDRSTRLEN + 10];
	int r = 0, e;

	pthread_mutex_lock(&u->lock);
	if (u->ux)
		goto out;
	r = CS_EINVAL;
	if (!v->local || addr_to_sa(v->local, v->local_port ? v->local_port : CS_VXLAN_PORT,
				    &sa) < 0)
		goto out;
	inet_ntop(v->local->family, v->local->a, host, sizeof(host));
	snprintf(addr, sizeof(addr), v->local->family == AF_INET6 ? "[%s]:%u" : "%s:%u", host,
		 v->local_port ? v->local_port : CS_VXLAN_PORT);
	r = CS_ENOMEM;
	if (!u->bufs && !(u->bufs = malloc((size_t)UVX_BATCH * FRAME_CAP)))
		goto out;
	if ((r = uvx_open(addr, &u->ux)) < 0)
		goto out;
	/* a node's vnets share it: room for bursts of all of them */
	setsockopt(uvx_fd(u->ux), SOL_SOCKET, SO_RCVBUF, &(int){ 4 << 20 }, sizeof(int));
	if (pthread_create(&u->thread, NULL, rx_thread, u) != 0) {
		uvx_free(u->ux);
		u->ux = NULL;
		r = CS_ENOMEM;
		goto out;
	}
	u->running = true;
	r = 0;
out:
	e = errno;
	pthread_mutex_unlock(&u->lock);
	errno = e;
	return r;
}

static uint64_t peers_sum(const struct uvx_peer *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	const uint8_t *b = (const uint8_t *)p;

	for (size_t i = 0; i < n * sizeof(*p); i++)
		h = (h ^ b[i]) * 1099511628211ULL;
	return h;
}

static struct link **link_at(struct uup *u, uint32_t vni)
{
	struct link **pp = &u->links;

	while (*pp && (*pp)->vni != vni)
		pp = &(*pp)->next;
	return pp;
}

bool uup_current(struct uup *u, uint32_t vni, const struct uvx_peer *peers, size_t n)
{
	pthread_mutex_lock(&u->lock);
	struct link *l = *link_at(u, vni);
	struct pollfd pf = { .fd = l ? l->fd : -1, .events = POLLOUT };
	/* the stack's end closed (it was started again): make another */
	bool up = l && l->sum == peers_sum(peers, n) && poll(&pf, 1, 0) >= 0 &&
		  !(pf.revents & (POLLHUP | POLLERR));
	pthread_mutex_unlock(&u->lock);
	return up;
}

int uup_attach(struct uup *u, uint32_t vni, const struct uvx_peer *peers, size_t n,
	       int *stack_end, int *sock)
{
	int sv[2], r;

	*stack_end = *sock = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
		return CS_EIO;
	/* frames wait here while the stack is busy, as in a NIC's ring */
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &(int){ 1 << 20 }, sizeof(int));
	struct link *nl = calloc(1, sizeof(*nl));
	pthread_mutex_lock(&u->lock);
	struct link **pp = link_at(u, vni), *l = *pp;
	r = !u->ux ? CS_EINVAL : !l && !nl ? CS_ENOMEM : uvx_set_peers(u->ux, vni, peers, n);
	if (r == 0 && (*sock = fcntl(uvx_fd(u->ux), F_DUPFD_CLOEXEC, 3)) < 0)
		r = CS_EIO;
	if (r < 0) {
		close(sv[0]);
		close(sv[1]);
	} else {
		if (!l) {
			l = *pp = nl;
			nl = NULL;
		} else {
			close(l->fd);
		}
		l->vni = vni;
		l->fd = sv[0];
		l->sum = peers_sum(peers, n);
		*stack_end = sv[1];
	}
	pthread_mutex_unlock(&u->lock);
	free(nl);
	return r;
}

void uup_detach(struct uup *u, uint32_t vni)
{
	pthread_mutex_lock(&u->lock);
	struct link **pp = link_at(u, vni), *l = *pp;
	if (l) {
		*pp = l->next;
		close(l->fd);
		free(l);
	}
	if (u->ux)
		uvx_set_peers(u->ux, vni, NULL, 0);
	pthread_mutex_unlock(&u->lock);
}
