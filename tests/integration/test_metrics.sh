#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Prometheus metrics (issue 21): csd started with --metrics on its host's
# loopback and a token file; a token file csd must not trust (readable by
# its group, a symlink, missing) refuses the start, paired with the 0600 one
# that starts; 401 without a token and with a wrong one, paired with 200 with
# the right one; 404 for anything but GET /metrics; the scrape parsed by
# python3-prometheus-client's parser: counters that moved with traffic
# between two endpoints, their labels, the vnet's capacity and reservation,
# csd's own requests, latency histograms and reconcile passes.
. "$(dirname "$0")/lib.sh"

command -v curl >/dev/null || { echo "SKIP: needs curl"; exit 77; }
# Debian's python3, where python3-prometheus-client is (not a python3 of
# another origin that PATH may find first)
PY3=/usr/bin/python3
[ -x "$PY3" ] || PY3=python3
"$PY3" -c 'import prometheus_client.parser' 2>/dev/null ||
	{ echo "SKIP: needs python3-prometheus-client"; exit 77; }

host_add a
HOSTNS=/run/netns/${PFX}ha
ADDR=127.0.0.1:9477
TOK=$TMP/token
od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$TOK"
chmod 600 "$TOK"
printf '{"metrics_token_file": "%s"}\n' "$TOK" >"$TMP/csd.json"
printf '{"metrics_token_file": "%s"}\n' "$TMP/token.link" >"$TMP/link.json"
ln -s "$TOK" "$TMP/token.link"

# start_refused WHAT ARGS...: csd exits at once with a message naming why
start_refused() {
	local what=$1 out; shift
	mkdir -p "$TMP/r"
	out=$(timeout 10 nsenter --net="$HOSTNS" "$CSD" -S "$TMP/r/csd.sock" -D "$TMP/r/state" \
		-p "$PFX" -n r "$@" 2>&1)
	local rc=$?
	check "$what: csd refuses to start (exit $rc)" test "$rc" = 1
	check "$what: the message says why ($(tail -1 <<<"$out"))" grep -q "$TOKEN_WHY" <<<"$out"
}
chmod 640 "$TOK"
TOKEN_WHY="$TOK: mode 0640.*chmod 600"
start_refused "a group-readable token file" --metrics $ADDR -c "$TMP/csd.json"
chmod 600 "$TOK"
TOKEN_WHY="symlink is not followed"
start_refused "a token file named through a symlink" --metrics $ADDR -c "$TMP/link.json"
TOKEN_WHY="metrics_token_file is not set"
start_refused "metrics without a token file" --metrics $ADDR

check "csd starts with --metrics $ADDR and the 0600 token file" \
	csd_start a --metrics $ADDR -c "$TMP/csd.json"

# scrape OUTFILE [CURL ARGS...]: prints the HTTP status
scrape() {
	local out=$1; shift
	nsenter --net="$HOSTNS" curl -s -m 10 -o "$out" -w '%{http_code}' "$@" \
		"http://$ADDR/metrics"
}
code=$(scrape /dev/null)
check "no token: 401 (got $code)" test "$code" = 401
code=$(scrape /dev/null -H "Authorization: Bearer wrong$(cat "$TOK")")
check "a wrong token: 401 (got $code)" test "$code" = 401
code=$(scrape /dev/null -H "Authorization: Bearer $(cut -c2- "$TOK")")
check "a token missing its first character: 401 (got $code)" test "$code" = 401
code=$(scrape "$TMP/s0" -H "Authorization: Bearer $(cat "$TOK")")
check "the right token: 200 (got $code)" test "$code" = 200
code=$(nsenter --net="$HOSTNS" curl -s -o /dev/null -w '%{http_code}' \
	-H "Authorization: Bearer $(cat "$TOK")" "http://$ADDR/other")
check "the right token, another path: 404 (got $code)" test "$code" = 404
code=$(nsenter --net="$HOSTNS" curl -s -o /dev/null -w '%{http_code}' "http://$ADDR/other")
check "no token, another path: 401 (got $code)" test "$code" = 401
code=$(scrape /dev/null -X POST -H "Authorization: Bearer $(cat "$TOK")")
check "the right token, POST: 404 (got $code)" test "$code" = 404
ctype=$(nsenter --net="$HOSTNS" curl -s -o /dev/null -w '%{content_type}' \
	-H "Authorization: Bearer $(cat "$TOK")" "http://$ADDR/metrics")
