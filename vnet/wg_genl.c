/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The kernel WireGuard driver: a link of kind "wireguard" (rtnetlink) and
 * its configuration over generic netlink (family "wireguard",
 * WG_CMD_GET_DEVICE / WG_CMD_SET_DEVICE), all through libmnl on sockets
 * opened in the underlay namespace. Used where creating the link works;
 * elsewhere (this kernel has no module) up() says CS_ENOTSUP and csd
 * falls back to wireguard-go. The messages are built by wg_conf.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/wireguard.h>

#include "netns.h"
#include "wg.h"

struct nlconn {
	struct mnl_socket *nl;
	char buf[WG_NL_BUF];
	uint32_t seq;
};

static int conn_open(struct nlconn *c, int nsfd, int proto)
{
	int fd = netns_socket(nsfd, AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, proto);

	if (fd < 0)
		return CS_EIO;
	if (!(c->nl = mnl_socket_fdopen(fd)) || mnl_socket_bind(c->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		if (c->nl)
			mnl_socket_close(c->nl);
		else
			close(fd);
		return CS_EIO;
	}
	c->seq = (uint32_t)time(NULL);
	return 0;
}

/* Send what is in c->buf, run @cb over the answers until the ack or the
 * dump's end; 0 or -errno from the kernel. */
static int conn_talk(struct nlconn *c, mnl_cb_t cb, void *data)
{
	const struct nlmsghdr *h = (const struct nlmsghdr *)c->buf;
	uint32_t seq = h->nlmsg_seq, portid = mnl_socket_get_portid(c->nl);
	ssize_t n;
	int r;

	if (mnl_socket_sendto(c->nl, c->buf, h->nlmsg_len) < 0)
		return -errno;
	do {
		n = mnl_socket_recvfrom(c->nl, c->buf, sizeof(c->buf));
		if (n < 0)
			return -errno;
		r = mnl_cb_run(c->buf, (size_t)n, seq, portid, cb, data);
	} while (r > 0);
	return r < 0 ? -errno : 0;
}

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr))
		if (mnl_attr_get_type(a) == CTRL_ATTR_FAMILY_ID)
			*(uint16_t *)data = mnl_attr_get_u16(a);
	return MNL_CB_OK;
}

/* The generic netlink family id of "wireguard"; CS_ENOTSUP if none. */
static int family_id(struct nlconn *c, uint16_t *id)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(c->buf);
	struct genlmsghdr *g;

	nlh->nlmsg_type = GENL_ID_CTRL;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = ++c->seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = CTRL_CMD_GETFAMILY;
	g->version = 1;
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, WG_GENL_NAME);
	*id = 0;
	return conn_talk(c, family_cb, id) < 0 || !*id ? CS_ENOTSUP : 0;
}

static int link_msg(int nsfd, const char *ifname, uint16_t type, uint16_t flags)
{
	struct nlconn c = { 0 };
	struct nlmsghdr *nlh;
	struct nlattr *info;
	int r;

	if (conn_open(&c, nsfd, NETLINK_ROUTE) < 0)
		return CS_EIO;
	nlh = mnl_nlmsg_put_header(c.buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	nlh->nlmsg_seq = ++c.seq;
	mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifinfomsg));
	mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
	if (type == RTM_NEWLINK) {
		mnl_attr_put_u32(nlh, IFLA_MTU, WG_IF_MTU);
		info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
		mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "wireguard");
		mnl_attr_nest_end(nlh, info);
	}
	r = conn_talk(&c, NULL, NULL);
	mnl_socket_close(c.nl);
	return r;
}

/* A wireguard link answers WG_CMD_GET_DEVICE; a tun device does not. */
static int kernel_get(int nsfd, const char *ifname, struct wg_state *st, char *why,
		      size_t whylen);
static bool kernel_running(int nsfd, const char *ifname)
{
	struct wg_state st;
	char why[128];

	if (kernel_get(nsfd, ifname, &st, why, sizeof(why)) < 0)
		return false;
	wg_state_clear(&st);
	return true;
}

static int kernel_up(int nsfd, const char *ifname, char *why, size_t whylen)
{
	int r = link_msg(nsfd, ifname, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);

	if (r == 0 || r == -EEXIST)
		return 0;	/* made, or adopted (kind checked by get/set) */
	snprintf(why, whylen, "kernel WireGuard: cannot create %s: %s", ifname, strerror(-r));
	return r == -EOPNOTSUPP ? CS_ENOTSUP : CS_EIO;
}

static void genl_close(struct nlconn *c);

/* A generic netlink connection in @nsfd (heap: its buffer is large) and
 * the family id of "wireguard"; NULL with the reason in @why. */
static struct nlconn *genl_open(int nsfd, uint16_t *id, char *why, size_t whylen)
{
	struct nlconn *c = calloc(1, sizeof(*c));

	if (c && conn_open(c, nsfd, NETLINK_GENERIC) == 0 && family_id(c, id) == 0)
		return c;
	snprintf(why, whylen, c ? "kernel WireGuard: no generic netlink family \"wireguard\""
				: "out of memory");
	genl_close(c);
	return NULL;
}

