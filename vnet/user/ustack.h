/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What csd's user backend (vnet/user/user.c) and a stack process
 * (cs-stack, one per vnet and node) say to each other over the stack's
 * control socket, RUN_DIR/user/TENANT.VNET.sock (SOCK_SEQPACKET, mode
 * 0600): one fixed request, optionally followed by rules and carrying a
 * channel fd (SCM_RIGHTS); one fixed reply. Both sides are built from this
 * tree, so the layout is not versioned beyond US_VERSION in US_HELLO.
 */
#ifndef VNET_USER_USTACK_H
#define VNET_USER_USTACK_H

#include <stdint.h>

#define US_VERSION 1
#define US_NAME_MAX 33          /* CS_NAME_MAX + 1 */
#define US_RULES_MAX 4096
#define US_PEERS_MAX 1024       /* UVX_PEERS_MAX */

enum us_op {
	US_HELLO = 1,   /* reply: code 0, version in .arg */
	US_EP_ADD,      /* .ep, .addr4, .plen, .mac: a netif (idempotent) */
	US_EP_DEL,      /* .ep: its netif, pcbs and channels go */
	US_EP_FW,       /* .ep, .dflt, .nrules rules follow; nrules 0 and dflt
			   US_FW_NONE: no rules */
	US_EP_QOS,      /* .ep, .rate (bytes/s; 0 none), .burst (bytes) */
	US_EP_STATS,    /* .ep: counters in the reply */
	US_LIST,        /* reply .text: endpoint names, one a line */
	US_CHAN,        /* .ep, .kind, .addr4, .port, .arg (backlog), fd; a
			   datagram channel without .addr4 is bound to .port
			   and its messages carry struct cs_dgram */
	US_QUIT,        /* the stack exits after replying */
	US_UNDERLAY,    /* .arg VNI, fd: a dup of csd's VXLAN socket to send
			   through, .nrules struct uvx_peer follow (the
			   vnet's other nodes); no fd: forget it */
	US_UPLINK,      /* fd: a SOCK_SEQPACKET end; csd writes the frames
			   of the vnet's VNI into it, one frame a message */
};

enum us_chan_kind { US_CHAN_CONNECT = 1, US_CHAN_LISTEN, US_CHAN_DGRAM };
enum us_fw_dflt { US_FW_ALLOW = 0, US_FW_DENY = 1, US_FW_NONE = 2 };

struct us_rule {
	uint8_t action;         /* US_FW_ALLOW or US_FW_DENY */
	uint8_t proto;          /* 0 any, 1 icmp, 6 tcp, 17 udp */
	uint8_t plen;           /* source prefix length; 0: any source */
	uint8_t pad;
	uint32_t src4;          /* network order */
	uint16_t port_lo, port_hi;
};

struct us_req {
	uint32_t op;
	char ep[US_NAME_MAX];
	uint8_t mac[6];
	uint8_t plen;
	uint8_t kind;
	uint8_t dflt;
	uint16_t port;          /* host order */
	uint32_t addr4;         /* network order */
	int32_t arg;
	uint32_t nrules;
	uint64_t rate, burst;
};

struct us_rep {
	int32_t code;           /* 0 or a CS_E* code */
	int32_t arg;
	uint64_t rx_bytes, tx_bytes, rx_packets, tx_packets, rx_dropped, tx_dropped, denied;
	char text[4096];        /* an error's reason, or US_LIST's names */
};

#endif
