/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The kernel backend: a vnet is a namespace "P.TENANT.VNET" holding a VXLAN
 * device vx0 (VNI = vnet id); an endpoint is a namespace
 * "P.TENANT.VNET.ENDPOINT" whose eth0 is a bridge-mode macvlan on vx0 (a
 * veth + bridge per endpoint costs a fifth of the throughput, a macvlan does
 * not). Everything goes through netlink (libnl-route); every step adopts
 * what exists and creates only what is missing.
 *
 * A vnet on one node has its vx0 made inside the vnet namespace, so it
 * hears nothing from the underlay. A vnet across nodes has its vx0 made in
 * the underlay namespace (the one csd runs in, remembered at open), so it
 * encapsulates over the underlay, and one all-zero flood entry per peer
 * node; no multicast.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/if_ether.h>
#include <linux/neighbour.h>
#include <linux/net_namespace.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/msg.h>
#include <netlink/attr.h>
#include <netlink/route/link.h>
#include <netlink/route/addr.h>
#include <netlink/route/neighbour.h>
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

/*
 * What a vnet across nodes needs beyond struct kernel_backend: the
 * underlay namespace and this node's address in it. Kept here so that
 * kernel_priv.h, which the other parts share, stays as it is; the fd
 * reaches kernel_underlay.c through kernel_underlay_ns().
 */
struct kernel_backend_ul {
	struct kernel_backend kb;	/* first: kb_of() casts */
	int ul_fd;
	bool has_ul;
	struct cs_addr ul;
	uint16_t ul_port;	/* the port of the configured underlay */
};

static struct kernel_backend_ul *ul_of(struct kernel_backend *kb)
{
	return (struct kernel_backend_ul *)kb;
}

/* This node's underlay address for @v: the caller's, else the configured
 * one, else NULL. */
static const struct cs_addr *ul_addr(struct kernel_backend_ul *kbu, const struct vnet_spec *v)
{
	if (v->local)
		return v->local;
	return kbu->has_ul ? &kbu->ul : NULL;
}

/* ... and the UDP port its VXLAN listens on, with that address. */
static uint16_t ul_port(struct kernel_backend_ul *kbu, const struct vnet_spec *v)
{
	if (v->local)
		return v->local_port ? v->local_port : VXLAN_PORT;
	return kbu->has_ul ? kbu->ul_port : VXLAN_PORT;
}

/* The port of peer @i of @v. */
static uint16_t peer_port(const struct vnet_spec *v, size_t i)
{
	return v->peer_ports && v->peer_ports[i] ? v->peer_ports[i] : VXLAN_PORT;
}

/*
 * Does vx0 learn? A VXLAN device records a learned MAC at its OWN port,
 * not at the port of the node it came from: with a peer on another port
 * (a node sharing its host, "ADDR:PORT"), unicast after learning would go
 * to the wrong port. Then it does not learn and floods unknown unicast to
 * every peer's flood entry, each with its port.
 */
static bool vxlan_learns(struct kernel_backend_ul *kbu, const struct vnet_spec *v)
{
	size_t i;

	for (i = 0; i < v->npeers; i++)
		if (peer_port(v, i) != ul_port(kbu, v))
			return false;
	return true;
}

/* The underlay namespace (an fd the backend owns), for kernel_underlay.c. */
int kernel_underlay_ns(struct kernel_backend *kb)
{
	return ul_of(kb)->ul_fd;
}

