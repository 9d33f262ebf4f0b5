#!/usr/bin/env bash
# bench/cluster.sh: the cluster service against raw corosync CPG, on one
# local cluster (scripts/cluster.sh up 3), in one run.
#
#   bash bench/cluster.sh
#
# Builds tools/ctgt-cluster-bench (release build in build-release/, like
# bench/run.sh) and shared/bench/cpgping.c (next to the repository, built
# the way bench/cpgping.sh does), brings up the nodes, and then, REPS times
# in turn so that the machine's noise hits both sides alike:
#   cpgping self   an AGREED message until it is back at its sender
#   cpgping ack    a request until every other member's ack is delivered:
#                  the raw cost of "every member has it" that the service's
#                  ordered commit is compared with
#   ctgt-cluster-bench run   ordered commit, locks (uncontended, cached,
#                  contended with a --contend member on node 2), notify
#                  round, KV set; passive members on the other nodes
# every measurement taken from node 1 with members on nodes 2..N, 256-byte
# payloads, one operation in flight. Prints every RESULT line, then a table
# of the medians over the reps (of each run's median and p99) with the
# ratio to the raw request + all-acks round (the issue's target: ordered
# commit within 1.3x), and tears the cluster down (also on failure or
# Ctrl-C).
#
# Refuses to run when a cluster is already up (someone may be using it).
# On a shared machine, run it on a cluster of your own: scripts/cluster.sh
# takes CTGT_CLUSTER_ID / CTGT_CLUSTER_SUBNET from the environment, e.g.
#   CTGT_CLUSTER_ID=bench CTGT_CLUSTER_SUBNET=10.79.0 bash bench/cluster.sh
# About 2 minutes with the defaults on 2 CPUs.
#
# Knobs (environment): BENCH_NODES (3), BENCH_SAMPLES (2000), BENCH_REPS
# (3), BENCH_SIZE (256), BENCH_BUILD (build-release), CPGPING_SRC,
# BENCH_CLUSTER_SH (another harness with scripts/cluster.sh's commands),
# and scripts/cluster.sh's own (CTGT_CLUSTER_ID, CTGT_CLUSTER_SUBNET,
# CTGT_CLUSTER_TOKEN).
#
# Exit status: 0 when every run completed; 1 otherwise.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
CLUSTER=${BENCH_CLUSTER_SH:-$ROOT/scripts/cluster.sh}
SRC=${CPGPING_SRC:-$ROOT/../shared/bench/cpgping.c}
NODES=${BENCH_NODES:-3}
SAMPLES=${BENCH_SAMPLES:-2000}
REPS=${BENCH_REPS:-3}
SIZE=${BENCH_SIZE:-256}
BUILD=${BENCH_BUILD:-build-release}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac

