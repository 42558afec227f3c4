/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file cs.h
 * @brief libcs: the client library of cs, the communicating system.
 *
 * A program opens a handle to the local csd with cs_open(), joins virtual
 * networks with cs_endpoint_open() and gets ordinary kernel sockets that live
 * inside them with cs_socket().  Management calls mirror cs-ctl(8).
 *
 * Conventions, for every call below:
 *  - calls return 0 (or a non-negative value where stated) on success and a
 *    negative CS_E* code on failure; cs_strerror() describes every code;
 *  - handles are opaque; every *_close()/cs_free() accepts NULL;
 *  - strings returned through a `char **` argument are allocated by the
 *    library and freed by the caller with cs_free();
 *  - after a call failed, cs_last_error() gives the message csd sent (it names
 *    the object and the reason); it stays valid until the next call on the
 *    same handle.
 *  - a handle is not thread-safe: use one per thread or lock around it.
 */
#ifndef CS_CS_H
#define CS_CS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Version of the control protocol this library speaks. */
#define CS_PROTOCOL_VERSION 1

/** Error codes. Every call returns 0 or one of these (all negative). */
enum cs_error {
	CS_OK = 0,
	CS_EINVAL = -1,     /**< invalid argument or request */
	CS_ENOENT = -2,     /**< no such object (or not visible to the caller) */
	CS_EEXIST = -3,     /**< the object already exists */
	CS_EPERM = -4,      /**< the caller may not do this */
	CS_EPROTO = -5,     /**< malformed message or protocol violation */
	CS_ENOMEM = -6,     /**< out of memory */
	CS_EIO = -7,        /**< a system call or the kernel failed */
	CS_ETOOBIG = -8,    /**< message larger than the protocol bound */
	CS_EADMIT = -9,     /**< reservation refused by admission control */
	CS_ECONFLICT = -10, /**< concurrent change; retry */
	CS_ENOSPC = -11,    /**< address or id pool exhausted */
	CS_EQUOTA = -12,    /**< tenant quota exceeded */
	CS_ECONN = -13,     /**< cannot reach csd, or the connection was lost */
	CS_EVERSION = -14,  /**< protocol version not supported by the peer */
	CS_EUNAVAIL = -15,  /**< the store is unavailable; nothing was changed */
	CS_ENOTSUP = -16,   /**< unknown operation or unsupported feature */
	CS_EBUSY = -17,     /**< the object is in use */
	CS_ECOMPACTED = -18,/**< watch revision already compacted */
	CS_ERRNO_MAX = 18,
};

/** Human-readable description of @p code (static string, never NULL). */
const char *cs_strerror(int code);

/** Wire name of @p code ("EINVAL"...), or NULL if unknown. */
const char *cs_errname(int code);

/** Opaque connection to csd. */
typedef struct cs cs_t;

/**
 * Connect to csd and agree the protocol version.
 * @param socket_path control socket; NULL means $CS_SOCKET, then
 *        /run/cs/csd.sock.
 * @param out receives the handle; close it with cs_close().
 * @return 0, CS_ECONN (csd not reachable), CS_EVERSION, CS_ENOMEM.
 */
int cs_open(const char *socket_path, cs_t **out);

/** Close the connection. Ephemeral endpoints opened on it are deleted.
 *  Endpoint handles still open stay valid for cs_endpoint_close(), cs_endpoint_name()
 *  and cs_endpoint_address(); other calls on them return CS_ECONN. */
void cs_close(cs_t *cs);

/** The message of the last failed call on @p cs, or "" (never NULL). With
 *  @p cs NULL: why the last cs_open() of the calling thread failed, when
 *  csd said (a refused connection names the bound it hit), else "". */
const char *cs_last_error(const cs_t *cs);

/** Free a string or buffer returned by the library. NULL is a no-op. */
void cs_free(void *p);

/**
 * Generic request: send operation @p op with arguments @p args_json (a JSON
 * object as text, NULL for none) and receive the result as JSON text.
 * Every management call below is a thin wrapper over this.
 * @param result_json if not NULL, receives the result (free with cs_free()).
 * @return 0 or the error code csd replied with.
 */
int cs_call(cs_t *cs, const char *op, const char *args_json, char **result_json);

/**
 * @name Monitoring (cs-ctl monitor)
 * @{
 */
