#!/usr/bin/env bash
# Integration tests: a real ctgtd, real initiators.
#
#   bash tests/integration/run.sh [BUILD_DIR]        (default: build)
#
# Starts BUILD_DIR/src/daemon/ctgtd with a configuration of its own (file
# backstores in a temporary folder) and runs, in this order:
#   config.*   broken configurations (configs/bad-*.json): `ctgtd --check`
#              and a real start must exit 1 naming the offending key
#   daemon.*   start, the portals come up, the "serving" line on stdout, a
#              second ctgtd on the same ports fails cleanly
#   discovery.*, portid.*  SendTargets lists both portals with their tags;
#              each port reports its RTPI and port name (VPD 83h, portid.py)
#   access.*   a second target with an initiator ACL, a third with CHAP
#              required: the right initiator / secret gets in, others get a
#              login failure; discovery hides the ACL target from others
#   cu.*       libiscsi's iscsi-test-cu (--dataloss, two initiator names, two
#              portals in two target portal groups with their own RTPI) on
#              four LUNs: 512-byte thin file ("512"), read-only file ("ro",
#              a read-only-relevant subset), 4096-byte thin file ("4k"),
#              512-byte RAM ("ram", not with TARGET=tgt)
#   badpdu.*   hand-made malformed PDUs (badpdu.py), then iscsi-inq must work
#   load.*     four iscsi-perf sessions at once, then 32 concurrent logins
#   daemon.*   SIGTERM: ctgtd exits 0 within a timeout, no sanitizer report
#   pr.*       persistent-reservation scenarios (pr_scenarios, libiscsi) on a
#              ctgtd of their own (ports PORT+2/PORT+3, one fresh LUN per
#              scenario, its own state_dir), including kill -9 and restart
#              of that ctgtd for APTPL; then SIGTERM as above
#   prc.*      the same scenarios with every LU "cluster_impl": "cluster"
#              (single backend): each change through the device channel,
#              APTPL restored through its restart offers
#   smoke.*    ctgtd without -c (the embedded default): iscsi-ls, iscsi-inq
#   control.*  the control socket and ctgtadm on a ctgtd of its own (single
#              cluster backend, port PORT+4, socket in the work folder)
#
# Every test prints one line "PASS name", "FAIL name: reason" or
# "SKIP name: reason"; the last line is "N passed, N failed, N skipped" (the
# iscsi-test-cu tests counted one by one). Exit status 1 if anything failed.
#
# CUnit prints skipped tests as "passed": cuparse.py reads the per-test text.
# allowed-skips.txt lists the tests that may skip (an unexpected skip is a
# failure); known-failing.txt lists tests whose failure is tracked by an
# issue: they run and are reported apart, a failure there does not fail the
# run, a pass asks for the line to be removed. The pr.* scenarios go through
# known-failing.txt too (LUN kind "pr"); none may skip except
# pr.aptpl.persisted when the target reports PTPL_C = 0.
#
# Environment:
#   TARGET=tgt              run the iscsi-test-cu and badpdu suites against
#                           tgtd (Debian's tgt) set up the same way, as a
#                           reference (BUILD_DIR is then ignored)
#   CTGT_TEST_PORT=3260     first portal; the second is PORT+1, the pr.*
#                           ctgtd uses PORT+2 and PORT+3. The smoke
#                           test always uses 3260 (the embedded default).
#   CTGT_TEST_ONLY=GLOB     only iscsi-test-cu tests matching GLOB
#                           (e.g. 'ALL.Read1*'), for development
#   CTGT_TEST_CU_BUDGET=900 seconds for all iscsi-test-cu runs together
#   CTGT_TEST_KEEP=1        keep the temporary folder (logs, configs)
#   CTGT_TEST_NETNS=0       do not isolate the run in a network namespace
#
# Isolation: when it can (root, util-linux unshare), the runner re-executes
# itself in a private network namespace with only a loopback interface, so
# its fixed ports (3260-3263) never collide with a target or a benchmark
# running on the host, and nothing it starts is reachable from outside.
# Without that, the ports must be free. Every ctgtd it starts keeps its
# state (APTPL files) under the temporary folder (CTGT_STATE_DIR).
set -uo pipefail

if [ "${CTGT_TEST_NETNS:-1}" != 0 ] && [ -z "${CTGT_IT_IN_NETNS:-}" ] &&
	[ "$(id -u)" = 0 ] && command -v unshare >/dev/null && command -v ip >/dev/null &&
	unshare -n true 2>/dev/null; then
	export CTGT_IT_IN_NETNS=1
	exec unshare -n bash -c 'ip link set lo up && exec bash "$0" "$@"' "$0" "$@"
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

build=${1:-build}
[ -d "$build" ] || [ ! -d "$root/$build" ] || build=$root/$build
build=$(cd "$build" 2>/dev/null && pwd || echo "$build")

TARGET=${TARGET:-ctgt}
PORT1=${CTGT_TEST_PORT:-3260}
PORT2=$((PORT1 + 1))
CU_BUDGET=${CTGT_TEST_CU_BUDGET:-900}
ONLY=${CTGT_TEST_ONLY:-}
SUITE_TIMEOUT=300          # one iscsi-test-cu process
START_TIMEOUT=20           # portals up after start
STOP_TIMEOUT=15            # exit after SIGTERM (ASan builds are slower)

IQN=iqn.2026-11.org.ctgt:it
INI1=iqn.2026-11.org.ctgt:initiator-1
INI2=iqn.2026-11.org.ctgt:initiator-2
DEFAULT_IQN=iqn.2026-11.org.ctgt:default
IQN_ACL=iqn.2026-11.org.ctgt:it-acl     # only INI1 may log in
IQN_CHAP=iqn.2026-11.org.ctgt:it-chap   # CHAP required
INI_OTHER=iqn.2026-11.org.ctgt:intruder
CHAP_USER=it-user
CHAP_SECRET=it-secret-1234
LUN_SIZE=$((256 * 1024 * 1024))

ctgtd=$build/src/daemon/ctgtd
pr_scenarios=$build/tests/integration/pr_scenarios
work=$(mktemp -d /tmp/ctgt-it.XXXXXX)
# APTPL files of every ctgtd started here stay in the work folder
export CTGT_STATE_DIR=$work/state
PR_PORT1=$((PORT1 + 2))
PR_PORT2=$((PORT1 + 3))
PR_IQN=iqn.2026-11.org.ctgt:pr
npass=0 nfail=0 nskip=0
daemon_pid=
daemon_log=
declare -a nowpassing=() failed_names=()

# --- reporting -------------------------------------------------------------

# shellcheck source=tests/integration/it_report.sh
IT_LOG_LINES=30
. "$here/it_report.sh"

it_cleanup() {
	if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
		kill -KILL "$daemon_pid" 2>/dev/null
		wait "$daemon_pid" 2>/dev/null
	fi
	[ -n "${CTGT_TEST_KEEP:-}" ] || rm -rf "$work"
}
trap it_cleanup EXIT
trap 'exit 130' INT TERM

# --- daemon handling -------------------------------------------------------

it_port_listening() {   # PORT
	[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]
}

