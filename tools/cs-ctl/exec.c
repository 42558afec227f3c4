/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cs-ctl exec TENANT/VNET/ENDPOINT -- CMD [ARG]...: run an unmodified
 * program inside an endpoint. cs-ctl enters the endpoint's network namespace
 * and becomes the program, so it runs as the caller, with cs-ctl's stdio, and
 * its exit status is the command's. Nothing ties it to csd afterwards: it
 * keeps running when csd stops or restarts.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "csd/names.h"
#include "ctl.h"

int ctl_exec(struct ctl *c, int argc, char **argv)
{
	char parts[3][CS_NAME_MAX + 1], err[256];
	const char *name;
	int fd, e;

	if (c->help) {
		ctl_usage_line(c, stdout, CTL_EXEC_USAGE);
		return CTL_OK;
	}
	if (argc < 2 || !strcmp(argv[1], "--"))
		return ctl_usage_error(c, "expected " CTL_EXEC_USAGE);
	name = argv[1];
	if ((e = ctl_no_option(c, name)))
		return e;
	if (cs_path_split(name, 3, parts, err, sizeof(err)) < 0)
		return ctl_usage_error(c, "%s", err);
	/* "--" is required: without it the command's own options would be
	 * taken as cs-ctl's */
	if (argc < 3 || strcmp(argv[2], "--"))
		return ctl_usage_error(c, "expected -- after %s: " CTL_EXEC_USAGE, name);
	if (argc < 4)
		return ctl_usage_error(c, "expected a command after --: " CTL_EXEC_USAGE);

	if (ctl_connect(c))
		return CTL_FAIL;
	fd = cs_endpoint_netns(c->cs, name);
	if (fd < 0) {
		const char *msg = cs_last_error(c->cs);

		if (*msg)
			return ctl_fail(c, "%s", msg);
		return ctl_fail(c, "endpoint %s: %s", name, cs_strerror(fd));
	}
	if (setns(fd, CLONE_NEWNET) < 0) {
		e = errno;
		close(fd);
		return ctl_fail(c, "endpoint %s: cannot enter its network namespace: %s%s", name,
				strerror(e),
				e == EPERM ? " (entering a namespace needs CAP_SYS_ADMIN)" : "");
	}
	close(fd);
	/* the program must not inherit csd's connection (it would hold ephemeral
	 * state open and let the program speak as cs-ctl) */
	cs_close(c->cs);
	c->cs = NULL;
	fflush(stdout);
	execvp(argv[3], argv + 3);
	e = errno;
	fprintf(stderr, "cs-ctl: exec %s: %s\n", argv[3], strerror(e));
	/* as a shell: 127 not found, 126 found but not runnable */
	return e == ENOENT || e == ENOTDIR ? 127 : 126;
}
