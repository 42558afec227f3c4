#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Vnets across nodes, declared statically (issue 5): three hosts on an
# underlay bridge, each with its own csd and store, and one overlay file
# applied on every one of them. Two tenants with the same subnet spread over
# the three nodes; endpoints on different nodes talk by name and by address
# over TCP, UDP and ICMP, and never across tenants (every negative paired
# with a positive from the same endpoint); a large TCP transfer goes through
# at the vnet MTU; a forged VXLAN packet from a fourth host on the bridge,
# not in the file, is dropped while the same from a member node arrives;
# dropping node 3 from a vnet and applying again on every node removes its
# flood entries and its endpoints; nothing leaks. Prints TCP throughput and
# 64-byte RTT between endpoints on two nodes against bare VXLAN between the
# same two hosts, measured in the same run.
. "$(dirname "$0")/lib.sh"

GREET=$CS_BUILD/examples/greet
VXINJECT=$CS_BUILD/tests/integration/vxinject
NODES="n1 n2 n3"
UL=${PFX}hul

# each csd has a prefix of its own (all namespaces share /run/netns)
pfx() { echo "$PFX${1#n}"; }
# an unprivileged local user of the test's own (removed by the trap)
INJUSER=cs$PFX
cleanup_multinode() {
	local ns
	cleanup
	id "$INJUSER" >/dev/null 2>&1 && userdel "$INJUSER"
	for ns in /run/netns/"$PFX"[0-9].*; do
		[ -e "$ns" ] && ip netns del "$(basename "$ns")" 2>/dev/null
	done
}
trap cleanup_multinode EXIT
# what any csd of this test left: namespaces with its prefixes
leaked_all() { ls /run/netns 2>/dev/null | grep "^$PFX[0-9]\." || true; }
quiet() { "$@" >/dev/null 2>&1; }

# the underlay: a bridge in a namespace of its own, a veth to each host
underlay_add n1 n2 n3 x
# n1 and n2 are told their underlay address; n3 takes it from the file
csd_start n1 -p "$(pfx n1)" --underlay 192.0.2.1 || exit 1
csd_start n2 -p "$(pfx n2)" -u 192.0.2.2 || exit 1
csd_start n3 -p "$(pfx n3)" || exit 1

cat >"$TMP/world.json" <<'EOF'
{
  "tenants": { "acme": {}, "umbrella": {} },
  "nodes": {
    "n1": { "underlay": "192.0.2.1" },
    "n2": { "underlay": "192.0.2.2" },
    "n3": { "underlay": "192.0.2.3" }
  },
  "vnets": {
    "acme/blue": {
      "id": 101, "subnet": "10.1.0.0/24", "nodes": ["n1", "n2", "n3"],
      "policy": {
        "default": "allow",
        "rules": [{ "from": "any", "to": "endpoint:cache", "proto": "udp", "ports": [9999],
                    "action": "deny" }],
        "tests": [
          { "from": "web", "to": "db", "proto": "tcp", "port": 7100, "expect": "allow" },
          { "from": "db", "to": "cache", "proto": "udp", "port": 9999, "expect": "deny" }
        ]
      },
      "endpoints": {
        "web": { "node": "n1", "address": "10.1.0.10" },
        "db": { "node": "n2" },
        "cache": { "node": "n3" }
      }
    },
    "umbrella/blue": {
      "id": 102, "subnet": "10.1.0.0/24", "nodes": ["n1", "n2", "n3"],
      "endpoints": {
        "web": { "node": "n1", "address": "10.1.0.10" },
        "db": { "node": "n2" },
        "files": { "node": "n3", "address": "10.1.0.9" }
      }
    }
  }
}
EOF

# refusals first: each with its permitted counterpart below
python3 - "$TMP/world.json" "$TMP/noid.json" "$TMP/badnode.json" "$TMP/badtest.json" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
g = json.loads(json.dumps(f)); del g["vnets"]["acme/blue"]["id"]
json.dump(g, open(sys.argv[2], "w"))
g = json.loads(json.dumps(f)); g["vnets"]["umbrella/blue"]["nodes"] = ["n1", "n2"]
json.dump(g, open(sys.argv[3], "w"))
g = json.loads(json.dumps(f)); g["vnets"]["acme/blue"]["policy"]["tests"][1]["expect"] = "allow"
json.dump(g, open(sys.argv[4], "w"))
PY
out=$(ctl n1 apply -f "$TMP/noid.json" 2>&1)
check "a vnet across nodes without an id is refused: $out" \
	grep -q 'vnets."acme/blue".id: required when a vnet spans nodes without a shared store' <<<"$out"
