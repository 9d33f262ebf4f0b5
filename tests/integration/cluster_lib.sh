# Shared by the cluster integration scripts (cluster.sh, cluster_device.sh):
# result lines, log tails, sanitizer check, cleanup and summary, and the
# harness / ctgtadm helpers, the preflight. Source it after setting:
# harness (path of scripts/cluster.sh), ctgtd and adm (paths of the
# binaries), build, work (the work folder); it_skip_all must be defined
# by the script (its own list of checks);
# it defines npass, nfail, nskip, cluster_up, failed_names, STATE and
# installs the EXIT trap (it_cleanup).

npass=0 nfail=0 nskip=0
cluster_up=
failed_names=()
STATE=

# shellcheck source=tests/integration/it_report.sh
. "$here/it_report.sh"

it_cleanup() {
	local j
	for j in $(jobs -p); do kill "$j" 2>/dev/null; done
	if [ -n "$cluster_up" ]; then
		if [ -n "${CTGT_TEST_KEEP:-}" ]; then
			bash "$harness" down --keep-logs >/dev/null 2>&1
			echo "    (node logs kept in $STATE/n*/, work folder $work)"
		else
			bash "$harness" down >/dev/null 2>&1 || echo "    (cleanup: scripts/cluster.sh down failed)"
		fi
	fi
	[ -n "${CTGT_TEST_KEEP:-}" ] || rm -rf "$work"
}
trap it_cleanup EXIT
trap 'exit 130' INT TERM

it_summary() {
	if [ "${#failed_names[@]}" -gt 0 ]; then
		echo "failed: ${failed_names[*]}" | fmt -w 100
	fi
	echo "$npass passed, $nfail failed, $nskip skipped"
}

# --- helpers -------------------------------------------------------------------

cl() { bash "$harness" "$@"; }

# adm NODE ARGS...: ctgtadm on NODE (its ctgtd's default socket, in the
# node's private /run)
adm() {
	local node=$1; shift
	timeout 60 bash "$harness" exec "$node" -- "$adm" "$@"
}

# view_is NODE REGEX: ctgtadm view on NODE matches (one line: the two
# lines of the view joined with " | ")
view_get() { adm "$1" view 2>&1 | paste -sd'|' - | sed 's/|/ | /g'; }

# wait_view NODE REGEX TIMEOUT: 0 once NODE's view matches; the last view
# in $view_last
wait_view() {
	local deadline=$((SECONDS + $3))
	while :; do
		view_last=$(view_get "$1")
		grep -qE -- "$2" <<<"$view_last" && return 0
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.3
	done
}

node_log() { echo "$STATE/n$1/ctgtd.log"; }

# ctgtd_spawn_all NAME [DETAIL]: ctgtd on nodes 1..N, each with
# $work/n<i>.json, through `env` and what the script's ctgtd_env I prints
# (assignments for node I; may print nothing). One result line.
ctgtd_spawn_all() {
	local name=$1 i out
	for i in $(seq "$N"); do
		# shellcheck disable=SC2046  # word-split the assignments
		if ! out=$(cl spawn "$i" ctgtd -- env $(ctgtd_env "$i") "$ctgtd" \
			-c "$work/n$i.json" 2>&1); then
			it_fail "$name" "node $i: ${out//$'\n'/ | }"
			it_log_tail "$(node_log "$i")"
			return 1
		fi
	done
	it_pass "$name" "ctgtd spawned on nodes 1-$N${2:+, $2}"
}

# ctgtd_stop_all NAME: SIGTERM to ctgtd on every node; each must log a
# clean stop and no sanitizer report. One result line; then the cluster
# goes down.
ctgtd_stop_all() {
	local name=$1 i bad= st
	for i in $(seq "$N"); do
		st=$(cl unspawn "$i" ctgtd 2>&1) || bad+=" node $i: unspawn failed ($st);"
		if it_sanitizer_report "$(node_log "$i")"; then
			bad+=" node $i: sanitizer report;"
			it_log_tail "$(node_log "$i")" 40
		elif ! grep -q 'INFO stopped' "$(node_log "$i")"; then
			bad+=" node $i: no clean stop in the log;"
			it_log_tail "$(node_log "$i")" 10
		fi
	done
	if [ -z "$bad" ]; then
		it_pass "$name" "SIGTERM: ctgtd stopped cleanly on every node"
	else
		it_fail "$name" "$bad"
	fi
	cl down >/dev/null 2>&1 && cluster_up=
}

# views_wait NAME REGEX: every node's view (ctgtadm view) matches REGEX
# within 30 s, "@" in REGEX standing for the node's number. One result
# line.
views_wait() {
	local name=$1 i bad=
	for i in $(seq "$N"); do
		wait_view "$i" "${2//@/$i}" 30 || bad+="node $i: $view_last; "
	done
	if [ -n "$bad" ]; then
		it_fail "$name" "$bad"
		for i in $(seq "$N"); do it_log_tail "$(node_log "$i")" 10; done
		return 1
	fi
	it_pass "$name" "every node: $N members, quorate, ready"
}

# json_field JSON KEY: a scalar field of one JSON line (ctgtadm --json)
json_field() {
	python3 -c 'import json,sys; v=json.loads(sys.argv[1]).get(sys.argv[2]); print("" if v is None else v)' "$1" "$2" 2>/dev/null
}

it_preflight() {
	local t missing=
	if [ "$(id -u)" != 0 ]; then
		it_skip_all "needs root (network namespaces)"
		return 1
	fi
	if [ ! -f "$harness" ]; then
		it_skip_all "scripts/cluster.sh (the local cluster harness) is not in the tree"
		return 1
	fi
	for t in corosync corosync-quorumtool nsenter unshare ip python3 timeout; do
		command -v "$t" >/dev/null || missing="$missing $t"
	done
	if [ -n "$missing" ]; then
		it_skip_all "missing tools:$missing (run scripts/deps.sh)"
		return 1
	fi
	if [ ! -x "$ctgtd" ] || [ ! -x "$adm" ]; then
		it_skip_all "no ctgtd/ctgtadm in $build (build first)"
		return 1
	fi
	# The corosync backend is compiled in only with the corosync client
	# libraries; without it the binary does not need libcpg. Read from the
	# ELF dynamic section (nothing runs: an ldd of the ASan build once
	# came back empty in a CI run). Under CI, where scripts/deps.sh
	# installed corosync, a build without it is a failure, not a skip.
	if [ "$(readelf -d "$ctgtd" 2>/dev/null | grep -c 'NEEDED.*libcpg')" = 0 ]; then
		if [ "${CI:-}" = true ]; then
			it_fail cluster.preflight "$ctgtd was built without the corosync backend (libcpg-dev missing at build time?)"
		fi
		it_skip_all "$ctgtd was built without the corosync backend (libcpg-dev etc. missing at build time)"
		return 1
	fi
	eval "$(cl info)" || { it_skip_all "scripts/cluster.sh info failed"; return 1; }
	STATE=$CLUSTER_STATE
	if [ "$CLUSTER_UP" != no ]; then
		it_fail cluster.preflight "cluster instance $CTGT_CLUSTER_ID is already up ($STATE): not touching it (scripts/cluster.sh down with CTGT_CLUSTER_ID=$CTGT_CLUSTER_ID)"
		return 1
	fi
	return 0
}
