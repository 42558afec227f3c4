/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The kernel backend's encrypted underlay. One WireGuard interface per
 * csd, PREFIX "wg", in the underlay namespace, listening on the node's
 * wg_port; its peers are the other nodes of the vnets realized here, each
 * allowed only its own underlay address (/32 or /128), reached at its
 * underlay address and wg_port.
 *
 * VXLAN itself is unchanged (remote = the peer's underlay address, port
 * 4789); only its packets are steered into the tunnel, by a policy rule
 * "ipproto udp dport 4789 lookup TABLE" where TABLE routes each peer's
 * underlay address /32 into the interface. WireGuard's own packets go to
 * its port, not 4789, so the rule never loops them back (no fwmark
 * needed). On the receiving node they come out of the interface with the
 * peer's underlay address as source, which WireGuard authenticated
 * (cryptokey routing: a peer speaks only for its allowed IP), and the
 * underlay filter accepts VXLAN only from that interface.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/fib_rules.h>
#include <linux/if.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <netlink/route/rule.h>

#include "cs/cs.h"
#include "kernel_priv.h"
#include "netns.h"
#include "wg.h"

/* the policy rule's priority and routing table ("cs" in ASCII) */
#define WG_RULE_PRIO 6373
#define WG_TABLE 6373

static void wg_ifname(struct kernel_backend *kb, char out[16])
{
	snprintf(out, 16, "%swg", kb->prefix);
}

static int wg_nl(struct kernel_backend *kb, struct nl_sock **sk)
{
	return kernel_nl_open_in(kb, kernel_underlay_ns(kb), "(underlay)", "encrypted underlay",
				 sk);
}

static struct nl_addr *host_addr(const struct cs_addr *a)
{
	struct nl_addr *na = nl_addr_build(a->family, a->a, a->family == AF_INET6 ? 16 : 4);

	if (na)
		nl_addr_set_prefixlen(na, a->family == AF_INET6 ? 128 : 32);
	return na;
}

/* The rules steering VXLAN (IPv4 and IPv6) into WG_TABLE: added, or
 * (@del) removed. */
static int rules_fix(struct nl_sock *sk, bool del)
{
	int fams[2] = { AF_INET, AF_INET6 }, r = 0;

	for (int i = 0; i < 2; i++) {
		struct rtnl_rule *ru = rtnl_rule_alloc();
		int e;
		if (!ru)
			return CS_ENOMEM;
		rtnl_rule_set_family(ru, fams[i]);
		rtnl_rule_set_prio(ru, WG_RULE_PRIO);
		rtnl_rule_set_table(ru, WG_TABLE);
		rtnl_rule_set_action(ru, FR_ACT_TO_TBL);
		rtnl_rule_set_ipproto(ru, IPPROTO_UDP);
		rtnl_rule_set_dport(ru, VXLAN_PORT);
		e = del ? rtnl_rule_delete(sk, ru, 0) : rtnl_rule_add(sk, ru, NLM_F_EXCL);
		if (e < 0 && e != -NLE_EXIST && e != -NLE_OBJ_NOTFOUND && e != -NLE_NOADDR)
			r = CS_EIO;
		rtnl_rule_put(ru);
	}
	return r;
}

static bool peer_in(const struct nl_addr *dst, const struct vnet_encrypt *e)
{
	for (size_t i = 0; e && i < e->npeers; i++) {
		struct nl_addr *na = host_addr(&e->peers[i].underlay);
		bool same = na && !nl_addr_cmp(na, dst);
		nl_addr_put(na);
		if (same)
			return true;
	}
	return false;
}

/* WG_TABLE: a route into @ifindex for each peer, nothing else (@e NULL:
 * nothing at all). */
