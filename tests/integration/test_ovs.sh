#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The ovs backend on one node, against an ovsdb-server and ovs-vswitchd of
# the test's own (private database, run directory and log, in the host
# namespace; only their pids are killed): reachability (ping, a TCP
# transfer), names at the gateway, two tenants with the same subnet kept
# apart (paired probes), cs's rows visible to ovs-vsctl with their
# external_ids, a port deleted by hand back after SIGHUP, a vnet across
# nodes refused without an underlay, csd killed and restarted adopting its
# bridges (none twice) while traffic flows, ovsdb-server restarted, delete
# leaving nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ovs_lib.sh"
ovs_need
OVS=$TMP/ovs
mkdir -p "$OVS"
trap 'ovs_stop; cleanup' EXIT

host_add a
HNS=/run/netns/${PFX}ha
DB=unix:$OVS/db.sock
export OVS_RUNDIR=$OVS OVS_LOGDIR=$OVS OVS_DBDIR=$OVS
vsctl() { ovs-vsctl --db="$DB" --timeout=10 "$@"; }

ovsdb_start() {
	nsenter --net="$HNS" ovsdb-server "$OVS/conf.db" --remote=punix:"$OVS/db.sock" \
		--pidfile="$OVS/ovsdb-server.pid" --unixctl="$OVS/ovsdb-server.ctl" \
		--log-file="$OVS/ovsdb-server.log" 2>>"$OVS/ovsdb-server.err" &
	OVS_PIDS+=($!)
	for _ in $(seq 100); do [ -S "$OVS/db.sock" ] && return 0; sleep 0.05; done
	echo "ovsdb-server did not start"; cat "$OVS/ovsdb-server.log"; return 1
}
ovsdb-tool create "$OVS/conf.db" /usr/share/openvswitch/vswitch.ovsschema || exit 1
ovsdb_start || exit 1
vsctl --no-wait init
vswitchd_start() {
	rm -f "$OVS/ovs-vswitchd.ctl"
	nsenter --net="$HNS" ovs-vswitchd "$DB" --pidfile="$OVS/ovs-vswitchd.pid" \
		--unixctl="$OVS/ovs-vswitchd.ctl" --log-file="$OVS/ovs-vswitchd.log" \
		2>>"$OVS/ovs-vswitchd.err" &
	OVS_PIDS+=($!)
	for _ in $(seq 100); do [ -S "$OVS/ovs-vswitchd.ctl" ] && return 0; sleep 0.05; done
	echo "ovs-vswitchd did not start"; cat "$OVS/ovs-vswitchd.log"; return 1
}
vswitchd_start || exit 1

echo "{\"ovsdb\": \"$DB\"}" >"$TMP/csd.json"
csd_start a --backend ovs -c "$TMP/csd.json" || exit 1
export CS_SOCKET=$TMP/a/csd.sock

# two tenants with the same subnet, from one overlay file (apply returns
# once all of it is realized, ovs-vswitchd included)
cat >"$TMP/world.json" <<'JSON'
{"tenants": {"acme": {}, "umbrella": {}},
 "vnets": {
  "acme/blue": {"subnet": "10.7.0.0/24", "backend": "ovs",
   "endpoints": {"web": {"address": "10.7.0.2"}, "db": {"address": "10.7.0.3"}}},
  "umbrella/blue": {"subnet": "10.7.0.0/24",
   "endpoints": {"web": {"address": "10.7.0.2"}, "db": {"address": "10.7.0.3"},
                 "only": {"address": "10.7.0.9"}}}}}
JSON
check "an overlay file of two tenants applies" ctl a apply -f "$TMP/world.json" >/dev/null
check "the vnet says backend ovs" grep -q '"backend": "ovs"' <(ctl a -j vnet show acme/blue)
for e in acme/blue/db umbrella/blue/db umbrella/blue/only; do bg_ep a $e "$PROBE" serve 7000; done
sleep 0.3

check "acme web pings its db" in_ep a acme/blue/web sh -c "ping -q -c 2 -W 2 -i 0.2 10.7.0.3 >/dev/null"
check "acme web reaches its db over tcp" in_ep a acme/blue/web "$PROBE" tcp 10.7.0.3 7000
check "acme web reaches its db over udp" in_ep a acme/blue/web "$PROBE" udp 10.7.0.3 7000
check_not "acme web cannot reach umbrella's 10.7.0.9" \
	in_ep a acme/blue/web "$PROBE" tcp 10.7.0.9 7000 500
check "umbrella web reaches its 10.7.0.9" in_ep a umbrella/blue/web "$PROBE" tcp 10.7.0.9 7000
out=$(in_ep a acme/blue/web getent hosts db)
check "acme web resolves db by name at the vnet's gateway ($out)" grep -q "^10.7.0.3 " <<<"$out"
out=$(in_ep a umbrella/blue/web getent hosts only)
check "and umbrella's web its only ($out)" grep -q "^10.7.0.9 " <<<"$out"
check_not "acme's web does not resolve umbrella's only" in_ep a acme/blue/web getent hosts only