# it_wait_ports PID TIMEOUT PORT...: 0 when all ports listen; 1 on timeout;
# 2 if PID exited first.
it_wait_ports() {
	local pid=$1 limit=$2; shift 2
	local deadline=$((SECONDS + limit)) p missing
	while :; do
		kill -0 "$pid" 2>/dev/null || return 2
		missing=
		for p in "$@"; do it_port_listening "$p" || missing=1; done
		[ -z "$missing" ] && return 0
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.1
	done
}

# it_wait_line FILE REGEX: the line may lag the portals a little (and must
# not wait for exit: stdout is a file here, so it has to be flushed).
it_wait_line() {
	local i
	for i in $(seq 50); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# it_wait_exit PID TIMEOUT: sets it_rc to the exit status; 1 on timeout (the
# process is then killed).
it_wait_exit() {
	local pid=$1 deadline=$((SECONDS + $2))
	while kill -0 "$pid" 2>/dev/null; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			kill -KILL "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
			it_rc=killed
			return 1
		fi
		sleep 0.1
	done
	wait "$pid" 2>/dev/null
	it_rc=$?
	return 0
}

# it_daemon_start NAME LOG ARGS...: starts ctgtd in the background, waits for
# the main portals. Reports NAME.
it_daemon_start() {
	it_daemon_start_on "$PORT1" "$PORT2" "$@"
}

# it_daemon_start_on P1 P2 NAME LOG ARGS...: the same, waiting for ports P1
# and P2.
it_daemon_start_on() {
	local p1=$1 p2=$2 name=$3 log=$4; shift 4
	daemon_log=$log
	# stdout apart: the "serving ..." announcement must be on stdout
	"$ctgtd" "$@" >"$log.stdout" 2>"$log" &
	daemon_pid=$!
	it_wait_ports "$daemon_pid" "$START_TIMEOUT" "$p1" "$p2"
	case $? in
	0) it_pass "$name" "pid $daemon_pid" ; return 0 ;;
	1) it_fail "$name" "portals $p1/$p2 not listening after ${START_TIMEOUT}s"
	   it_log_tail "$log"; kill -KILL "$daemon_pid" 2>/dev/null; wait "$daemon_pid" 2>/dev/null ;;
	2) wait "$daemon_pid"; it_fail "$name" "ctgtd exited with status $? during start-up"
	   it_log_tail "$log" ;;
	esac
	daemon_pid=
	return 1
}

# it_daemon_stop NAME: SIGTERM, exit 0 within STOP_TIMEOUT, no sanitizer
# report in the log.
it_daemon_stop() {
	local name=$1
	[ -n "$daemon_pid" ] || { it_fail "$name" "ctgtd was not running"; return; }
	if ! kill -0 "$daemon_pid" 2>/dev/null; then
		wait "$daemon_pid"
		it_fail "$name" "ctgtd had already exited (status $?) before SIGTERM"
		it_log_tail "$daemon_log"
	else
		kill -TERM "$daemon_pid"
		if ! it_wait_exit "$daemon_pid" "$STOP_TIMEOUT"; then
			it_fail "$name" "no exit within ${STOP_TIMEOUT}s of SIGTERM (killed)"
			it_log_tail "$daemon_log"
		elif [ "$it_rc" != 0 ]; then
			it_fail "$name" "exit status $it_rc after SIGTERM (want 0)"
			it_log_tail "$daemon_log" 40
		elif it_sanitizer_report "$daemon_log"; then
			it_fail "$name" "sanitizer report in the log"
			it_log_tail "$daemon_log" 60
		else
			it_pass "$name" "exit 0"
		fi
	fi
	daemon_pid=
}

# Restarts ctgtd if it died: a failure named after the step that ran last
# (it_step), with the log tail; the restarted daemon serves the next step.
it_step=start
it_daemon_check() {
	[ "$TARGET" = ctgt ] || return 0
	if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
		return 0
	fi
	local rc=none
	if [ -n "$daemon_pid" ]; then wait "$daemon_pid"; rc=$?; fi
	it_fail "daemon.alive.after.$it_step" "ctgtd is not running (exit status $rc); restarting it"
	it_log_tail "$daemon_log" 40
	mv "$daemon_log" "$daemon_log.$it_step" 2>/dev/null
	daemon_pid=
	it_daemon_start "daemon.restart.after.$it_step" "$daemon_log" -c "$work/ctgt.json"
}

# --- configuration ---------------------------------------------------------

it_write_config() {   # FILE
	# A read-only LU needs an existing file (it is opened read-only): one
	# with a pattern in its first MiB, the rest sparse.
	head -c 1048576 /dev/urandom >"$work/lun1-ro.img"
	truncate -s "$LUN_SIZE" "$work/lun1-ro.img"
	cat >"$1" <<EOF
{
  "targets": [
    {
      "name": "$IQN",
      "portal_groups": [
        { "tag": 1, "rtpi": 1, "portals": ["127.0.0.1:$PORT1"] },
        { "tag": 2, "rtpi": 2, "portals": ["127.0.0.1:$PORT2"] }
      ],
      "acl": { "open_access": true },
      "luns": [
        { "lun": 0, "backstore": { "type": "file", "path": "$work/lun0-512.img", "size": $LUN_SIZE },
          "block_size": 512, "thin": true },
        { "lun": 1, "backstore": { "type": "file", "path": "$work/lun1-ro.img" },
          "block_size": 512, "read_only": true, "thin": false },
        { "lun": 2, "backstore": { "type": "file", "path": "$work/lun2-4k.img", "size": $LUN_SIZE },
          "block_size": 4096, "thin": true },
        { "lun": 3, "backstore": { "type": "ram", "size": "64M" }, "block_size": 512, "thin": true }
      ]
    },
    {
      "name": "$IQN_ACL",
      "portal_groups": [ { "tag": 1, "rtpi": 11, "portals": ["127.0.0.1:$PORT1"] } ],
      "acl": { "initiators": ["$INI1"] },
      "luns": [ { "lun": 0, "backstore": { "type": "ram", "size": "16M" } } ]
    },
    {
      "name": "$IQN_CHAP",
      "portal_groups": [ { "tag": 1, "rtpi": 21, "portals": ["127.0.0.1:$PORT1"] } ],
      "auth": { "chap_required": true, "user": "$CHAP_USER", "secret": "$CHAP_SECRET" },
      "luns": [ { "lun": 0, "backstore": { "type": "ram", "size": "16M" } } ]
    }
  ]
}
EOF
}

# tgtd, the same layout: LUN 0 is tgt's controller LUN, so the disks are
# LUNs 1..3. tgt has one portal group per target: both portals are in it.
tgt_adm() { tgtadm -C "$PORT1" --lld iscsi "$@"; }

