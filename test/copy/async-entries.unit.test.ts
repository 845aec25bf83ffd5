// The asynchronous copy of files and symlinks, on a real tree owned by whoever runs the test (no root
// needed: chown to one's own ids is allowed). Content, modes, times and links must come out the same.
import { linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, utimesSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { copyEntriesAsync } from '../../src/copy/async-entries.js';
import { SMALL_FILE_LIMIT } from '../../src/copy/regular.js';
import type { CopyBatch } from '../../src/copy/types.js';

const dir = mkdtempSync(join(tmpdir(), 'df-mirror-async-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function batch(source: string, target: string, rels: string[]): CopyBatch {
  return { op: 'entries', source, target, mode: 'fresh', umask: 0o022, rels, kinds: rels.map(() => 'f').join('') };
}

describe('copyEntriesAsync', () => {
  it('copies small and large files and symlinks with their modes and times', async () => {
    const src = join(dir, 'src1');
    const dst = join(dir, 'dst1');
    mkdirSync(join(src, 'd'), { recursive: true });
    mkdirSync(join(dst, 'd'), { recursive: true });
    writeFileSync(join(src, 'small'), 'hello\n');
    chmodSync(join(src, 'small'), 0o640);
    const big = Buffer.alloc(SMALL_FILE_LIMIT * 2 + 123, 7);
    big.write('start', 0);
    writeFileSync(join(src, 'd', 'big'), big);
    chmodSync(join(src, 'd', 'big'), 0o755);
    writeFileSync(join(src, 'empty'), '');
    chmodSync(join(src, 'empty'), 0o4600); // no setuid survives a chown, but the copy restores it
    symlinkSync('d/big', join(src, 'link'));
    symlinkSync('/nowhere/at/all', join(src, 'dangling'));
    // times exact to the microsecond (what Node's utimes keeps; finer digits go to the python3 pass)
    utimesSync(join(src, 'small'), 1_600_000_000.25, 1_650_000_000.5);
    utimesSync(join(src, 'd', 'big'), 1_600_000_001, 1_650_000_001.125);
    utimesSync(join(src, 'empty'), 1_600_000_002, 1_650_000_002);
    const r = await copyEntriesAsync(batch(src, dst, ['small', 'd/big', 'empty', 'link', 'dangling']), 4);
    expect(r.errors).toEqual([]);
    expect(r.changed).toEqual([]);
    expect(r.copied.file).toBe(3);
    expect(r.copied.symlink).toBe(2);
    expect(r.bytes).toBe(6 + big.length);
    // (before anything reads the copy and moves its atime)
    expect(lstatSync(join(dst, 'small'), { bigint: true }).atimeNs).toBe(1_600_000_000_250_000_000n);
    expect(readFileSync(join(dst, 'small'), 'utf8')).toBe('hello\n');
    expect(readFileSync(join(dst, 'd', 'big')).equals(big)).toBe(true);
    expect(readlinkSync(join(dst, 'link'))).toBe('d/big');
    expect(readlinkSync(join(dst, 'dangling'))).toBe('/nowhere/at/all');
    for (const rel of ['small', 'd/big', 'empty']) {
      const a = lstatSync(join(src, rel), { bigint: true });
      const b = lstatSync(join(dst, rel), { bigint: true });
      expect([rel, b.mode, b.uid, b.gid, b.mtimeNs]).toEqual([rel, a.mode, a.uid, a.gid, a.mtimeNs]);
    }
  });

  it('defers hard-linked files, reports vanished entries and failures per path', async () => {
    const src = join(dir, 'src2');
    const dst = join(dir, 'dst2');
    mkdirSync(src);
    mkdirSync(dst);
    writeFileSync(join(src, 'a'), 'x');
    linkSync(join(src, 'a'), join(src, 'b'));
    writeFileSync(join(src, 'exists'), 'new');
    writeFileSync(join(dst, 'exists'), 'old');
    mkdirSync(join(src, 'adir'));
    const r = await copyEntriesAsync(batch(src, dst, ['a', 'gone', 'exists', 'adir']), 2);
    const st = lstatSync(join(src, 'a'));
    expect(r.deferred).toEqual([{ rel: 'a', key: `${st.dev}:${st.ino}` }]);
    expect(r.changed).toEqual([
      { path: 'gone', code: 'VANISHED', message: 'vanished before it was copied' },
      { path: 'adir', code: 'CHANGED_KIND', message: 'changed kind during the run' },
    ]);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({ path: 'exists', code: 'EEXIST' });
    expect(readFileSync(join(dst, 'exists'), 'utf8')).toBe('old');
    expect(r.copied.file).toBe(0);
  });

  it('queues times with sub-microsecond digits for the exact pass', async () => {
    const src = join(dir, 'src3');
    const dst = join(dir, 'dst3');
    mkdirSync(src);
    mkdirSync(dst);
    writeFileSync(join(src, 'whole'), '');
    utimesSync(join(src, 'whole'), 1_600_000_000, 1_600_000_000);
    writeFileSync(join(src, 'fine'), '');
    const st = lstatSync(join(src, 'fine'), { bigint: true });
    const r = await copyEntriesAsync(batch(src, dst, ['whole', 'fine']), 2);
    if (st.mtimeNs % 1000n !== 0n) expect(r.exactTimes).toEqual(['fine', String(st.atimeNs), String(st.mtimeNs)]);
    else expect(r.exactTimes).toEqual([]);
    expect(r.exactTimes).not.toContain('whole');
  });
});
