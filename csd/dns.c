/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The DNS servers at the vnets' gateways (csd/dns.h). One thread answers all
 * of them from an epoll of its own, so a flood of queries never stalls the
 * control socket, and the main loop never waits on a query. Per vnet
 * realized here: a UDP socket and a TCP listener per address family, made
 * inside the vnet's namespace by the backend (vb_gateway_socket) and bound
 * to the gateway address, port 53, so only the vnet's own endpoints can
 * reach them.
 *
 * The main loop owns the store: it builds each vnet's table of names from
 * it and hands tables and new sockets to the thread as commands (a queue
 * and an eventfd); from then on the thread owns them and is the only one
 * to touch, swap or close them. Tables are rebuilt whole when the store
 * changed (d->gen), which also covers changes made on other nodes (the
 * watch bumps the generation).
 *
 * TCP is bounded: DNS_TCP_MAX connections per vnet (more are closed at
 * once), a message of at most DNS_TCP_MSG_MAX bytes, DNS_TCP_IDLE_MS idle,
 * and an answer that cannot be written at once closes the connection; a
 * client cannot make the thread wait.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <linux/sockios.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dns.h"
#include "ops.h"
#include "vnet/netns.h"

#define DNS_PORT 53
#define DNS_TCP_MAX 32
#define DNS_TCP_MSG_MAX 4096
#define DNS_TCP_IDLE_MS 5000
#define DNS_UDP_MAX 4096
#define DNS_RESYNC_MS 30000   /* and now and then, to retry what failed */

enum { S_UDP4, S_UDP6, S_TCP4, S_TCP6, S_MAX };
enum dns_kind { K_WAKE, K_UDP, K_LISTEN, K_CONN, K_UP };

struct dns_vnet;
struct dns_conn;

/* What an epoll event points at. */
struct dns_src {
	enum dns_kind kind;
	int fd;
	struct dns_vnet *vn;
	struct dns_conn *conn;
};

struct dns_vnet {
	struct dns_vnet *next;
	char tv[2 * (CS_NAME_MAX + 1)];
	struct dns_table *table;
	struct dns_src src[S_MAX];
	int ntcp;
};

struct dns_conn {
	struct dns_conn *next;
	struct dns_src src;
	uint64_t last;
	size_t have;
	uint8_t buf[2 + DNS_TCP_MSG_MAX];
};

/* A command to the thread: serve vnet @tv with @table (and @fds, when it
 * is new to the thread), or stop serving it (@del). */
struct dns_cmd {
	struct dns_cmd *next;
	bool del;
	char tv[2 * (CS_NAME_MAX + 1)];
	int fds[S_MAX];
	struct dns_table *table;
};

struct dns {
	pthread_t thread;
	int wake;                 /* eventfd: commands or stop */
	pthread_mutex_t lock;
	struct dns_cmd *cmds, **tail;
	bool stop;
	/* the main loop's */
	json_t *have;             /* "T/V" -> the subnets its sockets were made for */
	uint64_t gen, last_ms, cost_ms;
	bool synced, retry, off;
	/* the thread's */
	int ep;
	struct dns_src wake_src, up_src[2];
	struct dns_fwd *fwd;
	struct dns_vnet *vnets;
	struct dns_conn *conns;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- the thread ---- */

static void conn_close(struct dns *dn, struct dns_conn *c)
{
	for (struct dns_conn **p = &dn->conns; *p; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			break;
		}
	}
	c->src.vn->ntcp--;
	dns_fwd_cancel(dn->fwd, NULL, c);
	close(c->src.fd);
	free(c);
}

static void vnet_drop(struct dns *dn, struct dns_vnet *vn)
{
	for (struct dns_conn *c = dn->conns, *next; c; c = next) {
		next = c->next;
		if (c->src.vn == vn)
			conn_close(dn, c);
	}
	dns_fwd_cancel(dn->fwd, vn, NULL);
	for (int i = 0; i < S_MAX; i++)
		if (vn->src[i].fd >= 0)
			close(vn->src[i].fd);
	dns_table_free(vn->table);
	free(vn);
}

