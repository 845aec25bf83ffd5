// A fleet built through the queue: `domu-forge build FLEET.yaml --queue URL` (queue, watch, summary)
// and `domu-forge fleet status FLEET.yaml --queue URL` (where a queued fleet stands, later).

import type { Command } from 'commander';
import { DomuError, EXIT_STATUS } from '../errors.js';
import { keyFileFrom, queueUrlFrom, parseQueueUrl } from '../pipeline/queue/connection.js';
import { readKeyFile } from '../pipeline/queue/sign.js';
import { redisClient } from '../pipeline/queue/jobs.js';
import { fleetRows, isFinished, planQueuedFleet, queueFleet, readRunRecord, rememberRows, watchFleet, type GuestRow } from '../pipeline/queue/coordinator.js';
import { readFleetFile } from '../pipeline/fleet.js';
import { abortOnSignals } from './signals.js';
import { formatDuration, printJson } from './output.js';

export interface QueuedBuildOptions {
  queue?: string;
  key?: string;
  detach?: boolean;
  json?: boolean;
  attempts?: string;
  dryRun?: boolean;
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const out = rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
  out.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  return out;
}

function summary(rows: GuestRow[]): string {
  const out = table([
    ['guest', 'host', 'status', 'ip', 'time', 'note'],
    ...rows.map((r) => [r.guest, r.host, r.state, r.ip ?? '', r.elapsed > 0 ? formatDuration(r.elapsed) : '', r.error ?? (isFinished(r.state) ? r.image ?? '' : r.stage)]),
  ]);
  const n = (s: string) => rows.filter((r) => r.state === s).length;
  out.push('', `${n('planned') ? `${n('planned')} planned, ` : ''}${n('built')} built, ${n('unchanged')} unchanged, ${n('failed') + n('missing')} failed${rows.some((r) => !isFinished(r.state)) ? `, ${rows.filter((r) => !isFinished(r.state)).length} not finished` : ''}`);
  return `${out.join('\n')}\n`;
}

/** A dry run's plans: per guest, the stages its host would run (and those it would skip). */
function plans(rows: GuestRow[]): string {
  const out: string[] = [];
  for (const r of rows) {
    const stages = r.result && 'stages' in r.result ? r.result.stages : undefined;
    if (!stages) continue;
    out.push(`${r.guest} on ${r.host}: ${stages.filter((s) => !s.skip).map((s) => s.id).join(', ')}${r.result && 'configText' in r.result && r.result.config ? ` -> ${r.result.config}` : ''}`);
  }
  return out.length ? `\nstages each host would run:\n${out.map((l) => `  ${l}`).join('\n')}\n` : '';
}

/** The live table on a terminal: guest, host, stage, elapsed; redrawn in place on stderr. */
class LiveTable {
  private drawn = 0;
  private readonly enabled = Boolean(process.stderr.isTTY);
  draw(rows: GuestRow[]): void {
    if (!this.enabled) return;
    const width = (process.stderr.columns || 100) - 1;
    const lines = table([['guest', 'host', 'stage', 'elapsed'], ...rows.map((r) => [r.guest, r.host, isFinished(r.state) ? r.state : r.state === 'building' ? r.stage : `${r.state}${r.stage ? ` (${r.stage})` : ''}`, r.elapsed > 0 ? formatDuration(r.elapsed) : ''])]).map((l) => l.slice(0, width));
    let out = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
    for (const l of lines) out += `\r\x1b[2K${l}\n`;
    process.stderr.write(out);
    this.drawn = lines.length;
  }
  clear(): void {
    if (!this.enabled || this.drawn === 0) return;
    process.stderr.write(`\x1b[${this.drawn}A${'\r\x1b[2K\n'.repeat(this.drawn)}\x1b[${this.drawn}A`);
    this.drawn = 0;
  }
}

function attemptsOf(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 100) throw new DomuError('USAGE', '--attempts must be a whole number from 1 to 100');
  return n;
}

