/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include <cs/cs.h>
#include "vnet/ipam.h"

static struct cs_addr A(const char *s)
{
	struct cs_addr a;

	memset(&a, 0xa5, sizeof(a));
	if (cs_addr_parse(s, &a) != 0)
		fail_msg("cs_addr_parse(\"%s\") failed", s);
	return a;
}

static struct cs_prefix P(const char *s)
{
	struct cs_prefix p;
	char err[256] = "";

	if (cs_prefix_parse(s, &p, err, sizeof(err)) != 0)
		fail_msg("cs_prefix_parse(\"%s\") failed: %s", s, err);
	return p;
}

static void assert_addr(const struct cs_addr *a, const char *want)
{
	char buf[CS_ADDRSTRLEN];

	assert_string_equal(cs_addr_format(a, buf), want);
}

static void assert_prefix_err(const char *s, const char *want)
{
	struct cs_prefix p, orig;
	char err[256] = "";

	memset(&p, 0x5a, sizeof(p));
	orig = p;
	assert_int_equal(cs_prefix_parse(s, &p, err, sizeof(err)), CS_EINVAL);
	assert_string_equal(err, want);
	/* A failed parse leaves the output alone. */
	assert_memory_equal(&p, &orig, sizeof(p));
}

/* --- addresses -------------------------------------------------------- */

static void test_addr_parse_v4(void **state)
{
	struct cs_addr a;

	(void)state;
	a = A("10.0.0.1");
	assert_int_equal(a.family, AF_INET);
	assert_int_equal(a.a[0], 10);
	assert_int_equal(a.a[3], 1);
	/* The unused tail is zeroed so whole structs compare. */
	for (int i = 4; i < 16; i++)
		assert_int_equal(a.a[i], 0);
	assert_addr(&a, "10.0.0.1");
	a = A("0.0.0.0");
	assert_addr(&a, "0.0.0.0");
	a = A("255.255.255.255");
	assert_addr(&a, "255.255.255.255");
}

static void test_addr_parse_v6(void **state)
{
	struct cs_addr a;
	static const uint8_t one[16] = { 0xfd, [15] = 1 };

	(void)state;
	a = A("fd00::1");
	assert_int_equal(a.family, AF_INET6);
	assert_memory_equal(a.a, one, 16);
	a = A("fd00:0000:0000:0000:0000:0000:0000:0001");
	assert_memory_equal(a.a, one, 16);
	assert_addr(&a, "fd00::1");
	a = A("FD00:0:0:0:0:0:0:1");
	assert_memory_equal(a.a, one, 16);
	a = A("::");
	assert_addr(&a, "::");
	a = A("::1");
	assert_addr(&a, "::1");
	a = A("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	assert_addr(&a, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	/* v4-mapped stays IPv6. */
	a = A("::ffff:10.0.0.1");
	assert_int_equal(a.family, AF_INET6);
	assert_int_equal(a.a[10], 0xff);
	assert_int_equal(a.a[11], 0xff);
	assert_int_equal(a.a[12], 10);
	assert_int_equal(a.a[15], 1);
	assert_addr(&a, "::ffff:10.0.0.1");
	a = A("0000:0000:0000:0000:0000:ffff:255.255.255.255");
	assert_addr(&a, "::ffff:255.255.255.255");
	a = A("2001:db8::");
	assert_addr(&a, "2001:db8::");
}

static void test_addr_parse_bad(void **state)
{
	static const char *const bad[] = {
		"", " ", "10.0.0.1 ", " 10.0.0.1", "10.0.0.1\n", "10. 0.0.1",
		"10.0.0", "10.0.0.0.1", "10.0.0.256", "10.0.0.-1", "10.0.0.1x",
		"10.0.0.1/24", "010.0.0.1", "10.0.0.01", "10.00.0.1",
		"0x0a.0.0.1", "10..0.1", ".10.0.0.1", "10.0.0.1.", "a.b.c.d",
		"167772161", "fd00::1::2", "fd00:::1", "fd00::g", "fd00::1%eth0",
		"12345::1", "1:2:3:4:5:6:7:8:9", "fd00::1 ", "[fd00::1]",
		"::ffff:10.0.0.256", "fd00::/64", ":", "1:2:3:4:5:6:7",
		"0000:0000:0000:0000:0000:ffff:255.255.255.2555",
	};
	struct cs_addr a, orig;

	(void)state;
	memset(&a, 0x5a, sizeof(a));
	orig = a;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (cs_addr_parse(bad[i], &a) != CS_EINVAL)
			fail_msg("\"%s\" was accepted", bad[i]);
		assert_memory_equal(&a, &orig, sizeof(a));
	}
	assert_int_equal(cs_addr_parse(NULL, &a), CS_EINVAL);
	{
		char huge[200];

		memset(huge, '1', sizeof(huge) - 1);
		huge[sizeof(huge) - 1] = '\0';
		assert_int_equal(cs_addr_parse(huge, &a), CS_EINVAL);
	}
}

