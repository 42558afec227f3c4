/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * An OVSDB client (RFC 7047: JSON-RPC 1.0 over a stream socket) for the ovs
 * backend. Debian ships no libopenvswitch and the C IDL of OVS has no stable
 * ABI: the protocol is the stable interface, so we speak it directly.
 *
 * Two halves. The message layer (ovsdb_msg_*, ovsdb_frame_*, ovsdb_cache_*,
 * ovsdb_map_*, ovsdb_val_*) builds and parses messages and applies monitor
 * updates to a cache; it does no I/O and is unit-tested without root
 * (tests/unit/vnet/test_ovsdb.c). The session (struct ovsdb) owns the
 * socket: it connects, monitors Open_vSwitch, Bridge, Port and Interface
 * to keep that cache, transacts, waits for ovs-vswitchd to apply a change
 * (cur_cfg reaching next_cfg) and reconnects after ovsdb-server restarts.
 *
 * Calls return 0 or a negative CS_E* code; those with @err write a reason
 * there. Nothing here logs.
 */
#ifndef VNET_OVSDB_H
#define VNET_OVSDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define OVSDB_DEFAULT "unix:/run/openvswitch/db.sock"
#define OVSDB_DB "Open_vSwitch"
/* the lock ovs-vswitchd holds while it runs */
#define OVSDB_VSWITCHD_LOCK "ovs_vswitchd"
/* a message larger than this is refused (the whole database of a busy
 * node fits many times over) */
#define OVSDB_MSG_MAX (64u << 20)

/* --- message layer (pure) --- */

/*
 * Where the first complete JSON value in @buf[0..@len) ends (bytes from
 * the start, whitespace before it included), 0 if it is not complete yet,
 * CS_EPROTO if @buf does not start a JSON object or array. JSON-RPC over a
 * stream has no framing but the values themselves.
 */
long ovsdb_frame_end(const char *buf, size_t len);

/* {"method": @method, "params": @params, "id": @id}; steals @params. */
json_t *ovsdb_msg_request(const char *method, json_t *params, uint64_t id);
/* A transact of @ops (an array, stolen) on database @db. */
json_t *ovsdb_msg_transact(const char *db, json_t *ops, uint64_t id);
/* A monitor of @tables (NULL-terminated, each followed by its columns as a
 * NULL-terminated list: {"Bridge", "name", "ports", NULL, NULL}). */
json_t *ovsdb_msg_monitor(const char *db, const char *const *tables, uint64_t id);

enum ovsdb_kind { OVSDB_REPLY, OVSDB_REQUEST, OVSDB_NOTIFY, OVSDB_BAD };
/* What a received message is; for a reply, its id in *@id. */
enum ovsdb_kind ovsdb_msg_kind(const json_t *msg, uint64_t *id);
/* The answer to an "echo" request (the params back, same id), or NULL. */
json_t *ovsdb_msg_echo_reply(const json_t *req);

/*
 * Check a transact reply: a JSON-RPC error, an operation's error or a
 * failed commit gives CS_EIO (CS_EAGAIN for a lost race: "timed out" of
 * a wait or a conflicting commit) with OVSDB's reason in @err.
 */
int ovsdb_msg_transact_check(const json_t *reply, char *err, size_t errlen);

/* --- OVSDB values (RFC 7047 5.1) --- */

json_t *ovsdb_val_uuid(const char *uuid);          /* ["uuid", U] */
json_t *ovsdb_val_named(const char *name);         /* ["named-uuid", N] */
json_t *ovsdb_val_set(json_t *elems);              /* ["set", elems], stolen */
/* ["map", [[k, v], ...]] from NULL-terminated pairs of strings */
json_t *ovsdb_val_map(const char *const *kv);
/* The string value of @key in an OVSDB map, or NULL. */
const char *ovsdb_map_get(const json_t *map, const char *key);
/* The uuids of a set of references (or a lone ["uuid", U]): calls fn for
 * each; stops at the first nonzero return and returns it. */
int ovsdb_set_each_uuid(const json_t *set, int (*fn)(const char *uuid, void *arg), void *arg);
/* Does the set of references @set hold @uuid? */
bool ovsdb_set_has_uuid(const json_t *set, const char *uuid);

/* --- the cache: {table: {uuid: row}} --- */

/* Apply "table-updates" (an initial monitor reply or an "update"
 * notification's second param) to @cache. CS_EPROTO if malformed. */
int ovsdb_cache_update(json_t *cache, const json_t *updates);

/* --- the session --- */

struct ovsdb;

/* A session for @addr ("unix:PATH"); connects on first use. */
int ovsdb_new(const char *addr, struct ovsdb **out, char *err, size_t errlen);
void ovsdb_free(struct ovsdb *db);

/* Connected, monitoring, and every update ovsdb-server has sent applied;
 * reconnects (once) when the connection is gone. */
int ovsdb_sync(struct ovsdb *db, char *err, size_t errlen);

/* The cached rows of @table ({uuid: row}), after ovsdb_sync(); NULL if
 * none. Valid until the next call on @db. */
const json_t *ovsdb_table(struct ovsdb *db, const char *table);

/*
 * Run @ops (stolen) in one transaction, asking ovs-vswitchd to apply it
 * (next_cfg is bumped) and waiting up to @wait_ms for it to have done so
 * (cur_cfg); @wait_ms 0 does not wait. CS_EIO at once, the change made,
 * when ovs-vswitchd is not running (it holds no lock "ovs_vswitchd"). The reply's result array in
 * *@result when @result is not NULL (the caller json_decref()s it).
 */
int ovsdb_transact(struct ovsdb *db, json_t *ops, int wait_ms, json_t **result,
		   char *err, size_t errlen);

/* Is the session connected now (for tests and messages)? */
bool ovsdb_connected(const struct ovsdb *db);

#endif
