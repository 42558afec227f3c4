/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The metrics' pure parts: label escaping as the text format 0.0.4 wants,
 * the bearer check (right token passes, every near miss fails), the token
 * file's checks (mode, owner, symlink, length) each paired with a file that
 * passes, and the listening address. The HTTP side is tested with a real
 * csd in tests/integration/test_metrics.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <unistd.h>
#include <cmocka.h>

#include <cs/cs.h>
#include "csd/metrics.h"

static char dir[] = "/tmp/cs-ut-metrics.XXXXXX";

static char *escaped(const char *s)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	metrics_put_label(f, s);
	fclose(f);
	return out;
}

static void test_escape(void **state)
{
	(void)state;
	char *e = escaped("a\\b\"c\nd");
	assert_string_equal(e, "a\\\\b\\\"c\\nd");
	free(e);
	e = escaped("plain-name_1");
	assert_string_equal(e, "plain-name_1");
	free(e);
}

static void test_auth(void **state)
{
	const char *tok = "0123456789abcdef0123";

	(void)state;
	assert_true(metrics_auth_ok("Bearer 0123456789abcdef0123", tok));
	assert_true(metrics_auth_ok("bearer 0123456789abcdef0123", tok));
	assert_false(metrics_auth_ok(NULL, tok));
	assert_false(metrics_auth_ok("", tok));
	assert_false(metrics_auth_ok("Basic 0123456789abcdef0123", tok));
	assert_false(metrics_auth_ok("Bearer 0123456789abcdef012", tok));   /* a prefix */
	assert_false(metrics_auth_ok("Bearer 0123456789abcdef01234", tok)); /* longer */
	assert_false(metrics_auth_ok("Bearer 0123456789abcdef0124", tok));  /* last char */
	assert_false(metrics_auth_ok("Bearer ", tok));
	assert_false(metrics_auth_ok("0123456789abcdef0123", tok));
}

static void put_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static void test_token_file(void **state)
{
	char path[128], link[128], err[512];
	char *tok = NULL;

	(void)state;
	snprintf(path, sizeof(path), "%s/token", dir);
	put_file(path, "0123456789abcdef0123\n", 0600);
	assert_int_equal(metrics_token_load(path, &tok, err, sizeof(err)), 0);
	assert_string_equal(tok, "0123456789abcdef0123");
	free(tok);

	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(metrics_token_load(path, &tok, err, sizeof(err)), CS_EPERM);
	assert_null(tok);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "chmod 600"));
	assert_int_equal(chmod(path, 0604), 0);
	assert_int_equal(metrics_token_load(path, &tok, err, sizeof(err)), CS_EPERM);
	assert_int_equal(chmod(path, 0400), 0);
	assert_int_equal(metrics_token_load(path, &tok, err, sizeof(err)), 0);
	free(tok);

	snprintf(link, sizeof(link), "%s/link", dir);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(metrics_token_load(link, &tok, err, sizeof(err)), CS_EINVAL);
	assert_non_null(strstr(err, "symlink"));
	unlink(link);

	assert_int_equal(metrics_token_load(dir, &tok, err, sizeof(err)), CS_EINVAL);
	put_file(path, "short\n", 0600);
	assert_int_equal(metrics_token_load(path, &tok, err, sizeof(err)), CS_EINVAL);
	put_file(path, "0123456789 abcdef0123\n", 0600);
	assert_int_equal(metrics_token_load(path, &tok, err, sizeof(err)), CS_EINVAL);
	if (geteuid() == 0) {
		/* owned by another user: refused even at 0600 */
		put_file(path, "0123456789abcdef0123\n", 0600);
		assert_int_equal(chown(path, 1000, 1000), 0);
		assert_int_equal(metrics_token_load(path, &tok, err, sizeof(err)), CS_EPERM);
	}
	unlink(path);
	assert_int_equal(metrics_token_load(path, &tok, err, sizeof(err)), CS_EINVAL);
}

static void test_addr(void **state)
{
	struct sockaddr_storage sa;
	unsigned len;

	(void)state;
	assert_int_equal(metrics_addr_parse("127.0.0.1:9477", &sa, sizeof(sa), &len), 0);
	assert_int_equal(sa.ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&sa)->sin_port), 9477);
	assert_int_equal(metrics_addr_parse("[::1]:9477", &sa, sizeof(sa), &len), 0);
	assert_int_equal(sa.ss_family, AF_INET6);
	static const char *const bad[] = { "127.0.0.1", "127.0.0.1:", "127.0.0.1:0",
					   "127.0.0.1:65536", "::1:9477", "localhost:9477",
					   ":9477", "127.0.0.1:94x7", "[::1]9477" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(metrics_addr_parse(bad[i], &sa, sizeof(sa), &len), CS_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_token_file),
		cmocka_unit_test(test_addr),
	};

	if (!mkdtemp(dir))
		return 1;
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	rmdir(dir);
	return r;
}