it_tgt_start() {
	daemon_log=$work/tgtd.log
	local i
	for i in 1 2 3; do truncate -s "$LUN_SIZE" "$work/tgt-lun$i.img"; done
	tgtd -f -C "$PORT1" --iscsi "portal=127.0.0.1:$PORT1" >"$daemon_log" 2>&1 &
	daemon_pid=$!
	if ! it_wait_ports "$daemon_pid" "$START_TIMEOUT" "$PORT1"; then
		it_fail daemon.start "tgtd did not come up"; it_log_tail "$daemon_log"; return 1
	fi
	sleep 0.5
	tgt_adm --mode portal --op new --param "portal=127.0.0.1:$PORT2" &&
	tgt_adm --mode target --op new --tid 1 --targetname "$IQN" &&
	tgt_adm --mode logicalunit --op new --tid 1 --lun 1 --backing-store "$work/tgt-lun1.img" &&
	tgt_adm --mode logicalunit --op update --tid 1 --lun 1 --params thin_provisioning=1 &&
	tgt_adm --mode logicalunit --op new --tid 1 --lun 2 --backing-store "$work/tgt-lun2.img" &&
	tgt_adm --mode logicalunit --op update --tid 1 --lun 2 --params readonly=1 &&
	tgt_adm --mode logicalunit --op new --tid 1 --lun 3 --backing-store "$work/tgt-lun3.img" --blocksize 4096 &&
	tgt_adm --mode logicalunit --op update --tid 1 --lun 3 --params thin_provisioning=1 &&
	tgt_adm --mode target --op bind --tid 1 --initiator-address ALL ||
		{ it_fail daemon.start "tgtadm set-up failed"; return 1; }
	it_wait_ports "$daemon_pid" 5 "$PORT2" || { it_fail daemon.start "tgtd: no second portal"; return 1; }
	it_pass daemon.start "tgtd pid $daemon_pid"
}

# --- iscsi-test-cu ---------------------------------------------------------

cu_all=$work/cu-all.txt
cu_known=$work/cu-known.txt     # known-failing results, printed apart
cu_deadline=0

# Suites of the read-only run: those that neither write nor need writes to
# succeed, plus ReadOnly itself (writes must fail with WRITE PROTECTED).
CU_RO_SUITES="Inquiry Mandatory ModeSense6 NoMedia Read6 Read10 Read12 Read16
ReadCapacity10 ReadCapacity16 ReadDefectData10 ReadDefectData12 ReadOnly
ReportSupportedOpcodes TestUnitReady Verify10 Verify12 Verify16 GetLBAStatus
Prefetch10 Prefetch16 StartStopUnit PreventAllow iSCSIcmdsn"

# cu_run KIND LUN TESTS EXPECTED_FILE: one iscsi-test-cu process; results
# go through the allow-lists.
cu_run() {
	local kind=$1 lun=$2 tests=$3 expected=$4
	local tag=${tests//[^A-Za-z0-9.]/_}
	local log=$work/cu-$kind-${tag:0:80}.log
	local url1=iscsi://127.0.0.1:$PORT1/$IQN/$lun url2=iscsi://127.0.0.1:$PORT2/$IQN/$lun
	local left=$((cu_deadline - SECONDS)) t=$SUITE_TIMEOUT
	if [ "$left" -le 0 ]; then
		echo "budget" >"$log"
	else
		[ "$left" -lt "$t" ] && t=$left
		timeout -k 5 "$t" iscsi-test-cu --dataloss --test="$tests" \
			-i "$INI1" -I "$INI2" "$url1" "$url2" >"$log" 2>&1 &
		local cu_pid=$! rc
		# A dead target makes iscsi-test-cu retry forever: stop it at once.
		while kill -0 "$cu_pid" 2>/dev/null; do
			if [ -n "$daemon_pid" ] && ! kill -0 "$daemon_pid" 2>/dev/null; then
				kill -TERM "$cu_pid" 2>/dev/null
				echo "iscsi-test-cu: stopped, the target died" >>"$log"
				break
			fi
			sleep 0.2
		done
		wait "$cu_pid"; rc=$?
		[ "$rc" = 124 ] || [ "$rc" = 137 ] && echo "iscsi-test-cu: timed out after ${t}s" >>"$log"
	fi
	local verdict name why reason
	while IFS=$'\t' read -r head why; do
		verdict=${head%% *} name=${head#* }
		[ "$(cat "$log")" = budget ] && { verdict=FAIL; why="not run: iscsi-test-cu time budget (${CU_BUDGET}s) exhausted"; }
		echo "$kind $verdict" >>"$work/cu-raw.txt"
		local id=cu.$kind.${name#ALL.}
		if reason=$(it_list_match "$here/known-failing.txt" "$name" "$kind"); then
			case $verdict in
			PASS) echo "PASS $id (now passing: remove from known-failing.txt)" >>"$cu_known"
			      nowpassing+=("$name [$kind]") ;;
			FAIL) echo "SKIP $id: known failing, $reason: $why" >>"$cu_known" ;;
			SKIP) echo "SKIP $id: $why (known failing, $reason)" >>"$cu_known" ;;
			esac
			continue
		fi
		case $verdict in
		PASS) it_pass "$id" ;;
		FAIL) it_fail "$id" "$why" ;;
		SKIP) if reason=$(it_list_match "$here/allowed-skips.txt" "$name" "$kind"); then
				it_skip "$id" "$why (allowed: $reason)"
				echo "$name" >>"$work/cu-skipped.txt"
			else
				it_fail "$id" "unexpected skip: $why"
			fi ;;
		esac
	done < <(python3 "$here/cuparse.py" "$log" "$expected")
	if grep -q 'timed out after\|the target died' "$log"; then
		echo "    (iscsi-test-cu --test=$tests on $kind timed out or lost its target; log tail:)"
		it_log_tail "$log" 10
	fi
}

# cu_lun KIND LUN SUITES...: every suite of the list in its own process (a
# crash or a hook left behind by one suite cannot spoil the next), and
# CompareAndWrite.InvalidDataOutSize alone: in libiscsi 1.19 it leaves a
# PDU hook installed when it skips, corrupting later 16-byte CDBs.
cu_lun() {
	local kind=$1 lun=$2; shift 2
	local suite names exp t0=$SECONDS
	echo "--- iscsi-test-cu on LUN $lun ($kind): $* ---" | fmt -w 100 | sed '2,$s/^/    /'
	for suite in "$@"; do
		it_daemon_check || return
		it_step=cu.$kind.$suite
		names=$(grep "^ALL\.$suite\.[^.]*\$" "$cu_all")
		if [ -n "$ONLY" ]; then
			# shellcheck disable=SC2254
			names=$(for n in $names; do case $n in $ONLY) echo "$n" ;; esac; done)
		fi
		[ -n "$names" ] || continue
		local special=ALL.CompareAndWrite.InvalidDataOutSize rest
		rest=$(grep -vx "$special" <<<"$names")
		if [ -n "$rest" ]; then
			exp=$work/exp-$kind-$suite.txt; echo "$rest" >"$exp"
			if [ "$rest" = "$(grep "^ALL\.$suite\.[^.]*\$" "$cu_all")" ]; then
				cu_run "$kind" "$lun" "ALL.$suite" "$exp"
			else
				cu_run "$kind" "$lun" "$(paste -sd, "$exp")" "$exp"
			fi
		fi
		if grep -qx "$special" <<<"$names"; then
			exp=$work/exp-$kind-special.txt; echo "$special" >"$exp"
			cu_run "$kind" "$lun" "$special" "$exp"
		fi
	done
	local raw
	raw=$(awk -v k="$kind" '$1 == k {c[$2]++} END {printf "%d passed, %d failed, %d skipped", c["PASS"], c["FAIL"], c["SKIP"]}' "$work/cu-raw.txt" 2>/dev/null)
	echo "    iscsi-test-cu on $kind, CUnit verdicts before the allow-lists: $raw ($((SECONDS - t0))s)"
}

