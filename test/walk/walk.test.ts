// The one walker on a real tree (root: mknod, a tmpfs mount): every entry kind, non-UTF-8 names,
// the exclusion rules and --one-file-system, and the clone's scanDirectory agreeing with walkTree;
// sizing (treeUsage) and the fingerprint on the same tree. Needs root for mknod and mount.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { chmodSync, linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { ExcludeSet } from '../../src/walk/exclude.js';
import { joinRoot, listDirectory, listDirectoryLean, scanDirectory, walkTree, type StatEntry, type WalkProblem } from '../../src/walk/walk.js';
import { leanOf } from '../../src/sys/lean-stat.js';
import { estimateUsage, treeUsage } from '../../src/walk/usage.js';
import { treeFingerprint } from '../../src/walk/fingerprint.js';

let dir: string;
let root: string;
const odd = Buffer.from([0x62, 0xff, 0x6e]).toString('latin1'); // "b\xffn": not UTF-8

function all(r: string, patterns: string[] = [], oneFileSystem = false): Map<string, StatEntry> {
  const out = new Map<string, StatEntry>();
  for (const e of walkTree(r, { excludes: new ExcludeSet(patterns), oneFileSystem })) out.set(e.rel, e);
  return out;
}

beforeAll(() => {
  dir = mkdtempSync('/tmp/walk-test-');
  root = join(dir, 'root');
  mkdirSync(join(root, 'etc/sub'), { recursive: true });
  writeFileSync(join(root, 'etc/a'), 'x'.repeat(5000));
  writeFileSync(join(root, 'etc/empty'), '');
  linkSync(join(root, 'etc/a'), join(root, 'etc/a-link'));
  symlinkSync('/etc/passwd', join(root, 'abs-link'));
  execFileSync('mknod', [join(root, 'cdev'), 'c', '1', '3']);
  execFileSync('mknod', [join(root, 'bdev'), 'b', '7', '99']);
  execFileSync('mkfifo', [join(root, 'fifo')]);
  execFileSync('python3', ['-c', `import socket; s=socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(join(root, 'sock'))})`]);
  writeFileSync(Buffer.from(join(root, odd), 'latin1'), 'odd');
  mkdirSync(join(root, 'var/log'), { recursive: true });
  writeFileSync(join(root, 'var/log/x.log'), 'log');
  writeFileSync(join(root, 'etc/sub/b.log'), 'log');
  mkdirSync(join(root, 'mnt'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'walk-test', join(root, 'mnt')]);
  writeFileSync(join(root, 'mnt/inside'), 'on another filesystem');
});

afterAll(() => {
  execFileSync('umount', [join(root, 'mnt')]);
  rmSync(dir, { recursive: true, force: true });
});

describe('walkTree', () => {
  it('yields the root first and every entry with its kind, non-UTF-8 names byte-exact', () => {
    const m = all(root);
    expect([...m.keys()][0]).toBe('');
    const kinds = Object.fromEntries([...m].map(([rel, e]) => [rel, e.kind]));
    expect(kinds).toMatchObject({ '': 'dir', etc: 'dir', 'etc/a': 'file', 'etc/a-link': 'file', 'abs-link': 'symlink', cdev: 'chardev', bdev: 'blockdev', fifo: 'fifo', sock: 'socket', [odd]: 'file', 'mnt/inside': 'file' });
    expect(m.get('etc/a')!.st.ino).toBe(m.get('etc/a-link')!.st.ino);
    expect(m.get(odd)!.st.size).toBe(3n);
    expect(m.size).toBe(18);
  });

  it('prunes excluded directories (kept, not entered) and drops other excluded entries', () => {
    const m = all(root, ['/var', '*.log']);
    expect(m.get('var')?.pruned).toBe('excluded');
    expect(m.has('var/log')).toBe(false);
    expect(m.has('etc/sub/b.log')).toBe(false);
    expect(m.has('etc/sub')).toBe(true);
  });

  it('keeps a mount point but does not enter it under oneFileSystem', () => {
    const m = all(root, [], true);
    expect(m.get('mnt')?.pruned).toBe('other-filesystem');
    expect(m.has('mnt/inside')).toBe(false);
    expect(all(root).get('mnt')?.pruned).toBeUndefined();
  });

  it('reports a directory it cannot read and goes on', () => {
    const gone = join(dir, 'gone');
    mkdirSync(join(gone, 'in/deeper'), { recursive: true });
    writeFileSync(join(gone, 'ok'), '');
    const problems: WalkProblem[] = [];
    const seen: string[] = [];
    // the walk is lazy: the directory vanishes after it was listed, before it is entered
    for (const e of walkTree(gone, { excludes: new ExcludeSet([]), onProblem: (p) => problems.push(p) })) {
      seen.push(e.rel);
      if (e.rel === 'in') rmSync(join(gone, 'in'), { recursive: true });
    }
    expect(seen.sort()).toEqual(['', 'in', 'ok']);
    expect(problems.map((p) => [p.rel, p.code])).toEqual([['in', 'ENOENT']]);
    expect(() => [...walkTree(join(dir, 'nope'), { excludes: new ExcludeSet([]) })]).toThrow(/ENOENT/);
  });

  it('lists children in byte order when asked (a tarball\'s order)', () => {
    const names = listDirectory(root, '', { excludes: new ExcludeSet([]) }, { sorted: true }).entries.map((e) => Buffer.from(e.rel, 'latin1'));
    expect(names).toEqual([...names].sort(Buffer.compare));
  });

  it('agrees with the clone\'s scanDirectory on every directory: same children, kinds and pruning', () => {
    const excludes = new ExcludeSet(['/var', '*.log']);
    const rootDev = all(root).get('')!.st.dev;
    const m = all(root, ['/var', '*.log'], true);
    for (const [rel, e] of m) {
      if (e.kind !== 'dir' || e.pruned) continue;
      const scan = scanDirectory(root, rel, { excludes, rootDev });
      const fromScan = new Map<string, string>([
        ...scan.entries.map((x) => [x.rel, x.kind] as [string, string]),
        ...scan.subdirs.map((x) => [x.rel, 'dir'] as [string, string]),
        ...scan.pruned.map((x) => [x.rel, `dir ${x.reason}`] as [string, string]),
      ]);
      const fromWalk = new Map<string, string>();
      for (const [r, c] of m) if (r !== '' && r.slice(0, r.lastIndexOf('/') < 0 ? 0 : r.lastIndexOf('/')) === rel) fromWalk.set(r, c.pruned ? `dir ${c.pruned}` : c.kind);
      expect(fromScan).toEqual(fromWalk);
    }
  });
});

