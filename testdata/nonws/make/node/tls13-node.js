// HTTPS (TLS 1.3) server and client in one node process over loopback.
// Each of N connections: GET /, POST /echo, GET /json on one keep-alive
// socket, then the agent is destroyed. The client's secrets go to KEYLOG
// via the agent's 'keylog' event.
'use strict';
const https = require('https');
const fs = require('fs');
const [port, cert, key, keylog, nconn] = process.argv.slice(2);
const N = Number(nconn || 4);
fs.writeFileSync(keylog, '');

const server = https.createServer({
  cert: fs.readFileSync(cert), key: fs.readFileSync(key),
  minVersion: 'TLSv1.3', ALPNProtocols: ['http/1.1'],
}, (req, res) => {
  let body = '';
  req.on('data', d => body += d);
  req.on('end', () => {
    if (req.url === '/echo') { res.setHeader('Content-Type', 'text/plain'); res.end('echo: ' + body); }
    else if (req.url === '/json') { res.setHeader('Content-Type', 'application/json'); res.end(JSON.stringify({ node: process.version, ok: true })); }
    else res.end('hello from node https\n');
  });
});

function request(agent, method, path, body) {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', servername: 'localhost', port, method, path, agent,
      rejectUnauthorized: false, headers: body ? { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) } : {} }, res => {
      let data = '';
      const sock = res.socket;
      res.on('data', d => data += d);
      res.on('end', () => resolve({ status: res.statusCode, data, sock }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

server.listen(Number(port), '127.0.0.1', async () => {
  let last;
  for (let i = 0; i < N; i++) {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, minVersion: 'TLSv1.3', ALPNProtocols: ['http/1.1'] });
    agent.on('keylog', line => fs.appendFileSync(keylog, line));
    await request(agent, 'GET', '/');
    await request(agent, 'POST', '/echo', `connection ${i} says hi`);
    last = await request(agent, 'GET', '/json');
    const s = last.sock;
    var info = { version: s.getProtocol(), cipher: s.getCipher().name, alpn: s.alpnProtocol };
    // end() sends close_notify + FIN; the server answers the same way.
    await new Promise(r => { s.once('close', r); s.end(); });
    agent.destroy();
  }
  console.log(`node ${process.version} (OpenSSL ${process.versions.openssl}): ${N} connections, 3 requests each,`, JSON.stringify(info));
  server.close();
});
