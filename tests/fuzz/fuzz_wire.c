/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * api/proto.c reassembly (cs_wire_rx_feed) on arbitrary datagram sequences.
 *
 * Input: records of a little-endian 16-bit length L and then:
 *   L < 0xfffe   L bytes taken from the input as one datagram (cut short at
 *                the end of the input);
 *   L = 0xffff   8 header bytes from the input, then a full CS_WIRE_PART_MAX
 *                payload of filler: libFuzzer's inputs are small, and
 *                without this no multi-part message could ever complete;
 *   L = 0xfffe   the same with one byte too many (a too-long part).
 * After a completed message or an error the receiver is reset, as the
 * server does; the bound is 1 MiB so oversized totals are cheap to reach.
 * The receiver's memory is charged as csd charges a uid (a budget of
 * BUDGET bytes): what is charged always equals what is allocated, never
 * passes the budget, and is all given back on reset.
 */
#include <string.h>

#include <cs/cs.h>
#include "proto.h"
#include "fuzz.h"

#define BOUND (1u << 20)
#define BUDGET (3u * CS_WIRE_PART_MAX)

static long charged;

static int charge(void *ctx, long delta)
{
	(void)ctx;
	if (delta > 0 && charged + delta > (long)BUDGET)
		return CS_EQUOTA;
	charged += delta;
	FUZZ_CHECK(charged >= 0);
	return 0;
}

static uint8_t big[CS_WIRE_HDR_LEN + CS_WIRE_PART_MAX + 1];

static void check_feed(struct cs_wire_rx *rx, const uint8_t *dgram, size_t n)
{
	bool was_discarding = rx->discard;
	int r = cs_wire_rx_feed(rx, dgram, n);

	FUZZ_CHECK(r == 0 || r == 1 || r == CS_EPROTO || r == CS_ETOOBIG || r == CS_ENOMEM ||
		   r == CS_EQUOTA);
	FUZZ_CHECK(charged == (long)rx->cap && charged <= (long)BUDGET);
	/* never more than what arrived (and its NUL), rounded to a power of two */
	FUZZ_CHECK(rx->cap <= 2 * (rx->len + 1) + 4096);
	FUZZ_CHECK(rx->len <= rx->total);
	FUZZ_CHECK(rx->total <= rx->max);
	FUZZ_CHECK(rx->nfds == 0);
	if (r == 1) {
		size_t payload = n - CS_WIRE_HDR_LEN;

		FUZZ_CHECK(!was_discarding);
		FUZZ_CHECK(rx->buf != NULL);
		FUZZ_CHECK(rx->len == rx->total);
		FUZZ_CHECK(rx->buf[rx->len] == '\0');
		/* the last part is the tail of the message */
		FUZZ_CHECK(payload <= rx->len);
		FUZZ_CHECK(!memcmp(rx->buf + rx->len - payload, dgram + CS_WIRE_HDR_LEN, payload));
		/* every earlier part was full (non-final parts must be) */
		FUZZ_CHECK((rx->len - payload) % CS_WIRE_PART_MAX == 0);
	}
	if (r == 0 && !was_discarding) {
		/* mid-message: whole parts so far, more to come */
		FUZZ_CHECK(rx->buf != NULL);
		FUZZ_CHECK(rx->len % CS_WIRE_PART_MAX == 0);
		FUZZ_CHECK(rx->len < rx->total);
	}
	if (r != 0) {
		cs_wire_rx_reset(rx);
		FUZZ_CHECK(rx->buf == NULL && rx->len == 0 && rx->total == 0 && rx->nfds == 0);
		FUZZ_CHECK(rx->max == BOUND);
		FUZZ_CHECK(charged == 0 && rx->charge == charge);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cs_wire_rx rx;
	size_t off = 0;

	cs_wire_rx_init(&rx, BOUND);
	FUZZ_CHECK(rx.max == BOUND);
	charged = 0;
	rx.charge = charge;
	while (size - off >= 2) {
		size_t l = (size_t)data[off] | (size_t)data[off + 1] << 8;

		off += 2;
		if (l >= 0xfffe) {
			size_t plen = CS_WIRE_PART_MAX + (l == 0xfffe);
			size_t h = size - off < CS_WIRE_HDR_LEN ? size - off : CS_WIRE_HDR_LEN;

			/* filler that a misplaced copy would not reproduce; made
			 * once, as writing 64 KiB per part would dominate the run */
			if (!big[CS_WIRE_HDR_LEN])
				for (size_t i = 0; i <= CS_WIRE_PART_MAX; i++)
					big[CS_WIRE_HDR_LEN + i] = (uint8_t)('a' + (i * 7 + i / 26) % 26);
			memset(big, 0, CS_WIRE_HDR_LEN);
			memcpy(big, data + off, h);
			off += h;
			check_feed(&rx, big, CS_WIRE_HDR_LEN + plen);
		} else {
			if (l > size - off)
				l = size - off;
			/* an exact-size copy, so reading past the datagram is caught */
			uint8_t *d = malloc(l ? l : 1);
			if (!d)
				break;
			memcpy(d, data + off, l);
			off += l;
			check_feed(&rx, d, l);
			free(d);
		}
	}
	cs_wire_rx_reset(&rx);
	FUZZ_CHECK(charged == 0);
	return 0;
}
