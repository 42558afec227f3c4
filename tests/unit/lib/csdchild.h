/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A csd for unit tests: csd's own loop (csd_init/csd_poll/csd_fini) with the
 * recording backend, in a forked child, with its socket and state under a
 * temporary directory; and the helpers every such test needs.
 */
#ifndef TESTS_UNIT_CSDCHILD_H
#define TESTS_UNIT_CSDCHILD_H

#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>

#include <cs/cs.h>

struct csd_child {
	char sock[108];    /* fits sockaddr_un */
	char log[128];     /* where the child writes its backend's recording ("" none) */
	pid_t pid;         /* -1 when not running */
};

/* A fresh "/tmp/cs-ut-TAG-XXXXXX" (mode 0755, so other uids reach the
 * sockets in it) holding an empty state/. 0 or -1. */
int ut_tmpdir(char *dir, size_t len, const char *tag);
/* Remove it and all it holds. */
void ut_rmdir(const char *dir);

/*
 * Start a csd: "-S DIR/SOCKNAME -D DIR/state --backend recording -l warning"
 * and then @extra (NULL-terminated, may be NULL). @log: when set, the child
 * keeps DIR/LOG holding what its backend was asked to do. Returns once it
 * accepts (30 s at most, for valgrind), with *cs connected when @cs is set;
 * 0 or -1 (said on stderr).
 */
int csd_child_start(struct csd_child *c, const char *dir, const char *sockname,
		    const char *const *extra, const char *log, cs_t **cs);
/* SIGTERM, up to 5 s, then SIGKILL; nothing when it is not running. */
void csd_child_stop(struct csd_child *c);
/* The end of a group: *cs closed, the child stopped, @dir removed. */
void csd_child_end(struct csd_child *c, cs_t **cs, const char *dir);

void ut_sleep_ms(int ms);
/* @text as JSON, or the test fails. */
json_t *ut_parse(const char *text);
/* The store revision csd reports (status); a refused request must not move it. */
int64_t ut_revision(cs_t *cs);

#endif
