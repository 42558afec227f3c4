/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cs-ctl endpoint list --stats and cs-ctl top: each endpoint's rates over
 * the last second,
 * from two listings a second apart (csd keeps no history: the counters
 * are the kernel's, read at each listing). An endpoint without counters in
 * both (on another node, not up, or recreated in between: its counters went
 * back) shows "-".
 */
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

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

/* Give each endpoint of @now its rates since @before, @dt seconds earlier. */
static void add_rates(json_t *before, json_t *now, double dt)
{
	json_t *by_name = json_object(), *e;
	size_t i;

	/* by name: endpoints come and go between the two listings */
	json_array_foreach(before, i, e)
		json_object_set(by_name, json_string_value(json_object_get(e, "name")) ?: "", e);
	json_array_foreach(now, i, e) {
		json_t *r = rates_of(json_object_get(by_name, json_string_value(
						json_object_get(e, "name")) ?: ""), e, dt);
		if (r)
			json_object_set_new(e, "rates", r);
	}
	json_decref(by_name);
}

/* The table: its columns are keys of the rows themselves. */
static void print_rates(FILE *f, json_t *rows)
{
	json_t *e;
	size_t i;

	json_array_foreach(rows, i, e)
		json_object_update(e, json_object_get(e, "rates"));
	ctl_print_table(f, rows, stats_cols);
}

static void pause_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0)
		;
}

int ctl_endpoint_stats(struct ctl *c, int argc, char **argv)
{
	json_t *before, *now;
	double t0;
	int rc = 0;

	if (!(before = ctl_endpoint_listing(c, argc, argv, &rc)))
		return rc;
	t0 = now_s();
	pause_ms(STATS_INTERVAL_MS);
	if (!(now = ctl_endpoint_listing(c, argc, argv, &rc))) {
		json_decref(before);
		return rc;
	}
	add_rates(before, now, now_s() - t0);
	json_decref(before);
	if (c->json)
		rc = ctl_print_json(now);
	else
		print_rates(stdout, now);
	json_decref(now);
	return rc;
}

/* ---- cs-ctl top: the busiest endpoints, refreshed every second ---- */

static volatile sig_atomic_t top_stop;

static void top_signal(int sig)
{
	(void)sig;
	top_stop = 1;
}

struct term {
	bool raw, alt;
	struct termios saved;
};

/* Keys one at a time, unechoed, when stdin is a terminal; the alternate
 * screen when stdout is one, so the shell's screen comes back on exit. */
static void term_enter(struct term *t)
{
	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &t->saved) == 0) {
		struct termios r = t->saved;
		r.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		r.c_cc[VMIN] = 0;
		r.c_cc[VTIME] = 0;
		t->raw = tcsetattr(STDIN_FILENO, TCSANOW, &r) == 0;
	}
	if ((t->alt = isatty(STDOUT_FILENO)))
		fputs("\033[?1049h", stdout);
}

static void term_leave(struct term *t)
{
	if (t->alt)
		fputs("\033[?1049l", stdout);
	fflush(stdout);
	if (t->raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &t->saved);
}

/* Wait up to @ms for "q"; true when it came (or a signal asks to stop). */
static bool top_wait(unsigned ms, bool *input)
{
	double until = now_s() + ms / 1e3;

	while (!top_stop) {
		double left = until - now_s();
		struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
		char ch;
		if (left <= 0)
			return false;
		if (poll(&p, *input ? 1 : 0, (int)(left * 1e3) + 1) <= 0)
			continue;
		ssize_t n = read(STDIN_FILENO, &ch, 1);
		if (n == 0)
			*input = false;   /* no more keys: run until a signal */
		else if (n == 1 && (ch == 'q' || ch == 'Q'))
			return true;
	}
	return true;
}

static double total_bps(const json_t *e)
{
	const json_t *r = json_object_get(e, "rates");

	if (!r)
		return -1;
	return (double)json_integer_value(json_object_get(r, "rx_bits_per_second")) +
	       (double)json_integer_value(json_object_get(r, "tx_bits_per_second"));
}

static int busiest_first(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	double dx = total_bps(x), dy = total_bps(y);

	if (dx != dy)
		return dx < dy ? 1 : -1;
	return strcmp(json_string_value(json_object_get(x, "name")) ?: "",
		      json_string_value(json_object_get(y, "name")) ?: "");
}

/* One screen: a header, then as many of the busiest endpoints as fit. */
static void top_draw(json_t *rows, const char *filter)
{
	struct winsize ws = { 0 };
	size_t n = json_array_size(rows), fit, i;
	json_t **v = calloc(n + 1, sizeof(*v)), *shown = json_array();

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0 || ws.ws_row < 5)
		ws.ws_row = 24;
	fit = ws.ws_row - 4;
	for (i = 0; v && i < n; i++)
		v[i] = json_array_get(rows, i);
	if (v)
		qsort(v, n, sizeof(*v), busiest_first);
	for (i = 0; v && i < n && i < fit; i++)
		json_array_append(shown, v[i]);
	printf("\033[H\033[2Jcs-ctl top%s%s: %zu endpoint%s, busiest first, every %d s; q quits\n\n",
	       filter ? " " : "", filter ? filter : "", n, n == 1 ? "" : "s",
	       STATS_INTERVAL_MS / 1000);
	print_rates(stdout, shown);
	if (n > fit)
		printf("(%zu more)\n", n - fit);
	fflush(stdout);
	json_decref(shown);
	free(v);
}

int ctl_top(struct ctl *c, int argc, char **argv)
{
	struct term t = { 0 };
	bool input = true;
	json_t *prev, *now;
	double t0;
	int rc = 0;

	if (c->help) {
		ctl_usage_line(c, stdout, CTL_TOP_USAGE);
		return CTL_OK;
	}
	if (c->json)
		return ctl_usage_error(c, "top is for a terminal; for JSON use endpoint list "
				       "--stats -j");
	ctl_drop_dashdash(&argc, argv);
	if (!(prev = ctl_endpoint_listing(c, argc, argv, &rc)))
		return rc;
	t0 = now_s();
	signal(SIGINT, top_signal);
	signal(SIGTERM, top_signal);
	signal(SIGHUP, top_signal);
	term_enter(&t);
	top_draw(prev, argc > 1 ? argv[1] : NULL);
	while (!top_wait(STATS_INTERVAL_MS, &input)) {
		if (!(now = ctl_endpoint_listing(c, argc, argv, &rc)))
			break;
		double t1 = now_s();
		add_rates(prev, now, t1 - t0);
		json_decref(prev);
		prev = now;
		t0 = t1;
		top_draw(now, argc > 1 ? argv[1] : NULL);
	}
	term_leave(&t);
	json_decref(prev);
	return rc;
}
