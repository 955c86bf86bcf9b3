// The health-event log on disk (health/event-log.ts): appended in order, rotated past its size, read back with its
// highest id; a torn last line, malformed lines, a symlink or a directory at the path never stop the server.
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { EventLogWriter, loadEventLog } from '../../src/health/event-log';
import { HealthEvents, type HealthEvent } from '../../src/health/events';
import { HealthStore } from '../../src/health/store';
import { tmpDir } from '../helpers/server';

function event(id: number, origin = 'e1'): HealthEvent {
  return {
    id,
    timestamp: new Date(1_800_000_000_000 + id * 1000).toISOString(),
    pool: { name: 'P1', healthy: false, changed: true, minimum_origins: 1, state: 'critical' },
    origins: [{ name: origin, ip: '127.0.0.2', enabled: true, healthy: false, failure_reason: 'TCP connection failed', response_code: null, changed: true }],
    cause: { target: 'k', monitor: 'web', origin, from: 'healthy', to: 'unhealthy', detail: '' },
  };
}

const warnings: string[] = [];
const logger = { debug: () => undefined, info: () => undefined, warn: (m: string) => warnings.push(m), error: (m: string) => warnings.push(m) };

describe('event log file', () => {
  beforeEach(() => {
    warnings.length = 0;
  });

  test('appends in order and reads back the newest `capacity` events and the highest id', async () => {
    const file = path.join(tmpDir(), 'health.json.events');
    const w = new EventLogWriter(file, logger);
    for (let i = 1; i <= 5; i++) w.append(event(i));
    await w.close();
    expect(w.written).toBe(5);
    const { events, lastId } = loadEventLog(file, 3, logger);
    expect(events.map((e) => e.id)).toEqual([3, 4, 5]);
    expect(lastId).toBe(5);
    expect(warnings).toEqual([]);
  });

  test('rotates to <file>.1 past its size; both files are read, so ids continue after rotation', async () => {
    const file = path.join(tmpDir(), 'health.json.events');
    const one = Buffer.byteLength(`${JSON.stringify(event(1))}\n`);
    const w = new EventLogWriter(file, logger, one * 3);
    for (let i = 1; i <= 7; i++) {
      w.append(event(i));
      await w.flush(); // one event per write, so each may rotate
    }
    const current = readFileSync(file, 'utf8').trim().split('\n');
    const rotated = readFileSync(`${file}.1`, 'utf8').trim().split('\n');
    expect(current.length + rotated.length).toBeLessThanOrEqual(6);
    expect((JSON.parse(current[current.length - 1]) as HealthEvent).id).toBe(7);
    const { events, lastId } = loadEventLog(file, 100, logger);
    expect(lastId).toBe(7);
    expect(events.map((e) => e.id)).toEqual([...rotated, ...current].map((l) => (JSON.parse(l) as HealthEvent).id));
  });

  test('a torn last line is dropped, and the next append starts on a line of its own', async () => {
    const file = path.join(tmpDir(), 'health.json.events');
    writeFileSync(file, `${JSON.stringify(event(1))}\n${JSON.stringify(event(2)).slice(0, 40)}`);
    expect(loadEventLog(file, 10, logger).lastId).toBe(1);
    expect(warnings.some((w) => w.includes('malformed'))).toBe(true);
    const w = new EventLogWriter(file, logger);
    w.append(event(2));
    await w.close();
    const { events } = loadEventLog(file, 10, logger);
    expect(events.map((e) => e.id)).toEqual([1, 2]);
  });

  test('malformed, wrongly shaped and out-of-order lines are ignored; the others are kept', () => {
    const file = path.join(tmpDir(), 'health.json.events');
    writeFileSync(file, ['not json', JSON.stringify({ id: 'x' }), JSON.stringify(event(4)), JSON.stringify(event(3)), '[]', JSON.stringify({ ...event(9), origins: 'no' }), JSON.stringify(event(6)), ''].join('\n'));
    const { events, lastId } = loadEventLog(file, 10, logger);
    expect(events.map((e) => e.id)).toEqual([4, 6]);
    expect(lastId).toBe(6);
  });

  test('a directory or a missing file reads as empty; a symlink at the path is never written through', async () => {
    const dir = tmpDir();
    mkdirSync(path.join(dir, 'd.events'));
    expect(loadEventLog(path.join(dir, 'd.events'), 10, logger)).toEqual({ events: [], lastId: 0 });
    expect(loadEventLog(path.join(dir, 'missing.events'), 10, logger)).toEqual({ events: [], lastId: 0 });
    const target = path.join(dir, 'elsewhere');
    writeFileSync(target, 'precious\n');
    symlinkSync(target, path.join(dir, 'link.events'));
    const w = new EventLogWriter(path.join(dir, 'link.events'), logger);
    w.append(event(1));
    await w.close();
    expect(readFileSync(target, 'utf8')).toBe('precious\n');
    expect(warnings.some((m) => m.includes('write failed'))).toBe(true);
  });

  test('HealthEvents.restore: the ring continues the saved log and ids only grow', () => {
    const ev = new HealthEvents(new HealthStore(), { capacity: 2 });
    ev.restore([event(5), event(6), event(7)], 7);
    expect(ev.list().map((e) => e.id)).toEqual([6, 7]);
    ev.restore([], 3);
    expect(ev.list({ sinceId: 6 }).map((e) => e.id)).toEqual([7]);
  });
});
