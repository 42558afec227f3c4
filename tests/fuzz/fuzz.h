/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The libFuzzer entry points. Declared here because the build warns on
 * functions without a prototype, and so that replay.c (the gcc regression
 * driver) and the harnesses agree on them.
 */
#ifndef CS_TESTS_FUZZ_H
#define CS_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/*
 * An invariant of the code under test does not hold. abort() rather than
 * assert(): it must fire in every build (NDEBUG or not), and libFuzzer
 * turns SIGABRT into a saved crash input.
 */
#define FUZZ_CHECK(cond)                                                              \
	do {                                                                          \
		if (!(cond)) {                                                        \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__,      \
				__LINE__, #cond);                                     \
			abort();                                                      \
		}                                                                     \
	} while (0)

#endif
