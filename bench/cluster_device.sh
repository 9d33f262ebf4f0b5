#!/usr/bin/env bash
# bench/cluster_device.sh: what one SCSI device across the cluster (issue 5)
# costs, against raw corosync and against a single-node ctgtd, in one run.
#
#   bash bench/cluster_device.sh
#
#        ctgt-scsi-lat, ctgt-bench ---> node 1 ctgtd --+
#        (contended CAW) -------------> node 2 ctgtd --+-- shared.img (O_DIRECT)
#                                       node 3 ctgtd --+   "cluster_impl": "cluster"
#        cpgping ack on node 1, members on nodes 2 and 3 (raw CPG round)
#        ctgt-scsi-lat, ctgt-bench ---> single ctgtd (node 1's namespace,
#                                       127.0.0.1:3300) -- single.img (O_DIRECT,
#                                       "cluster_impl" single, backend single)
#
# Builds ctgtd, ctgtadm, tools/ctgt-scsi-lat and tools/ctgt-bench (release
# build in build-release/, like bench/run.sh) and shared/bench/cpgping.c;
# two files of BENCH_LU_MB (1024) MiB on /var/tmp, filled once with dd
# (O_DIRECT, so every measured I/O hits allocated blocks); brings up its own
# 3-node cluster (scripts/cluster.sh, instance CTGT_CLUSTER_ID=bdev, subnet
# 10.79.8 unless set) with ctgtd on every node, and a single-node ctgtd in
# node 1's network namespace. Then BENCH_REPS (3) times, cluster and single
# alternating so the machine's noise hits both alike:
#   ack, pr     in BENCH_PAIRS (5) pairs of short runs back to back
#               (BENCH_SAMPLES / BENCH_PAIRS samples each), so that both
#               see the same moments of a noisy machine:
#               ack: cpgping ack, a CPG request until every other member's
#               ack is back (the raw round an ordered PR OUT is compared
#               with); pr: PR OUT through node 1 (below). Each pair runs
#               under three corosync policies: every corosync under its
#               own real-time one (SCHED_RR, corosync's default: "rt");
#               node 1's so, nodes 2's and 3's time-shared (chrt
#               SCHED_OTHER: "mix"); all three time-shared ("ts"). On
#               one machine the other nodes' real-time corosyncs preempt
#               node 1's ctgtd, which on a real cluster they never meet,
#               and node 1's own takes one of only 2 CPUs
#               (docs/benchmarks.md)
#   commit      ctgt-cluster-bench's ordered commit of 256 B (members on
#               nodes 2 and 3): the service alone, without the SCSI layer
#   pr          PR OUT REGISTER AND IGNORE EXISTING KEY, alternating keys,
#               one outstanding, through node 1 (in the pairs above) and,
#               BENCH_SAMPLES (2000), through the single ctgtd (what the
#               cluster adds to it)
#   caw         COMPARE AND WRITE, 1 block, one outstanding, uncontended:
#               node 1 vs single, in BENCH_PAIRS pairs like ack and pr
#   caw2        contended: two initiators CAW on the same LBA for
#               BENCH_CAW_SECONDS (10), on node 1 and node 2 (each in its
#               node's namespace, to its node's portal), and the same with
#               two sessions on the single ctgtd; MISCOMPARE share, and the
#               CAWs that replaced a record another CAW had already
#               replaced (lost atomicity: should be 0)
#   randread / randwrite   4 KiB random, QD 32, BENCH_IO_SECONDS (20)
#               (tools/ctgt-bench), node 1 vs single
# every measurement started from inside a node's namespace. Prints every
# RESULT line, then a table of the medians over the reps with the ratios
# and the issue's targets (PR OUT within 1.3x of the raw round; CAW within
# 1.2x of single; IOPS within 5% of single), each pair's PR OUT / raw ack
# ratio and their median (the steadiest figure; the same for CAW), and
# tears everything down (also on failure or Ctrl-C). About 7 minutes with
# the defaults.
#
# It prints; it does not judge: a missed target is a figure, not a failure.
# Exit status: 0 when every measurement produced its figures; 1 when the
# benchmark itself could not run (build, cluster, ctgtd start) or a
# measurement produced none.
#
# Knobs (environment): BENCH_REPS (3), BENCH_SAMPLES (2000), BENCH_PAIRS (5),
# BENCH_CAW_SECONDS (10), BENCH_IO_SECONDS (20), BENCH_QD (32), BENCH_LU_MB
# (1024), BENCH_BUILD (build-release), BENCH_SINGLE_PORT (3300),
# BENCH_STORE_DIR (/var/tmp: where both files go; on a tmpfs, not /run or
# /dev/shm, the disk is out of the figures), BENCH_BLOCK_SIZE (512: the
# LUs' block size, so also the size of one CAW),
# CPGPING_SRC, BENCH_KEEP=1 (keep the work folder with the two images and
# every run's output, and the node logs), and scripts/cluster.sh's own (CTGT_CLUSTER_ID,
# CTGT_CLUSTER_SUBNET, CTGT_CLUSTER_TOKEN). A leftover instance of the same
# CTGT_CLUSTER_ID (an earlier run that was killed) is taken down first:
# give each user of a shared machine an ID of their own.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
CLUSTER=$ROOT/scripts/cluster.sh
SRC=${CPGPING_SRC:-$ROOT/../shared/bench/cpgping.c}
REPS=${BENCH_REPS:-3}
SAMPLES=${BENCH_SAMPLES:-2000}
PAIRS=${BENCH_PAIRS:-5}
PAIR_SAMPLES=$(( SAMPLES / PAIRS > 100 ? SAMPLES / PAIRS : 100 ))
CAW_SECS=${BENCH_CAW_SECONDS:-10}
IO_SECS=${BENCH_IO_SECONDS:-20}
QD=${BENCH_QD:-32}
LU_MB=${BENCH_LU_MB:-1024}
BUILD=${BENCH_BUILD:-build-release}
SPORT=${BENCH_SINGLE_PORT:-3300}
STORE_DIR=${BENCH_STORE_DIR:-/var/tmp}
BLOCK=${BENCH_BLOCK_SIZE:-512}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
export CTGT_CLUSTER_ID=${CTGT_CLUSTER_ID:-bdev}
export CTGT_CLUSTER_SUBNET=${CTGT_CLUSTER_SUBNET:-10.79.8}
N=3
IQN=iqn.2026-11.org.ctgt:bench-device
SIQN=iqn.2026-11.org.ctgt:bench-single
INI=iqn.2026-11.org.ctgt:bench-dev-ini
CAW_LBA=8

