/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Named network namespaces, bind-mounted under /run/netns the way iproute2
 * does it (so `ip -n NAME` sees them), without running `ip`.
 *
 * Names are single path components (no '/'). All calls return 0 or a
 * negative CS_E* code; those that take @err write a reason there on failure.
 * They change only the calling thread's namespace, and only for the length
 * of the call.
 */
#ifndef VNET_NETNS_H
#define VNET_NETNS_H

#include <stddef.h>

#define NETNS_RUN_DIR "/run/netns"

/* Make sure /run/netns exists and is a shared mount point. */
int netns_init(char *err, size_t errlen);

/* Create namespace @name. CS_EEXIST if a namespace is already mounted there
 * (an empty file left by an interrupted create is reused). */
int netns_add(const char *name, char *err, size_t errlen);

/* An O_CLOEXEC fd of namespace @name; CS_ENOENT if there is none. */
int netns_open(const char *name, char *err, size_t errlen);

/* Unmount and remove @name; CS_ENOENT if it was not there. */
int netns_delete(const char *name, char *err, size_t errlen);

/* Names under /run/netns starting with @prefix, sorted. The caller frees
 * each name and the array (free()). */
int netns_list(const char *prefix, char ***names, size_t *n);

/*
 * Mount the network namespace @fd (someone else's, e.g. a container's) at
 * @name, so that it is found by name from now on, across restarts, and
 * held until netns_delete(@name). CS_EEXIST if a namespace is mounted
 * there already (the caller compares with netns_same()).
 */
int netns_attach(const char *name, int fd, char *err, size_t errlen);

/* Is @fd a network namespace? 0, or CS_EINVAL with a reason in @err. */
int netns_check_fd(int fd, char *err, size_t errlen);

/* The uid owning the user namespace that owns network namespace @fd
 * (0 for the node's initial one). 0 or CS_EIO. */
int netns_owner_uid(int fd, unsigned int *uid);

/* Does @fd refer to the namespace now mounted at @name? */
int netns_same(int fd, const char *name);

/*
 * Call fn(arg) with the calling thread inside namespace @nsfd, then return
 * to its namespace. Returns what fn returned, or CS_EIO if entering failed.
 * If returning failed the thread is stranded in @nsfd: CS_EIO and a reason
 * saying so, which the caller must treat as fatal for the thread.
 */
int netns_run(int nsfd, int (*fn)(void *arg), void *arg, char *err, size_t errlen);

/*
 * socket(2) inside @nsfd: the fd, CS_EINVAL (bad domain/type/protocol) or
 * CS_EIO (errno kept). No allocation. Each calling thread keeps one fd of
 * its own namespace, taken at its first call and closed when it exits:
 * a thread that moves to another namespace for good must not call this.
 */
int netns_socket(int nsfd, int domain, int type, int protocol);

/*
 * Write @value to the sysctl /proc/sys/@path (e.g. "net/ipv4/ping_group_range")
 * of the calling thread's network namespace. Through a procfs instance of
 * its own, mounted detached and gone with the call: the kernel keeps the
 * /proc/sys/net directory of every namespace in one hash chain of the
 * shared /proc, so a lookup there costs as many comparisons as there are
 * namespaces (5 ms each at 5,000 endpoints); a fresh instance has one.
 * Falls back to /proc/sys where procfs cannot be mounted. 0 or CS_EIO.
 */
int netns_sysctl_write(const char *path, const char *value);

/* Several at once (@kv: path, value), through one procfs instance; on
 * failure *@failed (when not NULL) is the index of the one that failed. */
int netns_sysctls_write(const char *const kv[][2], size_t n, size_t *failed);

/*
 * @fd moved to NETNS_FD_HIGH or above (closed; the new one returned, or
 * @fd itself when the limit allows no more). For fds kept for long, one or
 * more per vnet or endpoint (the gateways' DNS sockets, cached namespace
 * fds): libnftables waits on its socket with select(), which aborts the
 * process (fortified FD_SET) when that socket's fd is 1024 or more, and a
 * new socket takes the lowest free fd. With 500 vnets there were no low
 * ones left.
 */
#define NETNS_FD_HIGH 1024
int netns_fd_high(int fd);

#endif