static void test_addr_format_invalid(void **state)
{
	struct cs_addr a = { 0 };
	char buf[CS_ADDRSTRLEN];

	(void)state;
	a.family = 12345;
	assert_string_equal(cs_addr_format(&a, buf), "(invalid address)");
}

static void test_addr_cmp(void **state)
{
	struct cs_addr x = A("10.0.0.1"), y = A("10.0.0.2"), z = A("fd00::1");
	struct cs_addr g = A("10.0.0.1");

	(void)state;
	assert_int_equal(cs_addr_cmp(&x, &x), 0);
	assert_true(cs_addr_cmp(&x, &y) < 0);
	assert_true(cs_addr_cmp(&y, &x) > 0);
	/* IPv4 sorts before IPv6. */
	assert_true(cs_addr_cmp(&x, &z) < 0);
	assert_true(cs_addr_cmp(&z, &x) > 0);
	/* Bytes past an IPv4 address do not count. */
	g.a[10] = 0x77;
	assert_int_equal(cs_addr_cmp(&x, &g), 0);
	x = A("10.0.0.255");
	y = A("10.0.1.0");
	assert_true(cs_addr_cmp(&x, &y) < 0);
	x = A("fd00::ffff");
	y = A("fd00::1:0");
	assert_true(cs_addr_cmp(&x, &y) < 0);
}

/* --- prefixes --------------------------------------------------------- */

