/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The underlay an OVS node's tunnels need (vnet/ovs_underlay.c).
 */
#ifndef VNET_OVS_UNDERLAY_H
#define VNET_OVS_UNDERLAY_H

#include <stddef.h>

#include "ovsdb.h"
#include "vnet.h"

/*
 * Can ovs-vswitchd's userspace tunnels (datapath "netdev") reach every
 * peer of @v? That needs, in csd's namespace (ovs-vswitchd's): the route
 * to each peer leaving through the internal port of an OVS bridge of
 * datapath netdev, from this node's underlay address (@v->local, else
 * @local when not NULL), that bridge holding another port (the uplink),
 * and no kernel device among its ports answering ARP for the node's
 * addresses. 0 when it can (or @dp is not "netdev": the kernel datapath
 * tunnels through the kernel's own routing); else CS_EINVAL with what is
 * missing and what to do in @err. @db must be synced.
 */
int ovs_underlay_check(struct ovsdb *db, const char *dp, const struct vnet_spec *v,
		       const char *local, char *err, size_t errlen);

#endif
