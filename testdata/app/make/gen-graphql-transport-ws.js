// graphql-ws (protocol graphql-transport-ws): server useServer on `ws` + client createClient.
const http = require('http');
const fs = require('fs');
const WebSocket = require('ws');
const { useServer } = require('graphql-ws/use/ws');
const { createClient } = require('graphql-ws');
const schema = require('./gql-schema');
const PORT = Number(process.argv[2] || 18086);
const DEFLATE = process.env.DEFLATE === '1';
const NAME = DEFLATE ? 'graphql-transport-ws-deflate' : 'graphql-transport-ws';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const messages = []; const api = []; let wsInfo = {};

(async () => {
  const httpServer = http.createServer();
  const wss = new WebSocket.Server({ server: httpServer, path: '/graphql', perMessageDeflate: DEFLATE ? { threshold: 0 } : false });
  // logging hook, registered before useServer's: every message the server receives/sends
  wss.on('connection', (ws, req) => {
    wsInfo = { path: req.url, subprotocol: ws.protocol, offered: req.headers['sec-websocket-protocol'] };
    ws.on('message', (d) => messages.push(Object.assign({ from: 'client' }, JSON.parse(String(d)))));
    const send = ws.send.bind(ws);
    ws.send = (d, ...rest) => { messages.push(Object.assign({ from: 'server' }, JSON.parse(String(d)))); return send(d, ...rest); };
    ws.on('close', (code, reason) => api.push({ side: 'server', what: 'ws close', code, reason: String(reason) }));
  });
  useServer({
    schema,
    onConnect: (ctx) => { api.push({ side: 'server', what: 'onConnect', connectionParams: ctx.connectionParams }); return { server: 'graphql-ws demo' }; }, // returned object = connection_ack payload
    onSubscribe: (ctx, id, payload) => { api.push({ side: 'server', what: 'onSubscribe', id, payload }); },
    onComplete: (ctx, id) => api.push({ side: 'server', what: 'onComplete', id }),
  }, wss);
  await new Promise((r) => httpServer.listen(PORT, '127.0.0.1', r));

  let n = 0;
  const client = createClient({
    url: `ws://127.0.0.1:${PORT}/graphql`, webSocketImpl: WebSocket, lazy: false, retryAttempts: 0,
    connectionParams: { authToken: 'token-abc' }, keepAlive: 300, generateID: () => String(++n),
    on: {
      connected: (s, payload) => api.push({ side: 'client', what: 'connected', ack_payload: payload }),
      ping: (received, payload) => api.push({ side: 'client', what: received ? 'ping received' : 'ping sent', payload }),
      pong: (received, payload) => api.push({ side: 'client', what: received ? 'pong received' : 'pong sent', payload }),
      closed: (e) => api.push({ side: 'client', what: 'closed', code: e.code, reason: String(e.reason) }),
    },
  });
  const run = (payload, opts = {}) => new Promise((resolve) => {
    const got = [];
    const un = client.subscribe(payload, {
      next: (v) => { got.push(v); api.push({ side: 'client', what: 'next', query: payload.query, value: v }); if (opts.stopAfter && got.length === opts.stopAfter) { un(); api.push({ side: 'client', what: 'unsubscribe (client complete)' }); resolve(got); } },
      error: (e) => { api.push({ side: 'client', what: 'error', query: payload.query, error: Array.isArray(e) ? e : String(e) }); resolve(got); },
      complete: () => { api.push({ side: 'client', what: 'complete', query: payload.query }); resolve(got); },
    });
  });
  await run({ query: 'subscription Countdown($from: Int!) { countdown(from: $from) }', variables: { from: 3 }, operationName: 'Countdown' });
  await run({ query: 'query Hello { hello(name: "ws") }', operationName: 'Hello' });
  await run({ query: '{ nope }' }); // validation error -> "error" message
  await run({ query: '{ boom }' }); // execution error -> "next" with errors, then complete
  await run({ query: 'subscription { ticker }' }, { stopAfter: 2 }); // client sends "complete"
  await sleep(450); // keepAlive 300 ms -> ping/pong
  await client.dispose();
  await sleep(200);
  httpServer.close(); wss.close();
  const v = (m) => require(`./node_modules/${m}/package.json`).version;
  const out = {
    protocol: 'graphql-transport-ws',
    description: 'graphql-ws protocol "graphql-transport-ws" over one WebSocket connection ws://127.0.0.1:PORT/graphql. connection_init (payload = connectionParams) / connection_ack (payload returned by onConnect); subscribe id 1 countdown(from:3) -> next x3 -> complete; subscribe id 2 query hello -> next -> complete; subscribe id 3 with a validation error -> error (payload = array of GraphQL errors, no complete); subscribe id 4 query whose resolver throws -> next {data:{boom:null},errors:[..]} -> complete; subscribe id 5 infinite ticker -> next x2 then the CLIENT sends complete; client keepAlive 300 ms -> {type:ping} / {type:pong}; client dispose -> WebSocket close 1000 "Normal Closure". "messages" = JSON messages as seen by the server\'s ws socket (hooked ws "message" events and ws.send), per direction in order; ids are made sequential with generateID.',
    captured_with: { node: process.version, 'graphql-ws': v('graphql-ws'), graphql: v('graphql'), ws: v('ws') },
    port: PORT, path: wsInfo.path, subprotocol: wsInfo.subprotocol, subprotocols_offered: wsInfo.offered,
    messages, api_log: api,
  };
  if (DEFLATE) { out.description = 'SAME exchange as graphql-transport-ws.pcap but with permessage-deflate negotiated (server ws perMessageDeflate {threshold:0}, client ws offers permessage-deflate; client_max_window_bits). Every data message is compressed (RSV1 set), with context takeover. ' + out.description; out.extensions = 'permessage-deflate'; }
  fs.writeFileSync(`${NAME}.json`, JSON.stringify(out, null, 1));
  setTimeout(() => process.exit(0), 100);
})();
