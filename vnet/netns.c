/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <linux/magic.h>
#include <linux/nsfs.h>

#include "cs/cs.h"
#include "netns.h"

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

#define SELF_NS "/proc/thread-self/ns/net"

static int netns_path(const char *name, char *buf, size_t len)
{
	int n;

	if (!name || !*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return CS_EINVAL;
	n = snprintf(buf, len, NETNS_RUN_DIR "/%s", name);
	if (n < 0 || (size_t)n >= len)
		return CS_EINVAL;
	return 0;
}

/* An nsfs mount, as opposed to the empty file under it. */
static bool is_mounted_ns(const char *path)
{
	struct statfs sfs;

	return statfs(path, &sfs) == 0 && sfs.f_type == NSFS_MAGIC;
}

int netns_init(char *err, size_t errlen)
{
	bool bound = false;

	if (mkdir(NETNS_RUN_DIR, 0755) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create " NETNS_RUN_DIR ": %s", strerror(errno));
		return CS_EIO;
	}
	/*
	 * As iproute2 does: the directory must be a shared mount point so a
	 * namespace mounted later shows in every mount namespace that has a
	 * copy of it; if it is not a mount point yet, bind it onto itself.
	 */
	while (mount("", NETNS_RUN_DIR, "none", MS_SHARED | MS_REC, NULL) < 0) {
		if (errno != EINVAL || bound) {
			snprintf(err, errlen, "cannot make " NETNS_RUN_DIR " a shared mount: %s",
				 strerror(errno));
			return CS_EIO;
		}
		if (mount(NETNS_RUN_DIR, NETNS_RUN_DIR, "none", MS_BIND | MS_REC, NULL) < 0) {
			snprintf(err, errlen, "cannot bind-mount " NETNS_RUN_DIR ": %s",
				 strerror(errno));
			return CS_EIO;
		}
		bound = true;
	}
	return 0;
}

struct add_job {
	const char *path;
	int err;
	const char *what;
};

/*
 * Runs in a thread of its own: unshare() moves only this thread into the
 * new namespace, which lives on through the bind mount after it exits.
 */
static void *add_thread(void *arg)
{
	struct add_job *job = arg;

	if (unshare(CLONE_NEWNET) < 0) {
		job->err = errno;
		job->what = "cannot create a network namespace";
		return NULL;
	}
	if (mount(SELF_NS, job->path, "none", MS_BIND, NULL) < 0) {
		job->err = errno;
		job->what = "cannot bind-mount the namespace";
	}
	return NULL;
}

int netns_add(const char *name, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct add_job job = { .path = path };
	pthread_t th;
	int fd, r;

	if (netns_path(name, path, sizeof(path)) < 0) {
		snprintf(err, errlen, "invalid namespace name \"%s\"", name ? name : "");
		return CS_EINVAL;
	}
	fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
	if (fd < 0 && errno == ENOENT) {
		/* first use: no /run/netns yet */
		r = netns_init(err, errlen);
		if (r < 0)
			return r;
		fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
	}
	if (fd < 0) {
		if (errno != EEXIST) {
			snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
			return CS_EIO;
		}
		if (is_mounted_ns(path))
			return CS_EEXIST;
		/* an empty file left by an interrupted add: mount over it */
	} else {
		close(fd);
	}

	r = pthread_create(&th, NULL, add_thread, &job);
	if (r) {
		snprintf(err, errlen, "namespace %s: cannot start a thread: %s", name, strerror(r));
		r = CS_EIO;
		goto out;
	}
	pthread_join(th, NULL);
	if (job.err) {
		snprintf(err, errlen, "namespace %s: %s: %s", name, job.what, strerror(job.err));
		r = CS_EIO;
		goto out;
	}
	r = 0;
out:
	if (r < 0)
		unlink(path);
	return r;
}

int netns_open(const char *name, char *err, size_t errlen)
{
	char path[PATH_MAX];
	int fd;

	if (netns_path(name, path, sizeof(path)) < 0) {
		snprintf(err, errlen, "invalid namespace name \"%s\"", name ? name : "");
		return CS_EINVAL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT) {
			snprintf(err, errlen, "namespace %s does not exist", name);
			return CS_ENOENT;
		}
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return CS_EIO;
	}
	{
		struct statfs sfs;

		/* An unmounted leftover file is not a namespace. */
		if (fstatfs(fd, &sfs) < 0 || sfs.f_type != NSFS_MAGIC) {
			close(fd);
			snprintf(err, errlen, "namespace %s does not exist (%s is not mounted)",
				 name, path);
			return CS_ENOENT;
		}
	}
	return fd;
}

