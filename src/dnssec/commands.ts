// `steerdns dnssec …`: make keys, show what the parent needs (DS and DNSKEY), show where every key is in its life,
// and schedule rollovers with the timing of RFC 7583 (pre-publication for ZSKs and CSKs, double-DS for KSKs).
// A running server picks up key files at its next reload (SIGHUP) and key timing as it comes due.
import { mkdirSync } from 'node:fs';
import { loadConfigFile, formatProblem } from '../config/load';
import type { Config, ZoneConfig, ZoneDnssecConfig } from '../config/types';
import { nameOf } from '../dns/wire/name';
import { algorithm } from './algorithms';
import { formatKeyTime, generateKey, readZoneKeys, writeTiming } from './keyfile';
import { emptyTiming, FLAGS_KSK, FLAGS_ZSK, presentDnskey, presentDs, type KeyTiming, type ZoneKey } from './keys';
import { keyDirectory, maxZoneTtl } from './runtime';

const USAGE = `usage:
  steerdns dnssec keygen   --zone Z (-c FILE | --key-directory DIR) [--role csk|ksk|zsk] [--algorithm 13|15]
                           [--publish T] [--activate T] [--inactive T] [--delete T] [--sync-publish T]
                           make a key (the first key(s) of a zone: published and active now)
  steerdns dnssec ds       --zone Z (-c FILE | --key-directory DIR) [--all]
                           the DS records (SHA-256) and DNSKEYs to give the parent zone
  steerdns dnssec status   (-c FILE [--zone Z] | --zone Z --key-directory DIR)
                           every key's state and timing, and what to do next
  steerdns dnssec rollover --zone Z -c FILE [--role csk|ksk|zsk]
                           a successor key and the timing of the roll (RFC 7583)
  steerdns dnssec settime  --zone Z (-c FILE | --key-directory DIR) --key TAG [--publish T] [--activate T]
                           [--inactive T] [--delete T] [--sync-publish T] [--sync-delete T]
  T: now, now+1h, +2d, now-30m, YYYYMMDDHHMMSS (UTC), or none
`;

interface ZoneContext {
  zone: string;
  dir: string;
  settings: ZoneDnssecConfig;
  config: Config | null;
  zoneConfig: ZoneConfig | null;
}

const DEFAULTS: ZoneDnssecConfig = {
  enabled: true, algorithm: 13, keys: 'csk', key_directory: 'keys', signature_validity: 7 * 86400, inception_offset: 3600,
  refresh: null, dnskey_ttl: 3600, propagation_delay: 3600, parent_ds_ttl: 86400,
};

class UsageError extends Error {}

export type DnssecSubcommand = 'keygen' | 'ds' | 'status' | 'rollover' | 'settime';

type TimingOption = 'publish' | 'activate' | 'inactive' | 'delete' | 'sync-publish' | 'sync-delete';

/** The options of the subcommands, as the command table (src/commands/dnssec.ts) parsed them. */
export interface DnssecArgs extends Partial<Record<TimingOption, string>> {
  config?: string;
  zone?: string;
  'key-directory'?: string;
  role?: string;
  algorithm?: string;
  all?: boolean;
  key?: string;
}

export function dnssecCommand(sub: DnssecSubcommand, args: DnssecArgs, now = Math.floor(Date.now() / 1000)): number {
  try {
    switch (sub) {
      case 'keygen': return keygen(args, now);
      case 'ds': return ds(args, now);
      case 'status': return status(args, now);
      case 'rollover': return rollover(args, now);
      case 'settime': return settime(args, now);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`steerdns dnssec: ${e.message}\n${USAGE}`);
      return 2;
    }
    process.stderr.write(`steerdns dnssec: ${(e as Error).message}\n`);
    return 1;
  }
}

