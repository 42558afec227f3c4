/* SPDX-License-Identifier: GPL-2.0-or-later */
/* csd: daemon state, configuration, the op registry and request context. */
#ifndef CSD_CSD_H
#define CSD_CSD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>

#include <cs/cs.h>
#include "proto.h"
#include "store.h"
#include "vnet/vnet.h"

/* ---- configuration (config.c) ---- */

/* What each non-administrator uid may hold ("limits" in the -c file;
 * defaults in bounds.c, stated in csd(8)). */
struct csd_limits {
	size_t connections;     /* open connections per uid */
	size_t buffer;          /* bytes of partial messages per uid */
	size_t buffer_total;    /* bytes of partial messages, all uids */
	size_t replies;         /* bytes of unread replies per uid */
	size_t reply_fds;       /* fds unread replies of one uid hold */
	size_t partial_timeout; /* seconds a partial message may wait for its next part */
	size_t tenants;         /* tenants a uid creates, in total */
	size_t vnets;           /* vnets a uid creates, in total */
	size_t endpoints;       /* endpoints a uid creates or opens, in total */
	size_t rules;           /* rules in one vnet's policy */
	size_t document;        /* bytes of one object's declaration */
	size_t monitor;         /* bytes of events one monitor leaves unread */
};

struct csd_config {
	char *config_path;
	char *socket_path;
	char *state_dir;
	char *run_dir;
	char *prefix;
	char *node;
	char *underlay;
	char *backend;          /* "kernel" (default) or "recording" (tests) */
	char **backends;        /* "backends": more that vnets may name */
	size_t nbackends;
	char *encrypt;          /* "none" (default) or "wireguard" */
	unsigned wg_port;       /* WireGuard's UDP port (default 51820) */
	char *wg_driver;        /* "auto" (default), "kernel" or "wireguard-go" */
	int log_level;          /* LOG_ERR..LOG_DEBUG */
	char *store_type;
	char **etcd_endpoints;  /* NULL-terminated */
	char *etcd_prefix;
	char *etcd_ca, *etcd_cert, *etcd_key;   /* store.tls */
	char *etcd_user, *etcd_password_file;   /* store.auth */
	char *etcd_password;    /* read from etcd_password_file; never logged */
	gid_t *admin_gids;
	size_t n_admin_gids;
	/* the quotas a tenant created by someone not an administrator gets
	 * ({"vnets": N, "endpoints": N, "bandwidth": "1gbit"}), or NULL */
	json_t *default_quotas;
	double headroom;
	unsigned reconcile_interval; /* seconds */
	size_t msg_max;
	struct csd_limits limits;
	char *metrics;            /* "ADDRESS:PORT" serving GET /metrics, or NULL */
	char *metrics_token_file; /* the bearer token scrapes must carry */
	char *ovsdb;            /* ovs backend: ovsdb-server's socket, unix:PATH */
	/* where the gateways' DNS forwards names outside cs for vnets with
	 * egress (addresses, NULL-terminated); NULL: /etc/resolv.conf's */
	char **resolvers;
	/* the host ports owners may publish ("publish_ports", default
	 * 1024-65535); administrators publish any */
	unsigned publish_lo, publish_hi;
};

/* Parse argv, then the -c file (flags win). 0, or CS_EINVAL with a message
 * in err; 1 when --help/--version printed something and csd should exit. */
int csd_config_load(struct csd_config *cfg, int argc, char **argv, char *err, size_t errlen);
void csd_config_free(struct csd_config *cfg);

/* ---- logging (log.c): only the daemon logs ---- */

void log_set_level(int level);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_err(...) log_msg(3, __VA_ARGS__)
#define log_warn(...) log_msg(4, __VA_ARGS__)
#define log_info(...) log_msg(6, __VA_ARGS__)
#define log_debug(...) log_msg(7, __VA_ARGS__)
int log_level_parse(const char *s);

/* ---- principals ---- */

struct principal {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	gid_t *gids;   /* supplementary groups (SO_PEERGROUPS), includes gid */
	int ngids;
	bool admin;    /* root, csd's own user, or a member of admin_gids */
	/* whom its use of csd is charged to (bounds.c, charges.c): uid, or,
	 * for a process in a user namespace a user made (its subordinate
	 * uids), that user; 0: uid */
	uid_t cuid;
};

/* The uid a principal's use is charged to. */
static inline uid_t principal_charged(const struct principal *p)
{
	return p->cuid ? p->cuid : p->uid;
}

/* ---- daemon ---- */

struct client;
struct uid_table;
struct teardown;
struct metrics;
struct monitors;

#define CSD_BACKENDS_MAX 4

