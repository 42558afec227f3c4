/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Inside the kernel backend: shared by kernel.c (namespaces, links,
 * addresses), kernel_qos.c (HTB), kernel_nft.c (endpoint rules) and
 * kernel_underlay.c (which encapsulated packets the underlay accepts).
 */
#ifndef VNET_KERNEL_PRIV_H
#define VNET_KERNEL_PRIV_H

#include <pthread.h>
#include <stdint.h>

#include "vnet.h"

struct nl_sock;
struct wg_driver;

#define VXLAN_DEV "vx0"
#define EP_DEV "eth0"
#define VXLAN_PORT 4789
#define PART_MAX 32		/* CS_NAME_MAX */
#define NSNAME_MAX (VNET_PREFIX_MAX + 3 * (PART_MAX + 1) + 1)
#define CACHE_BUCKETS 256

struct ns_entry {
	struct ns_entry *next;
	int fd;
	char name[];
};

/* What the underlay filter knows of the encrypted underlay (vnet/wg*.c). */
struct kernel_wg_filter {
	char ifname[16];	/* the tunnel's interface; "": not encrypted */
	unsigned int port;	/* WireGuard's UDP port; 0: none */
};

struct kernel_backend {
	struct vnet_backend base;
	struct kernel_wg_filter wgf;
	const struct wg_driver *wgd;	/* the tunnel's driver, once up */
	char prefix[VNET_PREFIX_MAX + 1];
	/* endpoint_socket() runs on csd's worker threads: readers share */
	pthread_rwlock_t lock;
	struct ns_entry *cache[CACHE_BUCKETS];
	/* egress (kernel_egress.c): addresses egress never reaches (other
	 * nodes' underlay addresses, the store's hosts), and the vnets here
	 * with egress ("T/V"), for the host table to go with the last one */
	struct cs_addr *guard;
	size_t nguard;
	char **egress;
	size_t negress;
	/* what was loaded into nftables where, kept across restarts
	 * (kernel_nft.c): the file, and the lines written to it */
	int nft_log;
	size_t nft_lines;
	/* endpoints here with published ports ("T/V/E") */
	char **published;
	size_t npublished;
	/* csd's run directory: what marks attached namespaces (kernel_attach.c) */
	char *run_dir;
};

/* "P.T.V" or "P.T.V.E" (@e NULL) into buf (NSNAME_MAX); CS_EINVAL if a
 * name is not valid. */
int kernel_ns_name(struct kernel_backend *kb, char *buf, const char *t, const char *v,
		   const char *e);
/* A netlink route socket bound to namespace @nsfd; reasons go to kb. */
int kernel_nl_open_in(struct kernel_backend *kb, int nsfd, const char *nsname, const char *what,
		      struct nl_sock **out);
/* The id under which @sk's namespace knows namespace @fd
 * (NETNSA_NSID_NOT_ASSIGNED: none), or a negative libnl code. */
int nsid_of(struct nl_sock *sk, int fd, int32_t *id);
/* An address a link should hold (kernel_addrs_fix). */
struct want_addr {
	bool want, have;
	int family, plen;
	const struct cs_addr *addr;
};
/* Exactly the wanted addresses w[0..2) on @ifindex (IPv6 link-local
 * aside): strays removed, missing ones added (IPv6 without DAD). */
int kernel_addrs_fix(struct kernel_backend *kb, struct nl_sock *sk, int ifindex,
		     struct want_addr *w, const char *what);
/* One batch of nft text run by kernel_nft_job() through netns_run(): rc is
 * nft's, error its text (malloc'd) when it refused. */
struct nft_job {
	const char *cmds;
	char *error;		/* nft's own text, malloc'd */
	int rc;
};
/* Runs the job in the namespace the thread is in (libnftables opens its
 * netlink socket in nft_ctx_new()); 0, or CS_ENOMEM. */