/** "now", "now+1h", "+2d", "now-30m", YYYYMMDDHHMMSS, or "none" (null). */
export function parseWhen(text: string, now: number): number | null {
  const t = text.trim().toLowerCase();
  if (t === 'none' || t === 'unset') return null;
  const m = /^(now)?\s*(?:([+-])\s*(\d+)\s*([smhdw]?))?$/.exec(t);
  if (m && (m[1] !== undefined || m[2] !== undefined)) {
    const units: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
    const delta = m[2] === undefined ? 0 : Number(m[3]) * units[m[4]];
    return m[2] === '-' ? now - delta : now + delta;
  }
  const abs = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(t);
  if (abs) return Math.floor(Date.UTC(+abs[1], +abs[2] - 1, +abs[3], +abs[4], +abs[5], +abs[6]) / 1000);
  throw new UsageError(`"${text}" is not a time (now, now+1h, +2d, YYYYMMDDHHMMSS, none)`);
}

function zoneContext(values: { config?: string; zone?: string; 'key-directory'?: string }): ZoneContext {
  if (!values.zone) throw new UsageError('--zone is required');
  const zone = values.zone.toLowerCase().replace(/\.$/, '');
  if (values.config) {
    const { config, problems } = loadConfigFile(values.config);
    if (!config) throw new Error(`the config has errors:\n${problems.filter((p) => p.severity === 'error').map(formatProblem).join('\n')}`);
    const zc = config.zones.find((z) => z.name === zone);
    if (!zc) throw new Error(`no zone ${zone} in ${values.config}`);
    const settings = zc.dnssec ?? DEFAULTS;
    const dir = values['key-directory'] ?? keyDirectory(config, { ...zc, dnssec: settings });
    return { zone, dir, settings, config, zoneConfig: zc };
  }
  if (!values['key-directory']) throw new UsageError('give -c FILE (the config) or --key-directory DIR');
  return { zone, dir: values['key-directory'], settings: DEFAULTS, config: null, zoneConfig: null };
}

function timingFrom(values: Partial<Record<TimingOption, string>>, base: KeyTiming, now: number): KeyTiming {
  const t = { ...base };
  const set = (opt: TimingOption, field: keyof KeyTiming) => {
    const v = values[opt];
    if (v !== undefined) t[field] = parseWhen(v, now);
  };
  set('publish', 'publish');
  set('activate', 'activate');
  set('inactive', 'inactive');
  set('delete', 'delete');
  set('sync-publish', 'syncPublish');
  set('sync-delete', 'syncDelete');
  return t;
}

function when(t: number | null): string {
  return t === null ? '-' : new Date(t * 1000).toISOString().replace('.000Z', 'Z');
}

function roleOf(k: ZoneKey, mode: 'csk' | 'ksk+zsk'): 'CSK' | 'KSK' | 'ZSK' {
  if (!k.sep) return 'ZSK';
  return mode === 'csk' ? 'CSK' : 'KSK';
}

function keygen(values: DnssecArgs, now: number): number {
  const z = zoneContext(values);
  const algNumber = values.algorithm === undefined ? z.settings.algorithm : Number(/^\d+$/.test(values.algorithm) ? values.algorithm : { ecdsap256sha256: 13, ed25519: 15 }[values.algorithm.toLowerCase()]);
  const alg = algorithm(algNumber);
  if (!alg) throw new UsageError(`--algorithm ${values.algorithm}: 13 (ECDSAP256SHA256) or 15 (ED25519)`);
  const existing = readZoneKeys(z.dir, z.zone, false).keys;
  let roles: ('csk' | 'ksk' | 'zsk')[];
  if (values.role !== undefined) {
    if (values.role !== 'csk' && values.role !== 'ksk' && values.role !== 'zsk') throw new UsageError('--role is csk, ksk or zsk');
    roles = [values.role];
  } else if (z.settings.keys === 'csk') {
    roles = ['csk'];
  } else if (existing.length === 0) {
    roles = ['ksk', 'zsk'];
  } else {
    throw new UsageError(`${z.zone} signs with a KSK and a ZSK: say which with --role ksk or --role zsk`);
  }
  mkdirSync(z.dir, { recursive: true, mode: 0o700 });
  for (const role of roles) {
    const sep = role !== 'zsk';
    const activeAlready = existing.some((k) => k.sep === sep && k.isActive(now));
    // The first key of a role signs at once; a further one is only published (the safe half of a rollover).
    const base = emptyTiming();
    base.created = now;
    base.publish = now;
    if (!activeAlready) base.activate = now;
    if (sep) base.syncPublish = now;
    const timing = timingFrom(values, base, now);
    const key = generateKey(z.dir, z.zone, alg, sep ? FLAGS_KSK : FLAGS_ZSK, timing);
    const state = key.state(now);
    process.stdout.write(`${key.path}.key\n${key.path}.private\n`);
    process.stdout.write(`; ${role.toUpperCase()} ${key.tag}, algorithm ${alg.number} (${alg.mnemonic}), ${state}${timing.activate === null ? ' (no Activate time: it will not sign; see steerdns dnssec rollover / settime)' : ''}\n`);
  }
  if (z.config) process.stdout.write(`; reload the server (SIGHUP) to serve the new key${roles.length > 1 ? 's' : ''}; the parent needs: steerdns dnssec ds --zone ${z.zone} -c ${z.config.file}\n`);
  return 0;
}

