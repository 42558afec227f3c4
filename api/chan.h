/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Channels (the user backend, csd(8)): what a stack process says first on
 * a channel, so libcs returns a clean code instead of waiting on a
 * connection that failed. A stream channel starts with one record before
 * the peer's bytes; a listen channel (SOCK_SEQPACKET) sends one record,
 * then one per accepted connection, carrying its fd by SCM_RIGHTS and the
 * peer's address; a datagram channel one record, then the datagrams.
 */
#ifndef CS_API_CHAN_H
#define CS_API_CHAN_H

#include <stdint.h>

struct cs_chan_status {
	int32_t code;           /* 0 or a CS_E* code */
	uint8_t family;         /* AF_INET, or 0 */
	uint8_t pad;
	uint16_t port;          /* network order */
	uint8_t addr[16];       /* the local address (connect) or the peer's (accept) */
	char why[104];          /* when code < 0: the reason, NUL-terminated */
};

#endif
