/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * uvx: VXLAN over an ordinary UDP socket (vnet/user/uvx.h says what and
 * why). Pure C over the socket calls: the per-VNI peer sets, a bounded
 * learning table, and batches of scatter/gather datagrams.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cs/cs.h"
#include "vnet/ipam.h"
#include "vnet/user/uvx.h"

#define VNI_MAX 0xffffffu
/* The learning table: sets of LEARN_WAYS slots, LEARN_SLOTS in all, so a
 * peer flooding source MACs costs a bounded amount of memory and evicts
 * only the oldest entry of one set. */
#define LEARN_SLOTS 4096
#define LEARN_WAYS 8

struct vni_peers {
	uint32_t vni;
	size_t n;
	struct uvx_peer *p;
};

struct learned {
	uint32_t vni;		/* 0: empty slot (VNI 0 is never used) */
	uint8_t mac[6];
	uint16_t peer;		/* index in the VNI's peers */
	uint32_t seen;		/* monotonic seconds */
};

struct uvx {
	int fd;
	bool shared;
	int family;		/* the socket's */
	unsigned int ageing;
	uint32_t now;
	struct vni_peers *v;	/* sorted by vni */
	size_t nv;
	struct learned *tab;
	struct uvx_stats st;
	/* scratch of one batch */
	struct mmsghdr m[UVX_BATCH];
	struct iovec iov[UVX_BATCH][2];
	uint8_t hdr[UVX_BATCH][UVX_HDR];
	union uvx_sa from[UVX_BATCH];
	size_t frame_of[UVX_BATCH];
};

void uvx_hdr_put(uint8_t hdr[UVX_HDR], uint32_t vni)
{
	memset(hdr, 0, UVX_HDR);
	hdr[0] = 0x08;
	hdr[4] = (uint8_t)(vni >> 16);
	hdr[5] = (uint8_t)(vni >> 8);
	hdr[6] = (uint8_t)vni;
}

int uvx_hdr_get(const uint8_t hdr[UVX_HDR], uint32_t *vni)
{
	if (!(hdr[0] & 0x08))
		return CS_EPROTO;
	*vni = (uint32_t)hdr[4] << 16 | (uint32_t)hdr[5] << 8 | hdr[6];
	return 0;
}

int uvx_addr_parse(const char *s, uint16_t dflt, union uvx_sa *out)
{
	struct cs_addr a;
	uint16_t port;

	if (cs_addr_port_parse(s, dflt ? dflt : UVX_PORT, &a, &port) < 0)
		return CS_EINVAL;
	memset(out, 0, sizeof(*out));
	if (a.family == AF_INET) {
		out->in.sin_family = AF_INET;
		out->in.sin_port = htons(port);
		memcpy(&out->in.sin_addr, a.a, 4);
	} else {
		out->in6.sin6_family = AF_INET6;
		out->in6.sin6_port = htons(port);
		memcpy(&out->in6.sin6_addr, a.a, 16);
	}
	return 0;
}

static socklen_t sa_len(const union uvx_sa *s)
{
	return s->sa.sa_family == AF_INET6 ? sizeof(s->in6) : sizeof(s->in);
}

static uint16_t sa_port(const union uvx_sa *s)
{
	return ntohs(s->sa.sa_family == AF_INET6 ? s->in6.sin6_port : s->in.sin_port);
}

/* Same address (and, when @port, same port)? */
static bool sa_same(const union uvx_sa *x, const union uvx_sa *y, bool port)
{
	if (x->sa.sa_family != y->sa.sa_family)
		return false;
	if (port && sa_port(x) != sa_port(y))
		return false;
	if (x->sa.sa_family == AF_INET)
		return x->in.sin_addr.s_addr == y->in.sin_addr.s_addr;
	return !memcmp(&x->in6.sin6_addr, &y->in6.sin6_addr, 16);
}

/* @in as the socket's family would see it: IPv4 as v4-mapped on an IPv6
 * socket. CS_EINVAL for IPv6 on an IPv4 socket, or no port. */
