// Nanosecond timestamps: which times need the python3 pass, and the pass itself on a real tree.
import { lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ExactTimes, needsExactTime } from '../../src/copy/exact-times.js';
import { hasTool } from '../../src/sys/exec.js';

const dir = mkdtempSync(join(tmpdir(), 'df-mirror-exact-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('needsExactTime', () => {
  it('is true only when there are digits below the microsecond', () => {
    expect(needsExactTime(1_700_000_000_000_000_000n)).toBe(false);
    expect(needsExactTime(1_700_000_000_123_456_000n)).toBe(false);
    expect(needsExactTime(1_700_000_000_123_456_789n)).toBe(true);
    expect(needsExactTime(1n)).toBe(true);
    expect(needsExactTime(-1n)).toBe(true);
  });
});

describe.skipIf(!hasTool('python3'))('ExactTimes (python3)', () => {
  it('sets nanosecond times on files, directories and symlinks (not their targets), latin1 names included', async () => {
    const root = join(dir, 'tree');
    mkdirSync(join(root, 'd'), { recursive: true });
    writeFileSync(join(root, 'd', 'f'), 'x');
    const odd = Buffer.concat([Buffer.from(join(root, 'caf')), Buffer.from([0xe9])]);
    writeFileSync(odd, 'y');
    symlinkSync('d/f', join(root, 'link'));
    const ex = new ExactTimes(root);
    expect(ex.available).toBe(true);
    const at = 1_600_000_000_111_111_111n;
    const mt = 1_650_000_000_987_654_321n;
    ex.add(['d/f', String(at), String(mt), 'link', String(at + 2n), String(mt + 2n)]);
    ex.add([`caf${String.fromCharCode(0xe9)}`, String(at + 3n), String(mt + 3n)]);
    ex.add(['d', String(at + 1n), String(mt + 1n)]);
    ex.add([]);
    expect(ex.count).toBe(4);
    expect(await ex.finish()).toEqual([]);
    const f = lstatSync(join(root, 'd', 'f'), { bigint: true });
    expect([f.atimeNs, f.mtimeNs]).toEqual([at, mt]);
    const d = lstatSync(join(root, 'd'), { bigint: true });
    expect([d.atimeNs, d.mtimeNs]).toEqual([at + 1n, mt + 1n]);
    const l = lstatSync(join(root, 'link'), { bigint: true });
    expect([l.atimeNs, l.mtimeNs]).toEqual([at + 2n, mt + 2n]);
    const o = lstatSync(odd, { bigint: true });
    expect(o.mtimeNs).toBe(mt + 3n);
  });

  it('reports the entries it could not set, and goes on', async () => {
    const root = join(dir, 'tree2');
    mkdirSync(root);
    writeFileSync(join(root, 'here'), '');
    const ex = new ExactTimes(root);
    ex.add(['gone', '1', '1', 'here', '5', '1000000007']);
    const warnings = await ex.finish();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^exact times: utime b'gone': No such file or directory$/);
    expect(lstatSync(join(root, 'here'), { bigint: true }).mtimeNs).toBe(1_000_000_007n);
  });
});
