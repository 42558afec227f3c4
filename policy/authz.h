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

/* May @who do @a in the tenant whose document is @tenant? */
bool authz_tenant(const struct principal *who, const json_t *tenant, enum authz_action a);
/* Is @who among the owners listed in @owners ({"uids":[],"gids":[]})? */
bool authz_is_owner(const struct principal *who, const json_t *owners);
/* May @who create a tenant with owners @owners? (Non-administrators may
 * name only themselves and their own groups.) Writes a reason if not. */
bool authz_tenant_create(const struct principal *who, const json_t *owners, char *why,
			 size_t len);
/* Ops that need no tenant (status) or that only administrators may call. */
bool authz_admin(const struct principal *who);
/* Raw and packet sockets need administrator rights. */
bool authz_socket(const struct principal *who, int domain, int type);

#endif
