// The inventory: every guest domu-forge built (its disk, swap, config and address lease), kept in
// the state directory (inventory.json), so that `list` can show them and `delete` can remove them.
// Address pools live here too (leases.json), as xen-tools' --ip=auto keeps its next address.

import { linkSync, mkdirSync, readFileSync, rmdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { lstat, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { DomuError, errnoCode, oneLine } from '../errors.js';
import { hasTool, runTool } from '../sys/exec.js';
import { processRuns } from '../sys/process.js';
import { readState, stateDir, writeState } from '../sys/state.js';

// ---- the lock: a worker and a local build (or two builds) on one host share these files ----

const LOCK = 'state.lock';
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** The pid in a lock file, when that process is gone (undefined: alive, or no lock). */
function deadHolder(file: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  return processRuns(Number(text.trim())) ? undefined : text;
}

/** Remove a lock whose holder died; only the process that made the breaker directory may. */
function breakStaleLock(file: string, text: string): void {
  const breaker = `${file}.break`;
  try {
    mkdirSync(breaker);
  } catch (e) {
    if (errnoCode(e) !== 'EEXIST') throw e;
    // a breaker that died mid-break leaves its directory: drop it when old
    try {
      if (Date.now() - statSync(breaker).mtimeMs > 10_000) rmdirSync(breaker);
    } catch {
      /* someone else did */
    }
    return;
  }
  try {
    // nobody but a breaker removes a dead holder's lock, so it cannot have changed since we read it
    if (readFileSync(file, 'utf8') === text) unlinkSync(file);
  } catch {
    /* already gone */
  } finally {
    rmdirSync(breaker);
  }
}

/**
 * Run `fn` holding the state directory's lock: a file holding our pid, made with link() so that it
 * never exists empty. A lock whose holder died (SIGKILL) is broken. The read-modify-write of
 * inventory.json and leases.json happens inside, so no lease is given twice and no record is lost
 * between processes (a worker and a local build, or two builds).
 */
export function withStateLock<T>(fn: () => T): T {
  const dir = stateDir();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, LOCK);
  const mine = join(dir, `.${LOCK}.${process.pid}.${Math.random().toString(36).slice(2)}`);
  writeFileSync(mine, `${process.pid}\n`, { mode: 0o600 });
  try {
    for (let i = 0; ; i++) {
      try {
        linkSync(mine, file);
        break;
      } catch (e) {
        if (errnoCode(e) !== 'EEXIST') throw e;
      }
      const dead = deadHolder(file);
      if (dead !== undefined) {
        breakStaleLock(file, dead);
        continue;
      }
      if (i > 60_000) throw new DomuError('ENVIRONMENT', `the state lock ${file} has been held for minutes; is another domu-forge hung?`);
      Atomics.wait(sleeper, 0, 0, 1 + (i % 4));
    }
  } finally {
    unlinkSync(mine);
  }
  try {
    return fn();
  } finally {
    unlinkSync(file);
  }
}

export interface GuestDisk {
  kind: 'image' | 'lvm' | 'dir' | 'tar';
  /** The image file, /dev/VG/LV, directory or tarball. */
  path: string;
  format?: string;
}

export interface GuestRecord {
  name: string;
  hostname: string;
  disk: GuestDisk;
  swap?: GuestDisk;
  /** The xl config, when one was written. */
  config?: string;
  ip?: string;
  /** The pool the address was leased from. */
  pool?: string;
  mac?: string;
  /** The spec or fleet file it was built from. */
  spec?: string;
  fleet?: string;
  /** The fleet base a qcow2 overlay guest is backed by (it must stay while the guest exists). */
  base?: string;
  /** Hash of every input that shaped the guest (fleet reruns compare it). */
  inputsKey?: string;
  built: string;
  seconds?: number;
}

interface InventoryFile {
  version: 1;
  guests: Record<string, GuestRecord>;
}

interface LeaseFile {
  version: 1;
  /** pool key ("10.0.0.10-10.0.0.50") -> address -> guest name */
  pools: Record<string, Record<string, string>>;
}

const INVENTORY = 'inventory.json';
const LEASES = 'leases.json';

function readInventory(): InventoryFile {
  return readState<InventoryFile>(INVENTORY) ?? { version: 1, guests: {} };
}

export function listGuests(): GuestRecord[] {
  return Object.values(readInventory().guests).sort((a, b) => a.name.localeCompare(b.name));
}

export function findGuest(name: string): GuestRecord | undefined {
  return readInventory().guests[name];
}

export function recordGuest(rec: GuestRecord): void {
  withStateLock(() => {
    const inv = readInventory();
    inv.guests[rec.name] = rec;
    writeState(INVENTORY, inv);
  });
}

export function forgetGuest(name: string): void {
  withStateLock(() => {
    const inv = readInventory();
    delete inv.guests[name];
    writeState(INVENTORY, inv);
  });
}

// ---- address pools ----

function ipToInt(ip: string): number {
  return ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}
function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}

/** "10.0.0.10-10.0.0.50" or "10.0.0.10-50" -> [first, last] as numbers. */
export function parsePool(pool: string): [number, number] {
  const m = /^(\d+\.\d+\.\d+\.)(\d+)-(?:(\d+\.\d+\.\d+\.)?(\d+))$/.exec(pool.trim());
  if (!m) throw new DomuError('BAD_INPUT', `address pool "${pool}" is not FIRST-LAST (10.0.0.10-10.0.0.50)`);
  const firstText = `${m[1]}${m[2]}`;
  const lastText = `${m[3] ?? m[1]}${m[4]}`;
  const octetsOk = [firstText, lastText].every((a) => a.split('.').every((o) => Number(o) <= 255));
  const first = ipToInt(firstText);
  const last = ipToInt(lastText);
  if (!octetsOk || last < first) throw new DomuError('BAD_INPUT', `address pool "${pool}" is not a valid range`);
  return [first, last];
}

