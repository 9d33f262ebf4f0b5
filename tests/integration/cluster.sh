#!/usr/bin/env bash
# Cluster integration tests: ctgtd on real corosync, three nodes on this
# machine (scripts/cluster.sh), driven through ctgtadm on each node.
#
#   bash tests/integration/cluster.sh [BUILD_DIR]        (default: build)
#
# In this order: up 3; ctgtd (corosync backend, one small RAM LUN on the
# node's address) spawned on every node; every node sees 3 members,
# quorate and ready; ordered commit across nodes (a KV set on node 1 is
# read on nodes 2 and 3 with the same version); a CAS conflict; locks
# across nodes (an exclusive lock makes another node wait until it is
# released, shared locks coexist, disjoint ranges coexist and overlapping
# ones wait); notify from node 2 acked by all 3 and logged on each; kill -9
# of node 3 while nodes 1 and 2 run loops of KV sets (every set completes,
# the survivors agree on every key and version, node 3's lock is
# released); restart of node 3 (state transfer gives it every key with the
# same versions); partition of node 3 (not quorate, not ready, its KV set
# fails with a clear error; nodes 1 and 2 stay quorate and serve); heal
# (node 3 ready again, with the keys set meanwhile); ctgtd stops cleanly
# on every node (exit 0, no sanitizer report); down.
#
# The port directory (docs/cluster-device.md, "Wiring: the port directory
# in ctgtd"), with REPORT TARGET PORT GROUPS through each node's portal
# (tests/integration/rtpg.py, run in the node's namespace): once all 3 are
# ready, every node reports the same 3 port groups with their RTPIs, all
# ACTIVE/OPTIMIZED, and node 1's second target (RTPI 11, on node 1 only)
# reports only its own port; after the kill -9 of node 3, nodes 1-2 report group 3
# UNAVAILABLE; after its restart all 3 are back; the partitioned node 3
# reports its own group (every group) UNAVAILABLE and refuses TEST UNIT
# READY (02/04/0C) while node 1 reports group 3 UNAVAILABLE and serves; after the heal, a ctgtd on node 3 whose RTPI clashes with
# node 1's is refused with a clear message and exits 1, and node 3's
# usual ctgtd comes back. SendTargets (iscsi-ls) through node 3 lists the
# portals of all 3 nodes, and through node 2 only nodes 1-2's while node 3
# is down.
#
# Every check prints "PASS name", "FAIL name: reason" or "SKIP name:
# reason"; the last line is "N passed, N failed, N skipped". Exit status 1
# if anything failed. Everything SKIPs, with the reason, when the harness,
# corosync or a ctgtd built with the corosync backend is missing (never a
# silent pass).
#
# It runs a cluster instance of its own (CTGT_CLUSTER_ID=ctgtcl, subnet
# 10.77.41 unless set), so a developer's cluster "ctgt" is left alone; it
# refuses to run when its instance is already up. Root only. About 60 s.
#
# Environment: CTGT_CLUSTER_ID, CTGT_CLUSTER_SUBNET, CTGT_CLUSTER_DIR,
# CTGT_CLUSTER_TIMEOUT as for scripts/cluster.sh; CTGT_TEST_KEEP=1 keeps the
# work folder and the node logs.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
harness=$root/scripts/cluster.sh

build=${1:-build}
[ -d "$build" ] || [ ! -d "$root/$build" ] || build=$root/$build
build=$(cd "$build" 2>/dev/null && pwd || echo "$build")
ctgtd=$build/src/daemon/ctgtd
adm=$build/tools/ctgtadm

export CTGT_CLUSTER_ID=${CTGT_CLUSTER_ID:-ctgtcl}
export CTGT_CLUSTER_SUBNET=${CTGT_CLUSTER_SUBNET:-10.77.41}
IQN=iqn.2026-11.org.ctgt:cluster
N=3
CRASH_SETS=150     # per surviving node; enough to outlast failure detection

