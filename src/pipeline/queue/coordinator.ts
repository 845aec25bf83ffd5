// The coordinator: places a fleet's guests on its hosts (printed before anything is queued, stable
// across reruns), leases ip: auto addresses from the fleet's pool here (one lease table for every
// host), and queues the fleet as BullMQ flows: each guest job waits for a base job of its host, on
// that host's base queue (the worker takes those outside its guest slots and builds or checks the
// base once per fleet run; every other base job of the run gets that one outcome). Every job is signed.
// Then it watches the jobs (fleet status reads the same state later).

import { FlowProducer, Job, Queue, type FlowJob } from 'bullmq';
import type { Redis } from 'ioredis';
import { DomuError, isDomuError, oneLine } from '../../errors.js';
import { readState, writeState } from '../../sys/state.js';
import { formatPlacement, placeGuests, type Placement } from '../../spec/fleet-hosts.js';
import { leaseAddress } from '../inventory.js';
import { cloneHostOf, readFleetFile, type Fleet } from '../fleet.js';
import { hostBaseQueueName, hostQueueName } from './connection.js';
import { signJob } from './sign.js';
import { fleetKey, JOB_VERSION, jobIdOf, type BaseJobResult, type BasePayload, type DryRunResult, type FleetRunRecord, type GuestJobResult, type GuestPayload, type JobProgressReport } from './jobs.js';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

import { placementPath, type PlacementRecord } from './placements.js';

export interface QueueFleetOptions {
  file: string;
  redis: Redis;
  key: Buffer;
  attempts?: number;
  /** First retry delay in ms (exponential backoff). */
  backoffMs?: number;
  /** build --dry-run: every job plans its stages and returns the plan; nothing is written on the hosts, nor recorded here. */
  dryRun?: boolean;
}

export interface QueuedFleet {
  fleet: Fleet;
  placements: Placement[];
  placementText: string;
  record: FleetRunRecord;
}

/** Place the guests and lease their addresses (a dry run leases none); nothing is queued yet (the caller prints the placement first). */
export function planQueuedFleet(file: string, o: { dryRun?: boolean } = {}): { fleet: Fleet; placements: Placement[]; placementText: string; ips: Map<string, string | undefined> } {
  const fleet = readFleetFile(file);
  if (!fleet.hosts) throw new DomuError('BAD_INPUT', `${file}: a fleet built through the queue needs a hosts: section (each Dom0 with its name and concurrency)`);
  const prev = readState<PlacementRecord>(placementPath(fleet.name));
  const previous = new Map(Object.entries(prev?.file === fleet.file ? prev.placements : {}));
  const r = placeGuests(fleet.hosts, fleet.guests, previous);
  if (r.issues.length > 0) {
    const i = r.issues[0]!;
    throw new DomuError('BAD_INPUT', `${file}: guests[${i.index}].${i.field}: ${i.message}${r.issues.length > 1 ? ` (and ${r.issues.length - 1} more)` : ''}; nothing was queued`);
  }
  // addresses: static ones are the guests' own; ip: auto leases come from the coordinator's table
  const staticIps = new Set(fleet.guests.map((g) => g.ip).filter((ip): ip is string => ip !== undefined && ip !== 'auto'));
  const ips = new Map<string, string | undefined>();
  for (const g of fleet.guests) ips.set(g.name, g.ip === 'auto' ? (o.dryRun ? undefined : leaseAddress(fleet.pool!, g.name, staticIps)) : g.ip);
  return { fleet, placements: r.placements, placementText: formatPlacement(fleet.hosts, r.placements), ips };
}

/** Flows sent to Redis at once. */
const FLOW_BATCH = 50;

/**
 * Queue the fleet: one flow per guest (the guest job, a base job on its host's base queue as its
 * child). For a clone of a named host's root (source.clone.host), the base job of every other host
 * has a child of its own on that host's base queue, a serve job: that host packs and serves its
 * clone and returns where it is and its SHA-256 (signed), and the base job reads that return value
 * as its child's and fetches the tarball. A flow rather than a key in Redis that workers poll:
 * the base job is not taken before the tarball exists, a failed serve job fails the base and the
 * guest after it (as a failed base fails its guest), and fleet status shows the wait.
 */
