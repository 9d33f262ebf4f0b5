#!/usr/bin/env bash
# bench/run.sh: ctgt against tgt on equal RAM-backed 1 GiB LUNs, side by side.
#
# One command: builds a release build if needed (build-release/), starts
# ctgtd (backstore "ram") and tgtd (a file on a private tmpfs) on loopback
# ports of their own, fills both LUNs once, runs tools/ctgt-bench against
# each (4 KiB random read and write at QD 1 and 32, 4 KiB random read on 4
# sessions at QD 8 each, 1 MiB sequential read and write at QD 8; each
# workload 3 times, targets alternating), measures
# the loopback TCP ceiling with iperf3, and prints one table of medians:
# metric | ctgt | tgt | ratio ctgt/tgt. Everything it started is stopped on
# exit, whatever happens. Only loopback traffic; about 4 minutes with the
# defaults.
#
# Exit status: 0 only if both targets completed every run without a single
# failed command. If ctgtd is missing or broken, tgt's column is still
# printed, ctgt's shows "n/a", and the exit status is 1.
#
# Knobs (environment): BENCH_SECONDS (per run, default 5), BENCH_REPS (runs
# per workload, default 3; the table shows the median), CTGT_PORT (3260),
# TGT_PORT (3270), TGT_CTL (tgtd control port, 3270), IPERF_PORT (5270),
# BENCH_BUILD (build-release), BENCH_PIN=1 (pin each target to CPU 0 and
# the initiator to CPU 1; off by default).
#
# Deliberately not here: several sessions, files on disk, digests on.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

SECS=${BENCH_SECONDS:-5}
REPS=${BENCH_REPS:-3}
CTGT_PORT=${CTGT_PORT:-3260}
TGT_PORT=${TGT_PORT:-3270}
TGT_CTL=${TGT_CTL:-3270}
IPERF_PORT=${IPERF_PORT:-5270}
BUILD=${BENCH_BUILD:-build-release}
PIN=${BENCH_PIN:-0}
CTGT_IQN=iqn.2026-11.org.ctgt:bench
TGT_IQN=iqn.2026-11.org.ctgt:tgt-bench
INITIATOR=iqn.2026-11.org.ctgt:bench-initiator
LUN_SIZE_MB=1024

status=0
WORK=""
TMPFS_MOUNTED=0
PIDS=()

log() { echo "bench: $*" >&2; }

