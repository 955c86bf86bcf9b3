'use strict';
// The Node ceiling for bench/run.js: a bare dgram UDP echo (no DNS work, the request bytes go straight back).
// Same socket setup as steerdns's UDP listener (4 MB kernel buffers, literal-address lookup); sends without a
// callback, the cheapest dgram path (uv_udp_try_send).
// Usage: node bench/echo-server.js [host] [port]   → prints {"listen":"HOST:PORT"} on stdout once bound.
const dgram = require('node:dgram');

const host = process.argv[2] || '127.0.0.1';
const port = Number(process.argv[3] || 0);
const family = host.includes(':') ? 6 : 4;
// The same send path as steerdns's UDP listener: destinations are address literals, passed through without
// dns.lookup (which costs a nextTick and a regex per datagram). The ceiling must not be slower than the server's
// own socket handling, or the ratio would credit the server with a faster send path.
const lookup = (address, _options, callback) => callback(null, address, family);
const socket = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4', lookup });

socket.on('message', (msg, rinfo) => {
  if (rinfo.port === 0) return;
  socket.send(msg, rinfo.port, rinfo.address);
});
socket.on('error', (err) => {
  process.stderr.write(`echo: ${err.message}\n`);
});
socket.bind({ address: host, port }, () => {
  try {
    socket.setRecvBufferSize(4 * 1024 * 1024);
    socket.setSendBufferSize(4 * 1024 * 1024);
  } catch {
    // capped by net.core.rmem_max / wmem_max; not fatal
  }
  const a = socket.address();
  process.stdout.write(`${JSON.stringify({ listen: `${a.address}:${a.port}` })}\n`);
});

const stop = () => socket.close(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
