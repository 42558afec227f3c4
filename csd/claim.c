/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Whose kernel objects these are. Every namespace csd makes carries its
 * prefix, and a csd deletes those of its prefix that its store does not
 * declare for its node. So two rules, checked before csd touches the
 * kernel:
 *  - one csd per prefix on a host: RUN_DIR/PREFIX.lock, flock()ed for as
 *    long as csd runs (a kill -9 releases it);
 *  - the objects of a prefix are managed by the node and store that made
 *    them: RUN_DIR/PREFIX.claim records both ({"node", "store"}). A csd
 *    started as another node (a new -n, or a renamed host) or on another
 *    store (a mistyped -D) while such objects exist refuses to start,
 *    instead of deleting every endpoint it does not know.
 * The run directory is a tmpfs: after a reboot there are neither objects
 * nor claims. Only the kernel backend makes shared objects.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csd.h"
#include "ops.h"
#include "safedir.h"

/* Which store: the SQLite file's directory, or etcd and its key prefix. */
static void store_id(const struct csd *d, char *out, size_t len)
{
	char real[PATH_MAX];

	if (csd_store_shared(d)) {
		snprintf(out, len, "etcd %s", d->cfg.etcd_prefix ? d->cfg.etcd_prefix : "/cs");
		return;
	}
	if (!realpath(d->cfg.state_dir, real))
		snprintf(real, sizeof(real), "%s", d->cfg.state_dir);
	snprintf(out, len, "sqlite %s", real);
}

static json_t *read_claim(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	json_t *j;

	if (fd < 0)
		return NULL;
	j = json_loadfd(fd, 0, NULL);
	close(fd);
	return j;
}

/* RUN_DIR/PREFIX.claim := @now, written to a new file and renamed over,
 * all within the checked directory. */
static int write_claim(int dirfd, const char *pfx, const json_t *now)
{
	char name[64], tmp[80];
	int fd, r = 0;

	snprintf(name, sizeof(name), "%s.claim", pfx);
	snprintf(tmp, sizeof(tmp), "%s.claim.tmp", pfx);
	if ((fd = safedir_create(dirfd, tmp, true, 0644)) < 0)
		return fd;
	if (json_dumpfd(now, fd, JSON_COMPACT) < 0)
		r = -EIO;
	close(fd);
	if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		r = -errno;
	if (r < 0)
		unlinkat(dirfd, tmp, 0);
	return r;
}

/* Take RUN_DIR/PREFIX.lock, or say who holds it. */
static int take_lock(struct csd *d, int dirfd, const char *lock)
{
	char name[64];
	int fd;

	snprintf(name, sizeof(name), "%s.lock", d->cfg.prefix);
	fd = safedir_create(dirfd, name, false, 0644);
	if (fd < 0) {
		log_err("cannot open %s: %s (the run directory, run_dir, must be writable; csd "
			"does not follow a link there)", lock, strerror(-fd));
		return CS_EIO;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		char pid[32] = "";
		ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		log_err("another csd%s%s%s already manages prefix %s on this host (%s is locked); "
			"stop it, or give this one another -p", *pid ? " (pid " : "", pid,
			*pid ? ")" : "", d->cfg.prefix, lock);
		close(fd);
		return CS_EEXIST;
	}
	if (ftruncate(fd, 0) == 0)
		dprintf(fd, "%ld\n", (long)getpid());
	d->claim_fd = fd;
	return 0;
}

int claim_take(struct csd *d)
{
	char lock[PATH_MAX], path[PATH_MAX], sid[PATH_MAX + 16], err[PATH_MAX + 512], name[64];
	const char *pfx = d->cfg.prefix;
	json_t *old, *now;
	int dirfd, r;

	d->claim_fd = -1;
	struct vnet_backend **bs;
	bool host = false;
	for (size_t i = 0, n = csd_backends(d, &bs); i < n; i++)
		host |= vb_has(bs[i], VNET_CAP_HOST_OBJECTS);
	if (!host)
		return 0;
	if ((dirfd = safedir_open(d->cfg.run_dir, 0755, "run_dir", err, sizeof(err))) < 0) {
		log_err("%s", err);
		return dirfd;
	}
	snprintf(lock, sizeof(lock), "%s/%s.lock", d->cfg.run_dir, pfx);
	snprintf(path, sizeof(path), "%s/%s.claim", d->cfg.run_dir, pfx);
	snprintf(name, sizeof(name), "%s.claim", pfx);
	if ((r = take_lock(d, dirfd, lock)) < 0)
		goto out;
	store_id(d, sid, sizeof(sid));
	old = read_claim(dirfd, name);
	const char *onode = json_string_value(json_object_get(old, "node"));
	const char *ostore = json_string_value(json_object_get(old, "store"));
	if (old && onode && ostore && (strcmp(onode, d->cfg.node) || strcmp(ostore, sid))) {
		struct vnet_inventory inv = { 0 };
		size_t n = 0;
		if (csd_inventory(d, &inv) == 0)
			n = inv.nvnets + inv.nendpoints;
		vnet_inventory_clear(&inv);
		if (n) {
			log_err("prefix %s: the %zu vnets and endpoints on this host were made by node "
				"%s with store %s, and this csd is node %s with store %s; it would "
				"delete what its store does not declare. Start it as before (-n %s and "
				"the same -D or store), or, to let it take them over, remove %s",
				pfx, n, onode, ostore, d->cfg.node, sid, onode, path);
			json_decref(old);
			r = CS_EEXIST;
			goto out;
		}
	}
	json_decref(old);
	now = json_pack("{s:s, s:s}", "node", d->cfg.node, "store", sid);
	if (!now || (r = write_claim(dirfd, pfx, now)) < 0)
		log_warn("cannot record the claim of prefix %s in %s: %s", pfx, path,
			 now ? strerror(-r) : "out of memory");
	json_decref(now);
	r = 0;
out:
	close(dirfd);
	return r;
}

void claim_release(struct csd *d)
{
	/* the claim stays: the objects stay too */
	if (d->claim_fd >= 0)
		close(d->claim_fd);
	d->claim_fd = -1;
}