/**
 * The address of `name` in `pool`: its existing lease, or the lowest free address (recorded now).
 * `taken` lists addresses in use outside the pool's leases (static ones in the same fleet).
 */
/** The address a pool has leased to a guest, if any (read only: a dry run leases nothing). */
export function leasedAddress(pool: string, name: string): string | undefined {
  const [first, last] = parsePool(pool);
  const leases = readState<LeaseFile>(LEASES)?.pools[`${intToIp(first)}-${intToIp(last)}`] ?? {};
  return Object.entries(leases).find(([, owner]) => owner === name)?.[0];
}

export function leaseAddress(pool: string, name: string, taken: ReadonlySet<string> = new Set()): string {
  return withStateLock(() => leaseLocked(pool, name, taken));
}

function leaseLocked(pool: string, name: string, taken: ReadonlySet<string>): string {
  const [first, last] = parsePool(pool);
  const key = `${intToIp(first)}-${intToIp(last)}`;
  const file = readState<LeaseFile>(LEASES) ?? { version: 1, pools: {} };
  const leases = (file.pools[key] ??= {});
  for (const [ip, owner] of Object.entries(leases)) if (owner === name) return ip;
  for (let n = first; n <= last; n++) {
    const ip = intToIp(n);
    if (leases[ip] === undefined && !taken.has(ip)) {
      leases[ip] = name;
      writeState(LEASES, file);
      return ip;
    }
  }
  throw new DomuError('BAD_INPUT', `address pool ${key} is exhausted (${last - first + 1} addresses, all leased)`, {
    hint: 'domu-forge delete NAME releases a guest\'s lease; or widen the pool',
  });
}

/** Release every lease `name` holds. Returns the addresses released. */
export function releaseLeases(name: string): string[] {
  return withStateLock(() => releaseLocked(name));
}

function releaseLocked(name: string): string[] {
  const file = readState<LeaseFile>(LEASES);
  if (!file) return [];
  const released: string[] = [];
  for (const leases of Object.values(file.pools)) {
    for (const [ip, owner] of Object.entries(leases)) {
      if (owner === name) {
        delete leases[ip];
        released.push(ip);
      }
    }
  }
  if (released.length > 0) writeState(LEASES, file);
  return released;
}

export function leasesOf(name: string): string[] {
  const file = readState<LeaseFile>(LEASES);
  if (!file) return [];
  return Object.values(file.pools).flatMap((l) => Object.entries(l).filter(([, o]) => o === name).map(([ip]) => ip));
}

// ---- deleting a guest ----

export interface DeleteResult {
  name: string;
  removed: string[];
  releasedAddresses: string[];
  missing: string[];
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return false;
    throw e;
  }
}

async function refuseInUse(rec: GuestRecord): Promise<void> {
  if (hasTool('xl')) {
    const r = await runTool('xl', ['domid', rec.name], { allowFailure: true });
    if (r.status === 0) throw new DomuError('BAD_INPUT', `${rec.name} is running (xl domid ${r.stdout.toString().trim()}); shut it down first`);
  }
  for (const d of [rec.disk, rec.swap]) {
    if (!d) continue;
    if (d.kind === 'image' && (await exists(d.path))) {
      const loops = (await runTool('losetup', ['-j', d.path], { allowFailure: true })).stdout.toString().trim();
      if (loops) throw new DomuError('BAD_INPUT', `${d.path} is attached to a loop device (${loops.split(':')[0]}); detach it first`);
    }
    if (d.kind === 'lvm' && (await exists(d.path))) {
      const r = await runTool('findmnt', ['-n', '-S', d.path], { allowFailure: true });
      if (r.stdout.toString().trim()) throw new DomuError('BAD_INPUT', `${d.path} is mounted; unmount it first`);
    }
  }
}

async function removeDisk(d: GuestDisk, removed: string[], missing: string[]): Promise<void> {
  if (!(await exists(d.path))) {
    missing.push(d.path);
    return;
  }
  if (d.kind === 'lvm') await runTool('lvremove', ['-f', '-y', d.path]);
  else if (d.kind === 'dir') await rm(d.path, { recursive: true, force: true });
  else await unlink(d.path);
  removed.push(d.path);
}

/** Remove a guest's disk, swap, config and address lease, and forget it. */
export async function deleteGuest(name: string): Promise<DeleteResult> {
  const rec = findGuest(name);
  if (!rec) throw new DomuError('BAD_INPUT', `no guest named ${name} in the inventory`, { hint: 'domu-forge list shows the guests domu-forge built' });
  await refuseInUse(rec);
  const removed: string[] = [];
  const missing: string[] = [];
  try {
    await removeDisk(rec.disk, removed, missing);
    if (rec.swap) await removeDisk(rec.swap, removed, missing);
    if (rec.config) {
      if (await exists(rec.config)) {
        await unlink(rec.config);
        removed.push(rec.config);
      } else missing.push(rec.config);
    }
  } catch (e) {
    if (e instanceof DomuError) throw e;
    throw new DomuError('INTERNAL', `deleting ${name}: ${oneLine(e)} (removed so far: ${removed.join(', ') || 'nothing'})`);
  }
  const releasedAddresses = releaseLeases(name);
  forgetGuest(name);
  return { name, removed, releasedAddresses, missing };
}
