// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Backends per vnet (csd/backends.c), without root: a csd on the recording
 * backend whose "backends" setting lists ovs, with ovsdb pointing nowhere.
 * A vnet naming ovs is refused, saying what to do, and nothing is written
 * or realized; one naming nothing, or a backend the csd does not list
 * (the recording backend stands in for those), is realized by the
 * recording backend. The same holds for apply.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <cmocka.h>

#include <cs/cs.h>
#include "csdchild.h"

static char tmpdir[64], logpath[128];
static struct csd_child child = { .pid = -1 };
static cs_t *g;

static int group_setup(void **state)
{
	char cfg[128];
	FILE *f;

	(void)state;
	if (ut_tmpdir(tmpdir, sizeof(tmpdir), "backends") < 0)
		return -1;
	snprintf(cfg, sizeof(cfg), "%s/csd.json", tmpdir);
	if (!(f = fopen(cfg, "w")))
		return -1;
	fprintf(f, "{\"backends\": [\"ovs\"], \"ovsdb\": \"unix:%s/no-ovsdb.sock\"}\n", tmpdir);
	fclose(f);
	const char *const extra[] = { "-p", "ub", "-c", cfg, NULL };
	if (csd_child_start(&child, tmpdir, "csd.sock", extra, "rec.log", &g) < 0)
		return -1;
	snprintf(logpath, sizeof(logpath), "%s/rec.log", tmpdir);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	csd_child_end(&child, &g, tmpdir);
	return 0;
}

/* what the recording backend was asked to do so far (polled: the child
 * publishes it from its loop) */
static bool recorded(const char *needle)
{
	for (int i = 0; i < 100; i++) {
		FILE *f = fopen(logpath, "r");
		char buf[65536];
		size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
		if (f)
			fclose(f);
		buf[n] = '\0';
		if (strstr(buf, needle))
			return true;
		ut_sleep_ms(20);
	}
	return false;
}

static void refused(int r, const char *needle, int64_t rev)
{
	const char *m = cs_last_error(g);

	if (r != CS_ENOTSUP && r != CS_EINVAL)
		fail_msg("returned %d (%s), expected a refusal", r, m);
	if (!strstr(m, needle))
		fail_msg("message \"%s\" does not name \"%s\"", m, needle);
	if (ut_revision(g) != rev)
		fail_msg("refused (%s), but the store moved", m);
}

static void test_named_backends(void **state)
{
	(void)state;
	assert_int_equal(cs_tenant_create(g, "acme", NULL), 0);

	/* a backend listed but not open: refused, naming it and what to do */
	int64_t rev = ut_revision(g);
	refused(cs_vnet_create(g, "acme/o", "{\"subnet\": \"10.1.0.0/24\", \"backend\": \"ovs\"}"),
		"backend ovs cannot be opened here", rev);
	refused(cs_vnet_create(g, "acme/o", "{\"subnet\": \"10.1.0.0/24\", \"backend\": \"ovs\"}"),
		"ovsdb", rev);
	assert_false(recorded("vnet_ensure acme/o "));

	/* paired: the same vnet naming no backend, or one the csd does not
	 * list, is the recording backend's */
	if (cs_vnet_create(g, "acme/d", "{\"subnet\": \"10.2.0.0/24\"}") != 0)
		fail_msg("vnet acme/d: %s", cs_last_error(g));
	assert_true(recorded("vnet_ensure acme/d "));
	if (cs_vnet_create(g, "acme/k", "{\"subnet\": \"10.3.0.0/24\", \"backend\": \"kernel\"}"))
		fail_msg("vnet acme/k: %s", cs_last_error(g));
	assert_true(recorded("vnet_ensure acme/k "));
}

static void test_apply(void **state)
{
	char *out = NULL;
	(void)state;

	/* apply refuses the same vnet with the same words, and writes nothing */
	int64_t rev = ut_revision(g);
	int r = cs_call(g, "apply", "{\"file\": {\"vnets\": {\"acme/o\": {\"subnet\": "
			"\"10.1.0.0/24\", \"backend\": \"ovs\"}}}}", &out);
	cs_free(out);
	refused(r, "vnets.\"acme/o\".backend: backend ovs cannot be opened here", rev);
	assert_false(recorded("vnet_ensure acme/o "));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_named_backends),
		cmocka_unit_test(test_apply),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
