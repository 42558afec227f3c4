/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * api/schema.c on arbitrary input, two ways at once:
 *  - the input as JSON (json_loadb) checked with schema_validate() against
 *    every object's keys, as csd does with request specs and overlay files;
 *  - the input as NUL-separated words given to schema_argv_to_json() for
 *    every object, as cs-ctl does with `key value` pairs; what it builds is
 *    then validated too.
 */
#include <string.h>

#include "schema.h"
#include "fuzz.h"

#define MAX_WORDS 64

static void validate(enum schema_object o, const json_t *spec)
{
	struct schema_errors errs = { 0 };
	size_t n = schema_validate(o, spec, "fuzz", &errs);

	/* the count returned is the number of messages collected */
	FUZZ_CHECK(n == errs.n);
	char *all = schema_errors_join(&errs);
	FUZZ_CHECK(n ? all != NULL : all == NULL);
	for (size_t i = 0; i < errs.n; i++)
		FUZZ_CHECK(errs.msgs[i] != NULL);
	free(all);
	schema_errors_clear(&errs);
	FUZZ_CHECK(errs.n == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t jerr;
	json_t *spec = json_loadb((const char *)data, size, JSON_DECODE_ANY, &jerr);

	if (spec) {
		for (int o = 0; o < SCHEMA_OBJECT_MAX; o++)
			validate((enum schema_object)o, spec);
		json_decref(spec);
	}

	char *text = malloc(size + 1), *words[MAX_WORDS];
	int argc = 0;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	/* an input without a NUL is one word, not a trailing empty one too */
	for (size_t i = 0; i <= size && argc < MAX_WORDS;) {
		words[argc++] = text + i;
		i += strlen(text + i) + 1;
	}
	for (int o = 0; o < SCHEMA_OBJECT_MAX; o++) {
		char err[512] = "";
		json_t *j = schema_argv_to_json((enum schema_object)o, argc, words, err,
						sizeof(err));
		if (j) {
			FUZZ_CHECK(json_is_object(j));
			validate((enum schema_object)o, j);
			json_decref(j);
		} else {
			FUZZ_CHECK(err[0] != '\0');
		}
	}
	free(text);
	return 0;
}