static int sa_norm(const struct uvx *u, const union uvx_sa *in, union uvx_sa *out)
{
	if ((in->sa.sa_family != AF_INET && in->sa.sa_family != AF_INET6) || !sa_port(in))
		return CS_EINVAL;
	if (in->sa.sa_family == u->family) {
		*out = *in;
		return 0;
	}
	if (u->family == AF_INET)
		return CS_EINVAL;
	memset(out, 0, sizeof(*out));
	out->in6.sin6_family = AF_INET6;
	out->in6.sin6_port = in->in.sin_port;
	out->in6.sin6_addr.s6_addr[10] = 0xff;
	out->in6.sin6_addr.s6_addr[11] = 0xff;
	memcpy(&out->in6.sin6_addr.s6_addr[12], &in->in.sin_addr, 4);
	return 0;
}

static int sock_family(int fd)
{
	union uvx_sa s;
	socklen_t len = sizeof(s);
	int type = 0;
	socklen_t tl = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 || type != SOCK_DGRAM)
		return -1;
	if (getsockname(fd, &s.sa, &len) < 0)
		return -1;
	return s.sa.sa_family == AF_INET || s.sa.sa_family == AF_INET6 ? s.sa.sa_family : -1;
}

int uvx_adopt(int fd, unsigned int flags, struct uvx **out)
{
	struct uvx *u;
	int family = sock_family(fd);

	if (family < 0)
		return CS_EINVAL;
	u = calloc(1, sizeof(*u));
	if (!u)
		return CS_ENOMEM;
	u->tab = calloc(LEARN_SLOTS, sizeof(*u->tab));
	if (!u->tab) {
		free(u);
		return CS_ENOMEM;
	}
	u->fd = fd;
	u->shared = flags & UVX_SHARED;
	u->family = family;
	u->ageing = UVX_AGEING_DEFAULT;
	*out = u;
	return 0;
}

/* uvx_addr_parse(), and "ADDR:0" / "[V6]:0" for any free port (an
 * underlay's port is never 0, so the parser refuses it). */
static int bind_addr_parse(const char *s, union uvx_sa *out)
{
	char text[80];
	size_t n = s ? strlen(s) : 0;

	if (n < 3 || n >= sizeof(text) || strcmp(s + n - 2, ":0"))
		return uvx_addr_parse(s, UVX_PORT, out);
	memcpy(text, s, n - 2);
	text[n - 2] = '\0';
	if (text[n - 3] != ']' && strchr(text, ':'))
		return CS_EINVAL;
	if (uvx_addr_parse(text, UVX_PORT, out) < 0)
		return CS_EINVAL;
	if (out->sa.sa_family == AF_INET)
		out->in.sin_port = 0;
	else
		out->in6.sin6_port = 0;
	return 0;
}

int uvx_open(const char *addr, struct uvx **out)
{
	union uvx_sa sa;
	int fd, r, e;

	if (bind_addr_parse(addr, &sa) < 0)
		return CS_EINVAL;
	fd = socket(sa.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return CS_EIO;
	if (bind(fd, &sa.sa, sa_len(&sa)) < 0) {
		e = errno;
		close(fd);
		errno = e;
		return CS_EIO;
	}
	if ((r = uvx_adopt(fd, 0, out)) < 0)
		close(fd);
	return r;
}

void uvx_free(struct uvx *u)
{
	size_t i;

	if (!u)
		return;
	if (!u->shared)
		close(u->fd);
	for (i = 0; i < u->nv; i++)
		free(u->v[i].p);
	free(u->v);
	free(u->tab);
	free(u);
}

int uvx_fd(const struct uvx *u)
{
	return u->fd;
}

int uvx_local(const struct uvx *u, union uvx_sa *out)
{
	socklen_t len = sizeof(*out);

	memset(out, 0, sizeof(*out));
	return getsockname(u->fd, &out->sa, &len) < 0 ? CS_EIO : 0;
}

void uvx_set_ageing(struct uvx *u, unsigned int seconds)
{
	u->ageing = seconds ? seconds : UVX_AGEING_DEFAULT;
}

void uvx_stats_get(const struct uvx *u, struct uvx_stats *out)
{
	*out = u->st;
}

static void tick(struct uvx *u)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	u->now = (uint32_t)ts.tv_sec;
}

