/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The wireguard-go driver: Debian's userspace WireGuard, for kernels
 * without the module. csd starts `wireguard-go IFNAME` in the underlay
 * namespace (it daemonizes: the launcher makes the tun device and the UAPI
 * socket, hands them to a detached child and exits), then speaks the UAPI
 * text protocol over /var/run/wireguard/IFNAME.sock. The process outlives
 * csd, as kernel objects do; a restarted csd finds it through the socket
 * (connectable: alive) and never starts a second; down() kills the process
 * holding the listening socket (found by its inode: SO_PEERCRED names the
 * launcher, which made the socket and exited), and wireguard-go then
 * removes its interface and socket. The socket directory is shared by every namespace
 * of the host: interface names carry csd's prefix, and a socket not served
 * by root is refused.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "netns.h"
#include "wg.h"

#define WG_GO_BIN "/usr/bin/wireguard-go"
#define WG_SOCK_DIR "/var/run/wireguard"
#define UAPI_TIMEOUT_MS 5000
#define UAPI_REPLY_MAX (1 << 20)

extern char **environ;

/* A connection to @ifname's UAPI socket, checked to be served by root;
 * CS_ENOENT when nothing listens there. */
static int uapi_connect(const char *ifname)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), WG_SOCK_DIR "/%s.sock", ifname);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return CS_EIO;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return errno == ENOENT || errno == ECONNREFUSED ? CS_ENOENT : CS_EIO;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0) {
		close(fd);
		return CS_EPERM;
	}
	return fd;
}

/* Send @req, read the reply up to its empty line into *@out (malloc'd). */
static int uapi_call(const char *ifname, const char *req, char **out, char *why,
		     size_t whylen)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	int fd, r = CS_EIO;

	if (!buf)
		return CS_ENOMEM;
	if ((fd = uapi_connect(ifname)) < 0) {
		snprintf(why, whylen, "wireguard-go %s: cannot reach its UAPI socket "
			 WG_SOCK_DIR "/%s.sock%s", ifname, ifname,
			 fd == CS_EPERM ? " (not served by root)" : "");
		free(buf);
		return fd;
	}
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		goto out;
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t n;
		if (len + 1 >= cap) {
			char *nb = cap >= UAPI_REPLY_MAX ? NULL : realloc(buf, cap *= 2);
			if (!nb)
				goto out;
			buf = nb;
		}
		if (poll(&p, 1, UAPI_TIMEOUT_MS) <= 0 ||
		    (n = read(fd, buf + len, cap - len - 1)) <= 0)
			goto out;
		len += (size_t)n;
		buf[len] = '\0';
		if (len >= 2 && !strcmp(buf + len - 2, "\n\n"))
			break;
	}
	r = 0;
	*out = buf;
	buf = NULL;
out:
	if (r < 0)
		snprintf(why, whylen, "wireguard-go %s: no complete answer on its UAPI socket",
			 ifname);
	free(buf);
	close(fd);
	return r;
}

static bool go_running(int nsfd, const char *ifname)
{
	int fd = uapi_connect(ifname);

	(void)nsfd;
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

struct spawn_job {
	const char *ifname;
	char **envp;
	pid_t pid;
	int err;
};

/* csd's environment without WG_PROCESS_FOREGROUND: the launcher must
 * daemonize (unsetenv() would race csd's other threads). */
static char **spawn_env(void)
{
	static const char fg[] = "WG_PROCESS_FOREGROUND=";
	size_t n = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	if (!(env = calloc(n + 1, sizeof(*env))))
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], fg, sizeof(fg) - 1))
			env[k++] = environ[i];
	return env;
}

/* In the underlay namespace: the child is born there. Its signal mask and
 * handlers are reset (csd blocks SIGTERM for its signalfd). */
