#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# cs-ctl exec for a non-root owner (csd starts the program as the caller
# under a supervisor of its own): uid, exit status, environment, working
# directory, signals, surviving a csd crash, no way out of the namespace,
# other uids refused; and the audit log of accepted and refused changes.
. "$(dirname "$0")/lib.sh"

host_add a
csd_start a || exit 1
# the programs start in cs-ctl's working directory, which must be one the
# caller may enter (the build tree may sit under a directory only root reads)
cd "$TMP"

as() { local u=$1; shift; setpriv --reuid "$u" --regid "$u" --clear-groups "$CTL" -S "$TMP/a/csd.sock" "$@"; }
# in the background without a subshell, so that $! is cs-ctl itself
AS1000=(setpriv --reuid 1000 --regid 1000 --clear-groups "$CTL" -S "$TMP/a/csd.sock")
W=$TMP/work
mkdir -p "$W"
chmod 1777 "$W"

check "root creates tenant acme owned by uid 1000" ctl a tenant create acme owners.uids 1000
check "uid 1000 creates a vnet" as 1000 vnet create acme/blue subnet 10.1.0.0/24
check "uid 1000 creates an endpoint" as 1000 endpoint create acme/blue/web

out=$(as 1000 exec acme/blue/web -- id -u 2>&1)
check "exec id -u prints the caller's uid (said: $out)" test "$out" = 1000
out=$(as 1000 exec acme/blue/web -- id -G 2>&1)
check "the program has the caller's groups only (said: $out)" test "$out" = 1000
out=$(as 1000 exec acme/blue/web -- cat /proc/self/status 2>&1)
check "the program has no capabilities" grep -q '^CapEff:[[:space:]]*0*$' <<<"$out"
check "the program has no_new_privs" grep -q '^NoNewPrivs:[[:space:]]*1$' <<<"$out"

as 1000 exec acme/blue/web -- sh -c 'exit 7'; rc=$?
check "exit status propagates (7, got $rc)" test $rc = 7
as 1000 exec acme/blue/web -- /nonexistent/cmd 2>/dev/null; rc=$?
check "a command not found exits 127 (got $rc)" test $rc = 127
out=$(FOO=bar as 1000 exec acme/blue/web -- sh -c 'echo "$FOO"')
check "environment reaches the program (FOO=$out)" test "$out" = bar
out=$(cd "$W" && as 1000 exec acme/blue/web -- pwd)
check "working directory is the caller's ($out)" test "$out" = "$W"
out=$(cd "$W" && as 1000 exec acme/blue/web -- sh -c 'umask' )
check "umask is the caller's ($out)" test "$out" = "$(umask)"
out=$(echo hello | as 1000 exec acme/blue/web -- cat)
check "stdin reaches the program" test "$out" = hello
as 1000 exec acme/blue/web -- sh -c 'echo err >&2' 2>"$W/err" >/dev/null
check "stderr is the caller's" grep -qx err "$W/err"
out=$(as 1000 exec acme/blue/web -- cat /sys/class/net/eth0/address 2>&1)
check "the program sees the endpoint's eth0" test -n "$out"
ns_in=$(as 1000 exec acme/blue/web -- readlink /proc/self/ns/net)
check "the program is in the endpoint's namespace, not csd's" \
	bash -c "[ '$ns_in' = \"\$(ip netns exec $PFX.acme.blue.web readlink /proc/self/ns/net)\" ]"

# no way out of the namespace, no raw sockets
check_not "unshare -n fails inside" as 1000 exec acme/blue/web -- unshare -n true 2>/dev/null
check_not "nsenter into the host namespace fails inside" \
	as 1000 exec acme/blue/web -- nsenter --net=/proc/1/ns/net true 2>/dev/null
check_not "ip link add fails inside" as 1000 exec acme/blue/web -- ip link add x type veth 2>/dev/null
check_not "a raw socket is refused inside" as 1000 exec acme/blue/web -- \
	python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, 1)' 2>/dev/null

# a signal to cs-ctl reaches the program; cs-ctl exits as the program did
wait_file() { local i; for i in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.05; done; return 1; }
"${AS1000[@]}" exec acme/blue/web -- sh -c "echo \$\$ > $W/sig.pid; exec sleep 30" &
ctl_pid=$!
BG_PIDS+=($ctl_pid)
wait_file "$W/sig.pid"
prog=$(cat "$W/sig.pid")
BG_PIDS+=($prog)
check "the program runs as uid 1000" test "$(stat -c %u /proc/$prog)" = 1000
kill -TERM $ctl_pid
wait $ctl_pid; rc=$?
check "SIGTERM to cs-ctl ends the program and cs-ctl exits 143 (got $rc)" test $rc = 143
check_not "the program is gone" kill -0 "$prog" 2>/dev/null

