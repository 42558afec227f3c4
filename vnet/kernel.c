/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The kernel backend: a vnet is a namespace "P.TENANT.VNET" holding a VXLAN
 * device vx0 (VNI = vnet id); an endpoint is a namespace
 * "P.TENANT.VNET.ENDPOINT" whose eth0 is a bridge-mode macvlan on vx0 (a
 * veth + bridge per endpoint costs a fifth of the throughput, a macvlan does
 * not). Everything goes through netlink (libnl-route); every step adopts
 * what exists and creates only what is missing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/net_namespace.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/msg.h>
#include <netlink/attr.h>
#include <netlink/route/link.h>
#include <netlink/route/addr.h>
#include <netlink/route/link/macvlan.h>
#include <netlink/route/link/vxlan.h>

#include "cs/cs.h"
#include "kernel_priv.h"
#include "netns.h"
#include "vnet.h"


static struct kernel_backend *kb_of(struct vnet_backend *b)
{
	return (struct kernel_backend *)b;
}

static void __attribute__((format(printf, 2, 3)))
kerr(struct kernel_backend *kb, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(kb->base.error, sizeof(kb->base.error), fmt, ap);
	va_end(ap);
}

static bool part_valid(const char *s)
{
	size_t n;

	if (!s || !*s)
		return false;
	n = strcspn(s, "./ \t\n");
	return !s[n] && n <= PART_MAX;
}

/* "P.T.V" or "P.T.V.E" (@e NULL). */
static int ns_name(struct kernel_backend *kb, char *buf, const char *t, const char *v,
		   const char *e)
{
	if (!part_valid(t) || !part_valid(v) || (e && !part_valid(e))) {
		kerr(kb, "invalid object name \"%s/%s%s%s\": names are 1-%d characters "
		     "without '.' or '/'", t ? t : "", v ? v : "", e ? "/" : "", e ? e : "",
		     PART_MAX);
		return CS_EINVAL;
	}
	if (e)
		snprintf(buf, NSNAME_MAX, "%s.%s.%s.%s", kb->prefix, t, v, e);
	else
		snprintf(buf, NSNAME_MAX, "%s.%s.%s", kb->prefix, t, v);
	return 0;
}

/* --- cache of open namespace fds, keyed by namespace name --- */

static unsigned int name_hash(const char *s)
{
	unsigned int h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h % CACHE_BUCKETS;
}

static struct ns_entry *cache_find(struct kernel_backend *kb, const char *name)
{
	struct ns_entry *e;

	for (e = kb->cache[name_hash(name)]; e; e = e->next)
		if (!strcmp(e->name, name))
			return e;
	return NULL;
}

/* Takes @fd; returns the cached fd for @name (ours, or one already there). */
static int cache_insert_locked(struct kernel_backend *kb, const char *name, int fd)
{
	struct ns_entry *e = cache_find(kb, name);
	unsigned int h;

	if (e) {
		close(fd);
		return e->fd;
	}
	e = malloc(sizeof(*e) + strlen(name) + 1);
	if (!e) {
		close(fd);
		return CS_ENOMEM;
	}
	strcpy(e->name, name);
	e->fd = fd;
	h = name_hash(name);
	e->next = kb->cache[h];
	kb->cache[h] = e;
	return fd;
}

static void cache_drop(struct kernel_backend *kb, const char *name)
{
	struct ns_entry **pp, *e;

	pthread_rwlock_wrlock(&kb->lock);
	for (pp = &kb->cache[name_hash(name)]; (e = *pp); pp = &e->next) {
		if (!strcmp(e->name, name)) {
			*pp = e->next;
			close(e->fd);
			free(e);
			break;
		}
	}
	pthread_rwlock_unlock(&kb->lock);
}

/*
 * A cached fd keeps its namespace alive even after it was deleted by hand,
 * so after an ensure() make the cache point at what is mounted now.
 */
static void cache_refresh(struct kernel_backend *kb, const char *name, int fd)
{
	struct ns_entry *e;
	int dfd;

	pthread_rwlock_wrlock(&kb->lock);
	e = cache_find(kb, name);
	if (e && netns_same(e->fd, name) != 1) {
		dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		if (dfd >= 0) {
			close(e->fd);
			e->fd = dfd;
		}
	}
	pthread_rwlock_unlock(&kb->lock);
}

/* --- netlink --- */

struct nl_open_job {
	struct nl_sock *sk;
	int err;
};

static int nl_open_fn(void *arg)
{
	struct nl_open_job *job = arg;

	job->sk = nl_socket_alloc();
	if (!job->sk)
		return CS_ENOMEM;
	job->err = nl_connect(job->sk, NETLINK_ROUTE);
	if (job->err < 0) {
		nl_socket_free(job->sk);
		job->sk = NULL;
		return CS_EIO;
	}
	return 0;
}

/* A route socket bound to namespace @nsfd (it stays bound to where it was
 * made). @what names the object for the error message. */
