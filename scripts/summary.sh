#!/usr/bin/env bash
# Adds up the "N passed, N failed, N skipped" lines of several logs into one
# such line.
#
#   bash scripts/summary.sh FILE...
#
# Every matching line of every file counts (a log holding one summary line
# per part adds up correctly; do not pass a file that already holds their
# total). A file that is missing, unreadable or has no such line counts as
# one failure, so a part that died before printing its summary cannot pass
# unnoticed. Exit status 0 when the total has no failure, 1 otherwise.
set -uo pipefail

if [ "$#" -eq 0 ]; then
	echo "usage: $0 FILE..." >&2
	exit 2
fi

pass=0 fail=0 skip=0
for f in "$@"; do
	sums=$(grep -hoE '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$f" 2>/dev/null)
	if [ -z "$sums" ]; then
		echo "summary: no 'N passed, N failed, N skipped' line in $f: counted as 1 failure" >&2
		fail=$((fail + 1))
		continue
	fi
	while read -r p _ fl _ s _; do
		pass=$((pass + p)) fail=$((fail + fl)) skip=$((skip + s))
	done <<<"$sums"
done
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
