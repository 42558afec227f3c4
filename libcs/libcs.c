/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libcs: the client half of the control protocol, and the socket calls. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cs/cs.h>
#include "chan.h"
#include "proto.h"

#define CS_EXPORT __attribute__((visibility("default")))

struct cs_endpoint;

struct cs {
	int fd;
	struct cs_endpoint *endpoints; /* open handles, detached at cs_close() */
	int64_t next_id;
	int64_t monitor_id; /* the monitor request's id, 0 before cs_monitor_open() */
	char *error;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int send_fd;        /* an fd the next request carries (cs_endpoint_create_netns), or -1 */
};

struct cs_endpoint {
	cs_t *cs;
	struct cs_endpoint *next;
	char *name;   /* tenant/vnet/endpoint */
	char *vnet;   /* tenant/vnet */
	bool ephemeral;
	/* the backend hands out channels to a user-level stack, not sockets
	 * (learnt from the first endpoint.socket refused with CS_ENOTSUP) */
	bool channels;
	bool has4, has6;
	struct sockaddr_in a4;
	struct sockaddr_in6 a6;
};

static void set_error(cs_t *cs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(cs_t *cs, const char *fmt, ...)
{
	va_list ap;
	char *m = NULL;

	va_start(ap, fmt);
	if (vasprintf(&m, fmt, ap) < 0)
		m = NULL;
	va_end(ap);
	free(cs->error);
	cs->error = m;
}

/* Why the last cs_open() of this thread failed (cs_last_error(NULL)). */
static __thread char open_error[512];

/*
 * A connection csd refused or dropped may still hold its last word (a
 * refusal says which bound): read it without waiting. Returns its code
 * with the message set, or 0 when there is none.
 */
static int last_word(cs_t *cs)
{
	char buf[CS_WIRE_HDR_LEN + 4096];
	struct cs_wire_rx rx;
	const char *code = NULL, *message = NULL;
	int r = 0;

	ssize_t n = recv(cs->fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n <= 0)
		return 0;
	cs_wire_rx_init(&rx, sizeof(buf));
	if (cs_wire_rx_feed(&rx, buf, (size_t)n) == 1) {
		json_t *m = json_loadb(rx.buf, rx.len, 0, NULL);
		if (json_unpack(m, "{s:{s:s, s:s}}", "error", "code", &code, "message",
				&message) == 0) {
			r = cs_errcode(code);
			set_error(cs, "%s", message);
		}
		json_decref(m);
	}
	cs_wire_rx_reset(&rx);
	return r;
}

/*
 * Send request @text (@len bytes, id @id) and read the reply. On success
 * *result gets a reference to the result (caller decrefs) and *fd a passed
 * fd, if any.
 */
static int exchange(cs_t *cs, const char *op, int64_t id, const char *text, size_t len,
		    json_t **result, int *fd)
{
	char *reply = NULL, ok[64];
	int fds[CS_WIRE_MAX_FDS], nfds = 0, r, n;
	json_t *resp = NULL;

	if (fd)
		*fd = -1;
	if (result)
		*result = NULL;
	if (cs->fd < 0) {
		set_error(cs, "not connected to csd");
		return CS_ECONN;
	}
	if (len > CS_WIRE_MSG_MAX_DEFAULT) {
		set_error(cs, "%s: request of %zu bytes exceeds the protocol bound of %u bytes", op,
			  len, CS_WIRE_MSG_MAX_DEFAULT);
		return CS_ETOOBIG;
	}
	if ((r = cs_wire_send(cs->fd, text, len, cs->send_fd >= 0 ? &cs->send_fd : NULL,
			      cs->send_fd >= 0)) < 0 ||
	    (r = cs_wire_recv(cs->fd, CS_WIRE_MSG_MAX_DEFAULT, &reply, &len, fds, &nfds)) < 0) {
		if ((r = last_word(cs)) < 0)
			goto out;
		set_error(cs, "%s: connection to csd lost", op);
		r = CS_ECONN;
		goto out;
	}
	/* the common answer of calls without a result (cs_socket): no parse */
	n = snprintf(ok, sizeof(ok), "{\"id\":%lld,\"ok\":true,\"result\":{}}", (long long)id);
	if (!result && (size_t)n == len && !memcmp(reply, ok, len)) {
		free(cs->error);
		cs->error = NULL;
		goto done;
	}
	json_error_t jerr;
	resp = json_loadb(reply, len, 0, &jerr);
	json_int_t rid;
	int okv;
	json_t *res = NULL, *err = NULL;
	/* id 0: csd's word on the connection itself (a refusal, a frame it
	 * dropped), not a reply to another request */
	if (!resp || json_unpack(resp, "{s:I, s:b, s?o, s?o}", "id", &rid, "ok", &okv, "result",
				 &res, "error", &err) < 0 || (rid != id && (rid != 0 || okv))) {
		set_error(cs, "%s: malformed reply from csd", op);
		r = CS_EPROTO;
		goto out;
	}
	if (!okv) {
		const char *code = NULL, *message = NULL;
		json_unpack(err, "{s?s, s?s}", "code", &code, "message", &message);
		r = cs_errcode(code);
		set_error(cs, "%s", message ? message : cs_strerror(r));
		goto out;
	}
	free(cs->error);
	cs->error = NULL;
	if (result)
		*result = json_incref(res ? res : json_null());
done:
	if (fd && nfds > 0) {
		*fd = fds[0];
		fds[0] = -1;
	}
	r = 0;
out:
	for (int i = 0; i < nfds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	json_decref(resp);
	free(reply);
	return r;
}

/* One request/response exchange. @args is stolen. */
static int request(cs_t *cs, const char *op, json_t *args, json_t **result, int *fd)
{
	int64_t id = cs->next_id++;
	json_t *msg = cs_msg_request(id, op, args);
	char *text = NULL;
	size_t len;
	int r;

	if (fd)
		*fd = -1;
	if (result)
		*result = NULL;
	if (!msg || !(text = cs_msg_dump(msg, &len)))
		r = CS_ENOMEM;
	else
		r = exchange(cs, op, id, text, len, result, fd);
	json_decref(msg);
	free(text);
	return r;
}

CS_EXPORT int cs_open(const char *socket_path, cs_t **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = socket_path;
	cs_t *cs;
	int r;

	*out = NULL;
	if (!path)
		path = getenv("CS_SOCKET");
	if (!path || !*path)
		path = CS_DEFAULT_SOCKET;
	if (strlen(path) >= sizeof(sa.sun_path))
		return CS_EINVAL;
	if (!(cs = calloc(1, sizeof(*cs))))
		return CS_ENOMEM;
	cs->next_id = 1;
	cs->send_fd = -1;
	strcpy(cs->path, path);
	strcpy(sa.sun_path, path);
	cs->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (cs->fd < 0 || connect(cs->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = CS_ECONN;
		goto fail;
	}
	if ((r = cs_peer_trusted(cs->fd, path, open_error, sizeof(open_error))) < 0)
		goto fail_said;
	json_t *res = NULL;
	r = request(cs, "hello", json_pack("{s:i, s:s}", "version", CS_PROTOCOL_VERSION,
					   "client", "libcs"), &res, NULL);
	if (r == 0) {
		json_int_t v = json_integer_value(json_object_get(res, "version"));
		if (v != CS_PROTOCOL_VERSION)
			r = CS_EVERSION;
	}
	json_decref(res);
	if (r < 0)
		goto fail;
	*out = cs;
	open_error[0] = '\0';
	return 0;
fail:
	snprintf(open_error, sizeof(open_error), "%s", cs->error ? cs->error : "");
fail_said:
	cs_close(cs);
	return r;
}

CS_EXPORT void cs_close(cs_t *cs)
{
	if (!cs)
		return;
	/* handles outliving the connection stay valid but can do nothing */
	for (struct cs_endpoint *ep = cs->endpoints; ep; ep = ep->next)
		ep->cs = NULL;
	if (cs->fd >= 0)
		close(cs->fd);
	free(cs->error);
	free(cs);
}

CS_EXPORT const char *cs_last_error(const cs_t *cs)
{
	if (!cs)
		return open_error;
	return cs->error ? cs->error : "";
}

CS_EXPORT void cs_free(void *p)
{
	free(p);
}

CS_EXPORT int cs_call(cs_t *cs, const char *op, const char *args_json, char **result_json)
{
	json_t *args = NULL, *res = NULL;
	int r;

	if (result_json)
		*result_json = NULL;
	if (!cs || !op)
		return CS_EINVAL;
	if (args_json) {
		json_error_t e;
		args = json_loads(args_json, 0, &e);
		if (!json_is_object(args)) {
			set_error(cs, "%s: arguments are not a JSON object: %s", op,
				  args ? "not an object" : e.text);
			json_decref(args);
			return CS_EINVAL;
		}
	}
	r = request(cs, op, args, result_json ? &res : NULL, NULL);
	if (r == 0 && result_json) {
		*result_json = json_dumps(res, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!*result_json)
			r = CS_ENOMEM;
	}
	json_decref(res);
	return r;
}

CS_EXPORT int cs_monitor_open(cs_t *cs, const char *filter, int64_t from, int64_t *start)
{
	json_t *args, *res = NULL;
	int64_t id;
	int r;

	if (!cs || from < 0)
		return CS_EINVAL;
	if (!(args = json_object()))
		return CS_ENOMEM;
	if (filter)
		json_object_set_new(args, "filter", json_string(filter));
	if (from > 0)
		json_object_set_new(args, "from", json_integer(from));
	id = cs->next_id;
	r = request(cs, "monitor", args, &res, NULL);
	if (r == 0) {
		cs->monitor_id = id;
		if (start)
			*start = json_integer_value(json_object_get(res, "from"));
	}
	json_decref(res);
	return r;
}

CS_EXPORT int cs_monitor_next(cs_t *cs, char **event_json)
{
	char *text = NULL;
	size_t len = 0;
	int fds[CS_WIRE_MAX_FDS], nfds = 0, r;
	json_t *msg = NULL, *ev, *err;

	if (!event_json || !cs || !cs->monitor_id)
		return CS_EINVAL;
	*event_json = NULL;
	if (cs->fd < 0 || cs_wire_recv(cs->fd, CS_WIRE_MSG_MAX_DEFAULT, &text, &len, fds,
				       &nfds) < 0) {
		set_error(cs, "monitor: connection to csd lost");
		return CS_ECONN;
	}
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	msg = json_loadb(text, len, 0, NULL);
	free(text);
	json_int_t id = json_integer_value(json_object_get(msg, "id"));
	if ((ev = json_object_get(msg, "event")) && json_is_object(ev) && id == cs->monitor_id) {
		*event_json = json_dumps(ev, JSON_COMPACT);
		r = *event_json ? 0 : CS_ENOMEM;
	} else if ((err = json_object_get(msg, "error"))) {
		const char *code = NULL, *message = NULL;
		json_unpack(err, "{s?s, s?s}", "code", &code, "message", &message);
		r = cs_errcode(code);
		set_error(cs, "%s", message ? message : cs_strerror(r));
	} else {
		set_error(cs, "monitor: malformed message from csd");
		r = CS_EPROTO;
	}
	json_decref(msg);
	return r;
}

/* name + optional spec/filter -> JSON text result */
static int mgmt(cs_t *cs, const char *op, const char *key, const char *name,
		const char *spec_json, char **out)
{
	json_t *args = json_object(), *spec = NULL, *res = NULL;
	int r;

	if (out)
		*out = NULL;
	if (!cs || !args) {
		json_decref(args);
		return cs ? CS_ENOMEM : CS_EINVAL;
	}
	if (name)
		json_object_set_new(args, key, json_string(name));
	if (spec_json) {
		json_error_t e;
		spec = json_loads(spec_json, 0, &e);
		if (!json_is_object(spec)) {
			set_error(cs, "%s %s: spec is not a JSON object: %s", op, name ? name : "",
				  spec ? "not an object" : e.text);
			json_decref(spec);
			json_decref(args);
			return CS_EINVAL;
		}
		json_object_set_new(args, "spec", spec);
	}
	r = request(cs, op, args, out ? &res : NULL, NULL);
	if (r == 0 && out && !(*out = json_dumps(res, JSON_COMPACT | JSON_ENCODE_ANY)))
		r = CS_ENOMEM;
	json_decref(res);
	return r;
}

/* set: the patch goes as "set" (a spec goes as "spec") */
static int mgmt_set(cs_t *cs, const char *op, const char *name, const char *patch_json)
{
	json_t *args = json_object(), *patch;
	json_error_t e;

	if (!cs || !args) {
		json_decref(args);
		return cs ? CS_ENOMEM : CS_EINVAL;
	}
	patch = json_loads(patch_json, 0, &e);
	if (!json_is_object(patch)) {
		set_error(cs, "%s %s: the change is not a JSON object: %s", op, name,
			  patch ? "not an object" : e.text);
		json_decref(patch);
		json_decref(args);
		return CS_EINVAL;
	}
	json_object_set_new(args, "name", json_string(name));
	json_object_set_new(args, "set", patch);
	return request(cs, op, args, NULL, NULL);
}

#define MGMT_CALLS(obj)                                                                   \
	CS_EXPORT int cs_##obj##_create(cs_t *cs, const char *name, const char *spec)      \
	{ return name ? mgmt(cs, #obj ".create", "name", name, spec, NULL) : CS_EINVAL; }   \
	CS_EXPORT int cs_##obj##_delete(cs_t *cs, const char *name)                        \
	{ return name ? mgmt(cs, #obj ".delete", "name", name, NULL, NULL) : CS_EINVAL; }   \
	CS_EXPORT int cs_##obj##_show(cs_t *cs, const char *name, char **json)             \
	{ return name && json ? mgmt(cs, #obj ".show", "name", name, NULL, json) : CS_EINVAL; }

#define MGMT_SET(obj)                                                                     \
	CS_EXPORT int cs_##obj##_set(cs_t *cs, const char *name, const char *patch)        \
	{ return name && patch ? mgmt_set(cs, #obj ".set", name, patch) : CS_EINVAL; }

MGMT_CALLS(tenant)
MGMT_CALLS(vnet)
MGMT_CALLS(endpoint)
MGMT_CALLS(reservation)
MGMT_SET(tenant)

CS_EXPORT int cs_endpoint_create_netns(cs_t *cs, const char *name, const char *spec_json,
				       int netns_fd)
{
	int r;

	if (!cs || !name || !spec_json || netns_fd < 0)
		return CS_EINVAL;
	/* the namespace rides with the request, opened by the caller: csd
	 * never opens a path on a non-administrator's behalf */
	cs->send_fd = netns_fd;
	r = mgmt(cs, "endpoint.create", "name", name, spec_json, NULL);
	cs->send_fd = -1;
	return r;
}
MGMT_SET(vnet)
MGMT_SET(endpoint)

CS_EXPORT int cs_reservation_list(cs_t *cs, const char *filter, char **json)
{
	return json ? mgmt(cs, "reservation.list", "filter", filter, NULL, json) : CS_EINVAL;
}

CS_EXPORT int cs_tenant_list(cs_t *cs, char **json)
{
	return json ? mgmt(cs, "tenant.list", "filter", NULL, NULL, json) : CS_EINVAL;
}

CS_EXPORT int cs_vnet_list(cs_t *cs, const char *filter, char **json)
{
	return json ? mgmt(cs, "vnet.list", "filter", filter, NULL, json) : CS_EINVAL;
}

CS_EXPORT int cs_endpoint_list(cs_t *cs, const char *filter, char **json)
{
	return json ? mgmt(cs, "endpoint.list", "filter", filter, NULL, json) : CS_EINVAL;
}

CS_EXPORT int cs_status(cs_t *cs, char **json)
{
	return json ? mgmt(cs, "status", NULL, NULL, NULL, json) : CS_EINVAL;
}

CS_EXPORT int cs_endpoint_netns(cs_t *cs, const char *name)
{
	int fd, r;

	if (!cs || !name)
		return CS_EINVAL;
	r = request(cs, "endpoint.netns", json_pack("{s:s}", "name", name), NULL, &fd);
	if (r < 0)
		return r;
	if (fd < 0) {
		set_error(cs, "endpoint %s: csd sent no namespace", name);
		return CS_EPROTO;
	}
	return fd;
}

/* Wait for the stack's first record on channel @fd; 0 or its code. */
static int chan_status(cs_t *cs, int fd, const char *what, struct cs_chan_status *st, int *passed)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { st, sizeof(*st) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = passed ? sizeof(cbuf) : 0 };
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	if (passed)
		*passed = -1;
	/* the stack gives up a connection after 15 s: this is only a guard */
	while (poll(&p, 1, 60000) < 0 && errno == EINTR)
		;
	do
		n = recvmsg(fd, &m, MSG_WAITALL | MSG_CMSG_CLOEXEC | (p.revents ? 0 : MSG_DONTWAIT));
	while (n < 0 && errno == EINTR);
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); passed && n > 0 && cm; cm = CMSG_NXTHDR(&m, cm))
		if (cm->cmsg_type == SCM_RIGHTS && cm->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(passed, CMSG_DATA(cm), sizeof(int));
	if (n != (ssize_t)sizeof(*st)) {
		if (cs)
			set_error(cs, "%s: the endpoint's stack %s", what,
				  n == 0 ? "closed the channel (it stopped, or the endpoint was "
					   "deleted)" : "did not answer");
		return n == 0 ? CS_ECONN : CS_EIO;
	}
	st->why[sizeof(st->why) - 1] = '\0';
	if (st->code < 0 && cs)
		set_error(cs, "%s: %s", what, st->why);
	return st->code < 0 ? st->code : 0;
}

/* Connections on a listening channel (cs_accept). */
static int chan_accept(int lfd, struct sockaddr_storage *peer, socklen_t *len)
{
	struct cs_chan_status st;
	int fd, r = chan_status(NULL, lfd, "accept", &st, &fd);

	if (r < 0 || fd < 0) {
		if (fd >= 0)
			close(fd);
		return r < 0 ? r : CS_EPROTO;
	}
	if (peer) {
		struct sockaddr_in *a4 = (struct sockaddr_in *)peer;
		memset(peer, 0, sizeof(*peer));
		a4->sin_family = AF_INET;
		a4->sin_port = st.port;
		memcpy(&a4->sin_addr, st.addr, 4);
		if (len)
			*len = sizeof(*a4);
	}
	return fd;
}

/* The endpoint's backend gives channels: remember it, so the next call
 * asks for one at once. False when it was not that. */
static bool ep_learn_channels(cs_endpoint_t *ep)
{
	ep->channels = true;
	return true;
}

/* A channel of @kind to the endpoint's stack; fd or a code. */
static int chan_open(cs_endpoint_t *ep, const char *kind, const struct sockaddr_storage *ss,
		     uint16_t port, int backlog)
{
	char text[64] = "", what[400];
	struct cs_chan_status st;
	int fd, r;
	json_t *args = json_pack("{s:s, s:s, s:i, s:i}", "name", ep->name, "kind", kind, "port",
				 port, "backlog", backlog);

	if (ss && ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, text, sizeof(text));
	else if (ss)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, text,
			  sizeof(text));
	if (args && ss)
		json_object_set_new(args, "address", json_string(text));
	if ((r = request(ep->cs, "endpoint.channel", args, NULL, &fd)) < 0)
		return r;
	if (fd < 0) {
		set_error(ep->cs, "endpoint %s: csd sent no channel", ep->name);
		return CS_EPROTO;
	}
	snprintf(what, sizeof(what), "endpoint %s: %s %s port %u", ep->name, kind, text, port);
	if ((r = chan_status(ep->cs, fd, what, &st, NULL)) < 0) {
		close(fd);
		return r;
	}
	return fd;
}

/* cs_socket on a backend of channels: an unconnected datagram channel. */
static int chan_socket(cs_endpoint_t *ep, int domain, int type)
{
	int base = type & ~(SOCK_CLOEXEC | SOCK_NONBLOCK), fd;

	if (domain != AF_INET || base != SOCK_DGRAM) {
		set_error(ep->cs, "endpoint %s: this backend gives channels, not sockets: "
			  "cs_socket makes only AF_INET SOCK_DGRAM ones (struct cs_dgram); use "
			  "cs_connect, cs_listen and cs_accept", ep->name);
		return CS_ENOTSUP;
	}
	fd = chan_open(ep, "datagram", NULL, 0, 0);
	if (fd >= 0 && (type & SOCK_NONBLOCK))
		fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/* Fill a sockaddr from a textual address; 0 or CS_EINVAL. */
static int parse_addr(const char *s, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		*len = sizeof(*a4);
		return 0;
	}
	if (inet_pton(AF_INET6, s, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		*len = sizeof(*a6);
		return 0;
	}
	return CS_EINVAL;
}

/* Take the addresses of an endpoint object ("address": string or array). */
static void endpoint_take_addresses(cs_endpoint_t *ep, const json_t *obj)
{
	const json_t *a = json_object_get(obj, "address");
	json_t *list = json_is_array(a) ? json_incref((json_t *)a) : json_pack("[O]", a);
	size_t i;
	json_t *el;

	json_array_foreach(list, i, el) {
		struct sockaddr_storage ss;
		socklen_t len;
		if (!json_is_string(el) || parse_addr(json_string_value(el), 0, &ss, &len) < 0)
			continue;
		if (ss.ss_family == AF_INET) {
			memcpy(&ep->a4, &ss, sizeof(ep->a4));
			ep->has4 = true;
		} else {
			memcpy(&ep->a6, &ss, sizeof(ep->a6));
			ep->has6 = true;
		}
	}
	json_decref(list);
}

CS_EXPORT int cs_endpoint_open(cs_t *cs, const char *vnet, const char *name, unsigned flags,
			       cs_endpoint_t **out)
{
	json_t *args, *res = NULL;
	cs_endpoint_t *ep;
	int r;

	if (!out)
		return CS_EINVAL;
	*out = NULL;
	if (!cs || !vnet || (flags & ~(CS_EP_EPHEMERAL | CS_EP_ATTACH)))
		return CS_EINVAL;
	args = json_pack("{s:s, s:b, s:b}", "vnet", vnet, "ephemeral",
			 !!(flags & CS_EP_EPHEMERAL), "attach", !!(flags & CS_EP_ATTACH));
	if (!args)
		return CS_ENOMEM;
	if (name)
		json_object_set_new(args, "name", json_string(name));
	r = request(cs, "endpoint.open", args, &res, NULL);
	if (r < 0)
		return r;
	const char *full = json_string_value(json_object_get(res, "name"));
	if (!full || !strchr(full, '/')) {
		json_decref(res);
		set_error(cs, "endpoint.open: malformed reply from csd");
		return CS_EPROTO;
	}
	if (!(ep = calloc(1, sizeof(*ep)))) {
		json_decref(res);
		return CS_ENOMEM;
	}
	ep->cs = cs;
	ep->name = strdup(full);
	ep->vnet = strdup(full);
	if (!ep->name || !ep->vnet) {
		json_decref(res);
		cs_endpoint_close(ep);
		return CS_ENOMEM;
	}
	*strrchr(ep->vnet, '/') = '\0';
	ep->ephemeral = json_is_true(json_object_get(res, "ephemeral")) &&
			json_is_true(json_object_get(res, "created"));
	endpoint_take_addresses(ep, res);
	json_decref(res);
	ep->next = cs->endpoints;
	cs->endpoints = ep;
	*out = ep;
	return 0;
}

CS_EXPORT void cs_endpoint_close(cs_endpoint_t *ep)
{
	if (!ep)
		return;
	/* an ephemeral endpoint this handle created goes with it; csd would also
	 * delete it when the connection closes */
	if (ep->ephemeral && ep->cs && ep->name)
		request(ep->cs, "endpoint.delete", json_pack("{s:s}", "name", ep->name), NULL, NULL);
	if (ep->cs)
		for (struct cs_endpoint **pp = &ep->cs->endpoints; *pp; pp = &(*pp)->next)
			if (*pp == ep) {
				*pp = ep->next;
				break;
			}
	free(ep->name);
	free(ep->vnet);
	free(ep);
}

CS_EXPORT const char *cs_endpoint_name(const cs_endpoint_t *ep)
{
	return ep ? ep->name : NULL;
}

CS_EXPORT int cs_endpoint_address(const cs_endpoint_t *ep, int family,
				  struct sockaddr_storage *addr, socklen_t *len)
{
	if (!ep || !addr || !len)
		return CS_EINVAL;
	memset(addr, 0, sizeof(*addr));
	if ((family == AF_INET || family == AF_UNSPEC) && ep->has4) {
		memcpy(addr, &ep->a4, sizeof(ep->a4));
		*len = sizeof(ep->a4);
		return 0;
	}
	if ((family == AF_INET6 || family == AF_UNSPEC) && ep->has6) {
		memcpy(addr, &ep->a6, sizeof(ep->a6));
		*len = sizeof(ep->a6);
		return 0;
	}
	return family == AF_INET || family == AF_INET6 || family == AF_UNSPEC ? CS_ENOENT
									   : CS_EINVAL;
}

/* endpoint.socket: a socket of the endpoint's, or CS_ENOTSUP from a
 * backend of channels. */
static int socket_req(cs_endpoint_t *ep, int domain, int type, int protocol)
{
	int fd, r;

	/*
	 * The hot call: the request is formatted, not built as a JSON tree,
	 * when the name needs no escaping (a valid one never does).
	 */
	char text[256];
	int n = -1;
	if (!ep->name[strcspn(ep->name, "\"\\\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a"
				 "\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17"
				 "\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f")]) {
		int64_t id = ep->cs->next_id;
		n = snprintf(text, sizeof(text), "{\"id\":%lld,\"op\":\"endpoint.socket\","
			     "\"args\":{\"name\":\"%s\",\"domain\":%d,\"type\":%d,"
			     "\"protocol\":%d}}", (long long)id, ep->name, domain, type, protocol);
		if (n > 0 && (size_t)n < sizeof(text)) {
			ep->cs->next_id++;
			r = exchange(ep->cs, "endpoint.socket", id, text, (size_t)n, NULL, &fd);
		} else {
			n = -1;
		}
	}
	if (n < 0)
		r = request(ep->cs, "endpoint.socket",
			    json_pack("{s:s, s:i, s:i, s:i}", "name", ep->name, "domain", domain,
				      "type", type, "protocol", protocol),
			    NULL, &fd);
	if (r < 0)
		return r;
	if (fd < 0) {
		set_error(ep->cs, "endpoint %s: csd sent no socket", ep->name);
		return CS_EPROTO;
	}
	return fd;
}

CS_EXPORT int cs_socket(cs_endpoint_t *ep, int domain, int type, int protocol)
{
	int fd;

	if (!ep)
		return CS_EINVAL;
	if (!ep->cs)
		return CS_ECONN;
	fd = ep->channels ? CS_ENOTSUP : socket_req(ep, domain, type, protocol);
	if (fd == CS_ENOTSUP && ep_learn_channels(ep))
		return chan_socket(ep, domain, type);
	return fd;
}

CS_EXPORT int cs_resolve(cs_t *cs, const char *vnet, const char *name, int family, uint16_t port,
			 struct sockaddr_storage *addr, socklen_t *len)
{
	json_t *res = NULL;
	int r;

	if (!cs || !vnet || !name || !addr || !len)
		return CS_EINVAL;
	if (family != AF_INET && family != AF_INET6 && family != AF_UNSPEC)
		return CS_EINVAL;
	r = request(cs, "resolve", json_pack("{s:s, s:s}", "vnet", vnet, "name", name), &res,
		    NULL);
	if (r < 0)
		return r;
	r = CS_ENOENT;
	size_t i;
	json_t *el;
	json_array_foreach(json_object_get(res, "addresses"), i, el) {
		struct sockaddr_storage ss;
		socklen_t l;
		if (!json_is_string(el) || parse_addr(json_string_value(el), port, &ss, &l) < 0)
			continue;
		if (family != AF_UNSPEC && ss.ss_family != family)
			continue;
		*addr = ss;
		*len = l;
		r = 0;
		break;
	}
	if (r == CS_ENOENT)
		set_error(cs, "%s in vnet %s has no %s address", name, vnet,
			  family == AF_INET6 ? "IPv6" : family == AF_INET ? "IPv4" : "");
	json_decref(res);
	return r;
}

CS_EXPORT int cs_connect(cs_endpoint_t *ep, int type, const char *peer, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, r;

	if (!ep || !peer || (type != SOCK_STREAM && type != SOCK_DGRAM))
		return CS_EINVAL;
	if (!ep->cs)
		return CS_ECONN;
	if (parse_addr(peer, port, &ss, &len) < 0) {
		int fam = ep->has4 ? AF_INET : AF_INET6;
		r = cs_resolve(ep->cs, ep->vnet, peer, fam, port, &ss, &len);
		if (r == CS_ENOENT && ep->has4 && ep->has6)
			r = cs_resolve(ep->cs, ep->vnet, peer, AF_INET6, port, &ss, &len);
		if (r < 0)
			return r;
	}
	fd = ep->channels ? CS_ENOTSUP : socket_req(ep, ss.ss_family, type | SOCK_CLOEXEC, 0);
	if (fd == CS_ENOTSUP && ep_learn_channels(ep))
		return chan_open(ep, type == SOCK_STREAM ? "connect" : "datagram", &ss, port, 0);
	if (fd < 0)
		return fd;
	do
		r = connect(fd, (struct sockaddr *)&ss, len);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		set_error(ep->cs, "endpoint %s: connect to %s port %u: %s", ep->name, peer, port,
			  strerror(errno));
		close(fd);
		return CS_EIO;
	}
	return fd;
}

CS_EXPORT int cs_listen(cs_endpoint_t *ep, int type, uint16_t port, int backlog)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1, zero = 0;

	if (!ep || (type != SOCK_STREAM && type != SOCK_DGRAM))
		return CS_EINVAL;
	if (!ep->cs)
		return CS_ECONN;
	memset(&ss, 0, sizeof(ss));
	if (ep->has6) {
		/* one dual-stack socket takes both families */
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		a6->sin6_addr = in6addr_any;
		len = sizeof(*a6);
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		a4->sin_addr.s_addr = htonl(INADDR_ANY);
		len = sizeof(*a4);
	}
	fd = ep->channels ? CS_ENOTSUP : socket_req(ep, ss.ss_family, type | SOCK_CLOEXEC, 0);
	if (fd == CS_ENOTSUP && ep_learn_channels(ep)) {
		/* datagrams: a channel bound to the port (struct cs_dgram) */
		return chan_open(ep, type == SOCK_STREAM ? "listen" : "datagram", NULL, port,
				 backlog);
	}
	if (fd < 0)
		return fd;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 ||
	    (type == SOCK_STREAM && listen(fd, backlog > 0 ? backlog : SOMAXCONN) < 0)) {
		set_error(ep->cs, "endpoint %s: listen on port %u: %s", ep->name, port,
			  strerror(errno));
		close(fd);
		return CS_EIO;
	}
	return fd;
}

CS_EXPORT int cs_accept(int listen_fd, struct sockaddr_storage *peer, socklen_t *len)
{
	socklen_t l = sizeof(struct sockaddr_storage);
	int fd, dom = 0;
	socklen_t dl = sizeof(dom);

	/* a listening channel: connections come as fds with their peer */
	if (getsockopt(listen_fd, SOL_SOCKET, SO_DOMAIN, &dom, &dl) == 0 && dom == AF_UNIX)
		return chan_accept(listen_fd, peer, len);

	do
		fd = accept4(listen_fd, (struct sockaddr *)peer, peer ? &l : NULL, SOCK_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return errno == EBADF || errno == ENOTSOCK || errno == EINVAL ? CS_EINVAL : CS_EIO;
	if (len)
		*len = l;
	return fd;
}

CS_EXPORT int cs_reserve(cs_endpoint_t *ep, const struct cs_qos *qos)
{
	static const char *const classes[] = {
		[CS_QOS_BULK] = "bulk",
		[CS_QOS_INTERACTIVE] = "interactive",
		[CS_QOS_REALTIME] = "realtime",
	};
	json_t *spec;

	if (!ep || !qos)
		return CS_EINVAL;
	if (!ep->cs)
		return CS_ECONN;
	/* JSON integers are signed 64-bit: larger values cannot be sent */
	if (!qos->rate || qos->rate > INT64_MAX || qos->ceil > INT64_MAX ||
	    qos->burst > INT64_MAX || (qos->ceil && qos->ceil < qos->rate) || qos->cls < 0 ||
	    qos->cls > CS_QOS_REALTIME) {
		set_error(ep->cs, "endpoint %s: invalid reservation: rate must be in 1..%lld bit/s, "
			  "ceil 0 or at least the rate, class an enum cs_qos_class", ep->name,
			  (long long)INT64_MAX);
		return CS_EINVAL;
	}
	spec = json_pack("{s:I, s:s}", "rate", (json_int_t)qos->rate, "class", classes[qos->cls]);
	if (!spec)
		return CS_ENOMEM;
	if (qos->ceil)
		json_object_set_new(spec, "ceil", json_integer((json_int_t)qos->ceil));
	if (qos->burst)
		json_object_set_new(spec, "burst", json_integer((json_int_t)qos->burst));
	return request(ep->cs, "reservation.create",
		       json_pack("{s:s, s:o}", "name", ep->name, "spec", spec), NULL, NULL);
}

CS_EXPORT int cs_release(cs_endpoint_t *ep)
{
	if (!ep)
		return CS_EINVAL;
	if (!ep->cs)
		return CS_ECONN;
	return request(ep->cs, "reservation.delete", json_pack("{s:s}", "name", ep->name), NULL,
		       NULL);
}
