/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cs/cs.h>
#include "errf.h"
#include "vnet/ipam.h"

/* Longest text an address can have (IPv6 with an embedded IPv4 tail). */
#define ADDR_TEXT_MAX (INET6_ADDRSTRLEN - 1)

static int addr_len(int family)
{
	if (family == AF_INET)
		return 4;
	if (family == AF_INET6)
		return 16;
	return 0;
}

static int addr_bits(int family)
{
	return addr_len(family) * 8;
}

/* Do @x and @y agree on their first @plen bits? */
static bool bits_equal(const uint8_t *x, const uint8_t *y, int plen)
{
	int full = plen / 8, rem = plen % 8;
	uint8_t mask;

	if (memcmp(x, y, (size_t)full))
		return false;
	if (!rem)
		return true;
	mask = (uint8_t)(0xff << (8 - rem));
	return ((x[full] ^ y[full]) & mask) == 0;
}

/* Clear (ones == false) or set (ones == true) every bit after @plen. */
static void fill_host(uint8_t *a, int len, int plen, bool ones)
{
	for (int i = 0; i < len; i++) {
		int keep = plen - i * 8;
		uint8_t host;

		if (keep >= 8)
			continue;
		host = keep <= 0 ? 0xff : (uint8_t)(0xff >> keep);
		if (ones)
			a[i] |= host;
		else
			a[i] &= (uint8_t)~host;
	}
}

/* Add one; true when it wrapped around past all ones. */
static bool incr(uint8_t *a, int len)
{
	for (int i = len - 1; i >= 0; i--)
		if (++a[i])
			return false;
	return true;
}

int cs_addr_parse(const char *s, struct cs_addr *out)
{
	struct cs_addr a = { 0 };
	size_t n;

	if (!s || !out)
		return CS_EINVAL;
	n = strlen(s);
	if (!n || n > ADDR_TEXT_MAX)
		return CS_EINVAL;
	/* Stricter than inet_pton may be: no spaces, no zone ids, no
	 * classful or octal forms. */
	if (strspn(s, "0123456789abcdefABCDEF:.") != n)
		return CS_EINVAL;
	if (strchr(s, ':')) {
		a.family = AF_INET6;
		if (inet_pton(AF_INET6, s, a.a) != 1)
			return CS_EINVAL;
	} else {
		/* "010.0.0.1" means 8.0.0.1 to some tools; refuse the doubt. */
		for (const char *p = s; *p; p++)
			if (*p == '0' && (p == s || p[-1] == '.') &&
			    p[1] >= '0' && p[1] <= '9')
				return CS_EINVAL;
		a.family = AF_INET;
		if (inet_pton(AF_INET, s, a.a) != 1)
			return CS_EINVAL;
	}
	*out = a;
	return 0;
}

/* A port: 1-65535, decimal digits only (no sign, space or leading zero). */
static int port_parse(const char *s, uint16_t *out)
{
	unsigned long v = 0;
	size_t n = strlen(s);

	if (!n || n > 5 || strspn(s, "0123456789") != n || s[0] == '0')
		return CS_EINVAL;
	for (; *s; s++)
		v = v * 10 + (unsigned long)(*s - '0');
	if (v > 65535)
		return CS_EINVAL;
	*out = (uint16_t)v;
	return 0;
}

int cs_addr_port_parse(const char *s, uint16_t dflt, struct cs_addr *out, uint16_t *port)
{
	char text[ADDR_TEXT_MAX + 1];
	const char *a = s, *p = NULL, *colon;
	size_t alen;
	uint16_t pv = dflt;
	struct cs_addr addr;

	if (!s || !out || !port)
		return CS_EINVAL;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || (close[1] && close[1] != ':'))
			return CS_EINVAL;
		a = s + 1;
		alen = (size_t)(close - a);
		p = close[1] ? close + 2 : NULL;
	} else if ((colon = strchr(s, ':')) && !strchr(colon + 1, ':')) {
		alen = (size_t)(colon - s);
		p = colon + 1;
	} else {
		alen = strlen(s);
	}
	if (alen > ADDR_TEXT_MAX)
		return CS_EINVAL;
	memcpy(text, a, alen);
	text[alen] = '\0';
	if (cs_addr_parse(text, &addr) < 0 || (s[0] == '[' && addr.family != AF_INET6))
		return CS_EINVAL;
	if (p && port_parse(p, &pv) < 0)
		return CS_EINVAL;
	*out = addr;
	*port = pv;
	return 0;
}

