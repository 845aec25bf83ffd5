// The unified diffs of --dry-run plans must be real patches: GNU patch(1) turns the old text into
// the new one, for many generated edits, including files without a final newline.

import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { unifiedDiff } from '../../src/fixup/diff.js';
import { scratchDir } from '../helpers/run.js';

const scratch = scratchDir('fixup-diff');
afterAll(() => scratch.cleanup());

/** A small deterministic generator, so that failures repeat. */
function lcg(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
}

function applyPatch(before: string, diff: string): string {
  const file = join(scratch.dir, 'f');
  writeFileSync(file, before);
  execFileSync('patch', ['-s', '-u', file], { input: diff });
  return readFileSync(file, 'utf8');
}

describe('unified diffs apply with patch(1)', () => {
  it('generated edits: inserts, deletes, changes, at the ends and in the middle', () => {
    const rnd = lcg(42);
    for (let c = 0; c < 60; c += 1) {
      const n = Math.floor(rnd() * 40);
      const a = Array.from({ length: n }, () => `line ${Math.floor(rnd() * 12)}`);
      const b = [...a];
      const edits = 1 + Math.floor(rnd() * 6);
      for (let e = 0; e < edits; e += 1) {
        const at = Math.floor(rnd() * (b.length + 1));
        const op = rnd();
        if (op < 0.4) b.splice(at, 0, `new ${c}.${e}`);
        else if (op < 0.7 && b.length > 0) b.splice(Math.min(at, b.length - 1), 1);
        else if (b.length > 0) b[Math.min(at, b.length - 1)] = `changed ${c}.${e}`;
      }
      const before = a.length ? `${a.join('\n')}\n` : '';
      const after = b.length ? `${b.join('\n')}\n` : '';
      const diff = unifiedDiff('/etc/f', before, after);
      if (before === after) expect(diff).toBe('');
      else expect(applyPatch(before, diff), `case ${c}`).toBe(after);
    }
  });

  it('files without a final newline', () => {
    const cases: Array<[string, string]> = [['vm', 'banquo\n'], ['a\nb', 'a\nb\n'], ['a\nb\n', 'a\nb'], ['x\ny', 'x\nz']];
    for (const [before, after] of cases) {
      const diff = unifiedDiff('/etc/hostname', before, after);
      expect(diff).toContain('\\ No newline at end of file');
      expect(applyPatch(before, diff)).toBe(after);
    }
  });

  it('a new file diffs against /dev/null', () => {
    expect(unifiedDiff('/etc/modules-load.d/x.conf', undefined, 'xenblk\nxennet\n')).toBe('--- /dev/null\n+++ b/etc/modules-load.d/x.conf\n@@ -0,0 +1,2 @@\n+xenblk\n+xennet\n');
  });
});
