/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the gateway answers (pure: one vnet's table in, one DNS message out).
 * The wire format is ldns's (NLnet Labs, Debian's libldns-dev): it parses
 * and checks every message a hostile program may send and writes the
 * answer with name compression; we only decide what the answer says.
 * (libunbound would bring a whole resolver where an authority for a few
 * names is wanted.)
 *
 * For a vnet blue of tenant acme (zone blue.acme.cs):
 *   db, db.blue.acme.cs     A/AAAA of endpoint db (TTL 0: a change is seen
 *                           at once), NOERROR without records for a type
 *                           it has no address of
 *   X.blue.acme.cs, X       NXDOMAIN when there is no endpoint X
 *   anything else under cs  NXDOMAIN: other vnets and tenants are not told
 *                           apart from names that do not exist
 *   reverse names           PTR for the vnet's endpoints' addresses,
 *                           NXDOMAIN for the rest of its subnets
 *   other names             forwarded to the node's resolvers when the vnet
 *                           has egress (csd/dns.c), else REFUSED
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "dns.h"

void dns_table_free(struct dns_table *t)
{
	if (!t)
		return;
	free(t->v);
	free(t);
}

static int rec_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dns_rec *)a)->name, ((const struct dns_rec *)b)->name);
}

static const struct dns_rec *find_name(const struct dns_table *t, const char *name)
{
	struct dns_rec key;

	if (strlen(name) >= sizeof(key.name))
		return NULL;
	strcpy(key.name, name);
	return bsearch(&key, t->v, t->n, sizeof(*t->v), rec_cmp);
}

static const struct dns_rec *find_addr(const struct dns_table *t, const struct cs_addr *a)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct dns_rec *r = &t->v[i];
		if ((r->has4 && !cs_addr_cmp(&r->a4, a)) || (r->has6 && !cs_addr_cmp(&r->a6, a)))
			return r;
	}
	return NULL;
}

/* Does @s end with "." @suffix? *@plen: the length of the part before. */
static bool under(const char *s, const char *suffix, size_t *plen)
{
	size_t n = strlen(s), m = strlen(suffix);

	if (n <= m + 1 || strcmp(s + n - m, suffix) || s[n - m - 1] != '.')
		return false;
	*plen = n - m - 1;
	return true;
}

/* "2.0.1.10.in-addr.arpa" / 32 nibbles ".ip6.arpa" -> the address. */
static bool reverse_addr(const char *name, struct cs_addr *out)
{
	size_t plen;
	char buf[80];

	memset(out, 0, sizeof(*out));
	if (under(name, "in-addr.arpa", &plen)) {
		unsigned b[4];
		char end;
		if (sscanf(name, "%u.%u.%u.%u.in-addr.arpa%c", &b[3], &b[2], &b[1], &b[0], &end) != 4 ||
		    b[0] > 255 || b[1] > 255 || b[2] > 255 || b[3] > 255)
			return false;
		snprintf(buf, sizeof(buf), "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
		return cs_addr_parse(buf, out) == 0;
	}
	if (!under(name, "ip6.arpa", &plen) || plen != 63)
		return false;
	out->family = AF_INET6;
	for (int i = 0; i < 32; i++) {
		char c = name[2 * i];
		int v = isdigit((unsigned char)c) ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (v < 0 || (i < 31 && name[2 * i + 1] != '.'))
			return false;
		out->a[15 - i / 2] |= (uint8_t)(i % 2 ? v << 4 : v);
	}
	return true;
}

static void push_rr(ldns_pkt *p, const ldns_rdf *owner, ldns_rr_type type, ldns_rdf *data)
{
	ldns_rr *rr = p ? ldns_rr_new() : NULL;

	if (!rr || !data) {
		ldns_rr_free(rr);
		ldns_rdf_deep_free(data);
		return;
	}
	ldns_rr_set_owner(rr, ldns_rdf_clone(owner));
	ldns_rr_set_type(rr, type);
	ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
	ldns_rr_set_ttl(rr, 0);
	ldns_rr_push_rdf(rr, data);
	ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr);
}

static ldns_pkt_rcode answer_ptr(const struct dns_table *t, const struct cs_addr *a,
				 const ldns_rdf *owner, ldns_pkt *p)
{
	const struct dns_rec *r = find_addr(t, a);
	char fqdn[128];

	if (r) {
		snprintf(fqdn, sizeof(fqdn), "%s.%s.", r->name, t->zone);
		push_rr(p, owner, LDNS_RR_TYPE_PTR, ldns_dname_new_frm_str(fqdn));
		return LDNS_RCODE_NOERROR;
	}
	for (int i = 0; i < t->nsub; i++)
		if (cs_prefix_contains(&t->sub[i], a))
			return LDNS_RCODE_NXDOMAIN;
	return LDNS_RCODE_REFUSED;
}