static int nl_open_in(struct kernel_backend *kb, int nsfd, const char *nsname,
		      const char *what, struct nl_sock **out)
{
	struct nl_open_job job = { 0 };
	char err[256] = "";
	int r;

	r = netns_run(nsfd, nl_open_fn, &job, err, sizeof(err));
	if (r < 0) {
		if (job.sk)
			nl_socket_free(job.sk);
		if (job.err < 0)
			kerr(kb, "%s: cannot open a netlink socket in namespace %s: %s", what,
			     nsname, nl_geterror(job.err));
		else if (r == CS_ENOMEM)
			kerr(kb, "%s: out of memory", what);
		else
			kerr(kb, "%s: namespace %s: %s", what, nsname, err);
		return r;
	}
	*out = job.sk;
	return 0;
}

static bool nl_absent(int r)
{
	return r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV;
}

/* @link up with @mtu (0: leave it); one request, only if something differs. */
static int link_fix(struct nl_sock *sk, struct rtnl_link *link, int mtu)
{
	struct rtnl_link *chg;
	bool need = false;
	int r;

	chg = rtnl_link_alloc();
	if (!chg)
		return -NLE_NOMEM;
	if (mtu && rtnl_link_get_mtu(link) != (unsigned int)mtu) {
		rtnl_link_set_mtu(chg, mtu);
		need = true;
	}
	if (!(rtnl_link_get_flags(link) & IFF_UP)) {
		rtnl_link_set_flags(chg, IFF_UP);
		need = true;
	}
	r = need ? rtnl_link_change(sk, link, chg, 0) : 0;
	rtnl_link_put(chg);
	return r;
}

static int link_up_by_name(struct nl_sock *sk, const char *name)
{
	struct rtnl_link *link = NULL;
	int r;

	r = rtnl_link_get_kernel(sk, 0, name, &link);
	if (r < 0)
		return r;
	r = link_fix(sk, link, 0);
	rtnl_link_put(link);
	return r;
}

static int link_delete_by_name(struct nl_sock *sk, const char *name)
{
	struct rtnl_link *link;
	int r;

	link = rtnl_link_alloc();
	if (!link)
		return -NLE_NOMEM;
	rtnl_link_set_name(link, name);
	r = rtnl_link_delete(sk, link);
	rtnl_link_put(link);
	return nl_absent(r) ? 0 : r;
}

struct nsid_ctx {
	int32_t id;
	bool done;
};

static int nsid_valid(struct nl_msg *msg, void *arg)
{
	struct nlattr *tb[NETNSA_MAX + 1];
	struct nsid_ctx *ctx = arg;

	if (nlmsg_parse(nlmsg_hdr(msg), sizeof(struct rtgenmsg), tb, NETNSA_MAX, NULL) < 0)
		return NL_SKIP;
	if (tb[NETNSA_NSID])
		ctx->id = (int32_t)nla_get_u32(tb[NETNSA_NSID]);
	return NL_OK;
}

static int nsid_ack(struct nl_msg *msg, void *arg)
{
	struct nsid_ctx *ctx = arg;

	ctx->done = true;
	return NL_STOP;
}

/* The id under which @sk's namespace knows namespace @fd (-1: none). */
static int nsid_of(struct nl_sock *sk, int fd, int32_t *id)
{
	struct rtgenmsg g = { .rtgen_family = AF_UNSPEC };
	struct nsid_ctx ctx = { .id = NETNSA_NSID_NOT_ASSIGNED };
	struct nl_msg *msg;
	struct nl_cb *cb = NULL, *scb;
	int r;

	msg = nlmsg_alloc_simple(RTM_GETNSID, NLM_F_REQUEST);
	if (!msg)
		return -NLE_NOMEM;
	if (nlmsg_append(msg, &g, sizeof(g), NLMSG_ALIGNTO) < 0 ||
	    nla_put_u32(msg, NETNSA_FD, (uint32_t)fd) < 0) {
		r = -NLE_NOMEM;
		goto out;
	}
	scb = nl_socket_get_cb(sk);
	cb = nl_cb_clone(scb);
	nl_cb_put(scb);
	if (!cb) {
		r = -NLE_NOMEM;
		goto out;
	}
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, nsid_valid, &ctx);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, nsid_ack, &ctx);
	r = nl_send_auto(sk, msg);
	/*
	 * The reply and the ACK come in separate reads and the reply is not
	 * multipart: read on until the ACK, or it would be taken for the
	 * answer to the next request (and libnl's sequence check fails).
	 */
	while (r >= 0 && !ctx.done)
		r = nl_recvmsgs(sk, cb);
	*id = ctx.id;
out:
	if (cb)
		nl_cb_put(cb);
	nlmsg_free(msg);
	return r < 0 ? r : 0;
}

/* --- open / close --- */

static bool has_caps(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];
	uint32_t need = (1u << CAP_NET_ADMIN) | (1u << CAP_SYS_ADMIN);

	if (syscall(SYS_capget, &h, d) < 0)
		return geteuid() == 0;
	return (d[0].effective & need) == need;
}

static void kernel_close(struct vnet_backend *b)
{
	struct kernel_backend *kb = kb_of(b);
	struct ns_entry *e, *next;
	int i;

	if (!b)
		return;
	for (i = 0; i < CACHE_BUCKETS; i++) {
		for (e = kb->cache[i]; e; e = next) {
			next = e->next;
			close(e->fd);
			free(e);
		}
	}
	pthread_rwlock_destroy(&kb->lock);
	free(kb);
}

