/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cs-ctl status: what csd says about itself (version, node, store, counts). */
#include "ctl.h"

int ctl_status(struct ctl *c, int argc, char **argv)
{
	json_t *res = NULL;
	int r;

	if (c->help) {
		ctl_usage_line(c, stdout, "");
		return CTL_OK;
	}
	ctl_drop_dashdash(&argc, argv);
	if (argc > 1)
		return ctl_usage_error(c, "unexpected \"%s\"; status takes no arguments", argv[1]);
	r = ctl_request(c, "status", NULL, "status", &res);
	if (!r) {
		if (c->json)
			r = ctl_print_json(res ? res : json_null());
		else if (res)
			ctl_print_flat(stdout, res);
	}
	json_decref(res);
	return r;
}