export async function queueFleet(o: QueueFleetOptions, plan = planQueuedFleet(o.file, { dryRun: o.dryRun ?? false })): Promise<QueuedFleet> {
  const { fleet, placements, ips } = plan;
  const text = readFileSync(fleet.file, 'utf8');
  const run = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const dry = o.dryRun ? ({ dryRun: true } as const) : {};
  const common = { v: JOB_VERSION, fleet: fleet.name, file: fleet.file, text, run, ...dry } as const;
  const opts = { attempts: o.attempts ?? 3, backoff: { type: 'exponential', delay: o.backoffMs ?? 5000 }, removeOnComplete: { age: o.dryRun ? 3600 : 30 * 86400 }, removeOnFail: { age: o.dryRun ? 3600 : 30 * 86400 } };
  const cloneHost = cloneHostOf(fleet);
  const record: FleetRunRecord = { fleet: fleet.name, file: fleet.file, run, queued: new Date().toISOString(), hosts: fleet.hosts!.map((h) => h.name), guests: [], ...(cloneHost ? { cloneHost } : {}), ...dry };
  const flowOf = (p: Placement): FlowJob => {
    const ip = ips.get(p.guest);
    const g = fleet.guests.find((x) => x.name === p.guest)!;
    const guestPayload: GuestPayload = { ...common, kind: 'guest', host: p.host, guest: p.guest, ...(g.ip === 'auto' && ip ? { ip } : {}) };
    const basePayload: BasePayload = { ...common, kind: 'base', host: p.host };
    const jobId = jobIdOf('guest', fleet.name, p.guest, run);
    const baseJobId = jobIdOf('base', fleet.name, p.guest, run);
    record.guests.push({ guest: p.guest, host: p.host, jobId, baseJobId, ...(ip ? { ip } : {}) });
    // a dry run fetches nothing, so it waits for no serve job
    const fetches = cloneHost !== undefined && cloneHost !== p.host && !o.dryRun;
    const servePayload: BasePayload = { ...common, kind: 'base', host: cloneHost ?? p.host, serve: true };
    const serve: FlowJob = { name: 'serve', queueName: hostBaseQueueName(cloneHost ?? p.host), data: signJob(o.key, servePayload), opts: { ...opts, jobId: jobIdOf('serve', fleet.name, p.guest, run), failParentOnFailure: true } };
    return {
      name: 'guest',
      queueName: hostQueueName(p.host),
      data: signJob(o.key, guestPayload),
      opts: { ...opts, jobId },
      children: [{ name: 'base', queueName: hostBaseQueueName(p.host), data: signJob(o.key, basePayload), opts: { ...opts, jobId: baseJobId, failParentOnFailure: true }, ...(fetches ? { children: [serve] } : {}) }],
    };
  };
  const producer = new FlowProducer({ connection: o.redis });
  producer.on('error', () => undefined);
  try {
    // in batches: every job carries the fleet file, so a fleet of hundreds of guests signed and sent
    // at once would hold all of it in memory together
    for (let i = 0; i < placements.length; i += FLOW_BATCH) await producer.addBulk(placements.slice(i, i + FLOW_BATCH).map(flowOf));
  } finally {
    await producer.close();
  }
  // a dry run is not the fleet's last queueing: fleet status and the placements stay as they were
  if (o.dryRun) return { fleet, placements, placementText: plan.placementText, record };
  await o.redis.set(fleetKey(fleet.name), JSON.stringify(record));
  const prev = readState<PlacementRecord>(placementPath(fleet.name));
  writeState(placementPath(fleet.name), {
    fleet: fleet.name,
    file: fleet.file,
    placements: Object.fromEntries(placements.map((p) => [p.guest, p.host])),
    updated: new Date().toISOString(),
    ...(prev?.last ? { last: prev.last } : {}),
  } satisfies PlacementRecord);
  return { fleet, placements, placementText: plan.placementText, record };
}

export type GuestState = 'waiting-base' | 'queued' | 'building' | 'retrying' | 'built' | 'unchanged' | 'planned' | 'failed' | 'missing';

