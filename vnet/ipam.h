/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Addresses, prefixes and IPAM: pure functions, no I/O.
 *
 * IPAM rules (DESIGN.md): the network address, the broadcast address (IPv4)
 * and the first host address (kept for the vnet's gateway) are never given
 * out; allocation starts at the second host address and takes the lowest
 * free one, so freed addresses are reused; a fixed address must be a free
 * host address of the subnet; IPv4 /31 and /32 and IPv6 /127 and /128 are
 * refused as subnets.
 */
#ifndef VNET_IPAM_H
#define VNET_IPAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cs_addr {
	int family;        /* AF_INET or AF_INET6 */
	uint8_t a[16];     /* network byte order; IPv4 uses a[0..3] */
};

struct cs_prefix {
	struct cs_addr addr; /* network address (host bits zero) */
	int plen;
};

/* Text forms fit in this (IPv6 with /128). */
#define CS_ADDRSTRLEN 64

/* Parse "10.0.0.1" or "fd00::1". Returns 0 or CS_EINVAL. */
int cs_addr_parse(const char *s, struct cs_addr *out);
/* The IANA port of VXLAN: an underlay without a port listens there. */
#define CS_VXLAN_PORT 4789

/* An underlay endpoint: "ADDR" or "ADDR:PORT" (IPv4), "V6" or "[V6]" or
 * "[V6]:PORT" (IPv6; a bare IPv6 address takes no port, its colons would be
 * ambiguous). *port is @dflt when none is written; a written port is
 * 1-65535. Returns 0 or CS_EINVAL. The one parser of every "underlay" with a
 * port (node documents, csd's configuration, vnet/user/uvx.c). */
int cs_addr_port_parse(const char *s, uint16_t dflt, struct cs_addr *out, uint16_t *port);
/* Format "ADDR" when @port is 0, else "ADDR:PORT" or "[V6]:PORT", into buf
 * (CS_ADDRSTRLEN). Returns buf. */
char *cs_addr_port_format(const struct cs_addr *a, uint16_t port, char *buf);
/* Parse "10.0.0.0/24" or "fd00::/64". Host bits must be zero. On error
 * returns CS_EINVAL and writes a reason ("prefix length 33 is out of range
 * 0-32", "host bits are set; the network is 10.0.0.0/24") into err. */
int cs_prefix_parse(const char *s, struct cs_prefix *out, char *err, size_t errlen);
/* Format into buf (CS_ADDRSTRLEN). Returns buf. */
char *cs_addr_format(const struct cs_addr *a, char *buf);
char *cs_prefix_format(const struct cs_prefix *p, char *buf);
int cs_addr_cmp(const struct cs_addr *x, const struct cs_addr *y);
bool cs_prefix_contains(const struct cs_prefix *p, const struct cs_addr *a);
/* Do the two prefixes share any address? */
bool cs_prefix_overlaps(const struct cs_prefix *x, const struct cs_prefix *y);

/* Is the subnet usable by a vnet (IPv4 plen <= 30, IPv6 plen <= 126)?
 * CS_EINVAL with a reason otherwise. */
int ipam_subnet_check(const struct cs_prefix *p, char *err, size_t errlen);
/* ipam_subnet_check(), and not in space the kernel gives another meaning
 * (loopback, multicast, link-local, "this network", reserved, mapped):
 * what a vnet's subnet must be. */
int ipam_subnet_usable(const struct cs_prefix *p, char *err, size_t errlen);
/* The gateway address (first host) of a subnet. */
void ipam_gateway(const struct cs_prefix *p, struct cs_addr *out);
/* May @a be given to an endpoint (inside, not network/broadcast/gateway)?
 * CS_EINVAL with a reason ("10.0.0.1 is reserved for the vnet gateway",
 * "10.1.0.5 is outside the subnet 10.0.0.0/24"). Does not check use. */
int ipam_check_fixed(const struct cs_prefix *p, const struct cs_addr *a, char *err, size_t errlen);
/* Lowest assignable address not in used[0..n) (any order, may contain
 * addresses of other families or outside the subnet). CS_ENOSPC if full. */
int ipam_alloc(const struct cs_prefix *p, const struct cs_addr *used, size_t n, struct cs_addr *out);
/* The @count lowest assignable addresses not in used[0..n), in order, into
 * out[0..count): what @count calls of ipam_alloc() adding each to @used
 * would give, in one pass. CS_ENOSPC when fewer are free. */
int ipam_alloc_many(const struct cs_prefix *p, const struct cs_addr *used, size_t n,
		    struct cs_addr *out, size_t count);

#endif