work=$(mktemp -d /tmp/ctgt-cluster-it.XXXXXX)

# shellcheck source=tests/integration/cluster_lib.sh
. "$here/cluster_lib.sh"

# All the checks below, skipped with one reason.
it_skip_all() {
	local t
	for t in cluster.up cluster.ctgtd.start cluster.view cluster.kv.ordered \
		cluster.kv.cas_conflict cluster.lock.exclusive_waits cluster.lock.shared \
		cluster.lock.ranges cluster.notify cluster.crash.sets_complete \
		cluster.crash.survivors_agree cluster.crash.lock_released cluster.rejoin \
		cluster.rejoin.state_transfer cluster.partition.minority \
		cluster.partition.majority_serves cluster.heal cluster.stop \
		cluster.ports.rtpg cluster.ports.per_target cluster.ports.crash cluster.ports.rejoin \
		cluster.ports.partition \
		cluster.ports.partition_majority cluster.ports.partition_io \
		cluster.ports.partition_io_majority cluster.ports.clash cluster.ports.back \
		cluster.ports.back_io cluster.ports.sendtargets \
		cluster.ports.sendtargets_crash; do
		it_skip "$t" "$1"
	done
}



# dump NODE KEY...: "key version value" per key, read on NODE in one exec
dump() {
	local node=$1; shift
	timeout 60 bash "$harness" exec "$node" -- bash -c '
		adm=$1; shift
		for k in "$@"; do
			out=$("$adm" --json kv get "$k" 2>/dev/null)
			echo "$k $(sed -n "s/.*\"value\":\"\([^\"]*\)\".*\"version\":\([0-9]*\).*/\2 \1/p" <<<"$out")"
		done' _ "$adm" "$@"
}


# rtpg NODE: REPORT TARGET PORT GROUPS through NODE's portal, from inside
# the node's namespaces (so it works while the node is partitioned): one
# line "G=STATE:RTPIS ..." (rtpg.py)
rtpg() {
	timeout 30 bash "$harness" exec "$1" -- python3 "$here/rtpg.py" \
		--host "$(cl addr "$1")" --port 3260 --target "${RTPG_TARGET:-$IQN}" "${@:2}" 2>&1
}

# tur_check NAME NODE WANT: TEST UNIT READY through NODE's portal answers
# WANT ("GOOD", "CHECK 02/04/0C"), within 10 s
tur_check() {
	local deadline=$((SECONDS + 10)) out
	while :; do
		out=$(rtpg "$2" --tur)
		[ "$out" = "$3" ] && { it_pass "$1" "node $2: TEST UNIT READY: $out"; return 0; }
		[ "$SECONDS" -ge "$deadline" ] && break
		sleep 0.3
	done
	it_fail "$1" "node $2: TEST UNIT READY: '$out', want '$3'"
}

# wait_rtpg NODE WANT TIMEOUT: 0 once NODE's answer is WANT; the last one
# in $rtpg_last
wait_rtpg() {
	local deadline=$((SECONDS + $3))
	while :; do
		rtpg_last=$(rtpg "$1")
		[ "$rtpg_last" = "$2" ] && return 0
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.3
	done
}

# ports_check NAME WANT TIMEOUT NODE...: every NODE answers WANT
ports_check() {
	local name=$1 want=$2 to=$3 i bad=
	shift 3
	for i in "$@"; do
		wait_rtpg "$i" "$want" "$to" || bad+="node $i: '$rtpg_last'; "
	done
	if [ -z "$bad" ]; then
		it_pass "$name" "nodes $*: $want"
	else
		it_fail "$name" "want '$want'; $bad"
	fi
}

ALL_AO="1=AO:1 2=AO:2 3=AO:3"

