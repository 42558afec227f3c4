/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Egress (vnet key "egress", DESIGN "Vnets and the world"): endpoints of a
 * vnet with egress reach the world through the node holding them.
 *
 * Tenants' subnets overlap and this kernel has no VRF, so each vnet has a
 * way out of its own: a veth "eg0" in the vnet namespace whose other end,
 * PREFIX "x" VNI (hex), sits in the host (underlay) namespace. Endpoints
 * route by default to the gateway (gw0, in the vnet namespace), which
 * forwards to eg0 and masquerades to eg0's transit address there, so what
 * reaches the host carries an address unique to the vnet; the host
 * forwards it and masquerades again to the address of the interface it
 * leaves by. Transit addresses are link-local, per vnet: IPv4
 * 169.254.0.0/16 as /31 pairs indexed by the VNI modulo 32768, IPv6
 * fd63:7363::/96 as /127 pairs indexed by the VNI.
 *
 * In the vnet namespace (table inet cs_egress): forwarding from gw0 to eg0
 * only, replies back; nothing from outside starts a connection inward.
 * In the host namespace (table inet PREFIX_egress, one for all vnets):
 * nothing from an egress link reaches the node itself (input: its own
 * addresses, so its store, metrics and VXLAN port there), nor any other
 * node's underlay address or the store's hosts, nor the VXLAN port
 * anywhere, nor another vnet's link; nothing new enters a vnet. The host
 * forwards (net.ipv4.ip_forward and net.ipv6.conf.all.forwarding are set
 * when the first vnet with egress is made here, and left set).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>

#include "cs/cs.h"
#include "kernel_priv.h"
#include "netns.h"

#define EG_DEV "eg0"
#define EG_TABLE "inet cs_egress"

/* The transit addresses of VNI @vni: [0] host side, [1] vnet side. */
static void transit4(uint32_t vni, struct cs_addr out[2])
{
	uint32_t idx = vni & 0x7fff;

	for (int i = 0; i < 2; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].family = AF_INET;
		out[i].a[0] = 169;
		out[i].a[1] = 254;
		out[i].a[2] = (uint8_t)(idx >> 7);
		out[i].a[3] = (uint8_t)(((idx & 0x7f) << 1) | (uint32_t)i);
	}
}

static void transit6(uint32_t vni, struct cs_addr out[2])
{
	static const uint8_t base[] = { 0xfd, 0x63, 0x73, 0x63 };
	uint32_t v = vni << 1;

	for (int i = 0; i < 2; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].family = AF_INET6;
		memcpy(out[i].a, base, sizeof(base));
		out[i].a[12] = (uint8_t)(v >> 24);
		out[i].a[13] = (uint8_t)(v >> 16);
		out[i].a[14] = (uint8_t)(v >> 8);
		out[i].a[15] = (uint8_t)(v | (uint32_t)i);
	}
}

void kernel_transit_addrs(uint32_t vni, struct cs_addr t4[2], struct cs_addr t6[2])
{
	transit4(vni, t4);
	transit6(vni, t6);
}

static void host_dev(struct kernel_backend *kb, uint32_t vni, char *buf)
{
	snprintf(buf, IFNAMSIZ, "%sx%06x", kb->prefix, vni);
}

static int link_up(struct nl_sock *sk, const char *name)
{
	struct rtnl_link *l = NULL, *change = rtnl_link_alloc();
	int r = change ? rtnl_link_get_kernel(sk, 0, name, &l) : -NLE_NOMEM;

	if (r >= 0) {
		rtnl_link_set_flags(change, IFF_UP);
		r = rtnl_link_change(sk, l, change, 0);
		rtnl_link_put(l);
	}
	if (change)
		rtnl_link_put(change);
	return r;
}

/* Runs in a namespace: forwarding on there. */
static int forward_fn(void *arg)
{
	static const char *const kv[][2] = {
		{ "net/ipv4/ip_forward", "1\n" }, { "net/ipv6/conf/all/forwarding", "1\n" },
	};

	(void)arg;
	return netns_sysctls_write(kv, 2, NULL) < 0 ? CS_EIO : 0;
}

/* Runs in a namespace: the link named @arg without duplicate address
 * detection (a point-to-point link of ours: without this, IPv6 waits a
 * second or two for its link-local address before it forwards). */
