/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vxinject: forged VXLAN for the multinode test (the crafted packet of
 * test_multinode_kernel.c as a command).
 *   vxinject send FROM TO VNI INNER_SRC INNER_DST PORT MSG
 *       from underlay address FROM (bound, so it is the source), to TO:4789,
 *       a VXLAN packet (VNI, I flag) around a broadcast Ethernet frame
 *       carrying IPv4 INNER_SRC -> INNER_DST / UDP -> PORT with MSG
 *   vxinject spoof FROM TO VNI INNER_SRC INNER_DST PORT MSG
 *       the same through a raw socket (root), FROM need not be local: a
 *       plaintext packet forged with a member node's underlay address
 *   vxinject listen PORT MS
 *       print every UDP datagram arriving on PORT for MS milliseconds, one
 *       line each; exit 0 (whatever arrived)
 * Exit 1 on a failed system call, 2 on usage errors.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint16_t csum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint32_t s = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		s += (uint32_t)b[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return htons((uint16_t)(~s & 0xffff));
}

static int addr4(const char *s, struct in_addr *a)
{
	if (inet_pton(AF_INET, s, a) != 1) {
		fprintf(stderr, "vxinject: %s is not an IPv4 address\n", s);
		return -1;
	}
	return 0;
}

/* The VXLAN packet @p (@len bytes) from FROM:40000 to TO:4789 with an
 * outer IPv4 and UDP header of its own, through a raw socket. */
static int raw_send(const struct sockaddr_in *from, const struct sockaddr_in *to,
		    const uint8_t *p, size_t len)
{
	uint8_t pkt[600] = { 0 }, *udp = pkt + 20;
	size_t tot = 20 + 8 + len;
	uint16_t ck;
	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);

	pkt[0] = 0x45;
	pkt[2] = (uint8_t)(tot >> 8);
	pkt[3] = (uint8_t)tot;
	pkt[8] = 64;
	pkt[9] = IPPROTO_UDP;
	memcpy(pkt + 12, &from->sin_addr, 4);
	memcpy(pkt + 16, &to->sin_addr, 4);
	ck = csum(pkt, 20);
	memcpy(pkt + 10, &ck, 2);
	udp[0] = 40000 >> 8;
	udp[1] = 40000 & 0xff;
	memcpy(udp + 2, &to->sin_port, 2);
	udp[4] = (uint8_t)((8 + len) >> 8);
	udp[5] = (uint8_t)(8 + len);
	memcpy(udp + 8, p, len);	/* UDP checksum 0: none, valid over IPv4 */
	if (fd < 0 || sendto(fd, pkt, tot, 0, (const struct sockaddr *)to, sizeof(*to)) < 0) {
		perror("vxinject spoof");
		return 1;
	}
	close(fd);
	return 0;
}

static int do_send(char **argv, bool spoof)
{
	uint8_t p[512] = { 0 }, *eth = p + 8, *ip = eth + 14, *udp = ip + 20;
	struct sockaddr_in from = { .sin_family = AF_INET }, to = { .sin_family = AF_INET };
	struct in_addr isrc, idst;
	unsigned long vni = strtoul(argv[2], NULL, 10);
	int port = atoi(argv[5]);
	size_t mlen = strlen(argv[6]), ilen = 20 + 8 + mlen;
	uint16_t ck;
	int fd;

	if (spoof)
		from.sin_port = 0;
	if (addr4(argv[0], &from.sin_addr) < 0 || addr4(argv[1], &to.sin_addr) < 0 ||
	    addr4(argv[3], &isrc) < 0 || addr4(argv[4], &idst) < 0)
		return 2;
	if (vni < 1 || vni > 16777215 || port < 1 || port > 65535 || mlen > 400) {
		fprintf(stderr, "vxinject: VNI 1-16777215, port 1-65535, message < 400 bytes\n");
		return 2;
	}
	to.sin_port = htons(4789);
	p[0] = 0x08; /* I flag: the VNI is valid */
	p[4] = (uint8_t)(vni >> 16);
	p[5] = (uint8_t)(vni >> 8);
	p[6] = (uint8_t)vni;
	memset(eth, 0xff, 6);
	memcpy(eth + 6, "\x02\x00\x00\x00\x00\x99", 6);
	eth[12] = 0x08;
	ip[0] = 0x45;
	ip[2] = (uint8_t)(ilen >> 8);
	ip[3] = (uint8_t)ilen;
	ip[6] = 0x40;
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	memcpy(ip + 12, &isrc, 4);
	memcpy(ip + 16, &idst, 4);
	ck = csum(ip, 20);
	memcpy(ip + 10, &ck, 2);
	udp[0] = 40000 >> 8;
	udp[1] = 40000 & 0xff;
	udp[2] = (uint8_t)(port >> 8);
	udp[3] = (uint8_t)port;
	udp[4] = (uint8_t)((8 + mlen) >> 8);
	udp[5] = (uint8_t)(8 + mlen);
	memcpy(udp + 8, argv[6], mlen);
	if (spoof)
		return raw_send(&from, &to, p, 8 + 14 + ilen);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&from, sizeof(from)) < 0 ||
	    sendto(fd, p, 8 + 14 + ilen, 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
		perror("vxinject send");
		return 1;
	}
	close(fd);
	return 0;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int do_listen(char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[0])) };
	double end = now_ms() + atoi(argv[1]);
	char buf[512];
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("vxinject listen");
		return 1;
	}
	/* the caller starts sending once this line is there */
	printf("listening\n");
	fflush(stdout);
	for (double left; (left = end - now_ms()) > 0;) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		if (poll(&pfd, 1, (int)left + 1) <= 0)
			continue;
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n < 0)
			continue;
		buf[n] = '\0';
		printf("%s\n", buf);
		fflush(stdout);
	}
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 9 && !strcmp(argv[1], "send"))
		return do_send(argv + 2, false);
	if (argc == 9 && !strcmp(argv[1], "spoof"))
		return do_send(argv + 2, true);
	if (argc == 4 && !strcmp(argv[1], "listen"))
		return do_listen(argv + 2);
	fprintf(stderr, "usage: vxinject send|spoof FROM TO VNI INNER_SRC INNER_DST PORT MSG\n"
			"       vxinject listen PORT MS\n");
	return 2;
}
