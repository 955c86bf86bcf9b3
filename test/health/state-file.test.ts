import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfigText } from '../../src/config/load';
import { MAX_STATE_FILE_BYTES, MAX_STATE_FILE_CONTAINERS, StateFileWriter, loadStateFile, restoreStateFile, writeStateFile, writeStateFileSync } from '../../src/health/state-file';
import { HealthStore } from '../../src/health/store';
import { buildTargets } from '../../src/health/targets';
import type { HealthLogger, ProbeResult } from '../../src/health/types';
import { aOf, openEndpoints, type Endpoint } from '../helpers/endpoints';
import { startServer, type TestServer } from '../helpers/server';
import { sleep, waitFor } from './helpers';

const pass: ProbeResult = { ok: true, reason: 'No failures', rttMs: 12, responseCode: 200, detail: 'HTTP 200' };
const fail: ProbeResult = { ok: false, reason: 'HTTP timeout occurred', rttMs: null, responseCode: null, detail: 't/o' };
const H = { consecutive_up: 1, consecutive_down: 1 };

function recordingLogger(): HealthLogger & { lines: string[] } {
  const lines: string[] = [];
  const log = (msg: string) => lines.push(msg);
  return { lines, info: log, warn: log, error: log, debug: log };
}

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'steerdns-health-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('state file', () => {
  it('round-trips the store; only unchanged keys are restored', async () => {
    const file = path.join(dir, 'health.json');
    const s = new HealthStore();
    s.record('a', pass, H, 100);
    s.record('b', fail, H, 200);
    await writeStateFile(file, s.snapshot());
    expect(fs.readdirSync(dir)).toEqual(['health.json']); // no temp file left behind

    const r = new HealthStore();
    const logger = recordingLogger();
    expect(restoreStateFile(file, r, new Set(['a', 'b-changed']), logger)).toBe(1);
    expect(r.state('a')).toMatchObject({ status: 'healthy', rttEwmaMs: 12, lastCheckedAt: 100, reason: 'No failures', detail: 'HTTP 200' });
    expect(r.peek('b')).toBeUndefined();
  });

  it('a missing or corrupt file is logged and ignored', () => {
    const logger = recordingLogger();
    expect(loadStateFile(path.join(dir, 'nope.json'), logger)).toBeNull();
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, '{"format": "steerdns-health", "formatVersion": 1, "targets": [');
    expect(loadStateFile(bad, logger)).toBeNull();
    fs.writeFileSync(bad, '{"something": "else"}');
    expect(loadStateFile(bad, logger)).toBeNull();
    expect(logger.lines).toHaveLength(3);
    expect(restoreStateFile(bad, new HealthStore(), new Set(), logger)).toBe(0);
  });

  it('the writer writes after changes, debounced, and at close', async () => {
    const file = path.join(dir, 'h.json');
    const s = new HealthStore();
    const w = new StateFileWriter(s, file, { debounceMs: 200 });
    s.record('a', pass, H, 1); // transition → write soon
    await waitFor(() => w.writes === 1, 2000);
    s.record('a', fail, H, 2);
    s.record('a', pass, H, 3);
    s.record('a', fail, H, 4);
    await sleep(80);
    expect(w.writes).toBe(1); // debounced: ≤ 1 write per 200 ms
    await waitFor(() => w.writes === 2, 2000);
    expect(loadStateFile(file)?.targets[0]).toMatchObject({ key: 'a', status: 'unhealthy', lastCheckedAt: 4 });
    s.record('b', pass, H, 5);
    await w.close();
    expect(loadStateFile(file)?.targets.map((t) => t.key).sort()).toEqual(['a', 'b']);
  });

  it('a failing write is logged, not thrown', async () => {
    const logger = recordingLogger();
    const s = new HealthStore();
    const w = new StateFileWriter(s, path.join(dir, 'missing-dir', 'h.json'), { logger, debounceMs: 0 });
    await w.flush(true);
    expect(logger.lines.some((l) => l.includes('write failed'))).toBe(true);
    await w.close();
  });
});

// ---- malformed state files (issue 11, defect 6) --------------------------------------------------------------------

const goodEntry = (key: string, over: Record<string, unknown> = {}): Record<string, unknown> => ({
  key,
  status: 'healthy',
  reason: 'No failures',
  detail: 'HTTP 200',
  responseCode: 200,
  rttMs: 3,
  rttEwmaMs: 3,
  lastCheckedAt: 1_700_000_000_000,
  changedAt: 1_700_000_000_000,
  consecutiveUp: 1,
  consecutiveDown: 0,
  ...over,
});

