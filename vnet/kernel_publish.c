/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Published ports (endpoint key "publish") in the kernel backend. A port
 * published on the node reaches the endpoint through its vnet's transit
 * link (kernel_egress.c), with a translation on each side, since subnets
 * of different tenants overlap and the host cannot route to them:
 *
 *   host (table inet PREFIX_p<hash>, one per endpoint): what arrives for
 *     HOSTADDR (or any address of the node: fib daddr type local) on
 *     HOSTPORT, from outside (prerouting) or from the node itself (output),
 *     goes to the vnet's end of the transit link, same port; masqueraded
 *     to the host's end there, so the vnet answers over the link;
 *   vnet namespace (table inet cs_pub_<hash>): what comes in on eg0 for
 *     HOSTPORT goes to the endpoint's address, PORT, masqueraded to the
 *     gateway's address, which the endpoint reaches without a route.
 *
 * The endpoint thus sees connections from its gateway. Endpoints of other
 * vnets reach a published port through their own egress (hairpin: the
 * host's egress table lets translated traffic between links pass). Both
 * tables are replaced whole on an ensure that may change them (one batch
 * each, kernel_nft_load) and deleted with the endpoint, or with its vnet.
 */
#include <netinet/in.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>

#include "cs/cs.h"
#include "kernel_priv.h"
#include "netns.h"

#define VNET_TABLE_PREFIX "cs_pub_"

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

/* Table names: nft identifiers take no '-', endpoint names may. */
static void host_table(struct kernel_backend *kb, const char *tve, char *buf, size_t len)
{
	snprintf(buf, len, "inet %s_p%016llx", kb->prefix, (unsigned long long)fnv1a(tve));
}

static void vnet_table(const char *e, char *buf, size_t len)
{
	snprintf(buf, len, "inet " VNET_TABLE_PREFIX "%016llx", (unsigned long long)fnv1a(e));
}

static bool set_has(char **v, size_t n, const char *s, size_t *at)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], s)) {
			*at = i;
			return true;
		}
	return false;
}

static int table_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
		if (mnl_attr_get_type(a) == NFTA_TABLE_NAME &&
		    !strncmp(mnl_attr_get_str(a), VNET_TABLE_PREFIX, strlen(VNET_TABLE_PREFIX)))
			*(bool *)data = true;
	return MNL_CB_OK;
}

/* Runs in the vnet namespace: does it hold a table of a published port? */
static int tables_fn(void *arg)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
	int r = CS_EIO;

	if (!nl)
		return CS_EIO;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		goto out;
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETTABLE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = 1;
	struct nfgenmsg *nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = NFPROTO_INET;
	nfg->version = NFNETLINK_V0;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		goto out;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n <= 0)
			break;
		int cr = mnl_cb_run(buf, (size_t)n, 1, mnl_socket_get_portid(nl), table_cb, arg);
		if (cr <= MNL_CB_STOP) {
			r = cr == MNL_CB_STOP ? 0 : CS_EIO;
			break;
		}
	}
out:
	mnl_socket_close(nl);
	return r;
}

bool kernel_publish_any(struct kernel_backend *kb, const char *tv)
{
	char ns[NSNAME_MAX], err[256], t[PART_MAX + 1];
	size_t l = strlen(tv);
	bool found = false;

	for (size_t i = 0; i < kb->npublished; i++)
		if (!strncmp(kb->published[i], tv, l) && kb->published[i][l] == '/')
			return true;
	/* what a csd before this one published: the tables tell (a restart
	 * must not remake the link its endpoints' ports go through) */
	snprintf(t, sizeof(t), "%.*s", (int)strcspn(tv, "/"), tv);
	if (kernel_ns_name(kb, ns, t, tv + strlen(t) + 1, NULL) < 0)
		return false;
	int vfd = netns_open(ns, err, sizeof(err));
	if (vfd < 0)
		return false;
	netns_run(vfd, tables_fn, &found, err, sizeof(err));
	close(vfd);
	return found;
}