/**
 * Turn the connection @p cs into a monitor: from then on it carries one
 * event per change of the declared state that the caller may see, in store
 * revision order (open another connection for other calls).
 * @param filter "tenant" or "tenant/vnet" to narrow it, or NULL for all.
 * @param from the store revision to start at (events of that revision and
 *        later, as a revision in an earlier event + 1 to resume after it),
 *        or 0 for changes from now on.
 * @param start if not NULL, receives the revision the events start at.
 * @return 0; CS_ENOENT for a filter naming nothing the caller sees;
 *         CS_ECOMPACTED when the store no longer holds @p from's changes
 *         (monitor from 0 and say what was lost); CS_EINVAL; CS_ECONN.
 */
int cs_monitor_open(cs_t *cs, const char *filter, int64_t from, int64_t *start);
/**
 * Wait for the next event of the monitor @p cs and return it as a JSON
 * object (text, free with cs_free()): "revision", "object" (tenant, vnet,
 * endpoint, node), "name", "verb" (create, update, put, delete, state),
 * and when known "uid" and "op" (who changed it, through which call),
 * "state" and "was" (an endpoint's state and the one before).
 * @return 0; CS_ECONN when csd closed the connection (it stopped, or the
 *         caller left more than csd's bound unread): open a new connection
 *         and resume from the last revision received; another code when
 *         csd ended the monitor with an error (cs_last_error() says).
 */
int cs_monitor_next(cs_t *cs, char **event_json);
/** @} */

/**
 * @name Management calls (mirror cs-ctl OBJECT VERB)
 * @p spec_json is the object's body as in an overlay file (cs-overlay.json(5)),
 * e.g. `{"subnet":"10.1.0.0/24"}` for a vnet, or NULL for defaults. Names are
 * full paths: "acme", "acme/blue", "acme/blue/web". list and show return JSON
 * (an array, an object) in the shapes of `cs-ctl -j`; @p filter narrows a list
 * to a tenant or vnet (NULL for all).
 * @{
 */
int cs_tenant_create(cs_t *cs, const char *name, const char *spec_json);
int cs_tenant_delete(cs_t *cs, const char *name);
int cs_tenant_show(cs_t *cs, const char *name, char **json);
int cs_tenant_list(cs_t *cs, char **json);
int cs_vnet_create(cs_t *cs, const char *name, const char *spec_json);
int cs_vnet_delete(cs_t *cs, const char *name);
int cs_vnet_show(cs_t *cs, const char *name, char **json);
int cs_vnet_list(cs_t *cs, const char *filter, char **json);
int cs_endpoint_create(cs_t *cs, const char *name, const char *spec_json);
int cs_endpoint_delete(cs_t *cs, const char *name);
int cs_endpoint_show(cs_t *cs, const char *name, char **json);
int cs_endpoint_list(cs_t *cs, const char *filter, char **json);
/**
 * Create endpoint @p name in an existing network namespace, the caller's
 * open fd @p netns_fd (e.g. of /proc/PID/ns/net), passed to csd with the
 * request (SCM_RIGHTS); @p spec_json must name it as key "netns" (a path,
 * for people to read) and may give "ifname" (default "eth0"). csd puts the
 * endpoint's interface there; deleting the endpoint removes only that.
 * A non-administrator may attach only a namespace of a user namespace it
 * owns; cs_endpoint_create() with "netns" (csd opens the path) is for
 * administrators. @p netns_fd stays the caller's to close.
 * @return 0, CS_EINVAL (not a network namespace, bad ifname), CS_EPERM,
 * CS_EBUSY (the node's namespace, or one cs uses already), CS_EEXIST,
 * CS_ENOTSUP (the vnet's backend cannot attach), or another code.
 */
int cs_endpoint_create_netns(cs_t *cs, const char *name, const char *spec_json, int netns_fd);
/**
 * Change keys of tenant, vnet or endpoint @p name in place (`cs-ctl OBJECT
 * set`), with the validation and messages of apply. @p patch_json is a JSON
 * merge patch (RFC 7386) of the object's body: a value replaces the key's
 * (a list whole), an object is merged key by key, null removes the key
 * (it takes its default again), keys not named are kept. Keys that cannot
 * change in place (a vnet's id, subnet and backend, an endpoint's node)
 * are refused.
 * @return 0, CS_EINVAL (bad patch, a fixed key, a value apply refuses),
 * CS_ENOENT, CS_EPERM, CS_EADMIT, or another code csd replied with;
 * cs_last_error() says why.
 */
