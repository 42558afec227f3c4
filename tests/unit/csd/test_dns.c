/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the gateway answers (csd/dns_answer.c), without root: queries made
 * and answers read with ldns, against a table made by hand. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <ldns/ldns.h>

#include "csd/dns.h"

static struct dns_table *table(void)
{
	struct dns_table *t = calloc(1, sizeof(*t));
	char err[64];

	t->v = calloc(2, sizeof(*t->v));
	strcpy(t->zone, "blue.acme.cs");
	cs_prefix_parse("10.1.0.0/24", &t->sub[0], err, sizeof(err));
	cs_prefix_parse("fd00:1::/64", &t->sub[1], err, sizeof(err));
	t->nsub = 2;
	/* sorted by name */
	strcpy(t->v[0].name, "db");
	t->v[0].has4 = t->v[0].has6 = true;
	cs_addr_parse("10.1.0.3", &t->v[0].a4);
	cs_addr_parse("fd00:1::3", &t->v[0].a6);
	strcpy(t->v[1].name, "web");
	t->v[1].has4 = true;
	cs_addr_parse("10.1.0.2", &t->v[1].a4);
	t->n = 2;
	return t;
}

/* Ask @name @type (class @cls); the answer parsed, or NULL for none. */
static ldns_pkt *ask_class(const struct dns_table *t, const char *name, ldns_rr_type type,
			   ldns_rr_class cls)
{
	ldns_pkt *q = ldns_pkt_query_new(ldns_dname_new_frm_str(name), type, cls, LDNS_RD);
	uint8_t *wire = NULL, out[512];
	size_t len = 0, n;
	ldns_pkt *a = NULL;

	assert_non_null(q);
	ldns_pkt_set_id(q, 0x1234);
	assert_int_equal(ldns_pkt2wire(&wire, q, &len), LDNS_STATUS_OK);
	n = dns_answer(t, wire, len, out, sizeof(out), NULL);
	if (n)
		assert_int_equal(ldns_wire2pkt(&a, out, n), LDNS_STATUS_OK);
	free(wire);
	ldns_pkt_free(q);
	if (a) {
		assert_int_equal(ldns_pkt_id(a), 0x1234);
		assert_true(ldns_pkt_qr(a));
	}
	return a;
}

static ldns_pkt *ask(const struct dns_table *t, const char *name, ldns_rr_type type)
{
	return ask_class(t, name, type, LDNS_RR_CLASS_IN);
}

/* The answer's rcode and, for one record, its data as text. */
static void expect(ldns_pkt *a, ldns_pkt_rcode rc, const char *data)
{
	assert_non_null(a);
	assert_int_equal(ldns_pkt_get_rcode(a), rc);
	if (!data) {
		assert_int_equal(ldns_pkt_ancount(a), 0);
	} else {
		assert_int_equal(ldns_pkt_ancount(a), 1);
		ldns_rr *rr = ldns_rr_list_rr(ldns_pkt_answer(a), 0);
		char *s = ldns_rdf2str(ldns_rr_rdf(rr, 0));
		assert_string_equal(s, data);
		assert_int_equal(ldns_rr_ttl(rr), 0);
		free(s);
	}
	ldns_pkt_free(a);
}

static void test_names(void **state)
{
	struct dns_table *t = table();

	expect(ask(t, "db.", LDNS_RR_TYPE_A), LDNS_RCODE_NOERROR, "10.1.0.3");
	expect(ask(t, "db.blue.acme.cs.", LDNS_RR_TYPE_AAAA), LDNS_RCODE_NOERROR, "fd00:1::3");
	expect(ask(t, "DB.Blue.ACME.cs.", LDNS_RR_TYPE_A), LDNS_RCODE_NOERROR, "10.1.0.3");
	/* a name with no address of that type: no record, no error */
	expect(ask(t, "web.", LDNS_RR_TYPE_AAAA), LDNS_RCODE_NOERROR, NULL);
	expect(ask(t, "web.", LDNS_RR_TYPE_MX), LDNS_RCODE_NOERROR, NULL);
	ldns_pkt *a = ask(t, "db.", LDNS_RR_TYPE_ANY);
	assert_int_equal(ldns_pkt_ancount(a), 2);
	ldns_pkt_free(a);
	expect(ask(t, "blue.acme.cs.", LDNS_RR_TYPE_A), LDNS_RCODE_NOERROR, NULL);
	dns_table_free(t);
}