check "the content type is the text format 0.0.4 ($ctype)" grep -q 'version=0.0.4' <<<"$ctype"

check "tenant, vnet with capacity, two endpoints (one reserved)" sh -c "
	'$CTL' -S '$TMP/a/csd.sock' tenant create acme &&
	'$CTL' -S '$TMP/a/csd.sock' vnet create acme/blue subnet 10.7.0.0/24 capacity 100mbit &&
	'$CTL' -S '$TMP/a/csd.sock' endpoint create acme/blue/web qos.rate 10mbit &&
	'$CTL' -S '$TMP/a/csd.sock' endpoint create acme/blue/db"
check_not "a duplicate endpoint is refused (counted as EEXIST)" \
	ctl a endpoint create acme/blue/db 2>/dev/null
dbaddr=$(ctl a -j endpoint show acme/blue/db |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["address"])')
sleep 1.1 # a snapshot is built at most once a second
code=$(scrape "$TMP/s1" -H "Authorization: Bearer $(cat "$TOK")")
check "scrape before traffic: 200 (got $code)" test "$code" = 200
check "20 pings from web to db ($dbaddr) answered" \
	in_ep a acme/blue/web ping -q -c 20 -i 0.05 -W 2 "$dbaddr"
sleep 1.1
code=$(scrape "$TMP/s2" -H "Authorization: Bearer $(cat "$TOK")")
check "scrape after traffic: 200 (got $code)" test "$code" = 200

# endpoint list --stats: rates over a second, for the endpoint sending
# (about 100 pings a second) and the one answering, paired with an idle one
check "a third endpoint, idle" ctl a endpoint create acme/blue/idle
bg_ep a acme/blue/web ping -q -i 0.01 -c 300 "$dbaddr"
sleep 0.5
ctl a -j endpoint list --stats acme/blue >"$TMP/stats.json"
check "endpoint list --stats -j answers" test -s "$TMP/stats.json"
rate() { # ENDPOINT KEY
	"$PY3" -c 'import json,sys
for e in json.load(open(sys.argv[1])):
    if e["name"] == sys.argv[2]: print(e.get("rates", {}).get(sys.argv[3], -1))' \
		"$TMP/stats.json" "acme/blue/$1" "$2"
}
r=$(rate web tx_packets_per_second)
check "web sends 50-200 packets/s while pinging 100/s (said $r)" test "$r" -ge 50 -a "$r" -le 200
r=$(rate web tx_bits_per_second)
check "web sends 40-200 kbit/s (98-byte frames; said $r bit/s)" test "$r" -ge 40000 -a "$r" -le 200000
r=$(rate db rx_packets_per_second)
check "db receives 50-200 packets/s (said $r)" test "$r" -ge 50 -a "$r" -le 200
r=$(rate idle rx_packets_per_second)
check "the idle endpoint receives under 5 packets/s (said $r)" test "$r" -ge 0 -a "$r" -lt 5
out=$(ctl a endpoint list --stats acme/blue)
check "the table has the rate columns" grep -q 'RX-BIT/S.*TX-BIT/S.*RX-PKT/S.*TX-PKT/S' <<<"$out"
check "and web's row a rate in kbit" grep -q '^acme/blue/web .*kbit' <<<"$out"
wait "${BG_PIDS[-1]}"

