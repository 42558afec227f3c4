/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The kernel backend against the real kernel: vnets and endpoints as
 * namespaces, traffic through sockets from endpoint_socket(), isolation
 * between tenants with the same subnet, adoption and repair, teardown.
 * Needs root; exits 77 otherwise. Every namespace it makes carries the
 * prefix "kt<pid>" and is removed at exit on every path.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>

#include "cs/cs.h"
#include "vnet/netns.h"
#include "vnet/vnet.h"

#include "ktest.h"
#include "knet.h"

/* --- specs --- */

struct vnet_def {
	struct vnet_spec spec;
};

static struct vnet_spec vnet(const char *tenant, const char *name, uint32_t id)
{
	struct vnet_spec v = {
		.tenant = tenant, .name = name, .id = id,
		.has4 = true, .has6 = true,
	};

	v.subnet4.addr = addr("10.77.0.0");
	v.subnet4.plen = 24;
	v.subnet6.addr = addr("fd77::");
	v.subnet6.plen = 64;
	return v;
}

static struct endpoint_spec ep(const char *name, const char *a4, const char *a6)
{
	struct endpoint_spec e = { .name = name, .has4 = a4 != NULL, .has6 = a6 != NULL };

	if (a4)
		e.addr4 = addr(a4);
	if (a6)
		e.addr6 = addr(a6);
	return e;
}

/* --- sockets --- */

static int sock_in(const char *t, const char *v, const char *e, int domain, int type)
{
	int fd = ops->endpoint_socket(be, t, v, e, domain, type | SOCK_CLOEXEC, 0);

	CHECK(fd >= 0, "endpoint_socket %s/%s/%s: %d %s", t, v, e, fd, vnet_backend_error(be));
	return fd;
}

static int listener(const char *t, const char *v, const char *e, const char *ip, int port,
		    int type)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	sa_of(ip, port, &ss, &len);
	fd = sock_in(t, v, e, ss.ss_family, type);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	CHECK(bind(fd, (struct sockaddr *)&ss, len) == 0, "bind %s:%d in %s/%s/%s: %m", ip, port,
	      t, v, e);
	if (type == SOCK_STREAM)
		CHECK(listen(fd, 16) == 0, "listen: %m");
	return fd;
}

/* 0, or -errno (ETIMEDOUT after @ms) */
static int tcp_client(const char *t, const char *v, const char *e, const char *ip, int port)
{
	int fd = sock_in(t, v, e, strchr(ip, ':') ? AF_INET6 : AF_INET, SOCK_STREAM);
	int r = connect_to(fd, ip, port, 3000);

	CHECK(r == 0, "%s/%s/%s -> %s:%d: %s", t, v, e, ip, port, strerror(-r));
	return fd;
}

/* @msg goes from @a to @b and arrives whole. */
/* @total bytes from @a to @b, both ways polled so neither side stalls. */
/* --- looking inside namespaces --- */

struct ns_query {
	const char *ifname;
	int ifindex;
	unsigned int mtu, flags;
	int naddr;
	char addrs[8][64];
};

static int query_fn(void *arg)
{
	struct ns_query *q = arg;
	struct nl_sock *sk = nl_socket_alloc();
	struct rtnl_link *l = NULL;
	struct nl_cache *ac = NULL;
	struct nl_object *o;

	q->ifindex = 0;
	q->naddr = 0;
	if (!sk || nl_connect(sk, NETLINK_ROUTE) < 0)
		goto out;
	if (rtnl_link_get_kernel(sk, 0, q->ifname, &l) < 0)
		goto out;
	q->ifindex = rtnl_link_get_ifindex(l);
	q->mtu = rtnl_link_get_mtu(l);
	q->flags = rtnl_link_get_flags(l);
	if (rtnl_addr_alloc_cache(sk, &ac) < 0)
		goto out;
	for (o = nl_cache_get_first(ac); o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *a = (struct rtnl_addr *)o;
		char buf[64];

		if (rtnl_addr_get_ifindex(a) != q->ifindex || q->naddr == 8)
			continue;
		if (rtnl_addr_get_scope(a) == 253 /* link */)
			continue;
		nl_addr2str(rtnl_addr_get_local(a), buf, sizeof(buf));
		snprintf(q->addrs[q->naddr++], 64, "%s", buf);
	}
out:
	if (ac)
		nl_cache_free(ac);
	if (l)
		rtnl_link_put(l);
	if (sk)
		nl_socket_free(sk);
	return 0;
}

