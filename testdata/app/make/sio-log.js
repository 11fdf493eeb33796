// Shared helpers: record Engine.IO packets as seen by the engine.io server socket
// (event "packet" = received from client, "packetCreate" = sent by server) and
// decode the message payloads with socket.io-parser into Socket.IO packets.
const { Decoder, PacketType } = require('socket.io-parser');
const TYPES = ['CONNECT', 'DISCONNECT', 'EVENT', 'ACK', 'CONNECT_ERROR', 'BINARY_EVENT', 'BINARY_ACK'];

function jsonable(v) {
  if (Buffer.isBuffer(v) || v instanceof ArrayBuffer || ArrayBuffer.isView(v)) {
    return { _binary_hex: Buffer.from(v.buffer ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : v).toString('hex') };
  }
  if (Array.isArray(v)) return v.map(jsonable);
  if (v && typeof v === 'object') { const o = {}; for (const k of Object.keys(v)) o[k] = jsonable(v[k]); return o; }
  return v;
}

function attach(engineSocket, log) {
  const dec = { client: new Decoder(), server: new Decoder() };
  const pend = { client: [], server: [] };
  for (const from of ['client', 'server']) {
    dec[from].on('decoded', (p) => {
      const raw = pend[from].shift();
      const e = { from, nsp: p.nsp, type: TYPES[p.type] };
      if (p.type === PacketType.EVENT || p.type === PacketType.BINARY_EVENT) {
        e.event = p.data[0]; e.args = jsonable(p.data.slice(1));
        if (p.id !== undefined) e.ack_id = p.id;
      } else if (p.type === PacketType.ACK || p.type === PacketType.BINARY_ACK) {
        e.id = p.id; e.args = jsonable(p.data);
      } else if (p.data !== undefined) e.data = jsonable(p.data);
      if (raw.attachments !== undefined) e.attachments = raw.attachments;
      e.text = raw.text;
      log.events.push(e);
    });
  }
  const onPkt = (from) => (pkt) => {
    const rec = { from, transport: engineSocket.transport.name, type: pkt.type };
    if (pkt.data !== undefined) rec.data = typeof pkt.data === 'string' ? pkt.data : { _binary_hex: Buffer.from(pkt.data).toString('hex') };
    log.engineio_packets.push(rec);
    if (pkt.type === 'message') {
      if (typeof pkt.data === 'string') {
        const m = /^([56])(\d+)-/.exec(pkt.data);
        pend[from].push({ text: pkt.data, attachments: m ? Number(m[2]) : undefined });
      }
      try { dec[from].add(pkt.data); } catch (err) { log.errors = (log.errors || []).concat(String(err)); }
    }
  };
  engineSocket.on('packet', onPkt('client'));
  engineSocket.on('packetCreate', onPkt('server'));
}
module.exports = { attach, jsonable };
// Attach the logger before the Engine.IO "open" packet is created (it is sent in
// the engine.io Socket constructor, before the server's "connection" event).
module.exports.hookEngine = function (log, onAttach) {
  const { Socket } = require(require('path').join(__dirname, 'node_modules/engine.io/build/socket.js'));
  const orig = Socket.prototype.onOpen;
  Socket.prototype.onOpen = function () { attach(this, log); if (onAttach) onAttach(this); return orig.apply(this, arguments); };
};
