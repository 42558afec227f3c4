/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Endpoints torn down by a thread of their own, off the event loop (teardown.c). */
#ifndef CSD_TEARDOWN_H
#define CSD_TEARDOWN_H

#include <stdbool.h>
#include <stddef.h>

struct csd;

/* Queue endpoint t/v/e's kernel objects for teardown. 0 or CS_ENOMEM. */
int teardown_queue(struct csd *d, const char *t, const char *v, const char *e);
/* Is t/v/e queued or being torn down? */
bool teardown_pending(struct csd *d, const char *t, const char *v, const char *e);
/* Wait until t/v/e is neither (before it is realized again). */
void teardown_wait(struct csd *d, const char *t, const char *v, const char *e);
/* Teardowns queued or running. */
size_t teardown_backlog(struct csd *d);
/* Stop the thread after the teardown it is doing; the rest is left to
 * the next reconciliation. */
void teardown_stop(struct csd *d);

#endif
