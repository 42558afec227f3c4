/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A backend that touches nothing and writes down what it was asked, so
 * csd's logic can be tested and fuzzed without root (see recording.h).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cs/cs.h"
#include "recording.h"

struct name_set {
	char **v;
	size_t n;
};

struct rec_backend {
	struct vnet_backend base;
	pthread_mutex_t lock;
	char *log;
	size_t len, cap;
	struct name_set vnets, endpoints;
	char fail_op[32];
	int fail_code;
};

static struct rec_backend *rb_of(struct vnet_backend *b)
{
	return (struct rec_backend *)b;
}

static void __attribute__((format(printf, 2, 3)))
rerr(struct rec_backend *rb, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rb->base.error, sizeof(rb->base.error), fmt, ap);
	va_end(ap);
}

/* Append a line; an allocation failure loses the line, not the backend. */
static void __attribute__((format(printf, 2, 3)))
record(struct rec_backend *rb, const char *fmt, ...)
{
	va_list ap;
	size_t need;
	char *n;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (len < 0)
		return;
	need = rb->len + (rb->len ? 1 : 0) + (size_t)len + 1;
	if (need > rb->cap) {
		size_t cap = rb->cap ? rb->cap : 256;

		while (cap < need)
			cap *= 2;
		n = realloc(rb->log, cap);
		if (!n)
			return;
		rb->log = n;
		rb->cap = cap;
	}
	if (rb->len)
		rb->log[rb->len++] = '\n';
	va_start(ap, fmt);
	vsnprintf(rb->log + rb->len, (size_t)len + 1, fmt, ap);
	va_end(ap);
	rb->len += (size_t)len;
}

/* The injected failure for @op, if any (consumed). */
static int injected(struct rec_backend *rb, const char *op)
{
	int code;

	if (!rb->fail_code || strcmp(rb->fail_op, op))
		return 0;
	code = rb->fail_code;
	rb->fail_code = 0;
	rerr(rb, "%s: injected failure (code %d)", op, code);
	return code;
}

static ssize_t set_find(const struct name_set *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->v[i], name))
			return (ssize_t)i;
	return -1;
}

static int set_add(struct name_set *s, const char *name)
{
	char **nv, *d;

	if (set_find(s, name) >= 0)
		return 0;
	d = strdup(name);
	if (!d)
		return CS_ENOMEM;
	nv = realloc(s->v, (s->n + 1) * sizeof(*nv));
	if (!nv) {
		free(d);
		return CS_ENOMEM;
	}
	nv[s->n++] = d;
	s->v = nv;
	return 0;
}

static void set_del(struct name_set *s, const char *name)
{
	ssize_t i = set_find(s, name);

	if (i < 0)
		return;
	free(s->v[i]);
	s->v[i] = s->v[--s->n];
}

static void set_clear(struct name_set *s)
{
	while (s->n)
		free(s->v[--s->n]);
	free(s->v);
	s->v = NULL;
}

static int set_copy(const struct name_set *s, char ***out, size_t *n)
{
	size_t i;

	*out = NULL;
	*n = 0;
	if (!s->n)
		return 0;
	*out = calloc(s->n, sizeof(**out));
	if (!*out)
		return CS_ENOMEM;
	for (i = 0; i < s->n; i++) {
		(*out)[i] = strdup(s->v[i]);
		if (!(*out)[i])
			return CS_ENOMEM;
		(*n)++;
	}
	return 0;
}

static int rec_open(const struct vnet_backend_config *cfg, struct vnet_backend **out)
{
	struct rec_backend *rb;

	*out = NULL;
	rb = calloc(1, sizeof(*rb));
	if (!rb)
		return CS_ENOMEM;
	rb->base.ops = &vnet_recording_ops;
	pthread_mutex_init(&rb->lock, NULL);
	*out = &rb->base;
	return 0;
}

static void rec_close(struct vnet_backend *b)
{
	struct rec_backend *rb = rb_of(b);

	if (!b)
		return;
	set_clear(&rb->vnets);
	set_clear(&rb->endpoints);
	free(rb->log);
	pthread_mutex_destroy(&rb->lock);
	free(rb);
}

static int rec_vnet_ensure(struct vnet_backend *b, const struct vnet_spec *v)
{
	struct rec_backend *rb = rb_of(b);
	char path[80];
	int r;

	pthread_mutex_lock(&rb->lock);
	snprintf(path, sizeof(path), "%s/%s", v->tenant, v->name);
	record(rb, "vnet_ensure %s id=%u", path, v->id);
	r = injected(rb, "vnet_ensure");
	if (r < 0)
		goto out;
	if (v->npeers > 0) {
		rerr(rb, "vnet %s: vnets spanning several nodes are not supported yet", path);
		r = CS_ENOTSUP;
		goto out;
	}
	r = set_add(&rb->vnets, path);
	if (r < 0)
		rerr(rb, "vnet %s: out of memory", path);
out:
	pthread_mutex_unlock(&rb->lock);
	return r;
}

