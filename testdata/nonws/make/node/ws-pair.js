// Plain (ws://) WebSocket server and client in one node process, using the
// npm 'ws' package, over real loopback TCP. permessage-deflate is off
// (ws's server default), so frames are uncompressed.
//
// Server: on connection sends 1 text "welcome", then echoes every message
// back with the same type (text stays text, binary stays binary).
// Client: sends 10 messages, 250 ms apart: 6 text (one of 300 bytes, so a
// 16-bit payload length) and 4 binary (one of 66000 bytes, so a 64-bit
// payload length); when it has received 11 messages it closes with 1000.
'use strict';
const { WebSocketServer, WebSocket } = require('ws');
const port = Number(process.argv[2] || 18090);
const counts = { clientSentText: 0, clientSentBinary: 0, serverSentText: 0, serverSentBinary: 0,
  serverRecvText: 0, serverRecvBinary: 0, clientRecvText: 0, clientRecvBinary: 0 };

const wss = new WebSocketServer({ host: '127.0.0.1', port, path: '/chat' }, () => {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/chat`, { perMessageDeflate: false });
  const plan = [
    ['text', 'hello server'],
    ['bin', Buffer.from([0x00, 0x01, 0x02, 0x03, 0xfe, 0xff])],
    ['text', 'x'.repeat(300)],
    ['bin', Buffer.alloc(66000, 0xab)],
    ['text', '{"type":"json","n":5}'],
    ['text', 'unicode: h\u00e9llo \u4e16\u754c \ud83d\ude00'],
    ['bin', Buffer.from('binary frame seven')],
    ['text', ''],
    ['bin', Buffer.alloc(125, 0x01)],
    ['text', 'last text message'],
  ];
  let received = 0;
  ws.on('message', (data, isBinary) => {
    received++;
    isBinary ? counts.clientRecvBinary++ : counts.clientRecvText++;
    if (received === plan.length + 1) ws.close(1000, 'done');
  });
  ws.on('open', async () => {
    for (const [kind, payload] of plan) {
      await new Promise(r => setTimeout(r, 250));
      ws.send(payload, { binary: kind === 'bin' });
      kind === 'bin' ? counts.clientSentBinary++ : counts.clientSentText++;
    }
  });
  ws.on('close', (code) => {
    setTimeout(() => {
      console.log(`ws ${require('ws/package.json').version} on node ${process.version}; close code ${code}; counts ${JSON.stringify(counts)}`);
      wss.close();
    }, 200);
  });
});
wss.on('connection', (sock) => {
  sock.send('welcome'); counts.serverSentText++;
  sock.on('message', (data, isBinary) => {
    isBinary ? counts.serverRecvBinary++ : counts.serverRecvText++;
    sock.send(data, { binary: isBinary });
    isBinary ? counts.serverSentBinary++ : counts.serverSentText++;
  });
});