cu_all_suites() {
	grep '^ALL\.[^.]*$' "$cu_all" | sed 's/^ALL\.//'
}

it_cu() {
	iscsi-test-cu -l 2>/dev/null | grep '^ALL\.[^.]*\(\.[^.]*\)\?$' >"$cu_all"
	if [ ! -s "$cu_all" ]; then
		it_fail cu.list "iscsi-test-cu -l printed no tests (is libiscsi-bin installed?)"
		return
	fi
	: >"$cu_known"; : >"$work/cu-raw.txt"; : >"$work/cu-skipped.txt"
	local selftest
	if selftest=$(python3 "$here/cuparse.py" --self-test 2>&1); then
		it_pass cu.parser.self_test
	else
		it_fail cu.parser.self_test "${selftest//$'\n'/ | }"
	fi
	cu_deadline=$((SECONDS + CU_BUDGET))
	local l512=0 lro=1 l4k=2
	[ "$TARGET" = tgt ] && { l512=1 lro=2 l4k=3; }
	# shellcheck disable=SC2046
	cu_lun 512 "$l512" $(cu_all_suites)
	# shellcheck disable=SC2086
	cu_lun ro "$lro" $CU_RO_SUITES
	# shellcheck disable=SC2046
	cu_lun 4k "$l4k" $(cu_all_suites)
	if [ "$TARGET" = ctgt ]; then
		# shellcheck disable=SC2046
		cu_lun ram 3 $(cu_all_suites)
	fi
	# An allowance nothing used any more should go: say so (not a failure).
	if [ -z "$ONLY" ] && [ "$TARGET" = ctgt ]; then
		local glob kinds reason t used
		while read -r glob kinds reason; do
			case $glob in ''|'#'*) continue ;; esac
			used=
			while read -r t; do
				# shellcheck disable=SC2254
				case $t in $glob) used=1; break ;; esac
			done <"$work/cu-skipped.txt"
			[ -n "$used" ] || echo "    allowed-skips.txt: '$glob' matched no skip in this run: remove it?"
		done <"$here/allowed-skips.txt"
	fi
	if [ -s "$cu_known" ]; then
		echo "--- known failing (tests/integration/known-failing.txt): not counted as failures ---"
		local line
		while read -r line; do
			case $line in
			PASS*) npass=$((npass + 1)) ;;
			SKIP*) nskip=$((nskip + 1)) ;;
			esac
			echo "$line"
		done <"$cu_known"
		echo "    known failing: $(grep -c '^SKIP' "$cu_known") not passing (failed or skipped), $(grep -c '^PASS' "$cu_known") now passing"
	fi
}

# --- bad input ---------------------------------------------------------------

# Each configs/bad-NAME.json comes with configs/bad-NAME.expect: the
# substrings (one a line) the error message must contain -- the key path of
# the offending key (docs/config.md: "file: targets[0].luns[1].block_size:
# ..."). @WORK@ in a config is replaced by the temporary folder.
it_expect_check() {   # EXPECT_FILE OUTPUT: prints the first missing substring
	local want
	while IFS= read -r want; do
		[ -n "$want" ] || continue
		grep -qF -- "$want" <<<"$2" || { echo "$want"; return 1; }
	done <"$1"
}

it_bad_config_one() {   # NAME EXPECT_FILE CMD...
	local name=$1 expect=$2; shift 2
	local out rc missing
	out=$(timeout -k 2 10 "$@" 2>&1); rc=$?
	out=${out//$'\n'/ | }
	if [ "$rc" != 1 ]; then
		it_fail "$name" "exit status $rc, want 1; output: ${out:0:300}"
	elif ! missing=$(it_expect_check "$expect" "$out"); then
		it_fail "$name" "message does not name '$missing': ${out:0:300}"
	elif grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' <<<"$out"; then
		it_fail "$name" "sanitizer report: ${out:0:300}"
	else
		it_pass "$name" "${out:0:160}"
	fi
}

it_bad_configs() {
	echo "--- bad configurations ---"
	local f name cfg
	if "$ctgtd" --check -c "$work/ctgt.json" >"$work/check-good.log" 2>&1; then
		it_pass config.check.good
	else
		it_fail config.check.good "ctgtd --check rejects the test configuration: $(head -c 300 "$work/check-good.log")"
	fi
	for f in "$here"/configs/bad-*.json; do
		name=$(basename "$f" .json)
		if [ ! -s "${f%.json}.expect" ]; then
			it_fail "config.$name" "no ${name}.expect next to it"
			continue
		fi
		cfg=$work/$name.json
		sed "s|@WORK@|$work|g" "$f" >"$cfg"
		it_bad_config_one "config.$name.check" "${f%.json}.expect" "$ctgtd" --check -c "$cfg"
		it_bad_config_one "config.$name.start" "${f%.json}.expect" "$ctgtd" -c "$cfg"
	done
}

# A second ctgtd on ports in use: exit 1 with a message, within 5 s.
it_port_in_use() {
	local out rc t0 ms
	t0=$(date +%s%N)
	out=$(timeout -k 2 10 "$ctgtd" -c "$work/ctgt.json" 2>&1); rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	out=${out//$'\n'/ | }
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		it_fail daemon.port_in_use "a second ctgtd on ports in use did not exit within 10s"
	elif [ "$rc" != 1 ]; then
		it_fail daemon.port_in_use "exit status $rc, want 1; output: ${out:0:300}"
	elif ! grep -qiE "in use|$PORT1" <<<"$out"; then
		it_fail daemon.port_in_use "message names neither the port nor 'in use': ${out:0:300}"
	elif [ "$ms" -gt 5000 ]; then
		it_fail daemon.port_in_use "took ${ms} ms to give up (want < 5 s)"
	else
		it_pass daemon.port_in_use "exit 1 in ${ms} ms: ${out:0:120}"
	fi
	if ! kill -0 "$daemon_pid" 2>/dev/null; then
		it_fail daemon.port_in_use.first_alive "the first ctgtd died when the second one started"
	fi
}

# Discovery lists the target on both portals with their portal group tags,
# and each port reports its own RTPI and port name for the same LU.
it_ports() {
	local out line rc
	out=$(timeout 20 iscsi-ls -i "$INI1" "iscsi://127.0.0.1:$PORT1" 2>&1)
	if grep -qF "Target:$IQN Portal:127.0.0.1:$PORT1,1" <<<"$out" &&
		grep -qF "Target:$IQN Portal:127.0.0.1:$PORT2,2" <<<"$out"; then
		it_pass discovery.sendtargets "$IQN on both portals, tags 1 and 2"
	else
		it_fail discovery.sendtargets "want $IQN on 127.0.0.1:$PORT1,1 and :$PORT2,2, got: ${out//$'\n'/ | }"
	fi
	# (with the CHAP credentials: iscsi-ls -s stops at the first target it
	# cannot log in to, and the CHAP target is listed too)
	out=$(timeout 20 iscsi-ls -s -i "$INI1" "iscsi://$CHAP_USER%$CHAP_SECRET@127.0.0.1:$PORT2" 2>&1)
	if [ "$(sed -n "/^Target:$IQN Portal/,/^Target:/p" <<<"$out" | grep -cE '^ *Lun:[012] +Type:DIRECT_ACCESS')" -ge 3 ]; then
		it_pass discovery.report_luns "LUNs 0-2 of $IQN"
	else
		it_fail discovery.report_luns "want LUNs 0-2 DIRECT_ACCESS, got: ${out//$'\n'/ | }"
	fi
	while read -r line; do
		case $line in
		PASS\ *) it_pass "${line#PASS }" ;;
		FAIL\ *) line=${line#FAIL }; it_fail "${line%%:*}" "${line#*: }" ;;
		*) echo "    $line" ;;
		esac
	done < <(timeout -k 2 60 python3 "$here/portid.py" --target "$IQN" --lun 0 \
		--initiator "$INI1" --portal "$PORT1:1:1" --portal "$PORT2:2:2" 2>&1)
}