static void mark(struct kernel_backend *kb, const char *tve, bool on)
{
	size_t at;
	bool had = set_has(kb->published, kb->npublished, tve, &at);

	if (on && !had) {
		char **n = realloc(kb->published, (kb->npublished + 1) * sizeof(*n));
		if (!n)
			return;
		kb->published = n;
		if ((n[kb->npublished] = strdup(tve)))
			kb->npublished++;
	} else if (!on && had) {
		free(kb->published[at]);
		kb->published[at] = kb->published[--kb->npublished];
	}
}

static const char *proto_word(const struct vnet_publish *p)
{
	return p->proto == IPPROTO_UDP ? "udp" : "tcp";
}

/* The host's rules for one entry and one family (@fam 4 or 6). */
static void put_host(FILE *f, const struct vnet_publish *p, int fam, const struct cs_addr *to,
		     const char *chain)
{
	char b[CS_ADDRSTRLEN], h[CS_ADDRSTRLEN];
	const char *ip = fam == 4 ? "ip" : "ip6";

	if (p->has_host && p->host.family != (fam == 4 ? AF_INET : AF_INET6))
		return;
	fprintf(f, "add rule %%T %s meta nfproto ipv%d ", chain, fam);
	if (p->has_host)
		fprintf(f, "%s daddr %s ", ip, cs_addr_format(&p->host, h));
	else
		fputs("fib daddr type local ", f);
	fprintf(f, "%s dport %u dnat %s to %s%s%s:%u\n", proto_word(p), p->hport, ip,
		fam == 6 ? "[" : "", cs_addr_format(to, b), fam == 6 ? "]" : "", p->hport);
}

static void put_vnet(FILE *f, const struct vnet_publish *p, int fam, const struct cs_addr *to)
{
	char b[CS_ADDRSTRLEN];
	const char *ip = fam == 4 ? "ip" : "ip6";

	if (p->has_host && p->host.family != (fam == 4 ? AF_INET : AF_INET6))
		return;
	fprintf(f, "add rule %%T pre iifname \"eg0\" meta nfproto ipv%d %s dport %u dnat %s to "
		"%s%s%s:%u\n", fam, proto_word(p), p->hport, ip, fam == 6 ? "[" : "",
		cs_addr_format(to, b), fam == 6 ? "]" : "", p->port);
}

/* @tmpl with every %T replaced by @table, loaded in namespace @nsfd. */
static int load(struct kernel_backend *kb, int nsfd, const char *table, const char *tmpl,
		const char *what, const char *ns)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	int r;

	if (!f)
		return CS_ENOMEM;
	for (const char *p = tmpl; *p; p++) {
		if (p[0] == '%' && p[1] == 'T') {
			fputs(table, f);
			p++;
		} else {
			fputc(*p, f);
		}
	}
	if (fclose(f)) {
		free(out);
		return CS_ENOMEM;
	}
	r = kernel_nft_load(kb, nsfd, ns, table, 0, out, what);
	free(out);
	return r;
}

/* The text of both tables (with %T for the table's name). */
static int rules_text(const struct vnet_spec *v, const struct endpoint_spec *e, char **host,
		      char **vnet)
{
	struct cs_addr t4[2], t6[2];
	size_t hl = 0, vl = 0;
	FILE *hf = open_memstream(host, &hl), *vf = open_memstream(vnet, &vl);

	if (!hf || !vf) {
		if (hf)
			fclose(hf);
		if (vf)
			fclose(vf);
		return CS_ENOMEM;
	}
	kernel_transit_addrs(v->id, t4, t6);
	fputs("add table %T\ndelete table %T\nadd table %T\n"
	      "add chain %T pre { type nat hook prerouting priority -100; }\n"
	      "add chain %T out { type nat hook output priority -100; }\n", hf);
	fputs("add table %T\ndelete table %T\nadd table %T\n"
	      "add chain %T pre { type nat hook prerouting priority -100; }\n"
	      "add chain %T post { type nat hook postrouting priority 100; }\n", vf);
	for (size_t i = 0; i < e->npublish; i++) {
		const struct vnet_publish *p = &e->publish[i];
		for (int fam = 4; fam <= 6; fam += 2) {
			if ((fam == 4 && !e->has4) || (fam == 6 && !e->has6))
				continue;
			put_host(hf, p, fam, fam == 4 ? &t4[1] : &t6[1], "pre");
			put_host(hf, p, fam, fam == 4 ? &t4[1] : &t6[1], "out");
			put_vnet(vf, p, fam, fam == 4 ? &e->addr4 : &e->addr6);
		}
	}
	/* the endpoint answers its gateway: no route needed back */
	fputs("add rule %T post oifname \"gw0\" ct status dnat masquerade\n", vf);
	int a = fclose(hf), b = fclose(vf);
	return a || b ? CS_ENOMEM : 0;
}

