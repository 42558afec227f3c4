/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The kernel backend across nodes: three "hosts" (namespaces with
 * 192.0.2.1-3 on an underlay bridge, a fourth with the foreign 192.0.2.99),
 * one backend per host opened inside it, one vnet spanning them. Checks
 * reachability between hosts, the MTU, isolation of a second tenant with
 * the same subnet, the VNI-once-per-underlay refusal, the underlay filter
 * against a forged VXLAN packet (paired with the same packet from a real
 * node), flood entries following the node list, a vnet going from one
 * node to several and back, and prints throughput and RTT against bare
 * VXLAN between the same host namespaces. Needs root; exits 77 otherwise.
 * Every namespace carries the prefix "m<hex pid>" and is removed at exit.
 * The test runs `ip` and `bridge` to build its world and to look; the
 * backend never does.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cs/cs.h"
#include "vnet/netns.h"
#include "vnet/vnet.h"

#define NHOST 3
#define VNI_ACME 4242
#define VNI_UMB 4343
#define VNI_BARE 999

static char base[8];		/* "m<hex>": every namespace of the test */
static char hostns[NHOST + 1][32], brns[32];
static char prefix[NHOST][VNET_PREFIX_MAX + 1];
static const char *ul[NHOST + 1] = { "192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.99" };
static int hostfd[NHOST + 1] = { -1, -1, -1, -1 };
static int homefd = -1;
static const struct vnet_ops *ops;
static struct vnet_backend *be[NHOST];
static int checks;

#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
		fprintf(stderr, __VA_ARGS__); \
		fprintf(stderr, "\n"); \
		exit(1); \
	} \
	checks++; \
} while (0)

/* a backend call on host @h that must succeed */
#define OK(h, call) do { \
	int r_ = (call); \
	CHECK(r_ >= 0, "host %d: %s -> %d: %s", (h), #call, r_, vnet_backend_error(be[h])); \
} while (0)

#include "knet.h"

static void cleanup(void)
{
	char err[256], **names = NULL;
	size_t n = 0, i;
	int h;

	for (h = 0; h < NHOST; h++) {
		if (be[h])
			ops->close(be[h]);
		be[h] = NULL;
	}
	for (h = 0; h <= NHOST; h++) {
		if (hostfd[h] >= 0)
			close(hostfd[h]);
		hostfd[h] = -1;
	}
	if (!*base || netns_list(base, &names, &n) < 0)
		return;
	for (i = 0; i < n; i++) {
		netns_delete(names[i], err, sizeof(err));
		free(names[i]);
	}
	free(names);
}

static void on_signal(int sig)
{
	fprintf(stderr, "FAIL: signal %d\n", sig);
	exit(1);
}

static void on_crash(int sig)
{
	cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	r = system(cmd);
	CHECK(r == 0, "`%s` exited with %d", cmd, r);
}

/* What a command prints (malloc'd). */
static char *sh_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *sh_out(const char *fmt, ...)
{
	char cmd[1024], *buf;
	size_t len = 0, cap = 65536;
	va_list ap;
	FILE *p;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	CHECK(p, "popen %s: %m", cmd);
	buf = malloc(cap);
	CHECK(buf, "out of memory");
	while ((n = fread(buf + len, 1, cap - 1 - len, p)) > 0)
		len += n;
	buf[len] = '\0';
	pclose(p);
	return buf;
}

/* --- specs --- */

static struct cs_addr peer_addrs[NHOST][NHOST];

/* The vnet as host @h sees it: the other hosts in @mask are its peers. */
static struct vnet_spec vnet(const char *tenant, uint32_t id, int h, unsigned int mask)
{
	struct vnet_spec v = { .tenant = tenant, .name = "red", .id = id, .has4 = true };
	int i;

	v.subnet4.addr = addr("10.42.0.0");
	v.subnet4.plen = 24;
	v.peers = peer_addrs[h];
	for (i = 0; i < NHOST; i++)
		if (i != h && (mask & (1u << i)))
			peer_addrs[h][v.npeers++] = addr(ul[i]);
	return v;
}

static struct endpoint_spec ep(const char *name, const char *a4)
{
	struct endpoint_spec e = { .name = name, .has4 = true };

	e.addr4 = addr(a4);
	return e;
}

/* --- sockets --- */

static int sock_in(int h, const char *t, const char *e, int type, int proto)
{
	int fd = ops->endpoint_socket(be[h], t, "red", e, AF_INET, type | SOCK_CLOEXEC, proto);

	CHECK(fd >= 0, "endpoint_socket host %d %s/red/%s: %d %s", h, t, e, fd,
	      vnet_backend_error(be[h]));
	return fd;
}

static int sock_host(int h, int type)
{
	int fd = netns_socket(hostfd[h], AF_INET, type | SOCK_CLOEXEC, 0);

	CHECK(fd >= 0, "socket in host %d: %d", h, fd);
	return fd;
}

static struct sockaddr_in sa(const char *ip, int port)
{
	struct sockaddr_in s = { .sin_family = AF_INET, .sin_port = htons(port) };