static void test_prefix_parse_ok(void **state)
{
	static const char *const ok[] = {
		"10.0.0.0/24", "0.0.0.0/0", "10.0.0.0/8", "10.0.0.4/30",
		"10.0.0.2/31", "10.0.0.7/32", "255.255.255.255/32",
		"192.168.128.0/17", "fd00::/64", "::/0", "fd00::/126",
		"fd00::4/126", "fd00::2/127", "fd00::1/128",
		"2001:db8:0:8000::/49", "::ffff:10.0.0.0/120",
	};
	char buf[CS_ADDRSTRLEN];
	struct cs_prefix p;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		p = P(ok[i]);
		assert_string_equal(cs_prefix_format(&p, buf), ok[i]);
	}
	p = P("10.0.0.0/24");
	assert_int_equal(p.addr.family, AF_INET);
	assert_int_equal(p.plen, 24);
	p = P("FD00:0:0:0::/64");
	assert_int_equal(p.addr.family, AF_INET6);
	assert_int_equal(p.plen, 64);
	assert_string_equal(cs_prefix_format(&p, buf), "fd00::/64");
	/* Leading zeros in the length are harmless decimal. */
	p = P("10.0.0.0/024");
	assert_int_equal(p.plen, 24);
	/* Longest text form fits CS_ADDRSTRLEN. */
	p = P("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
	assert_string_equal(cs_prefix_format(&p, buf), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
	p = P("::ffff:255.255.255.255/128");
	assert_string_equal(cs_prefix_format(&p, buf), "::ffff:255.255.255.255/128");
}

static void test_prefix_parse_errors(void **state)
{
	char err[256];
	struct cs_prefix p;

	(void)state;
	assert_prefix_err("10.0.0.0/33", "10.0.0.0/33: prefix length 33 is out of range 0-32");
	assert_prefix_err("fd00::/129", "fd00::/129: prefix length 129 is out of range 0-128");
	assert_prefix_err("10.0.0.0/99999999999999999999",
			  "10.0.0.0/99999999999999999999: prefix length 99999999999999999999 is out of range 0-32");
	assert_prefix_err("10.0.0.5/24", "10.0.0.5/24: host bits are set; the network is 10.0.0.0/24");
	assert_prefix_err("10.0.0.1/0", "10.0.0.1/0: host bits are set; the network is 0.0.0.0/0");
	assert_prefix_err("10.0.0.3/31", "10.0.0.3/31: host bits are set; the network is 10.0.0.2/31");
	assert_prefix_err("192.168.200.0/17", "192.168.200.0/17: host bits are set; the network is 192.168.128.0/17");
	assert_prefix_err("fd00::1/64", "fd00::1/64: host bits are set; the network is fd00::/64");
	assert_prefix_err("fd00::1/127", "fd00::1/127: host bits are set; the network is fd00::/127");
	assert_prefix_err("fd00:1234:5678::/33", "fd00:1234:5678::/33: host bits are set; the network is fd00:1234::/33");
	assert_prefix_err("fd00:1234:c678::/34", "fd00:1234:c678::/34: host bits are set; the network is fd00:1234:c000::/34");
	assert_prefix_err("", "empty prefix; write an address and a length like 10.0.0.0/24 or fd00::/64");
	assert_prefix_err("10.0.0.0", "10.0.0.0: no prefix length; write it as ADDRESS/LENGTH like 10.0.0.0/24 or fd00::/64");
	assert_prefix_err("10.0.0.0/", "10.0.0.0/: prefix length \"\" is not a number 0-32");
	assert_prefix_err("10.0.0.0/+24", "10.0.0.0/+24: prefix length \"+24\" is not a number 0-32");
	assert_prefix_err("10.0.0.0/-1", "10.0.0.0/-1: prefix length \"-1\" is not a number 0-32");
	assert_prefix_err("10.0.0.0/ 24", "10.0.0.0/ 24: prefix length \" 24\" is not a number 0-32");
	assert_prefix_err("10.0.0.0/24 ", "10.0.0.0/24 : prefix length \"24 \" is not a number 0-32");
	assert_prefix_err("10.0.0.0/24x", "10.0.0.0/24x: prefix length \"24x\" is not a number 0-32");
	assert_prefix_err("10.0.0.0/2.4", "10.0.0.0/2.4: prefix length \"2.4\" is not a number 0-32");
	assert_prefix_err("10.0.0.0/24/8", "10.0.0.0/24/8: prefix length \"24/8\" is not a number 0-32");
	assert_prefix_err("fd00::/0x40", "fd00::/0x40: prefix length \"0x40\" is not a number 0-128");
	assert_prefix_err("/24", "/24: \"\" is not a valid IPv4 or IPv6 address");
	assert_prefix_err(" 10.0.0.0/24", " 10.0.0.0/24: \" 10.0.0.0\" is not a valid IPv4 or IPv6 address");
	assert_prefix_err("10.0.0.256/24", "10.0.0.256/24: \"10.0.0.256\" is not a valid IPv4 or IPv6 address");
	assert_prefix_err("10.0.0/24", "10.0.0/24: \"10.0.0\" is not a valid IPv4 or IPv6 address");
	assert_prefix_err("banana/24", "banana/24: \"banana\" is not a valid IPv4 or IPv6 address");
	assert_prefix_err("0000000000000000000000000000000000000000000000000000/8",
			  "0000000000000000000000000000000000000000000000000000/8: \"00000000000000000000...\" is not a valid IPv4 or IPv6 address");
	assert_prefix_err("1111111111222222222233333333334444444444555555555566666666667777777777/8",
			  "111111111122222222223333333333444444444455555555556666666666...: \"11111111112222222222...\" is not a valid IPv4 or IPv6 address");

	/* Short and absent buffers truncate or skip the message. */
	assert_int_equal(cs_prefix_parse("10.0.0.0/33", &p, err, 8), CS_EINVAL);
	assert_string_equal(err, "10.0.0.");
	assert_int_equal(cs_prefix_parse("10.0.0.0/33", &p, NULL, 0), CS_EINVAL);
	assert_int_equal(cs_prefix_parse(NULL, &p, NULL, 0), CS_EINVAL);
}

static void test_prefix_contains(void **state)
{
	struct cs_prefix p = P("10.0.0.0/24"), all = P("0.0.0.0/0");
	struct cs_prefix h = P("10.0.0.7/32"), v6 = P("fd00::/64");
	struct cs_addr a;

	(void)state;
	a = A("10.0.0.0");
	assert_true(cs_prefix_contains(&p, &a));
	a = A("10.0.0.255");
	assert_true(cs_prefix_contains(&p, &a));
	a = A("10.0.1.0");
	assert_false(cs_prefix_contains(&p, &a));
	a = A("9.255.255.255");
	assert_false(cs_prefix_contains(&p, &a));
	a = A("255.255.255.255");
	assert_true(cs_prefix_contains(&all, &a));
	a = A("10.0.0.7");
	assert_true(cs_prefix_contains(&h, &a));
	a = A("10.0.0.6");
	assert_false(cs_prefix_contains(&h, &a));
	/* Families never mix, even with equal bytes. */
	a = A("fd00::1");
	assert_false(cs_prefix_contains(&p, &a));
	assert_false(cs_prefix_contains(&all, &a));
	assert_true(cs_prefix_contains(&v6, &a));
	a = A("fd00::ffff:ffff:ffff:ffff");
	assert_true(cs_prefix_contains(&v6, &a));
	a = A("fd00:0:0:1::");
	assert_false(cs_prefix_contains(&v6, &a));
	a = A("10.0.0.1");
	assert_false(cs_prefix_contains(&v6, &a));
	/* A nonsense prefix contains nothing. */
	p.plen = 33;
	a = A("10.0.0.1");
	assert_false(cs_prefix_contains(&p, &a));
	p.plen = -1;
	assert_false(cs_prefix_contains(&p, &a));
}

static void test_prefix_overlaps(void **state)
{
	static const struct {
		const char *x, *y;
		bool want;
	} cases[] = {
		{ "10.0.0.0/24", "10.0.0.0/24", true },
		{ "10.0.0.0/24", "10.0.0.128/25", true },
		{ "10.0.0.0/24", "10.0.1.0/24", false },
		{ "10.0.0.0/23", "10.0.1.0/24", true },
		{ "10.0.0.0/8", "10.255.255.255/32", true },
		{ "0.0.0.0/0", "192.168.0.0/16", true },
		{ "10.0.0.0/30", "10.0.0.4/30", false },
		{ "10.0.0.0/24", "fd00::/8", false },
		{ "0.0.0.0/0", "::/0", false },
		{ "fd00::/64", "fd00::/48", true },
		{ "fd00::/64", "fd00:0:0:1::/64", false },
		{ "::/0", "fd00::1/128", true },
		{ "fd00::/126", "fd00::4/126", false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cs_prefix x = P(cases[i].x), y = P(cases[i].y);

		if (cs_prefix_overlaps(&x, &y) != cases[i].want ||
		    cs_prefix_overlaps(&y, &x) != cases[i].want)
			fail_msg("%s vs %s: expected %d", cases[i].x, cases[i].y, cases[i].want);
	}
}

/* --- subnets ---------------------------------------------------------- */

static void check_subnet(int (*check)(const struct cs_prefix *, char *, size_t), const char *s,
			 const char *want)
{
	struct cs_prefix p = P(s);
	char err[256] = "";

	if (!want) {
		assert_int_equal(check(&p, err, sizeof(err)), 0);
		assert_string_equal(err, "");
		return;
	}
	assert_int_equal(check(&p, err, sizeof(err)), CS_EINVAL);
	assert_string_equal(err, want);
}
#define assert_subnet(s, want) check_subnet(ipam_subnet_check, s, want)
#define assert_usable(s, want) check_subnet(ipam_subnet_usable, s, want)

static void test_subnet_check(void **state)
{
	struct cs_prefix p;
	char err[256];

	(void)state;
	assert_subnet("0.0.0.0/0", NULL);
	assert_subnet("10.0.0.0/8", NULL);
	assert_subnet("10.0.0.0/24", NULL);
	assert_subnet("10.0.0.0/30", NULL);
	assert_subnet("10.0.0.0/31", "10.0.0.0/31: too small for a vnet; use /30 or larger (IPv6: /126 or larger)");
	assert_subnet("10.0.0.1/32", "10.0.0.1/32: too small for a vnet; use /30 or larger (IPv6: /126 or larger)");
	assert_subnet("::/0", NULL);
	assert_subnet("fd00::/64", NULL);
	/* a vnet's subnet: not in space the kernel gives another meaning, nor
	 * containing it */
	assert_usable("0.0.0.0/0", "0.0.0.0/0: overlaps 0.0.0.0/8, \"this network\" addresses, which a "
		      "vnet cannot use; use private space such as 10.0.0.0/8, 172.16.0.0/12, "
		      "192.168.0.0/16 or fd00::/8");
	assert_usable("127.0.0.0/24", "127.0.0.0/24: overlaps 127.0.0.0/8, loopback addresses, which "
		      "a vnet cannot use; use private space such as 10.0.0.0/8, 172.16.0.0/12, "
		      "192.168.0.0/16 or fd00::/8");
	assert_usable("224.0.0.0/24", "224.0.0.0/24: overlaps 224.0.0.0/4, multicast addresses, "
		      "which a vnet cannot use; use private space such as 10.0.0.0/8, "
		      "172.16.0.0/12, 192.168.0.0/16 or fd00::/8");
	assert_usable("fe80::/64", "fe80::/64: overlaps fe80::/10, link-local addresses, which a vnet "
		      "cannot use; use private space such as 10.0.0.0/8, 172.16.0.0/12, "
		      "192.168.0.0/16 or fd00::/8");
	assert_usable("::/0", "::/0: overlaps ::/127, unspecified and loopback addresses, which a "
		      "vnet cannot use; use private space such as 10.0.0.0/8, 172.16.0.0/12, "
		      "192.168.0.0/16 or fd00::/8");
	assert_usable("169.253.0.0/16", NULL);
	assert_usable("100.64.0.0/10", NULL);
	assert_subnet("fd00::/126", NULL);
	assert_subnet("fd00::/127", "fd00::/127: too small for a vnet; use /126 or larger (IPv4: /30 or larger)");
	assert_subnet("fd00::/128", "fd00::/128: too small for a vnet; use /126 or larger (IPv4: /30 or larger)");

	/* Hand-built prefixes that never went through the parser. */
	p = P("10.0.0.0/24");
	p.plen = 40;
	assert_int_equal(ipam_subnet_check(&p, err, sizeof(err)), CS_EINVAL);
	assert_string_equal(err, "10.0.0.0/40: prefix length 40 is out of range 0-32");
	p.plen = -3;
	assert_int_equal(ipam_subnet_check(&p, err, sizeof(err)), CS_EINVAL);
	assert_string_equal(err, "10.0.0.0/-3: prefix length -3 is out of range 0-32");
	p = P("10.0.0.0/24");
	p.addr.a[3] = 9;
	assert_int_equal(ipam_subnet_check(&p, err, sizeof(err)), CS_EINVAL);
	assert_string_equal(err, "10.0.0.9/24: host bits are set; the network is 10.0.0.0/24");
	p.addr.family = 0;
	assert_int_equal(ipam_subnet_check(&p, err, sizeof(err)), CS_EINVAL);
	assert_string_equal(err, "subnet has no address family; use an IPv4 or IPv6 prefix");
	assert_int_equal(ipam_subnet_check(&p, NULL, 0), CS_EINVAL);
}

static void test_gateway(void **state)
{
	static const char *const cases[][2] = {
		{ "10.0.0.0/24", "10.0.0.1" },
		{ "10.0.0.4/30", "10.0.0.5" },
		{ "0.0.0.0/0", "0.0.0.1" },
		{ "172.16.0.0/12", "172.16.0.1" },
		{ "fd00::/64", "fd00::1" },
		{ "fd00::4/126", "fd00::5" },
		{ "::/0", "::1" },
	};
	struct cs_addr g;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cs_prefix p = P(cases[i][0]);

		memset(&g, 0xee, sizeof(g));
		ipam_gateway(&p, &g);
		assert_addr(&g, cases[i][1]);
		assert_int_equal(g.family, p.addr.family);
		if (g.family == AF_INET)
			for (int j = 4; j < 16; j++)
				assert_int_equal(g.a[j], 0);
	}
}

static void assert_fixed(const char *prefix, const char *addr, const char *want)
{
	struct cs_prefix p = P(prefix);
	struct cs_addr a = A(addr);
	char err[256] = "";
	int r = ipam_check_fixed(&p, &a, err, sizeof(err));

	if (!want) {
		if (r != 0)
			fail_msg("%s in %s: %s", addr, prefix, err);
		return;
	}
	assert_int_equal(r, CS_EINVAL);
	assert_string_equal(err, want);
}

static void test_check_fixed(void **state)
{
	struct cs_prefix p;
	struct cs_addr a;

	(void)state;
	assert_fixed("10.0.0.0/24", "10.0.0.2", NULL);
	assert_fixed("10.0.0.0/24", "10.0.0.10", NULL);
	assert_fixed("10.0.0.0/24", "10.0.0.254", NULL);
	assert_fixed("10.0.0.0/24", "10.0.0.1", "10.0.0.1 is reserved for the vnet gateway of 10.0.0.0/24");
	assert_fixed("10.0.0.0/24", "10.0.0.0", "10.0.0.0 is the network address of 10.0.0.0/24");
	assert_fixed("10.0.0.0/24", "10.0.0.255", "10.0.0.255 is the broadcast address of 10.0.0.0/24");
	assert_fixed("10.0.0.0/24", "10.1.0.5", "10.1.0.5 is outside the subnet 10.0.0.0/24");
	assert_fixed("10.0.0.0/24", "9.255.255.255", "9.255.255.255 is outside the subnet 10.0.0.0/24");
	assert_fixed("10.0.0.0/24", "fd00::5", "fd00::5 is an IPv6 address; the subnet 10.0.0.0/24 is IPv4");
	assert_fixed("fd00::/64", "10.0.0.5", "10.0.0.5 is an IPv4 address; the subnet fd00::/64 is IPv6");
	assert_fixed("10.0.0.0/24", "::ffff:10.0.0.5", "::ffff:10.0.0.5 is an IPv6 address; the subnet 10.0.0.0/24 is IPv4");
	/* /30: only .2 is left. */
	assert_fixed("10.0.0.4/30", "10.0.0.6", NULL);
	assert_fixed("10.0.0.4/30", "10.0.0.4", "10.0.0.4 is the network address of 10.0.0.4/30");
	assert_fixed("10.0.0.4/30", "10.0.0.5", "10.0.0.5 is reserved for the vnet gateway of 10.0.0.4/30");
	assert_fixed("10.0.0.4/30", "10.0.0.7", "10.0.0.7 is the broadcast address of 10.0.0.4/30");
	assert_fixed("10.0.0.4/30", "10.0.0.8", "10.0.0.8 is outside the subnet 10.0.0.4/30");
	/* /31 and /32 are not vnet subnets at all. */
	assert_fixed("10.0.0.0/31", "10.0.0.1", "10.0.0.0/31: too small for a vnet; use /30 or larger (IPv6: /126 or larger)");
	assert_fixed("10.0.0.0/32", "10.0.0.0", "10.0.0.0/32: too small for a vnet; use /30 or larger (IPv6: /126 or larger)");
	/* /0 */
	assert_fixed("0.0.0.0/0", "255.255.255.254", NULL);
	assert_fixed("0.0.0.0/0", "255.255.255.255", "255.255.255.255 is the broadcast address of 0.0.0.0/0");
	assert_fixed("0.0.0.0/0", "0.0.0.1", "0.0.0.1 is reserved for the vnet gateway of 0.0.0.0/0");
	/* IPv6: no broadcast; the network (subnet-router anycast) and the
	 * gateway are kept. */
	assert_fixed("fd00::/64", "fd00::2", NULL);
	assert_fixed("fd00::/64", "fd00::ffff:ffff:ffff:ffff", NULL);
	assert_fixed("fd00::/64", "fd00::", "fd00:: is the network address of fd00::/64");
	assert_fixed("fd00::/64", "fd00::1", "fd00::1 is reserved for the vnet gateway of fd00::/64");
	assert_fixed("fd00::/64", "fd00:0:0:1::5", "fd00:0:0:1::5 is outside the subnet fd00::/64");
	assert_fixed("fd00::/126", "fd00::2", NULL);
	assert_fixed("fd00::/126", "fd00::3", NULL);
	assert_fixed("fd00::/126", "fd00::4", "fd00::4 is outside the subnet fd00::/126");
	assert_fixed("fd00::/127", "fd00::1", "fd00::/127: too small for a vnet; use /126 or larger (IPv4: /30 or larger)");
	assert_fixed("::/0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL);

	p = P("10.0.0.0/24");
	memset(&a, 0, sizeof(a));
	assert_int_equal(ipam_check_fixed(&p, &a, NULL, 0), CS_EINVAL);
}

/* --- allocation ------------------------------------------------------- */

static void assert_alloc(const char *prefix, const char *const *used, size_t n, const char *want)
{
	struct cs_prefix p = P(prefix);
	struct cs_addr *u = calloc(n ? n : 1, sizeof(*u));
	struct cs_addr out;

	assert_non_null(u);
	for (size_t i = 0; i < n; i++)
		u[i] = A(used[i]);
	memset(&out, 0x5a, sizeof(out));
	if (!want) {
		struct cs_addr orig = out;

		assert_int_equal(ipam_alloc(&p, u, n, &out), CS_ENOSPC);
		assert_memory_equal(&out, &orig, sizeof(out));
	} else {
		assert_int_equal(ipam_alloc(&p, u, n, &out), 0);
		assert_addr(&out, want);
		assert_int_equal(out.family, p.addr.family);
	}
	free(u);
}

#define NUSED(x) (sizeof(x) / sizeof((x)[0]))

static void test_alloc_basic(void **state)
{
	static const char *const u1[] = { "10.0.0.2" };
	static const char *const u2[] = { "10.0.0.3", "10.0.0.2" };
	static const char *const gap[] = { "10.0.0.2", "10.0.0.4", "10.0.0.5" };
	static const char *const noise[] = {
		"10.0.0.0", "10.0.0.1", "10.0.0.255", "10.0.1.2", "192.168.0.2",
		"fd00::2", "::ffff:10.0.0.2", "0.0.0.2", "10.0.0.2", "10.0.0.2",
		"10.0.0.3", "10.0.0.3",
	};

	(void)state;
	assert_alloc("10.0.0.0/24", NULL, 0, "10.0.0.2");
	assert_alloc("10.0.0.0/24", u1, NUSED(u1), "10.0.0.3");
	assert_alloc("10.0.0.0/24", u2, NUSED(u2), "10.0.0.4");
	/* A freed address is the lowest free one and comes back first. */
	assert_alloc("10.0.0.0/24", gap, NUSED(gap), "10.0.0.3");
	/* Other families, other subnets, reserved addresses and duplicates
	 * are ignored. */
	assert_alloc("10.0.0.0/24", noise, NUSED(noise), "10.0.0.4");
	assert_alloc("0.0.0.0/0", NULL, 0, "0.0.0.2");
	assert_alloc("fd00::/64", NULL, 0, "fd00::2");
	assert_alloc("fd00::/64", noise, NUSED(noise), "fd00::3");
	assert_alloc("::/0", NULL, 0, "::2");
	/* Bytes past an IPv4 address in used[] are ignored. */
	{
		struct cs_prefix p = P("10.0.0.0/24");
		struct cs_addr u[2] = { A("10.0.0.2"), A("10.0.0.3") }, out;

		memset(u[0].a + 4, 0xff, 12);
		memset(u[1].a + 4, 0x11, 12);
		assert_int_equal(ipam_alloc(&p, u, 2, &out), 0);
		assert_addr(&out, "10.0.0.4");
		for (int i = 4; i < 16; i++)
			assert_int_equal(out.a[i], 0);
	}
}

static void test_alloc_small(void **state)
{
	static const char *const u30[] = { "10.0.0.6" };
	static const char *const u126a[] = { "fd00::2" };
	static const char *const u126b[] = { "fd00::3", "fd00::2" };
	struct cs_prefix p;
	struct cs_addr out;

	(void)state;
	/* A /30 holds exactly one assignable address. */
	assert_alloc("10.0.0.4/30", NULL, 0, "10.0.0.6");
	assert_alloc("10.0.0.4/30", u30, NUSED(u30), NULL);
	/* A /126 has no broadcast: two. */
	assert_alloc("fd00::/126", NULL, 0, "fd00::2");
	assert_alloc("fd00::/126", u126a, NUSED(u126a), "fd00::3");
	assert_alloc("fd00::/126", u126b, NUSED(u126b), NULL);
	/* Refused subnets are invalid, not full. */
	p = P("10.0.0.0/31");
	assert_int_equal(ipam_alloc(&p, NULL, 0, &out), CS_EINVAL);
	p = P("10.0.0.0/32");
	assert_int_equal(ipam_alloc(&p, NULL, 0, &out), CS_EINVAL);
	p = P("fd00::/127");
	assert_int_equal(ipam_alloc(&p, NULL, 0, &out), CS_EINVAL);
	p = P("fd00::/128");
	assert_int_equal(ipam_alloc(&p, NULL, 0, &out), CS_EINVAL);
	p = P("10.0.0.0/24");
	p.addr.a[3] = 1;
	assert_int_equal(ipam_alloc(&p, NULL, 0, &out), CS_EINVAL);
}

/* Fill a whole /24 one allocation at a time, free some, refill. */
static void test_alloc_fill_and_reuse(void **state)
{
	struct cs_prefix p = P("10.9.8.0/24");
	struct cs_addr used[256], out;
	size_t n = 0;
	char buf[CS_ADDRSTRLEN];

	(void)state;
	for (int i = 2; i <= 254; i++) {
		assert_int_equal(ipam_alloc(&p, used, n, &out), 0);
		snprintf(buf, sizeof(buf), "10.9.8.%d", i);
		assert_addr(&out, buf);
		used[n++] = out;
	}
	assert_int_equal(n, 253);
	assert_int_equal(ipam_alloc(&p, used, n, &out), CS_ENOSPC);
	/* Free .100 and .7 (swap-remove, so the list is unsorted). */
	for (size_t i = 0; i < n; i++) {
		if (used[i].a[3] == 100 || used[i].a[3] == 7)
			used[i--] = used[--n];
	}
	assert_int_equal(ipam_alloc(&p, used, n, &out), 0);
	assert_addr(&out, "10.9.8.7");
	used[n++] = out;
	assert_int_equal(ipam_alloc(&p, used, n, &out), 0);
	assert_addr(&out, "10.9.8.100");
	used[n++] = out;
	assert_int_equal(ipam_alloc(&p, used, n, &out), CS_ENOSPC);
	/* The last host (.254) freed: it is found past everything else. */
	for (size_t i = 0; i < n; i++)
		if (used[i].a[3] == 254)
			used[i] = used[--n];
	assert_int_equal(ipam_alloc(&p, used, n, &out), 0);
	assert_addr(&out, "10.9.8.254");
}

static void shuffle(struct cs_addr *a, size_t n, unsigned *seed)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)rand_r(seed) % i;
		struct cs_addr t = a[i - 1];

		a[i - 1] = a[j];
		a[j] = t;
	}
}

