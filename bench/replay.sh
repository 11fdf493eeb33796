#!/usr/bin/env bash
# bench/replay.sh — live capture at line rate: tcpreplay into wscap live (a benchmark, not a test;
# needs root, iproute2 and Debian's tcpreplay)
#
# A veth pair between two network namespaces; tcpreplay sends a capture (by
# default the generator's `many`: 100,000 connections, ~2.1 M packets) out of
# one end, and `wscap live --format jsonl` captures on the other. Each run
# replays the whole capture at a fixed packet rate (tcpreplay --pps), rates
# rising, then once with --topspeed. Reports per run: the rate tcpreplay
# reached, the packets wscap read and the kernel dropped, the messages wscap
# decoded against `wscap read` of the same file, and the CPU wscap used.
#
#   bench/replay.sh                        # many, rates 250k 500k 750k 1M 1.5M 2M pps, then top speed
#   PPS="100000 200000" bench/replay.sh
#   CAPTURE=/path/to/file.pcap bench/replay.sh
#   WSCAP=/path/to/wscap bench/replay.sh   # a prebuilt binary instead of building ./cmd/wscap
#   TASKSET="taskset -c 0-1" bench/replay.sh  # pin tcpreplay and wscap to the same cores
#   LIVE_FLAGS="--fanout 2" bench/replay.sh    # more flags for wscap live
#
# backlog_drops are the packets the receiving side's per-CPU backlog
# dropped before any packet socket saw them (/proc/net/softnet_stat):
# tcpreplay sent them, but no capture could have had them. veth_drops are
# those the veth pair counted as dropped (the sender's tx_dropped, the
# receiver's rx_dropped); not_read is sent - read: every packet tcpreplay
# sent that wscap did not read, whoever dropped it, counted or not.
# rx_processed is how many packets the kernel's receive path handled during
# the run (/proc/net/softnet_stat, all interfaces: at least sent on a quiet
# machine); with packets not read, it tells whether they got that far.
#
# A rate passes when the kernel dropped nothing and wscap decoded every
# message `wscap read` finds in the file. Prints the highest passing rate and
# the drop rate at top speed.
set -euo pipefail
cd "$(dirname "$0")/.."

PPS=${PPS:-"250000 500000 750000 1000000 1500000 2000000"}
LIVE_FLAGS=${LIVE_FLAGS:-}
TASKSET=${TASKSET:-}

if [ "$(id -u)" != 0 ]; then echo "bench/replay.sh: needs root (network namespaces, packet capture)" >&2; exit 2; fi
for tool in ip tcpreplay; do
	command -v "$tool" >/dev/null || { echo "bench/replay.sh: needs $tool (apt-get install iproute2 tcpreplay)" >&2; exit 2; }
done

