/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The user backend's switch logic: frames, rules with flows, pacing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "vnet/user/swlogic.h"

/* An Ethernet + IPv4 + TCP/UDP frame from @src:@sp to @dst:@dp. */
static size_t frame(uint8_t *f, const char *src, const char *dst, uint8_t proto, uint16_t sp,
		    uint16_t dp, uint8_t tcpflags)
{
	memset(f, 0, 128);
	f[12] = 0x08;
	f[14] = 0x45;
	f[23] = proto;
	inet_pton(AF_INET, src, f + 26);
	inet_pton(AF_INET, dst, f + 30);
	f[34] = (uint8_t)(sp >> 8);
	f[35] = (uint8_t)sp;
	f[36] = (uint8_t)(dp >> 8);
	f[37] = (uint8_t)dp;
	f[47] = tcpflags;
	return 14 + 20 + 20;
}

static void test_parse(void **state)
{
	uint8_t f[128];
	struct usw_pkt pk;
	size_t n = frame(f, "10.0.0.2", "10.0.0.3", 6, 40000, 80, 0x02);

	assert_true(usw_parse(f, n, &pk));
	assert_int_equal(pk.proto, 6);
	assert_int_equal(pk.sport, 40000);
	assert_int_equal(pk.dport, 80);
	assert_true(pk.tcp_syn_only);
	assert_int_equal(pk.dst, inet_addr("10.0.0.3"));
	/* too short, and IPv4 with a header length below 20 */
	assert_false(usw_parse(f, 10, &pk));
	f[14] = 0x44;
	assert_false(usw_parse(f, n, &pk));
}

static void test_rules_first_match(void **state)
{
	uint8_t f[128];
	struct usw_pkt pk;
	struct us_rule r[2] = {
		{ .action = US_FW_DENY, .proto = 6, .port_lo = 22, .port_hi = 22 },
		{ .action = US_FW_ALLOW, .proto = 6, .plen = 24, .src4 = inet_addr("10.0.0.0"),
		  .port_lo = 1, .port_hi = 1024 },
	};

	usw_parse(f, frame(f, "10.0.0.2", "10.0.0.3", 6, 40000, 80, 2), &pk);
	assert_int_equal(usw_fw_eval(r, 2, US_FW_DENY, &pk), US_FW_ALLOW);
	usw_parse(f, frame(f, "10.0.0.2", "10.0.0.3", 6, 40000, 22, 2), &pk);
	assert_int_equal(usw_fw_eval(r, 2, US_FW_ALLOW, &pk), US_FW_DENY);
	/* another source, another protocol, a port out of range: the default */
	usw_parse(f, frame(f, "10.1.0.2", "10.0.0.3", 6, 40000, 80, 2), &pk);
	assert_int_equal(usw_fw_eval(r, 2, US_FW_DENY, &pk), US_FW_DENY);
	usw_parse(f, frame(f, "10.0.0.2", "10.0.0.3", 17, 40000, 80, 0), &pk);
	assert_int_equal(usw_fw_eval(r, 2, US_FW_DENY, &pk), US_FW_DENY);
	usw_parse(f, frame(f, "10.0.0.2", "10.0.0.3", 6, 40000, 2000, 2), &pk);
	assert_int_equal(usw_fw_eval(r, 2, US_FW_DENY, &pk), US_FW_DENY);
}

static void test_flows(void **state)
{
	struct usw_flows *fl = calloc(1, sizeof(*fl));
	uint8_t f[128];
	struct usw_pkt out, back, other;

	usw_parse(f, frame(f, "10.0.0.2", "10.0.0.3", 6, 40000, 80, 2), &out);
	usw_parse(f, frame(f, "10.0.0.3", "10.0.0.2", 6, 80, 40000, 0x12), &back);
	usw_parse(f, frame(f, "10.0.0.3", "10.0.0.2", 6, 81, 40000, 0x12), &other);
	assert_false(usw_flow_known(fl, &back, 1));
	usw_flow_note(fl, &out, 1);
	/* the reply belongs to the flow; another port does not */
	assert_true(usw_flow_known(fl, &back, 2));
	assert_false(usw_flow_known(fl, &other, 2));
	/* idle for longer than 600 s: forgotten */
	assert_false(usw_flow_known(fl, &back, 2 + 601ULL * 1000000000ULL));
	free(fl);
}

static void test_bucket(void **state)
{
	struct usw_tb tb = { 0 };
	uint64_t t = 1000000000ULL, sent = 0;

	/* 1 MB/s: over 10 s of 1500-byte frames offered every 100 us, about
	 * 10 MB pass (plus the first burst) */
	usw_tb_set(&tb, 1000000, 0, t);
	assert_int_equal(tb.burst, 20000);
	for (uint64_t now = t; now < t + 10000000000ULL; now += 100000)
		if (usw_tb_take(&tb, 1500, now) == 0)
			sent += 1500;
	assert_true(sent >= 10000000 && sent <= 10030000);
	/* empty: the wait says when the next frame may go */
	usw_tb_take(&tb, 1500, t + 10000000000ULL);
	uint64_t w = usw_tb_take(&tb, 1500, t + 10000000000ULL);
	assert_true(w > 0 && w <= 1500001);
	/* no rate: unlimited */
	usw_tb_set(&tb, 0, 0, t);
	assert_int_equal(usw_tb_take(&tb, 65535, t), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_rules_first_match),
		cmocka_unit_test(test_flows),
		cmocka_unit_test(test_bucket),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