int netns_delete(const char *name, char *err, size_t errlen)
{
	char path[PATH_MAX];
	bool mounted;

	if (netns_path(name, path, sizeof(path)) < 0) {
		snprintf(err, errlen, "invalid namespace name \"%s\"", name ? name : "");
		return CS_EINVAL;
	}
	mounted = is_mounted_ns(path);
	/* EINVAL: not a mount point, the leftover of an interrupted add */
	if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT) {
		snprintf(err, errlen, "cannot unmount %s: %s", path, strerror(errno));
		return CS_EIO;
	}
	if (unlink(path) < 0) {
		if (errno == ENOENT)
			return CS_ENOENT;
		snprintf(err, errlen, "cannot remove %s: %s", path, strerror(errno));
		return CS_EIO;
	}
	return mounted ? 0 : CS_ENOENT;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int netns_list(const char *prefix, char ***names, size_t *n)
{
	size_t plen = strlen(prefix), cnt = 0, cap = 0;
	char **v = NULL, **nv;
	struct dirent *de;
	DIR *d;
	int r = 0;

	*names = NULL;
	*n = 0;
	d = opendir(NETNS_RUN_DIR);
	if (!d)
		return errno == ENOENT ? 0 : CS_EIO;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' && (!de->d_name[1] ||
					     (de->d_name[1] == '.' && !de->d_name[2])))
			continue;
		if (strncmp(de->d_name, prefix, plen))
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				r = CS_ENOMEM;
				goto out;
			}
			v = nv;
		}
		v[cnt] = strdup(de->d_name);
		if (!v[cnt]) {
			r = CS_ENOMEM;
			goto out;
		}
		cnt++;
	}
	if (cnt)
		qsort(v, cnt, sizeof(*v), cmp_names);
	*names = v;
	*n = cnt;
	v = NULL;
	cnt = 0;
out:
	while (cnt)
		free(v[--cnt]);
	free(v);
	closedir(d);
	return r;
}

int netns_attach(const char *name, int fd, char *err, size_t errlen)
{
	char path[PATH_MAX], src[64];
	int f;

	if (netns_path(name, path, sizeof(path)) < 0) {
		snprintf(err, errlen, "invalid namespace name \"%s\"", name ? name : "");
		return CS_EINVAL;
	}
	if (netns_check_fd(fd, err, errlen) < 0)
		return CS_EINVAL;
	f = open(path, O_RDONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0);
	if (f < 0 && errno == ENOENT) {
		int r = netns_init(err, errlen);
		if (r < 0)
			return r;
		f = open(path, O_RDONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0);
	}
	if (f < 0) {
		if (errno != EEXIST) {
			snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
			return CS_EIO;
		}
		if (is_mounted_ns(path)) {
			snprintf(err, errlen, "a namespace is mounted at %s already", path);
			return CS_EEXIST;
		}
	} else {
		close(f);
	}
	/* the fd's own file: /proc/self/fd/N names the namespace, not a path
	 * anybody could swap (shared fd table, so any thread may do this) */
	snprintf(src, sizeof(src), "/proc/self/fd/%d", fd);
	if (mount(src, path, "none", MS_BIND, NULL) < 0) {
		snprintf(err, errlen, "cannot bind-mount the namespace at %s: %s", path,
			 strerror(errno));
		unlink(path);
		return CS_EIO;
	}
	return 0;
}

int netns_check_fd(int fd, char *err, size_t errlen)
{
	struct statfs sfs;
	int t;

	if (fstatfs(fd, &sfs) < 0 || sfs.f_type != NSFS_MAGIC) {
		snprintf(err, errlen, "it is not a namespace (not a file of nsfs: pass "
			 "/proc/PID/ns/net or a file a namespace is mounted on)");
		return CS_EINVAL;
	}
	t = ioctl(fd, NS_GET_NSTYPE);
	if (t != CLONE_NEWNET) {
		snprintf(err, errlen, "it is a namespace, but not a network namespace (pass "
			 "/proc/PID/ns/net)");
		return CS_EINVAL;
	}
	return 0;
}

int netns_owner_uid(int fd, unsigned int *uid)
{
	int u = ioctl(fd, NS_GET_USERNS);
	uid_t o;
	int r;

	if (u < 0)
		return CS_EIO;
	r = ioctl(u, NS_GET_OWNER_UID, &o);
	close(u);
	if (r < 0)
		return CS_EIO;
	*uid = (unsigned int)o;
	return 0;
}

