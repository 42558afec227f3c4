/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cs/cs.h>
#include "resources/units.h"

#define N(x) (sizeof(x) / sizeof((x)[0]))

struct ok_case {
	const char *s;
	uint64_t v;
};

struct err_case {
	const char *s;
	const char *msg;
};

static void check_ok(int (*parse)(const char *, uint64_t *, char *, size_t),
		     const struct ok_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t v = 0;
		char err[256] = "";

		if (parse(c[i].s, &v, err, sizeof(err)) != 0)
			fail_msg("\"%s\" refused: %s", c[i].s, err);
		if (v != c[i].v)
			fail_msg("\"%s\" gave %llu, want %llu", c[i].s,
				 (unsigned long long)v, (unsigned long long)c[i].v);
	}
}

static void check_err(int (*parse)(const char *, uint64_t *, char *, size_t),
		      const struct err_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t v = 12345;
		char err[256] = "";

		if (parse(c[i].s, &v, err, sizeof(err)) != CS_EINVAL)
			fail_msg("\"%s\" accepted as %llu", c[i].s, (unsigned long long)v);
		/* A failed parse leaves the output alone. */
		assert_int_equal(v, 12345);
		if (strcmp(err, c[i].msg))
			fail_msg("\"%s\": got  %s\n             want %s", c[i].s, err, c[i].msg);
	}
}

static void test_rate_ok(void **state)
{
	static const struct ok_case c[] = {
		{ "1bit", 1 },
		{ "100bit", 100 },
		{ "1kbit", 1000 },
		{ "100mbit", 100000000 },
		{ "1gbit", 1000000000 },
		{ "10gbit", 10000000000ULL },
		{ "1tbit", 1000000000000ULL },
		{ "5MBIT", 5000000 },
		{ "5Mbit", 5000000 },
		{ "5mBiT", 5000000 },
		{ "7KBIT", 7000 },
		{ "2GBit", 2000000000 },
		{ "3TBIT", 3000000000000ULL },
		{ "1.5mbit", 1500000 },
		{ "0.5kbit", 500 },
		{ "0.001kbit", 1 },
		{ "0.0015kbit", 1 },        /* 1.5 bits: rounded down */
		{ "1.9bit", 1 },
		{ "2.999999bit", 2 },
		{ "0.000001mbit", 1 },
		{ "1.000000000000000000000000001kbit", 1000 },
		{ "0.1234567891234tbit", 123456789123 },
		{ "1.00mbit", 1000000 },
		{ "0001mbit", 1000000 },
		{ "18446744073709551615bit", UINT64_MAX },
		{ "18446744073709551.615kbit", UINT64_MAX },
		{ "18446744073709.551615mbit", UINT64_MAX },
		{ "18446744073.709551615gbit", UINT64_MAX },
		{ "18446744.073709551615tbit", UINT64_MAX },
		/* Extra fraction digits below one bit are dropped. */
		{ "18446744073709.5516159999mbit", UINT64_MAX },
		{ "18446744073709mbit", 18446744073709000000ULL },
		{ "18446744073gbit", 18446744073000000000ULL },
		{ "18446744tbit", 18446744000000000000ULL },
	};

	(void)state;
	check_ok(cs_rate_parse, c, N(c));
}

