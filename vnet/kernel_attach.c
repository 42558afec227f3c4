/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Endpoints in namespaces cs did not make (DESIGN "Existing namespaces and
 * containers"): a container's, or one an administrator names.
 *
 * csd keeps its handle on such a namespace the way it keeps its own: a bind
 * mount at /run/netns/P.T.V.E, made when it is attached. So every other part
 * of the backend (sockets, rules, QoS, counters, the inventory) finds it by
 * name, and so does csd after a restart. The mount holds the namespace until
 * the endpoint is deleted; it goes with /run at a reboot, and the endpoint
 * then reports its namespace gone (endpoint_ensure) instead of being made
 * anew in an empty one.
 *
 * What tells it from a namespace of cs's own is a marker,
 * RUN_DIR/attached/P.T.V.E, holding the interface's name: endpoint_destroy
 * then removes only cs's interface (known by its alias "cs P.T.V.E", never
 * by its name alone: the container may have made one of that name) and
 * cs's rules, and unmounts, leaving the namespace to its owner.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <linux/net_namespace.h>

#include "cs/cs.h"
#include "kernel_priv.h"
#include "netns.h"

#define MARK_DIR "attached"

/* RUN_DIR/attached, made when @create; an fd or -errno. */
static int mark_dir(struct kernel_backend *kb, bool create)
{
	int run, d;

	if (!kb->run_dir)
		return -ENOENT;
	run = open(kb->run_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (run < 0)
		return -errno;
	if (create && mkdirat(run, MARK_DIR, 0700) < 0 && errno != EEXIST) {
		d = -errno;
		close(run);
		return d;
	}
	d = openat(run, MARK_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (d < 0)
		d = -errno;
	close(run);
	return d;
}

int kernel_attached(struct kernel_backend *kb, const char *ens, char *ifname)
{
	int d = mark_dir(kb, false), f;
	ssize_t n;

	if (d < 0)
		return 0;
	f = openat(d, ens, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	close(d);
	if (f < 0)
		return 0;
	n = read(f, ifname, IFNAMSIZ);
	close(f);
	if (n <= 1 || n > IFNAMSIZ || ifname[n - 1] != '\n')
		memcpy(ifname, EP_DEV, sizeof(EP_DEV));
	else
		ifname[n - 1] = '\0';
	return 1;
}

const char *kernel_ep_dev(struct kernel_backend *kb, const char *ens, char *buf)
{
	if (!kernel_attached(kb, ens, buf))
		memcpy(buf, EP_DEV, sizeof(EP_DEV));
	return buf;
}

void kernel_ep_alias(const char *ens, char *buf)
{
	snprintf(buf, KERNEL_ALIAS_MAX, "cs %s", ens);
}

static int mark_put(struct kernel_backend *kb, const char *ens, const char *ifname)
{
	char line[IFNAMSIZ + 1];
	int d = mark_dir(kb, true), f, r = 0;
	size_t n = (size_t)snprintf(line, sizeof(line), "%s\n", ifname);

	if (d < 0)
		return d;
	f = openat(d, ens, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (f < 0)
		r = -errno;
	else if (write(f, line, n) != (ssize_t)n)
		r = -EIO;
	if (f >= 0 && close(f) < 0 && !r)
		r = -errno;
	close(d);
	return r;
}

static void mark_drop(struct kernel_backend *kb, const char *ens)
{
	int d = mark_dir(kb, false);

	if (d < 0)
		return;
	unlinkat(d, ens, 0);
	close(d);
}

/*
 * Is @nsfd a namespace this backend already uses under another name (a
 * vnet's, or another endpoint's: they share its "inet cs" table), or the
 * node's own? The culprit's name into @who.
 */
static bool ns_taken(struct kernel_backend *kb, int nsfd, const char *ens, char *who,
		     size_t len)
{
	char pfx[VNET_PREFIX_MAX + 2], **names = NULL;
	struct stat a, b;
	size_t n = 0, i;
	bool taken = false;

	if (fstat(nsfd, &a) < 0)
		return true;
	if (fstat(kernel_underlay_ns(kb), &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino) {
		snprintf(who, len, "the node's own namespace, where csd runs");
		return true;
	}
	snprintf(pfx, sizeof(pfx), "%s.", kb->prefix);
	if (netns_list(pfx, &names, &n) < 0)
		return true;
	for (i = 0; i < n && !taken; i++) {
		if (!strcmp(names[i], ens) || !netns_same(nsfd, names[i]))
			continue;
		snprintf(who, len, "already cs's, as " NETNS_RUN_DIR "/%s (one endpoint per "
			 "namespace)", names[i]);
		taken = true;
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return taken;
}

int kernel_endpoint_attach(struct vnet_backend *b, const char *tenant, const char *vnet,
			   const char *endpoint, int nsfd, const char *ifname)
{
	struct kernel_backend *kb = (struct kernel_backend *)b;
	char ens[NSNAME_MAX], what[128], who[NSNAME_MAX + 64], err[256];
	int r;

	if ((r = kernel_ns_name(kb, ens, tenant, vnet, endpoint)) < 0)
		return r;
	snprintf(what, sizeof(what), "endpoint %s/%s/%s", tenant, vnet, endpoint);
	if (!ifname)
		ifname = EP_DEV;
	if (!vnet_ifname_valid(ifname)) {
		kernel_err(kb, "%s: ifname \"%s\" is not an interface name (1-15 characters, no "
			   "'/', ':' or white space, not lo)", what, ifname);
		return CS_EINVAL;
	}
	if (netns_check_fd(nsfd, err, sizeof(err)) < 0) {
		kernel_err(kb, "%s: netns: %s", what, err);
		return CS_EINVAL;
	}
	if (ns_taken(kb, nsfd, ens, who, sizeof(who))) {
		kernel_err(kb, "%s: netns: the namespace is %s; attach a namespace of its own",
			   what, who);
		return CS_EBUSY;
	}
	if (netns_same(nsfd, ens) == 1)
		return mark_put(kb, ens, ifname) < 0 ? CS_EIO : 0;
	if ((r = mark_put(kb, ens, ifname)) < 0) {
		kernel_err(kb, "%s: cannot mark the namespace as attached in %s/" MARK_DIR ": %s",
			   what, kb->run_dir ? kb->run_dir : "(no run directory)", strerror(-r));
		return CS_EIO;
	}
	r = netns_attach(ens, nsfd, err, sizeof(err));
	if (r < 0) {
		kernel_err(kb, "%s: %s%s", what, err, r == CS_EEXIST ? " (the endpoint is in "
			   "another namespace: delete it first)" : "");
		if (r != CS_EEXIST)
			mark_drop(kb, ens);
	}
	return r;
}

/* Delete @ifname from @sk's namespace if it is cs's (carries the alias). */
static int ours_delete(struct kernel_backend *kb, struct nl_sock *sk, const char *ens,
		       const char *ifname, const char *what)
{
	char alias[KERNEL_ALIAS_MAX];
	struct rtnl_link *l = NULL;
	const char *have;
	int r;

	r = rtnl_link_get_kernel(sk, 0, ifname, &l);
	if (r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV)
		return 0;
	if (r < 0) {
		kernel_err(kb, "%s: cannot query %s in namespace %s: %s", what, ifname, ens,
			   nl_geterror(r));
		return CS_EIO;
	}
	kernel_ep_alias(ens, alias);
	have = rtnl_link_get_ifalias(l);
	r = have && !strcmp(have, alias) ? rtnl_link_delete(sk, l) : 0;
	rtnl_link_put(l);
	if (r < 0 && r != -NLE_OBJ_NOTFOUND && r != -NLE_NODEV) {
		kernel_err(kb, "%s: cannot delete %s in namespace %s: %s", what, ifname, ens,
			   nl_geterror(r));
		return CS_EIO;
	}
	return 0;
}

/*
 * Every link of attached namespace @sk whose lower is the vnet's vx0: cs's
 * interface by whatever name and alias the namespace's owner has given it
 * since, and what the owner stacked on it (a macvlan on a macvlan is one
 * on vx0). A link's lower is the kernel's, which no owner can forge; the
 * namespace leaves the vnet with its endpoint.
 */
static int vnet_links_delete(struct kernel_backend *kb, struct nl_sock *sk, const char *t,
			     const char *v, const char *ens, const char *what)
{
	char vns[NSNAME_MAX], err[256];
	struct nl_sock *vsk = NULL;
	struct rtnl_link *vx = NULL;
	struct nl_cache *cache = NULL;
	struct nl_object *o;
	int32_t nsid, lns;
	int vfd, vx0, r = 0;

	if (kernel_ns_name(kb, vns, t, v, NULL) < 0 || (vfd = netns_open(vns, err,
								     sizeof(err))) < 0)
		return 0;	/* no vnet namespace: no vx0 to be linked to */
	if (kernel_nl_open_in(kb, vfd, vns, what, &vsk) < 0 ||
	    rtnl_link_get_kernel(vsk, 0, VXLAN_DEV, &vx) < 0 ||
	    nsid_of(sk, vfd, &nsid) < 0 || nsid == NETNSA_NSID_NOT_ASSIGNED)
		goto out;
	vx0 = rtnl_link_get_ifindex(vx);
	if ((r = rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache)) < 0) {
		kernel_err(kb, "%s: cannot list the links of namespace %s: %s", what, ens,
			   nl_geterror(r));
		r = CS_EIO;
		goto out;
	}
	for (o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_link *l = (struct rtnl_link *)o;
		if (rtnl_link_get_link(l) != vx0 || rtnl_link_get_link_netnsid(l, &lns) < 0 ||
		    lns != nsid)
			continue;
		r = rtnl_link_delete(sk, l);
		if (r < 0 && r != -NLE_OBJ_NOTFOUND && r != -NLE_NODEV) {
			kernel_err(kb, "%s: cannot delete %s, on the vnet's " VXLAN_DEV ", in "
				   "namespace %s: %s", what, rtnl_link_get_name(l), ens,
				   nl_geterror(r));
			r = CS_EIO;
			break;
		}
		r = 0;
	}
out:
	if (cache)
		nl_cache_free(cache);
	if (vx)
		rtnl_link_put(vx);
	if (vsk)
		nl_socket_free(vsk);
	close(vfd);
	return r;
}

int kernel_attach_destroy(struct kernel_backend *kb, const char *t, const char *v,
			  const char *e, const char *ens, const char *ifname, const char *what)
{
	struct nl_sock *sk = NULL;
	char err[256];
	int nsfd = netns_open(ens, err, sizeof(err)), r = 0;

	if (nsfd >= 0) {
		/* the interface first: sockets handed out lose the vnet now */
		r = kernel_nl_open_in(kb, nsfd, ens, what, &sk);
		if (r == 0)
			r = ours_delete(kb, sk, ens, ifname, what);
		if (r == 0)
			r = vnet_links_delete(kb, sk, t, v, ens, what);
		if (r == 0)
			r = kernel_endpoint_policy(&kb->base, t, v, e, NULL);
		if (sk)
			nl_socket_free(sk);
		close(nsfd);
		if (r < 0)
			return r;
	} else if (nsfd != CS_ENOENT) {
		kernel_err(kb, "%s: %s", what, err);
		return nsfd;
	}
	/* csd's hold only: the namespace lives on while its owner holds it */
	r = netns_delete(ens, err, sizeof(err));
	if (r < 0 && r != CS_ENOENT) {
		kernel_err(kb, "%s: %s", what, err);
		return r;
	}
	mark_drop(kb, ens);
	kernel_ep_etc_remove(ens);
	return 0;
}
