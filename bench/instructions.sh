#!/bin/sh
# Instructions per query, in-process, per mix: valgrind counts the instructions of bench/micro.js answering
# N and then 2N queries after the same warm-up; the difference divided by N is the cost of one query. Unlike
# time, it does not move when other tenants of the host are busy. Needs valgrind; run after `npm run build`.
#   sh bench/instructions.sh [N] [mix …]
#   MICRO_ARGS="--guard rrl-cookies" sh bench/instructions.sh     (rate limiting and cookies on: see bench/micro.js)
# The *-do mixes are DNSSEC (DO=1, the zone signed); nxdomain-miss-do (a new name per query: one signature each)
# is not in the default list: run it with a small N, e.g. sh bench/instructions.sh 500 nxdomain-miss-do
set -eu
cd "$(dirname "$0")/.."
N=${1:-100000}
[ $# -gt 0 ] && shift
MIXES=${*:-static nxdomain edns-ecs lb-failover lb-geo-ecs lb-proximity lb-rules static-do lb-geo-ecs-do nxdomain-do}
command -v valgrind >/dev/null || { echo "instructions.sh: valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }
irefs() {
  valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null node --predictable --expose-gc --no-memory-reducer bench/micro.js --count "$2" --mix "$1" ${MICRO_ARGS:-} 2>&1 >/dev/null \
    | sed -n 's/.*I *refs: *//p' | tr -d ,
}
for mix in $MIXES; do
  a=$(irefs "$mix" "$N")
  b=$(irefs "$mix" $((2 * N)))
  echo "$mix $(( (b - a) / N ))" | awk '{ printf "%-14s %6d instructions/query\n", $1, $2 }'
done
