/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The vnet's gateway on this node (DESIGN "Vnets and the world"): the first
 * host address of each subnet, the same address and MAC on every node the
 * vnet spans, answered on each node for its own endpoints and never across
 * the underlay (a distributed anycast gateway, as EVPN fabrics do).
 *
 * It is gw0, a bridge-mode macvlan on vx0 kept in the vnet namespace: an
 * interface of its own beside the endpoints' eth0 (a macvlan cannot talk to
 * its lower device, and bridge-mode siblings reach each other locally). Its
 * MAC is 02:63:73 ("cs", locally administered) followed by the VNI, so every
 * node derives the same one.
 *
 * vx0 floods broadcast and multicast to every node and learns source MACs,
 * so without more every node's gw0 would answer ARP and neighbour
 * solicitation for the gateway from every other node, and frames from the
 * gateway's MAC would teach the other nodes' vx0 that it lives here. A
 * netdev table in the vnet namespace (nftables, loaded through
 * libnftables) drops, on vx0's egress, frames from the gateway's MAC and
 * ARP requests and neighbour solicitations for the gateway's addresses.
 * Egress is exactly what goes into the tunnel: bridge-mode macvlans hand
 * frames between siblings through vx0's receive path (so its ingress hook
 * sees the gateway's local traffic and must not filter it), while what
 * vx0 transmits is the copy of a broadcast or multicast, or unicast to a
 * MAC not held here. The table is replaced whole in one batch when it
 * may differ (kernel_nft_load): a netdev chain is bound to the device it
 * was made for, and vx0 may have been made anew.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/macvlan.h>

#include "cs/cs.h"
#include "kernel_priv.h"
#include "netns.h"

#define GW_DEV "gw0"
#define GW_TABLE "netdev cs_gw"

static void gw_mac(uint32_t vni, uint8_t mac[6])
{
	mac[0] = 0x02;
	mac[1] = 0x63;
	mac[2] = 0x73;
	mac[3] = (uint8_t)(vni >> 16);
	mac[4] = (uint8_t)(vni >> 8);
	mac[5] = (uint8_t)vni;
}

/* Is @gw the gateway link we make: a bridge macvlan on vx0, our MAC? */
static bool gw_matches(struct rtnl_link *gw, int vx0_index, const uint8_t mac[6])
{
	struct nl_addr *a = rtnl_link_get_addr(gw);

	return rtnl_link_is_macvlan(gw) &&
	       rtnl_link_macvlan_get_mode(gw) == MACVLAN_MODE_BRIDGE &&
	       rtnl_link_get_link(gw) == vx0_index && a && nl_addr_get_len(a) == 6 &&
	       !memcmp(nl_addr_get_binary_addr(a), mac, 6);
}

static int gw_create(struct nl_sock *vsk, int vx0_index, const uint8_t mac[6], int mtu)
{
	struct rtnl_link *mv = rtnl_link_macvlan_alloc();
	struct nl_addr *a = nl_addr_build(AF_LLC, mac, 6);
	int r = -NLE_NOMEM;

	if (!mv || !a)
		goto out;
	rtnl_link_set_name(mv, GW_DEV);
	rtnl_link_set_link(mv, vx0_index);
	rtnl_link_set_addr(mv, a);
	rtnl_link_set_mtu(mv, (unsigned int)mtu);
	rtnl_link_set_flags(mv, IFF_UP);
	r = rtnl_link_macvlan_set_mode(mv, MACVLAN_MODE_BRIDGE);
	if (r >= 0)
		r = rtnl_link_add(vsk, mv, NLM_F_CREATE | NLM_F_EXCL);
out:
	if (a)
		nl_addr_put(a);
	if (mv)
		rtnl_link_put(mv);
	return r;
}

/* gw0 up with @mtu, made anew when it is not ours; its ifindex or a code. */
static int gw_link(struct kernel_backend *kb, struct nl_sock *vsk, int vx0_index,
		   const uint8_t mac[6], int mtu, const char *what, const char *ns)
{
	struct rtnl_link *gw = NULL, *change = NULL;
	int r = rtnl_link_get_kernel(vsk, 0, GW_DEV, &gw);

	if (r == 0 && !gw_matches(gw, vx0_index, mac)) {
		r = rtnl_link_delete(vsk, gw);
		rtnl_link_put(gw);
		gw = NULL;
		if (r < 0)
			goto fail;
		r = -NLE_OBJ_NOTFOUND;
	}
	if (r < 0) {
		if ((r = gw_create(vsk, vx0_index, mac, mtu)) < 0 ||
		    (r = rtnl_link_get_kernel(vsk, 0, GW_DEV, &gw)) < 0)
			goto fail;
	} else if (rtnl_link_get_mtu(gw) != (unsigned int)mtu ||
		   !(rtnl_link_get_flags(gw) & IFF_UP)) {
		if (!(change = rtnl_link_alloc())) {
			r = -NLE_NOMEM;
			goto fail;
		}
		rtnl_link_set_mtu(change, (unsigned int)mtu);
		rtnl_link_set_flags(change, IFF_UP);
		if ((r = rtnl_link_change(vsk, gw, change, 0)) < 0)
			goto fail;
	}
	r = rtnl_link_get_ifindex(gw);
	goto out;
fail:
	kernel_err(kb, "%s: cannot make the gateway " GW_DEV " on vx0 in namespace %s: %s", what,
		   ns, nl_geterror(r));
	r = CS_EIO;
out:
	if (change)
		rtnl_link_put(change);
	if (gw)
		rtnl_link_put(gw);
	return r;
}

