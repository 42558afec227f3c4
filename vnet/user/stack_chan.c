/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Channels: a program's end of a unix socketpair on one side, an lwIP pcb
 * bound to the endpoint's netif on the other. Bytes move only as far as
 * the other side takes them: what lwIP received is acknowledged to the
 * peer (tcp_recved) only once written into the channel, and the channel is
 * read only while the pcb has send buffer, so a slow reader closes its own
 * TCP window and a slow peer stops its own writer; nothing else waits.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "chan.h"
#include "cs/cs.h"
#include "lwip/tcp.h"
#include "lwip/tcpip.h"
#include "lwip/timeouts.h"
#include "lwip/udp.h"
#include "stack.h"

#define CONNECT_TIMEOUT_MS 15000
#define CHAN_BUF (65536 + 64)

struct chan {
	int fd;
	uint8_t kind;
	struct sport *port;
	struct tcp_pcb *pcb;
	struct udp_pcb *upcb;
	struct pbuf *pend;      /* received, not yet in the channel */
	uint32_t ev;            /* epoll events asked for */
	bool connecting, fin_in, eof_out, timer;
	bool unconnected;       /* datagrams carry struct cs_dgram */
	bool dirty;             /* on the dirty list: received, to be written */
	struct chan *next, *dirty_next;
};

int g_epfd = -1;
static struct chan *chans;
/* channels lwIP gave bytes to during one drain of the switch: written once
 * the drain is done, one write (and one wake-up of the program) for all
 * the segments that came together */
static struct chan *dirty;
static uint8_t iobuf[CHAN_BUF];

/*
 * What epoll watches on the channel. Nothing: it leaves epoll, as a hang-up
 * would be reported even then (a program that closed while its bytes wait
 * for send buffer must not spin the loop).
 */
static void chan_arm(struct chan *c, uint32_t ev)
{
	if (ev == c->ev)
		return;
	struct epoll_event e = { .events = ev, .data.u64 = EV_CHAN(c) };
	epoll_ctl(g_epfd, !ev ? EPOLL_CTL_DEL : !c->ev ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c->fd, &e);
	c->ev = ev;
}

static void status_fill(struct cs_chan_status *st, int code, const ip_addr_t *a, uint16_t port,
			const char *why)
{
	memset(st, 0, sizeof(*st));
	st->code = code;
	if (a) {
		st->family = AF_INET;
		st->port = lwip_htons(port);
		memcpy(st->addr, &ip_2_ip4(a)->addr, 4);
	}
	if (why)
		snprintf(st->why, sizeof(st->why), "%s", why);
}

