/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The authorization table: every op x role (admin, owner, member, other),
 * positive and negative, and every op csd serves is in the table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "policy/authz.h"

static gid_t g_admin[] = { 0 }, g_owner[] = { 1000 }, g_member[] = { 1001, 500 },
	     g_other[] = { 1002 };
static const struct principal admin = { 0, 0, 1, g_admin, 1, true, 0 };
static const struct principal owner = { 1000, 1000, 1, g_owner, 1, false, 0 };
static const struct principal member = { 1001, 1001, 1, g_member, 2, false, 0 };
static const struct principal gmember = { 1003, 500, 1, g_member + 1, 1, false, 0 };
static const struct principal other = { 1002, 1002, 1, g_other, 1, false, 0 };

/* expected[role] for each action in a vnet */
static bool expect(enum authz_role role, const struct authz_op *e)
{
	switch (e->scope) {
	case AZ_SCOPE_ADMIN:
		return role == AZ_ROLE_ADMIN;
	case AZ_SCOPE_ANY:
		/* what it names must be visible: the table test names a tenant */
		return role != AZ_ROLE_OTHER;
	case AZ_SCOPE_CREATE:
		return true;
	case AZ_SCOPE_TENANT:
		return role == AZ_ROLE_ADMIN || role == AZ_ROLE_OWNER;
	case AZ_SCOPE_VNET:
		return role != AZ_ROLE_OTHER &&
		       (role != AZ_ROLE_MEMBER || e->action != AZ_MANAGE);
	}
	return false;
}

static void test_table(void **state)
{
	(void)state;
	json_t *tenant = json_pack("{s:{s:[i]}}", "owners", "uids", 1000);
	json_t *vnet = json_pack("{s:s, s:{s:[i], s:[i]}}", "subnet", "10.0.0.0/24", "members",
				 "uids", 1001, "gids", 500);
	json_t *plain = json_pack("{s:s}", "subnet", "10.1.0.0/24");
	const struct { const struct principal *who; enum authz_role role; } roles[] = {
		{ &admin, AZ_ROLE_ADMIN }, { &owner, AZ_ROLE_OWNER },
		{ &member, AZ_ROLE_MEMBER }, { &gmember, AZ_ROLE_MEMBER },
		{ &other, AZ_ROLE_OTHER },
	};
	const struct authz_op *e;
	size_t it = 0, n = 0, pos = 0, neg = 0;

	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		assert_int_equal(authz_role(roles[i].who, tenant, vnet), roles[i].role);
	while ((e = authz_op_next(&it))) {
		for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
			bool want = expect(roles[i].role, e);
			bool got = authz_op(roles[i].who, tenant, vnet, e->op, false);
			if (want != got)
				fail_msg("%s by role %d: expected %s, got %s", e->op, roles[i].role,
					 want ? "allowed" : "refused", got ? "allowed" : "refused");
			want ? pos++ : neg++;
			/* a member of one vnet is nobody in another */
			if (e->scope == AZ_SCOPE_VNET && roles[i].role == AZ_ROLE_MEMBER)
				assert_false(authz_op(roles[i].who, tenant, plain, e->op, false));
			n++;
		}
	}
	assert_true(pos > 0 && neg > 0);
	/* members use but never manage */
	assert_true(authz_op(&member, tenant, vnet, "endpoint.open", false));
	assert_true(authz_op(&member, tenant, vnet, "endpoint.exec", false));
	assert_true(authz_op(&member, tenant, vnet, "endpoint.socket", false));
	assert_false(authz_op(&member, tenant, vnet, "vnet.delete", false));
	assert_false(authz_op(&member, tenant, vnet, "endpoint.create", false));
	assert_false(authz_op(&member, tenant, vnet, "apply", false));
	assert_false(authz_op(&member, tenant, vnet, "reservation.create", false));
	assert_false(authz_op(&other, tenant, vnet, "endpoint.open", false));
	assert_false(authz_op(&other, tenant, vnet, "vnet.show", false));
	assert_false(authz_op(&owner, tenant, vnet, "node.create", false));
	assert_false(authz_op(&owner, tenant, vnet, "no.such.op", false));
	/* ops that name nothing are open to anyone (they filter what they answer) */
	assert_true(authz_op(&other, NULL, NULL, "tenant.list", false));
	assert_true(authz_op(&other, NULL, NULL, "status", false));
	/* the opener of an ephemeral endpoint reserves for it as a member */
	assert_true(authz_op(&member, tenant, vnet, "reservation.create", true));
	assert_true(authz_op(&member, tenant, vnet, "reservation.delete", true));
	assert_false(authz_op(&member, tenant, vnet, "endpoint.delete", true));
	assert_false(authz_op(&other, tenant, vnet, "reservation.create", true));
	assert_false(authz_op(&member, tenant, plain, "reservation.create", true));
	/* members open ephemeral endpoints only: a persistent one (named,
	 * outliving the connection) is the owners' to create */
	assert_false(authz_op_persist(&member, tenant, vnet, "endpoint.open"));
	assert_true(authz_op_persist(&owner, tenant, vnet, "endpoint.open"));
	assert_true(authz_op_persist(&admin, tenant, vnet, "endpoint.open"));
	assert_false(authz_op_persist(&other, tenant, vnet, "endpoint.open"));
	assert_false(authz_op_persist(&member, tenant, plain, "endpoint.open"));
	/* one owner per VNI: across nodes without a shared store, only
	 * administrators declare a vnet or change its nodes or id */
	char why[512];
	json_t *one = json_pack("{s:[s], s:i}", "nodes", "n1", "id", 201);
	json_t *two = json_pack("{s:[s,s], s:i}", "nodes", "n1", "n2", "id", 201);
	json_t *two_b = json_pack("{s:[s,s], s:i, s:s}", "nodes", "n1", "n2", "id", 201, "mtu",
				  "x");
	json_t *moved = json_pack("{s:[s,s], s:i}", "nodes", "n1", "n2", "id", 202);
	assert_false(authz_vnet_span(&owner, false, NULL, two, why, sizeof(why)));
	assert_non_null(strstr(why, "administrators"));
	assert_true(authz_vnet_span(&admin, false, NULL, two, why, sizeof(why)));
	assert_true(authz_vnet_span(&owner, true, NULL, two, why, sizeof(why)));
	assert_true(authz_vnet_span(&owner, false, NULL, one, why, sizeof(why)));
	assert_false(authz_vnet_span(&owner, false, one, two, why, sizeof(why)));
	assert_false(authz_vnet_span(&owner, false, two, moved, why, sizeof(why)));
	/* the owner keeps managing an administrator's vnet across nodes */
	assert_true(authz_vnet_span(&owner, false, two, two_b, why, sizeof(why)));
	json_decref(one);
	json_decref(two);
	json_decref(two_b);
	json_decref(moved);
	/* no tenant: nobody but an administrator */
	assert_false(authz_vnet(&owner, NULL, vnet, AZ_SEE));
	assert_true(authz_vnet(&admin, NULL, NULL, AZ_MANAGE));
	print_message("%zu checks: %zu allowed, %zu refused\n", n, pos, neg);
	json_decref(tenant);
	json_decref(vnet);
	json_decref(plain);
}