/* 100000 used addresses in a /8, in random order, with noise. */
static void test_alloc_huge_v4(void **state)
{
	const size_t n = 100000;
	struct cs_prefix p = P("10.0.0.0/8");
	struct cs_addr *u = calloc(n + 10, sizeof(*u)), out;
	unsigned seed = 42;
	size_t k = 0;

	(void)state;
	assert_non_null(u);
	/* n hosts from 2 up, skipping 77777: 2..100002 with one hole. */
	for (uint32_t h = 2; k < n; h++) {
		if (h == 77777)
			continue;
		u[k].family = AF_INET;
		u[k].a[0] = 10;
		u[k].a[1] = (uint8_t)(h >> 16);
		u[k].a[2] = (uint8_t)(h >> 8);
		u[k].a[3] = (uint8_t)h;
		k++;
	}
	u[k++] = A("fd00::2");
	u[k++] = A("11.0.0.2");
	u[k++] = A("10.0.0.2");
	shuffle(u, k, &seed);
	assert_int_equal(ipam_alloc(&p, u, k, &out), 0);
	assert_addr(&out, "10.1.47.209"); /* 77777 = 0x012fd1 */

	/* Now fill the hole: the next is just past the block. */
	u[k++] = out;
	assert_int_equal(ipam_alloc(&p, u, k, &out), 0);
	/* 2..100002 all used: next is 100003 = 0x0186a3. */
	assert_addr(&out, "10.1.134.163");
	free(u);
}

