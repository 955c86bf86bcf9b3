// `steerdns dnssec keygen|ds|status|rollover|settime` (a group). The rows give the table's help and argument
// checks; the work is in ../dnssec/commands.ts, which takes the parsed options.
import type { DnssecArgs, DnssecSubcommand } from '../dnssec/commands';
import { defineCommand, type Command, type OptionsSpec } from './spec';

const COMMON = {
  config: { type: 'string', short: 'c', value: 'FILE', help: 'the config (the zone\'s dnssec settings and key directory)' },
  zone: { type: 'string', value: 'ZONE', help: 'the signed zone' },
  'key-directory': { type: 'string', value: 'DIR', help: 'the key directory (instead of, or overriding, the config\'s)' },
} as const;

const TIMING = {
  publish: { type: 'string', value: 'T', help: 'when the DNSKEY is published' },
  activate: { type: 'string', value: 'T', help: 'when it starts signing' },
  inactive: { type: 'string', value: 'T', help: 'when it stops signing' },
  delete: { type: 'string', value: 'T', help: 'when it is removed' },
  'sync-publish': { type: 'string', value: 'T', help: 'when the parent may publish its DS (KSK, CSK)' },
} as const;

const WHEN = 'T: now, now+1h, +2d, now-30m, YYYYMMDDHHMMSS (UTC), or none.';

function sub<O extends OptionsSpec>(name: DnssecSubcommand, summary: string, synopsis: string, description: string, options: O): Command {
  return defineCommand({
    name,
    summary,
    synopsis,
    description,
    options,
    async run({ values }) {
      const { dnssecCommand } = await import('../dnssec/commands');
      return dnssecCommand(name, values as DnssecArgs);
    },
  });
}

export const dnssecCommand = defineCommand({
  name: 'dnssec',
  summary: 'DNSSEC keys: make them, the DS for the parent, their states, rollovers',
  synopsis: '<command> [options]',
  description: `Key files are BIND-format (K<zone>+<alg>+<tag>.key/.private/.state) in the zone's key directory; a
running server picks up new files at its next reload and key timing as it comes due. See docs/dnssec.md.`,
  options: {},
  subcommands: [
    sub('keygen', 'make a key (the first key(s) of a zone: published and active now)', '--zone ZONE (-c FILE | --key-directory DIR) [--role csk|ksk|zsk] [--algorithm 13|15] [timing]', WHEN, {
      ...COMMON,
      role: { type: 'string', choices: ['csk', 'ksk', 'zsk'], help: 'the key\'s role (default: the zone\'s key scheme)' },
      algorithm: { type: 'string', choices: ['13', '15'], help: '13 ECDSA P-256 SHA-256, 15 Ed25519 (default: the zone\'s)' },
      ...TIMING,
    }),
    sub('ds', 'the DS records (SHA-256) and DNSKEYs to give the parent zone', '--zone ZONE (-c FILE | --key-directory DIR) [--all]', '', {
      ...COMMON,
      all: { type: 'boolean', help: 'every key with the SEP flag, not only those whose DS should be published now' },
    }),
    sub('status', 'every key\'s state and timing, and what to do next', '(-c FILE [--zone ZONE] | --zone ZONE --key-directory DIR)', '', COMMON),
    sub('rollover', 'a successor key and the timing of the roll (RFC 7583)', '--zone ZONE -c FILE [--role csk|ksk|zsk]', '', {
      ...COMMON,
      role: { type: 'string', choices: ['csk', 'ksk', 'zsk'], help: 'which key to roll (default: the zone\'s signing key)' },
    }),
    sub('settime', 'change a key\'s timing', '--zone ZONE (-c FILE | --key-directory DIR) --key TAG [timing]', WHEN, {
      ...COMMON,
      key: { type: 'string', value: 'TAG', help: 'the key tag' },
      ...TIMING,
      'sync-delete': { type: 'string', value: 'T', help: 'when the parent should remove its DS' },
    }),
  ],
});
