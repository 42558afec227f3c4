/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VNET_ETC_BIND_H
#define VNET_ETC_BIND_H

#include <stddef.h>

/*
 * Put the calling process in a mount namespace of its own in which each
 * regular file of @dir (an endpoint's /etc directory, vb_endpoint_etc())
 * replaces /etc's file of that name, as `ip netns exec` does. Needs
 * CAP_SYS_ADMIN; call it after entering the endpoint's network namespace
 * and before dropping privileges. A missing @dir is no error (nothing to
 * show). 0, or CS_EIO with the reason in @err.
 */
int netns_etc_bind(const char *dir, char *err, size_t errlen);

#endif