log() { echo "cluster-device-bench: $*" >&2; }
die() { log "$*"; exit 1; }
cl() { bash "$CLUSTER" "$@"; }

[ "$(id -u)" = 0 ] || die "must run as root (scripts/cluster.sh)"
[ -r "$SRC" ] || die "no $SRC (shared/bench/cpgping.c next to the repository)"
for t in corosync nsenter dd python3 timeout; do
	command -v "$t" >/dev/null || die "$t is missing (scripts/deps.sh)"
done

WORK=
UP=
# shellcheck disable=SC2317  # (called by the EXIT trap)
cleanup() {
	local j
	for j in $(jobs -p); do kill "$j" 2>/dev/null; done
	if [ "${BENCH_KEEP:-0}" != 0 ]; then
		[ -z "$UP" ] || cl down --keep-logs >/dev/null 2>&1 || log "scripts/cluster.sh down failed"
		log "kept: $WORK (runs' output), ${STATE:-/run/$CTGT_CLUSTER_ID-cluster}/n*/ (node logs)"
		return
	fi
	[ -z "$UP" ] || cl down >/dev/null 2>&1 || log "scripts/cluster.sh down failed"
	[ -z "$WORK" ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- build ----------------------------------------------------------------------
# On the disk by default (the issue's store); both LUs are opened with
# O_DIRECT, which tmpfs also takes since Linux 6.6: BENCH_STORE_DIR on a
# tmpfs gives the same runs without the disk's noise (not /run or /dev/shm:
# each node has its own; and BENCH_BLOCK_SIZE=4096: O_DIRECT on tmpfs takes
# page-aligned I/O only).
WORK=$(mktemp -d "$STORE_DIR/ctgt-bdev-bench.XXXXXX") || die "mktemp in $STORE_DIR failed"
if [ ! -f "$BUILD/build.ninja" ]; then
	meson setup --buildtype=release "$BUILD" >"$WORK/setup.log" 2>&1 ||
		{ tail -n 30 "$WORK/setup.log" >&2; die "meson setup $BUILD failed"; }
fi
ninja -C "$BUILD" src/daemon/ctgtd tools/ctgtadm tools/ctgt-bench tools/ctgt-scsi-lat \
	tools/ctgt-cluster-bench >"$WORK/build.log" 2>&1 ||
	{ tail -n 30 "$WORK/build.log" >&2; die "cannot build ctgtd / ctgtadm / ctgt-bench / ctgt-scsi-lat / ctgt-cluster-bench (libiscsi-dev, corosync dev libraries? scripts/deps.sh)"; }
CTGTD=$BUILD/src/daemon/ctgtd
ADM=$BUILD/tools/ctgtadm
LAT=$BUILD/tools/ctgt-scsi-lat
IOB=$BUILD/tools/ctgt-bench
CCB=$BUILD/tools/ctgt-cluster-bench
[ "$(readelf -d "$CTGTD" 2>/dev/null | grep -c 'NEEDED.*libcpg')" != 0 ] ||
	die "$CTGTD was built without the corosync backend (libcpg-dev missing at build time?)"
gcc -O2 -Wall -o "$WORK/cpgping" "$SRC" -lcpg || die "cannot build $SRC (scripts/deps.sh installs libcpg-dev)"
P=$WORK/cpgping

# --- stores: same size, same file system, written once end to end ---------------
for f in shared single; do
	dd if=/dev/zero of="$WORK/$f.img" bs=1M count="$LU_MB" oflag=direct conv=fsync \
		status=none || die "cannot write $WORK/$f.img"
done

# --- cluster and targets ----------------------------------------------------------
eval "$(cl info)" || die "scripts/cluster.sh info failed"
STATE=$CLUSTER_STATE
if [ "$CLUSTER_UP" != no ]; then
	log "instance $CTGT_CLUSTER_ID is up (left by an earlier run?): taking it down"
	cl down >/dev/null 2>&1 || die "scripts/cluster.sh down failed"
fi
UP=1
cl up "$N" >"$WORK/up.log" 2>&1 || { cat "$WORK/up.log" >&2; die "scripts/cluster.sh up $N failed"; }
for i in $(seq "$N"); do
	# As tests/integration/cluster_device.sh: one port group per node, one
	# shared LU (O_DIRECT and write-through are the clustered defaults).
	cat >"$WORK/n$i.json" <<EOF
{
  "threads": 2,
  "node": { "port_group": $i, "state_dir": "$WORK/state$i" },
  "cluster": { "backend": "corosync", "group": "ctgt" },
  "targets": [ { "name": "$IQN",
    "portal_groups": [ { "tag": 1, "rtpi": $i, "portals": ["$(cl addr "$i"):3260"] } ],
    "acl": { "open_access": true },
    "luns": [ { "lun": 0, "cluster_impl": "cluster", "block_size": $BLOCK,
                "backstore": { "type": "file", "path": "$WORK/shared.img" } } ] } ]
}
EOF
	cl spawn "$i" ctgtd -- "$CTGTD" -c "$WORK/n$i.json" >/dev/null ||
		die "cannot start ctgtd on node $i"
done
# The reference: the same LU on one node, no cluster ("cluster_impl"
# single, backend single), the same O_DIRECT and write-through, its own
# port in node 1's namespace (so `down` stops it too) and no control socket
# (node 1's ctgtd has the default one).
cat >"$WORK/single.json" <<EOF
{
  "threads": 2,
  "node": { "state_dir": "$WORK/state-single" },
  "control": { "enabled": false },
  "targets": [ { "name": "$SIQN",
    "portal_groups": [ { "tag": 1, "rtpi": 1, "portals": ["127.0.0.1:$SPORT"] } ],
    "acl": { "open_access": true },
    "luns": [ { "lun": 0, "cluster_impl": "single", "write_cache": false, "block_size": $BLOCK,
                "backstore": { "type": "file", "path": "$WORK/single.img", "direct": true } } ] } ]
}
EOF
cl spawn 1 single -- "$CTGTD" -c "$WORK/single.json" >/dev/null || die "cannot start the single ctgtd"
for i in 2 3; do
	cl spawn "$i" cpgm -- "$P" member >/dev/null || die "cannot start the cpgping member on node $i"
done

# every node: 3 members, quorate, ready (ctgtadm view, as cluster_lib.sh)
for i in $(seq "$N"); do
	ok=
	for _ in $(seq 100); do
		v=$(timeout 10 bash "$CLUSTER" exec "$i" -- "$ADM" view 2>&1 | paste -sd'|' - | sed 's/|/ | /g')
		if grep -qE 'view [0-9]+: quorate, ready \| members \(3\)' <<<"$v"; then ok=1; break; fi
		sleep 0.3
	done
	[ -n "$ok" ] || { tail -n 20 "$STATE/n$i/ctgtd.log" >&2; die "node $i: no quorate 3-member view ($v)"; }
done
for _ in $(seq 50); do
	grep -q '^ctgtd: serving' "$STATE/n1/single.log" 2>/dev/null && break
	sleep 0.1
done
grep -q '^ctgtd: serving' "$STATE/n1/single.log" || { tail -n 20 "$STATE/n1/single.log" >&2; die "the single ctgtd did not start"; }

URL1="iscsi://$(cl addr 1):3260/$IQN/0"
URL2="iscsi://$(cl addr 2):3260/$IQN/0"
URLS="iscsi://127.0.0.1:$SPORT/$SIQN/0"

# --- runs -------------------------------------------------------------------------
# on NODE NAME CMD...: CMD in NODE's namespace, output in WORK/NAME.out,
# RESULT lines shown with the run's name.
status=0
on() {
	local node=$1 name=$2
	shift 2
	timeout 900 bash "$CLUSTER" exec "$node" -- "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
	local rc=$?
	if ! grep -q '^RESULT\|^rw=' "$WORK/$name.out"; then
		log "$name: no figures (exit $rc):"
		tail -n 10 "$WORK/$name.err" | sed 's/^/    /' >&2
		status=1
		return 1
	fi
	[ $rc = 0 ] || { log "$name: exit $rc (failed commands):"; head -n 5 "$WORK/$name.err" | sed 's/^/    /' >&2; }
	sed "s/^/[$name] /" "$WORK/$name.out"
}

# caw2 NAME ID NODE_A URL_A NODE_B URL_B: two CAW loops on one LBA,
# started together, writer ids ID and ID + 1, each logging the records its
# successful CAWs replaced.
caw2() {
	local name=$1 id=$2 at pa pb
	shift
	at=$(( $(date +%s) + 3 ))   # after both logins
	on "$2" "$name.a" "$LAT" caw -n 2000000 -w 0 -t "$CAW_SECS" --lba "$CAW_LBA" --id "$id" \
		--start-at "$at" --log "$WORK/$name.a.log" -i "$INI-a" "$3" &
	pa=$!
	on "$4" "$name.b" "$LAT" caw -n 2000000 -w 0 -t "$CAW_SECS" --lba "$CAW_LBA" --id $((id + 1)) \
		--start-at "$at" --log "$WORK/$name.b.log" -i "$INI-b" "$5" &
	pb=$!
	wait "$pa"
	wait "$pb"
	for f in a b; do grep -q "^RESULT" "$WORK/$name.$f.out" 2>/dev/null || status=1; done
	# a record replaced by two successful CAWs: both compared equal with
	# the same contents, so they were not atomic against each other
	echo "RESULT caw_lost name=$name successes=$(cat "$WORK/$name".[ab].log | wc -l)" \
		"replaced_twice=$(cat "$WORK/$name".[ab].log | awk '{print $1}' | sort | uniq -d | wc -l)" |
		tee "$WORK/$name.lost.out"
}

# corosync_sched rt|mix|ts: every node's corosync, all its threads, under
# the policy it set itself (rt, read at the start); node 1's so and the
# other nodes' time-shared like everything else on the machine (mix);
# all time-shared (ts)
COROSYNC_RT=()
for i in $(seq "$N"); do
	pid=$(cl pid "$i") || die "node $i: no corosync"
	COROSYNC_RT[i]=$(chrt -p "$pid" | awk -F': *' '
		/policy/ { p = $2 } /priority/ { r = $2 }
		END { sub(/^SCHED_/, "", p); print tolower(p), r }')
done
corosync_sched() {
	local i pid pol prio
	for i in $(seq "$N"); do
		pid=$(cl pid "$i") || { log "node $i: no corosync"; return 1; }
		if [ "$1" = ts ] || { [ "$1" = mix ] && [ "$i" != 1 ]; }; then
			pol=other prio=0
		else
			read -r pol prio <<<"${COROSYNC_RT[i]}"
		fi
		chrt -a "--$pol" -p "$prio" "$pid" >/dev/null ||
			{ log "node $i: chrt --$pol $prio of corosync $pid failed"; return 1; }
	done
}

LOAD0=$(cut -d' ' -f1 /proc/loadavg)
T0=$(date +%s)
echo "=== one device across the cluster: $N nodes (token ${CTGT_CLUSTER_TOKEN:-1000} ms, knet, no crypto), $(nproc) CPUs, $REPS reps ==="
echo "cluster LU: $URL1 (node 2: $URL2); single: $URLS; stores: $LU_MB MiB files, $BLOCK-byte blocks, on $(df --output=source "$WORK" | tail -n 1), O_DIRECT"
echo "corosync's own scheduling policy (rt): ${COROSYNC_RT[1]}; mix: nodes 2-$N's corosyncs other 0; ts: all other 0 (every run but the mix and ts pairs is under rt)"
for r in $(seq "$REPS"); do
	# the raw round and PR OUT in PAIRS alternating short runs, so that
	# both see the same moments of the machine: each pair's ratio is the
	# steadiest figure this machine gives (see "paired" below); each pair
	# under both corosync policies
	for k in $(seq "$PAIRS"); do
		for pol in rt mix ts; do
			corosync_sched "$pol" || status=1
			on 1 "ack.$pol.$r.$k" "$P" ack -m "$N" -n "$PAIR_SAMPLES" -s 256
			on 1 "pr.c.$pol.$r.$k" "$LAT" pr -n "$PAIR_SAMPLES" -i "$INI" "$URL1"
		done
		corosync_sched rt || status=1
	done
	# the service's ordered commit alone (bench/cluster.sh's "commit"),
	# to split PR OUT's cost between the service and the device layer
	for i in 2 3; do
		cl spawn "$i" ccbm -- "$CCB" member >/dev/null || log "ctgt-cluster-bench member on node $i did not start"
	done
	on 1 "commit.$r" "$CCB" run -m "$N" -n "$SAMPLES" -s 256 -t commit
	for i in 2 3; do cl unspawn "$i" ccbm >/dev/null 2>&1; done
	on 1 "pr.s.$r" "$LAT" pr -n "$SAMPLES" -i "$INI" "$URLS"
	for k in $(seq "$PAIRS"); do
		on 1 "caw.c.$r.$k" "$LAT" caw -n "$PAIR_SAMPLES" --lba 0 -i "$INI" "$URL1"
		on 1 "caw.s.$r.$k" "$LAT" caw -n "$PAIR_SAMPLES" --lba 0 -i "$INI" "$URLS"
	done
	caw2 "caw2.c.$r" $((r * 10 + 1)) 1 "$URL1" 2 "$URL2"
	caw2 "caw2.s.$r" $((r * 10 + 3)) 1 "$URLS" 1 "$URLS"
	for rw in randread randwrite; do
		on 1 "$rw.c.$r" "$IOB" --rw "$rw" --bs 4k --qd "$QD" --seconds "$IO_SECS" \
			--seed "$r" --timeout 10 --initiator-name "$INI" "$URL1"
		on 1 "$rw.s.$r" "$IOB" --rw "$rw" --bs 4k --qd "$QD" --seconds "$IO_SECS" \
			--seed "$r" --timeout 10 --initiator-name "$INI" "$URLS"
	done
done

# every ctgtd still alive at the end (a crash would explain odd figures)
for i in $(seq "$N"); do
	if ! kill -0 "$(cat "$STATE/n$i/spawn/ctgtd.pid" 2>/dev/null)" 2>/dev/null; then
		log "node $i: ctgtd is gone"
		tail -n 10 "$STATE/n$i/ctgtd.log" >&2
		status=1
	fi
done

# --- summary ----------------------------------------------------------------------
# vals GLOB FIELD: FIELD of every RESULT / ctgt-bench line in WORK/GLOB.out
vals() {
	# shellcheck disable=SC2086
	cat $WORK/$1.out 2>/dev/null | awk -v f="$2" '{
		for (i = 1; i <= NF; i++) if (index($i, f "=") == 1) { v = substr($i, length(f) + 2); sub(/us$/, "", v); print v } }'
}
med() { sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "n/a"}'; }
m() { vals "$1" "$2" | med; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2fx", a / b; else print "n/a" }'; }
sum() { vals "$1" "$2" | awk '{s += $1} END {print s + 0}'; }

ACK=$(m 'ack.rt.*' median)
ACKMIX=$(m 'ack.mix.*' median)
ACKTS=$(m 'ack.ts.*' median)
CAWC=$(m 'caw.c.*' median)
CAWS=$(m 'caw.s.*' median)
row() {   # LABEL GLOB [BASE TARGET]
	local md p9
	md=$(m "$2" median)
	p9=$(m "$2" p99)
	printf '| %-52s | %9s | %9s | %8s | %-8s |\n' "$1" "$md" "$p9" \
		"$( [ -n "${3:-}" ] && ratio "$md" "$3" || echo -)" "${4:--}"
}
mis() {   # GLOB: miscompare share over all of its runs
	awk -v a="$(sum "$1" miscompare)" -v b="$(sum "$1" n)" 'BEGIN { if (b > 0) printf "%.1f%%", 100 * a / b; else print "n/a" }'
}
echo
echo "Medians over $REPS reps of each run's median / p99 (microseconds); ratio = median / the row named"
echo
printf '| %-52s | %9s | %9s | %8s | %-8s |\n' "latency, one outstanding" median p99 ratio target
echo "|------------------------------------------------------|-----------|-----------|----------|----------|"
row "raw CPG request + all acks (cpgping ack, node 1)" 'ack.rt.*'
row "ordered commit, 256 B (ctgt-cluster-bench, node 1)" 'commit.*' "$ACK"
row "PR OUT REGISTER AND IGNORE, cluster node 1" 'pr.c.rt.*' "$ACK" "<= 1.3x"
row "PR OUT REGISTER AND IGNORE, single node (context)" 'pr.s.*' "$ACK"
row "raw CPG request + all acks, corosync mix" 'ack.mix.*'
row "PR OUT, cluster node 1, corosync mix" 'pr.c.mix.*' "$ACKMIX" "<= 1.3x"
row "raw CPG request + all acks, corosync ts" 'ack.ts.*'
row "PR OUT, cluster node 1, corosync ts" 'pr.c.ts.*' "$ACKTS" "<= 1.3x"
row "CAW 1 block, uncontended, single node" 'caw.s.*'
row "CAW 1 block, uncontended, cluster node 1" 'caw.c.*' "$CAWS" "<= 1.2x"
row "CAW contended, cluster: initiator on node 1" 'caw2.c.*.a' "$CAWC"
row "CAW contended, cluster: initiator on node 2" 'caw2.c.*.b' "$CAWC"
row "CAW contended, single node: 2 sessions (context)" 'caw2.s.*.[ab]' "$CAWS"
echo
echo "(PR OUT ratios are to the raw ack round under the same corosync policy; CAW uncontended to the single node's; contended CAW to the uncontended CAW of the same target)"
echo
printf '| %-52s | %9s | %9s |\n' "contended CAW, $CAW_SECS s x $REPS reps" "MISCOMP." "lost"
echo "|------------------------------------------------------|-----------|-----------|"
printf '| %-52s | %9s | %9s |\n' "cluster, nodes 1 + 2 (CAWs: $(sum 'caw2.c.*.[ab]' n))" "$(mis 'caw2.c.*.[ab]')" "$(sum 'caw2.c.*.lost' replaced_twice)"
printf '| %-52s | %9s | %9s |\n' "single node, 2 sessions (CAWs: $(sum 'caw2.s.*.[ab]' n))" "$(mis 'caw2.s.*.[ab]')" "$(sum 'caw2.s.*.lost' replaced_twice)"
echo
echo "(MISCOMP.: share of the CAWs that returned MISCOMPARE; lost: records that two successful CAWs both replaced, i.e. CAW not atomic; should be 0)"
echo
printf '| %-52s | %9s | %9s | %8s | %-8s |\n' "4 KiB random, QD $QD, $IO_SECS s" cluster single ratio target
echo "|------------------------------------------------------|-----------|-----------|----------|----------|"
for rw in randread randwrite; do
	c=$(m "$rw.c.*" iops)
	s=$(m "$rw.s.*" iops)
	printf '| %-52s | %9s | %9s | %8s | %-8s |\n' "$rw IOPS (node 1 vs single)" "$c" "$s" "$(ratio "$c" "$s")" ">= 0.95x"
	c=$(m "$rw.c.*" lat_p99_us)
	s=$(m "$rw.s.*" lat_p99_us)
	printf '| %-52s | %9s | %9s | %8s | %-8s |\n' "$rw p99 us" "$c" "$s" "$(ratio "$c" "$s")" "-"
done
echo
# perrep LABEL A B [FIELD]: the ratio A / B of each rep (A and B: globs of
# run names, @ standing for the rep), and their median (the table's ratio
# divides medians that may come from two reps)
perrep() {
	local r a b all=()
	for r in $(seq "$REPS"); do
		a=$(m "${2//@/$r}" "${4:-median}")
		b=$(m "${3//@/$r}" "${4:-median}")
		all+=("$(ratio "$a" "$b")")
	done
	printf 'per rep, %s: %s (median %s)\n' "$1" "${all[*]}" \
		"$(printf '%s\n' "${all[@]}" | sed 's/x$//' | med | sed 's/^[0-9.]*$/&x/')"
}
# paired LABEL A B: the ratio A / B of each pair of runs made back to
# back (A and B: run names, @ standing for the rep and % for the pair),
# over every rep, and their median
paired() {
	local r k a b all=()
	for r in $(seq "$REPS"); do
		for k in $(seq "$PAIRS"); do
			a=${2//@/$r} b=${3//@/$r}
			all+=("$(ratio "$(m "${a//%/$k}" median)" "$(m "${b//%/$k}" median)")")
		done
	done
	printf 'paired, %s, %s pairs of %s samples: %s (median %s)\n' \
		"$1" "${#all[@]}" "$PAIR_SAMPLES" "${all[*]}" \
		"$(printf '%s\n' "${all[@]}" | sed 's/x$//' | med | sed 's/^[0-9.]*$/&x/')"
}
paired "PR OUT cluster / raw ack, corosync rt" 'pr.c.rt.@.%' 'ack.rt.@.%'
paired "PR OUT cluster / raw ack, corosync mix" 'pr.c.mix.@.%' 'ack.mix.@.%'
paired "PR OUT cluster / raw ack, corosync ts" 'pr.c.ts.@.%' 'ack.ts.@.%'
paired "CAW uncontended cluster / single" 'caw.c.@.%' 'caw.s.@.%'
perrep "PR OUT cluster / raw ack, corosync rt" 'pr.c.rt.@.*' 'ack.rt.@.*'
perrep "PR OUT cluster / raw ack, corosync mix" 'pr.c.mix.@.*' 'ack.mix.@.*'
perrep "PR OUT cluster / raw ack, corosync ts" 'pr.c.ts.@.*' 'ack.ts.@.*'
perrep "ordered commit / raw ack" 'commit.@' 'ack.rt.@.*'
perrep "CAW cluster / single" 'caw.c.@.*' 'caw.s.@.*'
perrep "randread IOPS cluster / single" 'randread.c.@' 'randread.s.@' iops
perrep "randwrite IOPS cluster / single" 'randwrite.c.@' 'randwrite.s.@' iops
echo "load average (1 min) before the runs: $LOAD0 on $(nproc) CPUs; measuring took $(( $(date +%s) - T0 )) s"
echo "exit status $status"
exit "$status"
