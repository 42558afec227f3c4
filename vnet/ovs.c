/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The ovs backend: a vnet is an Open vSwitch bridge, driven over OVSDB
 * (vnet/ovsdb.h) on ovsdb-server's socket (csd setting "ovsdb").
 *
 * Per vnet a bridge PREFIX "b" VNI (hex), datapath "system" where the
 * kernel has the openvswitch module, else "netdev" (ovs-vswitchd's
 * userspace datapath); a VXLAN port per other node of the vnet
 * (options:key = VNI, options:remote_ip = its underlay address). Per
 * endpoint a network namespace, as in the kernel backend, whose eth0 is a
 * veth; the other end, PREFIX "e" + 6 hex digits, is the endpoint's port
 * on the bridge. Every row cs makes carries external_ids cs-prefix (csd's
 * prefix) and cs-vnet, cs-endpoint or cs-peer (whose it is): a restarted
 * csd finds them there and adopts them, as OVN's controllers do, and never
 * touches rows of another prefix or of nobody's.
 *
 * What lives in the endpoint's namespace is the kernel backend's, reached
 * through a kernel backend opened with the same prefix: the namespace
 * itself, sockets, counters, rules (nftables) and reservations (HTB on
 * eth0's egress, where the endpoint sends: the same enforcement, tested
 * the same way, and independent of the datapath, which OVS QoS rows are
 * not: linux-htb QoS is for kernel-datapath ports only).
 *
 * The netdev datapath reads the host side of the veth with AF_PACKET; a
 * packet the namespace leaves with its checksum to be filled in
 * (CHECKSUM_PARTIAL) would go out with a wrong one and TCP stalls, so the
 * namespace side's transmit checksum offload is turned off there.
 */
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/ethtool.h>
#include <linux/sockios.h>

#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>

#include "cs/cs.h"
#include "kernel_priv.h"
#include "netns.h"
#include "ovs_underlay.h"
#include "ovsdb.h"
#include "vnet.h"

#define EXT_PREFIX "cs-prefix"
#define EXT_VNET "cs-vnet"
#define EXT_ENDPOINT "cs-endpoint"
#define EXT_PEER "cs-peer"
#define EXT_GW "cs-gateway"
#define GW_DEV "gw0"
/* how long ovs-vswitchd may take to apply a change */
#define APPLY_MS 10000

struct ovs_backend {
	struct vnet_backend base;
	struct vnet_backend *k;		/* the kernel backend: namespaces, rules, QoS */
	struct ovsdb *db;
	char prefix[VNET_PREFIX_MAX + 1];
	const char *dp;			/* datapath_type of new bridges */
	char underlay[CS_ADDRSTRLEN];	/* this node's, "" if not configured */
};

static struct ovs_backend *ob_of(struct vnet_backend *b)
{
	return (struct ovs_backend *)b;
}

static struct kernel_backend *kb_of(struct ovs_backend *ob)
{
	return (struct kernel_backend *)ob->k;
}

static void __attribute__((format(printf, 2, 3)))
oerr(struct ovs_backend *ob, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ob->base.error, sizeof(ob->base.error), fmt, ap);
	va_end(ap);
}

/* A failure of the kernel backend underneath, told as ours. */
static int kfail(struct ovs_backend *ob, int r)
{
	if (r < 0)
		snprintf(ob->base.error, sizeof(ob->base.error), "%s", vnet_backend_error(ob->k));
	return r;
}

/* Connected and up to date; the reason in the error buffer if not. */
static int sync_db(struct ovs_backend *ob, const char *what)
{
	char err[400];
	int r = ovsdb_sync(ob->db, err, sizeof(err));

	if (r < 0)
		oerr(ob, "%s: %s", what, err);
	return r;
}

static int transact(struct ovs_backend *ob, json_t *ops, const char *what)
{
	char err[400];
	int r;

	if (!json_array_size(ops)) {
		json_decref(ops);
		return 0;
	}
	r = ovsdb_transact(ob->db, ops, APPLY_MS, NULL, err, sizeof(err));
	if (r < 0)
		oerr(ob, "%s: %s", what, err);
	return r;
}

/* --- rows --- */

static bool ours(struct ovs_backend *ob, const json_t *row, const char *key, const char *val)
{
	const json_t *ext = json_object_get(row, "external_ids");
	const char *p = ovsdb_map_get(ext, EXT_PREFIX), *v = ovsdb_map_get(ext, key);

	return p && !strcmp(p, ob->prefix) && v && (!val || !strcmp(v, val));
}

/* The first row of @table that is ours with external_ids @key = @val. */
static const json_t *find_ours(struct ovs_backend *ob, const char *table, const char *key,
			       const char *val, const char **uuid)
{
	const json_t *rows = ovsdb_table(ob->db, table), *row;
	const char *u;

	json_object_foreach((json_t *)rows, u, row) {
		if (ours(ob, row, key, val)) {
			if (uuid)
				*uuid = u;
			return row;
		}
	}
	return NULL;
}

static const json_t *find_named(struct ovs_backend *ob, const char *table, const char *name)
{
	const json_t *rows = ovsdb_table(ob->db, table), *row;
	const char *u;

	json_object_foreach((json_t *)rows, u, row) {
		if (!strcmp(json_string_value(json_object_get(row, "name")) ?: "", name))
			return row;
	}
	return NULL;
}

static const char *str_col(const json_t *row, const char *col)
{
	return json_string_value(json_object_get(row, col)) ?: "";
}

