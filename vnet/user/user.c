/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The user backend: no privileges. Each vnet on this node is a stack
 * process (cs-stack, vnet/user/stack.h) that csd starts, talks to over
 * RUN_DIR/user/TENANT.VNET.sock and finds again after a restart; each
 * endpoint is an interface of it. Programs get channels (socketpairs)
 * whose other end csd hands to the stack, never a socket of the host.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "user_up.h"
#include "ustack.h"
#include "vnet/vnet.h"

#define CALL_TIMEOUT_S 5
#define SPAWN_WAIT_MS 10000

/* What this csd told a stack about one endpoint, to tell a stack started
 * again at once (not at the next reconciliation). op 0: not told. */
struct ep_memo {
	struct us_req add, qos, fw;
	struct us_rule *rules;
	struct ep_memo *next;
};

/* when to start a stack that is not running */
enum start { START_NO, START_YES, START_KNOWN /* if this csd told it of endpoints */ };

struct ustack {
	char tv[2 * US_NAME_MAX + 2];   /* "tenant/vnet" */
	int fd;
	pid_t pid;                      /* when this csd started it */
	struct ep_memo *memos;
	uint32_t vni;                   /* across nodes: its uplink's (0: none) */
	struct ustack *next;
};

struct user_backend {
	struct vnet_backend base;
	pthread_mutex_t lock;
	char dir[PATH_MAX - 80];
	struct ustack *stacks;
	struct uup *up;                 /* the VXLAN socket (user_up.h) */
};

static struct user_backend *ub_of(struct vnet_backend *b)
{
	return (struct user_backend *)b;
}

static int __attribute__((format(printf, 3, 4)))
uerr(struct user_backend *ub, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ub->base.error, sizeof(ub->base.error), fmt, ap);
	va_end(ap);
	return code;
}

static void sock_path(const struct user_backend *ub, const char *tv, const char *ext, char *buf,
		      size_t len)
{
	char name[sizeof(((struct ustack *)0)->tv)];

	snprintf(name, sizeof(name), "%s", tv);
	*strchr(name, '/') = '.';
	snprintf(buf, len, "%s/%s.%s", ub->dir, name, ext);
}

/* The stack program: $CS_STACK, else beside a csd run from the build
 * tree, else the installed one. */
static void stack_program(char *buf, size_t len)
{
	char self[PATH_MAX - 64];
	ssize_t n;

	if (getenv("CS_STACK")) {
		snprintf(buf, len, "%s", getenv("CS_STACK"));
		return;
	}
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) > 0) {
		self[n] = '\0';
		*strrchr(self, '/') = '\0';
		snprintf(buf, len, "%s/../vnet/user/cs-stack", self);
		if (access(buf, X_OK) == 0)
			return;
	}
	snprintf(buf, len, "%s/cs-stack", CS_LIBEXECDIR);
}

static int ctl_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = CALL_TIMEOUT_S };
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Start the stack of @st; 1 once it answers, or a code. */
static int spawn(struct user_backend *ub, struct ustack *st)
{
	char path[PATH_MAX], log[PATH_MAX], prog[PATH_MAX];
	pid_t pid;

	sock_path(ub, st->tv, "sock", path, sizeof(path));
	sock_path(ub, st->tv, "log", log, sizeof(log));
	stack_program(prog, sizeof(prog));
	unlink(path);
	if ((pid = fork()) < 0)
		return uerr(ub, CS_EIO, "vnet %s: cannot start its stack: %s", st->tv, strerror(errno));
	if (pid == 0) {
		/* its own session: a signal to csd's group does not reach it */
		setsid();
		int null = open("/dev/null", O_RDWR);
		int lfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, 0600);
		dup2(null, 0);
		dup2(null, 1);
		dup2(lfd >= 0 ? lfd : null, 2);
		close_range(3, ~0U, 0);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execl(prog, "cs-stack", path, st->tv, (char *)NULL);
		dprintf(2, "cs-stack: cannot run %s: %s\n", prog, strerror(errno));
		_exit(127);
	}
	st->pid = pid;
	for (int waited = 0; waited < SPAWN_WAIT_MS; waited += 5) {
		if ((st->fd = ctl_connect(path)) >= 0)
			return 1;
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			st->pid = 0;
			break;
		}
		nanosleep(&(struct timespec){ .tv_nsec = 5000000 }, NULL);
	}
	return uerr(ub, CS_EIO, "vnet %s: its stack %s did not start (see %s)", st->tv, prog, log);
}

