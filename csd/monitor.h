/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Monitors (op "monitor"): connections that receive, after the op's reply,
 * one message {"id": ID, "event": {...}} per change of the declared state,
 * in store revision order. Each monitor watches the store from the revision
 * it asked for (or the next one), so a client that lost csd resumes where it
 * stopped; it sees only what authz_visible() lets it see. What it leaves
 * unread is bounded (limits.monitor): past it, csd closes the connection.
 */
#ifndef CSD_MONITOR_H
#define CSD_MONITOR_H

#include <stdbool.h>
#include <stdint.h>

#include "csd.h"

struct monitors;

/* Called by the event loop with each epoll pointer: true when it was the
 * monitors' (their watches are readable), handled. */
bool monitor_event(struct csd *d, void *p);
/* A connection closes: its monitor, if any, goes. */
void monitor_client_gone(struct csd *d, struct client *c);
/* Who made a change: before a request of an op that changes the store,
 * the revision (0 when nobody monitors, so that costs nothing); after a
 * successful one, record that the revisions since are @who's by @op, and
 * send the monitors its events at once. */
int64_t monitor_rev(struct csd *d, bool changes);
void monitor_note(struct csd *d, const struct principal *who, const char *op, int64_t rev0);
void monitor_fini(struct csd *d);

/* server.c: queue @msg to @c unsolicited and send what the socket takes;
 * a connection with more than @bound bytes unread is shut down (reaped by
 * the loop). Returns 0, or CS_EQUOTA / CS_ECONN when it was dropped. */
int client_push(struct csd *d, struct client *c, const json_t *msg, size_t bound);
/* the connection's principal */
const struct principal *client_who(const struct client *c);

#endif
