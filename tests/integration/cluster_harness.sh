#!/usr/bin/env bash
# Integration test of the local cluster harness itself (scripts/cluster.sh):
# real corosync in network namespaces, no ctgtd.
#
#   bash tests/integration/cluster_harness.sh
#
# In this order: up 3; every node quorate with 3 members (seen through the
# anchor, nsenter -t PID -n -m, the way the cluster tests enter a node); each
# node has its own /run, /dev/shm and address, and a portal in a node is
# reachable from the root namespace; a cpgping request + all-acks round
# across the 3 nodes (members on nodes 1 and 2, `ack` on node 3); partition
# node 3 -> node 3 not quorate, nodes 1-2 quorate; heal -> all three quorate
# again; kill 2 -> nothing left in node 2, the survivors see 2 members;
# restart 2 -> 3 members, and the command spawned on node 2 before the kill
# runs again; down -> no namespace, bridge, process or state left; down
# again (idempotent); up 1 (a second cluster after the first), then a down
# that must clean up after a crashed one (namespace deleted, processes left).
#
# Every check prints "PASS name", "FAIL name: reason" or "SKIP name: reason";
# the last line is "N passed, N failed, N skipped". Exit status 1 if anything
# failed. Needs root and scripts/deps.sh (corosync, libcpg-dev, gcc). Refuses
# to run when a cluster is already up (it would tear it down): run
# scripts/cluster.sh down first. About 30 s.
#
# Environment: CTGT_CLUSTER_DIR, CTGT_CLUSTER_TIMEOUT as for scripts/cluster.sh;
# CPGPING_SRC (default: the repository's ../shared/bench/cpgping.c).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cluster=$root/scripts/cluster.sh
# this instance's names (CTGT_CLUSTER_ID / _SUBNET / _DIR pick another one)
eval "$(bash "$cluster" info)" || { echo "FAIL harness.info: scripts/cluster.sh info failed"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
STATE=$CLUSTER_STATE
NS=$CLUSTER_NS_PREFIX
NET=$CLUSTER_SUBNET
CPGPING_SRC=${CPGPING_SRC:-$root/../shared/bench/cpgping.c}
work=$(mktemp -d /tmp/ctgt-harness.XXXXXX)
npass=0 nfail=0 nskip=0
cluster_up=
failed_names=()

# shellcheck source=tests/integration/it_report.sh
. "$here/it_report.sh"

it_cleanup() {
	if [ -n "$cluster_up" ]; then
		bash "$cluster" down >/dev/null 2>&1 || echo "    (cleanup: scripts/cluster.sh down failed)"
	fi
	rm -rf "$work"
}
trap it_cleanup EXIT
trap 'exit 130' INT TERM

cl() { bash "$cluster" "$@"; }

# in_node NODE CMD...: CMD in the node, entered the documented way
in_node() {
	local pid
	pid=$(cl pid "$1" 2>/dev/null) || return 1
	shift
	nsenter -t "$pid" -n -m -- "$@"
}

# view NODE: "quorate=Yes nodes=3" from corosync-quorumtool in the node
view() {
	local out
	out=$(in_node "$1" timeout 5 corosync-quorumtool -s 2>&1)
	echo "quorate=$(sed -n 's/^Quorate: *//p' <<<"$out") nodes=$(sed -n 's/^Nodes: *//p' <<<"$out")"
}

# expect_views NAME "NODE=WANT"...: one check, all nodes' views as wanted
expect_views() {
	local name=$1 spec node want got bad='' all=''
	shift
	for spec in "$@"; do
		node=${spec%%=*} want=${spec#*=}
		got=$(view "$node")
		all+="n$node:${got// /,} "
		[ "$got" = "$want" ] || bad+="node $node sees '$got', want '$want'; "
	done
	if [ -z "$bad" ]; then it_pass "$name" "${all% }"; else it_fail "$name" "$bad"; return 1; fi
}

ns_pids() { ip netns pids "$1" 2>/dev/null | while read -r p; do
	[ "$(sed 's/.*) \(.\).*/\1/' "/proc/$p/stat" 2>/dev/null)" = Z ] || echo "$p"; done; }

# --- checks ------------------------------------------------------------------

preflight() {
	local t missing=
	if [ "$(id -u)" != 0 ]; then
		it_skip harness.preflight "needs root (namespaces, bridge, mounts)"
		return 1
	fi
	for t in corosync corosync-quorumtool nsenter ip gcc; do
		command -v "$t" >/dev/null || missing+=" $t"
	done
	if [ -n "$missing" ]; then
		it_fail harness.preflight "missing:$missing (run scripts/deps.sh)"
		return 1
	fi
	if [ "$(bash "$cluster" info | sed -n 's/^CLUSTER_UP=//p')" != no ]; then
		it_fail harness.preflight "a cluster is already up (bridge $CLUSTER_BRIDGE / namespaces $NS*): run scripts/cluster.sh down first"
		return 1
	fi
	it_pass harness.preflight "state $STATE"
}

build_cpgping() {
	cpgping=
	if [ ! -r "$CPGPING_SRC" ]; then
		it_skip harness.cpgping.build "no $CPGPING_SRC"
		return
	fi
	if gcc -O2 -Wall -o "$work/cpgping" "$CPGPING_SRC" -lcpg >"$work/cpgping-build.log" 2>&1; then
		cpgping=$work/cpgping
		it_pass harness.cpgping.build
	else
		it_fail harness.cpgping.build "gcc failed (libcpg-dev installed?)"
		it_log_tail "$work/cpgping-build.log"
	fi
}

check_up() {
	local t0=$SECONDS
	if cl up 3 >"$work/up.log" 2>&1; then
		cluster_up=1
		it_pass harness.up "3 nodes in $((SECONDS - t0))s"
	else
		cluster_up=1   # whatever is left, down removes
		it_fail harness.up "scripts/cluster.sh up 3 failed"
		it_log_tail "$work/up.log" 30
		return 1
	fi
	expect_views harness.up.quorate 1="quorate=Yes nodes=3" 2="quorate=Yes nodes=3" 3="quorate=Yes nodes=3"
}

check_isolation() {
	local i pid runpid rootmnt mnt shms=() bad=
	rootmnt=$(stat -L -c %i /proc/self/ns/mnt)
	for i in 1 2 3; do
		pid=$(cl pid "$i") || { bad+="node $i: no anchor pid; "; continue; }
		mnt=$(stat -L -c %i "/proc/$pid/ns/mnt")
		[ "$mnt" != "$rootmnt" ] || bad+="node $i shares the root mount namespace; "
		runpid=$(in_node "$i" cat /run/corosync.pid 2>/dev/null)
		[ "$runpid" = "$pid" ] || bad+="node $i: /run/corosync.pid is '$runpid', want $pid (private /run); "
		shms+=("$(in_node "$i" stat -c %d:%i /dev/shm 2>/dev/null)")
		in_node "$i" ip -br addr show eth0 | grep -F " $NET.$((10 + i))/24" >/dev/null ||
			bad+="node $i: eth0 has no $NET.$((10 + i)); "
	done
	[ "$(printf '%s\n' "${shms[@]}" | sort -u | wc -l)" = 3 ] || bad+="the nodes share a /dev/shm (${shms[*]}); "
	if [ -z "$bad" ]; then it_pass harness.isolation "own mount ns, /run, /dev/shm, address per node"; else it_fail harness.isolation "$bad"; fi

	# a portal in node 2 is reachable from the root namespace (the initiator's side)
	if cl spawn 2 portal -- python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 3260)); s.listen(1)
while True:
    c, a = s.accept(); c.sendall(b"portal-on-node2\n"); c.close()
' >"$work/portal.log" 2>&1; then
		local got=''
		for _ in $(seq 50); do
			# shellcheck disable=SC2016  # ($0 is expanded by the inner bash)
			got=$(timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/3260" && head -n1 <&3' "$NET.12" 2>/dev/null) && [ -n "$got" ] && break
			sleep 0.1
		done
		if [ "$got" = portal-on-node2 ]; then
			it_pass harness.portal_reachable "root namespace -> $NET.12:3260 in node 2"
		else
			it_fail harness.portal_reachable "no answer from $NET.12:3260 (a listener spawned in node 2)"
			it_log_tail "$STATE/n2/portal.log"
		fi
		cl unspawn 2 portal >/dev/null 2>&1
	else
		it_fail harness.portal_reachable "spawn failed"
		it_log_tail "$work/portal.log"
	fi
}

check_cpgping() {
	if [ -z "$cpgping" ]; then
		it_skip harness.cpgping.ack "cpgping not built"
		return
	fi
	if ! cl spawn 1 cpgm -- "$cpgping" member >/dev/null 2>&1 ||
		! cl spawn 2 cpgm -- "$cpgping" member >/dev/null 2>&1; then
		it_fail harness.cpgping.ack "could not spawn the members on nodes 1 and 2"
		return
	fi
	local out
	if out=$(timeout 60 bash "$cluster" exec 3 -- "$cpgping" ack -m 3 -n 300 -w 20 -s 256 2>&1) &&
		grep -q '^RESULT ack_rtt .*members=3 n=300' <<<"$out"; then
		it_pass harness.cpgping.ack "$(grep '^RESULT' <<<"$out" | grep -o 'median=[^ ]* .*p99=[^ ]*' | sed 's/ mean=[^ ]* p90=[^ ]*//')"
	else
		it_fail harness.cpgping.ack "no complete request + all-acks round across 3 nodes: ${out//$'\n'/ | }"
	fi
	cl unspawn 1 cpgm >/dev/null 2>&1
	cl unspawn 2 cpgm >/dev/null 2>&1
}

check_partition() {
	local out
	if out=$(cl partition 3 2>&1); then
		expect_views harness.partition 1="quorate=Yes nodes=2" 2="quorate=Yes nodes=2" 3="quorate=No nodes=1"
	else
		it_fail harness.partition "scripts/cluster.sh partition 3: ${out//$'\n'/ | }"
	fi
	if out=$(cl heal 3 2>&1); then
		expect_views harness.heal 1="quorate=Yes nodes=3" 2="quorate=Yes nodes=3" 3="quorate=Yes nodes=3"
	else
		it_fail harness.heal "scripts/cluster.sh heal 3: ${out//$'\n'/ | }"
	fi
}

check_kill_restart() {
	local out t0 ms left marker=$STATE/n2/marker.txt spid
	# a command spawned on node 2 before the crash must run again after restart
	if ! cl spawn 2 marker -- sh -c "echo started >>'$marker'; exec sleep 100000" >"$work/spawn.log" 2>&1; then
		it_fail harness.spawn "spawn on node 2 failed"; it_log_tail "$work/spawn.log"
	fi
	t0=$(date +%s%N)
	if ! out=$(cl kill 2 2>&1); then
		it_fail harness.kill "scripts/cluster.sh kill 2: ${out//$'\n'/ | }"
		return
	fi
	left=$(ns_pids "${NS}2" | tr '\n' ' ')
	if [ -n "$left" ]; then it_fail harness.kill.nothing_left "processes left in node 2: $left"
	else it_pass harness.kill.nothing_left; fi
	# how long until the survivors drop node 2 (token + consensus)
	for _ in $(seq 150); do
		[ "$(view 1)" = "quorate=Yes nodes=2" ] && [ "$(view 3)" = "quorate=Yes nodes=2" ] && break
		sleep 0.1
	done
	ms=$((($(date +%s%N) - t0) / 1000000))
	expect_views harness.kill.survivors 1="quorate=Yes nodes=2" 3="quorate=Yes nodes=2" &&
		echo "    (survivors' view without node 2 after ~${ms} ms, polled)"
	if out=$(cl restart 2 2>&1); then
		expect_views harness.restart 1="quorate=Yes nodes=3" 2="quorate=Yes nodes=3" 3="quorate=Yes nodes=3"
	else
		it_fail harness.restart "scripts/cluster.sh restart 2: ${out//$'\n'/ | }"
		return
	fi
	spid=$(cat "$STATE/n2/spawn/marker.pid" 2>/dev/null)
	if [ "$(grep -c started "$marker" 2>/dev/null)" = 2 ] && [ -n "$spid" ] &&
		ns_pids "${NS}2" | grep -x "$spid" >/dev/null; then
		it_pass harness.spawn.rerun_on_restart "started twice, running again as pid $spid in node 2"
	else
		it_fail harness.spawn.rerun_on_restart "marker has $(grep -c started "$marker" 2>/dev/null || echo 0) starts (want 2), pid '$spid' in node 2: $(ns_pids "${NS}2" | grep -cx "${spid:-x}")"
	fi
}

check_down() {
	local pids=() i p out left=
	for i in 1 2 3; do
		mapfile -t -O "${#pids[@]}" pids < <(cl pid "$i" 2>/dev/null; cat "$STATE"/n"$i"/spawn/*.pid 2>/dev/null)
	done
	if ! out=$(cl down 2>&1); then
		it_fail harness.down "scripts/cluster.sh down: ${out//$'\n'/ | }"
	fi
	cluster_up=
	for p in "${pids[@]}"; do
		[ -d "/proc/$p" ] && [ "$(sed 's/.*) \(.\).*/\1/' "/proc/$p/stat" 2>/dev/null)" != Z ] && left+="$p "
	done
	if ip netns list | grep "^${NS}[0-9]" >/dev/null; then
		it_fail harness.down "namespaces left: $(ip netns list | grep "^${NS}[0-9]" | tr '\n' ' ')"
	elif ip -o link show | grep -E "^[0-9]+: ($CLUSTER_BRIDGE|${CLUSTER_VETH_PREFIX}[0-9])" >/dev/null; then
		it_fail harness.down "bridge or veth left: $(ip -o link show | grep -oE "^[0-9]+: ($CLUSTER_BRIDGE|${CLUSTER_VETH_PREFIX}[0-9]+)" | cut -d' ' -f2 | tr '\n' ' ')"
	elif [ -n "$left" ]; then
		it_fail harness.down "processes left: $left"
	elif [ -e "$STATE" ]; then
		it_fail harness.down "state left: $STATE"
	else
		it_pass harness.down "no namespace, bridge, process or state left (${#pids[@]} processes gone)"
	fi
	if out=$(cl down 2>&1); then it_pass harness.down.idempotent
	else it_fail harness.down.idempotent "a second down failed: ${out//$'\n'/ | }"; fi
	if out=$(cl status 2>&1); then
		it_fail harness.status.after_down "status succeeds with no cluster: ${out//$'\n'/ | }"
	else
		it_pass harness.status.after_down "${out:0:80}"
	fi
}

check_second_cluster() {
	local out apid spid left='' p
	cluster_up=1
	if out=$(cl up 1 2>&1) && [ "$(view 1)" = "quorate=Yes nodes=1" ]; then
		it_pass harness.up_again "up 1 after a first cluster: quorate alone"
	else
		it_fail harness.up_again "up 1 after a first cluster: ${out//$'\n'/ | }"
	fi
	# a crash half-way through a down: the namespace is gone, its processes
	# are not; the next down must still find and kill them
	apid=$(cl pid 1 2>/dev/null)
	cl spawn 1 orphan -- sleep 100000 >/dev/null 2>&1
	spid=$(cat "$STATE/n1/spawn/orphan.pid" 2>/dev/null)
	ip netns del "${NS}1" 2>/dev/null
	if ! out=$(cl down 2>&1); then
		it_fail harness.down.after_crash "scripts/cluster.sh down: ${out//$'\n'/ | }"
		return
	fi
	cluster_up=
	for p in $apid $spid; do
		[ -d "/proc/$p" ] && [ "$(sed 's/.*) \(.\).*/\1/' "/proc/$p/stat" 2>/dev/null)" != Z ] && left+="$p "
	done
	if [ -z "$apid" ] || [ -z "$spid" ]; then
		it_fail harness.down.after_crash "no anchor ($apid) or spawned ($spid) pid to check"
	elif [ -n "$left" ]; then
		it_fail harness.down.after_crash "processes of a deleted node namespace survived down: $left"
	else
		it_pass harness.down.after_crash "corosync and a spawned process of an unregistered namespace killed"
	fi
}

main() {
	local t0=$SECONDS
	echo "=== cluster harness (scripts/cluster.sh) ==="
	preflight || return
	build_cpgping
	if check_up; then
		check_isolation
		check_cpgping
		check_partition
		check_kill_restart
	else
		for n in isolation portal_reachable cpgping.ack partition heal kill restart; do
			it_skip "harness.$n" "the cluster did not come up"
		done
	fi
	check_down
	check_second_cluster
	echo "(cluster harness tests took $((SECONDS - t0))s)"
}

main
if [ "${#failed_names[@]}" -gt 0 ]; then
	echo "failed: ${failed_names[*]}"
fi
echo "$npass passed, $nfail failed, $nskip skipped"
[ "$nfail" = 0 ]
