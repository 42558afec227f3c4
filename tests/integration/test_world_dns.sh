#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# DNS at the gateway, on one node (issue 18 item 2), with unmodified
# programs: getent (short and full names, A and AAAA, reverse), Python's
# getaddrinfo, curl reaching a server by name, through cs-ctl exec (root and
# a non-root owner) and ip netns exec (/etc/netns/NETNS/resolv.conf). Raw
# queries show what getent cannot: a name of another vnet or tenant gets
# exactly the answer of a name that does not exist (NXDOMAIN), an outside
# name REFUSED, TCP answers as UDP does, garbage gets FORMERR or nothing and
# the server goes on. A created endpoint is answered within 1 s, a deleted
# one is gone within 1 s. While csd is stopped nobody answers; once it is
# back, names are answered again. Nothing is left behind in /etc/netns.
. "$(dirname "$0")/lib.sh"

DNSQ=$(dirname "$(readlink -f "$0")")/dnsq.py
cleanup_dns() { cleanup; rm -rf /etc/netns/"$PFX".*; }
trap cleanup_dns EXIT
host_add a
csd_start a || exit 1
cd "$TMP"
as() { local u=$1; shift; setpriv --reuid "$u" --regid "$u" --clear-groups "$CTL" -S "$TMP/a/csd.sock" "$@"; }
NS=$PFX.acme.blue.web

ctl a tenant create acme owners.uids 1000 >/dev/null
ctl a tenant create other >/dev/null
as 1000 vnet create acme/blue subnet 10.1.0.0/24,fd00:1::/64 >/dev/null
as 1000 vnet create acme/red subnet 10.1.0.0/24 >/dev/null
ctl a vnet create other/blue subnet 10.1.0.0/24 >/dev/null
for e in acme/blue/web acme/blue/db acme/red/x other/blue/y; do
	ctl a endpoint create "$e" >/dev/null || fail "endpoint $e"
done
q() { in_ep a acme/blue/web python3 "$DNSQ" "$@"; }

# ---- resolv.conf where programs look
out=$(cat "/etc/netns/$NS/resolv.conf" 2>&1)
check "csd wrote /etc/netns/$NS/resolv.conf with the search domain and gateways" \
	bash -c 'grep -qx "search blue.acme.cs" <<<"$1" && grep -qx "nameserver 10.1.0.1" <<<"$1" &&
		grep -qx "nameserver fd00:1::1" <<<"$1"' _ "$out"
out=$(in_ep a acme/blue/web cat /etc/resolv.conf)
check "cs-ctl exec (root) shows it as /etc/resolv.conf" grep -qx "search blue.acme.cs" <<<"$out"
out=$(as 1000 exec acme/blue/web -- cat /etc/resolv.conf)
check "cs-ctl exec (owner uid 1000) too" grep -qx "nameserver 10.1.0.1" <<<"$out"
check_not "the host's /etc/resolv.conf is untouched" grep -q "blue.acme.cs" /etc/resolv.conf

