/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cs-ctl(8): everything but this lives in cs-ctl-core, for the tests. */
#include "ctl.h"

int main(int argc, char **argv)
{
	return ctl_main(argc, argv);
}
