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

static void print_changes(const json_t *res, bool dry_run)
{
	const json_t *changes = json_object_get(res, "changes");
	json_t *e;
	size_t i;

	if (!json_is_array(changes))
		return;
	if (dry_run && !json_array_size(changes))
		puts("no changes");
	json_array_foreach(changes, i, e) {
		char *t = json_is_string(e) ? NULL : json_dumps(e, JSON_COMPACT | JSON_ENCODE_ANY);

		puts(t ? t : json_is_string(e) ? json_string_value(e) : "?");
		free(t);
	}
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
	r = ctl_request(c, "apply",
			json_pack("{s:o, s:b, s:b}", "file", doc, "dry_run", dry_run, "prune",
				  prune),
			"apply", &res);
	if (!r) {
		if (c->json)
			r = ctl_print_json(res ? res : json_null());
		else
			print_changes(res, dry_run);
	}
	json_decref(res);
	return r;
}

int ctl_export(struct ctl *c, int argc, char **argv)
{
	json_t *res = NULL;
	int r;

	if (c->help) {
		ctl_usage_line(c, stdout, "");
		return CTL_OK;
	}
	ctl_drop_dashdash(&argc, argv);
	if (argc > 1)
		return ctl_usage_error(c, "unexpected \"%s\"; export takes no arguments", argv[1]);
	r = ctl_request(c, "export", NULL, "export", &res);
	/* an overlay file whatever -j says: `apply -f` takes it back */
	if (!r)
		r = ctl_print_json(res ? res : json_null());
	json_decref(res);
	return r;
}
