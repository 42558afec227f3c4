/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cs/cs.h>
#include "resources/admission.h"

#define KBIT 1000ULL
#define MBIT 1000000ULL
#define GBIT 1000000000ULL
#define N(x) (sizeof(x) / sizeof((x)[0]))

static char err[512];

static struct admission_resv R(const char *id, uint64_t rate)
{
	return (struct admission_resv){ .id = id, .rate = rate, .cls = ADMISSION_BULK };
}

static int check(const struct admission_pool *p, const struct admission_resv *cur, size_t n,
		 struct admission_resv req, struct admission_usage *u)
{
	err[0] = '\0';
	return admission_check(p, cur, n, &req, u, err, sizeof(err));
}

#define assert_msg(want) do { \
	if (strcmp(err, (want))) \
		fail_msg("message\n got  %s\n want %s", err, (want)); \
} while (0)

static void test_exactly_fits(void **state)
{
	struct admission_pool p = { .name = "vnet acme/blue", .capacity = 100 * MBIT };
	struct admission_resv cur[] = { R("acme/blue/a", 30 * MBIT), R("acme/blue/b", 50 * MBIT) };
	struct admission_usage u;

	assert_int_equal(check(&p, cur, N(cur), R("acme/blue/c", 20 * MBIT), &u), 0);
	assert_int_equal(u.usable, 100 * MBIT);
	assert_int_equal(u.reserved, 80 * MBIT);
	assert_int_equal(u.free, 20 * MBIT);
	assert_int_equal(u.held, 0);
	assert_int_equal(check(&p, cur, N(cur), R("acme/blue/c", 20 * MBIT + 1), &u), CS_EADMIT);
	assert_msg("vnet acme/blue: 20000001bit requested, 20mbit free of 100mbit "
		   "(capacity 100mbit, headroom 0%)");
	/* the whole pool to one, when empty; one bit more never */
	assert_int_equal(check(&p, NULL, 0, R("x", 100 * MBIT), NULL), 0);
	assert_int_equal(check(&p, NULL, 0, R("x", 100 * MBIT + 1), NULL), CS_EADMIT);
	/* no usage wanted, no message wanted */
	assert_int_equal(admission_check(&p, cur, N(cur), &cur[0], NULL, NULL, 0), 0);
}

static void test_headroom(void **state)
{
	struct admission_pool p = { .name = "vnet acme/blue", .capacity = GBIT, .headroom = 0.1 };
	struct admission_resv cur[] = { R("acme/blue/a", 880 * MBIT) };
	struct admission_usage u;

	assert_int_equal(admission_usable(&p), 900 * MBIT);
	assert_int_equal(check(&p, cur, 1, R("acme/blue/b", 50 * MBIT), &u), CS_EADMIT);
	assert_msg("vnet acme/blue: 50mbit requested, 20mbit free of 900mbit "
		   "(capacity 1gbit, headroom 10%)");
	assert_int_equal(u.headroom_ppm, 100000);
	assert_int_equal(check(&p, cur, 1, R("acme/blue/b", 20 * MBIT), NULL), 0);
	assert_int_equal(check(&p, cur, 1, R("acme/blue/b", 20 * MBIT + 1), NULL), CS_EADMIT);

	p.headroom = 0.125;
	assert_int_equal(check(&p, cur, 1, R("acme/blue/b", 50 * MBIT), &u), CS_EADMIT);
	assert_msg("vnet acme/blue: 50mbit requested, 0bit free of 875mbit "
		   "(capacity 1gbit, headroom 12.5%)");
	p.headroom = 0.000001;
	assert_int_equal(admission_usable(&p), GBIT - 1000);
	/* just below 1 keeps a millionth, never nothing at all */
	p.headroom = 0.9999999;
	assert_int_equal(admission_usable(&p), 1000);

	/* out of range, and unshaped pools */
	p.headroom = 1.0;
	assert_int_equal(check(&p, NULL, 0, R("x", 1), NULL), CS_EINVAL);
	assert_non_null(strstr(err, "headroom 1 is not in [0, 1)"));
	assert_int_equal(admission_usable(&p), 0);
	p.headroom = -0.01;
	assert_int_equal(check(&p, NULL, 0, R("x", 1), NULL), CS_EINVAL);
	p.headroom = NAN;
	assert_int_equal(check(&p, NULL, 0, R("x", 1), NULL), CS_EINVAL);
	p.headroom = 0;
	p.capacity = 0;
	assert_int_equal(check(&p, NULL, 0, R("x", 1), NULL), CS_EINVAL);
	assert_msg("vnet acme/blue has no capacity: it is not shaped and takes no reservations; "
		   "give it a capacity first");
}

