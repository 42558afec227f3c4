/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Backends: one ops table per kind of vnet ("kernel", "ovs", later "user").
 * csd calls only through this table, so unit tests and fuzzers can plug in a
 * recording backend (vnet/recording.c) and a new backend adds a file.
 *
 * Every step is idempotent: ensure() adopts what exists, repairs what
 * drifted and creates what is missing; destroy() of something absent
 * succeeds. All return 0 or a negative CS_E* code and, on failure, write a
 * reason into the backend's error buffer (vnet_backend_error()).
 */
#ifndef VNET_VNET_H
#define VNET_VNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cs/cs.h"
#include "ipam.h"
#include "publish.h"

#define VNET_PUBLISH_MAX 64

#define VNET_PREFIX_MAX 8
/* Default MTUs: a vnet on one node carries no encapsulation; one spanning
 * nodes leaves room for the VXLAN header on a 1500-byte underlay. */
#define VNET_MTU_LOCAL 1500
#define VNET_MTU_OVERLAY 1450
/* ... and VXLAN inside WireGuard (vnet/wg.h: 1500 - 80 - 50) */
#define VNET_MTU_ENCRYPTED 1370

/* What a backend needs to know of a vnet. */
struct vnet_spec {
	const char *tenant;
	const char *name;
	uint32_t id;            /* VNI, 1..16777215 */
	int mtu;                /* 0: default */
	bool has4, has6;
	struct cs_prefix subnet4, subnet6;
	/* underlay addresses of the other nodes the vnet spans (issue 5) */
	const struct cs_addr *peers;
	size_t npeers;
	/* parallel to peers: the UDP port each node's VXLAN listens on (its
	 * underlay "ADDR:PORT"); NULL: all CS_VXLAN_PORT */
	const uint16_t *peer_ports;
	/* parallel to peers: the node runs csd without privileges (backend
	 * user, or declared "unprivileged") and sends VXLAN from its port, so
	 * only that source port is its (a kernel node sends from a per-flow
	 * port); NULL: none. For backends that filter in user space (uvx). */
	const bool *peer_from_port;
	/* this node's underlay address when the caller knows it better than
	 * the backend's configuration (declared for the node); NULL: that */
	const struct cs_addr *local;
	/* with @local: the port this node's VXLAN listens on; 0: CS_VXLAN_PORT */
	uint16_t local_port;
	/* endpoints reach the world through this node (key "egress") */
	bool egress;
};

struct endpoint_spec {
	const char *name;
	bool has4, has6;
	struct cs_addr addr4, addr6;
	/* the vnet has rules: a new endpoint accepts nothing from the vnet
	 * until endpoint_policy() loads them (it is never open before its
	 * rules hold) */
	bool guarded;
	/* ports published on this node (key "publish"), forwarded to it */
	struct vnet_publish publish[VNET_PUBLISH_MAX];
	size_t npublish;
	/* lives in a namespace someone else made (key "netns"), attached by
	 * endpoint_attach(): its interface is @ifname (NULL: "eth0"), and a
	 * namespace that is gone is reported, never made anew */
	bool attached;
	const char *ifname;
};

struct endpoint_stats {
	uint64_t rx_bytes, tx_bytes, rx_packets, tx_packets;
	uint64_t rx_dropped, tx_dropped;
};

/* What a backend finds in the kernel (for the reconciler). Names are the
 * object paths it recognized, "tenant/vnet" and "tenant/vnet/endpoint". */
struct vnet_inventory {
	char **vnets;
	size_t nvnets;
	char **endpoints;
	size_t nendpoints;
};
void vnet_inventory_clear(struct vnet_inventory *inv);

struct vnet_backend;

/* QoS of what an endpoint sends (resources/): HTB on its egress. */
enum vnet_qos_class { VNET_QOS_REALTIME = 0, VNET_QOS_INTERACTIVE = 1, VNET_QOS_BULK = 2 };
struct vnet_qos {
	uint64_t rate;   /* bit/s, guaranteed */
	uint64_t ceil;   /* bit/s, >= rate (= rate: no borrowing) */
	uint64_t burst;  /* bytes; 0: a default that suits the rate */
	enum vnet_qos_class cls;
};

