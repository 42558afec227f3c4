/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs/cs.h"
#include "publish.h"

#define FORM "expected [HOSTADDR:]HOSTPORT:PORT[/tcp|/udp], e.g. 8080:80 or " \
	"192.0.2.1:53:53/udp ([ADDR] for IPv6)"

static int port_of(const char *s, size_t n, uint16_t *out)
{
	char buf[8], *end;
	long v;

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	v = strtol(buf, &end, 10);
	if (*end || buf[0] == '+' || buf[0] == '-' || v < 1 || v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

/* The HOSTADDR part, if any; *rest: what follows it. */
static int host_of(const char *s, struct vnet_publish *out, const char **rest)
{
	char buf[CS_ADDRSTRLEN];
	const char *end;

	out->has_host = false;
	*rest = s;
	if (*s == '[') {
		if (!(end = strchr(s, ']')) || end[1] != ':')
			return -1;
		s++;
	} else {
		/* an address has a dot and two colons follow it; ports alone have one */
		const char *c1 = strchr(s, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			return 0;
		end = c1;
	}
	if ((size_t)(end - s) >= sizeof(buf))
		return -1;
	snprintf(buf, sizeof(buf), "%.*s", (int)(end - s), s);
	if (cs_addr_parse(buf, &out->host) < 0)
		return -1;
	out->has_host = true;
	*rest = end + (*end == ']' ? 2 : 1);
	return 0;
}

int vnet_publish_parse(const char *s, struct vnet_publish *out, char *err, size_t errlen)
{
	const char *p, *colon, *slash;

	memset(out, 0, sizeof(*out));
	out->proto = IPPROTO_TCP;
	if (!s || host_of(s, out, &p) < 0) {
		snprintf(err, errlen, "\"%s\": not an address where HOSTADDR goes; " FORM, s ? s : "");
		return CS_EINVAL;
	}
	slash = strchr(p, '/');
	if (slash && !strcmp(slash, "/udp"))
		out->proto = IPPROTO_UDP;
	else if (slash && strcmp(slash, "/tcp")) {
		snprintf(err, errlen, "\"%s\": protocol \"%s\" is neither tcp nor udp; " FORM, s,
			 slash + 1);
		return CS_EINVAL;
	}
	size_t n = slash ? (size_t)(slash - p) : strlen(p);
	colon = memchr(p, ':', n);
	if (!colon || port_of(p, (size_t)(colon - p), &out->hport) < 0 ||
	    port_of(colon + 1, n - (size_t)(colon + 1 - p), &out->port) < 0) {
		snprintf(err, errlen, "\"%s\": ports are 1-65535; " FORM, s);
		return CS_EINVAL;
	}
	return 0;
}

bool vnet_publish_clash(const struct vnet_publish *a, const struct vnet_publish *b)
{
	if (a->proto != b->proto || a->hport != b->hport)
		return false;
	if (!a->has_host || !b->has_host)
		return true;
	return !cs_addr_cmp(&a->host, &b->host);
}
