#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Vnets and the world across two nodes (issue 18), declared statically: the
# gateway (first host address, same address and MAC on both nodes) answers
# each node's endpoints locally and never across the underlay: neither
# node's vx0 learns the gateway's MAC from the other (while it does learn
# the other node's endpoint, so the probe can see learning), and the other
# node's gateway never hears an endpoint's ARP for it (while the local one
# does). Multicast to 239.1.1.1 without naming an interface crosses nodes
# as broadcast does. Names resolve across nodes at each node's gateway, and
# an endpoint added by a file is answered on a node once applied there.
. "$(dirname "$0")/lib.sh"

pfx() { echo "$PFX${1#n}"; }
cleanup_nodes() {
	local ns
	cleanup
	rm -rf /etc/netns/"$PFX"[0-9].*
	for ns in /run/netns/"$PFX"[0-9].*; do
		[ -e "$ns" ] && ip netns del "$(basename "$ns")" 2>/dev/null
	done
}
trap cleanup_nodes EXIT
quiet() { "$@" >/dev/null 2>&1; }
leaked_all() { ls /run/netns 2>/dev/null | grep "^$PFX[0-9]\." || true; }

underlay_add n1 n2
i=0
for h in n1 n2; do
	i=$((i + 1))
	csd_start "$h" -p "$(pfx "$h")" -u "192.0.2.$i" || exit 1
done
cat >"$TMP/world.json" <<'EOF'
{
  "tenants": { "acme": {} },
  "nodes": { "n1": { "underlay": "192.0.2.1" }, "n2": { "underlay": "192.0.2.2" } },
  "vnets": {
    "acme/blue": {
      "id": 211, "subnet": ["10.1.0.0/24", "fd00:1::/64"], "nodes": ["n1", "n2"],
      "endpoints": { "a": { "node": "n1" }, "b": { "node": "n2" } }
    }
  }
}
EOF
for h in n1 n2; do
	check "apply on $h" eval "ctl $h apply -f $TMP/world.json >/dev/null"
done
ens() { echo "$(pfx "$1").acme.blue${2:+.$2}"; }   # ens NODE [ENDPOINT]
GWMAC=02:63:73:00:00:d3   # 02:63:73 and VNI 211
for h in n1 n2; do
	mac=$(ip -n "$(ens "$h")" link show gw0 2>/dev/null | awk '/link\/ether/{print $2}')
	check "$h: the gateway gw0 has the vnet's MAC ($mac)" test "$mac" = "$GWMAC"
	check "$h: and the first host addresses" \
		bash -c "ip -n $(ens "$h") addr show gw0 | grep -q 'inet 10.1.0.1/24' &&
			ip -n $(ens "$h") addr show gw0 | grep -q 'inet6 fd00:1::1/64'"
done
# each endpoint reaches the other (the vnet works across nodes) and the gateway
check "a on n1 pings b on n2" quiet ip netns exec "$(ens n1 a)" ping -c1 -W2 10.1.0.3
for h in n1:a n2:b; do
	n=${h%:*} e=${h#*:}
	check "$e on $n pings the gateway" quiet ip netns exec "$(ens "$n" "$e")" ping -c2 -W2 10.1.0.1
	check "$e on $n pings the gateway over IPv6" \
		quiet ip netns exec "$(ens "$n" "$e")" ping -6 -c2 -W2 fd00:1::1
	mac=$(ip -n "$(ens "$n" "$e")" neigh show 10.1.0.1 | awk '{print $5}')
	check "$e on $n resolved the gateway to its MAC ($mac)" test "$mac" = "$GWMAC"
done
ip netns exec "$(ens n1 a)" ping -c3 -i 0.2 -W1 -b 10.1.0.255 >/dev/null 2>&1
fdb() { bridge -n "$(ens "$1")" fdb show dev vx0 2>/dev/null; }
amac=$(ip -n "$(ens n1 a)" link show eth0 | awk '/link\/ether/{print $2}')
check "n2's vx0 learned a's MAC from n1 (learning is seen)" grep -q "^$amac " <<<"$(fdb n2)"
check_not "n2's vx0 never learned the gateway's MAC" grep -qi "^$GWMAC " <<<"$(fdb n2)"
check_not "n1's vx0 never learned the gateway's MAC" grep -qi "^$GWMAC " <<<"$(fdb n1)"
check "n1's gateway heard a's ARP (it answered)" \
	bash -c "ip -n $(ens n1) neigh show dev gw0 | grep -q '^10.1.0.2 '"
check_not "n2's gateway never heard a's ARP from n1" \
	bash -c "ip -n $(ens n2) neigh show dev gw0 | grep -q '^10.1.0.2 '"
check_not "no gateway address failed duplicate detection" \
	bash -c "{ ip -n $(ens n1) addr show gw0; ip -n $(ens n2) addr show gw0; } | grep -q dadfailed"

# multicast across nodes
MCAST=$(dirname "$(readlink -f "$0")")/mcast.py
ip netns exec "$(ens n2 b)" python3 "$MCAST" recv 239.1.1.1 >"$TMP/rx" 2>&1 &
BG_PIDS+=($!)
for i in $(seq 50); do grep -q joined "$TMP/rx" && break; sleep 0.1; done
ip netns exec "$(ens n1 a)" python3 "$MCAST" send 239.1.1.1 across >/dev/null
for i in $(seq 60); do [ "$(wc -l <"$TMP/rx")" -ge 2 ] && break; sleep 0.1; done
check "multicast from a on n1 reaches b on n2 without naming an interface" grep -qx across "$TMP/rx"

# names across nodes: each node answers for the whole vnet
out=$(ip netns exec "$(ens n1 a)" getent ahostsv4 b)
check "a on n1 resolves b on n2 by name at its own gateway ($(echo $out | head -c 40))" \
	grep -q "^10.1.0.3 " <<<"$out"
out=$(ip netns exec "$(ens n2 b)" getent hosts 10.1.0.2)
check "b on n2 resolves a's address back to a.blue.acme.cs" grep -q "a.blue.acme.cs" <<<"$out"
python3 - "$TMP/world.json" "$TMP/world2.json" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
f["vnets"]["acme/blue"]["endpoints"]["c"] = {"node": "n2"}
json.dump(f, open(sys.argv[2], "w"))
PY
check "apply with c on n2, on n2" eval "ctl n2 apply -f $TMP/world2.json >/dev/null"
check_not "n1 does not know c before the file is applied there (static mode)" \
	ip netns exec "$(ens n1 a)" getent hosts c
t0=$(date +%s%3N)
ctl n1 apply -f "$TMP/world2.json" >/dev/null
for i in $(seq 100); do ip netns exec "$(ens n1 a)" getent hosts c >/dev/null && break; sleep 0.01; done
t1=$(date +%s%3N)
check "once applied on n1, a resolves c within 1 s ($((t1 - t0)) ms from the apply)" \
	test $((t1 - t0)) -lt 1000
echo "# figure: apply on n1 -> n1 answers c (on n2): $((t1 - t0)) ms"

for h in n1 n2; do ctl "$h" tenant delete acme; done
for i in $(seq 100); do [ -z "$(leaked_all)" ] && break; sleep 0.1; done
check "nothing leaked" test -z "$(leaked_all)"
check "nothing left in /etc/netns" test -z "$(ls /etc/netns 2>/dev/null | grep "^$PFX[0-9]\.")"
finish