/* The one interface of port @port (the only kind cs makes). */
static const json_t *port_iface(struct ovs_backend *ob, const json_t *port)
{
	const json_t *ifs = json_object_get(port, "interfaces");
	const char *u = NULL;

	if (json_is_array(ifs) && !strcmp(json_string_value(json_array_get(ifs, 0)) ?: "", "uuid"))
		u = json_string_value(json_array_get(ifs, 1));
	return u ? json_object_get(ovsdb_table(ob->db, "Interface"), u) : NULL;
}

static json_t *ext_ids(struct ovs_backend *ob, const char *key, const char *val,
		       const char *key2, const char *val2)
{
	const char *kv[] = { EXT_PREFIX, ob->prefix, key, val, key2, val2, NULL };

	return ovsdb_val_map(kv);
}

static json_t *where_uuid(const char *uuid)
{
	return json_pack("[[s, s, o]]", "_uuid", "==", ovsdb_val_uuid(uuid));
}

/* ops: a port of one interface, inserted and added to bridge @br
 * (a uuid, or NULL: the bridge named "br" in this transaction) */
static void op_port_add(json_t *ops, const char *br, const char *name, const char *type,
			json_t *options, json_t *ext)
{
	static unsigned n;
	char iname[32], pname[32];
	json_t *iface = json_pack("{s:s, s:s, s:O}", "name", name, "type", type, "external_ids",
				  ext);

	snprintf(iname, sizeof(iname), "i%u", ++n);
	snprintf(pname, sizeof(pname), "p%u", n);
	if (options)
		json_object_set_new(iface, "options", options);
	json_array_append_new(ops, json_pack("{s:s, s:s, s:o, s:s}", "op", "insert", "table",
					     "Interface", "row", iface, "uuid-name", iname));
	json_array_append_new(ops, json_pack("{s:s, s:s, s:{s:s, s:o, s:o}, s:s}", "op", "insert",
					     "table", "Port", "row", "name", name, "interfaces",
					     ovsdb_val_named(iname), "external_ids", ext,
					     "uuid-name", pname));
	if (br)
		json_array_append_new(ops, json_pack("{s:s, s:s, s:o, s:[[s, s, o]]}", "op",
						     "mutate", "table", "Bridge", "where",
						     where_uuid(br), "mutations", "ports", "insert",
						     ovsdb_val_named(pname)));
}

/*
 * The port op_port_add() just added to a bridge is protected: it sends
 * nothing to another protected port. The VXLAN ports are: what one peer
 * sends is never flooded to another (every node floods to all its peers
 * itself; flooding between tunnels loops once three nodes share a vnet).
 * So is the gateway's: it answers this node's endpoints only, never a
 * peer (each node has its own, same address and MAC).
 */
static void port_protect(json_t *ops)
{
	json_t *port = json_array_get(ops, json_array_size(ops) - 2);

	json_object_set_new(json_object_get(port, "row"), "protected", json_true());
}

/* ops: port @port off bridge @br (OVSDB then collects the port and its
 * interface, which nothing else references) */
static void op_port_del(json_t *ops, const char *br, const char *port)
{
	json_array_append_new(ops, json_pack("{s:s, s:s, s:o, s:[[s, s, o]]}", "op", "mutate",
					     "table", "Bridge", "where", where_uuid(br),
					     "mutations", "ports", "delete", ovsdb_val_uuid(port)));
}

/* The bridge whose ports set holds @port, or NULL. */
static const char *bridge_of_port(struct ovs_backend *ob, const char *port)
{
	const json_t *rows = ovsdb_table(ob->db, "Bridge"), *row;
	const char *u;

	json_object_foreach((json_t *)rows, u, row) {
		if (ovsdb_set_has_uuid(json_object_get(row, "ports"), port))
			return u;
	}
	return NULL;
}

/* An interface name with @tag that nothing uses (OVSDB nor the kernel),
 * starting from a hash of @key: names stay within IFNAMSIZ. */
static int free_name(struct ovs_backend *ob, char tag, const char *key, char *out)
{
	uint32_t h = 2166136261u;

	while (*key)
		h = (h ^ (unsigned char)*key++) * 16777619u;
	for (unsigned i = 0; i < 65536; i++, h++) {
		snprintf(out, IFNAMSIZ, "%s%c%06x", ob->prefix, tag, h & 0xffffff);
		if (!find_named(ob, "Interface", out) && !if_nametoindex(out))
			return 0;
	}
	oerr(ob, "no free interface name %s%c...: 65536 taken in a row", ob->prefix, tag);
	return CS_ENOSPC;
}

/* After a change: an interface ovs-vswitchd could not make says why. */
static int iface_error(struct ovs_backend *ob, const char *name, const char *what)
{
	const json_t *row = find_named(ob, "Interface", name);
	const char *e = row ? json_string_value(json_object_get(row, "error")) : NULL;

	if (!e)
		return 0;
	oerr(ob, "%s: ovs-vswitchd cannot use port %s: %s", what, name, e);
	return CS_EIO;
}

/* --- open / close --- */

static void ovs_close(struct vnet_backend *b)
{
	struct ovs_backend *ob = ob_of(b);

	if (!b)
		return;
	if (ob->k)
		vb_close(ob->k);
	ovsdb_free(ob->db);
	free(ob);
}

