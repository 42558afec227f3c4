/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cs-ctl apply -f FILE [--dry-run] [--prune], and cs-ctl export. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/*
 * The file is parsed here, not by csd: a syntax error is then reported with
 * the file's own name, line and column, and csd never sees the path (it may
 * not be able to read it, and must not read files for its callers).
 */
static json_t *load_file(struct ctl *c, const char *path, int *rc)
{
	bool std = !strcmp(path, "-");
	const char *name = std ? "<stdin>" : path;
	json_error_t jerr;
	json_t *root;
	FILE *f;

	*rc = CTL_FAIL;
	if (!(f = std ? stdin : fopen(path, "re"))) {
		ctl_fail(c, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	/* objects are keyed by name: a repeated key would silently drop one */
	root = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
	if (!std)
		fclose(f);
	if (!root) {
		if (jerr.line > 0)
			ctl_fail(c, "%s:%d:%d: %s", name, jerr.line, jerr.column, jerr.text);
		else
			ctl_fail(c, "%s: %s", name, jerr.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		ctl_fail(c, "%s: expected an object ({\"tenants\": ...}) at the top level", name);
		json_decref(root);
		return NULL;
	}
	*rc = 0;
	return root;
}

/* Above this many objects a person is told that something is happening. */
#define APPLY_PROGRESS_OBJECTS 50

/*
 * How many objects the file declares, for the progress line. The file is
 * not validated here: csd checks it whole, against its state, and answers
 * every error at once (checks here first would hide csd's until the next
 * run).
 */
static size_t count_objects(const json_t *doc)
{
	const json_t *vnets = json_object_get(doc, "vnets");
	size_t n = json_object_size(json_object_get(doc, "tenants")) +
		   json_object_size(json_object_get(doc, "nodes")) + json_object_size(vnets);
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)vnets, key, v)
		n += json_object_size(json_object_get(v, "endpoints"));
	return n;
}

/* The plan grouped by kind of object, as csd sent it ("+ vnet acme/blue ..."). */
static void print_changes(const json_t *res, bool dry_run, const char *file)
{
	static const char *const kinds[] = { "tenant", "node", "vnet", "endpoint" };
	static const char *const titles[] = { "tenants", "nodes", "vnets", "endpoints" };
	const json_t *changes = json_object_get(res, "changes");
	const json_t *sum = json_object_get(res, "summary");
	json_t *e;
	size_t i;

	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		bool title = false;
		size_t l = strlen(kinds[k]);

		json_array_foreach(changes, i, e) {
			const char *s = json_string_value(e);
			if (!s || strlen(s) < l + 3 || strncmp(s + 2, kinds[k], l) || s[l + 2] != ' ')
				continue;
			if (!title)
				printf("%s:\n", titles[k]);
			title = true;
			printf("  %c %s\n", s[0], s + l + 3);
		}
	}
	/* anything of a kind this cs-ctl does not know yet, as it came */
	json_array_foreach(changes, i, e) {
		const char *s = json_string_value(e);
		bool known = false;
		for (size_t k = 0; s && k < sizeof(kinds) / sizeof(kinds[0]); k++)
			if (strlen(s) > strlen(kinds[k]) + 2 && !strncmp(s + 2, kinds[k], strlen(kinds[k])) &&
			    s[strlen(kinds[k]) + 2] == ' ')
				known = true;
		if (s && !known)
			printf("%s\n", s);
	}
	json_int_t c = json_integer_value(json_object_get(sum, "created"));
	json_int_t u = json_integer_value(json_object_get(sum, "updated"));
	json_int_t d = json_integer_value(json_object_get(sum, "deleted"));
	if (!json_array_size(changes))
		printf("no changes: the declared state already matches %s\n", file);
	else if (dry_run)
		printf("dry run: %" JSON_INTEGER_FORMAT " to create, %" JSON_INTEGER_FORMAT
		       " to change, %" JSON_INTEGER_FORMAT " to delete; nothing was changed\n", c, u, d);
	else
		printf("%" JSON_INTEGER_FORMAT " created, %" JSON_INTEGER_FORMAT " changed, %"
		       JSON_INTEGER_FORMAT " deleted\n", c, u, d);
}

int ctl_apply(struct ctl *c, int argc, char **argv)
{
	const char *file = NULL, *usage = CTL_APPLY_USAGE;
	bool dry_run = false, prune = false;
	json_t *doc, *res = NULL;
	int r;

	if (c->help) {
		ctl_usage_line(c, stdout, usage);
		return CTL_OK;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-f") || !strcmp(a, "--file")) {
			if (i + 1 >= argc)
				return ctl_usage_error(c, "%s needs a value; expected %s", a, usage);
			file = argv[++i];
		} else if (!strncmp(a, "--file=", 7)) {
			file = a + 7;
		} else if (!strncmp(a, "-f", 2)) {
			file = a + 2;
		} else if (!strcmp(a, "--dry-run")) {
			dry_run = true;
		} else if (!strcmp(a, "--prune")) {
			prune = true;
		} else if (!strcmp(a, "--")) {
			continue;
		} else if (a[0] == '-' && a[1]) {
			return ctl_usage_error(c, "unknown option \"%s\"; expected %s", a, usage);
		} else {
			return ctl_usage_error(c, "unexpected \"%s\"; expected %s", a, usage);
		}
	}
	if (!file || !*file)
		return ctl_usage_error(c, "expected %s", usage);
	if (!(doc = load_file(c, file, &r)))
		return r;
	size_t nobjects = count_objects(doc);
	const char *name = strcmp(file, "-") ? file : "<stdin>";
	if (nobjects > APPLY_PROGRESS_OBJECTS)
		fprintf(stderr, "%s %zu objects...\n", dry_run ? "planning" : "applying", nobjects);
	r = ctl_request(c, "apply",
			json_pack("{s:o, s:b, s:b}", "file", doc, "dry_run", dry_run, "prune",
				  prune),
			"apply", &res);
	if (!r) {
		if (c->json)
			r = ctl_print_json(res ? res : json_null());
		else
			print_changes(res, dry_run, name);
	}
	json_decref(res);
	return r;
}

int ctl_export(struct ctl *c, int argc, char **argv)
{
	json_t *res = NULL;
	int r;

	if ((r = ctl_no_args(c, argc, argv, "export")) >= 0)
		return r;
	r = ctl_request(c, "export", NULL, "export", &res);
	/* an overlay file whatever -j says: `apply -f` takes it back */
	if (!r)
		r = ctl_print_json(res ? res : json_null());
	json_decref(res);
	return r;
}