# After the heal: node 3's ctgtd is stopped and restarted with RTPI 1
# (node 1's): refused, exit 1, with the message; then its usual one again.
# sendtargets_check NAME NODE WANT: iscsi-ls (SendTargets) through NODE's
# portal, in its namespace, lists exactly the portals WANT names (node
# numbers, e.g. "1 2 3") for the cluster target: other nodes' live
# portals come from the port directory.
sendtargets_check() {
	local name=$1 node=$2 want=$3 deadline=$((SECONDS + 15)) got i exp
	exp=$(for i in $want; do echo "$(cl addr "$i"):3260,1"; done | sort | paste -sd' ' -)
	while :; do
		got=$(timeout 20 bash "$harness" exec "$node" -- iscsi-ls \
			"iscsi://$(cl addr "$node"):3260" 2>&1 |
			sed -n "s/^Target:$IQN Portal://p" | sort | paste -sd' ' -)
		[ "$got" = "$exp" ] && break
		[ "$SECONDS" -ge "$deadline" ] && break
		sleep 0.5
	done
	if [ "$got" = "$exp" ]; then
		it_pass "$name" "node $node lists $got"
	else
		it_fail "$name" "node $node lists \"$got\", want \"$exp\""
	fi
}

it_clash() {
	local out rc
	if ! cl unspawn 3 ctgtd >/dev/null 2>&1; then
		it_fail cluster.ports.clash "scripts/cluster.sh unspawn 3 ctgtd failed"
		return 1
	fi
	sed -e 's/"rtpi": 3/"rtpi": 1/' "$work/n3.json" >"$work/clash.json"
	timeout 60 bash "$harness" exec 3 -- env "CTGT_STATE_DIR=$work/state3" \
		"$ctgtd" -c "$work/clash.json" >"$work/clash.log" 2>&1
	rc=$?
	out=$(grep -m1 'RTPI 1 is already node 1' "$work/clash.log")
	if [ "$rc" = 1 ] && [ -n "$out" ] && ! it_sanitizer_report "$work/clash.log"; then
		it_pass cluster.ports.clash "exit 1: ${out#*ERR }"
	else
		it_fail cluster.ports.clash "ctgtd with RTPI 1 on node 3: exit $rc (want 1)"
		it_log_tail "$work/clash.log" 15
	fi
	if ! out=$(cl spawn 3 ctgtd -- env "CTGT_STATE_DIR=$work/state3" "$ctgtd" -c "$work/n3.json" 2>&1); then
		it_fail cluster.ports.back "node 3: ${out//$'\n'/ | }"
		return 1
	fi
	ports_check cluster.ports.back "$ALL_AO" 30 1 2 3
	tur_check cluster.ports.back_io 3 GOOD
}

# --- preflight -------------------------------------------------------------------


# --- the scenario ------------------------------------------------------------------