# cs-ctl top under tmux (a server of the test's own): the pinging endpoints
# first, the idle one last; q quits
if command -v tmux >/dev/null; then
	TMUX_L=cs$PFX
	tmx() { tmux -L "$TMUX_L" -f /dev/null "$@"; }
	bg_ep a acme/blue/web ping -q -i 0.01 -c 500 "$dbaddr"
	check "top starts in a tmux session" tmx new-session -d -s top -x 120 -y 20 \
		"'$CTL' -S '$TMP/a/csd.sock' top acme/blue"
	sleep 2.5
	screen=$(tmx capture-pane -p -t top)
	echo "$screen" | sed 's/^/    | /'
	check "top's header names the filter and 3 endpoints" \
		grep -q '^cs-ctl top acme/blue: 3 endpoints, busiest first' <<<"$screen"
	rows=$(grep '^acme/blue/' <<<"$screen")
	check "a pinging endpoint is first, with a rate in kbit" \
		grep -Eq '^acme/blue/(web|db) .*kbit' <<<"$(head -1 <<<"$rows")"
	check "the idle endpoint is last" grep -q '^acme/blue/idle ' <<<"$(tail -1 <<<"$rows")"
	tmx send-keys -t top q
	for i in $(seq 20); do tmx has-session -t top 2>/dev/null || break; sleep 0.1; done
	check_not "q quits top (the session is gone)" tmx has-session -t top 2>/dev/null
	tmx kill-server 2>/dev/null
	wait "${BG_PIDS[-1]}"
fi
ctl a -j top 2>/dev/null; rc=$?
check "top -j is a usage error (exit $rc)" test $rc = 2
ctl a vnet list --stats 2>/dev/null; rc=$?
check "vnet list --stats is a usage error (exit $rc)" test $rc = 2

# a deny rule: what it drops is counted in the endpoint's rule set
check "rule create: deny icmp from web to db" \
	ctl a rule create acme/blue from web to db proto icmp action deny name no-ping
check_not "10 pings from web to db go unanswered" \
	in_ep a acme/blue/web ping -q -c 10 -i 0.05 -W 1 "$dbaddr"
webaddr=$(ctl a -j endpoint show acme/blue/web |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["address"])')
check "...while db still pings web" in_ep a acme/blue/db ping -q -c 2 -i 0.05 -W 2 "$webaddr"
sleep 1.1
code=$(scrape "$TMP/s3" -H "Authorization: Bearer $(cat "$TOK")")
check "scrape after the denied pings: 200 (got $code)" test "$code" = 200

# the scrapes, parsed by a real Prometheus parser
cat >"$TMP/check.py" <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families

def load(path):
    fams = {}
    with open(path) as f:
        for fam in text_string_to_metric_families(f.read()):
            fams[fam.name] = fam
    return fams

s1, s2, s3 = load(sys.argv[1]), load(sys.argv[2]), load(sys.argv[3])
fails = 0
def check(what, cond):
    global fails
    print(("ok - " if cond else "FAIL - ") + what)
    fails += 0 if cond else 1

def value(fams, name, **labels):
    for fam in fams.values():
        for s in fam.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return None

EP = dict(tenant="acme", vnet="blue", node="a")
for fam, typ in [("cs_endpoint_receive_bytes", "counter"), ("cs_endpoint_transmit_packets", "counter"),
                 ("cs_endpoint_receive_drop", "counter"), ("cs_vnet_capacity_bits_per_second", "gauge"),
                 ("csd_requests", "counter"), ("csd_request_duration_seconds", "histogram"),
                 ("csd_store_request_duration_seconds", "histogram"), ("process_open_fds", "gauge"),
                 ("csd_reconcile_passes", "counter")]:
    check("family %s is a %s" % (fam, typ), fam in s2 and s2[fam].type == typ)
for n in ("cs_endpoint_transmit_packets_total", "cs_endpoint_receive_packets_total"):
    for e in ("web", "db"):
        check("%s{endpoint=%s} has the labels tenant, vnet, endpoint, node" % (n, e),
              value(s2, n, endpoint=e, **EP) is not None)
