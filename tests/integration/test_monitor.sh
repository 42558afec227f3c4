#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# cs-ctl monitor: events in order for tenant/vnet/endpoint create and delete,
# with who made them and the endpoint's state; filtered by role (an owner
# sees its tenant and not another's, paired with that other's owner who
# sees its own); -j lines parse as JSON; a csd restart loses nothing
# committed while the monitor's csd was away; a monitor that never reads is
# disconnected once it leaves limits.monitor unread, and csd still answers;
# monitors count against their uid's limits.connections.
. "$(dirname "$0")/lib.sh"

MONSLOW=$CS_BUILD/tests/integration/monslow
U1=4242
U2=4243
as() { local u=$1; shift; setpriv --reuid "$u" --regid "$u" --clear-groups "$CTL" -S "$TMP/a/csd.sock" "$@"; }
# bgmon OUT ERR UID|root ARGS...: cs-ctl ARGS in the background as that
# user, its own pid in BG_PIDS (killed at cleanup)
bgmon() {
	local out=$1 err=$2 u=$3; shift 3
	if [ "$u" = root ]; then
		"$CTL" -S "$TMP/a/csd.sock" "$@" >"$out" 2>"$err" &
	else
		setpriv --reuid "$u" --regid "$u" --clear-groups "$CTL" -S "$TMP/a/csd.sock" "$@" \
			>"$out" 2>"$err" &
	fi
	BG_PIDS+=($!)
}
# wait_for FILE REGEX: up to 10 s for a line to appear
wait_for() {
	local i
	for i in $(seq 100); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
	echo "  (no line matching $2 in $1:)"; sed 's/^/  | /' "$1"
	return 1
}
# in_order FILE REGEX...: each REGEX matches a line after the previous one's
in_order() {
	local f=$1 at=0 n; shift
	for re in "$@"; do
		n=$(grep -n -- "$re" "$f" | cut -d: -f1 | awk -v a="$at" '$1 > a { print; exit }')
		[ -n "$n" ] || { echo "  ($re not after line $at of $f)"; return 1; }
		at=$n
	done
}

# stop the monitors started so far (not csd)
stop_bg() {
	local p
	for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	BG_PIDS=()
}

host_add a
echo '{"limits": {"monitor": 16384, "connections": 4}}' >"$TMP/a.json"
csd_start a -c "$TMP/a.json" || exit 1

# ---- order, who, state; -j ----
bgmon "$TMP/all.json" "$TMP/all.err" root -j monitor
bgmon "$TMP/u1.txt" "$TMP/u1.err" $U1 monitor
bgmon "$TMP/u2.txt" "$TMP/u2.err" $U2 monitor
sleep 0.5
ctl a tenant create acme owners.uids $U1 >/dev/null
ctl a vnet create acme/blue subnet 10.77.0.0/24 >/dev/null
bgmon "$TMP/blue.txt" "$TMP/blue.err" root monitor acme/blue
sleep 0.3
ctl a endpoint create acme/blue/web >/dev/null
as $U1 endpoint create acme/blue/db >/dev/null
as $U2 tenant create zeta >/dev/null
ctl a endpoint delete acme/blue/web >/dev/null
ctl a tenant delete acme >/dev/null
as $U2 tenant delete zeta >/dev/null

check "the administrator's monitor sees the last change" wait_for "$TMP/all.json" '"name":"zeta".*"verb":"delete"'
check "-j: every line is one JSON object" python3 -c '
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert lines, "no lines"
revs = [json.loads(l)["revision"] for l in lines]
assert revs == sorted(revs), revs' "$TMP/all.json"
check "in order: tenant, vnet, endpoints created, then deleted" in_order "$TMP/all.json" \
	'"object":"tenant","name":"acme","verb":"create"' \
	'"object":"vnet","name":"acme/blue","verb":"create"' \
	'"object":"endpoint","name":"acme/blue/web","verb":"create"' \
	'"object":"endpoint","name":"acme/blue/db","verb":"create"' \
	'"object":"endpoint","name":"acme/blue/web","verb":"delete"' \
	'"object":"endpoint","name":"acme/blue/db","verb":"delete"' \
	'"object":"tenant","name":"acme","verb":"delete"'
check "who: uid and op of a change made through this csd" \
	grep -q '"name":"acme/blue/db","verb":"create","uid":'$U1',"op":"endpoint.create"' "$TMP/all.json"
check "state: a created endpoint went from pending to up" \
	grep -q '"name":"acme/blue/web","verb":"create".*"was":"pending","state":"up"' "$TMP/all.json"

check "the owner sees its tenant's changes" wait_for "$TMP/u1.txt" ' tenant delete acme'
check "... in order, as text" in_order "$TMP/u1.txt" ' tenant create acme' ' vnet create acme/blue' \
	' endpoint create acme/blue/web pending->up' ' endpoint create acme/blue/db pending->up uid='$U1 \
	' endpoint delete acme/blue/web' ' tenant delete acme'
check_not "... and nothing of another tenant" grep -q zeta "$TMP/u1.txt"
check "the other owner sees its own tenant" wait_for "$TMP/u2.txt" ' tenant delete zeta'
check_not "... and nothing of acme" grep -q acme "$TMP/u2.txt"
check "a vnet's monitor sees its endpoints" in_order "$TMP/blue.txt" \
	' endpoint create acme/blue/web' ' endpoint create acme/blue/db' ' endpoint delete acme/blue/web' \
	' vnet delete acme/blue'