static int ovs_open(const struct vnet_backend_config *cfg, struct vnet_backend **out)
{
	struct ovs_backend *ob;
	char err[400];
	int r;

	*out = NULL;
	ob = calloc(1, sizeof(*ob));
	if (!ob)
		return CS_ENOMEM;
	ob->base.ops = &vnet_ovs_ops;
	*out = &ob->base;
	r = vnet_kernel_ops.open(cfg, &ob->k);
	if (r < 0) {
		if (ob->k)
			oerr(ob, "ovs backend: %s", vnet_backend_error(ob->k));
		else
			oerr(ob, "ovs backend: %s", cs_strerror(r));
		return r;
	}
	snprintf(ob->prefix, sizeof(ob->prefix), "%s", cfg->prefix);
	snprintf(ob->underlay, sizeof(ob->underlay), "%s", cfg->underlay ? cfg->underlay : "");
	/* no kernel module, no kernel datapath: ovs-vswitchd's own then */
	ob->dp = access("/sys/module/openvswitch", F_OK) == 0 ? "system" : "netdev";
	r = ovsdb_new(cfg->ovsdb ? cfg->ovsdb : OVSDB_DEFAULT, &ob->db, err, sizeof(err));
	if (r < 0) {
		oerr(ob, "ovs backend: %s", err);
		return r;
	}
	/* a missing ovsdb-server is said now, not at the first vnet */
	return sync_db(ob, "ovs backend");
}

/* --- vnets --- */

static int gw_ensure(struct ovs_backend *ob, const struct vnet_spec *v, const char *br,
		     const char *tv);
static void gw_unlink(struct ovs_backend *ob, const char *tv);

struct peer_want {
	const struct vnet_spec *v;
	const char *br;			/* the bridge's uuid */
	char vni[16];
};

/* Is the VXLAN port @port what peer @addr needs? */
static bool vxlan_ok(struct ovs_backend *ob, const json_t *port, const char *addr,
		     const struct peer_want *pw)
{
	const json_t *i = port_iface(ob, port);
	const json_t *opt = json_object_get(i, "options");

	return i && !strcmp(str_col(i, "type"), "vxlan") &&
	       json_is_true(json_object_get(port, "protected")) &&
	       !strcmp(ovsdb_map_get(opt, "remote_ip") ?: "", addr) &&
	       !strcmp(ovsdb_map_get(opt, "key") ?: "", pw->vni);
}

/* ops: one VXLAN port per peer of the vnet, and none to anyone else */
static int vxlan_sync(struct ovs_backend *ob, const json_t *bridge, struct peer_want *pw,
		      json_t *ops)
{
	const json_t *ports = ovsdb_table(ob->db, "Port"), *port;
	char addr[CS_ADDRSTRLEN], name[IFNAMSIZ], key[160];
	size_t i, n = pw->v->npeers;
	bool *have = calloc(n + 1, sizeof(*have));
	const char *u;
	int r = 0;

	if (!have)
		return CS_ENOMEM;
	json_object_foreach((json_t *)ports, u, port) {
		const char *peer = ovsdb_map_get(json_object_get(port, "external_ids"), EXT_PEER);
		if (!peer || !ours(ob, port, EXT_PEER, NULL) ||
		    !ovsdb_set_has_uuid(json_object_get(bridge, "ports"), u))
			continue;
		for (i = 0; i < n; i++) {
			cs_addr_format(&pw->v->peers[i], addr);
			if (!have[i] && !strcmp(addr, peer) && vxlan_ok(ob, port, addr, pw))
				break;
		}
		if (i < n)
			have[i] = true;
		else
			op_port_del(ops, pw->br, u);
	}
	for (i = 0; i < n && r == 0; i++) {
		if (have[i])
			continue;
		cs_addr_format(&pw->v->peers[i], addr);
		snprintf(key, sizeof(key), "%s/%s/%s", pw->v->tenant, pw->v->name, addr);
		if ((r = free_name(ob, 'x', key, name)) < 0)
			break;
		const char *opt[] = { "remote_ip", addr, "key", pw->vni, NULL };
		snprintf(key, sizeof(key), "%s/%s", pw->v->tenant, pw->v->name);
		op_port_add(ops, pw->br, name, "vxlan", ovsdb_val_map(opt),
			    ext_ids(ob, EXT_VNET, key, EXT_PEER, addr));
		port_protect(ops);
	}
	free(have);
	return r;
}

/* Its VXLAN ports speak to port 4789 only: an underlay with another port
 * ("ADDR:PORT", nodes sharing a host) is the kernel backend's for now. */
static int ports_default(struct ovs_backend *ob, const struct vnet_spec *v, const char *what)
{
	char buf[CS_ADDRSTRLEN];
	size_t i;

	if (v->local && v->local_port && v->local_port != CS_VXLAN_PORT) {
		oerr(ob, "%s: this node's underlay has port %u; the ovs backend uses VXLAN port "
		     "%d only (give the node an underlay without a port, or use the kernel "
		     "backend)", what, v->local_port, CS_VXLAN_PORT);
		return CS_ENOTSUP;
	}
	for (i = 0; v->peer_ports && i < v->npeers; i++) {
		if (!v->peer_ports[i] || v->peer_ports[i] == CS_VXLAN_PORT)
			continue;
		oerr(ob, "%s: node %s listens on another VXLAN port than %d; the ovs backend "
		     "uses port %d only (use the kernel backend for this vnet)", what,
		     cs_addr_port_format(&v->peers[i], v->peer_ports[i], buf), CS_VXLAN_PORT,
		     CS_VXLAN_PORT);
		return CS_ENOTSUP;
	}
	return 0;
}

