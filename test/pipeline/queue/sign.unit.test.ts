// Job signatures and the key file: pure apart from a temporary key file.
import { describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalJson, checkJob, readKeyFile, signJob } from '../../../src/pipeline/queue/sign.js';

const key = Buffer.alloc(32, 7);
const other = Buffer.alloc(32, 8);

describe('job signatures', () => {
  it('canonical JSON sorts keys at every depth and drops undefined', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: undefined, x: 2 }], c: 'é' } })).toBe('{"a":{"c":"é","d":[1,{"x":2,"z":1}]},"b":1}');
    expect(canonicalJson({ a: 1, b: 2 })).toBe(canonicalJson({ b: 2, a: 1 }));
  });
  it('accepts a job signed for this host, in any key order', () => {
    const j = signJob(key, { host: 'h1', guest: 'a', spec: { name: 'a', roles: ['/x'] } });
    expect(checkJob(key, j, 'h1')).toBeUndefined();
    expect(checkJob(key, { signature: j.signature, payload: { spec: { roles: ['/x'], name: 'a' }, guest: 'a', host: 'h1' } }, 'h1')).toBeUndefined();
  });
  it('refuses unsigned, tampered, wrongly keyed and other hosts\' jobs', () => {
    const j = signJob(key, { host: 'h1', guest: 'a', spec: { roles: ['/x'] } });
    expect(checkJob(key, { payload: j.payload }, 'h1')?.reason).toBe('unsigned');
    expect(checkJob(key, { host: 'h1' }, 'h1')?.reason).toBe('unsigned');
    expect(checkJob(key, null, 'h1')?.reason).toBe('unsigned');
    expect(checkJob(key, { ...j, payload: { ...j.payload, spec: { roles: ['/tmp/evil'] } } }, 'h1')?.reason).toBe('bad-signature');
    expect(checkJob(other, j, 'h1')?.reason).toBe('bad-signature');
    expect(checkJob(key, { ...j, signature: 'zz' }, 'h1')?.reason).toBe('bad-signature');
    // replayed for another host: the host is inside the signed payload, so it cannot be rewritten
    expect(checkJob(key, j, 'h2')).toEqual({ reason: 'other-host', message: 'the job is for host h1, not h2' });
    expect(checkJob(key, { ...j, payload: { ...j.payload, host: 'h2' } }, 'h2')?.reason).toBe('bad-signature');
  });
});

describe('the key file', () => {
  it('must be 0600 and long enough', () => {
    const dir = mkdtempSync(join(tmpdir(), 'queue-key-'));
    try {
      const f = join(dir, 'key');
      writeFileSync(f, `${'k'.repeat(40)}\n`, { mode: 0o600 });
      expect(readKeyFile(f).toString()).toBe('k'.repeat(40));
      chmodSync(f, 0o640);
      expect(() => readKeyFile(f)).toThrow(`the fleet key ${f} has mode 0640; it must be readable by its owner only (chmod 600)`);
      writeFileSync(join(dir, 'short'), 'abc', { mode: 0o600 });
      expect(() => readKeyFile(join(dir, 'short'))).toThrow(/too short \(3 bytes; at least 32\)/);
      expect(() => readKeyFile(join(dir, 'none'))).toThrow(/cannot read the fleet key/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
