/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What one local user may hold of csd: connections, bytes of partial
 * messages and of unread replies, per uid and in total. csd is root and
 * its socket is open to every user, so each uid is treated like a process
 * under a kernel's limits: it gets a bounded share, and administrators
 * (root, admin_gids) keep room to get in when every other uid holds its
 * all. The table is keyed by uid; an entry lives while the uid holds
 * something.
 */
#include <stddef.h>
#include <stdio.h>
#include <fcntl.h>
#include <malloc.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/nsfs.h>
#include <stdlib.h>
#include <string.h>

#include "csd.h"
#include "bounds.h"

#define UID_BUCKETS 256

struct uid_use {
	struct uid_use *next;
	uid_t uid;
	bool admin;
	unsigned conns;
	size_t rx;     /* bytes of partial messages buffered */
	size_t tx;     /* bytes of replies queued, not yet taken */
	long txfds;    /* fds those replies hold */
};

struct uid_table {
	struct uid_use *b[UID_BUCKETS];
	size_t rx_total;
	size_t rx_peak;   /* since the last trim */
};

void limits_defaults(struct csd_limits *l)
{
	if (!l->connections)
		l->connections = 64;
	if (!l->buffer)
		l->buffer = 64u << 20;
	if (!l->buffer_total)
		l->buffer_total = 256u << 20;
	if (!l->replies)
		l->replies = 64u << 20;
	if (!l->partial_timeout)
		l->partial_timeout = 10;
	if (!l->reply_fds)
		l->reply_fds = 64;
	if (!l->tenants)
		l->tenants = 10;
	if (!l->vnets)
		l->vnets = 40;
	if (!l->endpoints)
		l->endpoints = 200;
	if (!l->rules)
		l->rules = 1000;
	if (!l->document)
		l->document = 256u << 10;
	if (!l->monitor)
		l->monitor = 4u << 20;
}

static const struct {
	const char *key;
	size_t off;
	long long min, max;
	const char *what;
} keys[] = {
	{ "connections", offsetof(struct csd_limits, connections), 1, 100000, "connections" },
	{ "buffer", offsetof(struct csd_limits, buffer), 65536, 1LL << 34, "bytes" },
	{ "buffer_total", offsetof(struct csd_limits, buffer_total), 65536, 1LL << 36, "bytes" },
	{ "replies", offsetof(struct csd_limits, replies), 65536, 1LL << 34, "bytes" },
	{ "partial_timeout", offsetof(struct csd_limits, partial_timeout), 1, 3600, "seconds" },
	{ "reply_fds", offsetof(struct csd_limits, reply_fds), 8, 100000, "fds" },
	{ "tenants", offsetof(struct csd_limits, tenants), 1, 1000000, "tenants" },
	{ "vnets", offsetof(struct csd_limits, vnets), 1, 1000000, "vnets" },
	{ "endpoints", offsetof(struct csd_limits, endpoints), 1, 10000000, "endpoints" },
	{ "rules", offsetof(struct csd_limits, rules), 1, 10000000, "rules" },
	{ "document", offsetof(struct csd_limits, document), 4096, 1LL << 30, "bytes" },
	{ "monitor", offsetof(struct csd_limits, monitor), 4096, 1LL << 30, "bytes" },
};

int limits_parse(struct csd_limits *l, const json_t *v, const char *file, char *err,
		 size_t errlen)
{
	const char *key;
	json_t *x;

	if (!json_is_object(v)) {
		snprintf(err, errlen, "%s: limits: expected an object such as {\"connections\": 64, "
			 "\"tenants\": 10}", file);
		return CS_EINVAL;
	}
	json_object_foreach((json_t *)v, key, x) {
		size_t i;
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (!strcmp(keys[i].key, key))
				break;
		if (i == sizeof(keys) / sizeof(keys[0])) {
			snprintf(err, errlen, "%s: limits.%s: unknown key (known: connections, buffer, "
				 "buffer_total, replies, reply_fds, partial_timeout, tenants, vnets, "
				 "endpoints, rules, document, monitor)",
				 file, key);
			return CS_EINVAL;
		}
		json_int_t n = json_integer_value(x);
		if (!json_is_integer(x) || n < keys[i].min || n > keys[i].max) {
			snprintf(err, errlen, "%s: limits.%s: expected %s, %lld-%lld", file, key,
				 keys[i].what, keys[i].min, keys[i].max);
			return CS_EINVAL;
		}
		*(size_t *)((char *)l + keys[i].off) = (size_t)n;
	}
	return 0;
}

static struct uid_use **slot(struct uid_table *t, uid_t uid)
{
	struct uid_use **p = &t->b[uid % UID_BUCKETS];

	while (*p && (*p)->uid != uid)
		p = &(*p)->next;
	return p;
}

static struct uid_table *table(struct csd *d)
{
	if (!d->uids)
		d->uids = calloc(1, sizeof(*d->uids));
	return d->uids;
}

struct uid_use *uid_use_get(struct csd *d, const struct principal *who)
{
	struct uid_table *t = table(d);
	struct uid_use **p, *u;

	if (!t)
		return NULL;
	p = slot(t, principal_charged(who));
	if (*p)
		return *p;
	if (!(u = calloc(1, sizeof(*u))))
		return NULL;
	u->uid = principal_charged(who);
	u->admin = who->admin;
	*p = u;
	return u;
}

void uid_use_release(struct csd *d, struct uid_use *u)
{
	struct uid_use **p;

	if (!u || u->conns || u->rx || u->tx || u->txfds)
		return;
	p = slot(d->uids, u->uid);
	if (*p == u) {
		*p = u->next;
		free(u);
	}
}

