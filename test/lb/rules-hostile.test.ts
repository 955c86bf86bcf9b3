// Issue 11 over real sockets, on the real CLI process (needs dist/: `npm test` builds first): a rule whose regex
// backtracks catastrophically in a backtracking engine, and a reload with a condition nested 2,000 deep. The server
// answers the hostile query and the next ordinary one, and a bad reload leaves it serving the previous config.
import { writeFileSync } from 'node:fs';
import { answers, query, rcodeOf, sleep, spawnServer, writeConfig, type ProcessServer } from '../helpers/server';

const config = (condition: string): string => `server: { listen: ["127.0.0.1:0"], http: null, log: { level: info } }
zones:
  - name: example.com
    ns: [ns1.example.com]
    records:
      - { name: ns1, type: A, value: 192.0.2.53 }
      - { name: www, type: A, value: 192.0.2.80 }
pools:
  P1: { origins: [ { name: a1, address: 192.0.2.1 } ] }
  P2: { origins: [ { name: b1, address: 192.0.2.2 } ] }
load_balancers:
  - name: "*.lb.example.com"
    default_pools: [P1]
    rules:
      - { name: hostile, condition: '${condition}', overrides: { default_pools: [P2] } }
`;

/** SIGTERM, then SIGKILL if the process is still busy 3 s later (a stuck server must not outlive the test). */
async function stop(srv: ProcessServer): Promise<void> {
  if (srv.child.exitCode !== null || srv.child.signalCode !== null) return;
  const killer = setTimeout(() => srv.child.kill('SIGKILL'), 3000);
  await srv.stop('SIGTERM');
  clearTimeout(killer);
}

describe('a `matches` rule that backtracking engines cannot finish', () => {
  let srv: ProcessServer;
  beforeAll(async () => {
    srv = await spawnServer(writeConfig(config('dns.qry.name matches "(a+)+$" or dns.qry.name matches "^b+\\.lb\\."')));
  });
  afterAll(() => stop(srv));

  it('answers a 63-letter label at once, and the next query too', async () => {
    const hostile = await query(srv.port, `${'a'.repeat(63)}.lb.example.com`, { timeoutMs: 5000 });
    expect(rcodeOf(hostile.packet)).toBe('NOERROR');
    expect(answers(hostile.packet, 'A')).toEqual(['192.0.2.1']); // no match: the default pool
    // Generous bound for a loaded machine; before the fix the server stayed busy for far longer than this.
    const ordinary = await query(srv.port, 'www.example.com', { timeoutMs: 2000 });
    expect(answers(ordinary.packet, 'A')).toEqual(['192.0.2.80']);
    const matching = await query(srv.port, 'bbbb.lb.example.com', { timeoutMs: 2000 });
    expect(answers(matching.packet, 'A')).toEqual(['192.0.2.2']); // the rule still works: P2
  });
});

describe('a reload with a hostile condition', () => {
  let srv: ProcessServer;
  let path: string;
  beforeAll(async () => {
    path = writeConfig(config('dns.qry.name matches "^b+\\.lb\\."'));
    srv = await spawnServer(path);
  });
  afterAll(() => stop(srv));

  it('is refused with file:line:col and the previous config keeps serving', async () => {
    // Serving first: the SIGHUP handler is installed by then.
    expect(answers((await query(srv.port, 'bbbb.lb.example.com', { timeoutMs: 2000 })).packet, 'A')).toEqual(['192.0.2.2']);
    const nested = `${'('.repeat(2000)}dns.qry.qu${')'.repeat(2000)}`;
    writeFileSync(path, config(nested));
    srv.child.kill('SIGHUP');
    for (let k = 0; k < 100 && !srv.stderr().includes('reload failed'); k++) await sleep(50);
    expect(srv.stderr()).toContain('reload failed');
    // The rule's line in the file, at the 33rd parenthesis of the condition (inside the single quotes).
    const line = config(nested).split('\n').findIndex((l) => l.includes('name: hostile')) + 1;
    const col = config(nested).split('\n')[line - 1].indexOf("'(") + 2 + 32;
    expect(srv.stderr()).toContain(`${path}:${line}:${col}: rule \\"hostile\\": parentheses nested more than 32 deep`);
    expect(srv.stderr()).not.toMatch(/RangeError|Maximum call stack/);
    expect(srv.child.exitCode).toBeNull();
    const r = await query(srv.port, 'bbbb.lb.example.com', { timeoutMs: 2000 });
    expect(answers(r.packet, 'A')).toEqual(['192.0.2.2']);
  });
});