	inet_pton(AF_INET, ip, &s.sin_addr);
	return s;
}

static void bind_to(int fd, const char *ip, int port)
{
	struct sockaddr_in s = sa(ip, port);
	int one = 1;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	CHECK(bind(fd, (struct sockaddr *)&s, sizeof(s)) == 0, "bind %s:%d: %m", ip, port);
}

/* 0, or -errno (ETIMEDOUT after @ms) */
static int tcp_listener(int h, const char *t, const char *e, const char *ip, int port)
{
	int fd = sock_in(h, t, e, SOCK_STREAM, 0);

	bind_to(fd, ip, port);
	CHECK(listen(fd, 16) == 0, "listen: %m");
	return fd;
}

static int tcp_client(int h, const char *t, const char *e, const char *ip, int port)
{
	int fd = sock_in(h, t, e, SOCK_STREAM, 0);
	int r = connect_to(fd, ip, port, 3000);

	CHECK(r == 0, "host %d %s/red/%s -> %s:%d: %s", h, t, e, ip, port, strerror(-r));
	return fd;
}

/* A TCP connection between two endpoints carries a message both ways. */
static void tcp_pair(int ha, const char *ea, int hb, const char *eb, const char *ipb, int port)
{
	int l = tcp_listener(hb, "acme", eb, ipb, port);
	int c = tcp_client(ha, "acme", ea, ipb, port);
	int s = accept_one(l);

	transfer(c, s, "ping over tcp");
	transfer(s, c, "pong over tcp");
	close(c);
	close(s);
	close(l);
}

/* @total bytes from @a to @b; a 3 s pause anywhere is a stall. */
/* --- measurement --- */

struct sender {
	int fd;
	double ms;
};

static void *send_for(void *arg)
{
	static char chunk[131072];
	struct sender *s = arg;
	double t0 = now_ms();

	while (now_ms() - t0 < s->ms)
		if (send(s->fd, chunk, sizeof(chunk), MSG_NOSIGNAL) <= 0)
			break;
	shutdown(s->fd, SHUT_WR);
	return NULL;
}

/* Gbit/s from @c to @s for 2 s (a thread sends, this one receives). */
static double throughput(int c, int s)
{
	static char sink[262144];
	struct sender snd = { .fd = c, .ms = 2000 };
	pthread_t th;
	double t0 = now_ms(), bytes = 0;
	ssize_t n;

	CHECK(pthread_create(&th, NULL, send_for, &snd) == 0, "pthread_create");
	while ((n = recv(s, sink, sizeof(sink), 0)) > 0)
		bytes += n;
	pthread_join(th, NULL);
	return bytes * 8 / ((now_ms() - t0) / 1e3) / 1e9;
}

/* Median µs of a 64-byte UDP round trip between two connected sockets. */
static double rtt_us(int c, int s)
{
	static double t[2000];
	struct timeval tv = { .tv_sec = 1 };
	char buf[64] = { 0 };
	struct sockaddr_storage from;
	socklen_t fl;
	double t0;
	int i;

	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (i = -200; i < 2000; i++) {
		t0 = now_ms();
		CHECK(send(c, buf, sizeof(buf), 0) == sizeof(buf), "rtt send: %m");
		fl = sizeof(from);
		CHECK(recvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl) ==
		      sizeof(buf), "rtt: request lost: %m");
		CHECK(sendto(s, buf, sizeof(buf), 0, (struct sockaddr *)&from, fl) == sizeof(buf),
		      "rtt reply: %m");
		CHECK(recv(c, buf, sizeof(buf), 0) == sizeof(buf), "rtt: reply lost: %m");
		if (i >= 0)
			t[i] = (now_ms() - t0) * 1e3;
	}
	qsort(t, 2000, sizeof(t[0]), cmp_double);
	return (t[999] + t[1000]) / 2;
}

struct figures {
	double gbit, rtt;
};

/* TCP and RTT from 10.42.0.2 (e1, host a) to 10.42.0.3 (e2, host b). */
static struct figures measure_cs(void)
{
	struct figures f;
	int l = tcp_listener(1, "acme", "e2", "10.42.0.3", 5100);
	int c = tcp_client(0, "acme", "e1", "10.42.0.3", 5100);
	int s = accept_one(l), u1, u2;

	f.gbit = throughput(c, s);
	close(c);
	close(s);
	close(l);
	u2 = sock_in(1, "acme", "e2", SOCK_DGRAM, 0);
	bind_to(u2, "10.42.0.3", 5101);
	u1 = sock_in(0, "acme", "e1", SOCK_DGRAM, 0);
	CHECK(connect_to(u1, "10.42.0.3", 5101, 1000) == 0, "udp connect");
	f.rtt = rtt_us(u1, u2);
	close(u1);
	close(u2);
	return f;
}

/* The same between the bare VXLAN devices of hosts a and b. */
static struct figures measure_bare(void)
{
	struct figures f;
	int l = sock_host(1, SOCK_STREAM), c = sock_host(0, SOCK_STREAM), s, u1, u2;

