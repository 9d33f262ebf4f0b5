#!/usr/bin/env bash
# scripts/cluster-demo.sh: three ctgtd nodes on this machine exporting ONE
# shared LU as one SCSI device (docs/cluster-device.md), to try persistent
# reservations across nodes with ctgt-pr (tools/ctgt-pr.c).
#
#   bash scripts/cluster-demo.sh up       scripts/cluster.sh up 3, a shared
#                                         file, ctgtd on every node; returns
#                                         when every node is ready, prints the
#                                         URLs and example commands
#   bash scripts/cluster-demo.sh pr NODE HOST COMMAND [ARGS]
#                                         ctgt-pr against node NODE's URL, from
#                                         inside the node's namespace, as
#                                         initiator iqn.2026-11.org.ctgt:HOST
#                                         (COMMAND as ctgt-pr's: register
#                                         0xa1, reserve 0xa1 we, write 0, ...)
#   bash scripts/cluster-demo.sh status   the nodes and every ctgtd's view
#   bash scripts/cluster-demo.sh down     stops ctgtd and the cluster, removes
#                                         the work files (idempotent)
#
#        host-a --> node 1  10.77.50.11  RTPI 1, port group 1 --+
#        host-b --> node 2  10.77.50.12  RTPI 2, port group 2 --+-- LU 0: one
#                   node 3  10.77.50.13  RTPI 3, port group 3 --+   shared file
#
# Binaries come from build/ (or $CTGT_DEMO_BUILD); when ctgtd, ctgtadm or
# ctgt-pr is missing there, `up` builds them: `make build` (which runs
# scripts/deps.sh) for build/, ninja for another folder. Its own cluster
# instance: CTGT_CLUSTER_ID=demo, subnet 10.77.50 (both can be set). The
# shared file and the node configurations live in /var/tmp/ctgt-demo (on
# disk, not tmpfs: the clustered LU opens its file with O_DIRECT).
# Root only.
set -euo pipefail