/* Rules enforced at an endpoint's ingress (policy/ compiles them): first
 * match wins; established and related traffic is always accepted, so
 * replacing the rules keeps allowed connections. */
enum vnet_fw_action { VNET_FW_ALLOW = 0, VNET_FW_DENY = 1 };
struct vnet_fw_rule {
	enum vnet_fw_action action;
	const struct cs_prefix *src;   /* sources; nsrc 0 means any */
	size_t nsrc;
	int proto;                     /* 0 any, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP (v4 and v6) */
	uint16_t port_lo, port_hi;     /* destination ports (tcp/udp); 0,0: any */
	/* egress rules (vb_egress_policy) only: the destination, NULL any */
	const struct cs_prefix *dst;
};
struct vnet_fw {
	enum vnet_fw_action dflt;
	const struct vnet_fw_rule *rules;
	size_t n;
};

/* Encapsulated traffic the underlay accepts: VXLAN packets with VNI @vni
 * only from these peer underlay addresses, to this node's VXLAN port. */
struct vnet_underlay_rule {
	uint32_t vni;
	const struct cs_addr *peers;
	size_t npeers;
	/* parallel to peers: the port each peer's VXLAN listens on (NULL: all
	 * CS_VXLAN_PORT), and whether its VXLAN must also come FROM that port
	 * (NULL: none). A node running csd without privileges (node key
	 * "unprivileged") sends from its underlay port; a kernel node sends from
	 * a per-flow port, and its own output filter keeps its users off VXLAN. */
	const uint16_t *ports;
	const bool *from_port;
	/* the port this node's VXLAN listens on; 0: the backend's own */
	uint16_t port;
};

/* The encrypted underlay (vnet/wg.h): this node's WireGuard key and port,
 * and the nodes its vnets share, each with its underlay address and key. */
struct vnet_wg_peer {
	struct cs_addr underlay;
	uint8_t key[32];
	uint16_t port;
};
enum vnet_wg_driver { VNET_WG_AUTO = 0, VNET_WG_KERNEL, VNET_WG_GO };
struct vnet_encrypt {
	enum vnet_wg_driver driver;	/* auto: the kernel's where it works */
	uint8_t priv[32];
	uint16_t port;
	const struct vnet_wg_peer *peers;
	size_t npeers;
};

struct vnet_backend_config {
	const char *prefix;     /* every kernel object carries it (<= 8 chars) */
	const char *underlay;   /* this node's underlay address, or NULL */
	const char *run_dir;    /* csd's runtime directory */
	const char *ovsdb;      /* ovs: ovsdb-server's socket, "unix:PATH"; NULL: default */
	/* where the store is ("http://192.0.2.9:2379", NULL-terminated, or
	 * NULL): egress never reaches those hosts */
	const char *const *store_urls;
};

/* What a backend is, for csd to ask instead of comparing names. */
enum vnet_caps {
	/* its objects live in the host's shared kernel (namespaces, links),
	 * where a prefix is claimed by one csd (csd/claim.c) */
	VNET_CAP_HOST_OBJECTS = 1 << 0,
	/* stands in for a vnet of any backend (the recording one, for tests):
	 * a vnet's "backend" key is not held against it */
	VNET_CAP_ANY_KIND = 1 << 1,
	/* keeps what it runs (stack processes and their sockets) under
	 * csd's run directory, which must then be safe (csd/safedir.c) */
	VNET_CAP_RUN_DIR = 1 << 2,
};

/* A channel to an endpoint's user-level stack (the user backend): what the
 * program asked for; the stack writes the outcome into the channel
 * (api/chan.h). */
