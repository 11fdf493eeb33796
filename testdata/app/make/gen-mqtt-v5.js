// MQTT 5.0 over WebSocket: mqtt.js client <-> a small hand-written MQTT 5 broker
// (aedes 1.2.0 does not support MQTT 5). The broker uses mqtt-packet (the same
// parser/generator mqtt.js uses) and sends every MQTT packet as ONE WebSocket message.
const http = require('http');
const fs = require('fs');
const { WebSocketServer } = require('ws');
const mqttPacket = require('mqtt-packet');
const mqtt = require('mqtt');
const PORT = Number(process.argv[2] || 18084);
const NAME = 'mqtt-v5';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const packets = []; const api = [];

function plain(v) {
  if (Buffer.isBuffer(v)) return v.toString();
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') { const o = {}; for (const k of Object.keys(v)) if (v[k] !== undefined && k !== 'length') o[k] = plain(v[k]); return o; }
  return v;
}
function rec(from, p) {
  const o = { from, type: p.cmd.toUpperCase() };
  for (const [k, v] of Object.entries(p)) {
    if (k === 'cmd' || k === 'length' || v === undefined || v === null) continue;
    if (k === 'messageId') o.packet_id = v;
    else if (k === 'payload') o.payload = Buffer.from(v).toString();
    else o[k] = plain(v);
  }
  if (p.cmd === 'publish' && !p.qos) delete o.packet_id;
  packets.push(o);
}

// ---------------- tiny MQTT 5 broker ----------------
function topicMatch(filter, topic) {
  const f = filter.split('/'), t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}
const retained = new Map();
const sessions = new Set();
function startBroker(server) {
  const wss = new WebSocketServer({ server, path: '/mqtt', handleProtocols: (protos) => (protos.has('mqtt') ? 'mqtt' : false) });
  wss.on('connection', (ws, req) => {
    const s = { ws, subs: new Map(), aliases: new Map(), nextId: 1, inflight2: new Set() };
    s.path = req.url; s.protocol = ws.protocol;
    sessions.add(s);
    const parser = mqttPacket.parser({ protocolVersion: 5 });
    const send = (p) => ws.send(mqttPacket.generate(p, { protocolVersion: 5 }));
    const deliver = (sub, topic, payload, qos, retain, properties) => {
      const q = Math.min(qos, sub.qos);
      const p = { cmd: 'publish', topic, payload, qos: q, retain: retain, dup: false };
      if (q > 0) p.messageId = s.nextId++;
      const props = Object.assign({}, properties || {}); delete props.topicAlias;
      if (Object.keys(props).length) p.properties = props;
      send(p);
    };
    parser.on('packet', (p) => {
      switch (p.cmd) {
        case 'connect':
          s.clientId = p.clientId;
          send({ cmd: 'connack', sessionPresent: false, reasonCode: 0, properties: { topicAliasMaximum: 10, receiveMaximum: 20, maximumQoS: 2, retainAvailable: true, userProperties: { broker: 'mini-v5' } } });
          break;
        case 'subscribe': {
          const codes = p.subscriptions.map((sub) => {
            if (sub.topic.startsWith('forbidden/')) return 0x87; // Not authorized
            s.subs.set(sub.topic, sub); return sub.qos;
          });
          send({ cmd: 'suback', messageId: p.messageId, granted: codes, properties: { reasonString: codes.includes(0x87) ? 'forbidden/# not allowed' : undefined } });
          for (const sub of p.subscriptions) for (const [t, m] of retained) if (s.subs.has(sub.topic) && topicMatch(sub.topic, t)) deliver(sub, t, m.payload, m.qos, true, m.properties);
          break;
        }
        case 'publish': {
          let topic = p.topic; const alias = p.properties && p.properties.topicAlias;
          if (alias) { if (topic) s.aliases.set(alias, topic); else topic = s.aliases.get(alias); }
          if (p.retain) retained.set(topic, { payload: p.payload, qos: p.qos, properties: p.properties });
          let matched = 0;
          for (const o of sessions) for (const sub of o.subs.values()) if (topicMatch(sub.topic, topic)) { matched++; o.deliver(sub, topic, p.payload, p.qos, false, p.properties); }
          if (p.qos === 1) send({ cmd: 'puback', messageId: p.messageId, reasonCode: matched ? 0 : 0x10 }); // 0x10 No matching subscribers
          if (p.qos === 2) send({ cmd: 'pubrec', messageId: p.messageId, reasonCode: matched ? 0 : 0x10 });
          break;
        }
        case 'pubrel': send({ cmd: 'pubcomp', messageId: p.messageId, reasonCode: 0 }); break;
        case 'pubrec': send({ cmd: 'pubrel', messageId: p.messageId, reasonCode: 0 }); break;
        case 'puback': case 'pubcomp': break;
        case 'unsubscribe':
          send({ cmd: 'unsuback', messageId: p.messageId, granted: p.unsubscriptions.map((t) => (s.subs.delete(t) ? 0 : 0x11)) }); // 0x11 No subscription existed
          break;
        case 'pingreq': send({ cmd: 'pingresp' }); break;
        case 'disconnect': ws.close(); break;
      }
    });
    s.deliver = deliver;
    ws.on('message', (d) => parser.parse(d));
    ws.on('close', () => sessions.delete(s));
    startBroker.last = s;
  });
}