static struct dns_vnet **vnet_slot(struct dns *dn, const char *tv)
{
	struct dns_vnet **p = &dn->vnets;

	while (*p && strcmp((*p)->tv, tv))
		p = &(*p)->next;
	return p;
}

static void apply_cmd(struct dns *dn, struct dns_cmd *cmd)
{
	struct dns_vnet **p = vnet_slot(dn, cmd->tv), *vn = *p;

	if (cmd->del) {
		if (vn) {
			*p = vn->next;
			vnet_drop(dn, vn);
		}
		return;
	}
	if (vn) {
		dns_table_free(vn->table);
		vn->table = cmd->table;
		cmd->table = NULL;
		for (int i = 0; i < S_MAX; i++)
			if (cmd->fds[i] >= 0)
				close(cmd->fds[i]);
		return;
	}
	if (!(vn = calloc(1, sizeof(*vn)))) {
		for (int i = 0; i < S_MAX; i++)
			if (cmd->fds[i] >= 0)
				close(cmd->fds[i]);
		return;
	}
	snprintf(vn->tv, sizeof(vn->tv), "%s", cmd->tv);
	vn->table = cmd->table;
	cmd->table = NULL;
	for (int i = 0; i < S_MAX; i++) {
		vn->src[i] = (struct dns_src){ i < S_TCP4 ? K_UDP : K_LISTEN, cmd->fds[i], vn, NULL };
		struct epoll_event e = { .events = EPOLLIN, .data.ptr = &vn->src[i] };
		if (vn->src[i].fd >= 0)
			epoll_ctl(dn->ep, EPOLL_CTL_ADD, vn->src[i].fd, &e);
	}
	vn->next = dn->vnets;
	dn->vnets = vn;
}

/* The commands queued; false when the thread is to stop. */
static bool take_cmds(struct dns *dn)
{
	struct dns_cmd *list;
	uint64_t x;
	bool stop;

	if (read(dn->wake, &x, sizeof(x)) < 0 && errno != EAGAIN)
		return true;
	pthread_mutex_lock(&dn->lock);
	list = dn->cmds;
	dn->cmds = NULL;
	dn->tail = &dn->cmds;
	stop = dn->stop;
	pthread_mutex_unlock(&dn->lock);
	while (list) {
		struct dns_cmd *next = list->next;
		apply_cmd(dn, list);
		dns_table_free(list->table);
		free(list);
		list = next;
	}
	return !stop;
}

/* An answer the resolvers gave (or SERVFAIL) to the program that asked. */
static void reply_client(const struct dns_client *c, const uint8_t *msg, size_t len, void *arg)
{
	uint8_t buf[2 + DNS_UDP_MAX];

	(void)arg;
	if (!c->conn) {
		sendto(c->fd, msg, len, MSG_DONTWAIT, (const struct sockaddr *)&c->from, c->flen);
		return;
	}
	if (len > DNS_UDP_MAX)
		return;
	buf[0] = (uint8_t)(len >> 8);
	buf[1] = (uint8_t)len;
	memcpy(buf + 2, msg, len);
	/* a connection that cannot take it at once is the sweep's to close */
	send(((const struct dns_conn *)c->conn)->src.fd, buf, len + 2, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void serve_udp(struct dns *dn, struct dns_vnet *vn, int fd)
{
	uint8_t q[DNS_UDP_MAX], a[DNS_UDP_MAX];

	/* a bounded batch: other vnets get their turn */
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(fd, q, sizeof(q), MSG_DONTWAIT, (struct sockaddr *)&from, &flen);
		if (n < 0)
			return;
		bool fwd = false;
		size_t len = vn->table ? dns_answer(vn->table, q, (size_t)n, a, 512, &fwd) : 0;
		if (len)
			sendto(fd, a, len, MSG_DONTWAIT, (struct sockaddr *)&from, flen);
		if (fwd) {
			struct dns_client c = { vn, NULL, fd, from, flen };
			dns_fwd_query(dn->fwd, q, (size_t)n, mono_ms(), &c, reply_client, NULL);
		}
	}
}

static void accept_conn(struct dns *dn, struct dns_vnet *vn, int lfd)
{
	/* high: up to DNS_TCP_MAX per vnet, out of the way of select() users */
	int fd = netns_fd_high(accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC));
	struct dns_conn *c;

	if (fd < 0)
		return;
	if (vn->ntcp >= DNS_TCP_MAX || !(c = calloc(1, sizeof(*c)))) {
		close(fd);
		return;
	}
	c->src = (struct dns_src){ K_CONN, fd, vn, c };
	c->last = mono_ms();
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = &c->src };
	if (epoll_ctl(dn->ep, EPOLL_CTL_ADD, fd, &e) < 0) {
		close(fd);
		free(c);
		return;
	}
	vn->ntcp++;
	c->next = dn->conns;
	dn->conns = c;
}

