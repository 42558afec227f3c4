/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * endpoint.exec: run a program inside an endpoint as the caller, for callers
 * that cannot enter a namespace themselves (anyone but root).
 *
 * The request brings four fds: the caller's stdin, stdout and stderr, and
 * one end of a SOCK_SEQPACKET socketpair (the "status socket") whose other
 * end the caller keeps. csd forks twice, so the program never is csd's
 * child: a short-lived child forks the supervisor and exits at once, and the
 * supervisor, reparented to init (or the nearest subreaper), in a session
 * of its own and holding none of csd's fds, survives csd stopping, crashing
 * or restarting. The supervisor enters the endpoint's namespace (and shows
 * the endpoint's /etc files, its resolv.conf, as ip netns exec does), drops to
 * the caller's uid, gid and supplementary groups, sets no_new_privs, and
 * forks the program, which takes the caller's stdio, umask, environment and
 * working directory, in a process group of its own. The supervisor then
 * relays over the status socket, one datagram each:
 *   supervisor -> caller: "pid N" once started; "exit N" or "signal N" last
 *   caller -> supervisor: "kill N" (the caller's signal, sent on to the
 *                         program's process group)
 * The supervisor runs as the caller too, so it can do nothing the caller
 * could not. Without CAP_SYS_ADMIN the program cannot leave the namespace
 * (setns needs it over the target), nor make raw sockets (no CAP_NET_RAW).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit.h"
#include "exec_limits.h"
#include "ops.h"
#include "policy.h"
#include "vnet/etc_bind.h"

#define EXEC_ARGS_MAX 4096
#define EXEC_REPORT_TIMEOUT_MS 5000

/* server.c */
int client_take_fds(struct client *c, int fds[CS_WIRE_MAX_FDS]);

extern char **environ;

/* What the supervisor and the program need, prepared before fork. */
struct exec_plan {
	char **argv;
	char **envp;
	const char *cwd;
	mode_t umask;
	uid_t uid;
	gid_t gid;
	gid_t *gids;
	int ngids;
	struct caller_limits lim; /* the caller's rlimits and cgroups */
	char etc[PATH_MAX];       /* the endpoint's /etc files ("": none) */
};

/* fds of the supervisor, moved to fixed numbers */
enum { FD_IN = 3, FD_OUT, FD_ERR, FD_STATUS, FD_REPORT, FD_NS, FD_END };

static char **strings(const json_t *a, bool env, const char *what, struct csd_req *r)
{
	size_t i, n = json_array_size(a);
	json_t *v;
	char **out;

	if (!json_is_array(a) || n > EXEC_ARGS_MAX) {
		req_fail(r, CS_EINVAL, "endpoint.exec: \"%s\" must be an array of at most %d strings",
			 what, EXEC_ARGS_MAX);
		return NULL;
	}
	if (!(out = calloc(n + 1, sizeof(*out)))) {
		req_fail(r, CS_ENOMEM, "endpoint.exec: out of memory");
		return NULL;
	}
	json_array_foreach(a, i, v) {
		const char *s = json_string_value(v);
		/* a NUL inside a JSON string would silently cut the argument */
		if (!s || strlen(s) != json_string_length(v) || (env && !strchr(s, '='))) {
			req_fail(r, CS_EINVAL, "endpoint.exec: %s[%zu] must be a string%s", what, i,
				 env ? " NAME=VALUE" : " without NUL");
			free(out);
			return NULL;
		}
		out[i] = (char *)s;
	}
	return out;
}

static void report(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(int fd, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 1)
		n = sizeof(buf) - 1;
	if (send(fd, buf, (size_t)n, MSG_NOSIGNAL) < 0 && errno == ENOTSOCK)
		(void)!write(fd, buf, (size_t)n);
}

static void reset_signals(void)
{
	sigset_t all;

	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
}

static void __attribute__((noreturn)) run_program(const struct exec_plan *x)
{
	int e;

	if (dup2(FD_IN, 0) < 0 || dup2(FD_OUT, 1) < 0 || dup2(FD_ERR, 2) < 0)
		_exit(126);
	close_range(3, ~0U, 0);
	setpgid(0, 0);
	umask(x->umask);
	/* as a shell's `cd DIR && CMD`: no directory, no command */
	if (chdir(x->cwd) < 0) {
		dprintf(2, "cs-ctl exec: cd %s: %s\n", x->cwd, strerror(errno));
		_exit(1);
	}
	environ = x->envp;
	execvp(x->argv[0], x->argv);
	e = errno;
	dprintf(2, "cs-ctl exec: %s: %s\n", x->argv[0], strerror(e));
	_exit(e == ENOENT || e == ENOTDIR ? 127 : 126);
}

/* The supervisor: fds already at FD_IN..FD_NS, everything else closed. */
/* Take the caller's limits and cgroups (while still root), enter the
 * endpoint's namespace when @enter, become the caller. 0 or -1 with why. */
static int become_caller(const struct exec_plan *x, bool enter, char *err, size_t errlen)
{
	if (caller_limits_apply(&x->lim, err, errlen) < 0)
		return -1;
	if (enter && setns(FD_NS, CLONE_NEWNET) < 0) {
		snprintf(err, errlen, "cannot enter the namespace: %s", strerror(errno));
		return -1;
	}
	/* the endpoint's resolv.conf (its gateway) where programs look */
	if (enter && x->etc[0] && netns_etc_bind(x->etc, err, errlen) < 0)
		return -1;
	if (setgroups((size_t)x->ngids, x->gids) < 0 || setresgid(x->gid, x->gid, x->gid) < 0 ||
	    setresuid(x->uid, x->uid, x->uid) < 0) {
		snprintf(err, errlen, "cannot become uid %u gid %u: %s", (unsigned)x->uid,
			 (unsigned)x->gid, strerror(errno));
		return -1;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		snprintf(err, errlen, "no_new_privs: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * The supervisor forks the program before anything the caller controls
 * can hold it up (joining the caller's cgroups waits while the caller
 * keeps them frozen), and reports its pid at once: csd waits for that
 * report, and must not wait on the caller. The program takes the caller's
 * limits, cgroups, namespace and identity; what fails there it says on the
 * caller's stderr and exits 126. Then the supervisor becomes the caller
 * too: it only waits and relays.
 */
static void __attribute__((noreturn)) supervise(const struct exec_plan *x)
{
	int pidfd, st = 0;
	bool peer = true, reaped = false;
	pid_t pid;
	char err[CALLER_CGROUP_MAX + 2200];

	pid = fork();
	if (pid < 0) {
		report(FD_REPORT, "error: fork: %s", strerror(errno));
		_exit(1);
	}
	if (pid == 0) {
		close(FD_REPORT);
		close(FD_STATUS);
		if (become_caller(x, true, err, sizeof(err)) < 0) {
			dprintf(FD_ERR, "cs-ctl exec: %s\n", err);
			_exit(126);
		}
		run_program(x);
	}
	/* the program holds the caller's stdio; a pipe must close when it exits */
	close(FD_NS);
	close(FD_IN);
	close(FD_OUT);
	close(FD_ERR);
	report(FD_REPORT, "pid %d", (int)pid);
	close(FD_REPORT);
	report(FD_STATUS, "pid %d", (int)pid);
	if (become_caller(x, false, err, sizeof(err)) < 0) {
		kill(pid, SIGKILL);
		report(FD_STATUS, "exit 126");
		_exit(1);
	}
	signal(SIGPIPE, SIG_IGN);
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	for (;;) {
		struct pollfd pf[2] = { { .fd = pidfd, .events = POLLIN },
					{ .fd = peer ? FD_STATUS : -1, .events = POLLIN } };
		int n = poll(pf, 2, pidfd >= 0 ? -1 : 100);

		if (n < 0 && errno != EINTR)
			break;
		if (n > 0 && pf[1].revents) {
			char buf[64];
			ssize_t len = recv(FD_STATUS, buf, sizeof(buf) - 1, MSG_DONTWAIT);
			int sig;

			if (len > 0) {
				buf[len] = '\0';
				if (sscanf(buf, "kill %d", &sig) == 1 && sig > 0 && sig < NSIG &&
				    kill(-pid, sig) < 0)
					kill(pid, sig); /* it left its process group */
			} else if (len == 0 || (errno != EAGAIN && errno != EINTR)) {
				/* the caller went away: the program lives on, as a
				 * shell's child outlives the shell */
				peer = false;
			}
		}
		if (waitpid(pid, &st, WNOHANG) == pid) {
			reaped = true;
			break;
		}
	}
	while (!reaped && waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(st))
		report(FD_STATUS, "exit %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		report(FD_STATUS, "signal %d", WTERMSIG(st));
	_exit(0);
}

/* In the first child: move the fds the supervisor keeps to fixed numbers,
 * drop all of csd's, detach, fork the supervisor and leave. */
static void __attribute__((noreturn)) detach(const struct exec_plan *x, const int in[6])
{
	int high[6], null;
	pid_t pid;

	for (int i = 0; i < 6; i++)
		if ((high[i] = fcntl(in[i], F_DUPFD, FD_END + 64)) < 0)
			_exit(1);
	for (int i = 0; i < 6; i++)
		if (dup2(high[i], FD_IN + i) < 0)
			_exit(1);
	close_range(FD_END, ~0U, 0);
	if ((null = open("/dev/null", O_RDWR)) < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
	    dup2(null, 2) < 0)
		_exit(1);
	close(null);
	reset_signals();
	setsid();
	prctl(PR_SET_NAME, "cs-exec", 0, 0, 0); /* for ps: not csd itself */
	pid = fork();
	if (pid < 0) {
		report(FD_REPORT, "error: fork: %s", strerror(errno));
		_exit(1);
	}
	if (pid == 0)
		supervise(x);
	_exit(0);
}

static int start(struct csd_req *r, const char *name, const struct exec_plan *x,
		 const int fds[4], int nsfd, pid_t *out)
{
	int rep[2], st;
	pid_t pid;
	char buf[512];
	ssize_t n = -1;

	if (pipe2(rep, O_CLOEXEC) < 0)
		return req_fail(r, CS_EIO, "endpoint %s: pipe: %s", name, strerror(errno));
	int keep[6] = { fds[0], fds[1], fds[2], fds[3], rep[1], nsfd };
	pid = fork();
	if (pid == 0)
		detach(x, keep);
	close(rep[1]);
	if (pid < 0) {
		close(rep[0]);
		return req_fail(r, CS_EIO, "endpoint %s: fork: %s", name, strerror(errno));
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	/* the supervisor only enters the namespace, drops privileges and
	 * forks: its report comes at once; the bound keeps a stuck one from
	 * stalling the loop */
	struct pollfd pf = { .fd = rep[0], .events = POLLIN };
	if (poll(&pf, 1, EXEC_REPORT_TIMEOUT_MS) > 0)
		n = read(rep[0], buf, sizeof(buf) - 1);
	close(rep[0]);
	if (n <= 0)
		return req_fail(r, CS_EIO, "endpoint %s: the program's supervisor did not start", name);
	buf[n] = '\0';
	if (!strncmp(buf, "error: ", 7))
		return req_fail(r, CS_EIO, "endpoint %s: %s", name, buf + 7);
	int p;
	if (sscanf(buf, "pid %d", &p) != 1)
		return req_fail(r, CS_EPROTO, "endpoint %s: the supervisor said \"%s\"", name, buf);
	*out = p;
	return 0;
}

static int exec_run(struct csd_req *r, char *name, size_t namelen, char *detail, size_t dlen)
{
	int fds[CS_WIRE_MAX_FDS], nfds, nsfd = -1, ret, type;
	socklen_t tlen = sizeof(type);
	name_t p[3];
	json_t *tdoc = NULL, *doc = NULL;
	char key[KEY_MAX];
	struct exec_plan x = { 0 };
	json_int_t um = 022;
	pid_t pid = 0;

	nfds = client_take_fds(r->client, fds);
	if ((ret = req_path(r, "name", 3, p)) < 0)
		goto out;
	snprintf(name, namelen, "%s/%s/%s", p[0], p[1], p[2]);
	if ((ret = req_vnet(r, p[0], p[1], &tdoc, NULL)) < 0)
		goto out;
	key_endpoint(key, p[0], p[1], p[2]);
	if ((ret = model_get(r->d, key, &doc, NULL)) < 0) {
		ret = ret == CS_ENOENT ? req_fail(r, ret, "endpoint %s: no such endpoint", name)
				       : req_store_fail(r, ret, key);
		goto out;
	}
	if (!model_endpoint_local(r->d, doc)) {
		ret = req_fail(r, CS_EINVAL, "endpoint %s lives on node %s; run exec there (cs-ctl "
			       "-S with that node's csd socket)", name,
			       json_string_value(json_object_get(doc, "node")) ?: "?");
		goto out;
	}
	x.cwd = json_string_value(json_object_get(r->args, "cwd"));
	json_t *jum = json_object_get(r->args, "umask");
	if (jum)
		um = json_is_integer(jum) ? json_integer_value(jum) : -1;
	if (!x.cwd || x.cwd[0] != '/' || strlen(x.cwd) >= PATH_MAX) {
		ret = req_fail(r, CS_EINVAL, "endpoint.exec: \"cwd\" must be an absolute path");
		goto out;
	}
	if (um < 0 || um > 0777) {
		ret = req_fail(r, CS_EINVAL, "endpoint.exec: \"umask\" must be an integer 0..0777");
		goto out;
	}
	x.umask = (mode_t)um;
	/* argv first: an empty one is the mistake to name, whatever env is */
	if (!(x.argv = strings(json_object_get(r->args, "argv"), false, "argv", r))) {
		ret = CS_EINVAL;
		goto out;
	}
	if (!x.argv[0] || !x.argv[0][0]) {
		ret = req_fail(r, CS_EINVAL, "endpoint.exec: \"argv\" is empty; it must name a "
			       "command");
		goto out;
	}
	if (!(x.envp = strings(json_object_get(r->args, "env"), true, "env", r))) {
		ret = CS_EINVAL;
		goto out;
	}
	if (nfds != 4 || getsockopt(fds[3], SOL_SOCKET, SO_TYPE, &type, &tlen) < 0 ||
	    type != SOCK_SEQPACKET) {
		ret = req_fail(r, CS_EINVAL, "endpoint.exec: expected 4 fds with the request "
			       "(stdin, stdout, stderr, a SOCK_SEQPACKET status socket), got %d",
			       nfds);
		goto out;
	}
	struct vnet_backend *b = csd_backend_for(r->d, p[0], p[1]);
	nsfd = vb_endpoint_netns(b, p[0], p[1], p[2]);
	if (nsfd < 0) {
		char what[3 * CS_NAME_MAX + 16];
		snprintf(what, sizeof(what), "endpoint %s", name);
		backend_why_of(b, what, r->error, sizeof(r->error));
		ret = nsfd;
		goto out;
	}
	if (vb_endpoint_etc(b, p[0], p[1], p[2], x.etc, sizeof(x.etc)) < 0)
		x.etc[0] = '\0';
	x.uid = r->who->uid;
	x.gid = r->who->gid;
	x.gids = r->who->gids;
	x.ngids = r->who->ngids;
	char why[256];
	if (caller_limits_read(r->who->pid, r->who->uid, &x.lim, why, sizeof(why)) < 0) {
		ret = req_fail(r, CS_EINVAL, "endpoint %s: %s; exec runs programs under the "
			       "caller's limits", name, why);
		goto out;
	}
	if ((ret = start(r, name, &x, fds, nsfd, &pid)) < 0)
		goto out;
	snprintf(detail, dlen, "pid %d %s", (int)pid, x.argv[0]);
	r->result = json_pack("{s:i}", "pid", (int)pid);
	ret = 0;
out:
	if (nsfd >= 0)
		close(nsfd);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	free(x.argv);
	free(x.envp);
	json_decref(tdoc);
	json_decref(doc);
	return ret;
}

static int endpoint_exec(struct csd_req *r)
{
	char name[3 * (CS_NAME_MAX + 1)] = "", detail[64] = "";
	int ret = exec_run(r, name, sizeof(name), detail, sizeof(detail));

	/* not a change of the store, but a program started in a tenant's name */
	audit_record(r->who, r->op, r->args, name[0] ? name : NULL, ret, r->error, detail);
	return ret;
}

CSD_OP(endpoint_exec, "endpoint.exec", endpoint_exec, 0,
       "run a program inside an endpoint as the caller");