/* Quotas: administrators set and change them; anyone may keep them. */
static void test_quotas(void **state)
{
	json_t *one = json_pack("{s:i}", "vnets", 1), *same = json_pack("{s:i}", "vnets", 1);
	json_t *more = json_pack("{s:i}", "vnets", 100);
	char why[256] = "";

	(void)state;
	assert_true(authz_quotas(&admin, one, more, why, sizeof(why)));
	assert_true(authz_quotas(&admin, NULL, one, why, sizeof(why)));
	assert_true(authz_quotas(&admin, one, NULL, why, sizeof(why)));
	assert_true(authz_quotas(&owner, one, same, why, sizeof(why)));
	assert_true(authz_quotas(&owner, NULL, NULL, why, sizeof(why)));
	assert_string_equal(why, "");
	assert_false(authz_quotas(&owner, one, more, why, sizeof(why)));
	assert_non_null(strstr(why, "only an administrator"));
	assert_false(authz_quotas(&owner, NULL, one, why, sizeof(why)));
	assert_false(authz_quotas(&owner, one, NULL, why, sizeof(why)));
	assert_false(authz_quotas(&member, one, more, why, sizeof(why)));
	json_decref(one);
	json_decref(same);
	json_decref(more);
}

static void test_every_op_in_table(void **state)
{
	(void)state;
	const struct csd_op *o;
	size_t it = 0, n = 0;

	while ((o = csd_op_next(&it))) {
		if (!authz_op_find(o->name))
			fail_msg("op %s is not in the authorization table (policy/authz.c)",
				 o->name);
		n++;
	}
	assert_true(n > 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_every_op_in_table),
		cmocka_unit_test(test_quotas),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