/* A /16 filled entirely: ENOSPC, found without quadratic work. */
static void test_alloc_full_v4_16(void **state)
{
	struct cs_prefix p = P("172.16.0.0/16");
	const size_t n = 65536;
	struct cs_addr *u = calloc(n, sizeof(*u)), out;
	unsigned seed = 7;

	(void)state;
	assert_non_null(u);
	/* Every address including network, gateway and broadcast. */
	for (size_t h = 0; h < n; h++) {
		u[h].family = AF_INET;
		u[h].a[0] = 172;
		u[h].a[1] = 16;
		u[h].a[2] = (uint8_t)(h >> 8);
		u[h].a[3] = (uint8_t)h;
	}
	shuffle(u, n, &seed);
	assert_int_equal(ipam_alloc(&p, u, n, &out), CS_ENOSPC);
	/* Drop the broadcast: still full. */
	for (size_t i = 0; i < n; i++)
		if (u[i].a[2] == 255 && u[i].a[3] == 255)
			u[i] = u[n - 1];
	assert_int_equal(ipam_alloc(&p, u, n - 1, &out), CS_ENOSPC);
	/* Drop 172.16.255.254: that is the one left. */
	for (size_t i = 0; i < n - 1; i++)
		if (u[i].a[2] == 255 && u[i].a[3] == 254)
			u[i] = u[n - 2];
	assert_int_equal(ipam_alloc(&p, u, n - 2, &out), 0);
	assert_addr(&out, "172.16.255.254");
	free(u);
}

