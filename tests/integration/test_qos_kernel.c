/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QoS in the kernel backend against the real kernel: HTB on an endpoint's
 * eth0 holds what it sends to its rate (one sender; three at once to one
 * receiver), removing it unshapes, setting it twice changes nothing,
 * changing it applies. Traffic is our own TCP over sockets from
 * endpoint_socket(), counted at the receiver, so no process is started.
 * Prints the measured rates, an accuracy table at 10, 100 and 500 Mbit/s
 * and the time from the call to enforcement. Needs root; exits 77
 * otherwise. Every namespace carries the prefix "q<pid in hex>" and is
 * removed at exit on every path.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/route/class.h>
#include <netlink/route/link.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/fifo.h>
#include <netlink/route/qdisc/htb.h>

#include "cs/cs.h"
#include "vnet/netns.h"
#include "vnet/vnet.h"

#define MBIT 1000000ULL
#define T "acme"
#define V "qos"
#define RX_IP "10.78.0.9"
/* per TCP segment of MSS payload, HTB counts Ethernet 14 + IPv4 20 +
 * TCP 20 + timestamps 12 bytes more */
#define FRAME_OVERHEAD 66
#define WARM_S 0.7
#define WINDOW_S 2.5

#include "ktest.h"

static struct cs_addr addr(const char *s)
{
	struct cs_addr a = { .family = AF_INET };

