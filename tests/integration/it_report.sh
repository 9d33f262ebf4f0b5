# The result lines every integration script prints, and what they share
# to produce them; sourced by run.sh, cluster_harness.sh and cluster_lib.sh
# (cluster.sh, cluster_device.sh). The caller keeps the counters npass,
# nfail, nskip and the array failed_names; IT_LOG_LINES sets it_log_tail's
# default (20).

it_pass() { echo "PASS $1${2:+ ($2)}"; npass=$((npass + 1)); }
it_fail() { echo "FAIL $1: $2"; nfail=$((nfail + 1)); failed_names+=("$1"); }
it_skip() { echo "SKIP $1: $2"; nskip=$((nskip + 1)); }

it_log_tail() {   # FILE [LINES]: indented, so it never reads as a result line
	local n=${2:-${IT_LOG_LINES:-20}}
	[ -s "$1" ] || { echo "    (log $1 is empty)"; return; }
	echo "    --- last $n lines of $1 ---"
	tail -n "$n" "$1" | sed 's/^/    | /'
}

it_sanitizer_report() {   # LOG: 0 if ASan/UBSan/LSan reported something
	grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (Address|Undefined|Leak)Sanitizer' "$1" 2>/dev/null
}

# it_list_match FILE NAME KIND: prints the reason of the first line of FILE
# ("GLOB KINDS REASON...", allowed-skips.txt / known-failing.txt) whose
# glob matches NAME and whose kinds (comma list or *) include KIND; status
# 1 if none.
it_list_match() {
	local file=$1 name=$2 kind=$3 glob kinds reason
	while read -r glob kinds reason; do
		case $glob in ''|'#'*) continue ;; esac
		# shellcheck disable=SC2254
		case $name in $glob) ;; *) continue ;; esac
		case ",$kinds," in *",$kind,"*|*",*,"*) echo "$reason"; return 0 ;; esac
	done <"$file"
	return 1
}