# a TCP transfer (the netdev datapath stalls TCP unless the namespace side
# fills in its checksums)
# tcp_bps FROM TO ADDR PORT SECONDS: bit/s iperf3 moved from endpoint FROM
# to endpoint TO (at ADDR), 0 when it failed
tcp_bps() {
	bg_ep a "$2" sh -c "iperf3 -s -1 -p $4 >/dev/null"
	sleep 0.5
	in_ep a "$1" iperf3 -c "$3" -p "$4" -t "$5" -J >"$TMP/iperf.json" 2>&1 || cat "$TMP/iperf.json" >&2
	python3 -c "import json,sys
try: print(int(json.load(open(sys.argv[1]))['end']['sum_received']['bits_per_second']))
except Exception: print(0)" "$TMP/iperf.json"
}
bps=$(tcp_bps acme/blue/web acme/blue/db 10.7.0.3 5201 2)
echo "# ovs netdev datapath, TCP web -> db: $((bps / 1000000)) Mbit/s"
check "a TCP transfer moves more than 10 Mbit/s" test "$bps" -gt 10000000
tx=$(ctl a -j endpoint show acme/blue/web | python3 -c 'import json,sys; print(json.load(sys.stdin)["counters"]["tx_bytes"])')
check "endpoint show counts what web sent ($tx bytes, over 2 MB)" test "$tx" -gt 2000000

# what operators see
vsctl show >"$TMP/show"
check "ovs-vsctl show lists one bridge per vnet" test "$(grep -c "Bridge ${PFX}b" "$TMP/show")" = 2
check "and the endpoints' ports" test "$(grep -c "Port ${PFX}e" "$TMP/show")" = 5
acme_br=$(vsctl --bare --columns=name find Bridge "external_ids:cs-vnet=acme/blue")
check "the bridge carries cs's external_ids" test -n "$acme_br"
web_port=$(vsctl --bare --columns=name find Port "external_ids:cs-endpoint=acme/blue/web")
check "the web port carries cs's external_ids" test -n "$web_port"
check "its prefix too" sh -c "ovs-vsctl --db='$DB' get Port '$web_port' external_ids:cs-prefix | grep -q '$PFX'"

# one backend per csd: a vnet declaring another is refused, paired
check_not "a vnet declaring backend kernel is refused" \
	ctl a vnet create acme/red subnet 10.8.0.0/24 backend kernel
check "one declaring backend ovs is taken" ctl a vnet create acme/red subnet 10.8.0.0/24 backend ovs

ctl a vnet delete acme/red

# a vnet across nodes needs an underlay this host lacks: refused, saying
# so, nothing made (tunnels that work: test_ovs_nodes.sh)
ctl a node create b underlay 192.0.2.2
ctl a node create a underlay 192.0.2.1
out=$(ctl a vnet create acme/wide subnet 10.9.0.0/24 nodes a,b id 4660 2>&1)
check "a vnet to a node this host has no route to is refused, saying so (said: $out)" \
	grep -q "no route to node 192.0.2.2" <<<"$out"
check "and it made no VXLAN port" \
	test -z "$(vsctl --bare --columns=name find Interface type=vxlan "external_ids:cs-prefix=$PFX")"

# drift: a port deleted by hand comes back on reconcile
vsctl del-port "$web_port"
check_not "a port deleted by hand breaks reachability" \
	in_ep a acme/blue/web "$PROBE" tcp 10.7.0.3 7000 300
kill -HUP "$(csd_pid a)"
for _ in $(seq 100); do vsctl list-ports "$acme_br" | grep -qx "$web_port" && break; sleep 0.1; done
check "the reconciler puts it back" in_ep a acme/blue/web "$PROBE" tcp 10.7.0.3 7000

# drift: eth0 deleted in the endpoint: a veth anew, its port made again so
# that ovs-vswitchd opens the new device
ip -n "$PFX.acme.blue.web" link del eth0
check_not "eth0 deleted by hand breaks reachability" \
	in_ep a acme/blue/web "$PROBE" tcp 10.7.0.3 7000 300
kill -HUP "$(csd_pid a)"
for _ in $(seq 100); do ip -n "$PFX.acme.blue.web" link show eth0 >/dev/null 2>&1 && break; sleep 0.1; done
check "the reconciler links the endpoint again" in_ep a acme/blue/web "$PROBE" tcp 10.7.0.3 7000

