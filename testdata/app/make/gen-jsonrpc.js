// JSON-RPC 2.0 over WebSocket with rpc-websockets (Server + Client).
const fs = require('fs');
const { Server, Client } = require('rpc-websockets');
const PORT = Number(process.argv[2] || 18088);
const NAME = 'jsonrpc';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const messages = []; const api = []; let wsInfo = {};

function classify(m) {
  if (Array.isArray(m)) return { kind: 'batch', items: m.map(classify) };
  const o = {};
  if (m.method !== undefined) { o.kind = m.id !== undefined ? 'request' : 'notification'; o.method = m.method; if (m.id !== undefined) o.id = m.id; if (m.params !== undefined) o.params = m.params; }
  else if (m.notification !== undefined) { o.kind = 'rpc-websockets-event'; o.notification = m.notification; o.params = m.params; o.note = 'rpc-websockets event format {notification,params}: not JSON-RPC 2.0 (no jsonrpc member)'; }
  else if ('error' in m) { o.kind = 'error'; o.id = m.id; o.error = m.error; }
  else { o.kind = 'response'; o.id = m.id; o.result = m.result; }
  if (m.jsonrpc !== undefined) o.jsonrpc = m.jsonrpc;
  return o;
}

(async () => {
  const server = new Server({ port: PORT, host: '127.0.0.1' });
  server.on('connection', (socket, req) => { // emitted before rpc-websockets attaches its message handler
    wsInfo = { path: req.url, subprotocol: socket.protocol, offered: req.headers['sec-websocket-protocol'] };
    socket.on('message', (d) => messages.push(Object.assign({ from: 'client' }, classify(JSON.parse(String(d))), { raw: String(d) })));
    const send = socket.send.bind(socket);
    socket.send = (d, ...rest) => { messages.push(Object.assign({ from: 'server' }, classify(JSON.parse(String(d))), { raw: String(d) })); return send(d, ...rest); };
  });
  await new Promise((r) => server.on('listening', r));
  const ns = server.of('/rpc'); // rpc-websockets namespace = URL path
  ns.register('add', (params) => params.reduce((a, b) => a + b, 0));
  ns.register('echo', (params) => params);
  ns.register('divide', ([a, b]) => { if (b === 0) throw { code: -32010, message: 'Division by zero', data: { a, b } }; return a / b; });
  ns.register('log', (params) => { api.push({ side: 'server', what: 'notification log received', params }); });
  ns.event('tick');

  const client = new Client(`ws://127.0.0.1:${PORT}/rpc`, { reconnect: false });
  await new Promise((r) => client.on('open', r));
  const call = async (method, params) => {
    try { const result = await client.call(method, params); api.push({ side: 'client', what: 'call result', method, params, result }); }
    catch (e) { api.push({ side: 'client', what: 'call error', method, params, error: e }); }
  };
  await call('add', [2, 3, 4]);
  await call('echo', { text: 'héllo', nested: { list: [1, null, true] } });
  await client.notify('log', ['client says hi', { level: 'info' }]);
  api.push({ side: 'client', what: 'notify log' });
  await sleep(30);
  await call('nosuchmethod', [1]); // -32601 Method not found
  await client.notify('unknownNotification', { x: 1 }); // rpc-websockets quirk: replies with an error whose id is null
  api.push({ side: 'client', what: 'notify unknownNotification (server answers with error id:null, which the client ignores)' });
  await sleep(30);
  await call('divide', [1, 0]);    // application error object
  // server -> client: rpc-websockets event (after rpc.on subscribe) and a raw standard JSON-RPC notification
  client.on('tick', (p) => api.push({ side: 'client', what: 'event tick', params: p }));
  const subr = await client.subscribe('tick');
  api.push({ side: 'client', what: 'subscribe tick (rpc.on)', result: subr });
  ns.emit('tick', { n: 1, ts: 1700000000 });
  await sleep(30);
  client.on('serverNotice', (p) => api.push({ side: 'client', what: 'server JSON-RPC notification serverNotice', params: p }));
  const sock = [...server.namespaces['/rpc'].clients.values()][0];
  sock.send(JSON.stringify({ jsonrpc: '2.0', method: 'serverNotice', params: ['maintenance at 02:00'] }));
  await sleep(30);
  // batch: rpc-websockets' Client cannot send batches, so we send a raw array over its own ws socket
  const batch = [
    { jsonrpc: '2.0', method: 'add', params: [1, 1], id: 100 },
    { jsonrpc: '2.0', method: 'log', params: ['in batch'] },
    { jsonrpc: '2.0', method: 'nosuch', params: [], id: 101 },
    { jsonrpc: '2.0', method: 'echo', params: ['x'], id: 'str-id-102' },
  ];
  client.socket.send(JSON.stringify(batch));
  api.push({ side: 'client', what: 'raw batch sent on client.socket (library has no batch API)', batch });
  await sleep(50);
  await client.unsubscribe('tick');
  api.push({ side: 'client', what: 'unsubscribe tick (rpc.off)' });
  client.close();
  await sleep(200);
  await server.close();
  const v = (m) => require(`./node_modules/${m}/package.json`).version;
  const out = {
    protocol: 'json-rpc',
    description: 'JSON-RPC 2.0 over one WebSocket connection ws://127.0.0.1:PORT/rpc (no subprotocol) with rpc-websockets Server + Client. Requests with positional and named params and responses (ids are the library counter 1,2,...; raw = exact message text), a client notification (no id, no reply), a notification to an unregistered method which rpc-websockets answers with an error response with id null (library quirk; JSON-RPC says notifications get no reply), -32601 Method not found error response, an application error object thrown by a method, rpc.on/rpc.off subscribe calls, a server->client rpc-websockets "event" (library-specific {notification,params} message WITHOUT jsonrpc member), a standard server->client JSON-RPC notification (sent raw on the server socket), and a batch array (sent raw over the client library\'s own ws socket because rpc-websockets Client has no batch API): 3 requests + 1 notification -> array of 3 responses (one an error), which the rpc-websockets client silently ignores. "messages" = JSON messages seen by the server ws socket (hooked), per direction in order, with kind classified.',
    captured_with: { node: process.version, 'rpc-websockets': v('rpc-websockets'), ws: v('ws') },
    port: PORT, path: wsInfo.path, subprotocol: wsInfo.subprotocol || null, subprotocols_offered: wsInfo.offered || null,
    messages, api_log: api,
  };
  fs.writeFileSync(`${NAME}.json`, JSON.stringify(out, null, 1));
  setTimeout(() => process.exit(0), 100);
})();
