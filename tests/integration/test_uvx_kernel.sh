#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# uvx (vnet/user/uvx.c) is wire-compatible with the kernel's VXLAN device.
# Two namespaces joined by a veth: in K a kernel VXLAN device whose flood
# entry names uvx's address AND port (4790); in U uvxecho, a host built on
# uvx alone, at 10.77.0.2. The kernel's ping and a UDP echo get answers;
# a datagram from an address that is no peer is dropped, paired with the
# same datagram from the peer's address taken; an unknown VNI is dropped.
# The same ping over an IPv6 underlay.
# (Over a veth, not loopback: the kernel delivers VXLAN to a local
# address only to its own devices unless "nolocalbypass" is set.)
. "$(dirname "$0")/lib.sh"
ECHO=$CS_BUILD/tests/integration/uvxecho
VNI=4242
UMAC=02:00:00:77:00:02

host_add k
host_add u
K=${PFX}hk
U=${PFX}hu
ip link add "${PFX}a" netns "$K" type veth peer name "${PFX}b" netns "$U"
ip -n "$K" addr add 192.168.77.1/24 dev "${PFX}a"
ip -n "$K" addr add 192.168.77.3/24 dev "${PFX}a"
ip -n "$U" addr add 192.168.77.2/24 dev "${PFX}b"
ip -n "$K" link set "${PFX}a" up
ip -n "$U" link set "${PFX}b" up
# learning off: the kernel would learn uvx's MAC at its own port (4789),
# not the flood entry's (see csd(8), mixed vnets)
ip -n "$K" link add vx0 type vxlan id $VNI local 192.168.77.1 dstport 4789 nolearning
ip -n "$K" addr add 10.77.0.1/24 dev vx0
ip -n "$K" link set vx0 up
bridge -n "$K" fdb append 00:00:00:00:00:00 dev vx0 dst 192.168.77.2 port 4790

nsenter --net="/run/netns/$U" "$ECHO" serve 192.168.77.2:4790 $VNI 192.168.77.1:4789 \
	10.77.0.2 $UMAC >"$TMP/echo.out" 2>&1 &
EPID=$!
BG_PIDS+=("$EPID")

# stats: the counters uvxecho prints on SIGUSR1, as "NAME VALUE" pairs
stats() {
	local n
	n=$(wc -l <"$TMP/echo.out")
	kill -USR1 "$EPID"
	for _ in $(seq 50); do
		[ "$(wc -l <"$TMP/echo.out")" -gt "$n" ] && break
		sleep 0.05
	done
	tail -n 1 "$TMP/echo.out"
}
stat_of() { stats | awk -v k="$1" '{ for (i = 1; i < NF; i += 2) if ($i == k) print $(i + 1) }'; }

check "ping from the kernel's VXLAN device gets answers from uvx" \
	ip netns exec "$K" ping -c 3 -i 0.2 -W 2 10.77.0.2
check "the kernel resolved uvx's MAC over VXLAN (ARP answered by uvx)" \
	sh -c "ip -n $K neigh show 10.77.0.2 dev vx0 | grep -q $UMAC"
reply=$(ip netns exec "$K" /usr/bin/python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(b"uvx-udp-echo", ("10.77.0.2", 7))
print(s.recv(100).decode())' 2>&1)
check "a UDP echo from the kernel side comes back intact ($reply)" [ "$reply" = uvx-udp-echo ]
[ "$(stat_of arp)" -ge 1 ] && ok "uvx answered ARP" || fail "uvx answered no ARP: $(stats)"

# paired probe: the same echo request from a non-peer address, then from
# the peer's (another source port than the kernel's: a kernel peer's
# source port is free)
icmp0=$(stat_of icmp)
nsenter --net="/run/netns/$K" "$ECHO" inject 192.168.77.3 192.168.77.2:4790 $VNI \
	10.77.0.9 10.77.0.2 $UMAC
sleep 0.3
[ "$(stat_of foreign)" = 1 ] && [ "$(stat_of icmp)" = "$icmp0" ] &&
	ok "a VXLAN datagram from a non-peer address is dropped and counted" ||
	fail "non-peer datagram: $(stats) (icmp before: $icmp0)"
nsenter --net="/run/netns/$K" "$ECHO" inject 192.168.77.1 192.168.77.2:4790 $VNI \
	10.77.0.9 10.77.0.2 $UMAC
sleep 0.3
[ "$(stat_of icmp)" = $((icmp0 + 1)) ] &&
	ok "the same datagram from the peer's address is answered" ||
	fail "peer datagram not answered: $(stats) (icmp before: $icmp0)"
nsenter --net="/run/netns/$K" "$ECHO" inject 192.168.77.1 192.168.77.2:4790 $((VNI + 1)) \
	10.77.0.9 10.77.0.2 $UMAC
sleep 0.3
[ "$(stat_of unknown_vni)" = 1 ] && [ "$(stat_of icmp)" = $((icmp0 + 1)) ] &&
	ok "a datagram for another VNI is dropped and counted" ||
	fail "other VNI: $(stats)"

# an IPv6 underlay: another device and another uvxecho, ports as above
ip -n "$K" addr add fd77::1/64 dev "${PFX}a" nodad
ip -n "$U" addr add fd77::2/64 dev "${PFX}b" nodad
ip -n "$K" link add vx6 type vxlan id $((VNI + 6)) local fd77::1 dstport 4789 nolearning
ip -n "$K" addr add 10.78.0.1/24 dev vx6
ip -n "$K" link set vx6 up
bridge -n "$K" fdb append 00:00:00:00:00:00 dev vx6 dst fd77::2 port 4790
nsenter --net="/run/netns/$U" "$ECHO" serve "[fd77::2]:4790" $((VNI + 6)) "[fd77::1]:4789" \
	10.78.0.2 $UMAC >"$TMP/echo6.out" 2>&1 &
BG_PIDS+=($!)
check "ping over an IPv6 underlay gets answers from uvx" \
	ip netns exec "$K" ping -c 3 -i 0.2 -W 2 10.78.0.2
finish