/*
 * The ops table gives open() no other way to explain a failure: when the
 * backend could be allocated, *out is set even on failure so the caller can
 * read vnet_backend_error() before calling close().
 */
static int kernel_open(const struct vnet_backend_config *cfg, struct vnet_backend **out)
{
	struct kernel_backend *kb;
	char err[256];
	int r;

	*out = NULL;
	kb = calloc(1, sizeof(*kb));
	if (!kb)
		return CS_ENOMEM;
	kb->base.ops = &vnet_kernel_ops;
	if (pthread_rwlock_init(&kb->lock, NULL)) {
		free(kb);
		return CS_ENOMEM;
	}
	*out = &kb->base;
	if (!cfg || !part_valid(cfg->prefix) || strlen(cfg->prefix) > VNET_PREFIX_MAX) {
		kerr(kb, "kernel backend: invalid prefix \"%s\": 1-%d characters without "
		     "'.' or '/'", cfg && cfg->prefix ? cfg->prefix : "", VNET_PREFIX_MAX);
		return CS_EINVAL;
	}
	strcpy(kb->prefix, cfg->prefix);
	if (!has_caps()) {
		kerr(kb, "kernel backend: needs CAP_NET_ADMIN and CAP_SYS_ADMIN to create "
		     "network namespaces; run csd as root");
		return CS_EPERM;
	}
	r = netns_init(err, sizeof(err));
	if (r < 0) {
		kerr(kb, "kernel backend: %s", err);
		return r;
	}
	return 0;
}

/* --- vnets --- */

static int vnet_mtu(const struct vnet_spec *v)
{
	return v->mtu ? v->mtu : v->npeers ? VNET_MTU_OVERLAY : VNET_MTU_LOCAL;
}

static bool vxlan_matches(struct rtnl_link *vx, const struct vnet_spec *v)
{
	struct nl_addr *group = NULL;
	uint32_t id, port;
	int32_t nsid;

	if (!rtnl_link_is_vxlan(vx) || rtnl_link_vxlan_get_id(vx, &id) < 0 || id != v->id)
		return false;
	if (rtnl_link_vxlan_get_port(vx, &port) < 0 || port != VXLAN_PORT)
		return false;
	if (rtnl_link_vxlan_get_learning(vx) != 1)
		return false;
	/*
	 * A vnet on one node must not listen on the underlay: its vx0 was made
	 * inside the vnet namespace, so the kernel reports no link namespace
	 * and it has no remote.
	 */
	if (rtnl_link_get_link_netnsid(vx, &nsid) == 0)
		return false;
	if (rtnl_link_vxlan_get_group(vx, &group) == 0) {
		nl_addr_put(group);
		return false;
	}
	return true;
}

static int vxlan_create(struct nl_sock *sk, const struct vnet_spec *v)
{
	struct rtnl_link *vx;
	int r;

	vx = rtnl_link_vxlan_alloc();
	if (!vx)
		return -NLE_NOMEM;
	rtnl_link_set_name(vx, VXLAN_DEV);
	rtnl_link_set_mtu(vx, vnet_mtu(v));
	rtnl_link_set_flags(vx, IFF_UP);
	if ((r = rtnl_link_vxlan_set_id(vx, v->id)) < 0 ||
	    (r = rtnl_link_vxlan_set_port(vx, VXLAN_PORT)) < 0 ||
	    (r = rtnl_link_vxlan_set_learning(vx, 1)) < 0)
		goto out;
	r = rtnl_link_add(sk, vx, NLM_F_CREATE | NLM_F_EXCL);
out:
	rtnl_link_put(vx);
	return r;
}

