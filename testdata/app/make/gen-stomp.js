// STOMP 1.2 over WebSocket: @stomp/stompjs client <-> a tiny hand-written STOMP 1.2 server on `ws`.
const http = require('http');
const fs = require('fs');
const WebSocket = require('ws');
Object.assign(global, { WebSocket });
const { Client } = require('@stomp/stompjs');
const PORT = Number(process.argv[2] || 18085);
const NAME = 'stomp';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const frames = []; const api = []; const debug = [];

const unesc = (s) => s.replace(/\\(.)/g, (m, c) => ({ r: '\r', n: '\n', c: ':', '\\': '\\' }[c]));
const esc = (s) => String(s).replace(/\\/g, '\\\\').replace(/\r/g, '\\r').replace(/\n/g, '\\n').replace(/:/g, '\\c');

// parse all frames / heart-beats in one WebSocket message (Buffer)
function parseMessage(buf) {
  const out = []; let i = 0;
  while (i < buf.length) {
    if (buf[i] === 0x0a) { out.push({ heartbeat: true, eol: '\\n' }); i++; continue; }
    if (buf[i] === 0x0d && buf[i + 1] === 0x0a) { out.push({ heartbeat: true, eol: '\\r\\n' }); i += 2; continue; }
    const he = buf.indexOf('\n\n', i);
    const head = buf.subarray(i, he).toString('utf8').split('\n').map((l) => l.replace(/\r$/, ''));
    const command = head[0];
    const escaped = command !== 'CONNECT' && command !== 'CONNECTED' && command !== 'STOMP';
    const headers = head.slice(1).map((l) => { const k = l.indexOf(':'); const n = l.slice(0, k), v = l.slice(k + 1); return [escaped ? unesc(n) : n, escaped ? unesc(v) : v]; });
    const raw_headers = head.slice(1);
    const cl = headers.find((h) => h[0] === 'content-length');
    let bs = he + 2, be;
    if (cl) be = bs + Number(cl[1]); else be = buf.indexOf(0, bs);
    const body = buf.subarray(bs, be);
    out.push({ command, headers, raw_headers, body });
    i = be + 1; // skip NUL
  }
  return out;
}
function bodyRepr(b) {
  const o = { body_len: b.length };
  const t = b.toString('utf8');
  if (b.includes(0) || Buffer.from(t, 'utf8').compare(b) !== 0 || /[\x00-\x08]/.test(t)) o.body_hex = b.toString('hex'); else o.body = t;
  return o;
}
function serialize(command, headers, body) {
  body = body === undefined ? Buffer.alloc(0) : Buffer.from(body);
  const hs = headers.map(([k, v]) => `${esc(k)}:${command === 'CONNECTED' ? v : esc(v)}`);
  return Buffer.concat([Buffer.from(`${command}\n${hs.join('\n')}\n\n`), body, Buffer.from([0])]);
}

// ---------------- tiny STOMP 1.2 server ----------------
let wsInfo = {};
function startServer(server) {
  const wss = new WebSocket.Server({ server, path: '/stomp', handleProtocols: (p) => (p.has('v12.stomp') ? 'v12.stomp' : false) });
  wss.on('connection', (ws, req) => {
    wsInfo = { path: req.url, subprotocol: ws.protocol, offered: req.headers['sec-websocket-protocol'] };
    const subs = new Map(); let msgSeq = 0; let hb;
    // send one or more frames in ONE WebSocket message; binary if any body has a NUL or non-text byte
    const sendFrames = (list) => {
      const parts = list.map(([c, h, b]) => { const buf = serialize(c, h, b); frames.push(Object.assign({ from: 'server', command: c, headers: h }, bodyRepr(b === undefined ? Buffer.alloc(0) : Buffer.from(b)), list.length > 1 ? { ws_message_with_frames: list.length } : {})); return buf; });
      const all = Buffer.concat(parts);
      const binary = list.some(([, , b]) => b !== undefined && Buffer.from(b).includes(0));
      ws.send(binary ? all : all.toString('utf8'), { binary });
    };
    ws.on('message', (data, isBinary) => {
      for (const f of parseMessage(Buffer.from(data))) {
        if (f.heartbeat) { frames.push({ from: 'client', heartbeat: true, eol: f.eol }); continue; }
        frames.push(Object.assign({ from: 'client', command: f.command, headers: f.headers }, bodyRepr(f.body), { ws_binary: isBinary }));
        const h = Object.fromEntries(f.headers);
        const receipt = h.receipt ? [['RECEIPT', [['receipt-id', h.receipt]]]] : [];
        switch (f.command) {
          case 'CONNECT': case 'STOMP': {
            const [cx, cy] = (h['heart-beat'] || '0,0').split(',').map(Number);
            sendFrames([['CONNECTED', [['version', '1.2'], ['heart-beat', '500,500'], ['server', 'mini-stomp/0.1'], ['session', 'sess-1']]]]);
            const every = Math.max(500, cy); // server -> client interval
            if (cy) hb = setInterval(() => { ws.send('\n'); frames.push({ from: 'server', heartbeat: true, eol: '\\n' }); }, every);
            break;
          }
          case 'SUBSCRIBE': subs.set(h.id, { destination: h.destination, ack: h.ack || 'auto' }); if (receipt.length) sendFrames(receipt); break;
          case 'UNSUBSCRIBE': subs.delete(h.id); if (receipt.length) sendFrames(receipt); break;
          case 'SEND': {
            const msgs = [];
            for (const [id, s] of subs) {
              if (s.destination !== h.destination) continue;
              const mid = `msg-${++msgSeq}`;
              const mh = [['subscription', id], ['message-id', mid], ['destination', h.destination]];
              if (s.ack !== 'auto') mh.push(['ack', `ack-${msgSeq}`]);
              for (const [k, v] of f.headers) if (!['destination', 'receipt', 'content-length'].includes(k)) mh.push([k, v]);
              mh.push(['content-length', String(f.body.length)]);
              msgs.push(['MESSAGE', mh, f.body]);
            }
            sendFrames(msgs.concat(receipt)); // MESSAGE + RECEIPT in one WebSocket message when a receipt was asked
            break;
          }
          case 'ACK': case 'NACK': if (receipt.length) sendFrames(receipt); break;
          case 'DISCONNECT': clearInterval(hb); if (receipt.length) sendFrames(receipt); setTimeout(() => ws.close(1000, 'bye'), 50); break;
        }
      }
    });
    ws.on('close', () => clearInterval(hb));
  });
}

