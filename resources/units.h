/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Units as tc has them: rates in bit/s with suffixes bit, kbit, mbit, gbit,
 * tbit (x1000); sizes in bytes with b, kb, mb, gb (x1024). A bare JSON
 * integer is bit/s or bytes; a string without a unit is an error. Decimal
 * fractions are accepted ("1.5mbit"). Zero, negative and overflowing
 * values are errors. Pure, no I/O.
 */
#ifndef RESOURCES_UNITS_H
#define RESOURCES_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* Parse a rate string ("100mbit") into bit/s. 0 or CS_EINVAL with a reason
 * ("\"100\" has no unit; write 100mbit, 100kbit or 100bit"). */
int cs_rate_parse(const char *s, uint64_t *bps, char *err, size_t errlen);
/* Parse a size string ("64kb") into bytes. */
int cs_size_parse(const char *s, uint64_t *bytes, char *err, size_t errlen);
/* Format with the largest exact unit ("100mbit", "1500bit", "64kb"). */
char *cs_rate_format(uint64_t bps, char *buf, size_t len);
char *cs_size_format(uint64_t bytes, char *buf, size_t len);

#endif