int kernel_nft_job(void *arg);
/* Load nft text @cmds (one batch: atomic) in namespace @nsfd; reasons to
 * kb with @what and @ns. */
int kernel_nft_run(struct kernel_backend *kb, int nsfd, const char *cmds, const char *what,
		   const char *ns);
/* The same, skipped when @cmds (with @salt: what else it depends on, such
 * as the ifindex a netdev chain is bound to) is what @tag (the caller's
 * table or tables there) last loaded into namespace @ns and nothing
 * changed nftables there since: a load costs an RCU grace period. */
int kernel_nft_load(struct kernel_backend *kb, int nsfd, const char *ns, const char *tag,
		    uint64_t salt, const char *cmds, const char *what);
/* Write the reason of a failure for vnet_backend_error(). */
void kernel_err(struct kernel_backend *kb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* An endpoint's addresses, ping sockets, closed rules and lo once its eth0
 * (@ifindex) exists in namespace @efd named @ens (kernel.c; the ovs
 * backend shares it). */
int kernel_ep_finish(struct kernel_backend *kb, const struct vnet_spec *v,
		     const struct endpoint_spec *e, struct nl_sock *esk, int efd, const char *ens,
		     int ifindex, bool fresh, const char *what);

/* The ops of the other files (see vnet.h for their contracts). */
int kernel_endpoint_qos(struct vnet_backend *b, const char *tenant, const char *vnet,
			const char *endpoint, const struct vnet_qos *qos);
int kernel_uplink_qos(struct vnet_backend *b, const struct cs_addr *underlay, uint64_t bps);
int kernel_endpoint_policy(struct vnet_backend *b, const char *tenant, const char *vnet,
			   const char *endpoint, const struct vnet_fw *fw);
int kernel_endpoint_denied(struct vnet_backend *b, const char *tenant, const char *vnet,
			   const char *endpoint, uint64_t *packets);
/* A namespace was (re)created or deleted: what was loaded into one of
 * that name before says nothing about it. */
void kernel_nft_forget(struct kernel_backend *kb, const char *ns);
/* What was loaded where, read back from (and kept in) RUN_DIR/PREFIX.nft;
 * and that file closed. */
void kernel_nft_memory(struct kernel_backend *kb, const char *run_dir);
void kernel_nft_close(struct kernel_backend *kb);
int kernel_underlay_encrypt(struct vnet_backend *b, const struct vnet_encrypt *e);
int kernel_underlay_ns(struct kernel_backend *kb);
/* The UDP port of the configured underlay (4789 unless "ADDR:PORT"). */
uint16_t kernel_underlay_port(struct kernel_backend *kb);
/* kernel_ep.c: an endpoint's sysctls (any port bindable, ping sockets)
 * and its routes (multicast without naming an interface), on every ensure. */
int kernel_ep_sysctls(struct kernel_backend *kb, int efd, const char *what, const char *ens);
int kernel_ep_routes(struct kernel_backend *kb, struct nl_sock *esk, int ifindex,
		     const struct vnet_spec *v, const char *what, const char *ens);
/* kernel_gw.c: the vnet's gateway on this node (gw0 in the vnet namespace,
 * and the filter that keeps it off vx0), on every vnet ensure. */
int kernel_gw_ensure(struct kernel_backend *kb, struct nl_sock *vsk, int vfd, int vx0_index,
		     const struct vnet_spec *v, int mtu, const char *what, const char *ns);
/* /etc/netns/@ens/resolv.conf naming the gateway of @v (written when it
 * differs), and its removal (with the directory) */
int kernel_ep_etc(struct kernel_backend *kb, const char *ens, const struct vnet_spec *v,
		  const char *e, const char *what);
void kernel_ep_etc_remove(const char *ens);
int kernel_endpoint_etc(struct vnet_backend *b, const char *tenant, const char *vnet,
			const char *endpoint, char *buf, size_t len);
int kernel_gateway_socket(struct vnet_backend *b, const char *tenant, const char *vnet,
			  int domain, int type, int protocol);
/* kernel_egress.c: the vnet's way out when it has egress, removed when not;
 * and what goes with the vnet. */
int kernel_egress_ensure(struct kernel_backend *kb, struct nl_sock *vsk, int vfd,
			 const struct vnet_spec *v, const char *what, const char *ns);
void kernel_egress_gone(struct kernel_backend *kb, const char *tenant, const char *vnet);
int kernel_egress_policy(struct vnet_backend *b, const char *tenant, const char *vnet,
			 const struct vnet_fw *fw);
/* Addresses egress must never reach (deduplicated). */
void kernel_guard_note(struct kernel_backend *kb, const struct cs_addr *a, size_t n);
void kernel_egress_free(struct kernel_backend *kb);
/* The hosts of the store's URLs (address literals) into the guard. */
void kernel_guard_urls(struct kernel_backend *kb, const char *const *urls);
/* A route to @dst (text) on @ifindex, via @gw unless NULL, replaced when it
 * exists; @del: removed (absent is no error). A netlink code. */
int kernel_route(struct nl_sock *sk, int ifindex, int family, const char *dst,
		 const struct cs_addr *gw, bool del);
/* The vnet's transit link (eg0 / PREFIXx<VNI>), its addresses and the
 * host's table, for egress and published ports alike. */
int kernel_transit_ensure(struct kernel_backend *kb, struct nl_sock *vsk, int vfd,
			  const struct vnet_spec *v, const char *what, const char *ns);
/* Transit addresses of VNI @vni: [0] the host's end, [1] the vnet's. */
void kernel_transit_addrs(uint32_t vni, struct cs_addr t4[2], struct cs_addr t6[2]);
/* kernel_publish.c: an endpoint's published ports, on every ensure; gone
 * with the endpoint, or with the vnet. */
int kernel_publish_ensure(struct kernel_backend *kb, struct nl_sock *vsk, int vfd,
			  const struct vnet_spec *v, const struct endpoint_spec *e,
			  const char *what, const char *ns);
void kernel_publish_gone(struct kernel_backend *kb, const char *t, const char *v,
			 const char *e);
/* Does an endpoint of vnet "T/V" publish ports here? */
bool kernel_publish_any(struct kernel_backend *kb, const char *tv);
/* A default route via @gw on @ifindex (replaced when it exists). */
int kernel_route_default(struct nl_sock *sk, int ifindex, const struct cs_addr *gw);
/* kernel_attach.c: endpoints in namespaces cs did not make. */
int kernel_endpoint_attach(struct vnet_backend *b, const char *tenant, const char *vnet,
			   const char *endpoint, int nsfd, const char *ifname);
/* Is namespace @ens attached? 1 with its interface's name in @ifname
 * (IFNAMSIZ), 0 when it is cs's own. */
int kernel_attached(struct kernel_backend *kb, const char *ens, char *ifname);
/* The endpoint's interface in @ens: "eth0", or an attached one's, in @buf
 * (IFNAMSIZ); returns @buf. */
const char *kernel_ep_dev(struct kernel_backend *kb, const char *ens, char *buf);
/* The alias cs gives the interface it adds to an attached namespace, by
 * which it knows it as its own (@buf: KERNEL_ALIAS_MAX). */
#define KERNEL_ALIAS_MAX (NSNAME_MAX + 8)
void kernel_ep_alias(const char *ens, char *buf);
/* Remove cs's interface and rules from attached namespace @ens (@ifname),
 * and csd's hold on it; the namespace stays (it is not cs's). */
int kernel_attach_destroy(struct kernel_backend *kb, const char *t, const char *v,
			  const char *e, const char *ens, const char *ifname, const char *what);
int kernel_underlay_filter(struct vnet_backend *b, const struct vnet_underlay_rule *rules,
			   size_t n);

#endif
