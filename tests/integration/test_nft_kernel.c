/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Endpoint rules in the kernel backend (vnet/kernel_nft.c) against the real
 * kernel, driving vnet_kernel_ops directly: a vnet with endpoints a (group
 * web), b (db) and c (other). Every blocked probe is paired with one that
 * passes from the same endpoint. Then: the data path agrees with
 * rules_eval() for every pair and protocol; an established connection
 * survives replacements, even one that denies new connections; fw NULL
 * removes the table; a set of 1000 rules is applied and timed.
 * Needs root; exits 77 otherwise. Namespaces carry the prefix "n<hex pid>"
 * and are removed at exit on every path.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <nftables/libnftables.h>

#include "cs/cs.h"
#include "policy/rules.h"
#include "vnet/netns.h"
#include "vnet/vnet.h"

#define T "acme"
#define V "blue"
#define DENY_MS 600	/* a probe not answered by then was dropped */

#include "ktest.h"
#include "knet.h"

/* --- the world --- */

struct ep {
	const char *name, *ip4, *ip6, *group;
	struct cs_addr addrs[2];
	int tcp5432, tcp80, udp5432, udp5353;	/* listeners */
};

static struct ep eps[3] = {
	{ .name = "a", .ip4 = "10.78.0.2", .ip6 = "fd78::2", .group = "web" },
	{ .name = "b", .ip4 = "10.78.0.3", .ip6 = "fd78::3", .group = "db" },
	{ .name = "c", .ip4 = "10.78.0.4", .ip6 = "fd78::4", .group = "other" },
};
static struct rules_endpoint reps[3];

static struct ep *E(const char *name)
{
	int i;

	for (i = 0; i < 3; i++)
		if (!strcmp(eps[i].name, name))
			return &eps[i];
	CHECK(0, "no endpoint %s", name);
	return NULL;
}

static int sock_in(const char *e, int domain, int type, int proto)
{
	int fd = ops->endpoint_socket(be, T, V, e, domain, type | SOCK_CLOEXEC, proto);

	CHECK(fd >= 0, "endpoint_socket %s: %d %s", e, fd, vnet_backend_error(be));
	return fd;
}

/* On every address of @e (IPv4 and IPv6: "::" without V6ONLY). */
static int listener(const char *e, int port, int type)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	int fd = sock_in(e, AF_INET6, type, 0), one = 1, zero = 0;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	CHECK(bind(fd, (struct sockaddr *)&s6, sizeof(s6)) == 0, "bind %d in %s: %m", port, e);
	if (type == SOCK_STREAM)
		CHECK(listen(fd, 64) == 0, "listen: %m");
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

