/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <cs/cs.h>
#include "errf.h"
#include "resources/units.h"

struct unit {
	const char *name;
	uint64_t mult;
};

struct unit_kind {
	const char *what;          /* "rate" or "size" */
	const struct unit *units;  /* largest first */
	int nunits;
	const char *smallest;      /* suffix of the base unit */
	const char *list;          /* the units, for messages */
	const char *hint[3];       /* suffixes to suggest for a bare number */
};

static const struct unit rate_units[] = {
	{ "tbit", 1000000000000ULL },
	{ "gbit", 1000000000ULL },
	{ "mbit", 1000000ULL },
	{ "kbit", 1000ULL },
	{ "bit", 1ULL },
};

static const struct unit size_units[] = {
	{ "gb", 1ULL << 30 },
	{ "mb", 1ULL << 20 },
	{ "kb", 1ULL << 10 },
	{ "b", 1ULL },
};

static const struct unit_kind rate_kind = {
	"rate", rate_units, 5, "bit", "bit, kbit, mbit, gbit or tbit",
	{ "mbit", "kbit", "bit" },
};

static const struct unit_kind size_kind = {
	"size", size_units, 4, "b", "b, kb, mb or gb",
	{ "kb", "mb", "b" },
};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* NUMBER UNIT where NUMBER is DIGITS[.DIGITS]; exact integer arithmetic so
 * that every uint64_t value, and only those, parses. */
static int parse(const struct unit_kind *k, const char *s, uint64_t *out, char *err,
		 size_t errlen);

/* the number s (nl characters) came without a unit: suggest only the units
 * that would be taken ("0mbit" or "0.5bit" would not) */
static int no_unit(const struct unit_kind *k, const char *s, int nl, char *err, size_t errlen)
{
	int n = 0;
	const char *ok[3];
	char scratch[256], with[64];
	uint64_t x;

	for (int i = 0; i < 3; i++) {
		snprintf(with, sizeof(with), "%.*s%s", nl, s, k->hint[i]);
		if (nl < 48 && parse(k, with, &x, scratch, sizeof(scratch)) == 0)
			ok[n++] = k->hint[i];
	}
	if (n == 3)
		cs_errf(err, errlen, "\"%s\" has no unit; write %.*s%s, %.*s%s or %.*s%s",
			s, nl, s, ok[0], nl, s, ok[1], nl, s, ok[2]);
	else if (n == 2)
		cs_errf(err, errlen, "\"%s\" has no unit; write %.*s%s or %.*s%s", s, nl, s,
			ok[0], nl, s, ok[1]);
	else if (n == 1)
		cs_errf(err, errlen, "\"%s\" has no unit; write %.*s%s", s, nl, s, ok[0]);
	else if (strspn(s, "0.") == (size_t)nl)
		cs_errf(err, errlen, "\"%s\" has no unit, and the %s must be greater than "
			"zero; write a number and a unit like 100%s", s, k->what,
			k->hint[0]);
	else
		cs_errf(err, errlen, "\"%s\" has no unit, and no unit would make it a "
			"%s that is taken; write a number and a unit like 100%s", s,
			k->what, k->hint[0]);
	return CS_EINVAL;
}

/* integer digits ip and fraction digits fp times mult into *v; false when
 * that does not fit in 64 bits */
static bool scale(const char *ip, size_t ilen, const char *fp, size_t flen, uint64_t mult,
		  uint64_t *v)
{
	uint64_t ival = 0, frac = 0;
	bool big = false;

	for (size_t i = 0; i < ilen && !big; i++)
		big = __builtin_mul_overflow(ival, 10, &ival) ||
		      __builtin_add_overflow(ival, (uint64_t)(ip[i] - '0'), &ival);
	/* floor(0.d1..dn * mult), one digit at a time from the right: the
	 * nested floors give the same result as one exact division, and
	 * every step stays below 10 * mult. */
	for (size_t i = flen; i-- > 0;)
		frac = ((uint64_t)(fp[i] - '0') * mult + frac) / 10;
	return !(big || __builtin_mul_overflow(ival, mult, v) || __builtin_add_overflow(*v, frac, v));
}

