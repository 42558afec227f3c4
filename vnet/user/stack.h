/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cs-stack: one process per vnet and node holding a user-level TCP/IP
 * stack (lwIP) for the vnet's endpoints on the node. Each endpoint is a
 * netif (a port of the process's switch, stack_sw.c); programs reach it
 * through channels (stack_chan.c); csd drives it over a control socket
 * (stack_main.c, ustack.h). lwIP keeps one stack per process, and tenants'
 * subnets overlap: one process per vnet keeps vnets apart by construction.
 *
 * Threads: lwIP's tcpip thread runs input, timers and every callback; the
 * main thread runs an epoll loop over the control socket and the channels
 * and calls lwIP under LOCK_TCPIP_CORE. Ports and channels are touched only
 * with the core lock held.
 */
#ifndef VNET_USER_STACK_H
#define VNET_USER_STACK_H

#include <stdbool.h>
#include <stdint.h>

#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "swlogic.h"
#include "ustack.h"

#define SPORT_QUEUE 512
/* channels an endpoint holds at most: a program cannot take every fd */
#define CHANS_MAX 4096

struct chan;

struct sport {
	char name[US_NAME_MAX];
	struct netif netif;
	uint8_t mac[6];
	uint32_t addr4;                 /* network order */
	struct us_rule *rules;
	size_t nrules;
	int dflt;                       /* enum us_fw_dflt */
	struct usw_tb tb;
	struct pbuf *q[SPORT_QUEUE];    /* frames waiting for tokens */
	size_t qhead, qlen;
	bool qtimer;
	unsigned nchans;                /* channels open on it (CHANS_MAX) */
	uint64_t rx_bytes, tx_bytes, rx_packets, tx_packets, rx_dropped, tx_dropped, denied;
	struct sport *next;
};

/*
 * The underlay hook (cross-node VXLAN, vnet/user/uvx.c): frames for MACs
 * no local port holds, and broadcasts, go to @tx; frames from the
 * underlay come in through sw_uplink_input() (core lock held).
 */
struct sw_uplink {
	int (*tx)(void *ctx, const uint8_t *frame, size_t len);
	void *ctx;
};

extern struct sport *g_ports;

uint64_t stack_now_ns(void);
struct sport *sw_port_find(const char *name);
int sw_port_add(const struct us_req *q, char *why, size_t whylen);
void sw_port_del(struct sport *s);
void sw_port_fw(struct sport *s, int dflt, const struct us_rule *rules, size_t n);
void sw_port_qos(struct sport *s, uint64_t rate, uint64_t burst);
void sw_set_uplink(const struct sw_uplink *u);
void sw_uplink_input(const uint8_t *frame, size_t len);
/* Frames between ports, handed to lwIP; the main thread calls it before it
 * lets go of the core lock, with g_main_holds set while it holds it. */
void sw_drain(void);
extern bool g_main_holds;

/* the underlay (stack_up.c); tag of the uplink in epoll: (fd << 2) | 2 */
struct uvx_peer;
int up_underlay(int fd, uint32_t vni, const struct uvx_peer *peers, size_t n);
int up_uplink(int fd);
/* sends the frames up_tx held back; under the core lock, before it goes */
void up_flush(void);
bool up_input(int fd);
void up_close(int fd);

/* channels */
int chan_open(struct sport *s, const struct us_req *q, int fd);
void chan_event(struct chan *c, uint32_t events);
void chan_close_port(struct sport *s);
/* write what lwIP received during a drain into the channels */
void chan_flush_dirty(void);
extern int g_epfd;
/* epoll data tags: the low bit marks a channel */
#define EV_CHAN(c) ((uint64_t)(uintptr_t)(c) | 1)

#endif
