/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon's request handling (csd_handle) on arbitrary messages, against
 * a real SQLite store and the recording backend. The store persists from one
 * input to the next, so the fuzzer explores sequences of state too.
 *
 * Each input is one request message as it arrives off the wire. Who sends
 * it is chosen by the parity of the first byte, so every seed stays a
 * recorded message: '{' (odd) is root, a leading ' ' or '\n' (even; JSON
 * allows the whitespace) is uid 1000 with a supplementary group.
 *
 * The client is NULL: csd_handle treats that as a connection that already
 * said hello (client_said_hello(NULL) is true in csd/server.c), and
 * ephemeral endpoints are then not tied to a connection.
 */
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csd/csd.h"
#include "vnet/recording.h"
#include "fuzz.h"

static struct csd d;
static bool verbose; /* CS_FUZZ_VERBOSE=1: print each reply, to check seeds do what they say */
static char tmpdir[4096];

static gid_t root_gids[] = { 0 };
static const struct principal root = {
	.uid = 0, .gid = 0, .pid = 1, .gids = root_gids, .ngids = 1, .admin = true,
};
static gid_t user_gids[] = { 1000, 100 };
static const struct principal user = {
	.uid = 1000, .gid = 1000, .pid = 2, .gids = user_gids, .ngids = 2, .admin = false,
};

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

static void cleanup(void)
{
	csd_fini(&d);
	csd_config_free(&d.cfg);
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char sock[sizeof(tmpdir) + 8], state[sizeof(tmpdir) + 8], err[512];
	const char *base = getenv("TMPDIR");

	/* $TMPDIR lets tests/fuzz/run put it in its build directory: after a
	 * crash, abort() skips atexit() and the directory stays behind. */
	snprintf(tmpdir, sizeof(tmpdir), "%s/cs-fuzz-request-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("fuzz_request: mkdtemp");
		exit(1);
	}
	snprintf(sock, sizeof(sock), "%s/s", tmpdir);
	snprintf(state, sizeof(state), "%s/state", tmpdir);
	char *args[] = {
		"csd", "-S", sock, "-D", state, "-p", "fz", "--backend", "recording",
		"-l", "emerg", NULL,
	};
	if (csd_config_load(&d.cfg, 11, args, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_request: config: %s\n", err);
		exit(1);
	}
	log_set_level(d.cfg.log_level);
	verbose = getenv("CS_FUZZ_VERBOSE") != NULL;
	atexit(cleanup);
	if (csd_init(&d) < 0) {
		fprintf(stderr, "fuzz_request: csd_init failed\n");
		exit(1);
	}
	/* csd_init blocks these for its signalfd; nothing polls it here, and
	 * the fuzzer must stay interruptible. */
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_UNBLOCK, &mask, NULL);
	return 0;
}

/* The lowest free descriptor: it rises when a request leaks one. */
static int lowest_free_fd(void)
{
	int fd = fcntl(0, F_DUPFD_CLOEXEC, 0);

	if (fd >= 0)
		close(fd);
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* SQLite may keep a journal or WAL open once it has written; a
	 * few descriptors of growth over a whole run are that, more is a leak. */
	static int fd_slack = 8;
	int fd_before = lowest_free_fd();
	const struct principal *who = size && !(data[0] & 1) ? &user : &root;
	int fds[CS_WIRE_MAX_FDS], nfds = -1;
	json_t *reply;

	reply = csd_handle(&d, NULL, who, (const char *)data, size, fds, &nfds);
	FUZZ_CHECK(reply != NULL);
	FUZZ_CHECK(nfds >= 0 && nfds <= CS_WIRE_MAX_FDS);
	for (int i = 0; i < nfds; i++) {
		FUZZ_CHECK(fds[i] >= 0);
		close(fds[i]);
	}
	/* The reply must be what the server can send: an object with "ok". */
	FUZZ_CHECK(json_is_object(reply));
	json_t *ok = json_object_get(reply, "ok");
	FUZZ_CHECK(json_is_boolean(ok));
	if (json_is_false(ok)) {
		json_t *e = json_object_get(reply, "error");
		FUZZ_CHECK(json_is_string(json_object_get(e, "code")));
		FUZZ_CHECK(json_is_string(json_object_get(e, "message")));
		FUZZ_CHECK(nfds == 0);
	}
	size_t len;
	char *text = cs_msg_dump(reply, &len);
	FUZZ_CHECK(text != NULL);
	if (verbose)
		fprintf(stderr, "%s (uid %u, %d fds)\n", text, (unsigned)who->uid, nfds);
	free(text);
	json_decref(reply);
	/* the backend's log of what it would do only grows; it is not under test */
	vnet_recording_reset(d.backend);
	int fd_after = lowest_free_fd();
	if (fd_after > fd_before) {
		fd_slack -= fd_after - fd_before;
		if (fd_slack < 0)
			fprintf(stderr, "fuzz_request: descriptors leak (lowest free fd %d -> %d)\n",
				fd_before, fd_after);
		FUZZ_CHECK(fd_slack >= 0);
	}
	return 0;
}