/** SEP keys whose DS belongs at the parent now: from SyncPublish (or publication) until SyncDelete (or removal). */
function dsWanted(k: ZoneKey, now: number): boolean {
  if (!k.sep || k.state(now) === 'removed') return false;
  const t = k.timing;
  if (t.syncDelete !== null && t.syncDelete <= now) return false;
  if (t.syncPublish !== null) return t.syncPublish <= now;
  return k.isPublished(now);
}

function ds(values: DnssecArgs, now: number): number {
  const z = zoneContext(values);
  const { keys, problems } = readZoneKeys(z.dir, z.zone, false);
  for (const p of problems) process.stderr.write(`${p}\n`);
  const origin = nameOf(`${z.zone}.`);
  const shown = keys.filter((k) => (values.all ? k.sep : dsWanted(k, now)));
  if (shown.length === 0) {
    process.stderr.write(`no key of ${z.zone} needs a DS at the parent now${keys.length === 0 ? ` (no keys in ${z.dir})` : ' (--all lists every KSK/CSK)'}\n`);
    return 1;
  }
  process.stdout.write(`; DS records for the parent of ${origin} (digest type 2, SHA-256), and the DNSKEYs they match\n`);
  for (const k of shown) {
    process.stdout.write(`; key ${k.tag}: ${roleOf(k, z.settings.keys)}, ${k.state(now)}${dsWanted(k, now) ? ', belongs at the parent now' : ''}\n`);
    process.stdout.write(`${presentDs(origin, k.ds(origin))}\n`);
    process.stdout.write(`${presentDnskey(origin, k)}\n`);
  }
  return 0;
}

function status(values: DnssecArgs, now: number): number {
  const zones: ZoneContext[] = [];
  if (values.config && !values.zone) {
    const { config, problems } = loadConfigFile(values.config);
    if (!config) throw new Error(`the config has errors:\n${problems.filter((p) => p.severity === 'error').map(formatProblem).join('\n')}`);
    for (const zc of config.zones) {
      if (zc.dnssec === null) continue;
      zones.push({ zone: zc.name, dir: keyDirectory(config, zc), settings: zc.dnssec, config, zoneConfig: zc });
    }
    if (zones.length === 0) process.stdout.write(`no zone of ${values.config} has a dnssec block\n`);
  } else {
    zones.push(zoneContext(values));
  }
  let bad = false;
  for (const z of zones) {
    const { keys, problems } = readZoneKeys(z.dir, z.zone, true);
    const s = z.settings;
    process.stdout.write(`zone ${z.zone}: ${s.enabled ? 'signed' : 'dnssec.enabled is false (served unsigned)'}, ${s.keys === 'csk' ? 'CSK' : 'KSK+ZSK'}, keys in ${z.dir}\n`);
    for (const p of problems) {
      bad = true;
      process.stdout.write(`  problem: ${p}\n`);
    }
    for (const k of [...keys].sort((a, b) => (a.timing.activate ?? Infinity) - (b.timing.activate ?? Infinity))) {
      const t = k.timing;
      process.stdout.write(`  key ${String(k.tag).padStart(5)}  ${roleOf(k, s.keys)}  ${k.algorithm.mnemonic.padEnd(15)}  ${k.state(now).padEnd(9)}  publish ${when(t.publish)}  activate ${when(t.activate)}  inactive ${when(t.inactive)}  delete ${when(t.delete)}\n`);
      if (k.sep) process.stdout.write(`        DS at the parent: ${dsWanted(k, now) ? 'yes' : 'no'} (sync-publish ${when(t.syncPublish)}, sync-delete ${when(t.syncDelete)})\n`);
    }
    for (const line of nextActions(keys, s.keys, now)) process.stdout.write(`  ${line}\n`);
  }
  return bad ? 1 : 0;
}

