/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cs/cs.h>
#include "errf.h"
#include "resources/admission.h"
#include "resources/units.h"

#define PPM 1000000u

typedef unsigned __int128 u128;

static const char *const class_names[ADMISSION_NCLASSES] = {
	[ADMISSION_REALTIME] = "realtime",
	[ADMISSION_INTERACTIVE] = "interactive",
	[ADMISSION_BULK] = "bulk",
};

static const char *pool_name(const struct admission_pool *pool)
{
	return pool->name ? pool->name : "pool";
}

static uint64_t clamp64(u128 v)
{
	return v > UINT64_MAX ? UINT64_MAX : (uint64_t)v;
}

/* The headroom in millionths, or -1 if it is not in [0, 1). Rounded to the
 * nearest millionth (0.1 is not exact in binary), but never to a whole. */
static long headroom_ppm(double h)
{
	long ppm;

	if (!(h >= 0.0 && h < 1.0))	/* NaN fails too */
		return -1;
	ppm = (long)(h * PPM + 0.5);
	return ppm >= (long)PPM ? (long)PPM - 1 : ppm;
}

static int pool_check(const struct admission_pool *pool, long *ppm, char *err, size_t errlen)
{
	if (!pool->capacity) {
		cs_errf(err, errlen, "%s has no capacity: it is not shaped and takes no reservations; "
		    "give it a capacity first", pool_name(pool));
		return CS_EINVAL;
	}
	*ppm = headroom_ppm(pool->headroom);
	if (*ppm < 0) {
		cs_errf(err, errlen, "%s: headroom %g is not in [0, 1)", pool_name(pool),
		    pool->headroom);
		return CS_EINVAL;
	}
	return 0;
}

static uint64_t usable_of(uint64_t capacity, long ppm)
{
	/* capacity * (PPM - ppm) needs 84 bits at most */
	return (uint64_t)((u128)capacity * (PPM - (uint64_t)ppm) / PPM);
}

uint64_t admission_usable(const struct admission_pool *pool)
{
	long ppm;

	if (!pool->capacity)
		return 0;
	ppm = headroom_ppm(pool->headroom);
	return ppm < 0 ? 0 : usable_of(pool->capacity, ppm);
}

int admission_validate(const struct admission_resv *r, char *err, size_t errlen)
{
	char a[32], b[32];
	const char *id = r->id && *r->id ? r->id : "reservation";

	if (!r->id || !*r->id) {
		cs_errf(err, errlen, "reservation: no endpoint named");
		return CS_EINVAL;
	}
	if (!r->rate) {
		cs_errf(err, errlen, "%s: rate must be above zero", id);
		return CS_EINVAL;
	}
	if (r->ceil && r->ceil < r->rate) {
		cs_errf(err, errlen, "%s: ceil %s is below rate %s; ceil is what it may borrow up "
		    "to, at least the rate", id, cs_rate_format(r->ceil, a, sizeof(a)),
		    cs_rate_format(r->rate, b, sizeof(b)));
		return CS_EINVAL;
	}
	if (!admission_class_name(r->cls)) {
		cs_errf(err, errlen, "%s: unknown class %d; classes are realtime, interactive, bulk",
		    id, (int)r->cls);
		return CS_EINVAL;
	}
	return 0;
}

int admission_check(const struct admission_pool *pool, const struct admission_resv *cur,
		    size_t n, const struct admission_resv *req, struct admission_usage *use,
		    char *err, size_t errlen)
{
	struct admission_usage u = { 0 };
	u128 sum = 0;
	bool replacing = false;
	long ppm;
	size_t i;
	int r;

	r = pool_check(pool, &ppm, err, errlen);
	if (r < 0)
		return r;
	u.capacity = pool->capacity;
	u.headroom_ppm = (uint32_t)ppm;
	u.usable = usable_of(pool->capacity, ppm);
	u.requested = req->rate;
	for (i = 0; i < n; i++) {
		if (req->id && cur[i].id && !strcmp(cur[i].id, req->id)) {
			/* a duplicate id would be a store bug: count the largest */
			if (cur[i].rate > u.held)
				u.held = cur[i].rate;
			replacing = true;
		}
		sum += cur[i].rate;	/* n * 2^64 needs 64 + log2(n) bits */
	}
	u.reserved = clamp64(sum);
	u.free = sum >= u.usable ? 0 : u.usable - (uint64_t)sum;
	if (use)
		*use = u;

	r = admission_validate(req, err, errlen);
	if (r < 0)
		return r;
	/* Keeping or lowering what is held never needs room. */
	if (replacing && req->rate <= u.held)
		return 0;
	if ((u128)req->rate - (replacing ? u.held : 0) <= u.free)
		return 0;
	if (err)
		admission_explain(pool_name(pool), &u, err, errlen);
	return CS_EADMIT;
}

/* Is (rate a, index i) ordered before (rate b, index j): larger first,
 * then earlier? */
static bool before(uint64_t a, size_t i, uint64_t b, size_t j)
{
	return a > b || (a == b && i < j);
}