/* ops: bridge @name for vnet @tv, with its local port */
static void op_bridge_add(struct ovs_backend *ob, json_t *ops, const char *name, const char *tv)
{
	json_t *ext = ext_ids(ob, EXT_VNET, tv, NULL, NULL);

	/* one reference for the port, one for the bridge */
	op_port_add(ops, NULL, name, "internal", NULL, json_incref(ext));
	/* the port just inserted is the last "p" name op_port_add used */
	const char *pn = json_string_value(json_object_get(json_array_get(ops,
						json_array_size(ops) - 1), "uuid-name"));
	json_array_append_new(ops, json_pack("{s:s, s:s, s:{s:s, s:o, s:s, s:o}, s:s}", "op",
					     "insert", "table", "Bridge", "row", "name", name,
					     "ports", ovsdb_val_named(pn), "datapath_type", ob->dp,
					     "external_ids", ext, "uuid-name", "br"));
	json_array_append_new(ops, json_pack("{s:s, s:s, s:[], s:[[s, s, o]]}", "op", "mutate",
					     "table", "Open_vSwitch", "where", "mutations",
					     "bridges", "insert", ovsdb_val_named("br")));
}

static void op_bridge_del(json_t *ops, const char *uuid)
{
	json_array_append_new(ops, json_pack("{s:s, s:s, s:[], s:[[s, s, o]]}", "op", "mutate",
					     "table", "Open_vSwitch", "where", "mutations",
					     "bridges", "delete", ovsdb_val_uuid(uuid)));
}

static int ovs_vnet_ensure(struct vnet_backend *b, const struct vnet_spec *v)
{
	struct ovs_backend *ob = ob_of(b);
	char what[128], tv[80], name[IFNAMSIZ];
	struct peer_want pw = { .v = v };
	const json_t *br, *other;
	const char *uuid = NULL;
	json_t *ops;
	int r;

	snprintf(what, sizeof(what), "vnet %s/%s", v->tenant, v->name);
	snprintf(tv, sizeof(tv), "%s/%s", v->tenant, v->name);
	snprintf(name, sizeof(name), "%sb%06x", ob->prefix, v->id & 0xffffff);
	snprintf(pw.vni, sizeof(pw.vni), "%u", v->id);
	if ((r = ports_default(ob, v, what)) < 0)
		return r;
	if ((r = sync_db(ob, what)) < 0)
		return r;
	/* tunnels that could not carry anything are refused before anything
	 * is made, saying what the node lacks */
	if ((r = ovs_underlay_check(ob->db, ob->dp, v, ob->underlay[0] ? ob->underlay : NULL,
				    ob->base.error, sizeof(ob->base.error))) < 0)
		return r;
	if (!(ops = json_array()))
		return CS_ENOMEM;
	br = find_ours(ob, "Bridge", EXT_VNET, tv, &uuid);
	if (br && (strcmp(str_col(br, "name"), name) ||
		   strcmp(str_col(br, "datapath_type"), ob->dp))) {
		/* its id changed (or another datapath): a bridge anew */
		op_bridge_del(ops, uuid);
		if ((r = transact(ob, ops, what)) < 0)
			return r;
		ops = json_array();
		br = NULL;
	}
	if (!br) {
		other = find_named(ob, "Bridge", name);
		if (other) {
			json_decref(ops);
			oerr(ob, "%s: a bridge named %s exists and is not this csd's (its "
			     "external_ids lack " EXT_PREFIX "=%s); remove it (ovs-vsctl del-br %s) "
			     "or run csd with another prefix", what, name, ob->prefix, name);
			return CS_EEXIST;
		}
		op_bridge_add(ob, ops, name, tv);
		if ((r = transact(ob, ops, what)) < 0)
			return r;
		if (!(br = find_ours(ob, "Bridge", EXT_VNET, tv, &uuid))) {
			oerr(ob, "%s: bridge %s vanished after it was made", what, name);
			return CS_EIO;
		}
		ops = json_array();
	}
	pw.br = uuid;
	if ((r = vxlan_sync(ob, br, &pw, ops)) < 0) {
		json_decref(ops);
		return r;
	}
	if ((r = transact(ob, ops, what)) < 0)
		return r;
	return gw_ensure(ob, v, uuid, tv);
}

static int ovs_vnet_destroy(struct vnet_backend *b, const char *tenant, const char *vnet)
{
	struct ovs_backend *ob = ob_of(b);
	char what[128], tv[80];
	const json_t *rows, *row;
	const char *u;
	json_t *ops;
	int r;

	snprintf(what, sizeof(what), "vnet %s/%s", tenant, vnet);
	snprintf(tv, sizeof(tv), "%s/%s", tenant, vnet);
	if ((r = sync_db(ob, what)) < 0)
		return r;
	if (!(ops = json_array()))
		return CS_ENOMEM;
	gw_unlink(ob, tv);
	rows = ovsdb_table(ob->db, "Bridge");
	json_object_foreach((json_t *)rows, u, row) {
		if (ours(ob, row, EXT_VNET, tv))
			op_bridge_del(ops, u);
	}
	if ((r = transact(ob, ops, what)) < 0)
		return r;
	/* the gateway's namespace, with gw0 and the veth */
	return kfail(ob, vb_vnet_destroy(ob->k, tenant, vnet));
}

/* --- endpoints --- */

/* Set @name (in the namespace of @sk) up with @mtu, and MAC @mac if not
 * NULL. */
