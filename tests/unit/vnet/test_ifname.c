/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Interface names an attached endpoint may have (key "ifname",
 * vnet_ifname_valid): what the kernel takes, and what would name
 * something else or not be a name. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "vnet/vnet.h"

static void test_taken(void **state)
{
	assert_true(vnet_ifname_valid("eth0"));
	assert_true(vnet_ifname_valid("cs0"));
	assert_true(vnet_ifname_valid("net1.vlan-2_x"));
	assert_true(vnet_ifname_valid("abcdefghijklmno"));     /* 15: IFNAMSIZ - 1 */
}

static void test_refused(void **state)
{
	assert_false(vnet_ifname_valid(NULL));
	assert_false(vnet_ifname_valid(""));
	assert_false(vnet_ifname_valid("abcdefghijklmnop"));   /* 16 */
	assert_false(vnet_ifname_valid("lo"));
	assert_false(vnet_ifname_valid("."));
	assert_false(vnet_ifname_valid(".."));
	assert_false(vnet_ifname_valid("a/b"));
	assert_false(vnet_ifname_valid("eth0:1"));              /* an alias, not a link */
	assert_false(vnet_ifname_valid("eth 0"));
	assert_false(vnet_ifname_valid("eth\t0"));
	assert_false(vnet_ifname_valid("eth\x7f"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_taken),
		cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