/** build FLEET.yaml --queue URL: place, queue, then (unless --detach) watch until every guest is done. */
export async function runQueuedBuild(file: string, opts: QueuedBuildOptions): Promise<void> {
  const url = queueUrlFrom(opts.queue);
  parseQueueUrl(url);
  const key = readKeyFile(keyFileFrom(opts.key));
  const attempts = attemptsOf(opts.attempts);
  const dryRun = opts.dryRun === true;
  const plan = planQueuedFleet(file, { dryRun });
  if (!opts.json) process.stdout.write(`placement:\n${plan.placementText.replace(/^/gm, '  ')}\n`);
  const redis = redisClient(url);
  let lastError = '';
  redis.on('error', (e: Error) => {
    if (!opts.json && e.message !== lastError) process.stderr.write(`queue: ${e.message} (retrying)\n`);
    lastError = e.message;
  });
  const stop = new AbortController();
  const removeSignals = abortOnSignals(stop);
  try {
    if (dryRun && opts.detach) throw new DomuError('USAGE', '--dry-run waits for the plans (leave out --detach)');
    const q = await queueFleet({ file, redis, key, dryRun, ...(attempts ? { attempts } : {}), ...(process.env.DOMU_FORGE_QUEUE_BACKOFF_MS ? { backoffMs: Number(process.env.DOMU_FORGE_QUEUE_BACKOFF_MS) } : {}) }, plan);
    if (opts.detach) {
      if (opts.json) printJson({ ok: true, fleet: q.fleet.name, run: q.record.run, queued: q.record.guests });
      else process.stdout.write(`queued ${q.record.guests.length} guests of fleet ${q.fleet.name} (run ${q.record.run}); domu-forge fleet status ${file} --queue URL shows where they stand\n`);
      return;
    }
    const live = new LiveTable();
    const rows = await watchFleet(redis, q.record, {
      signal: stop.signal,
      onRows: (r) => live.draw(r),
      onError: (m) => {
        if (!opts.json && m !== lastError) process.stderr.write(`queue: ${m} (retrying)\n`);
        lastError = m;
      },
    });
    live.clear();
    if (!dryRun) rememberRows(q.fleet.name, rows);
    if (opts.json) printJson({ ok: rows.every((r) => r.state === (dryRun ? 'planned' : 'built') || (!dryRun && r.state === 'unchanged')), fleet: q.fleet.name, run: q.record.run, ...(dryRun ? { dryRun: true } : {}), placements: q.placements, guests: rows });
    else {
      process.stdout.write(summary(rows));
      if (dryRun) process.stdout.write(`${plans(rows)}dry run: the workers planned each guest; nothing was written on the hosts\n`);
    }
    if (stop.signal.aborted) {
      process.stderr.write('domu-forge: stopped watching; the fleet goes on in the queue (domu-forge fleet status shows it)\n');
      process.exitCode = EXIT_STATUS.INTERRUPTED;
    } else if (rows.some((r) => r.state === 'failed' || r.state === 'missing')) process.exitCode = EXIT_STATUS.FLEET_FAILED;
  } finally {
    removeSignals();
    await redis.quit().catch(() => redis.disconnect());
  }
}

export function register(program: Command): void {
  const fleet = program.command('fleet').description('fleets built through the queue');
  fleet
    .command('status')
    .description('where every guest of a queued fleet stands: host, state, stage, time, error')
    .argument('<fleet>', 'the fleet file (YAML)')
    .option('--queue <url>', 'redis://[user:password@]host:port[/db] or rediss://; default $DOMU_FORGE_QUEUE')
    .option('--json', 'print the state as JSON')
    .addHelpText('after', `
Exit status: 0 when every guest is built or unchanged, 4 when one failed, 2 when the fleet was never
queued; a fleet still being built exits 0 and says how many are not finished.`)
    .action(async (file: string, opts: { queue?: string; json?: boolean }) => {
      const url = queueUrlFrom(opts.queue);
      parseQueueUrl(url);
      const f = readFleetFile(file);
      const redis = redisClient(url);
      redis.on('error', () => undefined);
      try {
        const record = await readRunRecord(redis, f.name);
        if (!record) throw new DomuError('BAD_INPUT', `fleet ${f.name} was never queued on this queue`);
        const rows = await fleetRows(redis, record);
        if (opts.json) printJson({ ok: true, fleet: f.name, run: record.run, queued: record.queued, guests: rows });
        else process.stdout.write(`fleet ${f.name}, queued ${record.queued.replace('T', ' ').slice(0, 19)} (run ${record.run})\n${summary(rows)}`);
        if (rows.some((r) => r.state === 'failed' || r.state === 'missing')) process.exitCode = EXIT_STATUS.FLEET_FAILED;
      } finally {
        await redis.quit().catch(() => redis.disconnect());
      }
    });
}
