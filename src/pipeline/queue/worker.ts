// A host's worker: takes only its own host's jobs from the queue (BullMQ on Redis), checks each one
// (signed with the fleet key, for this host, a fleet file that passes a local build's validation)
// before it runs anything, and builds with the existing pipeline: the base once per host under the
// same cache key as a local fleet, then the guest. It reports each stage as the job's progress,
// writes a run record before each stage (so the next worker removes what a killed run half-made),
// and on stop finishes the stage it is in, unwinds, and hands the job back to the queue.

import { existsSync, readdirSync, rmSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import { Worker, UnrecoverableError, WaitingError, type Job } from 'bullmq';
import { CleanupStack } from '../../cleanup.js';
import { DomuError, isDomuError, oneLine } from '../../errors.js';
import { processRuns } from '../../sys/process.js';
import { readState, stateDir, writeState } from '../../sys/state.js';
import { DEFAULT_EXCLUDES } from '../../walk/exclude.js';
import { renderXlConfig } from '../../xen/render.js';
import { diskPathOf, domainOf, planStages } from '../pipeline.js';
import { baseImagePath, baseKey, buildFleetGuest, cloneHostOf, ensureBase, guestSpec, isPerGuestStage, planOf, type BaseOutcome, type Fleet, type FleetGuest } from '../fleet.js';
import type { BuildSpec } from '../../spec/types.js';
import { hostBaseQueueName, hostQueueName } from './connection.js';
import { acceptJob, fleetForHost, redisClient, RefusedJob, type BaseJobResult, type DryRunResult, type GuestJobResult, type JobPayload, type JobProgressReport } from './jobs.js';
import { checkBaseShare, fetchBase, packBase, serveBases, signBaseShare, type BaseServer, type SignedBaseShare } from './base-share.js';
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
  /**
   * Serve packed clones to the other hosts (fleets whose source.clone.host is this host): `host` is
   * the name or address they reach this one by (and the listen address unless `address` is given),
   * `port` 0 for any free one.
   */
  serve?: { host: string; port: number; address?: string };
}

/** Where packed clones are kept, by SHA-256, on the serving host and the fetching hosts alike. */
export function shareDir(): string {
  return join(stateDir(), 'base-share');
}

/** The serving host's record of a fleet's packed clone: which base key it is of. */
interface ShareRecord {
  key: string;
  sha256: string;
  packed: string;
}

function shareRecordPath(fleet: string): string {
  return `fleet-bases/${fleet}.share.json`;
}

/** Temporary files in the share folder of processes that are gone (a SIGKILLed pack or fetch). */
function removeDeadTemps(log: (line: string) => void): void {
  let names: string[];
  try {
    names = readdirSync(shareDir());
  } catch {
    return;
  }
  for (const n of names) {
    const m = /^\..*?-(\d+)-[0-9a-f]{8}/.exec(n);
    if (!m) continue;
    const pid = Number(m[1]);
    if (processRuns(pid)) continue;
    rmSync(join(shareDir(), n), { force: true });
    log(`removed ${join(shareDir(), n)} (a pack or fetch of a dead run)`);
  }
}

/** A memo per fleet, kept for one run (a failed value is not kept: a retry tries again). */
class RunMemo<T> {
  private readonly m = new Map<string, { run: string; value: Promise<T> }>();
  get(fleet: string, run: string, make: () => Promise<T>): { value: Promise<T>; first: boolean } {
    const memo = this.m.get(fleet);
    if (memo && memo.run === run) return { value: memo.value, first: false };
    const value = make();
    const entry = { run, value };
    this.m.set(fleet, entry);
    value.catch(() => {
      if (this.m.get(fleet) === entry) this.m.delete(fleet);
    });
    return { value, first: true };
  }
}