# csd killed and restarted: traffic flows throughout; bridges adopted
bg_ep a acme/blue/web "$PROBE" stream 10.7.0.3 7000 "$TMP/stream"
sleep 0.5
oks() { grep -c '^ok' "$1" 2>/dev/null || echo 0; }
kill -9 "$(csd_pid a)"; wait "$(csd_pid a)" 2>/dev/null
s1=$(oks "$TMP/stream"); sleep 0.6
check "TCP keeps flowing while csd is dead" test "$(oks "$TMP/stream")" -gt "$s1"
csd_start a --backend ovs -c "$TMP/csd.json" || exit 1
kill -HUP "$(csd_pid a)"; sleep 1
s2=$(oks "$TMP/stream"); sleep 0.5
check "and after the restart" test "$(oks "$TMP/stream")" -gt "$s2"
check "no bridge twice after the restart" \
	test "$(vsctl list-br | grep -c "^$PFX")" = "$(ctl a vnet list | tail -n +2 | wc -l)"
check "no port twice after the restart" \
	test "$(vsctl --bare --columns=name find Port "external_ids:cs-endpoint=acme/blue/web" | grep -c .)" = 1
check_not "no probe failed across the restart" grep -q '^fail' "$TMP/stream"

# ovsdb-server restarted: csd reconnects and goes on
dpid=$(cat "$OVS/ovsdb-server.pid")
kill "$dpid"; wait "$dpid" 2>/dev/null
ovsdb_start || exit 1
check "an endpoint is created after ovsdb-server restarted" ctl a endpoint create acme/blue/late
check "and it is reached" in_ep a acme/blue/late "$PROBE" tcp 10.7.0.3 7000

# ovs-vswitchd restarted: it rebuilds the bridges from the database
vpid=$(cat "$OVS/ovs-vswitchd.pid")
kill "$vpid"; wait "$vpid" 2>/dev/null
t0=$(date +%s)
out=$(ctl a endpoint create acme/blue/early 2>&1)
check "without ovs-vswitchd a create fails within seconds and says so (said: $out)" \
	sh -c "[ $(( $(date +%s) - t0 )) -le 8 ] && echo '$out' | grep -q 'ovs-vswitchd is not connected'"
vswitchd_start || exit 1
for _ in $(seq 20); do in_ep a acme/blue/web "$PROBE" tcp 10.7.0.3 7000 500 && break; done
check "traffic flows after ovs-vswitchd restarted" in_ep a acme/blue/web "$PROBE" tcp 10.7.0.3 7000

# rules and reservations, as on the kernel backend (in the namespace)
ctl a vnet create acme/green subnet 10.11.0.0/24 capacity 1gbit
ctl a endpoint create acme/green/src address 10.11.0.2 qos.rate 50mbit
ctl a endpoint create acme/green/dst address 10.11.0.3
ctl a endpoint create acme/green/other address 10.11.0.4
for e in dst other; do bg_ep a acme/green/$e "$PROBE" serve 7000; done
ctl a rule create acme/green from endpoint:src to other proto tcp ports 7000 action deny name no-other
sleep 0.3
check "src reaches dst (allowed)" in_ep a acme/green/src "$PROBE" tcp 10.11.0.3 7000
check_not "src cannot reach other (a deny rule)" in_ep a acme/green/src "$PROBE" tcp 10.11.0.4 7000 500
check "dst reaches other (the rule is src's only)" in_ep a acme/green/dst "$PROBE" tcp 10.11.0.4 7000
bps=$(tcp_bps acme/green/src acme/green/dst 10.11.0.3 5202 3)
echo "# reserved 50 Mbit/s, received $((bps / 1000)) kbit/s"
check "a 50mbit reservation holds src within 10%" test "$bps" -ge 45000000 -a "$bps" -le 55000000

# delete leaves nothing: no bridge, port or interface of ours, no namespace
for t in acme umbrella; do ctl a tenant delete $t; done
for p in "${BG_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
wait "${BG_PIDS[@]}" 2>/dev/null
check "no bridge left" test -z "$(vsctl list-br | grep "^$PFX")"
check "no row with our prefix left" test -z "$(vsctl --bare --columns=name find Interface "external_ids:cs-prefix=$PFX")"
check "no host link with our prefix left" test -z "$(ip -n "${PFX}ha" -o link | grep " $PFX[bexg]")"
check "nothing leaked (no namespace with the prefix)" test -z "$(leaked)"

# ovsdb-server gone: a clear error, csd stays up
ovs_stop
ctl a tenant create acme2
check_not "creating a vnet without ovsdb-server fails" ctl a vnet create acme2/x subnet 10.9.0.0/24
check "csd is still up" ctl a status >/dev/null
out=$(timeout 10 nsenter --net="$HNS" "$CSD" -S "$TMP/x.sock" -D "$TMP/x" -p "${PFX}x" -n x \
	--backend ovs -c "$TMP/csd.json" 2>&1)
check "a csd --backend ovs does not start without ovsdb-server, and says why (said: $out)" \
	grep -q "cannot connect to ovsdb-server at $OVS/db.sock" <<< "$out"
finish
