/* SPDX-License-Identifier: GPL-2.0-or-later */
/* uvx (vnet/user/uvx.c) over real UDP sockets on 127.0.0.1, no privileges:
 * the bytes on the wire, what is taken and what is dropped (each drop
 * paired with the same datagram taken from where it is allowed), learning,
 * flooding, ageing, atomic peer replacement, batches. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "cs/cs.h"
#include "vnet/ipam.h"
#include "vnet/user/uvx.h"

#define VNI 0x123456u

static const uint8_t mac_a[6] = { 0x02, 0, 0, 0, 0, 0x0a };
static const uint8_t mac_b[6] = { 0x02, 0, 0, 0, 0, 0x0b };
static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* A plain UDP socket on 127.0.0.1, any port. */
static int plain(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static union uvx_sa addr_of(int fd)
{
	union uvx_sa s;
	socklen_t len = sizeof(s);

	memset(&s, 0, sizeof(s));
	assert_int_equal(getsockname(fd, &s.sa, &len), 0);
	return s;
}

/* The peer that sends from @fd's own port (as a uvx node does). */
static struct uvx_peer peer_of(int fd)
{
	struct uvx_peer p = { .to = addr_of(fd) };

	p.from_port = ntohs(p.to.in.sin_port);
	return p;
}

static struct uvx *open_any(void)
{
	struct uvx *u = NULL;

	assert_int_equal(uvx_open("127.0.0.1:0", &u), 0);
	return u;
}

/* An Ethernet frame dst <- src of @len bytes (payload a counting pattern). */
static size_t frame(uint8_t *f, const uint8_t *dst, const uint8_t *src, size_t len)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = 0x08;
	f[13] = 0x00;
	for (size_t i = 14; i < len; i++)
		f[i] = (uint8_t)i;
	return len;
}

/* One datagram on @fd within @ms, its length; -1 when none came. */
static ssize_t recv_plain(int fd, void *buf, size_t cap, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (poll(&p, 1, ms) != 1)
		return -1;
	return recv(fd, buf, cap, MSG_DONTWAIT);
}

/* Frames delivered by @u within @ms (up to @n) into f[]. */
static int recv_uvx(struct uvx *u, struct uvx_frame *f, size_t n, int ms)
{
	struct pollfd p = { .fd = uvx_fd(u), .events = POLLIN };
	int got = 0;

	while ((size_t)got < n && poll(&p, 1, ms) == 1) {
		int r = uvx_recv(u, f + got, n - (size_t)got);

		assert_true(r >= 0);
		got += r;
	}
	return got;
}

/* A datagram from @fd to @u: a header for @vni with @flags, then @f. */
static void send_raw(int fd, struct uvx *u, uint8_t flags, uint32_t vni, const void *f,
		     size_t len)
{
	uint8_t d[2048];
	union uvx_sa to;

	assert_int_equal(uvx_local(u, &to), 0);
	uvx_hdr_put(d, vni);
	d[0] = flags;
	memcpy(d + UVX_HDR, f, len);
	assert_int_equal(sendto(fd, d, UVX_HDR + len, 0, &to.sa, sizeof(to.in)),
			 (ssize_t)(UVX_HDR + len));
}

static void test_header(void **state)
{
	uint8_t h[UVX_HDR], want[UVX_HDR] = { 0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0 };
	uint32_t vni = 0;

	uvx_hdr_put(h, VNI);
	assert_memory_equal(h, want, UVX_HDR);
	assert_int_equal(uvx_hdr_get(h, &vni), 0);
	assert_int_equal(vni, VNI);
	/* reserved bits are ignored on receipt (RFC 7348 section 5) */
	h[0] = 0xff;
	h[1] = h[2] = h[3] = h[7] = 0xff;
	assert_int_equal(uvx_hdr_get(h, &vni), 0);
	assert_int_equal(vni, VNI);
	h[0] = 0xf7;
	assert_int_equal(uvx_hdr_get(h, &vni), CS_EPROTO);
}

