/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Forwarding at the gateways' DNS (csd/dns.h): a vnet with egress gets
 * names outside cs answered by the node's resolvers (csd's "resolvers", or
 * the nameservers of csd's own /etc/resolv.conf). csd sends the query from
 * its own namespace, under an id of its own, to every resolver at once; the
 * first answer from a resolver's address and port 53 carrying that id goes
 * back to the program under its id; after DNS_FWD_TIMEOUT_MS the program
 * gets SERVFAIL. At most DNS_FWD_MAX queries wait at once (SERVFAIL beyond):
 * a program cannot make csd hold more.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "csd.h"
#include "dns.h"

#define DNS_FWD_MAX 256
#define DNS_FWD_TIMEOUT_MS 3000
#define DNS_RESOLVERS_MAX 3

struct fwd_slot {
	bool used;
	uint16_t id;             /* ours, on the wire to the resolvers */
	uint8_t head[12];        /* the program's header (its id) */
	uint64_t deadline;
	struct dns_client client;
};

struct dns_fwd {
	struct sockaddr_storage to[DNS_RESOLVERS_MAX];
	socklen_t tolen[DNS_RESOLVERS_MAX];
	int nto;
	int fd[2];               /* IPv4, IPv6 */
	struct fwd_slot slot[DNS_FWD_MAX];
};

static int add_resolver(struct dns_fwd *f, const char *text)
{
	struct cs_addr a;

	if (f->nto >= DNS_RESOLVERS_MAX || cs_addr_parse(text, &a) < 0)
		return -1;
	struct sockaddr_storage *ss = &f->to[f->nto];
	memset(ss, 0, sizeof(*ss));
	if (a.family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(53);
		memcpy(&s4->sin_addr, a.a, 4);
		f->tolen[f->nto] = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(53);
		memcpy(&s6->sin6_addr, a.a, 16);
		f->tolen[f->nto] = sizeof(*s6);
	}
	int k = a.family == AF_INET6;
	if (f->fd[k] < 0 &&
	    (f->fd[k] = socket(a.family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	f->nto++;
	return 0;
}

/* "nameserver ADDR" lines of resolv.conf. */
static void read_resolv_conf(struct dns_fwd *f, const char *path)
{
	char line[256], addr[64];
	FILE *in = fopen(path, "re");

	if (!in)
		return;
	while (fgets(line, sizeof(line), in))
		if (sscanf(line, " nameserver %63s", addr) == 1)
			add_resolver(f, addr);
	fclose(in);
}

struct dns_fwd *dns_fwd_new(char *const *resolvers)
{
	struct dns_fwd *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->fd[0] = f->fd[1] = -1;
	if (resolvers)
		for (size_t i = 0; resolvers[i]; i++)
			add_resolver(f, resolvers[i]);
	else
		read_resolv_conf(f, "/etc/resolv.conf");
	return f;
}

void dns_fwd_free(struct dns_fwd *f)
{
	if (!f)
		return;
	for (int k = 0; k < 2; k++)
		if (f->fd[k] >= 0)
			close(f->fd[k]);
	free(f);
}

int dns_fwd_fd(const struct dns_fwd *f, int k)
{
	return f ? f->fd[k] : -1;
}

/* A header-only SERVFAIL for the program whose header is @head. */
static void servfail(const uint8_t head[12], dns_reply_fn reply, const struct dns_client *c,
		     void *arg)
{
	uint8_t out[12];

	memcpy(out, head, 12);
	out[2] = 0x80 | (head[2] & 0x79);
	out[3] = 2; /* SERVFAIL */
	memset(out + 4, 0, 8);
	reply(c, out, sizeof(out), arg);
}

void dns_fwd_query(struct dns_fwd *f, const uint8_t *q, size_t len, uint64_t now,
		   const struct dns_client *c, dns_reply_fn reply, void *arg)
{
	struct fwd_slot *s = NULL;
	uint8_t buf[4096];

	for (size_t i = 0; f && f->nto && i < DNS_FWD_MAX && !s; i++)
		if (!f->slot[i].used)
			s = &f->slot[i];
	if (!s || len < 12 || len > sizeof(buf)) {
		if (len >= 12)
			servfail(q, reply, c, arg);
		return;
	}
	if (getrandom(&s->id, sizeof(s->id), GRND_NONBLOCK) != sizeof(s->id))
		s->id = (uint16_t)(now * 2654435761u);
	memcpy(s->head, q, 12);
	memcpy(buf, q, len);
	buf[0] = (uint8_t)(s->id >> 8);
	buf[1] = (uint8_t)s->id;
	s->used = true;
	s->deadline = now + DNS_FWD_TIMEOUT_MS;
	s->client = *c;
	for (int i = 0; i < f->nto; i++)
		sendto(f->fd[f->to[i].ss_family == AF_INET6], buf, len, MSG_DONTWAIT,
		       (struct sockaddr *)&f->to[i], f->tolen[i]);
}

static bool from_resolver(const struct dns_fwd *f, const struct sockaddr_storage *from)
{
	for (int i = 0; i < f->nto; i++) {
		if (from->ss_family != f->to[i].ss_family)
			continue;
		if (from->ss_family == AF_INET) {
			const struct sockaddr_in *a = (const void *)from, *b = (const void *)&f->to[i];
			if (a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr)
				return true;
		} else {
			const struct sockaddr_in6 *a = (const void *)from, *b = (const void *)&f->to[i];
			if (a->sin6_port == b->sin6_port &&
			    !memcmp(&a->sin6_addr, &b->sin6_addr, sizeof(a->sin6_addr)))
				return true;
		}
	}
	return false;
}

void dns_fwd_recv(struct dns_fwd *f, int k, dns_reply_fn reply, void *arg)
{
	uint8_t buf[4096];

	for (int n = 0; n < 64; n++) {
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		ssize_t len = recvfrom(f->fd[k], buf, sizeof(buf), MSG_DONTWAIT,
				       (struct sockaddr *)&from, &flen);
		if (len < 0)
			return;
		if (len < 12 || !(buf[2] & 0x80) || !from_resolver(f, &from))
			continue;
		uint16_t id = (uint16_t)(buf[0] << 8 | buf[1]);
		for (size_t i = 0; i < DNS_FWD_MAX; i++) {
			struct fwd_slot *s = &f->slot[i];
			if (!s->used || s->id != id)
				continue;
			memcpy(buf, s->head, 2);
			s->used = false;
			reply(&s->client, buf, (size_t)len, arg);
			break;
		}
	}
}

void dns_fwd_expire(struct dns_fwd *f, uint64_t now, dns_reply_fn reply, void *arg)
{
	for (size_t i = 0; f && i < DNS_FWD_MAX; i++) {
		struct fwd_slot *s = &f->slot[i];
		if (s->used && now >= s->deadline) {
			s->used = false;
			servfail(s->head, reply, &s->client, arg);
		}
	}
}

void dns_fwd_cancel(struct dns_fwd *f, const void *vn, const void *conn)
{
	for (size_t i = 0; f && i < DNS_FWD_MAX; i++) {
		struct fwd_slot *s = &f->slot[i];
		if (s->used && ((vn && s->client.vn == vn) || (conn && s->client.conn == conn)))
			s->used = false;
	}
}