# --- teardown: only what this script started, by pid ------------------------
bench_cleanup() {
	local pid
	# tgtd ignores SIGTERM while it has targets: delete them, then the system
	if [ -n "${TGT_PID:-}" ] && kill -0 "$TGT_PID" 2>/dev/null; then
		tgtadm -C "$TGT_CTL" --lld iscsi --mode target --op delete --tid 1 --force >/dev/null 2>&1
		tgtadm -C "$TGT_CTL" --mode system --op delete >/dev/null 2>&1
	fi
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for pid in "${PIDS[@]}"; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	if [ -n "$WORK" ]; then
		[ "$TMPFS_MOUNTED" = 1 ] && umount "$WORK/shm" 2>/dev/null
		rm -rf "$WORK"
	fi
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

# --- dependencies -------------------------------------------------------------
bench_deps() {
	if [ -f scripts/deps.sh ]; then
		bash scripts/deps.sh || { log "scripts/deps.sh failed"; return 1; }
	fi
	local need=() p
	for p in meson ninja-build gcc pkg-config libiscsi-dev libiscsi-bin tgt iperf3; do
		dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
	done
	if [ ${#need[@]} -gt 0 ]; then
		log "installing ${need[*]}"
		apt-get install -y -q "${need[@]}" >/dev/null ||
			{ apt-get update -q >/dev/null && apt-get install -y -q "${need[@]}" >/dev/null; } ||
			{ log "apt-get install ${need[*]} failed"; return 1; }
	fi
}

# --- build: release build of ctgt-bench and ctgtd ----------------------------
BENCH_BIN=""
CTGTD_BIN=""
bench_build() {
	local blog="$WORK/build.log"
	if [ ! -f "$BUILD/build.ninja" ]; then
		meson setup "$BUILD" --buildtype=release >"$blog" 2>&1 ||
			log "meson setup $BUILD failed (see below); trying a direct compile of ctgt-bench"
	fi
	if [ -f "$BUILD/build.ninja" ]; then
		ninja -C "$BUILD" tools/ctgt-bench >>"$blog" 2>&1 && BENCH_BIN="$BUILD/tools/ctgt-bench"
		if ninja -C "$BUILD" src/daemon/ctgtd >>"$blog" 2>&1; then
			CTGTD_BIN="$BUILD/src/daemon/ctgtd"
		else
			log "ctgtd does not build yet:"
			grep -E 'error|undefined' "$blog" | head -n 5 >&2
		fi
	fi
	if [ -z "$BENCH_BIN" ]; then
		# The tool is one file: do not let the rest of the tree block it.
		cc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -o "$WORK/ctgt-bench" \
			tools/ctgt-bench.c $(pkg-config --cflags --libs libiscsi) >>"$blog" 2>&1 &&
			BENCH_BIN="$WORK/ctgt-bench"
	fi
	if [ -z "$BENCH_BIN" ]; then
		tail -n 20 "$blog" >&2
		return 1
	fi
}

CLK_TCK=$(getconf CLK_TCK)
# utime + stime of a whole process (all its threads), in clock ticks
proc_cpu_ticks() {
	awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null
}

port_busy() { ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }

# First free port at or above $1 (the wanted one if it is free).
port_pick() {
	local p=$1
	while port_busy "$p"; do p=$((p + 1)); done
	echo "$p"
}

wait_listen() {	# pid port
	local i
	for i in $(seq 1 50); do
		kill -0 "$1" 2>/dev/null || return 1
		port_busy "$2" && return 0
		sleep 0.1
	done
	return 1
}

# --- tgt: tgtd on its own control port, one 1 GiB file on tmpfs as LUN 1 ----
TGT_OK=0
TGT_PID=""
bench_tgt_start() {
	local ctl=$TGT_CTL
	# a control port held by someone else's tgtd is not ours to use
	while tgtadm -C "$ctl" --mode sys --op show >/dev/null 2>&1; do ctl=$((ctl + 1)); done
	TGT_CTL=$ctl
	TGT_PORT=$(port_pick "$TGT_PORT")
	truncate -s "${LUN_SIZE_MB}M" "$WORK/shm/tgt-lun.img" || return 1
	${PIN_TARGET:-} tgtd -f -C "$TGT_CTL" --iscsi portal=127.0.0.1:"$TGT_PORT" \
		>"$WORK/tgtd.log" 2>&1 &
	TGT_PID=$!
	PIDS+=("$TGT_PID")
	wait_listen "$TGT_PID" "$TGT_PORT" || { log "tgtd did not start"; cat "$WORK/tgtd.log" >&2; return 1; }
	local adm=(tgtadm -C "$TGT_CTL" --lld iscsi)
	"${adm[@]}" --mode target --op new --tid 1 --targetname "$TGT_IQN" &&
	"${adm[@]}" --mode logicalunit --op new --tid 1 --lun 1 \
		--backing-store "$WORK/shm/tgt-lun.img" &&
	"${adm[@]}" --mode target --op bind --tid 1 --initiator-address ALL ||
		{ log "tgtadm setup failed"; return 1; }
	# The same negotiated values as ctgtd's defaults (docs/config.md,
	# src/iscsi/param.c), so the comparison is of the engines, not of tgt's
	# small defaults (8 KiB data segments, 256 KiB bursts, InitialR2T=Yes).
	local kv
	for kv in MaxRecvDataSegmentLength=262144 MaxXmitDataSegmentLength=262144 \
		  MaxBurstLength=1048576 FirstBurstLength=65536 MaxQueueCmd=128 \
		  InitialR2T=No; do
		"${adm[@]}" --mode target --op update --tid 1 --name "${kv%%=*}" \
			--value "${kv#*=}" || { log "tgtadm: cannot set $kv"; return 1; }
	done
	TGT_OK=1
}

# --- ctgt: ctgtd with one ram LUN (docs/config.md) ----------------------------
CTGT_OK=0
CTGT_PID=""
bench_ctgt_start() {
	if [ -z "$CTGTD_BIN" ] || [ ! -x "$CTGTD_BIN" ]; then
		log "ctgtd is not built: ctgt column will be n/a"
		return 1
	fi
	CTGT_PORT=$(port_pick "$CTGT_PORT")
	cat >"$WORK/ctgt.json" <<EOF
{"targets":[{"name":"$CTGT_IQN",
  "portal_groups":[{"tag":1,"rtpi":1,"portals":["127.0.0.1:$CTGT_PORT"]}],
  "acl":{"open_access":true},
  "luns":[{"lun":0,"backstore":{"type":"ram","size":"1G"},"block_size":512}]}]}
EOF
	${PIN_TARGET:-} "$CTGTD_BIN" -c "$WORK/ctgt.json" >"$WORK/ctgtd.log" 2>&1 &
	CTGT_PID=$!
	PIDS+=("$CTGT_PID")
	# ctgtd prints "ctgtd: serving ..." once every portal listens
	if ! wait_listen "$CTGT_PID" "$CTGT_PORT" ||
	   ! { sleep 0.2; grep -q 'serving' "$WORK/ctgtd.log"; }; then
		log "ctgtd did not start listening on 127.0.0.1:$CTGT_PORT:"
		tail -n 10 "$WORK/ctgtd.log" >&2
		return 1
	fi
	CTGT_OK=1
}

# --- one run -------------------------------------------------------------------
# Each run appends its key=value line to $WORK/res/<target>.<key>; a failed
# run leaves <target>.<key>.fail, which turns the table cell into FAIL.

# bench_one target url key seconds ctgt-bench-args...
bench_one() {
	local tgt=$1 url=$2 key=$3 secs=$4 out rc pid
	shift 4
	pid=$([ "$tgt" = ctgt ] && echo "$CTGT_PID" || echo "$TGT_PID")
	if ! kill -0 "$pid" 2>/dev/null; then
		log "$tgt: daemon is gone, $key skipped"
		: >"$WORK/res/$tgt.$key.fail"
		return 1
	fi
	local t0 t1
	t0=$(proc_cpu_ticks "$pid")
	out=$(timeout -k 3 $((secs + 15)) ${PIN_INIT:-} "$BENCH_BIN" "$@" \
		--seconds "$secs" --timeout 5 --initiator-name "$INITIATOR" "$url" \
		2>"$WORK/err.txt")
	rc=$?
	t1=$(proc_cpu_ticks "$pid")
	# the target's CPU time per completed command, in microseconds
	if [ $rc -eq 0 ] && [ -n "$t0" ] && [ -n "$t1" ]; then
		out="$out $(echo "$out" | awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" '{
			for (i = 1; i <= NF; i++) if ($i ~ /^ios=/) n = substr($i, 5)
			if (n > 0) printf "cpu_us_per_io=%.1f", d / hz * 1e6 / n }')"
	fi
	printf '%-5s %-14s %s\n' "$tgt" "$key" "${out:-(no result)}"
	if [ $rc -ne 0 ]; then
		log "$tgt $key: ctgt-bench exit $rc"
		head -n 5 "$WORK/err.txt" >&2
		: >"$WORK/res/$tgt.$key.fail"
		return 1
	fi
	echo "$out" >>"$WORK/res/$tgt.$key"
}

# ratio a/b with 2 decimals, or n/a
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b + 0 == 0) { print "n/a"; exit }
		printf "%.2f", a / b }'
}