describe('listDirectoryLean', () => {
  it('gives what listDirectory gives on every directory: children, kinds, pruning, lstat fields, byte order', () => {
    const patterns = [['/var', '*.log'], []];
    for (const p of patterns) {
      const excludes = new ExcludeSet(p);
      const rootDev = all(root).get('')!.st.dev;
      for (const rules of [{ excludes }, { excludes, rootDev }]) {
        for (const [rel, e] of all(root, p)) {
          if (e.kind !== 'dir' || e.pruned) continue;
          const full = listDirectory(root, rel, rules, { sorted: true });
          const lean = listDirectoryLean(root, rel, rules, { sorted: true });
          expect(lean.problems).toEqual(full.problems);
          expect(lean.entries).toEqual(full.entries.map((x) => ({ ...x, st: leanOf(x.st), path: expect.anything() })));
          for (const x of lean.entries) expect(Buffer.from(x.path as string, typeof x.path === 'string' ? 'utf8' : undefined)).toEqual(joinRoot(root, x.rel));
        }
      }
    }
    const odd1 = listDirectoryLean(root, '', { excludes: new ExcludeSet([]) }).entries.find((x) => x.rel === odd);
    expect(odd1?.st.size).toBe(3n);
  });

  it('reports a child it cannot lstat as listDirectory does, and throws what readdir throws', () => {
    expect(() => listDirectoryLean(join(dir, 'nope'), '', { excludes: new ExcludeSet([]) })).toThrow(/ENOENT/);
  });
});

describe('treeUsage', () => {
  it('counts every entry once and each file in whole 4 KiB blocks, under the same rules', () => {
    const u = treeUsage(root, { excludes: new ExcludeSet([]) });
    expect(u.inodes).toBe(18);
    // files: a and a-link (5000 B: 2 blocks each), empty (0), odd, x.log, b.log, mnt/inside (1 each); 11 other entries 1 block
    expect(u.bytes).toBe((2 + 2 + 0 + 1 + 1 + 1 + 1) * 4096 + 11 * 4096);
    const ex = treeUsage(root, { excludes: new ExcludeSet(['/var', '*.log']), oneFileSystem: true });
    // gone: var/log, var/log/x.log, etc/sub/b.log, mnt/inside; var and mnt stay as empty directories
    expect(ex.inodes).toBe(14);
    expect(ex.bytes).toBe(u.bytes - 4 * 4096);
  });

  it('is what clone\'s size hint uses', async () => {
    expect(await estimateUsage(root, ['/var', '*.log'], true)).toEqual(treeUsage(root, { excludes: new ExcludeSet(['/var', '*.log']), oneFileSystem: true }));
  });
});

describe('treeFingerprint', () => {
  it('is the same for a cp -a copy, and changes with a mode, a time or a new file, but not with excluded content', () => {
    const copy = join(dir, 'copy');
    execFileSync('cp', ['-a', join(root, 'etc'), copy]);
    const fp = (r: string) => treeFingerprint(r, { excludes: new ExcludeSet(['/sub']) });
    const before = fp(copy);
    expect(fp(join(root, 'etc'))).toBe(before);
    writeFileSync(join(copy, 'sub/new.log'), 'excluded');
    expect(fp(copy)).toBe(before);
    chmodSync(join(copy, 'empty'), 0o600);
    const afterMode = fp(copy);
    expect(afterMode).not.toBe(before);
    utimesSync(join(copy, 'empty'), 1, 2);
    expect(fp(copy)).not.toBe(afterMode);
    const afterTime = fp(copy);
    writeFileSync(join(copy, 'new'), '');
    expect(fp(copy)).not.toBe(afterTime);
  });
});

describe('walkTree order', () => {
  it('is a recursive walk\'s: each directory\'s subtree right after it, children in byte order when sorted', () => {
    const order = [...walkTree(root, { excludes: new ExcludeSet([]), sorted: true })].map((e) => e.rel);
    // what a recursive walk over byte-sorted names gives
    const expected: string[] = [''];
    const visit = (rel: string) => {
      for (const e of listDirectory(root, rel, { excludes: new ExcludeSet([]) }, { sorted: true }).entries) {
        expected.push(e.rel);
        if (e.kind === 'dir') visit(e.rel);
      }
    };
    visit('');
    expect(order).toEqual(expected);
    expect(order.indexOf('etc/sub')).toBe(order.indexOf('etc/empty') + 1); // etc/a, etc/a-link, etc/empty, etc/sub, etc/sub/b.log
    expect(order.indexOf('etc/sub/b.log')).toBe(order.indexOf('etc/sub') + 1);
  });
});
