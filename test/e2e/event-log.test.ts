// The health-event log survives a restart, end to end (in-process servers, status API on 127.0.0.1:0, endpoints on
// 127.0.14.x): the events of the first run are listed again after a restart, read from <state_file>.events, and
// the next event's id continues above them, so `since_id` never sees an id twice.
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { openEndpoints, until, wwwPoolYaml, ZONE, type Endpoint } from '../helpers/endpoints';
import { api } from '../helpers/http';
import { tmpDir, writeConfig } from '../helpers/server';
import type { HealthEvent } from '../../src/health/events';
import { createLogger } from '../../src/observe/log';
import { Supervisor } from '../../src/server/supervisor';

describe('the health-event log survives a restart', () => {
  let endpoints: Endpoint[] = [];
  const servers: Supervisor[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.stop();
    await Promise.all(endpoints.map((e) => e.stop()));
    endpoints = [];
  });

  async function start(configPath: string): Promise<Supervisor> {
    const s = new Supervisor({ configPath, logger: createLogger('error', () => undefined) });
    servers.push(s);
    await s.start();
    return s;
  }

  test('events and their ids are restored from <state_file>.events; new ids continue above them', async () => {
    endpoints = await openEndpoints(['127.0.14.2', '127.0.14.3']);
    const [e1, e2] = endpoints;
    const dir = tmpDir();
    const stateFile = path.join(dir, 'health.json');
    const yaml = `server:\n  listen: ["127.0.0.1:0"]\n  http: "127.0.0.1:0"\n  state_file: ${stateFile}\n${ZONE}\n${wwwPoolYaml(e1.port, [e1.address, e2.address], { interval: 1, timeout: 1 })}`;
    const configPath = writeConfig(yaml, dir);

    let s = await start(configPath);
    const events = async (q = '') => api<HealthEvent[]>(s.statusPort, `/api/events${q}`);
    await until('ready', async () => s.readiness().ready, (r) => r, 5000);
    e1.status = 500;
    await until('e1 down event', () => events(), (l) => l.some((e) => e.cause.origin === 'e1' && !e.origins[0].healthy), 5000);
    e1.status = 200;
    const before = await until('e1 up event', () => events(), (l) => l.some((e) => e.cause.origin === 'e1' && e.origins[0].healthy), 5000);
    const lastId = Math.max(...before.map((e) => e.id));
    await s.stop();

    const file = `${stateFile}.events`;
    expect(existsSync(file)).toBe(true);
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as HealthEvent);
    expect(lines.map((e) => e.id)).toEqual(before.map((e) => e.id));

    s = await start(configPath);
    expect((await events()).map((e) => e.id)).toEqual(before.map((e) => e.id));
    expect(await events(`?since_id=${lastId}`)).toEqual([]);
    e2.status = 500;
    const after = await until('e2 down event', () => events(`?since_id=${lastId}`), (l) => l.some((e) => e.cause.origin === 'e2'), 5000);
    expect(after[0].id).toBe(lastId + 1);
  });
});
