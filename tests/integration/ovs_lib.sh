# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced by the ovs backend's tests after lib.sh: skip (77) without Open
# vSwitch (and whatever else the test names: ovs_need PROGRAM...), and stop
# the ovsdb-server and ovs-vswitchd the test started (their pids in
# OVS_PIDS, and only those).
ovs_need() {
	local p
	for p in ovsdb-server ovs-vswitchd ovsdb-tool ovs-vsctl "$@"; do
		if ! command -v "$p" >/dev/null && ! [ -x "/usr/sbin/$p" ]; then
			echo "SKIP: $p is missing (apt-get install openvswitch-switch iperf3)"
			exit 77
		fi
	done
	PATH=$PATH:/usr/sbin
}
OVS_PIDS=()
ovs_stop() {
	local p
	for p in "${OVS_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${OVS_PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
	done
	OVS_PIDS=()
}
# ovs_start_in DIR NETNS: an ovsdb-server (database and socket in DIR) and
# an ovs-vswitchd in namespace NETNS (a path), each with its run directory
# DIR: two ovs-vswitchd must not share bridge sockets
ovs_start_in() {
	local d=$1 ns=$2
	mkdir -p "$d"
	ovsdb-tool create "$d/conf.db" /usr/share/openvswitch/vswitch.ovsschema || return 1
	OVS_RUNDIR=$d nsenter --net="$ns" ovsdb-server "$d/conf.db" --remote=punix:"$d/db.sock" \
		--pidfile="$d/ovsdb-server.pid" --unixctl="$d/ovsdb-server.ctl" \
		--log-file="$d/ovsdb-server.log" 2>>"$d/ovsdb-server.err" &
	OVS_PIDS+=($!)
	for _ in $(seq 100); do [ -S "$d/db.sock" ] && break; sleep 0.05; done
	ovs-vsctl --db="unix:$d/db.sock" --timeout=10 --no-wait init || return 1
	OVS_RUNDIR=$d nsenter --net="$ns" ovs-vswitchd "unix:$d/db.sock" \
		--pidfile="$d/ovs-vswitchd.pid" --unixctl="$d/ovs-vswitchd.ctl" \
		--log-file="$d/ovs-vswitchd.log" 2>>"$d/ovs-vswitchd.err" &
	OVS_PIDS+=($!)
	for _ in $(seq 100); do [ -S "$d/ovs-vswitchd.ctl" ] && return 0; sleep 0.05; done
	echo "ovs-vswitchd in $ns did not start"; cat "$d/ovs-vswitchd.log"; return 1
}
