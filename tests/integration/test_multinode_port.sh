#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Underlays with a port, and nodes without privileges (issue 19, item 4).
# Three hosts on an underlay bridge: n1 and n2 run kernel csd, n2's
# underlay given as 192.0.2.2:4790; n3 runs no csd but uvxecho, a host
# built on uvx alone (vnet/user/uvx.c), at 192.0.2.3:4790, standing for a
# node that runs csd without privileges.
#  - acme/blue across n1 and n2 passes traffic: n2's vx0 listens on 4790,
#    n1's flood entry names port 4790, neither learns (a learned MAC would
#    be sent to the device's own port).
#  - acme/mixed across n1 and n3, n3 declared "backend": "user": refused
#    on n1 (naming n3 and the key) until n1's file declares n3
#    "unprivileged": true; then an endpoint on n1 pings uvxecho, and n1
#    takes n3's VXLAN only from port 4790: the same frame from 192.0.2.3
#    and another port is dropped, from 192.0.2.3:4790 delivered.
. "$(dirname "$0")/lib.sh"
ECHO=$CS_BUILD/tests/integration/uvxecho
pfx() { echo "$PFX${1#n}"; }
cleanup_port() {
	local ns
	cleanup
	for ns in /run/netns/"$PFX"[0-9].*; do
		[ -e "$ns" ] && ip netns del "$(basename "$ns")" 2>/dev/null
	done
}
trap cleanup_port EXIT
quiet() { "$@" >/dev/null 2>&1; }

underlay_add n1 n2 n3
csd_start n1 -p "$(pfx n1)" --underlay 192.0.2.1 || exit 1
csd_start n2 -p "$(pfx n2)" --underlay 192.0.2.2:4790 || exit 1

# world FILE UNPRIV: the overlay, n3 declared unprivileged or not
world() {
	cat >"$1" <<EOF
{
  "tenants": { "acme": {} },
  "nodes": {
    "n1": { "underlay": "192.0.2.1" },
    "n2": { "underlay": "192.0.2.2:4790" },
    "n3": { "underlay": "192.0.2.3:4790", "backend": "user"$2 }
  },
  "vnets": {
    "acme/blue": { "id": 301, "subnet": "10.3.0.0/24", "nodes": ["n1", "n2"],
      "endpoints": { "a": { "node": "n1", "address": "10.3.0.10" },
                     "b": { "node": "n2", "address": "10.3.0.20" } } },
    "acme/mixed": { "id": 302, "subnet": "10.4.0.0/24", "nodes": ["n1", "n3"],
      "endpoints": { "web": { "node": "n1", "address": "10.4.0.10" } } }
  }
}
EOF
}
world "$TMP/trusted.json" ', "unprivileged": true'
world "$TMP/untrusted.json" ''

out=$(ctl n1 apply -f "$TMP/untrusted.json" 2>&1)
check "n1 refuses to peer with n3 (backend user) not declared unprivileged: $out" \
	grep -q "node n3 runs csd without privileges.*nodes.n3.unprivileged true" <<<"$out"
check "the refused apply changed nothing" test -z "$(ctl n1 vnet list | tail -n +2)"
check "and n3's VXLAN is not let in on n1" \
	bash -c "! nsenter --net=/run/netns/${PFX}hn1 nft list table inet $(pfx n1)_underlay 2>/dev/null | grep -q 192.0.2.3"
for h in n1 n2; do
	check "apply on $h with n3 declared unprivileged" quiet ctl "$h" apply -f "$TMP/trusted.json"
done

# a vnet across two kernel nodes, one of them on port 4790
check "n2's vx0 listens on port 4790" \
	grep -q "dstport 4790" <<<"$(ip -d -n "$(pfx n2).acme.blue" link show vx0)"
check "n1's flood entry for n2 names port 4790" \
	grep -q "dst 192.0.2.2 port 4790" <<<"$(bridge -n "$(pfx n1).acme.blue" fdb show dev vx0)"
check "n1's vx0 does not learn (its peer is on another port)" \
	grep -q "nolearning" <<<"$(ip -d -n "$(pfx n1).acme.blue" link show vx0)"
check "a (n1) pings b (n2, underlay port 4790)" \
	quiet in_ep n1 acme/blue/a ping -c 3 -i 0.2 -W 2 -q 10.3.0.20
bg_ep n2 acme/blue/b "$PROBE" serve 7000
sleep 0.3
for proto in tcp udp; do
	check "a (n1) reaches b (n2) over $proto" in_ep n1 acme/blue/a "$PROBE" $proto 10.3.0.20 7000 3000
done

# a vnet across a kernel node and a uvx one
nsenter --net="/run/netns/${PFX}hn3" "$ECHO" serve 192.0.2.3:4790 302 192.0.2.1:4789 \
	10.4.0.30 02:00:00:04:00:1e >"$TMP/echo.out" 2>&1 &
EPID=$!
BG_PIDS+=("$EPID")
sleep 0.2
check "web (n1, kernel) pings 10.4.0.30 on n3 (uvx)" \
	quiet in_ep n1 acme/mixed/web ping -c 3 -i 0.2 -W 2 -q 10.4.0.30
table=$(nsenter --net="/run/netns/${PFX}hn1" nft list table inet "$(pfx n1)_underlay")
check "n1 takes n3's VXLAN only from its port" grep -q "192.0.2.3 udp sport 4790" <<<"$table"
kill "$EPID"
wait "$EPID" 2>/dev/null
# paired probe, from n3's address: another source port, then n3's own
rxp() { ip -n "$(pfx n1).acme.mixed.web" -s -j link show eth0 |
	/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["rx"]["packets"])'; }
rx0=$(rxp)
nsenter --net="/run/netns/${PFX}hn3" "$ECHO" inject 192.0.2.3 192.0.2.1:4789 302 \
	10.4.0.30 10.4.0.10 ff:ff:ff:ff:ff:ff
sleep 0.5
rx1=$(rxp)
check "a frame from n3's address but another port is dropped on n1 ($rx0 -> $rx1)" test "$rx1" = "$rx0"
nsenter --net="/run/netns/${PFX}hn3" "$ECHO" inject 192.0.2.3:4790 192.0.2.1:4789 302 \
	10.4.0.30 10.4.0.10 ff:ff:ff:ff:ff:ff
sleep 0.5
rx2=$(rxp)
check "the same frame from n3's port 4790 reaches web ($rx1 -> $rx2)" test "$rx2" -gt "$rx1"
finish