static int kernel_vnet_ensure(struct vnet_backend *b, const struct vnet_spec *v)
{
	struct kernel_backend *kb = kb_of(b);
	struct rtnl_link *vx = NULL;
	struct nl_sock *sk = NULL;
	char ns[NSNAME_MAX], what[96], err[256];
	int nsfd = -1, r;

	r = ns_name(kb, ns, v->tenant, v->name, NULL);
	if (r < 0)
		return r;
	snprintf(what, sizeof(what), "vnet %s/%s", v->tenant, v->name);
	if (v->id < 1 || v->id > 16777215) {
		kerr(kb, "%s: VNI %u is out of range 1-16777215", what, v->id);
		return CS_EINVAL;
	}
	if (v->mtu && (v->mtu < 68 || v->mtu > 65535)) {
		kerr(kb, "%s: MTU %d is out of range 68-65535", what, v->mtu);
		return CS_EINVAL;
	}
	if (v->npeers > 0) {
		/* later: vx0 made in the underlay namespace, moved in, flood entries */
		kerr(kb, "%s: vnets spanning several nodes are not supported yet", what);
		return CS_ENOTSUP;
	}

	r = netns_add(ns, err, sizeof(err));
	if (r < 0 && r != CS_EEXIST) {
		kerr(kb, "%s: %s", what, err);
		goto out;
	}
	nsfd = netns_open(ns, err, sizeof(err));
	if (nsfd < 0) {
		r = nsfd;
		kerr(kb, "%s: %s", what, err);
		goto out;
	}
	r = nl_open_in(kb, nsfd, ns, what, &sk);
	if (r < 0)
		goto out;

	r = rtnl_link_get_kernel(sk, 0, VXLAN_DEV, &vx);
	if (r < 0 && !nl_absent(r)) {
		kerr(kb, "%s: cannot query " VXLAN_DEV " in namespace %s: %s", what, ns,
		     nl_geterror(r));
		r = CS_EIO;
		goto out;
	}
	if (vx && !vxlan_matches(vx, v)) {
		/* Not ours to keep: the endpoints' macvlans go with it and
		 * their ensure() recreates them on the new one. */
		r = rtnl_link_delete(sk, vx);
		if (r < 0 && !nl_absent(r)) {
			kerr(kb, "%s: cannot delete the mismatched " VXLAN_DEV
			     " in namespace %s: %s", what, ns, nl_geterror(r));
			r = CS_EIO;
			goto out;
		}
		rtnl_link_put(vx);
		vx = NULL;
	}
	if (!vx) {
		r = vxlan_create(sk, v);
		if (r < 0) {
			kerr(kb, "%s: cannot create " VXLAN_DEV " (VNI %u) in namespace %s: %s",
			     what, v->id, ns, nl_geterror(r));
			r = CS_EIO;
			goto out;
		}
	} else {
		r = link_fix(sk, vx, vnet_mtu(v));
		if (r < 0) {
			kerr(kb, "%s: cannot set " VXLAN_DEV " up with MTU %d in namespace %s: %s",
			     what, vnet_mtu(v), ns, nl_geterror(r));
			r = CS_EIO;
			goto out;
		}
	}
	cache_refresh(kb, ns, nsfd);
	r = 0;
out:
	if (vx)
		rtnl_link_put(vx);
	if (sk)
		nl_socket_free(sk);
	if (nsfd >= 0)
		close(nsfd);
	return r;
}

static int kernel_vnet_destroy(struct vnet_backend *b, const char *tenant, const char *vnet)
{
	struct kernel_backend *kb = kb_of(b);
	struct nl_sock *sk = NULL;
	char ns[NSNAME_MAX], what[96], err[256];
	int nsfd = -1, r;

	r = ns_name(kb, ns, tenant, vnet, NULL);
	if (r < 0)
		return r;
	snprintf(what, sizeof(what), "vnet %s/%s", tenant, vnet);
	cache_drop(kb, ns);
	nsfd = netns_open(ns, err, sizeof(err));
	if (nsfd >= 0) {
		r = nl_open_in(kb, nsfd, ns, what, &sk);
		if (r < 0)
			goto out;
		/* Someone may hold the namespace open: deleting vx0 still takes
		 * every endpoint's macvlan down with it. */
		r = link_delete_by_name(sk, VXLAN_DEV);
		if (r < 0) {
			kerr(kb, "%s: cannot delete " VXLAN_DEV " in namespace %s: %s", what, ns,
			     nl_geterror(r));
			r = CS_EIO;
			goto out;
		}
	} else if (nsfd != CS_ENOENT) {
		r = nsfd;
		kerr(kb, "%s: %s", what, err);
		goto out;
	}
	r = netns_delete(ns, err, sizeof(err));
	if (r == CS_ENOENT)
		r = 0;
	else if (r < 0)
		kerr(kb, "%s: %s", what, err);
out:
	if (sk)
		nl_socket_free(sk);
	if (nsfd >= 0)
		close(nsfd);
	return r;
}

/* --- endpoints --- */

static int addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

static const char *addr_str(int family, const void *a, char *buf)
{
	if (!inet_ntop(family, a, buf, INET6_ADDRSTRLEN))
		strcpy(buf, "?");
	return buf;
}

struct want_addr {
	bool want, have;
	int family, plen;
	const struct cs_addr *addr;
};

static bool addr_is(struct rtnl_addr *a, const struct want_addr *w)
{
	struct nl_addr *local = rtnl_addr_get_local(a);

	return w->want && rtnl_addr_get_family(a) == w->family && local &&
	       nl_addr_get_len(local) == (unsigned int)addr_len(w->family) &&
	       !memcmp(nl_addr_get_binary_addr(local), w->addr->a, addr_len(w->family)) &&
	       rtnl_addr_get_prefixlen(a) == w->plen;
}

static int addr_add(struct nl_sock *sk, int ifindex, const struct want_addr *w)
{
	struct rtnl_addr *a;
	struct nl_addr *local;
	int r;

	a = rtnl_addr_alloc();
	local = nl_addr_build(w->family, w->addr->a, addr_len(w->family));
	if (!a || !local) {
		r = -NLE_NOMEM;
		goto out;
	}
	nl_addr_set_prefixlen(local, w->plen);
	rtnl_addr_set_ifindex(a, ifindex);
	rtnl_addr_set_family(a, w->family);
	if ((r = rtnl_addr_set_local(a, local)) < 0)
		goto out;
	rtnl_addr_set_prefixlen(a, w->plen);
	/* usable at once: nobody else on the vnet can hold the address */
	if (w->family == AF_INET6)
		rtnl_addr_set_flags(a, IFA_F_NODAD);
	r = rtnl_addr_add(sk, a, 0);
out:
	if (local)
		nl_addr_put(local);
	if (a)
		rtnl_addr_put(a);
	return r;
}

