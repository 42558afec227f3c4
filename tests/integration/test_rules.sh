#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Rules through csd (issue 8): a 3-group vnet from an overlay file; data-path
# probes (TCP, UDP, ICMP) agree with `rule check` for every pair, each deny
# paired with an allow from the same endpoint; a rule change keeps an
# established TCP connection; failing policy.tests refuse the apply and
# leave the old state; rule create and rule delete change one rule, enforced
# at once, refused for members, bad input and failing policy.tests.
. "$(dirname "$0")/lib.sh"

host_add a
csd_start a || exit 1
export CS_SOCKET=$TMP/a/csd.sock

# write_file FILE EXTRA_RULE TESTS
write_file() {
	cat > "$1" <<JSON
{"tenants": {"acme": {}},
 "vnets": {"acme/blue": {"subnet": "10.9.0.0/24",
   "policy": {"default": "deny",
     "rules": [
       {"name": "web-app", "from": "group:web", "to": "group:app", "proto": "tcp",
        "ports": [7000], "action": "allow"},
       {"name": "app-db", "from": "group:app", "to": "group:db", "proto": "udp",
        "ports": ["7000-7001"], "action": "allow"},
       {"name": "no-ping-db", "from": "group:web", "to": "group:db", "proto": "icmp",
        "action": "deny"},
       $2
       {"name": "ping", "from": "any", "to": "any", "proto": "icmp", "action": "allow"}],
     "tests": [$3]},
   "endpoints": {"w1": {"groups": ["web"]}, "a1": {"groups": ["app"]},
                 "d1": {"groups": ["db"]}}}}}
JSON
}
write_file "$TMP/v1.json" "" '{"from": "w1", "to": "a1", "proto": "tcp", "port": 7000, "expect": "allow"}'
check "apply of the 3-group vnet with its policy" ctl a apply -f "$TMP/v1.json"
check "rule list shows the 4 rules" test "$(ctl a rule list acme/blue | tail -n +2 | wc -l)" = 4
check "rule show by name" ctl a rule show acme/blue app-db
check "rule show by position" sh -c "\"$CTL\" -S $TMP/a/csd.sock rule show acme/blue/2 | grep -q app-db"
check_not "rule show of a rule that does not exist" ctl a rule show acme/blue nope

declare -A ADDR
for e in w1 a1 d1; do
	ADDR[$e]=$(ctl a -j endpoint show acme/blue/$e | python3 -c 'import json,sys; print(json.load(sys.stdin)["address"])')
	bg_ep a acme/blue/$e "$PROBE" serve 7000
done
sleep 0.5

# every pair, every protocol: the data path agrees with rule check
declare -A ALLOWS DENIES
probe_pairs() {
	local tag=$1
	for f in w1 a1 d1; do for t in w1 a1 d1; do
		[ $f = $t ] && continue
		for p in tcp udp icmp; do
			if [ $p = icmp ]; then
				v=$(ctl a -j rule check acme/blue $f $t icmp | python3 -c 'import json,sys; print(json.load(sys.stdin)["verdict"])')
				cmd=(in_ep a acme/blue/$f ping -c1 -W1 -q "${ADDR[$t]}")
			else
				v=$(ctl a -j rule check acme/blue $f $t $p 7000 | python3 -c 'import json,sys; print(json.load(sys.stdin)["verdict"])')
				cmd=(in_ep a acme/blue/$f "$PROBE" $p "${ADDR[$t]}" 7000 500)
			fi
			if [ "$v" = allow ]; then
				ALLOWS[$f]=$((${ALLOWS[$f]:-0} + 1))
				check "$tag: $f -> $t $p allowed, as rule check says" "${cmd[@]}"
			else
				DENIES[$f]=$((${DENIES[$f]:-0} + 1))
				check_not "$tag: $f -> $t $p denied, as rule check says" "${cmd[@]}"
			fi
		done
	done; done
}
probe_pairs v1
for e in w1 a1 d1; do
	check "every deny from $e is paired with an allow from $e (${ALLOWS[$e]:-0} allows, ${DENIES[$e]:-0} denies)" \
		test "${ALLOWS[$e]:-0}" -gt 0 -a "${DENIES[$e]:-0}" -gt 0
done
check "rule check names the deciding rule" sh -c "\"$CTL\" -S $TMP/a/csd.sock rule check acme/blue w1 a1 tcp 7000 | grep -q 'allow (rule web-app'"
check "rule check names the default" sh -c "\"$CTL\" -S $TMP/a/csd.sock rule check acme/blue d1 a1 tcp 7000 | grep -q 'deny (default)'"
check_not "rule check of an unknown endpoint fails" ctl a rule check acme/blue w1 zz tcp 7000

