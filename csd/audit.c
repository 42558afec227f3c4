/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The audit ring. It lives in the process, not in struct csd: one csd runs
 * per process, and the ring is a recent history for operators (the log is
 * the record that lasts), so a restarted csd starts with an empty one.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "proto.h"

struct audit_entry {
	time_t time;
	uid_t uid;
	pid_t pid;
	int code;
	char op[32];
	char object[128];
	char message[256];
	char detail[64];
};

static struct audit_entry ring[AUDIT_RING];
static size_t ring_next, ring_used;

static const char *pick_object(const json_t *args, char *buf, size_t size)
{
	static const char *const keys[] = { "name", "vnet", "endpoint", "tenant", "filter" };
	const json_t *tenants = json_object_get(json_object_get(args, "file"), "tenants");
	const char *k;
	json_t *v;
	size_t n = 0;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *s = json_string_value(json_object_get(args, keys[i]));
		if (s)
			return s;
	}
	/* apply: the tenants the file declares */
	buf[0] = '\0';
	json_object_foreach((json_t *)tenants, k, v)
		if (n < size)
			n += (size_t)snprintf(buf + n, size - n, "%s%s", n ? "," : "", k);
	return buf[0] ? buf : "-";
}

/* entries stay on one line, printable ASCII (so a truncation never splits a
 * UTF-8 sequence), whatever a client sent */
static void copy_clean(char *dst, size_t size, const char *src)
{
	size_t i = 0;

	for (; src && *src && i + 1 < size; src++)
		dst[i++] = (unsigned char)*src < 0x20 || (unsigned char)*src >= 0x7f ? '?' : *src;
	dst[i] = '\0';
}

/*
 * Refusals are the one thing a caller can make csd log as fast as it can
 * send: per uid, at most REFUSALS_PER_SECOND refused requests a second are
 * written (each kept in the ring all the same), and the next line says how
 * many were not. Accepted changes are always written.
 */
#define REFUSALS_PER_SECOND 20
#define THIN_SLOTS 64

static bool refusal_thinned(uid_t uid)
{
	static struct { uid_t uid; time_t sec; unsigned n; unsigned long held; } s[THIN_SLOTS];
	unsigned i = uid % THIN_SLOTS;
	time_t now = time(NULL);

	if (s[i].uid != uid || s[i].sec != now) {
		if (s[i].uid == uid && s[i].held)
			log_info("audit: uid %u: %lu more refused requests were not written to the "
				 "log (at most %d a second)", (unsigned)uid, s[i].held,
				 REFUSALS_PER_SECOND);
		s[i].uid = uid;
		s[i].sec = now;
		s[i].n = 0;
		s[i].held = 0;
	}
	if (s[i].n < REFUSALS_PER_SECOND) {
		s[i].n++;
		return false;
	}
	s[i].held++;
	return true;
}

void audit_record(const struct principal *who, const char *op, const json_t *args,
		  const char *object, int code, const char *message, const char *detail)
{
	struct audit_entry *e = &ring[ring_next];
	char names[128];

	memset(e, 0, sizeof(*e));
	e->time = time(NULL);
	e->uid = who->uid;
	e->pid = who->pid;
	e->code = code;
	copy_clean(e->op, sizeof(e->op), op);
	copy_clean(e->object, sizeof(e->object), object ? object : pick_object(args, names, sizeof(names)));
	if (code < 0)
		copy_clean(e->message, sizeof(e->message),
			   message && *message ? message : cs_strerror(code));
	else if (detail)
		copy_clean(e->detail, sizeof(e->detail), detail);
	ring_next = (ring_next + 1) % AUDIT_RING;
	if (ring_used < AUDIT_RING)
		ring_used++;
	if (code < 0 && !refusal_thinned(e->uid))
		log_info("audit: uid %u pid %d %s %s: refused %s: %s", (unsigned)e->uid,
			 (int)e->pid, e->op, e->object, cs_errname(code), e->message);
	else
		log_info("audit: uid %u pid %d %s %s: ok%s%s", (unsigned)e->uid, (int)e->pid,
			 e->op, e->object, e->detail[0] ? " " : "", e->detail);
}

json_t *audit_view(const struct principal *who)
{
	json_t *a = json_array();
	size_t first = (ring_next + AUDIT_RING - ring_used) % AUDIT_RING;

	for (size_t i = 0; a && i < ring_used; i++) {
		const struct audit_entry *e = &ring[(first + i) % AUDIT_RING];
		char when[32];
		struct tm tm;

		if (!who->admin && e->uid != who->uid)
			continue;
		gmtime_r(&e->time, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		json_t *o = json_pack("{s:s, s:I, s:I, s:s, s:s, s:s}", "time", when, "uid",
				      (json_int_t)e->uid, "pid", (json_int_t)e->pid, "op", e->op,
				      "object", e->object, "verdict",
				      e->code < 0 ? cs_errname(e->code) : "ok");
		if (o && e->code < 0)
			json_object_set_new(o, "message", json_string(e->message));
		if (o && e->code >= 0 && e->detail[0])
			json_object_set_new(o, "detail", json_string(e->detail));
		json_array_append_new(a, o);
	}
	return a;
}

void audit_clear(void)
{
	ring_next = ring_used = 0;
}