static ldns_pkt_rcode answer_name(const struct dns_rec *r, ldns_rr_type type,
				  const ldns_rdf *owner, ldns_pkt *p)
{
	bool any = type == LDNS_RR_TYPE_ANY;

	if (!r)
		return LDNS_RCODE_NXDOMAIN;
	if (r->has4 && (any || type == LDNS_RR_TYPE_A))
		push_rr(p, owner, LDNS_RR_TYPE_A,
			ldns_rdf_new_frm_data(LDNS_RDF_TYPE_A, 4, r->a4.a));
	if (r->has6 && (any || type == LDNS_RR_TYPE_AAAA))
		push_rr(p, owner, LDNS_RR_TYPE_AAAA,
			ldns_rdf_new_frm_data(LDNS_RDF_TYPE_AAAA, 16, r->a6.a));
	return LDNS_RCODE_NOERROR;
}

/* The answer section and rcode for one question. */
static ldns_pkt_rcode answer_question(const struct dns_table *t, const ldns_rr *q, ldns_pkt *p)
{
	const ldns_rdf *owner = ldns_rr_owner(q);
	char *name = ldns_rdf2str(owner), label[40];
	ldns_rr_type type = ldns_rr_get_type(q);
	ldns_pkt_rcode rc = LDNS_RCODE_REFUSED;
	struct cs_addr a;
	size_t n, plen;

	if (!name)
		return LDNS_RCODE_SERVFAIL;
	for (char *c = name; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	n = strlen(name);
	if (n && name[n - 1] == '.')
		name[--n] = '\0';
	if (ldns_rr_get_class(q) != LDNS_RR_CLASS_IN) {
		rc = LDNS_RCODE_REFUSED;
	} else if (reverse_addr(name, &a)) {
		/* another type of a reverse name: what a PTR query would say,
		 * without the record */
		ldns_pkt *none = ldns_pkt_new();
		rc = answer_ptr(t, &a, owner, type == LDNS_RR_TYPE_PTR ||
					       type == LDNS_RR_TYPE_ANY ? p : none);
		ldns_pkt_free(none);
	} else if (!strchr(name, '.') && n) {
		rc = answer_name(find_name(t, name), type, owner, p);
	} else if (under(name, t->zone, &plen) && plen < sizeof(label) &&
		   !memchr(name, '.', plen)) {
		snprintf(label, sizeof(label), "%.*s", (int)plen, name);
		rc = answer_name(find_name(t, label), type, owner, p);
	} else if (!strcmp(name, t->zone)) {
		rc = LDNS_RCODE_NOERROR;
	} else if (!strcmp(name, "cs") || under(name, "cs", &plen)) {
		rc = LDNS_RCODE_NXDOMAIN;
	}
	free(name);
	return rc;
}

/* A header-only answer (FORMERR to what ldns cannot parse). */
static size_t bare_answer(const uint8_t *q, uint8_t *out, ldns_pkt_rcode rc)
{
	memcpy(out, q, 2);          /* id */
	out[2] = 0x80 | (q[2] & 0x79); /* QR, the opcode and RD asked */
	out[3] = (uint8_t)rc;
	memset(out + 4, 0, 8);
	return 12;
}

size_t dns_answer(const struct dns_table *t, const uint8_t *q, size_t qlen, uint8_t *out,
		  size_t outmax, bool *forward)
{
	ldns_pkt *qp = NULL, *ap = NULL;
	uint8_t *wire = NULL;
	size_t size = 0, ret = 0;

	if (qlen < 12 || outmax < 12 || (q[2] & 0x80))
		return 0;   /* too short to answer, or an answer itself */
	if (ldns_wire2pkt(&qp, q, qlen) != LDNS_STATUS_OK)
		return bare_answer(q, out, LDNS_RCODE_FORMERR);
	if (!(ap = ldns_pkt_new()))
		goto out;
	ldns_pkt_set_id(ap, ldns_pkt_id(qp));
	ldns_pkt_set_qr(ap, true);
	ldns_pkt_set_opcode(ap, ldns_pkt_get_opcode(qp));
	ldns_pkt_set_rd(ap, ldns_pkt_rd(qp));
	if (ldns_pkt_get_opcode(qp) != LDNS_PACKET_QUERY) {
		ldns_pkt_set_rcode(ap, LDNS_RCODE_NOTIMPL);
	} else if (ldns_pkt_qdcount(qp) != 1) {
		ldns_pkt_set_rcode(ap, LDNS_RCODE_FORMERR);
	} else {
		const ldns_rr *qr = ldns_rr_list_rr(ldns_pkt_question(qp), 0);
		ldns_pkt_push_rr(ap, LDNS_SECTION_QUESTION, ldns_rr_clone(qr));
		ldns_pkt_rcode rc = answer_question(t, qr, ap);
		/* what is not ours: the world's, when the vnet reaches it */
		if (rc == LDNS_RCODE_REFUSED && t->egress && forward &&
		    ldns_rr_get_class(qr) == LDNS_RR_CLASS_IN) {
			*forward = true;
			goto out;
		}
		ldns_pkt_set_rcode(ap, rc);
		ldns_pkt_set_aa(ap, rc != LDNS_RCODE_REFUSED);
	}
	if (ldns_pkt2wire(&wire, ap, &size) != LDNS_STATUS_OK)
		goto out;
	if (size > outmax) {
		ret = bare_answer(q, out, LDNS_RCODE_SERVFAIL);
		goto out;
	}
	memcpy(out, wire, size);
	ret = size;
out:
	free(wire);
	ldns_pkt_free(ap);
	ldns_pkt_free(qp);
	return ret;
}
