// Socket.IO 4 (EIO=4) over a single WebSocket connection (transports: ['websocket']).
const http = require('http');
const fs = require('fs');
const { Server } = require('socket.io');
const { Manager } = require('socket.io-client');
const { hookEngine, jsonable } = require('./sio-log');
const PORT = Number(process.argv[2] || 18080);
const NAME = 'socketio-ws';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = { engineio_packets: [], events: [], api_log: [] };
const api = (side, what, x) => log.api_log.push(Object.assign({ side, what }, jsonable(x || {})));

const httpServer = http.createServer();
const io = new Server(httpServer, { transports: ['websocket'], pingInterval: 300, pingTimeout: 2000 });
hookEngine(log, (es) => { log.ws_path = es.request.url; });

io.on('connection', (socket) => {
  api('server', 'connection', { nsp: '/' });
  socket.on('chat', (...args) => api('server', 'on chat', { args }));
  socket.on('add', (a, b, cb) => { api('server', 'on add -> ack', { args: [a, b], ack: [a + b, 'ok'] }); cb(a + b, 'ok'); });
  socket.on('upload', (name, buf, meta) => api('server', 'on upload', { args: [name, buf, meta] }));
  socket.on('blob', (buf, cb) => { const rep = Buffer.from('pong-bytes'); api('server', 'on blob -> binary ack', { args: [buf], ack: [rep, buf.length] }); cb(rep, buf.length); });
  socket.on('tick', (n) => api('server', 'on tick (volatile)', { args: [n] }));
  socket.on('disconnect', (reason) => api('server', 'disconnect', { nsp: '/', reason }));
});
const admin = io.of('/admin');
admin.use((socket, next) => {
  api('server', 'admin middleware auth', { auth: socket.handshake.auth });
  socket.handshake.auth.token === 's3cret' ? next() : next(new Error('bad token'));
});
admin.on('connection', (socket) => {
  api('server', 'connection', { nsp: '/admin' });
  socket.on('kick', (user, cb) => { api('server', 'admin on kick -> ack', { args: [user], ack: [true] }); cb(true); });
  socket.on('disconnect', (reason) => api('server', 'disconnect', { nsp: '/admin', reason }));
  socket.emit('stats', { users: 3, uptime: 12.5 });
  api('server', 'admin emit stats', { args: [{ users: 3, uptime: 12.5 }] });
});

