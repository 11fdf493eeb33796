#!/usr/bin/env python3
"""Check each NAME.pcap against NAME.json: rebuilds both byte streams of the
TCP connection with `tshark -z follow,tcp|tls,raw`, parses HTTP/2 frames and
the RFC 6455 frames inside DATA of each WebSocket stream (inflating
permessage-deflate), and compares the data messages with the JSON."""
import base64, json, subprocess, sys, zlib

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

def follow(pcap, kind, idx, keys=None):
    cmd = ["tshark", "-r", pcap, "-q", "-z", f"follow,{kind},raw,{idx}"]
    if keys: cmd[3:3] = ["-o", f"tls.keylog_file:{keys}"]
    out = subprocess.run(cmd, capture_output=True, text=True).stdout
    c, s, hdr = bytearray(), bytearray(), True
    for line in out.splitlines():
        if line.startswith("Node 1:"): hdr = False; continue
        if hdr or line.startswith("====") or not line.strip(): continue
        (s if line.startswith("\t") else c).extend(bytes.fromhex(line.strip()))
    c, s = bytes(c), bytes(s)
    if not (c.startswith(PREFACE) or c.startswith(b"GET ")): c, s = s, c  # node 0 was the server
    return c, s

def h2frames(b):
    i, out = 0, []
    while i + 9 <= len(b):
        ln = int.from_bytes(b[i:i+3], "big"); t, fl = b[i+3], b[i+4]
        sid = int.from_bytes(b[i+5:i+9], "big") & 0x7fffffff
        out.append((t, fl, sid, b[i+9:i+9+ln])); i += 9 + ln
    assert i == len(b), "trailing bytes"
    return out

def data_of(frames, sid):
    d, ended = bytearray(), False
    for t, fl, s, p in frames:
        if t == 0 and s == sid:
            if fl & 0x08: p = p[1:len(p)-p[0]]  # padding
            d += p; ended = ended or bool(fl & 1)
    return bytes(d), ended

def wsmsgs(b, masked, deflate):
    i, msgs, ctl, frag = 0, [], [], None
    inf = zlib.decompressobj(-15) if deflate else None
    while i < len(b):
        h0, h1 = b[i], b[i+1]; i += 2
        fin, rsv1, op = h0 & 0x80, h0 & 0x40, h0 & 0x0f
        assert bool(h1 & 0x80) == masked, "mask bit"
        n = h1 & 0x7f
        if n == 126: n = int.from_bytes(b[i:i+2], "big"); i += 2
        elif n == 127: n = int.from_bytes(b[i:i+8], "big"); i += 8
        key = b[i:i+4] if masked else None; i += 4 if masked else 0
        p = bytes(b[i:i+n]); i += n
        if masked: p = bytes(x ^ key[j & 3] for j, x in enumerate(p))
        if op >= 8: ctl.append((op, p)); continue
        if op != 0: frag = [op, rsv1, p]
        else: frag[2] += p
        if fin:
            op_, comp, pl = frag
            if comp: pl = inf.decompress(pl + b"\x00\x00\xff\xff")
            msgs.append({"type": "text", "text": pl.decode()} if op_ == 1 else {"type": "binary", "base64": base64.b64encode(pl).decode()})
    return msgs, ctl

def check(name, kind="tcp", idx=0, keys=None):
    j = json.load(open(f"{name}.json"))
    c, s = follow(f"{name}.pcap", kind, idx, keys)
    if c.startswith(b"GET "):  # HTTP/1.1 Upgrade: h2c
        c = c[c.index(b"\r\n\r\n") + 4:]; s = s[s.index(b"\r\n\r\n") + 4:]
    assert c.startswith(PREFACE), "no preface"
    cf, sf = h2frames(c[len(PREFACE):]), h2frames(s)
    ok = True
    for st in j["streams"]:
        sid, defl = st["h2_stream"], "permessage-deflate" in st["extensions"]
        cd, ce = data_of(cf, sid); sd, se = data_of(sf, sid)
        cm, cc = wsmsgs(cd, True, defl); sm, sc = wsmsgs(sd, False, defl)
        good = cm == st["client"] and sm == st["server"]
        ccl = [int.from_bytes(p[:2], "big") for o, p in cc if o == 8]
        scl = [int.from_bytes(p[:2], "big") for o, p in sc if o == 8]
        good &= ccl == [st["close"]["client"]] and scl == [st["close"]["server"]] and ce and se
        ok &= good
        print(f"  {name} stream {sid}: client {len(cm)} msgs, server {len(sm)} msgs, "
              f"client ctl {[(o, p[:20]) for o, p in cc]}, server ctl {[(o, p[:20]) for o, p in sc]}, "
              f"END_STREAM c={ce} s={se} -> {'OK' if good else 'MISMATCH'}")
    hdr_streams = sorted({sid for t, fl, sid, p in cf if t == 1})
    print(f"  {name}: client HEADERS on streams {hdr_streams}; frames c->s {len(cf)}, s->c {len(sf)}")
    return ok

if __name__ == "__main__":
    res = [check("node-h2c-two"), check("node-h2c-deflate"), check("go-h2c"), check("go-h2c-upgrade"),
           check("chromium-h2-wss", "tls", 1, "chromium-h2-wss.keys")]
    print("ALL OK" if all(res) else "SOME MISMATCH"); sys.exit(0 if all(res) else 1)
