/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cs-ctl endpoint list --stats: each endpoint's rates over the last second,
 * from two listings a second apart (csd keeps no history: the counters
 * are the kernel's, read at each listing). An endpoint without counters in
 * both (on another node, not up, or recreated in between: its counters went
 * back) shows "-".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"

#define STATS_INTERVAL_MS 1000

static const char *const counters[][2] = {
	{ "rx_bytes", "rx_bits_per_second" },
	{ "tx_bytes", "tx_bits_per_second" },
	{ "rx_packets", "rx_packets_per_second" },
	{ "tx_packets", "tx_packets_per_second" },
};
#define NCOUNTERS (sizeof(counters) / sizeof(counters[0]))

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "rates" of @now from its counters and those of @before, @dt seconds apart;
 * NULL when either lacks one or one went back. */
static json_t *rates_of(const json_t *before, const json_t *now, double dt)
{
	const json_t *c0 = json_object_get(before, "counters"),
		     *c1 = json_object_get(now, "counters");
	json_t *r = json_pack("{s:f}", "interval_s", dt);

	for (size_t i = 0; r && i < NCOUNTERS; i++) {
		json_t *a = json_object_get(c0, counters[i][0]), *b = json_object_get(c1, counters[i][0]);
		if (!json_is_integer(a) || !json_is_integer(b) ||
		    json_integer_value(b) < json_integer_value(a)) {
			json_decref(r);
			return NULL;
		}
		double v = (double)(json_integer_value(b) - json_integer_value(a)) / dt;
		if (i < 2)
			v *= 8;
		json_object_set_new(r, counters[i][1], json_integer((json_int_t)llround(v)));
	}
	return r;
}

/* A rate as a person reads it, in tc's units: "12.5mbit", "800bit". */
static char *bits_text(const json_t *v)
{
	static const struct { double div; const char *unit; } units[] = {
		{ 1e9, "gbit" }, { 1e6, "mbit" }, { 1e3, "kbit" },
	};
	double x = (double)json_integer_value(v);
	char *s = NULL;

	if (!json_is_integer(v))
		return strdup("-");
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (x >= units[i].div)
			return asprintf(&s, "%.1f%s", x / units[i].div, units[i].unit) < 0 ? NULL : s;
	return asprintf(&s, "%.0fbit", x) < 0 ? NULL : s;
}

static const struct ctl_column stats_cols[] = {
	{ "NAME", "name", NULL },
	{ "NODE", "node", NULL },
	{ "STATE", "state", NULL },
	{ "RX-BIT/S", "rx_bits_per_second", bits_text },
	{ "TX-BIT/S", "tx_bits_per_second", bits_text },
	{ "RX-PKT/S", "rx_packets_per_second", NULL },
	{ "TX-PKT/S", "tx_packets_per_second", NULL },
	{ NULL, NULL, NULL },
};

int ctl_endpoint_stats(struct ctl *c, json_t *(*list)(struct ctl *c, int *rc))
{
	json_t *before, *now, *e;
	struct timespec pause = { STATS_INTERVAL_MS / 1000, (STATS_INTERVAL_MS % 1000) * 1000000L };
	double t0, t1;
	size_t i;
	int rc = 0;

	if (!(before = list(c, &rc)))
		return rc;
	t0 = now_s();
	nanosleep(&pause, NULL);
	if (!(now = list(c, &rc))) {
		json_decref(before);
		return rc;
	}
	t1 = now_s();
	/* by name: endpoints come and go between the two listings */
	json_t *by_name = json_object();
	json_array_foreach(before, i, e)
		json_object_set(by_name, json_string_value(json_object_get(e, "name")) ?: "", e);
	json_array_foreach(now, i, e) {
		json_t *r = rates_of(json_object_get(by_name, json_string_value(
						json_object_get(e, "name")) ?: ""), e, t1 - t0);
		if (r)
			json_object_set_new(e, "rates", r);
	}
	json_decref(by_name);
	json_decref(before);
	if (c->json) {
		rc = ctl_print_json(now);
	} else {
		/* the table's columns are keys of the row itself */
		json_array_foreach(now, i, e)
			json_object_update(e, json_object_get(e, "rates"));
		ctl_print_table(stdout, now, stats_cols);
	}
	json_decref(now);
	return rc;
}