static int routes_fix(struct nl_sock *sk, int ifindex, const struct vnet_encrypt *e)
{
	struct nl_cache *cache = NULL;
	struct nl_object *o;
	int r = 0;

	if (rtnl_route_alloc_cache(sk, AF_UNSPEC, 0, &cache) < 0)
		return CS_EIO;
	for (o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_route *rt = (struct rtnl_route *)o;
		if (rtnl_route_get_table(rt) == WG_TABLE && !peer_in(rtnl_route_get_dst(rt), e))
			rtnl_route_delete(sk, rt, 0);
	}
	nl_cache_free(cache);
	for (size_t i = 0; e && i < e->npeers && r == 0; i++) {
		struct rtnl_route *rt = rtnl_route_alloc();
		struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
		struct nl_addr *dst = host_addr(&e->peers[i].underlay);
		if (!rt || !nh || !dst) {
			r = CS_ENOMEM;
		} else {
			rtnl_route_set_family(rt, (uint8_t)e->peers[i].underlay.family);
			rtnl_route_set_table(rt, WG_TABLE);
			rtnl_route_set_scope(rt, RT_SCOPE_LINK);
			rtnl_route_set_dst(rt, dst);
			rtnl_route_nh_set_ifindex(nh, ifindex);
			rtnl_route_add_nexthop(rt, nh);
			nh = NULL;
			if (rtnl_route_add(sk, rt, NLM_F_REPLACE) < 0)
				r = CS_EIO;
		}
		if (nh)
			rtnl_route_nh_free(nh);
		nl_addr_put(dst);
		rtnl_route_put(rt);
	}
	return r;
}

/* Bring the interface up with the tunnel's MTU; its ifindex. */
static int link_ready(struct nl_sock *sk, const char *ifname)
{
	struct rtnl_link *l = NULL, *chg = rtnl_link_alloc();
	int ifindex, r;

	if (!chg || rtnl_link_get_kernel(sk, 0, ifname, &l) < 0) {
		rtnl_link_put(chg);
		return CS_EIO;
	}
	ifindex = rtnl_link_get_ifindex(l);
	rtnl_link_set_flags(chg, IFF_UP);
	rtnl_link_set_mtu(chg, WG_IF_MTU);
	r = rtnl_link_change(sk, l, chg, 0);
	rtnl_link_put(chg);
	rtnl_link_put(l);
	return r < 0 ? CS_EIO : ifindex;
}

static int wg_stop_driver(struct kernel_backend *kb, const struct wg_driver *d,
			  const char *ifname)
{
	char why[256];
	int r = d->down(kernel_underlay_ns(kb), ifname, why, sizeof(why));

	if (r < 0)
		kernel_err(kb, "encrypted underlay: %s", why);
	return r;
}

/* Stop the tunnel and remove its routing: no vnet across nodes needs it. */
static int wg_stop(struct kernel_backend *kb, struct nl_sock *sk, const char *ifname)
{
	int r = rules_fix(sk, true);

	if (routes_fix(sk, 0, NULL) < 0)
		r = CS_EIO;
	if (wg_stop_driver(kb, &wg_driver_go, ifname) < 0 ||
	    wg_stop_driver(kb, &wg_driver_kernel, ifname) < 0)
		r = CS_EIO;
	memset(&kb->wgf, 0, sizeof(kb->wgf));
	kb->wgd = NULL;
	return r;
}

/* The driver whose tunnel runs under @ifname (to adopt), or NULL. */
static const struct wg_driver *wg_found(int ns, const char *ifname)
{
	if (wg_driver_go.running(ns, ifname))
		return &wg_driver_go;
	if (wg_driver_kernel.running(ns, ifname))
		return &wg_driver_kernel;
	return NULL;
}

/* The driver of a tunnel already there (adopted), else the kernel's where
 * it can make one, else wireguard-go; @want may insist on one (a tunnel of
 * the other then goes). */
