#!/usr/bin/env python3
"""verify.py: check that each NAME.json's library-level list matches the WebSocket messages
decoded independently from NAME.pcap (per direction, in order)."""
import json
from wsdump import analyze
from mqttmap import decode_dir
ok = True
def check(name, cond, msg):
    global ok
    print(('OK   ' if cond else 'FAIL ') + name + ': ' + msg); ok &= cond
def ws(name):
    d = json.load(open(name + '.json'))
    return d, [c for c in analyze(name + '.pcap', d['port']) if c['websocket']]
EIO = {'open': '0', 'close': '1', 'ping': '2', 'pong': '3', 'message': '4', 'upgrade': '5', 'noop': '6'}
for name in ('socketio-ws', 'socketio-polling'):
    d, cs = ws(name); c = cs[0]
    for side in ('client', 'server'):
        want = []
        for p in d['engineio_packets']:
            if p.get('from') != side or p.get('transport') != 'websocket': continue
            dat = p.get('data', '')
            want.append(bytes.fromhex(dat['_binary_hex']) if isinstance(dat, dict) else (EIO[p['type']] + dat).encode())
        got = [m['data'] for m in c['ws_' + side] if m['opcode'] in (1, 2)]
        if name == 'socketio-polling': got = [g for g in got if g not in (b'2probe', b'3probe', b'5')]
        check(name, want == got, '%s: %d engine.io packets vs %d ws data messages' % (side, len(want), len(got)))
d, cs = ws('socketio-polling')
conns = analyze('socketio-polling.pcap', d['port'])
for side, key in (('client', 'http_client'), ('server', 'http_server')):
    got = []
    for c in conns:
        if c['websocket']: continue
        for m in c[key]:
            if m['body'] and m['body'] != b'ok': got += [x.decode() for x in m['body'].split(b'\x1e')]
    want = [EIO[p['type']] + p.get('data', '') for p in d['engineio_packets'] if p.get('from') == side and p.get('transport') == 'polling']
    # the final "6" noop that closes the paused GET is not a "packetCreate" event
    got = [g for g in got if g != '6']  # a paused polling GET, if any, is closed with a "6" noop (no packetCreate event)
    check('socketio-polling', sorted(want) == sorted(got), '%s: %d polling packets in HTTP bodies (order across parallel connections not compared)' % (side, len(want)))
for name in ('graphql-transport-ws', 'graphql-transport-ws-deflate', 'graphql-ws-legacy', 'jsonrpc'):
    d, cs = ws(name); c = cs[0]
    for side in ('client', 'server'):
        got = [m['data'].decode() for m in c['ws_' + side] if m['opcode'] == 1]
        if name == 'jsonrpc': want = [m['raw'] for m in d['messages'] if m['from'] == side]; got_cmp = got
        else:
            want = [{k: v for k, v in m.items() if k != 'from'} for m in d['messages'] if m['from'] == side]; got_cmp = [json.loads(g) for g in got]
        check(name, want == got_cmp, '%s: %d messages' % (side, len(want)))
def stomp_frames(msgs):
    out = []
    for m in msgs:
        if m['opcode'] not in (1, 2): continue
        b = m['data']; i = 0; n = 0
        while i < len(b):
            if b[i:i+1] == b'\n': out.append(('HB', None, 1)); i += 1; continue
            he = b.index(b'\n\n', i); lines = b[i:he].decode().split('\n'); cmd = lines[0]
            hs = [l.split(':', 1) for l in lines[1:]]
            cl = [v for k, v in hs if k == 'content-length']
            bs = he + 2; be = bs + int(cl[0]) if cl else b.index(b'\0', bs)
            out.append((cmd, len(hs), None)); i = be + 1; n += 1
    return out
d, cs = ws('stomp'); c = cs[0]
for side in ('client', 'server'):
    want = [('HB', None, 1) if f.get('heartbeat') else (f['command'], len(f['headers']), None) for f in d['frames'] if f['from'] == side]
    got = stomp_frames(c['ws_' + side])
    check('stomp', want == got, '%s: %d frames+heart-beats (command, header count) match' % (side, len(want)))
for name, v5 in (('mqtt-v311', False), ('mqtt-v5', True)):
    d, cs = ws(name); c = cs[0]
    for side in ('client', 'server'):
        pk, _ = decode_dir(c['ws_' + side], v5)
        want = [p['type'] for p in d['packets'] if p['from'] == side]
        got = [p['type'] for p in pk]
        ids_w = [p.get('packet_id') for p in d['packets'] if p['from'] == side]
        ids_g = [p.get('packet_id') for p in pk]
        check(name, want == got and ids_w == ids_g, '%s: %d packets, types+packet ids match' % (side, len(want)))
print('ALL OK' if ok else 'SOME FAILED')
