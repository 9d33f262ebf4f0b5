#!/usr/bin/env bash
# Runs every test of the project: for a normal build and an ASan+UBSan build,
# the unit tests (meson test) and the integration tests (tests/integration/
# run.sh). Each part writes one "N passed, N failed, N skipped" line; the
# last line printed is their sum (scripts/summary.sh). Exit status 1 if
# anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."

logdir=$(mktemp -d /tmp/ctgt-test.XXXXXX)
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0

# meson test's closing counts -> our summary line
unit_summary() {
	local log=$1
	local ok fail skip
	ok=$(awk '/^Ok:/ {print $2}' "$log" | tail -n1)
	fail=$(awk '/^(Fail|Unexpected Pass|Timeout):/ {n += $2} END {print n+0}' "$log")
	skip=$(awk '/^Skipped:/ {print $2}' "$log" | tail -n1)
	echo "${ok:-0} passed, ${fail:-1} failed, ${skip:-0} skipped"
}

run_build() {
	local dir=$1; shift
	local name=$1; shift
	echo "=== $name build ($dir) ==="
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "$@" >"$logdir/$name-setup.log" 2>&1 ||
			{ cat "$logdir/$name-setup.log"; echo "0 passed, 1 failed, 0 skipped" >"$logdir/$name-build.sum"; return; }
	fi
	if ! ninja -C "$dir" >"$logdir/$name-build.log" 2>&1; then
		tail -n 60 "$logdir/$name-build.log"
		echo "0 passed, 1 failed, 0 skipped" >"$logdir/$name-build.sum"
		return
	fi
	echo "--- $name: unit tests ---"
	meson test -C "$dir" --print-errorlogs >"$logdir/$name-unit.log" 2>&1
	grep -E '^ *[0-9]+/[0-9]+ ' "$logdir/$name-unit.log" | sed 's/^ *//'
	grep -q 'FAIL\|TIMEOUT' "$logdir/$name-unit.log" && tail -n 80 "$logdir/$name-unit.log"
	unit_summary "$logdir/$name-unit.log" | tee "$logdir/$name-unit.sum"
	echo "--- $name: integration tests ---"
	bash tests/integration/run.sh "$dir" 2>&1 | tee "$logdir/$name-integration.log"
	tail -n 1 "$logdir/$name-integration.log" | grep -E '^[0-9]+ passed, [0-9]+ failed' \
		>"$logdir/$name-integration.sum" ||
		echo "0 passed, 1 failed, 0 skipped" >"$logdir/$name-integration.sum"
	run_cluster "$dir" "$name"
}

# Three nodes on real corosync (scripts/cluster.sh), each test on a
# cluster instance of its own: the service through its own client
# (bus_smoke: views, commits and state across a partition, a restart and a
# kill -9), then ctgtd members driven with ctgtadm (cluster.sh), then one
# shared LU exported by all three (cluster_device.sh).
run_cluster() {
	local dir=$1 name=$2
	echo "--- $name: cluster tests ---"
	CTGT_CLUSTER_ID=ctgtbs CTGT_CLUSTER_SUBNET=10.78.1 BUILD=$dir \
		bash tests/integration/cluster/bus_smoke.sh 2>&1 | tee "$logdir/$name-bus.log"
	awk '/^PASS / {p++} /^FAIL / {f++} /^SKIP / {s++}
	     END {if (p + f + s == 0) f = 1; printf "%d passed, %d failed, %d skipped\n", p, f, s}' \
		"$logdir/$name-bus.log" >"$logdir/$name-bus.sum"
	CTGT_CLUSTER_ID=ctgtcl CTGT_CLUSTER_SUBNET=10.78.2 \
		bash tests/integration/cluster.sh "$dir" 2>&1 | tee "$logdir/$name-cluster.log"
	tail -n 1 "$logdir/$name-cluster.log" | grep -E '^[0-9]+ passed, [0-9]+ failed' \
		>"$logdir/$name-cluster.sum" ||
		echo "0 passed, 1 failed, 0 skipped" >"$logdir/$name-cluster.sum"
	CTGT_CLUSTER_ID=ctgtdv CTGT_CLUSTER_SUBNET=10.78.3 \
		bash tests/integration/cluster_device.sh "$dir" 2>&1 | tee "$logdir/$name-device.log"
	tail -n 1 "$logdir/$name-device.log" | grep -E '^[0-9]+ passed, [0-9]+ failed' \
		>"$logdir/$name-device.sum" ||
		echo "0 passed, 1 failed, 0 skipped" >"$logdir/$name-device.sum"
}

# The local cluster harness (scripts/cluster.sh: namespaces, bridge, one
# corosync per node), once: it does not depend on the build. Its own
# cluster id and subnet, so a developer's cluster stays untouched.
run_harness() {
	echo "=== cluster harness ==="
	CTGT_CLUSTER_ID=ctgtt CTGT_CLUSTER_SUBNET=10.78.0 \
		bash tests/integration/cluster_harness.sh 2>&1 | tee "$logdir/harness.log"
	tail -n 1 "$logdir/harness.log" | grep -E '^[0-9]+ passed, [0-9]+ failed' \
		>"$logdir/harness.sum" ||
		echo "0 passed, 1 failed, 0 skipped" >"$logdir/harness.sum"
}

run_build build normal
run_build build-asan asan -Db_sanitize=address,undefined -Db_lundef=false \
	-Dbuildtype=debug
run_harness

echo "=== summary (logs in $logdir) ==="
for f in "$logdir"/*.sum; do printf '%-28s %s\n' "$(basename "$f" .sum)" "$(cat "$f")"; done
total=$(bash scripts/summary.sh "$logdir"/*.sum)
echo "$total"
case "$total" in
*" 0 failed"*) exit 0 ;;
*) exit 1 ;;
esac
