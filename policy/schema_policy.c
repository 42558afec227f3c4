/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The overlay keys of a vnet's rules (cs-overlay.json(5)): "policy" and what
 * it holds. The schema checks types; rules_parse() (policy/rules.c) checks
 * what the types cannot (selectors, ranges, ports without tcp or udp), each
 * error with its JSON path.
 */
#include <stddef.h>

#include "schema.h"

static const char *const actions[] = { "allow", "deny", NULL };
static const char *const protos[] = { "tcp", "udp", "icmp", "any", NULL };
static const char *const test_protos[] = { "tcp", "udp", "icmp", NULL };

static const struct schema_key policy_keys[] = {
	{ SCHEMA_TENANT, "quotas", ST_OBJECT, .doc = "limits on what the tenant holds" },
	{ SCHEMA_TENANT, "quotas.vnets", ST_INT, .min = 0, .max = 1000000,
	  .doc = "most vnets the tenant may hold" },
	{ SCHEMA_TENANT, "quotas.endpoints", ST_INT, .min = 0, .max = 100000000,
	  .doc = "most endpoints the tenant may hold, in all its vnets" },
	{ SCHEMA_VNET, "members", ST_OBJECT,
	  .doc = "who may use the vnet (endpoints, sockets, exec) but not change it" },
	{ SCHEMA_VNET, "members.uids", ST_INT_LIST, .min = 0, .max = 4294967294LL,
	  .doc = "member uids, comma-separated" },
	{ SCHEMA_VNET, "members.gids", ST_INT_LIST, .min = 0, .max = 4294967294LL,
	  .doc = "member gids, comma-separated" },
	{ SCHEMA_VNET, "policy", ST_OBJECT,
	  .doc = "rules among the vnet's endpoints (default: all allowed)" },
	{ SCHEMA_VNET, "policy.default", ST_ENUM, .enumvals = actions,
	  .doc = "allow or deny: what traffic no rule matches gets" },
	{ SCHEMA_VNET, "policy.rules", ST_OBJECT_LIST,
	  .doc = "ordered rules; the first that matches decides" },
	{ SCHEMA_VNET, "policy.rules[].name", ST_NAME, .doc = "the rule's name (optional)" },
	{ SCHEMA_VNET, "policy.rules[].from", ST_STRING,
	  .doc = "endpoint:NAME, group:NAME, cidr:PREFIX or any" },
	{ SCHEMA_VNET, "policy.rules[].to", ST_STRING,
	  .doc = "endpoint:NAME, group:NAME, cidr:PREFIX or any" },
	{ SCHEMA_VNET, "policy.rules[].proto", ST_ENUM, .enumvals = protos,
	  .doc = "tcp, udp, icmp or any (default any)" },
	{ SCHEMA_VNET, "policy.rules[].ports", ST_PORT_LIST,
	  .doc = "destination ports and ranges, e.g. 5432,8000-8080 (tcp or udp)" },
	{ SCHEMA_VNET, "policy.rules[].action", ST_ENUM, .enumvals = actions,
	  .doc = "allow or deny" },
	{ SCHEMA_VNET, "policy.tests", ST_OBJECT_LIST,
	  .doc = "expected verdicts, checked before a change is committed" },
	{ SCHEMA_VNET, "policy.tests[].from", ST_NAME, .doc = "the sending endpoint" },
	{ SCHEMA_VNET, "policy.tests[].to", ST_NAME, .doc = "the receiving endpoint" },
	{ SCHEMA_VNET, "policy.tests[].proto", ST_ENUM, .enumvals = test_protos,
	  .doc = "tcp, udp or icmp" },
	{ SCHEMA_VNET, "policy.tests[].port", ST_INT, .min = 0, .max = 65535,
	  .doc = "destination port (not for icmp)" },
	{ SCHEMA_VNET, "policy.tests[].expect", ST_ENUM, .enumvals = actions,
	  .doc = "allow or deny" },
};
SCHEMA_REGISTER(policy_keys);
