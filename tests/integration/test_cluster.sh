#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Cluster mode (issue 6): three host namespaces on an underlay bridge, a csd
# in each, all sharing one etcd that runs inside the bridge's namespace
# (192.0.2.100, data in the test's temporary directory). csd started before
# etcd waits for it and refuses changes clearly; nodes register and hold
# their liveness on an etcd lease (node list shows up/down); a file applied
# on one node is realized on the others through the watch (prints
# change-to-realization times); names resolve across nodes for endpoints
# created at run time; concurrent creation from all nodes never duplicates
# an address (prints creations per second); a csd killed with -9 is shown
# down within its lease's TTL, its endpoints unreachable, and when restarted
# it is up again, catches up and keeps its new lease; with etcd stopped
# traffic flows, changes are refused, and they work again once etcd is
# back; deleting the cluster's last vnet removes it on every node; a csd
# stopped with SIGTERM is down at once (it revokes its lease).
# With CS_ETCD_TLS=1 (test cluster-tls) etcd speaks only TLS, wants client
# certificates and has authentication on; every csd logs in as user cs,
# whose role covers the test's prefix only (tests/integration/etcd_tls.sh),
# and logs in again by itself when etcd, restarted, forgets its token.
. "$(dirname "$0")/lib.sh"

command -v etcd >/dev/null || { echo "SKIP: etcd not installed"; exit 77; }
GREET=$CS_BUILD/examples/greet
UL=${PFX}hul
ETCD_IP=192.0.2.100
ETCD_URL=http://$ETCD_IP:2379
ETCD_PID=
ETCD_TLS=()   # etcd's TLS flags
CURL_TLS=()   # curl's, to ask etcd's health
STORE_SEC=    # csd's store.tls and store.auth
if [ "${CS_ETCD_TLS:-}" = 1 ]; then
	. "$(dirname "$0")/etcd_tls.sh"
	ETCD_URL=https://$ETCD_IP:2379
	tls_make "$ETCD_IP" || { echo "FAIL - cannot make certificates with openssl"; exit 1; }
	read -ra ETCD_TLS <<<"$(etcd_tls_flags)"
	CURL_TLS=(--cacert "$PKI/ca.crt" --cert "$PKI/client.crt" --key "$PKI/client.key")
	cs_password_file >/dev/null
	STORE_SEC=", $(store_tls_json)"
fi