static void test_addr(void **state)
{
	const char *const bad[] = { "", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
				    "127.0.0.1:08", "[127.0.0.1]:1", "[::1", "[::1]x", "[::1]:",
				    "x:1", "127.0.0.1:1:2", " 127.0.0.1", "[]:1" };
	union uvx_sa s;
	struct cs_addr a;
	uint16_t port;
	char buf[CS_ADDRSTRLEN];

	assert_int_equal(uvx_addr_parse("127.0.0.1", 0, &s), 0);
	assert_int_equal(s.sa.sa_family, AF_INET);
	assert_int_equal(ntohs(s.in.sin_port), UVX_PORT);
	assert_int_equal(uvx_addr_parse("127.0.0.1:4790", 0, &s), 0);
	assert_int_equal(ntohs(s.in.sin_port), 4790);
	assert_int_equal(uvx_addr_parse("[::1]:65535", 0, &s), 0);
	assert_int_equal(s.sa.sa_family, AF_INET6);
	assert_int_equal(ntohs(s.in6.sin6_port), 65535);
	assert_int_equal(cs_addr_port_parse("::1", 0, &a, &port), 0);
	assert_int_equal(port, 0);
	assert_int_equal(cs_addr_port_parse("[fd00::1]", 7, &a, &port), 0);
	assert_int_equal(port, 7);
	assert_string_equal(cs_addr_port_format(&a, 4790, buf), "[fd00::1]:4790");
	assert_string_equal(cs_addr_port_format(&a, 0, buf), "fd00::1");
	assert_int_equal(cs_addr_port_parse("192.0.2.1:1", 0, &a, &port), 0);
	assert_string_equal(cs_addr_port_format(&a, port, buf), "192.0.2.1:1");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (cs_addr_port_parse(bad[i], 1, &a, &port) != CS_EINVAL)
			fail_msg("\"%s\" was taken", bad[i]);
}

/* What goes on the wire is header + frame, nothing else; what comes back
 * from a peer is the frame with its VNI. */
static void test_encap_decap(void **state)
{
	struct uvx *u = open_any();
	int p = plain();
	struct uvx_peer pe = peer_of(p);
	uint8_t f[100], got[200], rb[200], want[UVX_HDR];
	struct uvx_frame out = { .vni = VNI, .buf = f, .len = frame(f, bcast, mac_a, 60) };
	struct uvx_frame in = { .buf = rb, .cap = sizeof(rb) };
	struct uvx_stats st;

	assert_int_equal(uvx_set_peers(u, VNI, &pe, 1), 0);
	assert_int_equal(uvx_send(u, &out, 1), 1);
	assert_int_equal(recv_plain(p, got, sizeof(got), 2000), UVX_HDR + 60);
	uvx_hdr_put(want, VNI);
	assert_memory_equal(got, want, UVX_HDR);
	assert_memory_equal(got + UVX_HDR, f, 60);
	send_raw(p, u, 0x08, VNI, f, 60);
	assert_int_equal(recv_uvx(u, &in, 1, 2000), 1);
	assert_int_equal(in.vni, VNI);
	assert_int_equal(in.len, 60);
	assert_memory_equal(rb, f, 60);
	uvx_stats_get(u, &st);
	assert_int_equal(st.rx_frames, 1);
	assert_int_equal(st.tx_frames, 1);
	assert_int_equal(st.tx_floods, 1);
	close(p);
	uvx_free(u);
}

