/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The recording backend (vnet_recording_ops, "recording"): no I/O, for unit
 * tests and fuzzers. Every call except open/close appends one line to a log:
 *
 *   vnet_ensure acme/blue id=5
 *   vnet_destroy acme/blue
 *   endpoint_ensure acme/blue/web 10.0.0.2          (then " fd00::2" if IPv6)
 *   endpoint_destroy acme/blue/web
 *   endpoint_socket acme/blue/web
 *   endpoint_netns acme/blue/web
 *   endpoint_stats acme/blue/web
 *   inventory
 *
 * It keeps the set of realized objects and answers like the kernel backend:
 * endpoint_ensure of a vnet not realized, and socket/netns/stats of an
 * endpoint not realized, fail with CS_ENOENT; destroying what is absent
 * succeeds; vnet_destroy leaves the vnet's endpoints listed (as their
 * namespaces would be). endpoint_socket returns a real socket in the
 * caller's namespace, endpoint_netns an fd of /proc/self/ns/net, stats zeros.
 * Calls are logged even when they fail.
 */
#ifndef VNET_RECORDING_H
#define VNET_RECORDING_H

#include "vnet.h"

/* All lines so far, joined by "\n" (no trailing newline; "" if none). Valid
 * until the next call on @b. */
const char *vnet_recording_log(struct vnet_backend *b);

/* Forget the log (not the realized objects). */
void vnet_recording_reset(struct vnet_backend *b);

/* Make the next call of operation @op ("vnet_ensure", ...) fail with @code,
 * to test error paths. @code 0 cancels. */
void vnet_recording_fail_next(struct vnet_backend *b, const char *op, int code);

#endif
