/* SPDX-License-Identifier: GPL-2.0-or-later */
/* netns_fd_high (vnet/netns.c): an fd kept for long moves to 1024 and up,
 * so that libnftables' select() always finds a low one for its socket; a
 * limit that allows no more leaves it where it was, still open. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>
#include <cmocka.h>

#include "vnet/netns.h"

static void test_moves_up(void **state)
{
	struct rlimit rl;

	(void)state;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_max <= NETNS_FD_HIGH)
		skip();
	rl.rlim_cur = rl.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0 && fd < NETNS_FD_HIGH);
	int high = netns_fd_high(fd);
	assert_true(high >= NETNS_FD_HIGH);
	/* the low one is free again, the high one open and close-on-exec */
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	assert_true(fcntl(high, F_GETFD) & FD_CLOEXEC);
	/* one already high stays */
	assert_int_equal(netns_fd_high(high), high);
	close(high);
	assert_int_equal(netns_fd_high(-1), -1);
}

static void test_limit_keeps_it(void **state)
{
	struct rlimit rl, low = { NETNS_FD_HIGH, 0 };

	(void)state;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	low.rlim_max = rl.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(netns_fd_high(fd), fd);
	assert_int_not_equal(fcntl(fd, F_GETFD), -1);
	close(fd);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_moves_up),
		cmocka_unit_test(test_limit_keeps_it),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