const header = { format: 'steerdns-health', formatVersion: 1 };

/** Files that must be ignored as a whole, or whose bad parts must be dropped: name → contents. */
const MALFORMED: Record<string, string | Buffer> = {
  'no savedAt': JSON.stringify({ ...header, targets: [] }),
  'savedAt a string': JSON.stringify({ ...header, savedAt: 'yesterday', targets: [] }),
  'savedAt beyond Date': JSON.stringify({ ...header, savedAt: 1e300, targets: [] }),
  'savedAt negative': JSON.stringify({ ...header, savedAt: -5, targets: [] }),
  'top level array': '[]',
  'top level null': 'null',
  'top level number': '42',
  'top level string': '"steerdns-health"',
  'targets an object': JSON.stringify({ ...header, savedAt: 1, targets: { a: 1 } }),
  'targets null': JSON.stringify({ ...header, savedAt: 1, targets: null }),
  'formatVersion 2': JSON.stringify({ ...header, formatVersion: 2, savedAt: 1, targets: [] }),
  'empty file': '',
  'binary garbage': crypto.randomBytes(4096),
  'deeply nested': '['.repeat(200_000) + ']'.repeat(200_000),
  'truncated': JSON.stringify({ ...header, savedAt: 1, targets: [goodEntry('k')] }).slice(0, 60),
  'entries of every wrong type': JSON.stringify({
    ...header,
    savedAt: 1,
    targets: [
      null,
      7,
      'x',
      [],
      goodEntry('k', { status: 'sideways' }),
      goodEntry('k', { reason: 'made up' }),
      goodEntry('k', { lastCheckedAt: 1e300 }),
      goodEntry('k', { changedAt: '2024-01-01' }),
      goodEntry('k', { rttMs: -1 }),
      goodEntry('k', { consecutiveUp: 1.5 }),
      goodEntry('k', { responseCode: 1e6 }),
      goodEntry('k', { detail: { nested: true } }),
      goodEntry('k', { key: 42 }),
    ],
  }),
};

describe('malformed state files are logged and ignored, never thrown', () => {
  for (const [name, contents] of Object.entries(MALFORMED)) {
    it(name, () => {
      const file = path.join(dir, 'health.json');
      fs.writeFileSync(file, contents);
      const logger = recordingLogger();
      const store = new HealthStore();
      expect(restoreStateFile(file, store, new Set(['k']), logger)).toBe(0);
      expect(store.peek('k')).toBeUndefined();
      expect(logger.lines.length).toBeGreaterThanOrEqual(1);
    });
  }

  it('a bad entry is dropped on its own; the good ones beside it are restored', () => {
    const file = path.join(dir, 'health.json');
    fs.writeFileSync(file, JSON.stringify({ ...header, targets: [goodEntry('a'), goodEntry('b', { consecutiveDown: 'two' }), goodEntry('c', { status: 'unhealthy', reason: 'TCP connection failed' })] }));
    const logger = recordingLogger();
    const store = new HealthStore();
    expect(restoreStateFile(file, store, new Set(['a', 'b', 'c']), logger)).toBe(2);
    expect(store.state('a').status).toBe('healthy');
    expect(store.peek('b')).toBeUndefined();
    expect(store.state('c').status).toBe('unhealthy');
    expect(logger.lines).toContain('health state file has malformed target entries; they are ignored');
  });

  it('a file over the size limit is not read', () => {
    const file = path.join(dir, 'health.json');
    const fd = fs.openSync(file, 'w');
    fs.ftruncateSync(fd, MAX_STATE_FILE_BYTES + 1); // sparse: costs no disk
    fs.closeSync(fd);
    const logger = recordingLogger();
    expect(loadStateFile(file, logger)).toBeNull();
    expect(logger.lines).toEqual(['health state file is too large; ignored']);
  });

  it('a file of more objects than any real one holds is not parsed', () => {
    const file = path.join(dir, 'health.json');
    const n = MAX_STATE_FILE_CONTAINERS + 10;
    fs.writeFileSync(file, `{"format":"steerdns-health","formatVersion":1,"savedAt":1,"targets":[${'{},'.repeat(n)}{}]}`);
    const logger = recordingLogger();
    expect(loadStateFile(file, logger)).toBeNull();
    expect(logger.lines).toEqual(['health state file holds too many objects; ignored']);
  });

  it('a directory or a FIFO at the path is ignored without blocking', () => {
    const logger = recordingLogger();
    const sub = path.join(dir, 'a-dir');
    fs.mkdirSync(sub);
    expect(loadStateFile(sub, logger)).toBeNull();
    const fifo = path.join(dir, 'a-fifo');
    execFileSync('mkfifo', [fifo]);
    expect(loadStateFile(fifo, logger)).toBeNull(); // a blocking open/read would hang here
    expect(logger.lines).toEqual(['health state file is not a regular file; ignored', 'health state file is not a regular file; ignored']);
  });
});

