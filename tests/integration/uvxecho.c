/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * uvxecho: a host in an overlay built with uvx alone (vnet/user/uvx.h), for
 * test_uvx_kernel.sh: wire compatibility with the kernel's VXLAN device.
 *   uvxecho serve BIND VNI PEER IP MAC
 *       bind BIND ("192.0.2.2:4790"), take VNI from PEER ("ADDR:PORT",
 *       any source port: a kernel device), answer ARP for IPv4 IP and
 *       ICMP echo and UDP port 7 (echo) sent to IP at MAC. On SIGUSR1 and
 *       at exit (SIGTERM) print one line of counters:
 *       "arp N icmp N udp N rx N foreign N unknown_vni N bad N short N"
 *   uvxecho inject FROM TO VNI SRC DST DSTMAC
 *       from FROM ("ADDR": any port, or "ADDR:PORT") to TO ("ADDR:PORT"), one VXLAN
 *       datagram for VNI around an ICMP echo request SRC -> DST at DSTMAC
 * Exit 1 on a failed call, 2 on usage errors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vnet/user/uvx.h"

#define BATCH 32
#define FRAME 2048

static volatile sig_atomic_t want_stats, want_stop;
static uint8_t my_mac[6];
static uint32_t my_ip;		/* network order */
static unsigned long n_arp, n_icmp, n_udp;

static void on_sig(int sig)
{
	if (sig == SIGUSR1)
		want_stats = 1;
	else
		want_stop = 1;
}

static uint16_t csum(const uint8_t *p, size_t len)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static int parse_mac(const char *s, uint8_t *mac)
{
	unsigned int b[6];

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

/* Turn the frame around: Ethernet to its sender, from us. */
static void eth_back(uint8_t *f)
{
	memcpy(f, f + 6, 6);
	memcpy(f + 6, my_mac, 6);
}

/* An ARP request for my_ip becomes its reply. */
static int arp(uint8_t *f, size_t len)
{
	uint8_t *a = f + 14;

	if (len < 42 || a[7] != 1 || memcmp(a + 24, &my_ip, 4))
		return 0;
	eth_back(f);
	a[7] = 2;
	memcpy(a + 18, a + 8, 10);	/* target = the asker */
	memcpy(a + 8, my_mac, 6);
	memcpy(a + 14, &my_ip, 4);
	n_arp++;
	return 1;
}

/* An ICMP echo request or a UDP datagram to port 7 at my_ip becomes its
 * answer. */
static int ip4(uint8_t *f, size_t len)
{
	uint8_t *ip = f + 14, *l4, t[4];
	size_t hl, tot;

	if (len < 34 || (ip[0] >> 4) != 4 || memcmp(ip + 16, &my_ip, 4))
		return 0;
	hl = (size_t)(ip[0] & 15) * 4;
	tot = (size_t)(ip[2] << 8 | ip[3]);
	if (hl < 20 || tot < hl + 8 || 14 + tot > len)
		return 0;
	l4 = ip + hl;
	if (ip[9] == 1 && l4[0] == 8) {
		l4[0] = 0;
		l4[2] = l4[3] = 0;
		uint16_t c = csum(l4, tot - hl);
		l4[2] = (uint8_t)(c >> 8);
		l4[3] = (uint8_t)c;
		n_icmp++;
	} else if (ip[9] == 17 && l4[2] == 0 && l4[3] == 7) {
		memcpy(t, l4, 2);
		memcpy(l4, l4 + 2, 2);
		memcpy(l4 + 2, t, 2);
		l4[6] = l4[7] = 0;	/* no UDP checksum (IPv4 allows it) */
		n_udp++;
	} else {
		return 0;
	}
	memcpy(t, ip + 12, 4);
	memcpy(ip + 12, ip + 16, 4);
	memcpy(ip + 16, t, 4);
	ip[8] = 64;
	ip[10] = ip[11] = 0;
	uint16_t c = csum(ip, hl);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	eth_back(f);
	return 1;
}

static int answer(uint8_t *f, size_t len)
{
	if (!(f[0] & 1) && memcmp(f, my_mac, 6))
		return 0;
	if (f[12] == 0x08 && f[13] == 0x06)
		return arp(f, len);
	if (f[12] == 0x08 && f[13] == 0x00)
		return ip4(f, len);
	return 0;
}

static void print_stats(struct uvx *u)
{
	struct uvx_stats st;

	uvx_stats_get(u, &st);
	printf("arp %lu icmp %lu udp %lu rx %llu foreign %llu unknown_vni %llu bad %llu short %llu\n",
	       n_arp, n_icmp, n_udp, (unsigned long long)st.rx_frames,
	       (unsigned long long)st.rx_foreign, (unsigned long long)st.rx_unknown_vni,
	       (unsigned long long)st.rx_bad_header, (unsigned long long)st.rx_truncated);
	fflush(stdout);
}

static int serve(char **argv)
{
	static uint8_t bufs[BATCH][FRAME];
	struct uvx_frame f[BATCH], out[BATCH];
	struct uvx_peer peer = { 0 };
	uint32_t vni = (uint32_t)strtoul(argv[1], NULL, 10);
	struct uvx *u;

	if (uvx_addr_parse(argv[2], 0, &peer.to) < 0 || inet_pton(AF_INET, argv[3], &my_ip) != 1 ||
	    parse_mac(argv[4], my_mac) < 0)
		return 2;
	if (uvx_open(argv[0], &u) < 0 || uvx_set_peers(u, vni, &peer, 1) < 0) {
		perror("uvxecho: uvx");
		return 1;
	}
	signal(SIGUSR1, on_sig);
	signal(SIGTERM, on_sig);
	signal(SIGINT, on_sig);
	while (!want_stop) {
		struct pollfd p = { .fd = uvx_fd(u), .events = POLLIN };
		int n, k = 0;

		if (want_stats) {
			want_stats = 0;
			print_stats(u);
		}
		if (poll(&p, 1, 100) != 1)
			continue;
		for (int i = 0; i < BATCH; i++)
			f[i] = (struct uvx_frame){ .buf = bufs[i], .cap = FRAME };
		n = uvx_recv(u, f, BATCH);
		for (int i = 0; i < n; i++)
			if (answer(f[i].buf, f[i].len))
				out[k++] = f[i];
		if (k)
			uvx_send(u, out, (size_t)k);
	}
	print_stats(u);
	uvx_free(u);
	return 0;
}

/* An ICMP echo request SRC -> DST at DSTMAC, from a made-up MAC. */
static size_t echo_frame(uint8_t *f, uint32_t src, uint32_t dst, const uint8_t *dmac)
{
	static const uint8_t smac[6] = { 0x02, 0xee, 0, 0, 0, 1 };
	uint8_t *ip = f + 14, *ic = ip + 20;
	uint16_t c;

	memset(f, 0, 14 + 20 + 16);
	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	f[12] = 0x08;
	ip[0] = 0x45;
	ip[3] = 20 + 16;
	ip[8] = 64;
	ip[9] = 1;
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &dst, 4);
	c = csum(ip, 20);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	ic[0] = 8;
	memcpy(ic + 8, "uvx-probe", 9);
	c = csum(ic, 16);
	ic[2] = (uint8_t)(c >> 8);
	ic[3] = (uint8_t)c;
	return 14 + 20 + 16;
}

