/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Rules in csd: a vnet's "policy" (policy/rules.h) enforced on this node's
 * endpoints, explained (rule.check) and tested before an apply commits.
 */
#ifndef CSD_POLICY_H
#define CSD_POLICY_H

#include <jansson.h>

#include "csd.h"
#include "policy/authz.h"
#include "policy/rules.h"

/* A vnet's endpoints as rules see them, built from their documents. */
struct policy_eps {
	struct rules_endpoint *v;
	size_t n;
	const char **groups;      /* all groups, v[i].groups points in */
	struct cs_addr *addrs;    /* all addresses, v[i].addrs points in */
};

/*
 * Fill @pe from endpoint documents: @docs keyed "PREFIXE" (PREFIX
 * "/endpoints/T/V/"; other keys skipped) or, @prefix NULL, keyed E. Strings
 * point into @docs. 0 or CS_ENOMEM.
 */
int policy_eps_build(const json_t *docs, const char *prefix, struct policy_eps *pe);
void policy_eps_clear(struct policy_eps *pe);

/*
 * Tenant quotas ("quotas": {"vnets": N, "endpoints": N} in the tenant's
 * spec), enforced atomically: a creation reads the tenant's quota key
 * /alloc/quota/T and the count, and its transaction compares that key's
 * revision and bumps it, so two creations never both take the last place
 * (the second fails its compare, counts again and is refused).
 */
struct quota_txn {
	bool active;              /* the tenant has this quota: add cmp and op */
	struct store_cmp cmp;
	struct store_op op;
	char key[KEY_MAX], val[32];
};
/* @kind "vnets" or "endpoints". 0 (within the quota, or none), CS_EQUOTA
 * with a message in @err, or a store error. */
int quota_check(struct csd *d, const char *t, const char *kind, struct quota_txn *qt,
		char *err, size_t errlen);

/* The vnet's policy from its spec: 0 with *out NULL when it has none. */
int policy_of_spec(const json_t *vspec, const char *where, struct rules_policy **out,
		   char *err, size_t errlen);

/*
 * Make this node's endpoints of vnet T/V admit what the vnet's policy
 * allows (each its ingress rules, replaced atomically; no policy: all
 * allowed). @vdoc NULL: read it (absent: nothing to do); @eps NULL: list
 * the vnet's endpoints, else documents keyed "/endpoints/..." (others
 * skipped). Idempotent; 0 or the first failure, with a reason in @err.
 */
int realize_vnet_policy(struct csd *d, const char *t, const char *v, const json_t *vdoc,
			const json_t *eps, char *err, size_t errlen);

#endif
