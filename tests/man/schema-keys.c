/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Print every registered overlay key as "OBJECT PATH", one per line, for
 * check-man.sh: the registry is the one source of truth, so a key added by a
 * new schema file is checked against the man pages without editing the test.
 */
#include <stdio.h>

#include "schema.h"

int main(void)
{
	size_t it = 0;
	const struct schema_key *k;

	while ((k = schema_next(&it)))
		printf("%s %s\n", schema_object_name(k->object), k->path);
	return fflush(stdout) ? 1 : 0;
}
