'use strict';
// Capture 1: two RFC 8441 WebSockets + one GET on one cleartext HTTP/2 (prior knowledge) connection.
const http2 = require('http2');
const fs = require('fs');
const path = require('path');
const { WsEnd } = require('./wsh2');

const PORT = +process.env.PORT || 18441;
const OUT = process.env.OUT || path.join(__dirname, '..', 'node-h2c-two.json');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const rec = { chat: { client: [], server: [] }, feed: { client: [], server: [] } };
const ids = {};
const otherRequests = [];
const serverWs = {};

const big = Array.from({ length: 400 }, (_, i) => `line ${String(i).padStart(4, '0')}: the quick brown fox jumps over the lazy dog\n`).join('').slice(0, 20000);

const server = http2.createServer({ settings: { enableConnectProtocol: true } });
server.on('stream', async (stream, headers) => {
  const p = headers[':path'];
  if (headers[':method'] === 'GET' && p === '/status') {
    const body = JSON.stringify({ status: 'ok', websockets: 2 });
    stream.respond({ ':status': 200, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    stream.end(body);
    return;
  }
  if (headers[':method'] !== 'CONNECT' || headers[':protocol'] !== 'websocket') { stream.respond({ ':status': 404 }, { endStream: true }); return; }
  const name = p.slice(1);
  const resp = { ':status': 200 };
  if (headers['sec-websocket-protocol'] && headers['sec-websocket-protocol'].split(/\s*,\s*/).includes('chat.v1')) resp['sec-websocket-protocol'] = 'chat.v1';
  stream.respond(resp);
  const ws = new WsEnd(stream, { isServer: true, log: rec[name].server });
  serverWs[name] = ws;
  for (;;) {
    const ev = await ws.next();
    if (ev.type === 'close') {
      await ws.close(1000, '');
      stream.end();
      return;
    }
    if (name === 'chat' && ev.type === 'text') {
      if (ev.text.length > 1000) await ws.send(`chat ack: received ${Buffer.byteLength(ev.text)} bytes`);
      else await ws.send(`chat ack: ${ev.text}`);
    } else if (name === 'chat' && ev.type === 'binary') {
      await ws.send(`chat ack: binary ${ev.data.length} bytes`);
    } else if (name === 'feed' && ev.type === 'text') {
      await ws.send('price:101.50');
      await ws.send('price:101.75');
    } else if (name === 'feed' && ev.type === 'binary') {
      await ws.send(Buffer.from(ev.data).reverse(), true);
    } else if (name === 'feed' && ev.type === 'pong') {
      // pong for our ping: nothing
    }
  }
});

function openWs(client, p, proto) {
  const h = {
    ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'http', ':path': p,
    ':authority': `127.0.0.1:${PORT}`, 'sec-websocket-version': '13',
  };
  if (proto) h['sec-websocket-protocol'] = proto;
  const s = client.request(h, { endStream: false });
  return new Promise((res, rej) => {
    s.on('response', (rh) => {
      if (rh[':status'] !== 200) return rej(new Error('status ' + rh[':status']));
      res({ s, rh });
    });
    s.on('error', rej);
  });
}

async function main() {
  await new Promise((r) => server.listen(PORT, '127.0.0.1', r));
  const client = http2.connect(`http://127.0.0.1:${PORT}`);
  await new Promise((r) => client.once('remoteSettings', r));
  if (!client.remoteSettings.enableConnectProtocol) throw new Error('no ENABLE_CONNECT_PROTOCOL');

  const A = await openWs(client, '/chat', 'chat.v1');
  ids.chat = A.s.id; rec.chat.proto = A.rh['sec-websocket-protocol'] || '';
  const B = await openWs(client, '/feed', null);
  ids.feed = B.s.id;
  const a = new WsEnd(A.s, { isServer: false, log: rec.chat.client });
  const b = new WsEnd(B.s, { isServer: false, log: rec.feed.client });

  await a.send('hello chat');
  await a.expect('text');
  await b.send('subscribe:prices');
  await b.expect('text');
  await a.send('second chat message');
  await a.expect('text');
  await b.expect('text');

  // ordinary GET on the same connection
  await new Promise((res, rej) => {
    const g = client.request({ ':method': 'GET', ':path': '/status', ':scheme': 'http', ':authority': `127.0.0.1:${PORT}` });
    let body = '';
    g.setEncoding('utf8');
    g.on('data', (d) => (body += d));
    g.on('end', () => { otherRequests.push({ h2_stream: g.id, method: 'GET', path: '/status', status: 200, response_body: body }); res(); });
    g.on('error', rej);
  });

  await a.send(big);               // > 16384 bytes -> several DATA frames
  await a.expect('text');
  await b.send(Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0xde, 0xad, 0xbe, 0xef]), true);
  await b.expect('binary');
  await a.ping('hb-1');
  await a.expect('pong');
  await serverWs.feed.ping('srv-ping');
  await sleep(50);
  // client B auto-answered the pong; consume the ping event
  await b.expect('ping');
  await a.send(Buffer.from('binary on chat \u00ff', 'latin1'), true);
  await a.expect('text');

  await a.close(1000, 'bye chat');
  await a.expect('close');
  A.s.end();
  await b.close(1000, '');
  await b.expect('close');
  B.s.end();
  await sleep(100);
  await new Promise((r) => client.close(r));
  await new Promise((r) => server.close(r));

  const out = {
    name: 'node-h2c-two',
    description: 'Node http2 cleartext, prior knowledge (client sends the h2 preface directly). Server SETTINGS has ENABLE_CONNECT_PROTOCOL=1. ' +
      `Client opens two RFC 8441 extended-CONNECT WebSockets: stream ${ids.chat} /chat (offers sec-websocket-protocol chat.v1, server accepts chat.v1) and stream ${ids.feed} /feed (no subprotocol); both answered :status 200. ` +
      'WebSocket framing by ws/lib/sender.js + receiver.js (client frames masked with random keys, server frames unmasked, no extensions). ' +
      `Messages on the two streams alternate. An ordinary GET /status (stream ${otherRequests[0] && otherRequests[0].h2_stream}) runs between them, answered 200 with a JSON body. ` +
      `The chat client sends a ${Buffer.byteLength(big)}-byte text message (spans several 16384-byte DATA frames). ` +
      'Control frames: client ping "hb-1" on /chat, server pong "hb-1"; server ping "srv-ping" on /feed, client pong "srv-ping". ' +
      'Close: client Close 1000 "bye chat" on /chat, server Close 1000 (no reason), then server END_STREAM, client END_STREAM; then the same on /feed (client Close 1000 no reason, server Close 1000). Then client session.close(): the client sends GOAWAY(last_stream_id 0, NO_ERROR) twice, the server answers with GOAWAY(last_stream_id 5, NO_ERROR) twice (node/nghttp2 behaviour), then TCP FIN both ways. ' +
      'Server and client ran in the same node process over TCP 127.0.0.1.',
    captured_with: `node ${process.version}, ws ${require('ws/package.json').version} (internal Sender/Receiver), node:http2 (nghttp2 ${process.versions.nghttp2})`,
    port: PORT,
    streams: [
      { h2_stream: ids.chat, path: '/chat', subprotocol: rec.chat.proto, extensions: '', client: rec.chat.client, server: rec.chat.server, close: { client: 1000, server: 1000 }, close_reason: { client: 'bye chat', server: '' } },
      { h2_stream: ids.feed, path: '/feed', subprotocol: '', extensions: '', client: rec.feed.client, server: rec.feed.server, close: { client: 1000, server: 1000 }, close_reason: { client: '', server: '' } },
    ],
    other_requests: otherRequests,
  };
  fs.writeFileSync(OUT, JSON.stringify(out, null, 2) + '\n');
  console.log('wrote', OUT);
}
main().catch((e) => { console.error(e); process.exit(1); });
