#!/usr/bin/env bash
# bench/run.sh — measure wscap against tshark and the bare packet-reading
# floor on two generated captures (see issue "Speed and memory").
#
#   bench/run.sh [RUNS]        (default 5 runs of each command, alternating)
#   TWICE=1 bench/run.sh       also the captures twice as long (peak memory)
#
# Needs the Go toolchain and /usr/bin/time (Debian package "time"); tshark
# is used when installed (apt-get install tshark) and skipped otherwise.
# Captures are generated deterministically into bench/out/ (not committed):
#   medium: 2,000 connections open at once x 32 messages up to 64 KiB
#           (medium-wss: the same carried in TLS 1.3, with its key log;
#            medium-h2c: each WebSocket in an HTTP/2 stream, RFC 8441)
#   many:   100,000 connections x 4 small messages, ~27,000 open at once
# Two floors are timed: bench/floor reading with ZeroCopyReadPacketData (the
# strictest: no allocation per packet) and with ReadPacketData ("floor
# -copy", a new slice per packet, what the performance issue measured).
# Before timing, wscap's output on each capture is checked against the
# generator's manifest (message counts and a digest of every plaintext);
# a mismatch stops the run.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
OUT=bench/out
mkdir -p "$OUT"
command -v /usr/bin/time >/dev/null || { echo "bench: needs /usr/bin/time (apt-get install time)" >&2; exit 2; }

go build -o "$OUT/wscap" ./cmd/wscap
go build -o "$OUT/wscapgen" ./cmd/wscapgen
go build -o "$OUT/floor" ./bench/floor
go build -o "$OUT/digest" ./bench/digest

for sc in medium many; do
  if [ ! -s "$OUT/$sc.pcap" ]; then
    "$OUT/wscapgen" -q --scenario "$sc" --seed 1 -o "$OUT/$sc.pcap"
  fi
  echo "== $sc: $(du -h "$OUT/$sc.pcap" | cut -f1), checking wscap against the manifest"
  "$OUT/wscap" read --format jsonl "$OUT/$sc.pcap" | "$OUT/digest" "$OUT/$sc.pcap.manifest.json"
done

TSHARK=$(command -v tshark || true)
# measure NAME CMD...: one run; appends "seconds maxrss_kib" to $OUT/NAME.times
measure() {
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$OUT/.t" "$@" >/dev/null 2>"$OUT/.err" || { cat "$OUT/.err" >&2; exit 1; }
  cat "$OUT/.t" >> "$OUT/$name.times"
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

for sc in medium many; do
  rm -f "$OUT/$sc".*.times
  cap="$OUT/$sc.pcap"
  for ((i = 0; i < RUNS; i++)); do
    measure "$sc.floor" "$OUT/floor" "$cap"
    measure "$sc.floorcopy" "$OUT/floor" -copy "$cap"
    measure "$sc.stats" "$OUT/wscap" stats "$cap"
    measure "$sc.jsonl" "$OUT/wscap" read --format jsonl "$cap"
    measure "$sc.jsonl1" "$OUT/wscap" read --workers 1 --format jsonl "$cap"
    if [ -n "$TSHARK" ] && [ "$i" -lt 3 ]; then
      measure "$sc.tshark" "$TSHARK" -r "$cap" -o tcp.reassemble_out_of_order:TRUE -Y websocket -T fields -e websocket.opcode
    fi
  done
done

echo
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "medians of $RUNS runs (tshark: 3), wall seconds and peak RSS:"
printf "%-8s %-22s %9s %10s %s\n" capture command seconds "RSS MiB" ratio
for sc in medium many; do
  f=$(cut -d' ' -f1 "$OUT/$sc.floor.times" | median)
  fc=$(cut -d' ' -f1 "$OUT/$sc.floorcopy.times" | median)
  t=""
  [ -s "$OUT/$sc.tshark.times" 2>/dev/null ] && t=$(cut -d' ' -f1 "$OUT/$sc.tshark.times" | median)
  for cmd in floor floorcopy stats jsonl jsonl1 tshark; do
    [ -s "$OUT/$sc.$cmd.times" ] || continue
    s=$(cut -d' ' -f1 "$OUT/$sc.$cmd.times" | median)
    m=$(cut -d' ' -f2 "$OUT/$sc.$cmd.times" | median)
    ratio=$(awk -v s="$s" -v f="$f" -v fc="$fc" 'BEGIN {printf "%.1fx floor, %.1fx copy-floor", s/f, s/fc}')
    [ -n "$t" ] && ratio="$ratio, $(awk -v s="$s" -v t="$t" 'BEGIN {printf "1/%.1f of tshark", t/s}')"
    name=$cmd
    case $cmd in
      floorcopy) name="floor -copy";;
      stats) name="wscap stats";;
      jsonl) name="wscap read jsonl";;
      jsonl1) name="wscap jsonl 1 worker";;
      tshark) name="tshark -T fields";;
    esac
    printf "%-8s %-22s %9s %10.0f %s\n" "$sc" "$name" "$s" "$(awk -v m="$m" 'BEGIN {print m/1024}')" "$ratio"
  done