static void test_overflow(void **state)
{
	struct admission_pool p = { .name = "big", .capacity = UINT64_MAX };
	struct admission_resv cur[] = { R("a", UINT64_MAX - 10) };
	struct admission_resv full[] = { R("a", UINT64_MAX), R("b", UINT64_MAX),
					 R("c", UINT64_MAX) };
	struct admission_usage u;

	assert_int_equal(check(&p, cur, 1, R("b", 10), &u), 0);
	assert_int_equal(u.free, 10);
	assert_int_equal(check(&p, cur, 1, R("b", 11), NULL), CS_EADMIT);
	assert_int_equal(check(&p, cur, 1, R("b", UINT64_MAX), NULL), CS_EADMIT);
	/* three times 2^64 - 1: the sum would wrap in 64 bits to look small */
	assert_int_equal(check(&p, full, N(full), R("d", 1), &u), CS_EADMIT);
	assert_int_equal(u.reserved, UINT64_MAX);
	assert_int_equal(u.free, 0);
	assert_int_equal(check(&p, full, N(full), R("d", UINT64_MAX), NULL), CS_EADMIT);
	/* wrapping sum of the others: (2^64 - 1) + 2 would be 1 */
	{
		struct admission_resv w[] = { R("a", UINT64_MAX), R("b", 2) };

		assert_int_equal(check(&p, w, 2, R("c", 1), NULL), CS_EADMIT);
	}
	/* capacity * (1 - headroom) in 128 bits: floor((2^64 - 1) * 0.9) */
	p.headroom = 0.1;
	assert_true(admission_usable(&p) == 16602069666338596453ULL);
	assert_int_equal(check(&p, NULL, 0, R("x", 16602069666338596453ULL), NULL), 0);
	assert_int_equal(check(&p, NULL, 0, R("x", 16602069666338596454ULL), NULL), CS_EADMIT);
	assert_msg("big: 16602069666338596454bit requested, 16602069666338596453bit free of "
		   "16602069666338596453bit (capacity 18446744073709551615bit, headroom 10%)");
}

static void test_replace(void **state)
{
	struct admission_pool p = { .name = "vnet acme/blue", .capacity = 100 * MBIT };
	struct admission_resv cur[] = { R("acme/blue/a", 60 * MBIT), R("acme/blue/b", 30 * MBIT) };
	struct admission_usage u;

	/* only the increase counts: 10mbit more fits in 10mbit free */
	assert_int_equal(check(&p, cur, N(cur), R("acme/blue/a", 70 * MBIT), &u), 0);
	assert_int_equal(u.held, 60 * MBIT);
	assert_int_equal(u.reserved, 90 * MBIT);
	assert_int_equal(u.free, 10 * MBIT);
	assert_int_equal(check(&p, cur, N(cur), R("acme/blue/a", 70 * MBIT + 1), NULL), CS_EADMIT);
	assert_msg("vnet acme/blue: 70000001bit requested (replacing 60mbit), 10mbit free of "
		   "100mbit (capacity 100mbit, headroom 0%)");
	assert_int_equal(check(&p, cur, N(cur), R("acme/blue/a", 10 * MBIT), NULL), 0);
	assert_int_equal(check(&p, cur, N(cur), R("acme/blue/a", 60 * MBIT), NULL), 0);

	/* capacity lowered below what is held: keeping or lowering still works */
	p.capacity = 50 * MBIT;
	assert_int_equal(check(&p, cur, N(cur), R("acme/blue/a", 40 * MBIT), NULL), 0);
	assert_int_equal(check(&p, cur, N(cur), R("acme/blue/b", 30 * MBIT), NULL), 0);
	assert_int_equal(check(&p, cur, N(cur), R("acme/blue/b", 30 * MBIT + 1), &u), CS_EADMIT);
	assert_int_equal(u.free, 0);
	assert_int_equal(check(&p, cur, N(cur), R("acme/blue/c", 1), NULL), CS_EADMIT);
}