static char *nsname(char *buf, const char *t, const char *v, const char *e)
{
	if (e)
		sprintf(buf, "%s.%s.%s.%s", prefix, t, v, e);
	else
		sprintf(buf, "%s.%s.%s", prefix, t, v);
	return buf;
}

static struct ns_query query(const char *ns, const char *ifname)
{
	struct ns_query q = { .ifname = ifname };
	char err[256];
	int fd = netns_open(ns, err, sizeof(err));

	CHECK(fd >= 0, "%s", err);
	CHECK(netns_run(fd, query_fn, &q, err, sizeof(err)) == 0, "%s", err);
	close(fd);
	return q;
}

static bool has_addr(const struct ns_query *q, const char *a)
{
	int i;

	for (i = 0; i < q->naddr; i++)
		if (!strcmp(q->addrs[i], a))
			return true;
	return false;
}

struct ns_edit {
	const char *ifname;
	const char *add;	/* "10.77.0.99/24", or NULL: */
	unsigned int mtu;	/* set this MTU, or 0: delete the link */
	int r;
};

static int edit_fn(void *arg)
{
	struct ns_edit *ed = arg;
	struct nl_sock *sk = nl_socket_alloc();
	struct rtnl_link *l = NULL;

	ed->r = -1;
	if (!sk || nl_connect(sk, NETLINK_ROUTE) < 0)
		goto out;
	if (rtnl_link_get_kernel(sk, 0, ed->ifname, &l) < 0)
		goto out;
	if (!ed->add && ed->mtu) {
		struct rtnl_link *chg = rtnl_link_alloc();

		rtnl_link_set_mtu(chg, ed->mtu);
		ed->r = rtnl_link_change(sk, l, chg, 0);
		rtnl_link_put(chg);
	} else if (!ed->add) {
		ed->r = rtnl_link_delete(sk, l);
	} else {
		struct rtnl_addr *a = rtnl_addr_alloc();
		struct nl_addr *local = NULL;

		nl_addr_parse(ed->add, AF_INET, &local);
		rtnl_addr_set_ifindex(a, rtnl_link_get_ifindex(l));
		rtnl_addr_set_local(a, local);
		ed->r = rtnl_addr_add(sk, a, 0);
		nl_addr_put(local);
		rtnl_addr_put(a);
	}
out:
	if (l)
		rtnl_link_put(l);
	if (sk)
		nl_socket_free(sk);
	return 0;
}

static void edit(const char *ns, const char *ifname, const char *add, unsigned int mtu)
{
	struct ns_edit ed = { .ifname = ifname, .add = add, .mtu = mtu };
	char err[256];
	int fd = netns_open(ns, err, sizeof(err));

	CHECK(fd >= 0, "%s", err);
	CHECK(netns_run(fd, edit_fn, &ed, err, sizeof(err)) == 0, "%s", err);
	CHECK(ed.r == 0, "editing %s in %s: %s", ifname, ns, nl_geterror(ed.r));
	close(fd);
}

static bool ns_exists(const char *ns)
{
	char p[256];
	struct stat st;

	snprintf(p, sizeof(p), NETNS_RUN_DIR "/%s", ns);
	return stat(p, &st) == 0;
}

static bool listed(char **v, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(v[i], s))
			return true;
	return false;
}