static struct ustack *stack_find(struct user_backend *ub, const char *tv, bool add)
{
	struct ustack *st;

	for (st = ub->stacks; st; st = st->next)
		if (!strcmp(st->tv, tv))
			return st;
	if (!add || !(st = calloc(1, sizeof(*st))))
		return NULL;
	snprintf(st->tv, sizeof(st->tv), "%s", tv);
	st->fd = -1;
	st->next = ub->stacks;
	ub->stacks = st;
	return st;
}

static void memo_free(struct ep_memo *m)
{
	if (m)
		free(m->rules);
	free(m);
}

static void stack_drop(struct user_backend *ub, struct ustack *st)
{
	while (st->memos) {
		struct ep_memo *m = st->memos;
		st->memos = m->next;
		memo_free(m);
	}
	for (struct ustack **pp = &ub->stacks; *pp; pp = &(*pp)->next)
		if (*pp == st) {
			*pp = st->next;
			break;
		}
	if (st->fd >= 0)
		close(st->fd);
	if (st->pid > 0)
		waitpid(st->pid, NULL, WNOHANG);
	free(st);
}

/* Reach the stack: the connection held, a running one (adopted), or, when
 * @start, a new one (1). */
static int stack_reach(struct user_backend *ub, struct ustack *st, bool start)
{
	char path[PATH_MAX];

	if (st->pid > 0 && waitpid(st->pid, NULL, WNOHANG) == st->pid)
		st->pid = 0;
	if (st->fd >= 0)
		return 0;
	sock_path(ub, st->tv, "sock", path, sizeof(path));
	if ((st->fd = ctl_connect(path)) >= 0)
		return 0;
	if (!start)
		return CS_ENOENT;
	return spawn(ub, st);
}

