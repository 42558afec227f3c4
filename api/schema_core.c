/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The core keys of tenants, vnets, endpoints and nodes (cs-overlay.json(5)). */
#include <stdint.h>

#include "schema.h"

static const char *const backends[] = { "kernel", "ovs", NULL };
/* what a node's csd runs (csd --backend): "user" has no privileges */
static const char *const node_backends[] = { "kernel", "ovs", "user", NULL };

static const struct schema_key core_keys[] = {
	{ SCHEMA_TENANT, "owners", ST_OBJECT, .doc = "who owns the tenant" },
	{ SCHEMA_TENANT, "owners.uids", ST_INT_LIST, 0, UINT32_MAX - 1, .doc = "owner uids, comma-separated" },
	{ SCHEMA_TENANT, "owners.gids", ST_INT_LIST, 0, UINT32_MAX - 1, .doc = "owner gids, comma-separated" },

	{ SCHEMA_VNET, "id", ST_INT, 1, 16777215, .doc = "VNI, 1-16777215 (allocated when left out)" },
	{ SCHEMA_VNET, "subnet", ST_CIDRS, .doc = "IPv4 and/or IPv6 prefix, e.g. 10.0.0.0/24" },
	{ SCHEMA_VNET, "backend", ST_ENUM, .enumvals = backends, .doc = "kernel or ovs (default: csd's --backend)" },
	{ SCHEMA_VNET, "mtu", ST_INT, 1280, 9000, .doc = "MTU of endpoints, 1280-9000 (default 1500 on one node, 1450 across nodes, 1370 across nodes encrypted)" },
	{ SCHEMA_VNET, "nodes", ST_NAME_LIST, .doc = "nodes the vnet spans, comma-separated (default: this node)" },
	{ SCHEMA_VNET, "egress", ST_BOOL, .doc = "true: endpoints reach the world through their node (default false)" },

	{ SCHEMA_ENDPOINT, "node", ST_NAME, .doc = "node the endpoint lives on (default: this node)" },
	{ SCHEMA_ENDPOINT, "address", ST_ADDRS, .doc = "fixed address(es) (default: allocated)" },
	{ SCHEMA_ENDPOINT, "groups", ST_NAME_LIST, .doc = "policy groups, comma-separated" },
	{ SCHEMA_ENDPOINT, "netns", ST_STRING, .doc = "attach this existing network namespace (a path; cs-ctl passes it opened) instead of making one" },
	{ SCHEMA_ENDPOINT, "ifname", ST_STRING, .doc = "name of the endpoint's interface in an attached namespace (default eth0)" },
	{ SCHEMA_ENDPOINT, "publish", ST_STRING_LIST, .doc = "[HOSTADDR:]HOSTPORT:PORT[/tcp|/udp] forwarded on the endpoint's node, comma-separated" },

	{ SCHEMA_NODE, "underlay", ST_ADDR_PORT, .doc = "underlay address of the node, with the UDP port its VXLAN listens on when not 4789 (\"127.0.0.1:4790\", \"[::1]:4790\")" },
	{ SCHEMA_NODE, "backend", ST_ENUM, .enumvals = node_backends, .doc = "the backend the node's csd runs (csd --backend; default kernel): user runs without privileges" },
	{ SCHEMA_NODE, "unprivileged", ST_BOOL, .doc = "true: the node runs csd without privileges (backend user) and this node's administrators accept it as a peer anyway, trusting every local user of its host (csd(8), MIXED VNETS)" },
	{ SCHEMA_NODE, "public_key", ST_STRING, .doc = "the node's WireGuard public key, base64 (encrypt wireguard; cs-ctl node show on that node prints it)" },
	{ SCHEMA_NODE, "wg_port", ST_INT, 1, 65535, .doc = "the node's WireGuard UDP port (default 51820)" },
};
SCHEMA_REGISTER(core_keys);