/** What happens next and what the operator has to do, in time order. */
function nextActions(keys: readonly ZoneKey[], mode: 'csk' | 'ksk+zsk', now: number): string[] {
  const out: string[] = [];
  const events: [number, string][] = [];
  for (const k of keys) {
    const t = k.timing;
    const name = `${roleOf(k, mode)} ${k.tag}`;
    if (t.publish !== null && t.publish > now) events.push([t.publish, `${name} is published`]);
    if (t.activate !== null && t.activate > now) events.push([t.activate, `${name} starts signing`]);
    if (t.inactive !== null && t.inactive > now) events.push([t.inactive, `${name} stops signing`]);
    if (t.delete !== null && t.delete > now) events.push([t.delete, `${name} is removed from the DNSKEY RRset`]);
    if (k.sep && t.syncPublish !== null && t.syncPublish > now) events.push([t.syncPublish, `submit the DS of ${name} to the parent`]);
    if (k.sep && t.syncDelete !== null && t.syncDelete > now) events.push([t.syncDelete, `the DS of ${name} may be removed from the parent`]);
    if (k.sep && dsWanted(k, now)) out.push(`now: the parent must have the DS of ${name} (steerdns dnssec ds)`);
    if (k.sep && !dsWanted(k, now) && t.syncDelete !== null && t.syncDelete <= now && k.state(now) !== 'removed') out.push(`now: the DS of ${name} may be removed from the parent`);
  }
  const active = keys.filter((k) => k.isActive(now));
  if (active.length === 0) out.push('problem: no key signs now; make one: steerdns dnssec keygen');
  for (const [t, what] of events.sort((a, b) => a[0] - b[0])) out.push(`${when(t)}: ${what}`);
  return out;
}