static int send_req(int fd, const struct us_req *q, const void *extra, size_t elen, int chfd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov[2] = { { (void *)q, sizeof(*q) }, { (void *)extra, elen } };
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = elen ? 2 : 1 };

	if (chfd >= 0) {
		m.msg_control = cbuf;
		m.msg_controllen = sizeof(cbuf);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &chfd, sizeof(int));
	}
	return sendmsg(fd, &m, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

/* One request on the connection and its reply; 0, or -1 when the
 * connection broke. */
static int exchange(struct ustack *st, const struct us_req *q, const void *extra, size_t elen,
		    int chfd, struct us_rep *rep)
{
	memset(rep, 0, sizeof(*rep));
	if (send_req(st->fd, q, extra, elen, chfd) < 0 ||
	    recv(st->fd, rep, sizeof(*rep), 0) < (ssize_t)offsetof(struct us_rep, text))
		return -1;
	rep->text[sizeof(rep->text) - 1] = '\0';
	return 0;
}

static struct ep_memo **memo_at(struct ustack *st, const char *ep)
{
	struct ep_memo **pp = &st->memos;

	while (*pp && strcmp((*pp)->add.ep, ep))
		pp = &(*pp)->next;
	return pp;
}

/* Note what the stack took, so that a new stack is told the same. */
static void memo_note(struct ustack *st, const struct us_req *q, const void *extra, size_t elen)
{
	struct ep_memo **pp = memo_at(st, q->ep), *m = *pp;

	if (q->op == US_EP_DEL && m) {
		*pp = m->next;
		memo_free(m);
		return;
	}
	if ((q->op != US_EP_ADD && !m) || (q->op != US_EP_ADD && q->op != US_EP_QOS &&
					   q->op != US_EP_FW))
		return;
	if (!m && !(m = *pp = calloc(1, sizeof(*m))))
		return;
	if (q->op == US_EP_ADD)
		m->add = *q;
	else if (q->op == US_EP_QOS)
		m->qos = *q;
	else {
		struct us_rule *copy = elen ? malloc(elen) : NULL;
		if (elen && !copy)
			return;
		if (elen)
			memcpy(copy, extra, elen);
		free(m->rules);
		m->rules = copy;
		m->fw = *q;
	}
}

/* A stack started again: its endpoints, rules and reservations first. */
static int replay(struct ustack *st)
{
	struct us_rep rep;

	for (struct ep_memo *m = st->memos; m; m = m->next)
		if (exchange(st, &m->add, NULL, 0, -1, &rep) < 0 ||
		    (m->qos.op && exchange(st, &m->qos, NULL, 0, -1, &rep) < 0) ||
		    (m->fw.op && exchange(st, &m->fw, m->rules, m->fw.nrules * sizeof(*m->rules),
					  -1, &rep) < 0))
			return -1;
	return 0;
}

/*
 * One request to the stack of @tv and its reply. A connection that broke
 * (the stack was restarted, or csd was) is made again once; @start starts
 * a stack that is not running. CS_ENOENT: no stack and not @start.
 */
static int call(struct user_backend *ub, const char *tv, enum start start, const struct us_req *q,
		const void *extra, size_t elen, int chfd, struct us_rep *rep)
{
	struct ustack *st = stack_find(ub, tv, true);
	int r = CS_ENOMEM;

	if (!st)
		return uerr(ub, r, "vnet %s: out of memory", tv);
	for (int attempt = 0; attempt < 2; attempt++) {
		bool s = start == START_YES || (start == START_KNOWN && st->memos);
		if ((r = stack_reach(ub, st, s)) < 0)
			break;
		if ((r == 0 || replay(st) == 0) && exchange(st, q, extra, elen, chfd, rep) == 0) {
			if (rep->code < 0)
				return uerr(ub, rep->code, "vnet %s: %s", tv, rep->text[0] ? rep->text
						: cs_strerror(rep->code));
			memo_note(st, q, extra, elen);
			return 0;
		}
		close(st->fd);
		st->fd = -1;
		r = uerr(ub, CS_EIO, "vnet %s: its stack does not answer", tv);
	}
	/* a stack not running forgets a deleted endpoint all the same; one
	 * this csd told nothing is not kept */
	if (r == CS_ENOENT && q->op == US_EP_DEL)
		memo_note(st, q, NULL, 0);
	if (r == CS_ENOENT && !st->memos)
		stack_drop(ub, st);
	return r;
}

static int locked_call(struct vnet_backend *b, const char *t, const char *v, enum start start,
		       const struct us_req *q, const void *extra, size_t elen, int chfd,
		       struct us_rep *rep)
{
	struct user_backend *ub = ub_of(b);
	char tv[2 * US_NAME_MAX + 2];
	int r;

	snprintf(tv, sizeof(tv), "%s/%s", t, v);
	pthread_mutex_lock(&ub->lock);
	r = call(ub, tv, start, q, extra, elen, chfd, rep);
	pthread_mutex_unlock(&ub->lock);
	return r;
}

static struct us_req req_for(enum us_op op, const char *endpoint)
{
	struct us_req q = { .op = op };

	if (endpoint)
		snprintf(q.ep, sizeof(q.ep), "%s", endpoint);
	return q;
}

static int user_open(const struct vnet_backend_config *cfg, struct vnet_backend **out)
{
	struct user_backend *ub = calloc(1, sizeof(*ub));
	struct stat st;

	*out = NULL;
	if (!ub)
		return CS_ENOMEM;
	ub->base.ops = &vnet_user_ops;
	if (uup_new(&ub->up) < 0) {
		free(ub);
		return CS_ENOMEM;
	}
	pthread_mutex_init(&ub->lock, NULL);
	if (snprintf(ub->dir, sizeof(ub->dir), "%s/user", cfg->run_dir ? cfg->run_dir : "/run/cs")
	    >= (int)sizeof(ub->dir) - 80) {
		uup_free(ub->up);
		free(ub);
		return CS_EINVAL;
	}
	/* the run directory is checked by csd (safedir); this one is csd's
	 * user's alone */
	mkdir(cfg->run_dir ? cfg->run_dir : "/run/cs", 0755);
	mkdir(ub->dir, 0700);
	if (lstat(ub->dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077)) {
		uup_free(ub->up);
		free(ub);
		return CS_EPERM;
	}
	*out = &ub->base;
	return 0;
}

static void user_close(struct vnet_backend *b)
{
	struct user_backend *ub = ub_of(b);

	if (!ub)
		return;
	/* the stacks live on: a restarted csd adopts them */
	while (ub->stacks)
		stack_drop(ub, ub->stacks);
	/* the stacks keep sending through their dups; what comes in waits in
	 * the socket's buffer until the next csd takes the port over */
	uup_free(ub->up);
	pthread_mutex_destroy(&ub->lock);
	free(ub);
}

static int each_stack(struct vnet_backend *b, int (*fn)(struct vnet_backend *b, const char *tv,
							void *ctx), void *ctx);

/* A stack lets go of its dup of the VXLAN socket (that of a csd before). */
static int unplug_one(struct vnet_backend *b, const char *tv, void *ctx)
{
	struct us_req q = req_for(US_UNDERLAY, NULL);
	struct us_rep rep;
	char t[US_NAME_MAX];
	const char *v = strchr(tv, '/') + 1;

	snprintf(t, sizeof(t), "%.*s", (int)(v - tv - 1), tv);
	locked_call(b, t, v, START_NO, &q, NULL, 0, -1, &rep);
	return 0;
}

/* This node's VXLAN socket: opened, or taken over from the stacks that
 * hold it still (they sent through it for the csd before this one). */
static int underlay_bind(struct vnet_backend *b, const struct vnet_spec *v)
{
	int r = uup_bind(ub_of(b)->up, v);

	if (r == CS_EIO && errno == EADDRINUSE) {
		each_stack(b, unplug_one, NULL);
		r = uup_bind(ub_of(b)->up, v);
	}
	if (r < 0)
		return uerr(ub_of(b), r, "vnet %s/%s: cannot open this node's VXLAN port %u: %s "
			    "(another program holds it? see csd(8) BACKENDS)", v->tenant, v->name,
			    v->local_port ? v->local_port : CS_VXLAN_PORT,
			    r == CS_EIO ? strerror(errno) : cs_strerror(r));
	return 0;
}

/* The vnet spans nodes: its stack's uplink and its dup of the socket. */
static int underlay_ensure(struct vnet_backend *b, const struct vnet_spec *v)
{
	struct us_req q = req_for(US_UPLINK, NULL);
	struct us_rep rep;
	struct uvx_peer *peers;
	size_t n;
	int r, end = -1, sock = -1;

	if ((r = uup_peers(v, &peers, &n)) < 0)
		return uerr(ub_of(b), r, "vnet %s/%s: a node's underlay address is not of this "
			    "node's family", v->tenant, v->name);
	if (uup_current(ub_of(b)->up, v->id, peers, n) || (r = underlay_bind(b, v)) < 0 ||
	    (r = uup_attach(ub_of(b)->up, v->id, peers, n, &end, &sock)) < 0)
		goto out;
	if ((r = locked_call(b, v->tenant, v->name, START_YES, &q, NULL, 0, end, &rep)) == 0) {
		q = req_for(US_UNDERLAY, NULL);
		q.arg = (int32_t)v->id;
		q.nrules = (uint32_t)n;
		r = locked_call(b, v->tenant, v->name, START_YES, &q, peers, n * sizeof(*peers),
				sock, &rep);
	}
	if (r < 0)
		uup_detach(ub_of(b)->up, v->id);
out:
	if (end >= 0)
		close(end);
	if (sock >= 0)
		close(sock);
	free(peers);
	return r;
}

static int user_vnet_ensure(struct vnet_backend *b, const struct vnet_spec *v)
{
	struct us_req q = req_for(US_HELLO, NULL);
	struct us_rep rep;
	char tv[2 * US_NAME_MAX + 2];
	int r;

	if (!v->has4)
		return uerr(ub_of(b), CS_ENOTSUP, "vnet %s/%s: the user backend needs an IPv4 "
			    "subnet (its stacks carry IPv4 only)", v->tenant, v->name);
	if ((r = locked_call(b, v->tenant, v->name, START_YES, &q, NULL, 0, -1, &rep)) < 0)
		return r;
	snprintf(tv, sizeof(tv), "%s/%s", v->tenant, v->name);
	pthread_mutex_lock(&ub_of(b)->lock);
	struct ustack *st = stack_find(ub_of(b), tv, false);
	uint32_t was = st ? st->vni : 0;
	if (st)
		st->vni = v->npeers ? v->id : 0;
	pthread_mutex_unlock(&ub_of(b)->lock);
	if (was && (!v->npeers || was != v->id))
		uup_detach(ub_of(b)->up, was);
	if (v->npeers)
		return underlay_ensure(b, v);
	if (was)	/* the vnet left the other nodes: it stays on this one */
		unplug_one(b, tv, NULL);
	return 0;
}

static int user_vnet_destroy(struct vnet_backend *b, const char *t, const char *v)
{
	struct user_backend *ub = ub_of(b);
	struct us_req q = req_for(US_QUIT, NULL);
	struct us_rep rep;
	char tv[2 * US_NAME_MAX + 2], path[PATH_MAX];
	int r = locked_call(b, t, v, START_NO, &q, NULL, 0, -1, &rep);

	if (r < 0 && r != CS_ENOENT)
		return r;
	snprintf(tv, sizeof(tv), "%s/%s", t, v);
	pthread_mutex_lock(&ub->lock);
	struct ustack *st = stack_find(ub, tv, false);
	/* a stack this csd started is its child: reaped, not left a zombie
	 * (it exits right after its reply) */
	for (int i = 0; st && st->pid > 0 && i < 200; i++) {
		if (waitpid(st->pid, NULL, WNOHANG) != 0)
			st->pid = 0;
		else
			nanosleep(&(struct timespec){ .tv_nsec = 5000000 }, NULL);
	}
	if (st && st->vni)
		uup_detach(ub->up, st->vni);
	if (st)
		stack_drop(ub, st);
	sock_path(ub, tv, "sock", path, sizeof(path));
	unlink(path);
	sock_path(ub, tv, "log", path, sizeof(path));
	unlink(path);
	pthread_mutex_unlock(&ub->lock);
	return 0;
}

static int user_endpoint_ensure(struct vnet_backend *b, const struct vnet_spec *v,
				const struct endpoint_spec *e)
{
	struct us_req q = req_for(US_EP_ADD, e->name);
	struct us_rep rep;

	if (!e->has4)
		return uerr(ub_of(b), CS_ENOTSUP, "endpoint %s/%s/%s: needs an IPv4 address on "
			    "the user backend", v->tenant, v->name, e->name);
	memcpy(&q.addr4, e->addr4.a, 4);
	q.plen = (uint8_t)v->subnet4.plen;
	/* a MAC of its own, unique in the vnet as its address is */
	q.mac[0] = 0x02;
	q.mac[1] = 0x63;
	memcpy(q.mac + 2, e->addr4.a, 4);
	q.dflt = e->guarded ? US_FW_DENY : US_FW_NONE;
	/* the vnet is realized first (vnet_ensure starts its stack); a stack
	 * that died since comes back with what it had */
	int r = locked_call(b, v->tenant, v->name, START_KNOWN, &q, NULL, 0, -1, &rep);
	if (r == CS_ENOENT)
		return uerr(ub_of(b), r, "endpoint %s/%s/%s: vnet %s/%s is not realized on this "
			    "node (its stack is not running)", v->tenant, v->name, e->name,
			    v->tenant, v->name);
	return r;
}

static int user_endpoint_destroy(struct vnet_backend *b, const char *t, const char *v,
				 const char *e)
{
	struct us_req q = req_for(US_EP_DEL, e);
	struct us_rep rep;
	int r = locked_call(b, t, v, START_NO, &q, NULL, 0, -1, &rep);

	return r == CS_ENOENT ? 0 : r;
}

static int user_endpoint_socket(struct vnet_backend *b, const char *t, const char *v,
				const char *e, int domain, int type, int protocol)
{
	return uerr(ub_of(b), CS_ENOTSUP, "endpoint %s/%s/%s: the user backend hands out "
		    "channels, not sockets: use cs_connect, cs_listen or cs_accept", t, v, e);
}

static int user_endpoint_netns(struct vnet_backend *b, const char *t, const char *v,
			       const char *e)
{
	return uerr(ub_of(b), CS_ENOTSUP, "endpoint %s/%s/%s: the user backend has no network "
		    "namespaces (no exec or netns); programs use libcs channels", t, v, e);
}

static int user_endpoint_stats(struct vnet_backend *b, const char *t, const char *v,
			       const char *e, struct endpoint_stats *out)
{
	struct us_req q = req_for(US_EP_STATS, e);
	struct us_rep rep;
	int r = locked_call(b, t, v, START_KNOWN, &q, NULL, 0, -1, &rep);

	if (r < 0)
		return r;
	*out = (struct endpoint_stats){ rep.rx_bytes, rep.tx_bytes, rep.rx_packets,
					rep.tx_packets, rep.rx_dropped, rep.tx_dropped };
	return 0;
}

static int user_endpoint_denied(struct vnet_backend *b, const char *t, const char *v,
				const char *e, uint64_t *packets)
{
	struct us_req q = req_for(US_EP_STATS, e);
	struct us_rep rep;
	int r = locked_call(b, t, v, START_KNOWN, &q, NULL, 0, -1, &rep);

	if (r < 0)
		return r;
	if (!rep.arg)
		return CS_ENOENT;
	*packets = rep.denied;
	return 0;
}

static int inv_add(char ***v, size_t *n, const char *s)
{
	char **nv = realloc(*v, (*n + 1) * sizeof(*nv));

	if (!nv)
		return CS_ENOMEM;
	*v = nv;
	if (!(nv[*n] = strdup(s)))
		return CS_ENOMEM;
	(*n)++;
	return 0;
}

/* The endpoints the stack of @tv holds, into @out. */
static int inv_endpoints(struct vnet_backend *b, const char *tv, struct vnet_inventory *out)
{
	struct us_req q = req_for(US_LIST, NULL);
	struct us_rep rep;
	char t[US_NAME_MAX], full[3 * US_NAME_MAX + 3];
	const char *v = strchr(tv, '/') + 1;

	snprintf(t, sizeof(t), "%.*s", (int)(v - tv - 1), tv);
	if (locked_call(b, t, v, START_NO, &q, NULL, 0, -1, &rep) < 0)
		return 0;
	for (char *save = NULL, *s = strtok_r(rep.text, "\n", &save); s;
	     s = strtok_r(NULL, "\n", &save)) {
		snprintf(full, sizeof(full), "%s/%s", tv, s);
		if (inv_add(&out->endpoints, &out->nendpoints, full) < 0)
			return CS_ENOMEM;
	}
	return 0;
}

/* @fn on every stack whose socket is in the run directory ("tenant/vnet"),
 * until it returns an error. */
static int each_stack(struct vnet_backend *b, int (*fn)(struct vnet_backend *b, const char *tv,
							void *ctx), void *ctx)
{
	DIR *d = opendir(ub_of(b)->dir);
	struct dirent *de;
	int r = 0;

	if (!d)
		return uerr(ub_of(b), CS_EIO, "%s: %s", ub_of(b)->dir, strerror(errno));
	while (r == 0 && (de = readdir(d))) {
		char tv[2 * US_NAME_MAX + 8], *dot;
		size_t n = strlen(de->d_name);
		if (n < 6 || n >= sizeof(tv) || strcmp(de->d_name + n - 5, ".sock"))
			continue;
		snprintf(tv, sizeof(tv), "%.*s", (int)(n - 5), de->d_name);
		if (!(dot = strchr(tv, '.')) || strchr(dot + 1, '.'))
			continue;
		*dot = '/';
		r = fn(b, tv, ctx);
	}
	closedir(d);
	return r;
}

static int inv_one(struct vnet_backend *b, const char *tv, void *ctx)
{
	struct vnet_inventory *out = ctx;
	int r = inv_add(&out->vnets, &out->nvnets, tv);

	return r < 0 ? r : inv_endpoints(b, tv, out);
}

static int user_inventory(struct vnet_backend *b, struct vnet_inventory *out)
{
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = each_stack(b, inv_one, out)) < 0)
		vnet_inventory_clear(out);
	return r;
}

