#!/usr/bin/env python3
"""Independent decoder used to check the captures: pcap (Ethernet/IPv4/TCP on lo)
-> per-connection TCP reassembly -> HTTP/1.1 head(s) -> WebSocket frames/messages.
usage: wsdump.py FILE.pcap [--server-port N] [--json]   (no external deps)"""
import struct, sys, json

def read_pcap(path):
    with open(path, 'rb') as f:
        data = f.read()
    magic = struct.unpack('<I', data[:4])[0]
    e = '<' if magic in (0xa1b2c3d4, 0xa1b23c4d) else '>'
    linktype = struct.unpack(e + 'I', data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        ts, tus, incl, orig = struct.unpack(e + 'IIII', data[off:off + 16]); off += 16
        yield ts + tus / 1e6, linktype, data[off:off + incl]; off += incl

def tcp_segments(path):
    for ts, lt, pkt in read_pcap(path):
        if lt == 1: pkt = pkt[14:]
        elif lt == 113: pkt = pkt[16:]
        elif lt == 0: pkt = pkt[4:]
        if pkt[0] >> 4 != 4: continue
        ihl = (pkt[0] & 15) * 4; tot = struct.unpack('>H', pkt[2:4])[0]
        if pkt[9] != 6: continue
        src = '.'.join(map(str, pkt[12:16])); dst = '.'.join(map(str, pkt[16:20]))
        t = pkt[ihl:tot]
        sp, dp, seq, ack = struct.unpack('>HHII', t[:12]); doff = (t[12] >> 4) * 4; flags = t[13]
        yield ts, (src, sp), (dst, dp), seq, flags, t[doff:]

def streams(path, server_port):
    conns = {}
    order = []
    for ts, s, d, seq, flags, payload in tcp_segments(path):
        if s[1] == server_port: key, dirn = (d, s), 'server'
        else: key, dirn = (s, d), 'client'
        c = conns.get(key)
        if c is None:
            c = conns[key] = {'client': {}, 'server': {}, 'isn': {}, 'syn_ts': ts}; order.append(key)
        if flags & 2: c['isn'][dirn] = seq + 1
        if payload:
            c[dirn][seq] = payload
    out = []
    for key in order:
        c = conns[key]; res = {'client_port': key[0][1]}
        for dirn in ('client', 'server'):
            segs = c[dirn]; isn = c['isn'].get(dirn, min(segs) if segs else 0)
            buf = bytearray(); pos = isn
            for sq in sorted(segs, key=lambda x: (x - isn) & 0xffffffff):
                p = segs[sq]; rel = (sq - pos) & 0xffffffff
                if rel > 0x7fffffff:  # overlap/retransmit
                    skip = (pos - sq) & 0xffffffff
                    if skip >= len(p): continue
                    p = p[skip:]
                elif rel: raise SystemExit('gap in tcp stream')
                buf += p; pos = (pos + len(p)) & 0xffffffff
            res[dirn] = bytes(buf)
        out.append(res)
    return out

def parse_http_heads(buf):
    """returns list of (head_text, body_bytes) for HTTP/1.1 messages until a 101 or the end."""
    msgs = []; i = 0
    while i < len(buf):
        j = buf.find(b'\r\n\r\n', i)
        if j < 0 or not (buf[i:i+4] in (b'GET ', b'POST', b'HTTP')): break
        head = buf[i:j].decode('latin1'); i = j + 4
        hdrs = {}
        for line in head.split('\r\n')[1:]:
            k, _, v = line.partition(':'); hdrs[k.strip().lower()] = v.strip()
        body = b''
        if 'content-length' in hdrs:
            n = int(hdrs['content-length']); body = buf[i:i + n]; i += n
        elif hdrs.get('transfer-encoding', '').lower() == 'chunked':
            while True:
                k = buf.find(b'\r\n', i); n = int(buf[i:k].split(b';')[0], 16); i = k + 2
                body += buf[i:i + n]; i += n + 2
                if n == 0: break
        msgs.append({'head': head, 'body': body})
        if head.startswith('HTTP/1.1 101') or (head.startswith('GET ') and 'upgrade' in hdrs): 
            if head.startswith('HTTP/1.1 101'): break
            if head.startswith('GET '): break
    return msgs, i

def ws_frames(buf, i):
    frames = []
    while i + 2 <= len(buf):
        b0, b1 = buf[i], buf[i + 1]; p = i + 2
        n = b1 & 127
        if n == 126: n = struct.unpack('>H', buf[p:p + 2])[0]; p += 2
        elif n == 127: n = struct.unpack('>Q', buf[p:p + 8])[0]; p += 8
        key = None
        if b1 & 128: key = buf[p:p + 4]; p += 4
        data = bytearray(buf[p:p + n])
        if len(data) < n: break
        if key: 
            for k in range(n): data[k] ^= key[k & 3]
        frames.append({'fin': bool(b0 & 128), 'rsv': (b0 >> 4) & 7, 'opcode': b0 & 15, 'masked': bool(key), 'len': n, 'data': bytes(data)})
        i = p + n
    return frames

def messages(frames):
    import zlib
    inflater = zlib.decompressobj(-15)  # permessage-deflate with context takeover (one per direction)
    msgs = []; cur = None
    for f in frames:
        if f['opcode'] >= 8:
            msgs.append({'opcode': f['opcode'], 'data': f['data'], 'frames': 1}); continue
        if f['opcode'] != 0: cur = {'opcode': f['opcode'], 'data': f['data'], 'frames': 1, 'compressed': bool(f['rsv'] & 4)}
        else: cur['data'] += f['data']; cur['frames'] += 1
        if f['fin']:
            if cur['compressed']: cur['wire_len'] = len(cur['data']); cur['data'] = inflater.decompress(cur['data'] + b'\x00\x00\xff\xff')
            msgs.append(cur); cur = None
    return msgs

def analyze(path, port):
    conns = []
    for s in streams(path, port):
        c = {'client_port': s['client_port']}
        ch, ci = parse_http_heads(s['client']); sh, si = parse_http_heads(s['server'])
        c['http_client'] = ch; c['http_server'] = sh
        up = sh and sh[-1]['head'].startswith('HTTP/1.1 101')
        c['websocket'] = bool(up)
        if up:
            c['ws_client'] = messages(ws_frames(s['client'], ci)); c['ws_server'] = messages(ws_frames(s['server'], si))
            c['ws_client_frames'] = ws_frames(s['client'], ci); c['ws_server_frames'] = ws_frames(s['server'], si)
        conns.append(c)
    return conns

def show(d, n=120):
    try:
        t = d.decode('utf-8')
        if all(ch.isprintable() or ch in '\r\n\t' for ch in t): return repr(t[:n]) + ('...' if len(t) > n else '')
    except UnicodeDecodeError: pass
    return 'hex:' + d[:n // 2].hex() + ('...' if len(d) > n // 2 else '')

if __name__ == '__main__':
    path = sys.argv[1]; port = int(sys.argv[2])
    for c in analyze(path, port):
        print('== connection client port', c['client_port'], 'websocket' if c['websocket'] else '')
        for m in c['http_client']: print('  C>', m['head'].split('\r\n')[0], show(m['body']) if m['body'] else '')
        for m in c['http_server']: print('  S>', m['head'].split('\r\n')[0], show(m['body']) if m['body'] else '')
        if c['websocket']:
            for side in ('client', 'server'):
                print('  --', side, 'messages:', len(c['ws_' + side]), 'frames:', len(c['ws_%s_frames' % side]))
                for m in c['ws_' + side]:
                    print('   ', 'op=%d' % m['opcode'], 'len=%d' % len(m['data']), ('frames=%d' % m['frames']) if m['frames'] > 1 else '', show(m['data']))
