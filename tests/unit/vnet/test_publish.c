/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The "publish" entries (vnet/publish.c): forms taken, forms refused with a
 * reason, and which pairs take the same host port. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "cs/cs.h"
#include "vnet/publish.h"

static struct vnet_publish ok(const char *s)
{
	struct vnet_publish p;
	char err[256] = "";

	if (vnet_publish_parse(s, &p, err, sizeof(err)) < 0)
		fail_msg("%s: refused: %s", s, err);
	return p;
}

static void test_forms(void **state)
{
	struct vnet_publish p = ok("8080:80");
	char buf[CS_ADDRSTRLEN];

	assert_false(p.has_host);
	assert_int_equal(p.hport, 8080);
	assert_int_equal(p.port, 80);
	assert_int_equal(p.proto, IPPROTO_TCP);
	p = ok("192.0.2.1:53:53/udp");
	assert_true(p.has_host);
	assert_string_equal(cs_addr_format(&p.host, buf), "192.0.2.1");
	assert_int_equal(p.proto, IPPROTO_UDP);
	p = ok("[2001:db8::1]:8443:443/tcp");
	assert_string_equal(cs_addr_format(&p.host, buf), "2001:db8::1");
	assert_int_equal(p.hport, 8443);
	p = ok("1:65535");
	assert_int_equal(p.port, 65535);
}

static void test_refused(void **state)
{
	const char *const bad[] = { "8080", "0:80", "8080:0", "65536:80", "8080:80/sctp",
				    "x:80", "8080:80/", "2001:db8::1:80:80", "[2001:db8::1]80:80",
				    "1.2.3:80:80", "-1:80", ":80", "8080:", "" };
	struct vnet_publish p;
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (vnet_publish_parse(bad[i], &p, err, sizeof(err)) != CS_EINVAL)
			fail_msg("\"%s\" was taken", bad[i]);
		assert_non_null(strstr(err, "HOSTPORT:PORT"));
	}
	assert_int_equal(vnet_publish_parse(NULL, &p, err, sizeof(err)), CS_EINVAL);
}

static void test_clash(void **state)
{
	struct vnet_publish any = ok("8080:80"), one = ok("192.0.2.1:8080:81"),
			    other = ok("192.0.2.2:8080:81"), udp = ok("8080:80/udp"),
			    port = ok("8081:80");

	assert_true(vnet_publish_clash(&any, &one));
	assert_true(vnet_publish_clash(&one, &any));
	assert_false(vnet_publish_clash(&one, &other));
	assert_false(vnet_publish_clash(&any, &udp));
	assert_false(vnet_publish_clash(&any, &port));
	assert_true(vnet_publish_clash(&one, &one));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_clash),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