static int nodad_fn(void *arg)
{
	char path[64];

	snprintf(path, sizeof(path), "net/ipv6/conf/%s/accept_dad", (const char *)arg);
	return netns_sysctl_write(path, "0\n");
}

/* @hname (in the vnet namespace) to the host namespace, both ends up. */
static int eg_move_up(struct nl_sock *vsk, struct nl_sock *hsk, const char *hname, int hostfd,
		      int vfd)
{
	char err[256];

	struct rtnl_link *l = NULL, *change = rtnl_link_alloc();
	int r = change ? rtnl_link_get_kernel(vsk, 0, hname, &l) : -NLE_NOMEM;

	if (r >= 0) {
		rtnl_link_set_ns_fd(change, hostfd);
		r = rtnl_link_change(vsk, l, change, 0);
		rtnl_link_put(l);
		l = NULL;
	}
	/* best effort: IPv6 works without, a little later */
	netns_run(hostfd, nodad_fn, (void *)hname, err, sizeof(err));
	netns_run(vfd, nodad_fn, (void *)EG_DEV, err, sizeof(err));
	if (r >= 0)
		r = link_up(hsk, hname);
	if (r >= 0)
		r = link_up(vsk, EG_DEV);
	if (change)
		rtnl_link_put(change);
	return r;
}

/* The veth eg0 (vnet side) / PREFIX x VNI (host side), made when missing. */
static int eg_link(struct kernel_backend *kb, struct nl_sock *vsk, struct nl_sock *hsk,
		   int hostfd, int vfd, const char *hname, const char *what)
{
	struct rtnl_link *l = NULL, *veth = NULL, *peer;
	int r;

	if (rtnl_link_get_kernel(vsk, 0, EG_DEV, &l) == 0 &&
	    rtnl_link_get_kernel(hsk, 0, hname, &veth) == 0) {
		rtnl_link_put(l);
		rtnl_link_put(veth);
		return 0;
	}
	if (l) {
		rtnl_link_delete(vsk, l);
		rtnl_link_put(l);
	}
	if (veth) {
		rtnl_link_delete(hsk, veth);
		rtnl_link_put(veth);
	}
	if (!(veth = rtnl_link_veth_alloc()))
		return CS_ENOMEM;
	/* made in the vnet namespace, then the host end moved out: one
	 * request naming the peer's namespace is refused by this libnl */
	rtnl_link_set_name(veth, EG_DEV);
	peer = rtnl_link_veth_get_peer(veth);
	rtnl_link_set_name(peer, hname);
	r = rtnl_link_add(vsk, veth, NLM_F_CREATE | NLM_F_EXCL);
	rtnl_link_put(peer);
	rtnl_link_put(veth);
	if (r >= 0)
		r = eg_move_up(vsk, hsk, hname, hostfd, vfd);
	if (r < 0) {
		kernel_err(kb, "%s: cannot make the egress link " EG_DEV "/%s: %s", what, hname,
			   nl_geterror(r));
		return CS_EIO;
	}
	return 0;
}

/* Up, with exactly the transit addresses of one side. */
static int eg_addrs(struct kernel_backend *kb, struct nl_sock *sk, const char *dev,
		    const struct cs_addr *a4, const struct cs_addr *a6, const char *what)
{
	struct rtnl_link *l = NULL;
	int r = rtnl_link_get_kernel(sk, 0, dev, &l);

	if (r < 0) {
		kernel_err(kb, "%s: the egress link %s is gone: %s", what, dev, nl_geterror(r));
		return CS_EIO;
	}
	struct want_addr w[2] = {
		{ .want = true, .family = AF_INET, .plen = 31, .addr = a4 },
		{ .want = true, .family = AF_INET6, .plen = 127, .addr = a6 },
	};
	r = kernel_addrs_fix(kb, sk, rtnl_link_get_ifindex(l), w, what);
	rtnl_link_put(l);
	return r;
}