/* Exactly the wanted addresses on @ifindex (IPv6 link-local aside). */
static int addrs_fix(struct kernel_backend *kb, struct nl_sock *sk, int ifindex,
		     struct want_addr *w, const char *what, bool fresh)
{
	struct nl_cache *cache = NULL;
	struct nl_object *o;
	char buf[INET6_ADDRSTRLEN];
	int i, r = 0;

	/* a link we just made has no address but its link-local one */
	if (!fresh) {
		r = rtnl_addr_alloc_cache(sk, &cache);
		if (r < 0) {
			kerr(kb, "%s: cannot list the addresses of " EP_DEV ": %s", what,
			     nl_geterror(r));
			return CS_EIO;
		}
	}
	for (o = cache ? nl_cache_get_first(cache) : NULL; o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *a = (struct rtnl_addr *)o;
		struct nl_addr *local = rtnl_addr_get_local(a);

		if (rtnl_addr_get_ifindex(a) != ifindex)
			continue;
		if (rtnl_addr_get_family(a) == AF_INET6 &&
		    rtnl_addr_get_scope(a) == RT_SCOPE_LINK)
			continue;
		for (i = 0; i < 2; i++) {
			if (addr_is(a, &w[i])) {
				w[i].have = true;
				break;
			}
		}
		if (i < 2)
			continue;
		r = rtnl_addr_delete(sk, a, 0);
		if (r < 0 && !nl_absent(r) && r != -NLE_NOADDR) {
			kerr(kb, "%s: cannot remove the stray address %s/%d from " EP_DEV ": %s",
			     what, local ? addr_str(rtnl_addr_get_family(a),
						    nl_addr_get_binary_addr(local), buf) : "?",
			     rtnl_addr_get_prefixlen(a), nl_geterror(r));
			r = CS_EIO;
			goto out;
		}
	}
	for (i = 0; i < 2; i++) {
		if (!w[i].want || w[i].have)
			continue;
		r = addr_add(sk, ifindex, &w[i]);
		if (r < 0) {
			kerr(kb, "%s: cannot add address %s/%d to " EP_DEV ": %s", what,
			     addr_str(w[i].family, w[i].addr->a, buf), w[i].plen,
			     nl_geterror(r));
			r = CS_EIO;
			goto out;
		}
	}
	r = 0;
out:
	if (cache)
		nl_cache_free(cache);
	return r;
}

/*
 * Is @eth0 a bridge-mode macvlan on @vx0_index of the namespace @vfd? The
 * lower device lives in another namespace, so the kernel names it by the
 * id the endpoint namespace gives the vnet namespace; an eth0 left on the
 * vx0 of a vnet namespace that was replaced must not be adopted.
 */
static bool eth0_matches(struct nl_sock *esk, struct rtnl_link *eth0, int vfd, int vx0_index)
{
	int32_t lnsid, vnsid;

	if (!rtnl_link_is_macvlan(eth0) ||
	    rtnl_link_macvlan_get_mode(eth0) != MACVLAN_MODE_BRIDGE)
		return false;
	if (rtnl_link_get_link(eth0) != vx0_index)
		return false;
	if (rtnl_link_get_link_netnsid(eth0, &lnsid) < 0)
		return false;
	if (nsid_of(esk, vfd, &vnsid) < 0 || vnsid == NETNSA_NSID_NOT_ASSIGNED)
		return false;
	return lnsid == vnsid;
}

static int macvlan_create(struct nl_sock *vsk, int vx0_index, int efd, int mtu)
{
	struct rtnl_link *mv;
	int r;

	mv = rtnl_link_macvlan_alloc();
	if (!mv)
		return -NLE_NOMEM;
	/*
	 * Made directly in the endpoint namespace under its final name: the
	 * kernel looks the lower device up where the request comes from (the
	 * vnet namespace). One request instead of create, move and rename, and
	 * no temporary link left behind if we are interrupted.
	 */
	rtnl_link_set_name(mv, EP_DEV);
	rtnl_link_set_link(mv, vx0_index);
	rtnl_link_set_mtu(mv, mtu);
	rtnl_link_set_flags(mv, IFF_UP);
	rtnl_link_set_ns_fd(mv, efd);
	r = rtnl_link_macvlan_set_mode(mv, MACVLAN_MODE_BRIDGE);
	if (r >= 0)
		r = rtnl_link_add(vsk, mv, NLM_F_CREATE | NLM_F_EXCL);
	rtnl_link_put(mv);
	return r;
}