char *cs_addr_port_format(const struct cs_addr *a, uint16_t port, char *buf)
{
	char t[CS_ADDRSTRLEN];

	cs_addr_format(a, t);
	if (!port)
		snprintf(buf, CS_ADDRSTRLEN, "%s", t);
	else
		snprintf(buf, CS_ADDRSTRLEN, a->family == AF_INET6 ? "[%s]:%u" : "%s:%u", t, port);
	return buf;
}

char *cs_addr_format(const struct cs_addr *a, char *buf)
{
	if (!addr_len(a->family) ||
	    !inet_ntop(a->family, a->a, buf, CS_ADDRSTRLEN))
		snprintf(buf, CS_ADDRSTRLEN, "(invalid address)");
	return buf;
}

char *cs_prefix_format(const struct cs_prefix *p, char *buf)
{
	size_t n;

	cs_addr_format(&p->addr, buf);
	n = strlen(buf);
	snprintf(buf + n, CS_ADDRSTRLEN - n, "/%d", p->plen);
	return buf;
}

int cs_prefix_parse(const char *s, struct cs_prefix *out, char *err, size_t errlen)
{
	char text[ADDR_TEXT_MAX + 1], net[CS_ADDRSTRLEN];
	struct cs_prefix p = { 0 }, masked;
	const char *slash, *d;
	size_t alen;
	int bits, plen = 0;

	if (!s || !*s) {
		cs_errf(err, errlen, "empty prefix; write an address and a length like 10.0.0.0/24 or fd00::/64");
		return CS_EINVAL;
	}
	slash = strchr(s, '/');
	if (!slash) {
		cs_errf(err, errlen, "%s: no prefix length; write it as ADDRESS/LENGTH like 10.0.0.0/24 or fd00::/64", s);
		return CS_EINVAL;
	}
	alen = (size_t)(slash - s);
	if (alen > ADDR_TEXT_MAX) {
		cs_errf(err, errlen, "%.60s%s: \"%.20s...\" is not a valid IPv4 or IPv6 address",
		       s, strlen(s) > 60 ? "..." : "", s);
		return CS_EINVAL;
	}
	memcpy(text, s, alen);
	text[alen] = '\0';
	if (cs_addr_parse(text, &p.addr) < 0) {
		cs_errf(err, errlen, "%s: \"%s\" is not a valid IPv4 or IPv6 address", s, text);
		return CS_EINVAL;
	}
	bits = addr_bits(p.addr.family);
	d = slash + 1;
	if (!*d || strspn(d, "0123456789") != strlen(d)) {
		cs_errf(err, errlen, "%s: prefix length \"%s\" is not a number 0-%d", s, d, bits);
		return CS_EINVAL;
	}
	/* Saturate so that absurdly long digit strings cannot overflow. */
	for (; *d; d++)
		if (plen <= bits)
			plen = plen * 10 + (*d - '0');
	if (plen > bits) {
		cs_errf(err, errlen, "%s: prefix length %s is out of range 0-%d", s, slash + 1, bits);
		return CS_EINVAL;
	}
	p.plen = plen;
	masked = p;
	fill_host(masked.addr.a, addr_len(p.addr.family), plen, false);
	if (memcmp(masked.addr.a, p.addr.a, sizeof(p.addr.a))) {
		cs_errf(err, errlen, "%s: host bits are set; the network is %s", s,
		       cs_prefix_format(&masked, net));
		return CS_EINVAL;
	}
	*out = p;
	return 0;
}

int cs_addr_cmp(const struct cs_addr *x, const struct cs_addr *y)
{
	int r;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	r = memcmp(x->a, y->a, (size_t)addr_len(x->family));
	return (r > 0) - (r < 0);
}

static bool prefix_sane(const struct cs_prefix *p)
{
	return addr_len(p->addr.family) && p->plen >= 0 &&
	       p->plen <= addr_bits(p->addr.family);
}

bool cs_prefix_contains(const struct cs_prefix *p, const struct cs_addr *a)
{
	if (!prefix_sane(p) || a->family != p->addr.family)
		return false;
	return bits_equal(p->addr.a, a->a, p->plen);
}