static int rec_vnet_destroy(struct vnet_backend *b, const char *tenant, const char *vnet)
{
	struct rec_backend *rb = rb_of(b);
	char path[80];
	int r;

	pthread_mutex_lock(&rb->lock);
	snprintf(path, sizeof(path), "%s/%s", tenant, vnet);
	record(rb, "vnet_destroy %s", path);
	r = injected(rb, "vnet_destroy");
	if (r == 0)
		set_del(&rb->vnets, path);
	pthread_mutex_unlock(&rb->lock);
	return r;
}

static int rec_endpoint_ensure(struct vnet_backend *b, const struct vnet_spec *v,
			       const struct endpoint_spec *e)
{
	struct rec_backend *rb = rb_of(b);
	char vpath[80], path[120], a4[INET6_ADDRSTRLEN] = "", a6[INET6_ADDRSTRLEN] = "";
	int r;

	pthread_mutex_lock(&rb->lock);
	snprintf(vpath, sizeof(vpath), "%s/%s", v->tenant, v->name);
	snprintf(path, sizeof(path), "%s/%s", vpath, e->name);
	if (e->has4)
		inet_ntop(AF_INET, e->addr4.a, a4, sizeof(a4));
	if (e->has6)
		inet_ntop(AF_INET6, e->addr6.a, a6, sizeof(a6));
	record(rb, "endpoint_ensure %s%s%s%s%s", path, e->has4 ? " " : "", a4,
	       e->has6 ? " " : "", a6);
	r = injected(rb, "endpoint_ensure");
	if (r < 0)
		goto out;
	if (set_find(&rb->vnets, vpath) < 0) {
		rerr(rb, "endpoint %s: vnet %s is not realized", path, vpath);
		r = CS_ENOENT;
		goto out;
	}
	r = set_add(&rb->endpoints, path);
	if (r < 0)
		rerr(rb, "endpoint %s: out of memory", path);
out:
	pthread_mutex_unlock(&rb->lock);
	return r;
}

static int rec_endpoint_destroy(struct vnet_backend *b, const char *tenant, const char *vnet,
				const char *endpoint)
{
	struct rec_backend *rb = rb_of(b);
	char path[120];
	int r;

	pthread_mutex_lock(&rb->lock);
	snprintf(path, sizeof(path), "%s/%s/%s", tenant, vnet, endpoint);
	record(rb, "endpoint_destroy %s", path);
	r = injected(rb, "endpoint_destroy");
	if (r == 0)
		set_del(&rb->endpoints, path);
	pthread_mutex_unlock(&rb->lock);
	return r;
}

/* Log @op on an endpoint and check it is realized. Called locked. */
static int endpoint_call(struct rec_backend *rb, const char *op, const char *tenant,
			 const char *vnet, const char *endpoint)
{
	char path[120];
	int r;

	snprintf(path, sizeof(path), "%s/%s/%s", tenant, vnet, endpoint);
	record(rb, "%s %s", op, path);
	r = injected(rb, op);
	if (r < 0)
		return r;
	if (set_find(&rb->endpoints, path) < 0) {
		rerr(rb, "endpoint %s is not realized", path);
		return CS_ENOENT;
	}
	return 0;
}

static int rec_endpoint_socket(struct vnet_backend *b, const char *tenant, const char *vnet,
			       const char *endpoint, int domain, int type, int protocol)
{
	struct rec_backend *rb = rb_of(b);
	int r;

	pthread_mutex_lock(&rb->lock);
	r = endpoint_call(rb, "endpoint_socket", tenant, vnet, endpoint);
	if (r == 0) {
		r = socket(domain, type, protocol);
		if (r < 0) {
			rerr(rb, "endpoint %s/%s/%s: socket: %m", tenant, vnet, endpoint);
			r = CS_EIO;
		}
	}
	pthread_mutex_unlock(&rb->lock);
	return r;
}

static int rec_endpoint_netns(struct vnet_backend *b, const char *tenant, const char *vnet,
			      const char *endpoint)
{
	struct rec_backend *rb = rb_of(b);
	int r;

	pthread_mutex_lock(&rb->lock);
	r = endpoint_call(rb, "endpoint_netns", tenant, vnet, endpoint);
	if (r == 0) {
		r = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		if (r < 0) {
			rerr(rb, "endpoint %s/%s/%s: /proc/self/ns/net: %m", tenant, vnet,
			     endpoint);
			r = CS_EIO;
		}
	}
	pthread_mutex_unlock(&rb->lock);
	return r;
}

static int rec_endpoint_stats(struct vnet_backend *b, const char *tenant, const char *vnet,
			      const char *endpoint, struct endpoint_stats *out)
{
	struct rec_backend *rb = rb_of(b);
	int r;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&rb->lock);
	r = endpoint_call(rb, "endpoint_stats", tenant, vnet, endpoint);
	pthread_mutex_unlock(&rb->lock);
	return r;
}

