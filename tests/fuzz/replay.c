/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Run a fuzz harness over saved inputs without libFuzzer, so the seed and
 * regression corpora are ordinary tests in the gcc (and gcc ASan) suite:
 *   replay_<h> DIR|FILE...
 * Directories are walked recursively; every regular file is one input.
 * Exits 1 when an argument cannot be read or holds no input at all, so a
 * mistyped corpus path fails instead of passing vacuously.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Harnesses that need no set-up leave this undefined. */
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	do {
		if (len == cap) {
			uint8_t *nb = realloc(buf, cap = cap ? cap * 2 : 4096);
			if (!nb) {
				fclose(f);
				free(buf);
				fprintf(stderr, "replay: %s: out of memory\n", path);
				return -1;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	if (ferror(f)) {
		fprintf(stderr, "replay: %s: read error\n", path);
		fclose(f);
		free(buf);
		return -1;
	}
	fclose(f);
	/* libFuzzer hands over a buffer of exactly @len bytes; copying into
	 * one keeps ASan's overflow checks as tight as under the fuzzer. */
	uint8_t *exact = malloc(len ? len : 1);
	if (!exact) {
		free(buf);
		return -1;
	}
	memcpy(exact, buf, len);
	free(buf);
	fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	return 1;
}

/* Returns the number of inputs run, or -1. */
static int run_path(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return S_ISREG(st.st_mode) ? run_file(path) : 0;

	struct dirent **ents;
	int n = scandir(path, &ents, NULL, alphasort), total = 0;

	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		if (name[0] != '.' && total >= 0) {
			size_t plen = strlen(path) + strlen(name) + 2;
			char *sub = malloc(plen);
			int r = -1;
			if (sub) {
				snprintf(sub, plen, "%s/%s", path, name);
				r = run_path(sub);
				free(sub);
			}
			total = r < 0 ? -1 : total + r;
		}
		free(ents[i]);
	}
	free(ents);
	return total;
}

int main(int argc, char **argv)
{
	int total = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
		return 2;
	}
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		int r = run_path(argv[i]);
		if (r < 0)
			return 1;
		total += r;
	}
	if (!total) {
		fprintf(stderr, "replay: no inputs found\n");
		return 1;
	}
	fprintf(stderr, "replay: %d inputs ran without a crash\n", total);
	return 0;
}