# Access control: the ACL target admits INI1 only (and hides itself from
# others in discovery); the CHAP target needs the right name and secret.
it_inq_ok() {   # NAME INITIATOR URL
	local out
	out=$(timeout 20 iscsi-inq -i "$2" "$3" 2>&1)
	if grep -q 'Peripheral Device Type:DIRECT_ACCESS' <<<"$out"; then
		it_pass "$1"
	else
		it_fail "$1" "iscsi-inq ${3%%@*}...: ${out//$'\n'/ | }"
	fi
}
it_inq_refused() {   # NAME INITIATOR URL
	local out rc
	out=$(timeout 20 iscsi-inq -i "$2" "$3" 2>&1); rc=$?
	if [ "$rc" = 124 ]; then
		it_fail "$1" "iscsi-inq hung (want a login failure)"
	elif grep -q 'Peripheral Device Type' <<<"$out"; then
		it_fail "$1" "the login was accepted"
	elif grep -qiE 'login|auth|failed|refused|denied' <<<"$out"; then
		it_pass "$1" "$(head -n1 <<<"$out" | cut -c1-100)"
	else
		it_fail "$1" "unexpected output: ${out//$'\n'/ | }"
	fi
}
it_access() {
	echo "--- access control and CHAP ---"
	local p=127.0.0.1:$PORT1 out
	it_inq_ok access.acl.allowed "$INI1" "iscsi://$p/$IQN_ACL/0"
	it_inq_refused access.acl.refused "$INI_OTHER" "iscsi://$p/$IQN_ACL/0"
	out=$(timeout 20 iscsi-ls -i "$INI_OTHER" "iscsi://$p" 2>&1)
	if grep -qF "Target:$IQN " <<<"$out" && ! grep -qF "Target:$IQN_ACL " <<<"$out"; then
		it_pass access.acl.discovery_hidden
	else
		it_fail access.acl.discovery_hidden "want $IQN listed and $IQN_ACL not, for $INI_OTHER: ${out//$'\n'/ | }"
	fi
	it_inq_ok access.chap.good "$INI1" "iscsi://$CHAP_USER%$CHAP_SECRET@$p/$IQN_CHAP/0"
	it_inq_refused access.chap.bad_secret "$INI1" "iscsi://$CHAP_USER%wrong-secret-99@$p/$IQN_CHAP/0"
	it_inq_refused access.chap.none "$INI1" "iscsi://$p/$IQN_CHAP/0"
}

# --- malformed PDUs ----------------------------------------------------------

it_badpdu() {
	echo "--- malformed PDUs ---"
	local lun=0 line
	[ "$TARGET" = tgt ] && lun=1
	it_daemon_check || return
	it_step=badpdu
	while read -r line; do
		case $line in
		PASS\ *) it_pass "${line#PASS }" ;;
		FAIL\ *) line=${line#FAIL }; it_fail "${line%%:*}" "${line#*: }" ;;
		*) echo "    $line" ;;
		esac
	done < <(timeout -k 2 120 python3 "$here/badpdu.py" --port "$PORT1" --target "$IQN" \
		--lun "$lun" --initiator "$INI1" --timeout 5 2>&1)
	if [ "$TARGET" = ctgt ] && ! kill -0 "$daemon_pid" 2>/dev/null; then
		it_fail badpdu.alive "ctgtd died during the malformed-PDU tests"
		it_log_tail "$daemon_log" 40
		return
	fi
	local inq
	inq=$(timeout 20 iscsi-inq -i "$INI1" "iscsi://127.0.0.1:$PORT1/$IQN/$lun" 2>&1)
	if grep -q 'Peripheral Device Type:DIRECT_ACCESS' <<<"$inq"; then
		it_pass badpdu.still_serving "iscsi-inq after the malformed PDUs"
	else
		it_fail badpdu.still_serving "iscsi-inq after the malformed PDUs: ${inq:0:300}"
	fi
}

# --- load: several sessions at once ---------------------------------------

# Four iscsi-perf sessions (random 4 KiB reads, 32 in flight each, two per
# portal, four initiator names) for 3 s, then 32 logins at once. Every
# client must finish cleanly and ctgtd must still be serving.
it_load() {
	echo "--- load ---"
	it_daemon_check || return
	it_step=load
	local i pids=() lun=0 ok=0 iops=0 n port
	[ "$TARGET" = tgt ] && lun=1
	for i in 1 2 3 4; do
		port=$PORT1; [ $((i % 2)) = 0 ] && port=$PORT2
		timeout 30 iscsi-perf -i "iqn.2026-11.org.ctgt:perf-$i" -m 32 -b 8 -t 3 -r \
			"iscsi://127.0.0.1:$port/$IQN/$lun" >"$work/perf-$i.log" 2>&1 &
		pids+=($!)
	done
	for i in 1 2 3 4; do
		if wait "${pids[$((i - 1))]}" && grep -q '^finished' "$work/perf-$i.log"; then
			ok=$((ok + 1))
			n=$(grep -o 'iops average [0-9]*' "$work/perf-$i.log" | tail -n1 | grep -o '[0-9]*$')
			iops=$((iops + ${n:-0}))
		else
			echo "    iscsi-perf $i: $(tr '\r' '\n' <"$work/perf-$i.log" | grep -v '^ *$' | tail -n 2 | tr '\n' ' ')"
		fi
	done
	if [ "$ok" = 4 ] && [ "$iops" -gt 0 ]; then
		it_pass load.iscsi_perf_4_sessions "$iops IOPS in total"
	else
		it_fail load.iscsi_perf_4_sessions "$ok of 4 iscsi-perf sessions finished cleanly"
	fi
	pids=()
	for i in $(seq 32); do
		port=$PORT1; [ $((i % 2)) = 0 ] && port=$PORT2
		timeout 30 iscsi-inq -i "iqn.2026-11.org.ctgt:login-$i" \
			"iscsi://127.0.0.1:$port/$IQN/$lun" >"$work/inq-$i.log" 2>&1 &
		pids+=($!)
	done
	ok=0
	for i in $(seq 32); do
		wait "${pids[$((i - 1))]}" && grep -q 'Peripheral Device Type:DIRECT_ACCESS' "$work/inq-$i.log" &&
			ok=$((ok + 1))
	done
	if [ "$ok" = 32 ]; then
		it_pass load.parallel_logins "32 of 32"
	else
		it_fail load.parallel_logins "$ok of 32 concurrent iscsi-inq succeeded"
	fi
	if [ "$TARGET" = ctgt ] && ! kill -0 "$daemon_pid" 2>/dev/null; then
		it_fail load.alive "ctgtd died under load"
		it_log_tail "$daemon_log" 40
	fi
}