pfx() { echo "$PFX${1#n}"; }
cleanup_cluster() {
	local ns
	[ -n "$ETCD_PID" ] && kill -9 "$ETCD_PID" 2>/dev/null
	cleanup
	for ns in /run/netns/"$PFX"[0-9].*; do
		[ -e "$ns" ] && ip netns del "$(basename "$ns")" 2>/dev/null
	done
}
trap cleanup_cluster EXIT
leaked_all() { ls /run/netns 2>/dev/null | grep "^$PFX[0-9]\." || true; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
in_ul() { nsenter --net="/run/netns/$UL" "$@"; }

etcd_start() {
	mkdir -p "$TMP/etcd"
	# nsenter execs etcd: $! is etcd itself
	nsenter --net="/run/netns/$UL" etcd --name c1 --data-dir "$TMP/etcd/data" \
		--listen-client-urls "$ETCD_URL" --advertise-client-urls "$ETCD_URL" \
		--listen-peer-urls "http://$ETCD_IP:2380" \
		--initial-advertise-peer-urls "http://$ETCD_IP:2380" \
		--initial-cluster "c1=http://$ETCD_IP:2380" --initial-cluster-state new \
		"${ETCD_TLS[@]}" >>"$TMP/etcd/log" 2>&1 &
	ETCD_PID=$!
	local i
	for i in $(seq 100); do
		if in_ul curl -sf "${CURL_TLS[@]}" "$ETCD_URL/health" 2>/dev/null | grep -q true; then
			# the first time over TLS: users, the role, authentication on
			[ ${#ETCD_TLS[@]} = 0 ] || [ -e "$TMP/etcd/auth" ] ||
				{ etcd_auth_setup "$UL" "$ETCD_URL" "/cs-$PFX" && touch "$TMP/etcd/auth"; } ||
				{ echo "cannot set up etcd's authentication"; return 1; }
			return 0
		fi
		sleep 0.1
	done
	echo "etcd did not start:"; tail -20 "$TMP/etcd/log"
	return 1
}
etcd_stop() { kill "$ETCD_PID"; wait "$ETCD_PID" 2>/dev/null; ETCD_PID=; }

# wait_for SECONDS CMD...: poll CMD every 10 ms
wait_for() {
	local end=$(( $(now_ms) + $1 * 1000 )); shift
	while [ "$(now_ms)" -lt "$end" ]; do
		"$@" && return 0
		sleep 0.01
	done
	"$@"
}
has_ns() { [ -e "/run/netns/$1" ]; }
no_ns() { [ ! -e "/run/netns/$1" ]; }
node_state() { ctl "$1" -j node show "$2" | sed -n 's/.*"state": "\([a-z]*\)".*/\1/p'; }
node_is() { [ "$(node_state "$1" "$2")" = "$3" ]; }
ep_state() { ctl "$1" -j endpoint show "$2" | sed -n 's/.*"state": "\([a-z]*\)".*/\1/p'; }
ep_is() { [ "$(ep_state "$1" "$2")" = "$3" ]; }
# count_state NODE STATE VNET: how many of VNET's endpoints NODE shows in STATE
count_state() { ctl "$1" -j endpoint list "$3" | grep -c "\"state\": \"$2\""; }
NODE_TTL=5 # csd's liveness lease (csd(8))
store_is() { ctl "$1" -j status | grep -q "\"store_state\": \"$2\""; }

# the underlay: a bridge in a namespace of its own (etcd listens on it)
host_add ul
ip -n "$UL" link add br0 type bridge
ip -n "$UL" link set br0 up
ip -n "$UL" addr add "$ETCD_IP/24" dev br0
i=0
for h in n1 n2 n3; do
	i=$((i + 1))
	host_add "$h"
	ip link add "ul$i" netns "$UL" type veth peer name eth0 netns "${PFX}h$h"
	ip -n "$UL" link set "ul$i" master br0 up
	ip -n "${PFX}h$h" addr add "192.0.2.$i/24" dev eth0
	ip -n "${PFX}h$h" link set eth0 up
	cat >"$TMP/$h.json" <<JSON
{ "node": "$h", "underlay": "192.0.2.$i",
  "store": { "type": "etcd", "endpoints": ["$ETCD_URL"], "prefix": "/cs-$PFX"$STORE_SEC } }
JSON
done

# ---- csd before etcd: serves, says the store is away, refuses changes ----
csd_start n1 -c "$TMP/n1.json" -p "$(pfx n1)" || exit 1
check "n1 status says the store is unavailable" store_is n1 unavailable
out=$(ctl n1 tenant create acme 2>&1); rc=$?
check "a change without etcd is refused (exit $rc): $out" \
	test "$rc" = 1 -a -n "$(grep -i 'store is unavailable' <<<"$out")"
check "csd is still running without etcd" kill -0 "$(csd_pid n1)"

etcd_start || exit 1
check "once etcd is up, changes work" wait_for 10 ctl n1 tenant create acme
check "n1 status says the store is available" wait_for 5 store_is n1 available
csd_start n2 -c "$TMP/n2.json" -p "$(pfx n2)" || exit 1
csd_start n3 -c "$TMP/n3.json" -p "$(pfx n3)" || exit 1
for h in n1 n2 n3; do
	check "node list on n1 shows $h up" wait_for 10 node_is n1 "$h" up
done
ctl n1 node list
check "n2 publishes the backend it runs (kernel nodes peer with user ones only when declared)" \
	grep -q '"backend": "kernel"' <<<"$(ctl n1 -j node show n2)"

# ---- a file applied on n1, naming registered nodes without "nodes" ----
cat >"$TMP/world.json" <<'JSON'
{
  "tenants": { "acme": {}, "umbrella": {} },
  "vnets": {
    "acme/blue": {
      "subnet": "10.1.0.0/24", "nodes": ["n1", "n2", "n3"],
      "endpoints": {
        "web": { "node": "n1" }, "db": { "node": "n2" }, "cache": { "node": "n3" }
      }
    },
    "umbrella/blue": {
      "subnet": "10.1.0.0/24", "nodes": ["n1", "n2", "n3"],
      "endpoints": { "web": { "node": "n1" }, "db": { "node": "n2" } }
    }
  }
}
JSON
t0=$(now_ms)
check "apply on n1 (vnets across nodes, no ids, no nodes section)" ctl n1 apply -f "$TMP/world.json"
check "acme/blue/db realized on n2" wait_for 10 has_ns "$(pfx n2).acme.blue.db"
t2=$(now_ms)
check "acme/blue/cache realized on n3" wait_for 10 has_ns "$(pfx n3).acme.blue.cache"
t3=$(now_ms)
check "umbrella/blue/db realized on n2" wait_for 10 has_ns "$(pfx n2).umbrella.blue.db"
echo "# apply on n1 -> realized on n2: $((t2 - t0)) ms, on n3: $((t3 - t0)) ms"
ids=$(ctl n1 -j vnet list | grep -o '"id": [0-9]*' | sort -u | wc -l)
check "the two vnets got distinct allocated ids ($ids)" test "$ids" = 2

# change-to-realization on another node, one endpoint at a time
lat=()
for i in $(seq 20); do
	h=n$(( i % 2 + 2 ))
	s=$(now_ms)
	ctl n1 endpoint create acme/blue/l$i node $h >/dev/null || fail "create acme/blue/l$i"
	wait_for 10 has_ns "$(pfx $h).acme.blue.l$i" || fail "acme/blue/l$i not realized on $h"
	lat+=($(( $(now_ms) - s )))
done
sorted=($(printf '%s\n' "${lat[@]}" | sort -n))
echo "# change-to-realization on another node (cs-ctl on n1 -> namespace on n2/n3, 20 runs):" \
	"median ${sorted[9]} ms, p99 (max) ${sorted[19]} ms"
check "p99 change-to-realization <= 1000 ms (${sorted[19]} ms)" test "${sorted[19]}" -le 1000

# ---- names across nodes, endpoints created at run time ----
check "endpoint srv created on n2" ctl n2 endpoint create acme/blue/srv
check "endpoint cli created on n3" ctl n3 endpoint create acme/blue/cli
CS_SOCKET=$TMP/n2/csd.sock "$GREET" serve acme/blue srv 7100 >"$TMP/greet.log" 2>&1 &
BG_PIDS+=($!)
for i in $(seq 50); do
	out=$(CS_SOCKET=$TMP/n3/csd.sock "$GREET" ask acme/blue cli srv 7100 2>&1) && break
	sleep 0.1
done
check "acme/blue/cli on n3 greets acme/blue/srv on n2 by name: $out" \
	grep -q "^acme/blue/srv says hello back to acme/blue/cli" <<<"$out"
# a name created through n1 answered by n3's gateway (DNS, through the watch)
dns_on_n3() { ip netns exec "$(pfx n3).acme.blue.cli" getent hosts "$1" >/dev/null; }
check_not "before: n3's gateway does not know acme/blue/dn" dns_on_n3 dn
s=$(now_ms)
ctl n1 endpoint create acme/blue/dn node n2 >/dev/null || fail "create acme/blue/dn"
for i in $(seq 150); do dns_on_n3 dn && break; sleep 0.02; done
dt=$(( $(now_ms) - s ))
echo "# endpoint create on n1 -> name answered at n3's gateway: $dt ms"
check "n3's gateway answers acme/blue/dn within 2 s of its create on n1 ($dt ms)" dns_on_n3 dn
check "and within 2 s ($dt ms)" test "$dt" -le 2000
webaddr=$(ctl n1 -j endpoint show acme/blue/web | sed -n 's/.*"address": "\([0-9.]*\)".*/\1/p' | head -1)
check "acme/blue/db on n2 pings acme/blue/web on n1 ($webaddr)" \
	ip netns exec "$(pfx n2).acme.blue.db" ping -c1 -W2 "$webaddr"

# ---- concurrent allocation: 3 nodes x 20 creations at once ----
check "vnet acme/green across the three nodes" \
	ctl n1 vnet create acme/green subnet 10.2.0.0/24 nodes n1,n2,n3
s=$(now_ms)
cpids=()
for h in n1 n2 n3; do
	for i in $(seq 20); do
		ctl "$h" endpoint create "acme/green/$h-$i" >/dev/null 2>"$TMP/c-$h-$i.err" &
		cpids+=($!)
	done
done
wait "${cpids[@]}"
el=$(( $(now_ms) - s ))
list=$(ctl n1 -j endpoint list acme/green)
n=$(grep -o '"address": "[0-9.]*"' <<<"$list" | wc -l)
u=$(grep -o '"address": "[0-9.]*"' <<<"$list" | sort -u | wc -l)
echo "# 60 concurrent endpoint creations from 3 nodes through etcd: $el ms" \
	"($(( 60000 / (el > 0 ? el : 1) )) per second)"
cat "$TMP"/c-*.err | sort | uniq -c | head -5
check "60 endpoints created ($n)" test "$n" = 60
check "all 60 addresses distinct ($u)" test "$u" = 60
for h in n1 n2 n3; do
	check "$h realized its 20 acme/green endpoints" \
		wait_for 10 test "$(ls /run/netns | grep -c "^$(pfx $h)\.acme\.green\.$h-")" = 20
done
# endpoints created without naming their node are declared where they live:
# the export applies back unchanged, on any node
ctl n2 export > "$TMP/export.json"
out=$(ctl n3 apply -f "$TMP/export.json" 2>&1)
check "the cluster's export applies back with no changes (said: $out)" \
	sh -c "printf '%s' \"\$1\" | grep -q 'no changes'" _ "$out"

# ---- kill -9 a csd: down within its lease's TTL, its endpoints unreachable;
# change behind its back; restart: up again, it catches up ----
check "before the kill, n1 shows n3's endpoints remote (20)" \
	test "$(count_state n1 remote acme/green)" = 40
# a monitor on n1 sees the state changes of n3's endpoints (cs-ctl itself
# in the background, so that cleanup kills it, not a subshell)
"$CTL" -S "$TMP/n1/csd.sock" monitor acme/green >"$TMP/mon.txt" 2>"$TMP/mon.err" &
BG_PIDS+=($!)
sleep 0.5
kill -9 "$(csd_pid n3)"
killed=$(now_ms)
wait "$(csd_pid n3)" 2>/dev/null
check "while n3 is down: create acme/blue/late on n3" ctl n1 endpoint create acme/blue/late node n3
check "while n3 is down: delete acme/blue/cache" ctl n1 endpoint delete acme/blue/cache
check "n3's lease expires: node list shows it down" wait_for 15 node_is n1 n3 down
down_ms=$(( $(now_ms) - killed ))
echo "# kill -9 of n3's csd -> shown down on n1: $down_ms ms (lease TTL ${NODE_TTL} s)"
check "down within the lease TTL + 2 s ($down_ms ms)" test "$down_ms" -le $(( (NODE_TTL + 2) * 1000 ))
check "n2 is still up" node_is n1 n2 up
check "n1 shows n3's endpoint acme/green/n3-1 unreachable" ep_is n1 acme/green/n3-1 unreachable
check "n2 shows n3's endpoint acme/blue/late unreachable" ep_is n2 acme/blue/late unreachable
check "n1 lists n3's 20 acme/green endpoints unreachable" \
	test "$(count_state n1 unreachable acme/green)" = 20
check "n1 lists n2's 20 acme/green endpoints remote" test "$(count_state n1 remote acme/green)" = 20
check "n1 lists its own 20 acme/green endpoints up" test "$(count_state n1 up acme/green)" = 20
# mon_is TRANSITION N: the monitor printed it for N of n3's endpoints
mon_is() { [ "$(grep -c " endpoint state acme/green/n3-[0-9]* $1\$" "$TMP/mon.txt")" = "$2" ]; }
check "n1's monitor: n3's 20 endpoints went remote->unreachable" \
	wait_for 5 mon_is 'remote->unreachable' 20
check "... and none of n2's" test "$(grep -c 'acme/green/n2-.*unreachable' "$TMP/mon.txt")" = 0
check "nothing realized it meanwhile" no_ns "$(pfx n3).acme.blue.late"
csd_start n3 -c "$TMP/n3.json" -p "$(pfx n3)" || exit 1
check "restarted n3 realizes acme/blue/late" wait_for 10 has_ns "$(pfx n3).acme.blue.late"
check "restarted n3 removes acme/blue/cache" wait_for 10 no_ns "$(pfx n3).acme.blue.cache"
check "n3 is up again" wait_for 10 node_is n1 n3 up
check "n3 is listed once" test "$(ctl n1 -j node list | grep -c '"name": "n3"')" = 1
check "n1 shows n3's endpoints remote again" wait_for 5 ep_is n1 acme/green/n3-1 remote
check "n1's monitor: n3's 20 endpoints went unreachable->remote" \
	wait_for 5 mon_is 'unreachable->remote' 20
check "n2 shows acme/blue/late remote" ep_is n2 acme/blue/late remote
check "n3 shows its own acme/blue/late up" ep_is n3 acme/blue/late up
check "n3 still holds its acme/green endpoints" \
	test "$(ls /run/netns | grep -c "^$(pfx n3)\.acme\.green\.n3-")" = 20
# killed and restarted at once, before its old lease expired: the liveness
# key moves to the new lease, so the old one expiring takes nothing with it
kill -9 "$(csd_pid n3)"
wait "$(csd_pid n3)" 2>/dev/null
csd_start n3 -c "$TMP/n3.json" -p "$(pfx n3)" || exit 1
sleep $(( NODE_TTL + 2 ))
check "n3 restarted at once is still up after its old lease's TTL" node_is n1 n3 up
check "n1 shows none of n3's endpoints unreachable" test "$(count_state n1 unreachable acme/green)" = 0

# ---- etcd stopped: traffic flows, changes refused; back: changes work ----
etcd_stop
check "with etcd stopped, acme/blue/db on n2 still pings web on n1" \
	ip netns exec "$(pfx n2).acme.blue.db" ping -c1 -W2 "$webaddr"
out=$(ctl n2 endpoint create acme/blue/refused 2>&1); rc=$?
check "with etcd stopped, a change is refused (exit $rc): $out" \
	test "$rc" = 1 -a -n "$(grep -i 'store' <<<"$out")"
check "n2 status says the store is unavailable" store_is n2 unavailable
sleep 1.5 # a periodic reconcile with the store away deletes nothing
check "acme/blue/db still realized on n2" has_ns "$(pfx n2).acme.blue.db"
etcd_start || exit 1
check "etcd back: changes work again" wait_for 10 ctl n2 endpoint create acme/blue/back node n1
check "acme/blue/back realized on n1" wait_for 10 has_ns "$(pfx n1).acme.blue.back"
check "still no duplicate address after the outage" test \
	"$(ctl n1 -j endpoint list acme/blue | grep -o '"address": "[0-9.]*"' | sort | uniq -d)" = ""

# ---- deletions through n1: every node removes its part ----
gone() { test -z "$(leaked_all | grep -e '\.umbrella\.' -e '\.acme\.green')"; }
check "delete tenant umbrella" ctl n1 tenant delete umbrella
check "delete vnet acme/green" ctl n1 vnet delete acme/green
check "every node removed umbrella's and acme/green's namespaces" wait_for 10 gone
leaked_all | grep -e '\.umbrella\.' -e '\.acme\.green' | head
# the cluster's last vnet: a real delete, read at a newer revision, is not
# an empty read; every node removes it (and a restarted node does too)
kill -9 "$(csd_pid n2)"
wait "$(csd_pid n2)" 2>/dev/null
check "acme/blue is the last vnet" test "$(ctl n1 -j vnet list | grep -c '"name"')" = 1
check "delete vnet acme/blue, the last one" ctl n1 vnet delete acme/blue
all_gone() { test -z "$(leaked_all | grep -v "^$(pfx n2)\.")"; }
check "n1 and n3 removed every namespace of acme/blue" wait_for 10 all_gone
leaked_all | grep -v "^$(pfx n2)\." | head
check "n2 (down) still has them" test -n "$(leaked_all | grep "^$(pfx n2)\.")"
csd_start n2 -c "$TMP/n2.json" -p "$(pfx n2)" || exit 1
none_left() { test -z "$(leaked_all)"; }
check "restarted n2 removed them too" wait_for 10 none_left
leaked_all | head
# stopped on purpose, a csd revokes its lease: down at once, not after the TTL
check "n2 is up" wait_for 5 node_is n1 n2 up
kill -TERM "$(csd_pid n2)"
wait "$(csd_pid n2)" 2>/dev/null
check "n2 stopped with SIGTERM is shown down within 1 s" wait_for 1 node_is n1 n2 down
finish