const baseSkips = (id: string): string | undefined => (isPerGuestStage(id) ? 'per guest, not in the base' : undefined);

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
const runBases = new Map<string, { run: string; outcome: Promise<BaseOutcome & { share?: SignedBaseShare }> }>();

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
  /** The base server, when this worker serves packed clones (--serve). */
  let server: BaseServer | undefined;
  removeDeadTemps(o.log);
  if (o.serve) {
    await mkdir(shareDir(), { recursive: true, mode: 0o700 });
    server = await serveBases({ dir: shareDir(), key: o.key, host: o.serve.host, port: o.serve.port, ...(o.serve.address ? { address: o.serve.address } : {}), log: o.log });
    o.log(`serving packed clones at ${server.url} (to requests signed with the fleet key)`);
  }

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

  // the base key once per run (a clone source's fingerprint walks its whole tree)
  const keys = new RunMemo<string>();
  const keyOf = (fleet: Fleet, run: string): Promise<string> => keys.get(fleet.name, run, () => baseKey(fleet)).value;

  /** A fleet whose base is a clone of another host's root: the signed announcement of its packed clone, from this job's child (a serve job, or a base job that used it). */
  const shareOf = async (job: Job, fleet: Fleet, run: string, cloneHost: string): Promise<SignedBaseShare> => {
    const values = Object.values(await job.getChildrenValues()) as Array<{ share?: unknown } | null>;
    const found = values.find((v) => v && typeof v === 'object' && v.share !== undefined)?.share;
    return { ...checkBaseShare(o.key, found, { fleet: fleet.name, run, host: cloneHost }), signature: (found as SignedBaseShare).signature };
  };

  /** Build or check the base (one caller at a time per fleet in this process). */
  const buildBase = (job: Job, fleet: Fleet, run: string): Promise<BaseOutcome & { share?: SignedBaseShare }> =>
    serially(fleet.name, async () => {
      const started = Date.now();
      const rec: RunRecord = { kind: 'base', name: fleet.name, jobId: String(job.id), pid: process.pid, stage: 'starting', stages: [], image: '', started: new Date(started).toISOString() };
      const cleanup = new CleanupStack();
      const log = (l: string) => o.log(`${fleet.name}: ${l}`);
      const cloneHost = cloneHostOf(fleet);
      try {
        if (cloneHost !== undefined && cloneHost !== o.host) {
          // a clone of another host's root: that host's key, and its packed clone, fetched only when the base is really built
          const share = await shareOf(job, fleet, run, cloneHost);
          rec.image = baseImagePath(fleet.name, share.key);
          const source = async (): Promise<BuildSpec['source']> => {
            log(`base: fetching ${cloneHost}'s packed clone ${share.sha256.slice(0, 12)} from ${share.url}`);
            const file = await fetchBase({ url: share.url, sha256: share.sha256, key: o.key, cacheDir: shareDir() });
            log(`base: fetched ${file}`);
            return { kind: 'tarball', file, trusted: true };
          };
          const tarSpec: BuildSpec = { ...fleet.base, source: { kind: 'tarball', file: join(shareDir(), `${share.sha256}.tar`), trusted: true }, verify: false };
          const status = tracker(job, rec, await stageStarts(tarSpec), started);
          return { ...(await ensureBase(fleet, { signal: new AbortController().signal, cleanup, log, status, key: share.key, source })), share };
        }
        const status = tracker(job, rec, await stageStarts(fleet.base), started);
        const key = await keyOf(fleet, run);
        rec.image = baseImagePath(fleet.name, key);
        return await ensureBase(fleet, { signal: new AbortController().signal, cleanup, log, status, key });
      } finally {
        await cleanup.runAll();
        dropRunRecord('base', fleet.name);
      }
    });

  /** This host's root packed for the other hosts (source.clone.host is this host): once per run, reused while the base key is the same. */
  const shares = new RunMemo<{ share: SignedBaseShare; packed: boolean }>();
  const packShare = (fleet: Fleet, run: string): { value: Promise<{ share: SignedBaseShare; packed: boolean }>; first: boolean } =>
    shares.get(fleet.name, run, () =>
      serially(`share:${fleet.name}`, async () => {
        if (!server) throw new DomuError('USAGE', `this host serves the packed clone of fleet ${fleet.name} (source.clone.host: ${o.host}), but its worker was started without --serve ADDRESS[:PORT]`);
        const src = fleet.base.source as Extract<BuildSpec['source'], { kind: 'clone' }>;
        const key = await keyOf(fleet, run);
        const prev = readState<ShareRecord>(shareRecordPath(fleet.name));
        let sha256: string;
        let packed = false;
        if (prev?.key === key && existsSync(join(shareDir(), `${prev.sha256}.tar`))) sha256 = prev.sha256;
        else {
          o.log(`${fleet.name}: packing ${src.root} for the other hosts (key ${key.slice(0, 12)})`);
          const p = await packBase(src.root, shareDir(), { exclude: [...(src.defaultExcludes ? DEFAULT_EXCLUDES : []), ...src.exclude], oneFileSystem: src.oneFileSystem });
          for (const w of p.summary.warnings ?? []) o.log(`${fleet.name}: pack: warning: ${w}`);
          sha256 = p.sha256;
          packed = true;
          writeState(shareRecordPath(fleet.name), { key, sha256, packed: new Date().toISOString() } satisfies ShareRecord);
          // the clone this fleet packed before, unless another fleet's record names the same bytes
          if (prev && prev.sha256 !== sha256) {
            const inUse = readdirSync(join(stateDir(), 'fleet-bases')).filter((n) => n.endsWith('.share.json')).some((n) => readState<ShareRecord>(`fleet-bases/${n}`)?.sha256 === prev.sha256);
            if (!inUse) rmSync(join(shareDir(), `${prev.sha256}.tar`), { force: true });
          }
          o.log(`${fleet.name}: packed ${join(shareDir(), `${sha256}.tar`)}`);
        }
        return { share: signBaseShare(o.key, { fleet: fleet.name, run, host: o.host, key, sha256, url: server.url }), packed };
      }),
    );

  /**
   * The base of this run of the fleet: built or checked once in this process, and that one outcome
   * given to every other base job and guest of the run (a failed one is not kept: a retry tries again).
   */
  const baseOf = (job: Job, fleet: Fleet, run: string): { outcome: Promise<BaseOutcome & { share?: SignedBaseShare }>; first: boolean } => {
    const memo = runBases.get(fleet.name);
    if (memo && memo.run === run) return { outcome: memo.outcome, first: false };
    const outcome = buildBase(job, fleet, run);
    const entry = { run, outcome };
    runBases.set(fleet.name, entry);
    const drop = () => {
      if (runBases.get(fleet.name) === entry) runBases.delete(fleet.name);
    };
    outcome.then((r) => (r.status === 'failed' ? drop() : undefined), drop);
    return { outcome, first: true };
  };

  const base = async (job: Job, fleet: Fleet, run: string, token: string | undefined): Promise<BaseOutcome & { first: boolean; share?: SignedBaseShare }> => {
    const { outcome, first } = baseOf(job, fleet, run);
    const r = await outcome;
    if (r.status === 'failed') {
      if (stopping) return await handBack(job, token);
      throw new Error(`the base failed: ${r.error ?? 'failed'}`);
    }
    return { ...r, first };
  };

  /** A dry run: plan the stages of the base or the guest and return the plan; nothing is written. */
  const dryRun = async (payload: JobPayload, fleet: Fleet, g: FleetGuest | undefined): Promise<DryRunResult> => {
    const t0 = performance.now();
    const run = String(payload.run);
    const cloneHost = cloneHostOf(fleet);
    const fetching = cloneHost !== undefined && cloneHost !== o.host;
    // a fetching host learns the key from the serving host's pack, which a dry run does not make
    const key = fetching ? undefined : await keyOf(fleet, run);
    const image = baseImagePath(fleet.name, key ?? `from-${cloneHost}`);
    const seconds = () => (performance.now() - t0) / 1000;
    if (payload.kind === 'base') {
      const src = fetching ? `${cloneHost}'s root, packed by its worker and fetched by SHA-256 into ${shareDir()}` : fleet.base.source.kind === 'clone' ? `a clone of ${fleet.base.source.root}${cloneHost ? ` (packed for the other hosts: ${payload.serve ? 'yes' : 'when they build'})` : ''}` : fleet.base.source.kind;
      const spec: BuildSpec = { ...fleet.base, ...(fetching ? { source: { kind: 'tarball', file: join(shareDir(), `SHA256-from-${cloneHost}.tar`), trusted: true }, verify: false } : {}), target: { ...(fleet.base.target as Extract<BuildSpec['target'], { kind: 'image' }>), path: image, force: true, format: 'raw' } };
      return { status: 'planned', host: o.host, seconds: seconds(), stages: await planOf(spec, baseSkips), image, source: src, ...(key ? { key } : {}) };
    }
    const ip = (payload as { ip?: string }).ip ?? (g!.ip === 'auto' ? undefined : g!.ip);
    const spec = guestSpec(fleet, g!, { image, key: key ?? '' }, ip);
    const configText = diskPathOf(spec) === undefined ? undefined : renderXlConfig(domainOf(spec), { checkPaths: false });
    return {
      status: 'planned', host: o.host, seconds: seconds(), stages: await planOf(spec),
      ...(spec.target.kind === 'image' ? { image: spec.target.path } : {}), config: spec.domain.config,
      ...(configText !== undefined ? { configText } : {}),
      address: ip ?? (g!.ip === 'auto' ? 'auto (leased when it is built)' : 'dhcp'),
      ...(key ? { key } : {}),
    };
  };

  const processor = async (job: Job, token?: string): Promise<GuestJobResult | BaseJobResult | DryRunResult> => {
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
    const run = String(accepted.payload.run);
    if (accepted.payload.dryRun) return dryRun(accepted.payload, fleet, accepted.guest);
    if (accepted.payload.kind === 'base' && accepted.payload.serve) {
      const { value, first } = packShare(fleet, run);
      let s;
      try {
        s = await value;
      } catch (e) {
        throw new Error(`packing the clone for the other hosts failed: ${isDomuError(e) ? e.message : oneLine(e)}`);
      }
      return { status: s.packed && first ? 'built' : 'cached', host: o.host, key: s.share.key, image: '', seconds: (performance.now() - t0) / 1000, share: s.share, ...(first ? {} : { shared: true }) };
    }
    let b;
    try {
      b = await base(job, fleet, run, token);
    } catch (e) {
      if (e instanceof WaitingError) throw e;
      // a fetch or announcement that failed: one line, and the job is retried per its attempts
      throw new Error(isDomuError(e) ? `the base failed: ${e.message}` : oneLine(e));
    }
    if (accepted.payload.kind === 'base') {
      if (b.first) o.log(`${fleet.name}: base ${b.status} ${b.image}`);
      return { status: b.status === 'built' ? 'built' : 'cached', host: o.host, key: b.key, image: b.image, seconds: (performance.now() - t0) / 1000, ...(b.first ? {} : { shared: true }), ...(b.share ? { share: b.share } : {}) };
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
    w.on('completed', (job, rv: GuestJobResult | BaseJobResult | DryRunResult) => {
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
  await server?.close();
  await connection.quit().catch(() => connection.disconnect());
  o.log('stopped');
}
