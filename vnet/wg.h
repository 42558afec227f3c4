/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The encrypted underlay: WireGuard between the nodes of vnets that span
 * nodes. Keys (wg_keys.c), one configuration language for both drivers
 * (struct wg_set: what to change, never a full replace, so other pairs'
 * sessions survive an added or removed node), and the drivers behind
 * struct wg_driver: the kernel's WireGuard over generic netlink
 * (wg_genl.c) and Debian's wireguard-go over its UAPI socket (wg_uapi.c).
 */
#ifndef VNET_WG_H
#define VNET_WG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cs/cs.h"
#include "ipam.h"

#define WG_KEY_LEN 32
#define WG_KEY_B64_LEN 44	/* base64 of 32 bytes, without the NUL */
#define WG_PORT_DEFAULT 51820
/* Each peer gets a keepalive: setting it makes the driver send one (hence
 * a handshake) at once, so a peer's new key carries traffic as soon as it
 * is configured rather than at the other side's next retry (5 s); it also
 * keeps stateful firewalls between nodes open. */
#define WG_KEEPALIVE_S 25
/* WireGuard's interface MTU on a 1500-byte underlay: 80 bytes for its
 * outer IPv6 (40) or IPv4 (20, the rest unused), UDP 8 and its header 32,
 * as wg-quick does; VXLAN inside it takes 50 more (IPv4 20, UDP 8, VXLAN 8,
 * Ethernet 14): 1500 - 80 - 50 = 1370 inside a vnet (VNET_MTU_ENCRYPTED) */
#define WG_IF_MTU 1420

/* ---- keys (wg_keys.c) ---- */

/* A fresh Curve25519 private key and its public key. */
int wg_key_generate(uint8_t priv[WG_KEY_LEN], uint8_t pub[WG_KEY_LEN]);
int wg_key_public(const uint8_t priv[WG_KEY_LEN], uint8_t pub[WG_KEY_LEN]);
/* base64 (44 characters and a NUL into @out) and back; CS_EINVAL when
 * @s is not a base64 key of 32 bytes */
void wg_key_to_base64(const uint8_t key[WG_KEY_LEN], char out[WG_KEY_B64_LEN + 1]);
int wg_key_from_base64(const char *s, uint8_t key[WG_KEY_LEN]);
void wg_key_to_hex(const uint8_t key[WG_KEY_LEN], char out[2 * WG_KEY_LEN + 1]);
int wg_key_from_hex(const char *s, uint8_t key[WG_KEY_LEN]);
/*
 * The private key in file @name of directory @dirfd: loaded, or made when
 * absent (O_EXCL, O_NOFOLLOW, mode 0600). A file that is a symlink, not a
 * regular file, readable by others or not 44 base64 characters is refused
 * (CS_EPERM / CS_EINVAL), never replaced. With @rotate a new key replaces
 * it (written to NAME.new then renamed). @why gets the reason.
 */
int wg_key_file(int dirfd, const char *name, bool rotate, uint8_t priv[WG_KEY_LEN],
		char *why, size_t whylen);

/* ---- what to change on an interface ---- */

struct wg_peer_set {
	uint8_t key[WG_KEY_LEN];
	bool remove;		/* drop the peer (its key stops being accepted) */
	struct cs_addr endpoint;	/* the peer's underlay address */
	uint16_t port;
	/* allowed IP = the endpoint's address alone (/32 or /128): the peer
	 * may speak only for its own underlay address */
};

struct wg_set {
	bool set_key, set_port;
	uint8_t priv[WG_KEY_LEN];
	uint16_t port;
	const struct wg_peer_set *peers;
	size_t npeers;
};

/* What an interface holds now (the peers' keys and endpoints). */
struct wg_state {
	bool has_key;
	uint8_t priv[WG_KEY_LEN];
	uint16_t port;
	struct wg_peer_set *peers;
	size_t npeers;
};
void wg_state_clear(struct wg_state *s);

/*
 * The change from @cur to: key @priv, port @port and exactly the peers
 * @want. Peers already there with the same endpoint are left out, so their
 * sessions are untouched; peers not wanted are removed. out->peers is
 * malloc'd (the caller frees it).
 */
int wg_diff(const struct wg_state *cur, const uint8_t priv[WG_KEY_LEN], uint16_t port,
	    const struct wg_peer_set *want, size_t nwant, struct wg_set *out);

/* The UAPI text of @set ("set=1\n...\n\n"), malloc'd; NULL: out of memory. */
char *wg_uapi_text(const struct wg_set *set);
/* Parse the reply to "get=1" into @st; CS_EINVAL on a malformed reply. */
int wg_uapi_parse(const char *text, struct wg_state *st);
/*
 * The generic netlink WG_CMD_SET_DEVICE message of @set for interface
 * @ifname and family @family_id into @buf (@len bytes, at least
 * WG_NL_BUF); returns its length or CS_EINVAL.
 */
#define WG_NL_BUF 65536
int wg_genl_build_set(void *buf, size_t len, uint16_t family_id, uint32_t seq,
		      const char *ifname, const struct wg_set *set);

/* ---- drivers ---- */

struct wg_driver {
	const char *name;
	/* create @ifname in namespace @nsfd, or adopt what is there; 0, or a
	 * code with the reason in @why (CS_ENOTSUP: not on this machine) */
	int (*up)(int nsfd, const char *ifname, char *why, size_t whylen);
	int (*get)(int nsfd, const char *ifname, struct wg_state *st, char *why, size_t whylen);
	int (*set)(int nsfd, const char *ifname, const struct wg_set *set, char *why,
		   size_t whylen);
	/* stop and remove it (absent: success) */
	int (*down)(int nsfd, const char *ifname, char *why, size_t whylen);
	/* is a tunnel of this driver running under @ifname */
	bool (*running)(int nsfd, const char *ifname);
};

extern const struct wg_driver wg_driver_kernel;
extern const struct wg_driver wg_driver_go;

#endif