static int inject(char **argv)
{
	union uvx_sa from, to;
	uint8_t d[UVX_HDR + 128], dmac[6];
	uint32_t src, dst, vni = (uint32_t)strtoul(argv[2], NULL, 10);
	size_t len;
	int fd;

	/* no port written: 65535 stands for "any" (bound as 0) */
	if (uvx_addr_parse(argv[0], 65535, &from) < 0 || uvx_addr_parse(argv[1], 0, &to) < 0 ||
	    inet_pton(AF_INET, argv[3], &src) != 1 || inet_pton(AF_INET, argv[4], &dst) != 1 ||
	    parse_mac(argv[5], dmac) < 0)
		return 2;
	if (ntohs(from.in.sin_port) == 65535)
		from.in.sin_port = 0;
	uvx_hdr_put(d, vni);
	len = echo_frame(d + UVX_HDR, src, dst, dmac);
	fd = socket(from.sa.sa_family, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, &from.sa, sizeof(from.in)) < 0 ||
	    sendto(fd, d, UVX_HDR + len, 0, &to.sa, sizeof(to.in)) < 0) {
		perror("uvxecho inject");
		return 1;
	}
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 7 && !strcmp(argv[1], "serve"))
		return serve(argv + 2);
	if (argc == 8 && !strcmp(argv[1], "inject"))
		return inject(argv + 2);
	fprintf(stderr, "usage: uvxecho serve BIND VNI PEER IP MAC\n"
		"       uvxecho inject FROM TO VNI SRC DST DSTMAC\n");
	return 2;
}