bool cs_prefix_overlaps(const struct cs_prefix *x, const struct cs_prefix *y)
{
	if (!prefix_sane(x) || !prefix_sane(y) || x->addr.family != y->addr.family)
		return false;
	/* Prefixes nest or are disjoint: they overlap iff the shorter
	 * contains the longer. */
	return bits_equal(x->addr.a, y->addr.a, x->plen < y->plen ? x->plen : y->plen);
}

/* Address space a vnet cannot use: the kernel gives it another meaning
 * (this host, loopback, multicast, link-local, reserved, mapped). */
static const struct {
	const char *prefix, *what;
} unusable[] = {
	{ "0.0.0.0/8", "\"this network\"" },
	{ "127.0.0.0/8", "loopback" },
	{ "169.254.0.0/16", "link-local" },
	{ "224.0.0.0/4", "multicast" },
	{ "240.0.0.0/4", "reserved" },
	{ "::/127", "unspecified and loopback" },
	{ "::ffff:0:0/96", "IPv4-mapped" },
	{ "fe80::/10", "link-local" },
	{ "ff00::/8", "multicast" },
};

int ipam_subnet_check(const struct cs_prefix *p, char *err, size_t errlen)
{
	char buf[CS_ADDRSTRLEN];
	struct cs_addr net;

	if (!addr_len(p->addr.family)) {
		cs_errf(err, errlen, "subnet has no address family; use an IPv4 or IPv6 prefix");
		return CS_EINVAL;
	}
	if (p->plen < 0 || p->plen > addr_bits(p->addr.family)) {
		cs_errf(err, errlen, "%s: prefix length %d is out of range 0-%d",
		       cs_prefix_format(p, buf), p->plen, addr_bits(p->addr.family));
		return CS_EINVAL;
	}
	net = p->addr;
	fill_host(net.a, addr_len(net.family), p->plen, false);
	if (memcmp(net.a, p->addr.a, (size_t)addr_len(net.family))) {
		struct cs_prefix n = { net, p->plen };
		char nbuf[CS_ADDRSTRLEN];

		cs_errf(err, errlen, "%s: host bits are set; the network is %s",
		       cs_prefix_format(p, buf), cs_prefix_format(&n, nbuf));
		return CS_EINVAL;
	}
	if (p->addr.family == AF_INET && p->plen > 30) {
		cs_errf(err, errlen, "%s: too small for a vnet; use /30 or larger (IPv6: /126 or larger)",
		       cs_prefix_format(p, buf));
		return CS_EINVAL;
	}
	if (p->addr.family == AF_INET6 && p->plen > 126) {
		cs_errf(err, errlen, "%s: too small for a vnet; use /126 or larger (IPv4: /30 or larger)",
		       cs_prefix_format(p, buf));
		return CS_EINVAL;
	}
	return 0;
}

int ipam_subnet_usable(const struct cs_prefix *p, char *err, size_t errlen)
{
	char buf[CS_ADDRSTRLEN];
	int r = ipam_subnet_check(p, err, errlen);

	if (r < 0)
		return r;
	for (size_t i = 0; i < sizeof(unusable) / sizeof(unusable[0]); i++) {
		struct cs_prefix u;
		if (cs_prefix_parse(unusable[i].prefix, &u, NULL, 0) == 0 &&
		    cs_prefix_overlaps(p, &u)) {
			cs_errf(err, errlen, "%s: overlaps %s, %s addresses, which a vnet cannot "
			       "use; use private space such as 10.0.0.0/8, 172.16.0.0/12, "
			       "192.168.0.0/16 or fd00::/8", cs_prefix_format(p, buf),
			       unusable[i].prefix, unusable[i].what);
			return CS_EINVAL;
		}
	}
	return 0;
}

void ipam_gateway(const struct cs_prefix *p, struct cs_addr *out)
{
	int len = addr_len(p->addr.family);

	*out = p->addr;
	memset(out->a + len, 0, sizeof(out->a) - (size_t)len);
	fill_host(out->a, len, p->plen, false);
	incr(out->a, len);
}

/* The highest address that may be handed out: below the IPv4 broadcast;
 * IPv6 has no broadcast, so the last address of the subnet. */