/* The port of the configured underlay, for kernel_underlay.c. */
uint16_t kernel_underlay_port(struct kernel_backend *kb)
{
	return ul_of(kb)->has_ul ? ul_of(kb)->ul_port : VXLAN_PORT;
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
	e->fd = fd = netns_fd_high(fd);
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
		dfd = netns_fd_high(fcntl(fd, F_DUPFD_CLOEXEC, 0));
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
int nsid_of(struct nl_sock *sk, int fd, int32_t *id)
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
	if (ul_of(kb)->ul_fd >= 0)
		close(ul_of(kb)->ul_fd);
	for (i = 0; i < CACHE_BUCKETS; i++) {
		for (e = kb->cache[i]; e; e = next) {
			next = e->next;
			close(e->fd);
			free(e);
		}
	}
	kernel_egress_free(kb);
	free(kb->run_dir);
	kernel_nft_close(kb);
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
	struct kernel_backend_ul *kbu;
	struct kernel_backend *kb;
	char err[256];
	int r;

	*out = NULL;
	kbu = calloc(1, sizeof(*kbu));
	if (!kbu)
		return CS_ENOMEM;
	kbu->ul_fd = -1;
	kb = &kbu->kb;
	kb->nft_log = -1;
	kb->base.ops = &vnet_kernel_ops;
	if (pthread_rwlock_init(&kb->lock, NULL)) {
		free(kbu);
		return CS_ENOMEM;
	}
	*out = &kb->base;
	if (!cfg || !part_valid(cfg->prefix) || strlen(cfg->prefix) > VNET_PREFIX_MAX) {
		kerr(kb, "kernel backend: invalid prefix \"%s\": 1-%d characters without "
		     "'.' or '/'", cfg && cfg->prefix ? cfg->prefix : "", VNET_PREFIX_MAX);
		return CS_EINVAL;
	}
	strcpy(kb->prefix, cfg->prefix);
	if (cfg->run_dir && !(kb->run_dir = strdup(cfg->run_dir)))
		return CS_ENOMEM;
	if (!has_caps()) {
		kerr(kb, "kernel backend: needs CAP_NET_ADMIN and CAP_SYS_ADMIN to create "
		     "network namespaces; run csd as root");
		return CS_EPERM;
	}
	if (cfg->underlay && *cfg->underlay) {
		if (cs_addr_port_parse(cfg->underlay, VXLAN_PORT, &kbu->ul, &kbu->ul_port) < 0) {
			kerr(kb, "kernel backend: underlay \"%s\" is not an IPv4 or IPv6 address "
			     "with an optional port (192.0.2.1, 192.0.2.1:4790, [2001:db8::1]:4790)",
			     cfg->underlay);
			return CS_EINVAL;
		}
		kbu->has_ul = true;
	}
	/*
	 * The namespace csd runs in is the underlay: VXLAN devices of vnets
	 * across nodes are made here, whatever thread later asks for them.
	 */
	kbu->ul_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (kbu->ul_fd < 0) {
		kerr(kb, "kernel backend: cannot open the underlay namespace "
		     "/proc/thread-self/ns/net: %s", strerror(errno));
		return CS_EIO;
	}
	r = netns_init(err, sizeof(err));
	if (r < 0) {
		kerr(kb, "kernel backend: %s", err);
		return r;
	}
	kernel_guard_urls(kb, cfg->store_urls);
	kernel_nft_memory(kb, cfg->run_dir);
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

/* Delete *@l (@dev of namespace @ns), which does not match what it should
 * be, and forget it: *@l is NULL afterwards. Gone already is done. */
static int link_drop(struct kernel_backend *kb, struct nl_sock *sk, struct rtnl_link **l,
		     const char *what, const char *dev, const char *ns)
{
	int r = rtnl_link_delete(sk, *l);

	if (r < 0 && !nl_absent(r)) {
		kerr(kb, "%s: cannot delete the mismatched %s in namespace %s: %s", what, dev, ns,
		     nl_geterror(r));
		return CS_EIO;
	}
	rtnl_link_put(*l);
	*l = NULL;
	return 0;
}

/*
 * Tear down namespace @ns of @what: first its link @dev (so that whatever
 * still holds the namespace open loses the vnet now), then the namespace.
 * Gone already is done.
 */
static int ns_destroy(struct kernel_backend *kb, const char *ns, const char *dev,
		      const char *what)
{
	struct nl_sock *sk = NULL;
	char err[256];
	int nsfd, r;

	cache_drop(kb, ns);
	kernel_nft_forget(kb, ns);
	nsfd = netns_open(ns, err, sizeof(err));
	if (nsfd >= 0) {
		r = nl_open_in(kb, nsfd, ns, what, &sk);
		if (r < 0)
			goto out;
		r = link_delete_by_name(sk, dev);
		if (r < 0) {
			kerr(kb, "%s: cannot delete %s in namespace %s: %s", what, dev, ns,
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

static int kernel_vnet_destroy(struct vnet_backend *b, const char *tenant, const char *vnet)
{
	struct kernel_backend *kb = kb_of(b);
	char ns[NSNAME_MAX], what[96];
	int r;

	r = ns_name(kb, ns, tenant, vnet, NULL);
	if (r < 0)
		return r;
	snprintf(what, sizeof(what), "vnet %s/%s", tenant, vnet);
	kernel_publish_gone(kb, tenant, vnet, NULL);
	kernel_egress_gone(kb, tenant, vnet);
	/* deleting vx0 takes every endpoint's macvlan down with it */
	return ns_destroy(kb, ns, VXLAN_DEV, what);
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

/* Is @l cs's to replace? In an attached namespace only what carries its
 * alias: anything else there of that name is the owner's. */
static bool link_ours(struct rtnl_link *l, const char *ens, bool attached)
{
	char alias[KERNEL_ALIAS_MAX];
	const char *have = rtnl_link_get_ifalias(l);

	if (!attached)
		return true;
	kernel_ep_alias(ens, alias);
	return have && !strcmp(have, alias);
}

/* @alias on link @dev (the kernel takes none with the link's creation):
 * one request, only when it differs. */
static int link_alias_fix(struct nl_sock *sk, const char *dev, const char *alias)
{
	struct rtnl_link *l = NULL, *chg = NULL;
	const char *have;
	int r = rtnl_link_get_kernel(sk, 0, dev, &l);

	if (r < 0)
		return r;
	have = rtnl_link_get_ifalias(l);
	if (!have || strcmp(have, alias)) {
		if (!(chg = rtnl_link_alloc())) {
			r = -NLE_NOMEM;
		} else {
			rtnl_link_set_ifalias(chg, alias);
			r = rtnl_link_change(sk, l, chg, 0);
			rtnl_link_put(chg);
		}
	}
	rtnl_link_put(l);
	return r;
}

/* @dev on @vx0_index, made in namespace @efd */
static int macvlan_create(struct nl_sock *vsk, int vx0_index, int efd, int mtu, const char *dev)
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
	rtnl_link_set_name(mv, dev);
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

/* --- vnets across nodes --- */

static bool nl_addr_is(struct nl_addr *na, const struct cs_addr *a)
{
	return na && nl_addr_get_family(na) == a->family &&
	       nl_addr_get_len(na) == (unsigned int)addr_len(a->family) &&
	       !memcmp(nl_addr_get_binary_addr(na), a->a, addr_len(a->family));
}

/*
 * Is @vx the vx0 of a vnet across nodes: made in the underlay namespace
 * (the vnet namespace knows its link namespace by the id it gives the
 * underlay) and sending from this node's underlay address?
 */
static bool vxlan_matches_multi(struct kernel_backend *kb, struct nl_sock *vsk,
				struct rtnl_link *vx, const struct vnet_spec *v)
{
	struct kernel_backend_ul *kbu = ul_of(kb);
	struct nl_addr *a = NULL;
	uint32_t id, port;
	int32_t lnsid, ulnsid;
	bool ok;

	if (!rtnl_link_is_vxlan(vx) || rtnl_link_vxlan_get_id(vx, &id) < 0 || id != v->id)
		return false;
	if (rtnl_link_vxlan_get_port(vx, &port) < 0 || port != ul_port(kbu, v))
		return false;
	if (rtnl_link_vxlan_get_learning(vx) != vxlan_learns(kbu, v))
		return false;
	/* remotes are flood entries, never a group */
	if (rtnl_link_vxlan_get_group(vx, &a) == 0) {
		nl_addr_put(a);
		return false;
	}
	if (rtnl_link_get_link_netnsid(vx, &lnsid) < 0)
		return false;
	if (nsid_of(vsk, kbu->ul_fd, &ulnsid) < 0 || ulnsid == NETNSA_NSID_NOT_ASSIGNED ||
	    ulnsid != lnsid)
		return false;
	a = NULL;
	if (rtnl_link_vxlan_get_local(vx, &a) < 0)
		return false;
	ok = ul_addr(kbu, v) && nl_addr_is(a, ul_addr(kbu, v));
	nl_addr_put(a);
	return ok;
}

/*
 * One request from the underlay namespace makes vx0 directly in the vnet
 * namespace under its final name: the kernel binds the device's UDP socket
 * to the namespace the request comes from and registers the device in the
 * target one. No temporary name to rename, and nothing left half-made in
 * the underlay if csd is interrupted.
 */
static int vxlan_create_multi(struct kernel_backend *kb, struct nl_sock *usk, int vfd,
			      const struct vnet_spec *v)
{
	const struct cs_addr *ul = ul_addr(ul_of(kb), v);
	struct nl_addr *local = NULL;
	struct rtnl_link *vx;
	int r;

	vx = rtnl_link_vxlan_alloc();
	local = nl_addr_build(ul->family, ul->a, addr_len(ul->family));
	if (!vx || !local) {
		r = -NLE_NOMEM;
		goto out;
	}
	rtnl_link_set_name(vx, VXLAN_DEV);
	rtnl_link_set_mtu(vx, vnet_mtu(v));
	rtnl_link_set_flags(vx, IFF_UP);
	rtnl_link_set_ns_fd(vx, vfd);
	if ((r = rtnl_link_vxlan_set_id(vx, v->id)) < 0 ||
	    (r = rtnl_link_vxlan_set_port(vx, ul_port(ul_of(kb), v))) < 0 ||
	    (r = rtnl_link_vxlan_set_learning(vx, vxlan_learns(ul_of(kb), v))) < 0 ||
	    (r = rtnl_link_vxlan_set_local(vx, local)) < 0)
		goto out;
	r = rtnl_link_add(usk, vx, NLM_F_CREATE | NLM_F_EXCL);
out:
	if (local)
		nl_addr_put(local);
	if (vx)
		rtnl_link_put(vx);
	return r;
}

/* The remote entries of one VXLAN device: flood entries (all-zero MAC)
 * and learned ones. */
struct fdb_entry {
	uint8_t mac[ETH_ALEN];
	struct cs_addr dst;
	uint16_t port;
};
struct fdb_dump {
	int ifindex;
	uint16_t devport;	/* the kernel leaves NDA_PORT out when it is this */
	struct fdb_entry *e;
	size_t n, cap;
	bool nomem;
};

static const uint8_t zero_mac[ETH_ALEN];

static int fdb_valid(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct nlattr *tb[NDA_MAX + 1];
	struct fdb_dump *d = arg;
	struct ndmsg *nd;
	struct cs_addr a = { 0 };
	int len;

	if (h->nlmsg_type != RTM_NEWNEIGH ||
	    nlmsg_parse(h, sizeof(*nd), tb, NDA_MAX, NULL) < 0)
		return NL_SKIP;
	nd = nlmsg_data(h);
	if (nd->ndm_family != AF_BRIDGE || nd->ndm_ifindex != d->ifindex)
		return NL_SKIP;
	if (!tb[NDA_LLADDR] || nla_len(tb[NDA_LLADDR]) != ETH_ALEN || !tb[NDA_DST])
		return NL_SKIP;
	len = nla_len(tb[NDA_DST]);
	if (len != 4 && len != 16)
		return NL_SKIP;
	a.family = len == 4 ? AF_INET : AF_INET6;
	memcpy(a.a, nla_data(tb[NDA_DST]), len);
	if (d->n == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 8;
		struct fdb_entry *nv = realloc(d->e, cap * sizeof(*nv));

		if (!nv) {
			d->nomem = true;
			return NL_STOP;
		}
		d->e = nv;
		d->cap = cap;
	}
	memcpy(d->e[d->n].mac, nla_data(tb[NDA_LLADDR]), ETH_ALEN);
	d->e[d->n].port = tb[NDA_PORT] && nla_len(tb[NDA_PORT]) == 2 ?
			  ntohs(nla_get_u16(tb[NDA_PORT])) : d->devport;
	d->e[d->n++].dst = a;
	return NL_OK;
}

static int fdb_list(struct nl_sock *sk, struct fdb_dump *d)
{
	struct ndmsg nd = { .ndm_family = AF_BRIDGE, .ndm_ifindex = d->ifindex };
	struct nl_cb *cb, *scb;
	int r;

	scb = nl_socket_get_cb(sk);
	cb = nl_cb_clone(scb);
	nl_cb_put(scb);
	if (!cb)
		return -NLE_NOMEM;
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, fdb_valid, d);
	r = nl_send_simple(sk, RTM_GETNEIGH, NLM_F_DUMP, &nd, sizeof(nd));
	if (r >= 0)
		r = nl_recvmsgs(sk, cb);
	nl_cb_put(cb);
	if (r >= 0 && d->nomem)
		r = -NLE_NOMEM;
	return r < 0 ? r : 0;
}

/* Add (NLM_F_APPEND: one more remote of the entry) or remove the entry
 * @mac -> @peer, UDP @port, on @ifindex. libnl 3.7's neighbour has no port:
 * NDA_PORT goes onto the message it builds. */
static int fdb_change(struct nl_sock *sk, int ifindex, const uint8_t *lladdr,
		      const struct cs_addr *peer, uint16_t port, bool add)
{
	struct rtnl_neigh *n;
	struct nl_addr *mac, *dst;
	struct nl_msg *msg = NULL;
	int r;

	n = rtnl_neigh_alloc();
	mac = nl_addr_build(AF_LLC, lladdr, ETH_ALEN);
	dst = nl_addr_build(peer->family, peer->a, addr_len(peer->family));
	if (!n || !mac || !dst) {
		r = -NLE_NOMEM;
		goto out;
	}
	rtnl_neigh_set_ifindex(n, ifindex);
	rtnl_neigh_set_lladdr(n, mac);
	/* libnl 3.7 checks the destination's family against the neighbour's
	 * when the family is set: the destination must come first */
	if ((r = rtnl_neigh_set_dst(n, dst)) < 0)
		goto out;
	rtnl_neigh_set_family(n, AF_BRIDGE);
	rtnl_neigh_set_state(n, NUD_NOARP | NUD_PERMANENT);
	rtnl_neigh_set_flags(n, NTF_SELF);
	r = add ? rtnl_neigh_build_add_request(n, NLM_F_CREATE | NLM_F_APPEND, &msg)
		: rtnl_neigh_build_delete_request(n, 0, &msg);
	if (r < 0 || (r = nla_put_u16(msg, NDA_PORT, htons(port))) < 0)
		goto out;
	r = nl_send_sync(sk, msg);
	msg = NULL;	/* nl_send_sync() frees it */
	if (!add && nl_absent(r))
		r = 0;
out:
	nlmsg_free(msg);
	if (dst)
		nl_addr_put(dst);
	if (mac)
		nl_addr_put(mac);
	if (n)
		rtnl_neigh_put(n);
	return r;
}

/* Is @a, @port one of the first @n peers of @v? */
static bool peer_in(const struct cs_addr *a, uint16_t port, const struct vnet_spec *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!cs_addr_cmp(a, &v->peers[i]) && port == peer_port(v, i))
			return true;
	return false;
}

static bool flood_to(const struct cs_addr *a, uint16_t port, const struct fdb_entry *e, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!memcmp(e[i].mac, zero_mac, ETH_ALEN) && !cs_addr_cmp(a, &e[i].dst) &&
		    e[i].port == port)
			return true;
	return false;
}

/* Exactly one flood entry per peer of @v on vx0 (@ifindex): removing a
 * node from the vnet removes its entry, and the addresses learned behind
 * it, which would otherwise keep unicast going there until they age out. */
static int fdb_sync(struct kernel_backend *kb, struct nl_sock *sk, int ifindex,
		    const struct vnet_spec *v, const char *what, const char *ns)
{
	struct fdb_dump d = { .ifindex = ifindex, .devport = ul_port(ul_of(kb), v) };
	char buf[CS_ADDRSTRLEN];
	size_t i;
	int r;

	r = fdb_list(sk, &d);
	if (r < 0) {
		kerr(kb, "%s: cannot list the flood entries of " VXLAN_DEV " in namespace %s: %s",
		     what, ns, nl_geterror(r));
		r = CS_EIO;
		goto out;
	}
	for (i = 0; i < d.n; i++) {
		if (peer_in(&d.e[i].dst, d.e[i].port, v, v->npeers))
			continue;
		r = fdb_change(sk, ifindex, d.e[i].mac, &d.e[i].dst, d.e[i].port, false);
		if (r < 0) {
			kerr(kb, "%s: cannot remove the entry to %s (no longer a node of "
			     "the vnet) from " VXLAN_DEV " in namespace %s: %s", what,
			     cs_addr_format(&d.e[i].dst, buf), ns, nl_geterror(r));
			r = CS_EIO;
			goto out;
		}
	}
	for (i = 0; i < v->npeers; i++) {
		/* a peer listed twice gets one entry */
		if (flood_to(&v->peers[i], peer_port(v, i), d.e, d.n) ||
		    peer_in(&v->peers[i], peer_port(v, i), v, i))
			continue;
		r = fdb_change(sk, ifindex, zero_mac, &v->peers[i], peer_port(v, i), true);
		if (r < 0) {
			kerr(kb, "%s: cannot add the flood entry to node %s on " VXLAN_DEV
			     " in namespace %s: %s", what,
			     cs_addr_port_format(&v->peers[i], peer_port(v, i), buf), ns,
			     nl_geterror(r));
			r = CS_EIO;
			goto out;
		}
	}
	r = 0;
out:
	free(d.e);
	return r;
}

/*
 * An endpoint of the vnet as found in the kernel: a vx0 that is replaced
 * takes every endpoint's macvlan with it, and only endpoint_ensure() knows
 * the addresses otherwise; noting them first lets vnet_ensure() put the
 * endpoints back on the new vx0 at once.
 */
struct ep_wire {
	char ns[NSNAME_MAX];
	char dev[IFNAMSIZ];	/* eth0, or an attached namespace's interface */
	bool attached;
	bool has[2];		/* [0] IPv4, [1] IPv6 */
	int plen[2];
	struct cs_addr addr[2];
};

static void ep_read_addrs(struct nl_sock *esk, struct ep_wire *ep)
{
	struct rtnl_link *eth0 = NULL;
	struct nl_cache *cache = NULL;
	struct nl_object *o;
	int ifindex, i;

	if (rtnl_link_get_kernel(esk, 0, ep->dev, &eth0) < 0)
		return;
	ifindex = rtnl_link_get_ifindex(eth0);
	rtnl_link_put(eth0);
	if (rtnl_addr_alloc_cache(esk, &cache) < 0)
		return;
	for (o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *a = (struct rtnl_addr *)o;
		struct nl_addr *local = rtnl_addr_get_local(a);
		int family = rtnl_addr_get_family(a);

		if (rtnl_addr_get_ifindex(a) != ifindex || !local ||
		    rtnl_addr_get_scope(a) == RT_SCOPE_LINK ||
		    (family != AF_INET && family != AF_INET6) ||
		    nl_addr_get_len(local) != (unsigned int)addr_len(family))
			continue;
		i = family == AF_INET6;
		if (ep->has[i])
			continue;
		ep->has[i] = true;
		ep->plen[i] = rtnl_addr_get_prefixlen(a);
		ep->addr[i].family = family;
		memcpy(ep->addr[i].a, nl_addr_get_binary_addr(local), addr_len(family));
	}
	nl_cache_free(cache);
}

/* The endpoints of vnet namespace @vns ("P.T.V.E" for every E). An
 * endpoint that cannot be read is left to its endpoint_ensure(). */
static int eps_snapshot(struct kernel_backend *kb, const char *vns, const char *what,
			struct ep_wire **out, size_t *nout)
{
	char pfx[NSNAME_MAX + 1], err[256], **names = NULL;
	struct ep_wire *eps = NULL;
	struct nl_sock *esk;
	size_t n = 0, i, k = 0, plen;
	int efd, r;

	snprintf(pfx, sizeof(pfx), "%s.", vns);
	plen = strlen(pfx);
	r = netns_list(pfx, &names, &n);
	if (r < 0) {
		kerr(kb, "%s: cannot list the endpoints under " NETNS_RUN_DIR ": %s", what,
		     r == CS_ENOMEM ? "out of memory" : strerror(errno));
		goto out;
	}
	eps = calloc(n ? n : 1, sizeof(*eps));
	if (!eps) {
		kerr(kb, "%s: out of memory", what);
		r = CS_ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (strchr(names[i] + plen, '.') || strlen(names[i]) >= NSNAME_MAX)
			continue;
		strcpy(eps[k].ns, names[i]);
		eps[k].attached = kernel_attached(kb, names[i], eps[k].dev) == 1;
		if (!eps[k].attached)
			strcpy(eps[k].dev, EP_DEV);
		efd = netns_open(names[i], err, sizeof(err));
		if (efd >= 0) {
			if (nl_open_in(kb, efd, names[i], what, &esk) == 0) {
				ep_read_addrs(esk, &eps[k]);
				nl_socket_free(esk);
			}
			close(efd);
		}
		k++;
	}
	*out = eps;
	*nout = k;
	eps = NULL;
	r = 0;
out:
	free(eps);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}

static int ep_rewire(struct kernel_backend *kb, struct nl_sock *vsk, int vfd, int vx0_index,
		     int mtu, const struct ep_wire *ep, const char *what)
{
	struct want_addr w[2];
	struct rtnl_link *eth0 = NULL;
	struct nl_sock *esk = NULL;
	char err[256];
	int efd, r, i;

	efd = netns_open(ep->ns, err, sizeof(err));
	if (efd < 0) {
		/* destroyed meanwhile: nothing to put back */
		if (efd == CS_ENOENT)
			return 0;
		kerr(kb, "%s: %s", what, err);
		return efd;
	}
	r = nl_open_in(kb, efd, ep->ns, what, &esk);
	if (r < 0)
		goto out;
	r = rtnl_link_get_kernel(esk, 0, ep->dev, &eth0);
	if (r < 0 && !nl_absent(r)) {
		kerr(kb, "%s: cannot query %s in namespace %s: %s", what, ep->dev, ep->ns,
		     nl_geterror(r));
		r = CS_EIO;
		goto out;
	}
	if (eth0 && eth0_matches(esk, eth0, vfd, vx0_index)) {
		r = link_fix(esk, eth0, mtu);
		if (r < 0) {
			kerr(kb, "%s: cannot set %s to MTU %d in namespace %s: %s", what,
			     ep->dev, mtu, ep->ns, nl_geterror(r));
			r = CS_EIO;
		}
		goto out;
	}
	if (eth0 && !link_ours(eth0, ep->ns, ep->attached)) {
		/* the container's own: leave it, and the endpoint without a link */
		kerr(kb, "%s: %s in namespace %s is not cs's", what, ep->dev, ep->ns);
		r = CS_EBUSY;
		goto out;
	}
	if (eth0) {
		r = rtnl_link_delete(esk, eth0);
		if (r < 0 && !nl_absent(r)) {
			kerr(kb, "%s: cannot delete the stale %s in namespace %s: %s", what,
			     ep->dev, ep->ns, nl_geterror(r));
			r = CS_EIO;
			goto out;
		}
		rtnl_link_put(eth0);
		eth0 = NULL;
	}
	char alias[KERNEL_ALIAS_MAX];
	kernel_ep_alias(ep->ns, alias);
	r = macvlan_create(vsk, vx0_index, efd, mtu, ep->dev);
	if (r >= 0 && ep->attached)
		r = link_alias_fix(esk, ep->dev, alias);
	if (r >= 0)
		r = rtnl_link_get_kernel(esk, 0, ep->dev, &eth0);
	if (r < 0) {
		kerr(kb, "%s: cannot put namespace %s back on the new " VXLAN_DEV ": %s", what,
		     ep->ns, nl_geterror(r));
		r = CS_EIO;
		goto out;
	}
	for (i = 0; i < 2; i++)
		w[i] = (struct want_addr){ .want = ep->has[i], .family = i ? AF_INET6 : AF_INET,
					   .plen = ep->plen[i], .addr = &ep->addr[i] };
	r = addrs_fix(kb, esk, rtnl_link_get_ifindex(eth0), w, what, true);
out:
	if (eth0)
		rtnl_link_put(eth0);
	if (esk)
		nl_socket_free(esk);
	close(efd);
	return r;
}

/* Every endpoint on vx0 @vx0_index with @mtu; the first failure is
 * reported, the others still get their turn. */
static int eps_rewire(struct kernel_backend *kb, struct nl_sock *vsk, int vfd, int vx0_index,
		      int mtu, const struct ep_wire *eps, size_t n, const char *what)
{
	char first[sizeof(kb->base.error)] = "";
	size_t i;
	int r, ret = 0;

	for (i = 0; i < n; i++) {
		r = ep_rewire(kb, vsk, vfd, vx0_index, mtu, &eps[i], what);
		if (r < 0 && !ret) {
			ret = r;
			memcpy(first, kb->base.error, sizeof(first));
		}
	}
	if (ret)
		memcpy(kb->base.error, first, sizeof(first));
	return ret;
}

/*
 * netns_add() of a vnet's namespace; *@is_new when it was made now and this
 * csd had not ensured one of that name before: it holds no endpoints' links
 * to move, as its endpoints come after it (one made again by hand, or while
 * csd was away, gets them back from their own ensure).
 */
static int vnet_ns_add(struct kernel_backend *kb, const char *ns, char *err, size_t errlen,
		       bool *is_new)
{
	pthread_rwlock_rdlock(&kb->lock);
	bool known = cache_find(kb, ns) != NULL;
	pthread_rwlock_unlock(&kb->lock);
	int r = netns_add(ns, err, errlen);

	*is_new = r == 0 && !known;
	return r;
}

/* what the kernel cannot take, refused before anything is made */
static int vnet_spec_check(struct kernel_backend *kb, const struct vnet_spec *v,
			   const struct cs_addr *ul, const char *what)
{
	char buf[CS_ADDRSTRLEN], buf2[CS_ADDRSTRLEN];
	bool multi = v->npeers > 0;

	if (v->id < 1 || v->id > 16777215) {
		kerr(kb, "%s: VNI %u is out of range 1-16777215", what, v->id);
		return CS_EINVAL;
	}
	if (v->mtu && (v->mtu < 68 || v->mtu > 65535)) {
		kerr(kb, "%s: MTU %d is out of range 68-65535", what, v->mtu);
		return CS_EINVAL;
	}
	if (multi && !ul) {
		/* the other nodes accept encapsulated packets only from our
		 * declared address: a source picked by routing could be dropped */
		kerr(kb, "%s: spans %zu other node(s) but this node's underlay address is not "
		     "known; give csd its \"underlay\" address", what, v->npeers);
		return CS_ENOTSUP;
	}
	for (size_t i = 0; multi && i < v->npeers; i++) {
		if (v->peers[i].family != ul->family) {
			kerr(kb, "%s: node address %s is not of the family of this node's "
			     "underlay address %s", what, cs_addr_format(&v->peers[i], buf),
			     cs_addr_format(ul, buf2));
			return CS_EINVAL;
		}
		if (!cs_addr_cmp(&v->peers[i], ul) && peer_port(v, i) == ul_port(ul_of(kb), v)) {
			kerr(kb, "%s: node address %s is this node's own underlay address; list "
			     "only the other nodes", what, cs_addr_format(&v->peers[i], buf));
			return CS_EINVAL;
		}
	}
	return 0;
}

/* the vnet's namespace, made when missing (*is_new: see vnet_ns_add), and
 * a netlink socket in it */
static int vnet_ns_open(struct kernel_backend *kb, const char *ns, const char *what, int *nsfd,
			struct nl_sock **sk, bool *is_new)
{
	char err[256];
	int r = vnet_ns_add(kb, ns, err, sizeof(err), is_new);

	if (r < 0 && r != CS_EEXIST) {
		kerr(kb, "%s: %s", what, err);
		return r;
	}
	*nsfd = netns_open(ns, err, sizeof(err));
	if (*nsfd < 0) {
		kerr(kb, "%s: %s", what, err);
		return *nsfd;
	}
	return nl_open_in(kb, *nsfd, ns, what, sk);
}

/* a new vx0 in namespace ns: for a vnet across nodes made in the underlay
 * namespace and moved in (vxlan_create_multi) */
static int vx0_create(struct kernel_backend *kb, struct nl_sock *sk, int nsfd,
		      const struct vnet_spec *v, const char *what, const char *ns,
		      struct rtnl_link **vx)
{
	struct nl_sock *usk = NULL;
	int r;

	if (v->npeers > 0) {
		r = nl_open_in(kb, ul_of(kb)->ul_fd, "(underlay)", what, &usk);
		if (r < 0)
			return r;
		r = vxlan_create_multi(kb, usk, nsfd, v);
		nl_socket_free(usk);
	} else {
		r = vxlan_create(sk, v);
	}
	if (r == -NLE_EXIST && v->npeers > 0) {
		kerr(kb, "%s: VNI %u is already in use in this node's underlay namespace "
		     "(by another vnet, or another csd on this node); a VNI can exist "
		     "only once per underlay: give the vnet another id", what, v->id);
		return CS_EEXIST;
	}
	if (r < 0) {
		kerr(kb, "%s: cannot create " VXLAN_DEV " (VNI %u) in namespace %s: %s",
		     what, v->id, ns, nl_geterror(r));
		return CS_EIO;
	}
	r = rtnl_link_get_kernel(sk, 0, VXLAN_DEV, vx);
	if (r < 0) {
		kerr(kb, "%s: " VXLAN_DEV " vanished from namespace %s after creation: %s",
		     what, ns, nl_geterror(r));
		return CS_EIO;
	}
	return 0;
}

static int kernel_vnet_ensure(struct vnet_backend *b, const struct vnet_spec *v)
{
	struct kernel_backend *kb = kb_of(b);
	struct rtnl_link *vx = NULL;
	struct nl_sock *sk = NULL;
	struct ep_wire *eps = NULL;
	char ns[NSNAME_MAX], what[96];
	bool multi = v->npeers > 0, rewire = false, snapped = false, is_new = false;
	int nsfd = -1, mtu = vnet_mtu(v), r;
	size_t neps = 0;

	r = ns_name(kb, ns, v->tenant, v->name, NULL);
	if (r < 0)
		return r;
	snprintf(what, sizeof(what), "vnet %s/%s", v->tenant, v->name);
	if ((r = vnet_spec_check(kb, v, ul_addr(ul_of(kb), v), what)) < 0)
		return r;
	if ((r = vnet_ns_open(kb, ns, what, &nsfd, &sk, &is_new)) < 0)
		goto out;

	r = rtnl_link_get_kernel(sk, 0, VXLAN_DEV, &vx);
	if (r < 0 && !nl_absent(r)) {
		kerr(kb, "%s: cannot query " VXLAN_DEV " in namespace %s: %s", what, ns,
		     nl_geterror(r));
		r = CS_EIO;
		goto out;
	}
	if (vx && !(multi ? vxlan_matches_multi(kb, sk, vx, v) : vxlan_matches(vx, v))) {
		/* One node to several or back, or not ours: the endpoints'
		 * macvlans go with it, so note them for the new one. */
		r = eps_snapshot(kb, ns, what, &eps, &neps);
		if (r < 0)
			goto out;
		snapped = true;
		if ((r = link_drop(kb, sk, &vx, what, VXLAN_DEV, ns)) < 0)
			goto out;
	}
	if (!vx) {
		/* endpoints left on a vx0 that is gone (or in a vnet namespace
		 * deleted by hand) move to the new one too; looking for them
		 * lists every namespace here, so not for a vnet just made */
		rewire = !is_new;
		if ((r = vx0_create(kb, sk, nsfd, v, what, ns, &vx)) < 0)
			goto out;
	} else {
		/* the macvlans follow a lower MTU by themselves, not a higher one */
		rewire = rtnl_link_get_mtu(vx) != (unsigned int)mtu;
		r = link_fix(sk, vx, mtu);
		if (r < 0) {
			kerr(kb, "%s: cannot set " VXLAN_DEV " up with MTU %d in namespace %s: %s",
			     what, mtu, ns, nl_geterror(r));
			r = CS_EIO;
			goto out;
		}
	}
	if (multi) {
		r = fdb_sync(kb, sk, rtnl_link_get_ifindex(vx), v, what, ns);
		if (r < 0)
			goto out;
	}
	if (rewire) {
		if (!snapped) {
			r = eps_snapshot(kb, ns, what, &eps, &neps);
			if (r < 0)
				goto out;
		}
		r = eps_rewire(kb, sk, nsfd, rtnl_link_get_ifindex(vx), mtu, eps, neps, what);
		if (r < 0)
			goto out;
	}
	r = kernel_gw_ensure(kb, sk, nsfd, rtnl_link_get_ifindex(vx), v, mtu, what, ns);
	if (r < 0)
		goto out;
	r = kernel_egress_ensure(kb, sk, nsfd, v, what, ns);
	if (r < 0)
		goto out;
	cache_refresh(kb, ns, nsfd);
	r = 0;
out:
	free(eps);
	if (vx)
		rtnl_link_put(vx);
	if (sk)
		nl_socket_free(sk);
	if (nsfd >= 0)
		close(nsfd);
	return r;
}

/*
 * The rest of an endpoint once its namespace @efd (@ens) has its eth0
 * (@ifindex): its sysctls (ping sockets, any port bindable) and closed
 * rules when @fresh, its addresses and routes (multicast), lo up. Shared with the ovs backend, whose eth0 is a veth (kernel_priv.h).
 */
int kernel_ep_finish(struct kernel_backend *kb, const struct vnet_spec *v,
		     const struct endpoint_spec *e, struct nl_sock *esk, int efd, const char *ens,
		     int ifindex, bool fresh, const char *what)
{
	struct want_addr w[2] = {
		{ .want = e->has4, .family = AF_INET, .plen = v->subnet4.plen, .addr = &e->addr4 },
		{ .want = e->has6, .family = AF_INET6, .plen = v->subnet6.plen, .addr = &e->addr6 },
	};
	int r;

	if (fresh) {
		kernel_nft_forget(kb, ens);
		/* not in a namespace that is not cs's: its owner's settings */
		if (!e->attached && (r = kernel_ep_sysctls(kb, efd, what, ens)) < 0)
			return r;
	}
	if (fresh && e->guarded) {
		/* closed before it has an address: its rules replace this */
		const struct vnet_fw closed = { .dflt = VNET_FW_DENY };
		r = kernel_endpoint_policy(&kb->base, v->tenant, v->name, e->name, &closed);
		if (r < 0)
			return r;
	}
	r = addrs_fix(kb, esk, ifindex, w, what, fresh);
	if (r < 0)
		return r;
	r = kernel_ep_routes(kb, esk, ifindex, v, what, ens);
	if (r < 0)
		return r;
	r = link_up_by_name(esk, "lo");
	if (r < 0) {
		kerr(kb, "%s: cannot set lo up in namespace %s: %s", what, ens, nl_geterror(r));
		return CS_EIO;
	}
	return 0;
}

/*
 * The endpoint's namespace into *@efd: made when missing, unless attached
 * (someone else's: gone is reported, never made anew in an empty one).
 * *@fresh: made now.
 */
static int ep_ns_get(struct kernel_backend *kb, const struct endpoint_spec *e, const char *ens,
		     const char *what, int *efd, bool *fresh)
{
	char err[256];
	int r;

	*fresh = false;
	if (!e->attached) {
		r = netns_add(ens, err, sizeof(err));
		if (r < 0 && r != CS_EEXIST) {
			kerr(kb, "%s: %s", what, err);
			return r;
		}
		*fresh = r == 0;
	}
	*efd = netns_open(ens, err, sizeof(err));
	if (*efd == CS_ENOENT && e->attached) {
		kerr(kb, "%s: the namespace it was attached to is gone (csd holds it at "
		     NETNS_RUN_DIR "/%s until the endpoint is deleted: the node restarted, or "
		     "someone unmounted it); delete the endpoint, and attach the container's "
		     "namespace anew", what, ens);
		return CS_ENOENT;
	}
	if (*efd < 0) {
		kerr(kb, "%s: %s", what, err);
		return *efd;
	}
	return 0;
}

/* What ep_link_ensure() works on. */
struct ep_link {
	struct nl_sock *vsk, *esk;
	int vfd, efd, vx0_index, mtu;
	const char *vns, *ens, *dev, *what;
	bool attached;
};

/* The endpoint's macvlan @l->dev on vx0, adopted when it matches, else
 * made (*@fresh then); its ifindex or a code. */
static int ep_link_ensure(struct kernel_backend *kb, const struct ep_link *l, bool *fresh)
{
	struct rtnl_link *eth0 = NULL;
	char alias[KERNEL_ALIAS_MAX];
	int r;

	if (!*fresh) {
		r = rtnl_link_get_kernel(l->esk, 0, l->dev, &eth0);
		if (r < 0 && !nl_absent(r)) {
			kerr(kb, "%s: cannot query %s in namespace %s: %s", l->what, l->dev, l->ens,
			     nl_geterror(r));
			return CS_EIO;
		}
		/* ours by its alias, or (made, its alias not yet set) by where it is */
		if (eth0 && !link_ours(eth0, l->ens, l->attached) &&
		    !eth0_matches(l->esk, eth0, l->vfd, l->vx0_index)) {
			kerr(kb, "%s: the namespace has an interface %s of its own already; choose "
			     "another ifname", l->what, l->dev);
			rtnl_link_put(eth0);
			return CS_EEXIST;
		}
		if (eth0 && !eth0_matches(l->esk, eth0, l->vfd, l->vx0_index) &&
		    (r = link_drop(kb, l->esk, &eth0, l->what, l->dev, l->ens)) < 0) {
			rtnl_link_put(eth0);
			return r;
		}
	}
	kernel_ep_alias(l->ens, alias);
	if (eth0) {
		r = link_fix(l->esk, eth0, l->mtu);
		if (r >= 0 && l->attached)
			r = link_alias_fix(l->esk, l->dev, alias);
		if (r < 0) {
			kerr(kb, "%s: cannot set %s up with MTU %d in namespace %s: %s", l->what,
			     l->dev, l->mtu, l->ens, nl_geterror(r));
			r = CS_EIO;
		} else {
			r = rtnl_link_get_ifindex(eth0);
		}
		rtnl_link_put(eth0);
		return r;
	}
	r = macvlan_create(l->vsk, l->vx0_index, l->efd, l->mtu, l->dev);
	if (r >= 0 && l->attached)
		r = link_alias_fix(l->esk, l->dev, alias);
	if (r < 0) {
		kerr(kb, "%s: cannot create a macvlan %s on " VXLAN_DEV " of %s in namespace %s: "
		     "%s", l->what, l->dev, l->vns, l->ens, nl_geterror(r));
		return CS_EIO;
	}
	r = rtnl_link_get_kernel(l->esk, 0, l->dev, &eth0);
	if (r < 0) {
		kerr(kb, "%s: %s vanished from namespace %s after creation: %s", l->what, l->dev,
		     l->ens, nl_geterror(r));
		return CS_EIO;
	}
	r = rtnl_link_get_ifindex(eth0);
	rtnl_link_put(eth0);
	*fresh = true;
	return r;
}

static int kernel_endpoint_ensure(struct vnet_backend *b, const struct vnet_spec *v,
				  const struct endpoint_spec *e)
{
	struct kernel_backend *kb = kb_of(b);
	struct rtnl_link *vx = NULL;
	char vns[NSNAME_MAX], ens[NSNAME_MAX], what[128], err[256];
	struct ep_link l = { .vfd = -1, .efd = -1, .mtu = vnet_mtu(v), .vns = vns, .ens = ens,
			     .what = what, .attached = e->attached,
			     .dev = e->attached && e->ifname ? e->ifname : EP_DEV };
	int r, ifindex;
	bool fresh;

	if ((r = ns_name(kb, vns, v->tenant, v->name, NULL)) < 0 ||
	    (r = ns_name(kb, ens, v->tenant, v->name, e->name)) < 0)
		return r;
	snprintf(what, sizeof(what), "endpoint %s/%s/%s", v->tenant, v->name, e->name);
	if ((e->has4 && (e->addr4.family != AF_INET || !v->has4)) ||
	    (e->has6 && (e->addr6.family != AF_INET6 || !v->has6))) {
		kerr(kb, "%s: its address family does not match the vnet's subnets", what);
		return CS_EINVAL;
	}
	l.vfd = netns_open(vns, err, sizeof(err));
	if (l.vfd < 0) {
		r = l.vfd;
		kerr(kb, "%s: vnet %s/%s is not realized: %s", what, v->tenant, v->name, err);
		goto out;
	}
	if ((r = nl_open_in(kb, l.vfd, vns, what, &l.vsk)) < 0)
		goto out;
	r = rtnl_link_get_kernel(l.vsk, 0, VXLAN_DEV, &vx);
	if (r < 0) {
		kerr(kb, "%s: vnet %s/%s has no " VXLAN_DEV " in namespace %s: %s", what,
		     v->tenant, v->name, vns, nl_geterror(r));
		r = nl_absent(r) ? CS_ENOENT : CS_EIO;
		goto out;
	}
	l.vx0_index = rtnl_link_get_ifindex(vx);
	if ((r = ep_ns_get(kb, e, ens, what, &l.efd, &fresh)) < 0 ||
	    (r = nl_open_in(kb, l.efd, ens, what, &l.esk)) < 0 ||
	    (r = ifindex = ep_link_ensure(kb, &l, &fresh)) < 0 ||
	    (r = kernel_ep_finish(kb, v, e, l.esk, l.efd, ens, ifindex, fresh, what)) < 0 ||
	    (r = kernel_ep_etc(kb, ens, v, e->name, what)) < 0 ||
	    (r = kernel_publish_ensure(kb, l.vsk, l.vfd, v, e, what, vns)) < 0)
		goto out;
	cache_refresh(kb, vns, l.vfd);
	cache_refresh(kb, ens, l.efd);
	r = 0;
out:
	if (vx)
		rtnl_link_put(vx);
	if (l.esk)
		nl_socket_free(l.esk);
	if (l.vsk)
		nl_socket_free(l.vsk);
	if (l.efd >= 0)
		close(l.efd);
	if (l.vfd >= 0)
		close(l.vfd);
	return r;
}

static int kernel_endpoint_destroy(struct vnet_backend *b, const char *tenant,
				   const char *vnet, const char *endpoint)
{
	struct kernel_backend *kb = kb_of(b);
	char ns[NSNAME_MAX], what[128];
	int r;

	r = ns_name(kb, ns, tenant, vnet, endpoint);
	if (r < 0)
		return r;
	snprintf(what, sizeof(what), "endpoint %s/%s/%s", tenant, vnet, endpoint);
	kernel_publish_gone(kb, tenant, vnet, endpoint);
	char dev[IFNAMSIZ];
	if (kernel_attached(kb, ns, dev)) {
		cache_drop(kb, ns);
		return kernel_attach_destroy(kb, tenant, vnet, endpoint, ns, dev, what);
	}
	/* eth0 first, so that sockets already handed out lose the vnet now */
	r = ns_destroy(kb, ns, EP_DEV, what);
	if (r == 0)
		kernel_ep_etc_remove(ns);
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

/*
 * Counters of one endpoint's eth0. "endpoint list" asks for every endpoint,
 * so this is one raw RTM_GETSTATS on a route socket made inside the
 * namespace (setns there and back, as for endpoint sockets) rather than a
 * libnl socket and a full RTM_GETLINK per call. The namespace fd comes
 * from the cache when a socket was already asked for; otherwise it is
 * opened and closed again, so that listing does not hold one fd per
 * endpoint.
 */
static int stats_query(int sk, const char *dev, struct endpoint_stats *out)
{
	/*
	 * RTM_GETSTATS for just the 64-bit counters: a fraction of what the
	 * kernel fills for RTM_GETLINK (every attribute, IPv6 settings). It
	 * takes an ifindex, which the socket's own namespace gives by name.
	 */
	struct {
		struct nlmsghdr nh;
		struct if_stats_msg ifsm;
	} req = {
		.nh = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETSTATS,
			.nlmsg_flags = NLM_F_REQUEST, .nlmsg_seq = 1 },
		.ifsm = { .family = AF_UNSPEC,
			  .filter_mask = IFLA_STATS_FILTER_BIT(IFLA_STATS_LINK_64) },
	};
	struct ifreq ifr = { 0 };
	char buf[1024];
	ssize_t n;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	if (ioctl(sk, SIOCGIFINDEX, &ifr) < 0)
		return errno == ENODEV ? CS_ENOENT : CS_EIO;
	req.ifsm.ifindex = (uint32_t)ifr.ifr_ifindex;
	if (send(sk, &req, sizeof(req), 0) < 0)
		return CS_EIO;
	do
		n = recv(sk, buf, sizeof(buf), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return CS_EIO;
	for (struct nlmsghdr *nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)n);
	     nh = NLMSG_NEXT(nh, n)) {
		if (nh->nlmsg_type == NLMSG_ERROR) {
			struct nlmsgerr *e = NLMSG_DATA(nh);
			errno = -e->error;
			return e->error == -ENODEV ? CS_ENOENT : CS_EIO;
		}
		if (nh->nlmsg_type != RTM_NEWSTATS)
			continue;
		int alen = (int)nh->nlmsg_len - (int)NLMSG_LENGTH(sizeof(struct if_stats_msg));
		struct rtattr *a = (struct rtattr *)((char *)NLMSG_DATA(nh) +
						     NLMSG_ALIGN(sizeof(struct if_stats_msg)));
		for (; RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
			if (a->rta_type != IFLA_STATS_LINK_64 ||
			    RTA_PAYLOAD(a) < sizeof(struct rtnl_link_stats64))
				continue;
			struct rtnl_link_stats64 st;
			memcpy(&st, RTA_DATA(a), sizeof(st));
			out->rx_bytes = st.rx_bytes;
			out->tx_bytes = st.tx_bytes;
			out->rx_packets = st.rx_packets;
			out->tx_packets = st.tx_packets;
			out->rx_dropped = st.rx_dropped;
			out->tx_dropped = st.tx_dropped;
			return 0;
		}
		errno = ENODATA;
		return CS_EIO;
	}
	errno = EPROTO;
	return CS_EIO;
}

static int kernel_endpoint_stats(struct vnet_backend *b, const char *tenant, const char *vnet,
				 const char *endpoint, struct endpoint_stats *out)
{
	struct kernel_backend *kb = kb_of(b);
	struct ns_entry *ent;
	char ns[NSNAME_MAX], err[256];
	int nsfd, sk, r;

	memset(out, 0, sizeof(*out));
	r = ns_name(kb, ns, tenant, vnet, endpoint);
	if (r < 0)
		return r;
	pthread_rwlock_rdlock(&kb->lock);
	ent = cache_find(kb, ns);
	/* a cached fd outlives a namespace deleted by hand: only if it is
	 * still the one mounted under its name */
	if (ent && netns_same(ent->fd, ns) == 1) {
		sk = netns_socket(ent->fd, AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
		pthread_rwlock_unlock(&kb->lock);
	} else {
		pthread_rwlock_unlock(&kb->lock);
		nsfd = netns_open(ns, err, sizeof(err));
		if (nsfd < 0) {
			kerr(kb, "endpoint %s/%s/%s is not realized: %s", tenant, vnet, endpoint,
			     err);
			return nsfd;
		}
		sk = netns_socket(nsfd, AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
		close(nsfd);
	}
	if (sk < 0) {
		kerr(kb, "endpoint %s/%s/%s: cannot open a netlink socket in namespace %s: %s",
		     tenant, vnet, endpoint, ns, strerror(errno));
		return sk;
	}
	char dev[IFNAMSIZ];
	r = stats_query(sk, kernel_ep_dev(kb, ns, dev), out);
	if (r < 0)
		kerr(kb, "endpoint %s/%s/%s: cannot read " EP_DEV " in namespace %s: %s", tenant,
		     vnet, endpoint, ns, r == CS_ENOMEM ? "out of memory" : strerror(errno));
	close(sk);
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

int kernel_addrs_fix(struct kernel_backend *kb, struct nl_sock *sk, int ifindex,
		     struct want_addr *w, const char *what)
{
	return addrs_fix(kb, sk, ifindex, w, what, false);
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
	.caps = VNET_CAP_HOST_OBJECTS,
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
	.uplink_qos = kernel_uplink_qos,
	.endpoint_policy = kernel_endpoint_policy,
	.endpoint_denied = kernel_endpoint_denied,
	.underlay_filter = kernel_underlay_filter,
	.underlay_encrypt = kernel_underlay_encrypt,
	.gateway_socket = kernel_gateway_socket,
	.egress_policy = kernel_egress_policy,
	.endpoint_etc = kernel_endpoint_etc,
	.endpoint_attach = kernel_endpoint_attach,
};
