// Signed jobs: a job carries a spec that runs role scripts as root on the worker's host, so Redis
// access alone must not mean root on every Dom0. Every job's payload is signed with HMAC-SHA256 over
// its canonical JSON (keys sorted) with the fleet key; a worker checks the signature and that the
// job is for its own host before it runs anything.

import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { DomuError, oneLine } from '../../errors.js';

/** JSON with every object's keys sorted, so that the same payload always gives the same bytes. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new DomuError('INTERNAL', 'a job payload holds a number JSON cannot carry');
    return JSON.stringify(value) ?? 'null';
  }
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function signPayload(key: Buffer, payload: unknown): string {
  return createHmac('sha256', key).update(canonicalJson(payload)).digest('hex');
}

/** A job's data: what to do, for which host, signed. */
export interface SignedJob<P extends { host: string } = { host: string }> {
  payload: P;
  signature: string;
}

export function signJob<P extends { host: string }>(key: Buffer, payload: P): SignedJob<P> {
  return { payload, signature: signPayload(key, payload) };
}

export type RefusalReason = 'unsigned' | 'bad-signature' | 'other-host';

/** Why a worker refuses a job (undefined: it may run). Constant-time signature comparison. */
export function checkJob(key: Buffer, data: unknown, host: string): { reason: RefusalReason; message: string } | undefined {
  const d = data as Partial<SignedJob> | null;
  if (!d || typeof d !== 'object' || typeof d.signature !== 'string' || d.payload === undefined || d.payload === null || typeof d.payload !== 'object') {
    return { reason: 'unsigned', message: 'the job is not signed' };
  }
  const want = Buffer.from(signPayload(key, d.payload), 'hex');
  const got = /^[0-9a-f]{64}$/.test(d.signature) ? Buffer.from(d.signature, 'hex') : Buffer.alloc(0);
  if (got.length !== want.length || !timingSafeEqual(got, want)) return { reason: 'bad-signature', message: 'the job\'s signature does not match its payload under this worker\'s key' };
  if (d.payload.host !== host) return { reason: 'other-host', message: `the job is for host ${String(d.payload.host)}, not ${host}` };
  return undefined;
}

/** Read the fleet key: a file of mode 0600 (or stricter) holding at least 32 bytes. */
export function readKeyFile(file: string): Buffer {
  let mode: number;
  let key: Buffer;
  try {
    mode = statSync(file).mode & 0o777;
    key = readFileSync(file);
  } catch (e) {
    throw new DomuError('BAD_INPUT', `cannot read the fleet key ${file}: ${oneLine(e)}`, { hint: 'make one: head -c 32 /dev/urandom | base64 > KEY && chmod 600 KEY' });
  }
  if ((mode & 0o077) !== 0) throw new DomuError('BAD_INPUT', `the fleet key ${file} has mode ${mode.toString(8).padStart(4, '0')}; it must be readable by its owner only (chmod 600)`);
  const trimmed = Buffer.from(key.toString('latin1').trim(), 'latin1');
  if (trimmed.length < 32) throw new DomuError('BAD_INPUT', `the fleet key ${file} is too short (${trimmed.length} bytes; at least 32)`);
  return trimmed;
}
