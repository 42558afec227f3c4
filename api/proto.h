/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The control protocol, defined once: csd, libcs and cs-ctl all use this.
 *
 * Transport: one SOCK_SEQPACKET unix socket. A message is one JSON object.
 * Every datagram ("part") starts with a fixed header; a message longer than
 * one part travels in several, all but the last flagged CS_WIRE_MORE. The
 * first part states the total length so that a receiver refuses an oversized
 * message before buffering any of it. File descriptors ride (SCM_RIGHTS) on
 * the last part.
 *
 * Requests:  {"id":N,"op":"vnet.create","args":{...}}
 * Replies:   {"id":N,"ok":true,"result":...}
 *            {"id":N,"ok":false,"error":{"code":"EINVAL","message":"..."}}
 * The first request on a connection is "hello" with {"version":1}.
 */
#ifndef CS_PROTO_H
#define CS_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <cs/cs.h>

#define CS_WIRE_MAGIC 0xC5
#define CS_WIRE_VERSION 1
#define CS_WIRE_MORE 0x01           /* more parts follow */
#define CS_WIRE_HDR_LEN 8
#define CS_WIRE_PART_MAX (64 * 1024) /* payload bytes per datagram */
#define CS_WIRE_MSG_MAX_DEFAULT (16u * 1024 * 1024)
#define CS_WIRE_MAX_FDS 8
#define CS_DEFAULT_SOCKET "/run/cs/csd.sock"

struct cs_wire_hdr {
	uint8_t magic;
	uint8_t flags;
	uint16_t reserved;
	uint32_t total; /* length of the whole message; equal in every part */
};

/*
 * Reassembly of one message from parts (pure; no I/O). The buffer grows
 * with the parts that arrive, never to an announced total up front, so a
 * peer that announces 16 MiB and sends one part holds one part's memory.
 * A receiver bounding memory per peer sets @charge: it is asked before
 * the buffer grows (delta > 0; a negative return refuses the growth and
 * the message is dropped with that code) and told when it shrinks.
 */
struct cs_wire_rx {
	char *buf;
	size_t len;      /* bytes received so far */
	size_t total;    /* announced total, 0 before the first part */
	size_t max;      /* bound on a message */
	size_t cap;      /* bytes allocated for buf */
	int fds[CS_WIRE_MAX_FDS];
	int nfds;
	bool discard;   /* dropping the rest of an oversized message */
	int (*charge)(void *ctx, long delta);
	void *charge_ctx;
};

void cs_wire_rx_init(struct cs_wire_rx *rx, size_t max);
/* Drop a partial message and close its fds (the charge hook stays). */
void cs_wire_rx_reset(struct cs_wire_rx *rx);
/*
 * Feed one datagram. Returns 1 when a message is complete (rx->buf holds
 * rx->len bytes plus a NUL), 0 when more parts are needed, or a negative
 * CS_E* code: CS_ETOOBIG (announced total over the bound; the rest of the
 * message is dropped as it arrives), CS_EPROTO (bad header or lengths),
 * or what @charge refused with (the rest of the message is dropped too).
 * After an error or a completed message call cs_wire_rx_reset() (taking
 * buf/fds first if wanted).
 */
int cs_wire_rx_feed(struct cs_wire_rx *rx, const void *dgram, size_t n);

/* Number of parts a message of @len bytes takes. */
size_t cs_wire_parts(size_t len);
/* Build the header of part @i of a message of @len bytes into @hdr. */
void cs_wire_hdr_fill(struct cs_wire_hdr *hdr, size_t len, size_t i);

/* Blocking I/O helpers over a SOCK_SEQPACKET fd (used by libcs, tests). */
/* Send @len bytes as one message, with @nfds fds on the last part. */
int cs_wire_send(int fd, const char *msg, size_t len, const int *fds, int nfds);
/* Attach @nfds fds to @mh as one SCM_RIGHTS message, in @buf (room for
 * CMSG_SPACE(sizeof(int) * nfds) bytes, suitably aligned). */
struct msghdr;
void cs_wire_attach_fds(struct msghdr *mh, void *buf, const int *fds, int nfds);
/* Send one part without blocking: returns bytes sent, -EAGAIN, or -errno. */
int cs_wire_send_part(int fd, const char *msg, size_t len, size_t i, const int *fds, int nfds);
/* Receive one whole message (blocking). *out is malloc'd, NUL-terminated;
 * received fds are stored into fds[] (up to CS_WIRE_MAX_FDS) and *nfds. */
int cs_wire_recv(int fd, size_t max, char **out, size_t *len, int *fds, int *nfds);
/* Read one datagram (non-blocking or blocking per fd) into @rx. Returns
 * like cs_wire_rx_feed(), or -EAGAIN, or CS_ECONN on EOF/error. Fds are
 * taken only with the last part of a message: fds on any other part are
 * closed at once and the message is dropped (CS_EPROTO), so a partial
 * message never holds descriptors. */
int cs_wire_read(int fd, struct cs_wire_rx *rx);

/* Is the peer of connected socket @fd root or the caller's own uid (csd
 * runs as one of them)? 0, or CS_EPERM / CS_ECONN with a message naming
 * @path: a socket anyone could have created in a shared directory must not
 * receive requests, fds or a terminal. */
int cs_peer_trusted(int fd, const char *path, char *err, size_t errlen);

/* Error codes <-> names */
const char *cs_errname(int code);
int cs_errcode(const char *name); /* CS_EPROTO for unknown names */

/* Message helpers (jansson). */
json_t *cs_msg_request(int64_t id, const char *op, json_t *args /* stolen */);
json_t *cs_msg_ok(int64_t id, json_t *result /* stolen, may be NULL */);
json_t *cs_msg_error(int64_t id, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Serialize compactly; *len set. Returns malloc'd text or NULL. */
char *cs_msg_dump(const json_t *msg, size_t *len);

#endif