# a rule change keeps an established allowed TCP connection
bg_ep a acme/blue/w1 "$PROBE" stream "${ADDR[a1]}" 7000 "$TMP/stream"
sleep 0.5
oks() { grep -c '^ok' "$1" 2>/dev/null || echo 0; }
write_file "$TMP/v2.json" '{"name": "db-web", "from": "group:db", "to": "group:web", "proto": "tcp", "ports": [7000], "action": "allow"},' ''
check "re-apply with one more rule" ctl a apply -f "$TMP/v2.json"
s1=$(oks "$TMP/stream")
sleep 0.6
check "the established TCP stream keeps flowing across the rule change" test "$(oks "$TMP/stream")" -gt "$s1"
check "the new rule is enforced: d1 reaches w1 over tcp" in_ep a acme/blue/d1 "$PROBE" tcp "${ADDR[w1]}" 7000
check "rule check agrees" sh -c "\"$CTL\" -S $TMP/a/csd.sock rule check acme/blue d1 w1 tcp 7000 | grep -q 'allow (rule db-web'"

# failing policy.tests refuse the whole apply and leave the old state
write_file "$TMP/v3.json" '{"name": "w1-d1", "from": "w1", "to": "d1", "proto": "tcp", "action": "allow"},' \
	'{"from": "w1", "to": "d1", "proto": "tcp", "port": 7000, "expect": "deny"}'
out=$(ctl a apply -f "$TMP/v3.json" 2>&1)
check_not "an apply whose policy.tests fail is refused" test $? = 0
check "the report names the failing test" sh -c "printf '%s' \"\$1\" | grep -q 'policy.tests' && printf '%s' \"\$1\" | grep -q 'tests\[0\]'" _ "$out"
check "the old rules stay (5 rules)" test "$(ctl a rule list acme/blue | tail -n +2 | wc -l)" = 5
check_not "the old state is enforced: w1 cannot reach d1 over tcp" in_ep a acme/blue/w1 "$PROBE" tcp "${ADDR[d1]}" 7000 500
check "...while w1 still reaches a1" in_ep a acme/blue/w1 "$PROBE" tcp "${ADDR[a1]}" 7000

# drift: rules flushed by hand come back with the reconciler
if command -v nft >/dev/null; then
	nsenter --net="/run/netns/$PFX.acme.blue.a1" nft flush ruleset
	check "with a1's rules flushed by hand, d1 reaches a1 over tcp" in_ep a acme/blue/d1 "$PROBE" tcp "${ADDR[a1]}" 7000
	kill -HUP "$(csd_pid a)"
	for i in $(seq 50); do in_ep a acme/blue/d1 "$PROBE" tcp "${ADDR[a1]}" 7000 200 >/dev/null 2>&1 || break; sleep 0.1; done
	check_not "the reconciler restores them: d1 cannot reach a1 over tcp" in_ep a acme/blue/d1 "$PROBE" tcp "${ADDR[a1]}" 7000 500
	check "...while w1 still reaches a1" in_ep a acme/blue/w1 "$PROBE" tcp "${ADDR[a1]}" 7000
fi

# bad policy: every error with its JSON path
cat > "$TMP/bad.json" <<'JSON'
{"vnets": {"acme/blue": {"subnet": "10.9.0.0/24", "policy": {"default": "deny",
  "rules": [{"from": "any", "to": "any", "proto": "icmp", "ports": [80], "action": "allow"}]}}}}
JSON
out=$(ctl a apply -f "$TMP/bad.json" 2>&1)
check "a bad policy is refused with its JSON path" sh -c "printf '%s' \"\$1\" | grep -q 'policy.rules\[0\]'" _ "$out"

# roles: a vnet's members use it (endpoints, exec) but do not change it
cd "$TMP"
as() { local u=$1; shift; setpriv --reuid "$u" --regid "$u" --clear-groups "$CTL" -S "$TMP/a/csd.sock" "$@"; }
check "root creates tenant team owned by uid 1000" ctl a tenant create team owners.uids 1000
check "owner uid 1000 creates a vnet with member uid 1001" \
	as 1000 vnet create team/red subnet 10.10.0.0/24 members.uids 1001