# the program outlives a csd crash and restart; its status still arrives
"${AS1000[@]}" exec acme/blue/web -- sh -c "echo \$\$ > $W/long.pid; exec sleep 30" &
ctl_pid=$!
BG_PIDS+=($ctl_pid)
wait_file "$W/long.pid"
prog=$(cat "$W/long.pid")
BG_PIDS+=($prog)
csd=$(csd_pid a)
check "csd has no child process left after exec" test -z "$(ps -o pid= --ppid "$csd")"
kill -9 "$csd"
wait "$csd" 2>/dev/null
sleep 0.2
check "the program survives csd killed -9" kill -0 "$prog"
csd_start a || exit 1
check "the program survives csd restarted" kill -0 "$prog"
check "the program is still in the endpoint" \
	test "$(readlink /proc/$prog/ns/net)" = "$(ip netns exec $PFX.acme.blue.web readlink /proc/self/ns/net)"
kill -TERM "$prog"
wait $ctl_pid; rc=$?
check "its exit status reaches cs-ctl after the restart (143, got $rc)" test $rc = 143

# another uid sees nothing and may exec nothing
out=$(as 1001 exec acme/blue/web -- id -u 2>&1); rc=$?
check "uid 1001 is refused exec (rc $rc)" test $rc = 1
check "uid 1001 sees \"no such tenant\" ($out)" grep -q "no such tenant" <<<"$out"
out=$(as 1001 vnet create acme/red subnet 10.2.0.0/24 2>&1); rc=$?
check "uid 1001 is refused a change (rc $rc)" test $rc = 1

# the audit log, after the restart: a change and an exec, refused and accepted
as 1000 endpoint create acme/blue/db >/dev/null
as 1001 endpoint create acme/blue/x >/dev/null 2>&1
as 1000 exec acme/blue/db -- true
as 1001 exec acme/blue/db -- true 2>/dev/null
in_ep a acme/blue/db true
st=$(ctl a status)
echo "$st" | sed -n '/^audit/,$p'
check "audit: accepted change with uid and verdict" \
	grep -Eq '^[^ ]+ +1000 +[0-9]+ +endpoint.create +acme/blue/db +ok' <<<"$st"
check "audit: refused change with uid and verdict" \
	grep -Eq '^[^ ]+ +1001 +[0-9]+ +endpoint.create +acme/blue/x +ENOENT' <<<"$st"
check "audit: accepted exec with the program's pid" \
	grep -Eq '^[^ ]+ +1000 +[0-9]+ +endpoint.exec +acme/blue/db +ok +pid [0-9]+' <<<"$st"
check "audit: refused exec" \
	grep -Eq '^[^ ]+ +1001 +[0-9]+ +endpoint.exec +acme/blue/db +ENOENT' <<<"$st"
check "audit: root's exec (endpoint.netns)" \
	grep -Eq '^[^ ]+ +0 +[0-9]+ +endpoint.netns +acme/blue/db +ok' <<<"$st"
