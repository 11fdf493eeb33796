#!/usr/bin/env bash
# bench/live.sh — can wscap live keep up? (a benchmark, not a test; needs root and iproute2)
#
# Two network namespaces joined by a veth pair; in one, the wsapp echo server
# (gorilla/websocket); in the other, the wsapp client (coder/websocket) sending
# SIZE-byte binary messages at a fixed RATE per second for SECONDS, paced, and
# checking every echo; and wscap live on the client's veth, writing JSON Lines
# to a file. Reports per rate: what the client sent, the messages wscap
# decoded in each direction, the kernel's drop counter, and the CPU wscap used
# (percent of one core over the client's run).
#
#   bench/live.sh                   # 20000 msg/s for 10 s, then search for the highest rate
#   RATES="20000 40000" bench/live.sh
#   SECONDS_PER_RUN=5 SIZE=100 bench/live.sh
#   WSCAP=/path/to/wscap bench/live.sh      # a prebuilt binary instead of building ./cmd/wscap
#
# Then, where tcpreplay is installed (REPLAY=0 skips it), bench/replay.sh:
# the generator's `many` replayed into wscap live at rising packet rates
# and at top speed (the highest rate without drops, the drop rate at top).
#
# A rate passes when the kernel dropped nothing and wscap shows exactly the
# messages sent, in both directions (counted with --format jsonl only; with
# WSCAP_FLAGS="--format table" only drops are checked). The search stops at the first rate that
# fails (or that the client itself cannot sustain).
set -euo pipefail
cd "$(dirname "$0")/.."

RATES=${RATES:-"20000 30000 40000 50000 60000 80000 100000"}
SECS=${SECONDS_PER_RUN:-10}
SIZE=${SIZE:-100}
WSCAP_FLAGS=${WSCAP_FLAGS:-"--format jsonl"}

if [ "$(id -u)" != 0 ]; then echo "bench/live.sh: needs root (network namespaces, packet capture)" >&2; exit 2; fi
command -v ip >/dev/null || { echo "bench/live.sh: needs iproute2 (ip)" >&2; exit 2; }

