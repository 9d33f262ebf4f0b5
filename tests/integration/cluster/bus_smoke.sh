#!/usr/bin/env bash
# tests/integration/cluster/bus_smoke.sh: the cluster service on real
# corosync (the corosync backend, src/cluster/cluster_bus_corosync.c) across
# membership changes, checked from what bus_smoke prints on each node.
#
#   bash tests/integration/cluster/bus_smoke.sh
#
# Brings up 3 nodes (scripts/cluster.sh up 3), runs bus_smoke on each
# (node 1 submits 500 commits, 30 ms apart; nodes 2 and 3 only apply), and
# meanwhile: cuts node 3 off and heals it, restarts bus_smoke on node 2 (a
# new process on a node that stays in the ring), kills node 3 (corosync and
# all, kill -9) and restarts it. Then checks:
#   views     every view id is reported with the same members by every
#             node that reports it, and no node reports an id twice
#   minority  node 3 alone was not quorate
#   commits   node 1's 300 commits all completed with status 0
#   state     the channel's apply count and digest are the same on all
#             three nodes at the end (node 2's second process and node 3's
#             after the restart caught up through the state transfer)
# One PASS/FAIL line per check, exit 1 on a failure. About 30 s.
#
# bus_smoke comes from the build directory BUILD (default build/; ninja
# builds the cluster and base libraries there, bus_smoke is linked with
# them). Refuses to run when the cluster it would use is already up: on a
# shared machine, give it one of its own (CTGT_CLUSTER_ID=x
# CTGT_CLUSTER_SUBNET=10.x.0, see scripts/cluster.sh).
set -uo pipefail
cd "$(dirname "$0")/../../.." || exit 1
ROOT=$(pwd)
CLUSTER="$ROOT/scripts/cluster.sh"
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
COMMITS=500

