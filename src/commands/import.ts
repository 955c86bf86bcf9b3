// `steerdns import cloudflare` (a group: `steerdns import` lists its commands). The mapping is in ../import/.
import { readFileSync, writeFileSync } from 'node:fs';
import { defineCommand, UsageError, type Command } from './spec';

function readJson(file: string, option: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`${option}: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 'import cloudflare');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new UsageError(`${option}: ${file} is not JSON (${(e as Error).message})`, 'import cloudflare');
  }
}

const cloudflare = defineCommand({
  name: 'cloudflare',
  summary: 'Cloudflare Load Balancing API objects (load balancers, pools, monitors) → a steerdns config',
  synopsis: '--load-balancers FILE [--pools FILE] [--monitors FILE] [--zone NAME]... [-o FILE]',
  description: `Reads the JSON the Cloudflare API returns for GET /zones/:zone_id/load_balancers, GET
/accounts/:account_id/load_balancers/pools and …/monitors (list responses, or bare lists) and writes a steerdns
config: pool and monitor IDs become names, references by ID become references by name. Fields that only act on
proxied traffic (session affinity, adaptive routing, proxied: true …) are dropped, and everything that cannot be
mapped is listed, on stderr. Zones: --zone, else each load balancer's zone_name, else its parent domain.`,
  options: {
    'load-balancers': { type: 'string', value: 'FILE', help: 'the load balancers (GET /zones/:zone_id/load_balancers)' },
    pools: { type: 'string', value: 'FILE', help: 'the pools (GET /accounts/:account_id/load_balancers/pools)' },
    monitors: { type: 'string', value: 'FILE', help: 'the monitors (GET /accounts/:account_id/load_balancers/monitors)' },
    zone: { type: 'string', multiple: true, value: 'NAME', help: 'a zone steerdns will serve (repeatable)' },
    output: { type: 'string', short: 'o', value: 'FILE', help: 'write the config here (default: stdout)' },
  },
  async run({ values }) {
    const lbFile = values['load-balancers'];
    if (lbFile === undefined) throw new UsageError('missing --load-balancers FILE', 'import cloudflare');
    const input = {
      loadBalancers: readJson(lbFile, '--load-balancers'),
      pools: values.pools === undefined ? null : readJson(values.pools, '--pools'),
      monitors: values.monitors === undefined ? null : readJson(values.monitors, '--monitors'),
      zones: values.zone ?? [],
    };
    const { importCloudflare } = await import('../import/cloudflare');
    const { stringify } = await import('yaml');
    let result;
    try {
      result = importCloudflare(input);
    } catch (e) {
      process.stderr.write(`steerdns import cloudflare: ${(e as Error).message}\n`);
      return 1;
    }
    const { config, report, counts } = result;
    const sources = [lbFile, values.pools, values.monitors].filter((f) => f !== undefined).join(', ');
    const yaml = `# steerdns config imported from Cloudflare Load Balancing (${sources}) by steerdns import cloudflare.
# Review the server block and each zone's ns (and delegate the zones to steerdns), then: steerdns check -c FILE
${stringify(config, { lineWidth: 0 })}`;
    if (values.output) writeFileSync(values.output, yaml);
    else process.stdout.write(yaml);
    const n = (k: number, w: string) => `${k} ${w}${k === 1 ? '' : 's'}`;
    const lines = [
      `imported ${n(counts.load_balancers, 'load balancer')}, ${n(counts.pools, 'pool')}, ${n(counts.monitors, 'monitor')} in ${counts.zones.length === 1 ? 'zone' : 'zones'} ${counts.zones.join(', ') || '-'}${values.output ? ` into ${values.output}` : ''}`,
    ];
    const section = (title: string, items: string[]) => {
      if (items.length) lines.push(title, ...items.map((i) => `  ${i}`));
    };
    section('dropped (no effect on DNS-only answers):', report.dropped);
    section('changed:', report.changed);
    section('not mapped:', report.unmapped);
    process.stderr.write(`${lines.join('\n')}\n`);
    return 0;
  },
});

export const importCommand: Command = {
  name: 'import',
  summary: 'convert another product\'s load-balancer config to steerdns (import cloudflare)',
  synopsis: '<command> [options]',
  options: {},
  subcommands: [cloudflare],
};
