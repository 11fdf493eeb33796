// MQTT 3.1.1 over WebSocket: mqtt.js client <-> aedes broker (ws + createWebSocketStream), path /mqtt.
const http = require('http');
const fs = require('fs');
const { WebSocketServer, createWebSocketStream } = require('ws');
const { Aedes } = require('aedes');
const mqtt = require('mqtt');
const PORT = Number(process.argv[2] || 18083);
const NAME = 'mqtt-v311';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const packets = [];
const api = [];
const big = Buffer.alloc(70 * 1024, 0); for (let i = 0; i < big.length; i++) big[i] = 0x41 + (i % 26);

function rec(from, p) {
  const o = { from, type: p.cmd.toUpperCase() };
  if (p.cmd === 'connect') Object.assign(o, { protocol_id: p.protocolId, protocol_version: p.protocolVersion, client_id: p.clientId, keepalive: p.keepalive, clean: p.clean, username: p.username, password: p.password && p.password.toString(), will: p.will && { topic: p.will.topic, payload: p.will.payload.toString(), qos: p.will.qos, retain: p.will.retain } });
  else if (p.cmd === 'connack') Object.assign(o, { session_present: p.sessionPresent, return_code: p.returnCode });
  else if (p.cmd === 'publish') {
    Object.assign(o, { topic: p.topic, qos: p.qos, retain: p.retain, dup: p.dup });
    if (p.qos > 0) o.packet_id = p.messageId;
    const pl = Buffer.from(p.payload);
    if (pl.length > 200) { o.payload_len = pl.length; o.payload_prefix = pl.subarray(0, 32).toString(); o.payload_note = 'bytes 0x41+(i%26) i.e. ABC..Z repeated'; } else o.payload = pl.toString();
  } else if (['puback', 'pubrec', 'pubrel', 'pubcomp', 'unsuback'].includes(p.cmd)) o.packet_id = p.messageId;
  else if (p.cmd === 'subscribe') Object.assign(o, { packet_id: p.messageId, subscriptions: p.subscriptions.map((s) => ({ topic: s.topic, qos: s.qos })) });
  else if (p.cmd === 'suback') Object.assign(o, { packet_id: p.messageId, granted: p.granted });
  else if (p.cmd === 'unsubscribe') Object.assign(o, { packet_id: p.messageId, topics: p.unsubscriptions });
  packets.push(o);
}

(async () => {
  const aedes = await Aedes.createBroker();
  aedes.authenticate = (client, username, password, cb) => cb(null, username === 'alice' && String(password) === 'secret');
  const httpServer = http.createServer();
  const wss = new WebSocketServer({ server: httpServer, path: '/mqtt' });
  let wsInfo = {};
  wss.on('connection', (ws, req) => { wsInfo = { path: req.url, subprotocol: ws.protocol }; aedes.handle(createWebSocketStream(ws), req); });
  await new Promise((r) => httpServer.listen(PORT, '127.0.0.1', r));

  const client = mqtt.connect(`ws://127.0.0.1:${PORT}/mqtt`, {
    protocolVersion: 4, clientId: 'sensor-7', username: 'alice', password: 'secret', keepalive: 1, clean: true, reconnectPeriod: 0, manualConnect: true,
    will: { topic: 'sensors/7/status', payload: Buffer.from('offline'), qos: 1, retain: true },
  });
  client.on('packetsend', (p) => rec('client', p));
  client.on('packetreceive', (p) => rec('server', p));
  client.connect();
  client.on('message', (topic, payload, p) => api.push({ side: 'client', what: 'message', topic, qos: p.qos, retain: p.retain, payload_len: payload.length, payload: payload.length < 200 ? payload.toString() : undefined }));
  await new Promise((r) => client.once('connect', r));
  api.push({ side: 'client', what: 'connect' });

  const sub = await client.subscribeAsync({ 'sensors/+/temp': { qos: 0 }, 'alerts/#': { qos: 1 } });
  api.push({ side: 'client', what: 'subscribe granted', granted: sub });
  await client.publishAsync('sensors/7/temp', '21.5', { qos: 0 });
  await sleep(50);
  await client.publishAsync('alerts/fire', 'smoke detected', { qos: 1 });
  await sleep(50);
  await client.publishAsync('alerts/door', 'front door open', { qos: 2 });
  await sleep(50);
  await client.publishAsync('config/7/interval', '30s', { qos: 1, retain: true });
  await sleep(50);
  const sub2 = await client.subscribeAsync('config/#', { qos: 1 }); // broker sends the retained message back
  api.push({ side: 'client', what: 'subscribe config/# granted', granted: sub2 });
  await sleep(100);
  await client.publishAsync('bulk/7/dump', big, { qos: 1 });
  await sleep(100);
  await client.unsubscribeAsync('sensors/+/temp');
  await sleep(1600); // keepalive 1 s -> PINGREQ / PINGRESP
  await client.endAsync();
  api.push({ side: 'client', what: 'end' });
  await sleep(200);
  await new Promise((r) => aedes.close(r));
  httpServer.close();
  const v = (m) => require(`./node_modules/${m}/package.json`).version;
  const out = {
    protocol: 'mqtt', version: '3.1.1', description: 'MQTT 3.1.1 (protocol level 4) over one WebSocket connection, ws://127.0.0.1:PORT/mqtt, subprotocol "mqtt". Client mqtt.js, broker aedes fed by ws.createWebSocketStream. CONNECT with username/password and a retained QoS1 will, keepalive=1 s; one SUBSCRIBE with two topic filters (sensors/+/temp QoS0, alerts/# QoS1); PUBLISH QoS0 (echoed back by the broker because we are subscribed), QoS1 with PUBACK (echoed back at QoS1 -> client PUBACKs), QoS2 with PUBREC/PUBREL/PUBCOMP (delivered back at granted QoS1), a retained PUBLISH then SUBSCRIBE config/# so the broker sends the retained message (retain flag set), a 70 KiB QoS1 PUBLISH to an unsubscribed topic (WebSocket payload > 65535 so the 64-bit length form is used), UNSUBSCRIBE/UNSUBACK, PINGREQ/PINGRESP from keepalive, DISCONNECT. "packets" = mqtt.js "packetsend"/"packetreceive" events in order (packet ids are mqtt.js messageId as reported by the library). "ws_mapping" = the capture decoded independently (mqttmap.py): see description_mapping.',
    captured_with: { node: process.version, mqtt: v('mqtt'), 'mqtt-packet': v('mqtt-packet'), aedes: v('aedes'), ws: v('ws') },
    port: PORT, path: wsInfo.path, subprotocol: wsInfo.subprotocol,
    packets, api_log: api,
  };
  fs.writeFileSync(`${NAME}.json`, JSON.stringify(out, null, 1));
  setTimeout(() => process.exit(0), 100);
})();
