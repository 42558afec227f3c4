/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The overlay keys of QoS (cs-overlay.json(5)): a vnet's capacity, an
 * endpoint's qos (its reservation) and the body of `cs-ctl reservation
 * create`; and the checks that span those keys (qos_spec.h).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cs/cs.h>
#include "errf.h"
#include "schema.h"
#include "resources/qos_spec.h"
#include "resources/units.h"

static const char *const classes[] = { "realtime", "interactive", "bulk", NULL };

static const struct schema_key qos_keys[] = {
	{ SCHEMA_VNET, "capacity", ST_RATE,
	  .doc = "what reservations are admitted against, e.g. 1gbit (default: not shaped)" },

	{ SCHEMA_ENDPOINT, "qos", ST_OBJECT, .doc = "the endpoint's reservation" },
	{ SCHEMA_ENDPOINT, "qos.rate", ST_RATE, .doc = "reserved rate of what it sends, e.g. 50mbit" },
	{ SCHEMA_ENDPOINT, "qos.ceil", ST_RATE, .doc = "rate it may borrow up to (default: rate)" },
	{ SCHEMA_ENDPOINT, "qos.burst", ST_SIZE, .doc = "burst, e.g. 64kb (default: 4 ms at rate)" },
	{ SCHEMA_ENDPOINT, "qos.class", ST_ENUM, .enumvals = classes,
	  .doc = "realtime, interactive or bulk (default bulk)" },

	{ SCHEMA_TENANT, "quotas.bandwidth", ST_RATE,
	  .doc = "most bandwidth the tenant's reservations may hold in all, e.g. 500mbit" },
	{ SCHEMA_NODE, "uplink", ST_RATE,
	  .doc = "capacity of the node's uplink for traffic leaving it, e.g. 10gbit" },
	{ SCHEMA_NODE, "uplink_shape", ST_BOOL,
	  .doc = "true: shape VXLAN traffic on the node's underlay device to its uplink" },

	{ SCHEMA_RESERVATION, "rate", ST_RATE, .doc = "reserved rate of what it sends, e.g. 50mbit" },
	{ SCHEMA_RESERVATION, "ceil", ST_RATE, .doc = "rate it may borrow up to (default: rate)" },
	{ SCHEMA_RESERVATION, "burst", ST_SIZE, .doc = "burst, e.g. 64kb (default: 4 ms at rate)" },
	{ SCHEMA_RESERVATION, "class", ST_ENUM, .enumvals = classes,
	  .doc = "realtime, interactive or bulk (default bulk)" },
};
SCHEMA_REGISTER(qos_keys);

static int value(const json_t *v, bool size, uint64_t *out, char *err, size_t errlen)
{
	if (json_is_integer(v)) {
		if (json_integer_value(v) <= 0) {
			cs_errf(err, errlen, "%" JSON_INTEGER_FORMAT " must be greater than zero",
			    json_integer_value(v));
			return CS_EINVAL;
		}
		*out = (uint64_t)json_integer_value(v);
		return 0;
	}
	if (!json_is_string(v)) {
		cs_errf(err, errlen, "expected %s", size ? "a size such as \"64kb\""
						      : "a rate such as \"100mbit\"");
		return CS_EINVAL;
	}
	return size ? cs_size_parse(json_string_value(v), out, err, errlen)
		    : cs_rate_parse(json_string_value(v), out, err, errlen);
}

int qos_rate_value(const json_t *v, uint64_t *bps, char *err, size_t errlen)
{
	return value(v, false, bps, err, errlen);
}

uint64_t qos_capacity(const json_t *vspec)
{
	const json_t *c = json_object_get(vspec, "capacity");
	uint64_t bps = 0;

	if (!c || qos_rate_value(c, &bps, NULL, 0) < 0)
		return 0;
	return bps;
}

int qos_spec_parse(const json_t *q, const char *where, struct admission_resv *out, char *err,
		   size_t errlen)
{
	static const char *const keys[] = { "rate", "ceil", "burst" };
	uint64_t v[3] = { 0, 0, 0 };
	char why[256], a[32], b[32];
	const char *key;
	json_t *x;

	*out = (struct admission_resv){ .cls = ADMISSION_BULK };
	if (!json_is_object(q)) {
		cs_errf(err, errlen, "%s: expected an object such as {\"rate\": \"50mbit\"}", where);
		return CS_EINVAL;
	}
	json_object_foreach((json_t *)q, key, x) {
		int i;
		for (i = 0; i < 3; i++)
			if (!strcmp(key, keys[i]))
				break;
		if (i < 3) {
			if (value(x, i == 2, &v[i], why, sizeof(why)) < 0) {
				cs_errf(err, errlen, "%s.%s: %s", where, key, why);
				return CS_EINVAL;
			}
		} else if (!strcmp(key, "class")) {
			/* the order of classes[] is enum admission_class's */
			const char *s = json_string_value(x);
			for (i = 0; s && classes[i] && strcmp(s, classes[i]); i++)
				;
			if (!s || !classes[i]) {
				char *t = json_dumps(x, JSON_COMPACT | JSON_ENCODE_ANY);
				cs_errf(err, errlen, "%s.class: unknown class %s; classes are realtime, "
				    "interactive, bulk", where, t ? t : "?");
				free(t);
				return CS_EINVAL;
			}
			out->cls = (enum admission_class)i;
		} else {
			cs_errf(err, errlen, "%s.%s: unknown key; a reservation has rate, ceil, burst "
			    "and class", where, key);
			return CS_EINVAL;
		}
	}
	if (!v[0]) {
		cs_errf(err, errlen, "%s.rate: missing; a reservation needs a rate, e.g. \"50mbit\"",
		    where);
		return CS_EINVAL;
	}
	if (v[1] && v[1] < v[0]) {
		cs_errf(err, errlen, "%s.ceil: %s is below the rate %s; ceil is what it may borrow up "
		    "to, at least the rate (or leave it out)", where,
		    cs_rate_format(v[1], a, sizeof(a)), cs_rate_format(v[0], b, sizeof(b)));
		return CS_EINVAL;
	}
	/* what HTB can hold: a burst sent within QOS_BURST_MAX_S at the rate,
	 * in 32 bits (refused here, not found out by the enforcer later) */
	if (v[2] && (v[2] / QOS_BURST_MAX_S > v[0] / 8 || v[2] > UINT32_MAX)) {
		uint64_t most = v[0] / 8 * QOS_BURST_MAX_S;
		cs_errf(err, errlen, "%s.burst: %s is more than the rate %s sends in %d s; give at "
			"most %s", where, cs_size_format(v[2], a, sizeof(a)),
			cs_rate_format(v[0], b, sizeof(b)), QOS_BURST_MAX_S,
			cs_size_format(most < UINT32_MAX ? most : UINT32_MAX, why, sizeof(why)));
		return CS_EINVAL;
	}
	out->rate = v[0];
	out->ceil = v[1];
	out->burst = v[2];
	return 0;
}