static void status_send(struct chan *c, int code, const ip_addr_t *a, uint16_t port,
			const char *why)
{
	struct cs_chan_status st;

	status_fill(&st, code, a, port, why);
	/* a fresh channel has room for it */
	if (send(c->fd, &st, sizeof(st), MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		c->eof_out = true;
}

static void connect_timeout(void *arg);

static void chan_free(struct chan *c)
{
	c->port->nchans--;
	for (struct chan **pp = &dirty; c->dirty && *pp; pp = &(*pp)->dirty_next)
		if (*pp == c) {
			*pp = c->dirty_next;
			break;
		}
	for (struct chan **pp = &chans; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	if (c->timer)
		sys_untimeout(connect_timeout, c);
	if (c->pcb) {
		tcp_arg(c->pcb, NULL);
		tcp_recv(c->pcb, NULL);
		tcp_sent(c->pcb, NULL);
		tcp_err(c->pcb, NULL);
		if (c->pcb->state == LISTEN)
			tcp_accept(c->pcb, NULL);
		if (tcp_close(c->pcb) != ERR_OK)
			tcp_abort(c->pcb);
	}
	if (c->upcb)
		udp_remove(c->upcb);
	if (c->pend)
		pbuf_free(c->pend);
	chan_arm(c, 0);
	close(c->fd);
	free(c);
}

static void chan_reset(struct chan *c)
{
	if (c->pcb && c->pcb->state != LISTEN) {
		struct tcp_pcb *pcb = c->pcb;
		tcp_arg(pcb, NULL);
		tcp_err(pcb, NULL);
		c->pcb = NULL;
		tcp_abort(pcb);
	}
	chan_free(c);
}

/* Both directions done: the connection closes gracefully. */
static void chan_maybe_done(struct chan *c)
{
	if (c->fin_in && !c->pend && c->eof_out)
		chan_free(c);
}

/* Write what lwIP received into the channel, as far as it takes it. */
static void chan_flush_out(struct chan *c)
{
	while (c->pend) {
		struct iovec iov[64];
		int n = 0;
		for (struct pbuf *q = c->pend; q && n < 64; q = q->next, n++)
			iov[n] = (struct iovec){ q->payload, q->len };
		ssize_t w = writev(c->fd, iov, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			chan_arm(c, c->ev | EPOLLOUT);
			return;
		}
		if (w < 0) {
			chan_reset(c);
			return;
		}
		if (c->pcb)
			tcp_recved(c->pcb, (u16_t)w);
		c->pend = pbuf_free_header(c->pend, (u16_t)w);
	}
	chan_arm(c, c->ev & ~(uint32_t)EPOLLOUT);
	if (c->fin_in)
		shutdown(c->fd, SHUT_WR);
	chan_maybe_done(c);
}

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	struct chan *c = arg;

	if (!c) {
		if (p)
			pbuf_free(p);
		return ERR_OK;
	}
	if (!p)
		c->fin_in = true;
	else if (c->pend)
		pbuf_cat(c->pend, p);
	else
		c->pend = p;
	if (!c->dirty) {
		c->dirty = true;
		c->dirty_next = dirty;
		dirty = c;
	}
	return ERR_OK;
}

void chan_flush_dirty(void)
{
	while (dirty) {
		struct chan *c = dirty;
		dirty = c->dirty_next;
		c->dirty = false;
		chan_flush_out(c);
	}
}

static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
	struct chan *c = arg;

	if (c && !c->eof_out && tcp_sndbuf(pcb) >= TCP_MSS)
		chan_arm(c, c->ev | EPOLLIN);
	return ERR_OK;
}

static void on_err(void *arg, err_t err)
{
	struct chan *c = arg;

	if (!c)
		return;
	c->pcb = NULL;
	if (c->connecting)
		status_send(c, CS_EIO, NULL, 0, err == ERR_RST ? "connection refused"
					       : err == ERR_ABRT ? "connection timed out"
					       : lwip_strerr(err));
	chan_free(c);
}

static void stream_setup(struct chan *c, struct tcp_pcb *pcb)
{
	c->pcb = pcb;
	tcp_arg(pcb, c);
	tcp_recv(pcb, on_recv);
	tcp_sent(pcb, on_sent);
	tcp_err(pcb, on_err);
	tcp_nagle_disable(pcb);
}

static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
	struct chan *c = arg;

	c->connecting = false;
	if (c->timer) {
		sys_untimeout(connect_timeout, c);
		c->timer = false;
	}
	status_send(c, 0, &pcb->local_ip, pcb->local_port, NULL);
	chan_arm(c, EPOLLIN);
	return ERR_OK;
}

static void connect_timeout(void *arg)
{
	struct chan *c = arg;

	c->timer = false;
	if (c->pcb)
		tcp_abort(c->pcb); /* on_err says it timed out */
}

/* A program's bytes into the connection, as far as lwIP has room. */
static void stream_in(struct chan *c)
{
	u16_t room = c->pcb ? tcp_sndbuf(c->pcb) : 0;

	if (!c->pcb || room < 1 || tcp_sndqueuelen(c->pcb) > TCP_SND_QUEUELEN / 2) {
		chan_arm(c, c->ev & ~(uint32_t)EPOLLIN);
		return;
	}
	ssize_t n = read(c->fd, iobuf, room);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		c->eof_out = true;
		chan_arm(c, c->ev & ~(uint32_t)EPOLLIN);
		if (n < 0 || tcp_shutdown(c->pcb, 0, 1) != ERR_OK)
			chan_reset(c);
		else
			chan_maybe_done(c);
		return;
	}
	if (tcp_write(c->pcb, iobuf, (u16_t)n, TCP_WRITE_FLAG_COPY) != ERR_OK) {
		chan_reset(c);
		return;
	}
	tcp_output(c->pcb);
}