# --- persistent reservations: pr_scenarios on a ctgtd of its own -------------

# One LU per scenario (pr_scenarios --lun-base 0: scenario k on LUN k, 9
# the SCSI-2 one), RAM except the two APTPL LUs (7: APTPL = 1, 8: APTPL =
# 0), which are files so the restart finds the same LUs; state_dir in the
# work folder.
# it_pr_write_config FILE IMPL: IMPL "single", or "cluster" (every LU
# "cluster_impl": "cluster" on the single backend: each change goes through
# the device channel, docs/cluster-device.md).
it_pr_write_config() {
	local luns= i impl="\"cluster_impl\": \"$2\", "
	local file="\"type\": \"file\", \"direct\": false"
	for i in 0 1 3 4 5 6 9; do
		luns="$luns{ \"lun\": $i, $impl\"backstore\": { \"type\": \"ram\", \"size\": \"16M\" } },"
	done
	cat >"$1" <<EOF
{
  "node": { "state_dir": "$work/pr-state-$2" },
  "targets": [
    {
      "name": "$PR_IQN",
      "portal_groups": [
        { "tag": 1, "rtpi": 1, "portals": ["127.0.0.1:$PR_PORT1"] },
        { "tag": 2, "rtpi": 2, "portals": ["127.0.0.1:$PR_PORT2"] }
      ],
      "acl": { "open_access": true },
      "luns": [
        $luns
        { "lun": 2, $impl"backstore": { "type": "ram", "size": "64M" } },
        { "lun": 7, $impl"backstore": { $file, "path": "$work/pr-lun7-$2.img", "size": 16777216 } },
        { "lun": 8, $impl"backstore": { $file, "path": "$work/pr-lun8-$2.img", "size": 16777216 } }
      ]
    }
  ]
}
EOF
}

# it_pr_start NAME: ctgtd with the pr configuration, up on both PR ports.
pr_starts=0
it_pr_start() {
	local name=$1 log=$work/ctgtd-pr.log
	if [ -e "$log" ]; then
		pr_starts=$((pr_starts + 1))
		mv "$log" "$log.$pr_starts"
	fi
	it_daemon_start_on "$PR_PORT1" "$PR_PORT2" "$name" "$log" -c "$work/pr.json"
}

# it_pr_run ARGS...: one pr_scenarios process; its PASS/FAIL/SKIP lines go
# through known-failing.txt (kind "pr"); a scenario that --list names but
# that printed nothing (crash, timeout) fails; SKIP only where allowed.
it_pr_run() {
	local out=$work/pr-out.txt rc line verdict name why reason shown
	local -a names
	mapfile -t names < <("$pr_scenarios" --list "$@" 2>/dev/null)
	[ "${#names[@]}" -gt 0 ] || { it_fail pr.list "pr_scenarios --list $* named no scenario"; return; }
	timeout -k 5 300 "$pr_scenarios" --portal1 "127.0.0.1:$PR_PORT1" \
		--portal2 "127.0.0.1:$PR_PORT2" --target "$PR_IQN" \
		--ini1 "$INI1" --ini2 "$INI2" --lun-base 0 "$@" >"$out" 2>"$out.err"
	rc=$?
	for name in "${names[@]}"; do
		shown=$pr_label.${name#pr.}
		line=$(grep -m1 -E "^(PASS|FAIL|SKIP) ${name//./\\.}([ :]|\$)" "$out")
		if [ -z "$line" ]; then
			verdict=FAIL why="no result (pr_scenarios exit status $rc)"
		else
			verdict=${line%% *}
			why=${line#"$verdict $name"}; why=${why#: }; why=${why# }
		fi
		if reason=$(it_list_match "$here/known-failing.txt" "$name" pr); then
			case $verdict in
			PASS) echo "PASS $shown (now passing: remove from known-failing.txt)"
			      npass=$((npass + 1)); nowpassing+=("$name [pr]") ;;
			*) echo "SKIP $shown: known failing, $reason: $why"
			   nskip=$((nskip + 1)) ;;
			esac
			continue
		fi
		case $verdict in
		PASS) why=${why#(}; it_pass "$shown" "${why%)}" ;;
		FAIL) it_fail "$shown" "$why" ;;
		SKIP) if [ "$name" = pr.aptpl.persisted ]; then
				it_skip "$shown" "$why"
			else
				it_fail "$shown" "unexpected skip: $why"
			fi ;;
		esac
	done
	if [ "$rc" -ge 124 ] || [ -s "$out.err" ]; then
		echo "    (pr_scenarios $* exit status $rc; stderr:)"
		it_log_tail "$out.err" 15
	fi
}

# it_pr IMPL LABEL: the scenarios with every LU of that cluster_impl, each
# result named LABEL.<scenario> (pr.* for single, prc.* for cluster).
it_pr() {
	pr_label=$2
	echo "--- persistent reservations ($1 LUs): pr_scenarios on a ctgtd at ports $PR_PORT1/$PR_PORT2 ---"
	if [ ! -x "$pr_scenarios" ]; then
		it_fail "$pr_label.build" "no $pr_scenarios (libiscsi-dev missing at build time?)"
		return
	fi
	local p
	for p in "$PR_PORT1" "$PR_PORT2"; do
		if it_port_listening "$p"; then
			it_fail "$pr_label.ports" "port $p is already in use by another process"
			return
		fi
	done
	it_pr_write_config "$work/pr.json" "$1"
	it_pr_start "$pr_label.daemon.start" || return
	it_pr_run
	# APTPL (SPC-4 5.14.5): state set, kill -9, the same ctgtd again
	it_pr_run --phase aptpl-before --state "$work/pr-aptpl-$1.txt"
	if ! kill -0 "$daemon_pid" 2>/dev/null; then
		wait "$daemon_pid"
		it_fail "$pr_label.daemon.alive" "ctgtd died during the PR scenarios (exit status $?)"
		it_log_tail "$daemon_log" 40
	else
		kill -KILL "$daemon_pid"
		wait "$daemon_pid" 2>/dev/null
	fi
	daemon_pid=
	if it_sanitizer_report "$daemon_log"; then
		it_fail "$pr_label.daemon.sanitizer" "sanitizer report in the log before kill -9"
		it_log_tail "$daemon_log" 60
	fi
	it_pr_start "$pr_label.daemon.restart_after_kill9" || return
	it_pr_run --phase aptpl-after --state "$work/pr-aptpl-$1.txt"
	it_daemon_stop "$pr_label.daemon.sigterm_exit_0"
}

# --- smoke: the embedded default -------------------------------------------