static int kernel_endpoint_ensure(struct vnet_backend *b, const struct vnet_spec *v,
				  const struct endpoint_spec *e)
{
	struct kernel_backend *kb = kb_of(b);
	struct rtnl_link *vx = NULL, *eth0 = NULL;
	struct nl_sock *vsk = NULL, *esk = NULL;
	char vns[NSNAME_MAX], ens[NSNAME_MAX], what[128], err[256];
	struct want_addr w[2] = {
		{ .want = e->has4, .family = AF_INET, .plen = v->subnet4.plen, .addr = &e->addr4 },
		{ .want = e->has6, .family = AF_INET6, .plen = v->subnet6.plen, .addr = &e->addr6 },
	};
	int vfd = -1, efd = -1, vx0_index, mtu = vnet_mtu(v), r;
	bool fresh;

	r = ns_name(kb, vns, v->tenant, v->name, NULL);
	if (r < 0)
		return r;
	r = ns_name(kb, ens, v->tenant, v->name, e->name);
	if (r < 0)
		return r;
	snprintf(what, sizeof(what), "endpoint %s/%s/%s", v->tenant, v->name, e->name);
	if ((e->has4 && (e->addr4.family != AF_INET || !v->has4)) ||
	    (e->has6 && (e->addr6.family != AF_INET6 || !v->has6))) {
		kerr(kb, "%s: its address family does not match the vnet's subnets", what);
		return CS_EINVAL;
	}

	vfd = netns_open(vns, err, sizeof(err));
	if (vfd < 0) {
		r = vfd;
		kerr(kb, "%s: vnet %s/%s is not realized: %s", what, v->tenant, v->name, err);
		goto out;
	}
	r = nl_open_in(kb, vfd, vns, what, &vsk);
	if (r < 0)
		goto out;
	r = rtnl_link_get_kernel(vsk, 0, VXLAN_DEV, &vx);
	if (r < 0) {
		kerr(kb, "%s: vnet %s/%s has no " VXLAN_DEV " in namespace %s: %s", what,
		     v->tenant, v->name, vns, nl_geterror(r));
		r = nl_absent(r) ? CS_ENOENT : CS_EIO;
		goto out;
	}
	vx0_index = rtnl_link_get_ifindex(vx);

	r = netns_add(ens, err, sizeof(err));
	if (r < 0 && r != CS_EEXIST) {
		kerr(kb, "%s: %s", what, err);
		goto out;
	}
	fresh = r == 0;
	efd = netns_open(ens, err, sizeof(err));
	if (efd < 0) {
		r = efd;
		kerr(kb, "%s: %s", what, err);
		goto out;
	}
	r = nl_open_in(kb, efd, ens, what, &esk);
	if (r < 0)
		goto out;

	if (!fresh) {
		r = rtnl_link_get_kernel(esk, 0, EP_DEV, &eth0);
		if (r < 0 && !nl_absent(r)) {
			kerr(kb, "%s: cannot query " EP_DEV " in namespace %s: %s", what, ens,
			     nl_geterror(r));
			r = CS_EIO;
			goto out;
		}
		if (eth0 && !eth0_matches(esk, eth0, vfd, vx0_index)) {
			r = rtnl_link_delete(esk, eth0);
			if (r < 0 && !nl_absent(r)) {
				kerr(kb, "%s: cannot delete the mismatched " EP_DEV
				     " in namespace %s: %s", what, ens, nl_geterror(r));
				r = CS_EIO;
				goto out;
			}
			rtnl_link_put(eth0);
			eth0 = NULL;
		}
	}
	if (!eth0) {
		r = macvlan_create(vsk, vx0_index, efd, mtu);
		if (r < 0) {
			kerr(kb, "%s: cannot create a macvlan on " VXLAN_DEV " of %s in namespace "
			     "%s: %s", what, vns, ens, nl_geterror(r));
			r = CS_EIO;
			goto out;
		}
		r = rtnl_link_get_kernel(esk, 0, EP_DEV, &eth0);
		if (r < 0) {
			kerr(kb, "%s: " EP_DEV " vanished from namespace %s after creation: %s",
			     what, ens, nl_geterror(r));
			r = CS_EIO;
			goto out;
		}
		fresh = true;
	} else {
		r = link_fix(esk, eth0, mtu);
		if (r < 0) {
			kerr(kb, "%s: cannot set " EP_DEV " up with MTU %d in namespace %s: %s",
			     what, mtu, ens, nl_geterror(r));
			r = CS_EIO;
			goto out;
		}
	}
	r = addrs_fix(kb, esk, rtnl_link_get_ifindex(eth0), w, what, fresh);
	if (r < 0)
		goto out;
	r = link_up_by_name(esk, "lo");
	if (r < 0) {
		kerr(kb, "%s: cannot set lo up in namespace %s: %s", what, ens, nl_geterror(r));
		r = CS_EIO;
		goto out;
	}
	cache_refresh(kb, vns, vfd);
	cache_refresh(kb, ens, efd);
	r = 0;
out:
	if (eth0)
		rtnl_link_put(eth0);
	if (vx)
		rtnl_link_put(vx);
	if (esk)
		nl_socket_free(esk);
	if (vsk)
		nl_socket_free(vsk);
	if (efd >= 0)
		close(efd);
	if (vfd >= 0)
		close(vfd);
	return r;
}