static int link_up(struct nl_sock *sk, const char *name, int mtu, const uint8_t *mac)
{
	struct rtnl_link *l = NULL, *ch = rtnl_link_alloc();
	struct nl_addr *a = mac ? nl_addr_build(AF_LLC, mac, 6) : NULL;
	int r;

	if (!ch || (mac && !a))
		r = -NLE_NOMEM;
	else if ((r = rtnl_link_get_kernel(sk, 0, name, &l)) == 0) {
		rtnl_link_set_flags(ch, IFF_UP);
		if (mtu > 0)
			rtnl_link_set_mtu(ch, (unsigned)mtu);
		if (a)
			rtnl_link_set_addr(ch, a);
		r = rtnl_link_change(sk, l, ch, 0);
	}
	if (a)
		nl_addr_put(a);
	if (l)
		rtnl_link_put(l);
	if (ch)
		rtnl_link_put(ch);
	return r;
}

static void link_del(struct nl_sock *sk, const char *name)
{
	struct rtnl_link *l = NULL;

	if (rtnl_link_get_kernel(sk, 0, name, &l) == 0)
		rtnl_link_delete(sk, l);
	if (l)
		rtnl_link_put(l);
}

/* Is @dev in the namespace of @esk the veth whose other end is @host (@hsk)? */
static bool veth_ok(struct nl_sock *esk, struct nl_sock *hsk, const char *host, const char *dev)
{
	struct rtnl_link *e = NULL, *h = NULL;
	bool ok = false;

	if (rtnl_link_get_kernel(esk, 0, dev, &e) == 0 &&
	    rtnl_link_get_kernel(hsk, 0, host, &h) == 0)
		ok = rtnl_link_is_veth(e) && rtnl_link_is_veth(h) &&
		     rtnl_link_get_link(e) == rtnl_link_get_ifindex(h) &&
		     rtnl_link_get_link(h) == rtnl_link_get_ifindex(e);
	if (e)
		rtnl_link_put(e);
	if (h)
		rtnl_link_put(h);
	return ok;
}

static int veth_create(struct nl_sock *hsk, const char *host, const char *dev, int efd)
{
	struct rtnl_link *l = rtnl_link_veth_alloc(), *peer;
	int r;

	if (!l)
		return -NLE_NOMEM;
	rtnl_link_set_name(l, host);
	peer = rtnl_link_veth_get_peer(l);	/* a reference of our own */
	rtnl_link_set_name(peer, dev);
	rtnl_link_set_ns_fd(peer, efd);
	rtnl_link_put(peer);
	r = rtnl_link_add(hsk, l, NLM_F_CREATE | NLM_F_EXCL);
	rtnl_link_veth_release(l);
	return r;
}

/* Transmit checksum offload off on @dev of namespace @efd (ethtool's
 * ETHTOOL_STXCSUM; see the top of the file for why). */