int netns_same(int fd, const char *name)
{
	char path[PATH_MAX];
	struct stat a, b;

	if (netns_path(name, path, sizeof(path)) < 0)
		return CS_EINVAL;
	if (fstat(fd, &a) < 0 || stat(path, &b) < 0)
		return 0;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int netns_run(int nsfd, int (*fn)(void *arg), void *arg, char *err, size_t errlen)
{
	int self, r;

	self = open(SELF_NS, O_RDONLY | O_CLOEXEC);
	if (self < 0) {
		snprintf(err, errlen, "cannot open " SELF_NS ": %s", strerror(errno));
		return CS_EIO;
	}
	if (setns(nsfd, CLONE_NEWNET) < 0) {
		snprintf(err, errlen, "cannot enter the namespace: %s", strerror(errno));
		r = CS_EIO;
		goto out;
	}
	r = fn(arg);
	if (setns(self, CLONE_NEWNET) < 0) {
		snprintf(err, errlen,
			 "FATAL: cannot return to the thread's own namespace: %s; "
			 "the thread is stranded", strerror(errno));
		r = CS_EIO;
	}
out:
	close(self);
	return r;
}

/*
 * Opening /proc/thread-self/ns/net costs more than the two setns() and the
 * socket() together, so each thread keeps its own namespace open for
 * netns_socket(); the fd is closed when the thread exits.
 */
static pthread_key_t home_key;
static pthread_once_t home_once = PTHREAD_ONCE_INIT;
static bool home_key_ok;
static __thread int home_fd = -1;

static void home_close(void *p)
{
	close((int)(intptr_t)p - 1);
}

static void home_init(void)
{
	home_key_ok = pthread_key_create(&home_key, home_close) == 0;
}

static int home_get(void)
{
	int fd;

	if (home_fd >= 0)
		return home_fd;
	pthread_once(&home_once, home_init);
	if (!home_key_ok)
		return -1;
	fd = open(SELF_NS, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (pthread_setspecific(home_key, (void *)(intptr_t)(fd + 1))) {
		close(fd);
		return -1;
	}
	home_fd = fd;
	return fd;
}

int netns_socket(int nsfd, int domain, int type, int protocol)
{
	int self, fd, e;
	bool own = false;

	self = home_get();
	if (self < 0) {
		self = open(SELF_NS, O_RDONLY | O_CLOEXEC);
		if (self < 0)
			return CS_EIO;
		own = true;
	}
	if (setns(nsfd, CLONE_NEWNET) < 0) {
		e = errno;
		if (own)
			close(self);
		errno = e;
		return CS_EIO;
	}
	fd = socket(domain, type, protocol);
	e = errno;
	if (setns(self, CLONE_NEWNET) < 0) {
		/* Stranded: never hand out a socket made in doubt. */
		e = errno;
		if (fd >= 0)
			close(fd);
		if (own)
			close(self);
		errno = e;
		return CS_EIO;
	}
	if (own)
		close(self);
	if (fd < 0) {
		errno = e;
		return e == EAFNOSUPPORT || e == EINVAL || e == EPROTONOSUPPORT ||
		       e == EPROTOTYPE ? CS_EINVAL : CS_EIO;
	}
	return fd;
}

/* A detached procfs instance of the caller's own, or -1. */
static int proc_instance(void)
{
	int fs = fsopen("proc", FSOPEN_CLOEXEC), mnt = -1;

	if (fs < 0)
		return -1;
	if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0)
		mnt = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
			      MOUNT_ATTR_NOEXEC);
	close(fs);
	return mnt;
}

/* @value to sys/@path of procfs instance @mnt, or /proc/sys/@path (@mnt -1). */
static int sysctl_put(int mnt, const char *path, const char *value)
{
	char rel[PATH_MAX];
	size_t len = strlen(value);
	int fd, r = 0;

	snprintf(rel, sizeof(rel), "%s%s", mnt >= 0 ? "sys/" : "/proc/sys/", path);
	fd = mnt >= 0 ? openat(mnt, rel, O_WRONLY | O_CLOEXEC | O_NOFOLLOW)
		      : open(rel, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return CS_EIO;
	if (write(fd, value, len) != (ssize_t)len)
		r = CS_EIO;
	close(fd);
	return r;
}

int netns_sysctls_write(const char *const kv[][2], size_t n, size_t *failed)
{
	/* one instance for all: each costs a mount and, when it goes, an
	 * RCU grace period */
	int mnt = proc_instance(), r = 0;
	size_t i;

	for (i = 0; i < n && r == 0; i++)
		r = sysctl_put(mnt, kv[i][0], kv[i][1]);
	if (r < 0 && failed)
		*failed = i - 1;
	if (mnt >= 0)
		close(mnt);
	return r;
}

int netns_sysctl_write(const char *path, const char *value)
{
	const char *const kv[1][2] = { { path, value } };

	return netns_sysctls_write(kv, 1, NULL);
}

int netns_fd_high(int fd)
{
	int high;

	if (fd < 0 || fd >= NETNS_FD_HIGH)
		return fd;
	high = fcntl(fd, F_DUPFD_CLOEXEC, NETNS_FD_HIGH);
	if (high < 0)
		return fd;	/* RLIMIT_NOFILE allows no more: it stays low */
	close(fd);
	return high;
}