describe('the real server starts with a malformed state file and answers', () => {
  // Two monitored endpoints whose probes are held (never answered during the test), so the first DNS answer shows
  // exactly what was restored: e1 from its good entry; e2, whose entry is malformed, counts as down.
  let endpoints: Endpoint[] = [];
  let srv: TestServer | null = null;
  let release: () => void = () => undefined;
  beforeAll(async () => {
    endpoints = await openEndpoints(['127.0.14.1', '127.0.14.2']);
    const held = new Promise<void>((r) => (release = r));
    for (const e of endpoints) e.hold = held;
  });
  afterEach(async () => {
    await srv?.stop();
    srv = null;
  });
  afterAll(async () => {
    release();
    await Promise.all(endpoints.map((e) => e.stop()));
  });

  const yaml = (stateFile: string): string => `
server: { listen: ["127.0.0.1:0"], http: null, state_file: ${JSON.stringify(stateFile)} }
zones:
  - name: example.com
    ns: [ns1.example.com]
    records:
      - { name: ns1, type: A, value: 127.0.14.53 }
monitors:
  web: { type: http, port: ${endpoints[0].port}, path: /health, interval: 30, timeout: 10, retries: 0 }
pools:
  P1:
    monitor: web
    origins:
      - { name: e1, address: 127.0.14.1 }
      - { name: e2, address: 127.0.14.2 }
  FB: { origins: [ { name: fb, address: 127.0.14.99 } ] }
load_balancers:
  - { name: www.example.com, default_pools: [P1], fallback_pool: FB }
`;

  const cases: Record<string, string | Buffer> = {
    'the reported file (no savedAt)': MALFORMED['no savedAt'],
    'savedAt beyond Date': MALFORMED['savedAt beyond Date'],
    'binary garbage': MALFORMED['binary garbage'],
    'a top-level array': MALFORMED['top level array'],
    'entries of every wrong type': MALFORMED['entries of every wrong type'],
  };
  for (const [name, contents] of Object.entries(cases)) {
    it(name, async () => {
      const file = path.join(dir, 'health.json');
      fs.writeFileSync(file, contents);
      srv = await startServer(yaml(file));
      expect(await aOf(srv.port, 'ns1.example.com')).toEqual(['127.0.14.53']);
      expect(await aOf(srv.port, 'www.example.com')).toEqual(['127.0.14.99']); // nothing restored: all unknown
      expect(srv.logs.some((l) => l.includes('"level":"warn"') && l.includes('health state file'))).toBe(true);
    });
  }

  it('a huge file and a FIFO', async () => {
    const file = path.join(dir, 'health.json');
    const fd = fs.openSync(file, 'w');
    fs.ftruncateSync(fd, MAX_STATE_FILE_BYTES + 1);
    fs.closeSync(fd);
    srv = await startServer(yaml(file));
    expect(await aOf(srv.port, 'ns1.example.com')).toEqual(['127.0.14.53']);
    await srv.stop();
    srv = null;
    const fifo = path.join(dir, 'fifo.json');
    execFileSync('mkfifo', [fifo]);
    srv = await startServer(yaml(fifo));
    expect(await aOf(srv.port, 'ns1.example.com')).toEqual(['127.0.14.53']);
  });

  it('one malformed target among good ones: the good one is restored, the bad one is unknown', async () => {
    const cfg = loadConfigText(yaml('/unused'), 'steerdns.yaml').config!;
    const keys = buildTargets(cfg).map((t) => [t.address, t.key] as const);
    const key = (addr: string): string => keys.find(([a]) => a === addr)![1];
    const file = path.join(dir, 'health.json');
    const entries: Record<string, unknown>[] = [goodEntry(key('127.0.14.1')), goodEntry(key('127.0.14.2'), { rttEwmaMs: 'fast' })];
    fs.writeFileSync(file, JSON.stringify({ ...header, targets: entries })); // and no savedAt
    srv = await startServer(yaml(file));
    expect(await aOf(srv.port, 'www.example.com')).toEqual(['127.0.14.1']);
    expect(srv.logs.some((l) => l.includes('"health state restored"') && l.includes('"restored":1') && l.includes('"saved_at":null'))).toBe(true);
    expect(endpoints.every((e) => e.answered.length === 0)).toBe(true); // the answer came from the file, not a probe
  });
});

