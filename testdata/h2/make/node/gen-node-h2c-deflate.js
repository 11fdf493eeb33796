'use strict';
// Capture 2: one RFC 8441 WebSocket with permessage-deflate (ws's PerMessageDeflate) over cleartext HTTP/2.
const http2 = require('http2');
const fs = require('fs');
const path = require('path');
const { WsEnd, wsLib } = require('./wsh2');
const PerMessageDeflate = wsLib('permessage-deflate.js');
const extension = wsLib('extension.js');

const PORT = +process.env.PORT || 18442;
const OUT = process.env.OUT || path.join(__dirname, '..', 'node-h2c-deflate.json');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rec = { client: [], server: [] };
let offered = '', answered = '';

const server = http2.createServer({ settings: { enableConnectProtocol: true } });
server.on('stream', async (stream, headers) => {
  if (headers[':method'] !== 'CONNECT' || headers[':protocol'] !== 'websocket') { stream.respond({ ':status': 404 }, { endStream: true }); return; }
  const resp = { ':status': 200 };
  const exts = {};
  if (headers['sec-websocket-extensions']) {
    const offers = extension.parse(headers['sec-websocket-extensions']);
    if (offers[PerMessageDeflate.extensionName]) {
      const pmd = new PerMessageDeflate({ isServer: true });
      pmd.accept(offers[PerMessageDeflate.extensionName]);
      exts[PerMessageDeflate.extensionName] = pmd;
      resp['sec-websocket-extensions'] = extension.format({ [PerMessageDeflate.extensionName]: pmd.params });
    }
  }
  stream.respond(resp);
  const ws = new WsEnd(stream, { isServer: true, extensions: exts, log: rec.server });
  let n = 0;
  for (;;) {
    const ev = await ws.next();
    if (ev.type === 'close') { await ws.close(1000, 'server done'); stream.end(); return; }
    if (ev.type === 'text') {
      const m = JSON.parse(ev.text);
      n++;
      await ws.send(JSON.stringify({ type: 'ack', seq: m.seq, status: 'accepted', server: 'node-h2c-deflate', note: 'this acknowledgement repeats so context takeover shrinks it' }));
    } else if (ev.type === 'binary') {
      await ws.send(Buffer.concat([Buffer.from('echo:'), ev.data]), true);
    }
  }
});

async function main() {
  await new Promise((r) => server.listen(PORT, '127.0.0.1', r));
  const client = http2.connect(`http://127.0.0.1:${PORT}`);
  await new Promise((r) => client.once('remoteSettings', r));
  const pmd = new PerMessageDeflate({ isServer: false, clientMaxWindowBits: false });
  offered = 'permessage-deflate'; // == extension.format({ 'permessage-deflate': pmd.offer() })
  if (extension.format({ [PerMessageDeflate.extensionName]: pmd.offer() }) !== offered) throw new Error('offer mismatch');
  const s = client.request({
    ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'http', ':path': '/chat',
    ':authority': `127.0.0.1:${PORT}`, 'sec-websocket-version': '13', 'sec-websocket-extensions': offered,
  }, { endStream: false });
  const rh = await new Promise((res, rej) => { s.on('response', res); s.on('error', rej); });
  if (rh[':status'] !== 200) throw new Error('status');
  answered = rh['sec-websocket-extensions'] || '';
  const exts = {};
  if (answered) { pmd.accept(extension.parse(answered)[PerMessageDeflate.extensionName]); exts[PerMessageDeflate.extensionName] = pmd; }
  const c = new WsEnd(s, { isServer: false, extensions: exts, log: rec.client });

  for (let seq = 1; seq <= 5; seq++) {
    await c.send(JSON.stringify({ type: 'price_update', seq, symbol: 'ACME', exchange: 'XNYS', bid: 101.25, ask: 101.5, currency: 'USD', source: 'node-h2c-deflate client' }));
    await c.expect('text');
  }
  await c.send(Buffer.from('binary payload binary payload binary payload'), true);
  await c.expect('binary');
  await c.ping('are-you-there');
  await c.expect('pong');
  await c.close(1000, 'client done');
  await c.expect('close');
  s.end();
  await sleep(100);
  await new Promise((r) => client.close(r));
  await new Promise((r) => server.close(r));

  const out = {
    name: 'node-h2c-deflate',
    description: 'Node http2 cleartext, prior knowledge; server SETTINGS ENABLE_CONNECT_PROTOCOL=1. One RFC 8441 extended-CONNECT WebSocket on stream 1 (/chat), ' +
      `client offers sec-websocket-extensions "${offered}", server answers "${answered}" (so context takeover on both sides, 15-bit windows). ` +
      'Framing and compression by ws/lib/sender.js, receiver.js and permessage-deflate.js: every data message is compressed (RSV1 set on the first/only frame) and the trailing 00 00 ff ff removed; ' +
      'the client sends 5 similar JSON texts and the server answers each with a nearly identical JSON ack, so from the 2nd message on the compressed frames are much smaller (LZ77 back-references into the previous messages). ' +
      'Then client binary (compressed) and server binary echo (compressed). Control: client ping "are-you-there", server pong "are-you-there" (control frames never compressed). ' +
      'Close: client Close 1000 "client done", server Close 1000 "server done", then server END_STREAM, client END_STREAM, then client session.close(): client GOAWAY(0, NO_ERROR) twice, server GOAWAY(1, NO_ERROR) twice (node/nghttp2 behaviour), TCP FIN both ways. Client frames masked. Both peers in one node process over 127.0.0.1.',
    captured_with: `node ${process.version}, ws ${require('ws/package.json').version} (internal Sender/Receiver/PerMessageDeflate), node:http2 (nghttp2 ${process.versions.nghttp2}), zlib ${process.versions.zlib}`,
    port: PORT,
    streams: [{ h2_stream: s.id, path: '/chat', subprotocol: '', extensions: answered, extensions_offered: offered, client: rec.client, server: rec.server, close: { client: 1000, server: 1000 }, close_reason: { client: 'client done', server: 'server done' } }],
    other_requests: [],
  };
  fs.writeFileSync(OUT, JSON.stringify(out, null, 2) + '\n');
  console.log('wrote', OUT);
}
main().catch((e) => { console.error(e); process.exit(1); });