done

# The new carriers against cleartext: medium as wss:// (TLS 1.3 records,
# the generator's key log) and as WebSocket over h2c (RFC 8441, one HTTP/2
# stream per connection), side by side with the cleartext medium, runs
# alternating. The issue's budget: at most 1.3x each.
[ -s "$OUT/medium-wss.pcap" ] || "$OUT/wscapgen" -q --scenario medium --seed 1 --tls -o "$OUT/medium-wss.pcap"
[ -s "$OUT/medium-h2c.pcap" ] || "$OUT/wscapgen" -q --scenario medium --seed 1 --h2 -o "$OUT/medium-h2c.pcap"
carrier_args() {
  case $1 in
    medium-wss) echo --keylog "$OUT/medium-wss.pcap.keys";;
  esac
}
echo
for c in medium-wss medium-h2c; do
  echo "== $c: $(du -h "$OUT/$c.pcap" | cut -f1), checking wscap against the manifest"
  # shellcheck disable=SC2046
  "$OUT/wscap" read --format jsonl $(carrier_args $c) "$OUT/$c.pcap" | "$OUT/digest" "$OUT/$c.pcap.manifest.json"
done
rm -f "$OUT"/medium-wss.*.times "$OUT"/medium-h2c.*.times "$OUT"/medium-clear.*.times
for ((i = 0; i < RUNS; i++)); do
  measure medium-clear.stats "$OUT/wscap" stats "$OUT/medium.pcap"
  for c in medium-wss medium-h2c; do
    # shellcheck disable=SC2046
    measure $c.stats "$OUT/wscap" stats $(carrier_args $c) "$OUT/$c.pcap"
  done
  measure medium-clear.jsonl "$OUT/wscap" read --format jsonl "$OUT/medium.pcap"
  for c in medium-wss medium-h2c; do
    # shellcheck disable=SC2046
    measure $c.jsonl "$OUT/wscap" read --format jsonl $(carrier_args $c) "$OUT/$c.pcap"
  done
done
for c in medium-wss medium-h2c; do
  for cmd in stats jsonl; do
    b=$(cut -d' ' -f1 "$OUT/medium-clear.$cmd.times" | median)
    w=$(cut -d' ' -f1 "$OUT/$c.$cmd.times" | median)
    m=$(cut -d' ' -f2 "$OUT/$c.$cmd.times" | median)
    printf "%-11s %-19s %9s %10.0f %s\n" $c "wscap $cmd" "$w" "$(awk -v m="$m" 'BEGIN {print m/1024}')" \
      "$(awk -v w="$w" -v c="$b" 'BEGIN {printf "%.2fx cleartext medium (%ss)", w/c, c}')"
  done
done

# TWICE=1: the same scenarios twice as long (medium: 64 messages per
# connection, the same 2,000 open at once; many: 200,000 connections at the
# same rate), to see whether peak memory depends on the capture's length.
if [ "${TWICE:-}" = 1 ]; then
  [ -s "$OUT/medium2x.pcap" ] || "$OUT/wscapgen" -q --scenario medium --seed 1 --messages 64 -o "$OUT/medium2x.pcap"
  [ -s "$OUT/many2x.pcap" ] || "$OUT/wscapgen" -q --scenario many --seed 1 --conns 200000 -o "$OUT/many2x.pcap"
  echo
  echo "twice as long, medians of $RUNS runs:"
  printf "%-10s %-22s %9s %10s\n" capture command seconds "RSS MiB"
  for sc in medium2x many2x; do
    rm -f "$OUT/$sc".*.times
    for ((i = 0; i < RUNS; i++)); do
      measure "$sc.stats" "$OUT/wscap" stats "$OUT/$sc.pcap"
      measure "$sc.jsonl" "$OUT/wscap" read --format jsonl "$OUT/$sc.pcap"
    done
    for cmd in stats jsonl; do
      s=$(cut -d' ' -f1 "$OUT/$sc.$cmd.times" | median)
      m=$(cut -d' ' -f2 "$OUT/$sc.$cmd.times" | median)
      printf "%-10s %-22s %9s %10.0f\n" "$sc" "wscap $cmd" "$s" "$(awk -v m="$m" 'BEGIN {print m/1024}')"
    done
  done
fi
