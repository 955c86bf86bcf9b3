#!/usr/bin/env node
// Writes schema/steerdns.schema.json from the built validator (run `npm run build` first; `npm run schema` does both).
// test/cli/schema.test.ts fails when the committed file differs from what this writes.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const { configJsonSchemaText } = require(path.join(root, 'dist', 'json-schema.js'));
const out = path.join(root, 'schema', 'steerdns.schema.json');
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, configJsonSchemaText());
console.log(`wrote ${path.relative(process.cwd(), out)}`);
