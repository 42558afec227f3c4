/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The control protocol: framing, fd passing, error names, message helpers. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <cs/cs.h>
#include "proto.h"

static const struct {
	int code;
	const char *name;
	const char *text;
} errors[] = {
	{ CS_OK, "OK", "success" },
	{ CS_EINVAL, "EINVAL", "invalid argument" },
	{ CS_ENOENT, "ENOENT", "no such object" },
	{ CS_EEXIST, "EEXIST", "object already exists" },
	{ CS_EPERM, "EPERM", "permission denied" },
	{ CS_EPROTO, "EPROTO", "protocol error" },
	{ CS_ENOMEM, "ENOMEM", "out of memory" },
	{ CS_EIO, "EIO", "system error" },
	{ CS_ETOOBIG, "ETOOBIG", "message too large" },
	{ CS_EADMIT, "EADMIT", "reservation refused: not enough capacity" },
	{ CS_ECONFLICT, "ECONFLICT", "concurrent change, retry" },
	{ CS_ENOSPC, "ENOSPC", "address or id pool exhausted" },
	{ CS_EQUOTA, "EQUOTA", "tenant quota exceeded" },
	{ CS_ECONN, "ECONN", "cannot reach csd" },
	{ CS_EVERSION, "EVERSION", "protocol version not supported" },
	{ CS_EUNAVAIL, "EUNAVAIL", "store unavailable, nothing changed" },
	{ CS_ENOTSUP, "ENOTSUP", "operation not supported" },
	{ CS_EBUSY, "EBUSY", "object in use" },
	{ CS_ECOMPACTED, "ECOMPACTED", "revision compacted" },
};

const char *cs_strerror(int code)
{
	for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
		if (errors[i].code == code)
			return errors[i].text;
	return "unknown error";
}

const char *cs_errname(int code)
{
	for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
		if (errors[i].code == code)
			return errors[i].name;
	return NULL;
}

int cs_errcode(const char *name)
{
	if (!name)
		return CS_EPROTO;
	for (size_t i = 1; i < sizeof(errors) / sizeof(errors[0]); i++)
		if (!strcmp(errors[i].name, name))
			return errors[i].code;
	return CS_EPROTO;
}

void cs_wire_rx_init(struct cs_wire_rx *rx, size_t max)
{
	memset(rx, 0, sizeof(*rx));
	rx->max = max ? max : CS_WIRE_MSG_MAX_DEFAULT;
}

void cs_wire_rx_reset(struct cs_wire_rx *rx)
{
	free(rx->buf);
	if (rx->cap && rx->charge)
		rx->charge(rx->charge_ctx, -(long)rx->cap);
	for (int i = 0; i < rx->nfds; i++)
		if (rx->fds[i] >= 0)
			close(rx->fds[i]);
	size_t max = rx->max;
	bool discard = rx->discard;
	int (*charge)(void *, long) = rx->charge;
	void *ctx = rx->charge_ctx;
	cs_wire_rx_init(rx, max);
	rx->discard = discard;
	rx->charge = charge;
	rx->charge_ctx = ctx;
}

/* Room for @need bytes (and the NUL): doubling, never past the announced
 * total, each growth asked of the charge hook first. */
static int rx_grow(struct cs_wire_rx *rx, size_t need)
{
	size_t cap = rx->cap ? rx->cap : 4096;
	char *b;
	int r;

	if (need + 1 <= rx->cap)
		return 0;
	while (cap < need + 1)
		cap *= 2;
	if (cap > rx->total + 1)
		cap = rx->total + 1;
	if (rx->charge && (r = rx->charge(rx->charge_ctx, (long)(cap - rx->cap))) < 0)
		return r;
	if (!(b = realloc(rx->buf, cap))) {
		if (rx->charge)
			rx->charge(rx->charge_ctx, -(long)(cap - rx->cap));
		return CS_ENOMEM;
	}
	rx->buf = b;
	rx->cap = cap;
	return 0;
}

size_t cs_wire_parts(size_t len)
{
	return len == 0 ? 1 : (len + CS_WIRE_PART_MAX - 1) / CS_WIRE_PART_MAX;
}

void cs_wire_hdr_fill(struct cs_wire_hdr *hdr, size_t len, size_t i)
{
	hdr->magic = CS_WIRE_MAGIC;
	hdr->flags = i + 1 < cs_wire_parts(len) ? CS_WIRE_MORE : 0;
	hdr->reserved = 0;
	hdr->total = (uint32_t)len;
}