# ---- unmodified programs resolve names
out=$(in_ep a acme/blue/web getent ahostsv4 db)
check "getent: db is 10.1.0.3 ($(echo $out | head -c 60))" grep -q "^10.1.0.3 " <<<"$out"
out=$(in_ep a acme/blue/web getent ahostsv6 db.blue.acme.cs)
check "getent: db.blue.acme.cs is fd00:1::3 over AAAA" grep -q "^fd00:1::3 " <<<"$out"
out=$(in_ep a acme/blue/web getent hosts 10.1.0.3)
check "getent: 10.1.0.3 is db.blue.acme.cs (PTR: $out)" grep -q "db.blue.acme.cs" <<<"$out"
out=$(as 1000 exec acme/blue/web -- getent hosts db)
check "getent as the owner (uid 1000): db ($out)" grep -q "db.blue.acme.cs" <<<"$out"
out=$(ip netns exec "$NS" getent ahostsv4 web)
check "ip netns exec $NS getent: web is 10.1.0.2" grep -q "^10.1.0.2 " <<<"$out"
out=$(in_ep a acme/blue/web python3 -c 'import socket
print(sorted({a[4][0] for a in socket.getaddrinfo("db", 80, proto=socket.IPPROTO_TCP)}))')
check "python getaddrinfo(db): $out" test "$out" = "['10.1.0.3', 'fd00:1::3']"
bg_ep a acme/blue/db python3 -m http.server 8080 --bind :: >/dev/null 2>&1
if command -v curl >/dev/null; then
	out=
	for i in $(seq 50); do
		out=$(in_ep a acme/blue/web curl -s -o /dev/null -w '%{http_code}' http://db:8080/) &&
			[ "$out" = 200 ] && break
		sleep 0.1
	done
	check "curl http://db:8080/ reaches the server by name (status $out)" test "$out" = 200
fi
check_not "red's endpoint does not resolve blue's web" in_ep a acme/red/x getent hosts web
out=$(in_ep a acme/red/x getent ahostsv4 x)
check "red's endpoint resolves its own name at its own gateway (paired)" grep -q "^10.1.0.2 " <<<"$out"

# ---- what the answers say
out=$(q 10.1.0.1 db A); check "UDP: db A ($out)" grep -qx "ANSWER A 10.1.0.3" <<<"$out"
out=$(q 10.1.0.1 db.blue.acme.cs AAAA tcp)
check "TCP: db.blue.acme.cs AAAA ($out)" grep -qx "ANSWER AAAA fd00:1::3" <<<"$out"
out=$(q fd00:1::1 db A); check "over IPv6 to the gateway ($out)" grep -qx "ANSWER A 10.1.0.3" <<<"$out"
out=$(q 10.1.0.1 3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.0.0.d.f.ip6.arpa PTR)
check "PTR of fd00:1::3 ($out)" grep -qx "ANSWER PTR db.blue.acme.cs" <<<"$out"
none=$(q 10.1.0.1 nosuch.blue.acme.cs A | head -1)
check "a name that does not exist: $none" test "$none" = "RCODE NXDOMAIN"
for n in x.red.acme.cs nosuch.red.acme.cs y.blue.other.cs blue.other.cs; do
	out=$(q 10.1.0.1 "$n" A | head -1)
	check "$n answers as a missing name ($out)" test "$out" = "$none"
done
out=$(q 10.1.0.1 99.0.1.10.in-addr.arpa PTR | head -1)
check "PTR of a free address of the subnet: NXDOMAIN ($out)" test "$out" = "RCODE NXDOMAIN"
out=$(q 10.1.0.1 debian.org A | head -1)
check "an outside name without egress: REFUSED ($out)" test "$out" = "RCODE REFUSED"
out=$(q 10.1.0.1 db MX); check "db MX: no record, no error ($out)" test "$out" = "RCODE NOERROR"

# ---- garbage
out=$(in_ep a acme/blue/web python3 -c '
import os, socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1)
answers = 0
for n in (3, 12, 40, 600, 4000):
    s.sendto(b"\x12\x34" + b"\x01\x00" + os.urandom(n), ("10.1.0.1", 53))
    try:
        r = s.recv(4096); answers += 1
        assert r[:2] == b"\x12\x34" and r[2] & 0x80
    except socket.timeout:
        pass
t = socket.create_connection(("10.1.0.1", 53), timeout=2)
t.sendall(struct.pack(">H", 60000) + b"x" * 100)
try:
    print("tcp", len(t.recv(10)), answers)
except OSError as e:
    print("tcp error", answers)')
check "garbage gets a reply with its id or nothing, an oversized TCP message a close ($out)" \
	grep -q "^tcp 0" <<<"$out"
out=$(q 10.1.0.1 db A); check "and the server still answers ($out)" grep -qx "ANSWER A 10.1.0.3" <<<"$out"

# ---- changes answered within 1 s
ms() { date +%s%3N; }
t0=$(ms)
ctl a endpoint create acme/blue/new >/dev/null
for i in $(seq 100); do q 10.1.0.1 new A | grep -q "^ANSWER A" && break; sleep 0.01; done
t1=$(ms)
check "a created endpoint is answered within 1 s ($((t1 - t0)) ms after create returned)" \
	test $((t1 - t0)) -lt 1000
echo "# figure: endpoint create -> name answered: $((t1 - t0)) ms (including cs-ctl)"
ctl a endpoint delete acme/blue/new
t0=$(ms)
for i in $(seq 100); do [ "$(q 10.1.0.1 new A | head -1)" = "RCODE NXDOMAIN" ] && break; sleep 0.01; done
t1=$(ms)
check "a deleted endpoint is NXDOMAIN within 1 s ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 1000
check "its /etc/netns directory is gone" test ! -e "/etc/netns/$PFX.acme.blue.new"

# ---- csd stopped: nobody answers; back: answered again
kill -TERM "$(csd_pid a)"
for i in $(seq 50); do kill -0 "$(csd_pid a)" 2>/dev/null || break; sleep 0.1; done
out=$(ip netns exec "$NS" python3 "$DNSQ" 10.1.0.1 db A)
check "while csd is stopped the gateway does not answer ($out)" grep -q "^ERROR" <<<"$out"
csd_start a || exit 1
for i in $(seq 50); do out=$(q 10.1.0.1 db A); grep -q "^ANSWER" <<<"$out" && break; sleep 0.1; done
check "after csd starts again it answers ($out)" grep -qx "ANSWER A 10.1.0.3" <<<"$out"

for t in acme other; do ctl a tenant delete "$t"; done
for i in $(seq 100); do [ -z "$(leaked)" ] && break; sleep 0.1; done
check "nothing leaked" test -z "$(leaked)"
check "nothing left in /etc/netns" test -z "$(ls /etc/netns 2>/dev/null | grep "^$PFX\.")"
finish