/* Keys went through the buffer: wiped before it is freed. */
static void genl_close(struct nlconn *c)
{
	if (!c)
		return;
	if (c->nl)
		mnl_socket_close(c->nl);
	explicit_bzero(c, sizeof(*c));
	free(c);
}

static int kernel_set(int nsfd, const char *ifname, const struct wg_set *set, char *why,
		      size_t whylen)
{
	uint16_t id;
	struct nlconn *c = genl_open(nsfd, &id, why, whylen);
	int r;

	if (!c)
		return CS_ENOTSUP;
	if ((r = wg_genl_build_set(c->buf, sizeof(c->buf), id, ++c->seq, ifname, set)) < 0) {
		snprintf(why, whylen, "kernel WireGuard %s: too many peers for one message", ifname);
	} else if ((r = conn_talk(c, NULL, NULL)) < 0) {
		snprintf(why, whylen, "kernel WireGuard %s: set refused: %s", ifname, strerror(-r));
		r = CS_EIO;
	}
	genl_close(c);
	return r;
}

static int kernel_down(int nsfd, const char *ifname, char *why, size_t whylen)
{
	int r = link_msg(nsfd, ifname, RTM_DELLINK, 0);

	if (r == 0 || r == -ENODEV)
		return 0;
	snprintf(why, whylen, "kernel WireGuard: cannot remove %s: %s", ifname, strerror(-r));
	return CS_EIO;
}

static int peer_parse(const struct nlattr *peer, struct wg_state *st)
{
	struct wg_peer_set *p = realloc(st->peers, (st->npeers + 1) * sizeof(*p));
	const struct nlattr *a;

	if (!p)
		return MNL_CB_ERROR;
	st->peers = p;
	p = &p[st->npeers++];
	memset(p, 0, sizeof(*p));
	mnl_attr_for_each_nested(a, peer) {
		uint16_t t = mnl_attr_get_type(a), len = mnl_attr_get_payload_len(a);
		const void *v = mnl_attr_get_payload(a);
		if (t == WGPEER_A_PUBLIC_KEY && len == WG_KEY_LEN) {
			memcpy(p->key, v, WG_KEY_LEN);
		} else if (t == WGPEER_A_ENDPOINT && len >= sizeof(struct sockaddr_in)) {
			const struct sockaddr_in *s4 = v;
			const struct sockaddr_in6 *s6 = v;
			p->endpoint.family = s4->sin_family;
			p->port = ntohs(s4->sin_port);
			if (s4->sin_family == AF_INET)
				memcpy(p->endpoint.a, &s4->sin_addr, 4);
			else if (len >= sizeof(*s6))
				memcpy(p->endpoint.a, &s6->sin6_addr, 16);
		}
	}
	return MNL_CB_OK;
}

/* A device's dump may come in several messages: peers accumulate. */
static int device_cb(const struct nlmsghdr *nlh, void *data)
{
	struct wg_state *st = data;
	const struct nlattr *a, *peer;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		uint16_t t = mnl_attr_get_type(a);
		if (t == WGDEVICE_A_PRIVATE_KEY && mnl_attr_get_payload_len(a) == WG_KEY_LEN) {
			memcpy(st->priv, mnl_attr_get_payload(a), WG_KEY_LEN);
			st->has_key = true;
		} else if (t == WGDEVICE_A_LISTEN_PORT) {
			st->port = mnl_attr_get_u16(a);
		} else if (t == WGDEVICE_A_PEERS) {
			mnl_attr_for_each_nested(peer, a)
				if (peer_parse(peer, st) != MNL_CB_OK)
					return MNL_CB_ERROR;
		}
	}
	return MNL_CB_OK;
}

static int kernel_get(int nsfd, const char *ifname, struct wg_state *st, char *why,
		      size_t whylen)
{
	struct nlmsghdr *nlh;
	struct genlmsghdr *g;
	struct nlconn *c;
	uint16_t id;
	int r;

	memset(st, 0, sizeof(*st));
	if (!(c = genl_open(nsfd, &id, why, whylen)))
		return CS_ENOTSUP;
	nlh = mnl_nlmsg_put_header(c->buf);
	nlh->nlmsg_type = id;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP;
	nlh->nlmsg_seq = ++c->seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = WG_CMD_GET_DEVICE;
	g->version = WG_GENL_VERSION;
	mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, ifname);
	if ((r = conn_talk(c, device_cb, st)) < 0) {
		snprintf(why, whylen, "kernel WireGuard %s: get refused: %s", ifname, strerror(-r));
		wg_state_clear(st);
		r = CS_EIO;
	}
	genl_close(c);
	return r;
}

const struct wg_driver wg_driver_kernel = {
	.name = "kernel",
	.running = kernel_running,
	.up = kernel_up,
	.get = kernel_get,
	.set = kernel_set,
	.down = kernel_down,
};