static int rec_inventory(struct vnet_backend *b, struct vnet_inventory *out)
{
	struct rec_backend *rb = rb_of(b);
	int r;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&rb->lock);
	record(rb, "inventory");
	r = injected(rb, "inventory");
	if (r == 0)
		r = set_copy(&rb->vnets, &out->vnets, &out->nvnets);
	if (r == 0)
		r = set_copy(&rb->endpoints, &out->endpoints, &out->nendpoints);
	if (r == CS_ENOMEM)
		rerr(rb, "inventory: out of memory");
	pthread_mutex_unlock(&rb->lock);
	if (r < 0)
		vnet_inventory_clear(out);
	return r;
}

static int rec_endpoint_qos(struct vnet_backend *b, const char *tenant, const char *vnet,
			    const char *endpoint, const struct vnet_qos *qos)
{
	struct rec_backend *rb = rb_of(b);
	int r;

	pthread_mutex_lock(&rb->lock);
	if (qos)
		record(rb, "endpoint_qos %s/%s/%s rate=%llu ceil=%llu burst=%llu class=%d", tenant,
		       vnet, endpoint, (unsigned long long)qos->rate, (unsigned long long)qos->ceil,
		       (unsigned long long)qos->burst, (int)qos->cls);
	else
		record(rb, "endpoint_qos %s/%s/%s none", tenant, vnet, endpoint);
	r = injected(rb, "endpoint_qos");
	pthread_mutex_unlock(&rb->lock);
	return r;
}

static int rec_uplink_qos(struct vnet_backend *b, const struct cs_addr *underlay, uint64_t bps)
{
	struct rec_backend *rb = rb_of(b);
	char a[CS_ADDRSTRLEN] = "-";
	int r;

	if (underlay)
		cs_addr_format(underlay, a);
	pthread_mutex_lock(&rb->lock);
	record(rb, "uplink_qos %s %llu", a, (unsigned long long)bps);
	r = injected(rb, "uplink_qos");
	pthread_mutex_unlock(&rb->lock);
	return r;
}

static int rec_endpoint_policy(struct vnet_backend *b, const char *tenant, const char *vnet,
			       const char *endpoint, const struct vnet_fw *fw)
{
	struct rec_backend *rb = rb_of(b);
	int r;

	pthread_mutex_lock(&rb->lock);
	if (fw)
		record(rb, "endpoint_policy %s/%s/%s rules=%zu default=%s", tenant, vnet, endpoint,
		       fw->n, fw->dflt == VNET_FW_ALLOW ? "allow" : "deny");
	else
		record(rb, "endpoint_policy %s/%s/%s none", tenant, vnet, endpoint);
	r = injected(rb, "endpoint_policy");
	pthread_mutex_unlock(&rb->lock);
	return r;
}

static int rec_underlay_filter(struct vnet_backend *b, const struct vnet_underlay_rule *rules,
			       size_t n)
{
	struct rec_backend *rb = rb_of(b);
	int r;

	pthread_mutex_lock(&rb->lock);
	record(rb, "underlay_filter vnis=%zu", n);
	r = injected(rb, "underlay_filter");
	pthread_mutex_unlock(&rb->lock);
	return r;
}

const char *vnet_recording_log(struct vnet_backend *b)
{
	struct rec_backend *rb = rb_of(b);

	return rb->log ? rb->log : "";
}

void vnet_recording_reset(struct vnet_backend *b)
{
	struct rec_backend *rb = rb_of(b);

	pthread_mutex_lock(&rb->lock);
	rb->len = 0;
	if (rb->log)
		rb->log[0] = '\0';
	pthread_mutex_unlock(&rb->lock);
}

void vnet_recording_fail_next(struct vnet_backend *b, const char *op, int code)
{
	struct rec_backend *rb = rb_of(b);

	pthread_mutex_lock(&rb->lock);
	snprintf(rb->fail_op, sizeof(rb->fail_op), "%s", op ? op : "");
	rb->fail_code = code;
	pthread_mutex_unlock(&rb->lock);
}

const struct vnet_ops vnet_recording_ops = {
	.name = "recording",
	.caps = VNET_CAP_ANY_KIND,
	.open = rec_open,
	.close = rec_close,
	.vnet_ensure = rec_vnet_ensure,
	.vnet_destroy = rec_vnet_destroy,
	.endpoint_ensure = rec_endpoint_ensure,
	.endpoint_destroy = rec_endpoint_destroy,
	.endpoint_socket = rec_endpoint_socket,
	.endpoint_netns = rec_endpoint_netns,
	.endpoint_stats = rec_endpoint_stats,
	.inventory = rec_inventory,
	.endpoint_qos = rec_endpoint_qos,
	.uplink_qos = rec_uplink_qos,
	.endpoint_policy = rec_endpoint_policy,
	.underlay_filter = rec_underlay_filter,
};
