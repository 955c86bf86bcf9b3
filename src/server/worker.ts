// A cluster worker: one data plane, driven by the primary over IPC (ipc.ts). It builds each runtime itself from
// the config chunks the primary sends (in slices, beside the queries it answers), keeps a copy of the health the
// primary pushes, and resolves its hostname endpoints. Signals are the primary's business.
import { ConfigAssembler } from '../config/transfer';
import { HealthStore } from '../health/store';
import { HostnameResolver } from '../lb/hostnames';
import type { Logger } from '../observe/log';
import { buildRuntimeSliced, GeoCache, internalLookup, type Runtime } from '../runtime';
import { runInSlices } from '../util/slices';
import { DataPlane } from './data-plane';
import { parseToWorker, type FromWorker, type ToWorker } from './ipc';

export function runWorker(log: Logger): void {
  const store = new HealthStore();
  const hostnames = new HostnameResolver(() => undefined, log.child({ component: 'hostnames' }));
  const geoCache = new GeoCache();
  const plane = new DataPlane({ log, shared: true });
  let assembling: { seq: number; assembler: ConfigAssembler } | null = null;
  let staged: Runtime | null = null;
  let stopping = false;

  const send = (m: FromWorker): void => {
    if (process.connected) process.send?.(m);
  };
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    hostnames.stop();
    void plane.stop().then(() => process.exit(0));
  };

  const prepare = async (seq: number, snapshot: Extract<ToWorker, { type: 'prepare' }>['snapshot']): Promise<void> => {
    try {
      if (!assembling || assembling.seq !== seq) throw new Error('prepare without a config');
      const config = assembling.assembler.finish();
      assembling = null;
      // Health of the new config's targets first, so the new runtime does not answer from fallback meanwhile.
      store.restore(snapshot, new Set(snapshot.targets.map((t) => t.key)));
      const built = await runInSlices(buildRuntimeSliced(config, { store, hostnames, geoCache, lbStats: plane.lbStats, checked: true }));
      if (!built.runtime) {
        const first = built.problems.find((p) => p.severity === 'error');
        throw new Error(first ? first.message : 'the runtime could not be built');
      }
      await plane.prepare(built.runtime, config.server);
      staged = built.runtime;
      send({ type: 'prepared', seq, ok: true, error: '' });
    } catch (err) {
      staged = null;
      send({ type: 'prepared', seq, ok: false, error: `worker ${process.pid}: ${(err as Error).message}` });
    }
  };

  const commit = async (m: Extract<ToWorker, { type: 'commit' }>): Promise<void> => {
    const rt = staged;
    staged = null;
    if (!rt) return; // no reply: the primary restarts a worker that cannot confirm
    store.restore(m.snapshot, new Set(m.snapshot.targets.map((t) => t.key)));
    await plane.commit();
    store.retain(new Set(m.targets));
    hostnames.setInternalLookup(internalLookup(rt));
    send({ type: 'committed', seq: m.seq, listening: plane.listening, udpIo: plane.udpPath ?? 'dgram' });
    void hostnames.setNames(rt.hostnames).then(() => hostnames.refreshAll());
  };

  process.on('SIGHUP', () => undefined);
  process.on('SIGINT', () => undefined);
  process.on('disconnect', stop);
  process.on('message', (raw: unknown) => {
    const m = parseToWorker(raw);
    if (m === null) {
      log.warn('ignored a malformed message from the primary');
      return;
    }
    try {
      switch (m.type) {
        case 'config':
          if (!assembling || assembling.seq !== m.seq) assembling = { seq: m.seq, assembler: new ConfigAssembler() };
          assembling.assembler.add(m.chunk);
          break;
        case 'prepare':
          void prepare(m.seq, m.snapshot);
          break;
        case 'commit':
          commit(m).catch((err: unknown) => log.error('cannot switch to the new config', { err: String(err) }));
          break;
        case 'abort':
          staged = null;
          void plane.abort();
          break;
        case 'health':
          store.restore(m.snapshot, new Set(m.snapshot.targets.map((t) => t.key)));
          break;
        case 'targets':
          store.retain(new Set(m.keys));
          break;
        case 'stats':
          send({ type: 'stats', seq: m.seq, stats: { query: plane.queryStats.snapshot(), analytics: plane.lbStats.takeDeltas(), lbs: plane.lbStats.snapshot(), tcpConnections: plane.tcpConnections } });
          break;
        case 'shutdown':
          stop();
          break;
      }
    } catch (err) {
      log.error('cannot handle a message from the primary', { type: m.type, err: String(err) });
    }
  });
  send({ type: 'ready' });
}