/* IPv6: a /64 and a /0 are never walked; carries cross byte boundaries. */
static void test_alloc_v6(void **state)
{
	const size_t n = 100000;
	struct cs_prefix p = P("fd00:1:2:3::/64");
	struct cs_addr *u = calloc(n, sizeof(*u)), out;
	unsigned seed = 3;

	(void)state;
	assert_non_null(u);
	for (size_t i = 0; i < n; i++) {
		uint32_t h = (uint32_t)i + 2;

		u[i] = p.addr;
		u[i].a[13] = (uint8_t)(h >> 16);
		u[i].a[14] = (uint8_t)(h >> 8);
		u[i].a[15] = (uint8_t)h;
	}
	shuffle(u, n, &seed);
	assert_int_equal(ipam_alloc(&p, u, n, &out), 0);
	assert_addr(&out, "fd00:1:2:3::1:86a2");
	free(u);
}

static void test_alloc_v6_edges(void **state)
{
	static const char *const carry[] = { "fd00::2", "fd00::3" };
	static const char *const tail126[] = { "fd00::fffe", "fd00::ffff" };
	static const char *const top[] = {
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe",
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffd",
	};
	struct cs_prefix p;
	struct cs_addr u[2], out;

	(void)state;
	assert_alloc("fd00::/126", carry, NUSED(carry), NULL);
	assert_alloc("fd00::fffc/126", tail126, NUSED(tail126), NULL);
	assert_alloc("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffc/126", top, NUSED(top), NULL);
	assert_alloc("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffc/126", top + 1, 1, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe");

	/* Carry from byte 15 into byte 14 and beyond. */
	p = P("fd00::/112");
	u[0] = A("fd00::2");
	u[1] = A("fd00::3");
	assert_int_equal(ipam_alloc(&p, u, 2, &out), 0);
	assert_addr(&out, "fd00::4");
	p = P("fd00::/64");
	u[0] = A("fd00::2");
	assert_int_equal(ipam_alloc(&p, u, 1, &out), 0);
	assert_addr(&out, "fd00::3");
	/* IPv4 /0: the broadcast is never given. */
	p = P("0.0.0.0/0");
	u[0] = A("0.0.0.2");
	u[1] = A("0.0.0.3");
	assert_int_equal(ipam_alloc(&p, u, 2, &out), 0);
	assert_addr(&out, "0.0.0.4");
}

/* Carries cross bytes in IPv4 too. */
static void test_alloc_carry_v4(void **state)
{
	struct cs_prefix p = P("10.0.0.0/16");
	struct cs_addr *u = calloc(254, sizeof(*u)), out;

	(void)state;
	assert_non_null(u);
	for (int i = 0; i < 254; i++)
		u[i] = A("10.0.0.0"), u[i].a[3] = (uint8_t)(i + 2);
	/* .2 .. .255 used: next is 10.0.1.0, which in a /16 is a host. */
	assert_int_equal(ipam_alloc(&p, u, 254, &out), 0);
	assert_addr(&out, "10.0.1.0");
	free(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_parse_v4),
		cmocka_unit_test(test_addr_parse_v6),
		cmocka_unit_test(test_addr_parse_bad),
		cmocka_unit_test(test_addr_format_invalid),
		cmocka_unit_test(test_addr_cmp),
		cmocka_unit_test(test_prefix_parse_ok),
		cmocka_unit_test(test_prefix_parse_errors),
		cmocka_unit_test(test_prefix_contains),
		cmocka_unit_test(test_prefix_overlaps),
		cmocka_unit_test(test_subnet_check),
		cmocka_unit_test(test_gateway),
		cmocka_unit_test(test_check_fixed),
		cmocka_unit_test(test_alloc_basic),
		cmocka_unit_test(test_alloc_small),
		cmocka_unit_test(test_alloc_fill_and_reuse),
		cmocka_unit_test(test_alloc_huge_v4),
		cmocka_unit_test(test_alloc_full_v4_16),
		cmocka_unit_test(test_alloc_v6),
		cmocka_unit_test(test_alloc_v6_edges),
		cmocka_unit_test(test_alloc_carry_v4),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
