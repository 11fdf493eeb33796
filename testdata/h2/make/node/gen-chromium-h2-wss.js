'use strict';
// Capture 5: headless Chromium loads https://localhost:PORT/ from a node http2 secure server
// (h2 only, ENABLE_CONNECT_PROTOCOL=1); the page opens wss://localhost:PORT/ws, which Chromium
// sends as an RFC 8441 extended CONNECT on the existing h2 connection.
const http2 = require('http2');
const fs = require('fs');
const path = require('path');
const os = require('os');
const { spawn, execFileSync } = require('child_process');
const { WsEnd, wsLib } = require('./wsh2');
const PerMessageDeflate = wsLib('permessage-deflate.js');
const extension = wsLib('extension.js');

const PORT = +process.env.PORT || 18445;
const OUT = process.env.OUT || path.join(__dirname, '..', 'chromium-h2-wss.json');
const KEYS = process.env.KEYS || path.join(__dirname, '..', 'chromium-h2-wss.keys');
const DEFLATE = process.env.DEFLATE !== '0';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

const page = `<!doctype html>
<html><head><meta charset="utf-8"><title>h2 wss test</title><link rel="icon" href="data:,"></head>
<body><pre id="log"></pre>
<script>
const log = (s) => { document.getElementById('log').textContent += s + '\\n'; };
const received = [];
const ws = new WebSocket('wss://localhost:${PORT}/ws', ['chat.v1']);
ws.binaryType = 'arraybuffer';
let step = 0;
ws.onopen = () => { log('open ' + ws.protocol + ' ' + ws.extensions); ws.send('hello from chromium'); };
ws.onmessage = (e) => {
  const m = typeof e.data === 'string' ? { type: 'text', text: e.data }
    : { type: 'binary', hex: Array.from(new Uint8Array(e.data), (b) => b.toString(16).padStart(2, '0')).join('') };
  received.push(m); log('recv ' + JSON.stringify(m));
  step++;
  if (step === 2) ws.send(new Uint8Array([0, 1, 2, 3, 250, 251, 252, 253, 254, 255]));
  else if (step === 3) ws.send(JSON.stringify({ type: 'price_update', symbol: 'ACME', bid: 101.25, ask: 101.5 }));
  else if (step === 4) ws.send(JSON.stringify({ type: 'price_update', symbol: 'ACME', bid: 101.30, ask: 101.55 }));
  else if (step === 5) ws.close(1000, 'page done');
};
ws.onclose = (e) => {
  log('close ' + e.code + ' ' + e.reason + ' clean=' + e.wasClean);
  fetch('/done', { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ protocol: ws.protocol, extensions: ws.extensions, received, close: { code: e.code, reason: e.reason, wasClean: e.wasClean } }) });
};
ws.onerror = () => log('error');
</script></body></html>
`;

const rec = { client: [], server: [] };
const other = [];
let connectHeaders = null, respHeaders = null, wsStreamId = null, doneReport = null, serverCloseCode = null;
let chrome;
const sessions = [];

const server = http2.createSecureServer({
  key: fs.readFileSync(path.join(__dirname, 'localhost-key.pem')),
  cert: fs.readFileSync(path.join(__dirname, 'localhost-cert.pem')),
  allowHTTP1: false,
  settings: { enableConnectProtocol: true },
});
server.on('session', (s) => { sessions.push(s); console.log('new h2 session', sessions.length); });
server.on('stream', async (stream, headers) => {
  const m = headers[':method'], p = headers[':path'];
  console.log('stream', stream.id, m, p, headers[':protocol'] || '');
  if (m === 'CONNECT' && headers[':protocol'] === 'websocket' && p === '/ws') {
    connectHeaders = Object.fromEntries(Object.entries(headers));
    wsStreamId = stream.id;
    const resp = { ':status': 200 };
    const exts = {};
    const offer = headers['sec-websocket-extensions'];
    if (DEFLATE && offer) {
      const offers = extension.parse(offer);
      if (offers[PerMessageDeflate.extensionName]) {
        const pmd = new PerMessageDeflate({ isServer: true });
        pmd.accept(offers[PerMessageDeflate.extensionName]);
        exts[PerMessageDeflate.extensionName] = pmd;
        resp['sec-websocket-extensions'] = extension.format({ [PerMessageDeflate.extensionName]: pmd.params });
      }
    }
    const protos = (headers['sec-websocket-protocol'] || '').split(/\s*,\s*/);
    if (protos.includes('chat.v1')) resp['sec-websocket-protocol'] = 'chat.v1';
    respHeaders = resp;
    stream.respond(resp);
    const ws = new WsEnd(stream, { isServer: true, extensions: exts, log: rec.server });
    await ws.send('welcome, chromium');
    for (;;) {
      const ev = await ws.next();
      if (ev.type === 'text') { rec.client.push({ type: 'text', text: ev.text }); await ws.send('server got: ' + ev.text); }
      else if (ev.type === 'binary') { rec.client.push({ type: 'binary', base64: ev.data.toString('base64') }); await ws.send(Buffer.from(ev.data).reverse(), true); }
      else if (ev.type === 'close') { serverCloseCode = ev.code; await ws.close(1000, 'bye'); stream.end(); rec.clientClose = { code: ev.code, reason: ev.reason }; return; }
    }
  }
  other.push({ h2_stream: stream.id, method: m, path: p });
  if (m === 'GET' && p === '/') {
    stream.respond({ ':status': 200, 'content-type': 'text/html; charset=utf-8' });
    stream.end(page);
  } else if (m === 'POST' && p === '/done') {
    let body = '';
    stream.setEncoding('utf8');
    stream.on('data', (d) => (body += d));
    stream.on('end', () => {
      doneReport = JSON.parse(body);
      stream.respond({ ':status': 204 }, { endStream: true });
      setTimeout(finish, 500);
    });
  } else {
    stream.respond({ ':status': 404 }, { endStream: true });
  }
});