(async () => {
  const httpServer = http.createServer();
  startServer(httpServer);
  await new Promise((r) => httpServer.listen(PORT, '127.0.0.1', r));
  const client = new Client({
    brokerURL: `ws://127.0.0.1:${PORT}/stomp`,
    connectHeaders: { login: 'guest', passcode: 'guest', host: '/' },
    heartbeatIncoming: 500, heartbeatOutgoing: 500, reconnectDelay: 0,
    debug: (s) => debug.push(s),
  });
  const connected = new Promise((r) => { client.onConnect = (f) => { api.push({ side: 'client', what: 'onConnect', headers: f.headers }); r(); }; });
  client.activate();
  await connected;
  const got = [];
  const sub = client.subscribe('/queue/orders', (m) => {
    const rec = { side: 'client', what: 'message', headers: m.headers };
    rec.isBinaryBody = m.isBinaryBody; // ws delivers Buffers in node, so stompjs marks every body binary
    const bb = Buffer.from(m.binaryBody); if (bb.includes(0)) rec.binary_body_hex = bb.toString('hex'); else rec.body = m.body;
    api.push(rec); got.push(m);
    m.ack();
    api.push({ side: 'client', what: 'ack', id: m.headers.ack });
  }, { ack: 'client-individual', id: 'sub-0' });
  await sleep(50);
  const r1 = new Promise((r) => client.watchForReceipt('rcpt-send-1', (f) => { api.push({ side: 'client', what: 'receipt', headers: f.headers }); r(); }));
  client.publish({ destination: '/queue/orders', body: 'order #1: 2x widget', headers: { 'content-type': 'text/plain', 'x-note': 'a:b\nline2\\end', receipt: 'rcpt-send-1' } });
  api.push({ side: 'client', what: 'publish text with receipt; header x-note needs 1.2 escapes', 'x-note': 'a:b\nline2\\end' });
  await r1; await sleep(50);
  const bin = Uint8Array.from([0x68, 0x69, 0x00, 0x21, 0xff, 0x00, 0x0a]);
  client.publish({ destination: '/queue/orders', binaryBody: bin, headers: { 'content-type': 'application/octet-stream' } });
  api.push({ side: 'client', what: 'publish binaryBody (contains NUL) -> content-length', body_hex: Buffer.from(bin).toString('hex') });
  await sleep(1300); // heart-beats (EOL) both ways
  const r2 = new Promise((r) => client.watchForReceipt('rcpt-unsub', (f) => { api.push({ side: 'client', what: 'receipt', headers: f.headers }); r(); }));
  sub.unsubscribe({ receipt: 'rcpt-unsub' });
  await r2;
  await client.deactivate(); // DISCONNECT with receipt, waits for RECEIPT, closes
  api.push({ side: 'client', what: 'deactivated' });
  await sleep(200);
  httpServer.close();
  const v = (m) => require(`./node_modules/${m}/package.json`).version;
  const out = {
    protocol: 'stomp', version: '1.2',
    description: 'STOMP 1.2 over one WebSocket connection ws://127.0.0.1:PORT/stomp, subprotocol v12.stomp (stompjs offers v12.stomp, v11.stomp, v10.stomp). Client @stomp/stompjs with the ws package as global WebSocket; server: tiny hand-written STOMP 1.2 server in gen-stomp.js (no Java broker). CONNECT (login/passcode/host, accept-version 1.2,1.1,1.0, heart-beat 500,500) -> CONNECTED; SUBSCRIBE ack:client-individual; SEND text with header x-note whose value needs 1.2 escapes (\\c \\n \\\\ on the wire) and a receipt -> the server answers MESSAGE + RECEIPT in ONE WebSocket text message (two frames); client ACK id=<ack header>; SEND with a binary body containing NUL bytes (stompjs sends it as a binary WebSocket message with content-length) -> MESSAGE echoed as a binary WebSocket message with content-length; EOL heart-beats ("\\n" as separate 1-byte text messages) both ways for ~1.3 s; UNSUBSCRIBE with receipt; DISCONNECT with receipt (stompjs generated id) -> RECEIPT, server closes with 1000. "frames" = STOMP frames and heart-beats as parsed/sent by the server code (header values unescaped; per direction in order); "api_log" = what stompjs reported; "stompjs_debug" = stompjs debug output.',
    captured_with: { node: process.version, '@stomp/stompjs': v('@stomp/stompjs'), ws: v('ws'), server: 'hand-written (gen-stomp.js)' },
    port: PORT, path: wsInfo.path, subprotocol: wsInfo.subprotocol, subprotocols_offered: wsInfo.offered,
    frames, api_log: api, stompjs_debug: debug,
  };
  fs.writeFileSync(`${NAME}.json`, JSON.stringify(out, null, 1));
  setTimeout(() => process.exit(0), 100);
})();
