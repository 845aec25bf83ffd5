// `domu-forge worker --queue URL --host NAME [--concurrency N] [--key FILE] [--print-unit]`: the
// long-running per-Dom0 worker of a distributed fleet. Only --print-unit is implemented so far.

import type { Command } from 'commander';
import { DomuError } from '../errors.js';
import { workerUnit } from '../pipeline/queue/connection.js';

interface WorkerCliOptions {
  queue?: string;
  host?: string;
  concurrency?: string;
  key?: string;
  printUnit?: boolean;
}

export function register(program: Command): void {
  program
    .command('worker')
    .description('build this Dom0\'s share of queued fleets (BullMQ on Redis): one worker per host')
    .option('--queue <url>', 'redis://[user:password@]host:port[/db] or rediss:// (default: $DOMU_FORGE_QUEUE)')
    .option('--host <name>', 'this host\'s name in the fleet files\' hosts: section')
    .option('--concurrency <n>', 'guests built at once (default: the host\'s concurrency in the fleet file)')
    .option('--key <file>', 'the fleet key, mode 0600 (default: $DOMU_FORGE_KEY)')
    .option('--print-unit', 'print a systemd unit that runs this worker, and exit')
    .action((opts: WorkerCliOptions) => {
      if (!opts.host) throw new DomuError('USAGE', '--host NAME is required (this host\'s name in the fleet file)');
      const concurrency = opts.concurrency === undefined ? undefined : Number(opts.concurrency);
      if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency >= 1 && concurrency <= 64)) throw new DomuError('USAGE', '--concurrency must be a whole number from 1 to 64');
      if (opts.printUnit) {
        process.stdout.write(workerUnit({ host: opts.host, ...(concurrency ? { concurrency } : {}), bin: process.argv[1] ?? '/usr/bin/domu-forge' }));
        return;
      }
      throw new DomuError('ENVIRONMENT', 'the queue worker is not built yet (issue 11): only --print-unit works');
    });
}
