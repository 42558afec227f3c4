/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * csd/overlay.c on arbitrary input: the input as an overlay file, loaded
 * with overlay_load() as `cs-ctl apply` and csd do. Invariants: an accepted
 * file yields no errors and a consistent structure; a refused one yields at
 * least one message, each starting with a JSON path or the file itself.
 */
#include <string.h>

#include <cs/cs.h>
#include "csd/overlay.h"
#include "fuzz.h"

static bool known(void *arg, const char *name)
{
	/* half the names exist already: both branches get explored */
	return name[0] && (name[0] & 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *file = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	struct overlay_env env = { .node = "n1", .tenant_known = known };
	struct schema_errors errs = { 0 };
	struct overlay *o = NULL;

	if (!file)
		return 0;
	int r = overlay_load(file, &env, &o, &errs);
	FUZZ_CHECK(r == 0 || r == CS_EINVAL || r == CS_ENOMEM);
	if (r == 0) {
		FUZZ_CHECK(o != NULL && errs.n == 0);
		for (size_t i = 0; i < o->nvnets; i++) {
			const struct overlay_vnet *v = &o->vnets[i];
			FUZZ_CHECK(v->nsubnets >= 1 && v->nsubnets <= 2);
			FUZZ_CHECK(overlay_vnet_find(o, v->tenant, v->name) != NULL);
			for (size_t j = 0; j < v->nendpoints; j++)
				FUZZ_CHECK(v->endpoints[j].name[0] != '\0');
		}
	} else if (r == CS_EINVAL) {
		FUZZ_CHECK(errs.n > 0);
		for (size_t i = 0; i < errs.n; i++)
			FUZZ_CHECK(errs.msgs[i] && errs.msgs[i][0]);
	}
	overlay_free(o);
	schema_errors_clear(&errs);
	json_decref(file);
	return 0;
}
