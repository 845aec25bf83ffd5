// Several domu-forge processes on one host share the inventory and the address leases under the
// state lock: eight processes lease and record at once; no address is leased twice, no record lost.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const INVENTORY = resolve(__dirname, '../../../dist/pipeline/inventory.js');

describe('inventory and leases across processes', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'queue-lock-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('eight processes at once: every lease distinct, every record kept', async () => {
    const script = join(dir, 'worker.mjs');
    writeFileSync(script, `
      import { leaseAddress, recordGuest } from ${JSON.stringify(INVENTORY)};
      const who = process.argv[2];
      // all start together, so that their read-modify-writes overlap
      while (Date.now() < Number(process.argv[3])) {}
      for (let i = 0; i < 100; i++) {
        const name = who + '-' + i;
        const ip = leaseAddress('10.99.0.1-10.99.3.254', name);
        recordGuest({ name, hostname: name, disk: { kind: 'image', path: '/nonexistent/' + name }, ip, built: new Date().toISOString() });
      }
    `);
    // a stale lock left by a SIGKILLed process (a pid that does not exist) must not block them
    writeFileSync(join(dir, 'state.lock'), '999999999\n');
    const env = { ...process.env, DOMU_FORGE_STATE_DIR: dir };
    const startAt = String(Date.now() + 1500);
    const codes = await Promise.all(
      Array.from({ length: 8 }, (_, w) => new Promise<number | null>((res) => spawn(process.execPath, [script, `p${w}`, startAt], { env, stdio: 'inherit' }).on('close', res))),
    );
    expect(codes).toEqual(Array(8).fill(0));
    const inv = JSON.parse(readFileSync(join(dir, 'inventory.json'), 'utf8')) as { guests: Record<string, { ip: string }> };
    expect(Object.keys(inv.guests).length).toBe(800);
    const leases = JSON.parse(readFileSync(join(dir, 'leases.json'), 'utf8')) as { pools: Record<string, Record<string, string>> };
    const pool = leases.pools['10.99.0.1-10.99.3.254']!;
    expect(Object.keys(pool).length).toBe(800);
    expect(new Set(Object.values(pool)).size).toBe(800);
    // the inventory's address of each guest is the one its lease holds
    for (const [ip, owner] of Object.entries(pool)) expect(inv.guests[owner]!.ip).toBe(ip);
  });
});
