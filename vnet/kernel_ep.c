/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What an endpoint's namespace needs beyond its address so that ordinary
 * programs behave as on any host (DESIGN "Ordinary expectations"):
 *
 * - any port bindable: net.ipv4.ip_unprivileged_port_start = 0, so a
 *   program run by cs-ctl exec as its caller's uid may listen on 80; the
 *   namespace holds nothing but the endpoint, so low ports protect nothing
 *   there. ping sockets for every group likewise (no raw sockets needed).
 * - multicast without naming an interface: routes 224.0.0.0/4 and
 *   ff00::/8 on eth0, so a sendto() to 239.1.1.1 finds a route (without
 *   one the kernel answers "Network is unreachable", as only the subnet's
 *   route exists).
 *
 * The sysctls are written by a thread inside the namespace when its eth0 is
 * made (netns_sysctl_write: /proc/sys/net is the namespace of the thread
 * that opens it), never by running sysctl; the routes on every ensure
 * (idempotent), so drift is repaired.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/route/route.h>

#include "cs/cs.h"
#include "kernel_priv.h"
#include "netns.h"

static const char *const ep_sysctls[][2] = {
	{ "net/ipv4/ping_group_range", "0 2147483647\n" },
	{ "net/ipv4/ip_unprivileged_port_start", "0\n" },
};

/* Runs inside the endpoint's namespace; *arg: the sysctl that failed. */
static int sysctls_fn(void *arg)
{
	const char **failed = arg;

	for (size_t i = 0; i < sizeof(ep_sysctls) / sizeof(ep_sysctls[0]); i++) {
		if (netns_sysctl_write(ep_sysctls[i][0], ep_sysctls[i][1]) < 0) {
			*failed = ep_sysctls[i][0];
			return CS_EIO;
		}
	}
	return 0;
}

int kernel_ep_sysctls(struct kernel_backend *kb, int efd, const char *what, const char *ens)
{
	const char *failed = NULL;
	char err[256];
	int r = netns_run(efd, sysctls_fn, &failed, err, sizeof(err));

	if (r < 0)
		kernel_err(kb, "%s: cannot write /proc/sys/%s in namespace %s%s%s", what,
			   failed ? failed : "net", ens, failed ? "" : ": ", failed ? "" : err);
	return r;
}

/* One route to @dst (a prefix in text) on link @ifindex, replaced if it
 * exists so that a repeated ensure changes nothing. */
static int route_on_link(struct nl_sock *sk, int ifindex, int family, const char *dst)
{
	struct rtnl_route *rt = rtnl_route_alloc();
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	struct nl_addr *a = NULL;
	int r;

	if (!rt || !nh) {
		r = -NLE_NOMEM;
		goto out;
	}
	if ((r = nl_addr_parse(dst, family, &a)) < 0)
		goto out;
	rtnl_route_set_family(rt, (uint8_t)family);
	rtnl_route_set_table(rt, RT_TABLE_MAIN);
	rtnl_route_set_protocol(rt, RTPROT_STATIC);
	rtnl_route_set_scope(rt, RT_SCOPE_LINK);
	rtnl_route_set_type(rt, RTN_UNICAST);
	if ((r = rtnl_route_set_dst(rt, a)) < 0)
		goto out;
	rtnl_route_nh_set_ifindex(nh, ifindex);
	rtnl_route_add_nexthop(rt, nh);
	nh = NULL; /* the route owns it */
	r = rtnl_route_add(sk, rt, NLM_F_CREATE | NLM_F_REPLACE);
out:
	if (nh)
		rtnl_route_nh_free(nh);
	if (a)
		nl_addr_put(a);
	if (rt)
		rtnl_route_put(rt);
	return r;
}

int kernel_ep_routes(struct kernel_backend *kb, struct nl_sock *esk, int ifindex, bool has4,
		     bool has6, const char *what, const char *ens)
{
	static const struct {
		int family;
		const char *dst;
	} mcast[] = { { AF_INET, "224.0.0.0/4" }, { AF_INET6, "ff00::/8" } };

	for (size_t i = 0; i < sizeof(mcast) / sizeof(mcast[0]); i++) {
		if ((mcast[i].family == AF_INET && !has4) || (mcast[i].family == AF_INET6 && !has6))
			continue;
		int r = route_on_link(esk, ifindex, mcast[i].family, mcast[i].dst);
		if (r < 0) {
			kernel_err(kb, "%s: cannot add the multicast route %s on " EP_DEV
				   " in namespace %s: %s", what, mcast[i].dst, ens, nl_geterror(r));
			return CS_EIO;
		}
	}
	return 0;
}