static void test_rate_errors(void **state)
{
	static const struct err_case c[] = {
		{ "", "empty rate; write a number and a unit like 100mbit" },
		{ "100", "\"100\" has no unit; write 100mbit, 100kbit or 100bit" },
		{ "1.5", "\"1.5\" has no unit; write 1.5mbit, 1.5kbit or 1.5bit" },
		/* the hint names only what would be taken: never 0mbit or 0.5bit */
		{ "0", "\"0\" has no unit, and the rate must be greater than zero; write a number "
		       "and a unit like 100mbit" },
		{ "0.0", "\"0.0\" has no unit, and the rate must be greater than zero; write a "
			 "number and a unit like 100mbit" },
		{ "0.5", "\"0.5\" has no unit; write 0.5mbit or 0.5kbit" },
		{ "0.0005", "\"0.0005\" has no unit; write 0.0005mbit" },
		{ "20000000", "\"20000000\" has no unit; write 20000000mbit, 20000000kbit or "
			      "20000000bit" },
		{ "99999999999999999999", "\"99999999999999999999\" has no unit, and no unit would "
					  "make it a rate that is taken; write a number and a unit "
					  "like 100mbit" },
		{ "100mbps", "\"100mbps\": unknown unit \"mbps\"; use bit, kbit, mbit, gbit or tbit" },
		{ "100bps", "\"100bps\": unknown unit \"bps\"; use bit, kbit, mbit, gbit or tbit" },
		{ "100m", "\"100m\": unknown unit \"m\"; use bit, kbit, mbit, gbit or tbit" },
		{ "100kb", "\"100kb\": unknown unit \"kb\"; use bit, kbit, mbit, gbit or tbit" },
		{ "100mbitx", "\"100mbitx\": unknown unit \"mbitx\"; use bit, kbit, mbit, gbit or tbit" },
		{ "100mbit5", "\"100mbit5\": unknown unit \"mbit5\"; use bit, kbit, mbit, gbit or tbit" },
		{ "100mbit/s", "\"100mbit/s\": unknown unit \"mbit/s\"; use bit, kbit, mbit, gbit or tbit" },
		{ "1e6bit", "\"1e6bit\": unknown unit \"e6bit\"; use bit, kbit, mbit, gbit or tbit" },
		{ "1,5mbit", "\"1,5mbit\": unknown unit \",5mbit\"; use bit, kbit, mbit, gbit or tbit" },
		{ "100mbitmbit", "\"100mbitmbit\": unknown unit \"mbitmbit\"; use bit, kbit, mbit, gbit or tbit" },
		{ "mbit", "\"mbit\": no number; write a number and a unit like 100mbit or 0.5mbit" },
		{ ".5mbit", "\".5mbit\": no number; write a number and a unit like 100mbit or 0.5mbit" },
		{ "+5mbit", "\"+5mbit\": no number; write a number and a unit like 100mbit or 0.5mbit" },
		{ "0x10mbit", "\"0x10mbit\": unknown unit \"x10mbit\"; use bit, kbit, mbit, gbit or tbit" },
		{ "-5mbit", "\"-5mbit\": negative rate; the rate must be greater than zero" },
		{ "-0mbit", "\"-0mbit\": negative rate; the rate must be greater than zero" },
		{ "0mbit", "\"0mbit\": rate must be greater than zero" },
		{ "0bit", "\"0bit\": rate must be greater than zero" },
		{ "0.0mbit", "\"0.0mbit\": rate must be greater than zero (this is less than 1bit)" },
		{ "0.5bit", "\"0.5bit\": rate must be greater than zero (this is less than 1bit)" },
		{ "0.0009kbit", "\"0.0009kbit\": rate must be greater than zero (this is less than 1bit)" },
		{ "1.mbit", "\"1.mbit\": a digit must follow the decimal point" },
		{ "1.", "\"1.\": a digit must follow the decimal point" },
		{ "1.2.3mbit", "\"1.2.3mbit\": more than one decimal point" },
		{ "1..2mbit", "\"1..2mbit\": a digit must follow the decimal point" },
		{ "100 mbit", "\"100 mbit\": spaces are not allowed; write the number and the unit together, like 100mbit" },
		{ " 100mbit", "\" 100mbit\": spaces are not allowed; write the number and the unit together, like 100mbit" },
		{ "100mbit ", "\"100mbit \": spaces are not allowed; write the number and the unit together, like 100mbit" },
		{ "100mbit\n", "\"100mbit\n\": spaces are not allowed; write the number and the unit together, like 100mbit" },
		{ "1 00mbit", "\"1 00mbit\": spaces are not allowed; write the number and the unit together, like 100mbit" },
		{ "18446744073709551616bit", "\"18446744073709551616bit\": too large; the largest rate is 18446744073709551615bit" },
		{ "18446744073710gbit", "\"18446744073710gbit\": too large; the largest rate is 18446744073709551615bit" },
		{ "18446744073709gbit", "\"18446744073709gbit\": too large; the largest rate is 18446744073709551615bit" },
		{ "18446744073710mbit", "\"18446744073710mbit\": too large; the largest rate is 18446744073709551615bit" },
		{ "18446744074gbit", "\"18446744074gbit\": too large; the largest rate is 18446744073709551615bit" },
		{ "18446744073709.551616mbit", "\"18446744073709.551616mbit\": too large; the largest rate is 18446744073709551615bit" },
		{ "18446744073709551615.9kbit", "\"18446744073709551615.9kbit\": too large; the largest rate is 18446744073709551615bit" },
		{ "99999999999999999999999999999bit", "\"99999999999999999999999999999bit\": too large; the largest rate is 18446744073709551615bit" },
		{ "18446745tbit", "\"18446745tbit\": too large; the largest rate is 18446744073709551615bit" },
		{ "184467440737095516150bit", "\"184467440737095516150bit\": too large; the largest rate is 18446744073709551615bit" },
	};
	uint64_t v;
	char err[16];

	(void)state;
	check_err(cs_rate_parse, c, N(c));
	assert_int_equal(cs_rate_parse(NULL, &v, err, sizeof(err)), CS_EINVAL);
	assert_int_equal(cs_rate_parse("100", &v, NULL, 0), CS_EINVAL);
	/* Messages are truncated to the buffer. */
	assert_int_equal(cs_rate_parse("100", &v, err, sizeof(err)), CS_EINVAL);
	assert_string_equal(err, "\"100\" has no un");
}