int cs_wire_rx_feed(struct cs_wire_rx *rx, const void *dgram, size_t n)
{
	struct cs_wire_hdr hdr;

	if (n < CS_WIRE_HDR_LEN)
		return CS_EPROTO;
	memcpy(&hdr, dgram, sizeof(hdr));
	if (hdr.magic != CS_WIRE_MAGIC || hdr.reserved != 0)
		return CS_EPROTO;
	size_t payload = n - CS_WIRE_HDR_LEN;
	if (payload > CS_WIRE_PART_MAX)
		return CS_EPROTO;
	if (rx->discard) {
		if (!(hdr.flags & CS_WIRE_MORE))
			rx->discard = false;
		return 0;
	}
	if (rx->total == 0 && rx->len == 0 && rx->buf == NULL) {
		if (hdr.total > rx->max) {
			rx->discard = hdr.flags & CS_WIRE_MORE;
			return CS_ETOOBIG;
		}
		rx->total = hdr.total;
	} else if (hdr.total != rx->total) {
		return CS_EPROTO;
	}
	if (payload > rx->total - rx->len)
		return CS_EPROTO;
	int r = rx_grow(rx, rx->len + payload);
	if (r < 0) {
		rx->discard = hdr.flags & CS_WIRE_MORE;
		return r;
	}
	memcpy(rx->buf + rx->len, (const char *)dgram + CS_WIRE_HDR_LEN, payload);
	rx->len += payload;
	bool more = hdr.flags & CS_WIRE_MORE;
	if (!more) {
		if (rx->len != rx->total)
			return CS_EPROTO;
		rx->buf[rx->len] = '\0';
		return 1;
	}
	/* a non-final part must be full, so a message has one way to be cut */
	if (payload != CS_WIRE_PART_MAX || rx->len >= rx->total)
		return CS_EPROTO;
	return 0;
}

void cs_wire_attach_fds(struct msghdr *mh, void *buf, const int *fds, int nfds)
{
	memset(buf, 0, CMSG_SPACE(sizeof(int) * nfds));
	mh->msg_control = buf;
	mh->msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
	struct cmsghdr *c = CMSG_FIRSTHDR(mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
}

int cs_wire_send_part(int fd, const char *msg, size_t len, size_t i, const int *fds, int nfds)
{
	struct cs_wire_hdr hdr;
	size_t off = i * CS_WIRE_PART_MAX;
	size_t plen = len - off < CS_WIRE_PART_MAX ? len - off : CS_WIRE_PART_MAX;
	struct iovec iov[2] = {
		{ .iov_base = &hdr, .iov_len = CS_WIRE_HDR_LEN },
		{ .iov_base = (void *)(msg + off), .iov_len = plen },
	};
	union {
		char buf[CMSG_SPACE(sizeof(int) * CS_WIRE_MAX_FDS)];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };

	cs_wire_hdr_fill(&hdr, len, i);
	if (nfds > 0 && !(hdr.flags & CS_WIRE_MORE)) {
		if (nfds > CS_WIRE_MAX_FDS)
			return -EINVAL;
		cs_wire_attach_fds(&mh, u.buf, fds, nfds);
	}
	ssize_t r;
	do
		r = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return (int)r;
}

int cs_wire_send(int fd, const char *msg, size_t len, const int *fds, int nfds)
{
	size_t parts = cs_wire_parts(len);

	if (len > UINT32_MAX)
		return CS_ETOOBIG;
	for (size_t i = 0; i < parts; i++) {
		int r;
		while ((r = cs_wire_send_part(fd, msg, len, i, fds, nfds)) == -EAGAIN) {
			struct timeval tv = { 0, 1000 };
			select(0, NULL, NULL, NULL, &tv);
		}
		if (r < 0)
			return CS_ECONN;
	}
	return 0;
}

int cs_wire_read(int fd, struct cs_wire_rx *rx)
{
	static __thread char *dgram;
	union {
		char buf[CMSG_SPACE(sizeof(int) * CS_WIRE_MAX_FDS)];
		struct cmsghdr align;
	} u;

	if (!dgram && !(dgram = malloc(CS_WIRE_HDR_LEN + CS_WIRE_PART_MAX + 1)))
		return CS_ENOMEM;
	struct iovec iov = { .iov_base = dgram, .iov_len = CS_WIRE_HDR_LEN + CS_WIRE_PART_MAX + 1 };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	ssize_t n;
	do
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : CS_ECONN;
	int r = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		int cnt = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		int *p = (int *)CMSG_DATA(c);
		for (int i = 0; i < cnt; i++) {
			if (rx->nfds < CS_WIRE_MAX_FDS)
				rx->fds[rx->nfds++] = p[i];
			else
				close(p[i]);
		}
	}
	/* an empty datagram is the peer's end, or looks like it: the fds it
	 * may carry are closed, not kept */
	if (n == 0) {
		for (int i = 0; i < rx->nfds; i++)
			close(rx->fds[i]);
		rx->nfds = 0;
		return CS_ECONN;
	}
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		r = CS_EPROTO;
	/* fds ride on the last part only: a partial message holds none */
	if (r == 0 && rx->nfds && n >= CS_WIRE_HDR_LEN && (dgram[1] & CS_WIRE_MORE)) {
		for (int i = 0; i < rx->nfds; i++)
			close(rx->fds[i]);
		rx->nfds = 0;
		rx->discard = true;
		r = CS_EPROTO;
	}
	if (r == 0)
		r = cs_wire_rx_feed(rx, dgram, (size_t)n);
	/* the last part of a message being dropped: its fds go with it */
	if (r == 0 && rx->nfds) {
		for (int i = 0; i < rx->nfds; i++)
			close(rx->fds[i]);
		rx->nfds = 0;
	}
	return r;
}

