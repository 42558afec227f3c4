/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Authorization: every decision about who may do what is made here. */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "authz.h"

static bool in_list(const json_t *list, json_int_t id)
{
	size_t i;
	json_t *v;

	json_array_foreach(list, i, v)
		if (json_is_integer(v) && json_integer_value(v) == id)
			return true;
	return false;
}

bool authz_is_owner(const struct principal *who, const json_t *owners)
{
	if (in_list(json_object_get(owners, "uids"), who->uid))
		return true;
	const json_t *gids = json_object_get(owners, "gids");
	for (int i = 0; i < who->ngids; i++)
		if (in_list(gids, who->gids[i]))
			return true;
	return false;
}

bool authz_admin(const struct principal *who)
{
	return who->admin;
}

bool authz_tenant(const struct principal *who, const json_t *tenant, enum authz_action a)
{
	if (who->admin)
		return true;
	if (!tenant)
		return false;
	/* every role we know of so far (owner) covers all three actions */
	(void)a;
	return authz_is_owner(who, json_object_get(tenant, "owners"));
}

bool authz_tenant_create(const struct principal *who, const json_t *owners, char *why,
			 size_t len)
{
	size_t i;
	json_t *v;

	if (who->admin)
		return true;
	json_array_foreach(json_object_get(owners, "uids"), i, v) {
		if (json_integer_value(v) != who->uid) {
			snprintf(why, len, "only an administrator may name another user (uid %"
				 JSON_INTEGER_FORMAT ") as owner; name yourself (uid %u) or leave "
				 "owners out", json_integer_value(v), (unsigned)who->uid);
			return false;
		}
	}
	json_array_foreach(json_object_get(owners, "gids"), i, v) {
		bool mine = false;
		for (int g = 0; g < who->ngids; g++)
			if (json_integer_value(v) == who->gids[g])
				mine = true;
		if (!mine) {
			snprintf(why, len, "only an administrator may name a group you are not in "
				 "(gid %" JSON_INTEGER_FORMAT ") as owner", json_integer_value(v));
			return false;
		}
	}
	return true;
}

bool authz_socket(const struct principal *who, int domain, int type)
{
	int t = type & 0xf;

	if (domain == AF_PACKET || t == SOCK_RAW || t == SOCK_PACKET)
		return who->admin;
	return true;
}

enum authz_role authz_role(const struct principal *who, const json_t *tenant,
			   const json_t *vnet)
{
	if (who->admin)
		return AZ_ROLE_ADMIN;
	if (!tenant)
		return AZ_ROLE_OTHER;
	if (authz_is_owner(who, json_object_get(tenant, "owners")))
		return AZ_ROLE_OWNER;
	if (vnet && authz_is_owner(who, json_object_get(vnet, "members")))
		return AZ_ROLE_MEMBER;
	return AZ_ROLE_OTHER;
}

bool authz_vnet(const struct principal *who, const json_t *tenant, const json_t *vnet,
		enum authz_action a)
{
	switch (authz_role(who, tenant, vnet)) {
	case AZ_ROLE_ADMIN:
	case AZ_ROLE_OWNER:
		return true;
	case AZ_ROLE_MEMBER:
		return a == AZ_SEE || a == AZ_USE;
	case AZ_ROLE_OTHER:
		break;
	}
	return false;
}

static const struct authz_op table[] = {
	{ "hello", AZ_SCOPE_ANY, AZ_SEE },
	{ "status", AZ_SCOPE_ANY, AZ_SEE },
	{ "export", AZ_SCOPE_ANY, AZ_SEE },
	{ "apply", AZ_SCOPE_TENANT, AZ_MANAGE },
	{ "tenant.create", AZ_SCOPE_CREATE, AZ_MANAGE },
	{ "tenant.delete", AZ_SCOPE_TENANT, AZ_MANAGE },
	{ "tenant.show", AZ_SCOPE_TENANT, AZ_SEE },
	{ "tenant.list", AZ_SCOPE_ANY, AZ_SEE },
	{ "vnet.create", AZ_SCOPE_TENANT, AZ_MANAGE },
	{ "vnet.delete", AZ_SCOPE_TENANT, AZ_MANAGE },
	{ "vnet.show", AZ_SCOPE_VNET, AZ_SEE },
	{ "vnet.list", AZ_SCOPE_ANY, AZ_SEE },
	{ "endpoint.create", AZ_SCOPE_VNET, AZ_MANAGE },
	{ "endpoint.delete", AZ_SCOPE_VNET, AZ_MANAGE },
	{ "endpoint.show", AZ_SCOPE_VNET, AZ_SEE },
	{ "endpoint.list", AZ_SCOPE_ANY, AZ_SEE },
	{ "endpoint.open", AZ_SCOPE_VNET, AZ_USE },
	{ "endpoint.socket", AZ_SCOPE_VNET, AZ_USE },
	{ "endpoint.netns", AZ_SCOPE_VNET, AZ_USE },
	{ "endpoint.exec", AZ_SCOPE_VNET, AZ_USE },
	{ "resolve", AZ_SCOPE_VNET, AZ_SEE },
	{ "reservation.create", AZ_SCOPE_VNET, AZ_MANAGE },
	{ "reservation.delete", AZ_SCOPE_VNET, AZ_MANAGE },
	{ "reservation.show", AZ_SCOPE_VNET, AZ_SEE },
	{ "reservation.list", AZ_SCOPE_ANY, AZ_SEE },
	{ "rule.list", AZ_SCOPE_ANY, AZ_SEE },
	{ "rule.show", AZ_SCOPE_VNET, AZ_SEE },
	{ "rule.check", AZ_SCOPE_VNET, AZ_SEE },
	{ "node.list", AZ_SCOPE_ANY, AZ_SEE },
	{ "node.show", AZ_SCOPE_ANY, AZ_SEE },
	{ "node.create", AZ_SCOPE_ADMIN, AZ_MANAGE },
	{ "node.delete", AZ_SCOPE_ADMIN, AZ_MANAGE },
};

const struct authz_op *authz_op_find(const char *op)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (!strcmp(table[i].op, op))
			return &table[i];
	return NULL;
}

const struct authz_op *authz_op_next(size_t *it)
{
	if (*it >= sizeof(table) / sizeof(table[0]))
		return NULL;
	return &table[(*it)++];
}

bool authz_op(const struct principal *who, const json_t *tenant, const json_t *vnet,
	      const char *op)
{
	const struct authz_op *e = authz_op_find(op);

	if (!e)
		return false;
	switch (e->scope) {
	case AZ_SCOPE_ADMIN:
		return who->admin;
	case AZ_SCOPE_ANY:
	case AZ_SCOPE_CREATE:
		return true;
	case AZ_SCOPE_TENANT:
		return authz_tenant(who, tenant, e->action);
	case AZ_SCOPE_VNET:
		return authz_vnet(who, tenant, vnet, e->action);
	}
	return false;
}