static void test_size_ok(void **state)
{
	static const struct ok_case c[] = {
		{ "1b", 1 },
		{ "1000b", 1000 },
		{ "64kb", 65536 },
		{ "1kb", 1024 },
		{ "1mb", 1048576 },
		{ "1gb", 1073741824 },
		{ "64KB", 65536 },
		{ "64Kb", 65536 },
		{ "2MB", 2097152 },
		{ "1Gb", 1073741824 },
		{ "7B", 7 },
		{ "1.5kb", 1536 },
		{ "0.5mb", 524288 },
		{ "0.001kb", 1 },           /* 1.024 bytes */
		{ "0.1kb", 102 },           /* 102.4 bytes */
		{ "1.9b", 1 },
		{ "17179869183.999999999gb", 18446744073709551614ULL },
		{ "17179869183gb", 18446744072635809792ULL },
		{ "18446744073709551615b", UINT64_MAX },
		{ "17592186044415.999999mb", 18446744073709551614ULL },
		{ "16gb", 17179869184ULL },
	};

	(void)state;
	check_ok(cs_size_parse, c, N(c));
}

static void test_size_errors(void **state)
{
	static const struct err_case c[] = {
		{ "", "empty size; write a number and a unit like 100kb" },
		{ "64", "\"64\" has no unit; write 64kb, 64mb or 64b" },
		{ "0.5", "\"0.5\" has no unit; write 0.5kb or 0.5mb" },
		{ "0", "\"0\" has no unit, and the size must be greater than zero; write a number "
		       "and a unit like 100kb" },
		{ "64kbit", "\"64kbit\": unknown unit \"kbit\"; use b, kb, mb or gb" },
		{ "64k", "\"64k\": unknown unit \"k\"; use b, kb, mb or gb" },
		{ "64kib", "\"64kib\": unknown unit \"kib\"; use b, kb, mb or gb" },
		{ "1tb", "\"1tb\": unknown unit \"tb\"; use b, kb, mb or gb" },
		{ "64bytes", "\"64bytes\": unknown unit \"bytes\"; use b, kb, mb or gb" },
		{ "kb", "\"kb\": no number; write a number and a unit like 100kb or 0.5kb" },
		{ "-1kb", "\"-1kb\": negative size; the size must be greater than zero" },
		{ "0kb", "\"0kb\": size must be greater than zero" },
		{ "0.0001kb", "\"0.0001kb\": size must be greater than zero (this is less than 1b)" },
		{ "1..5kb", "\"1..5kb\": a digit must follow the decimal point" },
		{ "1.5.kb", "\"1.5.kb\": more than one decimal point" },
		{ "64 kb", "\"64 kb\": spaces are not allowed; write the number and the unit together, like 100kb" },
		{ "\t64kb", "\"\t64kb\": spaces are not allowed; write the number and the unit together, like 100kb" },
		{ "18446744073709551616b", "\"18446744073709551616b\": too large; the largest size is 18446744073709551615b" },
		{ "17179869184gb", "\"17179869184gb\": too large; the largest size is 18446744073709551615b" },
		{ "18014398509481984kb", "\"18014398509481984kb\": too large; the largest size is 18446744073709551615b" },
	};

	(void)state;
	check_err(cs_size_parse, c, N(c));
	assert_int_equal(cs_size_parse(NULL, NULL, NULL, 0), CS_EINVAL);
}