enum vnet_chan_kind { VNET_CHAN_CONNECT = 1, VNET_CHAN_LISTEN, VNET_CHAN_DGRAM };
struct vnet_channel {
	enum vnet_chan_kind kind;
	struct cs_addr peer;    /* connect, dgram */
	uint16_t port;          /* the peer's (connect, dgram) or the one to listen on */
	int backlog;
};

struct vnet_ops {
	const char *name;
	unsigned caps;          /* enum vnet_caps */
	int (*open)(const struct vnet_backend_config *cfg, struct vnet_backend **out);
	void (*close)(struct vnet_backend *b);
	int (*vnet_ensure)(struct vnet_backend *b, const struct vnet_spec *v);
	int (*vnet_destroy)(struct vnet_backend *b, const char *tenant, const char *vnet);
	int (*endpoint_ensure)(struct vnet_backend *b, const struct vnet_spec *v,
			       const struct endpoint_spec *e);
	/* removes the endpoint's link first, so sockets handed out lose access */
	int (*endpoint_destroy)(struct vnet_backend *b, const char *tenant, const char *vnet,
				const char *endpoint);
	/* a socket(2) created inside the endpoint; returns the fd or a code */
	int (*endpoint_socket)(struct vnet_backend *b, const char *tenant, const char *vnet,
			       const char *endpoint, int domain, int type, int protocol);
	/* an fd of the endpoint's network namespace (for exec); fd or code */
	int (*endpoint_netns)(struct vnet_backend *b, const char *tenant, const char *vnet,
			      const char *endpoint);
	int (*endpoint_stats)(struct vnet_backend *b, const char *tenant, const char *vnet,
			      const char *endpoint, struct endpoint_stats *out);
	int (*inventory)(struct vnet_backend *b, struct vnet_inventory *out);
	/* shape what the endpoint sends; qos NULL removes the shaping */
	int (*endpoint_qos)(struct vnet_backend *b, const char *tenant, const char *vnet,
			    const char *endpoint, const struct vnet_qos *qos);
	/* shape what leaves the node by VXLAN (node uplink_shape): on the
	 * underlay device, the one holding @underlay, VXLAN traffic (UDP to
	 * the VXLAN port) limited to @bps and nothing else shaped; 0 removes
	 * that shaping (another root qdisc there is left alone). Optional. */
	int (*uplink_qos)(struct vnet_backend *b, const struct cs_addr *underlay, uint64_t bps);
	/* replace the endpoint's ingress rules atomically; fw NULL removes them
	 * (everything allowed) */
	int (*endpoint_policy)(struct vnet_backend *b, const char *tenant, const char *vnet,
			       const char *endpoint, const struct vnet_fw *fw);
	/* packets the endpoint's rules denied since they were loaded;
	 * CS_ENOENT when it has no rules. Optional (NULL: not counted). */
	int (*endpoint_denied)(struct vnet_backend *b, const char *tenant, const char *vnet,
			       const char *endpoint, uint64_t *packets);
	/* replace, atomically, the whole set of VXLAN sources the node's
	 * underlay accepts; every other packet to the VXLAN port is dropped */
	int (*underlay_filter)(struct vnet_backend *b, const struct vnet_underlay_rule *rules,
			       size_t n);
	/* carry VXLAN to each peer inside WireGuard, adding and removing
	 * peers without disturbing the others; NULL stops the tunnel (none
	 * left: nothing of it remains). Call before underlay_filter(), which
	 * then accepts VXLAN only out of the tunnel. Optional: a backend
	 * without it refuses encryption. */
	int (*underlay_encrypt)(struct vnet_backend *b, const struct vnet_encrypt *e);
	/* the vnet's rules for what its endpoints send out of it (egress):
	 * @fw's rules with sources and destinations, first match wins, then
	 * its default; NULL removes them. Optional (vb_egress_policy). */
	int (*egress_policy)(struct vnet_backend *b, const char *tenant, const char *vnet,
			     const struct vnet_fw *fw);
	/* a socket(2) where the vnet's gateway lives on this node, for the
	 * services csd answers at the gateway address (DNS); fd or code.
	 * Optional (vb_gateway_socket). */
	int (*gateway_socket)(struct vnet_backend *b, const char *tenant, const char *vnet,
			      int domain, int type, int protocol);
	/* the directory whose files a program run in the endpoint sees in
	 * place of /etc's (iproute2's /etc/netns/NETNS: resolv.conf naming
	 * the gateway), into @buf; 0 or a code. Optional (vb_endpoint_etc). */
	int (*endpoint_etc)(struct vnet_backend *b, const char *tenant, const char *vnet,
			    const char *endpoint, char *buf, size_t len);
	/* make the network namespace @nsfd (someone else's: a container's)
	 * the endpoint's, its interface to be @ifname, before the first
	 * endpoint_ensure() with "attached"; the backend keeps its own handle
	 * so that it finds the namespace again after a restart, and
	 * endpoint_destroy() removes only what it added there. Refuses the
	 * node's own namespace and one the backend already uses. Optional
	 * (vb_endpoint_attach). */
	int (*endpoint_attach)(struct vnet_backend *b, const char *tenant, const char *vnet,
			       const char *endpoint, int nsfd, const char *ifname);
	/* a channel to the endpoint's stack: the program's end of a
	 * socketpair, fd or code. Optional (vb_endpoint_channel): backends
	 * whose endpoint_socket gives real sockets leave it out. */
	int (*endpoint_channel)(struct vnet_backend *b, const char *tenant, const char *vnet,
				const char *endpoint, const struct vnet_channel *ch);
};