static int kernel_endpoint_destroy(struct vnet_backend *b, const char *tenant,
				   const char *vnet, const char *endpoint)
{
	struct kernel_backend *kb = kb_of(b);
	struct nl_sock *sk = NULL;
	char ns[NSNAME_MAX], what[128], err[256];
	int nsfd = -1, r;

	r = ns_name(kb, ns, tenant, vnet, endpoint);
	if (r < 0)
		return r;
	snprintf(what, sizeof(what), "endpoint %s/%s/%s", tenant, vnet, endpoint);
	cache_drop(kb, ns);
	nsfd = netns_open(ns, err, sizeof(err));
	if (nsfd >= 0) {
		r = nl_open_in(kb, nsfd, ns, what, &sk);
		if (r < 0)
			goto out;
		/* first, so that sockets already handed out lose the vnet now */
		r = link_delete_by_name(sk, EP_DEV);
		if (r < 0) {
			kerr(kb, "%s: cannot delete " EP_DEV " in namespace %s: %s", what, ns,
			     nl_geterror(r));
			r = CS_EIO;
			goto out;
		}
	} else if (nsfd != CS_ENOENT) {
		r = nsfd;
		kerr(kb, "%s: %s", what, err);
		goto out;
	}
	r = netns_delete(ns, err, sizeof(err));
	if (r == CS_ENOENT)
		r = 0;
	else if (r < 0)
		kerr(kb, "%s: %s", what, err);
out:
	if (sk)
		nl_socket_free(sk);
	if (nsfd >= 0)
		close(nsfd);
	return r;
}

/* The cached fd of @ns, opened on a miss. Returns with kb->lock held (read
 * or write) on success, so that destroy cannot close it under the caller. */
static int ns_fd_locked(struct kernel_backend *kb, const char *ns)
{
	struct ns_entry *ent;
	char err[256];
	int fd;

	pthread_rwlock_rdlock(&kb->lock);
	ent = cache_find(kb, ns);
	if (ent)
		return ent->fd;
	pthread_rwlock_unlock(&kb->lock);

	fd = netns_open(ns, err, sizeof(err));
	if (fd < 0)
		return fd;
	pthread_rwlock_wrlock(&kb->lock);
	fd = cache_insert_locked(kb, ns, fd);
	if (fd < 0)
		pthread_rwlock_unlock(&kb->lock);
	return fd;
}

static void ns_fd_error(struct kernel_backend *kb, int r, const char *tenant, const char *vnet,
			const char *endpoint, const char *ns)
{
	if (r == CS_ENOENT)
		kerr(kb, "endpoint %s/%s/%s is not realized (no namespace %s)", tenant, vnet,
		     endpoint, ns);
	else if (r == CS_ENOMEM)
		kerr(kb, "endpoint %s/%s/%s: out of memory", tenant, vnet, endpoint);
	else
		kerr(kb, "endpoint %s/%s/%s: cannot open namespace %s: %s", tenant, vnet,
		     endpoint, ns, strerror(errno));
}

static int kernel_endpoint_socket(struct vnet_backend *b, const char *tenant, const char *vnet,
				  const char *endpoint, int domain, int type, int protocol)
{
	struct kernel_backend *kb = kb_of(b);
	char ns[NSNAME_MAX];
	int nsfd, fd, r;

	r = ns_name(kb, ns, tenant, vnet, endpoint);
	if (r < 0)
		return r;
	nsfd = ns_fd_locked(kb, ns);
	if (nsfd < 0) {
		ns_fd_error(kb, nsfd, tenant, vnet, endpoint, ns);
		return nsfd;
	}
	fd = netns_socket(nsfd, domain, type, protocol);
	r = errno;
	pthread_rwlock_unlock(&kb->lock);
	if (fd < 0)
		kerr(kb, "endpoint %s/%s/%s: cannot create a socket (domain %d, type %d, "
		     "protocol %d) in namespace %s: %s", tenant, vnet, endpoint, domain, type,
		     protocol, ns, strerror(r));
	return fd;
}

static int kernel_endpoint_netns(struct vnet_backend *b, const char *tenant, const char *vnet,
				 const char *endpoint)
{
	struct kernel_backend *kb = kb_of(b);
	char ns[NSNAME_MAX];
	int nsfd, fd, r;

	r = ns_name(kb, ns, tenant, vnet, endpoint);
	if (r < 0)
		return r;
	nsfd = ns_fd_locked(kb, ns);
	if (nsfd < 0) {
		ns_fd_error(kb, nsfd, tenant, vnet, endpoint, ns);
		return nsfd;
	}
	fd = fcntl(nsfd, F_DUPFD_CLOEXEC, 0);
	r = errno;
	pthread_rwlock_unlock(&kb->lock);
	if (fd < 0) {
		kerr(kb, "endpoint %s/%s/%s: cannot duplicate the namespace fd: %s", tenant, vnet,
		     endpoint, strerror(r));
		return CS_EIO;
	}
	return fd;
}

