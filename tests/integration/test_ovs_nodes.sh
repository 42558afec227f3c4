#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The ovs backend across nodes: three host namespaces on one underlay
# (static mode, the nodes declared in the file, one vnet id on all): a and b
# are OVS nodes, each with an ovsdb-server and ovs-vswitchd of the test's
# own (netdev datapath; private database, run directory and logs; started
# in the node's namespace; only their pids are killed), c a kernel node.
# One vnet spans the three: ovs<->ovs (a, b) and ovs<->kernel (a, c) carry
# pings, full-size packets, TCP both ways and names (each node's gateway
# answers its own endpoints, and no other node's); a second tenant with
# the same subnet on the same nodes is kept apart (paired probes); the
# tunnels do not flood what one peer sends to another (split horizon).
# Before that, csd refuses a vnet across nodes while a's underlay is not
# on an OVS bridge, saying what is missing, step by step. Delete leaves
# nothing in OVS, in the links or in the namespaces.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ovs_lib.sh"
ovs_need ovs-appctl iperf3
pfx() { case $1 in a) echo "${PFX}1";; b) echo "${PFX}2";; c) echo "${PFX}3";; esac; }
cleanup_nodes() {
	ovs_stop
	cleanup
	rm -rf /etc/netns/"$PFX"[0-9].*
	del_node_ns
}
trap cleanup_nodes EXIT

# ovs_start NODE: ovsdb-server and ovs-vswitchd in the node's namespace
ovs_start() { ovs_start_in "$TMP/ovs-$1" "/run/netns/${PFX}h$1"; }
vsctl() { local n=$1; shift; ovs-vsctl --db="unix:$TMP/ovs-$n/db.sock" --timeout=10 "$@"; }
appctl() { local n=$1; shift; ovs-appctl -t "$TMP/ovs-$n/ovs-vswitchd.ctl" "$@"; }
# underlay_bridge NODE ADDR: the node's NIC (eth0) on an OVS bridge brphy,
# its address moved to the bridge's own port, as an operator would
underlay_bridge() {
	local ns=${PFX}h$1
	vsctl "$1" add-br brphy -- set bridge brphy datapath_type=netdev -- add-port brphy eth0
	ip -n "$ns" addr del "$2/24" dev eth0 2>/dev/null
	ip -n "$ns" addr add "$2/24" dev brphy
	ip -n "$ns" link set brphy up
}
arp_quiet() { ip netns exec "${PFX}h$1" sysctl -qw net.ipv4.conf.eth0.arp_ignore=1; }
# tx_csum_off NS DEV: a veth leaves checksums for the receiver's NIC to
# fill in, which ovs-vswitchd (reading raw frames) never does: a real NIC
# fills them in on the wire, so the kernel node's underlay veth does too
tx_csum_off() {
	ip netns exec "$1" /usr/bin/python3 -c '
import ctypes, fcntl, socket, struct, sys
ev = ctypes.create_string_buffer(struct.pack("II", 0x17, 0), 8)  # ETHTOOL_STXCSUM off
ifr = struct.pack("16sP", sys.argv[1].encode(), ctypes.addressof(ev)) + bytes(16)
fcntl.ioctl(socket.socket(socket.AF_INET, socket.SOCK_DGRAM), 0x8946, ifr)' "$2"
}

underlay_add a b c
ovs_start a || exit 1
ovs_start b || exit 1
underlay_bridge b 192.0.2.2
arp_quiet b
tx_csum_off "${PFX}hc" eth0
i=0
for h in a b c; do
	i=$((i + 1))
	echo "{\"ovsdb\": \"unix:$TMP/ovs-$h/db.sock\"}" >"$TMP/$h.json"
	be=ovs; [ $h = c ] && be=kernel
	csd_start $h -p "$(pfx $h)" -u "192.0.2.$i" --backend $be -c "$TMP/$h.json" || exit 1
done

