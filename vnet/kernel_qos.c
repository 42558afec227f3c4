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
#include <net/if.h>
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
#include <netlink/route/addr.h>
#include <netlink/route/classifier.h>
#include <netlink/route/cls/u32.h>
#include <linux/if_ether.h>

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

static int qdisc_install_as(struct nl_sock *sk, int ifindex, struct rtnl_qdisc *old,
			    uint32_t handle, uint32_t defcls);

static int qdisc_install(struct nl_sock *sk, int ifindex, struct rtnl_qdisc *old)
{
	return qdisc_install_as(sk, ifindex, old, QOS_HANDLE, QOS_CLASS_MINOR);
}

static int qdisc_install_as(struct nl_sock *sk, int ifindex, struct rtnl_qdisc *old,
			    uint32_t handle, uint32_t defcls)
{
	struct rtnl_qdisc *q;
	int r;

	/* A root htb with other settings cannot be changed in place (htb has
	 * no change operation for the qdisc), so it goes; any other root is
	 * replaced by the add below. */
	if (old && rtnl_tc_get_handle(TC_CAST(old)) == handle) {
		r = rtnl_qdisc_delete(sk, old);
		if (r < 0 && r != -NLE_OBJ_NOTFOUND)
			return r;
	}
	q = rtnl_qdisc_alloc();
	if (!q)
		return -NLE_NOMEM;
	rtnl_tc_set_ifindex(TC_CAST(q), ifindex);
	rtnl_tc_set_parent(TC_CAST(q), TC_H_ROOT);
	rtnl_tc_set_handle(TC_CAST(q), handle);
	r = rtnl_tc_set_kind(TC_CAST(q), "htb");
	if (r >= 0)
		r = rtnl_htb_set_defcls(q, defcls);
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

/* What a reading of a device's tc state holds; each may be NULL. */
static void tc_read_free(struct rtnl_class *c1, struct rtnl_class *c2, struct nl_cache *ccache,
			 struct rtnl_qdisc *root, struct nl_cache *qcache)
{
	if (c1)
		rtnl_class_put(c1);
	if (c2)
		rtnl_class_put(c2);
	if (ccache)
		nl_cache_free(ccache);
	if (root)
		rtnl_qdisc_put(root);
	if (qcache)
		nl_cache_free(qcache);
}

/* back to the default qdisc: nothing shapes */
static int qos_remove(struct kernel_backend *kb, struct nl_sock *sk, struct rtnl_qdisc *root,
		      const char *what, const char *ns)
{
	int r;

	if (!root || !rtnl_tc_get_handle(TC_CAST(root)))
		return 0;
	r = rtnl_qdisc_delete(sk, root);
	if (r == -NLE_OBJ_NOTFOUND)
		r = 0;
	if (r < 0) {
		kernel_err(kb, "%s: cannot remove the root qdisc of " EP_DEV
			   " in namespace %s: %s", what, ns, nl_geterror(r));
		r = nl_code(r);
	}
	return r;
}

/* the HTB tree w and top want, changing only what differs from what is
 * there (root, NULL or the current root qdisc) */
static int qos_install(struct kernel_backend *kb, struct nl_sock *sk, int ifindex,
		       struct rtnl_qdisc *root, const struct qos_want *w,
		       const struct qos_want *top, const char *what, const char *ns)
{
	struct nl_cache *ccache = NULL;
	struct rtnl_class *leaf = NULL, *topcl = NULL;
	bool fresh = !root || !qdisc_is_ours(root);
	int r = 0;

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
	if (fresh || !topcl || !class_matches(topcl, top)) {
		r = class_set(sk, ifindex, top);
		if (r < 0) {
			kernel_err(kb, "%s: cannot set HTB class 1:1 (rate %llu bytes/s) on "
				   EP_DEV " in namespace %s: %s", what,
				   (unsigned long long)top->rate, ns, nl_geterror(r));
			r = nl_code(r);
			goto out;
		}
	}
	if (fresh || !leaf || !class_matches(leaf, w)) {
		r = class_set(sk, ifindex, w);
		if (r < 0) {
			kernel_err(kb, "%s: cannot set HTB class 1:10 (rate %llu, ceil %llu "
				   "bytes/s) on " EP_DEV " in namespace %s: %s", what,
				   (unsigned long long)w->rate, (unsigned long long)w->ceil, ns,
				   nl_geterror(r));
			r = nl_code(r);
			goto out;
		}
	}
	r = 0;
out:
	tc_read_free(leaf, topcl, ccache, NULL, NULL);
	return r;
}

int kernel_endpoint_qos(struct vnet_backend *b, const char *tenant, const char *vnet,
			const char *endpoint, const struct vnet_qos *qos)
{
	struct kernel_backend *kb = (struct kernel_backend *)b;
	struct nl_cache *qcache = NULL;
	struct rtnl_qdisc *root = NULL;
	struct rtnl_link *eth0 = NULL;
	struct nl_sock *sk = NULL;
	struct qos_want w = { 0 }, top = { 0 };
	char ns[NSNAME_MAX], what[128], err[256], dev[IFNAMSIZ];
	int nsfd = -1, ifindex, r;

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
	r = rtnl_link_get_kernel(sk, 0, kernel_ep_dev(kb, ns, dev), &eth0);
	if (r < 0) {
		if (!qos && nl_code(r) == CS_ENOENT) {
			r = 0;
			goto out;
		}
		kernel_err(kb, "%s: cannot read %s in namespace %s: %s", what, dev, ns,
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
	r = qos ? qos_install(kb, sk, ifindex, root, &w, &top, what, ns)
		: qos_remove(kb, sk, root, what, ns);
out:
	tc_read_free(NULL, NULL, NULL, root, qcache);
	if (eth0)
		rtnl_link_put(eth0);
	if (sk)
		nl_socket_free(sk);
	if (nsfd >= 0)
		close(nsfd);
	return r;
}

/*
 * The node's uplink (opt-in, node key uplink_shape): on the underlay
 * device, the one holding the node's underlay address in csd's own
 * namespace,
 *
 *   root qdisc htb c5: default 20
 *     class htb c5:20 rate LINE ceil LINE        everything else (untouched)
 *     class htb c5:30 rate UPLINK ceil UPLINK    VXLAN: UDP to port 4789
 *   filter u32 (IPv4 and IPv6): UDP, destination port 4789 -> c5:30
 *
 * Both classes sit right under the qdisc, so neither borrows: what the
 * vnets send across nodes never exceeds the uplink, and other traffic
 * meets a class far above any NIC's speed. The handle c5: marks it ours.
 */
#define UL_HANDLE TC_HANDLE(0xc5, 0)
#define UL_DEFAULT_MINOR 0x20
#define UL_OTHER TC_HANDLE(0xc5, UL_DEFAULT_MINOR)
#define UL_VXLAN TC_HANDLE(0xc5, 0x30)
#define UL_LINE_BPS 400000000000ULL	/* 400 Gbit/s: no shaping */

int kernel_underlay_ns(struct kernel_backend *kb);

/* The index of the link holding @a in the namespace of @sk; 0 if none. */
static int link_of_addr(struct nl_sock *sk, const struct cs_addr *a, int *ifindex)
{
	struct nl_cache *cache = NULL;
	size_t len = a->family == AF_INET ? 4 : 16;
	int r = rtnl_addr_alloc_cache(sk, &cache);

	*ifindex = 0;
	if (r < 0)
		return r;
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *ad = (struct rtnl_addr *)o;
		struct nl_addr *l = rtnl_addr_get_local(ad);
		if (l && nl_addr_get_family(l) == a->family && nl_addr_get_len(l) == len &&
		    !memcmp(nl_addr_get_binary_addr(l), a->a, len)) {
			*ifindex = rtnl_addr_get_ifindex(ad);
			break;
		}
	}
	nl_cache_free(cache);
	return 0;
}

/* u32: UDP to the VXLAN port, IPv4 or IPv6 (no extension headers). */
static int vxlan_filter_add(struct nl_sock *sk, int ifindex, bool v6)
{
	struct rtnl_cls *cls = rtnl_cls_alloc();
	int r;

	if (!cls)
		return -NLE_NOMEM;
	rtnl_tc_set_ifindex(TC_CAST(cls), ifindex);
	rtnl_tc_set_parent(TC_CAST(cls), UL_HANDLE);
	rtnl_cls_set_protocol(cls, v6 ? ETH_P_IPV6 : ETH_P_IP);
	rtnl_cls_set_prio(cls, v6 ? 2 : 1);
	r = rtnl_tc_set_kind(TC_CAST(cls), "u32");
	if (r >= 0)
		r = rtnl_u32_set_classid(cls, UL_VXLAN);
	/* protocol/next header 17 (UDP); destination port after a fixed header */
	if (r >= 0)
		r = v6 ? rtnl_u32_add_key_uint8(cls, 17, 0xff, 6, 0)
		       : rtnl_u32_add_key_uint8(cls, 17, 0xff, 9, 0);
	if (r >= 0)
		r = rtnl_u32_add_key_uint16(cls, VXLAN_PORT, 0xffff, v6 ? 42 : 22, 0);
	/* without it a match classifies nothing */
	if (r >= 0)
		r = rtnl_u32_set_cls_terminal(cls);
	if (r >= 0)
		r = rtnl_cls_add(sk, cls, NLM_F_CREATE | NLM_F_EXCL);
	rtnl_cls_put(cls);
	return r;
}

int kernel_uplink_qos(struct vnet_backend *b, const struct cs_addr *underlay, uint64_t bps)
{
	struct kernel_backend *kb = (struct kernel_backend *)b;
	struct nl_cache *qcache = NULL, *ccache = NULL;
	struct rtnl_qdisc *root = NULL;
	struct rtnl_class *vx = NULL, *other = NULL;
	struct nl_sock *sk = NULL;
	char abuf[CS_ADDRSTRLEN];
	int ifindex = 0, r;

	if (!underlay) {
		kernel_err(kb, "node uplink: no underlay address to find the device by");
		return bps ? CS_EINVAL : 0;
	}
	cs_addr_format(underlay, abuf);
	r = kernel_nl_open_in(kb, kernel_underlay_ns(kb), "underlay", "node uplink", &sk);
	if (r < 0)
		return r;
	if ((r = link_of_addr(sk, underlay, &ifindex)) < 0 || !ifindex) {
		kernel_err(kb, "node uplink: no device holds the underlay address %s%s%s", abuf,
			   r < 0 ? ": " : "", r < 0 ? nl_geterror(r) : "");
		r = r < 0 ? nl_code(r) : (bps ? CS_ENOENT : 0);
		goto out;
	}
	if ((r = root_qdisc(sk, ifindex, &qcache, &root)) < 0) {
		kernel_err(kb, "node uplink: cannot read the qdiscs of the device of %s: %s", abuf,
			   nl_geterror(r));
		r = nl_code(r);
		goto out;
	}
	bool ours = root && rtnl_tc_get_handle(TC_CAST(root)) == UL_HANDLE;
	if (!bps) {
		/* only ours goes: anything else on the NIC is the operator's */
		r = ours ? rtnl_qdisc_delete(sk, root) : 0;
		if (r == -NLE_OBJ_NOTFOUND)
			r = 0;
		if (r < 0) {
			kernel_err(kb, "node uplink: cannot remove the HTB qdisc c5: from the device "
				   "of %s: %s", abuf, nl_geterror(r));
			r = nl_code(r);
		}
		goto out;
	}
	uint64_t line = bytes_per_s(UL_LINE_BPS), up = bytes_per_s(bps);
	uint64_t lburst = line / QOS_BURST_DIV, uburst = up / QOS_BURST_DIV;
	if (uburst < 2 * QOS_FRAME)
		uburst = 2 * QOS_FRAME;
	struct qos_want wo = { UL_HANDLE, UL_OTHER, line, line, (uint32_t)lburst,
			       QOS_QUANTUM_MAX, 0 };
	struct qos_want wv = { UL_HANDLE, UL_VXLAN, up, up,
			       uburst > UINT32_MAX ? UINT32_MAX : (uint32_t)uburst,
			       quantum_of(up), 0 };
	bool fresh = !ours || rtnl_htb_get_defcls(root) != UL_DEFAULT_MINOR;
	if (!fresh) {
		if ((r = rtnl_class_alloc_cache(sk, ifindex, &ccache)) < 0) {
			kernel_err(kb, "node uplink: cannot read the classes of the device of %s: %s",
				   abuf, nl_geterror(r));
			r = nl_code(r);
			goto out;
		}
		vx = rtnl_class_get(ccache, ifindex, UL_VXLAN);
		other = rtnl_class_get(ccache, ifindex, UL_OTHER);
	}
	if (fresh && (r = qdisc_install_as(sk, ifindex, root, UL_HANDLE, UL_DEFAULT_MINOR)) < 0) {
		kernel_err(kb, "node uplink: cannot add the HTB qdisc c5: to the device of %s: %s",
			   abuf, nl_geterror(r));
		r = nl_code(r);
		goto out;
	}
	if ((fresh || !other || !class_matches(other, &wo)) && (r = class_set(sk, ifindex, &wo)) < 0) {
		kernel_err(kb, "node uplink: cannot set HTB class c5:20 on the device of %s: %s",
			   abuf, nl_geterror(r));
		r = nl_code(r);
		goto out;
	}
	if ((fresh || !vx || !class_matches(vx, &wv)) && (r = class_set(sk, ifindex, &wv)) < 0) {
		kernel_err(kb, "node uplink: cannot set HTB class c5:30 (%llu bytes/s) on the "
			   "device of %s: %s", (unsigned long long)up, abuf, nl_geterror(r));
		r = nl_code(r);
		goto out;
	}
	if (fresh && ((r = vxlan_filter_add(sk, ifindex, false)) < 0 ||
		      (r = vxlan_filter_add(sk, ifindex, true)) < 0)) {
		kernel_err(kb, "node uplink: cannot add the VXLAN filter on the device of %s: %s",
			   abuf, nl_geterror(r));
		r = nl_code(r);
		goto out;
	}
	r = 0;
out:
	tc_read_free(vx, other, ccache, root, qcache);
	if (sk)
		nl_socket_free(sk);
	return r;
}
