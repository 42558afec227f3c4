/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * WireGuard keys as text: base64 (node documents, wg(8)) and hex (the
 * UAPI). Pure, without libcrypto, so that cs-ctl's overlay checks and the
 * schema library can use it (it lives there, as ipam.c does).
 */
#include <string.h>

#include "wg.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void wg_key_to_base64(const uint8_t key[WG_KEY_LEN], char out[WG_KEY_B64_LEN + 1])
{
	size_t o = 0;

	for (size_t i = 0; i < WG_KEY_LEN; i += 3) {
		uint32_t v = (uint32_t)key[i] << 16;
		size_t left = WG_KEY_LEN - i;
		if (left > 1)
			v |= (uint32_t)key[i + 1] << 8;
		if (left > 2)
			v |= key[i + 2];
		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = left > 1 ? b64[v >> 6 & 63] : '=';
		out[o++] = left > 2 ? b64[v & 63] : '=';
	}
	out[WG_KEY_B64_LEN] = '\0';
}

int wg_key_from_base64(const char *s, uint8_t key[WG_KEY_LEN])
{
	uint32_t v = 0;
	size_t o = 0;

	/* 43 characters and one '=': exactly 32 bytes, the last 2 bits zero */
	if (!s || strlen(s) != WG_KEY_B64_LEN || s[43] != '=')
		return CS_EINVAL;
	for (size_t i = 0; i < 43; i++) {
		const char *p = strchr(b64, s[i]);
		if (!s[i] || !p)
			return CS_EINVAL;
		v = v << 6 | (uint32_t)(p - b64);
		if (i % 4 == 3) {
			key[o++] = (uint8_t)(v >> 16);
			key[o++] = (uint8_t)(v >> 8);
			key[o++] = (uint8_t)v;
			v = 0;
		}
	}
	/* the last group: 3 characters, 18 bits, 16 of them data */
	if (v & 3)
		return CS_EINVAL;
	key[o++] = (uint8_t)(v >> 10);
	key[o++] = (uint8_t)(v >> 2);
	return 0;
}

void wg_key_to_hex(const uint8_t key[WG_KEY_LEN], char out[2 * WG_KEY_LEN + 1])
{
	static const char hx[] = "0123456789abcdef";

	for (size_t i = 0; i < WG_KEY_LEN; i++) {
		out[2 * i] = hx[key[i] >> 4];
		out[2 * i + 1] = hx[key[i] & 15];
	}
	out[2 * WG_KEY_LEN] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int wg_key_from_hex(const char *s, uint8_t key[WG_KEY_LEN])
{
	if (!s || strlen(s) != 2 * WG_KEY_LEN)
		return CS_EINVAL;
	for (size_t i = 0; i < WG_KEY_LEN; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return CS_EINVAL;
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}
