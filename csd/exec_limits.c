/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A program started by endpoint.exec runs under the caller's limits, not
 * csd's: the caller's resource limits (csd raised its own RLIMIT_NOFILE
 * and has no CPU or memory limit) and the caller's cgroups (its session's
 * or service's, so systemd's and the administrator's limits apply). Both
 * are read from the calling process while csd holds a pidfd on it, and
 * kept only if that process is still alive and still the caller's uid
 * afterwards, so a pid reused in between cannot lend its limits. The
 * supervisor applies them as root, before it drops to the caller's uid:
 * raising a hard limit back would need a privilege the caller lacks.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "csd.h"
#include "exec_limits.h"

static bool still_caller(int pidfd, pid_t pid, uid_t uid)
{
	char path[64], line[256];
	FILE *f;
	bool ok = false;
	unsigned r, e;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (!(f = fopen(path, "re")))
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Uid: %u %u", &r, &e) == 2)
			ok = r == uid || e == uid;
	fclose(f);
	return ok && syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) == 0;
}

static int limit_value(const char *s, rlim_t *v)
{
	char *end;

	if (!strcmp(s, "unlimited")) {
		*v = RLIM_INFINITY;
		return 0;
	}
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno || *end ? -EINVAL : 0;
}

/*
 * /proc/PID/limits, which anyone may read: prlimit(2) on another uid's
 * process needs CAP_SYS_RESOURCE, which csd may lack (containers). The
 * kernel writes a line per resource in resource order after a header,
 * the name in the first 26 columns.
 */
static int read_rlimits(pid_t pid, struct caller_limits *cl)
{
	char path[64], line[256], soft[32], hard[32];
	FILE *f;
	int i = -1, r = 0;

	snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
	if (!(f = fopen(path, "re")))
		return -errno;
	while (r == 0 && fgets(line, sizeof(line), f)) {
		if (i++ < 0)
			continue;
		if (i > RLIM_NLIMITS || strlen(line) < 27 ||
		    sscanf(line + 26, "%31s %31s", soft, hard) != 2 ||
		    limit_value(soft, &cl->lim[i - 1].rlim_cur) < 0 ||
		    limit_value(hard, &cl->lim[i - 1].rlim_max) < 0)
			r = -EINVAL;
	}
	fclose(f);
	return r == 0 && i != RLIM_NLIMITS ? -EINVAL : r;
}

/* "ID:CONTROLLERS:/PATH", the hierarchy ID not seen before in @cl. */
static bool cgroup_line_ok(const struct caller_limits *cl, const char *line)
{
	const char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	size_t idlen = c1 ? (size_t)(c1 - line) : 0;

	if (!c2 || !idlen || idlen > 9 || strspn(line, "0123456789") != idlen || c2[1] != '/')
		return false;
	for (size_t i = 0; i < cl->ncgroups; i++)
		if (!strncmp(cl->cgroups[i], line, idlen + 1))
			return false;
	return true;
}

/*
 * The caller's cgroups, a whole line each: a path can be as long as the
 * caller makes it, and a line cut short would read as a line of its own
 * that the caller chose (a cgroup of any other hierarchy or service). So
 * a line too long, malformed or repeated refuses the exec.
 */
static int read_cgroups(pid_t pid, struct caller_limits *cl)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *f;
	int r = 0;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	if (!(f = fopen(path, "re")))
		return -errno;
	while (r == 0 && (n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		if ((size_t)n >= sizeof(cl->cgroups[0]) || cl->ncgroups == CALLER_CGROUPS)
			r = -E2BIG;
		else if (!cgroup_line_ok(cl, line))
			r = -EINVAL;
		else
			memcpy(cl->cgroups[cl->ncgroups++], line, (size_t)n + 1);
	}
	free(line);
	fclose(f);
	return r;
}

int caller_limits_read(pid_t pid, uid_t uid, struct caller_limits *cl, char *err,
		       size_t errlen)
{
	int pidfd, r = 0;

	memset(cl, 0, sizeof(*cl));
	if ((pidfd = (int)syscall(SYS_pidfd_open, pid, 0)) < 0) {
		snprintf(err, errlen, "the calling process %d is gone: %s", (int)pid,
			 strerror(errno));
		return CS_EINVAL;
	}
	r = read_rlimits(pid, cl);
	if (r == 0)
		r = read_cgroups(pid, cl);
	if (r == 0 && !still_caller(pidfd, pid, uid))
		r = -ESRCH;
	close(pidfd);
	if (r == -E2BIG || r == -EINVAL) {
		snprintf(err, errlen, "the calling process %d is in a cgroup whose path is over %d "
			 "characters, or its /proc/%d/cgroup is malformed", (int)pid,
			 CALLER_CGROUP_MAX - 16, (int)pid);
		return CS_EINVAL;
	}
	if (r < 0) {
		snprintf(err, errlen, "cannot read the limits of the calling process %d: %s",
			 (int)pid, strerror(-r));
		return CS_EINVAL;
	}
	cl->valid = true;
	return 0;
}