tx1 = value(s1, "cs_endpoint_transmit_packets_total", endpoint="web", **EP) or 0
tx2 = value(s2, "cs_endpoint_transmit_packets_total", endpoint="web", **EP) or 0
check("web sent >= 20 more packets (%d -> %d)" % (tx1, tx2), tx2 - tx1 >= 20)
rx1 = value(s1, "cs_endpoint_receive_packets_total", endpoint="db", **EP) or 0
rx2 = value(s2, "cs_endpoint_receive_packets_total", endpoint="db", **EP) or 0
check("db received >= 20 more packets (%d -> %d)" % (rx1, rx2), rx2 - rx1 >= 20)
b1 = value(s1, "cs_endpoint_receive_bytes_total", endpoint="web", **EP) or 0
b2 = value(s2, "cs_endpoint_receive_bytes_total", endpoint="web", **EP) or 0
check("web received >= 20 replies' bytes (%d -> %d)" % (b1, b2), b2 - b1 >= 20 * 84)
check("no endpoint of another tenant or node",
      all(s.labels.get("tenant") in (None, "acme") and s.labels.get("node") in (None, "a")
          for f in s2.values() for s in f.samples if f.name.startswith("cs_endpoint")))
check("vnet capacity 100mbit",
      value(s2, "cs_vnet_capacity_bits_per_second", tenant="acme", vnet="blue") == 100e6)
check("vnet reserved 10mbit",
      value(s2, "cs_vnet_reserved_bits_per_second", tenant="acme", vnet="blue") == 10e6)
check("web's reservation 10mbit", value(s2, "cs_reservation_rate_bits_per_second",
      tenant="acme", vnet="blue", endpoint="web") == 10e6)
check("db has no reservation", value(s2, "cs_reservation_rate_bits_per_second",
      endpoint="db") is None)
ok = value(s2, "csd_requests_total", op="endpoint.create", result="ok") or 0
check("endpoint.create ok counted twice (%d)" % ok, ok == 2)
check("endpoint.create EEXIST counted once",
      value(s2, "csd_requests_total", op="endpoint.create", result="EEXIST") == 1)
cnt = value(s2, "csd_request_duration_seconds_count", op="endpoint.create")
inf = value(s2, "csd_request_duration_seconds_bucket", op="endpoint.create", le="+Inf")
check("endpoint.create latency: count 3 = +Inf bucket (%s, %s)" % (cnt, inf), cnt == 3 and inf == 3)
buckets = [s.value for s in s2["csd_request_duration_seconds"].samples
           if s.name.endswith("_bucket") and s.labels["op"] == "endpoint.create"]
check("its buckets are cumulative", buckets == sorted(buckets))
check("store calls timed", (value(s2, "csd_store_request_duration_seconds_count", call="txn") or 0) >= 2)
check("a full reconcile pass counted", (value(s2, "csd_reconcile_passes_total", kind="full") or 0) >= 1)
check("open fds reported", (value(s2, "process_open_fds") or 0) > 3)
check("resident memory reported", (value(s2, "process_resident_memory_bytes") or 0) > 1 << 20)
check("clients connected reported", value(s2, "csd_clients_connected") is not None)
check("before the rule, no rule set counted",
      value(s2, "cs_endpoint_denied_packets_total", endpoint="db") is None)
d3 = value(s3, "cs_endpoint_denied_packets_total", endpoint="db", **EP) or 0
check("db's rules denied >= 10 packets (%d)" % d3, d3 >= 10)
check("and web's denied none",
      (value(s3, "cs_endpoint_denied_packets_total", endpoint="web", **EP) or 0) == 0)
sys.exit(1 if fails else 0)
PY
out=$("$PY3" "$TMP/check.py" "$TMP/s1" "$TMP/s2" "$TMP/s3" 2>&1)
rc=$?
echo "$out"
PASSES=$((PASSES + $(grep -c '^ok - ' <<<"$out")))
FAILS=$((FAILS + $(grep -c '^FAIL - ' <<<"$out")))
check "the scrapes parse and hold what the traffic did" test "$rc" = 0

# scrapes do not leak: csd's descriptors are the same after 40 of them
# (20 refused), with the connections closed
fds0=$(fd_count "$(csd_pid a)")
for i in $(seq 20); do
	scrape /dev/null -H "Authorization: Bearer $(cat "$TOK")" >/dev/null
	scrape /dev/null >/dev/null