/* Every whole message read: answered; false to close the connection. */
static bool serve_conn(struct dns *dn, struct dns_conn *c)
{
	uint8_t a[2 + 65535];
	ssize_t n = recv(c->src.fd, c->buf + c->have, sizeof(c->buf) - c->have, MSG_DONTWAIT);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		return false;
	if (n > 0)
		c->have += (size_t)n;
	c->last = mono_ms();
	while (c->have >= 2) {
		size_t len = (size_t)c->buf[0] << 8 | c->buf[1];
		if (len > DNS_TCP_MSG_MAX)
			return false;
		if (c->have < 2 + len)
			break;
		bool fwd = false;
		size_t alen = c->src.vn->table ? dns_answer(c->src.vn->table, c->buf + 2, len,
							      a + 2, sizeof(a) - 2, &fwd) : 0;
		if (fwd) {
			struct dns_client cl = { c->src.vn, c, -1, { 0 }, 0 };
			dns_fwd_query(dn->fwd, c->buf + 2, len, mono_ms(), &cl, reply_client, NULL);
		}
		if (alen) {
			a[0] = (uint8_t)(alen >> 8);
			a[1] = (uint8_t)alen;
			if (send(c->src.fd, a, alen + 2, MSG_DONTWAIT | MSG_NOSIGNAL) !=
			    (ssize_t)(alen + 2))
				return false;
		}
		memmove(c->buf, c->buf + 2 + len, c->have - 2 - len);
		c->have -= 2 + len;
	}
	return true;
}

static void sweep_idle(struct dns *dn)
{
	uint64_t now = mono_ms();

	for (struct dns_conn *c = dn->conns, *next; c; c = next) {
		next = c->next;
		if (now - c->last > DNS_TCP_IDLE_MS)
			conn_close(dn, c);
	}
}

static void *dns_thread(void *arg)
{
	struct dns *dn = arg;
	struct epoll_event ev[64];
	bool run = true;

	while (run) {
		int n = epoll_wait(dn->ep, ev, 64, 1000);
		bool wake = false;
		/* commands (which may free vnets the other events point at) and
		 * idle connections after the batch */
		for (int i = 0; i < n; i++) {
			struct dns_src *s = ev[i].data.ptr;
			if (s->kind == K_WAKE)
				wake = true;
			else if (s->kind == K_UDP)
				serve_udp(dn, s->vn, s->fd);
			else if (s->kind == K_UP)
				dns_fwd_recv(dn->fwd, s->fd, reply_client, NULL);
			else if (s->kind == K_LISTEN)
				accept_conn(dn, s->vn, s->fd);
			else if (!serve_conn(dn, s->conn))
				conn_close(dn, s->conn);
		}
		dns_fwd_expire(dn->fwd, mono_ms(), reply_client, NULL);
		sweep_idle(dn);
		if (wake)
			run = take_cmds(dn);
	}
	while (dn->vnets) {
		struct dns_vnet *vn = dn->vnets;
		dn->vnets = vn->next;
		vnet_drop(dn, vn);
	}
	return NULL;
}

/* ---- the main loop's side ---- */

