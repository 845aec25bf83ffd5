// The inventory and the address pools, in a state directory of the test's own (no root needed).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { usePrivateStateDir } from '../helpers/state-dir.js';
import { findGuest, forgetGuest, leaseAddress, leasesOf, listGuests, parsePool, recordGuest, releaseLeases, withStateLock, type GuestRecord } from '../../src/pipeline/inventory.js';

const dir = usePrivateStateDir('df-mirror-inventory-');

describe('parsePool', () => {
  it('reads FIRST-LAST and FIRST-LASTOCTET', () => {
    const ip = (s: string) => s.split('.').reduce((n, o) => n * 256 + Number(o), 0);
    expect(parsePool('10.0.0.10-10.0.0.50')).toEqual([ip('10.0.0.10'), ip('10.0.0.50')]);
    expect(parsePool(' 10.0.0.10-50 ')).toEqual([ip('10.0.0.10'), ip('10.0.0.50')]);
    expect(parsePool('10.0.0.250-10.0.1.5')).toEqual([ip('10.0.0.250'), ip('10.0.1.5')]);
  });
  it('refuses what is not a range', () => {
    expect(() => parsePool('10.0.0.10')).toThrow('address pool "10.0.0.10" is not FIRST-LAST (10.0.0.10-10.0.0.50)');
    expect(() => parsePool('10.0.0.50-10')).toThrow('is not a valid range');
    expect(() => parsePool('10.0.0.10-256')).toThrow('is not a valid range');
    // every octet counts, not only the last one of each end
    expect(() => parsePool('999.0.0.1-5')).toThrow('address pool "999.0.0.1-5" is not a valid range');
    expect(() => parsePool('10.0.300.1-10.0.300.5')).toThrow('is not a valid range');
    expect(() => parsePool('10.0.0.1-10.256.0.5')).toThrow('is not a valid range');
  });
});

describe('address leases', () => {
  it('gives the lowest free address, the same one again to the same guest, skipping taken ones', () => {
    expect(leaseAddress('192.168.5.10-12', 'a')).toBe('192.168.5.10');
    expect(leaseAddress('192.168.5.10-12', 'b', new Set(['192.168.5.11']))).toBe('192.168.5.12');
    expect(leaseAddress('192.168.5.10-192.168.5.12', 'a')).toBe('192.168.5.10');
    expect(() => leaseAddress('192.168.5.10-12', 'c', new Set(['192.168.5.11']))).toThrow(expect.objectContaining({ code: 'BAD_INPUT', message: 'address pool 192.168.5.10-192.168.5.12 is exhausted (3 addresses, all leased)' }));
    expect(leasesOf('b')).toEqual(['192.168.5.12']);
  });

  it('release frees every lease of a guest, for the next one', () => {
    leaseAddress('172.16.0.1-2', 'x');
    expect(releaseLeases('x').sort()).toEqual(['172.16.0.1']);
    expect(releaseLeases('x')).toEqual([]);
    expect(leaseAddress('172.16.0.1-2', 'y')).toBe('172.16.0.1');
    expect(leasesOf('x')).toEqual([]);
  });
});

describe('the inventory', () => {
  const rec = (name: string): GuestRecord => ({ name, created: '2026-01-01T00:00:00Z' } as unknown as GuestRecord);
  it('records, lists by name, finds and forgets guests', () => {
    recordGuest(rec('zeta'));
    recordGuest(rec('alpha'));
    expect(listGuests().map((g) => g.name)).toEqual(['alpha', 'zeta']);
    expect(findGuest('alpha')?.name).toBe('alpha');
    forgetGuest('alpha');
    expect(findGuest('alpha')).toBeUndefined();
    expect(listGuests().map((g) => g.name)).toEqual(['zeta']);
  });
});

describe('withStateLock', () => {
  it('returns what fn returns and leaves no lock behind, also when fn throws', () => {
    expect(withStateLock(() => 42)).toBe(42);
    expect(() => withStateLock(() => {
      throw new Error('inside');
    })).toThrow('inside');
    expect(readdirSync(join(dir, 'state')).filter((f) => f.includes('lock'))).toEqual([]);
  });

  it('breaks the lock of a holder that died', () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    mkdirSync(join(dir, 'state'), { recursive: true });
    writeFileSync(join(dir, 'state', 'state.lock'), `${dead}\n`);
    expect(withStateLock(() => 'got it')).toBe('got it');
    expect(existsSync(join(dir, 'state', 'state.lock'))).toBe(false);
  });
});
