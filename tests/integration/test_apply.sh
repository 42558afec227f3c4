#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Declarative operation on a real csd (kernel backend): apply
# examples/two-tenants.json, programs of each tenant talk by name and cannot
# reach the other tenant (every negative probe paired with a positive one from
# the same endpoint), export then apply changes nothing, editing the file
# removes what it no longer declares, a dual-stack vnet carries TCP and ping
# over IPv6, prune takes everything away and nothing leaks.
. "$(dirname "$0")/lib.sh"

SRC=${CS_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
GREET=$CS_BUILD/examples/greet
FILE=$SRC/examples/two-tenants.json

ETCD_PID=
cleanup_apply() {
	[ -n "$ETCD_PID" ] && kill -9 "$ETCD_PID" 2>/dev/null
	cleanup
}
trap cleanup_apply EXIT

host_add a
csd_start a || exit 1
export CS_SOCKET=$TMP/a/csd.sock

out=$(ctl a apply -f "$FILE" --dry-run)
check "a dry run says nothing was changed" grep -q "nothing was changed" <<<"$out"
check "a dry run creates nothing" test -z "$(ctl a endpoint list | tail -n +2)"
check "apply examples/two-tenants.json" ctl a apply -f "$FILE"
check "five endpoints, all up" test "$(ctl a endpoint list | tail -n +2 | grep -c ' up ')" = 5
check "files has its fixed address" test "$(ctl a -j endpoint show umbrella/blue/files |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["address"])')" = 10.0.0.9

# programs of each tenant talk by name over their own vnet
for t in acme umbrella; do
	"$GREET" serve $t/blue db 7100 >"$TMP/greet-$t.log" 2>&1 &
	BG_PIDS+=($!)
done
for t in acme umbrella; do
	for i in $(seq 50); do
		out=$("$GREET" ask $t/blue web db 7100 2>&1) && break
		sleep 0.1
	done
	check "$t/blue/web greets $t/blue/db by name: $out" \
		grep -q "^$t/blue/db says hello back to $t/blue/web" <<<"$out"
done

# and cannot reach each other: same subnet, separate vnets
bg_ep a umbrella/blue/files "$PROBE" serve 7000
bg_ep a acme/blue/db "$PROBE" serve 7001
sleep 0.3
check "umbrella web reaches its files (10.0.0.9) over tcp" in_ep a umbrella/blue/web "$PROBE" tcp 10.0.0.9 7000
check_not "acme web cannot reach umbrella's files (10.0.0.9) over tcp" in_ep a acme/blue/web "$PROBE" tcp 10.0.0.9 7000 500
check "acme web reaches its db (10.0.0.3) over tcp" in_ep a acme/blue/web "$PROBE" tcp 10.0.0.3 7001
check_not "umbrella web cannot reach acme's db port over tcp" in_ep a umbrella/blue/web "$PROBE" tcp 10.0.0.3 7001 500
check "umbrella web pings 10.0.0.9" in_ep a umbrella/blue/web ping -c1 -W1 -q 10.0.0.9
check_not "acme web cannot ping 10.0.0.9" in_ep a acme/blue/web ping -c1 -W1 -q 10.0.0.9

# export, then apply: no change, the store does not move
ctl a export >"$TMP/export.json"
rev=$(revision a)
out=$(ctl a apply -f "$TMP/export.json")
check "apply(export()) changes nothing: $out" grep -q "^no changes" <<<"$out"
check "apply(export()) leaves the store revision at $rev" test "$(revision a)" = "$rev"
out=$(ctl a apply -f "$FILE")
check "applying the file again changes nothing" grep -q "^no changes" <<<"$out"

# edit the file: files goes, its namespace with it
python3 - "$FILE" "$TMP/edited.json" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
del f["vnets"]["umbrella/blue"]["endpoints"]["files"]
f["vnets"]["acme/six"] = {"subnet": ["10.9.0.0/24", "fd00:9::/64"],
                          "endpoints": {"a": {}, "b": {}}}
json.dump(f, open(sys.argv[2], "w"), indent=2)
PY
out=$(ctl a apply -f "$TMP/edited.json" --dry-run)
check "the dry run plans to delete files" grep -q -- "- umbrella/blue/files" <<<"$out"
check "the dry run left files' namespace" test -e "/run/netns/$PFX.umbrella.blue.files"
out=$(ctl a apply -f "$TMP/edited.json")
check "apply of the edited file deletes files" grep -q -- "- umbrella/blue/files" <<<"$out"
check "files is gone from the store" test -z "$(ctl a endpoint list umbrella/blue | grep files)"
check "files' namespace is gone" test ! -e "/run/netns/$PFX.umbrella.blue.files"
check "the other endpoints are untouched" test "$(ctl a endpoint list | tail -n +2 | grep -c ' up ')" = 6

# IPv6: a dual-stack vnet, TCP and ping between its endpoints
check "acme/six/b has fd00:9::3" grep -q "fd00:9::3" <<<"$(ctl a endpoint show acme/six/b)"
# duplicate address detection: wait until neither address is tentative
for e in a b; do
	for i in $(seq 100); do
		[ -z "$(ip -n "$PFX.acme.six.$e" -6 addr show tentative 2>/dev/null)" ] && break
		sleep 0.1
	done
done
bg_ep a acme/six/b "$PROBE" serve 7200
sleep 0.3
check "acme/six/a reaches fd00:9::3 over TCP/IPv6" in_ep a acme/six/a "$PROBE" tcp fd00:9::3 7200
check "acme/six/a reaches 10.9.0.3 over TCP/IPv4" in_ep a acme/six/a "$PROBE" tcp 10.9.0.3 7200
check "acme/six/a pings fd00:9::3" in_ep a acme/six/a ping -6 -c1 -W2 -q fd00:9::3
check_not "acme/blue/web cannot reach fd00:9::3" in_ep a acme/blue/web "$PROBE" tcp fd00:9::3 7200 500
check "acme/blue/web still reaches its db" in_ep a acme/blue/web "$PROBE" tcp 10.0.0.3 7001

# a refused apply changes nothing
rev=$(revision a)
echo '{"tenants": {"acme": {}}, "vnets": {"acme/blue": {"subnet": "10.0.0.0/24", "endpoints": {"x": {"address": "10.0.0.1"}}}}}' >"$TMP/bad.json"
check_not "a file with a reserved address is refused" ctl a apply -f "$TMP/bad.json"
check "the refusal names the JSON path" sh -c "'$CTL' -S '$TMP/a/csd.sock' apply -f '$TMP/bad.json' 2>&1 | grep -q 'vnets.\"acme/blue\".endpoints.x.address: 10.0.0.1 is reserved'"
check "the refused apply left the store at revision $rev" test "$(revision a)" = "$rev"

# every error of a file in one answer (cs-ctl leaves the checks to csd):
# schema, an undeclared tenant and node, a rule without an action, a
# reserved address
cat >"$TMP/many.json" <<'EOF'
{"tenants": {"acme": {}}, "vnets": {
  "acme/blue": {"subnet": "10.0.0.0/24", "mtu": "big",
                "endpoints": {"x": {"address": "10.0.0.1"}}},
  "ghost/x": {"subnet": "10.41.0.0/24"},
  "acme/pol": {"subnet": "10.42.0.0/24", "nodes": ["nosuch"],
               "policy": {"default": "deny",
                          "rules": [{"from": "any", "to": "any", "proto": "tcp"}]}}}}
EOF
out=$(ctl a apply -f "$TMP/many.json" 2>&1)
for want in 'vnets."acme/blue".mtu' 'tenant ghost is not declared' \
	'vnets."acme/pol".nodes[0]: node nosuch is not declared' 'vnets."acme/pol".policy.rules[0]' \
	'vnets."acme/blue".endpoints.x.address: 10.0.0.1 is reserved'; do
	check "one run names $want" grep -qF "$want" <<<"$out"
done
check "and changed nothing" test "$(revision a)" = "$rev"

# node create and vnet create refuse what apply refuses, so that export
# always applies again
for ul in 0.0.0.0 :: 127.0.0.1 224.0.0.5; do
	out=$(ctl a node create n6 underlay $ul 2>&1)
	check "node create with underlay $ul is refused: $out" grep -q "which other nodes cannot send to" <<<"$out"
done
check "node create n2 underlay 192.0.2.2" ctl a node create n2 underlay 192.0.2.2
out=$(ctl a node create n5 underlay 192.0.2.2 2>&1)
check "a second node with n2's underlay is refused: $out" \
	grep -q "192.0.2.2 is also the underlay address of node n2" <<<"$out"
out=$(ctl a vnet create acme/far subnet 10.50.0.0/24 nodes nosuch 2>&1)
check "a vnet on an undeclared node is refused: $out" grep -q "node nosuch is not declared" <<<"$out"
check "the vnet on a declared node is created" ctl a vnet create acme/far subnet 10.50.0.0/24 nodes n2
ctl a export >"$TMP/export2.json"
rev=$(revision a)
out=$(ctl a apply -f "$TMP/export2.json" 2>&1)
check "after the creates, apply(export()) changes nothing: $out" grep -q "^no changes" <<<"$out"
check "and leaves the store at revision $rev" test "$(revision a)" = "$rev"
check "vnet delete acme/far" ctl a vnet delete acme/far
check "node delete n2" ctl a node delete n2

# prune with an empty file takes every tenant away
for p in "${BG_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
BG_PIDS=()
pid=$(csd_pid a); before=$(fd_count "$pid")
echo '{}' >"$TMP/empty.json"
check "apply --prune of an empty file" ctl a apply --prune -f "$TMP/empty.json"
check "no tenant is left" test -z "$(ctl a tenant list | tail -n +2)"
check "csd fds did not grow" test "$(fd_count "$pid")" -le "$before"
check "nothing leaked (no namespace with the prefix)" test -z "$(leaked)"

# an apply larger than etcd's --max-txn-ops says what to do, changes nothing
# (an etcd of its own on host e's loopback, allowing 8 operations)
if command -v etcd >/dev/null; then
	host_add e
	mkdir -p "$TMP/etcd"
	nsenter --net="/run/netns/${PFX}he" etcd --name e --data-dir "$TMP/etcd/data" \
		--listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
		--listen-peer-urls http://127.0.0.1:2380 --max-txn-ops 8 >"$TMP/etcd/log" 2>&1 &
	ETCD_PID=$!
	echo '{ "store": { "type": "etcd", "endpoints": ["http://127.0.0.1:2379"] } }' >"$TMP/e.json"
	csd_start e -c "$TMP/e.json" -p "${PFX}9" || exit 1
	# csd registers its node (and its liveness) in etcd once it is up:
	# wait for that, so that only the apply could move the revision
	for i in $(seq 100); do
		ctl e -j node show e 2>/dev/null | grep -q '"state": "up"' && break
		sleep 0.1
	done
	python3 -c 'import json; print(json.dumps({"tenants": {"t%d" % i: {} for i in range(12)}}))' >"$TMP/big.json"
	rev=$(revision e)
	out=$(ctl e apply -f "$TMP/big.json" 2>&1)
	check "an apply of 12 tenants on an etcd of --max-txn-ops 8 is refused: $out" \
		grep -q "the change needs 12 store operations and 12 compares, more than etcd accepts in one transaction (--max-txn-ops" <<<"$out"
	check "the refusal says what to do" grep -q "start etcd with a larger --max-txn-ops (e.g. 12) or apply the file in parts; nothing was changed" <<<"$out"
	check "and nothing was changed (revision $rev)" test "$(revision e)" = "$rev"
	python3 -c 'import json; print(json.dumps({"tenants": {"t%d" % i: {} for i in range(6)}}))' >"$TMP/part.json"
	check "the file in parts applies (6 tenants)" ctl e apply -f "$TMP/part.json"
else
	echo "# etcd not installed: the --max-txn-ops refusal is not tested"
fi
finish
