/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The pure part of a stack process's switch (vnet/user/stack_sw.c): what a
 * frame is, whether an endpoint's rules let it in (first match, flows
 * already allowed pass), and the token bucket that paces what an endpoint
 * sends. No I/O and no lwIP, so unit tests drive it with byte arrays.
 */
#ifndef VNET_USER_SWLOGIC_H
#define VNET_USER_SWLOGIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ustack.h"

#define USW_ETH_ARP 0x0806
#define USW_ETH_IP4 0x0800

/* What the rules look at in a frame. Addresses in network order. */
struct usw_pkt {
	uint16_t ethertype;
	uint8_t proto;
	uint32_t src, dst;
	uint16_t sport, dport;  /* host order; 0 when not TCP/UDP */
	bool tcp_syn_only;      /* a TCP SYN without ACK: a new connection */
};

/* Parse an Ethernet frame; false when too short or malformed IPv4. */
bool usw_parse(const uint8_t *frame, size_t len, struct usw_pkt *pk);

/* The first rule that matches @pk, or @dflt: US_FW_ALLOW or US_FW_DENY. */
int usw_fw_eval(const struct us_rule *rules, size_t n, int dflt, const struct usw_pkt *pk);

/* Flows the rules let in, both directions then pass (established). */
#define USW_FLOWS 4096
struct usw_flow {
	uint32_t a, b;
	uint16_t pa, pb;
	uint8_t proto, used;
	uint64_t seen_ns;
};
struct usw_flows {
	struct usw_flow slot[USW_FLOWS];
};
void usw_flow_note(struct usw_flows *f, const struct usw_pkt *pk, uint64_t now_ns);
bool usw_flow_known(const struct usw_flows *f, const struct usw_pkt *pk, uint64_t now_ns);

/* A token bucket in bytes. */
struct usw_tb {
	uint64_t rate;          /* bytes/s; 0: unlimited */
	uint64_t burst;         /* bytes */
	double tokens;
	uint64_t last_ns;
};
void usw_tb_set(struct usw_tb *tb, uint64_t rate, uint64_t burst, uint64_t now_ns);
/* Take @len bytes: 0 when they may go now, else the nanoseconds to wait. */
uint64_t usw_tb_take(struct usw_tb *tb, size_t len, uint64_t now_ns);

#endif
