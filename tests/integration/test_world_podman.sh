#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A real container runtime attaches a container to a vnet through cs-cni
# (issue 18 item 6): podman, with its CNI network backend and storage of
# the test's own, runs an image imported from a busybox-static root
# filesystem built here (offline) on a network whose plugin is cs-cni.
# The container gets the vnet's address on eth0 and exchanges bytes with an
# ordinary endpoint both ways; removing the container deletes the endpoint
# (DEL) and leaves nothing of cs behind. Skips (77) without podman or
# busybox-static.
. "$(dirname "$0")/lib.sh"

BUSYBOX=/bin/busybox
if ! command -v podman >/dev/null || ! ldd "$BUSYBOX" 2>&1 | grep -q "not a dynamic"; then
	echo "SKIP: needs podman and busybox-static (tests/install-deps)"
	exit 77
fi

host_add a
csd_start a || exit 1
cd "$TMP"
ctl a tenant create acme >/dev/null
ctl a vnet create acme/blue subnet 10.1.0.0/24 >/dev/null
ctl a endpoint create acme/blue/peer address 10.1.0.2 >/dev/null

# podman of the test's own: storage, state, networks and plugin directory
mkdir -p "$TMP/pod/rootfs/bin" "$TMP/pod/net"
cp "$BUSYBOX" "$TMP/pod/rootfs/bin/busybox"
for c in sh ip nc sleep cat; do ln -s busybox "$TMP/pod/rootfs/bin/$c"; done
cat >"$TMP/pod/containers.conf" <<EOF
[network]
network_backend = "cni"
cni_plugin_dirs = ["$CS_BUILD/tools/cs-cni"]
[engine]
# crun refuses this machine's hybrid cgroup hierarchy; runc takes it
runtime = "runc"
EOF
cat >"$TMP/pod/net/$PFX.conflist" <<EOF
{"cniVersion": "1.0.0", "name": "$PFX",
 "plugins": [{"type": "cs-cni", "vnet": "acme/blue", "socket": "$TMP/a/csd.sock"}]}
EOF
POD=(env CONTAINERS_CONF="$TMP/pod/containers.conf" podman --root "$TMP/pod/storage"
	--runroot "$TMP/pod/run" --network-config-dir "$TMP/pod/net"
	--cgroup-manager cgroupfs --events-backend none)
pod_cleanup() {
	"${POD[@]}" rm -f -t 0 -a >/dev/null 2>&1
	"${POD[@]}" system reset -f >/dev/null 2>&1
	cleanup
}
trap pod_cleanup EXIT
tar -C "$TMP/pod/rootfs" -c . | "${POD[@]}" import - "cs-$PFX:latest" >/dev/null ||
	{ echo "podman import failed"; exit 1; }

peer_serve "$PFX.acme.blue.peer" tcp 10.1.0.2 7000
# within our own limits: root here may lack CAP_SYS_RESOURCE to raise them
out=$("${POD[@]}" run -d --ulimit "nofile=$(ulimit -Sn):$(ulimit -Hn)" --ulimit nproc=4096:4096 --name "c$PFX" --network "$PFX" "cs-$PFX:latest" \
	sh -c 'echo from-container | nc -l -p 7001 & sleep 600' 2>&1)
state=$("${POD[@]}" inspect -f '{{.State.Running}}' "c$PFX" 2>&1)
check "podman runs a container on a cs-cni network ($state; $out)" test "$state" = true
addr=$("${POD[@]}" exec "c$PFX" ip -4 -o addr show eth0 2>&1 | sed -n 's/.*inet \([0-9.]*\)\/24.*/\1/p')
check "its eth0 has an address of the vnet ($addr)" grep -q '^10\.1\.0\.' <<<"$addr"
eps=$(ctl a endpoint list acme/blue | grep -c '^acme/blue/c')
check "csd holds one endpoint for it ($eps)" test "$eps" = 1
out=$("${POD[@]}" exec "c$PFX" sh -c 'nc 10.1.0.2 7000 </dev/null' 2>&1)
check "the container reaches the endpoint, which sees its address ($out)" test "$out" = "$addr"
out=$(ip netns exec "$PFX.acme.blue.peer" python3 -c "
import socket, time
end = time.time() + 10
while True:   # until the container's nc listens
    try:
        s = socket.create_connection(('$addr', 7001), 3); print(s.recv(100).decode().strip()); break
    except OSError as e:
        if time.time() > end:
            print(e); break
        time.sleep(0.2)" 2>&1)
check "the endpoint reaches the container ($out)" test "$out" = from-container
"${POD[@]}" rm -f -t 0 "c$PFX" >/dev/null 2>&1
eps=$(ctl a endpoint list acme/blue | grep -c '^acme/blue/c')
check "removing the container deletes its endpoint (DEL; $eps left)" test "$eps" = 0
check "and csd holds no namespace of it" sh -c "! ls /run/netns | grep -q '^$PFX\.acme\.blue\.c'"
finish
