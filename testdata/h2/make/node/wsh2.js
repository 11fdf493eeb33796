'use strict';
// Minimal WebSocket endpoint over any duplex stream (an HTTP/2 stream here),
// built on the npm `ws` package's internal framing classes.
const { EventEmitter } = require('events');
const path = require('path');
// ws's package.json "exports" hides lib/*, so load the files by absolute path.
const wsLib = (f) => require(path.join(path.dirname(require.resolve('ws')), 'lib', f));
const Sender = wsLib('sender.js');
const Receiver = wsLib('receiver.js');

class WsEnd extends EventEmitter {
  constructor(stream, { isServer, extensions = {}, log, autoPong = true }) {
    super();
    this.stream = stream;
    this.isServer = isServer;
    this.ext = extensions;
    this.log = log || []; // data messages sent by this side, in order
    this.events = [];     // everything this side sent (incl. ping/pong/close)
    this.sender = new Sender(stream, extensions);
    this.receiver = new Receiver({ isServer, extensions, binaryType: 'nodebuffer' });
    this.queue = []; this.waiters = [];
    stream.on('data', (c) => this.receiver.write(c));
    this.receiver.on('error', (e) => { console.error('receiver error', e); process.exit(2); });
    this.receiver.on('message', (data, isBinary) =>
      this._push(isBinary ? { type: 'binary', data } : { type: 'text', text: data.toString() }));
    this.receiver.on('ping', (d) => {
      if (autoPong) { this.sender.pong(d, !isServer); this.events.push({ type: 'pong', text: d.toString() }); }
      this._push({ type: 'ping', text: d.toString() });
    });
    this.receiver.on('pong', (d) => this._push({ type: 'pong', text: d.toString() }));
    this.receiver.on('conclude', (code, reason) => this._push({ type: 'close', code, reason: reason.toString() }));
  }
  _push(ev) { const w = this.waiters.shift(); if (w) w(ev); else this.queue.push(ev); }
  next() { return this.queue.length ? Promise.resolve(this.queue.shift()) : new Promise((r) => this.waiters.push(r)); }
  async expect(type) { const ev = await this.next(); if (ev.type !== type) throw new Error(`expected ${type} got ${JSON.stringify(ev)}`); return ev; }
  send(data, binary = false) {
    if (binary) this.log.push({ type: 'binary', base64: Buffer.from(data).toString('base64') });
    else this.log.push({ type: 'text', text: data });
    this.events.push({ type: binary ? 'binary' : 'text', len: Buffer.byteLength(data) });
    const compress = !!this.ext['permessage-deflate'];
    return new Promise((res, rej) => this.sender.send(data, { binary, mask: !this.isServer, fin: true, compress }, (e) => e ? rej(e) : res()));
  }
  ping(text) { this.events.push({ type: 'ping', text }); return new Promise((r) => this.sender.ping(text, !this.isServer, r)); }
  close(code, reason) { this.events.push({ type: 'close', code, reason }); this.closeCode = code; return new Promise((r) => this.sender.close(code, reason, !this.isServer, r)); }
}

module.exports = { WsEnd, wsLib };