(async () => {
  const httpServer = http.createServer();
  startBroker(httpServer);
  await new Promise((r) => httpServer.listen(PORT, '127.0.0.1', r));
  const client = mqtt.connect(`ws://127.0.0.1:${PORT}/mqtt`, {
    protocolVersion: 5, clientId: 'sensor-v5', username: 'bob', password: 'hunter2', keepalive: 1, clean: true, reconnectPeriod: 0, manualConnect: true,
    properties: { sessionExpiryInterval: 60, receiveMaximum: 10, topicAliasMaximum: 5, userProperties: { app: 'demo', build: '42' } },
    will: { topic: 'sensors/v5/status', payload: Buffer.from('gone'), qos: 1, retain: false, properties: { willDelayInterval: 5, contentType: 'text/plain', messageExpiryInterval: 300 } },
  });
  client.on('packetsend', (p) => rec('client', p));
  client.on('packetreceive', (p) => rec('server', p));
  client.on('message', (topic, payload, p) => api.push({ side: 'client', what: 'message', topic, qos: p.qos, retain: p.retain, payload: payload.toString(), properties: plain(p.properties) }));
  client.connect();
  await new Promise((r) => client.once('connect', r));
  const sub = await client.subscribeAsync({ 'sensors/+/temp': { qos: 1, nl: false, rap: true, rh: 0 }, 'forbidden/#': { qos: 0 } }, { properties: { userProperties: { purpose: 'test' } } })
    .catch((err) => { api.push({ side: 'client', what: 'subscribe rejected by mqtt.js because a reason code >= 0x80', error: err.message, granted: err.packet && err.packet.granted }); });
  await client.publishAsync('sensors/7/temp', '21.5', { qos: 1, properties: { topicAlias: 1, messageExpiryInterval: 120, contentType: 'text/plain', payloadFormatIndicator: true, userProperties: { unit: 'C', sensor: '7' } } });
  await sleep(50);
  // topic alias only (empty topic name) -> broker resolves alias 1 = sensors/7/temp
  await client.publishAsync('', '21.7', { qos: 0, properties: { topicAlias: 1 } });
  await sleep(50);
  await client.publishAsync('sensors/8/temp', '{"t":19.0}', { qos: 2, properties: { contentType: 'application/json', responseTopic: 'replies/sensor-v5', correlationData: Buffer.from('req-0001'), userProperties: { trace: 'abc123' } } });
  await sleep(50);
  await client.publishAsync('nobody/listens', 'x', { qos: 1 }); // PUBACK reason 0x10 No matching subscribers
  await sleep(50);
  await client.publishAsync('config/v5', 'retained-cfg', { qos: 1, retain: true, properties: { messageExpiryInterval: 3600 } });
  await client.subscribeAsync('config/#', { qos: 1 });
  await sleep(100);
  const un = await client.unsubscribeAsync(['sensors/+/temp', 'never/subscribed']);
  api.push({ side: 'client', what: 'unsubscribe result', result: plain(un) });
  await sleep(1600); // keepalive 1 s -> PINGREQ/PINGRESP
  await client.endAsync(false, { reasonCode: 0, properties: { sessionExpiryInterval: 0, reasonString: 'bye' } });
  await sleep(200);
  httpServer.close();
  const v = (m) => require(`./node_modules/${m}/package.json`).version;
  const out = {
    protocol: 'mqtt', version: '5.0',
    description: 'MQTT 5.0 over one WebSocket connection ws://127.0.0.1:PORT/mqtt, subprotocol "mqtt". Client mqtt.js (protocolVersion 5). Broker: a ~100-line MQTT 5 broker in gen-mqtt-v5.js (aedes 1.2.0 has no MQTT 5 support) built on mqtt-packet, which sends each MQTT packet as exactly one binary WebSocket message (mqtt.js on the client side splits packets over several messages, see mapping_summary). Shows: CONNECT with properties (sessionExpiryInterval, receiveMaximum, topicAliasMaximum, user properties) and a will with will properties; CONNACK with properties; SUBSCRIBE with subscription options and user property, SUBACK with reason codes [1, 0x87 Not authorized] and reason string; PUBLISH QoS1 with topic alias 1 + message expiry + content type + payload format indicator + user properties (broker forwards it back without the alias); PUBLISH with empty topic name and topic alias 1 only; QoS2 PUBLISH with response topic + correlation data (PUBREC/PUBREL/PUBCOMP with reason code 0; forwarded back at QoS1); QoS1 PUBLISH with no subscribers -> PUBACK reason 0x10; retained message then SUBSCRIBE config/# -> retained PUBLISH; UNSUBSCRIBE of two filters -> UNSUBACK [0, 0x11 No subscription existed]; PINGREQ/PINGRESP; DISCONNECT with reason code 0 and properties. "packets" = mqtt.js packetsend/packetreceive events (fields as mqtt-packet names them; packet_id = messageId). Note: mqtt-packet omits the reason code byte (and property length) on PUBACK/PUBREC/PUBREL/PUBCOMP when the reason code is 0 and there are no properties, which the spec allows.',
    captured_with: { node: process.version, mqtt: v('mqtt'), 'mqtt-packet': v('mqtt-packet'), ws: v('ws'), broker: 'hand-written (gen-mqtt-v5.js)' },
    port: PORT, path: startBroker.last.path, subprotocol: startBroker.last.protocol,
    packets, api_log: api,
  };
  fs.writeFileSync(`${NAME}.json`, JSON.stringify(out, null, 1));
  setTimeout(() => process.exit(0), 100);
})();
