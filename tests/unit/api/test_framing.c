/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The wire framing of api/proto.c: reassembly from parts (pure), refusal of
 * malformed and oversized messages, and real SOCK_SEQPACKET round trips with
 * fd passing; error names.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include <cs/cs.h>
#include "proto.h"

#define PM CS_WIRE_PART_MAX
#define N(x) (sizeof(x) / sizeof((x)[0]))

/* A recognisable payload, so a misplaced part shows up as a mismatch. */
static char *pattern(size_t len)
{
	char *p = malloc(len + 1);

	assert_non_null(p);
	for (size_t i = 0; i < len; i++)
		p[i] = (char)('a' + (i * 7 + i / PM) % 26);
	p[len] = '\0';
	return p;
}

/* One datagram: a header with the given fields, then @plen payload bytes. */
static size_t dgram(char *out, uint8_t magic, uint8_t flags, uint16_t reserved, uint32_t total,
		    const char *payload, size_t plen)
{
	struct cs_wire_hdr h = { magic, flags, reserved, total };

	memcpy(out, &h, CS_WIRE_HDR_LEN);
	if (plen)
		memcpy(out + CS_WIRE_HDR_LEN, payload, plen);
	return CS_WIRE_HDR_LEN + plen;
}

/* Part @i of @msg as the sender builds it. */
static size_t part(char *out, const char *msg, size_t len, size_t i)
{
	struct cs_wire_hdr h;
	size_t off = i * PM, plen = len - off < PM ? len - off : PM;

	cs_wire_hdr_fill(&h, len, i);
	memcpy(out, &h, CS_WIRE_HDR_LEN);
	if (plen)
		memcpy(out + CS_WIRE_HDR_LEN, msg + off, plen);
	return CS_WIRE_HDR_LEN + plen;
}

static char *dbuf(void)
{
	char *b = malloc(CS_WIRE_HDR_LEN + 2 * PM);

	assert_non_null(b);
	return b;
}

static void test_hdr_layout(void **state)
{
	(void)state;
	/* the header is on the wire as a struct: its size is the protocol */
	assert_int_equal(sizeof(struct cs_wire_hdr), CS_WIRE_HDR_LEN);
	assert_int_equal(offsetof(struct cs_wire_hdr, total), 4);
}

static void test_parts(void **state)
{
	static const struct { size_t len, parts; } t[] = {
		{ 0, 1 }, { 1, 1 }, { PM - 1, 1 }, { PM, 1 }, { PM + 1, 2 },
		{ 2 * PM, 2 }, { 3 * PM + 5, 4 },
	};
	struct cs_wire_hdr h;

	(void)state;
	for (size_t i = 0; i < N(t); i++) {
		assert_int_equal(cs_wire_parts(t[i].len), t[i].parts);
		for (size_t p = 0; p < t[i].parts; p++) {
			cs_wire_hdr_fill(&h, t[i].len, p);
			assert_int_equal(h.magic, CS_WIRE_MAGIC);
			assert_int_equal(h.reserved, 0);
			assert_int_equal(h.total, t[i].len);
			/* every part but the last says more follow */
			assert_int_equal(h.flags, p + 1 < t[i].parts ? CS_WIRE_MORE : 0);
		}
	}
}

static void test_feed_lengths(void **state)
{
	static const size_t lens[] = { 0, 1, PM - 1, PM, PM + 1, 3 * PM + 5 };
	char *d = dbuf();

	(void)state;
	for (size_t k = 0; k < N(lens); k++) {
		size_t len = lens[k], parts = cs_wire_parts(len);
		char *msg = pattern(len);
		struct cs_wire_rx rx;

		cs_wire_rx_init(&rx, 0);
		assert_int_equal(rx.max, CS_WIRE_MSG_MAX_DEFAULT);
		for (size_t i = 0; i < parts; i++) {
			size_t n = part(d, msg, len, i);
			int r = cs_wire_rx_feed(&rx, d, n);
			if (r != (i + 1 == parts ? 1 : 0))
				fail_msg("len %zu part %zu/%zu: feed returned %d", len, i, parts, r);
		}
		assert_int_equal(rx.len, len);
		assert_non_null(rx.buf);
		assert_memory_equal(rx.buf, msg, len);
		assert_int_equal(rx.buf[len], '\0');
		cs_wire_rx_reset(&rx);
		assert_null(rx.buf);
		assert_int_equal(rx.len, 0);
		free(msg);
	}
	free(d);
}