log() { echo "bus_smoke.sh: $*" >&2; }
die() { log "$*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (scripts/cluster.sh)"
if bash "$CLUSTER" status >/dev/null 2>&1; then
	die "a cluster is already up: run scripts/cluster.sh down first (if it is yours)"
fi

WORK=$(mktemp -d /tmp/ctgt-bus-smoke.XXXXXX)
UP=
# shellcheck disable=SC2317  # (called by the EXIT trap)
cleanup() {
	[ -z "$UP" ] || bash "$CLUSTER" down >/dev/null 2>&1 || log "scripts/cluster.sh down failed"
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- build ----------------------------------------------------------------------
[ -d "$BUILD" ] || meson setup "$BUILD" >"$WORK/setup.log" 2>&1 ||
	{ cat "$WORK/setup.log" >&2; die "meson setup $BUILD failed"; }
# meson builds it (tests/integration/cluster/meson.build) with the build's
# own flags, sanitizers included, when the corosync libraries are found.
ninja -C "$BUILD" tests/integration/cluster/bus_smoke >"$WORK/build.log" 2>&1 ||
	{ tail -n 20 "$WORK/build.log" >&2; die "cannot build bus_smoke in $BUILD (corosync dev libraries? scripts/deps.sh)"; }
SMOKE=$BUILD/tests/integration/cluster/bus_smoke

# --- run ------------------------------------------------------------------------
UP=1
bash "$CLUSTER" up 3 >"$WORK/up.log" 2>&1 || { cat "$WORK/up.log" >&2; die "scripts/cluster.sh up 3 failed"; }
STATE=$(bash "$CLUSTER" status | sed -n 's/.*state \([^,]*\), token.*/\1/p')
[ -d "$STATE" ] || die "cannot find the cluster's state directory"

for i in 2 3; do
	bash "$CLUSTER" spawn "$i" smoke -- "$SMOKE" -n 0 -q >/dev/null || die "bus_smoke did not start on node $i"
done
bash "$CLUSTER" spawn 1 smoke -- "$SMOKE" -m 3 -n "$COMMITS" -i 30 -q >/dev/null || die "bus_smoke did not start on node 1"
sleep 1
bash "$CLUSTER" partition 3 >/dev/null 2>&1 || log "partition 3 failed"
bash "$CLUSTER" heal 3 >/dev/null 2>&1 || log "heal 3 failed"
bash "$CLUSTER" unspawn 2 smoke
bash "$CLUSTER" spawn 2 smoke -- "$SMOKE" -n 0 -q >/dev/null || die "bus_smoke did not restart on node 2"
bash "$CLUSTER" kill 3 >/dev/null 2>&1 || log "kill 3 failed"
bash "$CLUSTER" restart 3 >/dev/null 2>&1 || log "restart 3 failed"   # re-runs its bus_smoke

# node 1 prints its state when its last commit completed
for _ in $(seq 600); do
	grep -q '^state:' "$STATE/n1/smoke.log" 2>/dev/null && break
	sleep 0.1
done
sleep 1
for i in 2 3; do
	bash "$CLUSTER" unspawn "$i" smoke   # SIGTERM: prints its state
done
for i in 1 2 3; do cp "$STATE/n$i/smoke.log" "$WORK/n$i.log"; done

# --- checks ---------------------------------------------------------------------
fails=0
check() {   # NAME OK(0/1) DETAIL
	if [ "$2" = 0 ]; then
		echo "PASS $1"
	else
		echo "FAIL $1: $3"
		fails=$((fails + 1))
	fi
}

# views: "view: id ID local N ..., K member(s): 1/node1 2/node2 left [..." ->
# "ID members" per line, per node
for i in 1 2 3; do
	sed -n 's/^view: id \([0-9a-f]*\) local [0-9]* [A-Za-z ]*, [0-9]* member(s): \(.*\) left \[.*/\1 \2/p' \
		"$WORK/n$i.log" >"$WORK/views.$i"
done
dup=$(for i in 1 2 3; do cut -d' ' -f1 "$WORK/views.$i" | sort | uniq -d | sed "s/^/node $i: /"; done)
check "views: no node reports a view id twice" "$([ -z "$dup" ] && echo 0 || echo 1)" "$dup"
mismatch=$(cat "$WORK"/views.[123] | sort -u | cut -d' ' -f1 | uniq -d)
check "views: every id has the same members on every node" "$([ -z "$mismatch" ] && echo 0 || echo 1)" \
	"ids with different member lists: $mismatch"
shared=$(cut -d' ' -f1 "$WORK/views.1" | sort -u | comm -12 - <(cut -d' ' -f1 "$WORK/views.3" | sort -u) | wc -l)
check "views: nodes 1 and 3 share views (not each in its own world)" "$([ "$shared" -ge 2 ] && echo 0 || echo 1)" \
	"$shared shared view ids"
grep -q '^view: .* NOT quorate, 1 member(s): 3/' "$WORK/n3.log"
check "minority: node 3 alone is not quorate" "$?" "no 'NOT quorate, 1 member(s): 3/' view in node 3's log"

bad=$(grep '^commit [0-9]*:' "$WORK/n1.log" | grep -vc 'not committed')
applied1=$(sed -n 's/^state: .* applied \([0-9]*\) digest \([0-9a-f]*\)$/\1 \2/p' "$WORK/n1.log" | tail -n1)
check "commits: node 1's $COMMITS commits completed with status 0, each applied once" \
	"$([ "$bad" = 0 ] && [ "${applied1%% *}" = "$COMMITS" ] && echo 0 || echo 1)" "$bad failed; final state: ${applied1:-none}"
retries=$(grep -c 'not committed' "$WORK/n1.log")
echo "     ($retries commit(s) voided by a view change and submitted again)"
for i in 2 3; do
	s=$(sed -n 's/^state: .* applied \([0-9]*\) digest \([0-9a-f]*\)$/\1 \2/p' "$WORK/n$i.log" | tail -n1)
	check "state: node $i applied the same as node 1 ($applied1)" \
		"$([ -n "$s" ] && [ "$s" = "$applied1" ] && echo 0 || echo 1)" "node $i: ${s:-no state line}"
done

if [ "$fails" != 0 ]; then
	for i in 1 2 3; do
		log "node $i log:"
		grep -E '^(view|ready|state|commit)' "$WORK/n$i.log" | sed 's/^/    /' >&2
	done
	exit 1
fi
exit 0
