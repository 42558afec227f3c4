/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The control server: one epoll loop, non-blocking SOCK_SEQPACKET clients.
 * Fairness: a bounded number of datagrams is read from each ready client per
 * turn, replies are queued and written as the socket takes them, and a
 * client whose unread replies pile up beyond a bound is disconnected, so a
 * slow or hostile client never stalls the others.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "config.h"
#include "csd.h"
#include "bounds.h"
#include "metrics.h"
#include "monitor.h"
#include "safedir.h"
#include "teardown.h"
#include "vni.h"
#include "dns.h"
#include "model.h"
#include "vnet/netns.h"
#include "policy/authz.h"

#define READS_PER_TURN 16
#define TX_MAX_BYTES (32u * 1024 * 1024)
/* fds one connection's unsent replies may hold before csd stops reading
 * from it (each endpoint.socket reply holds one) */
#define TX_MAX_FDS 64
#define CLIENTS_MAX 16384
/* fds csd keeps for itself (store, netlink, namespaces being entered)
 * beyond one a connection */
#define FDS_OWN 1024

extern const struct csd_op *const __start_csd_ops[];
extern const struct csd_op *const __stop_csd_ops[];

struct txmsg {
	struct txmsg *next;
	char *text;
	size_t len;
	size_t part; /* next part to send */
	int fds[CS_WIRE_MAX_FDS];
	int nfds;
};

struct client {
	struct client *next, **pprev;
	int fd;
	struct principal who;
	struct cs_wire_rx rx;
	uint64_t rx_at;   /* monotonic ms of the last part of a partial message */
	struct uid_use *uid;
	struct uid_charge charge;
	struct txmsg *txhead, **txtail;
	size_t txbytes;
	int txfds;        /* fds held by queued replies */
	bool hello;
	bool dead;
	uint32_t events;
	char **ephemerals;
	size_t nephemerals;
	uint64_t use_gen;
	char use[4][3 * 33 + 3]; /* endpoints this connection may use, at use_gen */
	unsigned use_next;
};

const struct csd_op *csd_op_next(size_t *it)
{
	const struct csd_op *const *p = __start_csd_ops + *it;

	if (p >= __stop_csd_ops)
		return NULL;
	(*it)++;
	return *p;
}

const struct csd_op *csd_op_find(const char *name)
{
	for (const struct csd_op *const *p = __start_csd_ops; p < __stop_csd_ops; p++)
		if (!strcmp((*p)->name, name))
			return *p;
	return NULL;
}

int req_fail(struct csd_req *r, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
	return code;
}

bool client_said_hello(const struct client *c)
{
	return !c || c->hello;
}

void client_set_hello(struct client *c)
{
	if (c)
		c->hello = true;
}

int client_add_ephemeral(struct client *c, const char *name)
{
	char **v;

	if (!c)
		return 0;
	if (!(v = realloc(c->ephemerals, sizeof(*v) * (c->nephemerals + 1))))
		return CS_ENOMEM;
	c->ephemerals = v;
	if (!(v[c->nephemerals] = strdup(name)))
		return CS_ENOMEM;
	c->nephemerals++;
	return 0;
}

void client_drop_ephemeral(struct client *c, const char *name)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nephemerals; i++) {
		if (!strcmp(c->ephemerals[i], name)) {
			free(c->ephemerals[i]);
			c->ephemerals[i] = c->ephemerals[--c->nephemerals];
			return;
		}
	}
}

bool client_may_use(const struct csd *d, struct client *c, const char *name)
{
	if (!c || c->use_gen != d->gen)
		return false;
	for (size_t i = 0; i < sizeof(c->use) / sizeof(c->use[0]); i++)
		if (!strcmp(c->use[i], name))
			return true;
	return false;
}

void client_note_use(const struct csd *d, struct client *c, const char *name)
{
	if (!c || strlen(name) >= sizeof(c->use[0]))
		return;
	if (c->use_gen != d->gen) {
		memset(c->use, 0, sizeof(c->use));
		c->use_gen = d->gen;
	}
	strcpy(c->use[c->use_next++ % (sizeof(c->use) / sizeof(c->use[0]))], name);
}

bool csd_ephemeral_held(const struct csd *d, const char *name)
{
	for (const struct client *c = d->clients; c; c = c->next)
		for (size_t i = 0; i < c->nephemerals; i++)
			if (!strcmp(c->ephemerals[i], name))
				return true;
	return false;
}

const char *client_ephemeral(const struct client *c, size_t i);
const char *client_ephemeral(const struct client *c, size_t i)
{
	return i < c->nephemerals ? c->ephemerals[i] : NULL;
}

/* Take the fds that came with the request being handled (endpoint.exec);
 * returns how many were moved into @fds (the caller closes them). */
int client_take_fds(struct client *c, int fds[CS_WIRE_MAX_FDS]);
int client_take_fds(struct client *c, int fds[CS_WIRE_MAX_FDS])
{
	int n;

	if (!c)
		return 0;
	n = c->rx.nfds;
	memcpy(fds, c->rx.fds, sizeof(int) * n);
	c->rx.nfds = 0;
	return n;
}

/*
 * Authorization, then the handler: policy/authz.c's table holds every op;
 * administrator ops are decided here, the rest by req_tenant()/req_vnet()
 * once the handler has named its object (ops.h), and a handler that
 * answers without that decision is refused.
 */
static int run_op(struct csd *d, const struct csd_op *op, struct csd_req *req)
{
	const struct principal *who = req->who;
	const struct authz_op *az = authz_op_find(op->name);
	int r;

	if (!az || (az->scope == AZ_SCOPE_ADMIN && !authz_op(who, NULL, NULL, op->name, false)))
		return req_fail(req, CS_EPERM, az ? "%s: only administrators may do this (root or "
				"a member of admin_gids)" : "%s: refused: the operation has no entry "
				"in the authorization table", op->name);
	int64_t rev0 = monitor_rev(d, op->flags & CSD_OP_CHANGES);
	r = op->fn(req);
	if (r >= 0)
		monitor_note(d, who, op->name, rev0);
	if (r >= 0 && !req->authorized &&
	    (az->scope == AZ_SCOPE_TENANT || az->scope == AZ_SCOPE_VNET)) {
		log_err("%s: answered without an authorization decision (a bug): refused",
			op->name);
		for (int i = 0; i < req->nfds; i++)
			close(req->fds[i]);
		req->nfds = 0;
		json_decref(req->result);
		req->result = NULL;
		r = req_fail(req, CS_EPERM, "%s: refused: internal authorization error", op->name);
	}
	return r;
}