static int tx_csum_off(int efd, const char *dev)
{
	struct ethtool_value ev = { .cmd = ETHTOOL_STXCSUM, .data = 0 };
	struct ifreq ifr = { .ifr_data = (void *)&ev };
	int sk = netns_socket(efd, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	if (sk < 0)
		return sk;
	r = ioctl(sk, SIOCETHTOOL, &ifr) < 0 ? CS_EIO : 0;
	close(sk);
	return r;
}

static int vnet_mtu(const struct vnet_spec *v)
{
	return v->mtu > 0 ? v->mtu : v->npeers ? VNET_MTU_OVERLAY : VNET_MTU_LOCAL;
}

struct ep_ctx {
	struct ovs_backend *ob;
	const struct vnet_spec *v;
	const struct endpoint_spec *e;
	char what[160], ens[NSNAME_MAX], host[IFNAMSIZ], tve[112];
	struct nl_sock *esk, *hsk;
	int efd;
	bool fresh;
	bool relinked;		/* the veth was made anew */
	const char *dev;	/* its name in the namespace: eth0, gw0 */
	const uint8_t *mac;	/* its MAC, NULL: the kernel's */
};

static void ctx_close(struct ep_ctx *c)
{
	if (c->esk)
		nl_socket_free(c->esk);
	if (c->hsk)
		nl_socket_free(c->hsk);
	if (c->efd >= 0)
		close(c->efd);
}

/* The namespace and its device c->dev, a veth whose host side is c->host,
 * up; c->fresh when the namespace is new. */
static int ns_veth(struct ep_ctx *c)
{
	struct ovs_backend *ob = c->ob;
	char err[256];
	int r, mtu = vnet_mtu(c->v);

	r = netns_add(c->ens, err, sizeof(err));
	if (r < 0 && r != CS_EEXIST) {
		oerr(ob, "%s: %s", c->what, err);
		return r;
	}
	c->fresh = r == 0;
	if ((c->efd = netns_open(c->ens, err, sizeof(err))) < 0) {
		oerr(ob, "%s: %s", c->what, err);
		return c->efd;
	}
	if ((r = kernel_nl_open_in(kb_of(ob), c->efd, c->ens, c->what, &c->esk)) < 0)
		return kfail(ob, r);
	if (!(c->hsk = nl_socket_alloc()) || nl_connect(c->hsk, NETLINK_ROUTE) < 0) {
		oerr(ob, "%s: cannot open a netlink socket", c->what);
		return CS_EIO;
	}
	if (!veth_ok(c->esk, c->hsk, c->host, c->dev)) {
		link_del(c->esk, c->dev);
		link_del(c->hsk, c->host);
		r = veth_create(c->hsk, c->host, c->dev, c->efd);
		if (r < 0) {
			oerr(ob, "%s: cannot create veth %s with its peer %s in namespace %s: %s",
			     c->what, c->host, c->dev, c->ens, nl_geterror(r));
			return CS_EIO;
		}
		c->fresh = c->relinked = true;
		if (!strcmp(ob->dp, "netdev") && (r = tx_csum_off(c->efd, c->dev)) < 0) {
			oerr(ob, "%s: cannot turn off transmit checksum offload of %s in namespace "
			     "%s: %s", c->what, c->dev, c->ens, strerror(errno));
			return r;
		}
	}
	if ((r = link_up(c->hsk, c->host, mtu, NULL)) < 0 ||
	    (r = link_up(c->esk, c->dev, mtu, c->mac)) < 0) {
		oerr(ob, "%s: cannot set %s and its peer %s up with MTU %d: %s", c->what, c->host,
		     c->dev, mtu, nl_geterror(r));
		return CS_EIO;
	}
	return 0;
}

/* The index of c->dev in the namespace, or a code. */
static int ns_dev_index(struct ep_ctx *c)
{
	struct rtnl_link *l = NULL;
	int r = rtnl_link_get_kernel(c->esk, 0, c->dev, &l);

	if (r < 0) {
		oerr(c->ob, "%s: %s vanished from namespace %s: %s", c->what, c->dev, c->ens,
		     nl_geterror(r));
		return CS_EIO;
	}
	r = rtnl_link_get_ifindex(l);
	rtnl_link_put(l);
	return r;
}

/* The namespace and its eth0, linked to the host side; what the kernel
 * backend puts in an endpoint's namespace. */
static int ep_link(struct ep_ctx *c)
{
	int r, ifindex;

	c->dev = EP_DEV;
	if ((r = ns_veth(c)) < 0 || (ifindex = ns_dev_index(c)) < 0)
		return r < 0 ? r : ifindex;
	r = kernel_ep_finish(kb_of(c->ob), c->v, c->e, c->esk, c->efd, c->ens, ifindex, c->fresh,
			     c->what);
	if (r == 0)
		r = kernel_ep_etc(kb_of(c->ob), c->ens, c->v, c->e->name, c->what);
	return kfail(c->ob, r);
}

/* A port cs wants: whose (external_ids @key = @val), its interface (the
 * host side of a veth, made anew or not), protected or not. */
struct port_want {
	const char *key, *val, *name;
	bool relinked, protect;
	const char *what;
};

/* The port @w on bridge @br, and on no other. */
static int port_sync(struct ovs_backend *ob, const char *br, const struct port_want *w)
{
	const json_t *rows = ovsdb_table(ob->db, "Port"), *row;
	const char *u, *in;
	bool have = false;
	json_t *ops = json_array();
	int r;

	if (!ops)
		return CS_ENOMEM;
	json_object_foreach((json_t *)rows, u, row) {
		if (!ours(ob, row, w->key, w->val))
			continue;
		in = bridge_of_port(ob, u);
		if (!have && in && !strcmp(in, br) && !strcmp(str_col(row, "name"), w->name) &&
		    json_is_true(json_object_get(row, "protected")) == w->protect && !w->relinked)
			have = true;
		else if (in)
			op_port_del(ops, in, u);
	}
	/* a veth made anew under a port's old name: the port goes first, in
	 * a change of its own, so that ovs-vswitchd opens the new device */
	if (w->relinked && json_array_size(ops)) {
		if ((r = transact(ob, ops, w->what)) < 0)
			return r;
		if (!(ops = json_array()))
			return CS_ENOMEM;
	}
	if (!have) {
		op_port_add(ops, br, w->name, "", NULL, ext_ids(ob, w->key, w->val, NULL, NULL));
		if (w->protect)
			port_protect(ops);
	}
	if ((r = transact(ob, ops, w->what)) < 0)
		return r;
	return iface_error(ob, w->name, w->what);
}

/*
 * The vnet's gateway on this node, as the kernel backend's (csd's DNS
 * answers there): gw0 in the vnet's namespace, the first host address of
 * each subnet and MAC 02:63:73 + the VNI, the same on every node; a veth
 * whose host side (PREFIX "g" + hex) is a protected port of the bridge, so
 * it hears this node's endpoints and no peer, and no peer hears it.
 */
static int gw_ensure(struct ovs_backend *ob, const struct vnet_spec *v, const char *br,
		     const char *tv)
{
	const uint8_t mac[6] = { 0x02, 0x63, 0x73, (uint8_t)(v->id >> 16), (uint8_t)(v->id >> 8),
				 (uint8_t)v->id };
	struct ep_ctx c = { .ob = ob, .v = v, .efd = -1, .dev = GW_DEV, .mac = mac };
	const json_t *port = find_ours(ob, "Port", EXT_GW, tv, NULL);
	struct cs_addr gw4, gw6;
	int r, ifindex;

	snprintf(c.what, sizeof(c.what), "vnet %s: its gateway", tv);
	if ((r = kernel_ns_name(kb_of(ob), c.ens, v->tenant, v->name, NULL)) < 0)
		return kfail(ob, r);
	if (port && strlen(str_col(port, "name")) < IFNAMSIZ)
		snprintf(c.host, sizeof(c.host), "%s", str_col(port, "name"));
	else if ((r = free_name(ob, 'g', tv, c.host)) < 0)
		return r;
	if (v->has4)
		ipam_gateway(&v->subnet4, &gw4);
	if (v->has6)
		ipam_gateway(&v->subnet6, &gw6);
	struct want_addr w[2] = {
		{ .want = v->has4, .family = AF_INET, .plen = v->subnet4.plen, .addr = &gw4 },
		{ .want = v->has6, .family = AF_INET6, .plen = v->subnet6.plen, .addr = &gw6 },
	};
	if ((r = ns_veth(&c)) == 0 && (r = ifindex = ns_dev_index(&c)) >= 0)
		r = kfail(ob, kernel_addrs_fix(kb_of(ob), c.esk, ifindex, w, c.what));
	if (r >= 0)
		r = port_sync(ob, br, &(struct port_want){ .key = EXT_GW, .val = tv, .name = c.host,
			      .relinked = c.relinked, .protect = true, .what = c.what });
	ctx_close(&c);
	return r;
}

/* The gateway's veth, deleted from the host's side now: deleting its
 * namespace takes it only once the kernel has cleaned the namespace up,
 * which may be seconds later. */
static void gw_unlink(struct ovs_backend *ob, const char *tv)
{
	const json_t *port = find_ours(ob, "Port", EXT_GW, tv, NULL);
	const char *name = port ? str_col(port, "name") : "";
	struct nl_sock *sk;

	if (strncmp(name, ob->prefix, strlen(ob->prefix)) || !(sk = nl_socket_alloc()))
		return;
	if (nl_connect(sk, NETLINK_ROUTE) == 0)
		link_del(sk, name);
	nl_socket_free(sk);
}

static int ovs_endpoint_ensure(struct vnet_backend *b, const struct vnet_spec *v,
			       const struct endpoint_spec *e)
{
	struct ovs_backend *ob = ob_of(b);
	struct ep_ctx c = { .ob = ob, .v = v, .e = e, .efd = -1 };
	const json_t *port;
	const char *br = NULL;
	char tv[80];
	int r;

	snprintf(c.what, sizeof(c.what), "endpoint %s/%s/%s", v->tenant, v->name, e->name);
	snprintf(c.tve, sizeof(c.tve), "%s/%s/%s", v->tenant, v->name, e->name);
	snprintf(tv, sizeof(tv), "%s/%s", v->tenant, v->name);
	if ((r = kernel_ns_name(kb_of(ob), c.ens, v->tenant, v->name, e->name)) < 0)
		return kfail(ob, r);
	if ((e->has4 && (e->addr4.family != AF_INET || !v->has4)) ||
	    (e->has6 && (e->addr6.family != AF_INET6 || !v->has6))) {
		oerr(ob, "%s: its address family does not match the vnet's subnets", c.what);
		return CS_EINVAL;
	}
	if ((r = sync_db(ob, c.what)) < 0)
		return r;
	if (!find_ours(ob, "Bridge", EXT_VNET, tv, &br)) {
		oerr(ob, "%s: vnet %s is not realized (no bridge of it in ovsdb)", c.what, tv);
		return CS_ENOENT;
	}
	/* the host side keeps the name its port has: adopted, not renamed */
	port = find_ours(ob, "Port", EXT_ENDPOINT, c.tve, NULL);
	if (port && strlen(str_col(port, "name")) < IFNAMSIZ)
		snprintf(c.host, sizeof(c.host), "%s", str_col(port, "name"));
	else if ((r = free_name(ob, 'e', c.tve, c.host)) < 0)
		return r;
	r = ep_link(&c);
	if (r == 0)
		r = port_sync(ob, br, &(struct port_want){ .key = EXT_ENDPOINT, .val = c.tve,
			      .name = c.host, .relinked = c.relinked, .what = c.what });
	ctx_close(&c);
	return r;
}

static int ovs_endpoint_destroy(struct vnet_backend *b, const char *tenant, const char *vnet,
				const char *endpoint)
{
	struct ovs_backend *ob = ob_of(b);
	const json_t *rows, *row;
	char what[160], tve[112];
	const char *u, *in;
	json_t *ops;
	int r;

	/* eth0 first (the kernel backend's order), so sockets lose the vnet
	 * now; the veth's host side goes with it */
	if ((r = vb_endpoint_destroy(ob->k, tenant, vnet, endpoint)) < 0)
		return kfail(ob, r);
	snprintf(what, sizeof(what), "endpoint %s/%s/%s", tenant, vnet, endpoint);
	snprintf(tve, sizeof(tve), "%s/%s/%s", tenant, vnet, endpoint);
	if ((r = sync_db(ob, what)) < 0)
		return r;
	if (!(ops = json_array()))
		return CS_ENOMEM;
	rows = ovsdb_table(ob->db, "Port");
	json_object_foreach((json_t *)rows, u, row) {
		if (ours(ob, row, EXT_ENDPOINT, tve) && (in = bridge_of_port(ob, u)))
			op_port_del(ops, in, u);
	}
	return transact(ob, ops, what);
}

/* --- what lives in the endpoint's namespace: the kernel backend's --- */

static int ovs_endpoint_socket(struct vnet_backend *b, const char *t, const char *v,
			       const char *e, int domain, int type, int protocol)
{
	/* on csd's worker threads: the kernel backend is safe there, and its
	 * error buffer is the one read for a failure of this call */
	struct ovs_backend *ob = ob_of(b);

	return kfail(ob, vb_endpoint_socket(ob->k, t, v, e, domain, type, protocol));
}

static int ovs_gateway_socket(struct vnet_backend *b, const char *t, const char *v, int domain,
			      int type, int protocol)
{
	return kfail(ob_of(b), vb_gateway_socket(ob_of(b)->k, t, v, domain, type, protocol));
}

static int ovs_endpoint_etc(struct vnet_backend *b, const char *t, const char *v, const char *e,
			    char *buf, size_t len)
{
	return kfail(ob_of(b), vb_endpoint_etc(ob_of(b)->k, t, v, e, buf, len));
}

static int ovs_endpoint_netns(struct vnet_backend *b, const char *t, const char *v,
			      const char *e)
{
	return kfail(ob_of(b), vb_endpoint_netns(ob_of(b)->k, t, v, e));
}

static int ovs_endpoint_stats(struct vnet_backend *b, const char *t, const char *v,
			      const char *e, struct endpoint_stats *out)
{
	return kfail(ob_of(b), vb_endpoint_stats(ob_of(b)->k, t, v, e, out));
}

static int ovs_endpoint_qos(struct vnet_backend *b, const char *t, const char *v, const char *e,
			    const struct vnet_qos *qos)
{
	return kfail(ob_of(b), vb_endpoint_qos(ob_of(b)->k, t, v, e, qos));
}

static int ovs_uplink_qos(struct vnet_backend *b, const struct cs_addr *underlay, uint64_t bps)
{
	return kfail(ob_of(b), vb_uplink_qos(ob_of(b)->k, underlay, bps));
}

static int ovs_endpoint_policy(struct vnet_backend *b, const char *t, const char *v,
			       const char *e, const struct vnet_fw *fw)
{
	return kfail(ob_of(b), vb_endpoint_policy(ob_of(b)->k, t, v, e, fw));
}

static int ovs_endpoint_denied(struct vnet_backend *b, const char *t, const char *v,
			       const char *e, uint64_t *packets)
{
	return kfail(ob_of(b), vb_endpoint_denied(ob_of(b)->k, t, v, e, packets));
}

/* OVS's userspace tunnels receive on a UDP socket of the host: the same
 * filter of the VXLAN port as the kernel's. */
static int ovs_underlay_filter(struct vnet_backend *b, const struct vnet_underlay_rule *rules,
			       size_t n)
{
	return kfail(ob_of(b), vb_underlay_filter(ob_of(b)->k, rules, n));
}

/* --- inventory --- */

static bool listed(char **v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], s))
			return true;
	return false;
}

