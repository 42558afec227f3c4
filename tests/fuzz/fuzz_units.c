/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The pure parsers behind every overlay value: rates and sizes
 * (resources/units.c), addresses, prefixes and IPAM (vnet/ipam.c).
 *
 * Input: TEXT [NUL BINARY]. TEXT is parsed as a rate, a size, an address
 * and a prefix; whatever parses must format and parse back to the same
 * value. The first 8 bytes of BINARY are also a number for the format ->
 * parse direction. When TEXT is a prefix, the rest of BINARY builds the
 * used list for ipam_alloc(), 3 bytes an entry: flags, then a 16-bit
 * offset from the network address (flags & 2: down from the subnet's last
 * address; flags & 1: the other family), so that entries collide with the
 * low and high ends of the subnet where allocation decides. The result is
 * checked against a plain linear search.
 */
#include <string.h>
#include <sys/socket.h>

#include <cs/cs.h>
#include "resources/units.h"
#include "vnet/ipam.h"
#include "fuzz.h"

#define MAX_USED 256

typedef int (*parse_fn)(const char *, uint64_t *, char *, size_t);
typedef char *(*format_fn)(uint64_t, char *, size_t);

static void unit_round_trip(parse_fn parse, format_fn format, uint64_t v)
{
	char buf[64], err[256] = "";
	uint64_t back = 0;

	format(v, buf, sizeof(buf));
	FUZZ_CHECK(buf[0] >= '0' && buf[0] <= '9');
	if (!v) {
		/* zero formats, but is not a value anyone may write */
		FUZZ_CHECK(parse(buf, &back, err, sizeof(err)) == CS_EINVAL);
		return;
	}
	if (parse(buf, &back, err, sizeof(err)) != 0) {
		fprintf(stderr, "%llu formats as \"%s\", which does not parse: %s\n",
			(unsigned long long)v, buf, err);
		FUZZ_CHECK(!"format -> parse failed");
	}
	FUZZ_CHECK(back == v);
}

static void unit_text(parse_fn parse, format_fn format, const char *s)
{
	char err[256] = "";
	uint64_t v = 0;

	if (parse(s, &v, err, sizeof(err)) == 0) {
		FUZZ_CHECK(v > 0);
		unit_round_trip(parse, format, v);
	} else {
		FUZZ_CHECK(err[0] != '\0');
	}
}

static int fam_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

static void addr_add(uint8_t *a, int len, unsigned off)
{
	for (int i = len - 1; i >= 0 && off; i--) {
		off += a[i];
		a[i] = (uint8_t)off;
		off >>= 8;
	}
}

static void addr_sub(uint8_t *a, int len, unsigned off)
{
	int borrow = 0;

	for (int i = len - 1; i >= 0 && (off || borrow); i--) {
		int v = a[i] - (int)(off & 0xff) - borrow;
		borrow = v < 0;
		a[i] = (uint8_t)v;
		off >>= 8;
	}
}

/* Set (ones) or clear every bit after @plen. */
static void host_bits(uint8_t *a, int len, int plen, bool ones)
{
	for (int b = plen; b < len * 8; b++) {
		uint8_t m = (uint8_t)(0x80 >> (b % 8));
		a[b / 8] = ones ? a[b / 8] | m : a[b / 8] & (uint8_t)~m;
	}
}

static bool is_used(const struct cs_addr *a, const struct cs_addr *used, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (used[i].family == a->family && !memcmp(used[i].a, a->a, fam_len(a->family)))
			return true;
	return false;
}

