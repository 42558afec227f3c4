#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Backends per vnet: one csd (--backend kernel, "backends": ["ovs"]) holds a
# kernel vnet and an OVS vnet side by side, against an ovsdb-server and
# ovs-vswitchd of the test's own. Both pass traffic; each vnet is its
# backend's (a bridge for the OVS one only); the same address in the other
# vnet is not reached (paired probes); a vnet across nodes naming ovs is
# refused (the node's VXLAN port is the kernel backend's), paired with one
# on this node; deleting both leaves nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ovs_lib.sh"
ovs_need
trap 'ovs_stop; cleanup' EXIT

host_add a
OVS=$TMP/ovs
DB=unix:$OVS/db.sock
vsctl() { ovs-vsctl --db="$DB" --timeout=10 "$@"; }
ovs_start_in "$OVS" "/run/netns/${PFX}ha" || exit 1

echo "{\"ovsdb\": \"$DB\", \"backends\": [\"ovs\"]}" >"$TMP/csd.json"
csd_start a --backend kernel -c "$TMP/csd.json" || exit 1
export CS_SOCKET=$TMP/a/csd.sock

cat >"$TMP/world.json" <<'JSON'
{"tenants": {"acme": {}},
 "vnets": {
  "acme/k": {"subnet": "10.7.0.0/24",
   "endpoints": {"web": {"address": "10.7.0.2"}, "db": {"address": "10.7.0.3"},
                 "only": {"address": "10.7.0.9"}}},
  "acme/o": {"subnet": "10.7.0.0/24", "backend": "ovs",
   "endpoints": {"web": {"address": "10.7.0.2"}, "db": {"address": "10.7.0.3"}}}}}
JSON
check "a file of a kernel vnet and an ovs vnet applies" ctl a apply -f "$TMP/world.json" >/dev/null
check "acme/o says backend ovs" grep -q '"backend": "ovs"' <(ctl a -j vnet show acme/o)
check "acme/k says backend kernel" grep -q '"backend": "kernel"' <(ctl a -j vnet show acme/k)
vsctl show >"$TMP/show"
check "ovs holds one bridge: the ovs vnet's" test "$(grep -c "Bridge ${PFX}b" "$TMP/show")" = 1
check "it is acme/o's" test -n "$(vsctl --bare --columns=name find Bridge "external_ids:cs-vnet=acme/o")"
check "with its two endpoints' ports" test "$(grep -c "Port ${PFX}e" "$TMP/show")" = 2
check "the kernel vnet has its VXLAN device" sh -c "ip -n $PFX.acme.k link show vx0 >/dev/null"

for e in acme/k/db acme/k/only acme/o/db; do bg_ep a $e "$PROBE" serve 7000; done
sleep 0.3
check "kernel web reaches its db over tcp" in_ep a acme/k/web "$PROBE" tcp 10.7.0.3 7000
check "ovs web reaches its db over tcp" in_ep a acme/o/web "$PROBE" tcp 10.7.0.3 7000
check "ovs web pings its db" in_ep a acme/o/web sh -c "ping -q -c 2 -W 2 -i 0.2 10.7.0.3 >/dev/null"
check_not "ovs web cannot reach the kernel vnet's 10.7.0.9" \
	in_ep a acme/o/web "$PROBE" tcp 10.7.0.9 7000 500
check "kernel web reaches its 10.7.0.9" in_ep a acme/k/web "$PROBE" tcp 10.7.0.9 7000
# a program's own socket (cs_connect through libcs) in each vnet
HOLD=$CS_BUILD/tests/integration/holdsock
for v in k o; do
	timeout 2 "$HOLD" acme/$v web 10.7.0.3 7000 "$TMP/hold.$v"
	check "cs_connect from acme/$v/web reaches its db ($(grep -c '^ok' "$TMP/hold.$v") echoes)" \
		grep -q '^ok' "$TMP/hold.$v"
done
tx=$(ctl a -j endpoint show acme/o/web | python3 -c 'import json,sys; print(json.load(sys.stdin)["counters"]["tx_bytes"])')
check "endpoint show counts what the ovs web sent ($tx bytes)" test "$tx" -gt 0

# across nodes the node's VXLAN port is the kernel backend's
ctl a node create b underlay 192.0.2.2
ctl a node create a underlay 192.0.2.1
out=$(ctl a vnet create acme/wide subnet 10.9.0.0/24 nodes a,b id 4660 backend ovs 2>&1)
check "a vnet across nodes naming ovs is refused, saying why (said: $out)" \
	grep -q "owns this node's VXLAN port" <<< "$out"
check "the same vnet on this node only is taken" \
	ctl a vnet create acme/wide subnet 10.9.0.0/24 backend ovs
ctl a vnet delete acme/wide

# a restart adopts both
kill "$(csd_pid a)"; wait "$(csd_pid a)" 2>/dev/null
csd_start a --backend kernel -c "$TMP/csd.json" || exit 1
check "after a restart kernel web reaches its db" in_ep a acme/k/web "$PROBE" tcp 10.7.0.3 7000
check "and ovs web its db" in_ep a acme/o/web "$PROBE" tcp 10.7.0.3 7000
check "still one bridge" test "$(vsctl show | grep -c "Bridge ${PFX}b")" = 1

ctl a vnet delete acme/o
ctl a vnet delete acme/k
check "no bridge is left" test -z "$(vsctl --bare --columns=name find Bridge "external_ids:cs-prefix=$PFX")"
check "no namespace is left" test -z "$(ip netns list | grep "^$PFX\.")"
finish
