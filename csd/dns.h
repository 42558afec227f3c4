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
	bool egress;             /* names outside cs are forwarded */
};
void dns_table_free(struct dns_table *t);
/*
 * The answer to the DNS message @q (@qlen bytes) from @t, into @out (at
 * most @outmax bytes). Returns its length, or 0 when nothing is to be
 * sent (not a query, or too short to answer) or, with *@forward set, when
 * the query is for a name outside the vnet that @t's vnet (with egress)
 * forwards to the node's resolvers unchanged. @forward may be NULL
 * (nothing forwarded: refused).
 */
size_t dns_answer(const struct dns_table *t, const uint8_t *q, size_t qlen, uint8_t *out,
		  size_t outmax, bool *forward);

/* ---- forwarding (csd/dns_forward.c), used by the server thread ---- */

#include <sys/socket.h>

/* Who asked: enough to answer later (pointers are the server's own). */
struct dns_client {
	const void *vn;               /* the vnet it asked at */
	const void *conn;             /* its TCP connection, or NULL (UDP) */
	int fd;                       /* UDP: the socket it asked on */
	struct sockaddr_storage from; /* UDP: its address */
	socklen_t flen;
};
typedef void (*dns_reply_fn)(const struct dns_client *c, const uint8_t *msg, size_t len,
			     void *arg);
struct dns_fwd;
/* @resolvers (addresses, NULL-terminated) or, NULL, /etc/resolv.conf's. */
struct dns_fwd *dns_fwd_new(char *const *resolvers);
void dns_fwd_free(struct dns_fwd *f);
/* Its socket towards IPv4 (@k 0) or IPv6 (@k 1) resolvers, or -1. */
int dns_fwd_fd(const struct dns_fwd *f, int k);
/* Send @q on; its answer (or SERVFAIL) comes later through @reply. */
void dns_fwd_query(struct dns_fwd *f, const uint8_t *q, size_t len, uint64_t now,
		   const struct dns_client *c, dns_reply_fn reply, void *arg);
/* Answers readable on socket @k: each to the program that waits for it. */
void dns_fwd_recv(struct dns_fwd *f, int k, dns_reply_fn reply, void *arg);
/* SERVFAIL to those that waited too long. */
void dns_fwd_expire(struct dns_fwd *f, uint64_t now, dns_reply_fn reply, void *arg);
/* Forget those asked at vnet @vn or on connection @conn (going away). */
void dns_fwd_cancel(struct dns_fwd *f, const void *vn, const void *conn);

#endif
