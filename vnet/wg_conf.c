/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One change (struct wg_set) in the two languages the drivers speak: the
 * UAPI text of wireguard-go (and of the kernel's wg(8), cross-platform
 * UAPI: "set=1", hex keys, "key=value" lines, an empty line ends it) and
 * the kernel's generic netlink WG_CMD_SET_DEVICE. Pure: unit-tested.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/wireguard.h>

#include "wg.h"

void wg_state_clear(struct wg_state *s)
{
	free(s->peers);
	explicit_bzero(s, sizeof(*s));
}

/* "1.2.3.4:51820" or "[2001:db8::1]:51820" */
static void put_endpoint(FILE *f, const struct cs_addr *a, uint16_t port)
{
	char buf[CS_ADDRSTRLEN];

	cs_addr_format(a, buf);
	if (a->family == AF_INET6)
		fprintf(f, "endpoint=[%s]:%u\n", buf, port);
	else
		fprintf(f, "endpoint=%s:%u\n", buf, port);
	fprintf(f, "persistent_keepalive_interval=%d\nreplace_allowed_ips=true\n"
		"allowed_ip=%s/%d\n", WG_KEEPALIVE_S, buf, a->family == AF_INET6 ? 128 : 32);
}

char *wg_uapi_text(const struct wg_set *set)
{
	char hex[2 * WG_KEY_LEN + 1], *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	fputs("set=1\n", f);
	if (set->set_key) {
		wg_key_to_hex(set->priv, hex);
		fprintf(f, "private_key=%s\n", hex);
	}
	if (set->set_port)
		fprintf(f, "listen_port=%u\n", set->port);
	for (size_t i = 0; i < set->npeers; i++) {
		const struct wg_peer_set *p = &set->peers[i];
		wg_key_to_hex(p->key, hex);
		fprintf(f, "public_key=%s\n", hex);
		if (p->remove)
			fputs("remove=true\n", f);
		else
			put_endpoint(f, &p->endpoint, p->port);
	}
	fputs("\n", f);
	explicit_bzero(hex, sizeof(hex));
	if (fclose(f)) {
		free(text);
		return NULL;
	}
	return text;
}

/* "1.2.3.4:51820" or "[v6]:port" into a peer's endpoint */
static int parse_endpoint(const char *v, struct wg_peer_set *p)
{
	char host[CS_ADDRSTRLEN];
	const char *colon = strrchr(v, ':');
	size_t n;

	if (!colon)
		return CS_EINVAL;
	n = (size_t)(colon - v);
	if (*v == '[' && n >= 2 && v[n - 1] == ']') {
		v++;
		n -= 2;
	}
	if (n >= sizeof(host))
		return CS_EINVAL;
	memcpy(host, v, n);
	host[n] = '\0';
	p->port = (uint16_t)atoi(colon + 1);
	return cs_addr_parse(host, &p->endpoint) < 0 ? CS_EINVAL : 0;
}

static int parse_line(char *k, const char *v, struct wg_state *st)
{
	struct wg_peer_set *p;

	if (!strcmp(k, "private_key")) {
		st->has_key = true;
		return wg_key_from_hex(v, st->priv);
	}
	if (!strcmp(k, "listen_port")) {
		st->port = (uint16_t)atoi(v);
		return 0;
	}
	if (!strcmp(k, "public_key")) {
		p = realloc(st->peers, (st->npeers + 1) * sizeof(*p));
		if (!p)
			return CS_ENOMEM;
		st->peers = p;
		memset(&p[st->npeers], 0, sizeof(*p));
		return wg_key_from_hex(v, p[st->npeers++].key);
	}
	if (!strcmp(k, "endpoint") && st->npeers)
		return parse_endpoint(v, &st->peers[st->npeers - 1]);
	if (!strcmp(k, "errno"))
		return atoi(v) ? CS_EIO : 0;
	return 0;	/* counters, handshake times, allowed IPs, version */
}

int wg_uapi_parse(const char *text, struct wg_state *st)
{
	char *copy = strdup(text), *line, *save = NULL, *eq;
	int r = 0;

	memset(st, 0, sizeof(*st));
	if (!copy)
		return CS_ENOMEM;
	for (line = strtok_r(copy, "\n", &save); line && r == 0;
	     line = strtok_r(NULL, "\n", &save)) {
		if (!(eq = strchr(line, '='))) {
			r = CS_EINVAL;
			break;
		}
		*eq = '\0';
		r = parse_line(line, eq + 1, st);
	}
	explicit_bzero(copy, strlen(text));
	free(copy);
	if (r < 0)
		wg_state_clear(st);
	return r;
}

