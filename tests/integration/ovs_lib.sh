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