static void send_cmd(struct dns *dn, struct dns_cmd *cmd)
{
	uint64_t one = 1;

	pthread_mutex_lock(&dn->lock);
	*dn->tail = cmd;
	dn->tail = &cmd->next;
	pthread_mutex_unlock(&dn->lock);
	if (write(dn->wake, &one, sizeof(one)) < 0)
		log_warn("dns: cannot wake the server thread: %s", strerror(errno));
}

static struct dns *dns_start(char *const *resolvers)
{
	struct dns *dn = calloc(1, sizeof(*dn));

	if (!dn)
		return NULL;
	dn->ep = epoll_create1(EPOLL_CLOEXEC);
	dn->fwd = dns_fwd_new(resolvers);
	/* the resolvers' answers: K_UP, with the family (0, 1) where an fd goes */
	for (int k = 0; k < 2 && dn->ep >= 0; k++) {
		dn->up_src[k] = (struct dns_src){ K_UP, k, NULL, NULL };
		struct epoll_event e = { .events = EPOLLIN, .data.ptr = &dn->up_src[k] };
		if (dns_fwd_fd(dn->fwd, k) >= 0)
			epoll_ctl(dn->ep, EPOLL_CTL_ADD, dns_fwd_fd(dn->fwd, k), &e);
	}
	dn->tail = &dn->cmds;
	dn->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	dn->have = json_object();
	pthread_mutex_init(&dn->lock, NULL);
	dn->wake_src = (struct dns_src){ K_WAKE, dn->wake, NULL, NULL };
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = &dn->wake_src };
	if (dn->wake < 0 || dn->ep < 0 || !dn->have ||
	    epoll_ctl(dn->ep, EPOLL_CTL_ADD, dn->wake, &e) < 0 ||
	    pthread_create(&dn->thread, NULL, dns_thread, dn)) {
		log_warn("dns: cannot start the server thread: %s", strerror(errno));
		if (dn->wake >= 0)
			close(dn->wake);
		if (dn->ep >= 0)
			close(dn->ep);
		json_decref(dn->have);
		dns_fwd_free(dn->fwd);
		free(dn);
		return NULL;
	}
	return dn;
}

void dns_stop(struct csd *d)
{
	struct dns *dn = d->dns;

	if (!dn)
		return;
	pthread_mutex_lock(&dn->lock);
	dn->stop = true;
	pthread_mutex_unlock(&dn->lock);
	uint64_t one = 1;
	if (write(dn->wake, &one, sizeof(one)) == sizeof(one))
		pthread_join(dn->thread, NULL);
	for (struct dns_cmd *c = dn->cmds, *next; c; c = next) {
		next = c->next;
		for (int i = 0; i < S_MAX; i++)
			if (c->fds[i] >= 0)
				close(c->fds[i]);
		dns_table_free(c->table);
		free(c);
	}
	close(dn->wake);
	close(dn->ep);
	dns_fwd_free(dn->fwd);
	json_decref(dn->have);
	pthread_mutex_destroy(&dn->lock);
	free(dn);
	d->dns = NULL;
}

static int rec_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dns_rec *)a)->name, ((const struct dns_rec *)b)->name);
}

/* Vnet T/V's names from its endpoints' documents (@eps: E -> doc). */
static struct dns_table *table_build(const char *t, const char *v, const json_t *vdoc,
				     const json_t *eps)
{
	struct dns_table *tab = calloc(1, sizeof(*tab));
	const char *e;
	json_t *doc, *a;
	size_t i;

	if (!tab || !(tab->v = calloc(json_object_size(eps) + 1, sizeof(*tab->v)))) {
		free(tab);
		return NULL;
	}
	snprintf(tab->zone, sizeof(tab->zone), "%s.%s.cs", v, t);
	tab->egress = json_is_true(json_object_get(json_object_get(vdoc, "spec"), "egress"));
	tab->nsub = model_vnet_subnets(vdoc, tab->sub);
	json_object_foreach((json_t *)eps, e, doc) {
		struct dns_rec *r = &tab->v[tab->n];
		snprintf(r->name, sizeof(r->name), "%s", e);
		json_array_foreach(json_object_get(doc, "addresses"), i, a) {
			struct cs_addr ad;
			if (!json_is_string(a) || cs_addr_parse(json_string_value(a), &ad) < 0)
				continue;
			if (ad.family == AF_INET && !r->has4)
				r->has4 = true, r->a4 = ad;
			else if (ad.family == AF_INET6 && !r->has6)
				r->has6 = true, r->a6 = ad;
		}
		tab->n++;
	}
	qsort(tab->v, tab->n, sizeof(*tab->v), rec_cmp);
	return tab;
}

