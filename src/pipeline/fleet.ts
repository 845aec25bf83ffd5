// Mass builds: a fleet file describes a shared base (source, filesystem, fixups, domain defaults)
// and many guests that differ in identity (name, hostname, address, MAC, disk size, packages).
// The base is built once and cached under a key that hashes every input shaping it; each guest is
// a sparse copy of the base with its own stages run on it, with bounded concurrency (p-limit).
// A guest whose inputs did not change since its last build is left alone.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { release as osRelease } from 'node:os';
import pLimit from 'p-limit';
import { parse as parseYaml } from 'yaml';
import { DomuError, isDomuError, oneLine } from '../errors.js';
import { stateDir, readState, writeState } from '../sys/state.js';
import { SpecReader } from '../spec/check.js';
import { readBuildSpec, SpecError } from '../spec/load.js';
import type { BuildSpec } from '../spec/types.js';
import { treeFingerprint as fingerprintTree } from '../walk/fingerprint.js';
import { DEFAULT_EXCLUDES, ExcludeSet } from '../walk/exclude.js';
import { CleanupStack } from '../cleanup.js';
import { planStages, runBuild, type BuildResult } from './pipeline.js';
import { findGuest, leaseAddress, leasedAddress, listGuests, parsePool } from './inventory.js';
import { FLEET_BASE_FIELDS, fleetFileProblems, fleetFileSchema, fleetGuestFields, fleetSchema, reportIssues, toFleetGuest, validFields, type Fleet, type FleetGuest } from '../spec/fleet-schema.js';

/** Bump when the way a base is made changes, so old cached bases are not reused. */
export const BASE_RECIPE_VERSION = 2;

// The fleet's types and its default method come from its schema (src/spec/fleet-schema.ts).
export type { Fleet, FleetGuest } from '../spec/fleet-schema.js';
export { DEFAULT_FLEET_METHOD } from '../spec/fleet-schema.js';

export interface FleetGuestResult {
  name: string;
  status: 'built' | 'unchanged' | 'failed' | 'not-run';
  ip?: string;
  image?: string;
  seconds: number;
  note?: string;
  error?: string;
  result?: BuildResult;
}

export interface FleetResult {
  fleet: string;
  base: { status: 'built' | 'cached' | 'failed'; key: string; image: string; seconds: number; error?: string };
  guests: FleetGuestResult[];
  seconds: number;
}

export function isFleetText(text: string): boolean {
  try {
    const v: unknown = parseYaml(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) && 'guests' in v;
  } catch {
    return false;
  }
}

export function baseImagePath(fleet: string, key: string): string {
  return join(stateDir(), 'fleet-bases', `${fleet}-${key.slice(0, 16)}.img`);
}

