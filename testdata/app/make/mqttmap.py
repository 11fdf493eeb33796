#!/usr/bin/env python3
"""mqttmap.py FILE.pcap PORT: decode MQTT control packets from the WebSocket binary
messages of each connection and show how MQTT packets map onto WebSocket messages."""
import sys, json
from wsdump import analyze
NAMES = [None, 'CONNECT', 'CONNACK', 'PUBLISH', 'PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP', 'SUBSCRIBE', 'SUBACK',
         'UNSUBSCRIBE', 'UNSUBACK', 'PINGREQ', 'PINGRESP', 'DISCONNECT', 'AUTH']

def varint(b, i):
    m, v, n = 1, 0, 0
    while True:
        c = b[i]; i += 1; v += (c & 127) * m; m *= 128; n += 1
        if not c & 128: return v, i

def decode_dir(msgs, v5):
    stream = b''.join(m['data'] for m in msgs if m['opcode'] == 2)
    bounds = []; o = 0
    for k, m in enumerate([m for m in msgs if m['opcode'] == 2]):
        bounds.append((o, o + len(m['data']), k)); o += len(m['data'])
    def msg_of(pos): return next(k for s, e, k in bounds if s <= pos < e)
    pkts = []; i = 0
    while i < len(stream):
        start = i; h = stream[i]; t = h >> 4; rl, j = varint(stream, i + 1); end = j + rl
        body = stream[j:end]
        p = {'type': NAMES[t], 'flags': h & 15, 'length': end - start, 'ws_messages': sorted({msg_of(start), msg_of(end - 1)})}
        if t == 3:
            qos = (h >> 1) & 3; tl = int.from_bytes(body[:2], 'big'); p['topic'] = body[2:2 + tl].decode(); q = 2 + tl
            p['qos'] = qos; p['retain'] = bool(h & 1); p['dup'] = bool(h & 8)
            if qos: p['packet_id'] = int.from_bytes(body[q:q + 2], 'big'); q += 2
            if v5: pl, q2 = varint(body, q); p['properties_len'] = pl; q = q2 + pl
            p['payload_len'] = len(body) - q
        elif t in (4, 5, 6, 7, 8, 9, 10, 11):
            p['packet_id'] = int.from_bytes(body[:2], 'big')
            if v5 and t in (4, 5, 6, 7) and len(body) > 2: p['reason_code'] = body[2]
            if t in (9, 11):
                q = 2
                if v5: pl, q = varint(body, 2); q += pl
                p['reason_codes'] = list(body[q:])
        elif t == 2:
            p['session_present'] = bool(body[0] & 1); p['return_code'] = body[1]
        elif t == 14 and v5 and body:
            p['reason_code'] = body[0]
        pkts.append(p); i = end
    return pkts, len(bounds)

if __name__ == '__main__':
    path, port = sys.argv[1], int(sys.argv[2]); v5 = '--v5' in sys.argv
    out = []
    for c in analyze(path, port):
        if not c['websocket']: continue
        r = {}
        for side in ('client', 'server'):
            pkts, nmsg = decode_dir(c['ws_' + side], v5)
            r[side] = {'ws_binary_messages': nmsg, 'mqtt_packets': len(pkts), 'packets': pkts,
                       'ws_message_sizes': [len(m['data']) for m in c['ws_' + side] if m['opcode'] == 2],
                       'ws_frames_per_message': [m['frames'] for m in c['ws_' + side] if m['opcode'] == 2]}
        out.append(r)
    if '--json' in sys.argv: print(json.dumps(out, indent=1))
    else:
        for r in out:
            for side in ('client', 'server'):
                print('--', side, 'ws msgs', r[side]['ws_binary_messages'], 'mqtt pkts', r[side]['mqtt_packets'])
                for p in r[side]['packets']: print('  ', p)
                print('   ws msg sizes', r[side]['ws_message_sizes'])
