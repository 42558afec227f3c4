/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What `ip netns exec NETNS` does for /etc, done for cs-ctl exec (root
 * enters the endpoint itself; csd's exec supervisor does it for everyone
 * else): the program gets a mount namespace of its own in which every file
 * of /etc/netns/NETNS replaces /etc's file of that name, so an unmodified
 * program reads the endpoint's resolv.conf (the vnet's gateway) where it
 * looks for it. Mounts made inside stay inside; the host's /etc is
 * untouched.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cs/cs.h"
#include "etc_bind.h"

/* /etc/@name replaced by the file @fd (opened O_PATH, no symlink). */
static int bind_one(int fd, const char *name, char *err, size_t errlen)
{
	char src[64], dst[300];

	snprintf(src, sizeof(src), "/proc/self/fd/%d", fd);
	snprintf(dst, sizeof(dst), "/etc/%s", name);
	if (mount(src, dst, "none", MS_BIND, NULL) < 0) {
		/* a file /etc does not have: nothing to replace */
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "cannot show %s as %s: %s", name, dst, strerror(errno));
		return CS_EIO;
	}
	return 0;
}

int netns_etc_bind(const char *dir, char *err, size_t errlen)
{
	struct dirent *de;
	DIR *list;
	int d, r = 0;

	if (access(dir, F_OK) < 0 && errno == ENOENT)
		return 0;
	if (unshare(CLONE_NEWNS) < 0 || mount("", "/", "none", MS_SLAVE | MS_REC, NULL) < 0) {
		snprintf(err, errlen, "cannot make a mount namespace for %s: %s", dir,
			 strerror(errno));
		return CS_EIO;
	}
	/* opened inside: a bind mount takes its source from our own mounts */
	d = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (d < 0) {
		snprintf(err, errlen, "cannot open %s: %s", dir, strerror(errno));
		return CS_EIO;
	}
	if (!(list = fdopendir(d))) {
		snprintf(err, errlen, "cannot list %s: %s", dir, strerror(errno));
		close(d);
		return CS_EIO;
	}
	while (r == 0 && (de = readdir(list))) {
		struct stat st;
		int fd = openat(d, de->d_name, O_PATH | O_NOFOLLOW | O_CLOEXEC);

		if (fd < 0)
			continue;
		/* regular files only: not . and .., not a symlink planted there */
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
			r = bind_one(fd, de->d_name, err, errlen);
		close(fd);
	}
	closedir(list);
	return r;
}
