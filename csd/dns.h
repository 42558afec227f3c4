/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * DNS at each vnet's gateway (DESIGN "Vnets and the world"): csd answers
 * the names of a vnet's endpoints to the programs in it, over UDP and TCP
 * port 53 at the gateway address, from a thread of its own (csd/dns.c).
 */
#ifndef CSD_DNS_H
#define CSD_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vnet/ipam.h"

struct csd;

/*
 * Bring the servers and their names up to date with the store, when it
 * changed since the last time (d->gen), or now and then to retry a vnet
 * whose gateway could not be bound yet. Called from the main loop after
 * every turn and after every change a request made, so a name is answered
 * before the request that created it is; rebuilding costs a reading of the
 * store, so it is spaced out (at most a tenth of the time) when the store
 * is large and changes fast. Cheap when nothing changed.
 */
void dns_sync(struct csd *d);
/* Stop answering: the thread and its sockets go. */
void dns_stop(struct csd *d);

/* The pure part (tested without root): one vnet's names. */
struct dns_rec {
	char name[33];
	bool has4, has6;
	struct cs_addr a4, a6;
};
struct dns_table {
	char zone[80];           /* "blue.acme.cs" */
	struct cs_prefix sub[2]; /* the vnet's subnets */
	int nsub;
	size_t n;
	struct dns_rec *v;       /* sorted by name */
};
void dns_table_free(struct dns_table *t);
/*
 * The answer to the DNS message @q (@qlen bytes) from @t, into @out (at
 * most @outmax bytes). Returns its length, or 0 when nothing is to be
 * sent (not a query, or too short to answer).
 */
size_t dns_answer(const struct dns_table *t, const uint8_t *q, size_t qlen, uint8_t *out,
		  size_t outmax);

#endif