function rollover(values: DnssecArgs, now: number): number {
  const z = zoneContext(values);
  if (!z.zoneConfig || !z.config) throw new UsageError('rollover needs -c FILE (the timing comes from the zone)');
  const mode = z.settings.keys;
  const role = values.role ?? (mode === 'csk' ? 'csk' : undefined);
  if (mode === 'csk' && role !== 'csk') throw new UsageError(`${z.zone} signs with a CSK (dnssec.keys: csk): --role csk, or leave --role out`);
  if (mode !== 'csk' && role !== 'ksk' && role !== 'zsk') throw new UsageError(`${z.zone} signs with a KSK and a ZSK: say which with --role ksk or --role zsk`);
  if (role !== 'csk' && role !== 'ksk' && role !== 'zsk') throw new UsageError('--role is csk, ksk or zsk');
  const sep = role !== 'zsk';
  const { keys } = readZoneKeys(z.dir, z.zone, true);
  const old = keys.filter((k) => k.sep === sep && k.isActive(now));
  if (old.length === 0) throw new Error(`no active ${role.toUpperCase()} to roll; make one with: steerdns dnssec keygen --zone ${z.zone} -c ${z.config.file}`);
  const s = z.settings;
  const dprp = s.propagation_delay;
  const ttlSig = maxZoneTtl(z.zoneConfig, z.config);
  const iret = dprp + ttlSig; // RFC 7583 §3.3.1: old signatures leave the caches
  const alg = algorithm(s.algorithm) ?? old[0].algorithm;
  const timing = emptyTiming();
  timing.created = now;
  let switchAt: number;
  const oldTiming = (k: ZoneKey): KeyTiming => ({ ...k.timing });
  const changes: [ZoneKey, KeyTiming][] = [];
  if (role === 'zsk') {
    // RFC 7583 §3.3.1, pre-publication: the new key is in every cached DNSKEY RRset before it signs.
    timing.publish = now;
    switchAt = now + dprp + s.dnskey_ttl;
    timing.activate = switchAt;
    for (const k of old) changes.push([k, { ...oldTiming(k), inactive: switchAt, delete: switchAt + iret }]);
  } else if (role === 'csk') {
    // RFC 7583 §3.3.4 with pre-publication: the new key and its DS are published now; it signs once both have
    // reached the caches; the old key's DS can go at the switch, the key itself once its signatures have expired.
    timing.publish = now;
    timing.syncPublish = now;
    switchAt = now + dprp + Math.max(s.dnskey_ttl, s.parent_ds_ttl);
    timing.activate = switchAt;
    for (const k of old) changes.push([k, { ...oldTiming(k), inactive: switchAt, delete: switchAt + iret, syncDelete: switchAt }]);
  } else {
    // RFC 7583 §3.3.2, double-DS: the new DS goes to the parent now; once it is in the caches the KSKs swap in the
    // DNSKEY RRset; the old DS stays until the new DNSKEY RRset has replaced the old one in the caches.
    timing.syncPublish = now;
    switchAt = now + dprp + s.parent_ds_ttl;
    timing.publish = switchAt;
    timing.activate = switchAt;
    for (const k of old) changes.push([k, { ...oldTiming(k), inactive: switchAt, delete: switchAt, syncDelete: switchAt + dprp + s.dnskey_ttl }]);
  }
  const key = generateKey(z.dir, z.zone, alg, sep ? FLAGS_KSK : FLAGS_ZSK, timing);
  for (const [k, t] of changes) writeTiming(k, t);
  const name = role.toUpperCase();
  process.stdout.write(`${key.path}.key\n${key.path}.private\n`);
  process.stdout.write(`${name} rollover of ${z.zone}: ${old.map((k) => k.tag).join(', ')} → ${key.tag}\n`);
  for (const line of nextActions([...keys.filter((k) => !changes.some(([c]) => c === k)), ...changes.map(([k]) => k), key], mode, now)) process.stdout.write(`  ${line}\n`);
  process.stdout.write(`reload the server (SIGHUP) now; it follows the timing above by itself${sep ? ', but the DS changes at the parent are yours to make (steerdns dnssec ds)' : ''}\n`);
  return 0;
}

function settime(values: DnssecArgs, now: number): number {
  const z = zoneContext(values);
  if (values.key === undefined || !/^\d+$/.test(values.key)) throw new UsageError('--key TAG is required');
  const tag = Number(values.key);
  const { keys, problems } = readZoneKeys(z.dir, z.zone, true);
  const key = keys.find((k) => k.tag === tag);
  if (!key) throw new Error(`no key ${tag} for ${z.zone} in ${z.dir}${problems.length ? `\n${problems.join('\n')}` : ''}`);
  const timing = timingFrom(values, key.timing, now);
  writeTiming(key, timing);
  process.stdout.write(`key ${tag}: publish ${when(timing.publish)} activate ${when(timing.activate)} inactive ${when(timing.inactive)} delete ${when(timing.delete)} sync-publish ${when(timing.syncPublish)} sync-delete ${when(timing.syncDelete)}\n`);
  process.stdout.write(`; ${formatKeyTime(now)}: reload the server (SIGHUP) to apply the change now (it also follows key timing by itself)\n`);
  return 0;
}