export interface GuestRow {
  guest: string;
  host: string;
  state: GuestState;
  /** The stage in progress (building), or the base's state (waiting-base). */
  stage: string;
  /** Seconds since this attempt started (building), or its whole build time (done). */
  elapsed: number;
  attempts: number;
  ip?: string;
  image?: string;
  config?: string;
  error?: string;
  /** The job's return value: what was built, or (a dry run) the plan. */
  result?: GuestJobResult | DryRunResult;
}

export function isFinished(s: GuestState): boolean {
  return s === 'built' || s === 'unchanged' || s === 'planned' || s === 'failed' || s === 'missing';
}

/** Read a fleet's last queueing from Redis. */
export async function readRunRecord(redis: Redis, fleet: string): Promise<FleetRunRecord | undefined> {
  const text = await redis.get(fleetKey(fleet));
  return text ? (JSON.parse(text) as FleetRunRecord) : undefined;
}

/** Where every guest of a queued fleet stands. */
export async function fleetRows(redis: Redis, record: FleetRunRecord, cache?: Map<string, Queue>, finished?: Map<string, GuestRow>): Promise<GuestRow[]> {
  const queues = cache ?? new Map<string, Queue>();
  const queueOf = (name: string) => {
    let q = queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: redis });
      q.on('error', () => undefined);
      queues.set(name, q);
    }
    return q;
  };
  /** Where a guest's base job stands: its state, its stage (or what it waits for), its error; fields read alone, not the whole job. */
  const baseState = async (g: FleetRunRecord['guests'][number]): Promise<{ state: string; stage: string; elapsed: number; error?: string } | undefined> => {
    // fleets queued before base queues existed kept the base job in the host's queue
    let bq = queueOf(hostBaseQueueName(g.host));
    let bs = await bq.getJobState(g.baseJobId);
    if (bs === 'unknown') {
      bq = queueOf(hostQueueName(g.host));
      bs = await bq.getJobState(g.baseJobId);
      if (bs === 'unknown') return undefined;
    }
    const [progressText, failedReason] = await redis.hmget(bq.toKey(g.baseJobId), 'progress', 'failedReason');
    let bp: Partial<JobProgressReport> | undefined;
    try {
      bp = progressText ? (JSON.parse(progressText) as Partial<JobProgressReport>) : undefined;
    } catch {
      bp = undefined;
    }
    const active = bs === 'active' && typeof bp === 'object' && bp !== null;
    const stage = active && bp!.stage ? `base: ${bp!.stage}` : bs === 'waiting-children' && record.cloneHost ? `base waiting for ${record.cloneHost}'s packed clone` : `base ${bs}`;
    return { state: bs, stage, elapsed: active && bp!.started ? (Date.now() - bp!.started) / 1000 : 0, ...(failedReason ? { error: failedReason } : {}) };
  };
  try {
    return await Promise.all(record.guests.map(async (g): Promise<GuestRow> => {
      // a finished guest stays finished within a run: no need to ask Redis again
      const known = finished?.get(g.guest);
      if (known) return known;
      const q = queueOf(hostQueueName(g.host));
      const row: GuestRow = { guest: g.guest, host: g.host, state: 'missing', stage: '', elapsed: 0, attempts: 0, ...(g.ip ? { ip: g.ip } : {}) };
      // a guest still queued behind its base is asked only its state (not the whole job, which
      // carries the fleet file: hundreds of guests would mean megabytes a look)
      const early = await q.getJobState(g.jobId);
      if (early === 'waiting' || early === 'prioritized' || early === 'waiting-children') {
        const base = early === 'waiting-children' ? await baseState(g) : undefined;
        if (!base) return { ...row, state: early === 'waiting-children' ? 'waiting-base' : 'queued', stage: early === 'waiting-children' ? 'base' : '' };
        if (base.state !== 'failed') return { ...row, state: 'waiting-base', stage: base.stage, elapsed: base.elapsed, ...(base.error ? { error: `base: ${base.error}` } : {}) };
      }
      const job = await Job.fromId(q, g.jobId);
      if (!job) return { ...row, error: 'the job is no longer in the queue' };
      const state = await job.getState();
      row.attempts = job.attemptsMade;
      const progress = job.progress as unknown as Partial<JobProgressReport> | number;
      const now = Date.now();
      if (state === 'completed') {
        const rv = job.returnvalue as GuestJobResult | DryRunResult;
        return { ...row, state: rv.status, stage: '', elapsed: rv.seconds, ...(rv.image ? { image: rv.image } : {}), ...(rv.config ? { config: rv.config } : {}), result: rv };
      }
      if (state === 'failed') {
        // failed because its base failed (failParentOnFailure): the base's own reason (or its serve job's)
        // (BullMQ's reason is then "child KEY failed")
        const childFailed = (reason: string | undefined) => reason !== undefined && /^child \S+ failed$/.test(reason);
        let error = job.failedReason;
        if (childFailed(job.failedReason)) {
          const base = await Job.fromId(queueOf(hostBaseQueueName(g.host)), g.baseJobId);
          if (base?.failedReason) {
            error = `base: ${base.failedReason}`;
            if (childFailed(base.failedReason) && record.cloneHost) {
              const serve = await Job.fromId(queueOf(hostBaseQueueName(record.cloneHost)), g.baseJobId.replace(/\.base\.([^.]+)$/, '.serve.$1'));
              if (serve?.failedReason) error = `base: ${record.cloneHost}'s packed clone: ${serve.failedReason}`;
            }
          }
        }
        return { ...row, state: 'failed', stage: typeof progress === 'object' ? (progress.stage ?? '') : '', elapsed: job.finishedOn && job.processedOn ? (job.finishedOn - job.processedOn) / 1000 : 0, error };
      }
      if (state === 'waiting-children') {
        const base = await baseState(g);
        return { ...row, state: 'waiting-base', stage: base?.stage ?? 'base missing', elapsed: base?.elapsed ?? 0, ...(base?.error ? { error: `base: ${base.error}` } : {}) };
      }
      if (state === 'active') return { ...row, state: 'building', stage: typeof progress === 'object' ? (progress.stage ?? 'starting') : 'starting', elapsed: typeof progress === 'object' && progress.started ? (now - progress.started) / 1000 : 0 };
      if (state === 'delayed') return { ...row, state: 'retrying', stage: `attempt ${job.attemptsMade + 1} soon`, ...(job.failedReason ? { error: job.failedReason } : {}) };
      return { ...row, state: 'queued', stage: '' };
    }));
  } finally {
    if (!cache) await closeQueues(queues);
  }
}

