#!/bin/bash
# Regenerate every capture + JSON (needs root for tcpdump; run `npm ci` first).
cd "$(dirname "$0")"
set -e
./capture.sh socketio-ws 18080;          python3 annotate.py socketio-ws 18080
./capture.sh socketio-polling 18081;     python3 annotate.py socketio-polling 18081
./capture.sh mqtt-v311 18083;            python3 annotate.py mqtt-v311 18083; python3 mqtt_annotate.py mqtt-v311 18083
./capture.sh mqtt-v5 18084;              python3 annotate.py mqtt-v5 18084;   python3 mqtt_annotate.py mqtt-v5 18084 --v5
./capture.sh stomp 18085;                python3 annotate.py stomp 18085
./capture.sh graphql-transport-ws 18086; python3 annotate.py graphql-transport-ws 18086
./capture.sh graphql-ws-legacy 18087;    python3 annotate.py graphql-ws-legacy 18087
./capture.sh jsonrpc 18088;              python3 annotate.py jsonrpc 18088
./capture.sh graphql-transport-ws-deflate 18089; python3 annotate.py graphql-transport-ws-deflate 18089
python3 verify.py