/* Every backend starts with this. */
struct vnet_backend {
	const struct vnet_ops *ops;
	char error[512];
};

static inline const char *vnet_backend_error(const struct vnet_backend *b)
{
	return b->error;
}

/*
 * The front door: csd calls a backend only through these, never through
 * b->ops. Optional operations a backend leaves out answer CS_ENOTSUP.
 */
static inline bool vb_has(const struct vnet_backend *b, enum vnet_caps cap)
{
	return (b->ops->caps & cap) != 0;
}

static inline const char *vb_name(const struct vnet_backend *b)
{
	return b->ops->name;
}

static inline void vb_close(struct vnet_backend *b)
{
	b->ops->close(b);
}

static inline int vb_vnet_ensure(struct vnet_backend *b, const struct vnet_spec *v)
{
	return b->ops->vnet_ensure(b, v);
}

static inline int vb_vnet_destroy(struct vnet_backend *b, const char *t, const char *v)
{
	return b->ops->vnet_destroy(b, t, v);
}

static inline int vb_endpoint_ensure(struct vnet_backend *b, const struct vnet_spec *v,
				     const struct endpoint_spec *e)
{
	return b->ops->endpoint_ensure(b, v, e);
}

static inline int vb_endpoint_destroy(struct vnet_backend *b, const char *t, const char *v,
				      const char *e)
{
	return b->ops->endpoint_destroy(b, t, v, e);
}

static inline int vb_endpoint_socket(struct vnet_backend *b, const char *t, const char *v,
				     const char *e, int domain, int type, int protocol)
{
	return b->ops->endpoint_socket(b, t, v, e, domain, type, protocol);
}

static inline int vb_endpoint_netns(struct vnet_backend *b, const char *t, const char *v,
				    const char *e)
{
	return b->ops->endpoint_netns(b, t, v, e);
}

static inline int vb_endpoint_stats(struct vnet_backend *b, const char *t, const char *v,
				    const char *e, struct endpoint_stats *out)
{
	return b->ops->endpoint_stats(b, t, v, e, out);
}

static inline int vb_inventory(struct vnet_backend *b, struct vnet_inventory *out)
{
	return b->ops->inventory(b, out);
}

static inline int vb_endpoint_qos(struct vnet_backend *b, const char *t, const char *v,
				  const char *e, const struct vnet_qos *qos)
{
	return b->ops->endpoint_qos(b, t, v, e, qos);
}