/* other vnets and tenants answer as names that do not exist */
static void test_nothing_of_others(void **state)
{
	struct dns_table *t = table();
	const char *const missing[] = { "nosuch.", "nosuch.blue.acme.cs.", "db.red.acme.cs.",
					"red.acme.cs.", "db.blue.other.cs.", "cs.",
					"a.db.blue.acme.cs." };

	for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++)
		expect(ask(t, missing[i], LDNS_RR_TYPE_A), LDNS_RCODE_NXDOMAIN, NULL);
	/* the outside: refused without egress */
	expect(ask(t, "debian.org.", LDNS_RR_TYPE_A), LDNS_RCODE_REFUSED, NULL);
	expect(ask(t, "db.", LDNS_RR_TYPE_A), LDNS_RCODE_NOERROR, "10.1.0.3");
	expect(ask_class(t, "db.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_CH), LDNS_RCODE_REFUSED, NULL);
	dns_table_free(t);
}

/* with egress, outside names (and only those) are to be forwarded */
static void test_forward(void **state)
{
	struct dns_table *t = table();
	uint8_t *wire = NULL, out[512];
	size_t len;
	bool fwd = false;

	t->egress = true;
	ldns_pkt *q = ldns_pkt_query_new(ldns_dname_new_frm_str("debian.org."), LDNS_RR_TYPE_A,
					 LDNS_RR_CLASS_IN, LDNS_RD);
	ldns_pkt2wire(&wire, q, &len);
	assert_int_equal(dns_answer(t, wire, len, out, sizeof(out), &fwd), 0);
	assert_true(fwd);
	free(wire);
	ldns_pkt_free(q);
	/* ours and other vnets' names are never forwarded */
	fwd = false;
	q = ldns_pkt_query_new(ldns_dname_new_frm_str("db.red.acme.cs."), LDNS_RR_TYPE_A,
			       LDNS_RR_CLASS_IN, LDNS_RD);
	ldns_pkt2wire(&wire, q, &len);
	assert_true(dns_answer(t, wire, len, out, sizeof(out), &fwd) > 0);
	assert_false(fwd);
	assert_int_equal(out[3] & 15, LDNS_RCODE_NXDOMAIN);
	free(wire);
	ldns_pkt_free(q);
	expect(ask(t, "db.", LDNS_RR_TYPE_A), LDNS_RCODE_NOERROR, "10.1.0.3");
	dns_table_free(t);
}

static void test_reverse(void **state)
{
	struct dns_table *t = table();

	expect(ask(t, "2.0.1.10.in-addr.arpa.", LDNS_RR_TYPE_PTR), LDNS_RCODE_NOERROR,
	       "web.blue.acme.cs.");
	expect(ask(t, "3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.0.0.d.f.ip6.arpa.",
		   LDNS_RR_TYPE_PTR), LDNS_RCODE_NOERROR, "db.blue.acme.cs.");
	expect(ask(t, "99.0.1.10.in-addr.arpa.", LDNS_RR_TYPE_PTR), LDNS_RCODE_NXDOMAIN, NULL);
	expect(ask(t, "2.0.1.10.in-addr.arpa.", LDNS_RR_TYPE_A), LDNS_RCODE_NOERROR, NULL);
	expect(ask(t, "8.8.8.8.in-addr.arpa.", LDNS_RR_TYPE_PTR), LDNS_RCODE_REFUSED, NULL);
	expect(ask(t, "300.0.1.10.in-addr.arpa.", LDNS_RR_TYPE_PTR), LDNS_RCODE_REFUSED, NULL);
	dns_table_free(t);
}

static void test_garbage(void **state)
{
	struct dns_table *t = table();
	uint8_t q[64], out[512];

	/* too short to answer, or an answer itself: nothing */
	memset(q, 0, sizeof(q));
	assert_int_equal(dns_answer(t, q, 11, out, sizeof(out), NULL), 0);
	q[2] = 0x80;
	assert_int_equal(dns_answer(t, q, sizeof(q), out, sizeof(out), NULL), 0);
	/* what does not parse: FORMERR with its id */
	for (size_t i = 0; i < sizeof(q); i++)
		q[i] = (uint8_t)(i * 37 + 11);
	q[2] = 0x01;
	q[4] = 0x00;
	q[5] = 0x05; /* five questions, never there */
	size_t n = dns_answer(t, q, sizeof(q), out, sizeof(out), NULL);
	assert_true(n >= 12);
	assert_memory_equal(out, q, 2);
	assert_true(out[2] & 0x80);
	assert_int_equal(out[3] & 15, LDNS_RCODE_FORMERR);
	/* not a query: NOTIMPL */
	ldns_pkt *p = ldns_pkt_query_new(ldns_dname_new_frm_str("db."), LDNS_RR_TYPE_A,
					 LDNS_RR_CLASS_IN, 0);
	uint8_t *wire = NULL;
	size_t len;
	ldns_pkt_set_opcode(p, LDNS_PACKET_STATUS);
	ldns_pkt2wire(&wire, p, &len);
	n = dns_answer(t, wire, len, out, sizeof(out), NULL);
	assert_true(n >= 12);
	assert_int_equal(out[3] & 15, LDNS_RCODE_NOTIMPL);
	free(wire);
	ldns_pkt_free(p);
	/* no room for the answer: SERVFAIL, never more than asked */
	ldns_pkt *a = ask(t, "db.", LDNS_RR_TYPE_A);
	ldns_pkt_free(a);
	p = ldns_pkt_query_new(ldns_dname_new_frm_str("db."), LDNS_RR_TYPE_ANY, LDNS_RR_CLASS_IN, 0);
	ldns_pkt2wire(&wire, p, &len);
	n = dns_answer(t, wire, len, out, 40, NULL);
	assert_int_equal(n, 12);
	assert_int_equal(out[3] & 15, LDNS_RCODE_SERVFAIL);
	free(wire);
	ldns_pkt_free(p);
	dns_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_nothing_of_others),
		cmocka_unit_test(test_reverse),
		cmocka_unit_test(test_forward),
		cmocka_unit_test(test_garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
