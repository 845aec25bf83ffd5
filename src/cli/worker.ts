// `domu-forge worker --queue URL --host NAME`: one per Dom0, builds that host's share of queued fleets.

import type { Command } from 'commander';
import { DomuError } from '../errors.js';
import { keyFileFrom, queueUrlFrom, workerUnit, parseQueueUrl } from '../pipeline/queue/connection.js';
import { readKeyFile } from '../pipeline/queue/sign.js';
import { runWorker } from '../pipeline/queue/worker.js';
import { abortOnSignals } from './signals.js';

interface WorkerCliOptions {
  queue?: string;
  host?: string;
  concurrency?: string;
  key?: string;
  serve?: string;
  printUnit?: boolean;
}

/** The base server's port when --serve gives none. */
export const DEFAULT_SERVE_PORT = 7474;

/** --serve ADDRESS[:PORT] (IPv6 in brackets: [ADDR]:PORT). */
export function parseServe(v: string): { host: string; port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9][A-Za-z0-9.-]*))(?::(\d{1,5}))?$/.exec(v);
  const port = m?.[3] === undefined ? DEFAULT_SERVE_PORT : Number(m[3]);
  if (!m || port > 65535) throw new DomuError('USAGE', `--serve "${v}" is not ADDRESS[:PORT] (the address the other hosts reach this one by, e.g. 10.0.0.11:${DEFAULT_SERVE_PORT})`);
  return { host: m[1] ?? m[2]!, port };
}

export function register(program: Command): void {
  program
    .command('worker')
    .description('build this Dom0\'s share of queued fleets: takes only its own host\'s jobs from the queue (BullMQ on Redis)')
    .option('--queue <url>', 'redis://[user:password@]host:port[/db] or rediss:// (TLS); default $DOMU_FORGE_QUEUE')
    .option('--host <name>', 'this Dom0\'s name in the fleet files\' hosts: section')
    .option('--concurrency <n>', 'guests built at once (default 2)')
    .option('--key <file>', 'the fleet key (mode 0600) every job must be signed with; default $DOMU_FORGE_KEY')
    .option('--serve <address[:port]>', `serve this host's packed root to the other hosts (fleets whose source.clone.host is this host): listen on ADDRESS (the address they reach it by) and PORT (default ${DEFAULT_SERVE_PORT})`)
    .option('--print-unit', 'print a systemd unit that runs this worker, and exit')
    .addHelpText('after', `
A job that is not signed with the key, is for another host, or whose fleet file does not pass a
local build's validation is refused (logged, failed, not retried) before anything runs.
SIGTERM: the jobs in progress stop at their next stage, are cleaned up and go back to the queue; exit 0.
Dry-run jobs (build FLEET --queue URL --dry-run) are checked the same way, then planned: the worker
returns the stages it would run and the xl config it would write, and writes nothing.

A fleet whose base is a clone of one host's root (source.clone.host: NAME): that host's worker, started
with --serve, packs its root (as "domu-forge tar" writes it) and serves it over HTTP by its SHA-256 to
requests signed with the fleet key; the other hosts' workers fetch it, check its SHA-256, keep it in
their state directory (base-share/SHA256.tar) and build their base from it, under the same base key.
A worker killed with SIGKILL: its jobs go back once their lock expires, and the next worker on this
host removes what the dead run half-made before building again.

Examples:
  domu-forge worker --queue rediss://forge:PASSWORD@10.0.0.5:6379 --host dom0-a --key /etc/domu-forge/fleet.key
  domu-forge worker --host dom0-a --serve 10.0.0.11    # dom0-a's root is the fleet's clone source
  domu-forge worker --host dom0-a --concurrency 4 --print-unit > /etc/systemd/system/domu-forge-worker.service`)
    .action(async (opts: WorkerCliOptions) => {
      if (!opts.host) throw new DomuError('USAGE', 'worker: --host NAME is required (this Dom0\'s name in hosts:)');
      if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(opts.host)) throw new DomuError('USAGE', `worker: --host "${opts.host}" is not a host name (letters, digits, _ . -)`);
      const concurrency = opts.concurrency === undefined ? 2 : Number(opts.concurrency);
      if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) throw new DomuError('USAGE', '--concurrency must be a whole number from 1 to 64');
      if (opts.printUnit) {
        process.stdout.write(workerUnit({ host: opts.host, ...(opts.concurrency !== undefined ? { concurrency } : {}), ...(opts.serve !== undefined ? { serve: (parseServe(opts.serve), opts.serve) } : {}) }));
        return;
      }
      const serve = opts.serve === undefined ? undefined : parseServe(opts.serve);
      const url = queueUrlFrom(opts.queue);
      parseQueueUrl(url);
      const key = readKeyFile(keyFileFrom(opts.key));
      const stop = new AbortController();
      const removeSignals = abortOnSignals(stop);
      const lockMs = process.env.DOMU_FORGE_QUEUE_LOCK_MS ? Number(process.env.DOMU_FORGE_QUEUE_LOCK_MS) : undefined;
      try {
        await runWorker({
          url, host: opts.host, key, concurrency, stop: stop.signal, ...(serve ? { serve } : {}),
          log: (line) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`),
          ...(lockMs && lockMs > 0 ? { lockMs } : {}),
        });
      } finally {
        removeSignals();
      }
    });
}