static void test_invalid(void **state)
{
	struct admission_pool p = { .name = "vnet acme/blue", .capacity = 100 * MBIT };
	struct admission_resv r = R("acme/blue/a", 0);

	assert_int_equal(check(&p, NULL, 0, r, NULL), CS_EINVAL);
	assert_msg("acme/blue/a: rate must be above zero");
	r.rate = 20 * MBIT;
	r.ceil = 10 * MBIT;
	assert_int_equal(check(&p, NULL, 0, r, NULL), CS_EINVAL);
	assert_msg("acme/blue/a: ceil 10mbit is below rate 20mbit; ceil is what it may borrow up "
		   "to, at least the rate");
	r.ceil = 20 * MBIT;
	assert_int_equal(check(&p, NULL, 0, r, NULL), 0);
	r.ceil = 0;
	assert_int_equal(check(&p, NULL, 0, r, NULL), 0);
	/* the ceil is not admitted, only the rate */
	r.ceil = 1000 * MBIT;
	assert_int_equal(check(&p, NULL, 0, r, NULL), 0);
	r.cls = (enum admission_class)7;
	assert_int_equal(check(&p, NULL, 0, r, NULL), CS_EINVAL);
	assert_msg("acme/blue/a: unknown class 7; classes are realtime, interactive, bulk");
	r.cls = (enum admission_class)-1;
	assert_int_equal(check(&p, NULL, 0, r, NULL), CS_EINVAL);
	r.cls = ADMISSION_REALTIME;
	r.id = NULL;
	assert_int_equal(check(&p, NULL, 0, r, NULL), CS_EINVAL);
	r.id = "";
	assert_int_equal(check(&p, NULL, 0, r, NULL), CS_EINVAL);
	assert_msg("reservation: no endpoint named");
	/* a refused request still reports the pool */
	{
		struct admission_usage u = { 0 };

		r.rate = 0;
		r.id = "x";
		assert_int_equal(check(&p, NULL, 0, r, &u), CS_EINVAL);
		assert_int_equal(u.usable, 100 * MBIT);
	}
}

static void test_many_classes(void **state)
{
	struct admission_pool p = { .name = "vnet acme/big", .capacity = 330 * MBIT,
				    .headroom = 0.1 };
	static struct admission_resv cur[300];
	static char ids[300][16];
	struct admission_usage u;
	enum admission_class c;
	size_t i;

	for (i = 0; i < N(cur); i++) {
		snprintf(ids[i], sizeof(ids[i]), "acme/big/e%zu", i);
		cur[i] = R(ids[i], MBIT);
		cur[i].cls = (enum admission_class)(i % ADMISSION_NCLASSES);
		cur[i].ceil = i % 2 ? 10 * MBIT : 0;
	}
	/* 297 held of 297 usable: the last fits exactly, then none */
	assert_int_equal(check(&p, cur, 296, cur[296], &u), 0);
	assert_int_equal(u.free, MBIT);
	assert_int_equal(check(&p, cur, 297, R("acme/big/new", 1), &u), CS_EADMIT);
	assert_int_equal(u.reserved, 297 * MBIT);
	/* the class never changes the sum: all classes count alike */
	for (i = 0; i < ADMISSION_NCLASSES; i++) {
		struct admission_resv r = R("acme/big/new", MBIT);

		r.cls = (enum admission_class)i;
		assert_int_equal(check(&p, cur, 296, r, NULL), 0);
		assert_int_equal(check(&p, cur, 297, r, NULL), CS_EADMIT);
	}

	assert_int_equal(admission_class_prio(ADMISSION_REALTIME), 0);
	assert_int_equal(admission_class_prio(ADMISSION_INTERACTIVE), 1);
	assert_int_equal(admission_class_prio(ADMISSION_BULK), 2);
	assert_int_equal(admission_class_prio((enum admission_class)3), -1);
	assert_string_equal(admission_class_name(ADMISSION_INTERACTIVE), "interactive");
	assert_null(admission_class_name((enum admission_class)3));
	assert_int_equal(admission_class_parse("realtime", &c, err, sizeof(err)), 0);
	assert_int_equal(c, ADMISSION_REALTIME);
	assert_int_equal(admission_class_parse("bulk", &c, err, sizeof(err)), 0);
	assert_int_equal(c, ADMISSION_BULK);
	assert_int_equal(admission_class_parse("best-effort", &c, err, sizeof(err)), CS_EINVAL);
	assert_msg("unknown class \"best-effort\"; classes are realtime, interactive, bulk");
	assert_int_equal(admission_class_parse(NULL, &c, err, sizeof(err)), CS_EINVAL);
}