json_t *csd_handle(struct csd *d, struct client *c, const struct principal *who,
		   const char *msg, size_t len, int *fds, int *nfds)
{
	struct csd_req req = { .d = d, .client = c, .who = who };
	json_error_t jerr;
	json_t *in, *reply;
	json_int_t id = 0;
	const char *opname = NULL;
	json_t *args = NULL;
	int r;

	*nfds = 0;
	uint64_t t0 = metrics_clock();
	d->requests++;
	/* a message of many tiny values costs many times its size to parse:
	 * bounded for everyone but administrators */
	json_budget_begin(who->admin ? 0 : json_budget_for(len));
	in = json_loadb(msg, len, JSON_REJECT_DUPLICATES, &jerr);
	if (json_budget_end() && !in)
		return cs_msg_error(0, CS_ETOOBIG, "the message's JSON would take more than %zu bytes "
				    "of memory to parse (many small values); send it in smaller "
				    "requests", json_budget_for(len));
	if (!in)
		return cs_msg_error(0, CS_EPROTO, "malformed JSON at line %d column %d: %s",
				    jerr.line, jerr.column, jerr.text);
	if (json_unpack_ex(in, &jerr, JSON_STRICT, "{s:I, s:s, s?o}", "id", &id, "op", &opname,
			   "args", &args) < 0) {
		reply = cs_msg_error(json_is_integer(json_object_get(in, "id")) ?
					     json_integer_value(json_object_get(in, "id")) : 0,
				     CS_EPROTO, "malformed request: %s (expected {\"id\":N,"
				     "\"op\":\"...\",\"args\":{...}})", jerr.text);
		json_decref(in);
		return reply;
	}
	if (args && !json_is_object(args)) {
		reply = cs_msg_error(id, CS_EPROTO, "%s: args must be a JSON object", opname);
		json_decref(in);
		return reply;
	}
	const struct csd_op *op = csd_op_find(opname);
	if (!op) {
		reply = cs_msg_error(id, CS_ENOTSUP, "unknown operation \"%.64s\"", opname);
		json_decref(in);
		return reply;
	}
	if (!(op->flags & CSD_OP_NO_HELLO) && !client_said_hello(c)) {
		reply = cs_msg_error(id, CS_EPROTO, "%s: send hello first", opname);
		json_decref(in);
		return reply;
	}
	json_t *empty = NULL;
	if (!args)
		args = empty = json_object();
	req.op = op->name;
	req.id = id;
	req.args = args;
	r = run_op(d, op, &req);
	if (r < 0) {
		for (int i = 0; i < req.nfds; i++)
			close(req.fds[i]);
		reply = cs_msg_error(id, r, "%s", req.error[0] ? req.error : cs_strerror(r));
		if (op->flags & CSD_OP_CHANGES)
			audit_record(who, op->name, args, NULL, r, req.error, NULL);
		json_decref(req.result);
	} else {
		if (op->flags & CSD_OP_CHANGES) {
			d->gen++;
			dns_sync(d); /* a name created is answered before the reply */
			audit_record(who, op->name, args, NULL, 0, NULL, NULL);
		}
		reply = cs_msg_ok(id, req.result);
		memcpy(fds, req.fds, sizeof(int) * req.nfds);
		*nfds = req.nfds;
	}
	if (!reply) {
		/* the server always answers, even when a reply cannot be built */
		for (int i = 0; i < *nfds; i++)
			close(fds[i]);
		*nfds = 0;
		reply = cs_msg_error(id, CS_ENOMEM, "%s: the reply could not be built", op->name);
	}
	metrics_request(d, op->name, r, t0);
	json_decref(empty);
	json_decref(in);
	return reply;
}

static void txmsg_free(struct txmsg *m)
{
	for (int i = 0; i < m->nfds; i++)
		close(m->fds[i]);
	free(m->text);
	free(m);
}

static bool tx_fds_full(struct csd *d, const struct client *c)
{
	return c->txfds >= TX_MAX_FDS || uid_txfds_full(d, c->uid);
}

static void client_update_events(struct csd *d, struct client *c)
{
	uint32_t ev = 0;

	/* stop reading from a client that does not read its replies, or
	 * whose replies (or its uid's) hold csd's fds */
	if (c->txbytes < TX_MAX_BYTES / 4 && !tx_fds_full(d, c))
		ev |= EPOLLIN;
	if (c->txhead)
		ev |= EPOLLOUT;
	if (ev != c->events) {
		struct epoll_event e = { .events = ev, .data.ptr = c };
		epoll_ctl(d->epfd, EPOLL_CTL_MOD, c->fd, &e);
		c->events = ev;
	}
}

static void client_free(struct csd *d, struct client *c)
{
	client_on_close(d, c);
	monitor_client_gone(d, c);
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	*c->pprev = c->next;
	if (c->next)
		c->next->pprev = c->pprev;
	while (c->txhead) {
		struct txmsg *m = c->txhead;
		c->txhead = m->next;
		txmsg_free(m);
	}
	cs_wire_rx_reset(&c->rx);
	uid_tx_charge(d, c->uid, -(long)c->txbytes);
	uid_txfds_add(c->uid, -c->txfds);
	uid_conn_release(c->uid);
	uid_use_release(d, c->uid);
	for (size_t i = 0; i < c->nephemerals; i++)
		free(c->ephemerals[i]);
	free(c->ephemerals);
	free(c->who.gids);
	free(c);
	d->nclients--;
}

