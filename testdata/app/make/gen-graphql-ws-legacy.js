// Legacy Apollo protocol "graphql-ws" (subscriptions-transport-ws): SubscriptionServer + SubscriptionClient.
const http = require('http');
const fs = require('fs');
const WebSocket = require('ws');
const { execute, subscribe } = require('graphql');
const { SubscriptionServer, SubscriptionClient } = require('subscriptions-transport-ws');
const schema = require('./gql-schema');
const PORT = Number(process.argv[2] || 18087);
const NAME = 'graphql-ws-legacy';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const messages = []; const api = []; let wsInfo = {};

(async () => {
  const httpServer = http.createServer();
  const wss = new WebSocket.Server({ server: httpServer, path: '/subscriptions' });
  wss.on('connection', (ws, req) => { // registered before SubscriptionServer's handler
    wsInfo = { path: req.url, subprotocol: ws.protocol, offered: req.headers['sec-websocket-protocol'] };
    ws.on('message', (d) => messages.push(Object.assign({ from: 'client' }, JSON.parse(String(d)))));
    const send = ws.send.bind(ws);
    ws.send = (d, ...rest) => { messages.push(Object.assign({ from: 'server' }, JSON.parse(String(d)))); return send(d, ...rest); };
    ws.on('close', (code, reason) => api.push({ side: 'server', what: 'ws close', code, reason: String(reason) }));
  });
  SubscriptionServer.create({
    schema, execute, subscribe, keepAlive: 400,
    onConnect: (params) => { api.push({ side: 'server', what: 'onConnect', connectionParams: params }); return { user: 'ana' }; },
    onOperation: (msg, params) => { api.push({ side: 'server', what: 'onOperation', id: msg.id, payload: msg.payload }); if (msg.payload.operationName === 'Forbidden') throw new Error('operation Forbidden is not allowed'); return params; },
    onOperationComplete: (ws, id) => api.push({ side: 'server', what: 'onOperationComplete', id }),
    onDisconnect: () => api.push({ side: 'server', what: 'onDisconnect' }),
  }, wss);
  await new Promise((r) => httpServer.listen(PORT, '127.0.0.1', r));

  const client = new SubscriptionClient(`ws://127.0.0.1:${PORT}/subscriptions`, { reconnect: false, lazy: false, connectionParams: { authToken: 'token-abc' } }, WebSocket);
  client.onConnected(() => api.push({ side: 'client', what: 'connected' }));
  const run = (req, stopAfter) => new Promise((resolve) => {
    const got = [];
    const sub = client.request(req).subscribe({
      next: (v) => { got.push(v); api.push({ side: 'client', what: 'next', query: req.query, value: v }); if (stopAfter && got.length === stopAfter) { sub.unsubscribe(); api.push({ side: 'client', what: 'unsubscribe (client stop)' }); resolve(); } },
      error: (e) => { api.push({ side: 'client', what: 'error', query: req.query, error: Array.isArray(e) ? e : (e && e.message) || e }); resolve(); },
      complete: () => { api.push({ side: 'client', what: 'complete', query: req.query }); resolve(); },
    });
  });
  await run({ query: 'subscription Countdown($from: Int!) { countdown(from: $from) }', variables: { from: 3 }, operationName: 'Countdown' });
  await run({ query: 'query Hello { hello(name: "legacy") }', operationName: 'Hello' });
  await run({ query: '{ nope }' });
  await run({ query: '{ boom }' });
  await run({ query: 'query Forbidden { hello }', operationName: 'Forbidden' }); // onOperation throws -> "error" message
  await run({ query: 'subscription { ticker }' }, 2);
  await sleep(500); // keepAlive 400 ms -> "ka"
  client.close(); // sends connection_terminate, closes
  api.push({ side: 'client', what: 'close()' });
  await sleep(300);
  httpServer.close(); wss.close();
  const v = (m) => require(`./node_modules/${m}/package.json`).version;
  const out = {
    protocol: 'graphql-ws',
    description: 'Legacy Apollo "graphql-ws" protocol (subscriptions-transport-ws, NOT the graphql-ws npm package) over one WebSocket connection ws://127.0.0.1:PORT/subscriptions, subprotocol graphql-ws. Real library on both sides (SubscriptionServer given our own ws 8 WebSocket.Server; SubscriptionClient with ws 8 as WebSocket implementation). connection_init (payload = connectionParams) -> connection_ack + ka (keepAlive 400 ms sends "ka" right after the ack and then periodically); start id 1 countdown -> data x3 -> complete; start id 2 query -> data -> complete; start id 3 with a validation error -> this library sends "data" {errors:[..]} + complete (not "error"); start id 4 resolver error -> data {errors,data} -> complete; start id 5 where the server onOperation hook throws -> "error" message {id:5,payload:{message}} (no complete); start id 6 ticker -> data x2 then client "stop" (one more data and a complete still arrive from the server after the stop); client close() -> "connection_terminate" then WebSocket close. "messages" = JSON messages seen by the server ws socket (hooked), per direction in order; ids are the library\'s own sequential ids.',
    captured_with: { node: process.version, 'subscriptions-transport-ws': v('subscriptions-transport-ws'), graphql: v('graphql'), ws: v('ws') },
    port: PORT, path: wsInfo.path, subprotocol: wsInfo.subprotocol, subprotocols_offered: wsInfo.offered,
    messages, api_log: api,
  };
  fs.writeFileSync(`${NAME}.json`, JSON.stringify(out, null, 1));
  setTimeout(() => process.exit(0), 100);
})();
