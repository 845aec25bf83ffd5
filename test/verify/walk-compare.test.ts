// The parallel verify's own paths, on real trees: contents read in chunks (a difference in the last
// byte of a file larger than a chunk, in a one-byte file, in each name of a hard-linked file), the
// children of a directory that became a file, and a tree split over many worker batches.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyTree } from '../../src/verify/index.js';

const sh = (cmd: string, cwd?: string) => execFileSync('bash', ['-c', cmd], { cwd, stdio: ['ignore', 'pipe', 'pipe'] }).toString();

describe('verify: the parallel walk and the content reads (root)', () => {
  let dir: string;
  let src: string;
  let dst: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'walk-verify-'));
    src = join(dir, 'src');
    dst = join(dir, 'dst');
    sh(`
      set -e
      mkdir -p src/many src/gone/inner
      head -c 3145728 /dev/urandom > src/big
      printf 'a' > src/one
      printf 'linked' > src/l1
      ln src/l1 src/l2
      echo x > src/gone/a
      echo y > src/gone/inner/b
      for d in $(seq 1 300); do mkdir src/many/d$d; echo $d > src/many/d$d/f; done
    `, dir);
    sh(`cp -a src dst`, dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds a cp -a copy spread over many batches identical', async () => {
    const r = await verifyTree({ source: src, target: dst, defaultExcludes: false, concurrency: 3 });
    expect(r.differences).toEqual([]);
    const count = Number(sh(`find src | wc -l`, dir).trim());
    expect(count).toBe(610);
    expect(r.entries).toEqual({ source: count, target: count });
  });

  it('reports each changed content, type-changed directory and its children', async () => {
    // same size, same mtime: only the bytes tell
    sh(`
      set -e
      t=$(stat -c %y dst/big); printf 'Z' | dd of=dst/big bs=1 seek=3145727 conv=notrunc status=none; touch -d "$t" dst/big
      t=$(stat -c %y dst/one); printf 'b' > dst/one; touch -d "$t" dst/one
      t=$(stat -c %y dst/l1); printf 'LINKED' > dst/l1; touch -d "$t" dst/l1
      t=$(stat -c %y dst/many/d7/f); echo 8 > dst/many/d7/f; touch -d "$t" dst/many/d7/f
      rm -r dst/gone; echo file > dst/gone
    `, dir);
    const r = await verifyTree({ source: src, target: dst, defaultExcludes: false, xattrs: false });
    const content = r.differences.filter((d) => d.kind === 'content').map((d) => d.path);
    expect(content.sort()).toEqual(['/big', '/l1', '/l2', '/many/d7/f', '/one']);
    expect(r.differences.filter((d) => d.kind === 'type').map((d) => [d.path, d.source, d.target])).toEqual([['/gone', 'dir', 'file']]);
    // as before the parallel walk: the children of the directory are missing, not what lies below them
    expect(r.differences.filter((d) => d.kind === 'missing').map((d) => d.path).sort()).toEqual(['/gone/a', '/gone/inner']);
    expect(r.entries.source - r.entries.target).toBe(3);
  });
});