httpServer.listen(PORT, '127.0.0.1', async () => {
  const mgr = new Manager(`http://127.0.0.1:${PORT}`, { transports: ['websocket'], autoConnect: false, reconnection: false });
  const sock = mgr.socket('/');
  // server -> client event with ack
  sock.on('question', (q, n, cb) => { api('client', 'on question -> ack', { args: [q, n], ack: ['yes', 1] }); cb('yes', 1); });
  sock.on('news', (...args) => api('client', 'on news', { args }));
  sock.on('disconnect', (reason) => api('client', 'disconnect', { nsp: '/', reason }));
  sock.connect();
  await new Promise((r) => sock.once('connect', r));
  api('client', 'connect', { nsp: '/', id: sock.id });

  sock.emit('chat', 'hello', 42, { user: 'ana', tags: ['a', 'b'], nested: { ok: true, n: null } });
  api('client', 'emit chat', { args: ['hello', 42, { user: 'ana', tags: ['a', 'b'], nested: { ok: true, n: null } }] });
  await sleep(50);

  const r = await new Promise((res) => sock.emit('add', 2, 3, (...a) => res(a)));
  api('client', 'emit add with ack; ack received', { args: [2, 3], ack: r });
  await sleep(50);

  const srv = [...io.of('/').sockets.values()][0];
  const ans = await new Promise((res) => srv.emit('question', 'ready?', 7, (...a) => res(a)));
  api('server', 'emit question with ack; ack received', { args: ['ready?', 7], ack: ans });
  await sleep(50);

  sock.emit('upload', 'file.bin', Buffer.from([0, 1, 2, 3, 0xfe, 0xff]), { size: 6, thumb: Buffer.from('PNG') });
  api('client', 'emit upload (2 binary attachments)', { args: ['file.bin', Buffer.from([0, 1, 2, 3, 0xfe, 0xff]), { size: 6, thumb: Buffer.from('PNG') }] });
  await sleep(50);

  const br = await new Promise((res) => sock.emit('blob', Buffer.from('ping-bytes'), (...a) => res(a)));
  api('client', 'emit blob with ack; binary ack received', { args: [Buffer.from('ping-bytes')], ack: br });
  await sleep(50);

  sock.volatile.emit('tick', 1);
  api('client', 'volatile emit tick', { args: [1] });
  srv.volatile.emit('news', 'volatile-news', 99);
  api('server', 'volatile emit news', { args: ['volatile-news', 99] });

  await sleep(400); // let one Engine.IO ping/pong (pingInterval 300 ms) happen

  const adm = mgr.socket('/admin', { auth: { token: 's3cret', role: 'ops' } });
  adm.on('stats', (s) => api('client', 'admin on stats', { args: [s] }));
  adm.connect();
  await new Promise((res) => adm.once('connect', res));
  api('client', 'connect', { nsp: '/admin', auth: { token: 's3cret', role: 'ops' }, id: adm.id });
  await sleep(30);
  const kr = await new Promise((res) => adm.emit('kick', 'user7', (...a) => res(a)));
  api('client', 'admin emit kick with ack; ack received', { args: ['user7'], ack: kr });
  await sleep(30);
  adm.disconnect();
  api('client', 'admin disconnect', {});
  await sleep(100);
  sock.disconnect();
  api('client', 'disconnect /', {});
  await sleep(200);
  io.close();
  const out = {
    protocol: 'socket.io', eio: 4,
    description: 'Socket.IO 4 over ONE WebSocket TCP connection (client transports:["websocket"], no HTTP polling). GET /socket.io/?EIO=4&transport=websocket, no Sec-WebSocket-Protocol. Engine.IO open (0{...}), pingInterval=300ms so server "2" pings and client "3" pongs appear (several); Socket.IO CONNECT to "/" (no auth), events with string/number/object args, client EVENT with ack id (ACK reply with args), server->client EVENT with ack, BINARY_EVENT with 2 attachments (each attachment is a separate binary WebSocket message, no leading 4 byte as EIO4 sends binary frames raw), BINARY_EVENT with ack answered by BINARY_ACK with 1 attachment, volatile events both ways, CONNECT to /admin with auth payload {token,role}, server event on /admin, ack on /admin, DISCONNECT from /admin ("41/admin,"), then DISCONNECT "/" ("41") and the client closes the WebSocket (the last socket closing makes the Manager close the engine). "events" = Socket.IO packets decoded (socket.io-parser) from the engine.io packets as seen by the server engine socket, in order; "engineio_packets" = raw Engine.IO packets (server-side view: engine.io Socket "packet"/"packetCreate" events; the text in "events[].text" is the Socket.IO packet encoding, the WebSocket text message is "4" + that); "api_log" = what the application code called/received.',
    captured_with: capturedWith(['socket.io', 'socket.io-client', 'engine.io', 'engine.io-client', 'socket.io-parser', 'engine.io-parser', 'ws']),
    port: PORT, path: log.ws_path, subprotocol: null, tcp_connections: 1,
    events: log.events, engineio_packets: log.engineio_packets, api_log: log.api_log,
  };
  if (log.errors) out.errors = log.errors;
  fs.writeFileSync(`${NAME}.json`, JSON.stringify(out, null, 1));
  setTimeout(() => process.exit(0), 100);
});
function capturedWith(mods) {
  const o = { node: process.version };
  for (const m of mods) o[m] = require(`./node_modules/${m}/package.json`).version;
  return o;
}