/* Feed @n prefix parts of a valid @len message, then @bad; expect @want. */
static void expect_after(size_t len, size_t n, const char *bad, size_t badlen, int want,
			 const char *what)
{
	char *msg = pattern(len), *d = dbuf();
	struct cs_wire_rx rx;
	int r;

	cs_wire_rx_init(&rx, 0);
	for (size_t i = 0; i < n; i++) {
		size_t dl = part(d, msg, len, i);
		assert_int_equal(cs_wire_rx_feed(&rx, d, dl), 0);
	}
	r = cs_wire_rx_feed(&rx, bad, badlen);
	if (r != want)
		fail_msg("%s: feed returned %d (%s), expected %d", what, r, cs_strerror(r), want);
	cs_wire_rx_reset(&rx);
	/* a fresh message is fine after the error */
	size_t dl = part(d, "{}", 2, 0);
	assert_int_equal(cs_wire_rx_feed(&rx, d, dl), 1);
	assert_string_equal(rx.buf, "{}");
	cs_wire_rx_reset(&rx);
	free(msg);
	free(d);
}

static void test_malformed(void **state)
{
	char *d = dbuf(), *big = pattern(2 * PM);
	size_t n;

	(void)state;
	n = dgram(d, 0xC4, 0, 0, 2, "{}", 2);
	expect_after(0, 0, d, n, CS_EPROTO, "bad magic");
	n = dgram(d, CS_WIRE_MAGIC, 0, 1, 2, "{}", 2);
	expect_after(0, 0, d, n, CS_EPROTO, "reserved != 0");
	n = dgram(d, CS_WIRE_MAGIC, 0, 0x100, 2, "{}", 2);
	expect_after(0, 0, d, n, CS_EPROTO, "reserved high byte != 0");
	for (size_t s = 0; s < CS_WIRE_HDR_LEN; s++) {
		dgram(d, CS_WIRE_MAGIC, 0, 0, 0, NULL, 0);
		expect_after(0, 0, d, s, CS_EPROTO, "short datagram");
	}
	/* the second part announces another total than the first */
	n = dgram(d, CS_WIRE_MAGIC, 0, 0, 2 * PM + 1, big, 1);
	expect_after(2 * PM, 1, d, n, CS_EPROTO, "total mismatch between parts");
	/* a non-final part must be full */
	n = dgram(d, CS_WIRE_MAGIC, CS_WIRE_MORE, 0, 2 * PM, big, PM - 1);
	expect_after(2 * PM, 0, d, n, CS_EPROTO, "first part not full");
	n = dgram(d, CS_WIRE_MAGIC, CS_WIRE_MORE, 0, 3 * PM, big, PM - 1);
	expect_after(3 * PM, 1, d, n, CS_EPROTO, "middle part not full");
	/* payload beyond total, in one part and in a later part */
	n = dgram(d, CS_WIRE_MAGIC, 0, 0, 2, "{}x", 3);
	expect_after(0, 0, d, n, CS_EPROTO, "payload beyond total (single part)");
	n = dgram(d, CS_WIRE_MAGIC, 0, 0, PM + 1, big, 2);
	expect_after(PM + 1, 1, d, n, CS_EPROTO, "payload beyond total (last part)");
	/* a full part flagged MORE that already completes the message */
	n = dgram(d, CS_WIRE_MAGIC, CS_WIRE_MORE, 0, PM, big, PM);
	expect_after(0, 0, d, n, CS_EPROTO, "MORE on a part that completes the message");
	/* the final part short of the total */
	n = dgram(d, CS_WIRE_MAGIC, 0, 0, 10, "{}", 2);
	expect_after(0, 0, d, n, CS_EPROTO, "final part short (single part)");
	n = dgram(d, CS_WIRE_MAGIC, 0, 0, 2 * PM + 5, big, 4);
	expect_after(2 * PM + 5, 2, d, n, CS_EPROTO, "final part short (last part)");
	/* more payload than a part may hold */
	n = dgram(d, CS_WIRE_MAGIC, 0, 0, PM + 1, big, PM + 1);
	expect_after(0, 0, d, n, CS_EPROTO, "payload over PART_MAX");
	/* a zero-length message cannot claim more parts */
	n = dgram(d, CS_WIRE_MAGIC, CS_WIRE_MORE, 0, 0, NULL, 0);
	expect_after(0, 0, d, n, CS_EPROTO, "MORE on an empty message");
	free(big);
	free(d);
}