it_smoke() {
	echo "--- smoke: ctgtd with the embedded default configuration ---"
	if it_port_listening 3260; then
		it_fail smoke.start "port 3260 is already in use by another process"
		return
	fi
	local state=$work/state log=$work/ctgtd-default.log out
	mkdir -p "$state"
	daemon_log=$log
	CTGT_STATE_DIR=$state "$ctgtd" >"$log.stdout" 2>"$log" &
	daemon_pid=$!
	it_wait_ports "$daemon_pid" "$START_TIMEOUT" 3260
	case $? in
	0) it_pass smoke.start ;;
	1) it_fail smoke.start "127.0.0.1:3260 not listening after ${START_TIMEOUT}s"; it_log_tail "$log"
	   it_daemon_stop smoke.stop; return ;;
	2) wait "$daemon_pid"; it_fail smoke.start "ctgtd exited with status $?"; it_log_tail "$log"
	   daemon_pid=; return ;;
	esac
	if it_wait_line "$log.stdout" "serving $DEFAULT_IQN on 127.0.0.1:3260.*LUN 0"; then
		it_pass smoke.announce "$(grep -m1 "serving $DEFAULT_IQN" "$log.stdout" | cut -c1-140)"
	else
		it_fail smoke.announce "no line 'serving $DEFAULT_IQN on 127.0.0.1:3260 ... LUN 0' on its stdout"
		it_log_tail "$log.stdout" 10
	fi
	out=$(timeout 20 iscsi-ls -s -i "$INI1" iscsi://127.0.0.1:3260 2>&1)
	if grep -q "Target:$DEFAULT_IQN Portal:127.0.0.1:3260" <<<"$out" &&
		grep -qE '^ *Lun:0 +Type:DIRECT_ACCESS' <<<"$out"; then
		it_pass smoke.iscsi-ls "$(grep -m1 'Lun:0' <<<"$out" | sed 's/  */ /g')"
	else
		it_fail smoke.iscsi-ls "want Target:$DEFAULT_IQN and Lun:0 DIRECT_ACCESS, got: ${out:0:300}"
	fi
	out=$(timeout 20 iscsi-inq -i "$INI1" "iscsi://127.0.0.1:3260/$DEFAULT_IQN/0" 2>&1)
	if grep -q 'Peripheral Device Type:DIRECT_ACCESS' <<<"$out" &&
		grep -qE '^Vendor:.*[^ ]' <<<"$out"; then
		it_pass smoke.iscsi-inq "$(grep -m1 '^Vendor:' <<<"$out" | sed 's/ *$//'), $(grep -m1 '^Product:' <<<"$out" | sed 's/ *$//')"
	else
		it_fail smoke.iscsi-inq "want a DIRECT_ACCESS device with a vendor, got: ${out:0:300}"
	fi
	it_daemon_stop smoke.stop
}

# --- control: the control socket and ctgtadm (single cluster backend) -------

# A ctgtd of its own (the single backend, a socket in the work folder, port
# PORT+4: PORT+2/+3 are pr.*'s), driven by ctgtadm: status, view, KV set/get/CAS/delete,
# locks (a waiter times out, a killed holder's lock is released), notify,
# malformed requests, a socket held by a live ctgtd, SIGTERM.
it_control() {
	echo "--- control socket and ctgtadm ---"
	local adm=$build/tools/ctgtadm sock=$work/ctl.sock cfg=$work/ctl.json
	local log=$work/ctgtd-ctl.log port=$((PORT1 + 4)) pid out rc ver i holder
	if [ ! -x "$adm" ]; then
		it_fail control.build "no ctgtadm at $adm"
		return
	fi
	cat >"$cfg" <<EOF
{
  "targets": [ { "name": "$IQN-ctl",
    "portal_groups": [ { "tag": 1, "rtpi": 1, "portals": ["127.0.0.1:$port"] } ],
    "luns": [ { "lun": 0, "backstore": { "type": "ram", "size": "16M" } } ] } ],
  "cluster": { "backend": "single" },
  "control": { "socket": "$sock" }
}
EOF
	"$ctgtd" -c "$cfg" >"$log.stdout" 2>"$log" &
	pid=$!
	for i in $(seq 100); do
		[ -S "$sock" ] && it_port_listening "$port" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if ! [ -S "$sock" ] || ! kill -0 "$pid" 2>/dev/null; then
		it_fail control.start "no control socket $sock (ctgtd log below)"
		it_log_tail "$log"
		kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
		return
	fi
	it_pass control.start "pid $pid, $sock"
	local A=("$adm" -S "$sock")
	# it_adm NAME WANT_RC REGEX ARGS...: runs ctgtadm, checks its exit
	# status and that its output (stdout + stderr) matches REGEX.
	it_adm() {
		local name=$1 want=$2 re=$3; shift 3
		out=$(timeout 20 "${A[@]}" "$@" 2>&1); rc=$?
		if [ "$rc" != "$want" ]; then
			it_fail "$name" "ctgtadm $* exited $rc (want $want): ${out//$'\n'/ | }"
		elif ! grep -qE -- "$re" <<<"$out"; then
			it_fail "$name" "ctgtadm $*: want /$re/, got: ${out//$'\n'/ | }"
		else
			out=${out//$'\n'/ | }
			it_pass "$name" "${out:0:120}"
			return 0
		fi
		return 1
	}
	it_adm control.status 0 '^ctgtd .*pid [0-9]+.*backend single' status
	it_adm control.view 0 'quorate, ready' view
	it_adm control.kv.set 0 '^k1: version [0-9]+$' kv set k1 hello &&
		ver=$(grep -oE '[0-9]+$' <<<"$out")
	it_adm control.kv.get 0 "^k1 = \"hello\" \\(version ${ver:-?}\\)" kv get k1
	it_adm control.kv.cas_mismatch 1 "version mismatch \\(the key is at version ${ver:-?}\\)" \
		kv cas k1 $((${ver:-0} + 7)) nope
	it_adm control.kv.cas 0 '^k1: version [0-9]+$' kv cas k1 "${ver:-0}" world
	it_adm control.kv.cas_absent 1 'version mismatch' kv cas k1 0 again
	it_adm control.kv.json 0 '"value":"world"' --json kv get k1
	it_adm control.kv.del 0 'deleted' kv del k1
	it_adm control.kv.get_absent 1 'no such key' kv get k1
	it_adm control.lock.hold 0 '^released L1$' lock L1 --hold 0
	# A holds L2 until killed; B times out; A is killed -9; B gets it.
	"${A[@]}" lock L2 >"$work/ctl-holder.out" 2>&1 &
	holder=$!
	for i in $(seq 50); do grep -q granted "$work/ctl-holder.out" && break; sleep 0.1; done
	it_adm control.lock.waits 1 'not granted within 300 ms' lock L2 --timeout 300 --hold 0
	kill -KILL "$holder" 2>/dev/null; wait "$holder" 2>/dev/null
	it_adm control.lock.released_on_client_death 0 '^granted L2' lock L2 --timeout 5000 --hold 0
	it_adm control.lock.shared 0 'granted S' lock S --shared --hold 0
	it_adm control.notify 0 'acked by 1 member' notify 65280 control-test
	if grep -q 'notify topic 65280 from node 1 .*control-test' "$log"; then
		it_pass control.notify.delivered
	else
		it_fail control.notify.delivered "no 'notify topic 65280' line in the ctgtd log"
	fi
	it_adm control.usage 2 'usage' kv frobnicate
	out=$(timeout 10 "$adm" -S "$work/no-such.sock" status 2>&1); rc=$?
	if [ "$rc" = 2 ] && grep -q 'cannot connect' <<<"$out"; then
		it_pass control.no_daemon "exit 2: $out"
	else
		it_fail control.no_daemon "exit $rc (want 2): $out"
	fi
	out=$(timeout 10 python3 - "$sock" <<'PYEOF' 2>&1
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1]); s.settimeout(5)
f = s.makefile('rwb')
for req in [b'not json', b'{"cmd":"format-disk"}', b'["cmd"]', b'{"cmd":"kv-set","key":"k"}',
            b'{"cmd":"status","id":42}']:
    f.write(req + b'\n'); f.flush(); print(f.readline().decode().strip())
PYEOF
)
	if grep -q '"ok":false.*"EINVAL"' <<<"$(sed -n 1p <<<"$out")" &&
		grep -q '"ENOSYS"' <<<"$(sed -n 2p <<<"$out")" &&
		grep -q '"EINVAL"' <<<"$(sed -n 3p <<<"$out")" &&
		grep -q 'exactly one of' <<<"$(sed -n 4p <<<"$out")" &&
		grep -q '"ok":true.*"id":42' <<<"$(sed -n 5p <<<"$out")"; then
		it_pass control.malformed "errors answered, the connection kept"
	else
		it_fail control.malformed "${out//$'\n'/ | }"
	fi
	# Another ctgtd asked for the same socket: exit 1, naming it.
	sed "s/:$port\"/:$((port + 1))\"/" "$cfg" >"$work/ctl2.json"
	out=$(timeout 10 "$ctgtd" -c "$work/ctl2.json" 2>&1); rc=$?
	if [ "$rc" = 1 ] && grep -q "$sock" <<<"$out"; then
		it_pass control.socket_in_use "exit 1"
	else
		it_fail control.socket_in_use "exit $rc (want 1): ${out//$'\n'/ | }"
	fi
	# corosync chosen, none reachable (the private network namespace has
	# no corosync): a clear error and exit 1 once join_timeout is over.
	if [ -n "${CTGT_IT_IN_NETNS:-}" ]; then
		sed -e 's/"backend": "single"/"backend": "corosync", "join_timeout": 2/' \
			-e "s|$sock|$work/ctl-coro.sock|" -e "s/:$port\"/:$((port + 1))\"/" \
			"$cfg" >"$work/ctl-coro.json"
		out=$(timeout 20 "$ctgtd" -c "$work/ctl-coro.json" 2>&1); rc=$?
		if [ "$rc" = 1 ] && grep -qE 'is corosync running|built without it' <<<"$out"; then
			it_pass control.corosync_unavailable "exit 1: $(grep -m1 -E 'corosync running|without it' <<<"$out" | cut -c1-120)"
		else
			it_fail control.corosync_unavailable "exit $rc (want 1): ${out//$'\n'/ | }"
		fi
	else
		it_skip control.corosync_unavailable "not in a private network namespace (a corosync may be reachable)"
	fi
	it_adm control.after_all 0 'quorate, ready' view
	kill -TERM "$pid"
	if ! it_wait_exit "$pid" "$STOP_TIMEOUT"; then
		it_fail control.stop "no exit within ${STOP_TIMEOUT}s of SIGTERM"
		it_log_tail "$log"
	elif [ "$it_rc" != 0 ] || it_sanitizer_report "$log"; then
		it_fail control.stop "exit status $it_rc, or a sanitizer report"
		it_log_tail "$log" 40
	elif [ -e "$sock" ]; then
		it_fail control.stop "the socket file $sock is still there"
	else
		it_pass control.stop "exit 0, socket removed"
	fi
}

