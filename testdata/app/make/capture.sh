#!/bin/bash
# usage: ./capture.sh NAME PORT  -> runs `node gen-NAME.js PORT` while capturing lo tcp port PORT to NAME.pcap
NAME=$1; PORT=$2
cd "$(dirname "$0")"
rm -f "$NAME.pcap"
tcpdump -i lo -w "$NAME.pcap" -s 262144 "tcp port $PORT" >/dev/null 2>"/tmp/tcpdump-$NAME.log" &
TP=$!
sleep 1
node "gen-$NAME.js" "$PORT"; RC=$?
sleep 1
kill -INT $TP
wait $TP || true
ls -l "$NAME.pcap"
exit $RC
