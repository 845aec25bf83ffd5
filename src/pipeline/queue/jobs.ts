// The jobs of a queued fleet: what the coordinator signs and a host's worker checks before it runs
// anything. A job carries the fleet file's text (the worker validates it as a local build does), the
// host and guest it is for, and the address the coordinator leased; nothing else from Redis is trusted.

import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { DomuError } from '../../errors.js';
import { SpecError } from '../../spec/load.js';
import { parseFleet, type Fleet, type FleetGuest, type PlannedStage } from '../fleet.js';
import { parseQueueUrl } from './connection.js';
import { checkJob, type SignedJob } from './sign.js';
import type { SignedBaseShare } from './base-share.js';

export const JOB_VERSION = 1;

interface PayloadCommon {
  v: typeof JOB_VERSION;
  host: string;
  fleet: string;
  /** The fleet file's path on the coordinator (relative paths in it resolve against its folder). */
  file: string;
  /** The fleet file's text, validated again by the worker. */
  text: string;
  /** This queueing of the fleet (a rerun is a new run). */
  run: string;
  /** build --dry-run: plan the stages and return the plan; nothing is written on the host. */
  dryRun?: true;
}

export interface BasePayload extends PayloadCommon {
  kind: 'base';
  /**
   * On the host named by source.clone.host, for another host's base: pack the clone, serve it, and
   * return where it is and its SHA-256 (a signed BaseShare) rather than build this host's base.
   */
  serve?: true;
}

export interface GuestPayload extends PayloadCommon {
  kind: 'guest';
  guest: string;
  /** The address the coordinator leased from the fleet's pool for an ip: auto guest. */
  ip?: string;
}

export type JobPayload = BasePayload | GuestPayload;

/** A stage-by-stage progress report (BullMQ job progress). */
export interface JobProgressReport {
  stage: string;
  /** When this attempt started, ms since the epoch. */
  started: number;
  worker: string;
}

export interface GuestJobResult {
  status: 'built' | 'unchanged';
  host: string;
  image: string;
  config?: string;
  address?: string;
  seconds: number;
  timings: Record<string, number>;
}

export interface BaseJobResult {
  status: 'built' | 'cached';
  host: string;
  key: string;
  /** The base image (empty for a serve job: the host packed its clone for the others). */
  image: string;
  seconds: number;
  /** Another base job of the same run built or checked it; this one took that outcome. */
  shared?: boolean;
  /** A clone of another host's root: the packed clone this base was built from (a serve job: the one it packed). */
  share?: SignedBaseShare;
}

/** A stage as a dry run plans it: run, or skipped and why (the local fleet's dry run plans the same). */
export type { PlannedStage } from '../fleet.js';

/** What a dry-run job returns: the plan, nothing written. */
export interface DryRunResult {
  status: 'planned';
  host: string;
  seconds: number;
  stages: PlannedStage[];
  /** The base key, when this host can know it without building (a fetching host learns it from the serving host). */
  key?: string;
  /** Guests: the disk and xl config it would write, the config's text, its address. */
  image?: string;
  config?: string;
  configText?: string;
  address?: string;
  /** The base: where it would come from. */
  source?: string;
}

/** BullMQ custom job ids may not contain ":" (its key separator). */
export function jobIdOf(kind: 'base' | 'guest' | 'serve', fleet: string, guest: string, run: string): string {
  return `${fleet}.${guest}.${kind}.${run}`;
}

/** Where the coordinator keeps a fleet's last queueing in Redis (fleet status reads it). */
export function fleetKey(fleet: string): string {
  return `domu-forge:fleet:${fleet}`;
}

export interface FleetRunRecord {
  fleet: string;
  file: string;
  run: string;
  queued: string;
  hosts: string[];
  guests: Array<{ guest: string; host: string; jobId: string; baseJobId: string; ip?: string }>;
  /** source.clone.host: the host whose packed clone the other hosts' bases wait for. */
  cloneHost?: string;
  dryRun?: true;
}

/** The fleet as one host sees it: that host's directory and configDir, when the hosts: section overrides them. */
export function fleetForHost(fleet: Fleet, host: string): Fleet {
  const h = fleet.hosts?.find((x) => x.name === host);
  if (!h) return fleet;
  return { ...fleet, directory: h.directory ?? fleet.directory, configDir: h.configDir ?? fleet.configDir, concurrency: h.concurrency };
}