static void put_peer_nl(struct nlmsghdr *nlh, const struct wg_peer_set *p)
{
	struct nlattr *peer = mnl_attr_nest_start(nlh, 0), *ips, *ip;
	bool v6 = p->endpoint.family == AF_INET6;

	mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, WG_KEY_LEN, p->key);
	if (p->remove) {
		mnl_attr_put_u32(nlh, WGPEER_A_FLAGS, WGPEER_F_REMOVE_ME);
		mnl_attr_nest_end(nlh, peer);
		return;
	}
	mnl_attr_put_u32(nlh, WGPEER_A_FLAGS, WGPEER_F_REPLACE_ALLOWEDIPS);
	mnl_attr_put_u16(nlh, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, WG_KEEPALIVE_S);
	if (v6) {
		struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons(p->port) };
		memcpy(&sa.sin6_addr, p->endpoint.a, 16);
		mnl_attr_put(nlh, WGPEER_A_ENDPOINT, sizeof(sa), &sa);
	} else {
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(p->port) };
		memcpy(&sa.sin_addr, p->endpoint.a, 4);
		mnl_attr_put(nlh, WGPEER_A_ENDPOINT, sizeof(sa), &sa);
	}
	ips = mnl_attr_nest_start(nlh, WGPEER_A_ALLOWEDIPS);
	ip = mnl_attr_nest_start(nlh, 0);
	mnl_attr_put_u16(nlh, WGALLOWEDIP_A_FAMILY, v6 ? AF_INET6 : AF_INET);
	mnl_attr_put(nlh, WGALLOWEDIP_A_IPADDR, v6 ? 16 : 4, p->endpoint.a);
	mnl_attr_put_u8(nlh, WGALLOWEDIP_A_CIDR_MASK, v6 ? 128 : 32);
	mnl_attr_nest_end(nlh, ip);
	mnl_attr_nest_end(nlh, ips);
	mnl_attr_nest_end(nlh, peer);
}

/* One peer takes at most ~200 bytes: a message of 64 KiB holds hundreds;
 * more peers than fit are refused rather than split (CS_EINVAL). */
int wg_genl_build_set(void *buf, size_t len, uint16_t family_id, uint32_t seq,
		      const char *ifname, const struct wg_set *set)
{
	struct nlmsghdr *nlh;
	struct genlmsghdr *g;
	struct nlattr *peers;

	if (!ifname || strlen(ifname) >= 16 || len < WG_NL_BUF ||
	    set->npeers > (len - 256) / 256)
		return CS_EINVAL;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = family_id;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = WG_CMD_SET_DEVICE;
	g->version = WG_GENL_VERSION;
	mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, ifname);
	if (set->set_key)
		mnl_attr_put(nlh, WGDEVICE_A_PRIVATE_KEY, WG_KEY_LEN, set->priv);
	if (set->set_port)
		mnl_attr_put_u16(nlh, WGDEVICE_A_LISTEN_PORT, set->port);
	if (set->npeers) {
		peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);
		for (size_t i = 0; i < set->npeers; i++)
			put_peer_nl(nlh, &set->peers[i]);
		mnl_attr_nest_end(nlh, peers);
	}
	return (int)nlh->nlmsg_len;
}

static const struct wg_peer_set *peer_find(const struct wg_peer_set *v, size_t n,
					   const uint8_t key[WG_KEY_LEN])
{
	for (size_t i = 0; i < n; i++)
		if (!memcmp(v[i].key, key, WG_KEY_LEN))
			return &v[i];
	return NULL;
}

int wg_diff(const struct wg_state *cur, const uint8_t priv[WG_KEY_LEN], uint16_t port,
	    const struct wg_peer_set *want, size_t nwant, struct wg_set *out)
{
	struct wg_peer_set *ps = calloc(cur->npeers + nwant + 1, sizeof(*ps));
	size_t n = 0;

	memset(out, 0, sizeof(*out));
	if (!ps)
		return CS_ENOMEM;
	/* an unchanged key is not set again: wireguard-go keeps sessions on
	 * an equal key, but why depend on it */
	if (!cur->has_key || memcmp(cur->priv, priv, WG_KEY_LEN)) {
		out->set_key = true;
		memcpy(out->priv, priv, WG_KEY_LEN);
	}
	/* setting the port rebinds the socket: only when it differs */
	if (cur->port != port) {
		out->set_port = true;
		out->port = port;
	}
	for (size_t i = 0; i < cur->npeers; i++) {
		if (peer_find(want, nwant, cur->peers[i].key))
			continue;
		ps[n] = cur->peers[i];
		ps[n++].remove = true;
	}
	for (size_t i = 0; i < nwant; i++) {
		const struct wg_peer_set *c = peer_find(cur->peers, cur->npeers, want[i].key);
		if (c && c->port == want[i].port && !cs_addr_cmp(&c->endpoint, &want[i].endpoint))
			continue;
		ps[n] = want[i];
		ps[n++].remove = false;
	}
	out->peers = ps;
	out->npeers = n;
	return 0;
}