static int spawn_fn(void *arg)
{
	struct spawn_job *j = arg;
	char *argv[] = { (char *)"wireguard-go", (char *)j->ifname, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;

	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	posix_spawnattr_init(&at);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
				 POSIX_SPAWN_SETSID);
	j->err = posix_spawn(&j->pid, WG_GO_BIN, &fa, &at, argv, j->envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	return 0;
}

static int go_up(int nsfd, const char *ifname, char *why, size_t whylen)
{
	struct spawn_job j = { .ifname = ifname };
	char err[200];
	int fd, st = 0, r;

	if ((fd = uapi_connect(ifname)) >= 0) {
		close(fd);	/* alive: adopted */
		return 0;
	}
	if (!(j.envp = spawn_env()))
		return CS_ENOMEM;
	r = netns_run(nsfd, spawn_fn, &j, err, sizeof(err));
	free(j.envp);
	if (r < 0 || j.err) {
		snprintf(why, whylen, "cannot start " WG_GO_BIN " %s: %s", ifname,
			 r < 0 ? err : strerror(j.err));
		return CS_EIO;
	}
	/* the launcher returns once the socket and the device exist */
	if (waitpid(j.pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		snprintf(why, whylen, WG_GO_BIN " %s failed (exit status %d); is the tun "
			 "device (/dev/net/tun) there?", ifname, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		return CS_EIO;
	}
	for (int i = 0; i < 100; i++) {
		if ((fd = uapi_connect(ifname)) >= 0) {
			close(fd);
			return 0;
		}
		nanosleep(&(struct timespec){ 0, 20 * 1000 * 1000 }, NULL);
	}
	snprintf(why, whylen, WG_GO_BIN " %s started but its UAPI socket did not appear", ifname);
	return CS_EIO;
}

static int go_get(int nsfd, const char *ifname, struct wg_state *st, char *why, size_t whylen)
{
	char *reply = NULL;
	int r;

	(void)nsfd;
	if ((r = uapi_call(ifname, "get=1\n\n", &reply, why, whylen)) < 0)
		return r;
	r = wg_uapi_parse(reply, st);
	explicit_bzero(reply, strlen(reply));
	free(reply);
	if (r < 0)
		snprintf(why, whylen, "wireguard-go %s: a malformed or failed answer to get",
			 ifname);
	return r;
}

static int go_set(int nsfd, const char *ifname, const struct wg_set *set, char *why,
		  size_t whylen)
{
	char *text = wg_uapi_text(set), *reply = NULL;
	int r;

	(void)nsfd;
	if (!text)
		return CS_ENOMEM;
	r = uapi_call(ifname, text, &reply, why, whylen);
	explicit_bzero(text, strlen(text));
	free(text);
	if (r < 0)
		return r;
	if (strncmp(reply, "errno=0\n", 8)) {
		reply[strcspn(reply, "\n")] = '\0';
		snprintf(why, whylen, "wireguard-go %s refused the configuration (%s)", ifname,
			 reply);
		r = CS_EIO;
	}
	free(reply);
	return r;
}

/* The inode of the listening socket bound to @path, from /proc/net/unix
 * (this namespace's: csd and wireguard-go share the underlay's); 0: none. */
static unsigned long listen_inode(const char *path)
{
	char line[512], p[256];
	unsigned long ino, found = 0;
	unsigned int st;
	FILE *f = fopen("/proc/net/unix", "re");

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		/* Num RefCount Protocol Flags Type St Inode Path */
		if (sscanf(line, "%*s %*s %*s %*s %*s %x %lu %255s", &st, &ino, p) == 3 &&
		    st == 1 && !strcmp(p, path))
			found = ino;
	}
	fclose(f);
	return found;
}

/* A wireguard-go process holding socket inode @ino; 0: none. */
static pid_t inode_holder(unsigned long ino)
{
	char want[64], path[600], link[64], comm[32] = "";
	DIR *proc = opendir("/proc"), *fds;
	struct dirent *p, *e;
	pid_t pid = 0;

	if (!proc)
		return 0;
	snprintf(want, sizeof(want), "socket:[%lu]", ino);
	while (!pid && (p = readdir(proc))) {
		if (p->d_name[0] < '1' || p->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", p->d_name);
		if (!(fds = opendir(path)))
			continue;
		while (!pid && (e = readdir(fds))) {
			ssize_t n;
			snprintf(path, sizeof(path), "/proc/%s/fd/%s", p->d_name, e->d_name);
			n = readlink(path, link, sizeof(link) - 1);
			if (n > 0 && (link[n] = '\0', !strcmp(link, want)))
				pid = (pid_t)atoi(p->d_name);
		}
		closedir(fds);
	}
	closedir(proc);
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	FILE *f = pid ? fopen(path, "re") : NULL;
	if (f) {
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = '\0';
		fclose(f);
	}
	return strncmp(comm, "wireguard-go", 12) ? 0 : pid;
}

static int go_down(int nsfd, const char *ifname, char *why, size_t whylen)
{
	char path[128];
	pid_t pid;
	int fd;

	(void)nsfd;
	if ((fd = uapi_connect(ifname)) == CS_ENOENT)
		return 0;
	if (fd >= 0)
		close(fd);
	snprintf(path, sizeof(path), WG_SOCK_DIR "/%s.sock", ifname);
	if (fd < 0 || !(pid = inode_holder(listen_inode(path)))) {
		snprintf(why, whylen, "wireguard-go %s: cannot tell which process serves %s",
			 ifname, path);
		return CS_EIO;
	}
	/* it removes its interface and socket on SIGTERM */
	if (kill(pid, SIGTERM) < 0 && errno != ESRCH) {
		snprintf(why, whylen, "wireguard-go %s (pid %d): %s", ifname, (int)pid,
			 strerror(errno));
		return CS_EIO;
	}
	/* gone once nothing answers on its socket (it may not be our child) */
	for (int i = 0; i < 150; i++) {
		if ((fd = uapi_connect(ifname)) < 0)
			return 0;
		close(fd);
		nanosleep(&(struct timespec){ 0, 20 * 1000 * 1000 }, NULL);
	}
	snprintf(why, whylen, "wireguard-go %s (pid %d) did not stop within 3 s", ifname,
		 (int)pid);
	return CS_EIO;
}

const struct wg_driver wg_driver_go = {
	.name = "wireguard-go",
	.running = go_running,
	.up = go_up,
	.get = go_get,
	.set = go_set,
	.down = go_down,
};