log() { echo "cluster-bench: $*" >&2; }
die() { log "$*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (scripts/cluster.sh)"
[ -r "$SRC" ] || die "no $SRC (shared/bench/cpgping.c next to the repository)"
[ "$NODES" -ge 2 ] || die "BENCH_NODES must be at least 2"
if bash "$CLUSTER" status >/dev/null 2>&1; then
	die "a cluster is already up: run $CLUSTER down first (if it is yours)"
fi

WORK=$(mktemp -d /tmp/ctgt-cluster-bench.XXXXXX)
UP=
# shellcheck disable=SC2317  # (called by the EXIT trap)
cleanup() {
	[ -z "$UP" ] || bash "$CLUSTER" down >/dev/null 2>&1 || log "scripts/cluster.sh down failed"
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- build ----------------------------------------------------------------------
if [ ! -d "$BUILD" ]; then
	meson setup --buildtype=release "$BUILD" >"$WORK/setup.log" 2>&1 ||
		{ cat "$WORK/setup.log" >&2; die "meson setup $BUILD failed"; }
fi
ninja -C "$BUILD" tools/ctgt-cluster-bench >"$WORK/build.log" 2>&1 ||
	{ tail -n 30 "$WORK/build.log" >&2; die "cannot build tools/ctgt-cluster-bench (corosync dev libraries? scripts/deps.sh)"; }
BENCH=$BUILD/tools/ctgt-cluster-bench
gcc -O2 -Wall -o "$WORK/cpgping" "$SRC" -lcpg || die "cannot build $SRC (scripts/deps.sh installs libcpg-dev)"
P=$WORK/cpgping

# --- cluster --------------------------------------------------------------------
UP=1
bash "$CLUSTER" up "$NODES" >"$WORK/up.log" 2>&1 || { cat "$WORK/up.log" >&2; die "scripts/cluster.sh up $NODES failed"; }
for i in $(seq 2 "$NODES"); do
	bash "$CLUSTER" spawn "$i" cpgm -- "$P" member >/dev/null || die "cannot start the cpgping member on node $i"
done

# on1 NAME CMD...: CMD on node 1, output in WORK/NAME.out, RESULT lines shown
on1() {
	local name=$1
	shift
	timeout 600 bash "$CLUSTER" exec 1 -- "$@" >"$WORK/$name.out" 2>&1 ||
		{ log "$name failed:"; tail -n 20 "$WORK/$name.out" | sed 's/^/    /' >&2; return 1; }
	grep '^RESULT' "$WORK/$name.out" | sed "s/^/[$name] /"
}

echo "=== cluster service vs raw CPG: $NODES nodes (token ${CTGT_CLUSTER_TOKEN:-1000} ms, knet, no crypto), $(nproc) CPUs, $SIZE B, $SAMPLES samples x $REPS reps ==="
status=0
for r in $(seq "$REPS"); do
	on1 "self.$r" "$P" self -m "$NODES" -n "$SAMPLES" -s "$SIZE" || status=1
	on1 "ack.$r" "$P" ack -m "$NODES" -n "$SAMPLES" -s "$SIZE" || status=1
	bash "$CLUSTER" spawn 2 ctgtm -- "$BENCH" member --contend >/dev/null || { status=1; log "ctgt member on node 2 did not start"; }
	for i in $(seq 3 "$NODES"); do
		bash "$CLUSTER" spawn "$i" ctgtm -- "$BENCH" member >/dev/null || { status=1; log "ctgt member on node $i did not start"; }
	done
	on1 "ctgt.$r" "$BENCH" run -m "$NODES" -n "$SAMPLES" -s "$SIZE" || status=1
	for i in $(seq 2 "$NODES"); do
		bash "$CLUSTER" unspawn "$i" ctgtm >/dev/null 2>&1
	done
done

# --- summary --------------------------------------------------------------------
# vals WHAT FIELD: FIELD (median, p99) of RESULT WHAT over the reps
vals() {
	cat "$WORK"/*.out 2>/dev/null | awk -v w="$1" -v f="$2" '$1 == "RESULT" && $2 == w {
		for (i = 3; i <= NF; i++) if (index($i, f "=") == 1) { v = substr($i, length(f) + 2); sub(/us$/, "", v); print v } }'
}
med() { sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "n/a"}'; }
m() { vals "$1" "$2" | med; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2fx", a / b; else print "n/a" }'; }

ACK=$(m ack_rtt median)
row() {   # LABEL WHAT
	local md p9
	md=$(m "$2" median)
	p9=$(m "$2" p99)
	printf '| %-44s | %9s | %9s | %8s |\n' "$1" "$md" "$p9" "$(ratio "$md" "$ACK")"
}
echo
echo "Medians over $REPS reps of each run's median / p99, microseconds; ratio = median / raw request + all acks"
echo
printf '| %-44s | %9s | %9s | %8s |\n' "metric ($NODES nodes, $SIZE B)" "median" "p99" "vs ack"
echo "|----------------------------------------------|-----------|-----------|----------|"
row "raw CPG self-delivery (AGREED)" self_delivery
row "raw CPG request + all acks (cpgping ack)" ack_rtt
row "ordered commit (cluster_submit -> done)" commit
row "notify round (all handlers done)" notify
row "KV set" kv_set
row "lock acquire, uncontended, no cache" lock
row "lock re-take from cache" lock_cached
row "lock acquire, contended (2 nodes alternate)" lock_contended
echo
printf 'per-rep ordered commit / raw ack ratio:'
for r in $(seq "$REPS"); do
	a=$(awk '$1 == "RESULT" && $2 == "ack_rtt" { for (i = 3; i <= NF; i++) if ($i ~ /^median=/) { v = substr($i, 8); sub(/us$/, "", v); print v } }' "$WORK/ack.$r.out" 2>/dev/null)
	c=$(awk '$1 == "RESULT" && $2 == "commit" { for (i = 3; i <= NF; i++) if ($i ~ /^median=/) { v = substr($i, 8); sub(/us$/, "", v); print v } }' "$WORK/ctgt.$r.out" 2>/dev/null)
	printf ' %s' "$(ratio "${c:-0}" "${a:-0}")"
done
echo
exit "$status"
