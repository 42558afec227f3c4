#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A user vnet across nodes (csd(8) BACKENDS, user across nodes; issue 19,
# item 4): two csd --backend user, run by an unprivileged user made for the
# test, in a network namespace of the test's own, underlays 127.0.0.1:4790
# (n1) and 127.0.0.1:4791 (n2); static mode, both apply the same file. n3
# (127.0.0.1:4792) runs no csd: the test sends as it.
#  1 greet and a probe from an endpoint on n2 to one on n1
#  2 a frame from n3's address and another port is dropped; the same from
#    n3's port is delivered
#  3 a second tenant's vnet across the same nodes, same subnet and
#    addresses: acme's endpoint does not reach zeta's, zeta's own does
#  4 n1's csd restarts: its stacks held the port meanwhile; the new csd
#    takes it over and b reaches a again
. "$(dirname "$0")/lib.sh"
UPROBE=$CS_BUILD/tests/integration/uprobe
GREET=$CS_BUILD/examples/greet
ECHO=$CS_BUILD/tests/integration/uvxecho
U=${PFX}n
NS=${PFX}un
nodes_cleanup() {
	local p
	for p in $(pgrep -u "$U" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
	cleanup
	ip netns del "$NS" 2>/dev/null
	userdel "$U" 2>/dev/null
}
trap nodes_cleanup EXIT
useradd -M -N -r -s /usr/sbin/nologin "$U" >/dev/null || { echo "useradd failed"; exit 1; }
ip netns add "$NS" && ip -n "$NS" link set lo up || { echo "netns $NS failed"; exit 1; }
as() { setpriv --reuid "$U" --regid "$(id -g "$U")" --clear-groups "$@"; }
as_exec() { exec nsenter --net="/run/netns/$NS" setpriv --reuid "$U" --regid "$(id -g "$U")" \
	--clear-groups "$@"; }
W=$TMP/u
mkdir -p "$W" && chown "$U" "$W" && chmod 700 "$W"
echo '{ "reconcile_interval": 60 }' >"$W/csd.json" && chown "$U" "$W/csd.json"
# on NODE: cs-ctl and libcs programs against that node's csd
on() { local n=$1; shift; CS_SOCKET=$W/$n.sock as "$@"; }
csd_up() {
	local n=$1 port=$2
	(as_exec "$CSD" --backend user -c "$W/csd.json" -S "$W/$n.sock" -D "$W/$n.state" \
		-R "$W/$n.run" -p "$PFX${n#n}" -n "$n" -u "127.0.0.1:$port" -l info \
		>>"$W/$n.log" 2>&1) &
	CSD_PIDS+=($!)
	for _ in $(seq 100); do on "$n" "$CTL" status >/dev/null 2>&1 && return 0; sleep 0.05; done
	cat "$W/$n.log"
	return 1
}
bg() {
	local n=$1; shift
	(exec setpriv --reuid "$U" --regid "$(id -g "$U")" --clear-groups "$@" >"$W/$n" 2>&1) &
	BG_PIDS+=($!)
}
wait_for() { for _ in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done; return 1; }

csd_up n1 4790 && csd_up n2 4791 || { echo "csd --backend user did not start"; exit 1; }
check "the csds run as uid $(id -u "$U") (not root)" test "$(stat -c %u /proc/${CSD_PIDS[0]})" = "$(id -u "$U")"
cat >"$W/world.json" <<JSON
{ "tenants": { "acme": {}, "zeta": {} },
  "nodes": {
    "n1": { "underlay": "127.0.0.1:4790", "backend": "user" },
    "n2": { "underlay": "127.0.0.1:4791", "backend": "user" },
    "n3": { "underlay": "127.0.0.1:4792", "backend": "user" } },
  "vnets": {
    "acme/blue": { "id": 401, "subnet": "10.9.0.0/24", "nodes": ["n1", "n2", "n3"],
      "endpoints": { "a": { "node": "n1", "address": "10.9.0.10" },
                     "b": { "node": "n2", "address": "10.9.0.20" } } },
    "zeta/blue": { "id": 402, "subnet": "10.9.0.0/24", "nodes": ["n1", "n2"],
      "endpoints": { "x": { "node": "n1", "address": "10.9.0.10" },
                     "y": { "node": "n2", "address": "10.9.0.20" } } } } }
JSON
chown "$U" "$W/world.json"
for n in n1 n2; do
	check "apply on $n (two tenants' vnets across n1 and n2)" on $n "$CTL" apply -f "$W/world.json"
done
check "n1 holds a and x, n2 holds b and y" test \
	"$(on n1 "$CTL" -j endpoint list | grep -c '"state": *"up"')" = 2 -a \
	"$(on n2 "$CTL" -j endpoint list | grep -c '"state": *"up"')" = 2

# ---- 1. across
CS_SOCKET=$W/n1.sock bg greet_a "$GREET" serve acme/blue a 7000
CS_SOCKET=$W/n1.sock bg hello_a "$UPROBE" serve acme/blue a 7100 hello
wait_for "$W/hello_a" listening
out=$(on n2 timeout 20 "$GREET" ask acme/blue b 10.9.0.10 7000 2>&1)
check "greet: b (n2) asks a (n1) and hears back ($out)" grep -q "says hello back" <<<"$out"
check "probe: b (n2) reaches a (n1) at 10.9.0.10:7100" on n2 timeout 20 "$UPROBE" ask acme/blue b 10.9.0.10 7100
check_not "probe: ... and not a port where nothing listens (paired)" \
	on n2 timeout 20 "$UPROBE" ask acme/blue b 10.9.0.10 7101

# ---- 2. only the vnet's nodes, from their ports
rx() { on n1 "$CTL" -j endpoint show acme/blue/a | sed -n 's/.*"rx_packets": *\([0-9]*\).*/\1/p'; }
inject() { nsenter --net="/run/netns/$NS" "$ECHO" inject "$1" 127.0.0.1:4790 401 10.9.0.99 10.9.0.10 \
	ff:ff:ff:ff:ff:ff; }
rx0=$(rx)
inject 127.0.0.1:4799
sleep 0.5
rx1=$(rx)
check "a frame from 127.0.0.1:4799 (no node of acme/blue) is dropped ($rx0 -> $rx1)" test -n "$rx1" -a "$rx1" = "$rx0"
inject 127.0.0.1:4792
sleep 0.5
rx2=$(rx)
check "the same frame from n3's 127.0.0.1:4792 reaches a ($rx1 -> $rx2)" test -n "$rx2" -a "${rx2:-0}" -gt "${rx1:-0}"

# ---- 3. another tenant's vnet on the same nodes and addresses
CS_SOCKET=$W/n1.sock bg hello_x "$UPROBE" serve zeta/blue x 7200 hello
wait_for "$W/hello_x" listening
check "zeta: y (n2) reaches x (n1) at 10.9.0.10:7200" on n2 timeout 20 "$UPROBE" ask zeta/blue y 10.9.0.10 7200
check_not "acme: b (n2) does not reach 10.9.0.10:7200 (zeta's x; acme's a does not listen there)" \
	on n2 timeout 20 "$UPROBE" ask acme/blue b 10.9.0.10 7200

# ---- 4. n1's csd restarts
kill -TERM "${CSD_PIDS[0]}"; wait "${CSD_PIDS[0]}" 2>/dev/null
csd_up n1 4790 || fail "csd on n1 did not start again"
ok=1
for _ in $(seq 40); do
	on n2 timeout 5 "$UPROBE" ask acme/blue b 10.9.0.10 7100 >/dev/null 2>&1 && { ok=0; break; }
	sleep 0.25
done
check "after n1's csd restarted, b (n2) reaches a (n1) again" test $ok = 0
[ "$FAILS" = 0 ] || tail -20 "$W/n1.log" "$W/n2.log" "$W"/n*.run/user/*.log
finish
