/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cs-ctl exec TENANT/VNET/ENDPOINT -- CMD [ARG]...: run an unmodified
 * program inside an endpoint, as the caller, with the caller's stdio,
 * environment, umask and working directory; cs-ctl's exit status is the
 * program's (128+N when a signal N ended it, as in a shell). Nothing ties
 * the program to csd afterwards: it keeps running when csd stops or
 * restarts.
 *
 * root enters the namespace itself and becomes the program (setns needs
 * CAP_SYS_ADMIN). Anyone else asks csd (endpoint.exec): csd starts the
 * program as the caller under a small supervisor of its own, and cs-ctl
 * stays to forward SIGINT, SIGTERM, SIGHUP and SIGQUIT and to take the exit
 * status over a socketpair whose other end rode with the request (see
 * csd/ops_exec.c for that protocol).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "csd/names.h"
#include "ctl.h"
#include "vnet/etc_bind.h"
#include "proto.h"

extern char **environ;

/* The endpoint's /etc directory (its resolv.conf), as csd shows it; "" if
 * it has none. */
static int endpoint_etc(struct ctl *c, const char *name, char *etc, size_t len)
{
	json_t *res = NULL;
	char what[256];
	int r;

	snprintf(what, sizeof(what), "endpoint %s", name);
	r = ctl_request(c, "endpoint.show", json_pack("{s:s}", "name", name), what, &res);
	snprintf(etc, len, "%s", r ? "" : json_string_value(json_object_get(res, "etc")) ?: "");
	json_decref(res);
	return r;
}

static int exec_direct(struct ctl *c, const char *name, char **cmd)
{
	char etc[PATH_MAX], err[512];
	int fd, e;

	if (ctl_connect(c) || endpoint_etc(c, name, etc, sizeof(etc)))
		return CTL_FAIL;
	ctl_deadline_start(c, "endpoint.netns");
	fd = cs_endpoint_netns(c->cs, name);
	ctl_deadline_stop();
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
	/* the endpoint's resolv.conf (its gateway) where programs look */
	if (*etc && netns_etc_bind(etc, err, sizeof(err)) < 0)
		return ctl_fail(c, "endpoint %s: %s", name, err);
	/* the program must not inherit csd's connection (it would hold ephemeral
	 * state open and let the program speak as cs-ctl) */
	cs_close(c->cs);
	c->cs = NULL;
	fflush(stdout);
	execvp(cmd[0], cmd);
	e = errno;
	fprintf(stderr, "cs-ctl: exec %s: %s\n", cmd[0], strerror(e));
	/* as a shell: 127 not found, 126 found but not runnable */
	return e == ENOENT || e == ENOTDIR ? 127 : 126;
}

/* One request on @fd with @fds riding along; the reply's result or NULL
 * with the reason printed. */
static json_t *call(struct ctl *c, int fd, int64_t id, const char *op, json_t *args,
		    const int *fds, int nfds, const char *what)
{
	json_t *msg = cs_msg_request(id, op, args), *resp = NULL, *res = NULL, *err = NULL;
	char *text = NULL, *reply = NULL;
	int rfds[CS_WIRE_MAX_FDS], rnfds = 0, ok = 0;
	size_t len;
	json_int_t rid = -1;

	if (!msg || !(text = cs_msg_dump(msg, &len))) {
		ctl_fail(c, "%s: out of memory", what);
		goto out;
	}
	/* csd's answer is bounded by --timeout; the program, later, is not */
	ctl_deadline_start(c, op);
	if (cs_wire_send(fd, text, len, fds, nfds) < 0 ||
	    cs_wire_recv(fd, CS_WIRE_MSG_MAX_DEFAULT, &reply, &len, rfds, &rnfds) < 0) {
		ctl_deadline_stop();
		ctl_fail(c, "%s: connection to csd lost", what);
		goto out;
	}
	ctl_deadline_stop();
	for (int i = 0; i < rnfds; i++)
		close(rfds[i]);
	resp = json_loadb(reply, len, 0, NULL);
	if (!resp || json_unpack(resp, "{s:I, s:b, s?o, s?o}", "id", &rid, "ok", &ok, "result",
				 &res, "error", &err) < 0 || rid != id) {
		ctl_fail(c, "%s: malformed reply from csd", what);
		res = NULL;
		goto out;
	}
	if (!ok) {
		const char *message = json_string_value(json_object_get(err, "message"));

		ctl_fail(c, "%s", message ? message : what);
		res = NULL;
		goto out;
	}
	res = json_incref(res ? res : json_null());
out:
	json_decref(msg);
	json_decref(resp);
	free(text);
	free(reply);
	return res;
}