/* The vnet namespace's rules: gw0 -> eg0 forwarded and masqueraded, replies back. */
static int eg_vnet_rules(struct kernel_backend *kb, int vfd, const char *what, const char *ns)
{
	static const char cmds[] =
		"add table " EG_TABLE "\ndelete table " EG_TABLE "\ntable " EG_TABLE " {\n"
		"\tchain forward {\n\t\ttype filter hook forward priority 0; policy drop;\n"
		"\t\tct state established,related accept\n"
		"\t\tct status dnat accept\n"
		"\t\tiifname \"gw0\" oifname \"" EG_DEV "\" accept\n\t}\n"
		"\tchain postrouting {\n\t\ttype nat hook postrouting priority 100;\n"
		"\t\toifname \"" EG_DEV "\" masquerade\n\t}\n}\n";

	return kernel_nft_load(kb, vfd, ns, "egress", 0, cmds, what);
}

/* Default routes of the vnet namespace through eg0 to the host side
 * (@h4, @h6: the host side's transit addresses). */
static int eg_routes(struct kernel_backend *kb, struct nl_sock *vsk, const struct cs_addr *h4,
		     const struct cs_addr *h6, const char *what, const char *ns)
{
	struct rtnl_link *l = NULL;
	int r = rtnl_link_get_kernel(vsk, 0, EG_DEV, &l);

	if (r < 0)
		return CS_EIO;
	int ifindex = rtnl_link_get_ifindex(l);
	rtnl_link_put(l);
	const struct cs_addr *h[2] = { h4, h6 };
	for (int i = 0; i < 2; i++) {
		if ((r = kernel_route_default(vsk, ifindex, h[i])) < 0) {
			kernel_err(kb, "%s: cannot route by default through " EG_DEV " in %s: %s",
				   what, ns, nl_geterror(r));
			return CS_EIO;
		}
	}
	return 0;
}

/* " ip daddr { a, b }" of the guarded addresses of @family, or nothing. */
static void put_guard(FILE *f, struct kernel_backend *kb, int family)
{
	char buf[CS_ADDRSTRLEN];
	size_t n = 0;

	for (size_t i = 0; i < kb->nguard; i++) {
		if (kb->guard[i].family != family)
			continue;
		fprintf(f, "%s%s", n++ ? ", " : family == AF_INET ?
			"\t\tiifname $eg ip daddr { " : "\t\tiifname $eg ip6 daddr { ",
			cs_addr_format(&kb->guard[i], buf));
	}
	if (n)
		fputs(" } drop\n", f);
}

/* The host namespace's table, for every vnet's egress link at once. */
static int eg_host_rules(struct kernel_backend *kb, int hostfd, const char *what)
{
	char *cmds = NULL, table[64], eg[32];
	size_t len = 0;
	FILE *f = open_memstream(&cmds, &len);
	int r;

	if (!f)
		return CS_ENOMEM;
	snprintf(table, sizeof(table), "inet %s_egress", kb->prefix);
	snprintf(eg, sizeof(eg), "\"%sx*\"", kb->prefix);
	fprintf(f, "define eg = %s\nadd table %s\ndelete table %s\ntable %s {\n", eg, table,
		table, table);
	fputs("\tchain input {\n\t\ttype filter hook input priority 0;\n"
	      "\t\tiifname $eg ct state established,related accept\n"
	      "\t\tiifname $eg icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, "
	      "nd-router-solicit } accept\n\t\tiifname $eg drop\n\t}\n", f);
	fputs("\tchain forward {\n\t\ttype filter hook forward priority 0;\n"
	      "\t\tiifname $eg udp dport 4789 drop\n", f);
	put_guard(f, kb, AF_INET);
	put_guard(f, kb, AF_INET6);
	fputs("\t\tct status dnat accept\n"
	      "\t\tiifname $eg oifname $eg drop\n\t\tiifname $eg accept\n"
	      "\t\toifname $eg ct state established,related accept\n"
	      "\t\toifname $eg drop\n\t}\n", f);
	fputs("\tchain postrouting {\n\t\ttype nat hook postrouting priority 100;\n"
	      "\t\tiifname $eg oifname != $eg masquerade\n"
	      "\t\toifname $eg ct status dnat masquerade\n\t}\n}\n", f);
	if (fclose(f)) {
		free(cmds);
		return CS_ENOMEM;
	}
	r = kernel_nft_load(kb, hostfd, "(host)", "egress", 0, cmds, what);
	free(cmds);
	return r;
}

