#!/usr/bin/env bash
# scripts/cluster.sh: N cluster nodes on this machine, each one a network
# namespace with its own corosync (DESIGN.md, "Local cluster on one machine").
#
#   scripts/cluster.sh up [N]                 N nodes (1..5, default 3), returns
#                                             when all N are in one quorate view
#   scripts/cluster.sh down [--keep-logs]     stop and remove everything (also
#                                             after a crashed run; idempotent)
#   scripts/cluster.sh status                 nodes, pids, addresses, membership
#                                             and quorum as each node sees it
#   scripts/cluster.sh exec NODE -- CMD...    run CMD inside NODE (network +
#                                             mount namespace), in the foreground
#   scripts/cluster.sh spawn NODE NAME -- CMD...
#                                             start CMD in NODE in the background,
#                                             log in STATE/nNODE/NAME.log; re-run
#                                             by `restart NODE`
#   scripts/cluster.sh unspawn NODE NAME      stop it and forget it
#   scripts/cluster.sh kill NODE...           kill -9 everything in NODE (a crash)
#   scripts/cluster.sh stop NODE...           SIGTERM everything in NODE (then -9)
#   scripts/cluster.sh restart NODE...        start a killed/stopped NODE again
#                                             (same identity), wait until it is
#                                             back in the quorate view, re-run
#                                             its spawned commands
#   scripts/cluster.sh partition NODE...      cut NODE off the bridge: it forms
#                                             a minority of one and loses quorum
#   scripts/cluster.sh heal NODE...           reconnect it, wait for the merge
#   scripts/cluster.sh pid NODE               the anchor pid (the node's corosync):
#                                             nsenter -t PID -n -m enters the node
#   scripts/cluster.sh addr NODE              the node's address (its portal host)
#   scripts/cluster.sh ns NODE                the node's network namespace name
#   scripts/cluster.sh info                   this instance's names as shell
#                                             assignments (eval in tests)
#   scripts/cluster.sh wait                   wait until every running, connected
#                                             node is in one quorate view
#
# Layout (docs/cluster-harness.md has the why):
#   bridge ctgt-br0 in the root namespace, 10.77.0.1/24 (the initiator's side)
#   node i: network namespace ctgt-n$i, veth ctgt-v$i (root side, in the
#     bridge) <-> eth0 (node side) 10.77.0.$((10+i))/24; corosync nodeid i,
#     name node$i, knet over that address
#   the node's corosync runs in a mount namespace of its own: tmpfs on /run
#     and /dev/shm (corosync's IPC is an abstract unix socket, which is per
#     network namespace, plus ring buffers in /dev/shm), STATE/n$i/lib on
#     /var/lib/corosync and STATE/n$i/log on /var/log/corosync; STATE stays
#     visible at the same path. That corosync is the node's anchor: every
#     process of the node runs in its namespaces (nsenter -t ANCHOR -n -m).
#   STATE (default /run/ctgt-cluster, or $CTGT_CLUSTER_DIR):
#     STATE/cluster.conf              N
#     STATE/n$i/corosync.conf         the node's configuration
#     STATE/n$i/corosync.log          corosync's log (stdout/stderr: corosync.out)
#     STATE/n$i/anchor.pid            the anchor's pid
#     STATE/n$i/state                 running | killed | stopped
#     STATE/n$i/partitioned           present while partitioned
#     STATE/n$i/spawn/NAME.cmd, .pid  spawned commands; log in STATE/n$i/NAME.log
#
# A node's processes are found by their network namespace (`ip netns pids`):
# whatever a node runs, and whatever that forks, is killed by kill/stop/down.
#
# Environment: CTGT_CLUSTER_TIMEOUT (seconds to wait for a quorate view,
# default 30), CTGT_CLUSTER_TOKEN (corosync totem token in ms, default 1000),
# CTGT_CLUSTER_ID (default ctgt) and CTGT_CLUSTER_SUBNET (default 10.77.0):
# several clusters side by side (one per developer on a shared machine), each
# with its own ID and subnet; the names above are then ID-br0, ID-nI, ID-vI,
# /run/ID-cluster; CTGT_CLUSTER_DIR (state, default /run/ID-cluster).
#
# Exit status: 0 on success; 1 on failure, with a message naming the logs.
# Root only. Sends traffic only on the bridge it creates.
set -euo pipefail

