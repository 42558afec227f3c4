/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <cs/cs.h>
#include "csd/names.h"

#define N(x) (sizeof(x) / sizeof((x)[0]))
#define RULE "(use 1-32 characters a-z, 0-9, '-', '_', starting with a letter or digit)"

static void test_name_valid(void **state)
{
	static const char *const good[] = {
		"a", "z", "0", "9", "acme", "blue", "web-1", "db_2", "a-", "a_",
		"0abc", "9-9", "a--b", "a__b", "abcdefghijklmnopqrstuvwxyz012345",
		"00000000000000000000000000000000",
	};
	static const char *const bad[] = {
		"", "-a", "_a", "A", "Acme", "acmE", "a.b", "a/b", "a b", " a", "a ",
		"a\n", "é", "a\xc3\xa9", "abcdefghijklmnopqrstuvwxyz0123456",
		"a:b", "a@b", "a+b", "*", "..", ".", "-", "_", "a\tb",
		"000000000000000000000000000000000000000000000000000000000000000000",
	};

	(void)state;
	for (size_t i = 0; i < N(good); i++)
		if (!cs_name_valid(good[i]))
			fail_msg("\"%s\" refused", good[i]);
	for (size_t i = 0; i < N(bad); i++)
		if (cs_name_valid(bad[i]))
			fail_msg("\"%s\" accepted", bad[i]);
	assert_false(cs_name_valid(NULL));
	/* 32 is the bound, inclusive. */
	{
		char s[CS_NAME_MAX + 2];

		memset(s, 'x', sizeof(s));
		s[CS_NAME_MAX] = '\0';
		assert_true(cs_name_valid(s));
		s[CS_NAME_MAX] = 'x';
		s[CS_NAME_MAX + 1] = '\0';
		assert_false(cs_name_valid(s));
	}
}

static void test_split_ok(void **state)
{
	char parts[3][CS_NAME_MAX + 1];
	char err[256] = "";

	(void)state;
	assert_int_equal(cs_path_split("acme", 1, parts, err, sizeof(err)), 0);
	assert_string_equal(parts[0], "acme");
	assert_int_equal(cs_path_split("acme/blue", 2, parts, err, sizeof(err)), 0);
	assert_string_equal(parts[0], "acme");
	assert_string_equal(parts[1], "blue");
	assert_int_equal(cs_path_split("acme/blue/web-1", 3, parts, err, sizeof(err)), 0);
	assert_string_equal(parts[0], "acme");
	assert_string_equal(parts[1], "blue");
	assert_string_equal(parts[2], "web-1");
	assert_int_equal(cs_path_split("a/b/c", 3, parts, err, sizeof(err)), 0);
	assert_string_equal(parts[2], "c");
	assert_int_equal(cs_path_split("abcdefghijklmnopqrstuvwxyz012345/0123456789abcdefghijklmnopqrstuv/x_y",
				       3, parts, err, sizeof(err)), 0);
	assert_string_equal(parts[0], "abcdefghijklmnopqrstuvwxyz012345");
	assert_string_equal(parts[1], "0123456789abcdefghijklmnopqrstuv");
	assert_string_equal(parts[2], "x_y");
	assert_string_equal(err, "");
	/* err may be absent. */
	assert_int_equal(cs_path_split("acme/blue", 2, parts, NULL, 0), 0);
}

struct err_case {
	const char *path;
	int n;
	const char *msg;
};

