/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The switch of a stack process: each endpoint is a port (an lwIP netif
 * with its own MAC and address). A frame an endpoint sends is paced by its
 * token bucket (its reservation), then goes to the port holding the
 * destination MAC (learnt from the ports themselves; broadcasts to all the
 * others, and to the underlay hook), where the receiving endpoint's rules
 * decide whether it enters. Frames not addressed to the receiving port's
 * own IPv4 address are dropped: lwIP here is built with IP_FORWARD, and the
 * switch, not lwIP, decides what crosses between endpoints.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lwip/etharp.h"
#include "lwip/tcpip.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"
#include "stack.h"

struct sport *g_ports;
static struct usw_flows flows;
static struct sw_uplink uplink;

uint64_t stack_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

struct sport *sw_port_find(const char *name)
{
	for (struct sport *s = g_ports; s; s = s->next)
		if (!strcmp(s->name, name))
			return s;
	return NULL;
}

static struct sport *port_by_mac(const uint8_t *mac)
{
	for (struct sport *s = g_ports; s; s = s->next)
		if (!memcmp(s->mac, mac, 6))
			return s;
	return NULL;
}

/*
 * Frames between ports wait in a queue of the switch's own, drained by
 * whoever holds the core lock once it is done with lwIP: the main thread
 * after a channel's bytes went in (no hand-over to the tcpip thread, one
 * wake-up less per hop), or, for frames lwIP sent on its own (timers), the
 * tcpip thread through one callback. Never while lwIP is inside the sender
 * (tcp_output -> linkoutput -> tcp_input of the receiver is not
 * re-entrant). A frame carries its port's netif index, not a pointer: the
 * endpoint may be deleted meanwhile (lwIP numbers at most 254 netifs).
 */
#define RXQ 8192
static struct pbuf *rxq[RXQ];
static size_t rxh, rxn;
static bool draining, posted;
bool g_main_holds;

void sw_drain(void)
{
	if (draining)
		return;
	draining = true;
	/* writing into channels opens windows, which sends frames again */
	do {
		while (rxn) {
			struct pbuf *p = rxq[rxh];
			rxh = (rxh + 1) % RXQ;
			rxn--;
			struct netif *nif = netif_get_by_index(p->if_idx);
			if (nif)
				ethernet_input(p, nif);
			else
				pbuf_free(p);
		}
		chan_flush_dirty();
	} while (rxn);
	draining = false;
}

static void drain_cb(void *arg)
{
	posted = false;
	sw_drain();
}

static bool rx_push(struct pbuf *p)
{
	if (rxn == RXQ)
		return false;
	rxq[(rxh + rxn++) % RXQ] = p;
	if (!g_main_holds && !draining && !posted)
		posted = tcpip_try_callback(drain_cb, NULL) == ERR_OK;
	return true;
}

/* Into @to, if its address and rules let the frame in; takes @p. */
static void deliver(struct sport *to, struct pbuf *p)
{
	struct usw_pkt pk;

	if (!usw_parse(p->payload, p->len, &pk) ||
	    (pk.ethertype == USW_ETH_IP4 && pk.dst != to->addr4) ||
	    (pk.ethertype != USW_ETH_IP4 && pk.ethertype != USW_ETH_ARP)) {
		to->rx_dropped++;
		pbuf_free(p);
		return;
	}
	if (pk.ethertype == USW_ETH_IP4) {
		uint64_t now = stack_now_ns();
		bool known = !pk.tcp_syn_only && usw_flow_known(&flows, &pk, now);
		if (!known && to->dflt != US_FW_NONE &&
		    usw_fw_eval(to->rules, to->nrules, to->dflt, &pk) != US_FW_ALLOW) {
			to->denied++;
			pbuf_free(p);
			return;
		}
		usw_flow_note(&flows, &pk, now);
	}
	to->rx_packets++;
	to->rx_bytes += p->tot_len;
	p->if_idx = netif_get_index(&to->netif);
	if (!rx_push(p)) {
		to->rx_dropped++;
		pbuf_free(p);
	}
}

/* A frame from @from (NULL: the underlay) to where its MAC says; takes @p. */
static void forward(struct sport *from, struct pbuf *p)
{
	const uint8_t *dst = p->payload;

	if (dst[0] & 1) {
		for (struct sport *s = g_ports; s; s = s->next) {
			struct pbuf *c = s == from ? NULL : pbuf_clone(PBUF_RAW, PBUF_RAM, p);
			if (c)
				deliver(s, c);
		}
		if (from && uplink.tx)
			uplink.tx(uplink.ctx, p->payload, p->len);
		pbuf_free(p);
		return;
	}
	struct sport *to = port_by_mac(dst);
	if (to && to != from)
		deliver(to, p);
	else {
		if (!to && from && uplink.tx)
			uplink.tx(uplink.ctx, p->payload, p->len);
		pbuf_free(p);
	}
}

static void queue_drain(void *arg);

static void nothing(void *arg)
{
}

static void queue_arm(struct sport *s, uint64_t wait_ns)
{
	uint32_t ms = (uint32_t)(wait_ns / 1000000ULL);

	if (s->qtimer)
		return;
	s->qtimer = true;
	sys_timeout(ms ? ms : 1, queue_drain, s);
	/* the tcpip thread sleeps until the timeout it knew of (up to the
	 * TCP timer's 250 ms): a message makes it look again */
	if (g_main_holds)
		tcpip_try_callback(nothing, NULL);
}