int cs_wire_recv(int fd, size_t max, char **out, size_t *len, int *fds, int *nfds)
{
	struct cs_wire_rx rx;
	int r;

	cs_wire_rx_init(&rx, max);
	while ((r = cs_wire_read(fd, &rx)) == 0 || r == -EAGAIN) {
		if (r == -EAGAIN) {
			struct timeval tv = { 0, 1000 };
			select(0, NULL, NULL, NULL, &tv);
		}
	}
	/* drop the rest of an oversized message so the next call starts clean */
	while (r == CS_ETOOBIG && rx.discard) {
		int d = cs_wire_read(fd, &rx);
		if (d < 0 && d != -EAGAIN)
			break;
	}
	if (r < 0) {
		cs_wire_rx_reset(&rx);
		return r;
	}
	*out = rx.buf;
	*len = rx.len;
	rx.buf = NULL;
	if (nfds) {
		*nfds = rx.nfds;
		memcpy(fds, rx.fds, sizeof(int) * rx.nfds);
		rx.nfds = 0;
	}
	cs_wire_rx_reset(&rx);
	return 0;
}

json_t *cs_msg_request(int64_t id, const char *op, json_t *args)
{
	return json_pack("{s:I, s:s, s:o}", "id", (json_int_t)id, "op", op,
			 "args", args ? args : json_object());
}

json_t *cs_msg_ok(int64_t id, json_t *result)
{
	return json_pack("{s:I, s:b, s:o}", "id", (json_int_t)id, "ok", 1,
			 "result", result ? result : json_object());
}

/* Messages are cut by bytes, which can split a UTF-8 character, and JSON
 * strings must be valid UTF-8: replace what is not with '?'. */
static void utf8_sanitize(char *s)
{
	unsigned char *p = (unsigned char *)s;

	while (*p) {
		int n = *p < 0x80 ? 0 : (*p & 0xE0) == 0xC0 ? 1 : (*p & 0xF0) == 0xE0 ? 2
			: (*p & 0xF8) == 0xF0 ? 3 : -1;
		int ok = n >= 0 && !(n == 1 && *p < 0xC2);
		for (int i = 1; ok && i <= n; i++)
			ok = (p[i] & 0xC0) == 0x80;
		if (!ok) {
			*p++ = '?';
			continue;
		}
		p += n + 1;
	}
}

json_t *cs_msg_error(int64_t id, int code, const char *fmt, ...)
{
	char *text = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	va_end(ap);
	if (text)
		utf8_sanitize(text);
	const char *name = cs_errname(code);
	json_t *m = json_pack("{s:I, s:b, s:{s:s, s:s}}", "id", (json_int_t)id, "ok", 0, "error",
			      "code", name ? name : "EIO", "message",
			      text ? text : "out of memory");
	free(text);
	return m;
}

char *cs_msg_dump(const json_t *msg, size_t *len)
{
	char *s = json_dumps(msg, JSON_COMPACT);
	if (s && len)
		*len = strlen(s);
	return s;
}

/* Does the caller live in a user namespace of its own (where csd's root
 * is not mapped and shows as the overflow uid)? */
static bool in_child_userns(void)
{
	char buf[128] = "";
	FILE *f = fopen("/proc/self/uid_map", "re");
	unsigned long a, b, n;

	if (!f)
		return false;
	bool whole = fgets(buf, sizeof(buf), f) && sscanf(buf, "%lu %lu %lu", &a, &b, &n) == 3 &&
		     a == 0 && b == 0 && n == 4294967295UL;
	fclose(f);
	return !whole;
}

int cs_peer_trusted(int fd, const char *path, char *err, size_t errlen)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0) {
		snprintf(err, errlen, "%s: cannot tell who serves it: %s", path, strerror(errno));
		return CS_ECONN;
	}
	/* from a user namespace, root outside shows as the overflow uid */
	if (uc.uid == 65534 && in_child_userns())
		return 0;
	if (uc.uid != 0 && uc.uid != geteuid()) {
		snprintf(err, errlen, "%s is served by uid %u, neither root nor you: not csd, or "
			 "not one of yours; nothing was sent to it (check -S and $CS_SOCKET)", path,
			 (unsigned)uc.uid);
		return CS_EPERM;
	}
	return 0;
}
