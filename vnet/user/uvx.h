/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * uvx: VXLAN (RFC 7348) over an ordinary UDP socket, for the user backend.
 * No privileges, no lwIP: Ethernet frames in, UDP datagrams out, on the
 * wire exactly what the Linux kernel's VXLAN device sends and takes (an
 * 8-byte header, flags 0x08 = "VNI valid", the VNI in bytes 4-6), so a vnet
 * may span kernel nodes and user nodes.
 *
 * Protection. An unprivileged node cannot stop its host's other users from
 * sending UDP to its port, so the peers declared per VNI are the only
 * filter: a datagram is taken only when its VNI is known and its source
 * matches one of that VNI's peers (address, and source port where the peer
 * declares one); everything else is dropped and counted.
 *
 * Forwarding, as the kernel's device does it: a frame to a unicast MAC
 * learned behind a peer goes to that peer alone; broadcast, multicast and
 * unknown unicast go to every peer of the VNI (head-end replication, no
 * multicast underlay). Source MACs are learned on receipt and age out.
 *
 * The data path batches: uvx_send() and uvx_recv() take arrays and use
 * sendmmsg(2)/recvmmsg(2), and scatter/gather the 8-byte header so the
 * frame itself is never copied.
 *
 * State. The socket (a kernel object) may be shared between processes; the
 * rest is per handle, so per process: the peer sets, the learning table,
 * the counters. One process receives on a socket (it learns); others may
 * adopt the same fd only to send (uvx_adopt() with UVX_SHARED): they flood
 * unknown unicast unless told where a MAC lives with uvx_learn(). A handle
 * is not thread-safe: serialize calls on one handle.
 *
 * Calls return 0 (or a count) on success, a negative CS_E* code on error.
 */
#ifndef VNET_USER_UVX_H
#define VNET_USER_UVX_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

/* The IANA port of VXLAN, the default of every address without one. */
#define UVX_PORT 4789
/* Header bytes in front of each frame on the wire. */
#define UVX_HDR 8
/* The shortest frame taken: an Ethernet header. */
#define UVX_ETH_MIN 14
/* Learned MACs stay this long without a frame from them (Linux's default). */
#define UVX_AGEING_DEFAULT 300

