// Config files that used to crash or stall steerdns: nesting thousands of levels deep (a stack overflow out of
// the `yaml` package's parser, in `check` and in a server reload), invalid UTF-8 (silently read as U+FFFD),
// duplicate keys (a quadratic check that also hid every other problem), aliases, huge scalars, random bytes.
// The crash cases run the real CLI and server (dist/ must be built: `npm run build`).
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { formatProblem, loadConfigFile, loadConfigText, MAX_DEPTH } from '../../src/config/load';
import { answers, query, ROOT, sleep, spawnServer, tmpDir, writeConfig } from '../helpers/server';

const CLI = path.join(ROOT, 'dist', 'cli.js');
const dir = tmpDir('steerdns-hostile-');

function file(name: string, content: string | Buffer): string {
  const p = path.join(dir, name);
  writeFileSync(p, content);
  return p;
}

function check(name: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'check', '-c', name], { cwd: dir, timeout: 60000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const ZONE = 'zones:\n  - name: example.com\n    ns: [ns1.example.com]\n';

/** `levels` nested block mappings under `deep:`, then a key back at the top (the dedent that overflowed). */
function deepBlock(levels: number): string {
  let s = `${ZONE}deep:\n`;
  for (let i = 1; i < levels; i++) s += `${' '.repeat(i)}k${i}:\n`;
  return `${s}${' '.repeat(levels)}x: 1\nserver: { http: null }\n`;
}

function lineCol(text: string, offset: number): string {
  const before = text.slice(0, offset).split('\n');
  return `${before.length}:${before[before.length - 1].length + 1}`;
}

/** Loads in-process; fails the test if anything inside threw (the loader turns that into a problem). */
function load(text: string): string[] {
  const r = loadConfigText(text, 'cfg.yaml', path.join(dir, 'cfg.yaml'));
  const lines = r.problems.map(formatProblem);
  const internal = lines.find((l) => l.includes('cannot read the config:'));
  if (internal) throw new Error(`the loader threw: ${internal}`);
  return lines;
}

describe('nesting depth', () => {
  test('check: a block mapping 5,000 levels deep is an error at the level past the limit, not a crash', async () => {
    const text = deepBlock(5000);
    file('deep.yaml', text);
    const r = await check('deep.yaml');
    // The 65th collection is the mapping under `deep:` … `k63:`, i.e. the one starting with `k64`.
    const at = lineCol(text, text.indexOf(`k${MAX_DEPTH}:`));
    expect(r.stderr).toBe(`deep.yaml:${at}: nested deeper than ${MAX_DEPTH} levels\ndeep.yaml: 1 error\n`);
    expect(r.code).toBe(1);
  });

  test('check: flow collections 100,000 deep, and a 2,000-deep mix of block sequences and flow mappings', async () => {
    const flow = `${ZONE}x: ${'['.repeat(100000)}${']'.repeat(100000)}\n`;
    file('flow.yaml', flow);
    let r = await check('flow.yaml');
    expect(r.stderr).toBe(`flow.yaml:4:${3 + MAX_DEPTH}: nested deeper than ${MAX_DEPTH} levels\nflow.yaml: 1 error\n`);
    let mixed = `${ZONE}x:\n`;
    for (let i = 0; i < 1000; i++) mixed += `${' '.repeat(2 * i + 1)}- {a: \n`;
    file('mixed.yaml', `${mixed}y: 1\n`);
    r = await check('mixed.yaml');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^mixed\\.yaml:\\d+:\\d+: nested deeper than ${MAX_DEPTH} levels\\n`));
    expect(r.stderr).not.toMatch(/RangeError|stack/i);
  });

  test('64 levels are accepted as YAML (the schema then says what it thinks of them)', () => {
    let s = `${ZONE}server:\n  http: null\n  pop:\n`;
    // The root (1), server (2), pop (3, holding k3), …, the mapping holding k63 (63), the one holding x (64).
    for (let i = 3; i < MAX_DEPTH; i++) s += `${' '.repeat(i)}k${i}:\n`;
    const text = `${s}${' '.repeat(MAX_DEPTH)}x: 1\n`;
    expect(load(text)).toEqual([`cfg.yaml:${lineCol(text, text.indexOf('k3'))}: unknown key "k3"`]);
    const deeper = `${s}${' '.repeat(MAX_DEPTH)}k${MAX_DEPTH}:\n${' '.repeat(MAX_DEPTH + 1)}x: 1\n`;
    expect(load(deeper)).toEqual([`cfg.yaml:${lineCol(deeper, deeper.indexOf('x: 1'))}: nested deeper than ${MAX_DEPTH} levels`]);
  });

  test('the server: a reload with a 5,000-level file is refused and the old config keeps answering', async () => {
    const good = `server: { listen: ["127.0.0.1:0"], http: null }\n${ZONE}    records:\n      - { name: www, type: A, value: 192.0.2.1 }\n`;
    const configPath = writeConfig(good);
    const srv = await spawnServer(configPath);
    try {
      writeFileSync(configPath, deepBlock(5000));
      srv.child.kill('SIGHUP');
      for (let i = 0; i < 100 && !srv.stderr().includes('reload failed'); i++) await sleep(100);
      expect(srv.stderr()).toContain(`nested deeper than ${MAX_DEPTH} levels`);
      expect(srv.stderr()).toContain('reload failed: the previous config keeps serving');
      expect(srv.child.exitCode).toBeNull();
      const r = await query(srv.port, 'www.example.com');
      expect(answers(r.packet, 'A')).toEqual(['192.0.2.1']);
    } finally {
      await srv.stop();
    }
  });
});

describe('invalid UTF-8', () => {
  const good = Buffer.from(`${ZONE}server:\n  identity: "héllo`, 'utf8');
  const cases: Array<[string, number[], string]> = [
    ['a lone 0xff', [0xff], 'ff'],
    ['a truncated two-byte sequence', [0xc3, 0x41], 'c3'],
    ['an overlong encoding of "/"', [0xc0, 0xaf], 'c0'],
    ['a UTF-16 surrogate', [0xed, 0xa0, 0x80], 'ed'],
    ['a code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80], 'f4'],
  ];
  test.each(cases)('%s: file:line:col of the bad byte (columns count characters)', async (_what, bytes, hex) => {
    const content = Buffer.concat([good, Buffer.from(bytes), Buffer.from('"\n  http: null\n')]);
    const p = file(`bad-${hex}.yaml`, content);
    // Line 5 is `  identity: "héllo…`; "é" is one column, so the bad byte is at column 19.
    const expected = `bad-${hex}.yaml:5:19: the file is not valid UTF-8 (byte 0x${hex} at offset ${good.length})`;
    const r = loadConfigFile(p);
    expect(r.config).toBeNull();
    expect(r.problems.map(formatProblem)).toEqual([expected.replace(`bad-${hex}.yaml`, p)]);
    const c = await check(`bad-${hex}.yaml`);
    expect(c.stderr).toBe(`${expected}\nbad-${hex}.yaml: 1 error\n`);
  });

  test('a file read in pieces: a character across a 64 KiB boundary is read whole; a bad byte far in is still placed', () => {
    // The reader takes 64 KiB at a time (src/config/source.ts): a 4-byte character starts 2 bytes before the first
    // boundary, in a comment line padded to put it there.
    const pad = 65536 - Buffer.byteLength(ZONE) - 2 - 2;
    const straddle = Buffer.from(`${ZONE}# ${'x'.repeat(pad)}😀\nserver:\n  http: null\n  identity: "é"\n`, 'utf8');
    expect(straddle.indexOf(Buffer.from('😀'))).toBe(65534);
    const ok = loadConfigFile(file('straddle.yaml', straddle));
    expect(ok.problems.map(formatProblem)).toEqual([]);
    expect(ok.config?.server.identity).toBe('é');
    // A bad byte several pieces in (after `  identity: "h`, column 15): placed as in a small file.
    const big = Buffer.concat([Buffer.from(`${ZONE}# ${'y'.repeat(200_000)}\nserver:\n  identity: "h`), Buffer.from([0xff]), Buffer.from('"\n')]);
    const p = file('far.yaml', big);
    const line = ZONE.split('\n').length - 1 + 3;
    const r = loadConfigFile(p);
    expect(r.config).toBeNull();
    expect(r.problems.map(formatProblem)).toEqual([`${p}:${line}:15: the file is not valid UTF-8 (byte 0xff at offset ${big.indexOf(0xff)})`]);
  });

  test('valid UTF-8 (multi-byte, 4-byte, a BOM) is read as before', () => {
    const p = file('good.yaml', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`${ZONE}server: { http: null, identity: "日本 😀 é" }\n`)]));
    const r = loadConfigFile(p);
    expect(r.problems.map(formatProblem)).toEqual([]);
    expect(r.config?.server.identity).toBe('日本 😀 é');
  });
});

describe('duplicate keys', () => {
  test('reported at the second occurrence, and the other problems of the file are still reported', () => {
    const y = `${ZONE}server:\n  http: null\n  listn: x\n  http: null\npools:\n  p1: { origins: [ { address: 192.0.2.1 } ] }\n  p1: { origins: [ { address: 192.0.2.2 } ] }\nload_balancers:\n  - { name: lb.example.com, default_pools: [p1, nope], ttl: 0 }\n`;
    expect(load(y)).toEqual([
      'cfg.yaml:7:3: duplicate key "http"',
      'cfg.yaml:10:3: duplicate key "p1"',
      'cfg.yaml:6:3: unknown key "listn" (did you mean "listen"?)',
      `cfg.yaml:${lineCol(y, y.indexOf('ttl: 0') + 5)}: 0 is out of range: expected an integer from 1 to 86400`,
      // The load balancer with an error is still cross-checked: its dangling pool is reported in the same pass.
      `cfg.yaml:${lineCol(y, y.indexOf('nope'))}: load balancer "lb.example.com" default_pools refers to unknown pool "nope"`,
    ]);
  });

  test('also when the file needs the full YAML reader (an anchor), and in flow mappings, quoted keys included', () => {
    const y = `${ZONE}server: &s { http: null, "http": null }\n`;
    expect(load(y)).toEqual([`cfg.yaml:${lineCol(y, y.indexOf('"http"') + 1)}: duplicate key "http"`]);
  });

  test('a mapping of 50,000 pools with a duplicate at the end: found in one pass', () => {
    const n = 50000;
    let y = `${ZONE}server: { http: null }\npools:\n`;
    for (let i = 0; i < n; i++) y += `  p${i}: { origins: [ { address: 192.0.2.1 } ] }\n`;
    y += '  p7: { origins: [ { address: 192.0.2.1 } ] }\n';
    expect(load(y)).toEqual([`cfg.yaml:${6 + n}:3: duplicate key "p7"`]);
  });
});

describe('other hostile input', () => {
  test('"billion laughs": aliases are never expanded, and refused with a message', () => {
    let y = `${ZONE}server: { http: null }\nx0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n`;
    for (let i = 1; i < 30; i++) y += `x${i}: &a${i} [${Array.from({ length: 9 }, () => `*a${i - 1}`).join(', ')}]\n`;
    y += 'pools: { p: { origins: *a29 } }\n';
    const lines = load(y);
    expect(lines).toContain(`cfg.yaml:${lineCol(y, y.indexOf('*a29 }'))}: expected a list, got an alias (*a29)`);
    expect(lines.filter((l) => l.includes('unknown key "x'))).toHaveLength(30);
  });

  test('huge scalars and keys: messages stay short, suggestions are not computed for them', () => {
    const big = 'x'.repeat(5_000_000);
    const lines = load(`${ZONE}server: { http: null, ${big}: 1, identity: ${big} }\n`);
    expect(lines).toEqual([`cfg.yaml:4:23: unknown key "${'x'.repeat(60)}…"`, `cfg.yaml:4:${5_000_000 + 38}: longer than 255 characters`]);
  });

  test('thousands of dangling references to thousands of pools: "did you mean" within a bounded budget', () => {
    let y = `${ZONE}server: { http: null }\npools:\n`;
    for (let i = 0; i < 3000; i++) y += `  pool-number-${i}: { origins: [ { address: 192.0.2.1 } ] }\n`;
    y += 'load_balancers:\n';
    for (let i = 0; i < 3000; i++) y += `  - { name: lb${i}.example.com, default_pools: [pool-numbr-${i}] }\n`;
    const lines = load(y);
    expect(lines).toHaveLength(3000);
    expect(lines[0]).toMatch(/refers to unknown pool "pool-numbr-0" \(did you mean "pool-number-0"\?\)$/);
  });

  test('a syntax error every byte: the first 100 are reported, the rest counted', () => {
    const r = loadConfigText('"'.repeat(20000), 'cfg.yaml');
    expect(r.problems).toHaveLength(101);
    expect(r.problems[100].message).toMatch(/^and \d+ more YAML problems$/);
  });

  test('random bytes and mutations of the example config never make the loader throw', () => {
    const { readFileSync } = require('node:fs') as typeof import('node:fs');
    const example = readFileSync(path.join(ROOT, 'config', 'example.yaml'), 'utf8');
    let seed = 7;
    const rnd = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 4294967296;
    };
    const junk = ['\n', ' ', '- ', ': ', '[', ']', '{', '}', ',', '#', '&a ', '*a', '!!', '|', '>', '"', "'", '\\', '\t', '\r', '\u0000', '---\n', '? ', '%', '@', '\uFEFF', '\ud800'];
    for (let i = 0; i < 300; i++) {
      let t = example;
      for (let k = 0; k < 1 + Math.floor(rnd() * 5); k++) {
        const at = Math.floor(rnd() * t.length);
        t = t.slice(0, at) + junk[Math.floor(rnd() * junk.length)] + t.slice(at + Math.floor(rnd() * 3));
      }
      load(t);
    }
    for (let i = 0; i < 100; i++) {
      const bytes = Buffer.alloc(200 + Math.floor(rnd() * 2000));
      for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(rnd() * 256);
      load(bytes.toString('latin1'));
    }
  });
});