static void check_alloc(const struct cs_prefix *p, const uint8_t *bin, size_t blen)
{
	struct cs_addr used[MAX_USED], out, cand, last;
	int len = fam_len(p->addr.family), r;
	size_t n = 0;
	char err[256];

	for (size_t i = 0; i + 3 <= blen && n < MAX_USED; i += 3, n++) {
		unsigned off = (unsigned)bin[i + 1] << 8 | bin[i + 2];
		struct cs_addr *u = &used[n];

		*u = p->addr;
		if (bin[i] & 2) {
			host_bits(u->a, len, p->plen, true);
			addr_sub(u->a, len, off);
		} else {
			addr_add(u->a, len, off);
		}
		if (bin[i] & 1)
			u->family = p->addr.family == AF_INET ? AF_INET6 : AF_INET;
		/* must not crash whatever the entry; the verdict is not checked here */
		ipam_check_fixed(p, u, err, sizeof(err));
	}

	r = ipam_alloc(p, used, n, &out);
	if (ipam_subnet_check(p, err, sizeof(err)) < 0) {
		FUZZ_CHECK(r == CS_EINVAL);
		return;
	}

	/* the reference: walk up from the second host address */
	cand = p->addr;
	addr_add(cand.a, len, 2);
	last = p->addr;
	host_bits(last.a, len, p->plen, true);
	if (p->addr.family == AF_INET)
		addr_sub(last.a, len, 1); /* the broadcast address is not given out */
	bool full = false;
	for (;;) {
		if (!is_used(&cand, used, n))
			break;
		if (!memcmp(cand.a, last.a, len)) {
			full = true;
			break;
		}
		addr_add(cand.a, len, 1);
	}
	if (full) {
		FUZZ_CHECK(r == CS_ENOSPC);
		return;
	}
	FUZZ_CHECK(r == 0);
	FUZZ_CHECK(out.family == p->addr.family);
	FUZZ_CHECK(!memcmp(out.a, cand.a, len));
	FUZZ_CHECK(!is_used(&out, used, n));
	FUZZ_CHECK(ipam_check_fixed(p, &out, err, sizeof(err)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), buf[CS_ADDRSTRLEN], err[256];
	const uint8_t *bin = NULL;
	size_t blen = 0;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	size_t slen = strlen(s);
	if (slen < size) {
		bin = data + slen + 1;
		blen = size - slen - 1;
	}

	unit_text(cs_rate_parse, cs_rate_format, s);
	unit_text(cs_size_parse, cs_size_format, s);
	if (blen >= 8) {
		uint64_t v;
		memcpy(&v, bin, sizeof(v));
		unit_round_trip(cs_rate_parse, cs_rate_format, v);
		unit_round_trip(cs_size_parse, cs_size_format, v);
	}

	struct cs_addr a, a2;
	if (cs_addr_parse(s, &a) == 0) {
		FUZZ_CHECK(a.family == AF_INET || a.family == AF_INET6);
		cs_addr_format(&a, buf);
		FUZZ_CHECK(cs_addr_parse(buf, &a2) == 0);
		FUZZ_CHECK(a2.family == a.family && !memcmp(a2.a, a.a, sizeof(a.a)));
		FUZZ_CHECK(cs_addr_cmp(&a, &a2) == 0);
	}

	struct cs_prefix p, p2;
	err[0] = '\0';
	if (cs_prefix_parse(s, &p, err, sizeof(err)) == 0) {
		FUZZ_CHECK(p.plen >= 0 && p.plen <= fam_len(p.addr.family) * 8);
		FUZZ_CHECK(cs_prefix_contains(&p, &p.addr));
		FUZZ_CHECK(cs_prefix_overlaps(&p, &p));
		cs_prefix_format(&p, buf);
		if (cs_prefix_parse(buf, &p2, err, sizeof(err)) != 0) {
			fprintf(stderr, "\"%s\" formats as \"%s\", which does not parse: %s\n",
				s, buf, err);
			FUZZ_CHECK(!"prefix format -> parse failed");
		}
		FUZZ_CHECK(p2.plen == p.plen && p2.addr.family == p.addr.family);
		FUZZ_CHECK(!memcmp(p2.addr.a, p.addr.a, sizeof(p.addr.a)));
		check_alloc(&p, bin ? bin + (blen >= 8 ? 8 : blen) : NULL,
			    blen >= 8 ? blen - 8 : 0);
	} else {
		FUZZ_CHECK(err[0] != '\0');
	}
	free(s);
	return 0;
}
