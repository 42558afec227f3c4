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
 * - /etc/netns/NETNS/resolv.conf naming the vnet's gateway (below).
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
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
	size_t at = 0;

	if (netns_sysctls_write(ep_sysctls, sizeof(ep_sysctls) / sizeof(ep_sysctls[0]), &at) < 0) {
		*failed = ep_sysctls[at][0];
		return CS_EIO;
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

/* One route to @dst (a prefix in text) on link @ifindex, via @gw when not
 * NULL; replaced if it exists, so that a repeated ensure changes nothing.
 * @del: removed instead (absent is no error). */
int kernel_route(struct nl_sock *sk, int ifindex, int family, const char *dst,
		 const struct cs_addr *gw, bool del)
{
	struct rtnl_route *rt = rtnl_route_alloc();
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	struct nl_addr *a = NULL, *via = NULL;
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
	rtnl_route_set_scope(rt, gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
	rtnl_route_set_type(rt, RTN_UNICAST);
	if ((r = rtnl_route_set_dst(rt, a)) < 0)
		goto out;
	rtnl_route_nh_set_ifindex(nh, ifindex);
	if (gw) {
		if (!(via = nl_addr_build(gw->family, gw->a, gw->family == AF_INET ? 4 : 16))) {
			r = -NLE_NOMEM;
			goto out;
		}
		rtnl_route_nh_set_gateway(nh, via);
	}
	rtnl_route_add_nexthop(rt, nh);
	nh = NULL; /* the route owns it */
	if (del) {
		r = rtnl_route_delete(sk, rt, 0);
		if (r == -NLE_OBJ_NOTFOUND || r == -NLE_NOADDR || r == -NLE_FAILURE)
			r = 0;
	} else {
		r = rtnl_route_add(sk, rt, NLM_F_CREATE | NLM_F_REPLACE);
	}
out:
	if (nh)
		rtnl_route_nh_free(nh);
	if (via)
		nl_addr_put(via);
	if (a)
		nl_addr_put(a);
	if (rt)
		rtnl_route_put(rt);
	return r;
}

int kernel_route_default(struct nl_sock *sk, int ifindex, const struct cs_addr *gw)
{
	return kernel_route(sk, ifindex, gw->family, gw->family == AF_INET ? "0.0.0.0/0" : "::/0",
			    gw, false);
}

int kernel_ep_routes(struct kernel_backend *kb, struct nl_sock *esk, int ifindex,
		     const struct vnet_spec *v, const char *what, const char *ens)
{
	static const struct {
		int family;
		const char *dst;
	} mcast[] = { { AF_INET, "224.0.0.0/4" }, { AF_INET6, "ff00::/8" } };
	const struct cs_prefix *sub[2] = { v->has4 ? &v->subnet4 : NULL,
					   v->has6 ? &v->subnet6 : NULL };

	for (size_t i = 0; i < 2; i++) {
		struct cs_addr gw;
		const char *dflt = i ? "::/0" : "0.0.0.0/0";
		if (!sub[i])
			continue;
		int r = kernel_route(esk, ifindex, mcast[i].family, mcast[i].dst, NULL, false);
		if (r < 0) {
			kernel_err(kb, "%s: cannot add the multicast route %s on " EP_DEV
				   " in namespace %s: %s", what, mcast[i].dst, ens, nl_geterror(r));
			return CS_EIO;
		}
		/* with egress, the world through the gateway; without, nothing */
		ipam_gateway(sub[i], &gw);
		r = kernel_route(esk, ifindex, mcast[i].family, dflt, &gw, !v->egress);
		if (r < 0) {
			kernel_err(kb, "%s: cannot %s the default route via the gateway in "
				   "namespace %s: %s", what, v->egress ? "add" : "remove", ens,
				   nl_geterror(r));
			return CS_EIO;
		}
	}
	return 0;
}

/*
 * /etc/netns/NETNS/resolv.conf (the iproute2 convention: `ip netns exec`
 * and cs-ctl exec show its files in place of /etc's) naming the vnet's
 * gateway, which answers DNS, with "search VNET.TENANT.cs". csd is root:
 * every step is relative to a directory fd opened without following
 * symlinks, and a directory that is not root's alone is refused.
 */
#define ETC_DIR "/etc"
#define NETNS_ETC "netns"
#define RESOLV "resolv.conf"

static int dir_at(int at, const char *name, bool create, int *out)
{
	struct stat st;
	int fd;

	if (create && mkdirat(at, name, 0755) < 0 && errno != EEXIST)
		return -errno;
	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || st.st_uid != 0 || (st.st_mode & 022)) {
		close(fd);
		return -EPERM;
	}
	*out = fd;
	return 0;
}

/* The fd of /etc/netns/@ens (made when @create), or -errno. */
static int etc_dir(const char *ens, bool create, int *netns_fd)
{
	int etc, nd = -1, d = -1, r;

	if ((r = dir_at(AT_FDCWD, ETC_DIR, false, &etc)) < 0)
		return r;
	r = dir_at(etc, NETNS_ETC, create, &nd);
	close(etc);
	if (r < 0)
		return r;
	r = dir_at(nd, ens, create, &d);
	if (netns_fd && r == 0)
		*netns_fd = nd;
	else
		close(nd);
	return r < 0 ? r : d;
}

static void resolv_text(FILE *f, const struct vnet_spec *v, const char *e)
{
	char buf[CS_ADDRSTRLEN];
	struct cs_addr gw;

	fprintf(f, "# written by csd for endpoint %s/%s/%s: the vnet's gateway answers names "
		"(csd(8))\nsearch %s.%s.cs\n", v->tenant, v->name, e, v->name, v->tenant);
	if (v->has4) {
		ipam_gateway(&v->subnet4, &gw);
		fprintf(f, "nameserver %s\n", cs_addr_format(&gw, buf));
	}
	if (v->has6) {
		ipam_gateway(&v->subnet6, &gw);
		fprintf(f, "nameserver %s\n", cs_addr_format(&gw, buf));
	}
}

/* Does @d hold @name with exactly @text? */
static bool file_is(int d, const char *name, const char *text, size_t len)
{
	char buf[1024];
	int fd = openat(d, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;

	if (fd >= 0)
		close(fd);
	return n == (ssize_t)len && !memcmp(buf, text, len);
}

/* @text as @name in @d, replaced atomically (a reader never sees half). */
static int file_put(int d, const char *name, const char *text, size_t len)
{
	const char *tmp = RESOLV ".csd-new";
	int fd, r = 0;

	unlinkat(d, tmp, 0);
	fd = openat(d, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len)
		r = -EIO;
	if (close(fd) < 0 && !r)
		r = -errno;
	if (!r && renameat(d, tmp, d, name) < 0)
		r = -errno;
	if (r)
		unlinkat(d, tmp, 0);
	return r;
}

int kernel_ep_etc(struct kernel_backend *kb, const char *ens, const struct vnet_spec *v,
		  const char *e, const char *what)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int d, r;

	if (!f)
		return CS_ENOMEM;
	resolv_text(f, v, e);
	if (fclose(f)) {
		free(text);
		return CS_ENOMEM;
	}
	d = etc_dir(ens, true, NULL);
	r = d < 0 ? d : file_is(d, RESOLV, text, len) ? 0 : file_put(d, RESOLV, text, len);
	if (d >= 0)
		close(d);
	free(text);
	if (r < 0) {
		kernel_err(kb, "%s: cannot write " ETC_DIR "/" NETNS_ETC "/%s/" RESOLV ": %s%s", what,
			   ens, strerror(-r), r == -EPERM ? " (a directory on the way is not "
			   "root's alone, or is a symlink)" : "");
		return CS_EIO;
	}
	return 0;
}

void kernel_ep_etc_remove(const char *ens)
{
	int nd = -1, d = etc_dir(ens, false, &nd);

	if (d < 0)
		return;
	unlinkat(d, RESOLV, 0);
	close(d);
	unlinkat(nd, ens, AT_REMOVEDIR);
	close(nd);
}

int kernel_endpoint_etc(struct vnet_backend *b, const char *tenant, const char *vnet,
			const char *endpoint, char *buf, size_t len)
{
	char ns[NSNAME_MAX];
	int r = kernel_ns_name((struct kernel_backend *)b, ns, tenant, vnet, endpoint);

	if (r < 0)
		return r;
	if ((size_t)snprintf(buf, len, ETC_DIR "/" NETNS_ETC "/%s", ns) >= len)
		return CS_EINVAL;
	return 0;
}