static int push(char ***v, size_t *n, const char *s)
{
	char **nv, *d;

	if (listed(*v, *n, s))
		return 0;
	if (!(d = strdup(s)) || !(nv = realloc(*v, (*n + 1) * sizeof(**v)))) {
		free(d);
		return CS_ENOMEM;
	}
	nv[(*n)++] = d;
	*v = nv;
	return 0;
}

/* Vnets are the bridges; endpoints are the namespaces and the ports. */
static int ovs_inventory(struct vnet_backend *b, struct vnet_inventory *out)
{
	struct ovs_backend *ob = ob_of(b);
	struct vnet_inventory k = { 0 };
	const char *tables[] = { "Bridge", "Port" }, *keys[] = { EXT_VNET, EXT_ENDPOINT };
	const json_t *row;
	const char *u;
	size_t i;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = sync_db(ob, "inventory")) < 0)
		return r;
	if ((r = vb_inventory(ob->k, &k)) < 0)
		return kfail(ob, r);
	for (i = 0; r == 0 && i < k.nendpoints; i++)
		r = push(&out->endpoints, &out->nendpoints, k.endpoints[i]);
	/* a gateway's namespace left without its bridge is a vnet to remove */
	for (i = 0; r == 0 && i < k.nvnets; i++)
		r = push(&out->vnets, &out->nvnets, k.vnets[i]);
	for (size_t t = 0; t < 2; t++) {
		json_object_foreach((json_t *)ovsdb_table(ob->db, tables[t]), u, row) {
			const char *name = ovsdb_map_get(json_object_get(row, "external_ids"),
							 keys[t]);
			if (r == 0 && name && ours(ob, row, keys[t], NULL))
				r = t ? push(&out->endpoints, &out->nendpoints, name)
				      : push(&out->vnets, &out->nvnets, name);
		}
	}
	vnet_inventory_clear(&k);
	if (r < 0) {
		oerr(ob, "inventory: out of memory");
		vnet_inventory_clear(out);
	}
	return r;
}

const struct vnet_ops vnet_ovs_ops = {
	.name = "ovs",
	.caps = VNET_CAP_HOST_OBJECTS,
	.open = ovs_open,
	.close = ovs_close,
	.vnet_ensure = ovs_vnet_ensure,
	.vnet_destroy = ovs_vnet_destroy,
	.endpoint_ensure = ovs_endpoint_ensure,
	.endpoint_destroy = ovs_endpoint_destroy,
	.endpoint_socket = ovs_endpoint_socket,
	.endpoint_netns = ovs_endpoint_netns,
	.endpoint_stats = ovs_endpoint_stats,
	.inventory = ovs_inventory,
	.endpoint_qos = ovs_endpoint_qos,
	.uplink_qos = ovs_uplink_qos,
	.endpoint_policy = ovs_endpoint_policy,
	.endpoint_denied = ovs_endpoint_denied,
	.underlay_filter = ovs_underlay_filter,
	.gateway_socket = ovs_gateway_socket,
	.endpoint_etc = ovs_endpoint_etc,
};