# --- main ----------------------------------------------------------------------

it_preflight() {
	local t missing=
	for t in iscsi-test-cu iscsi-inq iscsi-ls python3 ss timeout; do
		command -v "$t" >/dev/null || missing="$missing $t"
	done
	[ "$TARGET" = tgt ] && for t in tgtd tgtadm; do command -v "$t" >/dev/null || missing="$missing $t"; done
	if [ -n "$missing" ]; then
		it_fail preflight "missing tools:$missing (run scripts/deps.sh)"
		return 1
	fi
	if [ "$TARGET" = ctgt ] && [ ! -x "$ctgtd" ]; then
		it_fail preflight "no ctgtd at $ctgtd (build first)"
		return 1
	fi
	for t in "$PORT1" "$PORT2" "$PR_PORT1" "$PR_PORT2"; do
		if it_port_listening "$t"; then
			it_fail preflight "port $t is already in use by another process (set CTGT_TEST_PORT)"
			return 1
		fi
	done
	it_pass preflight "$TARGET, ports $PORT1/$PORT2${CTGT_IT_IN_NETNS:+ in a private network namespace}, work folder $work"
}

it_main() {
	local t0=$SECONDS
	echo "=== integration tests: $TARGET${ONLY:+ (only $ONLY)} ==="
	it_preflight || return
	if [ "$TARGET" = tgt ]; then
		it_tgt_start || return
		it_cu
		it_badpdu
		it_load
		# tgtd ignores SIGTERM while it has targets: not under test here.
		kill -KILL "$daemon_pid" 2>/dev/null
		wait "$daemon_pid" 2>/dev/null
		daemon_pid=
		return
	fi
	it_write_config "$work/ctgt.json"
	it_bad_configs
	echo "--- ctgtd -c (two portal groups, three LUNs) ---"
	it_daemon_start daemon.start "$work/ctgtd.log" -c "$work/ctgt.json" || return
	if it_wait_line "$work/ctgtd.log.stdout" "serving $IQN .*127.0.0.1:$PORT1"; then
		it_pass daemon.announce "$(grep -m1 "serving $IQN" "$work/ctgtd.log.stdout" | cut -c1-140)"
	else
		it_fail daemon.announce "no 'serving $IQN on 127.0.0.1:$PORT1...' line on its stdout"
		it_log_tail "$work/ctgtd.log.stdout" 10
	fi
	it_port_in_use
	it_step=daemon.port_in_use
	it_ports
	it_step=discovery
	it_access
	it_step=access
	it_cu
	it_badpdu
	it_load
	echo "--- shutdown ---"
	it_daemon_check && it_daemon_stop daemon.sigterm_exit_0
	it_pr single pr
	it_pr cluster prc
	it_smoke
	it_control
	echo "(integration tests took $((SECONDS - t0))s)"
}

it_main
[ -n "${CTGT_TEST_KEEP:-}" ] && echo "(logs and configs kept in $work)"
if [ "${#failed_names[@]}" -gt 0 ]; then
	echo "failed ($TARGET): ${failed_names[*]}" | fmt -w 100
fi
if [ "${#nowpassing[@]}" -gt 0 ]; then
	echo "now passing, remove from tests/integration/known-failing.txt: ${nowpassing[*]}"
fi
echo "$npass passed, $nfail failed, $nskip skipped"
[ "$nfail" = 0 ]