	bind_to(l, "10.99.0.2", 5100);
	CHECK(listen(l, 4) == 0, "listen: %m");
	CHECK(connect_to(c, "10.99.0.2", 5100, 3000) == 0, "bare vxlan connect");
	s = accept_one(l);
	f.gbit = throughput(c, s);
	close(c);
	close(s);
	close(l);
	u2 = sock_host(1, SOCK_DGRAM);
	bind_to(u2, "10.99.0.2", 5101);
	u1 = sock_host(0, SOCK_DGRAM);
	CHECK(connect_to(u1, "10.99.0.2", 5101, 1000) == 0, "udp connect");
	f.rtt = rtt_us(u1, u2);
	close(u1);
	close(u2);
	return f;
}

/* --- ICMP through a raw socket (ping sockets are off in new namespaces) --- */

/* Does @ip answer an echo request sent from endpoint @e on host @h? */
static bool pings(int h, const char *t, const char *e, const char *ip)
{
	struct icmphdr req = { .type = ICMP_ECHO }, *rep;
	struct sockaddr_in to = sa(ip, 0);
	uint8_t buf[1500];
	uint16_t id = (uint16_t)getpid();
	double t0 = now_ms();
	ssize_t n;
	int fd = sock_in(h, t, e, SOCK_RAW, IPPROTO_ICMP);
	bool ok = false;

	req.un.echo.id = htons(id);
	req.un.echo.sequence = htons(1);
	req.checksum = csum(&req, sizeof(req));
	CHECK(sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&to, sizeof(to)) > 0,
	      "icmp send: %m");
	while (!ok && now_ms() - t0 < 1500) {
		if (!wait_readable(fd, 100))
			continue;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 20 || n < (buf[0] & 15) * 4 + 8)
			continue;
		rep = (struct icmphdr *)(buf + (buf[0] & 15) * 4);
		ok = rep->type == ICMP_ECHOREPLY && ntohs(rep->un.echo.id) == id &&
		     !memcmp(buf + 12, &to.sin_addr, 4);
	}
	close(fd);
	return ok;
}

/* --- a forged VXLAN packet --- */

/*
 * VXLAN (VNI @vni) around Ethernet (broadcast) / IPv4 10.42.0.50 ->
 * 10.42.0.2 / UDP -> @port carrying @msg, sent from host @h's underlay to
 * 192.0.2.1:4789 with an ordinary UDP socket.
 */
static void inject(int h, uint32_t vni, int port, const char *msg)
{
	uint8_t p[256] = { 0 }, *eth = p + 8, *ip = eth + 14, *udp = ip + 20;
	size_t mlen = strlen(msg), ilen = 20 + 8 + mlen;
	struct sockaddr_in to = sa(ul[0], 4789);
	int fd = sock_host(h, SOCK_DGRAM);

	p[0] = 0x08;			/* I flag: the VNI is valid */
	p[4] = vni >> 16;
	p[5] = vni >> 8;
	p[6] = vni;
	memset(eth, 0xff, 6);
	memcpy(eth + 6, "\x02\x00\x00\x00\x00\x99", 6);
	eth[12] = 0x08;
	ip[0] = 0x45;
	ip[2] = ilen >> 8;
	ip[3] = ilen;
	ip[6] = 0x40;
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	inet_pton(AF_INET, "10.42.0.50", ip + 12);
	inet_pton(AF_INET, "10.42.0.2", ip + 16);
	memcpy(ip + 10, (uint16_t[]){ csum(ip, 20) }, 2);
	udp[0] = 40000 >> 8;
	udp[1] = 40000 & 0xff;
	udp[2] = port >> 8;
	udp[3] = port;
	udp[4] = (8 + mlen) >> 8;
	udp[5] = 8 + mlen;
	memcpy(udp + 8, msg, mlen);
	bind_to(fd, ul[h], 0);
	CHECK(sendto(fd, p, 8 + 14 + ilen, 0, (struct sockaddr *)&to, sizeof(to)) > 0,
	      "inject from %s: %m", ul[h]);
	close(fd);
}

/* Did @msg arrive on @fd within @ms? Drains whatever else came. */
static bool arrived(int fd, const char *msg, int ms)
{
	char buf[256];
	double t0 = now_ms();
	ssize_t n;

	while (now_ms() - t0 < ms) {
		if (!wait_readable(fd, 50))
			continue;
		n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		if (!strcmp(buf, msg))
			return true;
	}
	return false;
}

/* --- looking at the kernel --- */

static char *vnet_ns(char *buf, int h, const char *t)
{
	sprintf(buf, "%s.%s.red", prefix[h], t);
	return buf;
}

