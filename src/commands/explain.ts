// `steerdns explain` (the command row; the work is in ../explain.ts, loaded when the command runs).
import { required } from './args';
import { defineCommand } from './spec';

export const explainCommand = defineCommand({
  name: 'explain',
  summary: 'show how one query is answered: rules, location, pools, endpoints, the answer',
  synopsis: '-c FILE --name NAME [--type TYPE] [--resolver IP] [--ecs CIDR] [--health live|assume-up] [--state-file FILE]',
  description: `Runs one query through the server's own answer path and prints every decision: the rules, the client's
location, each candidate pool and why it was skipped, the chosen pool and endpoints, TTL, ECS scope and the answer.
Hostname endpoints are resolved as the server resolves them (names in the config's zones from the config itself).`,
  options: {
    config: { type: 'string', short: 'c', value: 'FILE', help: 'the config file' },
    name: { type: 'string', value: 'NAME', help: 'the query name' },
    type: { type: 'string', value: 'TYPE', help: 'the query type: A (default), AAAA, MX, SRV, TXT, … or a number' },
    resolver: { type: 'string', value: 'IP', help: 'the address the query comes from (default 127.0.0.1)' },
    ecs: { type: 'string', value: 'CIDR', help: 'an EDNS Client Subnet in the query (e.g. 81.2.69.0/24)' },
    health: { type: 'string', choices: ['live', 'assume-up'], help: 'assume-up (default): every endpoint up; live: the shared health view, else the state file' },
    'state-file': { type: 'string', value: 'FILE', help: 'with --health live: read this state file instead of server.state_file' },
  },
  async run({ values }) {
    const { explain } = await import('../explain');
    return explain({
      config: required(values.config, '-c FILE', 'explain'),
      name: required(values.name, '--name NAME', 'explain'),
      type: values.type ?? 'A',
      resolver: values.resolver ?? '127.0.0.1',
      ecs: values.ecs ?? null,
      health: values.health === 'live' ? 'live' : 'assume-up',
      stateFile: values['state-file'] ?? null,
    });
  },
});