static void dgram_in(struct chan *c)
{
	size_t head = c->unconnected ? sizeof(struct cs_dgram) : 0;
	ssize_t n = recv(c->fd, iobuf, 65507 + head, MSG_DONTWAIT);
	struct cs_dgram h;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		chan_free(c);
		return;
	}
	/* a message too short for its head is dropped, as a bad datagram is */
	if ((size_t)n < head)
		return;
	struct pbuf *p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)((size_t)n - head), PBUF_RAM);
	if (!p)
		return;
	memcpy(p->payload, iobuf + head, (size_t)n - head);
	if (head) {
		memcpy(&h, iobuf, sizeof(h));
		ip_addr_t to = IPADDR4_INIT(h.addr);
		udp_sendto(c->upcb, p, &to, lwip_ntohs(h.port));
	} else {
		udp_send(c->upcb, p);
	}
	pbuf_free(p);
}

static void on_udp(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr,
		   u16_t port)
{
	struct chan *c = arg;
	struct cs_dgram h = { .addr = ip_2_ip4(addr)->addr, .port = lwip_htons(port) };
	size_t head = c->unconnected ? sizeof(h) : 0;
	size_t n = pbuf_copy_partial(p, iobuf + head, 65535, 0);

	memcpy(iobuf, &h, head);
	/* a datagram that does not fit now is lost, as UDP is */
	send(c->fd, iobuf, n + head, MSG_DONTWAIT | MSG_NOSIGNAL);
	pbuf_free(p);
}

void chan_event(struct chan *c, uint32_t events)
{
	if (c->kind == US_CHAN_LISTEN) {
		/* the program closed its listening channel */
		if (events & (EPOLLHUP | EPOLLERR | EPOLLIN | EPOLLRDHUP))
			chan_free(c);
		return;
	}
	if (events & EPOLLERR)
		chan_reset(c);
	else if (events & EPOLLOUT)
		chan_flush_out(c);
	else if (events & EPOLLIN)
		c->kind == US_CHAN_DGRAM ? dgram_in(c) : stream_in(c);
	else if (c->pend)
		chan_flush_out(c); /* a hang-up: fails, and resets the connection */
	else if (c->eof_out || c->kind == US_CHAN_DGRAM)
		chan_free(c); /* the program closed: so does the connection */
	else
		chan_arm(c, 0); /* its last bytes wait for send buffer (on_sent) */
}

/* A connection to a listening channel: its fd goes to the program with the
 * peer's address; when the program is not taking them, the peer is reset. */
static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
	struct chan *l = arg, *c;
	struct cs_chan_status st;
	int sv[2];

	if (!l || err != ERR_OK || !pcb)
		return ERR_VAL;
	if (l->port->nchans >= CHANS_MAX)
		goto refuse;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		goto refuse;
	status_fill(&st, 0, &pcb->remote_ip, pcb->remote_port, NULL);
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { &st, sizeof(st) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &sv[1], sizeof(int));
	c = calloc(1, sizeof(*c));
	if (!c || sendmsg(l->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		free(c);
		close(sv[0]);
		close(sv[1]);
		goto refuse;
	}
	close(sv[1]);
	/* ours only: the program's end blocks, as an accepted socket does */
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	c->fd = sv[0];
	c->kind = US_CHAN_CONNECT;
	c->port = l->port;
	c->port->nchans++;
	c->next = chans;
	chans = c;
	chan_arm(c, EPOLLIN);
	stream_setup(c, pcb);
	return ERR_OK;
refuse:
	tcp_abort(pcb);
	return ERR_ABRT;
}