static void client_flush(struct csd *d, struct client *c)
{
	while (c->txhead) {
		struct txmsg *m = c->txhead;
		size_t parts = cs_wire_parts(m->len);
		while (m->part < parts) {
			int r = cs_wire_send_part(c->fd, m->text, m->len, m->part, m->fds, m->nfds);
			if (r == -EAGAIN)
				return;
			if (r < 0) {
				c->dead = true;
				return;
			}
			m->part++;
		}
		c->txhead = m->next;
		if (!c->txhead)
			c->txtail = &c->txhead;
		c->txbytes -= m->len;
		uid_tx_charge(d, c->uid, -(long)m->len);
		c->txfds -= m->nfds;
		uid_txfds_add(c->uid, -m->nfds);
		txmsg_free(m);
	}
}

static void client_queue(struct csd *d, struct client *c, json_t *reply, const int *fds,
			 int nfds)
{
	struct txmsg *m = calloc(1, sizeof(*m));

	if (!m || !(m->text = cs_msg_dump(reply, &m->len))) {
		free(m);
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		c->dead = true;
		return;
	}
	if (nfds > 0)
		memcpy(m->fds, fds, sizeof(int) * nfds);
	m->nfds = nfds;
	c->txfds += nfds;
	uid_txfds_add(c->uid, nfds);
	*c->txtail = m;
	c->txtail = &m->next;
	c->txbytes += m->len;
	int over = uid_tx_charge(d, c->uid, (long)m->len);
	if (c->txbytes > TX_MAX_BYTES || over < 0) {
		log_warn("client pid %d uid %u does not read its replies (%s); disconnected",
			 (int)c->who.pid, (unsigned)c->who.uid, over < 0 ? "its uid's bound of "
			 "queued replies, limits.replies" : "its connection's bound");
		c->dead = true;
	}
}

const struct principal *client_who(const struct client *c)
{
	return &c->who;
}

int client_push(struct csd *d, struct client *c, const json_t *msg, size_t bound)
{
	if (msg && !c->dead) {
		client_queue(d, c, (json_t *)msg, NULL, 0);
		if (!c->dead && c->txbytes > bound) {
			log_warn("monitor of pid %d uid %u leaves more than %zu bytes of events "
				 "unread (limits.monitor); disconnected", (int)c->who.pid,
				 (unsigned)c->who.uid, bound);
			c->dead = true;
		}
		if (!c->dead)
			client_flush(d, c);
	}
	if (!msg || c->dead) {
		/* the loop reaps it when the hangup shows, outside its turn */
		c->dead = true;
		shutdown(c->fd, SHUT_RDWR);
		return msg ? CS_EQUOTA : CS_ECONN;
	}
	client_update_events(d, c);
	return 0;
}

static uint64_t now_ms(void);

/* The reply to a message that could not be taken. */
static json_t *rx_error(struct csd *d, struct client *c, int r)
{
	if (r == CS_ETOOBIG)
		return cs_msg_error(0, r, "message exceeds the bound of %zu bytes; nothing was "
				    "done", c->rx.max);
	if (r == CS_EQUOTA && c->charge.refused_total)
		return cs_msg_error(0, r, "csd holds %zu bytes of partial messages of all users, "
				    "its bound (limits.buffer_total); message dropped, try again",
				    d->cfg.limits.buffer_total);
	if (r == CS_EQUOTA)
		return cs_msg_error(0, r, "uid %u holds %zu bytes of partial messages, its bound "
				    "(limits.buffer in csd's configuration); message dropped: "
				    "finish or close the other connections' messages first",
				    (unsigned)c->who.uid, uid_rx_bytes(c->uid));
	return cs_msg_error(0, r, "bad frame (%s); message dropped", cs_strerror(r));
}

static void client_read(struct csd *d, struct client *c)
{
	for (int i = 0; i < READS_PER_TURN && !c->dead && !tx_fds_full(d, c); i++) {
		int r = cs_wire_read(c->fd, &c->rx);
		if (r == -EAGAIN)
			break;
		if (r == CS_ECONN) {
			c->dead = true;
			break;
		}
		if (r < 0) {
			json_t *e = rx_error(d, c, r);
			cs_wire_rx_reset(&c->rx);
			client_queue(d, c, e, NULL, 0);
			json_decref(e);
			continue;
		}
		if (r == 0) {
			c->rx_at = now_ms();
			break;
		}
		int fds[CS_WIRE_MAX_FDS], nfds;
		/* fds a request brought are closed after it unless its op took
		 * them (client_take_fds) */
		/* a request's repeated reads of one key ask the store once */
		store_memo(d->store, true);
		model_span(d, true);
		json_t *reply = csd_handle(d, c, &c->who, c->rx.buf, c->rx.len, fds, &nfds);
		model_span(d, false);
		store_memo(d->store, false);
		cs_wire_rx_reset(&c->rx);
		client_queue(d, c, reply, fds, nfds);
		json_decref(reply);
		/* answer before reading on: the reply does not wait for EAGAIN */
		client_flush(d, c);
		d->busy_at = now_ms();
	}
}

static int peer_identity(int fd, struct principal *p)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
		return -errno;
	p->uid = uc.uid;
	p->gid = uc.gid;
	p->pid = uc.pid;
	int n = 64;
	for (;;) {
		gid_t *g = realloc(p->gids, sizeof(gid_t) * (n + 1));
		if (!g)
			return -ENOMEM;
		p->gids = g;
		len = sizeof(gid_t) * n;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) == 0) {
			p->ngids = (int)(len / sizeof(gid_t));
			break;
		}
		if (errno != ERANGE)
			return -errno;
		n = (int)(len / sizeof(gid_t)) + 1;
	}
	p->gids[p->ngids++] = p->gid;
	return 0;
}

