// A host's worker: takes only its own host's jobs from the queue (BullMQ on Redis), checks each one
// (signed with the fleet key, for this host, a fleet file that passes a local build's validation)
// before it runs anything, and builds with the existing pipeline: the base once per host under the
// same cache key as a local fleet, then the guest. It reports each stage as the job's progress,
// writes a run record before each stage (so the next worker removes what a killed run half-made),
// and on stop finishes the stage it is in, unwinds, and hands the job back to the queue.

import { hostname as osHostname } from 'node:os';
import { Worker, UnrecoverableError, WaitingError, type Job } from 'bullmq';
import { CleanupStack } from '../../cleanup.js';
import { DomuError, oneLine } from '../../errors.js';
import { planStages } from '../pipeline.js';
import { baseImagePath, baseKey, buildFleetGuest, ensureBase, guestSpec, type BaseOutcome, type Fleet } from '../fleet.js';
import type { BuildSpec } from '../../spec/types.js';
import { hostBaseQueueName, hostQueueName } from './connection.js';
import { acceptJob, fleetForHost, redisClient, RefusedJob, type BaseJobResult, type GuestJobResult, type JobProgressReport } from './jobs.js';
import { dropRunRecord, isDead, readRunRecords, removeDeadRun, writeRunRecord, type RunRecord } from './runs.js';

export interface WorkerOptions {
  url: string;
  host: string;
  key: Buffer;
  concurrency: number;
  log: (line: string) => void;
  /** Aborted: stop at the next stage boundary, unwind, hand the jobs back, close. */
  stop: AbortSignal;
  /** Milliseconds a job's lock lasts without renewal (a SIGKILLed worker's job goes back after about this). */
  lockMs?: number;
}

/** The "ID: title" lines runBuild reports when a stage starts. */
async function stageStarts(spec: BuildSpec): Promise<Map<string, string>> {
  return new Map((await planStages(spec)).map((s) => [`${s.id}: ${s.title}`, s.id]));
}

/** One base build at a time per fleet in this process: the second finds the first's in the cache. */
const baseLocks = new Map<string, Promise<unknown>>();
async function serially<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const prev = baseLocks.get(key) ?? Promise.resolve();
  const next = prev.catch(() => undefined).then(fn);
  baseLocks.set(key, next);
  try {
    return await next;
  } finally {
    if (baseLocks.get(key) === next) baseLocks.delete(key);
  }
}

class Stopping extends DomuError {}

/** The base outcome of each fleet's latest run in this process, by fleet name. */
const runBases = new Map<string, { run: string; outcome: Promise<BaseOutcome> }>();