out=$(ctl n1 apply -f "$TMP/badnode.json" 2>&1)
check "an endpoint on a node its vnet does not span is refused: $out" \
	grep -q 'vnets."umbrella/blue".endpoints.files.node: node n3 is not one of the vnet' <<<"$out"
# policy.tests name endpoints on every node (web on n1, db on n2, cache on
# n3), on whichever node the file is applied: a failing test is refused as
# failing, not for naming an endpoint of another node
for h in $NODES; do
	out=$(ctl "$h" apply -f "$TMP/badtest.json" 2>&1)
	check "$h: a failing policy test across nodes is refused as failing: $out" \
		grep -q 'vnets."acme/blue".policy.tests: failing tests' <<<"$out"
	check_not "$h: and no test names a missing endpoint" grep -q 'no endpoint' <<<"$out"
done
check "the refusals changed nothing" test -z "$(ctl n1 endpoint list | tail -n +2)"

for h in $NODES; do
	check "apply on $h (policy tests naming endpoints on n1, n2 and n3 pass)" \
		eval "ctl $h apply -f $TMP/world.json >/dev/null"
done
for h in $NODES; do
	n=$(ctl "$h" endpoint list | tail -n +2 | grep -c ' up ')
	r=$(ctl "$h" endpoint list | tail -n +2 | grep -c ' remote ')
	check "$h realizes its 2 endpoints and shows the 4 others as remote ($n up, $r remote)" \
		test "$n:$r" = 2:4
done
check "n3 took its underlay address from the file" \
	grep -q '"underlay": "192.0.2.3"' <<<"$(ctl n3 -j node show n3)"
check "node list on n1 shows three nodes" test "$(ctl n1 node list | tail -n +2 | wc -l)" = 3
# the creates refuse what apply refuses: export keeps applying
out=$(ctl n1 node create n9 underlay 192.0.2.2 2>&1)
check "node create with n2's underlay is refused on n1: $out" \
	grep -q "192.0.2.2 is also the underlay address of node n2" <<<"$out"
out=$(ctl n1 vnet create acme/far subnet 10.7.0.0/24 id 300 nodes n1,n9 2>&1)
check "vnet create across an undeclared node is refused on n1: $out" \
	grep -q "node n9 is not declared" <<<"$out"
check "acme/blue/cache is remote on n1" grep -q "remote" <<<"$(ctl n1 endpoint show acme/blue/cache)"
# one owner per VNI: with a store of its own per node, a non-administrator
# can neither declare a vnet across nodes nor take another tenant's id there
as2001() { setpriv --reuid 2001 --regid 2001 --clear-groups "$CTL" -S "$TMP/n2/csd.sock" "$@"; }
as2001 tenant create evil >/dev/null
out=$(as2001 vnet create evil/x subnet 10.1.0.0/24 id 101 nodes n1,n2 2>&1)
check "a non-administrator's vnet across nodes (acme's id 101) is refused: $out" \
	grep -q "only administrators may declare a vnet across nodes" <<<"$out"
printf '{"tenants":{"evil":{}},"vnets":{"evil/x":{"id":777,"subnet":"10.1.0.0/24","nodes":["n1","n2"]}}}' >"$TMP/evil.json"
out=$(as2001 apply -f "$TMP/evil.json" 2>&1)
check "and so is the same by apply: $out" grep -q 'vnets."evil/x".nodes: only administrators' <<<"$out"
check "a vnet of its own on its node is its to make" as2001 vnet create evil/y subnet 10.1.0.0/24
check "nothing of evil spans nodes" bash -c "! ip netns | grep -q '^$(pfx n1).evil'"
ctl n2 tenant delete evil >/dev/null
# without a shared store only a fixed address is safe across nodes
out=$(ctl n1 endpoint create acme/blue/near 2>&1)
check "an endpoint that needs an address allocated is refused on a vnet across nodes: $out" \
	grep -q "give the endpoint a fixed address" <<<"$out"