static void principal_set_admin(const struct csd *d, struct principal *p)
{
	/* the user who runs csd administers it (root's csd: root; an
	 * unprivileged csd, the user backend: its user) */
	p->admin = p->uid == 0 || p->uid == geteuid();
	for (int i = 0; i < p->ngids && !p->admin; i++)
		for (size_t j = 0; j < d->cfg.n_admin_gids; j++)
			if (p->gids[i] == d->cfg.admin_gids[j])
				p->admin = true;
}

/*
 * Out of fds: give up the reserve fd, take the waiting connection and
 * close it (the client sees its connection closed rather than hanging in
 * the backlog), take the reserve back. Without it, accept would fail on
 * the same pending connection for as long as the fds stay taken, and the
 * loop would spin on it.
 */
static void accept_shed(struct csd *d, int err)
{
	log_warn("accept: %s: a connection was closed unanswered (csd holds %zu "
		 "connections; see limits in csd(8))", strerror(err), d->nclients);
	if (d->reserve_fd >= 0) {
		close(d->reserve_fd);
		int fd = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			close(fd);
	}
	d->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* Tell a refused connection why, if it listens, and close it. */
static void accept_refuse(int fd, const char *why)
{
	json_t *e = cs_msg_error(0, CS_EQUOTA, "connection refused: %s", why);
	size_t len;
	char *text = e ? cs_msg_dump(e, &len) : NULL;

	if (text && len <= CS_WIRE_PART_MAX)
		cs_wire_send_part(fd, text, len, 0, NULL, 0);
	free(text);
	json_decref(e);
	close(fd);
}

static struct client *client_new(struct csd *d, int fd)
{
	struct client *c = calloc(1, sizeof(*c));
	char why[256];

	if (!c || peer_identity(fd, &c->who) < 0) {
		log_warn("client refused (%s)", c ? "no identity" : "out of memory");
		goto fail;
	}
	principal_set_admin(d, &c->who);
	c->who.cuid = uid_charge_of(c->who.pid, c->who.uid);
	if (!(c->uid = uid_use_get(d, &c->who)))
		goto fail;
	if (uid_conn_admit(d, c->uid, why, sizeof(why)) < 0) {
		log_warn("client pid %d uid %u refused: %s", (int)c->who.pid,
			 (unsigned)c->who.uid, why);
		uid_use_release(d, c->uid);
		accept_refuse(fd, why);
		free(c->who.gids);
		free(c);
		return NULL;
	}
	c->fd = fd;
	c->txtail = &c->txhead;
	cs_wire_rx_init(&c->rx, d->cfg.msg_max);
	c->charge = (struct uid_charge){ .d = d, .use = c->uid };
	c->rx.charge = uid_rx_charge;
	c->rx.charge_ctx = &c->charge;
	c->events = EPOLLIN;
	return c;
fail:
	if (c)
		free(c->who.gids);
	free(c);
	close(fd);
	return NULL;
}

static void accept_clients(struct csd *d)
{
	for (int i = 0; i < 64; i++) {
		/* high: many clients must not take every fd below 1024 (netns.h) */
		int fd = netns_fd_high(accept4(d->listen_fd, NULL, NULL,
					       SOCK_NONBLOCK | SOCK_CLOEXEC));
		if (fd < 0) {
			int err = errno;
			if (err == EMFILE || err == ENFILE)
				accept_shed(d, err);
			else if (err != EAGAIN && err != EINTR && err != ECONNABORTED)
				log_warn("accept: %s", strerror(err));
			if (err != EINTR && err != ECONNABORTED)
				return;
			continue;
		}
		struct client *c = client_new(d, fd);
		if (!c)
			continue;
		struct epoll_event e = { .events = EPOLLIN, .data.ptr = c };
		if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
			uid_conn_release(c->uid);
			uid_use_release(d, c->uid);
			free(c->who.gids);
			free(c);
			close(fd);
			continue;
		}
		c->next = d->clients;
		if (c->next)
			c->next->pprev = &c->next;
		c->pprev = &d->clients;
		d->clients = c;
		d->nclients++;
	}
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* How many connections csd takes: its fd limit less its own fds, and one
 * fd kept in reserve to shed connections when fds run out anyway. */
static void clients_bound(struct csd *d)
{
	struct rlimit rl;
	size_t n = CLIENTS_MAX;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		n = rl.rlim_cur > FDS_OWN + 2 * LIMITS_ADMIN_RESERVE ?
			    (size_t)rl.rlim_cur - FDS_OWN : 2 * LIMITS_ADMIN_RESERVE;
	d->clients_max = n < CLIENTS_MAX ? n : CLIENTS_MAX;
	d->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static int listen_socket(struct csd *d)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = d->cfg.socket_path;
	char dir[sizeof(sa.sun_path)];

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_err("control socket path %s is too long (at most %zu bytes)", path,
			sizeof(sa.sun_path) - 1);
		return CS_EINVAL;
	}
	strcpy(sa.sun_path, path);
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		mkdir(dir, 0755);
	}
	/* a live csd on the path keeps it; a stale socket file is replaced;
	 * anything else there is not ours to remove */
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_err("control socket path %s exists and is not a socket; csd will not "
				"replace it: remove it or choose another -S", path);
			return CS_EEXIST;
		}
		int probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe);
			log_err("another csd is already serving %s; stop it first or use -S", path);
			return CS_EEXIST;
		}
		if (probe >= 0)
			close(probe);
		unlink(path);
	}
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return CS_EIO;
	/* who may do what is decided from credentials, never from file modes:
	 * the socket is made 0666 by bind itself, not by a chmod of a path
	 * that someone could swap for a link in between */
	mode_t um = umask(0111);
	int b = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(um);
	if (b < 0) {
		log_err("cannot bind the control socket %s: %s", path, strerror(errno));
		close(fd);
		return CS_EIO;
	}
	/* bound: from here the path is ours, and csd_fini() removes it */
	d->listen_fd = fd;
	if (listen(fd, 512) < 0)
		return CS_EIO;
	return 0;
}

/* ---- a store shared by the nodes (etcd): watch, debounce, liveness ---- */