async function closeQueues(queues: Map<string, Queue>): Promise<void> {
  await Promise.all([...queues.values()].map((q) => q.close().catch(() => undefined)));
}

/** Watch until every guest is finished, calling `onRows` at each look (every 200 ms; a finished guest is not asked about again); Redis restarts are waited out. */
export async function watchFleet(redis: Redis, record: FleetRunRecord, o: { onRows?: (rows: GuestRow[]) => void; onError?: (message: string) => void; signal?: AbortSignal; intervalMs?: number }): Promise<GuestRow[]> {
  let rows: GuestRow[] = [];
  const queues = new Map<string, Queue>();
  const finished = new Map<string, GuestRow>();
  try {
    for (;;) {
      try {
        rows = await fleetRows(redis, record, queues, finished);
        for (const r of rows) if (isFinished(r.state) && r.state !== 'missing') finished.set(r.guest, r);
        o.onRows?.(rows);
        if (rows.every((r) => isFinished(r.state))) return rows;
      } catch (e) {
        o.onError?.(isDomuError(e) ? e.message : oneLine(e));
      }
      if (o.signal?.aborted) return rows;
      await new Promise((r) => setTimeout(r, o.intervalMs ?? 200));
      if (o.signal?.aborted) return rows;
    }
  } finally {
    await closeQueues(queues);
  }
}

/** Keep the last results beside the placement (list shows them on the coordinator). */
export function rememberRows(fleet: string, rows: GuestRow[]): void {
  const prev = readState<PlacementRecord>(placementPath(fleet));
  if (!prev) return;
  writeState(placementPath(fleet), { ...prev, last: rows.map((r) => ({ guest: r.guest, host: r.host, state: r.state, ...(r.ip ? { ip: r.ip } : {}), ...(r.image ? { image: r.image } : {}), ...(r.config ? { config: r.config } : {}), ...(r.error ? { error: r.error } : {}) })), updated: new Date().toISOString() });
}

export type { BaseJobResult };
