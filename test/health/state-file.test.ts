import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StateFileWriter, loadStateFile, restoreStateFile, writeStateFile } from '../../src/health/state-file';
import { HealthStore } from '../../src/health/store';
import type { HealthLogger, ProbeResult } from '../../src/health/types';
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
