#!/usr/bin/env bash
# One SCSI device across the cluster (issue 5): three ctgtd nodes on real
# corosync (scripts/cluster.sh) export the same LU, a file every node
# opens (O_DIRECT), with "cluster_impl": "cluster".
#
#   bash tests/integration/cluster_device.sh [BUILD_DIR]   (default: build)
#
#        initiator A ----> node 1 (RTPI 1, group 1) --+
#        initiator B ----> node 2 (RTPI 2, group 2) --+-- shared.img, LU 0
#                          node 3 (RTPI 3, group 3) --+   (one device)
#
# In this order: up 3; ctgtd spawned on every node; all ready;
#   dev.cu        libiscsi's iscsi-test-cu --test=ALL --dataloss with its
#                 two URLs on two DIFFERENT nodes (node 1 and node 2): the
#                 PersistentReserve, Reserve6 and MultipathIO suites then
#                 run across the cluster. Every test must pass or skip for
#                 a reason in allowed-skips.txt (kind "cluster");
#   dev.scenario.* the scenarios of cluster_pr (tests/integration/
#                 cluster_pr.c) across the three nodes, when it is built;
#   dev.identity  node 3 restarted with a 64 MiB file for the same LU
#                 refuses the cluster's device state, says which LU
#                 differs and serves nothing; then it comes back;
#   dev.stop      ctgtd stops cleanly on every node (exit 0, no sanitizer
#                 report); down.
#
# Every check prints "PASS name", "FAIL name: reason" or "SKIP name:
# reason"; the last line is "N passed, N failed, N skipped". Exit status 1
# if anything failed. Everything SKIPs, with the reason, when root, the
# harness, corosync, iscsi-test-cu or a ctgtd with the corosync backend is
# missing (never a silent pass).
#
# Its own cluster instance (CTGT_CLUSTER_ID=ctgtdv, subnet 10.77.43 unless
# set). Root only. Environment as tests/integration/cluster.sh.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
harness=$root/scripts/cluster.sh

build=${1:-build}
[ -d "$build" ] || [ ! -d "$root/$build" ] || build=$root/$build
build=$(cd "$build" 2>/dev/null && pwd || echo "$build")
ctgtd=$build/src/daemon/ctgtd
adm=$build/tools/ctgtadm
scenarios=$build/tests/integration/cluster_pr

export CTGT_CLUSTER_ID=${CTGT_CLUSTER_ID:-ctgtdv}
export CTGT_CLUSTER_SUBNET=${CTGT_CLUSTER_SUBNET:-10.77.43}
IQN=iqn.2026-11.org.ctgt:cluster-device
INI1=iqn.2026-11.org.ctgt:init-a
INI2=iqn.2026-11.org.ctgt:init-b
N=3
CU_TIMEOUT=${CTGT_TEST_CU_TIMEOUT:-900}

# On the disk, not tmpfs: the clustered LU opens its file with O_DIRECT.
work=$(mktemp -d /var/tmp/ctgt-device-it.XXXXXX)

# shellcheck source=tests/integration/cluster_lib.sh
. "$here/cluster_lib.sh"

it_skip_all() {
	local t
	for t in dev.up dev.ctgtd.start dev.view dev.cu dev.scenarios \
		dev.identity dev.stop; do
		it_skip "$t" "$1"
	done
}

url() { echo "iscsi://$(cl addr "$1"):3260/$IQN/0"; }

dev_up() {
	local out i
	if ! out=$(cl up "$N" 2>&1); then
		cluster_up=1   # partly: down cleans up
		it_fail dev.up "scripts/cluster.sh up $N: ${out//$'\n'/ | }"
		return 1
	fi
	cluster_up=1
	it_pass dev.up "$N nodes"
	truncate -s 128M "$work/shared.img"
	# 3 s, not the default 1 s: the scenarios that stop, kill or cut off
	# a node must see the others hold the LU (cluster_pr's fence_pass),
	# also when a loaded machine is slow to run them
	FENCE_MS=3000
	for i in $(seq "$N"); do
		cat >"$work/n$i.json" <<EOF
{
  "threads": 2,
  "node": { "port_group": $i, "state_dir": "$work/state$i" },
  "cluster": { "backend": "corosync", "group": "ctgt", "fence_delay_ms": $FENCE_MS },
  "targets": [ { "name": "$IQN",
    "portal_groups": [ { "tag": 1, "rtpi": $i, "portals": ["$(cl addr "$i"):3260"] } ],
    "luns": [ { "lun": 0, "cluster_impl": "cluster",
                "backstore": { "type": "file", "path": "$work/shared.img" } } ] } ]
}
EOF
	done
	ctgtd_spawn_all dev.ctgtd.start "one shared LU"
}

ctgtd_env() { :; }

dev_view() {
	views_wait dev.view "view [0-9]+: quorate, ready \\| members \\(3\\)"
}