cat >"$TMP/world.json" <<'JSON'
{"tenants": {"acme": {}, "umbrella": {}},
 "nodes": {"a": {"underlay": "192.0.2.1"}, "b": {"underlay": "192.0.2.2"},
           "c": {"underlay": "192.0.2.3"}},
 "vnets": {
  "acme/blue": {"id": 4660, "subnet": "10.7.0.0/24", "nodes": ["a", "b", "c"],
   "endpoints": {"a1": {"node": "a", "address": "10.7.0.2"},
                 "b1": {"node": "b", "address": "10.7.0.3"},
                 "c1": {"node": "c", "address": "10.7.0.4"}}},
  "umbrella/blue": {"id": 4661, "subnet": "10.7.0.0/24", "nodes": ["a", "b", "c"],
   "endpoints": {"a1": {"node": "a", "address": "10.7.0.2"},
                 "b1": {"node": "b", "address": "10.7.0.3"},
                 "c1": {"node": "c", "address": "10.7.0.4"},
                 "only": {"node": "b", "address": "10.7.0.9"}}}}}
JSON

# a's underlay is not ready, step by step: each refusal says what to do
# and leaves nothing; the last step is taken
out=$(ctl a apply -f "$TMP/world.json" 2>&1)
check "a vnet across nodes is refused while a's address is on its NIC, naming it (said: $out)" \
	grep -q "leaves by eth0, which is not an OVS bridge's own port" <<<"$out"
check "and the refusal made no bridge" test -z "$(vsctl a list-br)"
# the address on an OVS bridge that has no uplink yet
vsctl a add-br brphy -- set bridge brphy datapath_type=netdev
ip -n "${PFX}ha" addr del 192.0.2.1/24 dev eth0
ip -n "${PFX}ha" addr add 192.0.2.1/24 dev brphy
ip -n "${PFX}ha" link set brphy up
out=$(ctl a apply -f "$TMP/world.json" 2>&1)
check "refused while that bridge has no uplink, saying add-port (said: $out)" \
	grep -q "OVS bridge brphy .* has no port but its own: add the NIC" <<<"$out"
vsctl a add-port brphy eth0
out=$(ctl a apply -f "$TMP/world.json" 2>&1)
check "refused while the NIC answers ARP itself, saying arp_ignore (said: $out)" \
	grep -q "net.ipv4.conf.eth0.arp_ignore=1" <<<"$out"
check "and that refusal made nothing either" test "$(vsctl a list-br)" = brphy
arp_quiet a
for h in b c; do
	check "apply on $h" eval "ctl $h apply -f $TMP/world.json >/dev/null"
done
# a's file is committed already: its reconciler realizes it now
kill -HUP "$(csd_pid a)"
for _ in $(seq 100); do
	[ -e "/run/netns/$(pfx a).umbrella.blue.a1" ] && [ -e "/run/netns/$(pfx a).acme.blue.a1" ] && break
	sleep 0.1
done
check "a realizes the file once its underlay is ready" ctl a endpoint show acme/blue/a1
# (and the file applied again is taken: csd's names follow a change that
# succeeded, not the failed ones before)
check "apply on a, now that it is realized" eval "ctl a apply -f $TMP/world.json >/dev/null"

# what a's OVS holds: one VXLAN port per other node, keyed by the VNI,
# protected (split horizon)
vxb=$(vsctl a --bare --columns=name find Interface type=vxlan "external_ids:cs-peer=192.0.2.2" \
	"external_ids:cs-vnet=acme/blue")
check "a has a VXLAN port to b keyed 4660" test \
	"$(vsctl a get Interface "$vxb" options:key options:remote_ip | tr -d '"' | tr '\n' ' ')" = "4660 192.0.2.2 "
check "a port to c too" test -n "$(vsctl a --bare --columns=name find Interface type=vxlan \
	"external_ids:cs-peer=192.0.2.3" "external_ids:cs-vnet=acme/blue")"
