/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A reservation as overlay files and requests declare it: an endpoint's
 * "qos" object ({"rate": "50mbit", "ceil": ..., "burst": ..., "class": ...})
 * or the body of a `reservation create`, and a vnet's "capacity". The keys
 * are registered in schema_qos.c (which checks each value on its own); this
 * checks what spans keys (rate is required, ceil >= rate) and turns the
 * declaration into an admission_resv. Pure: no I/O, no allocation.
 */
#ifndef RESOURCES_QOS_SPEC_H
#define RESOURCES_QOS_SPEC_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "resources/admission.h"

/* A rate as declared ("50mbit" or an integer of bit/s) in bit/s. 0 or
 * CS_EINVAL with a reason (no unit, zero, negative, too large). */
int qos_rate_value(const json_t *v, uint64_t *bps, char *err, size_t errlen);

/*
 * The reservation @q declares (an object: rate required; ceil, burst, class
 * optional; class defaults to bulk). @where starts every message ("qos" or
 * "vnets.\"acme/blue\".endpoints.web.qos"). out->id is left NULL. Returns 0
 * or CS_EINVAL with a reason naming the key.
 */
/* The longest a burst may take to send at the reserved rate (s). */
#define QOS_BURST_MAX_S 10

int qos_spec_parse(const json_t *q, const char *where, struct admission_resv *out, char *err,
		   size_t errlen);

/* The vnet's capacity from its spec, in bit/s; 0 when it declares none (or
 * an invalid one, which validation refused before it was stored). */
uint64_t qos_capacity(const json_t *vspec);

#endif