check "one with a fixed address is created" ctl n1 endpoint create acme/blue/near address 10.1.0.77
check "and deleted" ctl n1 endpoint delete acme/blue/near
for h in $NODES; do
	ns=$(pfx "$h").acme.blue
	fdb=$(bridge -n "$ns" fdb show dev vx0 2>/dev/null | grep '^00:00:00:00:00:00' | sort)
	peers=$(grep -o 'dst [0-9.]*' <<<"$fdb" | tr '\n' ' ')
	i=${h#n}
	want=$(for j in 1 2 3; do [ "$j" != "$i" ] && printf 'dst 192.0.2.%s ' "$j"; done)
	check "$h: acme/blue's vx0 floods to the other two nodes ($peers)" test "$peers" = "$want"
done

# by name: greet serves on n2 and asks from n1, names resolved from the file
for t in acme umbrella; do
	CS_SOCKET=$TMP/n2/csd.sock "$GREET" serve $t/blue db 7100 >"$TMP/greet-$t.log" 2>&1 &
	BG_PIDS+=($!)
done
for t in acme umbrella; do
	for i in $(seq 50); do
		out=$(CS_SOCKET=$TMP/n1/csd.sock "$GREET" ask $t/blue web db 7100 2>&1) && break
		sleep 0.1
	done
	# both dbs are 10.1.0.2 on n2: the answer says which one it reached
	check "$t/blue/web on n1 greets $t/blue/db on n2 by name: $out" \
		grep -q "^$t/blue/db says hello back to $t/blue/web" <<<"$out"
done

# by address: acme's cache and umbrella's files live on n3
bg_ep n3 acme/blue/cache "$PROBE" serve 7000
bg_ep n3 umbrella/blue/files "$PROBE" serve 7000
sleep 0.5
for proto in tcp udp; do
	check "acme web (n1) reaches acme cache (n3, 10.1.0.3) over $proto" \
		in_ep n1 acme/blue/web "$PROBE" $proto 10.1.0.3 7000 3000
	check_not "umbrella web (n1) cannot reach 10.1.0.3 (acme's) over $proto" \
		in_ep n1 umbrella/blue/web "$PROBE" $proto 10.1.0.3 7000 500
	check "umbrella web (n1) reaches umbrella files (n3, 10.1.0.9) over $proto" \
		in_ep n1 umbrella/blue/web "$PROBE" $proto 10.1.0.9 7000 3000
	check_not "acme web (n1) cannot reach 10.1.0.9 (umbrella's) over $proto" \
		in_ep n1 acme/blue/web "$PROBE" $proto 10.1.0.9 7000 500
done
check "acme web (n1) pings acme cache (n3)" quiet in_ep n1 acme/blue/web ping -c1 -W2 -q 10.1.0.3
check_not "umbrella web (n1) cannot ping 10.1.0.3" quiet in_ep n1 umbrella/blue/web ping -c1 -W1 -q 10.1.0.3
check "umbrella web (n1) pings umbrella files (n3)" quiet in_ep n1 umbrella/blue/web ping -c1 -W2 -q 10.1.0.9
check_not "acme web (n1) cannot ping 10.1.0.9" quiet in_ep n1 acme/blue/web ping -c1 -W1 -q 10.1.0.9
check "the vnet MTU leaves room for VXLAN (1450)" \
	grep -q "mtu 1450" <<<"$(ip -n "$(pfx n1).acme.blue.web" link show eth0)"
check "and vnet show says so" grep -q '"mtu": 1450' <<<"$(ctl n1 -j vnet show acme/blue)"
check "full-size packets cross without fragmentation (ping -M do -s 1422)" \
	quiet in_ep n1 acme/blue/web ping -c1 -W2 -q -M do -s 1422 10.1.0.3

# a large TCP transfer (and the figures): iperf3 between web (n1) and db (n2)
bg_ep n2 acme/blue/db iperf3 -s -1 -p 5201 >/dev/null 2>&1
sleep 0.5
out=$(in_ep n1 acme/blue/web iperf3 -c 10.1.0.2 -p 5201 -t 2 -J 2>&1)
cs_gbit=$(python3 -c 'import json,sys; d=json.load(sys.stdin); e=d["end"]; print("%.2f %d" % (e["sum_received"]["bits_per_second"]/1e9, e["sum_received"]["bytes"]))' <<<"$out" 2>/dev/null)
check "a 2 s TCP transfer n1 -> n2 in acme/blue carries data (Gbit/s, bytes: $cs_gbit)" \
	test "${cs_gbit#* }" -gt 4000000 2>/dev/null
cs_rtt=$(in_ep n1 acme/blue/web ping -c 200 -i 0.002 -s 56 -q 10.1.0.2 | sed -n 's|.* = [0-9.]*/\([0-9.]*\)/.*|\1|p')

# bare VXLAN between the same two hosts (its own port: the underlay
# filter guards 4789), the baseline of the figures
for i in 1 2; do
	o=$((3 - i))
	ip -n "${PFX}hn$i" link add bvx type vxlan id 999 local "192.0.2.$i" remote "192.0.2.$o" dstport 4790
	ip -n "${PFX}hn$i" addr add "10.99.0.$i/24" dev bvx
	ip -n "${PFX}hn$i" link set bvx mtu 1450 up
done
nsenter --net="/run/netns/${PFX}hn2" iperf3 -s -1 -p 5202 >/dev/null 2>&1 &
BG_PIDS+=($!)
sleep 0.5
out=$(nsenter --net="/run/netns/${PFX}hn1" iperf3 -c 10.99.0.2 -p 5202 -t 2 -J 2>&1)
bare_gbit=$(python3 -c 'import json,sys; d=json.load(sys.stdin); print("%.2f" % (d["end"]["sum_received"]["bits_per_second"]/1e9))' <<<"$out" 2>/dev/null)
bare_rtt=$(nsenter --net="/run/netns/${PFX}hn1" ping -c 200 -i 0.002 -s 56 -q 10.99.0.2 | sed -n 's|.* = [0-9.]*/\([0-9.]*\)/.*|\1|p')
ip -n "${PFX}hn1" link del bvx
ip -n "${PFX}hn2" link del bvx
python3 - "${cs_gbit% *}" "$bare_gbit" "$cs_rtt" "$bare_rtt" <<'PY'
import sys
try:
    cg, bg, cr, br = map(float, sys.argv[1:5])
    print("figures: TCP n1->n2 cs %.2f Gbit/s, bare VXLAN %.2f Gbit/s (%.2fx); "
          "64-byte RTT cs %.1f us, bare VXLAN %.1f us (%.2fx)"
          % (cg, bg, cg / bg, cr * 1000, br * 1000, cr / br))
except Exception as e:
    print("figures: incomplete (%s): %s" % (e, sys.argv[1:5]))
PY

# forged VXLAN from x (192.0.2.4, not in the file) is dropped on n1; the
# same from n2 arrives (a broken probe cannot pass for a filter)
inj() { nsenter --net="/run/netns/${PFX}h$1" "$VXINJECT" send "$2" 192.0.2.1 "$3" 10.1.0.50 10.1.0.10 7300 "$4"; }
bg_ep n1 acme/blue/web "$VXINJECT" listen 7300 2500 >"$TMP/inj.log"
for i in $(seq 50); do grep -q listening "$TMP/inj.log" && break; sleep 0.05; done
# and from member n2 by a local user other than root: only the kernel's
# tunnels send VXLAN (the output filter), so it never leaves n2
useradd -M -N -s /usr/sbin/nologin "$INJUSER"
cp "$VXINJECT" "$TMP/vxinject"
chmod 755 "$TMP/vxinject"
inj x 192.0.2.4 101 foreign-to-acme
inj n2 192.0.2.2 101 member-to-acme
out=$(nsenter --net="/run/netns/${PFX}hn2" setpriv --reuid="$INJUSER" --regid=nogroup \
	--clear-groups --inh-caps=-all "$TMP/vxinject" send 192.0.2.2 192.0.2.1 101 10.1.0.50 \
	10.1.0.10 7300 user-to-acme 2>&1)
check "the user's send on n2 is refused there: $out" grep -q 'Operation not permitted' <<<"$out"
sleep 3
check "a VXLAN packet with acme's VNI from member n2 arrives" grep -q member-to-acme "$TMP/inj.log"
check_not "the same from foreign 192.0.2.4 does not" grep -q foreign-to-acme "$TMP/inj.log"
check_not "the same from member n2 by an unprivileged user does not" grep -q user-to-acme "$TMP/inj.log"

# export then apply on every node: nothing changes
for h in $NODES; do
	ctl "$h" export >"$TMP/export-$h.json"
	rev=$(revision "$h")
	out=$(ctl "$h" apply -f "$TMP/export-$h.json")
	check "$h: apply(export()) changes nothing ($out)" grep -q "^no changes" <<<"$out"
	check "$h: and leaves the store at revision $rev" test "$(revision "$h")" = "$rev"
done
check "the export has the nodes" grep -q '"n3"' "$TMP/export-n1.json"

# drop n3 from acme/blue (its endpoint goes with it), apply on every node
for p in "${BG_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
BG_PIDS=()
python3 - "$TMP/world.json" "$TMP/two.json" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
f["vnets"]["acme/blue"]["nodes"] = ["n1", "n2"]
del f["vnets"]["acme/blue"]["endpoints"]["cache"]
del f["vnets"]["acme/blue"]["policy"]
json.dump(f, open(sys.argv[2], "w"), indent=2)
PY
for h in $NODES; do
	check "apply the file without n3 in acme/blue on $h" eval "ctl $h apply -f $TMP/two.json >/dev/null"
done
for h in n1 n2; do
	fdb=$(bridge -n "$(pfx $h).acme.blue" fdb show dev vx0 2>/dev/null)
	check "$h: acme/blue's flood entries no longer list n3 (192.0.2.3)" \
		test -n "$fdb" -a -z "$(grep 'dst 192.0.2.3' <<<"$fdb")"
	check "$h: umbrella/blue still floods to n3" \
		grep -q 'dst 192.0.2.3' <<<"$(bridge -n "$(pfx $h).umbrella.blue" fdb show dev vx0)"
done
check "acme/blue/cache's namespace on n3 is gone" test ! -e "/run/netns/$(pfx n3).acme.blue.cache"
check "acme/blue is no longer realized on n3" test ! -e "/run/netns/$(pfx n3).acme.blue"
check "umbrella's files on n3 is still up" grep -q " up " <<<"$(ctl n3 endpoint list umbrella/blue)"
# n3 may no longer speak for acme on n1; n2 still may
bg_ep n1 acme/blue/web "$VXINJECT" listen 7301 2500 >"$TMP/inj2.log"
for i in $(seq 50); do grep -q listening "$TMP/inj2.log" && break; sleep 0.05; done
nsenter --net="/run/netns/${PFX}hn3" "$VXINJECT" send 192.0.2.3 192.0.2.1 101 10.1.0.50 10.1.0.10 7301 from-n3
nsenter --net="/run/netns/${PFX}hn2" "$VXINJECT" send 192.0.2.2 192.0.2.1 101 10.1.0.50 10.1.0.10 7301 from-n2
sleep 3
check "after the removal, acme's VNI from n2 still arrives" grep -q from-n2 "$TMP/inj2.log"
check_not "and from n3 no longer" grep -q from-n3 "$TMP/inj2.log"
bg_ep n2 acme/blue/db "$PROBE" serve 7000
sleep 0.3
check "acme web (n1) still reaches acme db (n2)" in_ep n1 acme/blue/web "$PROBE" tcp 10.1.0.2 7000 3000

# everything away on every node: nothing leaks
for p in "${BG_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
BG_PIDS=()
echo '{}' >"$TMP/empty.json"
for h in $NODES; do
	pid=$(csd_pid "$h"); before=$(fd_count "$pid")
	check "apply --prune of an empty file on $h" eval "ctl $h apply --prune -f $TMP/empty.json >/dev/null"
	check "$h: csd fds did not grow" test "$(fd_count "$pid")" -le "$before"
	check "$h: no VXLAN device left in the underlay namespace" \
		test -z "$(ip -n "${PFX}h$h" -d link show type vxlan)"
done
check "nothing leaked (no namespace with the prefixes)" test -z "$(leaked_all)"
finish