/* The flood entries of vx0 in host @h's vnet of @t, as "a,b," in order. */
static void flood_of(int h, const char *t, char *out, size_t len)
{
	char ns[64], *txt, *line, *save = NULL;

	*out = '\0';
	txt = sh_out("bridge -n %s fdb show dev vx0", vnet_ns(ns, h, t));
	for (line = strtok_r(txt, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char dst[64];

		if (sscanf(line, "00:00:00:00:00:00 dst %63s", dst) == 1) {
			strncat(out, dst, len - strlen(out) - 1);
			strncat(out, ",", len - strlen(out) - 1);
		}
	}
	free(txt);
}

static bool flood_is(int h, const char *t, const char *a, const char *b)
{
	char got[256], x[64], y[64];

	flood_of(h, t, got, sizeof(got));
	snprintf(x, sizeof(x), "%s,%s%s", a, b ? b : "", b ? "," : "");
	if (!b)
		return !strcmp(got, x);
	snprintf(y, sizeof(y), "%s,%s,", b, a);
	return !strcmp(got, x) || !strcmp(got, y);
}

/* Has vx0 of host @h's vnet of @t learned an address behind @dst? */
static bool learned_to(int h, const char *t, const char *dst)
{
	char ns[64], *txt, *line, *save = NULL, d[64];
	bool r = false;

	txt = sh_out("bridge -n %s fdb show dev vx0", vnet_ns(ns, h, t));
	for (line = strtok_r(txt, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, "00:00:00:00:00:00 ", 18) && sscanf(line, "%*s dst %63s", d) == 1 &&
		    !strcmp(d, dst))
			r = true;
	free(txt);
	return r;
}

static char *link_of(int h, const char *ns_suffix, const char *dev)
{
	return sh_out("ip -n %s.%s -d link show %s 2>/dev/null", prefix[h], ns_suffix, dev);
}

static bool link_has(int h, const char *ns_suffix, const char *dev, const char *what)
{
	char *t = link_of(h, ns_suffix, dev);
	bool r = strstr(t, what) != NULL;

	free(t);
	return r;
}

static int ifindex_of(int h, const char *ns_suffix, const char *dev)
{
	char *t = link_of(h, ns_suffix, dev);
	int i = atoi(t);

	free(t);
	return i;
}

/* --- the world --- */

static void build_world(void)
{
	char err[256];
	int h;

	snprintf(brns, sizeof(brns), "%s-br", base);
	sh("ip netns add %s && ip -n %s link add br0 type bridge && ip -n %s link set br0 up",
	   brns, brns, brns);
	for (h = 0; h <= NHOST; h++) {
		snprintf(hostns[h], sizeof(hostns[h]), "%s-h%c", base, 'a' + h);
		sh("ip netns add %s", hostns[h]);
		sh("ip link add ul0 netns %s type veth peer name p%c netns %s", hostns[h], 'a' + h,
		   brns);
		sh("ip -n %s link set p%c master br0 up", brns, 'a' + h);
		sh("ip -n %s addr add %s/24 dev ul0 && ip -n %s link set ul0 up && "
		   "ip -n %s link set lo up", hostns[h], ul[h], hostns[h], hostns[h]);
		hostfd[h] = netns_open(hostns[h], err, sizeof(err));
		CHECK(hostfd[h] >= 0, "%s", err);
	}
}

/* Each backend is opened inside its host: that namespace is its underlay. */
static void open_backends(void)
{
	int h, r;

	for (h = 0; h < NHOST; h++) {
		struct vnet_backend_config cfg = { .prefix = prefix[h], .underlay = ul[h],
						   .run_dir = "/tmp" };

		CHECK(setns(hostfd[h], CLONE_NEWNET) == 0, "setns host %d: %m", h);
		r = ops->open(&cfg, &be[h]);
		CHECK(setns(homefd, CLONE_NEWNET) == 0, "setns home: %m");
		CHECK(r == 0, "open host %d: %d %s", h, r, be[h] ? vnet_backend_error(be[h]) : "");
	}
}

/* acme/red on every host, each with all the others as peers */
static void acme_everywhere(void)
{
	struct vnet_spec v;
	int h;

	for (h = 0; h < NHOST; h++) {
		v = vnet("acme", VNI_ACME, h, 7);
		OK(h, ops->vnet_ensure(be[h], &v));
	}
}

static void filters(bool on)
{
	struct vnet_underlay_rule rules[2];
	struct cs_addr p[NHOST][NHOST - 1];
	int h, i, k;

	for (h = 0; h < NHOST; h++) {
		for (i = 0, k = 0; i < NHOST; i++)
			if (i != h)
				p[h][k++] = addr(ul[i]);
		rules[0] = (struct vnet_underlay_rule){ .vni = VNI_ACME, .peers = p[h],
							.npeers = NHOST - 1 };
		/* umbrella spans hosts a and b only */
		rules[1] = (struct vnet_underlay_rule){ .vni = VNI_UMB, .peers = p[h],
							.npeers = h == 2 ? 0 : 1 };
		OK(h, ops->underlay_filter(be[h], rules, on ? 2 : 0));
	}
}

int main(void)
{
	struct endpoint_spec e1 = ep("e1", "10.42.0.2"), e2 = ep("e2", "10.42.0.3");
	struct endpoint_spec e3 = ep("e3", "10.42.0.4"), e4 = ep("e4", "10.42.0.5");
	struct endpoint_spec u1 = ep("u1", "10.42.0.2"), u2 = ep("u2", "10.42.0.3");
	struct figures cs, bare, csf;
	struct vnet_spec v;
	int c, s, l, r, h, idx, x, y;

	if (geteuid() != 0) {
		fprintf(stderr, "test_multinode_kernel: needs root (network namespaces); skipped\n");
		return 77;
	}
	if (system("ip -V >/dev/null 2>&1 && bridge -V >/dev/null 2>&1") != 0) {
		fprintf(stderr, "test_multinode_kernel: needs ip and bridge (iproute2); skipped\n");
		return 77;
	}
	snprintf(base, sizeof(base), "m%06x", (unsigned int)getpid() & 0xffffff);
	for (h = 0; h < NHOST; h++)
		snprintf(prefix[h], sizeof(prefix[h]), "%s%c", base, 'a' + h);
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGALRM, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGSEGV, on_crash);
	signal(SIGBUS, on_crash);
	signal(SIGABRT, on_crash);
	signal(SIGPIPE, SIG_IGN);
	alarm(170);

	homefd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	CHECK(homefd >= 0, "own namespace: %m");
	ops = vnet_ops_find("kernel");
	CHECK(ops, "no kernel backend");
	build_world();
	open_backends();

	/* --- host a: acme/red on one node first --- */
	v = vnet("acme", VNI_ACME, 0, 0);
	OK(0, ops->vnet_ensure(be[0], &v));
	OK(0, ops->endpoint_ensure(be[0], &v, &e1));
	OK(0, ops->endpoint_ensure(be[0], &v, &e4));
	CHECK(!link_has(0, "acme.red", "vx0", "link-netns") &&
	      link_has(0, "acme.red", "vx0", "mtu 1500"), "a local vx0 as made before");
	tcp_pair(0, "e1", 0, "e4", "10.42.0.5", 5000);
	/* it hears nothing from the underlay: the forged packet is lost even
	 * without a filter (the positive pair is below, once it spans nodes) */
	x = sock_in(0, "acme", "e1", SOCK_DGRAM, 0);
	bind_to(x, "0.0.0.0", 7777);
	inject(1, VNI_ACME, 7777, "to a local-only vnet");
	CHECK(!arrived(x, "to a local-only vnet", 500), "a one-node vnet took VXLAN from the underlay");
	close(x);
	printf("ok: a one-node vnet is local\n");

	/* --- across the three hosts --- */
	idx = ifindex_of(0, "acme.red", "vx0");
	acme_everywhere();
	CHECK(link_has(0, "acme.red", "vx0", "link-netns") &&
	      link_has(0, "acme.red", "vx0", "local 192.0.2.1") &&
	      link_has(0, "acme.red", "vx0", "id 4242") &&
	      link_has(0, "acme.red", "vx0", "dstport 4789"), "vx0 of host a not in the underlay");
	CHECK(ifindex_of(0, "acme.red", "vx0") != idx, "vx0 was not replaced");
	/* e1 and e4 were put on the new vx0 by vnet_ensure alone */
	tcp_pair(0, "e1", 0, "e4", "10.42.0.5", 5000);
	v = vnet("acme", VNI_ACME, 1, 7);
	OK(1, ops->endpoint_ensure(be[1], &v, &e2));
	v = vnet("acme", VNI_ACME, 2, 7);
	OK(2, ops->endpoint_ensure(be[2], &v, &e3));
	tcp_pair(0, "e1", 1, "e2", "10.42.0.3", 5001);
	printf("ok: one node to three: vx0 replaced, endpoints moved over, TCP a -> b\n");
	/* adopted as it is: no new vx0, no new eth0 */
	idx = ifindex_of(0, "acme.red", "vx0");
	y = ifindex_of(0, "acme.red.e1", "eth0");
	acme_everywhere();
	v = vnet("acme", VNI_ACME, 0, 7);
	OK(0, ops->endpoint_ensure(be[0], &v, &e1));
	CHECK(ifindex_of(0, "acme.red", "vx0") == idx && ifindex_of(0, "acme.red.e1", "eth0") == y,
	      "ensure of a vnet across nodes recreated something");

	for (h = 0; h < NHOST; h++) {
		CHECK(link_has(h, "acme.red", "vx0", "mtu 1450"), "vx0 MTU on host %d", h);
		CHECK(flood_is(h, "acme", ul[(h + 1) % 3], ul[(h + 2) % 3]),
		      "flood entries on host %d", h);
	}
	CHECK(link_has(0, "acme.red.e1", "eth0", "mtu 1450") &&
	      link_has(2, "acme.red.e3", "eth0", "mtu 1450"), "endpoint MTU");
	tcp_pair(1, "e2", 2, "e3", "10.42.0.4", 5002);
	tcp_pair(2, "e3", 0, "e1", "10.42.0.2", 5003);
	{
		int ua = sock_in(0, "acme", "e1", SOCK_DGRAM, 0), uc;

		bind_to(ua, "10.42.0.2", 5004);
		uc = sock_in(2, "acme", "e3", SOCK_DGRAM, 0);
		CHECK(connect_to(uc, "10.42.0.2", 5004, 1000) == 0, "udp connect");
		transfer(uc, ua, "udp from c to a");
		close(ua);
		close(uc);
	}
	CHECK(pings(0, "acme", "e1", "10.42.0.4"), "no echo reply from e3 (host c)");
	CHECK(pings(2, "acme", "e3", "10.42.0.3"), "no echo reply from e2 (host b)");
	CHECK(!pings(0, "acme", "e1", "10.42.0.77"), "an echo reply from nobody");
	printf("ok: TCP, UDP and ICMP between all three hosts; MTU 1450; one flood entry per peer\n");

	/* 50 MB: full-sized segments must fit the encapsulation */
	l = tcp_listener(2, "acme", "e3", "10.42.0.4", 5005);
	c = tcp_client(0, "acme", "e1", "10.42.0.4", 5005);
	s = accept_one(l);
	{
		double t0 = now_ms();

		pump(c, s, 50u << 20);
		printf("ok: 50 MB a -> c in %.0f ms, no stall\n", now_ms() - t0);
	}
	close(c);
	close(s);
	close(l);

	/* --- a second tenant, same subnet and addresses, hosts a and b --- */
	v = vnet("umbrella", VNI_UMB, 0, 3);
	OK(0, ops->vnet_ensure(be[0], &v));
	OK(0, ops->endpoint_ensure(be[0], &v, &u1));
	v = vnet("umbrella", VNI_UMB, 1, 3);
	OK(1, ops->vnet_ensure(be[1], &v));
	OK(1, ops->endpoint_ensure(be[1], &v, &u2));
	{
		int al = tcp_listener(1, "acme", "e2", "10.42.0.3", 6000);
		int ul2 = sock_in(1, "umbrella", "u2", SOCK_STREAM, 0), uc, us, ad, ud, as;

		bind_to(ul2, "10.42.0.3", 6001);
		CHECK(listen(ul2, 4) == 0, "listen");
		/* positive: umbrella a -> its own .3 on b */
		uc = sock_in(0, "umbrella", "u1", SOCK_STREAM, 0);
		CHECK(connect_to(uc, "10.42.0.3", 6001, 3000) == 0, "umbrella a -> b");
		us = accept_one(ul2);
		transfer(uc, us, "umbrella across nodes");
		close(uc);
		close(us);
		/* negative: acme's listener at .3:6000 is not umbrella's */
		uc = sock_in(0, "umbrella", "u1", SOCK_STREAM, 0);
		r = connect_to(uc, "10.42.0.3", 6000, 1500);
		CHECK(r == -ECONNREFUSED || r == -ETIMEDOUT, "umbrella reached acme's .3:6000: %d",
		      r);
		CHECK(!wait_readable(al, 200), "acme's listener saw umbrella's connection");
		close(uc);
		/* negative: .4 exists only in acme (host c) */
		uc = sock_in(0, "umbrella", "u1", SOCK_STREAM, 0);
		r = connect_to(uc, "10.42.0.4", 6000, 1500);
		CHECK(r == -ETIMEDOUT || r == -EHOSTUNREACH, "umbrella reached acme's .4: %d", r);
		close(uc);
		/* paired datagrams to the same address and port in both tenants */
		ad = sock_in(1, "acme", "e2", SOCK_DGRAM, 0);
		bind_to(ad, "10.42.0.3", 6002);
		ud = sock_in(1, "umbrella", "u2", SOCK_DGRAM, 0);
		bind_to(ud, "10.42.0.3", 6002);
		as = sock_in(0, "acme", "e1", SOCK_DGRAM, 0);
		uc = sock_in(0, "umbrella", "u1", SOCK_DGRAM, 0);
		CHECK(connect_to(as, "10.42.0.3", 6002, 1000) == 0 &&
		      connect_to(uc, "10.42.0.3", 6002, 1000) == 0, "udp connect");
		CHECK(send(uc, "umbrella-dgram", 14, 0) == 14, "send");
		CHECK(arrived(ud, "umbrella-dgram", 2000), "umbrella's datagram did not arrive");
		CHECK(!arrived(ad, "umbrella-dgram", 300), "acme received umbrella's datagram");
		CHECK(send(as, "acme-dgram", 10, 0) == 10, "send");
		CHECK(arrived(ad, "acme-dgram", 2000), "acme's datagram did not arrive");
		CHECK(!arrived(ud, "acme-dgram", 300), "umbrella received acme's datagram");
		close(ad);
		close(ud);
		close(as);
		close(uc);
		close(al);
		close(ul2);
	}
	printf("ok: a second tenant with the same subnet across the same hosts is isolated\n");

	/* --- a VNI exists once per underlay --- */
	{
		struct vnet_spec dup = vnet("other", VNI_ACME, 0, 2);

		r = ops->vnet_ensure(be[0], &dup);
		CHECK(r == CS_EEXIST && strstr(vnet_backend_error(be[0]), "VNI 4242") &&
		      strstr(vnet_backend_error(be[0]), "already in use"),
		      "a second VNI 4242 on host a: %d %s", r, vnet_backend_error(be[0]));
		printf("ok: refused: %s\n", vnet_backend_error(be[0]));
		OK(0, ops->vnet_destroy(be[0], "other", "red"));
		/* and a free VNI on the same host is fine (umbrella above) */
		tcp_pair(0, "e1", 1, "e2", "10.42.0.3", 6003);
	}

	/* --- figures, before any filter: cs vs bare VXLAN between a and b --- */
	sh("ip -n %s link add bvx type vxlan id %d local %s remote %s dstport 4789 && "
	   "ip -n %s addr add 10.99.0.1/24 dev bvx && ip -n %s link set bvx mtu 1450 up",
	   hostns[0], VNI_BARE, ul[0], ul[1], hostns[0], hostns[0]);
	sh("ip -n %s link add bvx type vxlan id %d local %s remote %s dstport 4789 && "
	   "ip -n %s addr add 10.99.0.2/24 dev bvx && ip -n %s link set bvx mtu 1450 up",
	   hostns[1], VNI_BARE, ul[1], ul[0], hostns[1], hostns[1]);
	bare = measure_bare();
	cs = measure_cs();

	/* --- the underlay filter --- */
	x = sock_in(0, "acme", "e1", SOCK_DGRAM, 0);
	bind_to(x, "0.0.0.0", 7778);
	/* unfiltered, the forged packet gets in: the probe works */
	inject(3, VNI_ACME, 7778, "foreign, unfiltered");
	CHECK(arrived(x, "foreign, unfiltered", 2000), "the forged packet does not work at all");
	filters(true);
	inject(3, VNI_ACME, 7778, "foreign, filtered");
	inject(1, VNI_ACME, 7778, "from node b");
	CHECK(arrived(x, "from node b", 2000), "the same packet from node b did not arrive");
	CHECK(!arrived(x, "foreign, filtered", 300), "the packet from 192.0.2.99 arrived");
	/* a node of one vnet may not speak for another: c is in acme but
	 * not in umbrella, b is in both */
	{
		int uu = sock_in(0, "umbrella", "u1", SOCK_DGRAM, 0);

		bind_to(uu, "0.0.0.0", 7779);
		inject(2, VNI_UMB, 7779, "c as umbrella");
		inject(1, VNI_UMB, 7779, "b as umbrella");
		CHECK(arrived(uu, "b as umbrella", 2000), "umbrella's packet from b did not arrive");
		CHECK(!arrived(uu, "c as umbrella", 300),
		      "umbrella's VNI accepted from host c, which is not in umbrella");
		close(uu);
	}
	tcp_pair(0, "e1", 2, "e3", "10.42.0.4", 6004);
	tcp_pair(1, "e2", 0, "e1", "10.42.0.2", 6005);
	printf("ok: underlay filter: forged VXLAN from 192.0.2.99 dropped, the same from "
	       "192.0.2.2 delivered; vnet traffic flows\n");
	csf = measure_cs();
	/* replacing is idempotent, removing lets everything in again */
	filters(true);
	OK(0, ops->underlay_filter(be[0], NULL, 0));
	OK(0, ops->underlay_filter(be[0], NULL, 0));
	inject(3, VNI_ACME, 7778, "after removal");
	CHECK(arrived(x, "after removal", 2000), "the filter was not removed");
	filters(true);
	{
		struct vnet_underlay_rule bad = { .vni = 0 };

		r = ops->underlay_filter(be[0], &bad, 1);
		CHECK(r == CS_EINVAL && strstr(vnet_backend_error(be[0]), "VNI 0"), "VNI 0: %d %s",
		      r, vnet_backend_error(be[0]));
	}
	inject(3, VNI_ACME, 7778, "still filtered");
	inject(1, VNI_ACME, 7778, "still from b");
	CHECK(arrived(x, "still from b", 2000), "b no longer accepted after a refused filter");
	CHECK(!arrived(x, "still filtered", 300), "a refused filter opened the underlay");
	close(x);

	/* --- removing a node from the vnet updates the flood entries --- */
	tcp_pair(0, "e1", 2, "e3", "10.42.0.4", 6011);
	CHECK(learned_to(0, "acme", ul[2]), "host a learned no address behind host c");
	v = vnet("acme", VNI_ACME, 0, 3);		/* a without c */
	OK(0, ops->vnet_ensure(be[0], &v));
	CHECK(!learned_to(0, "acme", ul[2]), "host a still sends learned addresses to c");
	v = vnet("acme", VNI_ACME, 1, 3);		/* b without c */
	OK(1, ops->vnet_ensure(be[1], &v));
	CHECK(flood_is(0, "acme", ul[1], NULL), "host a still floods to c");
	CHECK(flood_is(1, "acme", ul[0], NULL), "host b still floods to c");
	CHECK(flood_is(2, "acme", ul[0], ul[1]), "host c changed");
	tcp_pair(0, "e1", 1, "e2", "10.42.0.3", 6006);
	acme_everywhere();
	for (h = 0; h < NHOST; h++)
		CHECK(flood_is(h, "acme", ul[(h + 1) % 3], ul[(h + 2) % 3]),
		      "flood entries on host %d after re-adding c", h);
	tcp_pair(0, "e1", 2, "e3", "10.42.0.4", 6007);
	printf("ok: removing and re-adding a node updates the flood entries\n");

	/* --- an MTU change reaches vx0 and every endpoint --- */
	v = vnet("acme", VNI_ACME, 1, 7);
	v.mtu = 1400;
	OK(1, ops->vnet_ensure(be[1], &v));
	CHECK(link_has(1, "acme.red", "vx0", "mtu 1400") &&
	      link_has(1, "acme.red.e2", "eth0", "mtu 1400"), "MTU 1400 not applied");
	v.mtu = 0;
	OK(1, ops->vnet_ensure(be[1], &v));
	CHECK(link_has(1, "acme.red", "vx0", "mtu 1450") &&
	      link_has(1, "acme.red.e2", "eth0", "mtu 1450"), "MTU 1450 not restored");
	tcp_pair(0, "e1", 1, "e2", "10.42.0.3", 6008);
	printf("ok: MTU changes reach vx0 and eth0\n");

	/* --- and back to one node --- */
	v = vnet("acme", VNI_ACME, 0, 0);
	OK(0, ops->vnet_ensure(be[0], &v));
	CHECK(!link_has(0, "acme.red", "vx0", "link-netns") &&
	      link_has(0, "acme.red", "vx0", "mtu 1500") &&
	      link_has(0, "acme.red.e1", "eth0", "mtu 1500"), "host a's vx0 still on the underlay");
	tcp_pair(0, "e1", 0, "e4", "10.42.0.5", 6009);
	x = sock_in(0, "acme", "e1", SOCK_STREAM, 0);
	r = connect_to(x, "10.42.0.3", 6010, 1500);
	CHECK(r == -ETIMEDOUT || r == -EHOSTUNREACH, "a one-node vnet reached host b: %d", r);
	close(x);
	/* its VNI is free in host a's underlay again */
	{
		struct vnet_spec other = vnet("other", VNI_ACME, 0, 2);

		OK(0, ops->vnet_ensure(be[0], &other));
		OK(0, ops->vnet_destroy(be[0], "other", "red"));
	}
	printf("ok: three nodes back to one: local again, cut off from the others\n");

	/* --- teardown: nothing left with the backends' prefixes --- */
	OK(0, ops->endpoint_destroy(be[0], "acme", "red", "e1"));
	OK(0, ops->endpoint_destroy(be[0], "acme", "red", "e4"));
	OK(0, ops->endpoint_destroy(be[0], "umbrella", "red", "u1"));
	OK(1, ops->endpoint_destroy(be[1], "acme", "red", "e2"));
	OK(1, ops->endpoint_destroy(be[1], "umbrella", "red", "u2"));
	OK(2, ops->endpoint_destroy(be[2], "acme", "red", "e3"));
	for (h = 0; h < NHOST; h++) {
		char pfx[32], **names = NULL;
		size_t n = 0;

		OK(h, ops->vnet_destroy(be[h], "acme", "red"));
		OK(h, ops->vnet_destroy(be[h], "umbrella", "red"));
		OK(h, ops->underlay_filter(be[h], NULL, 0));
		snprintf(pfx, sizeof(pfx), "%s.", prefix[h]);
		CHECK(netns_list(pfx, &names, &n) == 0 && n == 0, "host %d: %zu namespaces left",
		      h, n);
		free(names);
		/* the VNIs are free in the host's underlay again */
		sh("ip -n %s link add t4242 type vxlan id 4242 dstport 4789 && "
		   "ip -n %s link add t4343 type vxlan id 4343 dstport 4789 && "
		   "ip -n %s link del t4242 && ip -n %s link del t4343", hostns[h], hostns[h],
		   hostns[h], hostns[h]);
	}

	printf("throughput a -> b: cs %.2f Gbit/s (%.2f with the underlay filter), bare VXLAN "
	       "%.2f Gbit/s: %.2fx (%.2fx)\n", cs.gbit, csf.gbit, bare.gbit, cs.gbit / bare.gbit,
	       csf.gbit / bare.gbit);
	printf("64-byte UDP RTT a -> b: cs %.1f us (%.1f with the filter), bare VXLAN %.1f us: "
	       "%.2fx (%.2fx)\n", cs.rtt, csf.rtt, bare.rtt, cs.rtt / bare.rtt, csf.rtt / bare.rtt);
	printf("PASS: %d checks\n", checks);
	return 0;
}