check "the owner creates an endpoint" as 1000 endpoint create team/red/app
out=$(as 1001 exec team/red/app -- id -u 2>&1)
check "the member execs in it as itself (said: $out)" test "$out" = 1001
out=$(as 1001 exec team/red/app -- ping -c1 -W2 127.0.0.1 2>&1)
check "and pings from it without privileges (said: $out)" \
	sh -c "printf '%s' \"\$1\" | grep -q '1 received'" _ "$out"
check "the member sees the vnet" as 1001 vnet show team/red
check "the member checks its rules" as 1001 rule check team/red app app tcp 80
check "root makes a second vnet the member is not in" ctl a vnet create team/blue subnet 10.10.1.0/24
check "and an endpoint in it" ctl a endpoint create team/blue/hidden
out=$(as 1001 -j vnet list 2>&1)
check "the member lists its vnet and only that one (said: $out)" \
	sh -c "printf '%s' \"\$1\" | grep -q 'team/red' && ! printf '%s' \"\$1\" | grep -q 'team/blue'" _ "$out"
out=$(as 1001 -j endpoint list team 2>&1)
check "the member lists the endpoints of its vnet only (said: $out)" \
	sh -c "printf '%s' \"\$1\" | grep -q 'team/red/app' && ! printf '%s' \"\$1\" | grep -q hidden" _ "$out"
check_not "the member cannot show the other vnet" as 1001 vnet show team/blue
check_not "the member cannot use the other vnet" as 1001 exec team/blue/hidden -- true
out=$(as 1002 vnet list team 2>&1)
check "another uid listing the tenant hears of no such tenant (said: $out)" \
	sh -c "printf '%s' \"\$1\" | grep -q 'no such tenant'" _ "$out"
out=$(as 1002 -j endpoint list 2>&1)
check "another uid lists nothing of it (said: $out)" test "$out" = "[]"
check_not "the member may not delete the vnet" as 1001 vnet delete team/red
check_not "the member may not create an endpoint" as 1001 endpoint create team/red/x
check_not "the member may not delete the endpoint" as 1001 endpoint delete team/red/app
out=$(as 1001 vnet delete team/red 2>&1)
check "the refusal says why (said: $out)" sh -c "printf '%s' \"\$1\" | grep -q 'permission denied'" _ "$out"
out=$(as 1002 exec team/red/app -- id -u 2>&1)
check "another uid is refused exec and sees nothing (said: $out)" sh -c "printf '%s' \"\$1\" | grep -q 'no such tenant'" _ "$out"
check_not "another uid cannot show the vnet" as 1002 vnet show team/red
check "the vnet is still there" ctl a vnet show team/red
check "a shaped vnet the member uses, with a reservation" sh -c \
	"\"$CTL\" -S $TMP/a/csd.sock vnet create team/cap subnet 10.10.2.0/24 capacity 100mbit members.uids 1001 &&
	 \"$CTL\" -S $TMP/a/csd.sock endpoint create team/cap/cam qos.rate 10mbit"
out=$(as 1001 -j reservation list team 2>&1)
check "the member sees the vnet's reservations (said: $out)" \
	sh -c "printf '%s' \"\$1\" | grep -q 'team/cap/cam'" _ "$out"
check "and one by name" as 1001 reservation show team/cap/cam
out=$(as 1002 reservation list team 2>&1)
check "another uid hears of no such tenant (said: $out)" \
	sh -c "printf '%s' \"\$1\" | grep -q 'no such tenant'" _ "$out"
ctl a tenant delete team

# quotas: the first object over the limit is refused with EQUOTA
check "a tenant with quotas" ctl a tenant create q quotas.vnets 1 quotas.endpoints 2
check "its first vnet" ctl a vnet create q/one subnet 10.11.0.0/24
out=$(ctl a vnet create q/two subnet 10.12.0.0/24 2>&1)
check "the second vnet is refused: $out" sh -c "printf '%s' \"\$1\" | grep -q 'quota of 1 vnets'" _ "$out"
check "two endpoints" sh -c "\"$CTL\" -S $TMP/a/csd.sock endpoint create q/one/e1 && \"$CTL\" -S $TMP/a/csd.sock endpoint create q/one/e2"
out=$(ctl a -j endpoint create q/one/e3 2>&1)
check "the third endpoint is refused: $out" sh -c "printf '%s' \"\$1\" | grep -q 'quota of 2 endpoints'"  _ "$out"
# concurrently: of 6 creations with one place left, exactly one wins
ctl a endpoint delete q/one/e2
cpids=()
for i in 1 2 3 4 5 6; do ctl a endpoint create q/one/c$i >/dev/null 2>&1 & cpids+=($!); done
wait "${cpids[@]}"
check "concurrent creations never exceed the quota" test "$(ctl a endpoint list q | tail -n +2 | wc -l)" = 2
ctl a tenant delete q