static void test_split_errors(void **state)
{
	static const struct err_case c[] = {
		{ "acme", 2, "acme: expected tenant/vnet" },
		{ "acme", 3, "acme: expected tenant/vnet/endpoint" },
		{ "acme/blue", 1, "acme/blue: expected tenant" },
		{ "acme/blue", 3, "acme/blue: expected tenant/vnet/endpoint" },
		{ "acme/blue/web", 2, "acme/blue/web: expected tenant/vnet" },
		{ "acme/blue/web/x", 3, "acme/blue/web/x: expected tenant/vnet/endpoint" },
		{ "a/b/c/d/e/f", 1, "a/b/c/d/e/f: expected tenant" },
		{ "", 1, "empty name; expected tenant" },
		{ "", 2, "empty name; expected tenant/vnet" },
		{ "/", 1, "/: expected tenant" },
		{ "acme/Blue", 2, "acme/Blue: \"Blue\" is not a valid name " RULE },
		{ "Acme/blue", 2, "Acme/blue: \"Acme\" is not a valid name " RULE },
		{ "acme/blue/Web", 3, "acme/blue/Web: \"Web\" is not a valid name " RULE },
		{ "acme/", 2, "acme/: \"\" is not a valid name " RULE },
		{ "/blue", 2, "/blue: \"\" is not a valid name " RULE },
		{ "/", 2, "/: \"\" is not a valid name " RULE },
		{ "acme//web", 3, "acme//web: \"\" is not a valid name " RULE },
		{ "acme/blue/", 3, "acme/blue/: \"\" is not a valid name " RULE },
		{ "acme/-blue", 2, "acme/-blue: \"-blue\" is not a valid name " RULE },
		{ "acme/_x", 2, "acme/_x: \"_x\" is not a valid name " RULE },
		{ "acme/a.b", 2, "acme/a.b: \"a.b\" is not a valid name " RULE },
		{ "acme/a b", 2, "acme/a b: \"a b\" is not a valid name " RULE },
		{ " acme", 1, " acme: \" acme\" is not a valid name " RULE },
		{ "acme/abcdefghijklmnopqrstuvwxyz0123456", 2,
		  "acme/abcdefghijklmnopqrstuvwxyz0123456: \"abcdefghijklmnopqrstuvwxyz0123456\" is not a valid name " RULE },
		/* The first bad part is the one named. */
		{ "A/B", 2, "A/B: \"A\" is not a valid name " RULE },
	};
	char parts[3][CS_NAME_MAX + 1], orig[3][CS_NAME_MAX + 1];
	char err[512];

	(void)state;
	memset(orig, 0x5a, sizeof(orig));
	for (size_t i = 0; i < N(c); i++) {
		memcpy(parts, orig, sizeof(parts));
		err[0] = '\0';
		if (cs_path_split(c[i].path, c[i].n, parts, err, sizeof(err)) != CS_EINVAL)
			fail_msg("\"%s\" (n=%d) accepted", c[i].path, c[i].n);
		if (strcmp(err, c[i].msg))
			fail_msg("\"%s\": got  %s\n           want %s", c[i].path, err, c[i].msg);
		/* A failed split writes no part. */
		assert_memory_equal(parts, orig, sizeof(parts));
	}
}

static void test_split_edge(void **state)
{
	char parts[3][CS_NAME_MAX + 1];
	char err[512], longpath[1000];

	(void)state;
	assert_int_equal(cs_path_split(NULL, 1, parts, err, sizeof(err)), CS_EINVAL);
	assert_string_equal(err, "empty name; expected tenant");
	assert_int_equal(cs_path_split("a", 0, parts, err, sizeof(err)), CS_EINVAL);
	assert_string_equal(err, "a path has 1 to 3 parts, not 0");
	assert_int_equal(cs_path_split("a/b/c/d", 4, parts, err, sizeof(err)), CS_EINVAL);
	assert_string_equal(err, "a path has 1 to 3 parts, not 4");
	assert_int_equal(cs_path_split("a", -1, parts, NULL, 0), CS_EINVAL);
	assert_int_equal(cs_path_split("a", 1, NULL, NULL, 0), CS_EINVAL);
	/* A very long part is cut short in the message, not overrun. */
	memset(longpath, 'x', sizeof(longpath));
	longpath[4] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	memcpy(longpath, "acme", 4);
	assert_int_equal(cs_path_split(longpath, 2, parts, err, sizeof(err)), CS_EINVAL);
	assert_non_null(strstr(err, "...: \"xxx"));
	assert_non_null(strstr(err, "...\" is not a valid name"));
	/* A tiny buffer truncates, still terminated. */
	assert_int_equal(cs_path_split("acme", 2, parts, err, 5), CS_EINVAL);
	assert_string_equal(err, "acme");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_valid),
		cmocka_unit_test(test_split_ok),
		cmocka_unit_test(test_split_errors),
		cmocka_unit_test(test_split_edge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
