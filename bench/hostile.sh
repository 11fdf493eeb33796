#!/usr/bin/env bash
# bench/hostile.sh — time and peak memory of wscap on the hostile captures
# of the issue "Hostile input, round two", at full size (the tests run
# them smaller, and assert only what they print and the Go heap).
#
#   bench/hostile.sh
#
# Needs the Go toolchain and /usr/bin/time (Debian package "time").
# Captures are generated deterministically into bench/out/hostile/ (not
# committed). Each line: case, command, seconds, peak RSS, output bytes.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out/hostile
mkdir -p "$OUT"
command -v /usr/bin/time >/dev/null || { echo "bench: needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
go build -o "$OUT/wscap" ./cmd/wscap
go build -o "$OUT/gen" ./bench/hostile

gen() { # NAME CASE N
  [ -s "$OUT/$1" ] || "$OUT/gen" -case "$2" -n "$3" -o "$OUT/$1"
}
gen synflood.pcap synflood 500000
gen reversed.pcap reversed 200000
gen shuffled.pcap shuffled 200000
gen bomb.pcap bomb 2000
gen zeros.pcap.gz zeros 1024
gen idbs.pcapng idbs 1000000

# run NAME ARGS...: one run of wscap; prints its time, peak RSS and output size.
run() {
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$OUT/.t" "$OUT/wscap" "$@" >"$OUT/.out" 2>"$OUT/.err" || true
  read -r secs kib < <(tail -n 1 "$OUT/.t")
  printf '%-9s %-52s %6ss %7.1f MiB %10s bytes  %s\n' "$name" "${*/$OUT\//}" "$secs" "$(awk "BEGIN{print $kib/1024}")" \
    "$(stat -c %s "$OUT/.out")" "$(head -c 90 "$OUT/.err" | tr '\n' ' ')"
}
run synflood stats "$OUT/synflood.pcap"
run synflood read --format jsonl "$OUT/synflood.pcap"
run reversed read --format jsonl "$OUT/reversed.pcap"
run reversed read --format jsonl --max-buffered 64MiB "$OUT/reversed.pcap"
run shuffled read --format jsonl --max-buffered 64MiB "$OUT/shuffled.pcap"
run bomb follow --conn 2 "$OUT/bomb.pcap"
run bomb read --format jsonl "$OUT/bomb.pcap"
run bomb stats "$OUT/bomb.pcap"
run zeros stats "$OUT/zeros.pcap.gz"
run idbs stats "$OUT/idbs.pcapng"