static void drop_tables(struct kernel_backend *kb, int vfd, const char *tve, const char *e,
			const char *what, const char *ns)
{
	char table[96], cmds[256];

	host_table(kb, tve, table, sizeof(table));
	snprintf(cmds, sizeof(cmds), "add table %s\ndelete table %s\n", table, table);
	kernel_nft_run(kb, kernel_underlay_ns(kb), cmds, what, "(host)");
	if (vfd >= 0) {
		vnet_table(e, table, sizeof(table));
		snprintf(cmds, sizeof(cmds), "add table %s\ndelete table %s\n", table, table);
		kernel_nft_run(kb, vfd, cmds, what, ns);
	}
}

int kernel_publish_ensure(struct kernel_backend *kb, struct nl_sock *vsk, int vfd,
			  const struct vnet_spec *v, const struct endpoint_spec *e,
			  const char *what, const char *ns)
{
	char tve[3 * (PART_MAX + 1)], table[96], *host = NULL, *vnet = NULL;
	size_t at;
	int r;

	snprintf(tve, sizeof(tve), "%s/%s/%s", v->tenant, v->name, e->name);
	if (!e->npublish) {
		/* the common case costs nothing: only what this csd published */
		if (set_has(kb->published, kb->npublished, tve, &at)) {
			drop_tables(kb, vfd, tve, e->name, what, ns);
			mark(kb, tve, false);
		}
		return 0;
	}
	mark(kb, tve, true);
	if ((r = kernel_transit_ensure(kb, vsk, vfd, v, what, ns)) < 0)
		return r;
	if ((r = rules_text(v, e, &host, &vnet)) < 0)
		goto out;
	host_table(kb, tve, table, sizeof(table));
	if ((r = load(kb, kernel_underlay_ns(kb), table, host, what, "(host)")) < 0)
		goto out;
	vnet_table(e->name, table, sizeof(table));
	r = load(kb, vfd, table, vnet, what, ns);
out:
	free(host);
	free(vnet);
	return r;
}

void kernel_publish_gone(struct kernel_backend *kb, const char *t, const char *v,
			 const char *e)
{
	char tve[3 * (PART_MAX + 1)], tv[2 * (PART_MAX + 1)], ns[NSNAME_MAX], err[256];
	int vfd = -1;

	snprintf(tv, sizeof(tv), "%s/%s", t, v);
	if (kernel_ns_name(kb, ns, t, v, NULL) == 0)
		vfd = netns_open(ns, err, sizeof(err));
	/* one endpoint, or (e NULL) every one of the vnet */
	for (size_t i = kb->npublished; i-- > 0;) {
		const char *name = kb->published[i];
		if (e ? (snprintf(tve, sizeof(tve), "%s/%s", tv, e), strcmp(name, tve))
		      : (strncmp(name, tv, strlen(tv)) || name[strlen(tv)] != '/'))
			continue;
		snprintf(tve, sizeof(tve), "%s", name);
		drop_tables(kb, vfd, tve, strrchr(tve, '/') + 1, tve, ns);
		mark(kb, tve, false);
	}
	if (vfd >= 0)
		close(vfd);
}