/* 0, or -errno (ETIMEDOUT after @ms) */
/* Empty a listener's queue (connections or datagrams). */
static void drain(int lfd)
{
	char buf[64];
	int fd;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
		close(fd);
	while (recv(lfd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		;
}

/* Does a TCP connection from @from to @ip:@port come up? */
static bool tcp_probe(const char *from, const char *ip, int port, int lfd)
{
	int fd = sock_in(from, strchr(ip, ':') ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
	int r = connect_to(fd, ip, port, DENY_MS);

	close(fd);
	CHECK(r == 0 || r == -ETIMEDOUT, "tcp %s -> %s:%d: %s (expected connected or dropped)",
	      from, ip, port, strerror(-r));
	if (lfd >= 0)
		drain(lfd);
	return r == 0;
}

/* Does a datagram from @from reach the listener @lfd on @ip:@port? */
static bool udp_probe(const char *from, const char *ip, int port, int lfd)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char buf[64];
	int fd = sock_in(from, strchr(ip, ':') ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
	bool got = false;
	double end = now_ms() + DENY_MS;

	drain(lfd);
	sa_of(ip, port, &ss, &len);
	CHECK(sendto(fd, from, strlen(from), 0, (struct sockaddr *)&ss, len) > 0, "sendto: %m");
	while (!got && now_ms() < end) {
		ssize_t n;

		if (!wait_readable(lfd, (int)(end - now_ms()) + 1))
			break;
		n = recv(lfd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		got = n == (ssize_t)strlen(from) && !memcmp(buf, from, n);
	}
	close(fd);
	return got;
}

/* Does an IPv4 echo request from @from to @ip get its reply? */
static bool ping_probe(const char *from, const char *ip)
{
	static uint16_t seq;
	struct sockaddr_storage ss;
	struct icmphdr h = { .type = ICMP_ECHO };
	struct in_addr want;
	socklen_t len;
	unsigned char buf[512];
	int fd = sock_in(from, AF_INET, SOCK_RAW, IPPROTO_ICMP);
	bool got = false;
	double end = now_ms() + DENY_MS;

	inet_pton(AF_INET, ip, &want);
	/* conntrack knows an echo by its id: a new id per probe, or an
	 * answered one would pass as established */
	seq++;
	h.un.echo.id = htons((uint16_t)(getpid() * 64 + seq));
	h.un.echo.sequence = htons(seq);
	h.checksum = csum(&h, sizeof(h));
	sa_of(ip, 0, &ss, &len);
	CHECK(sendto(fd, &h, sizeof(h), 0, (struct sockaddr *)&ss, len) > 0, "ping: %m");
	while (!got && now_ms() < end) {
		struct ip *iph = (struct ip *)buf;
		struct icmphdr *r;
		ssize_t n;

		if (!wait_readable(fd, (int)(end - now_ms()) + 1))
			break;
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < (ssize_t)sizeof(*iph) || n < iph->ip_hl * 4 + (ssize_t)sizeof(*r))
			continue;
		r = (struct icmphdr *)(buf + iph->ip_hl * 4);
		got = r->type == ICMP_ECHOREPLY && r->un.echo.id == h.un.echo.id &&
		      r->un.echo.sequence == h.un.echo.sequence &&
		      iph->ip_src.s_addr == want.s_addr;
	}
	close(fd);
	return got;
}

/* @total bytes from @a to @b. */
/* --- looking at the table --- */

struct nft_list {
	const char *cmd;
	char out[1 << 18];
	int rc;
};

static int nft_list_fn(void *arg)
{
	struct nft_list *l = arg;
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);

	if (!ctx)
		return -1;
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	nft_ctx_output_set_flags(ctx, NFT_CTX_OUTPUT_HANDLE);
	l->rc = nft_run_cmd_from_buffer(ctx, l->cmd);
	snprintf(l->out, sizeof(l->out), "%s", nft_ctx_get_output_buffer(ctx));
	nft_ctx_free(ctx);
	return 0;
}

/* "list tables" inside endpoint @e's namespace. */
static void nft_in(const char *e, struct nft_list *l, const char *cmd)
{
	char ns[128], err[256];
	int fd;

	snprintf(ns, sizeof(ns), "%s." T "." V ".%s", prefix, e);
	fd = netns_open(ns, err, sizeof(err));
	CHECK(fd >= 0, "%s", err);
	l->cmd = cmd;
	CHECK(netns_run(fd, nft_list_fn, l, err, sizeof(err)) == 0, "%s", err);
	close(fd);
}

static bool has_table(const char *e)
{
	static struct nft_list l;

	nft_in(e, &l, "list tables");
	CHECK(l.rc == 0, "list tables in %s failed", e);
	return strstr(l.out, "table inet cs") != NULL;
}

/* --- policies --- */

static struct rules_policy *policy(const char *text)
{
	struct rules_policy *p = NULL;
	char err[512];
	json_t *j = json_loads(text, 0, NULL);

	CHECK(j, "bad JSON: %s", text);
	CHECK(rules_parse(j, NULL, &p, err, sizeof(err)) == 0, "%s", err);
	json_decref(j);
	return p;
}

/* Compile @p for @e and apply it there; returns the time it took (ms). */
static double apply(const struct rules_policy *p, const char *e)
{
	struct vnet_fw fw;
	double t0;

	CHECK(rules_compile(p, reps, 3, e, &fw) == 0, "compile for %s", e);
	t0 = now_ms();
	OK(ops->endpoint_policy(be, T, V, e, &fw));
	t0 = now_ms() - t0;
	rules_fw_free(&fw);
	return t0;
}

static const char *verdict_name(bool allow)
{
	return allow ? "allow" : "deny";
}

/* The data path agrees with rules_eval() for every ordered pair. */
static void matrix(const struct rules_policy *p)
{
	static const struct { int proto, port; } probes[] = {
		{ IPPROTO_TCP, 5432 }, { IPPROTO_TCP, 80 }, { IPPROTO_UDP, 5432 },
		{ IPPROTO_UDP, 5353 }, { IPPROTO_ICMP, 0 },
	};
	int i, j, k, nallow = 0, ndeny = 0;

	for (i = 0; i < 3; i++) {
		int src_allow = 0, src_deny = 0;

		for (j = 0; j < 3; j++) {
			struct ep *to = &eps[j];

			if (i == j)
				continue;
			for (k = 0; k < (int)(sizeof(probes) / sizeof(probes[0])); k++) {
				enum vnet_fw_action v;
				int rule, port = probes[k].port;
				bool got, want;

				CHECK(rules_eval(p, reps, 3, eps[i].name, to->name, probes[k].proto,
						 port, &v, &rule) == 0, "eval");
				want = v == VNET_FW_ALLOW;
				if (probes[k].proto == IPPROTO_TCP)
					got = tcp_probe(eps[i].name, to->ip4, port,
							port == 80 ? to->tcp80 : to->tcp5432);
				else if (probes[k].proto == IPPROTO_UDP)
					got = udp_probe(eps[i].name, to->ip4, port,
							port == 5353 ? to->udp5353 : to->udp5432);
				else
					got = ping_probe(eps[i].name, to->ip4);
				CHECK(got == want, "%s -> %s %s/%d: data path says %s, rule check %s "
				      "(rule %d)", eps[i].name, to->name,
				      rules_proto_name(probes[k].proto), port, verdict_name(got),
				      verdict_name(want), rule);
				if (got)
					src_allow++;
				else
					src_deny++;
			}
		}
		/* every deny has an allow from the same endpoint beside it */
		CHECK(src_allow > 0, "no probe from %s passed: probes cannot be trusted",
		      eps[i].name);
		nallow += src_allow;
		ndeny += src_deny;
	}
	printf("ok: data path = rules_eval for 6 pairs x 5 probes (%d allowed, %d denied)\n",
	       nallow, ndeny);
}

/* A set of @n rules, each allowing one port from one made-up source, and
 * the last allowing a to tcp 5432 (so it must all be loaded to work). */
static void big_set(struct vnet_fw *fw, struct vnet_fw_rule *rules, struct cs_prefix *srcs,
		    size_t n, int base)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct cs_prefix *s = &srcs[i];

		memset(s, 0, sizeof(*s));
		s->addr.family = AF_INET;
		s->addr.a[0] = 10;
		s->addr.a[1] = 79;
		s->addr.a[2] = (uint8_t)(i / 250);
		s->addr.a[3] = (uint8_t)(i % 250 + 1);
		s->plen = 32;
		rules[i] = (struct vnet_fw_rule){
			.action = i % 7 ? VNET_FW_ALLOW : VNET_FW_DENY, .src = s, .nsrc = 1,
			.proto = i % 2 ? IPPROTO_TCP : IPPROTO_UDP,
			.port_lo = (uint16_t)(base + i), .port_hi = (uint16_t)(base + i + i % 3),
		};
	}
	srcs[n - 1] = (struct cs_prefix){ .addr = eps[0].addrs[0], .plen = 32 };
	rules[n - 1] = (struct vnet_fw_rule){
		.action = VNET_FW_ALLOW, .src = &srcs[n - 1], .nsrc = 1, .proto = IPPROTO_TCP,
		.port_lo = 5432, .port_hi = 5432,
	};
	fw->dflt = VNET_FW_DENY;
	fw->rules = rules;
	fw->n = n;
}

