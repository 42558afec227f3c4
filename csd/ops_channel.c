/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * endpoint.channel: on a backend whose endpoints are user-level stacks
 * (user), what libcs's cs_connect, cs_listen and cs_socket ask for instead
 * of a socket. Authorized as endpoint.socket is; the reply carries the
 * program's end of a socketpair whose other end the endpoint's stack holds.
 * csd does not wait for the connection: the stack writes its outcome into
 * the channel (api/chan.h), so a slow peer never stalls csd.
 */
#include <limits.h>
#include <string.h>

#include "ops.h"

static int chan_kind(struct csd_req *r, enum vnet_chan_kind *kind)
{
	const char *k = json_string_value(json_object_get(r->args, "kind"));

	if (k && !strcmp(k, "connect"))
		*kind = VNET_CHAN_CONNECT;
	else if (k && !strcmp(k, "listen"))
		*kind = VNET_CHAN_LISTEN;
	else if (k && !strcmp(k, "datagram"))
		*kind = VNET_CHAN_DGRAM;
	else
		return req_fail(r, CS_EINVAL, "endpoint.channel: argument \"kind\" must be "
				"\"connect\", \"listen\" or \"datagram\"");
	return 0;
}

/* The request's channel: kind, peer address and port, backlog. */
static int chan_args(struct csd_req *r, struct vnet_channel *ch)
{
	json_int_t port = 0, backlog = 0;
	const char *peer = NULL;
	int ret;

	memset(ch, 0, sizeof(*ch));
	if ((ret = args_check(r, "endpoint.channel",
			      (const char *const[]){ "name", "kind", "address", "port", "backlog",
						     NULL }, NULL)) < 0 ||
	    (ret = chan_kind(r, &ch->kind)) < 0)
		return ret;
	if (json_unpack(r->args, "{s:I, s?s, s?I}", "port", &port, "address", &peer, "backlog",
			&backlog) < 0 || port < 0 || port > 65535 || backlog < 0 || backlog > INT_MAX)
		return req_fail(r, CS_EINVAL, "endpoint.channel: needs an integer \"port\" "
				"(0-65535), a string \"address\" and an integer \"backlog\"");
	/* a datagram channel without a peer is bound to @port (0: any) and
	 * names the peer in each message */
	if ((ch->kind == VNET_CHAN_CONNECT || peer) &&
	    (!peer || cs_addr_parse(peer, &ch->peer) < 0 || !port))
		return req_fail(r, CS_EINVAL, "endpoint.channel: a %s channel needs the peer's "
				"\"address\" (an IP address) and a \"port\" other than 0",
				ch->kind == VNET_CHAN_CONNECT ? "connect" : "connected datagram");
	ch->port = (uint16_t)port;
	ch->backlog = (int)backlog;
	return 0;
}

static int ep_channel(struct csd_req *r)
{
	struct vnet_channel ch;
	name_t p[3];
	json_t *doc = NULL, *vdoc = NULL;
	char key[KEY_MAX];
	int ret;

	if ((ret = chan_args(r, &ch)) < 0 || (ret = req_path(r, "name", 3, p)) < 0 ||
	    (ret = req_vnet(r, p[0], p[1], NULL, &vdoc)) < 0)
		return ret;
	/* the vnet's backend: a daemon may run several */
	struct vnet_backend *b = csd_backend_of(r->d, vdoc);
	json_decref(vdoc);
	key_endpoint(key, p[0], p[1], p[2]);
	if ((ret = model_get(r->d, key, &doc, NULL)) < 0)
		return ret == CS_ENOENT ? req_fail(r, ret, "endpoint %s/%s/%s: no such endpoint",
						   p[0], p[1], p[2])
					: req_store_fail(r, ret, key);
	bool local = model_endpoint_local(r->d, doc);
	json_decref(doc);
	if (!local)
		return req_fail(r, CS_EINVAL, "endpoint %s/%s/%s lives on another node; open its "
				"channels through that node's csd", p[0], p[1], p[2]);
	int fd = vb_endpoint_channel(b, p[0], p[1], p[2], &ch);
	if (fd < 0) {
		char what[3 * CS_NAME_MAX + 16];
		snprintf(what, sizeof(what), "endpoint %s/%s/%s", p[0], p[1], p[2]);
		if (fd == CS_ENOTSUP && !vb_gives_channels(b))
			return req_fail(r, fd, "%s: backend %s gives sockets, not channels "
					"(cs_socket)", what, vb_name(b));
		backend_why_of(b, what, r->error, sizeof(r->error));
		return fd;
	}
	r->fds[r->nfds++] = fd;
	return 0;
}

CSD_OP(endpoint_channel, "endpoint.channel", ep_channel, 0,
       "a channel to an endpoint's user-level stack");
