#!/usr/bin/env bash
# bench/cpgping.sh: the raw corosync CPG figures on the local 3-node cluster
# (scripts/cluster.sh up 3), the baseline the cluster service's own benchmark
# is compared with in the same run.
#
#   bash bench/cpgping.sh
#
# Builds shared/bench/cpgping.c (next to the repository: ../shared/bench/),
# brings up 3 nodes, and measures with members on nodes 1 and 2 and the
# measuring process on node 3 (cpgping.c's header):
#   self_delivery  an AGREED message until it is delivered back to its sender
#   ack_rtt        a request until every other member's ack is delivered
#                  (the "answer after all members applied" cost of DESIGN.md)
#   tput           AGREED messages as fast as flow control allows
#   failure        kill -9 node 3, until node 1 sees the new totem view
#                  (CLOCK_REALTIME on both sides, same machine)
#   maxsize        increasing message sizes: the largest one delivered, and
#                  what cpg_max_atomic_msgsize_get says (above it libcpg
#                  fragments)
# then tears the cluster down (also on failure or Ctrl-C). Prints the RESULT
# lines and a summary table. About a minute.
#
# Refuses to run when a cluster is already up (it would be torn down).
#
# Knobs (environment): CPGPING_N (samples, 2000), CPGPING_SIZE (bytes, 256),
# CPGPING_TPUT_SECONDS (5), CPGPING_KILLS (failure-detection repetitions, 3),
# CPGPING_SRC (source), CTGT_CLUSTER_TOKEN (totem token ms, 1000).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
CLUSTER="$ROOT/scripts/cluster.sh"
SRC=${CPGPING_SRC:-$ROOT/../shared/bench/cpgping.c}
N=${CPGPING_N:-2000}
SIZE=${CPGPING_SIZE:-256}
TPUT=${CPGPING_TPUT_SECONDS:-5}
KILLS=${CPGPING_KILLS:-3}
eval "$(bash "$CLUSTER" info)" || exit 1
STATE=$CLUSTER_STATE

log() { echo "cpgping.sh: $*" >&2; }
die() { log "$*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (scripts/cluster.sh)"
[ -r "$SRC" ] || die "no $SRC (shared/bench/cpgping.c next to the repository)"
if [ "$CLUSTER_UP" != no ]; then
	die "a cluster is already up (bridge $CLUSTER_BRIDGE, namespaces $CLUSTER_NS_PREFIX*): run scripts/cluster.sh down first"
fi

WORK=$(mktemp -d /tmp/ctgt-cpgping.XXXXXX)
UP=
# shellcheck disable=SC2317  # (called by the EXIT trap)
cleanup() {
	[ -z "$UP" ] || bash "$CLUSTER" down >/dev/null 2>&1 || log "scripts/cluster.sh down failed"
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

gcc -O2 -Wall -o "$WORK/cpgping" "$SRC" -lcpg || die "cannot build $SRC (scripts/deps.sh installs libcpg-dev)"
P=$WORK/cpgping

UP=1
bash "$CLUSTER" up 3 || die "scripts/cluster.sh up 3 failed"
for i in 1 2; do
	bash "$CLUSTER" spawn "$i" cpgm -- "$P" member >/dev/null || die "cannot start the member on node $i"
done

# run3 MODE ARGS...: cpgping MODE on node 3, output in WORK/MODE.out
run3() {
	local mode=$1
	shift
	timeout 300 bash "$CLUSTER" exec 3 -- "$P" "$mode" -m 3 "$@" >"$WORK/$mode.out" 2>&1 ||
		{ log "cpgping $mode failed:"; sed 's/^/    /' "$WORK/$mode.out" >&2; return 1; }
	grep '^RESULT' "$WORK/$mode.out"
}

echo "=== raw corosync CPG, 3 nodes (token ${CTGT_CLUSTER_TOKEN:-1000} ms, knet, no crypto), $(nproc) CPUs ==="
status=0
run3 self -n "$N" -s "$SIZE" || status=1
run3 ack -n "$N" -s "$SIZE" || status=1
run3 tput -t "$TPUT" -s "$SIZE" || status=1
sleep 0.5
for i in 1 2; do grep '^member.*rx_data=[1-9]' "$STATE/n$i/cpgm.log" | tail -n 1; done
run3 maxsize || status=1
atomic=$(grep -o 'max_atomic_msgsize=[0-9]*' "$WORK/maxsize.out" | head -n1 | cut -d= -f2)

# failure detection: kill -9 node 3, time until node 1's totem view drops it
bash "$CLUSTER" spawn 1 watch -- "$P" watch >/dev/null || die "cannot start the watcher on node 1"
fails=()
for r in $(seq "$KILLS"); do
	sleep 1
	: >"$STATE/n1/watch.log"
	t0=$(date +%s.%N)
	bash "$CLUSTER" kill 3 >/dev/null 2>&1
	d=
	for _ in $(seq 200); do
		d=$(awk -v t0="$t0" '/TOTEM_CONFCHG.*nodes=2/ { printf "%.0f", ($1 - t0) * 1000; exit }' "$STATE/n1/watch.log")
		[ -n "$d" ] && break
		sleep 0.05
	done
	if [ -n "$d" ]; then
		echo "RESULT failure_detection run=$r ms=$d"
		fails+=("$d")
	else
		echo "RESULT failure_detection run=$r ms=none (no new view within 10 s)"
		status=1
	fi
	bash "$CLUSTER" restart 3 >/dev/null || { log "restart 3 failed"; status=1; break; }
done

# --- summary --------------------------------------------------------------------
field() { grep -o "$2=[0-9.]*[a-z/]*" "$WORK/$1.out" | head -n1 | cut -d= -f2; }
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "n/a"}'; }
maxok=$(awk '/^RESULT maxsize/ && /rc=1 / && /delivered=1/ {split($3, a, "="); m=a[2]} END {print m+0}' "$WORK/maxsize.out")
echo
echo "| metric (3 nodes, ${SIZE} B) | median | p99 |"
echo "|---|---|---|"
echo "| self-delivery (AGREED) | $(field self median) | $(field self p99) |"
echo "| request + all acks | $(field ack median) | $(field ack p99) |"
echo "| throughput (self-delivered) | $(grep -o 'self_delivered_rate=[0-9]* msg/s ([0-9.]* MB/s)' "$WORK/tput.out" | cut -d= -f2) | |"
echo "| failure detection (kill -9 -> survivors' view) | $(med "${fails[@]}") ms (runs: ${fails[*]}) | |"
echo "| largest message delivered | $maxok B (cpgping's largest try) | |"
echo "| max atomic message (no libcpg fragmenting) | ${atomic:-?} B | |"
exit "$status"
