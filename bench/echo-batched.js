'use strict';
// The batched ceiling: a UDP echo over the native module (build/udp_batch.node, recvmmsg/sendmmsg, one JS call per
// batch of up to 64 datagrams), no DNS work. What bench/echo-server.js is for node:dgram, this is for
// BatchedUdpListener: the most a server on that I/O path could answer on this hardware.
// Usage (after `npm run build`): node bench/echo-batched.js [host] [port]
//   → prints {"listen":"HOST:PORT"} on stdout once bound (same protocol as echo-server.js); exits 2 with the reason
//   when the module is not available. SIGTERM/SIGINT print the module's counters on stderr and exit.
const path = require('node:path');
const { loadBatchedUdp } = require(path.join(__dirname, '..', 'dist', 'dns', 'server', 'udp-batched'));

const host = process.argv[2] || '127.0.0.1';
const port = Number(process.argv[3] || 0);
const family = host.includes(':') ? 6 : 4;

const { binding, reason } = loadBatchedUdp();
if (!binding) {
  process.stderr.write(`echo-batched: ${reason}\n`);
  process.exit(2);
}
const L = binding.layout;
let bytes = null;
let recvLen = null;
let sendLen = null;
let ports = null;

// The request bytes go back as they came: one copy from the receive slot to the send slot, like the listener's copy
// of an answer out of the encoder's slab.
function onBatch(count) {
  for (let i = 0; i < count; i++) {
    const len = recvLen[i];
    if (len <= 0 || ports[i] === 0) continue;
    const from = L.recv + i * L.recvSlot;
    bytes.copyWithin(L.send + i * L.sendSlot, from, from + len);
    sendLen[i] = len;
  }
}

const sock = binding.open(family, host, port, false, onBatch);
bytes = new Uint8Array(sock.memory);
recvLen = new Int32Array(sock.memory, L.recvLen, L.batch);
sendLen = new Int32Array(sock.memory, L.sendLen, L.batch);
ports = new Int32Array(sock.memory, L.port, L.batch);
const stats = new Float64Array(sock.memory, L.stats, L.statNames.length);
process.stdout.write(`${JSON.stringify({ listen: family === 6 ? `[${host}]:${sock.port}` : `${host}:${sock.port}` })}\n`);

const stop = () => {
  binding.close(sock.handle);
  const s = Object.fromEntries(L.statNames.map((n, i) => [n, stats[i]]));
  s.perBatch = s.batches ? +(s.received / s.batches).toFixed(1) : 0;
  process.stderr.write(`${JSON.stringify(s)}\n`);
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