static int parse(const struct unit_kind *k, const char *s, uint64_t *out,
		 char *err, size_t errlen)
{
	const char *p, *ip, *fp = NULL, *unit;
	size_t ilen, flen = 0;
	const struct unit *u = NULL;
	uint64_t v;

	if (!s || !*s) {
		cs_errf(err, errlen, "empty %s; write a number and a unit like 100%s",
		       k->what, k->hint[0]);
		return CS_EINVAL;
	}
	for (p = s; *p; p++) {
		if (isspace((unsigned char)*p)) {
			cs_errf(err, errlen, "\"%s\": spaces are not allowed; write the number and the unit together, like 100%s",
			       s, k->hint[0]);
			return CS_EINVAL;
		}
	}
	if (*s == '-') {
		cs_errf(err, errlen, "\"%s\": negative %s; the %s must be greater than zero",
		       s, k->what, k->what);
		return CS_EINVAL;
	}
	ip = p = s;
	while (is_digit(*p))
		p++;
	ilen = (size_t)(p - ip);
	if (!ilen) {
		cs_errf(err, errlen, "\"%s\": no number; write a number and a unit like 100%s or 0.5%s",
		       s, k->hint[0], k->hint[0]);
		return CS_EINVAL;
	}
	if (*p == '.') {
		fp = ++p;
		while (is_digit(*p))
			p++;
		flen = (size_t)(p - fp);
		if (!flen) {
			cs_errf(err, errlen, "\"%s\": a digit must follow the decimal point", s);
			return CS_EINVAL;
		}
		if (*p == '.') {
			cs_errf(err, errlen, "\"%s\": more than one decimal point", s);
			return CS_EINVAL;
		}
	}
	unit = p;
	if (!*unit)
		return no_unit(k, s, (int)(unit - s), err, errlen);
	for (int i = 0; i < k->nunits; i++) {
		if (!strcasecmp(unit, k->units[i].name)) {
			u = &k->units[i];
			break;
		}
	}
	if (!u) {
		cs_errf(err, errlen, "\"%s\": unknown unit \"%s\"; use %s", s, unit, k->list);
		return CS_EINVAL;
	}

	if (!scale(ip, ilen, fp, flen, u->mult, &v)) {
		cs_errf(err, errlen, "\"%s\": too large; the largest %s is %" PRIu64 "%s",
		       s, k->what, UINT64_MAX, k->smallest);
		return CS_EINVAL;
	}
	if (!v) {
		if (flen)
			cs_errf(err, errlen, "\"%s\": %s must be greater than zero (this is less than 1%s)",
			       s, k->what, k->smallest);
		else
			cs_errf(err, errlen, "\"%s\": %s must be greater than zero", s, k->what);
		return CS_EINVAL;
	}
	*out = v;
	return 0;
}

int cs_rate_parse(const char *s, uint64_t *bps, char *err, size_t errlen)
{
	return parse(&rate_kind, s, bps, err, errlen);
}

int cs_size_parse(const char *s, uint64_t *bytes, char *err, size_t errlen)
{
	return parse(&size_kind, s, bytes, err, errlen);
}

static char *format(const struct unit_kind *k, uint64_t v, char *buf, size_t len)
{
	const struct unit *u = &k->units[k->nunits - 1];

	/* Zero divides by anything; say it in the base unit. */
	for (int i = 0; v && i < k->nunits; i++) {
		if (v % k->units[i].mult == 0) {
			u = &k->units[i];
			break;
		}
	}
	if (buf && len)
		snprintf(buf, len, "%" PRIu64 "%s", v / u->mult, u->name);
	return buf;
}

char *cs_rate_format(uint64_t bps, char *buf, size_t len)
{
	return format(&rate_kind, bps, buf, len);
}

char *cs_size_format(uint64_t bytes, char *buf, size_t len)
{
	return format(&size_kind, bytes, buf, len);
}