/* An underlay address with its UDP port (network byte order inside). */
union uvx_sa {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

/* A peer of a VNI: where its frames go, and which source ports it may send
 * from. A uvx node sends from the port it listens on (from_port = that
 * port); a kernel VXLAN device picks the source port per flow from its
 * port range (from_port = 0: any), so only its address is checked. */
struct uvx_peer {
	union uvx_sa to;
	uint16_t from_port;	/* host byte order; 0: any */
};

/* One frame of a batch. Send: @buf holds @len bytes. Receive: @buf has room
 * for @cap bytes; uvx_recv() sets @len and @vni. */
struct uvx_frame {
	uint32_t vni;
	void *buf;
	size_t len;
	size_t cap;
};

/* Most datagrams one uvx_send() or uvx_recv() hands to the kernel at once,
 * and most peers of a VNI. */
#define UVX_BATCH 64
#define UVX_PEERS_MAX 1024

/* Counters of one handle (what this process saw). */
struct uvx_stats {
	uint64_t rx_frames, rx_bytes;	/* frames delivered, their bytes */
	uint64_t tx_frames, tx_bytes;	/* frames handed to the socket (once per peer) */
	uint64_t tx_floods;		/* frames sent to every peer of their VNI */
	uint64_t rx_foreign;		/* dropped: the source is no peer of the VNI */
	uint64_t rx_unknown_vni;	/* dropped: no peers set for the VNI */
	uint64_t rx_bad_header;		/* dropped: the I flag is clear */
	uint64_t rx_truncated;		/* dropped: shorter than header + Ethernet header,
					 * or longer than the buffer */
	uint64_t tx_no_peer;		/* frames for a VNI without peers */
	uint64_t tx_errors;		/* datagrams the socket refused (not EAGAIN) */
	uint64_t learned;		/* MACs learned or moved to another peer */
};

struct uvx;

/* Flags of uvx_adopt(). */
#define UVX_SHARED 0x1	/* another process owns the fd: uvx_free() leaves it open */

/*
 * Parse "ADDR", "ADDR:PORT", "[V6]" or "[V6]:PORT" (port default @dflt,
 * UVX_PORT when 0) into @out. Returns 0 or CS_EINVAL.
 */
int uvx_addr_parse(const char *s, uint16_t dflt, union uvx_sa *out);

/*
 * Open a UDP socket bound to @addr ("127.0.0.1:4790", "[::1]:4790",
 * "0.0.0.0"; port 4789 when none is written, port 0 for any free one),
 * close-on-exec, with the kernel's default buffers (raise SO_RCVBUF on
 * uvx_fd() for high rates). The new handle owns the socket. Returns 0 and *out, or
 * CS_EINVAL (bad address), CS_EIO (socket or bind failed: errno tells,
 * EADDRINUSE when another csd holds the port), CS_ENOMEM.
 */
int uvx_open(const char *addr, struct uvx **out);

/*
 * Adopt @fd, a bound UDP socket (IPv4 or IPv6; SOCK_DGRAM). Without
 * UVX_SHARED the handle owns it and uvx_free() closes it. uvx never changes
 * the fd's flags (it passes MSG_DONTWAIT), so the fd may be shared. Returns
 * 0 and *out, CS_EINVAL (not a UDP socket), CS_ENOMEM.
 */
int uvx_adopt(int fd, unsigned int flags, struct uvx **out);

/* Free the handle (and close its socket unless shared). NULL is a no-op. */
void uvx_free(struct uvx *u);

/* The socket, to poll for POLLIN (and POLLOUT after a short send). */
int uvx_fd(const struct uvx *u);

/* The address and port the socket is bound to. Returns 0 or CS_EIO. */
int uvx_local(const struct uvx *u, union uvx_sa *out);

/*
 * Replace the peers of @vni (1-16777215) with peers[0..n): all at once,
 * or nothing changes on error. n = 0 forgets the VNI (its frames are then
 * dropped as unknown). MACs learned behind a peer no longer in the set are
 * forgotten. IPv4 peers on an IPv6 socket are taken as v4-mapped; IPv6
 * peers on an IPv4 socket are refused. Returns 0, CS_EINVAL (VNI out of
 * range, a peer of the wrong family or with port 0), CS_ENOMEM.
 */
int uvx_set_peers(struct uvx *u, uint32_t vni, const struct uvx_peer *peers, size_t n);

/* Seconds a learned MAC lives without a frame from it (0: the default). */
void uvx_set_ageing(struct uvx *u, unsigned int seconds);

/*
 * Record that @mac on @vni lives behind the peer whose address and
 * destination port are @peer (as a receiving process learns it). For
 * processes that only send. Returns 0, CS_ENOENT (no such peer of @vni).
 */
int uvx_learn(struct uvx *u, uint32_t vni, const uint8_t mac[6], const union uvx_sa *peer);

/*
 * Send frames f[0..n) (each at least an Ethernet header): to the peer that
 * learned the destination MAC, else to every peer of the frame's VNI.
 * Never blocks. Returns how many frames were handed to the socket, in
 * order; fewer than n when the socket's buffer is full (EAGAIN: poll for
 * POLLOUT and send the rest; a frame being flooded when that happens
 * counts as sent to the peers it reached). A frame for a VNI without peers
 * (a vnet on one node) goes nowhere and counts as sent (tx_no_peer);
 * datagrams the socket refuses otherwise are counted (tx_errors) and
 * skipped. CS_EINVAL when a frame is shorter than an Ethernet header
 * (checked first: then nothing is sent).
 */
int uvx_send(struct uvx *u, const struct uvx_frame *f, size_t n);

/*
 * Receive up to @n (at most UVX_BATCH) datagrams (one recvmmsg(2), never blocks) into the
 * buffers of f[0..n). Frames that pass (VNI known, source a peer of it,
 * I flag set, not truncated) are moved to the front: f[0..r) hold them
 * (the array's entries, buffers with them, may change places); the rest
 * are dropped and counted. Returns r >= 0 (0 also when every datagram was
 * dropped: poll the fd rather than taking 0 as "drained"), or CS_EIO.
 */
int uvx_recv(struct uvx *u, struct uvx_frame *f, size_t n);

/* The handle's counters. */
void uvx_stats_get(const struct uvx *u, struct uvx_stats *out);

/* --- pure helpers (no socket; exposed for tests and tools) --- */

/* Write the 8-byte VXLAN header of @vni into @hdr. */
void uvx_hdr_put(uint8_t hdr[UVX_HDR], uint32_t vni);

/* Check a header: 0 and *vni when the I flag is set (reserved bits are
 * ignored, RFC 7348 section 5), CS_EPROTO otherwise. */
int uvx_hdr_get(const uint8_t hdr[UVX_HDR], uint32_t *vni);

#endif