work=$(mktemp -d)
id=$$
srv=wscap-bench-$id-srv cli=wscap-bench-$id-cli
sif=wsbs$id cif=wsbc$id
cleanup() {
	[ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null || true
	ip netns del "$srv" 2>/dev/null || true
	ip netns del "$cli" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

if [ -n "${WSCAP:-}" ]; then cp "$WSCAP" "$work/wscap"; else CGO_ENABLED=0 go build -o "$work/wscap" ./cmd/wscap; fi
(cd internal/thirdparty && CGO_ENABLED=0 go build -o "$work/wsapp" ./wsapp/cmd/wsapp) # a module of its own

ip netns add "$srv"
ip netns add "$cli"
ip link add "$sif" netns "$srv" type veth peer name "$cif" netns "$cli"
ip -n "$srv" addr add 10.213.0.1/24 dev "$sif"
ip -n "$cli" addr add 10.213.0.2/24 dev "$cif"
for ns in "$srv" "$cli"; do ip -n "$ns" link set lo up; done
ip -n "$srv" link set "$sif" up
ip -n "$cli" link set "$cif" up

ip netns exec "$srv" "$work/wsapp" server 10.213.0.1:8080 >"$work/server.out" 2>&1 &
server_pid=$!
for _ in $(seq 100); do grep -q listening "$work/server.out" 2>/dev/null && break; sleep 0.05; done

echo "machine: $(nproc) cores, $(uname -r), $(go version | cut -d' ' -f3)"
echo "messages of $SIZE bytes, $SECS s per rate, wscap flags: $WSCAP_FLAGS"
printf '%8s %10s %10s %9s %9s %12s %12s %8s %9s  %s\n' rate sent echoed "real/s" "late_ms" client_msgs server_msgs k_drops wscap_cpu verdict
best=0
for rate in $RATES; do
	n=$((rate * SECS))
	# shellcheck disable=SC2086
	ip netns exec "$cli" "$work/wscap" live -i "$cif" -f 'tcp port 8080' $WSCAP_FLAGS \
		>"$work/live.jsonl" 2>"$work/live.err" &
	wscap_pid=$!
	for _ in $(seq 100); do grep -q "listening on" "$work/live.err" 2>/dev/null && break; sleep 0.05; done
	ip netns exec "$cli" "$work/wsapp" client -n "$n" -size "$SIZE" -rate "$rate" -timeout $((SECS * 6))s \
		ws://10.213.0.1:8080/ >"$work/client.json" 2>"$work/client.err" || true
	# wait for the connection's summary (the close handshake and FIN captured), then stop wscap
	for _ in $(seq 200); do grep -q '"kind":"connection"' "$work/live.jsonl" && break; sleep 0.05; done
	# CPU time wscap used (utime + stime, clock ticks), as a share of the client's run
	ticks=$(awk '{print $14 + $15}' "/proc/$wscap_pid/stat")
	kill -TERM "$wscap_pid"
	wait "$wscap_pid" || true
	sent=$(sed -n 's/.*"sent":\([0-9]*\).*/\1/p' "$work/client.json")
	echoed=$(sed -n 's/.*"echoed":\([0-9]*\).*/\1/p' "$work/client.json")
	elapsed=$(sed -n 's/.*"elapsed_ns":\([0-9]*\).*/\1/p' "$work/client.json")
	late=$(sed -n 's/.*"send_late_ns":\([0-9]*\).*/\1/p' "$work/client.json")
	real=$(( ${sent:-0} * 1000000000 / (${elapsed:-1} + 1) ))
	cpu=$(( ticks * 1000000000 / $(getconf CLK_TCK) * 100 / (${elapsed:-1} + 1) ))
	cmsgs=- smsgs=-
	case "$WSCAP_FLAGS" in *jsonl*) # messages are counted in JSON Lines output only
		cmsgs=$(grep '"kind":"message"' "$work/live.jsonl" | grep '"from":"client"' | grep -c '"opcode":"binary"' || true)
		smsgs=$(grep '"kind":"message"' "$work/live.jsonl" | grep '"from":"server"' | grep -c '"opcode":"binary"' || true)
	esac
	drops=$(sed -n 's/^wscap: \([0-9]*\) packets dropped by kernel$/\1/p' "$work/live.err")
	verdict=ok
	if [ "${sent:-0}" != "$n" ] || [ "${echoed:-0}" != "$n" ]; then verdict="client failed: $(cat "$work/client.err")"; fi
	if [ "$real" -lt $((rate * 95 / 100)) ]; then verdict="client could not sustain the rate"; fi
	if [ "${drops:-x}" != 0 ]; then verdict="KERNEL DROPS"; fi
	if [ "$cmsgs" != - ] && { [ "$cmsgs" != "$n" ] || [ "$smsgs" != "$n" ]; }; then verdict="$verdict; MESSAGES MISSING"; fi
	printf '%8s %10s %10s %9s %9s %12s %12s %8s %8s%%  %s\n' "$rate" "${sent:-?}" "${echoed:-?}" "$real" "$(( ${late:-0} / 1000000 ))" "$cmsgs" "$smsgs" "${drops:-?}" "$cpu" "$verdict"
	grep '^wscap: [0-9]* packets' "$work/live.err" | tr '\n' ' ' | sed 's/^/          /'; echo
	if [ "$verdict" != ok ]; then break; fi
	best=$rate
done
echo "highest rate with zero kernel drops and every message decoded: $best msg/s ($SIZE-byte messages, echoed)"
if [ "${REPLAY:-1}" != 0 ] && command -v tcpreplay >/dev/null; then
	echo
	WSCAP="$work/wscap" bench/replay.sh
fi