static int kernel_endpoint_stats(struct vnet_backend *b, const char *tenant, const char *vnet,
				 const char *endpoint, struct endpoint_stats *out)
{
	struct kernel_backend *kb = kb_of(b);
	struct rtnl_link *eth0 = NULL;
	struct nl_sock *sk = NULL;
	char ns[NSNAME_MAX], what[128], err[256];
	int nsfd = -1, r;

	memset(out, 0, sizeof(*out));
	r = ns_name(kb, ns, tenant, vnet, endpoint);
	if (r < 0)
		return r;
	snprintf(what, sizeof(what), "endpoint %s/%s/%s", tenant, vnet, endpoint);
	nsfd = netns_open(ns, err, sizeof(err));
	if (nsfd < 0) {
		r = nsfd;
		kerr(kb, "%s is not realized: %s", what, err);
		goto out;
	}
	r = nl_open_in(kb, nsfd, ns, what, &sk);
	if (r < 0)
		goto out;
	r = rtnl_link_get_kernel(sk, 0, EP_DEV, &eth0);
	if (r < 0) {
		kerr(kb, "%s: cannot read " EP_DEV " in namespace %s: %s", what, ns,
		     nl_geterror(r));
		r = nl_absent(r) ? CS_ENOENT : CS_EIO;
		goto out;
	}
	out->rx_bytes = rtnl_link_get_stat(eth0, RTNL_LINK_RX_BYTES);
	out->tx_bytes = rtnl_link_get_stat(eth0, RTNL_LINK_TX_BYTES);
	out->rx_packets = rtnl_link_get_stat(eth0, RTNL_LINK_RX_PACKETS);
	out->tx_packets = rtnl_link_get_stat(eth0, RTNL_LINK_TX_PACKETS);
	r = 0;
out:
	if (eth0)
		rtnl_link_put(eth0);
	if (sk)
		nl_socket_free(sk);
	if (nsfd >= 0)
		close(nsfd);
	return r;
}

static int push_name(char ***v, size_t *n, const char *s)
{
	char **nv, *d;

	d = strdup(s);
	if (!d)
		return CS_ENOMEM;
	nv = realloc(*v, (*n + 1) * sizeof(**v));
	if (!nv) {
		free(d);
		return CS_ENOMEM;
	}
	nv[(*n)++] = d;
	*v = nv;
	return 0;
}

static int kernel_inventory(struct vnet_backend *b, struct vnet_inventory *out)
{
	struct kernel_backend *kb = kb_of(b);
	char pfx[VNET_PREFIX_MAX + 2], path[NSNAME_MAX], full[NSNAME_MAX], *parts[4], *s;
	char **names = NULL;
	size_t n = 0, i;
	int np, r;

	memset(out, 0, sizeof(*out));
	snprintf(pfx, sizeof(pfx), "%s.", kb->prefix);
	r = netns_list(pfx, &names, &n);
	if (r < 0) {
		kerr(kb, "inventory: cannot list " NETNS_RUN_DIR ": %s",
		     r == CS_ENOMEM ? "out of memory" : strerror(errno));
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (strlen(names[i]) >= sizeof(path))
			continue;
		/* tokenize a copy of what follows the prefix */
		strcpy(path, names[i] + strlen(pfx));
		np = 0;
		for (s = path; np < 4; np++) {
			parts[np] = s;
			s = strchr(s, '.');
			if (!s) {
				np++;
				break;
			}
			*s++ = '\0';
		}
		if (np < 2 || np > 3 || s)
			continue;
		if (!part_valid(parts[0]) || !part_valid(parts[1]) ||
		    (np == 3 && !part_valid(parts[2])))
			continue;
		if (np == 2) {
			snprintf(full, sizeof(full), "%s/%s", parts[0], parts[1]);
			r = push_name(&out->vnets, &out->nvnets, full);
		} else {
			snprintf(full, sizeof(full), "%s/%s/%s", parts[0], parts[1], parts[2]);
			r = push_name(&out->endpoints, &out->nendpoints, full);
		}
		if (r < 0) {
			kerr(kb, "inventory: out of memory");
			goto out;
		}
	}
	r = 0;
out:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (r < 0)
		vnet_inventory_clear(out);
	return r;
}

/* --- for the other parts of the backend (kernel_priv.h) --- */

int kernel_ns_name(struct kernel_backend *kb, char *buf, const char *t, const char *v,
		   const char *e)
{
	return ns_name(kb, buf, t, v, e);
}

int kernel_nl_open_in(struct kernel_backend *kb, int nsfd, const char *nsname, const char *what,
		      struct nl_sock **out)
{
	return nl_open_in(kb, nsfd, nsname, what, out);
}

void kernel_err(struct kernel_backend *kb, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(kb->base.error, sizeof(kb->base.error), fmt, ap);
	va_end(ap);
}

const struct vnet_ops vnet_kernel_ops = {
	.name = "kernel",
	.open = kernel_open,
	.close = kernel_close,
	.vnet_ensure = kernel_vnet_ensure,
	.vnet_destroy = kernel_vnet_destroy,
	.endpoint_ensure = kernel_endpoint_ensure,
	.endpoint_destroy = kernel_endpoint_destroy,
	.endpoint_socket = kernel_endpoint_socket,
	.endpoint_netns = kernel_endpoint_netns,
	.endpoint_stats = kernel_endpoint_stats,
	.inventory = kernel_inventory,
	.endpoint_qos = kernel_endpoint_qos,
	.endpoint_policy = kernel_endpoint_policy,
	.underlay_filter = kernel_underlay_filter,
};