it_up() {
	local out t0=$SECONDS i
	if ! out=$(cl up "$N" 2>&1); then
		cluster_up=1   # partly: down cleans up
		it_fail cluster.up "scripts/cluster.sh up $N: ${out//$'\n'/ | }"
		return 1
	fi
	cluster_up=1
	it_pass cluster.up "$N nodes in $((SECONDS - t0)) s"
	for i in $(seq "$N"); do
		cat >"$work/n$i.json" <<EOF
{
  "threads": 1,
  "node": { "port_group": $i },
  "cluster": { "backend": "corosync", "group": "ctgt" },
  "targets": [ { "name": "$IQN",
    "portal_groups": [ { "tag": 1, "rtpi": $i, "portals": ["$(cl addr "$i"):3260"] } ],
    "luns": [ { "lun": 0, "backstore": { "type": "ram", "size": "16M" } } ] }$(
		[ "$i" = 1 ] && echo ",
    { \"name\": \"$IQN-b\",
    \"portal_groups\": [ { \"tag\": 1, \"rtpi\": 11, \"portals\": [\"$(cl addr 1):3260\"] } ],
    \"luns\": [ { \"lun\": 0, \"backstore\": { \"type\": \"ram\", \"size\": \"1M\" } } ] }") ]
}
EOF
		mkdir -p "$work/state$i"
	done
	ctgtd_spawn_all cluster.ctgtd.start
}

ctgtd_env() { echo "CTGT_STATE_DIR=$work/state$1"; }

it_view() {
	views_wait cluster.view "local node @, view [0-9]+: quorate, ready \\| members \\(3\\): 1 node1, 2 node2, 3 node3"
}

it_kv() {
	local out v d2 d3
	out=$(adm 1 --json kv set color blue 2>&1)
	v=$(json_field "$out" version)
	d2=$(dump 2 color) d3=$(dump 3 color)
	if [ -n "$v" ] && [ "$d2" = "color $v blue" ] && [ "$d3" = "color $v blue" ]; then
		it_pass cluster.kv.ordered "set on node 1 at version $v; nodes 2 and 3 read it at $v"
	else
		it_fail cluster.kv.ordered "node 1 set: $out; node 2: '$d2'; node 3: '$d3'"
	fi
	# Two CAS from the same version on two nodes: one wins, the other is
	# refused with the winner's version.
	local o2 o3 rc2 rc3 v2
	o2=$(adm 2 --json kv cas color "$v" red 2>&1); rc2=$?
	o3=$(adm 3 kv cas color "$v" green 2>&1); rc3=$?
	v2=$(json_field "$o2" version)
	if [ "$rc2" = 0 ] && [ "$rc3" = 1 ] &&
		grep -q "version mismatch (the key is at version $v2)" <<<"$o3" &&
		[ "$(dump 1 color)" = "color $v2 red" ]; then
		it_pass cluster.kv.cas_conflict "node 2 won at version $v2; node 3: ${o3}"
	else
		it_fail cluster.kv.cas_conflict "node 2 (rc $rc2): $o2; node 3 (rc $rc3): $o3; node 1 reads: $(dump 1 color)"
	fi
}

# bg_lock NODE TAG ARGS...: ctgtadm lock in the background, output in
# $work/TAG.out; the job's pid in $bg_pid
bg_lock() {
	local node=$1 tag=$2; shift 2
	adm "$node" lock "$@" >"$work/$tag.out" 2>&1 &
	bg_pid=$!
}

wait_granted() {   # TAG TIMEOUT_S
	local i
	for i in $(seq $(($2 * 10))); do
		grep -q '^granted' "$work/$1.out" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

it_locks() {
	local p1 p2 rc out t0 waited
	# exclusive: node 1 holds L for 3 s; node 2 asks and waits
	bg_lock 1 l1 L --hold 3; p1=$bg_pid
	if ! wait_granted l1 10; then
		it_fail cluster.lock.exclusive_waits "node 1 never got L: $(cat "$work/l1.out")"
		wait "$p1"
	else
		t0=$(date +%s%N)
		bg_lock 2 l2 L --timeout 20000 --hold 0; p2=$bg_pid
		sleep 1
		if grep -q granted "$work/l2.out"; then
			it_fail cluster.lock.exclusive_waits "node 2 got L while node 1 held it"
		fi
		wait "$p1"; wait "$p2"; rc=$?
		waited=$((($(date +%s%N) - t0) / 1000000))
		if [ "$rc" = 0 ] && grep -q '^granted L' "$work/l2.out" && grep -q '^released L' "$work/l1.out" &&
			[ "$waited" -ge 1500 ]; then
			it_pass cluster.lock.exclusive_waits "node 2 granted after node 1 released (waited ${waited} ms)"
		elif [ "$nfail" = 0 ] || ! grep -q granted "$work/l2.out"; then
			it_fail cluster.lock.exclusive_waits "node 2 (rc $rc, ${waited} ms): $(cat "$work/l2.out"); node 1: $(cat "$work/l1.out")"
		fi
	fi
	# shared: node 3 holds S shared; node 1 gets it shared at once, node 2
	# cannot get it exclusive
	bg_lock 3 s3 S --shared --hold 4; p1=$bg_pid
	if wait_granted s3 10; then
		out=$(adm 1 lock S --shared --timeout 3000 --hold 0 2>&1); rc=$?
		local out2 rc2
		out2=$(adm 2 lock S --timeout 1000 --hold 0 2>&1); rc2=$?
		if [ "$rc" = 0 ] && [ "$rc2" = 1 ] && grep -q ETIMEDOUT <<<"$out2"; then
			it_pass cluster.lock.shared "shared on nodes 3 and 1 together; exclusive on node 2 waits (timed out)"
		else
			it_fail cluster.lock.shared "node 1 shared (rc $rc): $out; node 2 exclusive (rc $rc2): $out2"
		fi
	else
		it_fail cluster.lock.shared "node 3 never got S shared: $(cat "$work/s3.out")"
	fi
	wait "$p1"
	# ranges: node 1 holds R [0, 100); [100, 200) on node 2 is granted,
	# [50, 150) on node 3 waits
	bg_lock 1 r1 R --range 0 100 --hold 4; p1=$bg_pid
	if wait_granted r1 10; then
		out=$(adm 2 lock R --range 100 100 --timeout 3000 --hold 0 2>&1); rc=$?
		local out3 rc3
		out3=$(adm 3 lock R --range 50 100 --timeout 1000 --hold 0 2>&1); rc3=$?
		if [ "$rc" = 0 ] && [ "$rc3" = 1 ] && grep -q ETIMEDOUT <<<"$out3"; then
			it_pass cluster.lock.ranges "[0,100) on node 1 and [100,200) on node 2 together; [50,150) on node 3 waits"
		else
			it_fail cluster.lock.ranges "node 2 [100,200) (rc $rc): $out; node 3 [50,150) (rc $rc3): $out3"
		fi
	else
		it_fail cluster.lock.ranges "node 1 never got R [0,100): $(cat "$work/r1.out")"
	fi
	wait "$p1"
}

it_notify() {
	local out rc i bad=
	out=$(adm 2 notify 65280 "hello-from-2-$$" 2>&1); rc=$?
	sleep 0.2
	for i in $(seq "$N"); do
		grep -q "notify topic 65280 from node 2 .*hello-from-2-$$" "$(node_log "$i")" || bad+=" $i"
	done
	if [ "$rc" = 0 ] && grep -q 'acked by 3 member' <<<"$out" && [ -z "$bad" ]; then
		it_pass cluster.notify "$out; logged on nodes 1-3"
	else
		it_fail cluster.notify "rc $rc: $out; not logged on node(s):${bad:- none}"
	fi
}

# A loop of KV sets on NODE (keys PREFIX.1..COUNT), in one exec; EAGAIN
# (the node is not ready for a moment while the view changes) is retried,
# anything else is a failure. Prints "done RETRIES" or "FAIL ...".
set_loop() {
	local node=$1 prefix=$2 count=$3
	timeout 120 bash "$harness" exec "$node" -- bash -c '
		adm=$1 prefix=$2 count=$3 retries=0
		for i in $(seq "$count"); do
			for try in $(seq 100); do
				out=$("$adm" --json kv set "$prefix.$i" "v$i" 2>&1); rc=$?
				[ "$rc" = 0 ] && break
				grep -q EAGAIN <<<"$out" || { echo "FAIL $prefix.$i: rc $rc: $out"; exit 1; }
				retries=$((retries + 1)); sleep 0.1
			done
			[ "$rc" = 0 ] || { echo "FAIL $prefix.$i: still EAGAIN after 100 tries"; exit 1; }
		done
		echo "done $retries"' _ "$adm" "$prefix" "$count"
}

KEYS_CRASH=()
# Whether nodes A and B hold the crash phase's keys alike, with every set
# of both loops among them; keys_diff: how they differ.
crash_keys_agree() {   # A B
	local da db
	da=$(dump "$1" "${KEYS_CRASH[@]}")
	db=$(dump "$2" "${KEYS_CRASH[@]}")
	keys_diff=$(diff <(echo "$da") <(echo "$db") | head -5 | paste -sd' ' -)
	[ "$da" = "$db" ] && [ "$(grep -c ' [0-9][0-9]* v[0-9]*$' <<<"$da")" = $((2 * CRASH_SETS)) ]
}

it_crash() {
	local pa pb ra rb pk out rc t0 i keys_diff
	# node 3 holds K until it dies
	bg_lock 3 k3 K; pk=$bg_pid
	if ! wait_granted k3 10; then
		it_fail cluster.crash.lock_released "node 3 never got K: $(cat "$work/k3.out")"
	fi
	set_loop 1 a "$CRASH_SETS" >"$work/loop-a.out" 2>&1 & pa=$!
	set_loop 2 b "$CRASH_SETS" >"$work/loop-b.out" 2>&1 & pb=$!
	sleep 1
	t0=$SECONDS
	cl kill 3 >/dev/null 2>&1 || it_fail cluster.crash.kill "scripts/cluster.sh kill 3 failed"
	wait "$pa"; ra=$?
	wait "$pb"; rb=$?
	wait "$pk" 2>/dev/null
	if [ "$ra" = 0 ] && [ "$rb" = 0 ] && grep -q '^done' "$work/loop-a.out" && grep -q '^done' "$work/loop-b.out"; then
		it_pass cluster.crash.sets_complete "$((2 * CRASH_SETS)) sets on nodes 1 and 2, the loops ending $((SECONDS - t0)) s after node 3 was killed; EAGAIN retries: $(cut -d' ' -f2 "$work/loop-a.out") + $(cut -d' ' -f2 "$work/loop-b.out")"
	else
		it_fail cluster.crash.sets_complete "node 1 loop (rc $ra): $(cat "$work/loop-a.out"); node 2 loop (rc $rb): $(cat "$work/loop-b.out")"
	fi
	KEYS_CRASH=(color)
	for i in $(seq "$CRASH_SETS"); do KEYS_CRASH+=("a.$i" "b.$i"); done
	if crash_keys_agree 1 2; then
		it_pass cluster.crash.survivors_agree "nodes 1 and 2: $((2 * CRASH_SETS + 1)) keys, same versions"
	else
		it_fail cluster.crash.survivors_agree "$keys_diff"
	fi
	if wait_view 1 "members \\(2\\): 1 node1, 2 node2" 20; then
		out=$(adm 1 lock K --timeout 15000 --hold 0 2>&1); rc=$?
		if [ "$rc" = 0 ]; then
			it_pass cluster.crash.lock_released "node 3's K granted to node 1 (view: $view_last)"
		else
			it_fail cluster.crash.lock_released "node 1 lock K (rc $rc): $out"
		fi
	else
		it_fail cluster.crash.lock_released "node 1 never saw the 2-member view: $view_last"
	fi
}

it_rejoin() {
	local out keys_diff t0=$SECONDS
	if ! out=$(cl restart 3 2>&1); then
		it_fail cluster.rejoin "scripts/cluster.sh restart 3: ${out//$'\n'/ | }"
		return 1
	fi
	if wait_view 3 "local node 3, view [0-9]+: quorate, ready \\| members \\(3\\)" 30; then
		it_pass cluster.rejoin "node 3 back and ready in $((SECONDS - t0)) s"
	else
		it_fail cluster.rejoin "node 3: $view_last"
		it_log_tail "$(node_log 3)" 15
		return 1
	fi
	if crash_keys_agree 1 3; then
		it_pass cluster.rejoin.state_transfer "node 3 has all $((2 * CRASH_SETS + 1)) keys with node 1's versions"
	else
		it_fail cluster.rejoin.state_transfer "node 1 vs node 3: $keys_diff"
	fi
}

it_partition() {
	local out rc o1 v1 d2
	if ! out=$(cl partition 3 2>&1); then
		it_fail cluster.partition.minority "scripts/cluster.sh partition 3: ${out//$'\n'/ | }"
		return 1
	fi
	if wait_view 3 "NOT quorate, NOT ready" 20; then
		out=$(adm 3 kv set p.minority x 2>&1); rc=$?
		if [ "$rc" = 1 ] && grep -q 'not ready' <<<"$out" && grep -q EAGAIN <<<"$out"; then
			it_pass cluster.partition.minority "node 3: $view_last; its kv set: $out"
		else
			it_fail cluster.partition.minority "node 3 kv set (rc $rc, want 1 with EAGAIN): $out"
		fi
	else
		it_fail cluster.partition.minority "node 3 still: $view_last"
	fi
	if wait_view 1 "quorate, ready \\| members \\(2\\): 1 node1, 2 node2" 20; then
		o1=$(adm 1 --json kv set p.1 during-partition 2>&1)
		v1=$(json_field "$o1" version)
		d2=$(dump 2 p.1)
		if [ -n "$v1" ] && [ "$d2" = "p.1 $v1 during-partition" ]; then
			it_pass cluster.partition.majority_serves "nodes 1-2 quorate; p.1 set at version $v1 and read on node 2"
		else
			it_fail cluster.partition.majority_serves "node 1 set: $o1; node 2 reads: $d2"
		fi
	else
		it_fail cluster.partition.majority_serves "node 1: $view_last"
	fi
}

it_heal() {
	local out d1 d3
	if ! out=$(cl heal 3 2>&1); then
		it_fail cluster.heal "scripts/cluster.sh heal 3: ${out//$'\n'/ | }"
		return 1
	fi
	if wait_view 3 "quorate, ready \\| members \\(3\\)" 30; then
		d1=$(dump 1 p.1 color "a.$CRASH_SETS" "b.$CRASH_SETS")
		d3=$(dump 3 p.1 color "a.$CRASH_SETS" "b.$CRASH_SETS")
		if [ "$d1" = "$d3" ] && grep -q '^p.1 [0-9]* during-partition$' <<<"$d3" &&
			[ "$(dump 3 p.minority)" = "p.minority " ]; then
			it_pass cluster.heal "node 3 ready, has p.1 (${d3%%$'\n'*}); its refused set left nothing"
		else
			it_fail cluster.heal "node 1: ${d1//$'\n'/; } vs node 3: ${d3//$'\n'/; }; p.minority on 3: $(dump 3 p.minority)"
		fi
	else
		it_fail cluster.heal "node 3: $view_last"
		it_log_tail "$(node_log 3)" 15
	fi
}

it_stop() {
	ctgtd_stop_all cluster.stop
}

it_main() {
	local t0=$SECONDS
	echo "=== cluster integration tests (ctgtd on corosync, $N nodes, instance $CTGT_CLUSTER_ID) ==="
	it_preflight || return
	it_up || return
	it_view || return
	ports_check cluster.ports.rtpg "$ALL_AO" 15 1 2 3
	RTPG_TARGET=$IQN-b ports_check cluster.ports.per_target "1=AO:11" 5 1
	sendtargets_check cluster.ports.sendtargets 3 "1 2 3"
	it_kv
	it_locks
	it_notify
	it_crash
	ports_check cluster.ports.crash "1=AO:1 2=AO:2 3=U:3" 15 1 2
	sendtargets_check cluster.ports.sendtargets_crash 2 "1 2"
	if it_rejoin; then
		ports_check cluster.ports.rejoin "$ALL_AO" 15 1 2 3
		if it_partition; then
			ports_check cluster.ports.partition "1=U:1 2=U:2 3=U:3" 15 3
			ports_check cluster.ports.partition_majority "1=AO:1 2=AO:2 3=U:3" 15 1
			tur_check cluster.ports.partition_io 3 "CHECK 02/04/0C"
			tur_check cluster.ports.partition_io_majority 1 GOOD
			it_heal && it_clash
		fi
	fi
	it_stop
	echo "(cluster tests took $((SECONDS - t0)) s)"
}

it_main
it_summary
[ "$nfail" = 0 ]
