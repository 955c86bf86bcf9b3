'use strict';
// The bench config with its zone signed, for the DO=1 mixes of micro.js and run.js: a CSK (ECDSA P-256) made in
// `dir` and a `dnssec` block added to the bench.test zone. bench.yaml itself stays unsigned (valid on its own).
const fs = require('fs');
const path = require('path');

/** `text` (bench.yaml) with bench.test signed by a key made in `dir`/keys; `dist` is the build to make it with. */
function signedConfigText(text, dir, dist) {
  const keys = path.join(dir, 'keys');
  fs.mkdirSync(keys, { recursive: true, mode: 0o700 });
  const { generateKey } = require(path.join(dist, 'dnssec/keyfile'));
  const { algorithm } = require(path.join(dist, 'dnssec/algorithms'));
  const { emptyTiming, FLAGS_KSK } = require(path.join(dist, 'dnssec/keys'));
  const now = Math.floor(Date.now() / 1000);
  const t = emptyTiming();
  t.created = now;
  t.publish = now - 3600;
  t.activate = now - 3600;
  generateKey(keys, 'bench.test', algorithm(13), FLAGS_KSK, t);
  const marker = '  - name: bench.test\n';
  if (!text.includes(marker)) throw new Error('bench.yaml: no "- name: bench.test" zone to sign');
  return text.replace(marker, `${marker}    dnssec: { key_directory: ${JSON.stringify(keys)} }\n`);
}

module.exports = { signedConfigText };