/** Parse and check a fleet file (its schema: src/spec/fleet-schema.ts); every issue at once, with file, line and field. */
export function parseFleet(text: string, file: string): Fleet {
  const r = new SpecReader(file);
  r.parse(text);
  if (r.issues.length > 0) throw new SpecError(r.issues);
  const parsed = fleetFileSchema.safeParse(r.data);
  if (!parsed.success) reportIssues(r, [], parsed.error);
  // The checks across fields, over the fields that are valid on their own.
  const top = parsed.success ? parsed.data : validFields(fleetFileSchema, r.data);
  const rawGuests = r.get(['guests']);
  const guestFields = parsed.success ? parsed.data.guests : Array.isArray(rawGuests) ? rawGuests.map((g) => validFields(fleetGuestFields, g)) : [];
  for (const p of fleetFileProblems(top, guestFields)) r.issue(p.path, p.message);
  if (top.pool !== undefined) {
    try {
      parsePool(top.pool);
    } catch (e) {
      r.issue(['pool'], oneLine(e));
    }
  }
  const name = top.fleet ?? 'fleet';

  // The base: a build spec whose target is our cached image (only its size, fs and label come from the file).
  const b = r.scope(['base']);
  const baseSec = top.base;
  if (baseSec) {
    // The base's image is the fleet's cached base under the state directory; buildFleet adds the
    // inputs key to its name once the key is known (baseImagePath).
    const cachedBase = join(stateDir(), 'fleet-bases', `${name}.img`);
    const t = b.get(['target']);
    if (t !== undefined && t !== null && typeof t === 'object' && !Array.isArray(t)) {
      for (const k of ['image', 'lvm', 'dir', 'tar']) if ((t as Record<string, unknown>)[k] !== undefined) b.issue(['target', k], 'a fleet base is always a cached image file; give only size, fs and label');
      const fmt = (t as Record<string, unknown>).format;
      if (fmt !== undefined && fmt !== 'raw') b.issue(['target', 'format'], 'a fleet base is a raw image');
      b.set(['target', 'image'], cachedBase);
    } else if (t === undefined || t === null) b.set(['target'], { image: cachedBase });
  }
  const base = baseSec ? readBuildSpec(b, { defaultName: `${name}-base`, allowAutoIp: true, allowCloneHost: true, known: FLEET_BASE_FIELDS }) : undefined;
  const hosts = top.hosts;
  const cloneHost = base?.source.kind === 'clone' ? base.source.host : undefined;
  if (cloneHost !== undefined && !hosts?.some((h) => h.name === cloneHost)) {
    r.issue(['base', 'source', 'clone', 'host'], hosts ? `no host named "${cloneHost}" in hosts: (there are: ${hosts.map((h) => h.name).join(', ')})` : 'needs a hosts: section (the fleet is built through the queue, the clone on that host)');
  }

  if (r.issues.length > 0 || !parsed.success || !base) throw new SpecError(r.issues);
  const f = parsed.data;
  const dir = (p: string) => resolve(file === 'command line' ? process.cwd() : resolve(file, '..'), p);
  const fleet: Fleet = {
    name, file: resolve(file), base, guests: f.guests.map(toFleetGuest), directory: dir(f.directory), configDir: dir(f.configDir), concurrency: f.concurrency, method: f.method, ...(f.pool ? { pool: f.pool } : {}),
    ...(f.hosts ? { hosts: f.hosts.map((h) => ({ ...h, ...(h.directory ? { directory: dir(h.directory) } : {}), ...(h.configDir ? { configDir: dir(h.configDir) } : {}) })) } : {}),
  };
  // The reader and the schema must agree; a difference is a bug here, not the user's.
  const checked = fleetSchema.safeParse(fleet);
  if (!checked.success) throw new DomuError('INTERNAL', `the fleet reader and the schema disagree: ${checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return fleet;
}

function sha256(...parts: Array<string | Buffer>): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex');
}

/** A fingerprint of a clone source's tree: every entry's path and metadata (a changed file changes it). */
async function treeFingerprint(root: string, excludes: string[], defaults: boolean, oneFs: boolean): Promise<string> {
  return fingerprintTree(root, { excludes: new ExcludeSet([...(defaults ? DEFAULT_EXCLUDES : []), ...excludes]), oneFileSystem: oneFs });
}

/** The host whose root a clone-source fleet base is cloned from (source.clone.host), if any. */
export function cloneHostOf(fleet: Fleet): string | undefined {
  return fleet.base.source.kind === 'clone' ? fleet.base.source.host : undefined;
}

/**
 * The hash of every input that shapes the base image. For a clone of a named host's root
 * (source.clone.host) it is computed on that host and carried to the others, so it is the same key
 * as a clone of that root on that host alone (the host's name is not an input of the tree).
 */
export async function baseKey(fleet: Fleet): Promise<string> {
  const b = fleet.base;
  const s = b.source.kind === 'clone' ? (({ host: _h, ...rest }) => rest)(b.source) : b.source;
  let content = '';
  if (s.kind === 'clone') content = await treeFingerprint(s.root, s.exclude, s.defaultExcludes, s.oneFileSystem);
  else if (s.kind === 'tarball') content = sha256(readFileSync(s.file));
  const t = b.target;
  const disk = t.kind === 'image' ? { fs: t.fs, size: t.size ?? null, label: t.label ?? null, populate: t.populate } : t;
  // The base holds the kernel's modules (fixup/kernel-modules): which kernel, and from where, is an input.
  const o = b.fixups.options;
  const modules = { kernel: b.domain.kernel === 'dom0' ? `dom0 ${osRelease()}` : (b.domain.kernel ?? null), bootloader: b.domain.pygrub, version: o['kernelVersion'] ?? null, from: o['modulesSource'] ?? null, skip: b.fixups.skip, only: b.fixups.only };
  return sha256(JSON.stringify({ recipe: BASE_RECIPE_VERSION, source: s, disk, packages: b.packages, modules }), content);
}

/** The spec one guest is built from: the base's settings with the guest's identity. */
export function guestSpec(fleet: Fleet, g: FleetGuest, base: { image: string; key: string }, ip: string | undefined): BuildSpec {
  const b = fleet.base;
  const fs = b.target.kind === 'image' ? b.target.fs : 'ext4';
  const net = { ...b.domain.network };
  if (ip) {
    net.ip = ip;
    net.dhcp = false;
  } else {
    // A guest without an address uses DHCP; the base's netmask and gateway are for static guests.
    delete net.ip;
    delete net.netmask;
    delete net.gateway;
    net.dhcp = true;
  }
  if (g.mac) net.mac = g.mac;
  return {
    name: g.name,
    hostname: g.hostname,
    file: fleet.file,
    target: {
      kind: 'image',
      path: join(fleet.directory, `${g.name}.${fleet.method === 'copy' ? 'img' : 'qcow2'}`),
      format: fleet.method === 'copy' ? 'raw' : 'qcow2',
      fs,
      populate: 'mount',
      force: true,
      ...(g.size ? { size: g.size } : {}),
    },
    source: { kind: 'base', image: base.image, key: base.key, method: fleet.method },
    packages: g.packages,
    fixups: b.fixups,
    access: b.access,
    roles: b.roles,
    domain: { ...b.domain, network: net, config: join(fleet.configDir, `${g.name}.cfg`), ...(g.memory ? { memory: g.memory } : {}), ...(g.vcpus ? { vcpus: g.vcpus } : {}) },
    verify: false,
    bootTest: b.bootTest,
  };
}

/** The hash of every input of one guest: its spec (base key included) and its role scripts' text. */
export function guestKey(spec: BuildSpec): string {
  const roles = spec.roles.map((r) => (existsSync(r) ? readFileSync(r) : Buffer.from(`missing ${r}`)));
  const { file: _file, ...rest } = spec;
  void _file;
  return sha256(JSON.stringify(rest), ...roles);
}

export interface BuildFleetOptions {
  file: string;
  concurrency?: number;
  signal?: AbortSignal;
  cleanup?: CleanupStack;
  log?: (line: string) => void;
  /** Live status of each guest being built (and of the base, as "base"); undefined when it is done. */
  onGuest?: (name: string, status: string | undefined) => void;
  /** Rebuild every guest even when its inputs did not change. */
  rebuild?: boolean;
}

interface BaseRecord {
  key: string;
  image: string;
  built: string;
}

export interface BaseOutcome {
  status: FleetResult['base']['status'];
  key: string;
  image: string;
  seconds: number;
  error?: string;
}

/** The fleet's base, built or reused from the cache under its key (a worker calls this once per host). */
export async function ensureBase(fleet: Fleet, o: { signal: AbortSignal; cleanup: CleanupStack; log: (line: string) => void; status?: (text: string) => void; key?: string; source?: () => Promise<BuildSpec['source']> }): Promise<BaseOutcome> {
  const t0 = performance.now();
  const key = o.key ?? (await baseKey(fleet));
  const image = baseImagePath(fleet.name, key);
  const recPath = `fleet-bases/${fleet.name}.json`;
  const rec = readState<BaseRecord>(recPath);
  if (rec?.key === key && existsSync(image)) return { status: 'cached', key, image, seconds: (performance.now() - t0) / 1000 };
  await mkdir(join(stateDir(), 'fleet-bases'), { recursive: true, mode: 0o700 });
  // another source for this host's base (a clone fetched packed from the host whose root it is),
  // asked for only when the base is really built
  const source = o.source ? await o.source() : fleet.base.source;
  const spec: BuildSpec = { ...fleet.base, source, verify: fleet.base.verify && source.kind === 'clone', target: { ...(fleet.base.target as Extract<BuildSpec['target'], { kind: 'image' }>), path: image, force: true, format: 'raw' } };
  o.log(`base: building ${image} (key ${key.slice(0, 12)})`);
  const r = await runBuild(spec, {
    // The base is the source tree (and the base's packages); everything that carries identity is per guest.
    // The kernel's modules carry no identity and are the same for every guest: they go into the
    // base once (each guest's own stage then finds them there), not into every overlay.
    skip: (await planStages(spec)).map((s) => s.id).filter(isPerGuestStage),
    signal: o.signal,
    cleanup: o.cleanup,
    log: (l) => (l.startsWith('warning') || /^(source|verify)/.test(l) ? o.log(`base: ${l}`) : undefined),
    ...(o.status ? { status: o.status } : {}),
  });
  const seconds = (performance.now() - t0) / 1000;
  if (!r.ok) return { status: 'failed', key, image, seconds, error: r.error?.message ?? 'failed' };
  writeState(recPath, { key, image, built: new Date().toISOString() } satisfies BaseRecord);
  return { status: 'built', key, image, seconds };
}

/** The stages a base build skips: everything that carries identity is per guest (the kernel's modules are not). */
export function isPerGuestStage(id: string): boolean {
  return /^(fixup|role\/|xen\/|boot-test|inventory)/.test(id) && id !== 'fixup/kernel-modules';
}

/** One stage of a plan, as build --dry-run prints it. */
export interface PlannedStage {
  id: string;
  title: string;
  skip?: string;
}

/** A spec's stages as build --dry-run prints them; `skipped` names the reason of a stage left out. */
export async function planOf(spec: BuildSpec, skipped: (id: string) => string | undefined = () => undefined): Promise<PlannedStage[]> {
  return (await planStages(spec)).map((s) => {
    const skip = s.skipReason?.(spec) ?? skipped(s.id);
    return { id: s.id, title: s.title, ...(skip ? { skip } : {}) };
  });
}

export interface FleetPlan {
  base: { image: string; key: string; status: 'cached' | 'to build'; stages: PlannedStage[] };
  guests: Array<{ name: string; status: 'unchanged' | 'to build'; image: string; config: string; address: string; stages: PlannedStage[] }>;
}

/**
 * A local fleet's dry run: the base's key and whether it is cached, and each guest's stages, disk,
 * config and whether its inputs changed, read from the inventory. Nothing is written and no address
 * is leased (a guest with ip: auto shows the address it holds, else "auto").
 */
export async function planFleet(fleet: Fleet): Promise<FleetPlan> {
  const key = await baseKey(fleet);
  const image = baseImagePath(fleet.name, key);
  const rec = readState<BaseRecord>(`fleet-bases/${fleet.name}.json`);
  const baseSpec: BuildSpec = { ...fleet.base, target: { ...(fleet.base.target as Extract<BuildSpec['target'], { kind: 'image' }>), path: image, force: true, format: 'raw' } };
  const base = { image, key, status: rec?.key === key && existsSync(image) ? ('cached' as const) : ('to build' as const), stages: await planOf(baseSpec, (id) => (isPerGuestStage(id) ? 'per guest, not in the base' : undefined)) };
  const guests: FleetPlan['guests'] = [];
  for (const g of fleet.guests) {
    const ip = g.ip === 'auto' ? (fleet.pool ? leasedAddress(fleet.pool, g.name) : undefined) : g.ip;
    const spec = guestSpec(fleet, g, { image, key }, ip);
    const prev = findGuest(g.name);
    const disk = spec.target.kind === 'image' ? spec.target.path : '';
    const same = base.status === 'cached' && prev?.fleet === fleet.file && prev.inputsKey === guestKey(spec) && existsSync(disk);
    guests.push({ name: g.name, status: same ? 'unchanged' : 'to build', image: disk, config: spec.domain.config, address: ip ?? (g.ip === 'auto' ? 'auto (leased when it is built)' : 'dhcp'), stages: await planOf(spec) });
  }
  return { base, guests };
}

export interface GuestBuildOptions {
  signal: AbortSignal;
  cleanup: CleanupStack;
  log: (line: string) => void;
  status?: (text: string) => void;
  rebuild?: boolean;
  /** Extra fields for the guest's inventory record. */
  record?: { host?: string };
}

/** One guest of a fleet from its base: unchanged when its inputs did not change, else built (never throws). */
export async function buildFleetGuest(fleet: Fleet, g: FleetGuest, base: { image: string; key: string }, ip: string | undefined, o: GuestBuildOptions): Promise<FleetGuestResult> {
  const g0 = performance.now();
  const spec = guestSpec(fleet, g, base, ip);
  const inputsKey = guestKey(spec);
  const prev = findGuest(g.name);
  if (prev && prev.fleet !== fleet.file) {
    return { name: g.name, status: 'failed', seconds: 0, error: `a guest named ${g.name} already exists (built from ${prev.fleet ?? prev.spec ?? 'elsewhere'}); delete it first or rename this one` };
  }
  const out = { name: g.name, image: spec.target.kind === 'image' ? spec.target.path : '', ...(ip ? { ip } : {}) };
  if (!o.rebuild && prev?.inputsKey === inputsKey && existsSync(out.image) && (!prev.config || existsSync(prev.config))) {
    o.log(`${g.name}: unchanged`);
    return { ...out, status: 'unchanged', seconds: 0 };
  }
  if (o.signal.aborted) return { ...out, status: 'not-run', seconds: 0, note: 'interrupted' };
  o.status?.('starting');
  // Each guest has its own cleanup stack, so one failure unwinds only that guest.
  const own = new CleanupStack();
  const unlink = o.cleanup.push(`clean up guest ${g.name}`, async () => void (await own.runAll()));
  try {
    const r = await runBuild(spec, {
      signal: o.signal,
      cleanup: own,
      record: { fleet: fleet.file, inputsKey, ...(fleet.method === 'overlay' ? { base: base.image } : {}), ...(g.ip === 'auto' && fleet.pool ? { pool: fleet.pool } : {}) },
      // per-stage lines go to the guest's live status; only warnings are kept
      log: (l) => (l.startsWith('warning') ? o.log(`${g.name}: ${l}`) : undefined),
      ...(o.status ? { status: o.status } : {}),
    });
    const seconds = (performance.now() - g0) / 1000;
    o.log(`${g.name}: ${r.ok ? 'built' : `FAILED: ${r.error?.message}`} (${seconds.toFixed(1)}s)`);
    return r.ok ? { ...out, status: 'built', seconds, result: r } : { ...out, status: 'failed', seconds, error: r.error?.message ?? 'failed', result: r };
  } catch (e) {
    await own.runAll();
    return { ...out, status: 'failed', seconds: (performance.now() - g0) / 1000, error: isDomuError(e) ? e.message : oneLine(e) };
  } finally {
    unlink();
  }
}

/** Read and check a fleet file. */
export function readFleetFile(file: string): Fleet {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new DomuError('BAD_INPUT', `cannot read ${file}: ${oneLine(e)}`);
  }
  return parseFleet(text, file);
}

/** Build (or reuse) the base, then every guest from it. One failing guest does not stop the others. */
export async function buildFleet(o: BuildFleetOptions): Promise<FleetResult> {
  const started = performance.now();
  const fleet = readFleetFile(o.file);
  const log = o.log ?? (() => undefined);
  const cleanup = o.cleanup ?? new CleanupStack();
  const signal = o.signal ?? new AbortController().signal;

  // 1. the base, cached by key
  const b = await ensureBase(fleet, { signal, cleanup, log, status: (s: string) => o.onGuest?.('base', s) });
  const { key, image } = b;
  if (b.status === 'failed') {
    return {
      fleet: fleet.name,
      base: { status: 'failed', key, image, seconds: b.seconds, error: b.error ?? 'failed' },
      guests: fleet.guests.map((g) => ({ name: g.name, status: 'not-run', seconds: 0, note: 'the base failed' })),
      seconds: (performance.now() - started) / 1000,
    };
  }
  o.onGuest?.('base', undefined);
  log(`base: ${b.status} ${image}`);

  // 2. addresses: static ones first, then leases from the pool
  const staticIps = new Set(fleet.guests.map((g) => g.ip).filter((ip): ip is string => ip !== undefined && ip !== 'auto'));
  const ips = new Map<string, string | undefined>();
  const leaseErrors = new Map<string, string>();
  for (const g of fleet.guests) {
    if (g.ip !== 'auto') ips.set(g.name, g.ip);
    else {
      try {
        ips.set(g.name, leaseAddress(fleet.pool!, g.name, staticIps));
      } catch (e) {
        // An exhausted pool fails this guest only.
        leaseErrors.set(g.name, isDomuError(e) ? e.message : oneLine(e));
      }
    }
  }

  // 3. the guests, a bounded number at a time
  const limit = pLimit(o.concurrency ?? fleet.concurrency);
  const guests = await Promise.all(
    fleet.guests.map((g) =>
      limit(async (): Promise<FleetGuestResult> => {
        const leaseError = leaseErrors.get(g.name);
        if (leaseError) return { name: g.name, status: 'failed', seconds: 0, error: leaseError };
        const r = await buildFleetGuest(fleet, g, { image, key }, ips.get(g.name), {
          signal, cleanup, log, status: (s) => o.onGuest?.(g.name, s), ...(o.rebuild ? { rebuild: true } : {}),
        });
        o.onGuest?.(g.name, undefined);
        return r;
      }),
    ),
  );
  await dropStaleBases(fleet.name, image);
  return { fleet: fleet.name, base: { status: b.status, key, image, seconds: b.seconds }, guests, seconds: (performance.now() - started) / 1000 };
}

/** Remove this fleet's older bases, except those a guest's qcow2 overlay still stands on. */
export async function dropStaleBases(fleet: string, current: string): Promise<void> {
  const dir = join(stateDir(), 'fleet-bases');
  const inUse = new Set(listGuests().map((g) => g.base).filter((b): b is string => b !== undefined));
  for (const f of await readdir(dir).catch(() => [] as string[])) {
    const path = join(dir, f);
    if (f.startsWith(`${fleet}-`) && f.endsWith('.img') && path !== current && !inUse.has(path)) await rm(path, { force: true });
  }
}