check "the tunnel ports are protected" test "$(vsctl a get Port "$vxb" protected)" = true

for n in a:acme/blue/a1 b:acme/blue/b1 b:umbrella/blue/only c:acme/blue/c1; do
	bg_ep "${n%%:*}" "${n#*:}" "$PROBE" serve 7000
done
sleep 0.3
# the first packets to a peer are lost while ovs-vswitchd learns its MAC
in_ep a acme/blue/a1 ping -q -c 3 -W 1 -i 0.2 10.7.0.3 >/dev/null 2>&1
in_ep a acme/blue/a1 ping -q -c 3 -W 1 -i 0.2 10.7.0.4 >/dev/null 2>&1
ping_ok() { in_ep "$1" "$2" sh -c "ping -q -c 2 -W 2 -i 0.2 $3 >/dev/null"; }
check "ovs->ovs: a1 on a pings b1 on b" ping_ok a acme/blue/a1 10.7.0.3
check "ovs->kernel: a1 on a pings c1 on c" ping_ok a acme/blue/a1 10.7.0.4
check "kernel->ovs: c1 on c pings b1 on b" ping_ok c acme/blue/c1 10.7.0.3
# 1422 + 28 = 1450, the vnet's MTU; a 1500-byte VXLAN packet on the wire
for t in b:10.7.0.3 c:10.7.0.4; do
	check "a full-size packet (1450 bytes, do not fragment) from a1 reaches ${t%%:*}" \
		in_ep a acme/blue/a1 sh -c "ping -q -c 2 -W 2 -s 1422 -M do ${t#*:} >/dev/null"
done
for p in a:acme/blue/a1:10.7.0.3 b:acme/blue/b1:10.7.0.2 a:acme/blue/a1:10.7.0.4 \
	 c:acme/blue/c1:10.7.0.2; do
	IFS=: read -r n e addr <<<"$p"
	check "TCP from ${e##*/} on $n to $addr comes back" in_ep "$n" "$e" "$PROBE" tcp "$addr" 7000
done

# bulk TCP, full-size segments both ways, 2 s each (speed is tests/bench's):
# tcp_bytes NODE FROM SRVNODE TO ADDR PORT prints bytes received and
# retransmits
tcp_bytes() {
	bg_ep "$3" "$4" sh -c "iperf3 -s -1 -p $6 >/dev/null"
	sleep 0.4
	timeout 20 "$CTL" -S "$TMP/$1/csd.sock" exec "$2" -- iperf3 -c "$5" -p "$6" -t 2 -J \
		>"$TMP/iperf.json" 2>&1
	python3 -c "import json,sys
try:
    e = json.load(open(sys.argv[1]))['end']
    print(int(e['sum_received']['bytes']), e['sum_sent'].get('retransmits', 0))
except Exception: print(0, 0)" "$TMP/iperf.json"
}
for p in a:acme/blue/a1:b:acme/blue/b1:10.7.0.3 b:acme/blue/b1:a:acme/blue/a1:10.7.0.2 \
	 a:acme/blue/a1:c:acme/blue/c1:10.7.0.4 c:acme/blue/c1:a:acme/blue/a1:10.7.0.2; do
	IFS=: read -r n e sn se addr <<<"$p"
	read -r got rtx <<<"$(tcp_bytes "$n" "$e" "$sn" "$se" "$addr" 5201)"
	check "TCP from ${e##*/} on $n: over 2 MB arrive at ${se##*/} on $sn in 2 s ($got bytes, $rtx retransmits)" \
		test "$got" -ge 2000000
done