check_not "... and not the tenants" grep -q -e ' tenant ' -e zeta "$TMP/blue.txt"

ctl a tenant create priv owners.uids $U1 >/dev/null
check_not "a monitor of a tenant the caller may not see is refused" as $U2 monitor priv
as $U2 monitor priv 2>"$TMP/refused.err"
check "... naming it" grep -q 'priv' "$TMP/refused.err"
timeout 1 setpriv --reuid $U1 --regid $U1 --clear-groups "$CTL" -S "$TMP/a/csd.sock" monitor priv
check "... while its owner's runs (until stopped)" test $? = 124
check_not "a bad filter is a usage of the op refused" ctl a monitor 'a/b/c/d'

stop_bg

# ---- resume after a restart ----
bgmon "$TMP/re.json" "$TMP/re.err" root -j monitor
sleep 0.3
ctl a tenant create r1 >/dev/null
check "the monitor runs" wait_for "$TMP/re.json" '"name":"r1","verb":"create"'
kill -TERM "$(csd_pid a)"; wait "$(csd_pid a)" 2>/dev/null
# changes made while the monitor cannot reach its csd: through a csd on
# another socket, on the same state directory
nsenter --net="/run/netns/${PFX}ha" "$CSD" -S "$TMP/alt.sock" -D "$TMP/a/state" -p "$PFX" -n a \
	-c "$TMP/a.json" 2>>"$TMP/a/csd.log" &
alt=$!
CSD_PIDS+=($alt)
for i in $(seq 100); do "$CTL" -S "$TMP/alt.sock" status >/dev/null 2>&1 && break; sleep 0.05; done
"$CTL" -S "$TMP/alt.sock" tenant create r2 >/dev/null
"$CTL" -S "$TMP/alt.sock" vnet create r2/v subnet 10.78.0.0/24 >/dev/null
"$CTL" -S "$TMP/alt.sock" tenant delete r1 >/dev/null
kill -TERM $alt; wait $alt 2>/dev/null
check "the monitor waits for csd" wait_for "$TMP/re.err" 'reconnecting'
csd_start a -c "$TMP/a.json" || exit 1
check "after the restart it has what was committed meanwhile" wait_for "$TMP/re.json" '"name":"r1","verb":"delete"'
check "... all of it, in order" in_order "$TMP/re.json" '"name":"r1","verb":"create"' \
	'"name":"r2","verb":"create"' '"name":"r2/v","verb":"create"' '"name":"r1","verb":"delete"'
check "... each once" test "$(grep -c '"name":"r1","verb":"create"' "$TMP/re.json")" = 1
check "... and says where it resumed" grep -q 'resumed from revision' "$TMP/re.err"
ctl a tenant create r3 >/dev/null
check "... and follows on" wait_for "$TMP/re.json" '"name":"r3","verb":"create"'
ctl a tenant delete r2 >/dev/null
ctl a tenant delete r3 >/dev/null
stop_bg

# ---- a monitor that never reads ----
"$MONSLOW" "$TMP/a/csd.sock" "$TMP/ready" "$TMP/go" >"$TMP/slow.out" &
slow=$!
BG_PIDS+=($slow)
for i in $(seq 100); do [ -e "$TMP/ready" ] && break; sleep 0.05; done
python3 -c '
import json
print(json.dumps({"tenants": {"s%04d" % i: {} for i in range(1500)}}))' >"$TMP/many.json"
ctl a apply -f "$TMP/many.json" >/dev/null
check "csd disconnects the monitor that leaves more than its bound unread" \
	wait_for "$TMP/a/csd.log" 'leaves more than 16384 bytes of events unread'
check "... and still answers others" ctl a tenant show s0001
touch "$TMP/go"
wait $slow
check "... the monitor finds its connection closed" grep -q '^closed ' "$TMP/slow.out"
n=$(awk '{print $2}' "$TMP/slow.out")
check "... having had part of the events ($n of 1500)" test "${n:-0}" -gt 0 -a "${n:-0}" -lt 1500
stop_bg

# ---- monitors are connections of their uid ----
for i in 1 2 3 4; do bgmon "$TMP/c$i.txt" "$TMP/c$i.err" $U1 monitor; done
# all four connected (the administrator's status is the fifth client)
for i in $(seq 50); do
	[ "$(ctl a -j status | python3 -c 'import json,sys; print(json.load(sys.stdin)["clients"])')" -ge 5 ] && break
	sleep 0.1
done
as $U1 status >/dev/null 2>"$TMP/conn.err"
check "four monitors hold uid $U1's four connections: a fifth is refused" \
	grep -q 'limits.connections\|connections' "$TMP/conn.err"
check "... while another uid is answered" as $U2 status
kill "${BG_PIDS[0]}"; wait "${BG_PIDS[0]}" 2>/dev/null
ok_after_close() { local i; for i in $(seq 50); do as $U1 status >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }
check "... and once one monitor closes, uid $U1 is answered again" ok_after_close
stop_bg

echo '{"tenants": {}}' >"$TMP/none.json"
ctl a apply -f "$TMP/none.json" --prune >/dev/null

check "nothing leaked" test -z "$(leaked)"
finish
