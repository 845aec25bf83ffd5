// Where the queue is: redis://[user:password@]host:port[/db] or rediss:// (TLS), as ioredis options,
// with DOMU_FORGE_QUEUE and DOMU_FORGE_KEY as the environment fallbacks for --queue and --key.

import { DomuError } from '../../errors.js';

export interface QueueConnection {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  tls?: { servername: string };
  /** BullMQ workers must wait for Redis forever rather than fail a command while it restarts. */
  maxRetriesPerRequest: null;
}

/** Parse a queue URL; the message never repeats the password. */
export function parseQueueUrl(url: string): QueueConnection {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new DomuError('USAGE', `--queue: "${url.replace(/\/\/[^@/]*@/, '//***@')}" is not a URL (redis://[user:password@]host:port[/db] or rediss://)`);
  }
  const shown = `${u.protocol}//${u.host}${u.pathname}`;
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new DomuError('USAGE', `--queue: ${shown} must start with redis:// or rediss:// (TLS)`);
  if (!u.hostname) throw new DomuError('USAGE', `--queue: ${shown} names no host`);
  const port = u.port === '' ? 6379 : Number(u.port);
  const dbText = u.pathname.replace(/^\//, '');
  if (dbText !== '' && !/^\d{1,2}$/.test(dbText)) throw new DomuError('USAGE', `--queue: ${shown}: the database "${dbText}" is not a number`);
  if (u.search || u.hash) throw new DomuError('USAGE', `--queue: ${shown}: options in the URL are not supported`);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  return {
    host,
    port,
    db: dbText === '' ? 0 : Number(dbText),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: { servername: host } } : {}),
    maxRetriesPerRequest: null,
  };
}

/** --queue, else DOMU_FORGE_QUEUE. */
export function queueUrlFrom(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const v = flag ?? env.DOMU_FORGE_QUEUE;
  if (!v) throw new DomuError('USAGE', 'no queue: give --queue redis://HOST:PORT or set DOMU_FORGE_QUEUE');
  return v;
}

/** --key, else DOMU_FORGE_KEY. */
export function keyFileFrom(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const v = flag ?? env.DOMU_FORGE_KEY;
  if (!v) throw new DomuError('USAGE', 'no fleet key: give --key FILE (mode 0600) or set DOMU_FORGE_KEY');
  return v;
}

/** The BullMQ queue a host's worker takes its jobs from: one per host, so a worker sees only its own. */
export function hostQueueName(host: string): string {
  return `domu-forge.${host}`;
}

/**
 * The queue of a host's base jobs: taken by the same worker outside its guest slots (a base job is
 * one build per fleet run, or a look-up of its outcome), so the guests run as one continuous pool.
 */
export function hostBaseQueueName(host: string): string {
  return `domu-forge.${host}.base`;
}

/** The systemd unit for a host's worker (contrib/domu-forge-worker.service is the template form). */
export function workerUnit(o: { host: string; concurrency?: number; bin?: string; serve?: string }): string {
  const args = ['worker', '--host', o.host, ...(o.concurrency ? ['--concurrency', String(o.concurrency)] : []), ...(o.serve ? ['--serve', o.serve] : [])];
  return `[Unit]
Description=domu-forge fleet worker for host ${o.host}
Documentation=man:domu-forge(1)
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
# DOMU_FORGE_QUEUE=rediss://USER:PASSWORD@HOST:6379/0 and DOMU_FORGE_KEY=/etc/domu-forge/fleet.key
EnvironmentFile=/etc/domu-forge/worker.env
ExecStart=${o.bin ?? '/usr/bin/domu-forge'} ${args.join(' ')}
# SIGTERM: the job stops at its next stage boundary, is cleaned up and handed back; then exit 0
KillMode=mixed
KillSignal=SIGTERM
TimeoutStopSec=600
Restart=on-failure
RestartSec=5

[Install]
WantedBy=multi-user.target
`;
}
