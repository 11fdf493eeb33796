#!/usr/bin/env node
// Scripted WebSocket peer for wscap's real captures, using node's ws package.
//
// Run by internal/thirdparty/realcap/cmd/realcap as `node peer.js CONFIG.json` with NODE_PATH pointing
// at a node_modules that holds ws (installed outside the repository; see regen.sh). CONFIG
// says the role (server or client), where to listen or connect, ws's perMessageDeflate
// options (null: no compression) and the script. This side performs its own steps and reads
// and checks the other side's data messages; steps marked auto (pongs, close replies) are
// the library's.
//
// Reports on stdout, one line each: VERSION, RUNTIME, LISTENING <port> (server), EXTENSIONS <value>
// (client), DONE.
//
// ws facts the scripts rely on: a message is sent in fragments by send(part, {fin: false});
// compress decides RSV1 per message (only the first fragment's option counts); the
// perMessageDeflate threshold applies only in a direction that negotiated
// no_context_takeover; pings are answered automatically (autoPong) and a received close
// frame is echoed with its code and reason; frames leave in call order, also while the
// compressor is busy.
'use strict';

const fs = require('fs');
const WebSocket = require('ws');

const say = (...words) => process.stdout.write(words.join(' ') + '\n');
const data = (b64) => Buffer.from(b64 || '', 'base64');

// Inbox turns ws's events into awaitable reads.
class Inbox {
  constructor(ws) {
    this.msgs = [];
    this.waiters = [];
    this.closed = null;
    ws.on('message', (buf, isBinary) => this.push({ buf: Buffer.from(buf), isBinary }));
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString('utf8') };
      this.push(null);
    });
    ws.on('error', (err) => {
      this.error = err;
      this.push(null);
    });
  }
  push(m) {
    if (m !== null) this.msgs.push(m);
    const ws = this.waiters;
    this.waiters = [];
    ws.forEach((w) => w());
  }
  async next() {
    for (;;) {
      if (this.msgs.length > 0) return this.msgs.shift();
      if (this.closed || this.error) return null;
      await new Promise((resolve) => this.waiters.push(resolve));
    }
  }
  async close() {
    while (!this.closed && !this.error) {
      await new Promise((resolve) => this.waiters.push(resolve));
    }
    if (this.error) throw this.error;
    return this.closed;
  }
}

function sendControl(ws, op, payload) {
  if (op === 'ping') ws.ping(payload);
  else if (op === 'pong') ws.pong(payload);
  else throw new Error('cannot interleave ' + op);
}

async function runScript(ws, inbox, side, steps) {
  for (const [i, st] of steps.entries()) {
    if (st.auto) continue;
    if (st.from === side) {
      if (st.op === 'close') {
        ws.close(st.close_code, st.close_reason || '');
        await inbox.close();
        return;
      }
      if (st.op === 'ping' || st.op === 'pong') {
        sendControl(ws, st.op, data(st.data_b64));
        continue;
      }
      const opts = { binary: st.op === 'binary', compress: st.compress !== false };
      const frags = st.fragments_b64 ? st.fragments_b64.map(data) : [data(st.data_b64)];
      frags.forEach((f, k) => {
        ws.send(f, { ...opts, fin: k === frags.length - 1 });
        for (const c of st.interleave || []) {
          if (c.after === k) sendControl(ws, c.op, data(c.data_b64));
        }
      });
      continue;
    }
    if (st.op === 'text' || st.op === 'binary') {
      const m = await inbox.next();
      if (m === null) throw new Error(`step ${i}: connection closed (${inbox.error || ''})`);
      const want = data(st.data_b64);
      if (m.isBinary !== (st.op === 'binary') || !m.buf.equals(want)) {
        throw new Error(`step ${i}: got ${m.isBinary ? 'binary' : 'text'} of ${m.buf.length}, want ${st.op} of ${want.length}`);
      }
    } else if (st.op === 'close') {
      const c = await inbox.close();
      if (c.code !== st.close_code || c.reason !== (st.close_reason || '')) {
        throw new Error(`step ${i}: got close ${c.code} ${c.reason}, want ${st.close_code} ${st.close_reason}`);
      }
      return;
    }
  }
  throw new Error('script ended without close');
}

function fail(err) {
  process.stderr.write(String(err && err.stack ? err.stack : err) + '\n');
  process.exit(1);
}

function serve(cfg) {
  const wss = new WebSocket.WebSocketServer({
    host: cfg.host,
    port: 0,
    perMessageDeflate: cfg.deflate === null ? false : cfg.deflate,
  });
  wss.on('listening', () => say('LISTENING', wss.address().port));
  wss.on('connection', (ws) => {
    const inbox = new Inbox(ws);
    runScript(ws, inbox, 'server', cfg.steps).then(() => {
      wss.close(() => {
        say('DONE');
        process.exit(0);
      });
    }, fail);
  });
}

function connect(cfg) {
  const ws = new WebSocket(cfg.url, {
    perMessageDeflate: cfg.deflate === null ? false : cfg.deflate,
  });
  const inbox = new Inbox(ws);
  ws.on('upgrade', (res) => say('EXTENSIONS', res.headers['sec-websocket-extensions'] || ''));
  ws.on('open', () => {
    runScript(ws, inbox, 'client', cfg.steps).then(() => {
      say('DONE');
      process.exit(0);
    }, fail);
  });
}

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
say('VERSION', require('ws/package.json').version);
say('RUNTIME', 'node ' + process.version);
setTimeout(() => fail(new Error('timed out')), 30000).unref();
if (cfg.role === 'server') serve(cfg);
else connect(cfg);