#define DEBOUNCE_MS 20
/* the liveness lease: a node whose csd stops renewing it is down within
 * NODE_TTL_S (plus etcd's expiry check, under a second); renewed every
 * second, so an event loop busy for up to NODE_TTL_S - 1 s loses nothing */
#define NODE_TTL_S 5
#define HEARTBEAT_MS 1000

bool csd_store_shared(const struct csd *d)
{
	return store_shared(d->store);
}

static void timer_once_ms(int fd, unsigned ms)
{
	struct itimerspec its = { { 0, 0 }, { ms / 1000, (long)(ms % 1000) * 1000000 } };

	timerfd_settime(fd, 0, &its, NULL);
}

/* A store refusing csd for its configuration (certificates, password,
 * permissions) says why: logged when that changes, not every second. */
static void store_why(struct csd *d, bool up)
{
	const char *why = up ? NULL : store_error(d->store);

	if (why && (!d->store_why || strcmp(why, d->store_why)))
		log_err("store: %s", why);
	if (!why || !d->store_why || strcmp(why, d->store_why)) {
		free(d->store_why);
		d->store_why = why ? strdup(why) : NULL;
	}
}

static void store_state(struct csd *d, int r, const char *what)
{
	bool up = r != CS_EUNAVAIL;

	store_why(d, up);
	if (up && !d->store_up)
		log_info("store: reachable (%s)", what);
	else if (!up && d->store_up)
		log_warn("store: unavailable (%s); serving what exists, refusing changes, "
			 "retrying every second", what);
	d->store_up = up;
}

static void watch_stop(struct csd *d)
{
	if (!d->watch)
		return;
	if (store_watch_fd(d->watch) >= 0)
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, store_watch_fd(d->watch), NULL);
	store_watch_free(d->watch);
	d->watch = NULL;
}

/* Revision first, then reconcile, then watch from the next revision: a
 * change between the two is seen twice at worst, never missed. */
static int watch_start(struct csd *d)
{
	int64_t rev = 0;
	int r;

	if ((r = store_revision(d->store, &rev)) < 0) {
		store_state(d, r, "reading the revision");
		return r;
	}
	store_state(d, 0, "revision");
	reconcile_all(d);
	if ((r = store_watch(d->store, "/", rev + 1, &d->watch)) < 0) {
		store_state(d, r, "watch");
		log_warn("store: cannot watch from revision %lld: %s; retrying", (long long)rev + 1,
			 cs_strerror(r));
		d->watch = NULL;
		return r;
	}
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = &d->watch };
	if (store_watch_fd(d->watch) >= 0 &&
	    epoll_ctl(d->epfd, EPOLL_CTL_ADD, store_watch_fd(d->watch), &e) < 0) {
		watch_stop(d);
		return CS_EIO;
	}
	log_info("store: watching from revision %lld", (long long)rev + 1);
	return 0;
}

/*
 * What a changed key asks to reconcile: the vnet T/V its path names
 * (/vnets/T/V, /endpoints/T/V/E, /alloc/addr/T/V/A, /alloc/qos/T/V), nothing
 * (liveness; VNI and quota counters, which always change together with the
 * vnet or endpoint they count), or, for anything else, everything.
 * Returns whether there is something to do.
 */
static bool note_change(struct csd *d, const char *key)
{
	static const char *const by_vnet[] = { "/vnets/", "/endpoints/", "/alloc/addr/",
					       "/alloc/qos/" };
	char tv[2 * (CS_NAME_MAX + 1) + 1];
	const char *p, *s1, *s2;

	if (!strncmp(key, ALIVE_PREFIX, strlen(ALIVE_PREFIX))) {
		model_alive_forget(d);
		return false;
	}
	/* another node took or gave back an id: what this one knows is stale */
	if (!strncmp(key, "/alloc/vni/", 11))
		vni_forget(d);
	/* a node's new public key: every tunnel peer may change */
	if (!strncmp(key, WG_KEYS_PREFIX, strlen(WG_KEYS_PREFIX)))
		encrypt_keys_forget(d);
	if (!strncmp(key, "/alloc/vni/", 11) || !strncmp(key, "/alloc/quota/", 13) ||
	    !strncmp(key, "/alloc/charge/", 14) || !strncmp(key, "/alloc/uid/", 11))
		return false;
	for (size_t i = 0; i < sizeof(by_vnet) / sizeof(by_vnet[0]); i++) {
		if (strncmp(key, by_vnet[i], strlen(by_vnet[i])))
			continue;
		p = key + strlen(by_vnet[i]);
		s1 = strchr(p, '/');
		if (!s1 || s1 == p || !s1[1])
			break;
		s2 = strchr(s1 + 1, '/');
		size_t n = s2 ? (size_t)(s2 - p) : strlen(p);
		if (n >= sizeof(tv) || (s2 && s2 == s1 + 1))
			break;
		memcpy(tv, p, n);
		tv[n] = '\0';
		if (!d->dirty)
			d->dirty = json_object();
		json_t *what = json_object_get(d->dirty, tv);
		if (!what && d->dirty && json_object_set_new(d->dirty, tv, what = json_pack(
				"{s:b, s:{}}", "vnet", 0, "endpoints")) < 0)
			what = NULL;
		if (!what)
			break;
		/* the vnet's own key (its spec, its nodes), or one endpoint */
		if (i == 0)
			json_object_set_new(what, "vnet", json_true());
		else if (i == 1 && s2 && s2[1] && !strchr(s2 + 1, '/'))
			json_object_set_new(json_object_get(what, "endpoints"), s2 + 1, json_true());
		return true;
	}
	d->dirty_all = true;
	return true;
}

/* The coalesced changes: only the vnets they touched, when that says it. */
static void reconcile_changes(struct csd *d)
{
	bool all = d->dirty_all;
	json_t *dirty = d->dirty;

	d->dirty = NULL;
	d->dirty_all = false;
	store_memo(d->store, true);
	if (all)
		reconcile_all(d);
	else if (json_object_size(dirty))
		reconcile_vnets(d, dirty);
	store_memo(d->store, false);
	json_decref(dirty);
	d->reconciled_at = now_ms();
}

