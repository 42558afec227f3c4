/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Authorization: every decision about who may do what is made here. */
#include <stdio.h>
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
