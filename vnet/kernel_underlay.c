/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The underlay filter of the kernel backend. A VXLAN device answers on its
 * UDP port on every address of the namespace it was made in, whoever sends:
 * a table "inet P_underlay" in the underlay namespace accepts encapsulated
 * packets only from the nodes of the vnet their VNI belongs to and drops
 * every other packet to the VXLAN port. Written as nft text and loaded
 * through libnftables in one batch, so the kernel swaps the whole table
 * atomically: no moment where everything, or nothing, is let in.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <nftables/libnftables.h>

#include "cs/cs.h"
#include "kernel_priv.h"
#include "netns.h"

/*
 * The VNI sits in bytes 4-6 of the VXLAN header, which follows the 8-byte
 * UDP header: @th (the transport header) bit (8 + 4) * 8, 24 bits long.
 */
#define VNI_MATCH "@th,96,24"
/* distinct VXLAN ports in one filter (nodes sharing hosts, "ADDR:PORT") */
#define PORTS_MAX 1024

static bool from_port(const struct vnet_underlay_rule *r, size_t i)
{
	return r->from_port && r->from_port[i];
}

static uint16_t peer_port(const struct vnet_underlay_rule *r, size_t i)
{
	return r->ports && r->ports[i] ? r->ports[i] : VXLAN_PORT;
}

/* The port this node's VXLAN listens on, for @r. */
static uint16_t own_port(struct kernel_backend *kb, const struct vnet_underlay_rule *r)
{
	return r->port ? r->port : kernel_underlay_port(kb);
}

/* " ip saddr { a, b }" (or ip6) of the peers of @r in @family whose source
 * port is free, or nothing if it has none there. */
static void put_saddrs(FILE *f, const struct vnet_underlay_rule *r, int family)
{
	char buf[CS_ADDRSTRLEN];
	size_t i;
	bool any = false;

	for (i = 0; i < r->npeers; i++) {
		if (r->peers[i].family != family || from_port(r, i))
			continue;
		fprintf(f, "%s%s", any ? ", " : family == AF_INET ? " ip saddr { " : " ip6 saddr { ",
			cs_addr_format(&r->peers[i], buf));
		any = true;
	}
	if (any)
		fputs(" }", f);
}

static bool has_family(const struct vnet_underlay_rule *r, int family)
{
	size_t i;

	for (i = 0; i < r->npeers; i++)
		if (r->peers[i].family == family && !from_port(r, i))
			return true;
	return false;
}

/* Peers that must send from their port (nodes without privileges: any
 * local user of their host could send from another): one rule each. */
static void put_from_port(FILE *f, const char *table, const struct vnet_underlay_rule *r,
			  uint16_t dport)
{
	char buf[CS_ADDRSTRLEN];
	size_t i;

	for (i = 0; i < r->npeers; i++) {
		if (!from_port(r, i))
			continue;
		fprintf(f, "add rule %s input udp dport %u %s saddr %s udp sport %u " VNI_MATCH
			" %u accept\n", table, dport, r->peers[i].family == AF_INET ? "ip" : "ip6",
			cs_addr_format(&r->peers[i], buf), peer_port(r, i), r->vni);
	}
}

/* " { 4789, 4790 }": the ports this node's VXLAN listens on, and with
 * @peers those its peers do, for the drop rules: what arrives here is
 * judged on this node's ports only (another csd of this host may listen on
 * others); what leaves, on every port VXLAN is sent to. */
static void put_ports(FILE *f, struct kernel_backend *kb, const struct vnet_underlay_rule *rules,
		      size_t n, bool peers)
{
	uint16_t seen[PORTS_MAX];
	size_t ns = 0, i, k, j;

	seen[ns++] = kernel_underlay_port(kb);
	for (i = 0; i < n; i++) {
		for (k = peers ? 0 : rules[i].npeers; k <= rules[i].npeers && ns < PORTS_MAX; k++) {
			uint16_t p = k < rules[i].npeers ? peer_port(&rules[i], k)
							 : own_port(kb, &rules[i]);
			for (j = 0; j < ns && seen[j] != p; j++)
				;
			if (j == ns)
				seen[ns++] = p;
		}
	}
	fputs(" {", f);
	for (i = 0; i < ns; i++)
		fprintf(f, "%s %u", i ? "," : "", seen[i]);
	fputs(" }", f);
}

static int check_rules(struct kernel_backend *kb, const struct vnet_underlay_rule *rules,
		       size_t n)
{
	size_t i, k;
	int fam;

	for (i = 0; i < n; i++) {
		if (rules[i].vni < 1 || rules[i].vni > 16777215) {
			kernel_err(kb, "underlay filter: VNI %u is out of range 1-16777215",
				   rules[i].vni);
			return CS_EINVAL;
		}
		for (k = 0; k < rules[i].npeers; k++) {
			fam = rules[i].peers[k].family;
			if (fam != AF_INET && fam != AF_INET6) {
				kernel_err(kb, "underlay filter: VNI %u: node address %zu is "
					   "neither IPv4 nor IPv6", rules[i].vni, k);
				return CS_EINVAL;
			}
		}
	}
	return 0;
}