static int eg_remove(struct kernel_backend *kb, struct nl_sock *vsk, int vfd, const char *what,
		     const char *ns)
{
	struct rtnl_link *l = NULL;

	/* the common case, a vnet that never had egress: nothing to ask nft */
	if (rtnl_link_get_kernel(vsk, 0, EG_DEV, &l) < 0)
		return 0;
	/* the host side goes with it */
	rtnl_link_delete(vsk, l);
	rtnl_link_put(l);
	return kernel_nft_run(kb, vfd, "add table " EG_TABLE "\ndelete table " EG_TABLE "\n",
			      what, ns);
}

static bool egress_has(struct kernel_backend *kb, const char *tv, size_t *at)
{
	for (size_t i = 0; i < kb->negress; i++) {
		if (!strcmp(kb->egress[i], tv)) {
			*at = i;
			return true;
		}
	}
	return false;
}

/* Vnet @tv has egress here (@on) or not; the host table goes with the last. */
static void egress_mark(struct kernel_backend *kb, const char *tv, bool on)
{
	size_t at;
	bool had = egress_has(kb, tv, &at);

	if (on && !had) {
		char **n = realloc(kb->egress, (kb->negress + 1) * sizeof(*n));
		if (n && (n[kb->negress] = strdup(tv))) {
			kb->egress = n;
			kb->negress++;
		} else if (n) {
			kb->egress = n;
		}
	} else if (!on && had) {
		free(kb->egress[at]);
		kb->egress[at] = kb->egress[--kb->negress];
		if (!kb->negress) {
			char cmds[128], what[64];
			snprintf(cmds, sizeof(cmds), "add table inet %s_egress\ndelete table inet "
				 "%s_egress\n", kb->prefix, kb->prefix);
			snprintf(what, sizeof(what), "egress of %s", tv);
			kernel_nft_run(kb, kernel_underlay_ns(kb), cmds, what, "(host)");
		}
	}
}

void kernel_egress_gone(struct kernel_backend *kb, const char *tenant, const char *vnet)
{
	char tv[2 * (PART_MAX + 1)], ns[NSNAME_MAX], err[256];
	struct nl_sock *vsk = NULL;
	int vfd;

	snprintf(tv, sizeof(tv), "%s/%s", tenant, vnet);
	if (kernel_ns_name(kb, ns, tenant, vnet, NULL) == 0 &&
	    (vfd = netns_open(ns, err, sizeof(err))) >= 0) {
		if (kernel_nl_open_in(kb, vfd, ns, tv, &vsk) == 0) {
			struct rtnl_link *l = NULL;
			if (rtnl_link_get_kernel(vsk, 0, EG_DEV, &l) == 0) {
				rtnl_link_delete(vsk, l);
				rtnl_link_put(l);
			}
			nl_socket_free(vsk);
		}
		close(vfd);
	}
	egress_mark(kb, tv, false);
}

void kernel_guard_note(struct kernel_backend *kb, const struct cs_addr *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t k;
		for (k = 0; k < kb->nguard && cs_addr_cmp(&kb->guard[k], &a[i]); k++)
			;
		if (k < kb->nguard)
			continue;
		struct cs_addr *g = realloc(kb->guard, (kb->nguard + 1) * sizeof(*g));
		if (!g)
			return;
		kb->guard = g;
		kb->guard[kb->nguard++] = a[i];
	}
}

void kernel_guard_urls(struct kernel_backend *kb, const char *const *urls)
{
	for (size_t i = 0; urls && urls[i]; i++) {
		/* scheme://HOST:PORT or scheme://[V6]:PORT; names are not resolved */
		const char *h = strstr(urls[i], "://");
		char host[CS_ADDRSTRLEN];
		struct cs_addr a;
		size_t n;

		h = h ? h + 3 : urls[i];
		if (*h == '[')
			n = strcspn(++h, "]");
		else
			n = strcspn(h, ":/");
		if (n >= sizeof(host))
			continue;
		snprintf(host, sizeof(host), "%.*s", (int)n, h);
		if (cs_addr_parse(host, &a) == 0)
			kernel_guard_note(kb, &a, 1);
	}
}

