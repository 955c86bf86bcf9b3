// `steerdns serve`: runs the server until SIGTERM/SIGINT (SIGHUP reloads).
import { defineCommand } from './spec';
import { required } from './args';

export const serveCommand = defineCommand({
  name: 'serve',
  summary: 'run the server (SIGHUP reloads, SIGTERM/SIGINT stop cleanly)',
  synopsis: '-c FILE [--watch] [--pidfile FILE]',
  description: `Answers DNS for the zones and load balancers of the config file and runs its monitors. The start-up log
line gives the process id; "steerdns reload -c FILE" (or kill -HUP PID) applies an edited file, validated and
swapped in whole.`,
  options: {
    config: { type: 'string', short: 'c', value: 'FILE', help: 'the config file' },
    watch: { type: 'boolean', help: 'also reload when the file changes (server.watch_config)' },
    pidfile: { type: 'string', value: 'FILE', help: 'write the process id to FILE while serving (server.pidfile)' },
  },
  async run({ values }) {
    const config = required(values.config, '-c FILE', 'serve');
    const { serve } = await import('../server/serve');
    return serve(config, { watch: values.watch === true, pidfile: values.pidfile ?? null });
  },
});