static void watch_events(struct csd *d)
{
	struct store_events ev = { 0 };
	bool relevant = false;
	int r = store_watch_read(d->watch, &ev);

	/* changes made through this csd were realized by their handlers: the
	 * watch brings the others' (without this, every create on this node
	 * reconciled its vnet again, most of a create's cost on etcd) */
	bool foreign = false;
	for (size_t i = 0; i < ev.n; i++) {
		if (ev.v[i].own)
			continue;
		foreign = true;
		if (note_change(d, ev.v[i].key))
			relevant = true;
	}
	store_events_clear(&ev);
	/* a change made through another node may take a right away (an owner,
	 * a member removed): what client_may_use() remembers is decided anew */
	if (foreign)
		d->gen++;
	/* a change after a quiet spell is reconciled at once (etcd delivers a
	 * revision's events together); those that follow within DEBOUNCE_MS
	 * of a reconciliation are coalesced into the next one */
	if (relevant && !d->debounce_armed) {
		uint64_t since = now_ms() - d->reconciled_at;
		if (since >= DEBOUNCE_MS) {
			reconcile_changes(d);
		} else {
			timer_once_ms(d->debounce_fd, (unsigned)(DEBOUNCE_MS - since));
			d->debounce_armed = true;
		}
	}
	if (r == CS_ECOMPACTED) {
		log_info("store: the watched history was compacted; re-listing");
		watch_stop(d);
		watch_start(d);
	} else if (r < 0) {
		log_warn("store: watch failed: %s; retrying", cs_strerror(r));
		watch_stop(d);
	}
}

/*
 * This node's liveness: /nodes-alive/NODE on a lease of NODE_TTL_S that
 * each call renews. A lease found expired (the store was away longer than
 * the TTL, or csd was stopped with SIGKILL and restarted) is replaced by a
 * new one. Then its registration for vnets to name it.
 */
static int node_alive(struct csd *d)
{
	char key[KEY_MAX];
	int64_t id = 0, ttl = 0;
	json_t *doc;
	char *text;
	int r;

	if (d->lease) {
		r = store_lease_keepalive(d->store, d->lease, &ttl);
		store_state(d, r, "lease keepalive");
		if (r != CS_ENOENT)
			return r;
		log_warn("node %s: its liveness lease expired (the store was away for %d s or "
			 "more); taking a new one", d->cfg.node, NODE_TTL_S);
		d->lease = 0;
	}
	if ((r = store_lease_grant(d->store, NODE_TTL_S, &id, &ttl)) < 0) {
		store_state(d, r, "lease grant");
		return r;
	}
	snprintf(key, sizeof(key), ALIVE_PREFIX "%s", d->cfg.node);
	/* the backend too: nodes with privileges peer with one without only
	 * when their administrators declare it "unprivileged" */
	doc = json_pack("{s:s?, s:s, s:I, s:I, s:I}", "underlay", d->cfg.underlay, "backend",
			d->cfg.backend, "since", (json_int_t)time(NULL), "lease", (json_int_t)id,
			"ttl", (json_int_t)ttl);
	text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!text) {
		store_lease_revoke(d->store, id, NULL);
		return CS_ENOMEM;
	}
	/* the key moves to the new lease; an old one left by a killed csd
	 * expires holding nothing */
	r = store_put_lease(d->store, key, text, id, NULL);
	free(text);
	store_state(d, r, "liveness");
	if (r < 0) {
		store_lease_revoke(d->store, id, NULL);
		return r;
	}
	d->lease = id;
	log_info("node %s: alive in the store (lease %llx, TTL %lld s)", d->cfg.node,
		 (unsigned long long)id, (long long)ttl);
	return 1;
}

static void heartbeat(struct csd *d)
{
	char nkey[KEY_MAX];
	struct store_kv kv = { 0 };
	json_t *doc;
	char *text;
	int r;

	/* registered along with each new lease: at start and after an outage */
	r = node_alive(d);
	if (r > 0)
		encrypt_publish(d);
	if (r <= 0 || !d->cfg.underlay)
		return;
	key_node(nkey, d->cfg.node);
	r = store_get(d->store, nkey, &kv);
	store_kv_clear(&kv);
	if (r != CS_ENOENT)
		return;
	doc = json_pack("{s:{s:s}, s:b}", "spec", "underlay", d->cfg.underlay, "registered", 1);
	text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!text)
		return;
	struct store_cmp cmps[1] = { { nkey, 0 } };
	struct store_op ops[1] = { { STORE_PUT, nkey, text } };
	struct store_txn txn = { cmps, 1, ops, 1 };
	if ((r = store_txn(d->store, &txn, NULL)) == 0)
		log_info("node %s registered in the store (underlay %s)", d->cfg.node,
			 d->cfg.underlay);
	else if (r != CS_ECONFLICT)
		log_warn("node %s: cannot register: %s", d->cfg.node, cs_strerror(r));
	free(text);
}

/*
 * Once a second: a partial message whose next part has not come within
 * limits.partial_timeout is dropped (the memory it held goes back to its
 * uid), and once nobody holds partial messages any more after many were
 * held, freed memory goes back to the system.
 */
static void sweep(struct csd *d)
{
	uint64_t now = now_ms(), max = d->cfg.limits.partial_timeout * 1000;
	struct client *touched[64];
	int nt = 0;

	for (struct client *c = d->clients; c && nt < 64; c = c->next) {
		if (!c->rx.cap || now - c->rx_at < max)
			continue;
		json_t *e = cs_msg_error(0, CS_EPROTO, "a partial message waited more than %zu s "
					 "for its next part (limits.partial_timeout); dropped",
					 d->cfg.limits.partial_timeout);
		cs_wire_rx_reset(&c->rx);
		if (e)
			client_queue(d, c, e, NULL, 0);
		json_decref(e);
		client_flush(d, c);
		touched[nt++] = c;
	}
	for (int i = 0; i < nt; i++) {
		if (touched[i]->dead)
			client_free(d, touched[i]);
		else
			client_update_events(d, touched[i]);
	}
	/* connections paused for their uid's queued fds read again once the
	 * uid's other connections took theirs */
	for (struct client *c = d->clients; c; c = c->next)
		client_update_events(d, c);
	if (limits_trim_due(d))
		malloc_trim(0);
}

