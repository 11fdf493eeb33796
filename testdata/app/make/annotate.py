#!/usr/bin/env python3
"""annotate.py NAME PORT: add tcp/websocket connection counts and a WebSocket message
summary (decoded independently from the pcap by wsdump.py) to NAME.json."""
import json, sys
from wsdump import analyze
name, port = sys.argv[1], int(sys.argv[2])
d = json.load(open(name + '.json'))
conns = analyze(name + '.pcap', port)
d['tcp_connections'] = len(conns)
d['websocket_connections'] = sum(1 for c in conns if c['websocket'])
summ = []
for c in conns:
    s = {'client_port': c['client_port'], 'http_requests': [m['head'].split('\r\n')[0] for m in c['http_client']]}
    if c['websocket']:
        req = c['http_client'][-1]['head']; resp = c['http_server'][-1]['head']
        hv = lambda h, k: next((l.split(':', 1)[1].strip() for l in h.split('\r\n') if l.lower().startswith(k + ':')), None)
        s['sec_websocket_protocol_offered'] = hv(req, 'sec-websocket-protocol')
        s['sec_websocket_protocol'] = hv(resp, 'sec-websocket-protocol')
        s['sec_websocket_extensions'] = hv(resp, 'sec-websocket-extensions')
        for side in ('client', 'server'):
            ms = c['ws_' + side]; fr = c['ws_%s_frames' % side]
            s[side + '_ws_messages'] = len(ms); s[side + '_ws_frames'] = len(fr)
            s[side + '_opcodes'] = [m['opcode'] for m in ms]
    summ.append(s)
d['capture_check'] = summ
d['websocket_request'] = [s['http_requests'][-1] for s in summ if 'client_ws_messages' in s]
json.dump(d, open(name + '.json', 'w'), indent=1)
print(name, 'tcp', len(conns), 'ws', d['websocket_connections'])