/** Run a worker until `stop` is aborted. Resolves once it has closed (every job finished or handed back). */
export async function runWorker(o: WorkerOptions): Promise<void> {
  const me = `${osHostname()}:${process.pid}`;
  // what a dead run on this host left behind goes first
  for (const rec of readRunRecords()) {
    if (!isDead(rec)) continue;
    o.log(`cleaning up after a dead run of ${rec.kind} ${rec.name} (job ${rec.jobId}, stage ${rec.stage})`);
    for (const line of await removeDeadRun(rec)) o.log(`  ${line}`);
  }
  let stopping = o.stop.aborted;

  /** The status callback for runBuild: at each stage start, write the run record and report progress; stop there when asked. */
  const tracker = (job: Job, rec: RunRecord, starts: Map<string, string>, started: number) => (text: string) => {
    const id = starts.get(text);
    if (id === undefined) return;
    if (stopping) throw new Stopping('INTERRUPTED', `stopped before ${id} (the worker is stopping); the job goes back to the queue`);
    rec.stage = id;
    rec.stages.push(id);
    writeRunRecord(rec);
    const progress: JobProgressReport = { stage: id, started, worker: me };
    job.updateProgress(progress as unknown as object).catch(() => undefined);
  };

  const handBack = async (job: Job, token: string | undefined): Promise<never> => {
    await job.moveToWait(token);
    throw new WaitingError();
  };

  /** Build or check the base (one caller at a time per fleet in this process). */
  const buildBase = (job: Job, fleet: Fleet): Promise<BaseOutcome> =>
    serially(fleet.name, async () => {
      const started = Date.now();
      const rec: RunRecord = { kind: 'base', name: fleet.name, jobId: String(job.id), pid: process.pid, stage: 'starting', stages: [], image: '', started: new Date(started).toISOString() };
      const cleanup = new CleanupStack();
      const starts = await stageStarts(fleet.base);
      const status = tracker(job, rec, starts, started);
      try {
        // the key once per run (a clone source's fingerprint walks its whole tree)
        const key = await baseKey(fleet);
        rec.image = baseImagePath(fleet.name, key);
        return await ensureBase(fleet, { signal: new AbortController().signal, cleanup, log: (l) => o.log(`${fleet.name}: ${l}`), status, key });
      } finally {
        await cleanup.runAll();
        dropRunRecord('base', fleet.name);
      }
    });

  /**
   * The base of this run of the fleet: built or checked once in this process, and that one outcome
   * given to every other base job and guest of the run (a failed one is not kept: a retry tries again).
   */
  const baseOf = (job: Job, fleet: Fleet, run: string): { outcome: Promise<BaseOutcome>; first: boolean } => {
    const memo = runBases.get(fleet.name);
    if (memo && memo.run === run) return { outcome: memo.outcome, first: false };
    const outcome = buildBase(job, fleet);
    const entry = { run, outcome };
    runBases.set(fleet.name, entry);
    const drop = () => {
      if (runBases.get(fleet.name) === entry) runBases.delete(fleet.name);
    };
    outcome.then((r) => (r.status === 'failed' ? drop() : undefined), drop);
    return { outcome, first: true };
  };

  const base = async (job: Job, fleet: Fleet, run: string, token: string | undefined): Promise<BaseOutcome & { first: boolean }> => {
    const { outcome, first } = baseOf(job, fleet, run);
    const r = await outcome;
    if (r.status === 'failed') {
      if (stopping) return await handBack(job, token);
      throw new Error(`the base failed: ${r.error ?? 'failed'}`);
    }
    return { ...r, first };
  };

  const processor = async (job: Job, token?: string): Promise<GuestJobResult | BaseJobResult> => {
    let accepted: ReturnType<typeof acceptJob>;
    try {
      accepted = acceptJob(o.key, job.data, o.host);
    } catch (e) {
      if (e instanceof RefusedJob) {
        o.log(`REFUSED job ${String(job.id)} (${job.name}): ${e.message}`);
        throw new UnrecoverableError(e.message);
      }
      throw e;
    }
    if (stopping) return handBack(job, token);
    const fleet = fleetForHost(accepted.fleet, o.host);
    const t0 = performance.now();
    const b = await base(job, fleet, String(accepted.payload.run), token);
    if (accepted.payload.kind === 'base') {
      if (b.first) o.log(`${fleet.name}: base ${b.status} ${b.image}`);
      return { status: b.status === 'built' ? 'built' : 'cached', host: o.host, key: b.key, image: b.image, seconds: (performance.now() - t0) / 1000, ...(b.first ? {} : { shared: true }) };
    }
    const g = accepted.guest!;
    const ip = accepted.payload.ip ?? (g.ip === 'auto' ? undefined : g.ip);
    if (g.ip === 'auto' && ip === undefined) throw new UnrecoverableError(`guest ${g.name} has ip: auto and the job carries no leased address`);
    const spec = guestSpec(fleet, g, b, ip);
    const image = spec.target.kind === 'image' ? spec.target.path : '';
    // a record of this guest from a dead run (this job stalled in a worker that died) goes first
    for (const old of readRunRecords()) {
      if (old.kind === 'guest' && old.name === g.name && isDead(old)) for (const line of await removeDeadRun(old)) o.log(`  ${g.name}: ${line}`);
    }
    const started = Date.now();
    const rec: RunRecord = { kind: 'guest', name: g.name, jobId: String(job.id), pid: process.pid, stage: 'starting', stages: [], image, config: spec.domain.config, started: new Date(started).toISOString() };
    writeRunRecord(rec);
    const cleanup = new CleanupStack();
    let r;
    try {
      r = await buildFleetGuest(fleet, g, b, ip, { signal: new AbortController().signal, cleanup, log: (l) => o.log(`${fleet.name}: ${l}`), status: tracker(job, rec, await stageStarts(spec), started) });
    } finally {
      await cleanup.runAll();
      dropRunRecord('guest', g.name);
    }
    if (r.status === 'failed' || r.status === 'not-run') {
      if (stopping) return handBack(job, token);
      throw new Error(r.error ?? 'failed');
    }
    const timings = Object.fromEntries((r.result?.stages ?? []).filter((s) => s.status === 'done').map((s) => [s.id, Math.round(s.seconds * 1000) / 1000]));
    return {
      status: r.status === 'built' ? 'built' : 'unchanged',
      host: o.host,
      image: r.image ?? image,
      config: r.result?.config ?? spec.domain.config,
      ...(ip ? { address: ip } : {}),
      seconds: (performance.now() - t0) / 1000,
      timings,
    };
  };

  const connection = redisClient(o.url);
  connection.on('error', () => undefined); // the worker's own 'error' event reports it
  const lockMs = o.lockMs ?? 30_000;
  const settings = {
    connection,
    lockDuration: lockMs,
    stalledInterval: lockMs,
    maxStalledCount: 3,
    // an idle worker waits at most half a second for the next job (BullMQ's default is 5 s, and a
    // flow's job that misses the wake-up marker waited that long before it was taken)
    drainDelay: 0.5,
    autorun: false,
  };
  // the guests, `concurrency` at a time; the base jobs on their own queue, outside those slots (each
  // run's first builds or checks the base, the rest wait for that outcome, so they cost no slot)
  const worker = new Worker(hostQueueName(o.host), processor, { ...settings, concurrency: o.concurrency });
  const baseWorker = new Worker(hostBaseQueueName(o.host), processor, { ...settings, concurrency: 64 });
  const workers = [worker, baseWorker];
  let lastError = '';
  for (const w of workers) {
    w.on('error', (e) => {
      const m = oneLine(e);
      if (m !== lastError) o.log(`queue: ${m}`);
      lastError = m;
    });
    w.on('ready', () => {
      if (lastError) o.log('queue: connected again');
      lastError = '';
    });
    w.on('completed', (job, rv: GuestJobResult | BaseJobResult) => {
      if (!('shared' in rv && rv.shared)) o.log(`${job.name} ${String(job.id)}: ${rv.status} in ${rv.seconds.toFixed(1)}s`);
    });
    w.on('failed', (job, e) => {
      if (job && !(e instanceof WaitingError) && e.name !== 'WaitingError') o.log(`${job.name} ${String(job.id)}: failed (attempt ${job.attemptsMade}): ${oneLine(e)}`);
    });
  }
  const closed = new Promise<void>((resolve) => {
    const close = () => {
      stopping = true;
      o.log('stopping: the jobs in progress stop at their next stage and go back to the queue');
      Promise.all(workers.map((w) => w.close())).then(() => resolve(), () => resolve());
    };
    if (o.stop.aborted) close();
    else o.stop.addEventListener('abort', close, { once: true });
  });
  for (const w of workers) void w.run().catch((e: unknown) => o.log(`queue: ${oneLine(e)}`));
  // ready once connected (the bench and an admin's log see when jobs can really be taken)
  await Promise.race([Promise.all(workers.map((w) => w.waitUntilReady())), closed]);
  if (!o.stop.aborted) o.log(`worker for host ${o.host}: queues ${hostQueueName(o.host)} (guests, concurrency ${o.concurrency}) and ${hostBaseQueueName(o.host)} (bases)`);
  await closed;
  await connection.quit().catch(() => connection.disconnect());
  o.log('stopped');
}
