/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What an OVS node's VXLAN needs of its underlay, checked (not arranged).
 *
 * ovs-vswitchd's userspace datapath ("netdev", all there is without the
 * openvswitch kernel module) does its own tunnelling: it encapsulates
 * after a lookup in its own route table (a copy of the kernel's routes in
 * its namespace) and its own ARP table (learnt from ARP crossing its
 * bridges), and sends out of the bridge whose internal port holds the
 * route; it decapsulates only what arrives on such a bridge addressed to
 * the internal port's MAC and address. So the node's underlay address must
 * sit on the internal port of an OVS bridge whose other port is the NIC
 * ("br-phy" in OVS's documents). csd does not move the address there
 * itself: that cuts the host off while it moves, fights the host's network
 * configuration (which puts the address back at the next boot or link
 * event), and makes all the host's traffic, csd's store and control
 * connections included, depend on ovs-vswitchd running. It is the
 * operator's to do, once, with the host's own tools; csd checks it before
 * it makes a vnet's tunnels and says what is missing and what to do.
 *
 * The NIC on that bridge stays a kernel device too: the kernel answers ARP
 * for the node's addresses on it with the NIC's own MAC unless its
 * arp_ignore says not to, and a peer that learnt that MAC sends VXLAN
 * where OVS does not decapsulate it (the kernel then drops it, or answers
 * port unreachable). That is checked too.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>

#include "cs/cs.h"
#include "ovs_underlay.h"

#define HOWTO "see csd(8), OPEN VSWITCH"

struct route {
	int oif;
	struct cs_addr src;	/* family 0: none said */
};

static int route_attr(const struct nlattr *a, void *arg)
{
	struct route *rt = arg;
	size_t len = mnl_attr_get_payload_len(a);

	if (mnl_attr_get_type(a) == RTA_OIF && len >= 4)
		rt->oif = (int)mnl_attr_get_u32(a);
	else if (mnl_attr_get_type(a) == RTA_PREFSRC && (len == 4 || len == 16)) {
		rt->src.family = len == 4 ? AF_INET : AF_INET6;
		memcpy(rt->src.a, mnl_attr_get_payload(a), len);
	}
	return MNL_CB_OK;
}

static int route_msg(const struct nlmsghdr *nlh, void *arg)
{
	return mnl_attr_parse(nlh, sizeof(struct rtmsg), route_attr, arg);
}

/* The kernel's route to @dst in this thread's namespace (RTM_GETROUTE,
 * what `ip route get` asks). */
static int route_get(const struct cs_addr *dst, struct route *rt)
{
	char buf[8192] __attribute__((aligned(8)));
	size_t alen = dst->family == AF_INET ? 4 : 16;
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	unsigned seq = (unsigned)time(NULL);
	struct rtmsg *rtm;
	ssize_t n;
	int r = -1;

	memset(rt, 0, sizeof(*rt));
	if (!nl)
		return -errno;
	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = seq;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (unsigned char)dst->family;
	rtm->rtm_dst_len = (unsigned char)(alen * 8);
	mnl_attr_put(nlh, RTA_DST, alen, dst->a);
	/* not a dump: one answer, the route or an error */
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) == 0 &&
	    mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) >= 0 &&
	    (n = mnl_socket_recvfrom(nl, buf, sizeof(buf))) > 0)
		r = mnl_cb_run(buf, (size_t)n, seq, mnl_socket_get_portid(nl), route_msg, rt);
	r = r < 0 ? -errno : 0;
	mnl_socket_close(nl);
	return r;
}

static const char *str_col(const json_t *row, const char *col)
{
	return json_string_value(json_object_get(row, col)) ?: "";
}

/* The row of @table named @name, its uuid in *@uuid. */
static const json_t *named(struct ovsdb *db, const char *table, const char *name,
			   const char **uuid)
{
	const json_t *row;
	const char *u;

	json_object_foreach((json_t *)ovsdb_table(db, table), u, row) {
		if (!strcmp(str_col(row, "name"), name)) {
			*uuid = u;
			return row;
		}
	}
	return NULL;
}

/* The row of @table whose set column @col holds @uuid, its uuid in *@out. */
static const json_t *holder(struct ovsdb *db, const char *table, const char *col,
			    const char *uuid, const char **out)
{
	const json_t *row;
	const char *u;

	json_object_foreach((json_t *)ovsdb_table(db, table), u, row) {
		if (ovsdb_set_has_uuid(json_object_get(row, col), uuid)) {
			*out = u;
			return row;
		}
	}
	return NULL;
}

/* An int sysctl of this thread's namespace, -1 if it cannot be read. */
static int sysctl_int(const char *fmt, const char *dev)
{
	char path[128], buf[32];
	int fd, v = -1;
	ssize_t n;

	snprintf(path, sizeof(path), fmt, dev);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return -1;
	if ((n = read(fd, buf, sizeof(buf) - 1)) > 0) {
		buf[n] = 0;
		v = atoi(buf);
	}
	close(fd);
	return v;
}

struct ctx {
	struct ovsdb *db;
	char *err;
	size_t errlen;
	const char *peer;	/* text */
	const char *dev;	/* where the route to it leaves */
	const char *bridge;	/* the OVS bridge it is the internal port of */
	bool v4, uplink;
};

/* One interface of the underlay bridge: not internal, it is an uplink;
 * a kernel device (type system) must not answer ARP itself. */