// ---- the writer and planted files (issue 11, defect 8) -------------------------------------------------------------

describe('state file writes never follow or clobber planted files', () => {
  const snap = (): ReturnType<HealthStore['snapshot']> => {
    const s = new HealthStore();
    s.record('a', pass, H, 100);
    return s.snapshot();
  };

  for (const [name, write] of [
    ['async', (f: string) => writeStateFile(f, snap())],
    ['sync', (f: string) => Promise.resolve(writeStateFileSync(f, snap()))],
  ] as const) {
    it(`${name}: symlinks at the old predictable temp names are not followed`, async () => {
      const file = path.join(dir, 'health.json');
      const victim = path.join(dir, 'victim');
      fs.writeFileSync(victim, 'precious');
      // The old writer used `.<base>.<pid>.<n>.tmp` with a module-wide counter: cover the first hundred.
      for (let n = 1; n <= 100; n++) fs.symlinkSync(victim, path.join(dir, `.health.json.${process.pid}.${n}.tmp`));
      await write(file);
      expect(fs.readFileSync(victim, 'utf8')).toBe('precious');
      expect(loadStateFile(file)?.targets.map((t) => t.key)).toEqual(['a']);
      expect(fs.lstatSync(file).isFile()).toBe(true);
      const left = fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'));
      expect(left).toHaveLength(100); // only the planted links; ours was renamed
      expect(left.every((f) => fs.lstatSync(path.join(dir, f)).isSymbolicLink())).toBe(true);
    });

    it(`${name}: a file planted at the very name chosen is neither followed nor truncated`, async () => {
      const file = path.join(dir, 'health.json');
      const victim = path.join(dir, 'victim');
      fs.writeFileSync(victim, 'precious');
      const planted = Buffer.alloc(12, 0xab);
      const plantedName = (b: Buffer): string => path.join(dir, `.health.json.${b.toString('hex')}.tmp`);
      fs.symlinkSync(victim, plantedName(planted));
      fs.writeFileSync(plantedName(Buffer.alloc(12, 0xcd)), 'also precious');
      // The first two names drawn are the planted ones; the writer must move on to a third.
      const real = crypto.randomBytes;
      const spy = jest.spyOn(crypto, 'randomBytes') as unknown as jest.SpyInstance<Buffer, [number]>;
      spy.mockImplementationOnce(() => planted).mockImplementationOnce(() => Buffer.alloc(12, 0xcd)).mockImplementation((n: number) => real(n));
      try {
        await write(file);
      } finally {
        spy.mockRestore();
      }
      expect(fs.readFileSync(victim, 'utf8')).toBe('precious');
      expect(fs.readFileSync(plantedName(Buffer.alloc(12, 0xcd)), 'utf8')).toBe('also precious');
      expect(loadStateFile(file)?.targets.map((t) => t.key)).toEqual(['a']);
    });
  }

  it('a failed write leaves no temp file behind', async () => {
    const file = path.join(dir, 'health.json');
    fs.mkdirSync(file); // rename onto a directory fails
    fs.writeFileSync(path.join(file, 'x'), '');
    await expect(writeStateFile(file, snap())).rejects.toThrow();
    expect(() => writeStateFileSync(file, snap())).toThrow();
    expect(fs.readdirSync(dir)).toEqual(['health.json']);
  });

  it('temp names are unpredictable', async () => {
    const file = path.join(dir, 'health.json');
    const names = new Set<string>();
    const spy = jest.spyOn(fs.promises, 'rename');
    try {
      for (let i = 0; i < 3; i++) await writeStateFile(file, snap());
      for (const [from] of spy.mock.calls) names.add(path.basename(String(from)));
    } finally {
      spy.mockRestore();
    }
    expect(names.size).toBe(3);
    for (const n of names) expect(n).toMatch(/^\.health\.json\.[0-9a-f]{24}\.tmp$/);
  });
});
