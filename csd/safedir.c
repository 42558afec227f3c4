/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Directories csd writes in (run_dir, the state directory) must be its
 * own: a directory another user can write lets that user plant a symlink
 * where csd is about to create a file, and csd, running as root, would
 * truncate what it points at. So each is opened component by component
 * from "/", never following a symlink (O_NOFOLLOW on every step), and each
 * step is checked on the fd it opened, not on a path that can change
 * between a check and a use: the directory itself must be writable by
 * nobody but csd's user (and root); an ancestor may also be root's and
 * sticky (/tmp). Files are then made with openat() on the fd, O_NOFOLLOW,
 * and O_EXCL where they are new.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csd.h"
#include "safedir.h"

/* Why @st (the last component when @last) is not safe, or NULL. */
static const char *unsafe(const struct stat *st, bool last)
{
	uid_t me = geteuid();

	if (!S_ISDIR(st->st_mode))
		return "is not a directory";
	if (st->st_uid != 0 && st->st_uid != me)
		return "belongs to another user";
	if (!(st->st_mode & (S_IWGRP | S_IWOTH)))
		return NULL;
	if (!last && (st->st_mode & S_ISVTX) && st->st_uid == 0)
		return NULL;
	return "can be written by other users";
}

/* mkdir -p @path, the last component with @mode. */
static void make_dirs(const char *path, mode_t mode)
{
	char p[PATH_MAX];

	if (snprintf(p, sizeof(p), "%s", path) >= (int)sizeof(p))
		return;
	for (char *q = p + 1; *q; q++) {
		if (*q != '/')
			continue;
		*q = '\0';
		mkdir(p, 0755);
		*q = '/';
	}
	mkdir(p, mode);
}

/* A symbolic link on the way to @dir that neither root nor csd's user made
 * (a user's link in /tmp pointing at a directory of root's) is refused:
 * the walk below follows only what realpath() resolved. */
static int links_trusted(const char *dir, const char *what, char *err, size_t errlen)
{
	char p[PATH_MAX];
	struct stat st;

	if (snprintf(p, sizeof(p), "%s", dir) >= (int)sizeof(p))
		return 0;
	for (char *q = p + 1;; q++) {
		bool end = !*q;
		if (*q != '/' && !end)
			continue;
		*q = '\0';
		if (lstat(p, &st) == 0 && S_ISLNK(st.st_mode) && st.st_uid != 0 &&
		    st.st_uid != geteuid()) {
			snprintf(err, errlen, "%s %s: %s is a symbolic link of uid %u; csd follows no "
				 "link another user made: name the directory itself", what, dir, p,
				 (unsigned)st.st_uid);
			return CS_EPERM;
		}
		if (end)
			return 0;
		*q = '/';
	}
}

int safedir_open(const char *dir, mode_t mode, const char *what, char *err, size_t errlen)
{
	char real[PATH_MAX], step[PATH_MAX] = "";
	struct stat st;
	const char *why = NULL;
	int fd, next;

	if ((fd = links_trusted(dir, what, err, errlen)) < 0)
		return fd;
	make_dirs(dir, mode);
	if (!realpath(dir, real)) {
		snprintf(err, errlen, "%s %s: %s", what, dir, strerror(errno));
		return CS_EIO;
	}
	if ((fd = open("/", O_DIRECTORY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "%s %s: cannot open /: %s", what, dir, strerror(errno));
		return CS_EIO;
	}
	for (char *tok, *save = NULL, *s = real + 1; (tok = strtok_r(s, "/", &save)); s = NULL) {
		size_t n = strlen(step);
		snprintf(step + n, sizeof(step) - n, "/%s", tok);
		next = openat(fd, tok, O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		if ((fd = next) < 0) {
			snprintf(err, errlen, "%s %s: %s: %s", what, dir, step, strerror(errno));
			return CS_EIO;
		}
		if (fstat(fd, &st) < 0 || (why = unsafe(&st, !*save))) {
			if (!why)
				why = strerror(errno);
			break;
		}
	}
	/* "/" itself when the directory is the root */
	if (!why && !strcmp(real, "/") && fstat(fd, &st) == 0)
		why = unsafe(&st, true);
	if (why) {
		snprintf(err, errlen, "%s %s: %s %s (owner uid %u, mode %04o); csd writes its files "
			 "there as uid %u and will not let another user plant links to them: choose "
			 "a directory only csd's user can write, or chown it to that user and chmod "
			 "go-w", what, dir, *step ? step : "/", why, (unsigned)st.st_uid,
			 (unsigned)(st.st_mode & 07777), (unsigned)geteuid());
		close(fd);
		return CS_EPERM;
	}
	return fd;
}

int safedir_create(int dirfd, const char *name, bool excl, mode_t mode)
{
	int flags = O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC;
	int fd;

	if (excl) {
		/* a leftover of an earlier run (or something planted) goes first;
		 * unlinkat never follows a link */
		unlinkat(dirfd, name, 0);
		flags |= O_EXCL;
	}
	if ((fd = openat(dirfd, name, flags, mode)) < 0)
		return -errno;
	/* whatever the umask made of it */
	fchmod(fd, mode);
	return fd;
}