static int iface_check(const char *uuid, void *arg)
{
	struct ctx *c = arg;
	const json_t *i = json_object_get(ovsdb_table(c->db, "Interface"), uuid);
	const char *t = str_col(i, "type"), *n = str_col(i, "name");
	int all, own;

	if (!i || !strcmp(t, "internal"))
		return 0;
	c->uplink = true;
	if (!c->v4 || (*t && strcmp(t, "system")) || strlen(n) >= IFNAMSIZ || strchr(n, '/'))
		return 0;
	all = sysctl_int("/proc/sys/net/ipv4/conf/%s/arp_ignore", "all");
	own = sysctl_int("/proc/sys/net/ipv4/conf/%s/arp_ignore", n);
	if (own != 0 || all > 0)
		return 0;
	snprintf(c->err, c->errlen, "port %s of OVS bridge %s (the underlay) is a kernel device "
		 "that answers ARP for this node's addresses with its own MAC, where "
		 "ovs-vswitchd does not decapsulate VXLAN; make it not answer: sysctl -w "
		 "net.ipv4.conf.%s.arp_ignore=1 (" HOWTO ")", n, c->bridge, n);
	return CS_EINVAL;
}

static int port_check(const char *uuid, void *arg)
{
	struct ctx *c = arg;
	const json_t *p = json_object_get(ovsdb_table(c->db, "Port"), uuid);

	return p ? ovsdb_set_each_uuid(json_object_get(p, "interfaces"), iface_check, c) : 0;
}

/* The ports of bridge @br other than internal ones (the uplink): there
 * must be one, and none a kernel device that answers ARP for the node's
 * IPv4 addresses itself. */
static int uplink_check(struct ctx *c, const json_t *br)
{
	int r;

	c->bridge = str_col(br, "name");
	c->uplink = false;
	if ((r = ovsdb_set_each_uuid(json_object_get(br, "ports"), port_check, c)) < 0)
		return r;
	if (!c->uplink) {
		snprintf(c->err, c->errlen, "OVS bridge %s (the underlay, holding the route to "
			 "%s) has no port but its own: add the NIC that leads to %s (ovs-vsctl "
			 "add-port %s NIC) (" HOWTO ")", c->bridge, c->peer, c->peer, c->bridge);
		return CS_EINVAL;
	}
	return 0;
}

/* The device the route to the peer leaves by is an OVS bridge's internal
 * port on the netdev datapath, with an uplink. */
static int bridge_check(struct ctx *c)
{
	const char *iu, *pu, *bu;
	const json_t *br = NULL;
	const json_t *i = named(c->db, "Interface", c->dev, &iu);

	if (i && !strcmp(str_col(i, "type"), "internal") &&
	    holder(c->db, "Port", "interfaces", iu, &pu))
		br = holder(c->db, "Bridge", "ports", pu, &bu);
	if (!br) {
		snprintf(c->err, c->errlen, "ovs-vswitchd's userspace VXLAN routes by itself and "
			 "needs this node's underlay address on an OVS bridge, but the route to "
			 "node %s leaves by %s, which is not an OVS bridge's own port: make a "
			 "bridge of datapath netdev with %s as its port and move the address "
			 "there (ovs-vsctl add-br br-phy -- set bridge br-phy datapath_type=netdev "
			 "-- add-port br-phy %s; then the address and routes from %s to br-phy) "
			 "(" HOWTO ")", c->peer, c->dev, c->dev, c->dev, c->dev);
		return CS_EINVAL;
	}
	if (strcmp(str_col(br, "datapath_type"), "netdev")) {
		snprintf(c->err, c->errlen, "OVS bridge %s holds the route to node %s but its "
			 "datapath_type is '%s', not the vnets' netdev: tunnels do not cross "
			 "datapaths (ovs-vsctl set bridge %s datapath_type=netdev) (" HOWTO ")",
			 str_col(br, "name"), c->peer, str_col(br, "datapath_type"),
			 str_col(br, "name"));
		return CS_EINVAL;
	}
	return uplink_check(c, br);
}

/* The route to @peer: through an OVS bridge, from this node's address. */
static int peer_check(struct ctx *c, const struct cs_addr *peer, const struct cs_addr *local)
{
	char p[CS_ADDRSTRLEN], l[CS_ADDRSTRLEN], s[CS_ADDRSTRLEN], dev[IF_NAMESIZE];
	struct route rt;
	int r;

	c->peer = cs_addr_format(peer, p);
	if ((r = route_get(peer, &rt)) < 0 || rt.oif <= 0 || !if_indextoname((unsigned)rt.oif,
									       dev)) {
		snprintf(c->err, c->errlen, "no route to node %s here (%s): the underlay must "
			 "reach it", p, r < 0 ? strerror(-r) : "no device");
		return CS_EINVAL;
	}
	c->dev = dev;
	c->v4 = peer->family == AF_INET;
	if ((r = bridge_check(c)) < 0)
		return r;
	if (local && rt.src.family && cs_addr_cmp(&rt.src, local)) {
		snprintf(c->err, c->errlen, "the route to node %s leaves by %s from %s, but this "
			 "node's underlay address is %s: the other nodes accept VXLAN only from "
			 "%s; put it on %s (" HOWTO ")", p, dev, cs_addr_format(&rt.src, s),
			 cs_addr_format(local, l), l, dev);
		return CS_EINVAL;
	}
	return 0;
}

int ovs_underlay_check(struct ovsdb *db, const char *dp, const struct vnet_spec *v,
		       const char *local, char *err, size_t errlen)
{
	struct ctx c = { .db = db, .err = err, .errlen = errlen };
	struct cs_addr me;
	const struct cs_addr *mine = v->local;
	int r;

	if (strcmp(dp, "netdev"))
		return 0;
	if (!mine && local && cs_addr_parse(local, &me) == 0)
		mine = &me;
	for (size_t i = 0; i < v->npeers; i++)
		if ((r = peer_check(&c, &v->peers[i], mine)) < 0)
			return r;
	return 0;
}
