/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Admission control: may a reservation be granted against a pool (a vnet's
 * capacity, a node's uplink)? And which fixed caps do the endpoints of a
 * vnet on one node get where their traffic meets no shared queue? Pure: no
 * I/O, no allocation, no locking; the caller makes check-and-commit atomic
 * (a store transaction), this only decides.
 *
 * All rates are bit/s in uint64_t; sums are taken in 128 bits, so rates up
 * to UINT64_MAX never wrap. The headroom is kept to a millionth (ppm).
 */
#ifndef RESOURCES_ADMISSION_H
#define RESOURCES_ADMISSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Latency priority; the values are the HTB prio (0 is served first) and
 * match enum vnet_qos_class. */
enum admission_class {
	ADMISSION_REALTIME = 0,
	ADMISSION_INTERACTIVE = 1,
	ADMISSION_BULK = 2,
};
#define ADMISSION_NCLASSES 3

/* What reservations are admitted against. */
struct admission_pool {
	const char *name;       /* for messages: "vnet acme/blue", "node n1 uplink" */
	uint64_t capacity;      /* bit/s; 0: not shaped, takes no reservations */
	double headroom;        /* fraction kept free, in [0, 1) */
};

/* One reservation, admitted or requested. */
struct admission_resv {
	const char *id;         /* unique in its pool: the endpoint "acme/blue/web" */
	uint64_t rate;          /* bit/s guaranteed, > 0 */
	uint64_t ceil;          /* bit/s it may borrow up to, >= rate; 0: = rate */
	uint64_t burst;         /* bytes; 0: the enforcer's default */
	enum admission_class cls;
};

/* The state of a pool, as admission_check() saw it. */
struct admission_usage {
	uint64_t capacity;      /* the pool's */
	uint32_t headroom_ppm;  /* its headroom in millionths */
	uint64_t usable;        /* capacity * (1 - headroom), rounded down */
	uint64_t reserved;      /* sum of the rates held, the request's id's included
				 * (UINT64_MAX if that sum does not fit) */
	uint64_t free;          /* usable - reserved, 0 if over-admitted */
	uint64_t held;          /* rate the request's id already holds, or 0 */
	uint64_t requested;     /* rate of the request */
};

/* Below this an unreserved endpoint's share never falls: the larger of 1%
 * of the capacity and 1 mbit, but never above the usable capacity and
 * never 0 (HTB takes no zero rate). So unreserved endpoints stay usable
 * when reservations fill the pool; the price is that, with fixed caps and
 * no shared queue, the sum of caps may exceed the pool by
 * (number of unreserved endpoints) * floor. */
#define ADMISSION_FLOOR_MIN 1000000ULL     /* 1 mbit */
#define ADMISSION_FLOOR_DIV 100            /* 1% */

/* A fixed cap for one endpoint (what vnet_qos takes). */
struct admission_cap {
	uint64_t rate;          /* bit/s */
	uint64_t ceil;          /* bit/s, >= rate */
	uint64_t burst;         /* bytes; 0: the enforcer's default */
	enum admission_class cls;
	bool reserved;          /* from a reservation, or a share of what is left */
};

/*
 * May @req be admitted to @pool, which already holds @cur[0..n)? A
 * reservation in @cur with @req's id is being replaced: only the increase
 * counts, so lowering or keeping a rate is always admitted (even in a pool
 * over-admitted after its capacity was lowered).
 *
 * Returns 0 (admitted), CS_EADMIT (does not fit: a reason in @err saying
 * how much is free, see admission_explain()) or CS_EINVAL (the pool is not
 * shaped or its headroom is out of range, or @req is not valid: zero rate,
 * ceil below rate, unknown class, no id). @use, if not NULL, is filled
 * whenever the pool is valid. @err may be NULL.
 */
int admission_check(const struct admission_pool *pool, const struct admission_resv *cur,
		    size_t n, const struct admission_resv *req, struct admission_usage *use,
		    char *err, size_t errlen);

/* 0 or CS_EINVAL with a reason: is @r well-formed (see admission_check)? */
int admission_validate(const struct admission_resv *r, char *err, size_t errlen);

/* capacity * (1 - headroom), rounded down; 0 for an unshaped or invalid pool. */
uint64_t admission_usable(const struct admission_pool *pool);

/*
 * The refusal, for a person: "vnet acme/blue: 50mbit requested, 20mbit
 * free of 900mbit (capacity 1gbit, headroom 10%)", with "(replacing
 * 10mbit)" after "requested" when the id already held a rate. Returns buf.
 */
char *admission_explain(const char *pool_name, const struct admission_usage *use, char *buf,
			size_t len);

/*
 * Who holds a pool, for a refusal: "held by acme/blue/a 50mbit,
 * acme/blue/b 30mbit and 3 more" -- the reservations of @cur[0..n) other
 * than @skip_id's (may be NULL), largest rate first (ties in @cur's order),
 * at most @max named. Only those @visible[i] allows (NULL: all) are named
 * or counted; when some are not, "and others not visible to you" ends it.
 * Writes "" when there is nobody to name. Returns buf.
 */
char *admission_holders(const struct admission_resv *cur, size_t n, const bool *visible,
			const char *skip_id, size_t max, char *buf, size_t len);

/*
 * Fixed caps for the @n endpoints of a vnet on one node whose traffic meets
 * no shared queue (macvlan siblings): @resv[i] is endpoint i's reservation
 * or NULL. A reserved endpoint is capped at its ceil (its rate unless a
 * ceil was given) with its class; an unreserved one shares evenly, as bulk,
 * what is left: (usable - sum of reserved rates) / number unreserved, never
 * below the floor (ADMISSION_FLOOR_*). Returns 0, or CS_EINVAL (unshaped
 * pool, an invalid reservation) with a reason in @err.
 */
int admission_caps(const struct admission_pool *pool, const struct admission_resv *const *resv,
		   size_t n, struct admission_cap *out, char *err, size_t errlen);

/* The HTB prio of a class (realtime 0 < interactive 1 < bulk 2); -1 if unknown. */
int admission_class_prio(enum admission_class cls);
/* "realtime", "interactive", "bulk"; NULL if unknown. */
const char *admission_class_name(enum admission_class cls);
/* 0, or CS_EINVAL with a reason naming the classes. */
int admission_class_parse(const char *s, enum admission_class *out, char *err, size_t errlen);

#endif
