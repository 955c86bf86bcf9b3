// The command line itself: --version, --help for every command, and argument mistakes as one line plus the
// synopsis with exit status 2 — never a stack trace.
import { COMMANDS } from '../../src/commands';
import { VERSION } from '../../src/version';
import { ensureBuilt, steerdns } from './run';

beforeAll(ensureBuilt, 120000);

test.each([['--version'], ['-V'], ['version']])('%s prints the version', async (arg) => {
  expect(await steerdns([arg])).toEqual({ code: 0, stdout: `steerdns ${VERSION}\n`, stderr: '' });
});

test('no command: the command list on stderr, exit 2; --help: on stdout, exit 0', async () => {
  const none = await steerdns([]);
  expect(none.code).toBe(2);
  expect(none.stdout).toBe('');
  expect(none.stderr).toMatch(/^usage: steerdns <command> \[options\]\n\ncommands:\n {2}serve {4}run the server/);
  const help = await steerdns(['--help']);
  expect(help).toEqual({ code: 0, stdout: none.stderr, stderr: '' });
  for (const c of COMMANDS) expect(help.stdout).toContain(`\n  ${c.name.padEnd(7)}  ${c.summary}\n`);
});

test('--help of every command (and help COMMAND): its synopsis and options, exit 0', async () => {
  for (const c of COMMANDS) {
    const r = await steerdns([c.name, '--help']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')[0]).toBe(`usage: steerdns ${c.name}${c.synopsis ? ` ${c.synopsis}` : ''}`);
    expect(r.stdout).toContain('  -h, --help');
    for (const name of Object.keys(c.options)) expect(r.stdout).toContain(`--${name}`);
    expect(await steerdns(['help', c.name])).toEqual(r);
    expect(await steerdns([c.name, '-h'])).toEqual(r);
  }
});

test('serve --help, exactly', async () => {
  expect((await steerdns(['serve', '--help'])).stdout).toBe(`usage: steerdns serve -c FILE [--watch] [--pidfile FILE]

Answers DNS for the zones and load balancers of the config file and runs its monitors. The start-up log
line gives the process id; "steerdns reload -c FILE" (or kill -HUP PID) applies an edited file, validated and
swapped in whole.

options:
  -c, --config FILE  the config file
  --watch            also reload when the file changes (server.watch_config)
  --pidfile FILE     write the process id to FILE while serving (server.pidfile)
  -h, --help         show this help
`);
});

const CHECK_USAGE = 'usage: steerdns check -c FILE [--format text|json] [--print]\n';
const EXPLAIN_USAGE = 'usage: steerdns explain -c FILE --name NAME [--type TYPE] [--resolver IP] [--ecs CIDR] [--health live|assume-up] [--state-file FILE]\n';
const TOP_USAGE = 'usage: steerdns <command> [options]  ("steerdns --help" lists the commands)\n';

test.each([
  [['check', '-c'], `steerdns check: option -c/--config needs a value (FILE)\n${CHECK_USAGE}`],
  [['check', '-c', '--print'], `steerdns check: option -c/--config needs a value (FILE)\n${CHECK_USAGE}`],
  [['check'], `steerdns check: missing -c FILE\n${CHECK_USAGE}`],
  [['check', '-c', 'x.yaml', 'stray'], `steerdns check: unexpected argument "stray" (check takes no arguments)\n${CHECK_USAGE}`],
  [['check', '--confg', 'x.yaml'], `steerdns check: unknown option --confg (did you mean "--config"?)\n${CHECK_USAGE}`],
  [['check', '-c', 'x.yaml', '--format', 'xml'], `steerdns check: --format must be text or json, got "xml"\n${CHECK_USAGE}`],
  [['check', '-c', 'x.yaml', '--print=yes'], `steerdns check: option --print takes no value\n${CHECK_USAGE}`],
  [['serve', '--bogus'], 'steerdns serve: unknown option --bogus\nusage: steerdns serve -c FILE [--watch] [--pidfile FILE]\n'],
  [['explain', '-c', 'x.yaml', '--name', 'a.example', '--health', 'sometimes'], `steerdns explain: --health must be live or assume-up, got "sometimes"\n${EXPLAIN_USAGE}`],
  [['explain', '-c', 'x.yaml'], `steerdns explain: missing --name NAME\n${EXPLAIN_USAGE}`],
  [['frobnicate'], `steerdns: unknown command "frobnicate"\n${TOP_USAGE}`],
  [['chek', '-c', 'x'], `steerdns: unknown command "chek" (did you mean "check"?)\n${TOP_USAGE}`],
  [['--verbose'], `steerdns: unknown option --verbose\n${TOP_USAGE}`],
  [['--version', 'extra'], `steerdns: unexpected argument "extra"\n${TOP_USAGE}`],
  [['version', 'extra'], 'steerdns version: unexpected argument "extra" (version takes no arguments)\nusage: steerdns version\n'],
  [['reload', '-c', 'x.yaml', '--timeout', 'soon'], 'steerdns reload: --timeout must be a number of seconds above 0, got "soon"\nusage: steerdns reload -c FILE [--pidfile FILE] [--timeout SECONDS]\n'],
])('%j: one line and the synopsis, exit 2', async (args, stderr) => {
  expect(await steerdns(args)).toEqual({ code: 2, stdout: '', stderr });
});