int cs_tenant_set(cs_t *cs, const char *name, const char *patch_json);
int cs_vnet_set(cs_t *cs, const char *name, const char *patch_json);
int cs_endpoint_set(cs_t *cs, const char *name, const char *patch_json);
/** csd's status: version, node, store, counts. */
int cs_status(cs_t *cs, char **json);
/**
 * An fd of the network namespace of endpoint @p name ("tenant/vnet/name"),
 * for setns(2) (what `cs-ctl exec` does). Only callers allowed to exec in
 * the endpoint get it. @return the fd (close it) or a negative code.
 */
int cs_endpoint_netns(cs_t *cs, const char *name);
/** @} */

/** Opaque endpoint held by a program. */
typedef struct cs_endpoint cs_endpoint_t;

/** Flags for cs_endpoint_open(). */
enum cs_endpoint_flags {
	/** Delete the endpoint when this connection closes (or, after a csd
	 *  restart, when its owner process is gone). */
	CS_EP_EPHEMERAL = 1 << 0,
	/** Attach only: fail with CS_ENOENT if the endpoint does not exist. */
	CS_EP_ATTACH = 1 << 1,
};

/**
 * Join vnet @p vnet ("tenant/vnet") as endpoint @p name: attach to it if it
 * exists and the caller may use it, otherwise create it (unless
 * CS_EP_ATTACH). @p name NULL creates an ephemeral endpoint with a generated
 * name. The endpoint is realized (usable) when the call returns.
 * @param out receives the handle; close it with cs_endpoint_close().
 * @return 0, CS_ENOENT, CS_EPERM, CS_EINVAL, CS_ENOSPC, CS_ECONN...
 */
int cs_endpoint_open(cs_t *cs, const char *vnet, const char *name, unsigned flags,
		     cs_endpoint_t **out);

/** Release the handle; an ephemeral endpoint is deleted. NULL is a no-op. */
void cs_endpoint_close(cs_endpoint_t *ep);

/** Full name ("tenant/vnet/name") of @p ep; valid while @p ep is open. */
const char *cs_endpoint_name(const cs_endpoint_t *ep);

/**
 * The endpoint's address in its vnet.
 * @param family AF_INET or AF_INET6.
 * @param addr receives a sockaddr_in/sockaddr_in6 (port 0).
 * @return 0, CS_ENOENT (no address of that family), CS_EINVAL.
 */
int cs_endpoint_address(const cs_endpoint_t *ep, int family, struct sockaddr_storage *addr,
			socklen_t *len);

/**
 * Create a kernel socket inside the endpoint's network namespace, like
 * socket(2). The result is an ordinary fd owned by the caller (close(2) it).
 * On a backend of channels (csd(8), USER BACKEND) only AF_INET SOCK_DGRAM:
 * a datagram channel whose every message starts with a struct cs_dgram.
 * @return the fd (>= 0) or a negative CS_E* code (CS_ENOTSUP: the backend
 *         gives channels, and not of that kind).
 */
int cs_socket(cs_endpoint_t *ep, int domain, int type, int protocol);

/**
 * The head of every message on a datagram channel from cs_socket() or
 * cs_listen(SOCK_DGRAM) (user backend): written, it names where the
 * datagram goes; read, where it came from. The payload follows.
 */
struct cs_dgram {
	uint32_t addr;          /**< IPv4 address, network byte order */
	uint16_t port;          /**< port, network byte order */
	uint16_t reserved;      /**< 0 */
};

/**
 * Resolve @p name ("db", or "tenant/vnet/db") in vnet @p vnet.
 * @param family AF_INET, AF_INET6 or AF_UNSPEC (first available).
 * @param port stored in the result, host byte order.
 * @return 0, CS_ENOENT.
 */
int cs_resolve(cs_t *cs, const char *vnet, const char *name, int family, uint16_t port,
	       struct sockaddr_storage *addr, socklen_t *len);

/**
 * Open a TCP (SOCK_STREAM) or UDP (SOCK_DGRAM) socket in @p ep and connect it
 * to @p peer (an endpoint name in the same vnet or a literal address) and
 * @p port. @return the connected fd or a negative code.
 */
int cs_connect(cs_endpoint_t *ep, int type, const char *peer, uint16_t port);