int uid_conn_admit(struct csd *d, struct uid_use *u, char *why, size_t whylen)
{
	const struct csd_limits *l = &d->cfg.limits;

	if (!u->admin && u->conns >= l->connections) {
		snprintf(why, whylen, "uid %u holds %u connections, its bound (limits.connections "
			 "in csd's configuration)", (unsigned)u->uid, u->conns);
		return CS_EQUOTA;
	}
	/* the last ADMIN_RESERVE connections are kept for administrators */
	if (!u->admin && d->nclients + LIMITS_ADMIN_RESERVE >= d->clients_max) {
		snprintf(why, whylen, "csd holds %zu connections; the rest are kept for "
			 "administrators", d->nclients);
		return CS_EQUOTA;
	}
	if (d->nclients >= d->clients_max) {
		snprintf(why, whylen, "csd holds %zu connections, all it may", d->nclients);
		return CS_EQUOTA;
	}
	u->conns++;
	return 0;
}

void uid_conn_release(struct uid_use *u)
{
	if (u && u->conns)
		u->conns--;
}

/* The charge hook of a client's reassembly (struct cs_wire_rx). */
int uid_rx_charge(void *ctx, long delta)
{
	struct uid_charge *c = ctx;
	struct uid_use *u = c->use;
	struct uid_table *t = c->d->uids;
	const struct csd_limits *l = &c->d->cfg.limits;

	if (delta <= 0) {
		size_t n = (size_t)-delta;
		u->rx -= n < u->rx ? n : u->rx;
		t->rx_total -= n < t->rx_total ? n : t->rx_total;
		return 0;
	}
	/* administrators are bounded by neither: the total must not let
	 * users lock them out */
	if (!u->admin && (u->rx + (size_t)delta > l->buffer ||
			  t->rx_total + (size_t)delta > l->buffer_total)) {
		c->refused_total = t->rx_total + (size_t)delta > l->buffer_total;
		return CS_EQUOTA;
	}
	u->rx += (size_t)delta;
	t->rx_total += (size_t)delta;
	if (t->rx_total > t->rx_peak)
		t->rx_peak = t->rx_total;
	return 0;
}

int uid_tx_charge(struct csd *d, struct uid_use *u, long delta)
{
	if (delta <= 0) {
		size_t n = (size_t)-delta;
		u->tx -= n < u->tx ? n : u->tx;
		return 0;
	}
	u->tx += (size_t)delta;
	return !u->admin && u->tx > d->cfg.limits.replies ? CS_EQUOTA : 0;
}

void uid_txfds_add(struct uid_use *u, long n)
{
	if (u)
		u->txfds += n;
}

bool uid_txfds_full(const struct csd *d, const struct uid_use *u)
{
	return u && !u->admin && u->txfds >= (long)d->cfg.limits.reply_fds;
}

size_t uid_rx_bytes(const struct uid_use *u)
{
	return u ? u->rx : 0;
}

bool limits_trim_due(struct csd *d)
{
	struct uid_table *t = d->uids;

	/* memory that partial messages held goes back once they are gone */
	if (!t || t->rx_total || t->rx_peak < (4u << 20))
		return false;
	t->rx_peak = 0;
	return true;
}

void limits_free(struct csd *d)
{
	struct uid_table *t = d->uids;

	if (!t)
		return;
	for (size_t i = 0; i < UID_BUCKETS; i++) {
		while (t->b[i]) {
			struct uid_use *u = t->b[i];
			t->b[i] = u->next;
			free(u);
		}
	}
	free(t);
	d->uids = NULL;
}

/*
 * The memory parsing one request may take. jansson allocates through
 * these hooks (installed once, for every thread); between begin and end on
 * one thread, allocations are counted and refused past the budget, so a
 * 16 MiB message of "[{},{},...]" (over a gigabyte of values) fails at
 * the budget instead of growing csd.
 */
static __thread size_t budget, spent;
static __thread bool over;

static void *budget_malloc(size_t n)
{
	if (budget) {
		spent += n;
		if (spent > budget) {
			over = true;
			return NULL;
		}
	}
	return malloc(n);
}

void json_budget_install(void)
{
	json_set_alloc_funcs(budget_malloc, free);
}

size_t json_budget_for(size_t len)
{
	size_t b = len * 16 + (1u << 20);

	return b > (64u << 20) ? 64u << 20 : b;
}

void json_budget_begin(size_t bytes)
{
	budget = bytes;
	spent = 0;
	over = false;
}

bool json_budget_end(void)
{
	bool was = over;

	/* memory a big parse took goes back to the system */
	if (spent > (8u << 20))
		malloc_trim(0);
	budget = spent = 0;
	over = false;
	return was;
}

/*
 * A process in a user namespace its user made (unshare -U with uids from
 * /etc/subuid) speaks to csd as one of up to 65,536 subordinate uids: were
 * each bounded on its own, one user would hold 65,536 times its share. So
 * its use is charged to the user who made the outermost namespace below
 * csd's own (the owner of a namespace root made stays the peer's uid).
 */
uid_t uid_charge_of(pid_t pid, uid_t uid)
{
	char path[64];
	struct stat me, st;
	uid_t owner = uid;
	int fd, parent;

	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
	if (stat("/proc/self/ns/user", &me) < 0 || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return uid;
	while (fstat(fd, &st) == 0 && (st.st_ino != me.st_ino || st.st_dev != me.st_dev)) {
		uid_t o;
		if (ioctl(fd, NS_GET_OWNER_UID, &o) < 0 || (parent = ioctl(fd, NS_GET_PARENT)) < 0)
			break;
		owner = o;
		close(fd);
		fd = parent;
	}
	close(fd);
	return owner ? owner : uid;
}