static void last_host(const struct cs_prefix *p, struct cs_addr *out)
{
	int len = addr_len(p->addr.family);

	*out = p->addr;
	fill_host(out->a, len, p->plen, true);
	if (p->addr.family == AF_INET)
		for (int i = len - 1; i >= 0 && out->a[i]-- == 0; i--)
			;
}

int ipam_check_fixed(const struct cs_prefix *p, const struct cs_addr *a, char *err, size_t errlen)
{
	char abuf[CS_ADDRSTRLEN], pbuf[CS_ADDRSTRLEN];
	struct cs_addr edge;
	int r;

	r = ipam_subnet_check(p, err, errlen);
	if (r < 0)
		return r;
	cs_prefix_format(p, pbuf);
	if (!addr_len(a->family)) {
		cs_errf(err, errlen, "address has no family; use an address of %s", pbuf);
		return CS_EINVAL;
	}
	cs_addr_format(a, abuf);
	if (a->family != p->addr.family) {
		cs_errf(err, errlen, "%s is an %s address; the subnet %s is %s", abuf,
		       a->family == AF_INET ? "IPv4" : "IPv6", pbuf,
		       p->addr.family == AF_INET ? "IPv4" : "IPv6");
		return CS_EINVAL;
	}
	if (!cs_prefix_contains(p, a)) {
		cs_errf(err, errlen, "%s is outside the subnet %s", abuf, pbuf);
		return CS_EINVAL;
	}
	if (!cs_addr_cmp(a, &p->addr)) {
		cs_errf(err, errlen, "%s is the network address of %s", abuf, pbuf);
		return CS_EINVAL;
	}
	ipam_gateway(p, &edge);
	if (!cs_addr_cmp(a, &edge)) {
		cs_errf(err, errlen, "%s is reserved for the vnet gateway of %s", abuf, pbuf);
		return CS_EINVAL;
	}
	if (a->family == AF_INET) {
		edge = p->addr;
		fill_host(edge.a, 4, p->plen, true);
		if (!cs_addr_cmp(a, &edge)) {
			cs_errf(err, errlen, "%s is the broadcast address of %s", abuf, pbuf);
			return CS_EINVAL;
		}
	}
	return 0;
}

static int key_cmp(const void *x, const void *y)
{
	return memcmp(x, y, 16);
}

int ipam_alloc_many(const struct cs_prefix *p, const struct cs_addr *used, size_t n,
		    struct cs_addr *out, size_t count)
{
	uint8_t (*keys)[16] = NULL;
	struct cs_addr cand, last;
	size_t k = 0, got = 0;
	int len, r;

	r = ipam_subnet_check(p, NULL, 0);
	if (r < 0)
		return r;
	len = addr_len(p->addr.family);
	ipam_gateway(p, &cand);
	incr(cand.a, len);
	last_host(p, &last);

	/* Sort the addresses that can collide, then walk up from the second
	 * host once, taking every free one until @count: O(n log n + count)
	 * whatever the size of the subnet. */
	if (n) {
		keys = malloc(n * sizeof(*keys));
		if (!keys)
			return CS_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (!cs_prefix_contains(p, &used[i]) || cs_addr_cmp(&used[i], &cand) < 0)
			continue;
		/* Zero the tail so IPv4 keys compare on their 4 bytes only. */
		memset(keys[k], 0, 16);
		memcpy(keys[k], used[i].a, (size_t)len);
		k++;
	}
	if (k)
		qsort(keys, k, sizeof(*keys), key_cmp);
	for (size_t i = 0; got < count;) {
		/* past the used ones below the candidate (and duplicates) */
		while (i < k && memcmp(keys[i], cand.a, (size_t)len) < 0)
			i++;
		if (cs_addr_cmp(&cand, &last) > 0)
			break;
		if (i >= k || memcmp(keys[i], cand.a, (size_t)len) != 0)
			out[got++] = cand;
		if (incr(cand.a, len))
			break;
	}
	free(keys);
	return got == count ? 0 : CS_ENOSPC;
}

int ipam_alloc(const struct cs_prefix *p, const struct cs_addr *used, size_t n, struct cs_addr *out)
{
	return ipam_alloc_many(p, used, n, out, 1);
}