static void tick(struct csd *d)
{
	uint64_t now = now_ms();

	/* the tick is HEARTBEAT_MS too: do not skip one for a late wakeup */
	if (!d->heartbeat_at || now - d->heartbeat_at >= HEARTBEAT_MS - 100) {
		d->heartbeat_at = now;
		heartbeat(d);
	}
	if (!d->watch)
		watch_start(d);
}

/* The state directory holds the store's file and keys: csd's own. The run
 * directory holds the sockets of the stack processes (user backend) and
 * the prefix's claim: no other user may plant links there either. */
static int dir_check(const char *dir, mode_t mode, const char *what)
{
	char err[PATH_MAX + 512];
	int fd = safedir_open(dir, mode, what, err, sizeof(err));

	if (fd < 0) {
		log_err("%s", err);
		return fd;
	}
	close(fd);
	return 0;
}

/* The run directory, when a backend csd runs keeps what it starts there
 * (VNET_CAP_RUN_DIR: the user backend's stack sockets). */
static int run_dir_check(struct csd *d)
{
	bool need = false;

	for (size_t i = 0; i <= d->cfg.nbackends; i++) {
		const struct vnet_ops *ops = vnet_ops_find(i ? d->cfg.backends[i - 1]
							     : d->cfg.backend);
		if (ops && (ops->caps & VNET_CAP_RUN_DIR))
			need = true;
	}
	return need ? dir_check(d->cfg.run_dir, 0755, "run_dir") : 0;
}

/*
 * A shared store that answers but refuses csd (a certificate, the password,
 * a permission) is a configuration to mend: csd does not start.  One that
 * does not answer is an outage: csd serves and retries.
 */
static int store_check(struct csd *d)
{
	int64_t rev;
	int r;

	if (!csd_store_shared(d))
		return 0;
	if (d->cfg.etcd_user && d->cfg.etcd_endpoints &&
	    strncmp(d->cfg.etcd_endpoints[0], "https://", 8))
		log_warn("store: user %s authenticates over plain http: its password and token "
			 "cross the network in clear; use https:// and store.tls", d->cfg.etcd_user);
	r = store_revision(d->store, &rev);
	if (r == CS_EUNAVAIL && store_error(d->store)) {
		log_err("store: %s", store_error(d->store));
		log_err("not starting: the store refuses this configuration; mend it and start again");
		return CS_EINVAL;
	}
	return 0;
}

int csd_init(struct csd *d)
{
	struct store_config sc = {
		.type = d->cfg.store_type, .dir = d->cfg.state_dir,
		.endpoints = (const char *const *)d->cfg.etcd_endpoints,
		.prefix = d->cfg.etcd_prefix,
		.tls_ca = d->cfg.etcd_ca, .tls_cert = d->cfg.etcd_cert, .tls_key = d->cfg.etcd_key,
		.user = d->cfg.etcd_user, .password = d->cfg.etcd_password,
		.password_file = d->cfg.etcd_password_file,
	};
	int r;

	d->epfd = d->listen_fd = d->signal_fd = d->timer_fd = d->claim_fd = -1;
	d->debounce_fd = d->tick_fd = d->reserve_fd = d->sweep_fd = -1;
	d->store_up = true;
	d->started = now_ms();
	if ((r = dir_check(d->cfg.state_dir, 0700, "state directory")) < 0)
		return r;
	if ((r = store_open(&sc, &d->store)) < 0) {
		log_err("cannot open the %s store in %s: %s", sc.type ? sc.type : "sqlite",
			sc.dir, cs_strerror(r));
		return r;
	}
	/* the store keeps its own copy: one fewer in memory */
	if (d->cfg.etcd_password) {
		explicit_bzero(d->cfg.etcd_password, strlen(d->cfg.etcd_password));
		free(d->cfg.etcd_password);
		d->cfg.etcd_password = NULL;
	}
	if ((r = store_check(d)) < 0)
		return r;
	if ((r = run_dir_check(d)) < 0 || (r = csd_backends_open(d)) < 0)
		return r;
	if ((r = claim_take(d)) < 0)
		return r;
	if ((r = encrypt_init(d)) < 0)
		return r;
	if ((r = listen_socket(d)) < 0)
		return r;
	clients_bound(d);
	json_budget_install();
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	d->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	d->sweep_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (d->epfd < 0 || d->signal_fd < 0 || d->timer_fd < 0 || d->sweep_fd < 0)
		return CS_EIO;
	struct itimerspec one = { { 1, 0 }, { 1, 0 } };
	timerfd_settime(d->sweep_fd, 0, &one, NULL);
	unsigned iv = d->cfg.reconcile_interval ? d->cfg.reconcile_interval : 30;
	struct itimerspec its = { { iv, 0 }, { iv, 0 } };
	timerfd_settime(d->timer_fd, 0, &its, NULL);
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = &d->listen_fd };
	epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->listen_fd, &e);
	e.data.ptr = &d->signal_fd;
	epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->signal_fd, &e);
	e.data.ptr = &d->timer_fd;
	epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->timer_fd, &e);
	e.data.ptr = &d->sweep_fd;
	epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->sweep_fd, &e);
	if (csd_store_shared(d)) {
		d->debounce_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		d->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (d->debounce_fd < 0 || d->tick_fd < 0)
			return CS_EIO;
		struct itimerspec t1 = { { 1, 0 }, { 1, 0 } };
		timerfd_settime(d->tick_fd, 0, &t1, NULL);
		e.data.ptr = &d->debounce_fd;
		epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->debounce_fd, &e);
		e.data.ptr = &d->tick_fd;
		epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->tick_fd, &e);
	}
	return 0;
}