static void queue_drain(void *arg)
{
	struct sport *s = arg;

	s->qtimer = false;
	while (s->qlen) {
		struct pbuf *p = s->q[s->qhead];
		uint64_t wait = usw_tb_take(&s->tb, p->tot_len, stack_now_ns());
		if (wait) {
			queue_arm(s, wait);
			return;
		}
		s->qhead = (s->qhead + 1) % SPORT_QUEUE;
		s->qlen--;
		forward(s, p);
	}
}

/* lwIP sends a frame out of an endpoint: pace it, then switch it. */
static err_t port_linkoutput(struct netif *nif, struct pbuf *p)
{
	struct sport *s = nif->state;
	struct pbuf *c;
	uint64_t wait = 0;

	/* a frame that is not the endpoint's own (lwIP forwarding) stays in */
	if (p->len < 14 || memcmp((uint8_t *)p->payload + 6, s->mac, 6)) {
		s->tx_dropped++;
		return ERR_OK;
	}
	if (!(c = pbuf_clone(PBUF_RAW, PBUF_RAM, p))) {
		s->tx_dropped++;
		return ERR_MEM;
	}
	s->tx_packets++;
	s->tx_bytes += c->tot_len;
	if (!s->qlen && !(wait = usw_tb_take(&s->tb, c->tot_len, stack_now_ns()))) {
		forward(s, c);
		return ERR_OK;
	}
	if (s->qlen == SPORT_QUEUE) {
		s->tx_dropped++;
		pbuf_free(c);
		return ERR_OK;
	}
	s->q[(s->qhead + s->qlen++) % SPORT_QUEUE] = c;
	queue_arm(s, s->qlen == 1 ? wait : 1000000ULL);
	return ERR_OK;
}

static err_t port_netif_init(struct netif *nif)
{
	struct sport *s = nif->state;

	nif->name[0] = 'c';
	nif->name[1] = 's';
	nif->hwaddr_len = 6;
	memcpy(nif->hwaddr, s->mac, 6);
	nif->mtu = 1500;
	nif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
	nif->output = etharp_output;
	nif->linkoutput = port_linkoutput;
	return ERR_OK;
}

static void addr_of(const struct us_req *q, ip4_addr_t *ip, ip4_addr_t *mask)
{
	ip->addr = q->addr4;
	mask->addr = q->plen ? lwip_htonl(0xffffffffu << (32 - q->plen)) : 0;
}

int sw_port_add(const struct us_req *q, char *why, size_t whylen)
{
	struct sport *s = sw_port_find(q->ep), *m;
	ip4_addr_t ip, mask, gw = { 0 };

	/* a new address is a new MAC: the interface is made again (its
	 * channels close, as a socket's do when its address goes) */
	if (s && memcmp(s->mac, q->mac, 6)) {
		sw_port_del(s);
		s = NULL;
	}
	m = port_by_mac(q->mac);
	addr_of(q, &ip, &mask);
	if (m && m != s) {
		snprintf(why, whylen, "MAC of endpoint %s is taken by %s", q->ep, m->name);
		return -3; /* CS_EEXIST */
	}
	if (s) {
		if (s->addr4 != q->addr4)
			netif_set_addr(&s->netif, &ip, &mask, &gw);
		s->addr4 = q->addr4;
		return 0;
	}
	if (!(s = calloc(1, sizeof(*s))))
		return -6; /* CS_ENOMEM */
	snprintf(s->name, sizeof(s->name), "%s", q->ep);
	memcpy(s->mac, q->mac, 6);
	s->addr4 = q->addr4;
	s->dflt = q->dflt == US_FW_DENY ? US_FW_DENY : US_FW_NONE;
	if (!netif_add(&s->netif, &ip, &mask, &gw, s, port_netif_init, tcpip_input)) {
		free(s);
		snprintf(why, whylen, "endpoint %s: lwIP refused the interface", q->ep);
		return -7; /* CS_EIO */
	}
	netif_set_up(&s->netif);
	netif_set_link_up(&s->netif);
	s->next = g_ports;
	g_ports = s;
	return 0;
}

void sw_port_del(struct sport *s)
{
	chan_close_port(s);
	for (struct sport **pp = &g_ports; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	netif_remove(&s->netif);
	if (s->qtimer)
		sys_untimeout(queue_drain, s);
	while (s->qlen) {
		pbuf_free(s->q[s->qhead]);
		s->qhead = (s->qhead + 1) % SPORT_QUEUE;
		s->qlen--;
	}
	free(s->rules);
	free(s);
}

void sw_port_fw(struct sport *s, int dflt, const struct us_rule *rules, size_t n)
{
	struct us_rule *copy = n ? malloc(n * sizeof(*rules)) : NULL;

	if (n && !copy)
		return;
	if (n)
		memcpy(copy, rules, n * sizeof(*rules));
	free(s->rules);
	s->rules = copy;
	s->nrules = n;
	s->dflt = dflt;
	s->denied = 0;
}

void sw_port_qos(struct sport *s, uint64_t rate, uint64_t burst)
{
	usw_tb_set(&s->tb, rate, burst, stack_now_ns());
	if (!rate && s->qlen)
		queue_drain(s);
}

void sw_set_uplink(const struct sw_uplink *u)
{
	uplink = *u;
}

void sw_uplink_input(const uint8_t *frame, size_t len)
{
	struct pbuf *p;

	if (len < 14 || len > 65535 || !(p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_RAM)))
		return;
	memcpy(p->payload, frame, len);
	forward(NULL, p);
}
