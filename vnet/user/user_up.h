/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The user backend's side of a vnet across nodes (csd(8) BACKENDS, user
 * across nodes): csd owns the node's one VXLAN socket (uvx.h), receives on
 * it in a thread of its own and hands each frame to the stack of its VNI
 * over that stack's uplink (a SOCK_SEQPACKET socketpair). Stacks send
 * through a dup of the socket. Thread-safe.
 */
#ifndef VNET_USER_USER_UP_H
#define VNET_USER_USER_UP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "uvx.h"
#include "vnet/vnet.h"

struct uup;

int uup_new(struct uup **out);
void uup_free(struct uup *u);

/* The peers of @v (its other nodes) as uvx takes them; *n of them in *out
 * (free it). Returns 0, CS_EINVAL (an address of the wrong family), CS_ENOMEM. */
int uup_peers(const struct vnet_spec *v, struct uvx_peer **out, size_t *n);

/* Open the socket on @v's local underlay address and port when it is not
 * open yet. Returns 0, or CS_EIO with errno (EADDRINUSE: held still, by
 * the stacks of a csd before this one). */
int uup_bind(struct uup *u, const struct vnet_spec *v);

/* Whether the uplink of @vni is up and carries @peers already. */
bool uup_current(struct uup *u, uint32_t vni, const struct uvx_peer *peers, size_t n);

/*
 * Take frames of @vni from @peers alone, into a new uplink: *stack_end is
 * the uplink's end for the stack and *sock a dup of the socket (both to be
 * handed to it and closed). Returns 0 or a CS_E* code.
 */
int uup_attach(struct uup *u, uint32_t vni, const struct uvx_peer *peers, size_t n,
	       int *stack_end, int *sock);

/* Forget @vni: its frames are dropped, its uplink closed. */
void uup_detach(struct uup *u, uint32_t vni);

#endif
