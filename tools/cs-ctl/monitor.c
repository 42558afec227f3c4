/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cs-ctl monitor [TENANT[/VNET]] [from REV]: changes as csd commits and
 * realizes them, one line each (-j: one JSON object per line), until
 * interrupted. When csd goes away (a restart, or it closed a monitor that
 * fell too far behind) cs-ctl connects again and resumes from the last
 * revision it printed, skipping the events of that revision it printed
 * already, and says so on stderr: nothing committed meanwhile is lost.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"

struct mon {
	const char *filter;
	int64_t rev;   /* the last revision printed (0: none yet) */
	size_t at_rev; /* events of it printed */
	size_t skip;   /* events of it to skip after a reconnect */
};

static void print_event(struct ctl *c, const char *text, const json_t *ev)
{
	const char *state = json_string_value(json_object_get(ev, "state"));
	const char *was = json_string_value(json_object_get(ev, "was"));
	const char *op = json_string_value(json_object_get(ev, "op"));
	json_t *uid = json_object_get(ev, "uid");

	if (c->json) {
		printf("%s\n", text);
	} else {
		printf("%" JSON_INTEGER_FORMAT " %s %s %s",
		       json_integer_value(json_object_get(ev, "revision")),
		       json_string_value(json_object_get(ev, "object")),
		       json_string_value(json_object_get(ev, "verb")),
		       json_string_value(json_object_get(ev, "name")));
		if (state)
			printf(" %s%s%s", was ? was : "", was ? "->" : "", state);
		if (json_is_integer(uid))
			printf(" uid=%" JSON_INTEGER_FORMAT, json_integer_value(uid));
		if (op)
			printf(" op=%s", op);
		printf("\n");
	}
	fflush(stdout);
}

/* Start the monitor on @cs from where @m stopped; 0, or the code (the
 * message printed unless it is CS_ECONN, which is retried); @cs is closed
 * on failure. */
static int mon_start(struct mon *m, cs_t **cs)
{
	int64_t start = 0;
	int r = cs_monitor_open(*cs, m->filter, m->rev, &start);

	if (r == CS_ECOMPACTED) {
		fprintf(stderr, "cs-ctl: monitor: the store no longer holds the changes from "
			"revision %" PRId64 "; events until now are lost, following from now\n",
			m->rev);
		m->rev = 0;
		r = cs_monitor_open(*cs, m->filter, 0, &start);
	}
	if (r < 0) {
		if (r != CS_ECONN)
			fprintf(stderr, "cs-ctl: %s\n", cs_last_error(*cs));
		cs_close(*cs);
		*cs = NULL;
		return r;
	}
	m->skip = m->rev ? m->at_rev : 0;
	if (m->rev)
		fprintf(stderr, "cs-ctl: monitor: resumed from revision %" PRId64 "\n", start);
	return 0;
}

/* Connect again and resume. */
static int mon_open(struct mon *m, const char *sock, cs_t **cs)
{
	if (cs_open(sock, cs) < 0)
		return CS_ECONN;
	return mon_start(m, cs);
}

static void mon_wait(void)
{
	struct timespec ts = { 0, 200 * 1000 * 1000 };

	nanosleep(&ts, NULL);
}

/* One event received: printed unless it was printed before a reconnect. */
static int mon_take(struct ctl *c, struct mon *m, const char *text)
{
	json_t *ev = json_loads(text, 0, NULL);
	int64_t rev = json_integer_value(json_object_get(ev, "revision"));

	if (!ev)
		return CTL_FAIL;
	if (rev == m->rev && m->skip) {
		m->skip--;
	} else {
		if (rev != m->rev) {
			m->rev = rev;
			m->at_rev = 0;
		}
		m->skip = 0;
		m->at_rev++;
		print_event(c, text, ev);
	}
	json_decref(ev);
	return 0;
}

int ctl_monitor(struct ctl *c, int argc, char **argv)
{
	struct mon m = { 0 };
	cs_t *cs = NULL;
	char *text;
	bool said = false;
	int r;

	if (c->help) {
		ctl_usage_line(c, stdout, CTL_MONITOR_USAGE);
		return CTL_OK;
	}
	ctl_drop_dashdash(&argc, argv);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "from") && i + 1 < argc) {
			char *end;
			long long v = strtoll(argv[++i], &end, 10);
			if (*end || v < 1)
				return ctl_usage_error(c, "from: expected a revision, 1 or more");
			m.rev = v;
		} else if (!m.filter && argv[i][0] != '-' && strcmp(argv[i], "from")) {
			m.filter = argv[i];
		} else {
			return ctl_usage_error(c, "unexpected \"%s\"; expected %s", argv[i],
					       CTL_MONITOR_USAGE);
		}
	}
	/* "from REV" starts at REV itself: nothing of it was printed here */
	if (ctl_connect(c))
		return CTL_FAIL;
	cs = c->cs;
	c->cs = NULL;
	if (mon_start(&m, &cs) < 0)
		return CTL_FAIL;
	for (;;) {
		r = cs_monitor_next(cs, &text);
		if (r == 0) {
			r = mon_take(c, &m, text);
			cs_free(text);
			if (r)
				break;
			continue;
		}
		if (r != CS_ECONN)
			fprintf(stderr, "cs-ctl: %s\n", cs_last_error(cs));
		cs_close(cs);
		cs = NULL;
		said = false;
		/* csd restarts: wait for it, as long as it takes */
		while ((r = mon_open(&m, c->socket, &cs)) == CS_ECONN) {
			if (!said)
				fprintf(stderr, "cs-ctl: monitor: csd went away; reconnecting\n");
			said = true;
			mon_wait();
		}
		if (r < 0)
			return CTL_FAIL;
	}
	cs_close(cs);
	return CTL_FAIL;
}
