#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Vnets and the world across two nodes (issue 18), declared statically: the
# gateway (first host address, same address and MAC on both nodes) answers
# each node's endpoints locally and never across the underlay: neither
# node's vx0 learns the gateway's MAC from the other (while it does learn
# the other node's endpoint, so the probe can see learning), and the other
# node's gateway never hears an endpoint's ARP for it (while the local one
# does). Multicast to 239.1.1.1 without naming an interface crosses nodes
# as broadcast does.
. "$(dirname "$0")/lib.sh"

UL=${PFX}hul
pfx() { echo "$PFX${1#n}"; }
cleanup_nodes() {
	local ns
	cleanup
	for ns in /run/netns/"$PFX"[0-9].*; do
		[ -e "$ns" ] && ip netns del "$(basename "$ns")" 2>/dev/null
	done
}
trap cleanup_nodes EXIT
quiet() { "$@" >/dev/null 2>&1; }
leaked_all() { ls /run/netns 2>/dev/null | grep "^$PFX[0-9]\." || true; }

host_add ul
ip -n "$UL" link add br0 type bridge
ip -n "$UL" link set br0 up
i=0
for h in n1 n2; do
	i=$((i + 1))
	host_add "$h"
	ip link add "ul$i" netns "$UL" type veth peer name eth0 netns "${PFX}h$h"
	ip -n "$UL" link set "ul$i" master br0 up
	ip -n "${PFX}h$h" addr add "192.0.2.$i/24" dev eth0
	ip -n "${PFX}h$h" link set eth0 up
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
cat >"$TMP/mrx.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("", 5000))
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
             socket.inet_aton(sys.argv[1]) + socket.inet_aton("0.0.0.0"))
print("joined", flush=True)
s.settimeout(5)
try:
    print(s.recv(100).decode(), flush=True)
except socket.timeout:
    print("nothing", flush=True)
EOF
ip netns exec "$(ens n2 b)" python3 "$TMP/mrx.py" 239.1.1.1 >"$TMP/rx" 2>&1 &
BG_PIDS+=($!)
for i in $(seq 50); do grep -q joined "$TMP/rx" && break; sleep 0.1; done
ip netns exec "$(ens n1 a)" python3 -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(20):
    s.sendto(b"across", ("239.1.1.1", 5000)); time.sleep(0.1)'
for i in $(seq 60); do [ "$(wc -l <"$TMP/rx")" -ge 2 ] && break; sleep 0.1; done
check "multicast from a on n1 reaches b on n2 without naming an interface" grep -qx across "$TMP/rx"

for h in n1 n2; do ctl "$h" tenant delete acme; done
for i in $(seq 100); do [ -z "$(leaked_all)" ] && break; sleep 0.1; done
check "nothing leaked" test -z "$(leaked_all)"
finish