struct csd {
	struct csd_config cfg;
	struct store *store;
	/* the --backend: vnets that name none, and what is the node's */
	struct vnet_backend *backend;
	/* the backends open, the --backend first (backends.c); only appended
	 * to while csd runs */
	struct vnet_backend *backends[CSD_BACKENDS_MAX];
	size_t nbackends;
	int epfd;
	int listen_fd;
	int signal_fd;
	int timer_fd;
	struct client *clients;
	size_t nclients;
	bool stopping;
	uint64_t started; /* monotonic ms */
	uint64_t requests;
	/* bumped by every change of the desired state: caches of
	 * authorization decisions (client_may_use) are valid for one value */
	uint64_t gen;
	/* watch-driven reconcile (shared store): the watch on the store,
	 * a one-shot timer coalescing its events, a 1 s tick that heartbeats
	 * this node and retries what failed while the store was away */
	struct store_watch *watch;
	int debounce_fd;
	int tick_fd;
	bool debounce_armed;
	bool store_up;      /* the last call to the store succeeded */
	char *store_why;    /* what store_error() said last, logged once */
	uint64_t heartbeat_at; /* monotonic ms of the last heartbeat */
	int64_t lease;      /* the store lease that holds this node's liveness */
	/* the nodes alive (/nodes-alive/ read at alive_at, monotonic ms;
	 * model.c), so that listings ask the store once */
	json_t *alive;
	uint64_t alive_at;
	/* vnets ("T/V") whose keys the coalesced watch events touched, and
	 * whether something else asks for a full reconcile */
	json_t *dirty;
	bool dirty_all;
	uint64_t reconciled_at; /* monotonic ms of the last watch-driven one */
	int64_t rev_seen;   /* the newest store revision reconcile_all read */
	int claim_fd;       /* RUN_DIR/PREFIX.lock, held while csd runs (claim.c) */
	/* what each uid holds (bounds.c), and the bound on all connections
	 * (from RLIMIT_NOFILE, leaving room for csd's own fds) */
	struct uid_table *uids;
	size_t clients_max;
	int reserve_fd;     /* given up to accept and close when out of fds */
	int sweep_fd;       /* 1 s: partial messages that wait too long */
	/* endpoint teardowns done by a thread of their own (teardown.c);
	 * while teardown_defer is set, unrealize_endpoint() queues them */
	struct teardown *teardown;
	bool teardown_defer;
	/* DNS at the vnets' gateways, served by a thread of its own (dns.c) */
	struct dns *dns;
	/* ephemeral endpoints of closed connections, deleted a slice per
	 * turn of the loop (ops_endpoint.c) */
	char **gone;
	size_t ngone;
	/* the VNIs in use, a bit each, and where the lowest free one may be
	 * (vni.c); read again when !vni_valid */
	uint8_t *vni_bits;
	uint32_t vni_low;
	bool vni_valid;
	struct metrics *metrics; /* metrics.c; NULL while off */
	/* encrypt wireguard (encrypt.c): this node's key pair */
	uint8_t wg_priv[32], wg_pub[32];
	/* cluster mode: the published public keys (WG_KEYS_PREFIX listed at
	 * wg_keys_at, monotonic ms; 0: to read again) */
	json_t *wg_keys;
	uint64_t wg_keys_at;
	bool wg_stopped;	/* no tunnel here: nothing to stop again */
	struct monitors *monitors; /* monitor.c; NULL until the first monitor */
	/* within one request or reconcile pass (model_span), the vnets
	 * ensured already, "T/V" -> their document as ensured: the next of
	 * their endpoints does not ensure them again (model.c) */
	json_t *ensured;
	int span_depth;
	/* the full reconcile under way, in slices (reconcile.c); NULL: none;
	 * when a request was last answered and a slice last ran (monotonic
	 * ms: slices yield to requests, server.c) */
	struct reconcile_pass *pass;
	uint64_t busy_at, pass_at;
};

/* ---- the encrypted underlay (encrypt.c) ---- */

struct vnet_where;
struct vnet_wg_peer;
struct cs_addr;
bool csd_encrypted(const struct csd *d);
/* Load or make the key pair (encrypt wireguard); at start. */
int encrypt_init(struct csd *d);
/* Peer node @n (underlay @ul) of a vnet: refused when this node and it
 * disagree on encryption; with encryption, its key and port in @out. */
int encrypt_peer(struct csd *d, const json_t *nodes, const char *n, const struct cs_addr *ul,
		 struct vnet_wg_peer *out, char *err, size_t errlen);
/* Tunnel to every peer of the vnets in @ws (none: the tunnel stops). */
void encrypt_sync(struct csd *d, const struct vnet_where *ws, size_t n);
/* Cluster mode: each csd publishes its public key at WG_KEYS_PREFIX NODE
 * (not on a lease: a node restarting keeps its tunnels); at start, after
 * a store outage and on rotation. */