/* --- peers --- */

static struct vni_peers *vni_find(const struct uvx *u, uint32_t vni)
{
	size_t lo = 0, hi = u->nv;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (u->v[mid].vni == vni)
			return &u->v[mid];
		if (u->v[mid].vni < vni)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Index of the peer of @v whose destination is @to, or -1. */
static int peer_to(const struct vni_peers *v, const union uvx_sa *to)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		if (sa_same(&v->p[i].to, to, true))
			return (int)i;
	return -1;
}

/* Index of the peer of @v that may send from @src, or -1. */
static int peer_from(const struct vni_peers *v, const union uvx_sa *src)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		if (sa_same(&v->p[i].to, src, false) &&
		    (!v->p[i].from_port || v->p[i].from_port == sa_port(src)))
			return (int)i;
	return -1;
}

/* The learned entries of @vni follow their peers into @nv (by destination),
 * or are forgotten when their peer is gone. */
static void learned_remap(struct uvx *u, uint32_t vni, const struct vni_peers *old,
			  const struct vni_peers *nv)
{
	size_t i;

	for (i = 0; i < LEARN_SLOTS; i++) {
		struct learned *e = &u->tab[i];
		int k;

		if (e->vni != vni)
			continue;
		k = old && nv && e->peer < old->n ? peer_to(nv, &old->p[e->peer].to) : -1;
		if (k < 0)
			e->vni = 0;
		else
			e->peer = (uint16_t)k;
	}
}

/* The new peer array of a VNI: normalized, duplicates dropped. */
static int peers_copy(const struct uvx *u, const struct uvx_peer *in, size_t n,
		      struct vni_peers *out)
{
	size_t i, k = 0;

	out->p = calloc(n, sizeof(*out->p));
	if (!out->p)
		return CS_ENOMEM;
	for (i = 0; i < n; i++) {
		struct uvx_peer p = { .from_port = in[i].from_port };

		if (sa_norm(u, &in[i].to, &p.to) < 0) {
			free(out->p);
			out->p = NULL;
			return CS_EINVAL;
		}
		out->p[k] = p;
		out->n = k;
		if (peer_to(out, &p.to) < 0)
			k++;
	}
	out->n = k;
	return 0;
}

static int vni_remove(struct uvx *u, uint32_t vni)
{
	struct vni_peers *v = vni_find(u, vni);
	size_t at;

	if (!v)
		return 0;
	learned_remap(u, vni, v, NULL);
	free(v->p);
	at = (size_t)(v - u->v);
	memmove(v, v + 1, (u->nv - at - 1) * sizeof(*v));
	u->nv--;
	return 0;
}

int uvx_set_peers(struct uvx *u, uint32_t vni, const struct uvx_peer *peers, size_t n)
{
	struct vni_peers nv = { .vni = vni }, *v;
	size_t at;
	int r;

	if (!vni || vni > VNI_MAX || n > UVX_PEERS_MAX || (n && !peers))
		return CS_EINVAL;
	if (!n)
		return vni_remove(u, vni);
	if ((r = peers_copy(u, peers, n, &nv)) < 0)
		return r;
	if ((v = vni_find(u, vni))) {
		learned_remap(u, vni, v, &nv);
		free(v->p);
		*v = nv;
		return 0;
	}
	v = realloc(u->v, (u->nv + 1) * sizeof(*v));
	if (!v) {
		free(nv.p);
		return CS_ENOMEM;
	}
	u->v = v;
	for (at = 0; at < u->nv && u->v[at].vni < vni; at++)
		;
	memmove(&u->v[at + 1], &u->v[at], (u->nv - at) * sizeof(*v));
	u->v[at] = nv;
	u->nv++;
	return 0;
}

/* --- learning --- */

static size_t learn_set(uint32_t vni, const uint8_t *mac)
{
	uint32_t h = 2166136261u ^ vni;
	int i;

	for (i = 0; i < 6; i++)
		h = (h ^ mac[i]) * 16777619u;
	return (h % (LEARN_SLOTS / LEARN_WAYS)) * LEARN_WAYS;
}