let finished = false;
function finish() {
  if (finished) return; finished = true;
  // Close the h2 session from the server side (GOAWAY + FIN) before stopping Chromium.
  for (const s of sessions) s.close();
  setTimeout(() => {
    if (chrome) chrome.kill('SIGTERM');
    server.close();
    const chromiumVersion = execFileSync(CHROMIUM, ['--version']).toString().trim();
    const out = {
      name: 'chromium-h2-wss',
      description: `Headless ${chromiumVersion} loads https://localhost:${PORT}/ from a node http2.createSecureServer (TLS 1.3, ALPN h2 only, allowHTTP1 false, self-signed cert for localhost, Chromium run with --ignore-certificate-errors), SETTINGS ENABLE_CONNECT_PROTOCOL=1. ` +
        `The page runs new WebSocket('wss://localhost:${PORT}/ws', ['chat.v1']); Chromium sent it as an RFC 8441 extended CONNECT on the same h2 connection (stream ${wsStreamId}). ` +
        `Chromium offered sec-websocket-extensions "${connectHeaders && connectHeaders['sec-websocket-extensions']}"; the server answered "${(respHeaders && respHeaders['sec-websocket-extensions']) || '(none)'}" using ws's PerMessageDeflate, so data frames are compressed (RSV1). ` +
        'The server speaks first (welcome text), then answers each client message. Close: page ws.close(1000, "page done") -> Chromium sends Close 1000 "page done" in a DATA frame that also carries END_STREAM; server Close 1000 "bye", then server END_STREAM (empty DATA). TCP: the capture holds 3 connections from Chromium: tcp.stream 0 is abandoned by Chromium right after the ServerHello, tcp.stream 2 is a second (preconnect) h2 connection that completes TLS and exchanges SETTINGS, then is closed by Chromium unused; tcp.stream 1 carries everything (GET /, the WebSocket, POST /done); it ends with a server GOAWAY and Chromium being killed (FIN, then RST). ' +
        'Then the page POSTs a JSON report to /done on the same h2 connection; the server closes the session (GOAWAY) and Chromium is terminated. Decrypt with: tshark -o tls.keylog_file:chromium-h2-wss.keys. ' +
        'Client messages in "client" are as decoded by the server (decompressed). No pings were sent by either side. Full CONNECT request headers are in "connect_request_headers".',
      captured_with: `${chromiumVersion}; node ${process.version}, node:http2 (nghttp2 ${process.versions.nghttp2}), OpenSSL ${process.versions.openssl}; ws ${require('ws/package.json').version} (internal Sender/Receiver/PerMessageDeflate)`,
      port: PORT,
      h2_sessions_seen_by_server: sessions.length,
      streams: [{ h2_stream: wsStreamId, path: '/ws', subprotocol: (respHeaders && respHeaders['sec-websocket-protocol']) || '', extensions: (respHeaders && respHeaders['sec-websocket-extensions']) || '',
        extensions_offered: (connectHeaders && connectHeaders['sec-websocket-extensions']) || '',
        client: rec.client, server: rec.server, close: { client: rec.clientClose && rec.clientClose.code, server: 1000 }, close_reason: { client: rec.clientClose && rec.clientClose.reason, server: 'bye' } }],
      other_requests: other,
      connect_request_headers: connectHeaders,
      connect_response_headers: respHeaders,
      page_report: doneReport,
    };
    fs.writeFileSync(OUT, JSON.stringify(out, null, 2) + '\n');
    console.log('wrote', OUT);
    setTimeout(() => process.exit(0), 300);
  }, 500);
}

server.listen(PORT, '127.0.0.1', () => {
  try { fs.unlinkSync(KEYS); } catch {}
  const udd = fs.mkdtempSync(path.join(os.tmpdir(), 'chr-'));
  chrome = spawn(CHROMIUM, ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${udd}`,
    '--ignore-certificate-errors', '--host-resolver-rules=MAP localhost 127.0.0.1',
    `https://localhost:${PORT}/`], { env: { ...process.env, SSLKEYLOGFILE: KEYS }, stdio: ['ignore', 'ignore', 'pipe'] });
  chrome.stderr.on('data', (d) => { if (process.env.CHRDEBUG) process.stderr.write(d); });
  setTimeout(() => { if (!finished) { console.error('timeout'); finish(); } }, 20000);
});
