/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QoS in the kernel backend: HTB on the egress of the endpoint's eth0, in
 * its namespace. This kernel has no IFB and no policing, so what an
 * endpoint sends is shaped where it is sent. The layout is fixed, so that a
 * restarted csd recognizes it:
 *
 *   root qdisc htb 1: default 10
 *     class htb 1:1 rate CEIL ceil CEIL
 *       class htb 1:10 rate RATE ceil CEIL burst B cburst B prio CLASS
 *         (leaf: HTB's default pfifo; no fq_codel on this kernel)
 *
 * 1:1 is there because HTB lends only from a parent: a class right under
 * the qdisc never exceeds its rate, whatever its ceil.
 *
 * Every call reads what is there and writes only what differs: a layout in
 * place with other numbers is changed in place (the class keeps its queue,
 * so packets in flight are not dropped); a foreign root qdisc is replaced.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <linux/pkt_sched.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/class.h>
#include <netlink/route/qdisc/htb.h>

#include "cs/cs.h"
#include "kernel_priv.h"
#include "netns.h"

#define QOS_HANDLE TC_HANDLE(1, 0)
#define QOS_TOP TC_HANDLE(1, 1)
#define QOS_CLASS_MINOR 0x10
#define QOS_CLASS TC_HANDLE(1, QOS_CLASS_MINOR)
/* Ethernet frame of a full-sized packet: what HTB counts per packet. */
#define QOS_FRAME 1514
/* HTB's own default quantum is rate/r2q; above 200000 bytes it complains
 * ("quantum is big") and below a frame it is unfair, so set it ourselves. */
#define QOS_QUANTUM_MAX 200000
#define QOS_R2Q 10
/* The default burst: 4 ms worth at the rate (a jiffy at HZ=250, where HTB
 * refills), at least two frames. */
#define QOS_BURST_DIV 250
/* The kernel keeps a burst as its sending time in 32-bit ticks (~274 s);
 * anything near that is a mistake, not a burst. */
#define QOS_BURST_MAX_S 10

/* One HTB class as we want it. */
struct qos_want {
	uint32_t parent, handle;
	uint64_t rate, ceil;	/* bytes/s, as HTB takes them */
	uint32_t burst, quantum, prio;
};

static uint32_t quantum_of(uint64_t rate)
{
	uint64_t q = rate / QOS_R2Q;

	return q < QOS_FRAME ? QOS_FRAME : q > QOS_QUANTUM_MAX ? QOS_QUANTUM_MAX : (uint32_t)q;
}

/* bit/s to bytes/s, rounded up: a guarantee must never come out smaller. */
static uint64_t bytes_per_s(uint64_t bps)
{
	return bps / 8 + (bps % 8 != 0);
}

/* The leaf @w and its parent @top for @qos. */
static int want_of(struct kernel_backend *kb, const char *what, const struct vnet_qos *qos,
		   struct qos_want *w, struct qos_want *top)
{
	uint64_t ceil = qos->ceil ? qos->ceil : qos->rate, burst;

	if (!qos->rate) {
		kernel_err(kb, "%s: QoS rate must be above zero", what);
		return CS_EINVAL;
	}
	if (ceil < qos->rate) {
		kernel_err(kb, "%s: QoS ceil %llu bit/s is below rate %llu bit/s", what,
			   (unsigned long long)ceil, (unsigned long long)qos->rate);
		return CS_EINVAL;
	}
	if ((int)qos->cls < VNET_QOS_REALTIME || qos->cls > VNET_QOS_BULK) {
		kernel_err(kb, "%s: unknown QoS class %d", what, (int)qos->cls);
		return CS_EINVAL;
	}
	w->parent = QOS_TOP;
	w->handle = QOS_CLASS;
	w->rate = bytes_per_s(qos->rate);
	w->ceil = bytes_per_s(ceil);
	burst = qos->burst;
	if (!burst) {
		burst = w->ceil / QOS_BURST_DIV;
		if (burst < 2 * QOS_FRAME)
			burst = 2 * QOS_FRAME;
	}
	/* burst/rate > 10 s, without overflowing the product */
	if (burst / QOS_BURST_MAX_S > w->rate || burst > UINT32_MAX) {
		kernel_err(kb, "%s: QoS burst %llu bytes would take more than %d s at the rate; "
			   "give a smaller burst", what, (unsigned long long)burst,
			   QOS_BURST_MAX_S);
		return CS_EINVAL;
	}
	w->burst = (uint32_t)burst;
	w->quantum = quantum_of(w->rate);
	w->prio = (uint32_t)qos->cls;	/* realtime 0 is served first */
	*top = (struct qos_want){
		.parent = QOS_HANDLE, .handle = QOS_TOP, .rate = w->ceil, .ceil = w->ceil,
		.burst = w->burst, .quantum = quantum_of(w->ceil), .prio = 0,
	};
	return 0;
}

static bool near(uint32_t have, uint32_t want)
{
	/* the kernel keeps a burst as time, so it reads back rounded */
	uint32_t d = have > want ? have - want : want - have;

	return d <= want / 100 + 2;
}

/* Does @cl already say what @w wants? */
static bool class_matches(struct rtnl_class *cl, const struct qos_want *w)
{
	uint64_t rate = 0, ceil = 0;

	if (!rtnl_tc_get_kind(TC_CAST(cl)) || strcmp(rtnl_tc_get_kind(TC_CAST(cl)), "htb"))
		return false;
	if (rtnl_tc_get_parent(TC_CAST(cl)) != w->parent)
		return false;
	if (rtnl_htb_get_rate64(cl, &rate) < 0 || rtnl_htb_get_ceil64(cl, &ceil) < 0)
		return false;
	return rate == w->rate && ceil == w->ceil && rtnl_htb_get_prio(cl) == w->prio &&
	       rtnl_htb_get_quantum(cl) == w->quantum &&
	       near(rtnl_htb_get_rbuffer(cl), w->burst) &&
	       near(rtnl_htb_get_cbuffer(cl), w->burst);
}

static bool qdisc_is_ours(struct rtnl_qdisc *q)
{
	const char *kind = rtnl_tc_get_kind(TC_CAST(q));

	return kind && !strcmp(kind, "htb") && rtnl_tc_get_handle(TC_CAST(q)) == QOS_HANDLE &&
	       rtnl_htb_get_defcls(q) == QOS_CLASS_MINOR;
}

static int nl_code(int nlerr)
{
	if (nlerr == -NLE_OBJ_NOTFOUND || nlerr == -NLE_NODEV)
		return CS_ENOENT;
	if (nlerr == -NLE_NOMEM)
		return CS_ENOMEM;
	return CS_EIO;
}

/* The root qdisc of @ifindex: the default one has handle 0 (noqueue on a
 * macvlan), anything else was installed. NULL if the dump shows none. */
static int root_qdisc(struct nl_sock *sk, int ifindex, struct nl_cache **cache,
		      struct rtnl_qdisc **out)
{
	int r;

	*out = NULL;
	r = rtnl_qdisc_alloc_cache(sk, cache);
	if (r < 0)
		return r;
	*out = rtnl_qdisc_get_by_parent(*cache, ifindex, TC_H_ROOT);
	return 0;
}

static int qdisc_install(struct nl_sock *sk, int ifindex, struct rtnl_qdisc *old)
{
	struct rtnl_qdisc *q;
	int r;

	/* A root htb with other settings cannot be changed in place (htb has
	 * no change operation for the qdisc), so it goes; any other root is
	 * replaced by the add below. */
	if (old && rtnl_tc_get_handle(TC_CAST(old)) == QOS_HANDLE) {
		r = rtnl_qdisc_delete(sk, old);
		if (r < 0 && r != -NLE_OBJ_NOTFOUND)
			return r;
	}
	q = rtnl_qdisc_alloc();
	if (!q)
		return -NLE_NOMEM;
	rtnl_tc_set_ifindex(TC_CAST(q), ifindex);
	rtnl_tc_set_parent(TC_CAST(q), TC_H_ROOT);
	rtnl_tc_set_handle(TC_CAST(q), QOS_HANDLE);
	r = rtnl_tc_set_kind(TC_CAST(q), "htb");
	if (r >= 0)
		r = rtnl_htb_set_defcls(q, QOS_CLASS_MINOR);
	if (r >= 0)
		r = rtnl_htb_set_rate2quantum(q, QOS_R2Q);
	if (r >= 0)
		r = rtnl_qdisc_add(sk, q, NLM_F_CREATE | NLM_F_REPLACE);
	rtnl_qdisc_put(q);
	return r;
}

/* Adds the class, or changes it in place: without NLM_F_EXCL the kernel
 * changes a class that exists. */
static int class_set(struct nl_sock *sk, int ifindex, const struct qos_want *w)
{
	struct rtnl_class *cl;
	int r;

	cl = rtnl_class_alloc();
	if (!cl)
		return -NLE_NOMEM;
	rtnl_tc_set_ifindex(TC_CAST(cl), ifindex);
	rtnl_tc_set_parent(TC_CAST(cl), w->parent);
	rtnl_tc_set_handle(TC_CAST(cl), w->handle);
	r = rtnl_tc_set_kind(TC_CAST(cl), "htb");
	if (r >= 0)
		r = rtnl_htb_set_rate64(cl, w->rate);
	if (r >= 0)
		r = rtnl_htb_set_ceil64(cl, w->ceil);
	if (r >= 0)
		r = rtnl_htb_set_rbuffer(cl, w->burst);
	if (r >= 0)
		r = rtnl_htb_set_cbuffer(cl, w->burst);
	if (r >= 0)
		r = rtnl_htb_set_prio(cl, w->prio);
	if (r >= 0)
		r = rtnl_htb_set_quantum(cl, w->quantum);
	if (r >= 0)
		r = rtnl_class_add(sk, cl, NLM_F_CREATE);
	rtnl_class_put(cl);
	return r;
}

int kernel_endpoint_qos(struct vnet_backend *b, const char *tenant, const char *vnet,
			const char *endpoint, const struct vnet_qos *qos)
{
	struct kernel_backend *kb = (struct kernel_backend *)b;
	struct nl_cache *qcache = NULL, *ccache = NULL;
	struct rtnl_qdisc *root = NULL;
	struct rtnl_class *leaf = NULL, *topcl = NULL;
	struct rtnl_link *eth0 = NULL;
	struct nl_sock *sk = NULL;
	struct qos_want w = { 0 }, top = { 0 };
	char ns[NSNAME_MAX], what[128], err[256];
	int nsfd = -1, ifindex, r;
	bool fresh;

	r = kernel_ns_name(kb, ns, tenant, vnet, endpoint);
	if (r < 0)
		return r;
	snprintf(what, sizeof(what), "endpoint %s/%s/%s", tenant, vnet, endpoint);
	if (qos) {
		r = want_of(kb, what, qos, &w, &top);
		if (r < 0)
			return r;
	}
	nsfd = netns_open(ns, err, sizeof(err));
	if (nsfd < 0) {
		r = nsfd;
		/* nothing to unshape where there is no endpoint */
		if (r == CS_ENOENT && !qos)
			r = 0;
		else
			kernel_err(kb, "%s is not realized: %s", what, err);
		goto out;
	}
	r = kernel_nl_open_in(kb, nsfd, ns, what, &sk);
	if (r < 0)
		goto out;
	r = rtnl_link_get_kernel(sk, 0, EP_DEV, &eth0);
	if (r < 0) {
		if (!qos && nl_code(r) == CS_ENOENT) {
			r = 0;
			goto out;
		}
		kernel_err(kb, "%s: cannot read " EP_DEV " in namespace %s: %s", what, ns,
			   nl_geterror(r));
		r = nl_code(r);
		goto out;
	}
	ifindex = rtnl_link_get_ifindex(eth0);
	r = root_qdisc(sk, ifindex, &qcache, &root);
	if (r < 0) {
		kernel_err(kb, "%s: cannot read the qdiscs of " EP_DEV " in namespace %s: %s",
			   what, ns, nl_geterror(r));
		r = nl_code(r);
		goto out;
	}

	if (!qos) {
		r = 0;
		if (!root || !rtnl_tc_get_handle(TC_CAST(root)))
			goto out;	/* the default qdisc: nothing shapes */
		r = rtnl_qdisc_delete(sk, root);
		if (r == -NLE_OBJ_NOTFOUND)
			r = 0;
		if (r < 0) {
			kernel_err(kb, "%s: cannot remove the root qdisc of " EP_DEV
				   " in namespace %s: %s", what, ns, nl_geterror(r));
			r = nl_code(r);
		}
		goto out;
	}

	fresh = !root || !qdisc_is_ours(root);
	if (!fresh) {
		r = rtnl_class_alloc_cache(sk, ifindex, &ccache);
		if (r < 0) {
			kernel_err(kb, "%s: cannot read the classes of " EP_DEV
				   " in namespace %s: %s", what, ns, nl_geterror(r));
			r = nl_code(r);
			goto out;
		}
		leaf = rtnl_class_get(ccache, ifindex, QOS_CLASS);
		topcl = rtnl_class_get(ccache, ifindex, QOS_TOP);
		/* a class cannot move to another parent: start again */
		if (leaf && rtnl_tc_get_parent(TC_CAST(leaf)) != QOS_TOP)
			fresh = true;
	}
	if (fresh) {
		r = qdisc_install(sk, ifindex, root);
		if (r < 0) {
			kernel_err(kb, "%s: cannot add the HTB root qdisc 1: to " EP_DEV
				   " in namespace %s: %s", what, ns, nl_geterror(r));
			r = nl_code(r);
			goto out;
		}
	}
	if (fresh || !topcl || !class_matches(topcl, &top)) {
		r = class_set(sk, ifindex, &top);
		if (r < 0) {
			kernel_err(kb, "%s: cannot set HTB class 1:1 (rate %llu bytes/s) on "
				   EP_DEV " in namespace %s: %s", what,
				   (unsigned long long)top.rate, ns, nl_geterror(r));
			r = nl_code(r);
			goto out;
		}
	}
	if (fresh || !leaf || !class_matches(leaf, &w)) {
		r = class_set(sk, ifindex, &w);
		if (r < 0) {
			kernel_err(kb, "%s: cannot set HTB class 1:10 (rate %llu, ceil %llu "
				   "bytes/s) on " EP_DEV " in namespace %s: %s", what,
				   (unsigned long long)w.rate, (unsigned long long)w.ceil, ns,
				   nl_geterror(r));
			r = nl_code(r);
			goto out;
		}
	}
	r = 0;
out:
	if (leaf)
		rtnl_class_put(leaf);
	if (topcl)
		rtnl_class_put(topcl);
	if (ccache)
		nl_cache_free(ccache);
	if (root)
		rtnl_qdisc_put(root);
	if (qcache)
		nl_cache_free(qcache);
	if (eth0)
		rtnl_link_put(eth0);
	if (sk)
		nl_socket_free(sk);
	if (nsfd >= 0)
		close(nsfd);
	return r;
}