static void test_oversized(void **state)
{
	size_t len = 3 * PM + 5, parts = cs_wire_parts(len);
	char *msg = pattern(len), *d = dbuf();
	struct cs_wire_rx rx;
	size_t n;

	(void)state;
	cs_wire_rx_init(&rx, 2 * PM);
	n = part(d, msg, len, 0);
	assert_int_equal(cs_wire_rx_feed(&rx, d, n), CS_ETOOBIG);
	/* refused before buffering anything */
	assert_null(rx.buf);
	assert_true(rx.discard);
	cs_wire_rx_reset(&rx);
	assert_true(rx.discard);
	for (size_t i = 1; i < parts; i++) {
		n = part(d, msg, len, i);
		assert_int_equal(cs_wire_rx_feed(&rx, d, n), 0);
		assert_null(rx.buf);
	}
	assert_false(rx.discard);
	/* the next message arrives whole */
	char *small = pattern(PM + 1);
	for (size_t i = 0; i < 2; i++) {
		n = part(d, small, PM + 1, i);
		assert_int_equal(cs_wire_rx_feed(&rx, d, n), i == 1 ? 1 : 0);
	}
	assert_memory_equal(rx.buf, small, PM + 1);
	cs_wire_rx_reset(&rx);

	/* a single-part announcement over the bound discards nothing after it */
	n = dgram(d, CS_WIRE_MAGIC, 0, 0, 2 * PM + 1, NULL, 0);
	assert_int_equal(cs_wire_rx_feed(&rx, d, n), CS_ETOOBIG);
	cs_wire_rx_reset(&rx);
	assert_false(rx.discard);
	n = part(d, "{}", 2, 0);
	assert_int_equal(cs_wire_rx_feed(&rx, d, n), 1);
	cs_wire_rx_reset(&rx);

	/* exactly at the bound is allowed */
	char *edge = pattern(2 * PM);
	for (size_t i = 0; i < 2; i++) {
		n = part(d, edge, 2 * PM, i);
		assert_int_equal(cs_wire_rx_feed(&rx, d, n), i == 1 ? 1 : 0);
	}
	cs_wire_rx_reset(&rx);
	free(edge);
	free(small);
	free(msg);
	free(d);
}

/* ---- over a real socketpair ---- */

struct writer {
	int fd;
	const char *msg;
	size_t len;
	int fds[CS_WIRE_MAX_FDS];
	int nfds;
	int result;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;

	w->result = cs_wire_send(w->fd, w->msg, w->len, w->fds, w->nfds);
	return NULL;
}

static void pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
}

static void test_socket_2mib(void **state)
{
	size_t len = 2u * 1024 * 1024;
	char *msg = pattern(len), *out = NULL;
	int sv[2], fds[CS_WIRE_MAX_FDS], nfds = -1;
	size_t got = 0;
	pthread_t th;

	(void)state;
	pair(sv);
	/* the socket buffer holds far less than 2 MiB: the writer must block
	 * (retrying EAGAIN) while the reader drains */
	struct writer w = { .fd = sv[0], .msg = msg, .len = len };
	assert_int_equal(pthread_create(&th, NULL, writer_main, &w), 0);
	assert_int_equal(cs_wire_recv(sv[1], 0, &out, &got, fds, &nfds), 0);
	pthread_join(th, NULL);
	assert_int_equal(w.result, 0);
	assert_int_equal(got, len);
	assert_int_equal(nfds, 0);
	assert_memory_equal(out, msg, len);
	assert_int_equal(out[len], '\0');
	free(out);

	/* and an empty message, the smallest */
	assert_int_equal(cs_wire_send(sv[0], "", 0, NULL, 0), 0);
	assert_int_equal(cs_wire_recv(sv[1], 0, &out, &got, fds, &nfds), 0);
	assert_int_equal(got, 0);
	assert_string_equal(out, "");
	free(out);
	close(sv[0]);
	close(sv[1]);
	free(msg);
}

