/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Prometheus metrics (csd setting "metrics"): GET /metrics over HTTP, with a
 * bearer token. The hooks below are called from the event loop; all are
 * no-ops while metrics are off (d->metrics NULL).
 */
#ifndef CSD_METRICS_H
#define CSD_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct csd;

/* Read the token file, listen on cfg.metrics and start serving; 0 when
 * metrics are off. A code with the reason logged otherwise: csd must not
 * start (an unprotected or unreachable metrics endpoint is a mistake). */
int metrics_start(struct csd *d);
/* Stop serving; the store keeps working (its timing wrapper stays). */
void metrics_stop(struct csd *d);

/* Monotonic nanoseconds, for the hooks' start times. */
uint64_t metrics_clock(void);
/* One request of @op answered with @r (0 or a CS_E* code), begun at @t0. */
void metrics_request(struct csd *d, const char *op, int r, uint64_t t0);
/* One reconcile pass (@kind "full" or "vnets") that returned @r. */
void metrics_reconcile(struct csd *d, const char *kind, int r, uint64_t t0);
/* The event loop's hook: true when @p was the metrics' epoll entry (a
 * scrape wants a fresh snapshot), handled. */
bool metrics_event(struct csd *d, void *p);

/* Exposed for tests. */
/* The token in @path: a regular file (not a symlink), owned by csd's
 * user, no access for group or others, one line of 16-4096 printable
 * characters. 0 and *@tok (malloc'd), or CS_EINVAL/CS_EPERM with @err. */
int metrics_token_load(const char *path, char **tok, char *err, size_t errlen);
/* Does @header ("Bearer TOKEN") carry @tok? Constant time in the token. */
bool metrics_auth_ok(const char *header, const char *tok);
/* A label value escaped as the text format wants (\\, \", \n). */
void metrics_put_label(FILE *f, const char *s);
/* "HOST:PORT" or "[V6]:PORT", numeric. 0 or CS_EINVAL. */
int metrics_addr_parse(const char *s, void *sa, size_t salen, unsigned *len);
/* Build the exposition text now (as a scrape would get it). */
char *metrics_render(struct csd *d, size_t *len);

#endif