static void test_caps(void **state)
{
	struct admission_pool p = { .name = "vnet acme/blue", .capacity = GBIT, .headroom = 0.1 };
	struct admission_resv a = R("acme/blue/a", 100 * MBIT), b = R("acme/blue/b", 200 * MBIT);
	struct admission_cap cap[5];

	b.ceil = 300 * MBIT;
	b.cls = ADMISSION_REALTIME;
	b.burst = 64 * 1024;

	/* no unreserved endpoint: each reserved one at its ceil */
	{
		const struct admission_resv *v[] = { &a, &b };

		assert_int_equal(admission_caps(&p, v, 2, cap, err, sizeof(err)), 0);
		assert_true(cap[0].reserved && cap[0].rate == 100 * MBIT &&
			    cap[0].ceil == 100 * MBIT && cap[0].cls == ADMISSION_BULK);
		assert_true(cap[1].reserved && cap[1].rate == 200 * MBIT &&
			    cap[1].ceil == 300 * MBIT && cap[1].cls == ADMISSION_REALTIME &&
			    cap[1].burst == 64 * 1024);
	}
	/* one unreserved: all that is left, 900 - 300 */
	{
		const struct admission_resv *v[] = { &a, NULL, &b };

		assert_int_equal(admission_caps(&p, v, 3, cap, err, sizeof(err)), 0);
		assert_false(cap[1].reserved);
		assert_int_equal(cap[1].rate, 600 * MBIT);
		assert_int_equal(cap[1].ceil, 600 * MBIT);
		assert_int_equal(cap[1].cls, ADMISSION_BULK);
		assert_int_equal(cap[2].ceil, 300 * MBIT);
	}
	/* many unreserved share evenly, rounded down */
	{
		const struct admission_resv *v[] = { NULL, &a, NULL, NULL, &b };

		assert_int_equal(admission_caps(&p, v, 5, cap, err, sizeof(err)), 0);
		assert_int_equal(cap[0].rate, 200 * MBIT);
		assert_int_equal(cap[2].rate, 200 * MBIT);
		assert_int_equal(cap[3].rate, 200 * MBIT);
		p.headroom = 0;
		a.rate = 1;
		b.rate = 2;
		b.ceil = 0;
		/* (1gbit - 3) / 3 */
		assert_int_equal(admission_caps(&p, v, 5, cap, err, sizeof(err)), 0);
		assert_int_equal(cap[0].rate, 333333332);
		assert_int_equal(cap[4].ceil, 2);
	}
	/* reservations fill the pool: unreserved ones keep the floor */
	{
		const struct admission_resv *v[] = { &a, NULL, NULL };

		p.capacity = 10 * GBIT;
		p.headroom = 0.1;
		a.rate = 9 * GBIT;
		assert_int_equal(admission_caps(&p, v, 3, cap, err, sizeof(err)), 0);
		assert_int_equal(cap[1].rate, 100 * MBIT);	/* 1% */
		p.capacity = 50 * MBIT;
		a.rate = 45 * MBIT;
		assert_int_equal(admission_caps(&p, v, 3, cap, err, sizeof(err)), 0);
		assert_int_equal(cap[1].rate, MBIT);		/* 1 mbit */
		p.capacity = 500 * KBIT;
		p.headroom = 0;
		a.rate = 500 * KBIT;
		assert_int_equal(admission_caps(&p, v, 3, cap, err, sizeof(err)), 0);
		assert_int_equal(cap[1].rate, 500 * KBIT);	/* all there is */
		p.capacity = 1;
		p.headroom = 0.5;
		a.rate = 1;
		assert_int_equal(admission_caps(&p, v, 3, cap, err, sizeof(err)), 0);
		assert_int_equal(cap[1].rate, 1);		/* never zero */
	}
	/* refusals */
	{
		const struct admission_resv *v[] = { &a, NULL };

		a.rate = 0;
		p.capacity = GBIT;
		assert_int_equal(admission_caps(&p, v, 2, cap, err, sizeof(err)), CS_EINVAL);
		assert_msg("acme/blue/a: rate must be above zero");
		p.capacity = 0;
		assert_int_equal(admission_caps(&p, v, 2, cap, err, sizeof(err)), CS_EINVAL);
		assert_int_equal(admission_caps(&p, NULL, 0, NULL, err, sizeof(err)), CS_EINVAL);
	}
	/* zero endpoints is nothing to do */
	p.capacity = GBIT;
	assert_int_equal(admission_caps(&p, NULL, 0, NULL, err, sizeof(err)), 0);
}