/*
 * Only the kernel's tunnels send VXLAN: a local user with an ordinary UDP
 * socket bound to the underlay address could otherwise forge encapsulated
 * frames that a peer accepts (they carry a member's source address). The
 * kernel's VXLAN socket is a kernel socket created by root (skuid 0), and
 * the packets it encapsulates carry either no socket or the sending
 * endpoint's, which lives in another namespace: for both "meta skuid"
 * does not match (nft breaks the rule when the socket is missing or of
 * another namespace), so they pass. A user socket here carries its owner.
 * Raw sockets need CAP_NET_RAW, which only root holds here; forwarded
 * packets do not cross the output hook (they enter through an interface
 * of this namespace, which the input filter of the peer judges).
 */
static void put_output(FILE *f, struct kernel_backend *kb, const char *table,
		       const struct vnet_underlay_rule *rules, size_t n)
{
	const struct kernel_wg_filter *wg = &kb->wgf;

	fprintf(f, "add chain %s output { type filter hook output priority -10; "
		"policy accept; }\n", table);
	fprintf(f, "add rule %s output udp dport", table);
	put_ports(f, kb, rules, n, true);
	fputs(" meta skuid != 0 drop\n", f);
	if (!wg->ifname[0])
		return;
	fprintf(f, "add rule %s output udp dport %u meta skuid != 0 drop\n", table, wg->port);
	/* encrypted: fail closed, VXLAN leaves only into the tunnel (were the
	 * steering rule missing, it would go out in plaintext) */
	fprintf(f, "add rule %s output udp dport", table);
	put_ports(f, kb, rules, n, true);
	fprintf(f, " oifname != \"%s\" drop\n", wg->ifname);
}

static void put_table(FILE *f, struct kernel_backend *kb, const char *table,
		      const struct vnet_underlay_rule *rules, size_t n)
{
	const struct kernel_wg_filter *wg = &kb->wgf;
	size_t i;
	int fam;

	/* "add" then "delete" works whether or not the table is there */
	fprintf(f, "add table %s\n", table);
	if (!n) {
		fprintf(f, "delete table %s\n", table);
		return;
	}
	fprintf(f, "flush table %s\n", table);
	/* before the usual filter priority 0, so that a host firewall
	 * accepting everything to the port does not open it again */
	fprintf(f, "add chain %s input { type filter hook input priority -10; "
		"policy accept; }\n", table);
	/* encrypted: encapsulated packets count only when they came out of
	 * the tunnel, whatever their (forgeable) outer source */
	if (wg->ifname[0]) {
		fprintf(f, "add rule %s input udp dport", table);
		put_ports(f, kb, rules, n, false);
		fprintf(f, " iifname != \"%s\" drop\n", wg->ifname);
	}
	for (i = 0; i < n; i++) {
		/* a VNI without nodes of a family accepts nothing there */
		for (fam = AF_INET; fam; fam = fam == AF_INET ? AF_INET6 : 0) {
			if (!has_family(&rules[i], fam))
				continue;
			fprintf(f, "add rule %s input udp dport %u", table, own_port(kb, &rules[i]));
			put_saddrs(f, &rules[i], fam);
			fprintf(f, " " VNI_MATCH " %u accept\n", rules[i].vni);
		}
		put_from_port(f, table, &rules[i], own_port(kb, &rules[i]));
	}
	fprintf(f, "add rule %s input udp dport", table);
	put_ports(f, kb, rules, n, false);
	fputs(" drop\n", f);
	put_output(f, kb, table, rules, n);
}

int kernel_underlay_filter(struct vnet_backend *b, const struct vnet_underlay_rule *rules,
			   size_t n)
{
	struct kernel_backend *kb = (struct kernel_backend *)b;
	struct nft_job job = { 0 };
	char table[VNET_PREFIX_MAX + 16], err[256];
	char *cmds = NULL;
	size_t len = 0;
	FILE *f = NULL;
	int r;

	snprintf(table, sizeof(table), "inet %s_underlay", kb->prefix);
	if ((r = check_rules(kb, rules, n)) < 0)
		return r;
	f = open_memstream(&cmds, &len);
	if (!f) {
		kernel_err(kb, "underlay filter: out of memory");
		return CS_ENOMEM;
	}
	put_table(f, kb, table, rules, n);
	if (fclose(f)) {
		f = NULL;
		kernel_err(kb, "underlay filter: out of memory");
		r = CS_ENOMEM;
		goto out;
	}
	f = NULL;

	job.cmds = cmds;
	r = netns_run(kernel_underlay_ns(kb), kernel_nft_job, &job, err, sizeof(err));
	if (r < 0) {
		if (r == CS_ENOMEM)
			kernel_err(kb, "underlay filter: out of memory");
		else
			kernel_err(kb, "underlay filter: the underlay namespace: %s", err);
		goto out;
	}
	if (job.rc) {
		/* nft's text ends in a newline and quotes the failing line */
		len = strlen(job.error);
		while (len && job.error[len - 1] == '\n')
			job.error[--len] = '\0';
		kernel_err(kb, "underlay filter: nftables refused table %s: %s", table,
			   job.error);
		r = CS_EIO;
		goto out;
	}
	r = 0;
out:
	if (f)
		fclose(f);
	free(job.error);
	free(cmds);
	return r;
}
