/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>

#include "swlogic.h"

#define FLOW_IDLE_NS (600ULL * 1000000000ULL)
#define FLOW_PROBES 8

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

bool usw_parse(const uint8_t *frame, size_t len, struct usw_pkt *pk)
{
	memset(pk, 0, sizeof(*pk));
	if (len < 14)
		return false;
	pk->ethertype = be16(frame + 12);
	if (pk->ethertype != USW_ETH_IP4)
		return true;
	const uint8_t *ip = frame + 14;
	size_t ilen = len - 14;
	if (ilen < 20 || (ip[0] >> 4) != 4)
		return false;
	size_t hl = (size_t)(ip[0] & 15) * 4;
	if (hl < 20 || ilen < hl)
		return false;
	pk->proto = ip[9];
	memcpy(&pk->src, ip + 12, 4);
	memcpy(&pk->dst, ip + 16, 4);
	/* a later fragment carries no ports: it is judged by its flow */
	if (be16(ip + 6) & 0x1fff)
		return true;
	const uint8_t *l4 = ip + hl;
	size_t l4len = ilen - hl;
	if ((pk->proto == 6 && l4len >= 14) || (pk->proto == 17 && l4len >= 8)) {
		pk->sport = be16(l4);
		pk->dport = be16(l4 + 2);
	}
	if (pk->proto == 6 && l4len >= 14)
		pk->tcp_syn_only = (l4[13] & 0x12) == 0x02;
	return true;
}

static bool rule_matches(const struct us_rule *r, const struct usw_pkt *pk)
{
	if (r->proto && r->proto != pk->proto)
		return false;
	if (r->plen) {
		uint32_t mask = r->plen >= 32 ? 0xffffffffu : ~(0xffffffffu >> r->plen);
		uint32_t a = __builtin_bswap32(pk->src), n = __builtin_bswap32(r->src4);
		if ((a & mask) != (n & mask))
			return false;
	}
	if (r->port_lo || r->port_hi) {
		if (pk->proto != 6 && pk->proto != 17)
			return false;
		if (pk->dport < r->port_lo || pk->dport > r->port_hi)
			return false;
	}
	return true;
}

int usw_fw_eval(const struct us_rule *rules, size_t n, int dflt, const struct usw_pkt *pk)
{
	for (size_t i = 0; i < n; i++)
		if (rule_matches(&rules[i], pk))
			return rules[i].action;
	return dflt;
}

/* The same key for both directions of a flow. */
static void flow_key(const struct usw_pkt *pk, struct usw_flow *k)
{
	bool fwd = pk->src < pk->dst || (pk->src == pk->dst && pk->sport <= pk->dport);

	memset(k, 0, sizeof(*k));
	k->a = fwd ? pk->src : pk->dst;
	k->b = fwd ? pk->dst : pk->src;
	k->pa = fwd ? pk->sport : pk->dport;
	k->pb = fwd ? pk->dport : pk->sport;
	k->proto = pk->proto;
}

static size_t flow_hash(const struct usw_flow *k)
{
	uint64_t h = (uint64_t)k->a * 0x9e3779b97f4a7c15ULL;

	h ^= (uint64_t)k->b * 0xc2b2ae3d27d4eb4fULL;
	h ^= ((uint64_t)k->pa << 24 | (uint64_t)k->pb << 8 | k->proto) * 0x165667b19e3779f9ULL;
	return (size_t)(h >> 20) % USW_FLOWS;
}

static bool same_flow(const struct usw_flow *s, const struct usw_flow *k)
{
	return s->used && s->a == k->a && s->b == k->b && s->pa == k->pa && s->pb == k->pb &&
	       s->proto == k->proto;
}

void usw_flow_note(struct usw_flows *f, const struct usw_pkt *pk, uint64_t now_ns)
{
	struct usw_flow k, *victim = NULL;
	size_t h;

	flow_key(pk, &k);
	h = flow_hash(&k);
	for (size_t i = 0; i < FLOW_PROBES; i++) {
		struct usw_flow *s = &f->slot[(h + i) % USW_FLOWS];
		if (same_flow(s, &k)) {
			s->seen_ns = now_ns;
			return;
		}
		/* a free slot, else the flow idle longest */
		if (!victim || (victim->used && (!s->used || s->seen_ns < victim->seen_ns)))
			victim = s;
	}
	*victim = k;
	victim->used = 1;
	victim->seen_ns = now_ns;
}

bool usw_flow_known(const struct usw_flows *f, const struct usw_pkt *pk, uint64_t now_ns)
{
	struct usw_flow k;
	size_t h;

	flow_key(pk, &k);
	h = flow_hash(&k);
	for (size_t i = 0; i < FLOW_PROBES; i++) {
		const struct usw_flow *s = &f->slot[(h + i) % USW_FLOWS];
		if (same_flow(s, &k))
			return now_ns - s->seen_ns < FLOW_IDLE_NS;
	}
	return false;
}

void usw_tb_set(struct usw_tb *tb, uint64_t rate, uint64_t burst, uint64_t now_ns)
{
	tb->rate = rate;
	/* at least 20 ms of the rate (and 16 KB): the pacing timer ticks in
	 * milliseconds, and a bucket smaller than a tick's worth caps the rate
	 * below the reservation */
	uint64_t floor = rate / 50 > 16384 ? rate / 50 : 16384;
	tb->burst = burst > floor ? burst : floor;
	tb->tokens = (double)tb->burst;
	tb->last_ns = now_ns;
}

uint64_t usw_tb_take(struct usw_tb *tb, size_t len, uint64_t now_ns)
{
	if (!tb->rate)
		return 0;
	if (now_ns > tb->last_ns) {
		tb->tokens += (double)(now_ns - tb->last_ns) * (double)tb->rate / 1e9;
		if (tb->tokens > (double)tb->burst)
			tb->tokens = (double)tb->burst;
		tb->last_ns = now_ns;
	}
	if (tb->tokens >= (double)len) {
		tb->tokens -= (double)len;
		return 0;
	}
	return (uint64_t)(((double)len - tb->tokens) * 1e9 / (double)tb->rate) + 1;
}
