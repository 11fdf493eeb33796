#!/bin/sh
# usage: capture.sh OUT.pcap PORT command...   (PORT is passed to the command as env PORT)
out=$1; port=$2; shift 2
tcpdump -i lo -w "$out" -s 262144 "tcp port $port" 2>/tmp/tcpdump.$$.log &
tp=$!
sleep 1
PORT=$port "$@"; rc=$?
sleep 1
kill -INT $tp; wait $tp
cat /tmp/tcpdump.$$.log >&2; rm -f /tmp/tcpdump.$$.log
exit $rc