/* Each drop beside the same frame taken. */
static void test_drops(void **state)
{
	struct uvx *u = open_any();
	int p = plain(), other = plain();
	struct uvx_peer pe = peer_of(p);
	uint8_t f[1600] = { 0 }, rb[200];
	struct uvx_frame in[4] = { { .buf = rb, .cap = sizeof(rb) } };
	struct uvx_stats st;
	union uvx_sa to;
	size_t len = frame(f, bcast, mac_a, 64);

	assert_int_equal(uvx_set_peers(u, VNI, &pe, 1), 0);
	send_raw(other, u, 0x08, VNI, f, len);		/* not a peer */
	send_raw(p, u, 0x08, VNI + 1, f, len);		/* unknown VNI */
	send_raw(p, u, 0x00, VNI, f, len);		/* I flag clear */
	send_raw(p, u, 0x08, VNI, f, UVX_ETH_MIN - 1);	/* no whole Ethernet header */
	send_raw(p, u, 0x08, VNI, f, sizeof(rb) + 1);	/* longer than the buffer */
	assert_int_equal(uvx_local(u, &to), 0);		/* shorter than a header */
	assert_int_equal(sendto(p, "\x08", 1, 0, &to.sa, sizeof(to.in)), 1);
	send_raw(p, u, 0x08, VNI, f, len);		/* the one taken */
	assert_int_equal(recv_uvx(u, in, 1, 2000), 1);
	assert_int_equal(in[0].len, len);
	assert_int_equal(recv_uvx(u, in, 1, 200), 0);
	uvx_stats_get(u, &st);
	assert_int_equal(st.rx_foreign, 1);
	assert_int_equal(st.rx_unknown_vni, 1);
	assert_int_equal(st.rx_bad_header, 1);
	assert_int_equal(st.rx_truncated, 3);
	assert_int_equal(st.rx_frames, 1);
	close(p);
	close(other);
	uvx_free(u);
}

/* A declared source port is checked; from_port 0 takes any port of the
 * peer's address (a kernel VXLAN device's per-flow source port). */
static void test_source_port(void **state)
{
	struct uvx *u = open_any();
	int p = plain(), other = plain();
	struct uvx_peer pe = peer_of(p);
	uint8_t f[64], rb[128];
	struct uvx_frame in = { .buf = rb, .cap = sizeof(rb) };
	struct uvx_stats st;

	frame(f, bcast, mac_a, sizeof(f));
	assert_int_equal(uvx_set_peers(u, VNI, &pe, 1), 0);
	send_raw(other, u, 0x08, VNI, f, sizeof(f));
	assert_int_equal(recv_uvx(u, &in, 1, 300), 0);
	uvx_stats_get(u, &st);
	assert_int_equal(st.rx_foreign, 1);
	pe.from_port = 0;
	assert_int_equal(uvx_set_peers(u, VNI, &pe, 1), 0);
	send_raw(other, u, 0x08, VNI, f, sizeof(f));
	assert_int_equal(recv_uvx(u, &in, 1, 2000), 1);
	close(p);
	close(other);
	uvx_free(u);
}

/* Unknown unicast floods; once the destination MAC is learned behind one
 * peer, frames to it go there alone; learned MACs age out. */
static void test_learning(void **state)
{
	struct uvx *u = open_any();
	int pa = plain(), pc = plain();
	struct uvx_peer pe[2] = { peer_of(pa), peer_of(pc) };
	uint8_t f[64], g[64], got[200], rb[128];
	struct uvx_frame out = { .vni = VNI, .buf = g, .len = frame(g, mac_a, mac_b, 64) };
	struct uvx_frame in = { .buf = rb, .cap = sizeof(rb) };
	struct uvx_stats st;

	assert_int_equal(uvx_set_peers(u, VNI, pe, 2), 0);
	assert_int_equal(uvx_send(u, &out, 1), 1);
	assert_true(recv_plain(pa, got, sizeof(got), 2000) > 0);
	assert_true(recv_plain(pc, got, sizeof(got), 2000) > 0);
	/* mac_a speaks from behind pa */
	send_raw(pa, u, 0x08, VNI, f, frame(f, bcast, mac_a, 64));
	assert_int_equal(recv_uvx(u, &in, 1, 2000), 1);
	assert_int_equal(uvx_send(u, &out, 1), 1);
	assert_true(recv_plain(pa, got, sizeof(got), 2000) > 0);
	assert_int_equal(recv_plain(pc, got, sizeof(got), 200), -1);
	uvx_stats_get(u, &st);
	assert_int_equal(st.learned, 1);
	assert_int_equal(st.tx_floods, 1);
	/* broadcast still floods */
	out.buf = f;
	assert_int_equal(uvx_send(u, &out, 1), 1);
	assert_true(recv_plain(pa, got, sizeof(got), 2000) > 0);
	assert_true(recv_plain(pc, got, sizeof(got), 2000) > 0);
	/* ageing: after it, unicast to mac_a floods again */
	out.buf = g;
	uvx_set_ageing(u, 1);
	sleep(2);
	assert_int_equal(uvx_send(u, &out, 1), 1);
	assert_true(recv_plain(pa, got, sizeof(got), 2000) > 0);
	assert_true(recv_plain(pc, got, sizeof(got), 2000) > 0);
	close(pa);
	close(pc);
	uvx_free(u);
}