SELF=$(readlink -f "${BASH_SOURCE[0]}")
ID=${CTGT_CLUSTER_ID:-ctgt}
SUBNET=${CTGT_CLUSTER_SUBNET:-10.77.0}
STATE=${CTGT_CLUSTER_DIR:-/run/$ID-cluster}
TIMEOUT=${CTGT_CLUSTER_TIMEOUT:-30}
TOKEN=${CTGT_CLUSTER_TOKEN:-1000}
BRIDGE=$ID-br0
NS_PREFIX=$ID-n
VETH_PREFIX=$ID-v
HOST_ADDR=$SUBNET.1
LOCK=/run/lock/$ID-cluster.lock
MAX_NODES=5
CLUSTER_NAME=$ID

die() { echo "cluster.sh: $*" >&2; exit 1; }
say() { echo "cluster.sh: $*" >&2; }

# interface names are at most 15 bytes: ID-br0, ID-v5
[[ $ID =~ ^[a-z][a-z0-9]{0,7}$ ]] ||
	die "CTGT_CLUSTER_ID must be 1-8 lower-case letters and digits, a letter first (got '$ID')"
[[ $SUBNET =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] ||
	die "CTGT_CLUSTER_SUBNET must be the first three octets of a /24, like 10.77.0 (got '$SUBNET')"

node_dir() { echo "$STATE/n$1"; }
node_ns() { echo "$NS_PREFIX$1"; }
node_addr() { echo "$SUBNET.$((10 + $1))"; }

# --- helpers ----------------------------------------------------------------

cluster_n() {   # the N of the cluster that is up, or fail
	[ -s "$STATE/cluster.conf" ] || die "no cluster is up (no $STATE/cluster.conf); run: $0 up [N]"
	local n
	n=$(sed -n 's/^N=//p' "$STATE/cluster.conf")
	[[ $n =~ ^[0-9]+$ ]] || die "$STATE/cluster.conf is damaged; run: $0 down"
	echo "$n"
}

check_node() {   # NODE: a node number of the cluster that is up
	local n
	n=$(cluster_n)
	if ! [[ ${1:-} =~ ^[0-9]+$ ]] || [ "$1" -lt 1 ] || [ "$1" -gt "$n" ]; then
		die "no node '${1:-}': the cluster has nodes 1..$n"
	fi
}

pid_alive() {   # PID: running (not a zombie)
	local st
	[ -n "${1:-}" ] && [ -r "/proc/$1/stat" ] || return 1
	st=$(sed 's/.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

anchor_pid() {   # NODE: the anchor's pid if it is the node's live corosync
	local f pid
	f=$(node_dir "$1")/anchor.pid
	[ -s "$f" ] || return 1
	pid=$(cat "$f")
	pid_alive "$pid" || return 1
	[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = corosync ] || return 1
	[ "$(ns_inode "/proc/$pid/ns/net")" = "$(ns_inode "/run/netns/$(node_ns "$1")")" ] || return 1
	echo "$pid"
}

ns_inode() { stat -L -c %i "$1" 2>/dev/null || echo none; }

node_pids() {   # NODE: every live process in the node's network namespace
	local ns p
	ns=$(node_ns "$1")
	[ -e "/run/netns/$ns" ] || return 0
	for p in $(ip netns pids "$ns" 2>/dev/null); do
		pid_alive "$p" && echo "$p"
	done
	return 0
}

node_state() { cat "$(node_dir "$1")/state" 2>/dev/null || echo unknown; }
set_state() { echo "$2" >"$(node_dir "$1")/state"; }
is_partitioned() { [ -e "$(node_dir "$1")/partitioned" ]; }

# node_exec NODE CMD...: CMD in the node's namespaces, working directory kept
# when it exists there (or /)
node_exec() {
	local node=$1 pid wd=/
	shift
	pid=$(anchor_pid "$node") || return 1
	[ -d "$PWD" ] && wd=$PWD
	nsenter -t "$pid" -n -m --wd="$wd" -- "$@"
}

# quorum_view NODE: "quorate=yes|no members=1,2,3" as the node sees it; status 1
# if its corosync does not answer
quorum_view() {
	local out q members
	out=$(node_exec "$1" timeout 5 corosync-quorumtool -s -p 2>/dev/null) || [ -n "$out" ] || return 1
	q=$(sed -n 's/^Quorate: *//p' <<<"$out")
	[ -n "$q" ] || return 1
	members=$(awk '/^Membership information/ {m=1; next} m && $1 ~ /^[0-9]+$/ {print $1}' <<<"$out" |
		sort -n | paste -sd, -)
	case $q in Yes) q=yes ;; *) q=no ;; esac
	echo "quorate=$q members=$members"
}

# expected_members NODE: the members NODE should see when the cluster has settled: a
# partitioned node sees itself alone (never quorate when N > 1); a connected
# one sees every running connected node
expected_members() {
	local n i out=
	n=$(cluster_n)
	if is_partitioned "$1"; then
		echo "$1"
		return
	fi
	for i in $(seq 1 "$n"); do
		[ "$(node_state "$i")" = running ] || continue
		is_partitioned "$i" && continue
		out+=${out:+,}$i
	done
	echo "$out"
}

expected_quorate() {   # MEMBERS N: yes if MEMBERS hold a majority of N votes
	local c
	c=$(tr ',' '\n' <<<"$1" | grep -c . || true)
	if [ $((2 * c)) -gt "$2" ]; then echo yes; else echo no; fi
}

# settle TIMEOUT NODE...: wait until every named node's view is the expected
# one. On timeout: a message per node and the log paths, status 1.
settle() {
	local limit=$1 deadline node n want got bad
	shift
	n=$(cluster_n)
	deadline=$((SECONDS + limit))
	while :; do
		bad=
		for node in "$@"; do
			want="quorate=$(expected_quorate "$(expected_members "$node")" "$n") members=$(expected_members "$node")"
			got=$(quorum_view "$node" 2>/dev/null) || got="(corosync does not answer)"
			[ "$got" = "$want" ] || bad+="node $node: sees $got, want $want"$'\n'
		done
		[ -z "$bad" ] && return 0
		if [ "$SECONDS" -ge "$deadline" ]; then
			say "timeout after ${limit}s waiting for the membership to settle:"
			printf '%s' "$bad" | sed 's/^/    /' >&2
			for node in "$@"; do
				say "node $node log: $(node_dir "$node")/corosync.log (last lines:)"
				tail -n 8 "$(node_dir "$node")/corosync.log" 2>/dev/null | sed 's/^/    | /' >&2 || true
				[ -s "$(node_dir "$node")/corosync.out" ] &&
					tail -n 5 "$(node_dir "$node")/corosync.out" | sed 's/^/    ! /' >&2
			done
			if [ "$(cat /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null)" = 1 ] &&
				command -v iptables >/dev/null; then
				say "hint: bridged traffic goes through iptables' FORWARD chain here" \
					"(net.bridge.bridge-nf-call-iptables=1); a DROP policy there (docker) cuts the nodes off"
			fi
			return 1
		fi
		sleep 0.2
	done
}

running_nodes() {   # the nodes whose state is running
	local n i
	n=$(cluster_n)
	for i in $(seq 1 "$n"); do
		[ "$(node_state "$i")" = running ] && echo "$i"
	done
	return 0
}

# kill_node_procs NODE SIGNAL GRACE: SIGNAL to every process of the node,
# then SIGKILL to what is left after GRACE seconds; returns when none is left
kill_node_procs() {
	local node=$1 sig=$2 grace=$3 pids deadline
	pids=$(node_pids "$node")
	[ -n "$pids" ] || return 0
	# shellcheck disable=SC2086
	kill "-$sig" $pids 2>/dev/null || true
	deadline=$((SECONDS + grace))
	while :; do
		pids=$(node_pids "$node")
		[ -n "$pids" ] || return 0
		if [ "$SECONDS" -ge "$deadline" ]; then
			# shellcheck disable=SC2086
			kill -KILL $pids 2>/dev/null || true
			deadline=$((SECONDS + 10))
			grace=$((grace + 10))
			[ "$grace" -gt 60 ] && die "node $node: processes $pids do not die"
		fi
		sleep 0.05
	done
}

# --- corosync configuration --------------------------------------------------

# Why these numbers (docs/cluster-harness.md measures them):
#   token 1000 ms, token_coefficient 0: a lost node is noticed after one
#     token timeout whatever the node count (the default adds 650 ms per node
#     beyond two), then consensus; a few seconds, small enough for tests,
#     large enough that a busy 2-core machine does not lose tokens
#   consensus 1200 ms: corosync's default, 1.2 x token
#   knet ping every 200 ms, 2 lost pongs = link down: a cut link is seen
#     within the token timeout, and a healed one within ~0.5 s
#   no crypto: loopback traffic on our own bridge, and the benchmark compares
#     against the raw cost of ordering, not of AES
write_corosync_conf() {   # NODE N FILE
	local node=$1 n=$2 f=$3 i
	{
		cat <<EOF
# written by scripts/cluster.sh for node $node of $n
totem {
	version: 2
	cluster_name: $CLUSTER_NAME
	transport: knet
	crypto_cipher: none
	crypto_hash: none
	token: $TOKEN
	token_coefficient: 0
	consensus: $((TOKEN * 12 / 10))
	join: 50
	knet_ping_interval: 200
	knet_ping_timeout: 400
	knet_pong_count: 2
	interface {
		linknumber: 0
	}
}

logging {
	to_logfile: yes
	logfile: $(node_dir "$node")/corosync.log
	to_stderr: no
	to_syslog: no
	timestamp: hires
	fileline: off
	debug: off
}

quorum {
	provider: corosync_votequorum
}

nodelist {
EOF
		for i in $(seq 1 "$n"); do
			printf '\tnode {\n\t\tnodeid: %d\n\t\tname: node%d\n\t\tring0_addr: %s\n\t}\n' \
				"$i" "$i" "$(node_addr "$i")"
		done
		echo "}"
	} >"$f"
}

# --- node start (runs in the new mount namespace) ------------------------------

# __node_init NODE: called as `cluster.sh __node-init NODE` inside the node's
# network namespace and a fresh private mount namespace; becomes corosync.
node_init() {
	local node=$1 nd fd
	nd=$(node_dir "$node")
	# Only stdin/stdout/stderr go on to corosync (a caller's pipe held open
	# by a daemon would hang `$(cluster.sh up)`).
	for fd in "/proc/$$/fd/"*; do
		fd=${fd##*/}
		[ "$fd" -gt 2 ] && [ "$fd" -lt 255 ] && eval "exec $fd>&-" 2>/dev/null
	done
	exec 9<"$STATE"
	mount -t tmpfs -o mode=0755,size=64m "$NS_PREFIX$node-run" /run
	# STATE may live under /run: keep it at the same path (no canonicalising,
	# or mount would resolve the fd's path in the new /run)
	if [ ! -d "$STATE/n$node" ]; then
		mkdir -p "$STATE"
		mount -c --bind "/proc/self/fd/9" "$STATE"
	fi
	exec 9<&-
	mount -t tmpfs -o mode=1777,size=256m "$NS_PREFIX$node-shm" /dev/shm
	mkdir -p "$nd/lib" "$nd/log"
	mount --bind "$nd/lib" /var/lib/corosync
	mount --bind "$nd/log" /var/log/corosync
	echo $$ >"$nd/anchor.pid"
	exec corosync -f -c "$nd/corosync.conf"
}

node_start() {   # NODE: start the node's corosync (the netns exists)
	local node=$1 nd pid i
	nd=$(node_dir "$node")
	rm -f "$nd/anchor.pid"
	: >>"$nd/corosync.log"
	echo "--- $(date -u +%FT%T.%NZ) start" >>"$nd/corosync.out"
	setsid nsenter --net="/run/netns/$(node_ns "$node")" -- \
		unshare --mount --propagation private -- \
		bash "$SELF" __node-init "$node" </dev/null >>"$nd/corosync.out" 2>&1 8>&- &
	disown   # no "Killed" job notice from this shell when the node is killed
	for i in $(seq 100); do
		if pid=$(anchor_pid "$node"); then
			set_state "$node" running
			return 0
		fi
		sleep 0.05
	done
	say "node $node: corosync did not start; $nd/corosync.out:"
	tail -n 10 "$nd/corosync.out" | sed 's/^/    | /' >&2
	tail -n 10 "$nd/corosync.log" 2>/dev/null | sed 's/^/    | /' >&2 || true
	return 1
}

# --- spawned commands ----------------------------------------------------------

# spawn_run NODE NAME: (re)start a recorded command
spawn_run() {
	local node=$1 name=$2 nd pid wd cmd rc envs=()
	nd=$(node_dir "$node")
	pid=$(anchor_pid "$node") || { say "node $node is not running"; return 1; }
	wd=$(sed -n 1p "$nd/spawn/$name.cmd")
	cmd=$(sed -n '2,$p' "$nd/spawn/$name.cmd")
	[ -d "$wd" ] || wd=/
	echo "--- $(date -u +%FT%T.%NZ) spawn $cmd" >>"$nd/$name.log"
	# shellcheck disable=SC2086
	eval "set -- $cmd"
	# the environment of the spawn, not of whoever restarts the node
	mapfile -d '' envs <"$nd/spawn/$name.env"
	env -i "${envs[@]}" setsid nsenter -t "$pid" -n -m --wd="$wd" -- "$@" \
		</dev/null >>"$nd/$name.log" 2>&1 8>&- &
	local spid=$!
	echo "$spid" >"$nd/spawn/$name.pid"
	sleep 0.2
	if ! pid_alive "$spid"; then
		rc=0
		wait "$spid" || rc=$?
		if [ "$rc" != 0 ]; then
			say "node $node: '$name' exited with status $rc at once; $nd/$name.log:"
			tail -n 10 "$nd/$name.log" | sed 's/^/    | /' >&2
			return 1
		fi
		say "node $node: '$name' exited with status 0 at once"
	fi
	disown "$spid" 2>/dev/null || true
	echo "node $node: $name pid $spid, log $nd/$name.log"
}

spawn_names() {   # NODE: the spawned names, in spawn order
	local nd
	nd=$(node_dir "$1")
	[ -s "$nd/spawn/order" ] || return 0
	cat "$nd/spawn/order"
}

# --- commands -------------------------------------------------------------------

cmd_up() {
	local n=${1:-3} i nd
	if ! [[ $n =~ ^[0-9]+$ ]] || [ "$n" -lt 1 ] || [ "$n" -gt "$MAX_NODES" ]; then
		die "up: N must be 1..$MAX_NODES (got '$n')"
	fi
	preflight
	if link_exists "$BRIDGE" || leftovers_ns | grep . >/dev/null; then
		die "up: a cluster is already (partly) set up (bridge $BRIDGE or namespaces $(leftovers_ns | tr '\n' ' ')); run: $0 down"
	fi
	if [ -n "$(ip -4 route show to "$SUBNET.0/24" 2>/dev/null)" ] ||
		[ -n "$(ip -4 addr show to "$SUBNET.0/24" 2>/dev/null)" ]; then
		die "up: $SUBNET.0/24 is already in use here (another cluster instance?); set CTGT_CLUSTER_SUBNET"
	fi
	rm -rf "$STATE"
	mkdir -p "$STATE"
	echo "N=$n" >"$STATE/cluster.conf"
	# whatever fails from here on (set -e), nothing stays up
	up_done=
	trap 'up_exit' EXIT
	ip link add "$BRIDGE" type bridge forward_delay 0 stp_state 0
	ip addr add "$HOST_ADDR/24" dev "$BRIDGE"
	ip link set "$BRIDGE" up
	for i in $(seq 1 "$n"); do
		nd=$(node_dir "$i")
		mkdir -p "$nd/lib" "$nd/log" "$nd/spawn"
		set_state "$i" stopped
		ip netns add "$(node_ns "$i")"
		ip link add "$VETH_PREFIX$i" type veth peer name eth0 netns "$(node_ns "$i")"
		ip link set "$VETH_PREFIX$i" master "$BRIDGE"
		ip link set "$VETH_PREFIX$i" up
		ip -n "$(node_ns "$i")" link set lo up
		ip -n "$(node_ns "$i")" addr add "$(node_addr "$i")/24" dev eth0
		ip -n "$(node_ns "$i")" link set eth0 up
		ns_inode "/run/netns/$(node_ns "$i")" >"$nd/netns.ino"
		write_corosync_conf "$i" "$n" "$nd/corosync.conf"
	done
	for i in $(seq 1 "$n"); do
		node_start "$i"
	done
	# shellcheck disable=SC2046
	settle "$TIMEOUT" $(seq 1 "$n") || die "up: the $n nodes did not form one quorate view within ${TIMEOUT}s"
	up_done=1
	say "up: $n nodes in one quorate view ($SUBNET.11..$(node_addr "$n"), state $STATE)"
}

up_exit() {
	[ -z "$up_done" ] || return 0
	say "up failed; tearing down (logs kept in $STATE/n*/)"
	(cmd_down --keep-logs) >/dev/null 2>&1 || say "teardown failed too: run $0 down"
}

# (links are looked up with ip, not /sys/class/net: sysfs shows the namespace
# it was mounted in, which is not ours when we run in a private netns)
link_exists() { ip link show dev "$1" >/dev/null 2>&1; }
our_links() {   # the bridge and the root-side veths in the current netns
	ip -o link show 2>/dev/null | awk -F': ' '{sub(/@.*/, "", $2); print $2}' |
		grep -E "^($BRIDGE|${VETH_PREFIX}[0-9]+)\$" || true
}

leftovers_ns() {
	ip netns list 2>/dev/null | awk '{print $1}' | grep "^${NS_PREFIX}[0-9]*\$" || true
}

cmd_down() {
	local keep=${1:-} ns node pids ino p
	# 1. every process of every node namespace we find (also after a crash)
	for ns in $(leftovers_ns); do
		node=${ns#"$NS_PREFIX"}
		kill_node_procs "$node" KILL 5
	done
	# 2. recorded pids of namespaces already deleted (a crash half-way through
	#    a previous down): only if the process is still in that node's netns
	for ino in "$STATE"/n*/netns.ino; do
		[ -s "$ino" ] || continue
		node=${ino%/netns.ino}
		node=${node##*/n}
		# still registered: step 1 did it
		[ "$(ns_inode "/run/netns/$(node_ns "$node")")" != "$(cat "$ino")" ] || continue
		{ stat -L -c '%i %n' /proc/[0-9]*/ns/net 2>/dev/null || true; } |
			awk -v ino="$(cat "$ino")" '$1 == ino {split($2, a, "/"); print a[3]}' |
			while read -r p; do kill -KILL "$p" 2>/dev/null || true; done
	done
	# 3. namespaces, veths, bridge
	for ns in $(leftovers_ns); do
		ip netns del "$ns" 2>/dev/null || true
	done
	for p in $(our_links); do
		[ "$p" = "$BRIDGE" ] || ip link del "$p" 2>/dev/null || true
	done
	if link_exists "$BRIDGE"; then
		ip link del "$BRIDGE"
	fi
	# 4. state
	if [ -d "$STATE" ]; then
		if [ "$keep" = --keep-logs ]; then
			rm -f "$STATE/cluster.conf" "$STATE"/n*/anchor.pid "$STATE"/n*/netns.ino
		else
			rm -rf "$STATE"
		fi
	fi
	pids=$(for ns in $(leftovers_ns); do ip netns pids "$ns"; done)
	[ -z "$pids" ] || die "down: processes left: $pids"
	[ -z "$(our_links)" ] || die "down: links left: $(our_links | tr '\n' ' ')"
	[ -z "$(leftovers_ns)" ] || die "down: namespaces left: $(leftovers_ns | tr '\n' ' ')"
	return 0
}

cmd_status() {
	local n i nd pid st view name spid
	n=$(cluster_n)
	echo "cluster: $n nodes, bridge $BRIDGE $HOST_ADDR/24, state $STATE, token ${TOKEN}ms"
	for i in $(seq 1 "$n"); do
		nd=$(node_dir "$i")
		st=$(node_state "$i")
		is_partitioned "$i" && st+=",partitioned"
		if pid=$(anchor_pid "$i"); then
			view=$(quorum_view "$i" 2>/dev/null) || view="corosync does not answer"
		else
			pid=-
			view="corosync not running"
			[ "$(node_state "$i")" = running ] && st+=",DEAD(corosync exited; see log)"
		fi
		printf 'node%d  %-15s ns %-8s anchor %-7s %-12s %s\n' "$i" "$(node_addr "$i")" \
			"$(node_ns "$i")" "$pid" "$st" "$view"
		printf '       log %s/corosync.log\n' "$nd"
		for name in $(spawn_names "$i"); do
			spid=$(cat "$nd/spawn/$name.pid" 2>/dev/null || echo -)
			if pid_alive "$spid" && [ "$(ns_inode "/proc/$spid/ns/net")" = "$(ns_inode "/run/netns/$(node_ns "$i")")" ]; then
				printf '       spawned %-12s pid %-7s running  log %s/%s.log\n' "$name" "$spid" "$nd" "$name"
			else
				printf '       spawned %-12s pid %-7s exited   log %s/%s.log\n' "$name" "$spid" "$nd" "$name"
			fi
		done
	done
}

cmd_kill() {   # SIGNAL GRACE STATE NODE...
	local sig=$1 grace=$2 st=$3 node
	shift 3
	[ $# -gt 0 ] || die "which node?"
	for node in "$@"; do check_node "$node"; done
	for node in "$@"; do
		kill_node_procs "$node" "$sig" "$grace"
		set_state "$node" "$st"
		say "node $node: $st"
	done
}

cmd_restart() {
	local node name others=()
	[ $# -gt 0 ] || die "restart: which node?"
	for node in "$@"; do
		check_node "$node"
		if anchor_pid "$node" >/dev/null; then
			die "restart: node $node is running; kill or stop it first"
		fi
	done
	for node in "$@"; do
		kill_node_procs "$node" KILL 5   # leftovers of a corosync that died alone
		node_start "$node" || die "restart: node $node did not start"
	done
	mapfile -t others < <(running_nodes)
	settle "$TIMEOUT" "${others[@]}" || die "restart: node(s) $* did not rejoin within ${TIMEOUT}s"
	for node in "$@"; do
		for name in $(spawn_names "$node"); do
			spawn_run "$node" "$name" || die "restart: node $node: spawned '$name' failed"
		done
		say "node $node: back in the quorate view"
	done
}

cmd_partition() {   # up|down NODE...
	local how=$1 node others=()
	shift
	[ $# -gt 0 ] || die "which node?"
	for node in "$@"; do check_node "$node"; done
	for node in "$@"; do
		if [ "$how" = cut ]; then
			ip link set "$VETH_PREFIX$node" down
			touch "$(node_dir "$node")/partitioned"
		else
			ip link set "$VETH_PREFIX$node" up
			rm -f "$(node_dir "$node")/partitioned"
		fi
	done
	mapfile -t others < <(running_nodes)
	settle "$TIMEOUT" "${others[@]}" ||
		die "$([ "$how" = cut ] && echo partition || echo heal): the views did not settle within ${TIMEOUT}s"
	say "$([ "$how" = cut ] && echo partitioned || echo healed): $*"
}

cmd_exec() {
	local node=${1:-}
	check_node "$node"
	shift
	[ "${1:-}" = -- ] && shift
	[ $# -gt 0 ] || die "exec: no command (exec NODE -- CMD...)"
	anchor_pid "$node" >/dev/null || die "exec: node $node is not running ($(node_state "$node"))"
	node_exec "$node" "$@"
}

cmd_spawn() {
	local node=${1:-} name=${2:-} nd spid
	check_node "$node"
	if ! [[ $name =~ ^[A-Za-z0-9_.-]+$ ]] || [ "$name" = corosync ] || [ "$name" = order ]; then
		die "spawn: NAME must be letters, digits, _ . - (and not corosync or order): '$name'"
	fi
	shift 2
	[ "${1:-}" = -- ] && shift
	[ $# -gt 0 ] || die "spawn: no command (spawn NODE NAME -- CMD...)"
	anchor_pid "$node" >/dev/null || die "spawn: node $node is not running ($(node_state "$node"))"
	nd=$(node_dir "$node")
	spid=$(cat "$nd/spawn/$name.pid" 2>/dev/null || true)
	if pid_alive "$spid" && [ "$(ns_inode "/proc/$spid/ns/net")" = "$(ns_inode "/run/netns/$(node_ns "$node")")" ]; then
		die "spawn: '$name' is already running on node $node (pid $spid); unspawn it first"
	fi
	mkdir -p "$nd/spawn"
	{ echo "$PWD"; printf '%q ' "$@"; echo; } >"$nd/spawn/$name.cmd"
	env -0 >"$nd/spawn/$name.env"
	grep -qxF "$name" "$nd/spawn/order" 2>/dev/null || echo "$name" >>"$nd/spawn/order"
	spawn_run "$node" "$name"
}

cmd_unspawn() {
	local node=${1:-} name=${2:-} nd spid i
	check_node "$node"
	nd=$(node_dir "$node")
	[ -e "$nd/spawn/$name.cmd" ] || die "unspawn: nothing named '$name' on node $node"
	spid=$(cat "$nd/spawn/$name.pid" 2>/dev/null || true)
	if pid_alive "$spid" && [ "$(ns_inode "/proc/$spid/ns/net")" = "$(ns_inode "/run/netns/$(node_ns "$node")")" ]; then
		kill -TERM "$spid" 2>/dev/null || true
		for i in $(seq 100); do pid_alive "$spid" || break; sleep 0.1; done
		pid_alive "$spid" && kill -KILL "$spid" 2>/dev/null
	fi
	rm -f "$nd/spawn/$name.cmd" "$nd/spawn/$name.env" "$nd/spawn/$name.pid"
	grep -vxF "$name" "$nd/spawn/order" >"$nd/spawn/order.new" || true
	mv "$nd/spawn/order.new" "$nd/spawn/order"
}

cmd_wait() {
	local others=()
	mapfile -t others < <(running_nodes)
	[ "${#others[@]}" -gt 0 ] || die "wait: no node is running"
	settle "$TIMEOUT" "${others[@]}"
}

# info: the names this instance uses, as shell assignments (also when no
# cluster is up), for tests: eval "$(scripts/cluster.sh info)"
cmd_info() {
	local up=no
	if link_exists "$BRIDGE" || leftovers_ns | grep . >/dev/null; then up=yes; fi
	printf 'CLUSTER_ID=%q\nCLUSTER_BRIDGE=%q\nCLUSTER_NS_PREFIX=%q\nCLUSTER_VETH_PREFIX=%q\n' \
		"$ID" "$BRIDGE" "$NS_PREFIX" "$VETH_PREFIX"
	printf 'CLUSTER_SUBNET=%q\nCLUSTER_HOST_ADDR=%q\nCLUSTER_STATE=%q\nCLUSTER_UP=%q\n' \
		"$SUBNET" "$HOST_ADDR" "$STATE" "$up"
}

preflight() {
	[ "$(id -u)" = 0 ] || die "must run as root (namespaces, bridge, mounts)"
	local t missing=
	for t in ip nsenter unshare setsid corosync corosync-quorumtool corosync-cmapctl timeout; do
		command -v "$t" >/dev/null || missing+=" $t"
	done
	[ -z "$missing" ] || die "missing:$missing (run scripts/deps.sh)"
}

# --- main ---------------------------------------------------------------------

usage() { sed -n '2,/^set -euo/p' "$SELF" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
__node-init) node_init "$@" ;;
up|down|kill|stop|restart|partition|heal|spawn|unspawn)
	preflight
	# one state-changing command at a time; one lock per machine, as the
	# namespace and bridge names are (and outside STATE, which down removes)
	mkdir -p /run/lock
	exec 8>"$LOCK"
	flock -w 120 8 || die "another cluster.sh holds $LOCK for 120 s"
	case $cmd in
	up) cmd_up "$@" ;;
	down) cmd_down "$@"; say "down: nothing left" ;;
	kill) cmd_kill KILL 5 killed "$@" ;;
	stop) cmd_kill TERM 10 stopped "$@" ;;
	restart) cmd_restart "$@" ;;
	partition) cmd_partition cut "$@" ;;
	heal) cmd_partition join "$@" ;;
	spawn) cmd_spawn "$@" ;;
	unspawn) cmd_unspawn "$@" ;;
	esac
	;;
status) cmd_status ;;
exec) cmd_exec "$@" ;;
wait) cmd_wait ;;
pid) check_node "${1:-}"; anchor_pid "$1" || die "node $1 is not running ($(node_state "$1"))" ;;
addr) check_node "${1:-}"; node_addr "$1" ;;
ns) check_node "${1:-}"; node_ns "$1" ;;
info) cmd_info ;;
''|-h|--help|help) usage ;;
*) echo "cluster.sh: unknown command '$cmd'" >&2; usage ;;
esac