/* The 128 bits of @a as one nft integer (raw payload matches take no
 * address literal). */
static void put_hex128(FILE *f, const struct cs_addr *a)
{
	fputs("0x", f);
	for (int i = 0; i < 16; i++)
		fprintf(f, "%02x", a->a[i]);
}

/* What of the gateway would enter the tunnel: dropped on vx0's egress. */
static void put_chain(FILE *f, const char *mac, const struct cs_addr *gw4,
		      const struct cs_addr *gw6)
{
	char buf[CS_ADDRSTRLEN];

	fputs("\tchain egress {\n\t\ttype filter hook egress device \"" VXLAN_DEV "\" priority 0;\n",
	      f);
	fprintf(f, "\t\tether saddr %s drop\n", mac);
	if (gw4)
		fprintf(f, "\t\tarp operation request arp daddr ip %s drop\n",
			cs_addr_format(gw4, buf));
	if (gw6) {
		/* the target of a solicitation: 8 bytes into the ICMPv6 header */
		fputs("\t\ticmpv6 type nd-neighbor-solicit @th,64,128 ", f);
		put_hex128(f, gw6);
		fputs(" drop\n", f);
	}
	fputs("\t}\n", f);
}

static int gw_filter(struct kernel_backend *kb, int vfd, int vx0_index, const uint8_t m[6],
		     const struct cs_addr *gw4, const struct cs_addr *gw6, const char *what,
		     const char *ns)
{
	char mac[18], *cmds = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&cmds, &len);
	int r;

	if (!f) {
		kernel_err(kb, "%s: out of memory", what);
		return CS_ENOMEM;
	}
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
		 m[4], m[5]);
	/* "add" then "delete" works whether or not the table is there; all of
	 * it is one batch */
	fputs("add table " GW_TABLE "\ndelete table " GW_TABLE "\ntable " GW_TABLE " {\n", f);
	put_chain(f, mac, gw4, gw6);
	fputs("}\n", f);
	if (fclose(f)) {
		free(cmds);
		kernel_err(kb, "%s: out of memory", what);
		return CS_ENOMEM;
	}
	/* skipped when loaded already for this vx0 (a new one has a new
	 * ifindex, and its chain went with the old one) */
	r = kernel_nft_load(kb, vfd, ns, "gw", (uint64_t)vx0_index, cmds, what);
	free(cmds);
	return r;
}

int kernel_gw_ensure(struct kernel_backend *kb, struct nl_sock *vsk, int vfd, int vx0_index,
		     const struct vnet_spec *v, int mtu, const char *what, const char *ns)
{
	struct cs_addr gw4, gw6;
	uint8_t mac[6];
	int ifindex, r;

	if (v->has4)
		ipam_gateway(&v->subnet4, &gw4);
	if (v->has6)
		ipam_gateway(&v->subnet6, &gw6);
	gw_mac(v->id, mac);
	/* the filter first: the gateway never speaks on vx0, not even once */
	r = gw_filter(kb, vfd, vx0_index, mac, v->has4 ? &gw4 : NULL, v->has6 ? &gw6 : NULL, what, ns);
	if (r < 0)
		return r;
	if ((ifindex = gw_link(kb, vsk, vx0_index, mac, mtu, what, ns)) < 0)
		return ifindex;
	struct want_addr w[2] = {
		{ .want = v->has4, .family = AF_INET, .plen = v->subnet4.plen, .addr = &gw4 },
		{ .want = v->has6, .family = AF_INET6, .plen = v->subnet6.plen, .addr = &gw6 },
	};
	return kernel_addrs_fix(kb, vsk, ifindex, w, what);
}

int kernel_gateway_socket(struct vnet_backend *b, const char *tenant, const char *vnet,
			  int domain, int type, int protocol)
{
	struct kernel_backend *kb = (struct kernel_backend *)b;
	char ns[NSNAME_MAX], err[256];
	int nsfd, fd, e, r;

	if ((r = kernel_ns_name(kb, ns, tenant, vnet, NULL)) < 0)
		return r;
	if ((nsfd = netns_open(ns, err, sizeof(err))) < 0) {
		kernel_err(kb, "vnet %s/%s: %s", tenant, vnet, err);
		return nsfd;
	}
	fd = netns_socket(nsfd, domain, type, protocol);
	e = errno;
	close(nsfd);
	if (fd < 0)
		kernel_err(kb, "vnet %s/%s: cannot create a socket in namespace %s: %s", tenant,
			   vnet, ns, strerror(e));
	/* the gateway's DNS keeps them: out of the way of select() users */
	return netns_fd_high(fd);
}
