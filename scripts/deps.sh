#!/usr/bin/env bash
# Installs the Debian 12 packages ctgt needs to build, test and benchmark,
# and only those that are missing. Idempotent, quiet when there is nothing
# to do; `apt-get update` runs only when something must be installed. Run
# as root (or with sudo available) on Debian 12.
#
#   bash scripts/deps.sh
set -euo pipefail

pkgs=(
	# build
	build-essential pkg-config meson ninja-build
	liburing-dev libjson-c-dev libssl-dev
	# unit tests, sanitizers, fuzzing
	libcmocka-dev clang libclang-rt-14-dev
	# integration tests: libiscsi's initiator tools (iscsi-test-cu,
	# iscsi-inq, iscsi-ls, iscsi-perf), the tgt reference target, python3 for
	# the malformed-PDU tests, ss (iproute2), timeout (coreutils), pgrep/ps
	libiscsi-dev libiscsi-bin tgt python3 iproute2 procps coreutils
	# benchmarks
	iperf3
	# cluster: corosync (run by scripts/cluster.sh, one per network
	# namespace; never as a system service) and the client libraries the
	# corosync backend of src/cluster links against
	corosync libcpg-dev libquorum-dev libvotequorum-dev libcmap-dev
	libcorosync-common-dev
)

missing=()
for p in "${pkgs[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$status" = installed ] || missing+=("$p")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

sudo=
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "deps.sh: missing ${missing[*]}; run as root" >&2; exit 1; }
	sudo=sudo
fi
echo "deps.sh: installing ${missing[*]}"

# Installing tgt (and iperf3) would start their services, and a system tgtd
# listens on *:3260 -- the port the tests use. A policy-rc.d that forbids
# starting services keeps the package scripts from doing so (honoured by
# invoke-rc.d and deb-systemd-invoke); ours is removed afterwards.
policy=/usr/sbin/policy-rc.d
own_policy=
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\n# ctgt scripts/deps.sh: no service starts during install\nexit 101\n' |
		$sudo tee "$policy" >/dev/null
	$sudo chmod 755 "$policy"
	own_policy=1
fi
deps_cleanup() { [ -z "$own_policy" ] || $sudo rm -f "$policy"; }
trap deps_cleanup EXIT

log=$(mktemp /tmp/ctgt-deps.XXXXXX)
if ! { $sudo apt-get update -qq &&
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
		"${missing[@]}"; } >"$log" 2>&1; then
	tail -n 30 "$log" >&2
	echo "deps.sh: apt-get failed (full log: $log)" >&2
	exit 1
fi
rm -f "$log"

# Belt and braces: a tgt service that was started anyway, or is enabled for
# the next boot, is stopped and disabled (the tests start their own tgtd).
if [[ " ${missing[*]} " == *" tgt "* ]] && [ -d /run/systemd/system ]; then
	$sudo systemctl disable --now tgt.service >/dev/null 2>&1 || true
fi
# Same for corosync: the package enables a system corosync (with a sample
# corosync.conf on 127.0.0.1). scripts/cluster.sh runs one corosync per
# network namespace with its own configuration; one in the root namespace
# would only be in the way. Only right after installing it: then none of the
# harness's corosyncs can be running yet.
if [[ " ${missing[*]} " == *" corosync "* ]]; then
	if [ -d /run/systemd/system ]; then
		$sudo systemctl disable --now corosync.service >/dev/null 2>&1 || true
	else
		$sudo update-rc.d corosync disable >/dev/null 2>&1 || true
		if [ -s /run/corosync.pid ] && kill -0 "$(cat /run/corosync.pid)" 2>/dev/null; then
			$sudo kill "$(cat /run/corosync.pid)" 2>/dev/null || true
		fi
	fi
fi
echo "deps.sh: done"