static void test_rate_format(void **state)
{
	static const struct ok_case c[] = {
		{ "100mbit", 100000000 },
		{ "1500bit", 1500 },
		{ "1bit", 1 },
		{ "999bit", 999 },
		{ "1kbit", 1000 },
		{ "1001bit", 1001 },
		{ "1500kbit", 1500000 },
		{ "1gbit", 1000000000 },
		{ "1tbit", 1000000000000ULL },
		{ "1000tbit", 1000000000000000ULL },
		{ "18446744073709551615bit", UINT64_MAX },
		{ "18446744tbit", 18446744000000000000ULL },
		{ "0bit", 0 },
	};
	char buf[32], small[4];

	(void)state;
	for (size_t i = 0; i < N(c); i++)
		assert_string_equal(cs_rate_format(c[i].v, buf, sizeof(buf)), c[i].s);
	/* Truncated, still terminated. */
	assert_ptr_equal(cs_rate_format(100000000, small, sizeof(small)), small);
	assert_string_equal(small, "100");
}

static void test_size_format(void **state)
{
	static const struct ok_case c[] = {
		{ "64kb", 65536 },
		{ "1000b", 1000 },
		{ "1b", 1 },
		{ "1kb", 1024 },
		{ "1025b", 1025 },
		{ "1536b", 1536 },
		{ "3kb", 3072 },
		{ "1mb", 1048576 },
		{ "1536kb", 1572864 },
		{ "1gb", 1073741824 },
		{ "1024gb", 1099511627776ULL },
		{ "18446744073709551615b", UINT64_MAX },
		{ "17179869183gb", 18446744072635809792ULL },
		{ "0b", 0 },
	};
	char buf[32];

	(void)state;
	for (size_t i = 0; i < N(c); i++)
		assert_string_equal(cs_size_format(c[i].v, buf, sizeof(buf)), c[i].s);
}

/* parse(format(x)) == x over edges, powers and a pseudo-random sweep. */
static void test_round_trip(void **state)
{
	uint64_t xs[4096];
	size_t n = 0;
	uint64_t r = 0x9e3779b97f4a7c15ULL;
	char buf[32], err[256];

	(void)state;
	xs[n++] = 1;
	xs[n++] = UINT64_MAX;
	xs[n++] = UINT64_MAX - 1;
	for (uint64_t p = 1; p && n < 200; p *= 10) {
		xs[n++] = p;
		xs[n++] = p + 1;
		xs[n++] = p * 3;
		if (p > 1)
			xs[n++] = p - 1;
	}
	for (int s = 0; s < 64; s++) {
		xs[n++] = 1ULL << s;
		xs[n++] = (1ULL << s) + 1;
		if (s)
			xs[n++] = (1ULL << s) - 1;
	}
	while (n < N(xs)) {
		/* xorshift64: a mix of magnitudes via shifting */
		r ^= r << 13;
		r ^= r >> 7;
		r ^= r << 17;
		xs[n] = r >> (r & 63);
		if (!xs[n])
			xs[n] = 1;
		/* Make some of them multiples of the units. */
		if (n % 3 == 0 && xs[n] >= 1000000)
			xs[n] -= xs[n] % 1000000;
		if (n % 5 == 0 && xs[n] >= 1048576)
			xs[n] -= xs[n] % 1048576;
		n++;
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t v = 0;

		if (!xs[i])
			continue;
		cs_rate_format(xs[i], buf, sizeof(buf));
		if (cs_rate_parse(buf, &v, err, sizeof(err)) || v != xs[i])
			fail_msg("rate %llu -> %s -> %llu (%s)", (unsigned long long)xs[i], buf,
				 (unsigned long long)v, err);
		cs_size_format(xs[i], buf, sizeof(buf));
		if (cs_size_parse(buf, &v, err, sizeof(err)) || v != xs[i])
			fail_msg("size %llu -> %s -> %llu (%s)", (unsigned long long)xs[i], buf,
				 (unsigned long long)v, err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rate_ok),
		cmocka_unit_test(test_rate_errors),
		cmocka_unit_test(test_size_ok),
		cmocka_unit_test(test_size_errors),
		cmocka_unit_test(test_rate_format),
		cmocka_unit_test(test_size_format),
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