#define WG_KEYS_PREFIX "/nodes-keys/"
void encrypt_publish(struct csd *d);
void encrypt_keys_forget(struct csd *d);
/* Add this node's public key to its view. */
void encrypt_view_node(struct csd *d, const char *n, json_t *o);

/* One csd per prefix on a host, and the prefix's kernel objects only ever
 * managed by the node and store that made them (claim.c). */
int claim_take(struct csd *d);
void claim_release(struct csd *d);

/* Watch the store and heartbeat (server.c); no-ops with a local store. */
bool csd_store_shared(const struct csd *d);

int csd_init(struct csd *d);
int csd_run(struct csd *d);
void csd_fini(struct csd *d);
/* One pass of the event loop with a timeout (ms), for tests. */
int csd_poll(struct csd *d, int timeout_ms);

/* ---- requests and the op registry ---- */

struct csd_req {
	struct csd *d;
	struct client *client;
	const struct principal *who;
	const char *op;
	json_int_t id;     /* the request's id (a monitor's events carry it) */
	json_t *args;      /* borrowed; always an object */
	json_t *result;    /* set by the handler (owned) */
	int fds[CS_WIRE_MAX_FDS];
	int nfds;          /* fds to pass with the reply; closed after sending */
	bool authorized;   /* the op's authorization passed (ops.h: req_tenant) */
	char error[16384];
};

/* Set the error message of a failed request and return @code. */
int req_fail(struct csd_req *r, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

enum csd_op_flags {
	CSD_OP_NO_HELLO = 1 << 0, /* allowed before hello */
	CSD_OP_CHANGES = 1 << 1,  /* changes the store (logged, later audited) */
};

struct csd_op {
	const char *name;
	int (*fn)(struct csd_req *r);
	unsigned flags;
	const char *doc;
};

#define CSD_OP(ident, opname, func, fl, text)                                           \
	static const struct csd_op csd_op_##ident = { opname, func, fl, text };         \
	__attribute__((used, section("csd_ops"), aligned(sizeof(void *))))             \
	static const struct csd_op *const csd_op_ptr_##ident = &csd_op_##ident

const struct csd_op *csd_op_find(const char *name);
const struct csd_op *csd_op_next(size_t *it);

/* Handle one request message (already reassembled); returns the reply
 * (owned) and fds to pass. Used by the server and by fuzzers. */
json_t *csd_handle(struct csd *d, struct client *c, const struct principal *who,
		   const char *msg, size_t len, int *fds, int *nfds);

/* Hooks of the connection's lifetime (ops_endpoint.c) */
void client_on_close(struct csd *d, struct client *c);
/* Delete a slice of the closed connections' ephemeral endpoints; returns
 * how many are left. */
size_t ephemeral_gone_slice(struct csd *d);
/* Remember an ephemeral endpoint opened on @c. */
int client_add_ephemeral(struct client *c, const char *name);
void client_drop_ephemeral(struct client *c, const char *name);
bool client_said_hello(const struct client *c);
/* Did this connection already pass the checks to use endpoint "t/v/e" with
 * the current d->gen? Lets cs_socket skip the store on its hot path. */
bool client_may_use(const struct csd *d, struct client *c, const char *name);
void client_note_use(const struct csd *d, struct client *c, const char *name);
/* Does a live connection hold the ephemeral endpoint "t/v/e"? */
bool csd_ephemeral_held(const struct csd *d, const char *name);
void client_set_hello(struct client *c);


/* ---- backends (backends.c) ---- */

/* Open the --backend (an error when it fails) and those "backends" lists
 * (a warning when one fails: it is tried again when a vnet asks). */
int csd_backends_open(struct csd *d);
void csd_backends_close(struct csd *d);
/* The backend a vnet naming @name (NULL: none) uses, opened when it must
 * be, or NULL with @why saying what to do; @across: the vnet spans nodes. */
struct vnet_backend *csd_backend_get(struct csd *d, const char *name, bool across, char *why,
				     size_t whylen);
/* The backend of the vnet @vdoc, or of vnet @t/@v as stored: the --backend
 * when it names none, or one that is not open. */
struct vnet_backend *csd_backend_of(struct csd *d, const json_t *vdoc);
struct vnet_backend *csd_backend_for(struct csd *d, const char *t, const char *v);
/* All that are open; returns how many. */
size_t csd_backends(struct csd *d, struct vnet_backend ***list);
/* overlay_env.backend_usable, with @arg the csd */
bool csd_backend_usable(void *arg, const char *name, bool across, char *why, size_t whylen);

#endif