/* The mount point of the hierarchy whose controllers are @ctrl ("" for
 * cgroup2, "memory", "cpu,cpuacct", "name=systemd"), from mountinfo. */
static bool hierarchy_mount(const char *ctrl, char *out, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096], mnt[2048], fstype[64], super[1024];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		const char *dash = strstr(line, " - ");
		if (!dash || sscanf(line, "%*s %*s %*s %*s %2047s", mnt) != 1 ||
		    sscanf(dash + 3, "%63s %*s %1023s", fstype, super) != 2)
			continue;
		if (!*ctrl) {
			found = !strcmp(fstype, "cgroup2");
		} else if (!strcmp(fstype, "cgroup")) {
			/* every controller of @ctrl among the mount's options */
			char want[256], *tok, *save = NULL;
			found = true;
			snprintf(want, sizeof(want), "%s", ctrl);
			for (tok = strtok_r(want, ",", &save); tok && found;
			     tok = strtok_r(NULL, ",", &save)) {
				char pat[300];
				snprintf(pat, sizeof(pat), ",%s,", tok);
				char opts[1100];
				snprintf(opts, sizeof(opts), ",%s,", super);
				found = strstr(opts, pat) != NULL;
			}
		}
		if (found)
			snprintf(out, len, "%s", mnt);
	}
	fclose(f);
	return found;
}

/* Move the calling process into the cgroup of line "ID:CTRL:PATH": 1, or 0
 * where it cannot (that hierarchy is not here, or read-only), or -1. */
static int join_cgroup(const char *line, char *err, size_t errlen)
{
	char ctrl[256], mnt[2048], path[CALLER_CGROUP_MAX + 2048 + 32];
	const char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	int fd;

	if (!c2 || (size_t)(c2 - c1 - 1) >= sizeof(ctrl))
		return 0;
	memcpy(ctrl, c1 + 1, (size_t)(c2 - c1 - 1));
	ctrl[c2 - c1 - 1] = '\0';
	/* a hierarchy csd cannot see (not mounted here) binds nobody */
	if (!hierarchy_mount(ctrl, mnt, sizeof(mnt)))
		return 0;
	snprintf(path, sizeof(path), "%s%s/cgroup.procs", mnt, c2 + 1);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW)) < 0 ||
	    write(fd, "0\n", 2) != 2) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		/* a read-only cgroup tree (csd in a container) holds nobody */
		if (e == EROFS)
			return 0;
		snprintf(err, errlen, "cannot join the caller's cgroup %s: %s", path, strerror(e));
		return -1;
	}
	close(fd);
	return 1;
}

/* After joining: the process is where the caller is, in every hierarchy
 * it joined (@joined[i] for cl->cgroups[i]). */
static int cgroups_verify(const struct caller_limits *cl, const bool *joined, char *err,
			  size_t errlen)
{
	struct caller_limits mine = { 0 };
	int r = read_cgroups(getpid(), &mine);

	for (size_t j = 0; r == 0 && j < cl->ncgroups; j++) {
		bool same = !joined[j];
		for (size_t i = 0; i < mine.ncgroups && !same; i++)
			same = !strcmp(mine.cgroups[i], cl->cgroups[j]);
		if (!same)
			r = -EPERM;
	}
	if (r < 0)
		snprintf(err, errlen, "could not take the caller's cgroups (%s)", strerror(-r));
	return r < 0 ? -1 : 0;
}

int caller_limits_apply(const struct caller_limits *cl, char *err, size_t errlen)
{
	if (!cl->valid)
		return 0;
	bool joined[CALLER_CGROUPS] = { false };
	for (size_t i = 0; i < cl->ncgroups; i++) {
		int j = join_cgroup(cl->cgroups[i], err, errlen);
		if (j < 0)
			return -1;
		joined[i] = j > 0;
	}
	if (cgroups_verify(cl, joined, err, errlen) < 0)
		return -1;
	for (int i = 0; i < RLIM_NLIMITS; i++) {
		struct rlimit now, want = cl->lim[i];
		/* without CAP_SYS_RESOURCE no hard limit goes up: a caller's
		 * above csd's own gets csd's, never more than the caller's */
		if (getrlimit((enum __rlimit_resource)i, &now) == 0 && want.rlim_max > now.rlim_max &&
		    setrlimit((enum __rlimit_resource)i, &want) < 0) {
			want.rlim_max = now.rlim_max;
			if (want.rlim_cur > want.rlim_max)
				want.rlim_cur = want.rlim_max;
		}
		if (setrlimit((enum __rlimit_resource)i, &want) < 0) {
			snprintf(err, errlen, "cannot take the caller's limit %d: %s", i,
				 strerror(errno));
			return -1;
		}
	}
	return 0;
}