done
sleep 0.2
fds1=$(fd_count "$(csd_pid a)")
check "40 scrapes leave csd's open fds as they were ($fds0 -> $fds1)" test "$fds1" -le "$fds0"
# bounded connections: 8 held open from loopback (never sending a request),
# the 9th from the same address is closed unanswered, paired with a scrape
# that passes once they are gone
out=$(nsenter --net="$HOSTNS" "$PY3" - "$ADDR" "$(cat "$TOK")" <<'PY'
import socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
held = [socket.create_connection((host, int(port))) for _ in range(8)]
time.sleep(0.3)
s = socket.create_connection((host, int(port)))
s.settimeout(5)
s.sendall(b"GET /metrics HTTP/1.0\r\nAuthorization: Bearer " + sys.argv[2].encode() + b"\r\n\r\n")
try:
    ninth = s.recv(100)
except OSError:
    ninth = b""
print("ninth:", ninth[:12])
for h in held:
    h.close()
sys.exit(0 if not ninth.startswith(b"HTTP/1.0 200") and not ninth.startswith(b"HTTP/1.1 200") else 1)
PY
)
check "a 9th connection from one address while 8 are held gets no metrics ($out)" test $? = 0
sleep 0.3
code=$(scrape /dev/null -H "Authorization: Bearer $(cat "$TOK")")
check "...and once they are closed a scrape passes (got $code)" test "$code" = 200
check "csd still answers control requests" ctl a status >/dev/null
kill -TERM "$(csd_pid a)"
wait "$(csd_pid a)" 2>/dev/null
code=$(scrape /dev/null -H "Authorization: Bearer $(cat "$TOK")")
check "after SIGTERM the metrics port is closed (got $code)" test "$code" = 000

# cluster mode: a csd on etcd (its own, on host e's loopback) reports the
# store's round trips and its watch's lag
if command -v etcd >/dev/null; then
	host_add e
	EURL=http://127.0.0.1:2379
	mkdir -p "$TMP/etcd"
	nsenter --net="/run/netns/${PFX}he" etcd --name m1 --data-dir "$TMP/etcd/data" \
		--listen-client-urls $EURL --advertise-client-urls $EURL \
		--listen-peer-urls http://127.0.0.1:2380 --unsafe-no-fsync >"$TMP/etcd/log" 2>&1 &
	BG_PIDS+=($!)
	for i in $(seq 100); do
		nsenter --net="/run/netns/${PFX}he" curl -sf $EURL/health 2>/dev/null | grep -q true && break
		sleep 0.1
	done
	printf '{"metrics_token_file": "%s", "store": {"type": "etcd", "endpoints": ["%s"]}}\n' \
		"$TOK" "$EURL" >"$TMP/e.json"
	check "csd on etcd starts with --metrics" csd_start e -p "${PFX}e" --metrics $ADDR -c "$TMP/e.json"
	check "and creates a vnet and an endpoint" sh -c "
		'$CTL' -S '$TMP/e/csd.sock' tenant create acme &&
		'$CTL' -S '$TMP/e/csd.sock' vnet create acme/blue subnet 10.7.0.0/24 &&
		'$CTL' -S '$TMP/e/csd.sock' endpoint create acme/blue/web"
	sleep 1.5
	code=$(nsenter --net="/run/netns/${PFX}he" curl -s -m 10 -o "$TMP/e1" -w '%{http_code}' \
		-H "Authorization: Bearer $(cat "$TOK")" "http://$ADDR/metrics")
	check "scrape of the etcd csd: 200 (got $code)" test "$code" = 200
	out=$("$PY3" - "$TMP/e1" <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families
v = {}
for f in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in f.samples:
        v[(s.name, tuple(sorted(s.labels.items())))] = s.value
lag = v.get(("csd_store_watch_lag_revisions", ()))
keep = v.get(("csd_store_request_duration_seconds_count", (("call", "lease_keepalive"),)), 0)
web = v.get(("cs_endpoint_transmit_packets_total", (("endpoint", "web"), ("node", "e"),
                                                     ("tenant", "acme"), ("vnet", "blue"))))
print("lag=%s keepalives=%s web=%s" % (lag, keep, web))
sys.exit(0 if lag == 0 and keep >= 1 and web is not None else 1)
PY
)
	check "watch lag 0, lease keepalives timed, the endpoint counted ($out)" test $? = 0
fi
finish
