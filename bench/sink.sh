#!/usr/bin/env bash
# bench/sink.sh — the ClickHouse sink's cost (issue "Beyond one machine",
# item 6): `wscap read --format jsonl` on the benchmark's medium capture with
# and without `--sink clickhouse=...`, against a clickhouse-server this script
# starts on loopback (Debian's package), side by side, alternating.
#
#   bench/sink.sh [RUNS] [SINK-PARAMS]   (default 7 runs; SINK-PARAMS are
#                                          added to the sink URL, e.g. batch=4MiB)
#
# Prints the medians of wall time and wscap's CPU, the ratio, and the
# server's CPU per run (from /proc, over the run and the second after it).
# Each run with the sink writes into tables emptied before it (TRUNCATE).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-7}
EXTRA=${2:-}
OUT=bench/out
mkdir -p "$OUT"
SERVER=$(command -v clickhouse-server || true)
CLIENT=$(command -v clickhouse-client || true)
[ -n "$SERVER" ] && [ -n "$CLIENT" ] || { echo "bench/sink.sh: needs clickhouse-server and clickhouse-client (apt-get install clickhouse-server clickhouse-client)" >&2; exit 2; }
command -v /usr/bin/time >/dev/null || { echo "bench/sink.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
# WSCAP=path times that binary instead of one built from this tree.
WSCAP=${WSCAP:-$OUT/wscap}
[ "$WSCAP" != "$OUT/wscap" ] || go build -o "$OUT/wscap" ./cmd/wscap
go build -o "$OUT/wscapgen" ./cmd/wscapgen
cap="$OUT/medium.pcap"
[ -s "$cap" ] || "$OUT/wscapgen" -q --scenario medium --seed 1 -o "$cap"

dir=$(mktemp -d)
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HTTP=$(port); TCP=$(port)
cat > "$dir/users.xml" <<XML
<yandex><profiles><default/></profiles>
<users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
<quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas></yandex>
XML
cat > "$dir/config.xml" <<XML
<yandex>
<logger><level>warning</level><log>$dir/server.log</log><errorlog>$dir/error.log</errorlog><console>0</console></logger>
<http_port>$HTTP</http_port><tcp_port>$TCP</tcp_port><listen_host>127.0.0.1</listen_host>
<path>$dir/data/</path><tmp_path>$dir/tmp/</tmp_path><user_files_path>$dir/files/</user_files_path><format_schema_path>$dir/schemas/</format_schema_path>
<users_config>$dir/users.xml</users_config><default_profile>default</default_profile><default_database>default</default_database>
<mark_cache_size>67108864</mark_cache_size><uncompressed_cache_size>67108864</uncompressed_cache_size>
<remote_servers><wscap><shard><replica><host>127.0.0.1</host><port>$TCP</port></replica></shard></wscap></remote_servers>
</yandex>
XML
"$SERVER" --config-file="$dir/config.xml" >/dev/null 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$HTTP/ping" >/dev/null 2>&1 && break
  sleep 0.2
done
grep -v '^ *--' docs/clickhouse.sql | "$CLIENT" --port "$TCP" --multiquery
URL="clickhouse=http://127.0.0.1:$HTTP/wscap${EXTRA:+?$EXTRA}"
echo "clickhouse-server $("$CLIENT" --port "$TCP" -q 'SELECT version()'), sink $URL"

ticks() { awk '{print $14+$15}' "/proc/$PID/stat"; }
hz=$(getconf CLK_TCK)
rm -f "$OUT"/sink.*.times
for ((i = 0; i < RUNS; i++)); do
  /usr/bin/time -f "%e %U %S" -a -o "$OUT/sink.plain.times" "$WSCAP" read --format jsonl "$cap" >/dev/null
  # Every run writes into empty tables, so that it pays for the same merges.
  for t in $("$CLIENT" --port "$TCP" -q "SELECT name FROM system.tables WHERE database = 'wscap' AND engine LIKE '%MergeTree'"); do
    "$CLIENT" --port "$TCP" -q "TRUNCATE TABLE wscap.$t"
  done
  sleep 0.5
  t0=$(ticks)
  /usr/bin/time -f "%e %U %S" -a -o "$OUT/sink.sink.times" "$WSCAP" read --format jsonl --sink "$URL" "$cap" >/dev/null 2>"$OUT/sink.err" || { cat "$OUT/sink.err" >&2; exit 1; }
  sleep 1
  echo "$(( $(ticks) - t0 ))" >> "$OUT/sink.server.times"
done
echo "last run: $(cat "$OUT/sink.err")"
python3 - "$OUT" "$hz" "$RUNS" <<'PY'
import statistics as st, sys
out, hz, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def load(n): return [list(map(float, l.split())) for l in open(f"{out}/sink.{n}.times")]
p, s = load("plain"), load("sink")
srv = [float(l) / hz for l in open(f"{out}/sink.server.times")]
pw, sw = st.median(x[0] for x in p), st.median(x[0] for x in s)
print(f"medians of {runs} runs, alternating:")
print(f"  read --format jsonl            {pw:.2f} s wall, {st.median(x[1]+x[2] for x in p):.2f} s CPU")
print(f"  ... --sink clickhouse          {sw:.2f} s wall, {st.median(x[1]+x[2] for x in s):.2f} s CPU; server {st.median(srv):.2f} s CPU a run")
print(f"  ratio {sw/pw:.2f}x (target 1.15x)")
PY