static bool learn_live(const struct uvx *u, const struct learned *e)
{
	return e->vni && u->now - e->seen < u->ageing;
}

static struct learned *learn_find(struct uvx *u, uint32_t vni, const uint8_t *mac)
{
	struct learned *set = &u->tab[learn_set(vni, mac)];
	int i;

	for (i = 0; i < LEARN_WAYS; i++)
		if (set[i].vni == vni && !memcmp(set[i].mac, mac, 6) && learn_live(u, &set[i]))
			return &set[i];
	return NULL;
}

static void learn_put(struct uvx *u, uint32_t vni, const uint8_t *mac, uint16_t peer)
{
	struct learned *set = &u->tab[learn_set(vni, mac)], *e = NULL;
	int i;

	/* multicast, broadcast and all-zero sources are never learned */
	if ((mac[0] & 1) || !memcmp(mac, "\0\0\0\0\0\0", 6))
		return;
	for (i = 0; i < LEARN_WAYS && !e; i++)
		if (set[i].vni == vni && !memcmp(set[i].mac, mac, 6))
			e = &set[i];
	for (i = 0; i < LEARN_WAYS && !e; i++)
		if (!learn_live(u, &set[i]))
			e = &set[i];
	if (!e) {
		e = &set[0];
		for (i = 1; i < LEARN_WAYS; i++)
			if (set[i].seen < e->seen)
				e = &set[i];
	}
	if (!e->vni || e->vni != vni || memcmp(e->mac, mac, 6) || e->peer != peer ||
	    !learn_live(u, e))
		u->st.learned++;
	e->vni = vni;
	memcpy(e->mac, mac, 6);
	e->peer = peer;
	e->seen = u->now;
}

int uvx_learn(struct uvx *u, uint32_t vni, const uint8_t mac[6], const union uvx_sa *peer)
{
	struct vni_peers *v = vni_find(u, vni);
	union uvx_sa to;
	int k;

	if (!v || sa_norm(u, peer, &to) < 0 || (k = peer_to(v, &to)) < 0)
		return CS_ENOENT;
	tick(u);
	learn_put(u, vni, mac, (uint16_t)k);
	return 0;
}

/* --- the data path --- */

/*
 * Hand m[0..cnt) to the socket. Returns how many went (or were refused and
 * skipped); fewer than @cnt only when the socket's buffer is full.
 */
static size_t flush(struct uvx *u, size_t cnt)
{
	size_t off = 0;

	while (off < cnt) {
		int r = sendmmsg(u->fd, &u->m[off], (unsigned int)(cnt - off), MSG_DONTWAIT);

		if (r > 0) {
			for (size_t i = off; i < off + (size_t)r; i++) {
				u->st.tx_frames++;
				u->st.tx_bytes += u->iov[i][1].iov_len;
			}
			off += (size_t)r;
		} else if (r < 0 && errno == EINTR) {
			continue;
		} else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			break;
		} else {
			/* this datagram is refused (no route, too big): skip it */
			u->st.tx_errors++;
			off++;
		}
	}
	return off;
}

/* Queue one datagram of frame @fi to @to in slot @k. */
static void queue(struct uvx *u, size_t k, size_t fi, const struct uvx_frame *f,
		  const union uvx_sa *to)
{
	struct msghdr *h = &u->m[k].msg_hdr;

	uvx_hdr_put(u->hdr[k], f->vni);
	u->iov[k][0].iov_base = u->hdr[k];
	u->iov[k][0].iov_len = UVX_HDR;
	u->iov[k][1].iov_base = f->buf;
	u->iov[k][1].iov_len = f->len;
	memset(h, 0, sizeof(*h));
	h->msg_name = (void *)&to->sa;
	h->msg_namelen = sa_len(to);
	h->msg_iov = u->iov[k];
	h->msg_iovlen = 2;
	u->frame_of[k] = fi;
}

