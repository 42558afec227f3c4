/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The caller's resource limits and cgroups, for endpoint.exec (exec_limits.c). */
#ifndef CSD_EXEC_LIMITS_H
#define CSD_EXEC_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

#define CALLER_CGROUPS 16
#define CALLER_CGROUP_MAX 512

struct caller_limits {
	bool valid;
	struct rlimit lim[RLIM_NLIMITS];
	char cgroups[CALLER_CGROUPS][CALLER_CGROUP_MAX]; /* lines of /proc/PID/cgroup */
	size_t ncgroups;
};

/* Read process @pid's limits and cgroups, kept only if it is still alive
 * and still uid @uid afterwards. 0, or CS_EINVAL with a message. */
int caller_limits_read(pid_t pid, uid_t uid, struct caller_limits *cl, char *err,
		       size_t errlen);
/* In the supervisor, as root: join the cgroups, take the limits. 0, or -1
 * with a message. */
int caller_limits_apply(const struct caller_limits *cl, char *err, size_t errlen);

#endif