val() {	# target key field -> median over the runs, FAIL, or n/a
	local f="$WORK/res/$1.$2"
	if [ -e "$f.fail" ]; then echo FAIL; return; fi
	if [ ! -s "$f" ]; then echo n/a; return; fi
	tr ' ' '\n' <"$f" | sed -n "s/^$3=//p" | sort -g |
		awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# --- TCP ceiling: one loopback stream, like the single iSCSI connection -----
IPERF_PID=""
bench_iperf_one() {
	local mbps
	if [ -z "$IPERF_PID" ] || ! kill -0 "$IPERF_PID" 2>/dev/null; then
		IPERF_PORT=$(port_pick "$IPERF_PORT")
		iperf3 -s -B 127.0.0.1 -p "$IPERF_PORT" >"$WORK/iperf-s.log" 2>&1 &
		IPERF_PID=$!
		PIDS+=("$IPERF_PID")
		wait_listen "$IPERF_PID" "$IPERF_PORT" || { log "iperf3 server did not start"; return 1; }
	fi
	# receiver line: "... 12.3 GBytes  21100 Mbits/sec  receiver"
	mbps=$(timeout 20 iperf3 -c 127.0.0.1 -p "$IPERF_PORT" -t 3 -f m 2>/dev/null |
		awk '/receiver/ { for (i = 1; i < NF; i++) if ($(i+1) == "Mbits/sec") v = $i / 8 }
		     END { if (v) printf "%.0f", v }')
	printf '%-5s %-14s %s\n' tcp iperf3 "mbps=${mbps:-(failed)}"
	[ -n "$mbps" ] && echo "mbps=$mbps" >>"$WORK/res/iperf.tcp"
}

# --- main ------------------------------------------------------------------------
WORK=$(mktemp -d /tmp/ctgt-bench.XXXXXX) || exit 1
mkdir -p "$WORK/shm" "$WORK/res"
if mount -t tmpfs -o size=$((LUN_SIZE_MB + 64))m,mode=0700 tmpfs "$WORK/shm" 2>/dev/null; then
	TMPFS_MOUNTED=1
else
	# not root (or no mount): /dev/shm is a tmpfs too
	rmdir "$WORK/shm"
	mkdir -p /dev/shm/"$(basename "$WORK")" && ln -s /dev/shm/"$(basename "$WORK")" "$WORK/shm"
	trap 'rm -rf /dev/shm/'"$(basename "$WORK")"'; bench_cleanup' EXIT
fi

T0=$(date +%s)
LOAD0=$(cut -d' ' -f1 /proc/loadavg)
bench_deps || exit 1
bench_build || { log "cannot build ctgt-bench"; exit 1; }
if [ "$PIN" = 1 ]; then
	PIN_TARGET="taskset -c 0"
	PIN_INIT="taskset -c 1"
fi

bench_tgt_start || status=1
bench_ctgt_start || status=1

CTGT_URL="iscsi://127.0.0.1:$CTGT_PORT/$CTGT_IQN/0"
TGT_URL="iscsi://127.0.0.1:$TGT_PORT/$TGT_IQN/1"
log "ctgt: $CTGT_URL ($([ $CTGT_OK = 1 ] && echo up || echo down))"
log "tgt:  $TGT_URL ($([ $TGT_OK = 1 ] && echo up || echo down))"
log "$REPS x $SECS s per workload, $(nproc) CPUs, pinning $([ "$PIN" = 1 ] && echo on || echo off)"

UP=()
[ $CTGT_OK = 1 ] && UP+=(ctgt)
[ $TGT_OK = 1 ] && UP+=(tgt)
url_of() { [ "$1" = ctgt ] && echo "$CTGT_URL" || echo "$TGT_URL"; }

# Precondition: one full sequential write, so every measured read and write
# touches memory that is already allocated on both targets (not tmpfs holes
# or the ram store's zero page). Not in the table; failures still count.
for t in "${UP[@]}"; do
	bench_one "$t" "$(url_of "$t")" fill 30 --rw write --bs 1m --qd 8 --one-pass ||
		status=1
done

# Each workload runs REPS times, targets alternating run by run, so a burst
# of noise from elsewhere on the machine hits both alike; the table shows
# the median.
WORKLOADS=(
	"seqwrite write 1m 8"
	"seqread read 1m 8"
	"randwrite_qd1 randwrite 4k 1"
	"randwrite_qd32 randwrite 4k 32"
	"randread_qd1 randread 4k 1"
	"randread_qd32 randread 4k 32"
	"randread_4s randread 4k 8 4"
)
for rep in $(seq 1 "$REPS"); do
	bench_iperf_one
	for w in "${WORKLOADS[@]}"; do
		set -- $w
		for t in "${UP[@]}"; do
			# a workload that failed once is not retried (bounded runtime)
			[ -e "$WORK/res/$t.$1.fail" ] && continue
			bench_one "$t" "$(url_of "$t")" "$1" "$SECS" \
				--rw "$2" --bs "$3" --qd "$4" --sessions "${5:-1}" \
				--seed "$rep" || status=1
		done
	done
done

# ctgtd must also stop cleanly: SIGTERM -> exit 0 (docs/config.md)
CTGT_STOP="not running"
if [ -n "$CTGT_PID" ]; then
	if kill -0 "$CTGT_PID" 2>/dev/null; then
		kill -TERM "$CTGT_PID"
		for _ in $(seq 1 50); do
			kill -0 "$CTGT_PID" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$CTGT_PID" 2>/dev/null; then
			CTGT_STOP="still running 5 s after SIGTERM (killed)"
			status=1
		else
			wait "$CTGT_PID"
			rc=$?
			if [ $rc -eq 0 ]; then CTGT_STOP="clean (exit 0 on SIGTERM)"
			else CTGT_STOP="exit status $rc on SIGTERM"; status=1; fi
		fi
	else
		wait "$CTGT_PID"
		CTGT_STOP="died during the benchmark (exit status $?)"
		status=1
	fi
	[ "$CTGT_STOP" = "clean (exit 0 on SIGTERM)" ] || tail -n 5 "$WORK/ctgtd.log" >&2
fi

IPERF_MBPS=$(val iperf tcp mbps)
[ "$IPERF_MBPS" = n/a ] && { log "iperf3 failed"; status=1; }

# --- table ------------------------------------------------------------------------
row() {	# label ctgt tgt
	printf '%-40s | %10s | %10s | %8s\n' "$1" "$2" "$3" "$(ratio "$2" "$3")"
}
pct() {	# part whole
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b + 0 == 0) { print "n/a"; exit }
		printf "%.0f%%", 100 * a / b }'
}
echo
printf '%-40s | %10s | %10s | %8s\n' metric ctgt tgt ctgt/tgt
printf '%s\n' "-----------------------------------------+------------+------------+---------"
row "4k randread QD1 IOPS" "$(val ctgt randread_qd1 iops)" "$(val tgt randread_qd1 iops)"
row "4k randread QD32 IOPS" "$(val ctgt randread_qd32 iops)" "$(val tgt randread_qd32 iops)"
row "4k randread 4 sessions x QD8 IOPS" "$(val ctgt randread_4s iops)" "$(val tgt randread_4s iops)"
row "4k randwrite QD1 IOPS" "$(val ctgt randwrite_qd1 iops)" "$(val tgt randwrite_qd1 iops)"
row "4k randwrite QD32 IOPS" "$(val ctgt randwrite_qd32 iops)" "$(val tgt randwrite_qd32 iops)"
row "1M seq read QD8 MB/s" "$(val ctgt seqread mbps)" "$(val tgt seqread mbps)"
row "1M seq write QD8 MB/s" "$(val ctgt seqwrite mbps)" "$(val tgt seqwrite mbps)"
row "4k randread QD1 p50 us (lower=better)" "$(val ctgt randread_qd1 lat_p50_us)" "$(val tgt randread_qd1 lat_p50_us)"
row "4k randread QD1 p99 us (lower=better)" "$(val ctgt randread_qd1 lat_p99_us)" "$(val tgt randread_qd1 lat_p99_us)"
row "4k randwrite QD1 p50 us (lower=better)" "$(val ctgt randwrite_qd1 lat_p50_us)" "$(val tgt randwrite_qd1 lat_p50_us)"
row "4k randwrite QD1 p99 us (lower=better)" "$(val ctgt randwrite_qd1 lat_p99_us)" "$(val tgt randwrite_qd1 lat_p99_us)"
row "target CPU us/IO 4k randread QD32" "$(val ctgt randread_qd32 cpu_us_per_io)" "$(val tgt randread_qd32 cpu_us_per_io)"
row "target CPU us/IO 4k randwrite QD32" "$(val ctgt randwrite_qd32 cpu_us_per_io)" "$(val tgt randwrite_qd32 cpu_us_per_io)"
row "target CPU us/IO 1M seq read" "$(val ctgt seqread cpu_us_per_io)" "$(val tgt seqread cpu_us_per_io)"
row "target CPU us/IO 1M seq write" "$(val ctgt seqwrite cpu_us_per_io)" "$(val tgt seqwrite cpu_us_per_io)"
printf '%-40s | %10s | %10s |\n' "seq read % of TCP ceiling" \
	"$(pct "$(val ctgt seqread mbps)" "$IPERF_MBPS")" "$(pct "$(val tgt seqread mbps)" "$IPERF_MBPS")"
echo
echo "median of $REPS runs of $SECS s each (MB = 10^6 bytes)"
echo "TCP ceiling: iperf3 on loopback, 1 stream, median of $REPS x 3 s: $IPERF_MBPS MB/s"
echo "ctgt: $([ $CTGT_OK = 1 ] && echo "$CTGT_URL" || echo "not running (n/a)"); ctgtd stop: $CTGT_STOP"
echo "tgt:  $([ $TGT_OK = 1 ] && echo "$TGT_URL" || echo "not running (n/a)")"
echo "load average (1 min) before the runs: $LOAD0 on $(nproc) CPUs (above ~0.5: other work shared the CPUs; the runs themselves add about 2)"
echo "total time: $(( $(date +%s) - T0 )) s; exit status $status"
exit $status
