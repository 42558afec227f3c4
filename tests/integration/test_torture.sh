#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Crash torture: kill -9 csd at random moments while it applies a large
# overlay (>= 50 endpoints), alternating between two versions of the file,
# ROUNDS times. After each restart the kernel converges to what the store
# declares, an established connection between two endpoints that both
# versions keep survives, and nothing leaks; at the end everything is
# deleted and nothing is left.   CS_TORTURE_ROUNDS (default 20)
. "$(dirname "$0")/lib.sh"

ROUNDS=${CS_TORTURE_ROUNDS:-20}
host_add a
csd_start a || exit 1

# version A: 10 vnets x 6 endpoints; version B drops e5 everywhere and adds e6
gen() { # gen A|B
	python3 - "$1" <<'PY'
import json, sys
v = sys.argv[1]
f = {"tenants": {"t1": {}, "t2": {}}, "vnets": {}}
for i in range(10):
    eps = {"keep": {}, "peer": {}}
    for j in range(4):
        eps["e%d" % j] = {}
    eps["e5" if v == "A" else "e6"] = {}
    f["vnets"]["t%d/v%d" % (1 + i % 2, i)] = {"subnet": "10.%d.0.0/24" % (100 + i), "endpoints": eps}
print(json.dumps(f))
PY
}
gen A > "$TMP/A.json"; gen B > "$TMP/B.json"

check "initial apply of 70 endpoints" ctl a apply -f "$TMP/A.json" >/dev/null
bg_ep a t1/v0/peer "$PROBE" serve 7000
sleep 0.2
bg_ep a t1/v0/keep "$PROBE" stream 10.100.0.3 7000 "$TMP/stream"
sleep 0.3

# desired (store) vs realized (kernel) endpoint names
desired() { ctl a -j endpoint list | python3 -c 'import json,sys; print("\n".join(sorted(e["name"] for e in json.load(sys.stdin))))'; }
realized() { ls /run/netns | sed -n "s/^$PFX\.\([^.]*\)\.\([^.]*\)\.\([^.]*\)$/\1\/\2\/\3/p" | sort; }
all_up() { ctl a endpoint list | tail -n +2 | awk '$4 != "up" {bad=1} END {exit bad}'; }

bad=0
for r in $(seq "$ROUNDS"); do
	f=$TMP/A.json; [ $((r % 2)) = 0 ] && f=$TMP/B.json
	ctl a apply -f "$f" >/dev/null 2>&1 &
	apid=$!
	sleep "0.$(printf '%03d' $((RANDOM % 400)))"
	kill -9 "$(csd_pid a)"; wait "$(csd_pid a)" 2>/dev/null; wait $apid 2>/dev/null
	csd_start a || { bad=1; break; }
	# converged: every declared endpoint realized and up, nothing extra
	ok=0
	for i in $(seq 100); do
		if [ "$(desired)" = "$(realized)" ] && all_up; then ok=1; break; fi
		sleep 0.1
	done
	n=$(desired | wc -l)
	if [ $ok = 1 ] && [ "$n" -ge 60 ]; then
		echo "round $r: converged with $n endpoints"
	else
		fail "round $r: store and kernel differ ($n declared)"; diff <(desired) <(realized) | head; bad=1
	fi
done
[ $bad = 0 ] && ok "$ROUNDS kill -9 during apply: each restart converged to the declared state"

# finish on a known version: apply completes and matches it
check "apply B completes after the torture" ctl a apply -f "$TMP/B.json"
check "declared state is exactly B" test "$(desired | grep -c '/e6$')" = 10 -a "$(desired | grep -c '/e5$')" = 0
check "no declared object lost" test "$(desired | wc -l)" = 70
check "the established connection survived every crash" \
	bash -c "grep -q '^ok' '$TMP/stream' && ! grep -q '^fail\|connect-failed' '$TMP/stream'"
pid=$(csd_pid a); before=$(fd_count "$pid")
check "apply is a no-op now" bash -c "'$CTL' -S '$TMP/a/csd.sock' apply -f '$TMP/B.json' | grep -qi 'no change\|0 created, 0 updated, 0 deleted'"
check "csd fds stable" test "$(fd_count "$pid")" -le "$before"
for p in "${BG_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
ctl a tenant delete t1; ctl a tenant delete t2
check "nothing leaked" test -z "$(leaked)"
finish
