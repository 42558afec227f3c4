/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Per-uid bounds on what callers hold of csd (bounds.c). */
#ifndef CSD_BOUNDS_H
#define CSD_BOUNDS_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include <sys/types.h>

struct csd;
struct csd_limits;
struct principal;
struct uid_use;

/* connections kept for administrators when everyone else holds the rest */
#define LIMITS_ADMIN_RESERVE 32

/* Fill what the configuration left 0 with csd's defaults (csd(8)). */
void limits_defaults(struct csd_limits *l);
/* The "limits" object of the -c file. 0, or CS_EINVAL with a message. */
int limits_parse(struct csd_limits *l, const json_t *v, const char *file, char *err,
		 size_t errlen);

/* The uid a peer's use is charged to: its own, or the user's whose user
 * namespace it is in. */
uid_t uid_charge_of(pid_t pid, uid_t uid);
/* The uid's entry (made on first use; NULL without memory). */
struct uid_use *uid_use_get(struct csd *d, const struct principal *who);
/* Forget the entry when it holds nothing any more. */
void uid_use_release(struct csd *d, struct uid_use *u);
/* Count one more connection of the uid, or CS_EQUOTA with why. */
int uid_conn_admit(struct csd *d, struct uid_use *u, char *why, size_t whylen);
void uid_conn_release(struct uid_use *u);

/* The context of a client's reassembly charge hook. */
struct uid_charge {
	struct csd *d;
	struct uid_use *use;
	bool refused_total;  /* the last refusal was the bound of all uids */
};
int uid_rx_charge(void *ctx, long delta);
/* Queued reply bytes: CS_EQUOTA once a non-administrator holds too many. */
int uid_tx_charge(struct csd *d, struct uid_use *u, long delta);
size_t uid_rx_bytes(const struct uid_use *u);
/* fds held by the uid's queued replies: add (or, negative, take back). */
void uid_txfds_add(struct uid_use *u, long n);
/* Does a non-administrator uid's queue hold limits.reply_fds fds? */
bool uid_txfds_full(const struct csd *d, const struct uid_use *u);
/* Whether memory should go back to the system now (malloc_trim). */
bool limits_trim_due(struct csd *d);
void limits_free(struct csd *d);

/* Parsing one message within a budget of memory (jansson's allocator). */
void json_budget_install(void);
/* The budget of a message of @len bytes (16 x, plus 1 MiB; 64 MiB at most). */
size_t json_budget_for(size_t len);
/* Count what this thread's jansson allocates, refusing past @bytes (0: no
 * bound); end says whether something was refused. */
void json_budget_begin(size_t bytes);
bool json_budget_end(void);

#endif
