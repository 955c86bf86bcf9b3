// The JSON Schema of the config: generated from the validator's definitions and the record-type table, committed
// as schema/steerdns.schema.json (regenerating gives the same file), referenced from every example, and every
// example validates against it with ajv; a wrong key fails both the schema and `check`.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import Ajv from 'ajv';
import { parse } from 'yaml';
import { configJsonSchemaText } from '../../src/json-schema';
import { STATIC_TYPES } from '../../src/dns/wire/rrtypes';
import { ROOT, tmpDir } from '../helpers/server';
import { ensureBuilt, steerdns } from './run';

beforeAll(ensureBuilt, 120000);

const SCHEMA_FILE = path.join(ROOT, 'schema', 'steerdns.schema.json');
const schema = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as Record<string, unknown>;
const validate = new Ajv({ strict: true, allowUnionTypes: true, allErrors: true }).compile(schema);

/** Every example config of the repository: config/**.yaml and the files inside the Kubernetes ConfigMap. */
function examples(): { name: string; text: string; file: string | null }[] {
  const out: { name: string; text: string; file: string | null }[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.yaml')) out.push({ name: path.relative(ROOT, p), text: readFileSync(p, 'utf8'), file: p });
    }
  };
  walk(path.join(ROOT, 'config'));
  const cm = parse(readFileSync(path.join(ROOT, 'deploy', 'kubernetes', 'configmap.yaml'), 'utf8')) as { data: Record<string, string> };
  for (const [k, text] of Object.entries(cm.data)) out.push({ name: `deploy/kubernetes/configmap.yaml data.${k}`, text, file: null });
  return out;
}

test('the committed schema is what the generator writes (run `npm run schema` after changing the config schema)', () => {
  expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(configJsonSchemaText());
});

test('record types in the schema are the record-type table\'s static types', () => {
  const zones = (schema.properties as Record<string, { items: { properties: { records: { items: { properties: { type: { enum: string[] } } } } } } }>).zones;
  const types = zones.items.properties.records.items.properties.type.enum;
  expect(types.filter((t) => t === t.toUpperCase())).toEqual([...STATIC_TYPES]);
  expect(STATIC_TYPES).toEqual(expect.arrayContaining(['A', 'AAAA', 'CNAME', 'MX', 'SRV', 'TXT', 'CAA', 'NS', 'PTR']));
});

test('every example config validates against the schema, and the files name it for editors', () => {
  const list = examples();
  expect(list.map((e) => e.name)).toEqual(expect.arrayContaining(['config/example.yaml', 'config/monitors.example.yaml', 'config/docker.yaml', 'config/pops/ams.yaml']));
  for (const e of list) {
    const ok = validate(parse(e.text));
    if (!ok) throw new Error(`${e.name}: ${JSON.stringify(validate.errors, null, 2)}`);
    if (e.file === null) continue;
    const m = /^# yaml-language-server: \$schema=(\S+)$/m.exec(e.text);
    expect(m).not.toBeNull();
    expect(path.resolve(path.dirname(e.file), (m as RegExpExecArray)[1])).toBe(SCHEMA_FILE);
  }
});

test('every example passes `check`, the monitors example included', async () => {
  const dir = tmpDir('steerdns-examples-');
  for (const e of examples()) {
    let file = e.file;
    // The container's config names the image's paths: checked here against this checkout's.
    const text = e.name === 'config/docker.yaml' ? e.text.replaceAll('/opt/steerdns/', `${ROOT}/`) : e.text;
    if (file === null || text !== e.text) {
      file = path.join(dir, e.name.replace(/\W+/g, '-'));
      writeFileSync(file, text);
    }
    const r = await steerdns(['check', '-c', file]);
    if (r.code !== 0) throw new Error(`${e.name}:\n${r.stderr}`);
    expect(r.stdout).toMatch(/: OK: /);
  }
  expect((await steerdns(['check', '-c', 'config/monitors.example.yaml'])).stdout).toBe('config/monitors.example.yaml: OK: 1 zone, 1 record, 5 load balancers, 6 pools, 7 endpoints, 6 monitors, 0 warnings\n');
}, 120000);

test('a wrong key in an example fails both the schema and check', async () => {
  const text = readFileSync(path.join(ROOT, 'config', 'example.yaml'), 'utf8');
  const marker = '      - { name: fra-1, address: 192.0.2.10 }';
  expect(text).toContain(marker);
  const broken = text.replace(marker, '      - { name: fra-1, address: 192.0.2.10, wieght: 2 }');
  expect(validate(parse(broken))).toBe(false);
  expect(validate.errors).toEqual([expect.objectContaining({ keyword: 'additionalProperties', params: { additionalProperty: 'wieght' }, instancePath: '/pools/eu/origins/0' })]);
  const file = path.join(ROOT, 'config', `.wrong-key-${process.pid}.yaml`); // beside the example: same relative paths
  writeFileSync(file, broken);
  try {
    const r = await steerdns(['check', '-c', path.relative(ROOT, file)]);
    const lines = broken.split('\n');
    const line = lines.findIndex((l) => l.includes('wieght')) + 1;
    const col = lines[line - 1].indexOf('wieght') + 1;
    expect(r).toEqual({ code: 1, stdout: '', stderr: `${path.relative(ROOT, file)}:${line}:${col}: unknown key "wieght" (did you mean "weight"?)\n${path.relative(ROOT, file)}: 1 error\n` });
  } finally {
    require('node:fs').unlinkSync(file);
  }
});