/* Pass the read end of a pipe with a message of @len bytes. */
static void fd_pass(size_t len)
{
	char *msg = pattern(len), *out = NULL, buf[16] = "";
	int sv[2], p[2], fds[CS_WIRE_MAX_FDS], nfds = 0;
	size_t got;
	pthread_t th;

	pair(sv);
	assert_int_equal(pipe(p), 0);
	struct writer w = { .fd = sv[0], .msg = msg, .len = len, .fds = { p[0] }, .nfds = 1 };
	assert_int_equal(pthread_create(&th, NULL, writer_main, &w), 0);
	assert_int_equal(cs_wire_recv(sv[1], 0, &out, &got, fds, &nfds), 0);
	pthread_join(th, NULL);
	assert_int_equal(w.result, 0);
	assert_int_equal(got, len);
	assert_memory_equal(out, msg, len);
	assert_int_equal(nfds, 1);
	assert_true(fds[0] >= 0);
	assert_int_not_equal(fds[0], p[0]);
	/* received fds are close-on-exec: csd hands them to programs, not children */
	assert_true(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
	close(p[0]);
	assert_int_equal(write(p[1], "through", 7), 7);
	close(p[1]);
	assert_int_equal(read(fds[0], buf, sizeof(buf)), 7);
	assert_memory_equal(buf, "through", 7);
	close(fds[0]);
	free(out);
	close(sv[0]);
	close(sv[1]);
	free(msg);
}

static void test_socket_fd_single(void **state)
{
	(void)state;
	fd_pass(2);
}

static void test_socket_fd_multipart(void **state)
{
	(void)state;
	/* the fd rides on the last of three parts */
	fd_pass(2 * PM + 17);
}

static void test_socket_oversized(void **state)
{
	size_t len = 3 * PM;
	char *msg = pattern(len), *out = NULL;
	int sv[2], fds[CS_WIRE_MAX_FDS], nfds = 0;
	size_t got;
	pthread_t th;

	(void)state;
	pair(sv);
	struct writer w = { .fd = sv[0], .msg = msg, .len = len };
	assert_int_equal(pthread_create(&th, NULL, writer_main, &w), 0);
	assert_int_equal(cs_wire_recv(sv[1], PM, &out, &got, fds, &nfds), CS_ETOOBIG);
	assert_null(out);
	/* the writer may still wait for room: closing the reader frees it */
	close(sv[1]);
	pthread_join(th, NULL);
	free(msg);
	close(sv[0]);
}

/*
 * cs_wire_recv() keeps no state between calls, so it must drain the rest of
 * a message it refused; otherwise the next call takes the leftover parts
 * for new messages and libcs pairs replies with the wrong requests.
 */
static void test_socket_after_oversized(void **state)
{
	/* two parts and a small message fit in the socket buffer: no thread */
	size_t len = PM + 1, got = 0;
	char *msg = pattern(len), *out = NULL;
	int sv[2], fds[CS_WIRE_MAX_FDS], nfds = 0;

	(void)state;
	pair(sv);
	assert_int_equal(cs_wire_send(sv[0], msg, len, NULL, 0), 0);
	assert_int_equal(cs_wire_send(sv[0], "{}", 2, NULL, 0), 0);
	assert_int_equal(cs_wire_recv(sv[1], PM, &out, &got, fds, &nfds), CS_ETOOBIG);
	int r = cs_wire_recv(sv[1], PM, &out, &got, fds, &nfds);
	if (r == 0)
		free(out);
	close(sv[0]);
	close(sv[1]);
	free(msg);
	if (r != 0)
		fail_msg("after an oversized message cs_wire_recv returned %d (%s) "
			 "instead of the next message", r, cs_strerror(r));
	assert_int_equal(got, 2);
}

static void test_socket_eof(void **state)
{
	int sv[2], fds[CS_WIRE_MAX_FDS], nfds = 0;
	char *out = NULL;
	size_t got;

	(void)state;
	pair(sv);
	close(sv[0]);
	assert_int_equal(cs_wire_recv(sv[1], 0, &out, &got, fds, &nfds), CS_ECONN);
	assert_null(out);
	close(sv[1]);
	/* sending to a closed peer fails cleanly, no SIGPIPE */
	pair(sv);
	close(sv[1]);
	assert_int_equal(cs_wire_send(sv[0], "{}", 2, NULL, 0), CS_ECONN);
	close(sv[0]);
}

/* ---- error names ---- */

static void test_errnames(void **state)
{
	(void)state;
	assert_int_equal(CS_ERRNO_MAX, 18);
	for (int code = -1; code >= -CS_ERRNO_MAX; code--) {
		const char *name = cs_errname(code);
		if (!name)
			fail_msg("code %d has no name", code);
		assert_true(name[0] == 'E');
		if (cs_errcode(name) != code)
			fail_msg("%s -> %d, expected %d", name, cs_errcode(name), code);
		const char *text = cs_strerror(code);
		assert_non_null(text);
		if (!strcmp(text, "unknown error") || !*text)
			fail_msg("code %d (%s) has no description", code, name);
		/* names and texts are distinct per code */
		for (int other = code - 1; other >= -CS_ERRNO_MAX; other--) {
			assert_string_not_equal(cs_errname(other), name);
			assert_string_not_equal(cs_strerror(other), text);
		}
	}
	assert_string_equal(cs_errname(CS_EINVAL), "EINVAL");
	assert_string_equal(cs_errname(CS_ECOMPACTED), "ECOMPACTED");
	assert_string_equal(cs_errname(CS_OK), "OK");
	assert_string_equal(cs_strerror(CS_OK), "success");
	/* "OK" names no error: an error reply carrying it must not read as
	 * success, so it maps to a protocol error like any unknown name */
	assert_int_equal(cs_errcode("OK"), CS_EPROTO);
	assert_int_equal(cs_errcode("EBOGUS"), CS_EPROTO);
	assert_int_equal(cs_errcode("einval"), CS_EPROTO);
	assert_int_equal(cs_errcode(""), CS_EPROTO);
	assert_int_equal(cs_errcode(NULL), CS_EPROTO);
	assert_null(cs_errname(-CS_ERRNO_MAX - 1));
	assert_null(cs_errname(1));
	assert_string_equal(cs_strerror(-CS_ERRNO_MAX - 1), "unknown error");
	assert_string_equal(cs_strerror(12345), "unknown error");
}

static void test_msg_helpers(void **state)
{
	size_t len = 0;
	json_t *m;
	char *s;

	(void)state;
	m = cs_msg_error(7, CS_ENOENT, "vnet %s: no such vnet", "acme/blue");
	s = cs_msg_dump(m, &len);
	assert_non_null(s);
	assert_int_equal(strlen(s), len);
	json_t *back = json_loads(s, 0, NULL);
	assert_int_equal(json_integer_value(json_object_get(back, "id")), 7);
	assert_true(json_is_false(json_object_get(back, "ok")));
	json_t *e = json_object_get(back, "error");
	assert_string_equal(json_string_value(json_object_get(e, "code")), "ENOENT");
	assert_string_equal(json_string_value(json_object_get(e, "message")),
			    "vnet acme/blue: no such vnet");
	json_decref(back);
	json_decref(m);
	free(s);
	/* an unknown code still yields a valid reply */
	m = cs_msg_error(1, -999, "x");
	assert_string_equal(json_string_value(json_object_get(json_object_get(m, "error"), "code")),
			    "EIO");
	json_decref(m);
	m = cs_msg_ok(3, NULL);
	assert_true(json_is_object(json_object_get(m, "result")));
	json_decref(m);
	m = cs_msg_request(4, "status", NULL);
	assert_string_equal(json_string_value(json_object_get(m, "op")), "status");
	assert_true(json_is_object(json_object_get(m, "args")));
	json_decref(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hdr_layout),
		cmocka_unit_test(test_parts),
		cmocka_unit_test(test_feed_lengths),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_socket_2mib),
		cmocka_unit_test(test_socket_fd_single),
		cmocka_unit_test(test_socket_fd_multipart),
		cmocka_unit_test(test_socket_oversized),
		cmocka_unit_test(test_socket_after_oversized),
		cmocka_unit_test(test_socket_eof),
		cmocka_unit_test(test_errnames),
		cmocka_unit_test(test_msg_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