/* One socket at the gateway of @p, port 53; the fd or a code. */
static int gw_socket(struct csd *d, const char *t, const char *v, const struct cs_prefix *p,
		     int type)
{
	struct sockaddr_storage ss = { 0 };
	struct cs_addr gw;
	socklen_t len;
	int one = 1, fam = p->addr.family;
	int fd = vb_gateway_socket(csd_backend_for(d, t, v), t, v, fam, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return fd;
	ipam_gateway(p, &gw);
	if (fam == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(DNS_PORT);
		memcpy(&s4->sin_addr, gw.a, 4);
		len = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(DNS_PORT);
		memcpy(&s6->sin6_addr, gw.a, 16);
		len = sizeof(*s6);
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 64) < 0)) {
		int e = errno;
		close(fd);
		errno = e;
		return CS_EIO;
	}
	return fd;
}

/* The sockets of vnet T/V (one UDP and one TCP per subnet's family). */
static int gw_sockets(struct csd *d, const char *t, const char *v, const struct dns_table *tab,
		      int fds[S_MAX])
{
	for (int i = 0; i < S_MAX; i++)
		fds[i] = -1;
	for (int i = 0; i < tab->nsub; i++) {
		int six = tab->sub[i].addr.family == AF_INET6;
		if ((fds[S_UDP4 + six] = gw_socket(d, t, v, &tab->sub[i], SOCK_DGRAM)) < 0 ||
		    (fds[S_TCP4 + six] = gw_socket(d, t, v, &tab->sub[i], SOCK_STREAM)) < 0) {
			int r = fds[S_UDP4 + six] < 0 ? fds[S_UDP4 + six] : fds[S_TCP4 + six];
			for (int k = 0; k < S_MAX; k++)
				if (fds[k] >= 0)
					close(fds[k]);
			return r;
		}
	}
	return 0;
}

/* The inode of the network namespace the vnet's gateway lives in now (a
 * vnet deleted and made again between two rebuilds has another one, and
 * the old sockets would answer in a namespace nobody reaches), or 0. */
static unsigned long gw_netns_ino(struct csd *d, const char *t, const char *v)
{
	struct stat st;
	int fd = vb_gateway_socket(csd_backend_for(d, t, v), t, v, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int ns = fd >= 0 ? ioctl(fd, SIOCGSKNS) : -1;
	unsigned long ino = ns >= 0 && fstat(ns, &st) == 0 ? (unsigned long)st.st_ino : 0;

	if (ns >= 0)
		close(ns);
	if (fd >= 0)
		close(fd);
	return ino;
}

/* "10.1.0.0/24,fd00::/64@INO": what the sockets were bound for, and where. */
static void sockets_key(struct csd *d, const char *t, const char *v,
			const struct dns_table *tab, char *buf, size_t len)
{
	char a[CS_ADDRSTRLEN];

	buf[0] = '\0';
	for (int i = 0; i < tab->nsub; i++)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s/%d", i ? "," : "",
			 cs_addr_format(&tab->sub[i].addr, a), tab->sub[i].plen);
	snprintf(buf + strlen(buf), len - strlen(buf), "@%lu", gw_netns_ino(d, t, v));
}