check "audit in the log" grep -q 'audit: uid 1001 pid [0-9]* endpoint.exec acme/blue/db: refused ENOENT' "$TMP/a/csd.log"
check "-j status has the audit array" bash -c "'$CTL' -S '$TMP/a/csd.sock' -j status | python3 -c '
import json, sys
a = json.load(sys.stdin)[\"audit\"]
assert any(e[\"uid\"] == 1000 and e[\"op\"] == \"endpoint.exec\" and e[\"verdict\"] == \"ok\" for e in a), a
assert any(e[\"uid\"] == 1001 and e[\"verdict\"] == \"ENOENT\" and e[\"message\"] for e in a), a'"
out=$(as 1000 -j status)
check "a non-administrator sees only their own audit entries" python3 -c '
import json, sys
a = json.loads(sys.argv[1])["audit"]
assert a and all(e["uid"] == 1000 for e in a), a' "$out"

# exec of an endpoint placed on another node names that node
cat >"$TMP/wide.json" <<'EOF2'
{"tenants": {"wide": {"owners": {"uids": [1000]}}},
 "nodes": {"a": {"underlay": "192.0.2.1"}, "far": {"underlay": "192.0.2.9"}},
 "vnets": {"wide/net": {"subnet": "10.5.0.0/24", "id": 4242, "nodes": ["a", "far"],
   "endpoints": {"here": {"node": "a"}, "there": {"node": "far"}}}}}
EOF2
check "a vnet across node a and node far" ctl a apply -f "$TMP/wide.json"
out=$(ctl a exec wide/net/there -- true 2>&1); rc=$?
check "root's exec on far's endpoint says where it lives (rc $rc: $out)" \
	test $rc = 1 -a "$out" = "cs-ctl: endpoint wide/net/there lives on node far; run exec there (cs-ctl -S with that node's csd socket)"
out=$(as 1000 exec wide/net/there -- true 2>&1); rc=$?
check "uid 1000's as well (rc $rc: $out)" grep -q "lives on node far" <<<"$out"

# an ephemeral endpoint whose program died while csd was down is gone after
# csd restarts (the start-up reconcile), kernel namespace included, quietly
check "vnet acme/red for the relay" ctl a vnet create acme/red subnet 10.2.0.0/24
CS_SOCKET=$TMP/a/csd.sock "$CS_BUILD/examples/relay" acme/blue acme/red db 7002 tmp >"$W/relay.out" &
relay=$!
BG_PIDS+=($relay)
wait_file "$W/relay.out"
check "relay made ephemeral acme/blue/tmp" ctl a endpoint show acme/blue/tmp
check "and its namespace" test -e /run/netns/$PFX.acme.blue.tmp
csd=$(csd_pid a)
kill -9 "$csd"; wait "$csd" 2>/dev/null
kill -9 "$relay"; wait "$relay" 2>/dev/null
: >"$TMP/a/csd.log"
csd_start a || exit 1
check_not "after the restart acme/blue/tmp is gone from the store" ctl a endpoint show acme/blue/tmp 2>/dev/null
check_not "and acme/red/tmp" ctl a endpoint show acme/red/tmp 2>/dev/null
check_not "its namespace is gone" test -e /run/netns/$PFX.acme.blue.tmp
check_not "acme/red/tmp's namespace is gone" test -e /run/netns/$PFX.acme.red.tmp
kill -HUP "$(csd_pid a)"
sleep 0.5
check "the restart and a SIGHUP after it warned nothing ($(grep -i warn "$TMP/a/csd.log" | head -3))" \
	bash -c "! grep -qi 'warn' '$TMP/a/csd.log'"
check "the log says why they went" grep -q "ephemeral endpoint acme/blue/tmp deleted: its owner is gone" "$TMP/a/csd.log"

# a hung csd: cs-ctl gives up after its timeout, naming the socket and the
# stopped process; exec's program itself is never limited
csd=$(csd_pid a)
kill -STOP "$csd"
t0=$(date +%s%N)
out=$(ctl a --timeout 2 status 2>&1); rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "status against a stopped csd exits 1 (got $rc) after the 2 s timeout ($ms ms)" \
	test $rc = 1 -a $ms -ge 1900 -a $ms -lt 4000
check "the message names the socket, the timeout and the stopped pid ($out)" grep -q \
	"csd at $TMP/a/csd.sock did not answer within 2 s; is it running? (csd is pid $csd, stopped: kill -CONT $csd)" <<<"$out"
out=$(CS_TIMEOUT=1 ctl a tenant list 2>&1); rc=$?
check "\$CS_TIMEOUT=1 bounds the wait as well (rc $rc)" grep -q "within 1 s" <<<"$out"
out=$(ctl a --timeout 1 exec acme/blue/web -- true 2>&1); rc=$?
check "root's exec against the stopped csd exits 1 as well (rc $rc: $out)" \
	bash -c "[ $rc = 1 ] && grep -q 'did not answer' <<<\"\$1\"" _ "$out"
out=$(as 1000 --timeout 1 exec acme/blue/web -- true 2>&1); rc=$?
check "uid 1000's exec too (rc $rc: $out)" \
	bash -c "[ $rc = 1 ] && grep -q 'did not answer' <<<\"\$1\"" _ "$out"
kill -CONT "$csd"
check "csd answers again after SIGCONT" ctl a --timeout 2 status
check "--timeout does not limit exec's program (root)" ctl a --timeout 1 exec acme/blue/web -- sleep 2
check "--timeout does not limit exec's program (uid 1000)" as 1000 --timeout 1 exec acme/blue/web -- sleep 2
check_not "--timeout x is a usage error" bash -c "'$CTL' --timeout x status 2>/dev/null; [ \$? != 2 ]"

check "no leftover program" test -z "$(pgrep -u 1000 -f "sleep 30")"
finish
