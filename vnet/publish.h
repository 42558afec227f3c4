/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Published ports (endpoint key "publish"): "[HOSTADDR:]HOSTPORT:PORT[/tcp|/udp]"
 * forwards HOSTPORT on the endpoint's node (HOSTADDR, or any of the node's
 * addresses) to PORT of the endpoint; an IPv6 HOSTADDR is written in
 * brackets ("[2001:db8::1]:8080:80"). Pure: parsing and comparing.
 */
#ifndef VNET_PUBLISH_H
#define VNET_PUBLISH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipam.h"

struct vnet_publish {
	bool has_host;          /* HOSTADDR given; else every address of the node */
	struct cs_addr host;
	uint16_t hport, port;
	int proto;              /* IPPROTO_TCP (default) or IPPROTO_UDP */
};

/* 0, or CS_EINVAL with what is wrong in @err. */
int vnet_publish_parse(const char *s, struct vnet_publish *out, char *err, size_t errlen);
/* Do the two take the same host port (protocol, port, and an address in
 * common: the same one, or either taking all)? */
bool vnet_publish_clash(const struct vnet_publish *a, const struct vnet_publish *b);

#endif
