// A tree's fingerprint changes with what a clone would hold, and not with what is excluded.
import { chmodSync, mkdirSync, mkdtempSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ExcludeSet } from '../../src/walk/exclude.js';
import { treeFingerprint } from '../../src/walk/fingerprint.js';

const dir = mkdtempSync(join(tmpdir(), 'df-mirror-fp-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('treeFingerprint', () => {
  const root = join(dir, 'tree');
  mkdirSync(join(root, 'etc'), { recursive: true });
  mkdirSync(join(root, 'tmp'));
  writeFileSync(join(root, 'etc', 'hostname'), 'a\n');
  const excludes = new ExcludeSet(['/tmp']);
  const fp = () => treeFingerprint(root, { excludes });
  const settle = () => {
    // directory mtimes move when entries come and go: pin them so each step changes one thing
    for (const d of ['', 'etc']) utimesSync(join(root, d), 1_600_000_000, 1_600_000_000);
  };

  it('is a stable sha256', () => {
    settle();
    expect(fp()).toMatch(/^[0-9a-f]{64}$/);
    expect(fp()).toBe(fp());
  });

  it('does not change with what happens inside an excluded directory', () => {
    settle();
    const before = fp();
    writeFileSync(join(root, 'tmp', 'scratch'), 'x');
    mkdirSync(join(root, 'tmp', 'sub'));
    expect(fp()).toBe(before);
  });

  it('changes when a file is edited, chmod\'ed, added or renamed', () => {
    settle();
    const seen = new Set([fp()]);
    const step = (f: () => void) => {
      f();
      settle();
      const now = fp();
      expect(seen.has(now)).toBe(false);
      seen.add(now);
    };
    step(() => writeFileSync(join(root, 'etc', 'hostname'), 'bb\n'));
    step(() => utimesSync(join(root, 'etc', 'hostname'), 1_700_000_000, 1_700_000_000));
    step(() => chmodSync(join(root, 'etc', 'hostname'), 0o600));
    step(() => writeFileSync(join(root, 'etc', 'new'), ''));
    step(() => renameSync(join(root, 'etc', 'new'), join(root, 'etc', 'newer')));
  });

  it('is the same for two trees with the same content and metadata', () => {
    const make = (name: string) => {
      const r = join(dir, name);
      mkdirSync(join(r, 'x'), { recursive: true });
      writeFileSync(join(r, 'x', 'f'), 'same');
      utimesSync(join(r, 'x', 'f'), 1_600_000_000, 1_600_000_000);
      for (const d of ['x', '']) utimesSync(join(r, d), 1_600_000_000, 1_600_000_000);
      return treeFingerprint(r, { excludes: new ExcludeSet([]) });
    };
    expect(make('t1')).toBe(make('t2'));
  });
});