# quotas are the administrators': the owner of a tenant cannot raise them
check "root gives uid 1000 a tenant with a quota" ctl a tenant create qo owners.uids 1000 quotas.vnets 1
out=$(echo '{"tenants": {"qo": {"owners": {"uids": [1000]}, "quotas": {"vnets": 100}}}}' |
	as 1000 apply -f - 2>&1)
check "the owner's apply raising it is refused (said: $out)" \
	sh -c "printf '%s' \"\$1\" | grep -q 'only an administrator may set or change'" _ "$out"
out=$(echo '{"tenants": {"qo": {"owners": {"uids": [1000]}}}}' | as 1000 apply -f - 2>&1)
check "the owner's apply leaving quotas out is accepted (said: $out)" test $? = 0
check "and the quota stays" grep -q '"vnets": 1' <<<"$(ctl a -j tenant show qo)"
out=$(as 1000 tenant create qo2 quotas.vnets 5 2>&1)
check "the owner cannot give a tenant of its own quotas (said: $out)" \
	sh -c "printf '%s' \"\$1\" | grep -q 'only an administrator'" _ "$out"
ctl a tenant delete qo
# and a tenant anyone else creates gets the administrators' default_quotas
echo '{"default_quotas": {"vnets": 1, "endpoints": 5}}' > "$TMP/dq.json"
host_add q
csd_start q -c "$TMP/dq.json" -p "${PFX}q" || exit 1
asq() { local u=$1; shift; setpriv --reuid "$u" --regid "$u" --clear-groups "$CTL" -S "$TMP/q/csd.sock" "$@"; }
check "uid 1000 creates a tenant of its own" asq 1000 tenant create dq
check "it has the default quotas" grep -q '"vnets": 1' <<<"$(ctl q -j tenant show dq)"
check "one vnet" asq 1000 vnet create dq/a subnet 10.13.0.0/24
out=$(asq 1000 vnet create dq/b subnet 10.14.0.0/24 2>&1)
check "a second is refused by the default quota (said: $out)" \
	sh -c "printf '%s' \"\$1\" | grep -q 'quota of 1 vnets'" _ "$out"
check "root's tenants get no default" sh -c "! \"$CTL\" -S $TMP/q/csd.sock -j tenant create rq | grep -q quotas"
ctl q tenant delete dq
ctl q tenant delete rq

# rule create / rule delete: a change of one rule, enforced on the data path
w1_d1() { in_ep a acme/blue/w1 "$PROBE" tcp "${ADDR[d1]}" 7000 500; }
w1_a1() { in_ep a acme/blue/w1 "$PROBE" tcp "${ADDR[a1]}" 7000 500; }
nrules() { ctl a rule list "$1" | tail -n +2 | wc -l; }
check_not "before rule create: w1 cannot reach d1 over tcp" w1_d1
check "...while w1 reaches a1 over tcp" w1_a1
out=$(ctl a -j rule create acme/blue from group:web to group:db proto tcp ports 7000 name w1-d1-tcp)
check "rule create of an allow answers with the rule at the end (said: $out)" sh -c \
	"printf '%s' \"\$1\" | python3 -c 'import json,sys; r=json.load(sys.stdin); sys.exit(not (r[\"name\"] == \"w1-d1-tcp\" and r[\"position\"] == 6 and r[\"vnet\"] == \"acme/blue\" and r[\"action\"] == \"allow\"))'" _ "$out"
check "after rule create: w1 reaches d1 over tcp" w1_d1
check "rule check agrees" sh -c "\"$CTL\" -S $TMP/a/csd.sock rule check acme/blue w1 d1 tcp 7000 | grep -q 'allow (rule w1-d1-tcp (#6))'"
check "rule delete by name" ctl a rule delete acme/blue w1-d1-tcp
out=$(ctl a rule create acme/blue from ghost to group:db action deny name ghost 2>&1)
check "a rule naming a missing endpoint is created, with a warning (said: $out)" \
	sh -c "printf '%s' \"\$1\" | grep -q 'warning: from: endpoint ghost is not in vnet acme/blue'" _ "$out"