static void put_vnet(struct csd *d, struct dns *dn, const char *tv, struct dns_table *tab,
		     json_t *want)
{
	struct dns_cmd *cmd = calloc(1, sizeof(*cmd));
	char key[160], err[64];
	name_t p[2];
	int r;

	if (!cmd || cs_path_split(tv, 2, p, err, sizeof(err)) < 0) {
		free(cmd);
		dns_table_free(tab);
		return;
	}
	sockets_key(d, p[0], p[1], tab, key, sizeof(key));
	const char *had = json_string_value(json_object_get(dn->have, tv));
	for (int i = 0; i < S_MAX; i++)
		cmd->fds[i] = -1;
	if (!had || strcmp(had, key)) {
		/* new here, or its subnets changed: sockets anew */
		if (had) {
			struct dns_cmd *del = calloc(1, sizeof(*del));
			if (del) {
				del->del = true;
				snprintf(del->tv, sizeof(del->tv), "%s", tv);
				send_cmd(dn, del);
			}
		}
		if ((r = gw_sockets(d, p[0], p[1], tab, cmd->fds)) < 0) {
			if (r == CS_ENOTSUP)
				dn->off = true;
			else
				log_debug("dns: vnet %s: no server at its gateway yet (%s)", tv,
					  strerror(errno));
			dn->retry = true;
			dns_table_free(tab);
			free(cmd);
			return;
		}
	}
	snprintf(cmd->tv, sizeof(cmd->tv), "%s", tv);
	cmd->table = tab;
	send_cmd(dn, cmd);
	json_object_set_new(want, tv, json_string(key));
}

/* Every vnet realized here, with its names, from one reading of the store. */
static int dns_rebuild(struct csd *d, struct dns *dn)
{
	json_t *vnets = NULL, *eps = NULL, *by = json_object(), *want = json_object(), *doc;
	const char *key;
	int r;

	if (!by || !want || (r = model_list(d, "/vnets/", &vnets, NULL)) < 0 ||
	    (r = model_list(d, "/endpoints/", &eps, NULL)) < 0) {
		json_decref(vnets);
		json_decref(by);
		json_decref(want);
		return CS_EIO;
	}
	json_object_foreach(eps, key, doc) {
		name_t p[3];
		char err[64], tv[2 * (CS_NAME_MAX + 1)];
		if (cs_path_split(key + 11, 3, p, err, sizeof(err)) < 0)
			continue;
		snprintf(tv, sizeof(tv), "%s/%s", p[0], p[1]);
		json_t *in = json_object_get(by, tv);
		if (!in)
			json_object_set_new(by, tv, in = json_object());
		json_object_set(in, p[2], doc);
	}
	dn->retry = false;
	json_object_foreach(vnets, key, doc) {
		name_t p[2];
		char err[64];
		if (dn->off || cs_path_split(key + 7, 2, p, err, sizeof(err)) < 0 ||
		    !model_vnet_here(d, doc))
			continue;
		struct dns_table *tab = table_build(p[0], p[1], doc, json_object_get(by, key + 7));
		if (tab)
			put_vnet(d, dn, key + 7, tab, want);
		else
			dn->retry = true;
	}
	json_object_foreach(dn->have, key, doc) {
		struct dns_cmd *del;
		if (json_object_get(want, key) || !(del = calloc(1, sizeof(*del))))
			continue;
		del->del = true;
		snprintf(del->tv, sizeof(del->tv), "%s", key);
		send_cmd(dn, del);
	}
	json_decref(dn->have);
	dn->have = want;
	json_decref(vnets);
	json_decref(eps);
	json_decref(by);
	return 0;
}

void dns_sync(struct csd *d)
{
	struct dns *dn = d->dns;
	uint64_t now = mono_ms();

	if (!dn && !(dn = d->dns = dns_start(d->cfg.resolvers)))
		return;
	if (dn->off)
		return;
	bool due = !dn->synced || dn->gen != d->gen || now - dn->last_ms >= DNS_RESYNC_MS ||
		   (dn->retry && now - dn->last_ms >= 1000);
	/* spaced out to at most a tenth of the time when a rebuild is slow */
	if (!due || (dn->synced && now - dn->last_ms < 10 * dn->cost_ms))
		return;
	uint64_t gen = d->gen;
	if (dns_rebuild(d, dn) < 0) {
		dn->retry = true;
	} else {
		dn->gen = gen;
		dn->synced = true;
	}
	dn->last_ms = mono_ms();
	dn->cost_ms = dn->last_ms - now;
}
