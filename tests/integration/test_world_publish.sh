#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Published ports (issue 18 item 4): an endpoint's "publish" entries are
# reached from outside the node (TCP, UDP, IPv6 on a given address), from
# the node itself, and from an endpoint of another vnet through its egress
# (hairpin); a port not published is not (paired). Who may publish what: a
# port another endpoint publishes is refused naming it, one a socket of the
# node holds is refused naming the process, an owner below 1024 is refused
# while an administrator may. set replaces the list, "" removes it; the ports
# stay through a csd restart; they go with the endpoint and the tenant.
. "$(dirname "$0")/lib.sh"

cleanup_pub() { cleanup; rm -rf /etc/netns/"$PFX".*; }
trap cleanup_pub EXIT
host_add a
outside_add a
A=${PFX}ha O=${PFX}hout
csd_start a || exit 1
cd "$TMP"
as() { local u=$1; shift; setpriv --reuid "$u" --regid "$u" --clear-groups "$CTL" -S "$TMP/a/csd.sock" "$@"; }

ctl a tenant create acme owners.uids 1000 >/dev/null
as 1000 vnet create acme/blue subnet 10.1.0.0/24,fd00:1::/64 >/dev/null
as 1000 vnet create acme/green subnet 10.1.0.0/24 egress true >/dev/null
check "an owner publishes 8080, 5353/udp and 8086 on an IPv6 address" \
	as 1000 endpoint create acme/blue/web publish '8080:80,5353:53/udp,[2001:db8:5::1]:8086:80'
as 1000 endpoint create acme/green/cli >/dev/null
WEB=$PFX.acme.blue.web CLI=$PFX.acme.green.cli
peer_serve "$WEB" tcp :: 80
peer_serve "$WEB" udp 0.0.0.0 53
peer_serve "$WEB" tcp :: 81
sleep 0.5

# the endpoint sees its gateway as the peer (10.1.0.1, v4-mapped on its :: socket)
answers "from outside: TCP 198.51.100.1:8080 reaches web:80" ::ffff:10.1.0.1 "$O" tcp 198.51.100.1 8080
answers "from outside: UDP 5353 reaches web:53" 10.1.0.1 "$O" udp 198.51.100.1 5353
answers "from outside over IPv6: [2001:db8:5::1]:8086 reaches web:80" fd00:1::1 "$O" tcp 2001:db8:5::1 8086
blocked "a port not published is not reached (8081)" "$O" tcp 198.51.100.1 8081
answers "from the node itself" ::ffff:10.1.0.1 "$A" tcp 198.51.100.1 8080
answers "from another vnet's endpoint through its egress (hairpin)" ::ffff:10.1.0.1 \
	"$CLI" tcp 198.51.100.1 8080

# who may publish what
out=$(as 1000 endpoint create acme/blue/web2 publish 8080:81 2>&1); rc=$?
check "a port another endpoint publishes is refused, naming it (exit $rc): $out" \
	bash -c '[ "$1" = 1 ] && grep -q "published by endpoint acme/blue/web" <<<"$2"' _ "$rc" "$out"
peer_serve "$A" tcp 0.0.0.0 9090
sleep 0.3
out=$(as 1000 endpoint create acme/blue/web2 publish 9090:81 2>&1); rc=$?
check "a port a socket of the node holds is refused, naming the process (exit $rc): $out" \
	bash -c '[ "$1" = 1 ] && grep -q "held by a socket of node a: 0.0.0.0:9090 (python3, pid" <<<"$2"' \
	_ "$rc" "$out"
out=$(as 1000 endpoint create acme/blue/web2 publish 80:81 2>&1); rc=$?
check "an owner may not publish below 1024 (exit $rc): $out" \
	bash -c '[ "$1" = 1 ] && grep -q "outside 1024-65535" <<<"$2"' _ "$rc" "$out"
out=$(as 1000 endpoint create acme/blue/web2 publish 8080 2>&1); rc=$?
check "a malformed entry is refused with its path (exit $rc): $out" \
	bash -c '[ "$1" = 1 ] && grep -q "publish\[0\]" <<<"$2"' _ "$rc" "$out"
check "an administrator may publish port 80" ctl a endpoint create acme/blue/web2 publish 80:81
peer_serve "$PFX.acme.blue.web2" tcp :: 81
sleep 0.3
answers "and it is reached" ::ffff:10.1.0.1 "$O" tcp 198.51.100.1 80

# set, restart
check "set replaces the list" as 1000 endpoint set acme/blue/web publish 8082:80
answers "the new port is reached" ::ffff:10.1.0.1 "$O" tcp 198.51.100.1 8082
blocked "the old one is not" "$O" tcp 198.51.100.1 8080
eg0=$(ip -n "$PFX.acme.blue" -o link show eg0 | cut -d: -f1)
kill -TERM "$(csd_pid a)"
for i in $(seq 50); do kill -0 "$(csd_pid a)" 2>/dev/null || break; sleep 0.1; done
answers "with csd stopped, the port still answers (the kernel forwards)" ::ffff:10.1.0.1 \
	"$O" tcp 198.51.100.1 8082
csd_start a || exit 1
answers "and after csd starts again" ::ffff:10.1.0.1 "$O" tcp 198.51.100.1 8082
check "the restarted csd adopted the vnet's transit link, not remade it (ifindex $eg0)" \
	test "$(ip -n "$PFX.acme.blue" -o link show eg0 | cut -d: -f1)" = "$eg0"
check "an empty value removes publish" as 1000 endpoint set acme/blue/web publish ""
blocked "then nothing is published there" "$O" tcp 198.51.100.1 8082
check "the endpoint is still there" as 1000 endpoint show acme/blue/web >/dev/null

ctl a endpoint delete acme/blue/web2
blocked "a deleted endpoint's port is gone" "$O" tcp 198.51.100.1 80
ctl a tenant delete acme
for i in $(seq 100); do [ -z "$(leaked)" ] && break; sleep 0.1; done
check "nothing leaked" test -z "$(leaked)"
check "no table of this csd left in the host" bash -c "! ip netns exec $A nft list tables | grep -q $PFX"
finish
