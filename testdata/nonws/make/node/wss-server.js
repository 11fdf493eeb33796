// HTTPS + secure WebSocket (wss://) server for the wss-chromium capture,
// using node's https module and the npm 'ws' package on one port.
//   GET /       HTML page whose inline script opens wss://localhost:PORT/ws
//   GET /done   held open until the WebSocket has closed, so the page's load
//               event (and chromium's --dump-dom) waits for the WebSocket
//   /ws         WebSocket: sends 1 text "welcome from server", then echoes
//               each received message with the same type
// Exits after the /done response has been sent, printing message counts.
'use strict';
const https = require('https');
const fs = require('fs');
const { WebSocketServer } = require('ws');
const [port, cert, key] = process.argv.slice(2);

const page = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>wss test</title></head>
<body><pre id="out">pending</pre><script>
const out = document.getElementById('out');
const got = [];
const ws = new WebSocket('wss://localhost:${port}/ws');
ws.binaryType = 'arraybuffer';
ws.onopen = () => {
  ws.send('hello from chromium 1');
  ws.send('hello from chromium 2');
  ws.send(new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7]));
  ws.send('{"from":"chromium","n":4}');
  ws.send('hello from chromium 5, the last one');
};
ws.onmessage = (e) => {
  got.push(typeof e.data === 'string' ? 'text:' + e.data : 'binary:' + e.data.byteLength);
  if (got.length === 6) ws.close(1000, 'done');
};
ws.onclose = (e) => { out.textContent = 'closed ' + e.code + ' ' + JSON.stringify(got); };
ws.onerror = () => { out.textContent = 'error'; };
const img = new Image(); img.src = '/done'; document.body.appendChild(img);
</script></body></html>`;

const counts = { serverSentText: 0, serverSentBinary: 0, serverRecvText: 0, serverRecvBinary: 0 };
let wsClosed, closedP = new Promise(r => wsClosed = r);
const server = https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) }, (req, res) => {
  console.error(`http ${req.httpVersion} ${req.method} ${req.url}`);
  if (req.url === '/') {
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.end(page);
  } else if (req.url === '/done') {
    const t = setTimeout(() => wsClosed('timeout'), 8000);
    closedP.then(() => setTimeout(() => {
      clearTimeout(t);
      res.setHeader('Content-Type', 'image/svg+xml');
      res.end('<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>');
      setTimeout(() => {
        console.log(`node ${process.version} (OpenSSL ${process.versions.openssl}), ws ${require('ws/package.json').version}: counts ${JSON.stringify(counts)}`);
        server.closeAllConnections(); server.close(); wss.close();
      }, 500);
    }, 200));
  } else { res.statusCode = 404; res.end('not found'); }
});
const wss = new WebSocketServer({ server, path: '/ws' });
wss.on('connection', (sock, req) => {
  console.error(`ws upgrade from ${req.headers['user-agent']}; extensions offered: ${req.headers['sec-websocket-extensions']}`);
  sock.send('welcome from server'); counts.serverSentText++;
  sock.on('message', (data, isBinary) => {
    isBinary ? counts.serverRecvBinary++ : counts.serverRecvText++;
    sock.send(data, { binary: isBinary });
    isBinary ? counts.serverSentBinary++ : counts.serverSentText++;
  });
  sock.on('close', (code) => { console.error(`ws closed ${code}`); wsClosed(code); });
});
server.listen(Number(port), '127.0.0.1', () => console.error(`listening on ${port}`));