void kernel_egress_free(struct kernel_backend *kb)
{
	for (size_t i = 0; i < kb->negress; i++)
		free(kb->egress[i]);
	free(kb->egress);
	for (size_t i = 0; i < kb->npublished; i++)
		free(kb->published[i]);
	free(kb->published);
	kb->published = NULL;
	kb->npublished = 0;
	free(kb->guard);
	kb->egress = NULL;
	kb->guard = NULL;
	kb->negress = kb->nguard = 0;
}

int kernel_transit_ensure(struct kernel_backend *kb, struct nl_sock *vsk, int vfd,
			  const struct vnet_spec *v, const char *what, const char *ns)
{
	struct nl_sock *hsk = NULL;
	struct cs_addr t4[2], t6[2];
	char hname[IFNAMSIZ], err[256], tv[2 * (PART_MAX + 1)];
	int hostfd = kernel_underlay_ns(kb), r;

	(void)ns;
	snprintf(tv, sizeof(tv), "%s/%s", v->tenant, v->name);
	transit4(v->id, t4);
	transit6(v->id, t6);
	host_dev(kb, v->id, hname);
	if ((r = kernel_nl_open_in(kb, hostfd, "(host)", what, &hsk)) < 0)
		return r;
	if ((r = netns_run(hostfd, forward_fn, NULL, err, sizeof(err))) < 0 ||
	    (r = netns_run(vfd, forward_fn, NULL, err, sizeof(err))) < 0) {
		kernel_err(kb, "%s: cannot turn forwarding on: %s", what, r == CS_EIO && *err ?
			   err : "a sysctl refused");
		goto out;
	}
	if ((r = eg_link(kb, vsk, hsk, hostfd, vfd, hname, what)) < 0 ||
	    (r = eg_addrs(kb, vsk, EG_DEV, &t4[1], &t6[1], what)) < 0 ||
	    (r = eg_addrs(kb, hsk, hname, &t4[0], &t6[0], what)) < 0)
		goto out;
	if ((r = eg_host_rules(kb, hostfd, what)) == 0)
		egress_mark(kb, tv, true);
out:
	nl_socket_free(hsk);
	return r;
}

/* Egress off: no default route through eg0, no forwarding to it; the link
 * itself stays while an endpoint here publishes ports through it. */
static int egress_off(struct kernel_backend *kb, struct nl_sock *vsk, int vfd,
		      const struct vnet_spec *v, const char *tv, const char *what, const char *ns)
{
	struct rtnl_link *l = NULL;
	struct cs_addr t4[2], t6[2];
	int r;

	/* the common case, a vnet that never had a way out: nothing to ask */
	if (rtnl_link_get_kernel(vsk, 0, EG_DEV, &l) < 0) {
		egress_mark(kb, tv, false);
		return 0;
	}
	if (!kernel_publish_any(kb, tv)) {
		rtnl_link_put(l);
		r = eg_remove(kb, vsk, vfd, what, ns);
		egress_mark(kb, tv, false);
		return r;
	}
	transit4(v->id, t4);
	transit6(v->id, t6);
	kernel_route(vsk, rtnl_link_get_ifindex(l), AF_INET, "0.0.0.0/0", &t4[0], true);
	kernel_route(vsk, rtnl_link_get_ifindex(l), AF_INET6, "::/0", &t6[0], true);
	rtnl_link_put(l);
	return kernel_nft_run(kb, vfd, "add table " EG_TABLE "\ndelete table " EG_TABLE "\n"
			      "add table inet cs_egress_rules\ndelete table inet cs_egress_rules\n",
			      what, ns);
}

int kernel_egress_ensure(struct kernel_backend *kb, struct nl_sock *vsk, int vfd,
			 const struct vnet_spec *v, const char *what, const char *ns)
{
	struct cs_addr t4[2], t6[2];
	char tv[2 * (PART_MAX + 1)];
	int r;

	snprintf(tv, sizeof(tv), "%s/%s", v->tenant, v->name);
	kernel_guard_note(kb, v->peers, v->npeers);
	if (v->local)
		kernel_guard_note(kb, v->local, 1);
	if (!v->egress)
		return egress_off(kb, vsk, vfd, v, tv, what, ns);
	transit4(v->id, t4);
	transit6(v->id, t6);
	if ((r = kernel_transit_ensure(kb, vsk, vfd, v, what, ns)) < 0 ||
	    (r = eg_routes(kb, vsk, &t4[0], &t6[0], what, ns)) < 0)
		return r;
	return eg_vnet_rules(kb, vfd, what, ns);
}