/*
 * A reconciliation pass yields to clients: each slice delays a request that
 * comes meanwhile by its length, and a command is several round trips. A
 * slice runs once no request came for PASS_QUIET_MS, or, under a steady
 * stream of them, once the pass waited PASS_WAIT_MS, so it still gets about
 * a tenth of the time. Milliseconds until the next slice is due; 0: now.
 */
#define PASS_QUIET_MS 20
#define PASS_WAIT_MS 100

static int pass_wait(struct csd *d)
{
	uint64_t now = now_ms();
	uint64_t quiet = d->busy_at + PASS_QUIET_MS, waited = d->pass_at + PASS_WAIT_MS;
	uint64_t due = quiet < waited ? quiet : waited;

	return now >= due ? 0 : (int)(due - now);
}

int csd_poll(struct csd *d, int timeout_ms)
{
	struct epoll_event ev[64];
	/* with work left in slices, look at the clients and come back to it */
	int n = epoll_wait(d->epfd, ev, 64, d->ngone ? 0 : d->pass ? pass_wait(d) : timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : CS_EIO;
	struct client *touched[64];
	int nt = 0;

	for (int i = 0; i < n; i++) {
		void *p = ev[i].data.ptr;
		if (metrics_event(d, p) || monitor_event(d, p))
			continue;
		if (p == &d->listen_fd) {
			accept_clients(d);
		} else if (p == &d->signal_fd) {
			struct signalfd_siginfo si;
			while (read(d->signal_fd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGHUP) {
					log_info("SIGHUP: reconciling");
					reconcile_all(d);
				} else {
					log_info("signal %u: stopping; endpoints and their traffic "
						 "keep running", si.ssi_signo);
					d->stopping = true;
				}
			}
		} else if (p == &d->timer_fd) {
			uint64_t x;
			if (read(d->timer_fd, &x, sizeof(x)) == sizeof(x))
				reconcile_pass_start(d);
		} else if (p == &d->watch) {
			if (d->watch)
				watch_events(d);
		} else if (p == &d->debounce_fd) {
			uint64_t x;
			d->debounce_armed = false;
			if (read(d->debounce_fd, &x, sizeof(x)) == sizeof(x))
				reconcile_changes(d);
		} else if (p == &d->tick_fd) {
			uint64_t x;
			if (read(d->tick_fd, &x, sizeof(x)) == sizeof(x))
				tick(d);
		} else if (p == &d->sweep_fd) {
			uint64_t x;
			if (read(d->sweep_fd, &x, sizeof(x)) == sizeof(x))
				sweep(d);
		} else {
			struct client *c = p;
			touched[nt++] = c;
			if (ev[i].events & EPOLLOUT)
				client_flush(d, c);
			if (ev[i].events & EPOLLIN)
				client_read(d, c);
			if (ev[i].events & (EPOLLHUP | EPOLLERR) && !(ev[i].events & EPOLLIN))
				c->dead = true;
		}
	}
	/* reap the dead outside the event array; only clients with events can
	 * have changed, so the cost does not grow with idle connections */
	for (int i = 0; i < nt; i++) {
		if (touched[i]->dead)
			client_free(d, touched[i]);
		else
			client_update_events(d, touched[i]);
	}
	if (d->ngone && !d->stopping)
		ephemeral_gone_slice(d);
	if (d->pass && !d->stopping && pass_wait(d) == 0) {
		reconcile_pass_step(d);
		d->pass_at = now_ms();
	}
	dns_sync(d);
	return 0;
}

int csd_run(struct csd *d)
{
	int r = 0;

	log_info("csd %s serving %s (node %s, prefix %s, store %s in %s)", CS_VERSION,
		 d->cfg.socket_path, d->cfg.node, d->cfg.prefix,
		 d->cfg.store_type ? d->cfg.store_type : "sqlite", d->cfg.state_dir);
	if (csd_store_shared(d))
		tick(d);
	while (!d->stopping && r == 0)
		r = csd_poll(d, -1);
	return r;
}

void csd_fini(struct csd *d)
{
	/* however the loop ended, csd going away is not the programs going away */
	d->stopping = true;
	while (d->clients)
		client_free(d, d->clients);
	monitor_fini(d);
	/* queued names are ownerless ephemerals: the next start deletes them */
	for (size_t i = 0; i < d->ngone; i++)
		free(d->gone[i]);
	free(d->gone);
	d->gone = NULL;
	d->ngone = 0;
	reconcile_pass_stop(d);
	teardown_stop(d);
	vni_free(d);
	dns_stop(d);
	if (d->listen_fd >= 0) {
		close(d->listen_fd);
		unlink(d->cfg.socket_path);
	}
	claim_release(d);
	if (d->epfd >= 0)
		close(d->epfd);
	if (d->signal_fd >= 0)
		close(d->signal_fd);
	if (d->timer_fd >= 0)
		close(d->timer_fd);
	watch_stop(d);
	/* stopped on purpose: down at once rather than when the lease expires
	 * (its endpoints keep running, but nobody answers for them) */
	if (d->lease && d->store && store_lease_revoke(d->store, d->lease, NULL) == 0)
		log_info("node %s: liveness lease revoked", d->cfg.node);
	d->lease = 0;
	json_decref(d->alive);
	json_decref(d->wg_keys);
	json_decref(d->dirty);
	d->alive = d->dirty = d->wg_keys = NULL;
	if (d->debounce_fd >= 0)
		close(d->debounce_fd);
	if (d->tick_fd >= 0)
		close(d->tick_fd);
	if (d->sweep_fd >= 0)
		close(d->sweep_fd);
	if (d->reserve_fd >= 0)
		close(d->reserve_fd);
	d->sweep_fd = d->reserve_fd = -1;
	limits_free(d);
	csd_backends_close(d);
	store_close(d->store);
	free(d->store_why);
	d->store_why = NULL;
	d->backend = NULL;
	d->store = NULL;
}
