/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Overlay files: the bad-file matrix (bad/NAME.json must be refused with
 * every line of bad/NAME.err among the messages, all in one go) and the
 * golden files (every overlay in examples/ must load).
 *   test_overlay BAD_DIR EXAMPLES_DIR
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cs/cs.h>
#include "csd/overlay.h"

static const char *bad_dir, *examples_dir;

/* The tenant "existing" is in the store; nothing else is. */
static bool known(void *arg, const char *name)
{
	(void)arg;
	return !strcmp(name, "existing");
}

static const struct overlay_env env = { .node = "n1", .tenant_known = known,
					.store = OV_STORE_LOCAL };

static json_t *load_json(const char *path)
{
	json_error_t e;
	json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &e);

	if (!j)
		fail_msg("%s:%d: %s", path, e.line, e.text);
	return j;
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0;

	if (!f)
		fail_msg("cannot read %s", path);
	if (getdelim(&buf, &len, '\0', f) < 0) {
		free(buf);
		buf = strdup("");
	}
	fclose(f);
	return buf;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t l = strlen(s), m = strlen(suffix);
	return l >= m && !strcmp(s + l - m, suffix);
}

static void test_bad_files(void **state)
{
	DIR *d = opendir(bad_dir);
	struct dirent *de;
	int n = 0;

	(void)state;
	assert_non_null(d);
	while ((de = readdir(d))) {
		char path[1024], errpath[1024];
		if (!ends_with(de->d_name, ".json"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", bad_dir, de->d_name);
		snprintf(errpath, sizeof(errpath), "%.*s.err", (int)(strlen(path) - 5), path);
		json_t *file = load_json(path);
		struct schema_errors errs = { 0 };
		struct overlay *o = NULL;
		int r = overlay_load(file, &env, &o, &errs);
		char *all = schema_errors_join(&errs);
		if (r != CS_EINVAL)
			fail_msg("%s: loaded (%d), expected to be refused", de->d_name, r);
		assert_null(o);
		char *want = read_text(errpath), *save = NULL;
		size_t lines = 0;
		for (char *line = strtok_r(want, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			lines++;
			if (!strstr(all, line))
				fail_msg("%s: no message contains\n  %s\nmessages:\n%s", de->d_name, line, all);
		}
		if (!lines)
			fail_msg("%s: empty", errpath);
		/* every message starts with the JSON path it is about */
		for (size_t i = 0; i < errs.n; i++)
			if (!strchr(errs.msgs[i], ':'))
				fail_msg("%s: message without a path: %s", de->d_name, errs.msgs[i]);
		free(want);
		free(all);
		schema_errors_clear(&errs);
		json_decref(file);
		n++;
	}
	closedir(d);
	assert_true(n >= 15);
}

static void test_examples(void **state)
{
	DIR *d = opendir(examples_dir);
	struct dirent *de;
	int n = 0;

	(void)state;
	assert_non_null(d);
	while ((de = readdir(d))) {
		char path[1024];
		/* the JSON Schema of the format is not an overlay file */
		if (!ends_with(de->d_name, ".json") || ends_with(de->d_name, ".schema.json"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", examples_dir, de->d_name);
		json_t *file = load_json(path);
		struct schema_errors errs = { 0 };
		struct overlay *o = NULL;
		if (overlay_load(file, &env, &o, &errs) != 0) {
			char *all = schema_errors_join(&errs);
			fail_msg("%s does not load:\n%s", de->d_name, all ? all : "?");
		}
		assert_true(o->nobjects > 0);
		overlay_free(o);
		json_decref(file);
		n++;
	}
	closedir(d);
	assert_true(n >= 1);
}

static void test_structure(void **state)
{
	const char *text =
		"{\"tenants\": {\"acme\": {}}, \"nodes\": {\"n1\": {\"underlay\": \"192.0.2.1\"}},"
		" \"vnets\": {\"acme/blue\": {\"id\": 9, \"subnet\": [\"10.0.0.0/24\", \"fd00::/64\"],"
		"   \"endpoints\": {\"web\": {\"address\": [\"10.0.0.10\", \"fd00::a\"]}, \"db\": {}}},"
		"  \"existing/red\": {\"subnet\": \"10.1.0.0/24\"}}}";
	json_t *file = json_loads(text, 0, NULL);
	struct schema_errors errs = { 0 };
	struct overlay *o = NULL;
	char buf[CS_ADDRSTRLEN];

	(void)state;
	assert_non_null(file);
	assert_int_equal(overlay_load(file, &env, &o, &errs), 0);
	assert_int_equal(errs.n, 0);
	/* 1 tenant, 1 node, 2 vnets, 2 endpoints */
	assert_int_equal(o->nobjects, 6);
	/* "existing" is named by its vnet, without a declaration of its own */
	assert_int_equal(o->ntenants, 2);
	assert_non_null(overlay_tenant_find(o, "acme")->spec);
	assert_null(overlay_tenant_find(o, "existing")->spec);
	const struct overlay_vnet *v = overlay_vnet_find(o, "acme", "blue");
	assert_non_null(v);
	assert_int_equal(v->id, 9);
	assert_int_equal(v->nsubnets, 2);
	assert_null(json_object_get(v->spec, "endpoints"));
	assert_int_equal(v->nendpoints, 2);
	assert_string_equal(v->endpoints[0].name, "web");
	assert_true(v->endpoints[0].has_fixed[OV_V4] && v->endpoints[0].has_fixed[OV_V6]);
	assert_string_equal(cs_addr_format(&v->endpoints[0].fixed[OV_V6], buf), "fd00::a");
	assert_false(v->endpoints[1].has_fixed[OV_V4]);
	assert_null(overlay_vnet_find(o, "acme", "red"));
	overlay_free(o);
	overlay_free(NULL);
	json_decref(file);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_examples),
		cmocka_unit_test(test_structure),
	};

	if (argc != 3) {
		fprintf(stderr, "usage: test_overlay BAD_DIR EXAMPLES_DIR\n");
		return 2;
	}
	bad_dir = argv[1];
	examples_dir = argv[2];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
