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

bool authz_quotas(const struct principal *who, const json_t *old, const json_t *new,
		  char *why, size_t len)
{
	if (who->admin || (!old && !new) || (old && new && json_equal((json_t *)old,
								       (json_t *)new)))
		return true;
	snprintf(why, len, "only an administrator may set or change a tenant's quotas; leave "
		 "quotas out (they are kept) or as they are");
	return false;
}

bool authz_publish(const struct principal *who, unsigned port, unsigned lo, unsigned hi)
{
	return who->admin || (port >= lo && port <= hi);
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
	{ "hello", AZ_SCOPE_ANY, AZ_SEE, false, false },
	{ "status", AZ_SCOPE_ANY, AZ_SEE, false, false },
	{ "export", AZ_SCOPE_ANY, AZ_SEE, false, false },
	/* what it streams is filtered per event (csd/monitor.c) */
	{ "monitor", AZ_SCOPE_ANY, AZ_SEE, false, false },
	{ "apply", AZ_SCOPE_TENANT, AZ_MANAGE, false, false },
	{ "tenant.create", AZ_SCOPE_CREATE, AZ_MANAGE, false, false },
	{ "tenant.delete", AZ_SCOPE_TENANT, AZ_MANAGE, false, false },
	{ "tenant.show", AZ_SCOPE_TENANT, AZ_SEE, false, false },
	{ "tenant.list", AZ_SCOPE_ANY, AZ_SEE, false, false },
	{ "tenant.set", AZ_SCOPE_TENANT, AZ_MANAGE, false, false },
	{ "vnet.create", AZ_SCOPE_TENANT, AZ_MANAGE, false, false },
	{ "vnet.delete", AZ_SCOPE_TENANT, AZ_MANAGE, false, false },
	{ "vnet.show", AZ_SCOPE_VNET, AZ_SEE, false, false },
	{ "vnet.list", AZ_SCOPE_ANY, AZ_SEE, false, false },
	{ "vnet.set", AZ_SCOPE_VNET, AZ_MANAGE, false, false },
	{ "endpoint.create", AZ_SCOPE_VNET, AZ_MANAGE, false, false },
	{ "endpoint.delete", AZ_SCOPE_VNET, AZ_MANAGE, false, false },
	{ "endpoint.show", AZ_SCOPE_VNET, AZ_SEE, false, false },
	{ "endpoint.list", AZ_SCOPE_ANY, AZ_SEE, false, false },
	{ "endpoint.set", AZ_SCOPE_VNET, AZ_MANAGE, false, false },
	{ "endpoint.open", AZ_SCOPE_VNET, AZ_USE, false, true },
	{ "endpoint.socket", AZ_SCOPE_VNET, AZ_USE, false, false },
	{ "endpoint.channel", AZ_SCOPE_VNET, AZ_USE, false, false },
	{ "endpoint.netns", AZ_SCOPE_VNET, AZ_USE, false, false },
	{ "endpoint.exec", AZ_SCOPE_VNET, AZ_USE, false, false },
	{ "resolve", AZ_SCOPE_VNET, AZ_SEE, false, false },
	{ "reservation.create", AZ_SCOPE_VNET, AZ_MANAGE, true, false },
	{ "reservation.delete", AZ_SCOPE_VNET, AZ_MANAGE, true, false },
	{ "reservation.show", AZ_SCOPE_VNET, AZ_SEE, false, false },
	{ "reservation.list", AZ_SCOPE_ANY, AZ_SEE, false, false },
	{ "rule.list", AZ_SCOPE_ANY, AZ_SEE, false, false },
	{ "rule.show", AZ_SCOPE_VNET, AZ_SEE, false, false },
	{ "rule.check", AZ_SCOPE_VNET, AZ_SEE, false, false },
	{ "rule.create", AZ_SCOPE_VNET, AZ_MANAGE, false, false },
	{ "rule.delete", AZ_SCOPE_VNET, AZ_MANAGE, false, false },
	{ "node.list", AZ_SCOPE_ANY, AZ_SEE, false, false },
	{ "node.show", AZ_SCOPE_ANY, AZ_SEE, false, false },
	{ "node.create", AZ_SCOPE_ADMIN, AZ_MANAGE, false, false },
	{ "node.delete", AZ_SCOPE_ADMIN, AZ_MANAGE, false, false },
	{ "node.rotate-key", AZ_SCOPE_ADMIN, AZ_MANAGE, false, false },
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

bool authz_op_persist(const struct principal *who, const json_t *tenant, const json_t *vnet,
		      const char *op)
{
	const struct authz_op *e = authz_op_find(op);

	if (!e || !authz_op(who, tenant, vnet, op, false))
		return false;
	return !e->persist_manages || authz_vnet(who, tenant, vnet, AZ_MANAGE);
}

bool authz_vnet_span(const struct principal *who, bool shared_store, const json_t *old_spec,
		     const json_t *new_spec, char *why, size_t len)
{
	const json_t *nodes = json_object_get(new_spec, "nodes");

	if (who->admin || shared_store || json_array_size(nodes) <= 1)
		return true;
	const json_t *id = json_object_get(new_spec, "id"), *oid = json_object_get(old_spec, "id");
	if (old_spec && json_equal((json_t *)nodes, json_object_get(old_spec, "nodes")) &&
	    ((!id && !oid) || json_equal((json_t *)id, (json_t *)oid)))
		return true;
	snprintf(why, len, "only administrators may declare a vnet across nodes, or change its "
		 "nodes or id, when each node has a store of its own: every node checks ids "
		 "against its own store only, so another tenant's vnet could take the same id on "
		 "another node and join this one. Ask an administrator to declare it in the file "
		 "every node applies, or run the nodes on a shared store (cluster mode)");
	return false;
}

bool authz_visible(const struct principal *who, const json_t *tenant, const json_t *vnet)
{
	return vnet ? authz_vnet(who, tenant, vnet, AZ_SEE) : authz_tenant(who, tenant, AZ_SEE);
}

bool authz_op(const struct principal *who, const json_t *tenant, const json_t *vnet,
	      const char *op, bool opener)
{
	const struct authz_op *e = authz_op_find(op);

	if (!e)
		return false;
	switch (e->scope) {
	case AZ_SCOPE_ADMIN:
		return who->admin;
	case AZ_SCOPE_ANY:
		/* what it answers is filtered; what it names must be visible */
		return !tenant || authz_visible(who, tenant, vnet);
	case AZ_SCOPE_CREATE:
		return true;
	case AZ_SCOPE_TENANT:
		return authz_tenant(who, tenant, e->action);
	case AZ_SCOPE_VNET:
		/* an op of a vnet asked without one (the vnet is not named yet)
		 * needs the right on the whole tenant */
		if (!vnet)
			return authz_tenant(who, tenant, e->action);
		if (e->opener_uses && opener && authz_vnet(who, tenant, vnet, AZ_USE))
			return true;
		return authz_vnet(who, tenant, vnet, e->action);
	}
	return false;
}