static inline bool vb_has_uplink_qos(const struct vnet_backend *b)
{
	return b->ops->uplink_qos != NULL;
}

static inline int vb_uplink_qos(struct vnet_backend *b, const struct cs_addr *underlay,
				uint64_t bps)
{
	return b->ops->uplink_qos ? b->ops->uplink_qos(b, underlay, bps) : CS_ENOTSUP;
}

static inline int vb_endpoint_policy(struct vnet_backend *b, const char *t, const char *v,
				     const char *e, const struct vnet_fw *fw)
{
	return b->ops->endpoint_policy(b, t, v, e, fw);
}

static inline int vb_endpoint_denied(struct vnet_backend *b, const char *t, const char *v,
				     const char *e, uint64_t *packets)
{
	return b->ops->endpoint_denied ? b->ops->endpoint_denied(b, t, v, e, packets)
				       : CS_ENOTSUP;
}

static inline int vb_underlay_filter(struct vnet_backend *b, const struct vnet_underlay_rule *rules,
				     size_t n)
{
	return b->ops->underlay_filter(b, rules, n);
}

/* Can the backend encrypt its underlay (underlay_encrypt)? */
static inline bool vb_encrypts(const struct vnet_backend *b)
{
	return b->ops->underlay_encrypt != NULL;
}

static inline int vb_underlay_encrypt(struct vnet_backend *b, const struct vnet_encrypt *e)
{
	return b->ops->underlay_encrypt ? b->ops->underlay_encrypt(b, e) : CS_ENOTSUP;
}

static inline int vb_egress_policy(struct vnet_backend *b, const char *tenant, const char *vnet,
				   const struct vnet_fw *fw)
{
	return b->ops->egress_policy ? b->ops->egress_policy(b, tenant, vnet, fw) : CS_ENOTSUP;
}

static inline int vb_gateway_socket(struct vnet_backend *b, const char *tenant,
				      const char *vnet, int domain, int type, int protocol)
{
	return b->ops->gateway_socket ? b->ops->gateway_socket(b, tenant, vnet, domain, type,
							       protocol)
				      : CS_ENOTSUP;
}

static inline int vb_endpoint_etc(struct vnet_backend *b, const char *tenant, const char *vnet,
				    const char *endpoint, char *buf, size_t len)
{
	return b->ops->endpoint_etc ? b->ops->endpoint_etc(b, tenant, vnet, endpoint, buf, len)
				    : CS_ENOTSUP;
}

static inline int vb_endpoint_attach(struct vnet_backend *b, const char *tenant,
				     const char *vnet, const char *endpoint, int nsfd,
				     const char *ifname)
{
	return b->ops->endpoint_attach ? b->ops->endpoint_attach(b, tenant, vnet, endpoint, nsfd,
								 ifname)
				       : CS_ENOTSUP;
}

/* Does the backend give channels (endpoint_channel) rather than sockets? */
static inline bool vb_gives_channels(const struct vnet_backend *b)
{
	return b->ops->endpoint_channel != NULL;
}

static inline int vb_endpoint_channel(struct vnet_backend *b, const char *tenant,
				      const char *vnet, const char *endpoint,
				      const struct vnet_channel *ch)
{
	return b->ops->endpoint_channel ? b->ops->endpoint_channel(b, tenant, vnet, endpoint, ch)
					: CS_ENOTSUP;
}

extern const struct vnet_ops vnet_kernel_ops;
extern const struct vnet_ops vnet_user_ops;
extern const struct vnet_ops vnet_recording_ops;
extern const struct vnet_ops vnet_ovs_ops;

/* Is @s a name an endpoint's interface may have (1-15 characters, no
 * '/', ':' or white space, not "lo", "." or "..")? */
bool vnet_ifname_valid(const char *s);

/* The backend called @name, or NULL. */
const struct vnet_ops *vnet_ops_find(const char *name);

#endif
