// Socket.IO 4 (EIO=4) with default transports: HTTP long-polling first, then upgrade to WebSocket.
const http = require('http');
const fs = require('fs');
const { Server } = require('socket.io');
const { Manager } = require('socket.io-client');
const { hookEngine, jsonable } = require('./sio-log');
const PORT = Number(process.argv[2] || 18081);
const NAME = 'socketio-polling';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = { engineio_packets: [], events: [], api_log: [] };
const api = (side, what, x) => log.api_log.push(Object.assign({ side, what }, jsonable(x || {})));

const httpServer = http.createServer();
const io = new Server(httpServer, { pingInterval: 1000, pingTimeout: 2000 });
hookEngine(log, (es) => {
  log.handshake_url = es.request.url;
  es.on('upgrade', (t) => { api('server', 'engine upgrade', { transport: t.name }); log.engineio_packets.push({ marker: 'server engine upgraded to ' + t.name + ' (before this, on the new WebSocket: client "2probe", server "3probe", client "5" upgrade; a polling GET still pending then is answered with a "6" noop, which happens in some runs only)' }); });
});
io.on('connection', (socket) => {
  api('server', 'connection', { nsp: '/', transport: socket.conn.transport.name });
  // two emits in a row while still on polling -> batched in one polling response (\x1e separated)
  socket.emit('welcome', 'hi', 1);
  socket.emit('motd', { text: 'have fun' });
  api('server', 'emit welcome + motd (while polling)', {});
  socket.on('chat', (msg, cb) => { api('server', 'on chat -> ack', { transport: socket.conn.transport.name, args: [msg], ack: ['got:' + msg] }); cb('got:' + msg); });
  socket.on('bin', (b) => api('server', 'on bin', { transport: socket.conn.transport.name, args: [b] }));
  socket.on('disconnect', (reason) => api('server', 'disconnect', { reason }));
});

httpServer.listen(PORT, '127.0.0.1', async () => {
  const mgr = new Manager(`http://127.0.0.1:${PORT}`, { autoConnect: false, reconnection: false });
  const sock = mgr.socket('/');
  const got = {};
  const waitFor = (ev) => new Promise((r) => (got[ev] ? r(got[ev]) : sock.once(ev, (...a) => r(a))));
  sock.on('welcome', (...a) => { got.welcome = a; api('client', 'on welcome', { args: a }); });
  sock.on('motd', (...a) => { got.motd = a; api('client', 'on motd', { args: a }); });
  sock.on('news', (...a) => api('client', 'on news', { transport: mgr.engine.transport.name, args: a }));
  mgr.open();
  const upgraded = new Promise((r) => mgr.engine.once('upgrade', (t) => { api('client', 'engine upgrade', { transport: t.name }); r(); }));
  sock.connect();
  await new Promise((r) => sock.once('connect', r));
  api('client', 'connect', { nsp: '/', transport: mgr.engine.transport.name });
  await waitFor('welcome'); await waitFor('motd');
  await upgraded;
  await sleep(50);
  const r = await new Promise((res) => sock.emit('chat', 'after-upgrade', (...a) => res(a)));
  api('client', 'emit chat with ack (websocket); ack received', { transport: mgr.engine.transport.name, args: ['after-upgrade'], ack: r });
  await sleep(30);
  sock.emit('bin', Buffer.from([0xde, 0xad, 0xbe, 0xef]));
  api('client', 'emit bin', { args: [Buffer.from([0xde, 0xad, 0xbe, 0xef])] });
  await sleep(30);
  const srv = [...io.of('/').sockets.values()][0];
  srv.emit('news', 'over websocket', 2);
  api('server', 'emit news', { transport: srv.conn.transport.name, args: ['over websocket', 2] });
  await sleep(1200); // one ping/pong over the websocket (pingInterval 1000)
  sock.disconnect();
  api('client', 'disconnect', {});
  await sleep(200);
  io.close();
  const out = {
    protocol: 'socket.io', eio: 4,
    description: 'Socket.IO 4 with default transports ["polling","websocket"]: Engine.IO handshake over HTTP long-polling (GET /socket.io/?EIO=4&transport=polling&t=..., response "0{sid,upgrades:[websocket],...}"), CONNECT "40" sent by POST, server reply and two server events batched in one polling GET response (packets separated by \\x1e), then the upgrade: GET /socket.io/?EIO=4&transport=websocket&sid=<sid> on a NEW TCP connection, client sends "2probe", server answers "3probe", client sends "5" (upgrade); a polling GET still pending at that moment is closed with a "6" (noop) response (timing dependent: present in some runs only, see capture_check). After the upgrade: client EVENT with ack + ACK, a BINARY_EVENT with 1 attachment, a server EVENT, one Engine.IO ping "2"/pong "3" over the websocket (pingInterval 1000 ms), client DISCONNECT "41" and WebSocket close. The probe packets (2probe/3probe/5) are handled inside engine.io\'s upgrade logic and are not emitted as "packet" events, so they appear in the capture but not in engineio_packets (noted as markers). The HTTP polling requests may use 1 or more TCP connections (Node http agent keep-alive); see tcp_connections.',
    captured_with: capturedWith(['socket.io', 'socket.io-client', 'engine.io', 'engine.io-client', 'socket.io-parser', 'engine.io-parser', 'ws', 'xmlhttprequest-ssl']),
    port: PORT, path: '/socket.io/', handshake_url: log.handshake_url, subprotocol: null,
    events: log.events, engineio_packets: log.engineio_packets, api_log: log.api_log,
  };
  fs.writeFileSync(`${NAME}.json`, JSON.stringify(out, null, 1));
  setTimeout(() => process.exit(0), 100);
});
function capturedWith(mods) {
  const o = { node: process.version };
  for (const m of mods) o[m] = require(`./node_modules/${m}/package.json`).version;
  return o;
}