# iscsi-test-cu with its two URLs on nodes 1 and 2, from node 1's
# namespace; verdicts through cuparse.py and allowed-skips.txt.
dev_cu() {
	local log=$work/cu.log list=$work/cu-expected.txt res=$work/cu-results.txt
	local name verdict reason pass=0 fail=0 skip=0 bad=
	iscsi-test-cu -l 2>/dev/null | grep -E '^ALL\.[^.]+\.[^.]+$' >"$list"
	timeout -k 5 "$CU_TIMEOUT" bash "$harness" exec 1 -- iscsi-test-cu \
		--dataloss --test=ALL -i "$INI1" -I "$INI2" "$(url 1)" "$(url 2)" \
		>"$log" 2>&1
	python3 "$here/cuparse.py" "$log" "$list" >"$res"
	while IFS=$'\t' read -r verdict_name reason; do
		verdict=${verdict_name%% *}
		name=${verdict_name#* }
		case $verdict in
		PASS) pass=$((pass + 1)) ;;
		SKIP)
			if it_list_match "$here/allowed-skips.txt" "$name" cluster >/dev/null; then
				skip=$((skip + 1))
			else
				fail=$((fail + 1)); bad+=" $name (skipped: $reason)"
			fi ;;
		*) fail=$((fail + 1)); bad+=" $name${reason:+ ($reason)}" ;;
		esac
	done <"$res"
	if [ "$fail" = 0 ] && [ "$pass" -gt 0 ]; then
		it_pass dev.cu "iscsi-test-cu ALL through node 1 and node 2: $pass passed, $skip skipped (allowed), 0 failed"
	else
		it_fail dev.cu "$fail failed, $pass passed:${bad:0:1500}"
		it_log_tail "$log" 30
	fi
}

# The scenarios program prints its own PASS/FAIL/SKIP lines. It runs in
# node 1's namespaces; its node commands (sh -c CMD sh N, for node N) enter
# this script's namespaces first, where the harness works: kill/restart a
# whole node, stop/start ctgtd alone with the node's configuration.
dev_scenarios() {
	local out line h="nsenter -t $$ -n -m -- bash $harness"
	if [ ! -x "$scenarios" ]; then
		it_skip dev.scenarios "no $scenarios (libiscsi-dev missing at build time?)"
		return
	fi
	out=$(timeout -k 5 600 bash "$harness" exec 1 -- "$scenarios" \
		--harness "$harness" \
		--kill-cmd "$h kill \"\$1\"" --restart-cmd "$h restart \"\$1\"" \
		--stop-cmd "$h unspawn \"\$1\" ctgtd" \
		--partition-cmd "$h partition \"\$1\"" --heal-cmd "$h heal \"\$1\"" \
		--start-cmd "$h spawn \"\$1\" ctgtd -- $ctgtd -c $work/n\"\$1\".json" \
		"$(url 1)" "$(url 2)" "$(url 3)" 2>&1)
	while IFS= read -r line; do
		case $line in
		PASS\ *) it_pass "${line#PASS }" ;;
		FAIL\ *) name=${line#FAIL }; it_fail "${name%%:*}" "${name#*: }" ;;
		SKIP\ *) name=${line#SKIP }; it_skip "${name%%:*}" "${name#*: }" ;;
		*) echo "    | $line" ;;
		esac
	done <<<"$out"
}

# A node whose clustered LU differs from the cluster's (here: node 3 with
# a 64 MiB file for the same NAA) refuses the device state, says which LU
# differs, and never serves it (TEST UNIT READY through it: NOT READY);
# then its usual ctgtd comes back and serves.
dev_identity() {
	local log=$STATE/n3/ctgtd-odd.log deadline out
	if ! cl unspawn 3 ctgtd >/dev/null 2>&1; then
		it_fail dev.identity "scripts/cluster.sh unspawn 3 ctgtd failed"
		return
	fi
	truncate -s 64M "$work/odd.img"
	sed -e "s|$work/shared.img|$work/odd.img|" "$work/n3.json" >"$work/odd.json"
	cl spawn 3 ctgtd-odd -- "$ctgtd" -c "$work/odd.json" >/dev/null 2>&1
	deadline=$((SECONDS + 20))
	until grep -q "refused, not serving clustered LUs" "$log" 2>/dev/null ||
		[ "$SECONDS" -ge "$deadline" ]; do sleep 0.3; done
	out=$(timeout 20 bash "$harness" exec 3 -- python3 "$here/rtpg.py" \
		--host "$(cl addr 3)" --port 3260 --target "$IQN" --tur 2>&1)
	cl unspawn 3 ctgtd-odd >/dev/null 2>&1
	if ! grep -q "131072 blocks of 512 bytes here, 262144 of 512 in the cluster: refused" "$log" 2>/dev/null; then
		it_fail dev.identity "no refusal naming the LU's size in node 3's log"
		it_log_tail "$log" 15
	elif ! grep -q "CHECK 02/04/0C" <<<"$out"; then
		it_fail dev.identity "TEST UNIT READY through the refused node 3: $out (want CHECK 02/04/0C)"
	else
		it_pass dev.identity "node 3 with a 64 MiB LU for the same NAA refused it, said why, served nothing"
	fi
	if ! cl spawn 3 ctgtd -- "$ctgtd" -c "$work/n3.json" >/dev/null 2>&1 ||
		! wait_view 3 "view [0-9]+: quorate, ready \\| members \\(3\\)" 30; then
		it_fail dev.identity.back "node 3's usual ctgtd did not come back: $view_last"
	fi
}

dev_stop() {
	ctgtd_stop_all dev.stop
}

dev_main() {
	local t0=$SECONDS
	echo "=== one device across the cluster ($N nodes, instance $CTGT_CLUSTER_ID) ==="
	if ! command -v iscsi-test-cu >/dev/null; then
		it_skip_all "iscsi-test-cu missing (run scripts/deps.sh)"
		return
	fi
	it_preflight || return
	dev_up || return
	dev_view || return
	dev_cu
	dev_scenarios
	dev_identity
	dev_stop
	echo "(device tests took $((SECONDS - t0)) s)"
}

dev_main
it_summary
[ "$nfail" = 0 ]