# names, at each node's gateway (same address and MAC on every node,
# answering its own node's endpoints only)
out=$(in_ep a acme/blue/a1 getent hosts b1)
check "ovs: a1 on a resolves b1 on b by name ($out)" grep -q "^10.7.0.3 " <<<"$out"
out=$(in_ep c acme/blue/c1 getent hosts a1)
check "kernel: c1 on c resolves a1 on a by name ($out)" grep -q "^10.7.0.2 " <<<"$out"
out=$(in_ep b acme/blue/b1 getent hosts 10.7.0.4)
check "ovs: b1 on b resolves c1's address back to its name ($out)" grep -q "c1.blue.acme.cs" <<<"$out"
GWMAC=02:63:73:00:12:34   # 02:63:73 and VNI 4660
check "b1 on b pings its gateway" ping_ok b acme/blue/b1 10.7.0.1
mac=$(ip -n "$(pfx b).acme.blue.b1" neigh show 10.7.0.1 | awk '{print $5}')
check "b1 resolved the gateway to its MAC ($mac)" test "$mac" = "$GWMAC"
gwport=$(vsctl b get Interface "$(vsctl b --bare --columns=name find Port \
	"external_ids:cs-gateway=acme/blue")" ofport)
brb=$(vsctl b --bare --columns=name find Bridge "external_ids:cs-vnet=acme/blue")
at=$(appctl b fdb/show "$brb" | awk -v m="$GWMAC" '$3 == m {print $1}')
check "b's bridge knows the gateway's MAC on its own gateway port only ($at = $gwport)" \
	test "$at" = "$gwport"
check_not "c's vx0 never learned the gateway's MAC (no OVS gateway spoke to it)" \
	grep -qi "^$GWMAC " <<<"$(bridge -n "$(pfx c).acme.blue" fdb show dev vx0)"

# tenants apart: umbrella has the same subnet and addresses on the same nodes
check_not "acme a1 on a cannot reach umbrella's 10.7.0.9 on b" \
	in_ep a acme/blue/a1 "$PROBE" tcp 10.7.0.9 7000 500
in_ep a umbrella/blue/a1 ping -q -c 2 -W 1 -i 0.2 10.7.0.9 >/dev/null 2>&1
check "umbrella a1 on a reaches its own 10.7.0.9 on b" \
	in_ep a umbrella/blue/a1 "$PROBE" tcp 10.7.0.9 7000

# split horizon: c1's broadcasts reach b from c, never again through a, so
# b learns c1's MAC on its port to c (flooded on by a, the copy through a
# would come last and move it)
cmac=$(ip -n "$(pfx c).acme.blue.c1" link show eth0 | awk '/link\/ether/{print $2}')
in_ep c acme/blue/c1 ping -q -b -c 10 -i 0.1 -W 1 10.7.0.255 >/dev/null 2>&1
toc=$(vsctl b get Interface "$(vsctl b --bare --columns=name find Interface type=vxlan \
	"external_ids:cs-peer=192.0.2.3" "external_ids:cs-vnet=acme/blue")" ofport)
learnt=$(appctl b fdb/show "$brb" | awk -v m="$cmac" '$3 == m {print $1}')
check "b learnt c1's MAC on its port to c ($learnt = $toc), not through a" test "$learnt" = "$toc"

# delete leaves nothing
for h in a b c; do
	for t in acme umbrella; do ctl $h tenant delete $t >/dev/null; done
done
for p in "${BG_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
wait "${BG_PIDS[@]}" 2>/dev/null
BG_PIDS=()
for h in a b; do
	check "$h: ovs-vsctl show has no bridge of cs" \
		test -z "$(vsctl $h show | grep -E "Bridge $(pfx $h)|cs-")"
	check "$h: no row with cs's prefix" \
		test -z "$(vsctl $h --bare --columns=name find Interface "external_ids:cs-prefix=$(pfx $h)")"
done
for h in a b c; do
	check "$h: no link with the node's prefix" \
		test -z "$(ip -n "${PFX}h$h" -o link | grep " $(pfx $h)")"
done
for _ in $(seq 50); do [ -z "$(ls /run/netns | grep "^$PFX[0-9]\.")" ] && break; sleep 0.1; done
check "no namespace of any node left" test -z "$(ls /run/netns | grep "^$PFX[0-9]\.")"
finish
