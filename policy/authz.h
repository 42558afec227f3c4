/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Authorization, decided in one place. The caller is a principal (uid and
 * all gids from SO_PEERCRED/SO_PEERGROUPS); administrators (root, members of
 * admin_gids) may do everything; a tenant's owners (owners.uids,
 * owners.gids) manage that tenant and all it holds. Anyone else sees
 * nothing of the tenant: lookups answer "no such object".
 */
#ifndef POLICY_AUTHZ_H
#define POLICY_AUTHZ_H

#include <stdbool.h>
#include <jansson.h>

#include "csd/csd.h"

enum authz_action {
	AZ_SEE,     /* show, list, resolve */
	AZ_USE,     /* open endpoints and sockets, exec */
	AZ_MANAGE,  /* create, change, delete what the tenant holds */
};

/*
 * Roles, strongest first. A vnet's members ("members": {"uids":[],
 * "gids":[]} in its spec) may see it and use it (open endpoints and sockets
 * in it, exec in its endpoints) but not change it or anything else of the
 * tenant.
 */
enum authz_role { AZ_ROLE_ADMIN, AZ_ROLE_OWNER, AZ_ROLE_MEMBER, AZ_ROLE_OTHER };

/* @who's role in vnet @vnet (its spec; NULL: the tenant as a whole) of
 * the tenant whose spec is @tenant (NULL: it does not exist). */
enum authz_role authz_role(const struct principal *who, const json_t *tenant,
			   const json_t *vnet);
/* May @who do @a in vnet @vnet of tenant @tenant (specs)? */
bool authz_vnet(const struct principal *who, const json_t *tenant, const json_t *vnet,
		enum authz_action a);

/* The authorization table: what each op needs, and where. */
enum authz_scope {
	AZ_SCOPE_ADMIN,   /* administrators only */
	AZ_SCOPE_ANY,     /* any caller (what it answers is filtered) */
	AZ_SCOPE_CREATE,  /* tenant.create: authz_tenant_create() decides */
	AZ_SCOPE_TENANT,  /* the tenant as a whole */
	AZ_SCOPE_VNET,    /* one vnet of the tenant */
};
struct authz_op {
	const char *op;
	enum authz_scope scope;
	enum authz_action action;
	/* the program that opened an ephemeral endpoint may also do this to
	 * it when it may use the vnet (cs_reserve on its own endpoint) */
	bool opener_uses;
	/* the op may create a persistent object (endpoint.open with a name):
	 * that needs AZ_MANAGE, where @action (AZ_USE) creates ephemeral ones
	 * only, so a vnet's members change nothing that outlives them */
	bool persist_manages;
};
/* The entry of @op, or NULL for an op the table does not know. */
const struct authz_op *authz_op_find(const char *op);
/* Every entry: call with *it = 0 until NULL. */
const struct authz_op *authz_op_next(size_t *it);
/*
 * May @who call @op on vnet @vnet of tenant @tenant (specs; @vnet NULL when
 * the op names no vnet)? @opener: the op's endpoint is an ephemeral one the
 * caller opened. Unknown ops are refused. This is the decision every op
 * goes through: csd asks it before a handler touches anything
 * (csd/server.c for administrator-only ops, req_tenant()/req_vnet() in
 * csd/ops_common.c for the rest).
 */
bool authz_op(const struct principal *who, const json_t *tenant, const json_t *vnet,
	      const char *op, bool opener);
/* May @who have @op create a persistent object (not an ephemeral one) in
 * vnet @vnet of tenant @tenant? Members may not (authz_op.persist_manages). */
bool authz_op_persist(const struct principal *who, const json_t *tenant, const json_t *vnet,
		      const char *op);
/*
 * One owner per VNI: without a store the nodes share, each node's store
 * allocates and checks ids on its own, so nothing stops another tenant's
 * vnet from taking the same id on another node and bridging the two. There
 * only administrators (who write the file every node applies) may declare
 * a vnet across nodes, or change the nodes or id of one. May @who make a
 * vnet whose spec was @old_spec (NULL: new) @new_spec? Writes why not.
 */
bool authz_vnet_span(const struct principal *who, bool shared_store, const json_t *old_spec,
		     const json_t *new_spec, char *why, size_t len);
/* May @who see the tenant (and vnet, when given) at all? Nothing of a
 * tenant where the caller has no role is shown, not even that it exists. */
bool authz_visible(const struct principal *who, const json_t *tenant, const json_t *vnet);

/* May @who do @a in the tenant whose document is @tenant? */
bool authz_tenant(const struct principal *who, const json_t *tenant, enum authz_action a);
/* Is @who among the owners listed in @owners ({"uids":[],"gids":[]})? */
bool authz_is_owner(const struct principal *who, const json_t *owners);
/* May @who create a tenant with owners @owners? (Non-administrators may
 * name only themselves and their own groups.) Writes a reason if not. */
bool authz_tenant_create(const struct principal *who, const json_t *owners, char *why,
			 size_t len);
/*
 * Tenant quotas are the administrators' to set: may @who take the tenant's
 * quotas from @old to @new (NULL: none)? Anyone may keep them as they are.
 * Writes a reason if not.
 */
bool authz_quotas(const struct principal *who, const json_t *old, const json_t *new,
		  char *why, size_t len);
/* Ops that need no tenant (status) or that only administrators may call. */
bool authz_admin(const struct principal *who);
/* May @who publish host port @port, owners being allowed @lo-@hi (csd's
 * publish_ports)? Administrators may publish any port. */
bool authz_publish(const struct principal *who, unsigned port, unsigned lo, unsigned hi);
/* Raw and packet sockets need administrator rights. */
bool authz_socket(const struct principal *who, int domain, int type);

#endif