static int user_endpoint_qos(struct vnet_backend *b, const char *t, const char *v,
			     const char *e, const struct vnet_qos *qos)
{
	struct us_req q = req_for(US_EP_QOS, e);
	struct us_rep rep;

	if (qos) {
		/* no link to borrow on: the bucket lets the ceiling through */
		q.rate = (qos->ceil > qos->rate ? qos->ceil : qos->rate) / 8;
		q.burst = qos->burst;
	}
	int r = locked_call(b, t, v, START_KNOWN, &q, NULL, 0, -1, &rep);

	/* removing the shaping of what is not there is done */
	return r == CS_ENOENT && !qos ? 0 : r;
}

/* @fw as the stack's rules: one per IPv4 source, in order (the stack
 * carries IPv4 only: a rule naming only IPv6 sources matches nothing). */
static size_t fw_rules(const struct vnet_fw *fw, struct us_rule *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < fw->n; i++) {
		const struct vnet_fw_rule *r = &fw->rules[i];
		struct us_rule u = { .action = r->action == VNET_FW_ALLOW ? US_FW_ALLOW : US_FW_DENY,
				     .proto = (uint8_t)(r->proto == 58 ? 1 : r->proto),
				     .port_lo = r->port_lo, .port_hi = r->port_hi };
		for (size_t j = 0; j < (r->nsrc ? r->nsrc : 1) && n < max; j++) {
			if (r->nsrc && r->src[j].addr.family != AF_INET)
				continue;
			if (r->nsrc) {
				memcpy(&u.src4, r->src[j].addr.a, 4);
				u.plen = (uint8_t)r->src[j].plen;
				/* 0.0.0.0/0 */
				if (!u.plen)
					u.src4 = 0;
			}
			out[n++] = u;
		}
	}
	return n;
}