static void open_backend(void)
{
	struct vnet_backend_config cfg = { .prefix = prefix, .run_dir = "/tmp" };
	int r = ops->open(&cfg, &be);

	CHECK(r == 0, "open: %d %s", r, be ? vnet_backend_error(be) : "");
}

int main(void)
{
	struct vnet_spec acme = vnet("acme", "blue", 7701), umb = vnet("umbrella", "blue", 7702);
	struct vnet_spec bench = vnet("acme", "bench", 7703);
	struct endpoint_spec web = ep("web", "10.77.0.2", "fd77::2");
	struct endpoint_spec db = ep("db", "10.77.0.3", "fd77::3");
	struct endpoint_spec cache = ep("cache", "10.77.0.4", NULL);
	struct endpoint_spec tmp = ep("tmp", "10.77.0.5", NULL);
	struct endpoint_spec uweb = ep("web", "10.77.0.2", NULL);
	struct endpoint_spec udb = ep("db", "10.77.0.3", NULL);
	struct endpoint_stats st0, st1;
	struct vnet_inventory inv;
	struct ns_query q, q2;
	char ns[128], ns2[128], buf[256];
	double times[20], t0;
	int lfd, c, s, u1, u2, ulfd, r, i;

	if (geteuid() != 0) {
		fprintf(stderr, "test_kernel_backend: needs root (network namespaces); skipped\n");
		return 77;
	}
	snprintf(prefix, sizeof(prefix), "kt%u", (unsigned int)getpid() % 1000000u);
	ktest_guard(110);

	ops = vnet_ops_find("kernel");
	CHECK(ops && !strcmp(ops->name, "kernel"), "no kernel backend");
	CHECK(vnet_ops_find("recording") == &vnet_recording_ops, "no recording backend");
	CHECK(vnet_ops_find("nope") == NULL, "unknown backend found");
	open_backend();

	/* refusals, each next to the permitted case below */
	r = ops->endpoint_ensure(be, &acme, &web);
	CHECK(r == CS_ENOENT, "endpoint of an unrealized vnet: %d", r);
	CHECK(strstr(vnet_backend_error(be), "acme/blue/web"), "message: %s",
	      vnet_backend_error(be));
	{
		struct vnet_spec multi = acme;
		struct cs_addr peer = addr("192.0.2.1");

		multi.peers = &peer;
		multi.npeers = 1;
		CHECK(ops->vnet_ensure(be, &multi) == CS_ENOTSUP, "multi-node accepted");
	}
	{
		struct vnet_spec bad = acme;

		bad.name = "a.b";
		CHECK(ops->vnet_ensure(be, &bad) == CS_EINVAL, "dotted name accepted");
	}

	/* --- one vnet, two endpoints --- */
	OK(ops->vnet_ensure(be, &acme));
	OK(ops->endpoint_ensure(be, &acme, &web));
	OK(ops->endpoint_ensure(be, &acme, &db));
	OK(ops->endpoint_ensure(be, &acme, &cache));
	q = query(nsname(ns, "acme", "blue", "web"), "eth0");
	CHECK(q.ifindex > 0 && q.mtu == VNET_MTU_LOCAL && (q.flags & IFF_UP), "eth0 mtu %u flags %#x",
	      q.mtu, q.flags);
	CHECK(has_addr(&q, "10.77.0.2/24") && has_addr(&q, "fd77::2/64") && q.naddr == 2,
	      "addresses of web: %d %s", q.naddr, q.addrs[0]);
	q = query(ns, "lo");
	CHECK(q.flags & IFF_UP, "lo down");
	q = query(nsname(ns, "acme", "blue", NULL), "vx0");
	CHECK(q.ifindex > 0 && q.mtu == VNET_MTU_LOCAL && (q.flags & IFF_UP), "vx0 mtu %u", q.mtu);

	lfd = listener("acme", "blue", "db", "10.77.0.3", 5000, SOCK_STREAM);
	c = tcp_client("acme", "blue", "web", "10.77.0.3", 5000);
	s = accept_one(lfd);
	transfer(c, s, "hello db");
	transfer(s, c, "hello web");
	{
		struct sockaddr_in peer;
		socklen_t plen = sizeof(peer);

		getpeername(s, (struct sockaddr *)&peer, &plen);
		CHECK(!strcmp(inet_ntoa(peer.sin_addr), "10.77.0.2"), "peer %s",
		      inet_ntoa(peer.sin_addr));
	}
	printf("ok: TCP acme/blue/web -> db over IPv4\n");

	/* IPv6, usable at once (no DAD) */
	{
		int l6 = listener("acme", "blue", "db", "fd77::3", 5006, SOCK_STREAM);
		int c6 = tcp_client("acme", "blue", "web", "fd77::3", 5006);
		int s6 = accept_one(l6);

		transfer(c6, s6, "hello over v6");
		close(c6);
		close(s6);
		close(l6);
		printf("ok: TCP over IPv6\n");
	}

	/* UDP */
	ulfd = listener("acme", "blue", "db", "10.77.0.3", 5001, SOCK_DGRAM);
	u1 = sock_in("acme", "blue", "web", AF_INET, SOCK_DGRAM);
	CHECK(connect_to(u1, "10.77.0.3", 5001, 1000) == 0, "udp connect");
	transfer(u1, ulfd, "datagram");
	printf("ok: UDP\n");

	/* --- a second tenant with the same subnet and addresses --- */
	OK(ops->vnet_ensure(be, &umb));
	OK(ops->endpoint_ensure(be, &umb, &uweb));
	OK(ops->endpoint_ensure(be, &umb, &udb));
	{
		int ul = listener("umbrella", "blue", "db", "10.77.0.3", 5002, SOCK_STREAM);
		int uc, us, x;

		/* positive: its own .3 */
		uc = tcp_client("umbrella", "blue", "web", "10.77.0.3", 5002);
		us = accept_one(ul);
		transfer(uc, us, "umbrella inside");
		close(uc);
		close(us);
		/* negative: acme's listener on .3:5000 is not there for umbrella */
		x = sock_in("umbrella", "blue", "web", AF_INET, SOCK_STREAM);
		r = connect_to(x, "10.77.0.3", 5000, 1500);
		CHECK(r == -ECONNREFUSED || r == -ETIMEDOUT, "umbrella reached acme's .3:5000: %d",
		      r);
		CHECK(!wait_readable(lfd, 200), "acme's listener saw umbrella's connection");
		close(x);
		/* negative: an address only acme has, next to the positive above */
		x = sock_in("umbrella", "blue", "web", AF_INET, SOCK_STREAM);
		r = connect_to(x, "10.77.0.4", 5000, 1500);
		CHECK(r == -ETIMEDOUT || r == -EHOSTUNREACH, "umbrella reached acme's .4: %d", r);
		close(x);
		/* and acme still reaches its .4 (nothing listens: refused = reached) */
		x = sock_in("acme", "blue", "web", AF_INET, SOCK_STREAM);
		r = connect_to(x, "10.77.0.4", 5000, 1500);
		CHECK(r == -ECONNREFUSED, "acme/web -> its own .4: %d", r);
		close(x);
		close(ul);
	}
	printf("ok: tenants with the same subnet are isolated\n");

	/* --- ensure twice: a no-op that keeps connections --- */
	q = query(nsname(ns, "acme", "blue", "web"), "eth0");
	q2 = query(nsname(ns2, "acme", "blue", NULL), "vx0");
	OK(ops->vnet_ensure(be, &acme));
	OK(ops->endpoint_ensure(be, &acme, &web));
	OK(ops->endpoint_ensure(be, &acme, &db));
	CHECK(query(ns, "eth0").ifindex == q.ifindex, "eth0 was recreated");
	CHECK(query(ns2, "vx0").ifindex == q2.ifindex, "vx0 was recreated");
	transfer(c, s, "still there");
	transfer(s, c, "still here");
	/* a restarted csd (fresh backend, empty cache) adopts as well */
	ops->close(be);
	be = NULL;
	open_backend();
	OK(ops->vnet_ensure(be, &acme));
	OK(ops->endpoint_ensure(be, &acme, &web));
	OK(ops->endpoint_ensure(be, &acme, &db));
	CHECK(query(ns, "eth0").ifindex == q.ifindex, "eth0 was recreated after restart");
	transfer(c, s, "after restart");
	printf("ok: ensure() adopts; established TCP survives\n");

	/* --- drift: an extra address, an MTU, eth0 deleted by hand --- */
	nsname(ns, "acme", "blue", "db");
	edit(ns, "eth0", "10.77.0.99/24", 0);
	edit(ns, "eth0", NULL, 1300);
	CHECK(has_addr((q = query(ns, "eth0"), &q), "10.77.0.99/24"), "extra address missing");
	OK(ops->endpoint_ensure(be, &acme, &db));
	q = query(ns, "eth0");
	CHECK(!has_addr(&q, "10.77.0.99/24") && has_addr(&q, "10.77.0.3/24") && q.naddr == 2,
	      "extra address not removed (%d addresses)", q.naddr);
	CHECK(q.mtu == VNET_MTU_LOCAL, "MTU not repaired: %u", q.mtu);
	transfer(c, s, "after address repair");

	nsname(ns, "acme", "blue", "web");
	edit(ns, "eth0", NULL, 0);
	CHECK(query(ns, "eth0").ifindex == 0, "eth0 not deleted");
	OK(ops->endpoint_ensure(be, &acme, &web));
	q = query(ns, "eth0");
	CHECK(q.ifindex > 0 && (q.flags & IFF_UP) && has_addr(&q, "10.77.0.2/24"),
	      "eth0 not repaired");
	close(c);
	close(s);
	c = tcp_client("acme", "blue", "web", "10.77.0.3", 5000);
	s = accept_one(lfd);
	transfer(c, s, "after eth0 repair");
	/*
	 * The vnet namespace deleted by hand while something still holds it:
	 * its vx0 and the endpoints' macvlans live on, detached. ensure()
	 * must build a new vx0 and move every endpoint onto it rather than
	 * adopt an eth0 that hangs off the old one.
	 */
	{
		char err[256];
		int hold, l2, c2, s2;

		nsname(ns2, "acme", "blue", NULL);
		hold = netns_open(ns2, err, sizeof(err));
		CHECK(hold >= 0, "%s", err);
		CHECK(netns_delete(ns2, err, sizeof(err)) == 0, "%s", err);
		q = query(nsname(ns, "acme", "blue", "web"), "eth0");
		CHECK(q.ifindex > 0, "eth0 died with a namespace still held");
		OK(ops->vnet_ensure(be, &acme));
		OK(ops->endpoint_ensure(be, &acme, &web));
		OK(ops->endpoint_ensure(be, &acme, &db));
		OK(ops->endpoint_ensure(be, &acme, &cache));
		close(hold);	/* the old vx0 goes now; the new wiring must not care */
		l2 = listener("acme", "blue", "db", "10.77.0.3", 5007, SOCK_STREAM);
		c2 = tcp_client("acme", "blue", "web", "10.77.0.3", 5007);
		s2 = accept_one(l2);
		transfer(c2, s2, "over the new vx0");
		close(c2);
		close(s2);
		/* an endpoint made now is on the new vx0: it must reach them */
		{
			struct endpoint_spec late = ep("late", "10.77.0.6", NULL);

			OK(ops->endpoint_ensure(be, &acme, &late));
			c2 = tcp_client("acme", "blue", "late", "10.77.0.3", 5007);
			s2 = accept_one(l2);
			transfer(c2, s2, "late joiner reaches db");
			close(c2);
			close(s2);
			OK(ops->endpoint_destroy(be, "acme", "blue", "late"));
		}
		close(l2);
		/* the old connection went with the old wiring; make a new one */
		close(c);
		close(s);
		c = tcp_client("acme", "blue", "web", "10.77.0.3", 5000);
		s = accept_one(lfd);
		u1 = (close(u1), sock_in("acme", "blue", "web", AF_INET, SOCK_DGRAM));
		CHECK(connect_to(u1, "10.77.0.3", 5001, 1000) == 0, "udp connect");
		transfer(u1, ulfd, "udp over the new vx0");
	}
	printf("ok: drift repaired\n");

	/* --- stats --- */
	OK(ops->endpoint_stats(be, "acme", "blue", "web", &st0));
	pump(c, s, 4u << 20);
	OK(ops->endpoint_stats(be, "acme", "blue", "web", &st1));
	CHECK(st1.tx_bytes - st0.tx_bytes >= 4u << 20, "tx_bytes grew by %llu",
	      (unsigned long long)(st1.tx_bytes - st0.tx_bytes));
	CHECK(st1.tx_packets > st0.tx_packets && st1.rx_packets > st0.rx_packets,
	      "packets did not grow");
	printf("ok: stats (tx %llu bytes, %llu packets)\n",
	       (unsigned long long)(st1.tx_bytes - st0.tx_bytes),
	       (unsigned long long)(st1.tx_packets - st0.tx_packets));

	/* --- endpoint_netns: a namespace fd of its own --- */
	{
		int nfd = ops->endpoint_netns(be, "acme", "blue", "web");
		struct stat a, b2;

		CHECK(nfd >= 0, "endpoint_netns: %s", vnet_backend_error(be));
		nsname(ns, "acme", "blue", "web");
		snprintf(buf, sizeof(buf), NETNS_RUN_DIR "/%s", ns);
		CHECK(fstat(nfd, &a) == 0 && stat(buf, &b2) == 0 && a.st_ino == b2.st_ino,
		      "endpoint_netns gave another namespace");
		close(nfd);
	}

	/* --- inventory --- */
	OK(ops->inventory(be, &inv));
	CHECK(inv.nvnets == 2 && listed(inv.vnets, inv.nvnets, "acme/blue") &&
	      listed(inv.vnets, inv.nvnets, "umbrella/blue"), "vnets: %zu", inv.nvnets);
	CHECK(inv.nendpoints == 5 && listed(inv.endpoints, inv.nendpoints, "acme/blue/web") &&
	      listed(inv.endpoints, inv.nendpoints, "acme/blue/cache") &&
	      listed(inv.endpoints, inv.nendpoints, "umbrella/blue/db"), "endpoints: %zu",
	      inv.nendpoints);
	vnet_inventory_clear(&inv);
	printf("ok: inventory\n");

	/* --- endpoint_destroy cuts sockets already handed out --- */
	OK(ops->endpoint_ensure(be, &acme, &tmp));
	u2 = sock_in("acme", "blue", "tmp", AF_INET, SOCK_DGRAM);
	CHECK(connect_to(u2, "10.77.0.3", 5001, 1000) == 0, "udp connect");
	transfer(u2, ulfd, "before destroy");
	OK(ops->endpoint_destroy(be, "acme", "blue", "tmp"));
	CHECK(!ns_exists(nsname(ns, "acme", "blue", "tmp")), "namespace left");
	r = send(u2, "after", 5, 0);
	CHECK(r < 0, "a socket of a destroyed endpoint could still send");
	CHECK(!wait_readable(ulfd, 300), "a datagram arrived after destroy");
	transfer(u1, ulfd, "others unaffected");
	close(u2);
	r = ops->endpoint_socket(be, "acme", "blue", "tmp", AF_INET, SOCK_DGRAM, 0);
	CHECK(r == CS_ENOENT, "socket of a destroyed endpoint: %d", r);
	OK(ops->endpoint_destroy(be, "acme", "blue", "tmp"));
	printf("ok: endpoint_destroy cuts its sockets\n");

	/* --- creation time --- */
	OK(ops->vnet_ensure(be, &bench));
	for (i = 0; i < 20; i++) {
		char name[16], a4[32];
		struct endpoint_spec e;

		snprintf(name, sizeof(name), "b%d", i);
		snprintf(a4, sizeof(a4), "10.77.0.%d", 10 + i);
		e = ep(name, a4, NULL);
		t0 = now_ms();
		OK(ops->endpoint_ensure(be, &bench, &e));
		times[i] = now_ms() - t0;
	}
	{
		double idem = now_ms(), sock_us;
		struct endpoint_spec e = ep("b0", "10.77.0.10", NULL);

		OK(ops->endpoint_ensure(be, &bench, &e));
		idem = now_ms() - idem;
		t0 = now_ms();
		for (i = 0; i < 1000; i++) {
			int fd = ops->endpoint_socket(be, "acme", "bench", "b0", AF_INET,
						      SOCK_STREAM, 0);

			CHECK(fd >= 0, "%s", vnet_backend_error(be));
			close(fd);
		}
		sock_us = (now_ms() - t0);
		qsort(times, 20, sizeof(times[0]), cmp_double);
		printf("endpoint creation: median %.2f ms (min %.2f, max %.2f) over 20; "
		       "ensure of an existing endpoint %.2f ms; endpoint_socket %.1f us\n",
		       (times[9] + times[10]) / 2, times[0], times[19], idem, sock_us);
	}
	{
		int x = sock_in("acme", "bench", "b3", AF_INET, SOCK_STREAM);
		int bl = listener("acme", "bench", "b7", "10.77.0.17", 5003, SOCK_STREAM);
		int bs;

		CHECK(connect_to(x, "10.77.0.17", 5003, 3000) == 0, "bench b3 -> b7");
		bs = accept_one(bl);
		transfer(x, bs, "bench");
		close(bs);
		close(bl);
		close(x);
	}

	/* --- teardown --- */
	close(c);
	close(s);
	close(lfd);
	close(u1);
	close(ulfd);
	for (i = 0; i < 20; i++) {
		char name[16];

		snprintf(name, sizeof(name), "b%d", i);
		OK(ops->endpoint_destroy(be, "acme", "bench", name));
	}
	OK(ops->endpoint_destroy(be, "acme", "blue", "web"));
	OK(ops->endpoint_destroy(be, "acme", "blue", "db"));
	OK(ops->endpoint_destroy(be, "umbrella", "blue", "web"));
	OK(ops->endpoint_destroy(be, "umbrella", "blue", "db"));
	/* a vnet with an endpoint left: the endpoint's eth0 dies with vx0 */
	nsname(ns, "acme", "blue", "cache");
	OK(ops->vnet_destroy(be, "acme", "blue"));
	CHECK(query(ns, "eth0").ifindex == 0, "eth0 survived its vnet");
	OK(ops->endpoint_destroy(be, "acme", "blue", "cache"));
	OK(ops->vnet_destroy(be, "umbrella", "blue"));
	OK(ops->vnet_destroy(be, "acme", "bench"));
	/* absent: still 0 */
	OK(ops->vnet_destroy(be, "acme", "blue"));
	OK(ops->endpoint_destroy(be, "acme", "blue", "web"));
	OK(ops->inventory(be, &inv));
	CHECK(inv.nvnets == 0 && inv.nendpoints == 0, "inventory after teardown: %zu %zu",
	      inv.nvnets, inv.nendpoints);
	vnet_inventory_clear(&inv);
	{
		char pfx[VNET_PREFIX_MAX + 2], **names;
		size_t n;

		snprintf(pfx, sizeof(pfx), "%s.", prefix);
		CHECK(netns_list(pfx, &names, &n) == 0 && n == 0, "%zu namespaces left", n);
		free(names);
	}
	ops->close(be);
	be = NULL;
	printf("ok: nothing left under " NETNS_RUN_DIR "/%s.*\n", prefix);
	printf("PASS: %d checks\n", checks);
	return 0;
}