	CHECK(inet_pton(AF_INET, s, a.a) == 1, "bad address %s", s);
	return a;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
	struct timespec ts = { .tv_sec = (time_t)s, .tv_nsec = (long)((s - (time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* --- traffic --- */

static int listener(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd, one = 1;

	fd = ops->endpoint_socket(be, T, V, "r", AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0, "socket in r: %s", vnet_backend_error(be));
	inet_pton(AF_INET, RX_IP, &sa.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "bind: %m");
	CHECK(listen(fd, 16) == 0, "listen: %m");
	return fd;
}

struct flow {
	const char *from;	/* sending endpoint */
	int tx, rx;
	int mss;
	_Atomic uint64_t got;	/* bytes received */
	pthread_t th;
};

static atomic_bool stop;
static void qos_set(const char *ep, uint64_t rate, uint64_t ceil, enum vnet_qos_class cls);

static void connect_flow(struct flow *f, int lfd, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	socklen_t len = sizeof(f->mss);

	f->tx = ops->endpoint_socket(be, T, V, f->from, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(f->tx >= 0, "socket in %s: %s", f->from, vnet_backend_error(be));
	inet_pton(AF_INET, RX_IP, &sa.sin_addr);
	CHECK(connect(f->tx, (struct sockaddr *)&sa, sizeof(sa)) == 0, "%s -> r: %m", f->from);
	CHECK(poll(&p, 1, 3000) == 1, "no connection from %s", f->from);
	f->rx = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	CHECK(f->rx >= 0, "accept: %m");
	fcntl(f->tx, F_SETFL, fcntl(f->tx, F_GETFL) | O_NONBLOCK);
	CHECK(getsockopt(f->tx, IPPROTO_TCP, TCP_MAXSEG, &f->mss, &len) == 0, "mss: %m");
	atomic_store(&f->got, 0);
}

static void *sender(void *arg)
{
	static const char chunk[128 * 1024];
	struct flow *f = arg;
	struct pollfd p = { .fd = f->tx, .events = POLLOUT };

	while (!atomic_load(&stop)) {
		if (poll(&p, 1, 100) <= 0)
			continue;
		if (send(f->tx, chunk, sizeof(chunk), MSG_NOSIGNAL) < 0 && errno != EAGAIN)
			break;
	}
	return NULL;
}

struct rx_job {
	struct flow *f;
	int n;
};

static void *receiver(void *arg)
{
	static char buf[256 * 1024];
	struct rx_job *job = arg;
	struct pollfd p[8];
	int i;
	ssize_t n;

	for (i = 0; i < job->n; i++)
		p[i] = (struct pollfd){ .fd = job->f[i].rx, .events = POLLIN };
	while (!atomic_load(&stop)) {
		if (poll(p, job->n, 100) <= 0)
			continue;
		for (i = 0; i < job->n; i++) {
			if (!(p[i].revents & POLLIN))
				continue;
			while ((n = recv(p[i].fd, buf, sizeof(buf), 0)) > 0)
				atomic_fetch_add(&job->f[i].got, (uint64_t)n);
		}
	}
	return NULL;
}

/*
 * All @n flows send at once, as fast as they may; after a warm-up (slow
 * start, the HTB burst) count what arrives in a window. @mbps gets the
 * goodput of each, @l2 what HTB counts (the frames carrying it).
 */
static void measure(struct flow *f, int n, double *mbps, double *l2)
{
	static int port = 6000;
	struct rx_job job = { .f = f, .n = n };
	uint64_t b0[8], b1[8];
	pthread_t rth;
	double t0, t1;
	int lfd, i;

	lfd = listener(++port);
	for (i = 0; i < n; i++)
		connect_flow(&f[i], lfd, port);
	atomic_store(&stop, false);
	CHECK(pthread_create(&rth, NULL, receiver, &job) == 0, "thread");
	for (i = 0; i < n; i++)
		CHECK(pthread_create(&f[i].th, NULL, sender, &f[i]) == 0, "thread");
	sleep_s(WARM_S);
	t0 = now_s();
	for (i = 0; i < n; i++)
		b0[i] = atomic_load(&f[i].got);
	sleep_s(WINDOW_S);
	t1 = now_s();
	for (i = 0; i < n; i++)
		b1[i] = atomic_load(&f[i].got);
	atomic_store(&stop, true);
	for (i = 0; i < n; i++)
		pthread_join(f[i].th, NULL);
	pthread_join(rth, NULL);
	for (i = 0; i < n; i++) {
		mbps[i] = (b1[i] - b0[i]) * 8 / (t1 - t0) / 1e6;
		l2[i] = mbps[i] * (f[i].mss + FRAME_OVERHEAD) / f[i].mss;
		close(f[i].tx);
		close(f[i].rx);
	}
	close(lfd);
}

static double measure1(const char *from, double *l2)
{
	struct flow f = { .from = from };
	double m, l;

	measure(&f, 1, &m, &l);
	if (l2)
		*l2 = l;
	return m;
}

static void within(const char *what, double measured, double want, double tol)
{
	CHECK(measured >= want * (1 - tol) && measured <= want * (1 + tol),
	      "%s: measured %.2f Mbit/s, want %.1f +-%.0f%%", what, measured, want, tol * 100);
}

/*
 * From the call to the moment traffic obeys: an unshaped flow from @from
 * runs, QoS @rate is set, and arrivals are sampled. Enforced from the first
 * sample after which nothing arrives faster than the rate allows (+10%,
 * plus 128 KB of slack for the burst and what already crossed the qdisc).
 * Counted at the receiver, so it is an upper bound: it includes draining
 * the receiver's socket buffer. Returns µs after the call began.
 */
#define NSAMPLES 3000
static double enforcement_us(const char *from, uint64_t rate)
{
	static double ts[NSAMPLES];
	static uint64_t got[NSAMPLES];
	struct flow f = { .from = from };
	struct rx_job job = { .f = &f, .n = 1 };
	struct timespec nap = { .tv_nsec = 200000 };
	double t0, allowed;
	pthread_t rth;
	int lfd, i, j, k;

	lfd = listener(5900);
	connect_flow(&f, lfd, 5900);
	atomic_store(&stop, false);
	CHECK(pthread_create(&rth, NULL, receiver, &job) == 0, "thread");
	CHECK(pthread_create(&f.th, NULL, sender, &f) == 0, "thread");
	sleep_s(0.3);
	t0 = now_s();
	qos_set(from, rate, 0, VNET_QOS_BULK);
	for (i = 0; i < NSAMPLES; i++) {
		ts[i] = now_s();
		got[i] = atomic_load(&f.got);
		nanosleep(&nap, NULL);
	}
	atomic_store(&stop, true);
	pthread_join(f.th, NULL);
	pthread_join(rth, NULL);
	close(f.tx);
	close(f.rx);
	close(lfd);
	OK(ops->endpoint_qos(be, T, V, from, NULL));

	/* the earliest k from which every later sample obeys the rate */
	for (k = NSAMPLES - 2; k >= 0; k--) {
		for (j = k + 1; j < NSAMPLES; j++) {
			allowed = rate / 8.0 * 1.1 * (ts[j] - ts[k]) + 128 * 1024;
			if (got[j] - got[k] > allowed)
				break;
		}
		if (j < NSAMPLES)
			break;
	}
	return (ts[k + 1] - t0) * 1e6;
}

/* --- looking at tc inside the endpoint --- */

struct tc_query {
	bool root;		/* a root qdisc other than the default */
	char kind[16];
	uint32_t handle, defcls;
	bool cls;		/* class 1:10 found */
	uint64_t rate, ceil;	/* bytes/s */
	uint32_t prio, nclasses;
	uint64_t bytes;		/* sent through the class */
};

static int tc_query_fn(void *arg)
{
	struct tc_query *q = arg;
	struct nl_sock *sk = nl_socket_alloc();
	struct nl_cache *qc = NULL, *cc = NULL;
	struct rtnl_link *l = NULL;
	struct rtnl_qdisc *root = NULL;
	struct rtnl_class *cl = NULL;
	struct nl_object *o;
	int ifindex;

	memset(q, 0, sizeof(*q));
	if (!sk || nl_connect(sk, NETLINK_ROUTE) < 0)
		goto out;
	if (rtnl_link_get_kernel(sk, 0, "eth0", &l) < 0)
		goto out;
	ifindex = rtnl_link_get_ifindex(l);
	if (rtnl_qdisc_alloc_cache(sk, &qc) < 0)
		goto out;
	root = rtnl_qdisc_get_by_parent(qc, ifindex, TC_H_ROOT);
	if (root && rtnl_tc_get_handle(TC_CAST(root))) {
		q->root = true;
		snprintf(q->kind, sizeof(q->kind), "%s", rtnl_tc_get_kind(TC_CAST(root)));
		q->handle = rtnl_tc_get_handle(TC_CAST(root));
		if (!strcmp(q->kind, "htb"))
			q->defcls = rtnl_htb_get_defcls(root);
	}
	if (!q->root || rtnl_class_alloc_cache(sk, ifindex, &cc) < 0)
		goto out;
	for (o = nl_cache_get_first(cc); o; o = nl_cache_get_next(o))
		q->nclasses++;
	cl = rtnl_class_get(cc, ifindex, TC_HANDLE(1, 0x10));
	if (cl) {
		q->cls = true;
		rtnl_htb_get_rate64(cl, &q->rate);
		rtnl_htb_get_ceil64(cl, &q->ceil);
		q->prio = rtnl_htb_get_prio(cl);
		q->bytes = rtnl_tc_get_stat(TC_CAST(cl), RTNL_TC_BYTES);
	}
out:
	if (cl)
		rtnl_class_put(cl);
	if (cc)
		nl_cache_free(cc);
	if (root)
		rtnl_qdisc_put(root);
	if (qc)
		nl_cache_free(qc);
	if (l)
		rtnl_link_put(l);
	if (sk)
		nl_socket_free(sk);
	return 0;
}

static struct tc_query tc_query(const char *ep)
{
	struct tc_query q;
	char ns[128], err[256];
	int fd;

	snprintf(ns, sizeof(ns), "%s." T "." V ".%s", prefix, ep);
	fd = netns_open(ns, err, sizeof(err));
	CHECK(fd >= 0, "%s", err);
	CHECK(netns_run(fd, tc_query_fn, &q, err, sizeof(err)) == 0, "%s", err);
	close(fd);
	return q;
}

/* A foreign root qdisc, as an operator's `tc qdisc add ... root pfifo` leaves it. */
static int foreign_fn(void *arg)
{
	struct nl_sock *sk = nl_socket_alloc();
	struct rtnl_link *l = NULL;
	struct rtnl_qdisc *q = rtnl_qdisc_alloc();
	int *r = arg;

	*r = -1;
	if (!sk || !q || nl_connect(sk, NETLINK_ROUTE) < 0)
		goto out;
	if (rtnl_link_get_kernel(sk, 0, "eth0", &l) < 0)
		goto out;
	rtnl_tc_set_ifindex(TC_CAST(q), rtnl_link_get_ifindex(l));
	rtnl_tc_set_parent(TC_CAST(q), TC_H_ROOT);
	rtnl_tc_set_handle(TC_CAST(q), TC_HANDLE(5, 0));
	rtnl_tc_set_kind(TC_CAST(q), "pfifo");
	rtnl_qdisc_fifo_set_limit(q, 100);
	*r = rtnl_qdisc_add(sk, q, NLM_F_CREATE | NLM_F_REPLACE);
out:
	if (q)
		rtnl_qdisc_put(q);
	if (l)
		rtnl_link_put(l);
	if (sk)
		nl_socket_free(sk);
	return 0;
}

static void qos_set(const char *ep, uint64_t rate, uint64_t ceil, enum vnet_qos_class cls)
{
	struct vnet_qos q = { .rate = rate, .ceil = ceil, .cls = cls };

	OK(ops->endpoint_qos(be, T, V, ep, &q));
}

static double usecs_since(double t0)
{
	return (now_s() - t0) * 1e6;
}

int main(void)
{
	struct vnet_spec vs = { .tenant = T, .name = V, .has4 = true };
	struct endpoint_spec eps[] = {
		{ .name = "a", .has4 = true }, { .name = "b", .has4 = true },
		{ .name = "c", .has4 = true }, { .name = "r", .has4 = true },
	};
	static const char *const ips[] = { "10.78.0.2", "10.78.0.3", "10.78.0.4", RX_IP };
	struct vnet_backend_config cfg;
	struct tc_query q, q2;
	double m, l2, t0, times[20];
	size_t i;
	int r;

	if (geteuid() != 0) {
		fprintf(stderr, "test_qos_kernel: needs root (network namespaces, tc); skipped\n");
		return 77;
	}
	snprintf(prefix, sizeof(prefix), "q%x", (unsigned int)getpid() & 0xffffffu);
	ktest_guard(170);

	ops = vnet_ops_find("kernel");
	CHECK(ops, "no kernel backend");
	cfg = (struct vnet_backend_config){ .prefix = prefix, .run_dir = "/tmp" };
	r = ops->open(&cfg, &be);
	CHECK(r == 0, "open: %d %s", r, be ? vnet_backend_error(be) : "");

	/* a VNI of our own, should another run share the host */
	vs.id = 0x780000 + ((unsigned int)getpid() & 0xffff);
	vs.subnet4.addr = addr("10.78.0.0");
	vs.subnet4.plen = 24;
	OK(ops->vnet_ensure(be, &vs));
	for (i = 0; i < sizeof(eps) / sizeof(eps[0]); i++) {
		eps[i].addr4 = addr(ips[i]);
		OK(ops->endpoint_ensure(be, &vs, &eps[i]));
	}

	/* refusals, next to what is allowed */
	{
		struct vnet_qos bad = { .rate = 0 };

		r = ops->endpoint_qos(be, T, V, "a", &bad);
		CHECK(r == CS_EINVAL, "zero rate: %d", r);
		bad = (struct vnet_qos){ .rate = 20 * MBIT, .ceil = 10 * MBIT };
		r = ops->endpoint_qos(be, T, V, "a", &bad);
		CHECK(r == CS_EINVAL, "ceil below rate: %d", r);
		CHECK(strstr(vnet_backend_error(be), "acme/qos/a"), "message: %s",
		      vnet_backend_error(be));
		bad = (struct vnet_qos){ .rate = 20 * MBIT, .cls = 9 };
		CHECK(ops->endpoint_qos(be, T, V, "a", &bad) == CS_EINVAL, "class 9");
		bad = (struct vnet_qos){ .rate = MBIT, .burst = 1ULL << 40 };
		CHECK(ops->endpoint_qos(be, T, V, "a", &bad) == CS_EINVAL, "huge burst");
		bad = (struct vnet_qos){ .rate = 20 * MBIT };
		r = ops->endpoint_qos(be, T, V, "nope", &bad);
		CHECK(r == CS_ENOENT, "missing endpoint: %d", r);
		CHECK(strstr(vnet_backend_error(be), "acme/qos/nope") &&
		      strstr(vnet_backend_error(be), prefix), "message: %s",
		      vnet_backend_error(be));
		OK(ops->endpoint_qos(be, T, V, "nope", NULL));
		/* nothing to remove yet */
		OK(ops->endpoint_qos(be, T, V, "a", NULL));
		q = tc_query("a");
		CHECK(!q.root, "a root qdisc %s appeared", q.kind);
		printf("ok: refusals (zero rate, ceil < rate, class, burst, missing endpoint)\n");
	}

	/* --- one sender at 50 Mbit/s --- */
	qos_set("a", 50 * MBIT, 0, VNET_QOS_BULK);
	q = tc_query("a");
	CHECK(q.root && !strcmp(q.kind, "htb") && q.handle == TC_HANDLE(1, 0) && q.defcls == 0x10,
	      "root %s %#x defcls %#x", q.kind, q.handle, q.defcls);
	CHECK(q.cls && q.rate == 50 * MBIT / 8 && q.ceil == 50 * MBIT / 8 && q.prio == 2,
	      "class rate %llu ceil %llu prio %u", (unsigned long long)q.rate,
	      (unsigned long long)q.ceil, q.prio);
	m = measure1("a", &l2);
	printf("one sender, 50 Mbit/s reserved: %.2f Mbit/s goodput, %.2f Mbit/s in frames\n", m,
	       l2);
	within("one sender at 50", m, 50, 0.10);

	/* twice is once: same qdisc, same class, counters not reset */
	q = tc_query("a");
	qos_set("a", 50 * MBIT, 0, VNET_QOS_BULK);
	q2 = tc_query("a");
	CHECK(q2.handle == q.handle && q2.rate == q.rate && q2.ceil == q.ceil &&
	      q2.prio == q.prio && q2.nclasses == q.nclasses && q2.bytes >= q.bytes &&
	      q.bytes > 0, "second call changed: handle %#x/%#x rate %llu/%llu bytes %llu/%llu",
	      q.handle, q2.handle, (unsigned long long)q.rate, (unsigned long long)q2.rate,
	      (unsigned long long)q.bytes, (unsigned long long)q2.bytes);
	printf("ok: the same QoS twice keeps qdisc 1:, class 1:10 and its %llu bytes sent\n",
	       (unsigned long long)q2.bytes);

	/* changing it applies, in place */
	qos_set("a", 20 * MBIT, 0, VNET_QOS_INTERACTIVE);
	q2 = tc_query("a");
	CHECK(q2.rate == 20 * MBIT / 8 && q2.prio == 1 && q2.bytes >= q.bytes,
	      "rate %llu prio %u bytes %llu", (unsigned long long)q2.rate, q2.prio,
	      (unsigned long long)q2.bytes);
	m = measure1("a", &l2);
	printf("changed to 20 Mbit/s: %.2f Mbit/s goodput, %.2f in frames\n", m, l2);
	within("changed to 20", m, 20, 0.10);

	/* borrowing up to ceil */
	qos_set("a", 20 * MBIT, 40 * MBIT, VNET_QOS_BULK);
	q2 = tc_query("a");
	CHECK(q2.rate == 20 * MBIT / 8 && q2.ceil == 40 * MBIT / 8, "ceil %llu",
	      (unsigned long long)q2.ceil);
	m = measure1("a", &l2);
	printf("20 Mbit/s, ceil 40: %.2f Mbit/s goodput (alone, it borrows up to the ceil)\n", m);
	within("ceil 40", m, 40, 0.10);

	/* --- three senders at once to one receiver --- */
	{
		struct flow f[3] = { { .from = "a" }, { .from = "b" }, { .from = "c" } };
		double want[3] = { 20, 30, 50 }, mb[3], fr[3];

		for (i = 0; i < 3; i++)
			qos_set(f[i].from, (uint64_t)want[i] * MBIT, 0, VNET_QOS_BULK);
		measure(f, 3, mb, fr);
		for (i = 0; i < 3; i++) {
			printf("three at once: %s reserved %.0f Mbit/s, measured %.2f goodput, "
			       "%.2f in frames\n", f[i].from, want[i], mb[i], fr[i]);
			within(f[i].from, mb[i], want[i], 0.10);
		}
	}

	/* --- removing it unshapes --- */
	OK(ops->endpoint_qos(be, T, V, "a", NULL));
	q = tc_query("a");
	CHECK(!q.root, "root qdisc %s %#x left", q.kind, q.handle);
	OK(ops->endpoint_qos(be, T, V, "a", NULL));
	m = measure1("a", &l2);
	printf("unshaped: %.0f Mbit/s\n", m);
	CHECK(m > 200, "unshaped only %.1f Mbit/s", m);

	/* a foreign root qdisc is replaced; removing removes what is there */
	{
		char ns[128], err[256];
		int fd, fr;

		snprintf(ns, sizeof(ns), "%s." T "." V ".a", prefix);
		fd = netns_open(ns, err, sizeof(err));
		CHECK(fd >= 0, "%s", err);
		CHECK(netns_run(fd, foreign_fn, &fr, err, sizeof(err)) == 0 && fr == 0,
		      "foreign qdisc: %d", fr);
		close(fd);
		q = tc_query("a");
		CHECK(q.root && !strcmp(q.kind, "pfifo"), "no foreign root: %s", q.kind);
		qos_set("a", 30 * MBIT, 0, VNET_QOS_REALTIME);
		q = tc_query("a");
		CHECK(!strcmp(q.kind, "htb") && q.handle == TC_HANDLE(1, 0) && q.cls &&
		      q.rate == 30 * MBIT / 8 && q.prio == 0, "after foreign: %s %#x",
		      q.kind, q.handle);
		OK(ops->endpoint_qos(be, T, V, "a", NULL));
		printf("ok: a foreign root qdisc is replaced\n");
	}

	/* --- time from the call to enforcement --- */
	{
		/* the netlink ack comes after the kernel installed the class:
		 * when the call returns, the next packet is shaped */
		for (i = 0; i < 20; i++) {
			t0 = now_s();
			qos_set("b", (i % 2 ? 40 : 60) * MBIT, 0, VNET_QOS_BULK);
			times[i] = usecs_since(t0);
		}
		printf("time to enforcement, changing a rate: median %.0f us (20 calls)\n",
		       median(times, 20));
		for (i = 0; i < 10; i++) {
			OK(ops->endpoint_qos(be, T, V, "c", NULL));
			t0 = now_s();
			qos_set("c", 50 * MBIT, 0, VNET_QOS_BULK);
			times[i] = usecs_since(t0);
		}
		printf("time to enforcement, shaping an unshaped endpoint: median %.0f us "
		       "(10 calls)\n", median(times, 10));
		for (i = 0; i < 20; i++) {
			t0 = now_s();
			qos_set("c", 50 * MBIT, 0, VNET_QOS_BULK);
			times[i] = usecs_since(t0);
		}
		printf("time of a call that changes nothing: median %.0f us (20 calls)\n",
		       median(times, 20));
		for (i = 0; i < 5; i++)
			times[i] = enforcement_us("b", 20 * MBIT);
		m = median(times, 5);
		printf("time from the call until an unshaped flow obeys 20 Mbit/s, at the "
		       "receiver: median %.0f us (5 runs, %.0f..%.0f)\n", m, times[0], times[4]);
		CHECK(m < 100000, "enforcement took %.0f us", m);
		OK(ops->endpoint_qos(be, T, V, "b", NULL));
		OK(ops->endpoint_qos(be, T, V, "c", NULL));
	}

	/* --- accuracy --- */
	{
		static const uint64_t rates[] = { 10, 100, 500 };
		double mb[3], fr[3];

		for (i = 0; i < 3; i++) {
			qos_set("a", rates[i] * MBIT, 0, VNET_QOS_BULK);
			mb[i] = measure1("a", &fr[i]);
		}
		printf("\naccuracy (one TCP flow, %.1f s window):\n", WINDOW_S);
		printf("  reserved   goodput     frames   frames/reserved\n");
		for (i = 0; i < 3; i++)
			printf("  %4llu Mbit  %7.2f  %9.2f   %6.3f\n", (unsigned long long)rates[i],
			       mb[i], fr[i], fr[i] / rates[i]);
		within("accuracy at 10", mb[0], 10, 0.10);
		within("accuracy at 100", mb[1], 100, 0.10);
		/* 500 may be limited by this machine's CPU: reported, not held to */
		if (mb[2] < 450 || mb[2] > 550)
			printf("note: 500 Mbit/s measured %.1f, outside +-10%%\n", mb[2]);
	}

	OK(ops->endpoint_qos(be, T, V, "a", NULL));
	printf("ok: %d checks\n", checks);
	return 0;
}