static int user_endpoint_policy(struct vnet_backend *b, const char *t, const char *v,
				const char *e, const struct vnet_fw *fw)
{
	struct us_req q = req_for(US_EP_FW, e);
	struct us_rule *rules = calloc(US_RULES_MAX, sizeof(*rules));
	struct us_rep rep;
	int r;

	if (!rules)
		return CS_ENOMEM;
	q.dflt = US_FW_NONE;
	if (fw) {
		q.dflt = fw->dflt == VNET_FW_ALLOW ? US_FW_ALLOW : US_FW_DENY;
		q.nrules = (uint32_t)fw_rules(fw, rules, US_RULES_MAX);
	}
	r = locked_call(b, t, v, START_KNOWN, &q, rules, q.nrules * sizeof(*rules), -1, &rep);
	free(rules);
	return r == CS_ENOENT && !fw ? 0 : r;
}

static int user_underlay_filter(struct vnet_backend *b, const struct vnet_underlay_rule *rules,
				size_t n)
{
	/* no VXLAN yet: vnets stay on their node (nothing to accept) */
	return 0;
}

static int user_endpoint_channel(struct vnet_backend *b, const char *t, const char *v,
				 const char *e, const struct vnet_channel *ch)
{
	struct us_req q = req_for(US_CHAN, e);
	struct us_rep rep;
	int sv[2], r;

	if ((ch->kind == VNET_CHAN_CONNECT || ch->peer.family) && ch->peer.family != AF_INET)
		return uerr(ub_of(b), CS_ENOTSUP, "endpoint %s/%s/%s: the user backend carries "
			    "IPv4 only", t, v, e);
	q.kind = ch->kind == VNET_CHAN_CONNECT ? US_CHAN_CONNECT
		 : ch->kind == VNET_CHAN_LISTEN ? US_CHAN_LISTEN : US_CHAN_DGRAM;
	q.port = ch->port;
	q.arg = ch->backlog;
	memcpy(&q.addr4, ch->peer.a, 4);
	if (socketpair(AF_UNIX, (ch->kind == VNET_CHAN_CONNECT ? SOCK_STREAM : SOCK_SEQPACKET) |
		       SOCK_CLOEXEC, 0, sv) < 0)
		return uerr(ub_of(b), CS_EIO, "endpoint %s/%s/%s: socketpair: %s", t, v, e,
			    strerror(errno));
	r = locked_call(b, t, v, START_KNOWN, &q, NULL, 0, sv[1], &rep);
	close(sv[1]);
	if (r < 0) {
		close(sv[0]);
		return r == CS_ENOENT ? uerr(ub_of(b), CS_ENOENT, "endpoint %s/%s/%s: its stack "
					     "is not running", t, v, e) : r;
	}
	return sv[0];
}

const struct vnet_ops vnet_user_ops = {
	.name = "user",
	.caps = VNET_CAP_RUN_DIR,
	.open = user_open,
	.close = user_close,
	.vnet_ensure = user_vnet_ensure,
	.vnet_destroy = user_vnet_destroy,
	.endpoint_ensure = user_endpoint_ensure,
	.endpoint_destroy = user_endpoint_destroy,
	.endpoint_socket = user_endpoint_socket,
	.endpoint_netns = user_endpoint_netns,
	.endpoint_stats = user_endpoint_stats,
	.inventory = user_inventory,
	.endpoint_qos = user_endpoint_qos,
	.endpoint_policy = user_endpoint_policy,
	.endpoint_denied = user_endpoint_denied,
	.underlay_filter = user_underlay_filter,
	.endpoint_channel = user_endpoint_channel,
};