/*
 * The vnet's rules on what leaves it (table inet cs_egress_rules in the vnet
 * namespace): a forward chain ahead of cs_egress's (priority -1) that sees
 * only gw0 -> eg0; a rule's allow ends this chain (cs_egress then lets it
 * out), a deny or the default deny drops it.
 */
#define EGR_TABLE "inet cs_egress_rules"

static void put_set(FILE *f, const struct cs_prefix *v, size_t n, int family)
{
	char buf[CS_ADDRSTRLEN];
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (v[i].addr.family != family)
			continue;
		fprintf(f, "%s%s/%d", k++ ? ", " : " ", cs_addr_format(&v[i].addr, buf), v[i].plen);
	}
}

/* One rule for one family, or nothing when it cannot match that family. */
static void put_egress_rule(FILE *f, const struct vnet_fw_rule *r, int family)
{
	const char *ip = family == AF_INET ? "ip" : "ip6";
	size_t nsrc = 0;

	for (size_t i = 0; i < r->nsrc; i++)
		nsrc += r->src[i].addr.family == family;
	if ((r->nsrc && !nsrc) || (r->dst && r->dst->addr.family != family))
		return;
	fprintf(f, "add rule " EGR_TABLE " forward meta nfproto %s", family == AF_INET ? "ipv4" : "ipv6");
	if (nsrc) {
		fprintf(f, " %s saddr {", ip);
		put_set(f, r->src, r->nsrc, family);
		fputs(" }", f);
	}
	if (r->dst) {
		char buf[CS_ADDRSTRLEN];
		fprintf(f, " %s daddr %s/%d", ip, cs_addr_format(&r->dst->addr, buf), r->dst->plen);
	}
	if (r->proto == IPPROTO_ICMP)
		fputs(family == AF_INET ? " meta l4proto icmp" : " meta l4proto icmpv6", f);
	else if (r->proto)
		fprintf(f, " meta l4proto %s", r->proto == IPPROTO_TCP ? "tcp" : "udp");
	if (r->proto && r->proto != IPPROTO_ICMP && r->port_lo)
		fprintf(f, " th dport %u-%u", r->port_lo, r->port_hi);
	fprintf(f, " %s\n", r->action == VNET_FW_ALLOW ? "accept" : "drop");
}

int kernel_egress_policy(struct vnet_backend *b, const char *tenant, const char *vnet,
			 const struct vnet_fw *fw)
{
	struct kernel_backend *kb = (struct kernel_backend *)b;
	char ns[NSNAME_MAX], what[96], err[256], *cmds = NULL;
	size_t len = 0;
	int vfd, r;

	if ((r = kernel_ns_name(kb, ns, tenant, vnet, NULL)) < 0)
		return r;
	snprintf(what, sizeof(what), "vnet %s/%s: egress rules", tenant, vnet);
	if ((vfd = netns_open(ns, err, sizeof(err))) < 0) {
		kernel_err(kb, "%s: %s", what, err);
		return vfd;
	}
	FILE *f = open_memstream(&cmds, &len);
	if (!f) {
		close(vfd);
		return CS_ENOMEM;
	}
	fputs("add table " EGR_TABLE "\ndelete table " EGR_TABLE "\n", f);
	if (fw) {
		fputs("add table " EGR_TABLE "\nadd chain " EGR_TABLE " forward { type filter hook "
		      "forward priority -1; }\nadd rule " EGR_TABLE " forward iifname != \"gw0\" accept\n"
		      "add rule " EGR_TABLE " forward oifname != \"" EG_DEV "\" accept\n"
		      "add rule " EGR_TABLE " forward ct state established,related accept\n", f);
		for (size_t i = 0; i < fw->n; i++) {
			put_egress_rule(f, &fw->rules[i], AF_INET);
			put_egress_rule(f, &fw->rules[i], AF_INET6);
		}
		if (fw->dflt == VNET_FW_DENY)
			fputs("add rule " EGR_TABLE " forward drop\n", f);
	}
	r = fclose(f) ? CS_ENOMEM : kernel_nft_load(kb, vfd, ns, "egress_rules", 0, cmds, what);
	free(cmds);
	close(vfd);
	return r;
}