/* The peers frame @f goes to: *first.. *first + return value, of @v. */
static size_t targets(struct uvx *u, const struct vni_peers *v, const struct uvx_frame *f,
		      size_t *first)
{
	const uint8_t *dst = f->buf;
	struct learned *e;

	if (!(dst[0] & 1) && (e = learn_find(u, f->vni, dst)) && e->peer < v->n) {
		*first = e->peer;
		return 1;
	}
	u->st.tx_floods++;
	*first = 0;
	return v->n;
}

/* Frames handed when a flush stopped after @done of its datagrams: a frame
 * some of whose datagrams went (here, or in the batch before, whose last
 * frame was @prev) counts as handed. */
static int handed(const struct uvx *u, size_t done, size_t prev)
{
	size_t fi = u->frame_of[done];
	bool begun = done ? u->frame_of[done - 1] == fi : prev == fi;

	return (int)(fi + begun);
}

int uvx_send(struct uvx *u, const struct uvx_frame *f, size_t n)
{
	size_t i, k = 0, done, prev = SIZE_MAX;

	for (i = 0; i < n; i++)
		if (!f[i].buf || f[i].len < UVX_ETH_MIN)
			return CS_EINVAL;
	tick(u);
	for (i = 0; i < n; i++) {
		const struct vni_peers *v = vni_find(u, f[i].vni);
		size_t first, cnt, j;

		if (!v) {
			u->st.tx_no_peer++;
			continue;
		}
		cnt = targets(u, v, &f[i], &first);
		for (j = first; j < first + cnt; j++) {
			if (k == UVX_BATCH) {
				if ((done = flush(u, k)) < k)
					return handed(u, done, prev);
				prev = u->frame_of[k - 1];
				k = 0;
			}
			queue(u, k++, i, &f[i], &v->p[j].to);
		}
	}
	if (k && (done = flush(u, k)) < k)
		return handed(u, done, prev);
	return (int)n;
}

/* Is received datagram @j whole, ours and from a peer? The peer's index,
 * or -1 (counted). */
static int admit(struct uvx *u, size_t j, uint32_t *vni)
{
	const struct mmsghdr *m = &u->m[j];
	const struct vni_peers *v;
	int k;

	if ((m->msg_hdr.msg_flags & MSG_TRUNC) || m->msg_len < UVX_HDR + UVX_ETH_MIN) {
		u->st.rx_truncated++;
		return -1;
	}
	if (uvx_hdr_get(u->hdr[j], vni) < 0) {
		u->st.rx_bad_header++;
		return -1;
	}
	if (!(v = vni_find(u, *vni))) {
		u->st.rx_unknown_vni++;
		return -1;
	}
	if ((k = peer_from(v, &u->from[j])) < 0) {
		u->st.rx_foreign++;
		return -1;
	}
	return k;
}

int uvx_recv(struct uvx *u, struct uvx_frame *f, size_t n)
{
	size_t j, acc = 0;
	int r;

	if (n > UVX_BATCH)
		n = UVX_BATCH;
	for (j = 0; j < n; j++) {
		struct msghdr *h = &u->m[j].msg_hdr;

		u->iov[j][0].iov_base = u->hdr[j];
		u->iov[j][0].iov_len = UVX_HDR;
		u->iov[j][1].iov_base = f[j].buf;
		u->iov[j][1].iov_len = f[j].cap;
		memset(h, 0, sizeof(*h));
		h->msg_name = &u->from[j];
		h->msg_namelen = sizeof(u->from[j]);
		h->msg_iov = u->iov[j];
		h->msg_iovlen = 2;
	}
	do
		r = recvmmsg(u->fd, u->m, (unsigned int)n, MSG_DONTWAIT, NULL);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : CS_EIO;
	tick(u);
	for (j = 0; j < (size_t)r; j++) {
		uint32_t vni;
		int k = admit(u, j, &vni);

		if (k < 0)
			continue;
		f[j].vni = vni;
		f[j].len = u->m[j].msg_len - UVX_HDR;
		learn_put(u, vni, (const uint8_t *)f[j].buf + 6, (uint16_t)k);
		u->st.rx_frames++;
		u->st.rx_bytes += f[j].len;
		if (j != acc) {
			struct uvx_frame t = f[acc];

			f[acc] = f[j];
			f[j] = t;
		}
		acc++;
	}
	return (int)acc;
}