static int connect_csd(struct ctl *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = c->socket;
	int fd;

	if (!path)
		path = getenv("CS_SOCKET");
	if (!path || !*path)
		path = CS_DEFAULT_SOCKET;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		ctl_fail(c, "socket path %s is too long", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ctl_fail(c, "cannot reach csd at %s: %s (is csd running? use -S or $CS_SOCKET)",
			 path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	char why[512];
	if (cs_peer_trusted(fd, path, why, sizeof(why)) < 0) {
		ctl_fail(c, "%s", why);
		close(fd);
		return -1;
	}
	json_t *res = call(c, fd, 1, "hello", json_pack("{s:i, s:s}", "version",
			   CS_PROTOCOL_VERSION, "client", "cs-ctl"), NULL, 0, "hello");
	if (!res) {
		close(fd);
		return -1;
	}
	json_decref(res);
	return fd;
}

/* The caller's stdio as fds to pass; a closed one becomes /dev/null. */
static int stdio_fd(int i, int *opened)
{
	if (fcntl(i, F_GETFD) >= 0)
		return i;
	return *opened = open("/dev/null", O_RDWR | O_CLOEXEC);
}

static int exec_via_csd(struct ctl *c, const char *name, char **cmd)
{
	int fd = -1, sv[2] = { -1, -1 }, sfd = -1, ret = CTL_FAIL, opened[3] = { -1, -1, -1 };
	char cwd[PATH_MAX];
	json_t *argv = json_array(), *env = json_array(), *res = NULL;
	sigset_t mask, old;
	mode_t um = umask(0);

	umask(um);
	if (!getcwd(cwd, sizeof(cwd))) {
		ctl_fail(c, "exec: cannot tell the working directory: %s", strerror(errno));
		goto out;
	}
	for (char **a = cmd; *a; a++)
		json_array_append_new(argv, json_string(*a));
	for (char **e = environ; e && *e; e++)
		if (strchr(*e, '='))
			json_array_append_new(env, json_string(*e));
	/* the status socket: its other end goes to the program's supervisor */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		ctl_fail(c, "exec: socketpair: %s", strerror(errno));
		goto out;
	}
	/* block the signals to forward before the program exists, so none is
	 * lost (or kills cs-ctl) in between */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGQUIT);
	sigprocmask(SIG_BLOCK, &mask, &old);
	if ((sfd = signalfd(-1, &mask, SFD_CLOEXEC)) < 0) {
		ctl_fail(c, "exec: signalfd: %s", strerror(errno));
		goto out;
	}
	if ((fd = connect_csd(c)) < 0)
		goto out;
	int fds[4] = { stdio_fd(0, &opened[0]), stdio_fd(1, &opened[1]), stdio_fd(2, &opened[2]),
		       sv[1] };
	res = call(c, fd, 2, "endpoint.exec",
		   json_pack("{s:s, s:O, s:O, s:s, s:i}", "name", name, "argv", argv, "env", env,
			     "cwd", cwd, "umask", (int)um), fds, 4, name);
	close(fd);
	close(sv[1]);
	sv[1] = -1;
	if (!res)
		goto out;
	for (;;) {
		struct pollfd pf[2] = { { .fd = sv[0], .events = POLLIN },
					{ .fd = sfd, .events = POLLIN } };
		char buf[64];
		int v;

		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			ctl_fail(c, "exec: poll: %s", strerror(errno));
			break;
		}
		if (pf[1].revents) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				int n = snprintf(buf, sizeof(buf), "kill %u", si.ssi_signo);
				send(sv[0], buf, (size_t)n, MSG_NOSIGNAL);
			}
		}
		if (!pf[0].revents)
			continue;
		ssize_t len = recv(sv[0], buf, sizeof(buf) - 1, 0);
		if (len <= 0) {
			ctl_fail(c, "exec %s: the program's supervisor went away; its exit status is "
				 "unknown", name);
			break;
		}
		buf[len] = '\0';
		if (sscanf(buf, "exit %d", &v) == 1) {
			ret = v;
			break;
		}
		if (sscanf(buf, "signal %d", &v) == 1) {
			ret = 128 + v;
			break;
		}
		/* "pid N": started */
	}
out:
	if (sfd >= 0)
		close(sfd);
	for (int i = 0; i < 2; i++)
		if (sv[i] >= 0)
			close(sv[i]);
	for (int i = 0; i < 3; i++)
		if (opened[i] >= 0)
			close(opened[i]);
	json_decref(res);
	json_decref(argv);
	json_decref(env);
	return ret;
}

int ctl_exec(struct ctl *c, int argc, char **argv)
{
	char parts[3][CS_NAME_MAX + 1], err[256];
	const char *name;
	int e;

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
	fflush(stdout);
	if (geteuid() == 0)
		return exec_direct(c, name, argv + 3);
	return exec_via_csd(c, name, argv + 3);
}