/**
 * Open a socket in @p ep bound to its address (any address of the namespace)
 * and @p port; SOCK_STREAM sockets listen with @p backlog.
 * @return the fd or a negative code.
 */
int cs_listen(cs_endpoint_t *ep, int type, uint16_t port, int backlog);

/** accept(2) on a listening fd from cs_listen(); @return the fd or a code. */
int cs_accept(int listen_fd, struct sockaddr_storage *peer, socklen_t *len);

/**
 * @name Reservations
 * A reservation belongs to an endpoint and covers what it sends: @c rate is
 * guaranteed and is also its ceiling unless @c ceil allows borrowing up to
 * @c ceil. Rates count the bytes of the frames the endpoint sends (what the
 * kernel's HTB counts), not the encapsulation. It is admitted against its
 * vnet's capacity less csd's headroom (csd(8) "headroom", 0.1 by default) in
 * the same store transaction that records it, so concurrent requests, also
 * through other csd processes sharing the store, never over-admit; a refusal
 * (CS_EADMIT) says in cs_last_error() how much is free. A vnet without a
 * capacity takes no reservations. A reservation is the endpoint's @c qos
 * (cs-overlay.json(5)): it shows in cs_endpoint_show() and `cs-ctl export`,
 * and an apply that does not declare it removes it. Release frees the
 * capacity at once; an ephemeral endpoint releases its reservation when it
 * goes.
 *
 * On one node, endpoints of a vnet are joined without a shared queue, so
 * csd enforces fixed caps where each endpoint sends: a reserved endpoint at
 * its rate (its ceil when given), each unreserved endpoint of a shaped vnet
 * at an even share of what is left of the usable capacity (never below 1%
 * of the capacity or 1 mbit).
 * @{
 */

/** Latency priority of a reservation: realtime is served first, bulk last. */
enum cs_qos_class {
	CS_QOS_BULK = 0,        /**< the default */
	CS_QOS_INTERACTIVE = 1,
	CS_QOS_REALTIME = 2,
};

/** A reservation, as cs_reserve() takes it. Zero-initialize, then set @c rate. */
struct cs_qos {
	uint64_t rate;   /**< bit/s guaranteed; > 0, at most INT64_MAX */
	uint64_t ceil;   /**< bit/s it may borrow up to, >= rate; 0: the rate */
	uint64_t burst;  /**< bytes; 0: a default that suits the rate (4 ms of it) */
	int cls;         /**< an enum cs_qos_class; 0 is bulk */
};

/**
 * Reserve @p qos for what endpoint @p ep sends, replacing a reservation it
 * holds (raising one needs only the increase to fit; lowering or keeping
 * one always succeeds). The reservation is enforced on the endpoint's node
 * when the call returns.
 * @return 0; CS_EADMIT (does not fit: cs_last_error() says how much is
 *         free); CS_EINVAL (zero or too large a rate, ceil below rate, an
 *         unknown class, or the vnet has no capacity); CS_ENOENT (the
 *         endpoint is gone); CS_EPERM; CS_ECONN.
 */
int cs_reserve(cs_endpoint_t *ep, const struct cs_qos *qos);

/**
 * Release the reservation of @p ep: the capacity is free for others at once,
 * and the endpoint is shaped as an unreserved one of its vnet.
 * @return 0; CS_ENOENT (it holds none, or the endpoint is gone); CS_EPERM;
 *         CS_ECONN.
 */
int cs_release(cs_endpoint_t *ep);

/**
 * Management calls that mirror `cs-ctl reservation create|delete|show|list`.
 * @p name is the endpoint's "tenant/vnet/endpoint"; @p spec_json its
 * reservation as in an overlay file, e.g. `{"rate":"50mbit","class":"realtime"}`
 * (cs_reservation_create() sets it, admitted as cs_reserve() is). show and
 * list return JSON objects with name, rate, ceil, burst, class, declared,
 * node and state ("enforced", "down" or "remote"); @p filter narrows the list
 * to a tenant, vnet or endpoint (NULL for all).
 * @return as cs_reserve(); show: CS_ENOENT when the endpoint holds none.
 */
int cs_reservation_create(cs_t *cs, const char *name, const char *spec_json);
int cs_reservation_delete(cs_t *cs, const char *name);
int cs_reservation_show(cs_t *cs, const char *name, char **json);
int cs_reservation_list(cs_t *cs, const char *filter, char **json);
/** @} */

#ifdef __cplusplus
}
#endif
#endif
