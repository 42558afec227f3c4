/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Rules of a vnet: the model of its "policy" object, evaluation, and
 * compilation to the ingress rules of one endpoint (struct vnet_fw, which a
 * backend enforces). Pure: no I/O, no logging.
 *
 *   {"default": "allow"|"deny",
 *    "rules": [{"name": N, "from": SEL, "to": SEL, "proto": P,
 *               "ports": [5432, "8000-8080"], "action": "allow"|"deny"}],
 *    "tests": [{"from": EP, "to": EP, "proto": P, "port": N,
 *               "expect": "allow"|"deny"}]}
 *
 * Selectors: "endpoint:NAME" (a bare NAME means the same), "group:NAME",
 * "cidr:PREFIX", "any". Protocols: "tcp", "udp", "icmp" (ICMP and ICMPv6),
 * "any" (the default). Ports need tcp or udp. Rules are ordered and the
 * first that matches decides; traffic no rule matches gets the default,
 * which must be given. A vnet without a policy allows all traffic among its
 * endpoints (policy NULL everywhere below).
 *
 * Rules only ever speak of one vnet's endpoints. Traffic between tenants is
 * always denied, and that is not decided here: the caller checks that both
 * endpoints are of the same tenant (and vnet) before asking rules_eval(), and
 * the kernel backend keeps vnets apart by construction (separate L2
 * domains), so a "cidr:" selector cannot admit another tenant's packets.
 */
#ifndef POLICY_RULES_H
#define POLICY_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "vnet/ipam.h"
#include "vnet/vnet.h"

enum rules_sel_kind { RULES_SEL_ANY, RULES_SEL_ENDPOINT, RULES_SEL_GROUP, RULES_SEL_CIDR };

struct rules_sel {
	enum rules_sel_kind kind;
	char *name;                /* endpoint or group */
	struct cs_prefix cidr;
};

struct rules_ports {
	uint16_t lo, hi;           /* inclusive, 1..65535 */
};

struct rules_rule {
	char *name;                /* NULL if the rule has none */
	struct rules_sel from, to;
	int proto;                 /* 0 any, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP */
	struct rules_ports *ports; /* none: every port */
	size_t nports;
	enum vnet_fw_action action;
};

struct rules_test {
	char *from, *to;           /* endpoint names */
	int proto;                 /* IPPROTO_TCP, IPPROTO_UDP or IPPROTO_ICMP */
	int port;                  /* 0 for icmp */
	enum vnet_fw_action expect;
};

struct rules_policy {
	enum vnet_fw_action dflt;
	struct rules_rule *rules;
	size_t nrules;
	struct rules_test *tests;
	size_t ntests;
};

/* An endpoint of the vnet as rules see it. */
struct rules_endpoint {
	const char *name;
	const char *const *groups;
	size_t ngroups;
	const struct cs_addr *addrs;   /* its IPv4 and/or IPv6 address */
	size_t naddrs;
};

/*
 * Parse and validate a "policy" object. @where is the JSON path of the
 * object for messages ("vnets.\"acme/blue\".policy"), or NULL: then paths
 * are relative to it ("rules[2].ports[1]: ..."). Returns 0 and a policy the
 * caller frees with rules_free(), or CS_EINVAL with the first error in @err
 * (path, value, what is allowed), or CS_ENOMEM.
 */
int rules_parse(const json_t *policy, const char *where, struct rules_policy **out, char *err,
		size_t errlen);
void rules_free(struct rules_policy *p);

/* "tcp", "udp", "icmp" or "any" (0) to an IPPROTO_* number; CS_EINVAL. */
int rules_proto_parse(const char *s);
/* The name rules use for @proto ("any" for 0). */
const char *rules_proto_name(int proto);

/*
 * The verdict for traffic from endpoint @from to endpoint @to (names among
 * @eps) with @proto (IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP) to @port (ignored
 * for icmp). Evaluated for IPv4 if both endpoints have an IPv4 address, else
 * for IPv6 (that matters only to "cidr:" selectors); rules_eval_family()
 * chooses. @rule gets the index of the deciding rule, or -1 when the default
 * (or the absence of a policy: @p NULL) decided. Returns 0, CS_ENOENT (an
 * endpoint is not among @eps), CS_EINVAL (bad protocol or port, or no
 * common address family for rules_eval_family).
 */
int rules_eval(const struct rules_policy *p, const struct rules_endpoint *eps, size_t neps,
	       const char *from, const char *to, int proto, int port,
	       enum vnet_fw_action *verdict, int *rule);
/* @family AF_INET or AF_INET6, or AF_UNSPEC as rules_eval(). */
int rules_eval_family(const struct rules_policy *p, const struct rules_endpoint *eps,
		      size_t neps, int family, const char *from, const char *to, int proto,
		      int port, enum vnet_fw_action *verdict, int *rule);

/*
 * Run the policy's tests. Returns the number of failing tests (0: all pass)
 * and a report of the failures in @report, one line each ("tests[1]: web
 * -> db tcp/5432: expected allow, got deny (rules[0])"), or CS_ENOENT if a
 * test names an endpoint that does not exist (reported the same way).
 */
int rules_run_tests(const struct rules_policy *p, const struct rules_endpoint *eps, size_t neps,
		    char *report, size_t len);

/*
 * The ingress rules of endpoint @target (a name among @eps): the rules
 * whose "to" matches it, in order, with "from" resolved to the sources'
 * addresses (/32, /128), the cidr, or any (nsrc 0); a rule with several
 * port ranges becomes one entry per range; a rule whose "from" matches no
 * address is left out (it can match no packet). A "to: cidr:" rule applies
 * only to the families of the target's addresses inside the cidr, so its
 * sources are narrowed to those families. @p NULL gives no rules and default
 * allow. Returns 0 and fills @out, which the caller frees with
 * rules_fw_free(); CS_ENOENT (no such target) or CS_ENOMEM, @out zeroed.
 */
int rules_compile(const struct rules_policy *p, const struct rules_endpoint *eps, size_t neps,
		  const char *target, struct vnet_fw *out);
/*
 * The rules for what the vnet's endpoints send out of the vnet (egress):
 * those whose "to" is "any" or a "cidr:" (endpoint and group selectors
 * name only the vnet's own endpoints, never the world), in order, with
 * "from" resolved as rules_compile() does and the destination the cidr
 * (dst, pointing into @p) or any; then @p's default. @p NULL: no rules,
 * default allow. 0, or CS_ENOMEM with @out zeroed.
 */
int rules_compile_egress(const struct rules_policy *p, const struct rules_endpoint *eps,
			 size_t neps, struct vnet_fw *out);
/* Frees what rules_compile() allocated and zeroes @fw; NULL is fine. */
void rules_fw_free(struct vnet_fw *fw);

#endif