static int open_connect(struct chan *c, const struct us_req *q, const char **why)
{
	ip_addr_t peer = IPADDR4_INIT(q->addr4), local = IPADDR4_INIT(c->port->addr4);
	struct tcp_pcb *pcb = tcp_new_ip_type(IPADDR_TYPE_V4);

	if (!pcb)
		return CS_ENOMEM;
	tcp_bind_netif(pcb, &c->port->netif);
	if (tcp_bind(pcb, &local, 0) != ERR_OK) {
		tcp_abort(pcb);
		*why = "no local port free";
		return CS_EIO;
	}
	stream_setup(c, pcb);
	c->connecting = true;
	if (tcp_connect(pcb, &peer, q->port, on_connected) != ERR_OK) {
		c->pcb = NULL;
		tcp_abort(pcb);
		*why = "cannot connect";
		return CS_EIO;
	}
	c->timer = true;
	sys_timeout(CONNECT_TIMEOUT_MS, connect_timeout, c);
	return 0;
}

static int open_listen(struct chan *c, const struct us_req *q, const char **why)
{
	ip_addr_t local = IPADDR4_INIT(c->port->addr4);
	struct tcp_pcb *pcb = tcp_new_ip_type(IPADDR_TYPE_V4), *l;

	if (!pcb)
		return CS_ENOMEM;
	tcp_bind_netif(pcb, &c->port->netif);
	if (tcp_bind(pcb, &local, q->port) != ERR_OK) {
		tcp_abort(pcb);
		*why = "port in use";
		return CS_EBUSY;
	}
	l = tcp_listen_with_backlog(pcb, (u8_t)(q->arg > 0 && q->arg < 255 ? q->arg : 255));
	if (!l) {
		tcp_abort(pcb);
		return CS_ENOMEM;
	}
	c->pcb = l;
	tcp_arg(l, c);
	tcp_accept(l, on_accept);
	status_send(c, 0, &l->local_ip, l->local_port, NULL);
	return 0;
}

static int open_dgram(struct chan *c, const struct us_req *q, const char **why)
{
	ip_addr_t peer = IPADDR4_INIT(q->addr4), local = IPADDR4_INIT(c->port->addr4);

	if (!(c->upcb = udp_new_ip_type(IPADDR_TYPE_V4)))
		return CS_ENOMEM;
	c->unconnected = !q->addr4;
	udp_bind_netif(c->upcb, &c->port->netif);
	if (udp_bind(c->upcb, &local, c->unconnected ? q->port : 0) != ERR_OK) {
		*why = c->unconnected && q->port ? "port in use" : "no local port free";
		return CS_EBUSY;
	}
	if (!c->unconnected && udp_connect(c->upcb, &peer, q->port) != ERR_OK) {
		*why = "cannot connect";
		return CS_EIO;
	}
	udp_recv(c->upcb, on_udp, c);
	status_send(c, 0, &c->upcb->local_ip, c->upcb->local_port, NULL);
	return 0;
}

/* A channel from csd: takes @fd; its outcome goes into it. */
int chan_open(struct sport *s, const struct us_req *q, int fd)
{
	struct chan *c = calloc(1, sizeof(*c));
	const char *why = NULL;
	int r;

	if (!c) {
		close(fd);
		return CS_ENOMEM;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	c->fd = fd;
	c->kind = q->kind;
	c->port = s;
	s->nchans++;
	c->next = chans;
	chans = c;
	/* the connect and the first bytes wait for lwIP, not for epoll */
	if (s->nchans > CHANS_MAX) {
		r = CS_EQUOTA;
		why = "the endpoint holds as many channels as it may (4096)";
	} else if (q->kind == US_CHAN_CONNECT)
		r = open_connect(c, q, &why);
	else if (q->kind == US_CHAN_LISTEN)
		r = open_listen(c, q, &why);
	else
		r = open_dgram(c, q, &why);
	if (r < 0) {
		status_send(c, r, NULL, 0, why ? why : "out of memory");
		chan_free(c);
		return 0;
	}
	if (q->kind != US_CHAN_CONNECT)
		chan_arm(c, q->kind == US_CHAN_LISTEN ? EPOLLRDHUP : EPOLLIN);
	return 0;
}

/* The endpoint goes: its programs see their channels close. */
void chan_close_port(struct sport *s)
{
	struct chan **pp = &chans;

	while (*pp) {
		struct chan *c = *pp;
		if (c->port != s) {
			pp = &c->next;
			continue;
		}
		chan_reset(c);
	}
}