root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
harness=$root/scripts/cluster.sh
build=${CTGT_DEMO_BUILD:-$root/build}
[[ $build == /* ]] || build=$root/$build
ctgtd=$build/src/daemon/ctgtd
adm=$build/tools/ctgtadm
pr=$build/tools/ctgt-pr

export CTGT_CLUSTER_ID=${CTGT_CLUSTER_ID:-demo}
export CTGT_CLUSTER_SUBNET=${CTGT_CLUSTER_SUBNET:-10.77.50}
work=${CTGT_DEMO_DIR:-/var/tmp/ctgt-demo}
IQN=iqn.2026-11.org.ctgt:demo
HOST_PREFIX=iqn.2026-11.org.ctgt:
N=3
READY_TIMEOUT=60

die() { echo "cluster-demo.sh: $*" >&2; exit 1; }
say() { echo "cluster-demo.sh: $*" >&2; }

cl() { bash "$harness" "$@"; }

url() { echo "iscsi://$(cl addr "$1"):3260/$IQN/0"; }

# view NODE: ctgtd's view on NODE, its lines joined with " | "
view() { timeout 10 bash "$harness" exec "$1" -- "$adm" view 2>&1 | paste -sd'|' - | sed 's/|/ | /g'; }

node_ready() { view "$1" | grep -qE 'view [0-9]+: quorate, ready \| members \(3\)'; }

# demo_state: up (cluster and every ctgtd ready), down (nothing of ours),
# or partial
demo_state() {
	local i
	eval "$(cl info)"
	if [ "$CLUSTER_UP" = no ]; then
		[ -e "$work" ] && echo partial || echo down
		return
	fi
	for i in $(seq "$N"); do
		node_ready "$i" || { echo partial; return; }
	done
	echo up
}

build_if_needed() {
	[ -x "$ctgtd" ] && [ -x "$adm" ] && [ -x "$pr" ] && return 0
	say "building (ctgtd, ctgtadm or ctgt-pr missing in $build)"
	if [ "$build" = "$root/build" ]; then
		make -C "$root" build
	else
		bash "$root/scripts/deps.sh"
		[ -f "$build/build.ninja" ] || meson setup "$build" "$root"
		ninja -C "$build"
	fi
	[ -x "$pr" ] || die "no $pr after the build (libiscsi-dev missing at meson setup?)"
	if [ "$(readelf -d "$ctgtd" 2>/dev/null | grep -c 'NEEDED.*libcpg')" = 0 ]; then
		die "$ctgtd has no corosync backend (libcpg-dev missing at meson setup?): rebuild it"
	fi
}

write_config() {   # NODE: the node's ctgtd configuration on stdout
	cat <<EOF
{
  "threads": 2,
  "node": { "port_group": $1, "state_dir": "$work/state$1" },
  "cluster": { "backend": "corosync", "group": "ctgt" },
  "targets": [ { "name": "$IQN",
    "portal_groups": [ { "tag": 1, "rtpi": $1, "portals": ["$(cl addr "$1"):3260"] } ],
    "luns": [ { "lun": 0, "cluster_impl": "cluster",
                "backstore": { "type": "file", "path": "$work/shared.img" } } ] } ]
}
EOF
}

print_usage_hint() {
	local i me="bash scripts/cluster-demo.sh"
	echo
	echo "One LU, three nodes (target $IQN, LUN 0):"
	for i in $(seq "$N"); do
		echo "  node $i: $(url "$i")"
	done
	cat <<EOF

The addresses live on the harness bridge: run initiators inside a node
(\`pr\` does that; HOST names the initiator iqn.2026-11.org.ctgt:HOST):
  $me pr 1 host-a register 0xa1
  $me pr 1 host-a reserve 0xa1 we               # Write Exclusive
  $me pr 2 host-b register --all-tg-pt 0xb2
  $me pr 2 host-b write 0                       # RESERVATION CONFLICT
  $me pr 3 host-c read-full-status
  $me pr 3 host-b preempt 0xb2 0xa1 we          # fence host-a
  $me pr 1 host-a write 0                       # RESERVATION CONFLICT
Or by hand: CTGT_CLUSTER_ID=$CTGT_CLUSTER_ID bash scripts/cluster.sh exec 1 -- \\
  ${pr#"$root"/} -i ${HOST_PREFIX}host-a $(url 1) read-keys
Stop: $me down
EOF
}

cmd_down() {
	cl down >/dev/null
	rm -rf "$work"
	say "down: the cluster ($CTGT_CLUSTER_ID) and $work are gone"
}

# up_exit: whatever failed during `up` (set -e), nothing stays running
up_exit() {
	[ -z "$up_done" ] || return 0
	cl down --keep-logs >/dev/null 2>&1 || say "teardown failed too: run $0 down"
	rm -rf "$work"
	say "up failed: taken down again; node logs kept in $CLUSTER_STATE/n*/ until the next up or down"
}

cmd_up() {
	local i st deadline
	[ "$(id -u)" = 0 ] || die "must run as root (namespaces, bridge)"
	st=$(demo_state)
	if [ "$st" = up ]; then
		say "already up"
		print_usage_hint
		return 0
	fi
	if [ "$st" = partial ]; then
		say "a previous demo is partly up: taking it down first"
		cmd_down
	fi
	build_if_needed
	eval "$(cl info)"
	up_done=
	trap up_exit EXIT
	cl up "$N"
	mkdir -p "$work"
	truncate -s 64M "$work/shared.img"
	for i in $(seq "$N"); do
		write_config "$i" >"$work/node$i.json"
		cl spawn "$i" ctgtd -- "$ctgtd" -c "$work/node$i.json"
	done
	deadline=$((SECONDS + READY_TIMEOUT))
	for i in $(seq "$N"); do
		until node_ready "$i"; do
			[ "$SECONDS" -lt "$deadline" ] ||
				die "node $i is not ready after ${READY_TIMEOUT}s: $(view "$i")"
			sleep 0.3
		done
		echo "node $i: $(view "$i")"
	done
	up_done=1
	print_usage_hint
}

cmd_status() {
	local i
	if [ "$(demo_state)" = down ]; then
		echo "the demo is down"
		return 0
	fi
	cl status || true
	for i in $(seq "$N"); do
		echo "node $i ctgtd: $(view "$i")"
	done
}

cmd_pr() {
	local node=${1:-} host=${2:-}
	[ $# -ge 3 ] || die "usage: pr NODE HOST COMMAND [ARGS] (e.g. pr 1 host-a read-keys)"
	[[ $node =~ ^[1-3]$ ]] || die "pr: NODE is 1, 2 or 3 (got '$node')"
	[[ $host =~ ^[a-z0-9][a-z0-9.-]*$ ]] || die "pr: HOST is a short name like host-a (got '$host')"
	shift 2
	eval "$(cl info)"
	[ "$CLUSTER_UP" = yes ] || die "the demo is not up: bash scripts/cluster-demo.sh up"
	cl exec "$node" -- "$pr" -i "$HOST_PREFIX$host" "$(url "$node")" "$@"
}

case ${1:-} in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
pr) shift; cmd_pr "$@" ;;
*) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 1 ;;
esac