/* A refused replacement leaves the old set; a replacement forgets MACs
 * behind removed peers and keeps the others; n = 0 forgets the VNI. */
static void test_set_peers(void **state)
{
	struct uvx *u = open_any();
	int pa = plain(), pc = plain();
	struct uvx_peer pe[2] = { peer_of(pa), peer_of(pc) }, v6 = { 0 };
	uint8_t f[64], g[64], got[200], rb[128];
	struct uvx_frame out = { .vni = VNI, .buf = g, .len = frame(g, mac_a, mac_b, 64) };
	struct uvx_frame in = { .buf = rb, .cap = sizeof(rb) };
	struct uvx_stats st;

	assert_int_equal(uvx_addr_parse("[::1]:4790", 0, &v6.to), 0);
	assert_int_equal(uvx_set_peers(u, 0, pe, 1), CS_EINVAL);
	assert_int_equal(uvx_set_peers(u, 1u << 24, pe, 1), CS_EINVAL);
	assert_int_equal(uvx_set_peers(u, VNI, pe, 2), 0);
	send_raw(pa, u, 0x08, VNI, f, frame(f, bcast, mac_a, 64));
	assert_int_equal(recv_uvx(u, &in, 1, 2000), 1);
	/* an IPv6 peer on an IPv4 socket: refused, the old set stays */
	pe[1] = v6;
	assert_int_equal(uvx_set_peers(u, VNI, pe, 2), CS_EINVAL);
	assert_int_equal(uvx_send(u, &out, 1), 1);
	assert_true(recv_plain(pa, got, sizeof(got), 2000) > 0);
	assert_int_equal(recv_plain(pc, got, sizeof(got), 200), -1);
	/* the same set in another order keeps what was learned */
	pe[0] = peer_of(pc);
	pe[1] = peer_of(pa);
	assert_int_equal(uvx_set_peers(u, VNI, pe, 2), 0);
	assert_int_equal(uvx_send(u, &out, 1), 1);
	assert_true(recv_plain(pa, got, sizeof(got), 2000) > 0);
	assert_int_equal(recv_plain(pc, got, sizeof(got), 200), -1);
	/* pa removed: mac_a is forgotten, frames flood to pc */
	assert_int_equal(uvx_set_peers(u, VNI, pe, 1), 0);
	assert_int_equal(uvx_send(u, &out, 1), 1);
	assert_true(recv_plain(pc, got, sizeof(got), 2000) > 0);
	assert_int_equal(recv_plain(pa, got, sizeof(got), 200), -1);
	/* a frame from pa is now foreign; the VNI forgotten: unknown */
	send_raw(pa, u, 0x08, VNI, f, 64);
	assert_int_equal(recv_uvx(u, &in, 1, 300), 0);
	assert_int_equal(uvx_set_peers(u, VNI, NULL, 0), 0);
	send_raw(pc, u, 0x08, VNI, f, 64);
	assert_int_equal(recv_uvx(u, &in, 1, 300), 0);
	assert_int_equal(uvx_send(u, &out, 1), 1);
	uvx_stats_get(u, &st);
	assert_int_equal(st.rx_foreign, 1);
	assert_int_equal(st.rx_unknown_vni, 1);
	assert_int_equal(st.tx_no_peer, 1);
	out.len = UVX_ETH_MIN - 1;
	assert_int_equal(uvx_send(u, &out, 1), CS_EINVAL);
	close(pa);
	close(pc);
	uvx_free(u);
}