work=$(mktemp -d)
id=$$
tx=wscap-replay-$id-tx rx=wscap-replay-$id-rx
tif=wsrt$id rif=wsrr$id
cleanup() {
	ip netns del "$tx" 2>/dev/null || true
	ip netns del "$rx" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

if [ -n "${WSCAP:-}" ]; then cp "$WSCAP" "$work/wscap"; else CGO_ENABLED=0 go build -o "$work/wscap" ./cmd/wscap; fi
capture=${CAPTURE:-}
if [ -z "$capture" ]; then
	capture=$work/many.pcap
	go run ./cmd/wscapgen --scenario many --seed 1 -q -o "$capture" --manifest "$work/many.manifest.json"
fi

ip netns add "$tx"
ip netns add "$rx"
ip link add "$tif" netns "$tx" type veth peer name "$rif" netns "$rx"
for ns in "$tx" "$rx"; do
	# no router solicitations or MLD reports on the link: it carries the capture only
	ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	ip -n "$ns" link set lo up
done
# The generator's packets are at most 1514 bytes; a larger MTU lets other
# captures through too (veth takes up to 64 KiB).
ip -n "$tx" link set "$tif" mtu 65535 up
ip -n "$rx" link set "$rif" mtu 65535 up

# What the file holds: wscap read's messages, and its packet count.
"$work/wscap" read --format jsonl "$capture" >"$work/read.jsonl" 2>/dev/null
want_msgs=$(grep -c '"kind":"message"' "$work/read.jsonl" || true)
want_pkts=$(sed -n 's/.*"packets":{"read":\([0-9]*\).*/\1/p' "$work/read.jsonl")

echo "machine: $(nproc) cores, $(uname -r), $(tcpreplay -V 2>&1 | head -1)"
echo "capture: $(basename "$capture"): $want_pkts packets, $want_msgs messages (wscap read)"
echo "wscap live flags: --format jsonl $LIVE_FLAGS"
printf '%10s %12s %10s %10s %9s %8s %13s %10s %12s %10s %9s  %s\n' pps_asked pps_reached sent read not_read k_drops backlog_drops veth_drops rx_processed messages wscap_cpu verdict
# softnet COLUMN: the sum over the CPUs of a /proc/net/softnet_stat column
# (hexadecimal): 1 the packets processed, 2 those the backlog dropped.
softnet() {
	local s=0 v
	while read -r -a v; do s=$((s + 16#${v[$1 - 1]})); done </proc/net/softnet_stat
	echo "$s"
}
veth_dropped() {
	local tx_d rx_d
	tx_d=$(ip netns exec "$tx" cat "/sys/class/net/$tif/statistics/tx_dropped")
	rx_d=$(ip netns exec "$rx" cat "/sys/class/net/$rif/statistics/rx_dropped")
	echo $((tx_d + rx_d))
}
best=0 best_asked= failed= top_line=
for rate in $PPS top; do
	# once a rate failed, the higher ones are skipped; top speed still runs
	if [ -n "$failed" ] && [ "$rate" != top ]; then continue; fi
	# shellcheck disable=SC2086
	ip netns exec "$rx" $TASKSET "$work/wscap" live -i "$rif" --format jsonl $LIVE_FLAGS >"$work/live.jsonl" 2>"$work/live.err" &
	wscap_pid=$!
	for _ in $(seq 200); do grep -q "listening on" "$work/live.err" 2>/dev/null && break; sleep 0.05; done
	if [ "$rate" = top ]; then speed=--topspeed; else speed=--pps=$rate; fi
	backlog0=$(softnet 2)
	veth0=$(veth_dropped)
	processed0=$(softnet 1)
	# --preload-pcap: tcpreplay reads the file into memory first, so that
	# its top speed is not bound by reading it (here: ~350k pps without,
	# ~425k with, nothing capturing).
	ip netns exec "$tx" $TASKSET tcpreplay --preload-pcap -i "$tif" "$speed" "$capture" >"$work/tcpreplay.out" 2>&1 || true
	sleep 1 # the ring's last block is handed over within its timeout
	backlog=$(($(softnet 2) - backlog0))
	veth=$(($(veth_dropped) - veth0))
	processed=$(($(softnet 1) - processed0))
	ticks=$(awk '{print $14 + $15}' "/proc/$wscap_pid/stat")
	kill -TERM "$wscap_pid"
	wait "$wscap_pid" || true
	sent=$(sed -n 's/.*Actual: \([0-9]*\) packets.*/\1/p' "$work/tcpreplay.out" | head -1)
	secs=$(sed -n 's/.*packets ([0-9]* bytes) sent in \([0-9.]*\) seconds.*/\1/p' "$work/tcpreplay.out" | head -1)
	reached=$(sed -n 's/.*Rated: [0-9.]* Bps, [0-9.]* Mbps, \([0-9.]*\) pps.*/\1/p' "$work/tcpreplay.out" | head -1)
	captured=$(sed -n 's/^wscap: \([0-9]*\) packets captured$/\1/p' "$work/live.err")
	drops=$(sed -n 's/^wscap: \([0-9]*\) packets dropped by kernel$/\1/p' "$work/live.err")
	msgs=$(grep -c '"kind":"message"' "$work/live.jsonl" || true)
	notread=$(( ${sent:-0} - ${captured:-0} ))
	cpu=$(awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" -v s="${secs:-0}" 'BEGIN { if (s > 0) printf "%d%%", t / hz / (s + 1) * 100; else print "?" }')
	verdict=ok
	if [ "${sent:-0}" != "$want_pkts" ]; then verdict="tcpreplay sent ${sent:-?} of $want_pkts: $(tail -1 "$work/tcpreplay.out")"; fi
	if [ "${drops:-x}" != 0 ]; then verdict="KERNEL DROPS"; fi
	if [ "$msgs" != "$want_msgs" ]; then verdict="$verdict; $((want_msgs - msgs)) MESSAGES MISSING"; fi
	if [ "$backlog" != 0 ]; then verdict="$verdict; BACKLOG DROPS"; fi
	if [ "$veth" != 0 ]; then verdict="$verdict; VETH DROPS"; fi
	if [ "$notread" != 0 ]; then verdict="$verdict; $notread PACKETS NOT READ"; fi
	printf '%10s %12s %10s %10s %9s %8s %13s %10s %12s %10s %9s  %s\n' "$rate" "${reached:-?}" "${sent:-?}" "${captured:-?}" "$notread" "${drops:-?}" "$backlog" "$veth" "$processed" "$msgs" "$cpu" "$verdict"
	if [ "$rate" = top ]; then
		top_line=$(awk -v r="${reached:-?}" -v d="${drops:-0}" -v n="$notread" -v s="${sent:-0}" 'BEGIN { printf "at top speed (%s pps): %d of %d packets sent were not read (%.2f %%), %d of them counted as dropped by the packet socket", r, n, s, s ? 100 * n / s : 0, d }')
	elif [ "$verdict" = ok ]; then
		# the rate reached counts, not the one asked: past tcpreplay's top
		# speed every rate asked is that speed
		if awk -v r="${reached:-0}" -v b="$best" 'BEGIN { exit !(r > b) }'; then
			best=${reached:-0} best_asked=$rate
		fi
	else
		failed=1
	fi
done
echo "highest rate reached with every packet sent read (no drops anywhere) and every message decoded: $best pps${best_asked:+ (asked $best_asked)}"
echo "$top_line"