check "and deleted" ctl a rule delete acme/blue ghost
check_not "after rule delete: w1 cannot reach d1 over tcp again" w1_d1
check "...while w1 still reaches a1" w1_a1
check "the vnet is back to 5 rules" test "$(nrules acme/blue)" = 5
check "rule create at position 1, without a name" \
	ctl a rule create acme/blue from endpoint:w1 to d1 proto tcp action allow position 1
check "the new rule is first, so w1 reaches d1" w1_d1
check "rule show by position finds it" sh -c "\"$CTL\" -S $TMP/a/csd.sock rule show acme/blue/1 | grep -q 'from: endpoint:w1'"
check "rule delete by position (TENANT/VNET/POSITION)" ctl a rule delete acme/blue/1
check_not "and w1 cannot reach d1 again" w1_d1
check "rule show of the first rule gives web-app again" sh -c "\"$CTL\" -S $TMP/a/csd.sock rule show acme/blue 1 | grep -q 'name: web-app'"
out=$(ctl a rule create acme/blue from any to any name web-app 2>&1)
check "a second rule of the same name is refused (said: $out)" sh -c "printf '%s' \"\$1\" | grep -q 'rule acme/blue/web-app: the vnet has a rule of that name'" _ "$out"
out=$(ctl a rule create acme/blue from any to any position 9 2>&1)
check "a position past the end is refused (said: $out)" sh -c "printf '%s' \"\$1\" | grep -q 'give 1 to 6'" _ "$out"
check_not "rule delete of a rule that does not exist" ctl a rule delete acme/blue nope

# bad input: a clear error, exit 1, nothing changed
before=$(ctl a -j rule list acme/blue)
bad_rule() { # bad_rule WHAT PATTERN ARGS...
	local what=$1 pat=$2 rc; shift 2
	out=$(ctl a rule create acme/blue "$@" 2>&1); rc=$?
	check "$what: exit 1 (said: $out)" test "$rc" = 1
	check "$what: the error names the rule and the key" sh -c "printf '%s' \"\$1\" | grep -q \"\$2\"" _ "$out" "$pat"
}
bad_rule "an unknown selector" "rule acme/blue/x: from: " from foo:bar to any name x
bad_rule "port 70000" "new rule of vnet acme/blue: ports\[0\]: 70000" from any to any proto tcp ports 70000
bad_rule "proto foo" "proto: \"foo\" is not allowed" from any to any proto foo
out=$(ctl a rule create acme/blue to any proto tcp 2>&1)
check "a missing from is a usage error, exit 2 (said: $out)" test $? = 2
check "...that names the missing word" grep -q "from is missing" <<<"$out"
bad_rule "ports without tcp or udp" "ports" from any to any proto icmp ports 80
check "after the refusals the rules are unchanged" test "$(ctl a -j rule list acme/blue)" = "$before"
check "and enforced as before: w1 reaches a1" w1_a1

# a rule create that breaks a policy.tests entry is refused and changes nothing
write_file "$TMP/v4.json" '{"name": "db-web", "from": "group:db", "to": "group:web", "proto": "tcp", "ports": [7000], "action": "allow"},' \
	'{"from": "w1", "to": "d1", "proto": "tcp", "port": 7000, "expect": "deny"}'
check "apply the vnet with a test: w1 -> d1 tcp/7000 is denied" ctl a apply -f "$TMP/v4.json"
before=$(ctl a -j rule list acme/blue)
out=$(ctl a rule create acme/blue from group:web to group:db proto tcp ports 7000 name oops position 1 2>&1)
rc=$?
check "a rule create that fails policy.tests exits 1 (said: $out)" test "$rc" = 1
check "the refusal names the failing test" sh -c "printf '%s' \"\$1\" | grep -q 'policy.tests' && printf '%s' \"\$1\" | grep -q 'tests\[0\]'" _ "$out"
check "the rules are unchanged" test "$(ctl a -j rule list acme/blue)" = "$before"
check_not "and still enforced: w1 cannot reach d1" w1_d1
check "...while w1 reaches a1" w1_a1
out=$(ctl a rule delete acme/blue 2>&1)
check "rule delete without a rule is a usage error" test $? = 2

# roles: a vnet's member may not change its rules; its owner may
check "root creates tenant ruled owned by uid 1000" ctl a tenant create ruled owners.uids 1000
check "owner uid 1000 creates a vnet without a policy, member uid 1001" \
	as 1000 vnet create ruled/v subnet 10.13.0.0/24 members.uids 1001