/* Who holds a pool, for a refusal: largest first, capped, the request's own
 * left out, and only the visible named (the others summed up). */
static void test_holders(void **state)
{
	struct admission_resv cur[7] = {
		{ "t/v/a", 10000000, 0, 0, ADMISSION_BULK },
		{ "t/v/b", 50000000, 0, 0, ADMISSION_BULK },
		{ "t/v/c", 30000000, 0, 0, ADMISSION_REALTIME },
		{ "t/v/d", 30000000, 0, 0, ADMISSION_BULK },
		{ "t/v/e", 1000, 0, 0, ADMISSION_BULK },
		{ "u/w/f", 90000000, 0, 0, ADMISSION_BULK },
		{ "t/v/g", 20000000, 0, 0, ADMISSION_BULK },
	};
	bool vis[7] = { true, true, true, true, true, false, true };
	char buf[512];

	(void)state;
	admission_holders(cur, 7, NULL, NULL, 5, buf, sizeof(buf));
	assert_string_equal(buf, "held by u/w/f 90mbit, t/v/b 50mbit, t/v/c 30mbit, t/v/d 30mbit, "
				 "t/v/g 20mbit and 2 more");
	/* the request's own reservation is not a holder; the invisible is not named */
	admission_holders(cur, 7, vis, "t/v/b", 3, buf, sizeof(buf));
	assert_string_equal(buf, "held by t/v/c 30mbit, t/v/d 30mbit, t/v/g 20mbit and 2 more and "
				 "others not visible to you");
	admission_holders(cur, 7, vis, NULL, 10, buf, sizeof(buf));
	assert_string_equal(buf, "held by t/v/b 50mbit, t/v/c 30mbit, t/v/d 30mbit, t/v/g 20mbit, "
				 "t/v/a 10mbit, t/v/e 1kbit and others not visible to you");
	admission_holders(cur, 1, NULL, "t/v/a", 5, buf, sizeof(buf));
	assert_string_equal(buf, "");
	bool none[1] = { false };
	admission_holders(cur, 1, none, NULL, 5, buf, sizeof(buf));
	assert_string_equal(buf, "held by others not visible to you");
	/* a short buffer is cut, terminated */
	admission_holders(cur, 7, NULL, NULL, 5, buf, 20);
	assert_int_equal(strlen(buf), 19);
	assert_string_equal(buf + 16, "...");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exactly_fits),
		cmocka_unit_test(test_headroom),
		cmocka_unit_test(test_overflow),
		cmocka_unit_test(test_replace),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_many_classes),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_holders),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