char *admission_holders(const struct admission_resv *cur, size_t n, const bool *visible,
			const char *skip_id, size_t max, char *buf, size_t len)
{
	size_t shown = 0, hidden = 0, count = 0, off = 0, last = SIZE_MAX;
	char rate[32];

	if (!buf || !len)
		return buf;
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (skip_id && cur[i].id && !strcmp(cur[i].id, skip_id))
			continue;
		if (visible && !visible[i])
			hidden++;
		else
			count++;
	}
	/* the next largest after the last one named, max times: no allocation */
	while (shown < max && shown < count) {
		size_t best = SIZE_MAX;
		for (size_t i = 0; i < n; i++) {
			if ((skip_id && cur[i].id && !strcmp(cur[i].id, skip_id)) ||
			    (visible && !visible[i]))
				continue;
			if (last != SIZE_MAX && !before(cur[last].rate, last, cur[i].rate, i))
				continue;
			if (best == SIZE_MAX || before(cur[i].rate, i, cur[best].rate, best))
				best = i;
		}
		if (best == SIZE_MAX)
			break;
		cs_rate_format(cur[best].rate, rate, sizeof(rate));
		off += (size_t)snprintf(buf + off, off < len ? len - off : 0, "%s%s %s",
					shown ? ", " : "held by ", cur[best].id ? cur[best].id : "?",
					rate);
		last = best;
		shown++;
	}
	if (count > shown)
		off += (size_t)snprintf(buf + off, off < len ? len - off : 0, " and %zu more",
					count - shown);
	if (hidden)
		off += (size_t)snprintf(buf + off, off < len ? len - off : 0, "%s",
					shown ? " and others not visible to you"
					      : "held by others not visible to you");
	if (off >= len && len > 4)
		memcpy(buf + len - 4, "...", 4);
	return buf;
}

/* "10", "12.5", "0.0001" */
static void format_percent(uint32_t ppm, char *buf, size_t len)
{
	uint32_t whole = ppm / 10000, frac = ppm % 10000;
	int digits = 4;

	if (!frac) {
		snprintf(buf, len, "%u", whole);
		return;
	}
	while (frac % 10 == 0) {
		frac /= 10;
		digits--;
	}
	snprintf(buf, len, "%u.%0*u", whole, digits, frac);
}

char *admission_explain(const char *name, const struct admission_usage *u, char *buf,
			size_t len)
{
	char req[32], held[32], fr[32], usable[32], cap[32], pct[16];

	if (!buf || !len)
		return buf;
	cs_rate_format(u->requested, req, sizeof(req));
	cs_rate_format(u->free, fr, sizeof(fr));
	cs_rate_format(u->usable, usable, sizeof(usable));
	cs_rate_format(u->capacity, cap, sizeof(cap));
	format_percent(u->headroom_ppm, pct, sizeof(pct));
	if (u->held) {
		cs_rate_format(u->held, held, sizeof(held));
		snprintf(buf, len, "%s: %s requested (replacing %s), %s free of %s "
			 "(capacity %s, headroom %s%%)", name ? name : "pool", req, held, fr,
			 usable, cap, pct);
	} else {
		snprintf(buf, len, "%s: %s requested, %s free of %s (capacity %s, headroom %s%%)",
			 name ? name : "pool", req, fr, usable, cap, pct);
	}
	return buf;
}

int admission_caps(const struct admission_pool *pool, const struct admission_resv *const *resv,
		   size_t n, struct admission_cap *out, char *err, size_t errlen)
{
	u128 reserved = 0;
	uint64_t usable, left, share, floor;
	size_t i, nunres = 0;
	long ppm;
	int r;

	r = pool_check(pool, &ppm, err, errlen);
	if (r < 0)
		return r;
	usable = usable_of(pool->capacity, ppm);
	for (i = 0; i < n; i++) {
		if (!resv[i]) {
			nunres++;
			continue;
		}
		r = admission_validate(resv[i], err, errlen);
		if (r < 0)
			return r;
		reserved += resv[i]->rate;
	}
	left = reserved >= usable ? 0 : usable - (uint64_t)reserved;
	floor = pool->capacity / ADMISSION_FLOOR_DIV;
	if (floor < ADMISSION_FLOOR_MIN)
		floor = ADMISSION_FLOOR_MIN;
	if (floor > usable)
		floor = usable;
	if (!floor)
		floor = 1;
	share = nunres ? left / nunres : 0;
	if (share < floor)
		share = floor;
	for (i = 0; i < n; i++) {
		struct admission_cap *c = &out[i];

		if (resv[i]) {
			c->rate = resv[i]->rate;
			c->ceil = resv[i]->ceil ? resv[i]->ceil : resv[i]->rate;
			c->burst = resv[i]->burst;
			c->cls = resv[i]->cls;
			c->reserved = true;
		} else {
			c->rate = c->ceil = share;
			c->burst = 0;
			c->cls = ADMISSION_BULK;
			c->reserved = false;
		}
	}
	return 0;
}

int admission_class_prio(enum admission_class cls)
{
	/* the enum is ordered by latency priority, and HTB serves prio 0 first */
	return admission_class_name(cls) ? (int)cls : -1;
}

const char *admission_class_name(enum admission_class cls)
{
	if ((int)cls < 0 || (int)cls >= ADMISSION_NCLASSES)
		return NULL;
	return class_names[cls];
}

int admission_class_parse(const char *s, enum admission_class *out, char *err, size_t errlen)
{
	int i;

	for (i = 0; s && i < ADMISSION_NCLASSES; i++) {
		if (!strcmp(s, class_names[i])) {
			*out = (enum admission_class)i;
			return 0;
		}
	}
	cs_errf(err, errlen, "unknown class \"%s\"; classes are realtime, interactive, bulk",
	    s ? s : "");
	return CS_EINVAL;
}