out=$(as 1001 rule create ruled/v from any to any proto tcp name m 2>&1)
check "the member is refused rule create (said: $out)" sh -c "printf '%s' \"\$1\" | grep -q 'permission denied'" _ "$out"
check "the owner may create it" as 1000 rule create ruled/v from any to any proto tcp ports 80 name own
check "both are in the audit: uid 1001 refused, uid 1000 accepted" sh -c "\"$CTL\" -S $TMP/a/csd.sock -j status | python3 -c 'import json,sys; a=[e for e in json.load(sys.stdin)[\"audit\"] if e[\"op\"] == \"rule.create\" and e[\"object\"] == \"ruled/v\"]; sys.exit(not ([(e[\"uid\"], e[\"verdict\"]) for e in a[-2:]] == [(1001, \"EPERM\"), (1000, \"ok\")]))'"
check "the vnet got a policy with default allow" sh -c "\"$CTL\" -S $TMP/a/csd.sock export | python3 -c 'import json,sys; p=json.load(sys.stdin)[\"vnets\"][\"ruled/v\"][\"policy\"]; sys.exit(not (p[\"default\"] == \"allow\" and p[\"rules\"][0][\"name\"] == \"own\"))'"
check_not "the member is refused rule delete" as 1001 rule delete ruled/v own
check_not "another uid is refused rule create" as 1002 rule create ruled/v from any to any
check "the rule is still there" test "$(nrules ruled/v)" = 1

# export shows what rule create made, and apply takes it back unchanged
ctl a export > "$TMP/export.json"
r1=$(revision a)
check "apply of the export" ctl a apply -f "$TMP/export.json"
check "apply of the export changed nothing (revision $r1 -> $(revision a))" test "$(revision a)" = "$r1"
check "the owner deletes the rule" as 1000 rule delete ruled/v own
check "no rules left in ruled/v" test "$(nrules ruled/v)" = 0
ctl a tenant delete ruled

# a dual-stack vnet whose rule names IPv6 only: rule check answers per
# family when the verdicts differ, as the data path does
cat >"$TMP/six.json" <<'JSON'
{"tenants": {"six": {}},
 "vnets": {"six/n": {"subnet": ["10.60.0.0/24", "fd60::/64"],
   "policy": {"default": "deny",
     "rules": [{"name": "v6", "from": "any", "to": "cidr:fd60::/64", "proto": "udp",
                "ports": [6000], "action": "allow"}]},
   "endpoints": {"a": {}, "b": {"address": ["10.60.0.20", "fd60::20"]}}}}}
JSON
check "apply of the dual-stack vnet six/n" ctl a apply -f "$TMP/six.json"
for i in $(seq 100); do
	[ -z "$(ip -n "$PFX.six.n.b" -6 addr show tentative 2>/dev/null)" ] &&
		[ -z "$(ip -n "$PFX.six.n.a" -6 addr show tentative 2>/dev/null)" ] && break
	sleep 0.1
done
bg_ep a six/n/b "$PROBE" serve 6000
sleep 0.3
out=$(ctl a rule check six/n a b udp 6000)
check "rule check answers per family: $out" grep -qF 'six/n a -> b udp/6000: mixed (IPv4: deny (default); IPv6: allow (rule v6 (#1)))' <<<"$out"
check "-j gives each family's verdict" sh -c "\"$CTL\" -S $TMP/a/csd.sock -j rule check six/n a b udp 6000 | python3 -c 'import json,sys; r=json.load(sys.stdin); f=r[\"families\"]; sys.exit(not (r[\"verdict\"] == \"mixed\" and f[\"ipv4\"][\"verdict\"] == \"deny\" and f[\"ipv6\"][\"verdict\"] == \"allow\" and f[\"ipv6\"][\"rule\"] == \"v6\"))'"
check "the data path agrees: a reaches b over UDP/IPv6" in_ep a six/n/a "$PROBE" udp fd60::20 6000 2000
check_not "...and not over UDP/IPv4" in_ep a six/n/a "$PROBE" udp 10.60.0.20 6000 500
out=$(ctl a rule check six/n a b udp 6001)
check "one answer where the families agree: $out" grep -qF 'six/n a -> b udp/6001: deny (default)' <<<"$out"
check "tenant delete six" ctl a tenant delete six

ctl a tenant delete acme
for p in "${BG_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
check "nothing leaked (no namespace with the prefix)" test -z "$(leaked)"
finish
