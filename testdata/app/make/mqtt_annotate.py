#!/usr/bin/env python3
"""mqtt_annotate.py NAME PORT [--v5]: add the independent decode of the capture (MQTT packet ->
WebSocket message indices) to NAME.json as "capture_mqtt" and "mapping_summary"."""
import json, sys
from mqttmap import decode_dir
from wsdump import analyze
NOTES = {
 "mqtt-v311": "Both sides write MQTT packets piecewise: mqtt-packet's writeToStream issues one stream write per field (fixed header byte, remaining-length varint, each length prefix, each string, packet id, payload), and ws.createWebSocketStream (used by mqtt.js in node and by the broker glue here) turns every write into its own binary WebSocket message (FIN=1, one frame each). So every MQTT packet except the 2-byte PINGREQ/PINGRESP/DISCONNECT spans several WebSocket messages (e.g. CONNECT = 17 messages, QoS0 PUBLISH = 5: [0x30],[len],[00 0e],[topic],[payload]; the 70 KiB PUBLISH = [0x32],[3-byte varint],[00 0b],[topic],[packet id],[71680-byte payload message]). No WebSocket message carries bytes of two different MQTT packets, and no WebSocket message is fragmented into continuation frames. DISCONNECT itself is 2 messages ([0xe0],[0x00]). See capture_mqtt for the exact message index range of every packet.",
 "mqtt-v5": "Client (mqtt.js): like in mqtt-v311, every MQTT packet is written field by field and each write becomes its own binary WebSocket message (167 messages for 15 packets); the alias-only PUBLISH (empty topic name) even produces a ZERO-LENGTH binary WebSocket message for the empty topic string (ws message index 89 inside PUBLISH spanning messages 86..93). Server (hand-written broker, mqtt-packet.generate + ws.send): exactly one MQTT packet per WebSocket message. No WebSocket message carries bytes of two MQTT packets; no continuation frames."
}
name, port = sys.argv[1], int(sys.argv[2]); v5 = '--v5' in sys.argv
d = json.load(open(name + '.json'))
c = [c for c in analyze(name + '.pcap', port) if c['websocket']][0]
cap = {}; summ = {}
for side in ('client', 'server'):
    pkts, nmsg = decode_dir(c['ws_' + side], v5)
    sizes = [len(m['data']) for m in c['ws_' + side] if m['opcode'] == 2]
    multi = sum(1 for p in pkts if p['ws_messages'][0] != p['ws_messages'][-1])
    # does any ws message contain bytes of more than one packet?
    owners = {}
    for p in pkts:
        for k in range(p['ws_messages'][0], p['ws_messages'][-1] + 1): owners.setdefault(k, []).append(p['type'])
    shared = sum(1 for k, v in owners.items() if len(v) > 1)
    frames = [m['frames'] for m in c['ws_' + side] if m['opcode'] == 2]
    cap[side] = {'ws_binary_messages': nmsg, 'ws_message_sizes': sizes, 'mqtt_packets': pkts}
    summ[side] = {'ws_binary_messages': nmsg, 'mqtt_packets': len(pkts), 'packets_split_over_several_ws_messages': multi,
                  'ws_messages_carrying_parts_of_several_packets': shared, 'max_ws_frames_per_message': max(frames)}
d['capture_mqtt'] = cap; d['mapping_summary'] = summ
if name in NOTES: d['mapping_note'] = NOTES[name]
json.dump(d, open(name + '.json', 'w'), indent=1)
print(name, json.dumps(summ))