/* More frames than one batch, through two handles, in order; a second
 * handle on the same fd (UVX_SHARED) sends and leaves the fd open. */
static void test_batch_shared(void **state)
{
	enum { N = 3 * UVX_BATCH + 5 };
	struct uvx *a = open_any(), *b = open_any(), *s = NULL;
	struct uvx_peer pa = { .to = addr_of(uvx_fd(a)) }, pb = { .to = addr_of(uvx_fd(b)) };
	static uint8_t fb[N][100], rb[N][128];
	struct uvx_frame out[N], in[N];
	int got = 0;

	pa.from_port = ntohs(pa.to.in.sin_port);
	pb.from_port = ntohs(pb.to.in.sin_port);
	assert_int_equal(uvx_set_peers(a, VNI, &pb, 1), 0);
	assert_int_equal(uvx_set_peers(b, VNI, &pa, 1), 0);
	for (int i = 0; i < N; i++) {
		out[i] = (struct uvx_frame){ .vni = VNI, .buf = fb[i],
					     .len = frame(fb[i], mac_b, mac_a, 100) };
		fb[i][20] = (uint8_t)i;
		in[i] = (struct uvx_frame){ .buf = rb[i], .cap = sizeof(rb[i]) };
	}
	assert_int_equal(uvx_send(a, out, N), N);
	got = recv_uvx(b, in, N, 2000);
	assert_int_equal(got, N);
	for (int i = 0; i < N; i++)
		assert_int_equal(((uint8_t *)in[i].buf)[20], (uint8_t)i);
	assert_int_equal(uvx_adopt(uvx_fd(a), UVX_SHARED, &s), 0);
	assert_int_equal(uvx_set_peers(s, VNI, &pb, 1), 0);
	assert_int_equal(uvx_send(s, out, 1), 1);
	uvx_free(s);
	assert_true(fcntl(uvx_fd(a), F_GETFD) >= 0);
	assert_int_equal(recv_uvx(b, in, 1, 2000), 1);
	assert_int_equal(uvx_adopt(-1, 0, &s), CS_EINVAL);
	uvx_free(a);
	uvx_free(b);
}

/* An IPv6 socket bound to [::] takes an IPv4 peer as v4-mapped, both ways. */
static void test_dual_stack(void **state)
{
	struct uvx *u = NULL;
	int p = plain();
	struct uvx_peer pe = peer_of(p);
	uint8_t f[64], got[200], rb[128];
	struct uvx_frame out = { .vni = VNI, .buf = f, .len = frame(f, bcast, mac_a, 64) };
	struct uvx_frame in = { .buf = rb, .cap = sizeof(rb) };
	union uvx_sa to;

	if (uvx_open("[::]:0", &u) < 0)
		skip();	/* no IPv6 here */
	assert_int_equal(uvx_set_peers(u, VNI, &pe, 1), 0);
	assert_int_equal(uvx_send(u, &out, 1), 1);
	assert_int_equal(recv_plain(p, got, sizeof(got), 2000), UVX_HDR + 64);
	assert_int_equal(uvx_local(u, &to), 0);
	assert_int_equal(to.sa.sa_family, AF_INET6);
	uvx_hdr_put(got, VNI);
	memcpy(got + UVX_HDR, f, 64);
	to.in.sin_family = AF_INET;	/* same port, at 127.0.0.1 */
	to.in.sin_port = to.in6.sin6_port;
	to.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(sendto(p, got, UVX_HDR + 64, 0, &to.sa, sizeof(to.in)), UVX_HDR + 64);
	assert_int_equal(recv_uvx(u, &in, 1, 2000), 1);
	close(p);
	uvx_free(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_encap_decap),
		cmocka_unit_test(test_drops),
		cmocka_unit_test(test_source_port),
		cmocka_unit_test(test_learning),
		cmocka_unit_test(test_set_peers),
		cmocka_unit_test(test_batch_shared),
		cmocka_unit_test(test_dual_stack),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