export class RefusedJob extends DomuError {}

/**
 * The last few fleet files this process validated, by file and text: every job of a fleet carries
 * the same text, and a fleet of hundreds of guests would otherwise be parsed again for each of its
 * jobs. Only a file that passed is kept (the same text passes the same way); callers do not change it.
 */
const parsed = new Map<string, Fleet>();
function parsedFleet(text: string, file: string): Fleet {
  const id = `${file}\0${createHash('sha256').update(text).digest('hex')}`;
  const hit = parsed.get(id);
  if (hit) return hit;
  const fleet = parseFleet(text, file);
  parsed.set(id, fleet);
  if (parsed.size > 8) parsed.delete(parsed.keys().next().value!);
  return fleet;
}

/**
 * Check a job as a worker must before it runs anything: signed with this worker's key, for this
 * host, and its fleet file passes the same validation as a local build. Throws RefusedJob.
 */
export function acceptJob(key: Buffer, data: unknown, host: string): { payload: JobPayload; fleet: Fleet; guest?: FleetGuest } {
  const refused = checkJob(key, data, host);
  if (refused) throw new RefusedJob('BAD_INPUT', `refused (${refused.reason}): ${refused.message}`);
  const p = (data as SignedJob<JobPayload>).payload;
  if (p.v !== JOB_VERSION || (p.kind !== 'base' && p.kind !== 'guest') || typeof p.text !== 'string' || typeof p.file !== 'string') {
    throw new RefusedJob('BAD_INPUT', `refused (bad-payload): not a domu-forge job of version ${JOB_VERSION}`);
  }
  let fleet: Fleet;
  try {
    fleet = parsedFleet(p.text, p.file);
  } catch (e) {
    const first = e instanceof SpecError ? `${e.issues.length} issue(s), first: ${e.issues[0]?.field ?? ''} ${e.issues[0]?.message ?? ''}` : (e as Error).message;
    throw new RefusedJob('BAD_INPUT', `refused (invalid-spec): the fleet file does not pass validation: ${first}`);
  }
  if (fleet.name !== p.fleet) throw new RefusedJob('BAD_INPUT', `refused (invalid-spec): the job names fleet ${p.fleet}, its file is fleet ${fleet.name}`);
  if (!fleet.hosts?.some((h) => h.name === host)) throw new RefusedJob('BAD_INPUT', `refused (other-host): fleet ${fleet.name} has no host ${host} in hosts:`);
  if (p.dryRun !== undefined && p.dryRun !== true) throw new RefusedJob('BAD_INPUT', 'refused (bad-payload): dryRun must be true or absent');
  if (p.kind === 'base') {
    if (p.serve !== undefined && (p.serve !== true || fleet.base.source.kind !== 'clone' || fleet.base.source.host !== host)) {
      throw new RefusedJob('BAD_INPUT', `refused (invalid-spec): a job to serve the packed clone of fleet ${fleet.name}, whose source.clone.host is not ${host}`);
    }
    return { payload: p, fleet };
  }
  const guest = fleet.guests.find((g) => g.name === p.guest);
  if (!guest) throw new RefusedJob('BAD_INPUT', `refused (invalid-spec): fleet ${fleet.name} has no guest ${String(p.guest)}`);
  if (guest.host !== undefined && guest.host !== host) throw new RefusedJob('BAD_INPUT', `refused (other-host): guest ${guest.name} names host ${guest.host}`);
  if (p.ip !== undefined && !(guest.ip === 'auto' && /^\d+\.\d+\.\d+\.\d+$/.test(p.ip))) throw new RefusedJob('BAD_INPUT', `refused (invalid-spec): an address for guest ${guest.name}, whose ip is not auto`);
  return { payload: p, fleet, guest };
}

/** An ioredis client for the queue URL (BullMQ's ESM build takes an instance, not options). */
export function redisClient(url: string): Redis {
  const c = parseQueueUrl(url);
  return new Redis({
    host: c.host,
    port: c.port,
    db: c.db,
    ...(c.username ? { username: c.username } : {}),
    ...(c.password ? { password: c.password } : {}),
    ...(c.tls ? { tls: c.tls } : {}),
    maxRetriesPerRequest: null,
    // keep trying while Redis restarts: every second, then at most every 5 s
    retryStrategy: (times: number) => Math.min(1000 * times, 5000),
  });
}