int main(void)
{
	struct vnet_spec vs = { .tenant = T, .name = V, .id = 7810, .has4 = true, .has6 = true };
	static const char *groups[3][1];
	struct rules_policy *p;
	struct vnet_fw fw;
	int i, r, c, s, lfd;

	if (geteuid() != 0) {
		fprintf(stderr, "test_nft_kernel: needs root (network namespaces, nftables); "
			"skipped\n");
		return 77;
	}
	snprintf(prefix, sizeof(prefix), "n%x", (unsigned int)getpid() & 0xffffff);
	ktest_guard(110);

	ops = vnet_ops_find("kernel");
	CHECK(ops, "no kernel backend");
	{
		struct vnet_backend_config cfg = { .prefix = prefix, .run_dir = "/tmp" };

		r = ops->open(&cfg, &be);
		CHECK(r == 0, "open: %d %s", r, be ? vnet_backend_error(be) : "");
	}
	vs.subnet4.addr = addr("10.78.0.0");
	vs.subnet4.plen = 24;
	vs.subnet6.addr = addr("fd78::");
	vs.subnet6.plen = 64;

	/* refused before anything exists; removing nothing is fine */
	memset(&fw, 0, sizeof(fw));
	fw.dflt = VNET_FW_DENY;
	r = ops->endpoint_policy(be, T, V, "a", &fw);
	CHECK(r == CS_ENOENT && strstr(vnet_backend_error(be), "acme/blue/a"),
	      "rules for an unrealized endpoint: %d %s", r, vnet_backend_error(be));
	OK(ops->endpoint_policy(be, T, V, "a", NULL));

	OK(ops->vnet_ensure(be, &vs));
	for (i = 0; i < 3; i++) {
		struct endpoint_spec es = { .name = eps[i].name, .has4 = true, .has6 = true };

		eps[i].addrs[0] = es.addr4 = addr(eps[i].ip4);
		eps[i].addrs[1] = es.addr6 = addr(eps[i].ip6);
		OK(ops->endpoint_ensure(be, &vs, &es));
		groups[i][0] = eps[i].group;
		reps[i] = (struct rules_endpoint){ eps[i].name, groups[i], 1, eps[i].addrs, 2 };
		eps[i].tcp5432 = listener(eps[i].name, 5432, SOCK_STREAM);
		eps[i].tcp80 = listener(eps[i].name, 80, SOCK_STREAM);
		eps[i].udp5432 = listener(eps[i].name, 5432, SOCK_DGRAM);
		eps[i].udp5353 = listener(eps[i].name, 5353, SOCK_DGRAM);
	}
	/* without rules everything passes (the probes work) */
	CHECK(tcp_probe("c", E("b")->ip4, 5432, E("b")->tcp5432), "c -> b before any rule");
	CHECK(ping_probe("a", E("b")->ip4), "ping a -> b before any rule");

	/* a new endpoint of a vnet with rules is closed until they load */
	{
		struct endpoint_spec es = { .name = "g", .has4 = true, .addr4 = addr("10.78.0.40"),
					    .guarded = true };
		OK(ops->endpoint_ensure(be, &vs, &es));
		int gl = listener("g", 5432, SOCK_STREAM);
		CHECK(has_table("g"), "a guarded endpoint came up without a table");
		CHECK(!tcp_probe("a", "10.78.0.40", 5432, gl),
		      "a -> g:5432 passed before g's rules were loaded");
		OK(ops->endpoint_policy(be, T, V, "g", NULL));
		CHECK(tcp_probe("a", "10.78.0.40", 5432, gl), "a -> g:5432 once g's rules allow all");
		close(gl);
		OK(ops->endpoint_destroy(be, T, V, "g"));
		printf("ok: a new endpoint of a vnet with rules accepts nothing until they load\n");
	}

	/* --- on b: tcp 5432 from a only, default deny --- */
	p = policy("{\"default\":\"deny\",\"rules\":[{\"from\":\"group:web\",\"to\":\"group:db\","
		   "\"proto\":\"tcp\",\"ports\":[5432],\"action\":\"allow\"}]}");
	printf("applied 1 rule to b in %.2f ms\n", apply(p, "b"));
	CHECK(has_table("b") && !has_table("a"), "table inet cs where it belongs");
	CHECK(tcp_probe("a", E("b")->ip4, 5432, E("b")->tcp5432), "a -> b:5432 allowed");
	CHECK(tcp_probe("a", E("b")->ip6, 5432, E("b")->tcp5432),
	      "a -> b:5432 over IPv6 (neighbour discovery must pass a default deny)");
	CHECK(!tcp_probe("c", E("b")->ip4, 5432, E("b")->tcp5432), "c -> b:5432 not dropped");
	CHECK(!tcp_probe("c", E("b")->ip6, 5432, E("b")->tcp5432), "c -> b:5432 v6 not dropped");
	CHECK(tcp_probe("c", E("a")->ip4, 5432, E("a")->tcp5432), "c -> a (no rules) blocked");
	CHECK(!tcp_probe("a", E("b")->ip4, 80, E("b")->tcp80), "a -> b:80 not dropped");
	CHECK(!udp_probe("a", E("b")->ip4, 5432, E("b")->udp5432), "a -> b udp/5432 arrived");
	CHECK(udp_probe("a", E("c")->ip4, 5432, E("c")->udp5432), "a -> c udp/5432 blocked");
	CHECK(!ping_probe("a", E("b")->ip4), "ping a -> b answered without an icmp rule");
	CHECK(ping_probe("a", E("c")->ip4), "ping a -> c (no rules) not answered");
	printf("ok: b accepts tcp/5432 from a only; udp and icmp dropped; c and a unaffected\n");
	rules_free(p);

	/* an icmp rule lets the ping through */
	p = policy("{\"default\":\"deny\",\"rules\":[{\"from\":\"group:web\",\"to\":\"group:db\","
		   "\"proto\":\"tcp\",\"ports\":[5432],\"action\":\"allow\"},"
		   "{\"from\":\"endpoint:a\",\"to\":\"b\",\"proto\":\"icmp\",\"action\":\"allow\"}]}");
	apply(p, "b");
	CHECK(ping_probe("a", E("b")->ip4), "ping a -> b with an icmp rule");
	CHECK(!ping_probe("c", E("b")->ip4), "ping c -> b answered");
	CHECK(ping_probe("c", E("a")->ip4), "ping c -> a not answered");
	printf("ok: icmp only with an icmp rule\n");

	/* --- an established connection across replacements --- */
	lfd = E("b")->tcp5432;
	drain(lfd);
	c = sock_in("a", AF_INET, SOCK_STREAM, 0);
	CHECK(connect_to(c, E("b")->ip4, 5432, 3000) == 0, "a -> b:5432");
	CHECK(wait_readable(lfd, 3000), "no connection arrived");
	s = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	CHECK(s >= 0, "accept: %m");
	transfer(c, s, "before");
	transfer(s, c, "before, back");
	rules_free(p);
	/* another allow-set that still allows it */
	p = policy("{\"default\":\"deny\",\"rules\":[{\"from\":\"cidr:10.78.0.0/24\",\"to\":\"b\","
		   "\"proto\":\"tcp\",\"ports\":[\"5430-5440\"],\"action\":\"allow\"},"
		   "{\"from\":\"group:other\",\"to\":\"any\",\"proto\":\"udp\",\"action\":\"deny\"}]}");
	apply(p, "b");
	transfer(c, s, "after an allowing replacement");
	transfer(s, c, "and back");
	pump(c, s, 1 << 20);
	rules_free(p);
	/* one that denies new connections from a: the established one stays */
	p = policy("{\"default\":\"deny\",\"rules\":[{\"from\":\"endpoint:a\",\"to\":\"b\","
		   "\"action\":\"deny\"},{\"from\":\"any\",\"to\":\"b\",\"proto\":\"tcp\","
		   "\"ports\":[5432],\"action\":\"allow\"}]}");
	apply(p, "b");
	CHECK(!tcp_probe("a", E("b")->ip4, 5432, -1), "a new a -> b:5432 connection came up");
	CHECK(!wait_readable(lfd, 0), "b's listener saw the denied connection");
	CHECK(tcp_probe("c", E("b")->ip4, 5432, lfd), "c -> b:5432 (allowed by the 2nd rule)");
	transfer(c, s, "established survives a deny");
	transfer(s, c, "both ways");
	pump(c, s, 1 << 20);
	pump(s, c, 1 << 20);
	printf("ok: established a -> b survives replacements, also one denying new ones "
	       "(1 MiB each way after it)\n");
	rules_free(p);

	/* the same rules again are not reloaded (the rule handles stay), but
	 * a table changed behind csd's back is repaired by the next load */
	{
		static struct nft_list l1, l2;
		double t_same, t_new;

		p = policy("{\"default\":\"deny\",\"rules\":[{\"from\":\"endpoint:a\",\"to\":\"b\","
			   "\"action\":\"deny\"},{\"from\":\"any\",\"to\":\"b\",\"proto\":\"tcp\","
			   "\"ports\":[5432],\"action\":\"allow\"}]}");

		t_new = apply(p, "b");
		nft_in("b", &l1, "list table inet cs");
		t_same = apply(p, "b");
		nft_in("b", &l2, "list table inet cs");
		CHECK(l1.rc == 0 && !strcmp(l1.out, l2.out),
		      "the same rules were reloaded (handles changed):\n%s\n---\n%s", l1.out, l2.out);
		nft_in("b", &l1, "delete table inet cs");
		CHECK(l1.rc == 0 && !has_table("b"), "could not remove b's table by hand");
		apply(p, "b");
		CHECK(has_table("b"), "a table removed by hand was not put back by the next load");
		CHECK(!tcp_probe("a", E("b")->ip4, 5432, -1), "a -> b:5432 passed after the repair");
		nft_in("b", &l1, "add rule inet cs input tcp dport 4444 accept");
		apply(p, "b");
		nft_in("b", &l2, "list table inet cs");
		CHECK(!strstr(l2.out, "tcp dport 4444 accept"), "a rule added by hand survived:\n%s",
		      l2.out);
		printf("ok: the same rules again: not reloaded (%.2f ms, %.2f ms before); drift "
		       "repaired\n", t_same, t_new);
		rules_free(p);
	}

	/* a refused rule set leaves the old one in place */
	{
		struct vnet_fw_rule bad = { .action = VNET_FW_ALLOW, .proto = IPPROTO_ICMP,
					    .port_lo = 1, .port_hi = 2 };
		struct vnet_fw bfw = { .dflt = VNET_FW_ALLOW, .rules = &bad, .n = 1 };

		r = ops->endpoint_policy(be, T, V, "b", &bfw);
		CHECK(r == CS_EINVAL && strstr(vnet_backend_error(be), "acme/blue/b"),
		      "icmp with ports: %d %s", r, vnet_backend_error(be));
		CHECK(!tcp_probe("a", E("b")->ip4, 5432, -1), "old rules gone after a refusal");
		drain(lfd);
		transfer(c, s, "still");
	}

	/* --- fw NULL removes the table; twice is fine --- */
	OK(ops->endpoint_policy(be, T, V, "b", NULL));
	CHECK(!has_table("b"), "table inet cs left in b");
	OK(ops->endpoint_policy(be, T, V, "b", NULL));
	CHECK(tcp_probe("c", E("b")->ip4, 5432, lfd), "c -> b after the rules went");
	CHECK(udp_probe("c", E("b")->ip4, 5432, E("b")->udp5432), "c -> b udp after removal");
	transfer(c, s, "after removal");
	printf("ok: fw NULL removes table inet cs (and again: 0)\n");

	/* --- the data path matches rules_eval for a 3-group vnet --- */
	p = policy("{\"default\":\"deny\",\"rules\":["
		   "{\"from\":\"group:web\",\"to\":\"group:db\",\"proto\":\"tcp\","
		   " \"ports\":[5432],\"action\":\"allow\"},"
		   "{\"from\":\"group:other\",\"to\":\"group:web\",\"proto\":\"tcp\","
		   " \"ports\":[\"80-90\"],\"action\":\"allow\"},"
		   "{\"from\":\"group:other\",\"to\":\"any\",\"proto\":\"icmp\",\"action\":\"deny\"},"
		   "{\"from\":\"any\",\"to\":\"group:web\",\"proto\":\"icmp\",\"action\":\"allow\"},"
		   "{\"from\":\"group:db\",\"to\":\"any\",\"proto\":\"udp\",\"ports\":[5353],"
		   " \"action\":\"allow\"},"
		   "{\"from\":\"group:web\",\"to\":\"group:other\",\"action\":\"allow\"}]}");
	for (i = 0; i < 3; i++)
		apply(p, eps[i].name);
	matrix(p);
	transfer(c, s, "the connection lived through it all");
	rules_free(p);
	for (i = 0; i < 3; i++)
		OK(ops->endpoint_policy(be, T, V, eps[i].name, NULL));

	/* --- 1000 rules --- */
	{
		enum { N = 1000, RUNS = 11 };
		static struct vnet_fw_rule r1[N], r2[N];
		static struct cs_prefix s1[N], s2[N];
		struct vnet_fw f1, f2;
		double times[RUNS], t0;
		static struct nft_list l;
		const char *q;
		int naccept = 0;

		big_set(&f1, r1, s1, N, 20000);
		big_set(&f2, r2, s2, N, 30000);
		for (i = 0; i < RUNS; i++) {
			t0 = now_ms();
			OK(ops->endpoint_policy(be, T, V, "b", i % 2 ? &f1 : &f2));
			times[i] = now_ms() - t0;
		}
		qsort(times, RUNS, sizeof(times[0]), cmp_double);
		nft_in("b", &l, "list chain inet cs input");
		CHECK(l.rc == 0, "list chain");
		for (q = l.out; (q = strstr(q, "dport 30")); q++)
			naccept++;
		CHECK(naccept == N - 1, "%d rules of the last set in the chain", naccept);
		CHECK(!strstr(l.out, "dport 20"), "rules of the set before left behind");
		CHECK(tcp_probe("a", E("b")->ip4, 5432, lfd), "a -> b (the 1000th rule)");
		CHECK(!tcp_probe("c", E("b")->ip4, 5432, lfd), "c -> b with 1000 rules");
		transfer(c, s, "after 1000 rules");
		printf("1000 rules replaced: median %.1f ms (min %.1f, max %.1f) over %d runs\n",
		       (times[RUNS / 2]), times[0], times[RUNS - 1], RUNS);
	}

	/* --- teardown --- */
	close(c);
	close(s);
	for (i = 0; i < 3; i++) {
		close(eps[i].tcp5432);
		close(eps[i].tcp80);
		close(eps[i].udp5432);
		close(eps[i].udp5353);
		OK(ops->endpoint_destroy(be, T, V, eps[i].name));
	}
	OK(ops->vnet_destroy(be, T, V));
	{
		char pfx[VNET_PREFIX_MAX + 2], **names;
		size_t n;

		snprintf(pfx, sizeof(pfx), "%s.", prefix);
		CHECK(netns_list(pfx, &names, &n) == 0 && n == 0, "%zu namespaces left", n);
		free(names);
	}
	ops->close(be);
	be = NULL;
	printf("PASS: %d checks\n", checks);
	return 0;
}