static int wg_start(struct kernel_backend *kb, const char *ifname, enum vnet_wg_driver want)
{
	const struct wg_driver *only = want == VNET_WG_KERNEL ? &wg_driver_kernel :
				       want == VNET_WG_GO ? &wg_driver_go : NULL;
	int ns = kernel_underlay_ns(kb), r;
	char why[256];

	if (!kb->wgd)
		kb->wgd = wg_found(ns, ifname);
	if (kb->wgd && only && kb->wgd != only) {
		wg_stop_driver(kb, kb->wgd, ifname);
		kb->wgd = NULL;
	}
	if (!kb->wgd)
		kb->wgd = only ? only : &wg_driver_kernel;
	r = kb->wgd->up(ns, ifname, why, sizeof(why));
	if (r == CS_ENOTSUP && !only) {
		kb->wgd = &wg_driver_go;
		r = kb->wgd->up(ns, ifname, why, sizeof(why));
	}
	if (r < 0) {
		kernel_err(kb, "encrypted underlay: %s", why);
		kb->wgd = NULL;
	}
	return r;
}

/* Make the interface hold exactly @e's key, port and peers. */
static int wg_configure(struct kernel_backend *kb, const char *ifname,
			const struct vnet_encrypt *e)
{
	struct wg_peer_set *want = calloc(e->npeers + 1, sizeof(*want));
	struct wg_state cur = { 0 };
	struct wg_set set = { 0 };
	int ns = kernel_underlay_ns(kb), r;
	char why[256];

	if (!want)
		return CS_ENOMEM;
	for (size_t i = 0; i < e->npeers; i++) {
		memcpy(want[i].key, e->peers[i].key, WG_KEY_LEN);
		want[i].endpoint = e->peers[i].underlay;
		want[i].port = e->peers[i].port;
	}
	if ((r = kb->wgd->get(ns, ifname, &cur, why, sizeof(why))) < 0 ||
	    (r = wg_diff(&cur, e->priv, e->port, want, e->npeers, &set)) < 0)
		goto out;
	if ((set.set_key || set.set_port || set.npeers) &&
	    (r = kb->wgd->set(ns, ifname, &set, why, sizeof(why))) < 0)
		goto out;
out:
	if (r < 0)
		kernel_err(kb, "encrypted underlay (%s): %s", kb->wgd->name,
			   r == CS_ENOMEM ? "out of memory" : why);
	wg_state_clear(&cur);
	explicit_bzero(&set, sizeof(set.priv));
	free((void *)set.peers);
	free(want);
	return r;
}

int kernel_underlay_encrypt(struct vnet_backend *b, const struct vnet_encrypt *e)
{
	struct kernel_backend *kb = (struct kernel_backend *)b;
	struct nl_sock *sk = NULL;
	char ifname[16];
	int r, ifindex;

	wg_ifname(kb, ifname);
	if ((r = wg_nl(kb, &sk)) < 0)
		return r;
	if (!e || !e->npeers) {
		r = wg_stop(kb, sk, ifname);
		goto out;
	}
	/* the filter takes VXLAN only through the tunnel from now on, even
	 * if what follows fails: traffic stops rather than leave in clear */
	snprintf(kb->wgf.ifname, sizeof(kb->wgf.ifname), "%s", ifname);
	kb->wgf.port = e->port;
	if ((r = wg_start(kb, ifname, e->driver)) < 0 || (r = wg_configure(kb, ifname, e)) < 0)
		goto out;
	if ((ifindex = link_ready(sk, ifname)) < 0) {
		kernel_err(kb, "encrypted underlay: cannot bring %s up", ifname);
		r = ifindex;
		goto out;
	}
	if ((r = routes_fix(sk, ifindex, e)) < 0 || (r = rules_fix(sk, false)) < 0) {
		kernel_err(kb, "encrypted underlay: cannot steer VXLAN into %s (table %d, rule "
			   "priority %d)", ifname, WG_TABLE, WG_RULE_PRIO);
		goto out;
	}
out:
	nl_socket_free(sk);
	return r;
}
