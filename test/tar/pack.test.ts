// The tarball writer's own behaviour beyond the format (root): a tree that changes while it is being
// packed (GNU tar's "file changed as we read it"), a root whose name is not ASCII, ACLs as GNU tar
// --acls writes them (so plain `tar -xp --xattrs --acls` restores them), GNU tar's --compare, and the
// batched xattrs and reads on a tree larger than one batch.

import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, rmSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeTarball } from '../../src/tar/index.js';
import { rsyncDiff, runCli, scratchDir, sh } from '../helpers/run.js';
import { gnuTarExtract, nsTimes, paxRecordsOf } from './tar-helpers.js';

const scratch = scratchDir('pack');
afterAll(() => scratch.cleanup());

describe('a tree that changes while it is packed (root)', () => {
  const tree = join(scratch.dir, 'changing');
  // Entries are looked at (lstat) a batch ahead of being written, and the first progress report
  // comes before the first entry is written: what the callback changes was already looked at.
  const change = () => {
    appendFileSync(join(tree, 'grows-big'), 'more');
    appendFileSync(join(tree, 'grows-small'), 'more');
    truncateSync(join(tree, 'shrinks-big'), 50_000);
    truncateSync(join(tree, 'shrinks-small'), 3);
    writeFileSync(join(tree, 'rewritten'), 'HELLO');
    utimesSync(join(tree, 'rewritten'), 1_600_000_100, 1_600_000_100);
    rmSync(join(tree, 'vanishes'));
    rmSync(join(tree, 'z-vanishes'), { recursive: true });
  };

  it('lists each change as GNU tar warns of it, and still writes an archive GNU tar reads', async () => {
    mkdirSync(join(tree, 'a'), { recursive: true });
    // more entries than the batches looked at before writing starts, so z-vanishes is listed only later
    for (let i = 0; i < 1000; i++) writeFileSync(join(tree, 'a', `f${i}`), `${i}`);
    writeFileSync(join(tree, 'grows-big'), Buffer.alloc(200_000, 1));
    writeFileSync(join(tree, 'grows-small'), 'small');
    writeFileSync(join(tree, 'shrinks-big'), Buffer.alloc(200_000, 2));
    writeFileSync(join(tree, 'shrinks-small'), 'shrinking');
    writeFileSync(join(tree, 'rewritten'), 'hello');
    utimesSync(join(tree, 'rewritten'), 1_600_000_000, 1_600_000_000);
    writeFileSync(join(tree, 'vanishes'), 'bye');
    mkdirSync(join(tree, 'z-vanishes'));
    writeFileSync(join(tree, 'z-vanishes', 'inside'), 'x');

    let first = true;
    const archive = join(scratch.dir, 'changing.tar');
    const s = await writeTarball(tree, archive, {
      compression: 'none',
      onProgress: () => {
        if (first) change();
        first = false;
      },
    });
    expect(s.changed.sort((x, y) => x.path.localeCompare(y.path))).toEqual([
      { path: 'grows-big', reason: 'grew while being read (cut to its first size)' },
      { path: 'grows-small', reason: 'grew while being read (cut to its first size)' },
      { path: 'rewritten', reason: 'changed while being read' },
      { path: 'shrinks-big', reason: 'shrank while being read (padded with zeros)' },
      { path: 'shrinks-small', reason: 'shrank while being read (padded with zeros)' },
      { path: 'vanishes', reason: 'vanished while being read' },
      { path: 'z-vanishes', reason: 'directory vanished while being read' },
    ]);
    expect(s.skipped).toEqual([]);
    // sizes as they were looked at: cut, or padded with zeros
    const list = execFileSync('tar', ['-tvf', archive], { encoding: 'latin1' });
    const sizeOf = (name: string) => Number(list.split('\n').find((l) => l.endsWith(` ./${name}`))!.trim().split(/\s+/)[2]);
    expect([sizeOf('grows-big'), sizeOf('grows-small'), sizeOf('shrinks-big'), sizeOf('shrinks-small')]).toEqual([200_000, 5, 200_000, 9]);
    expect(list).not.toContain('./vanishes');
    expect(list).toContain('./z-vanishes/');
    const dst = join(scratch.dir, 'changing-out');
    gnuTarExtract(archive, dst);
    expect(execFileSync('cmp', ['-n', '50000', join(dst, 'shrinks-big'), join(tree, 'shrinks-big')]).length).toBe(0);
    expect(execFileSync('sh', ['-c', `tail -c 150000 '${join(dst, 'shrinks-big')}' | tr -d '\\0' | wc -c`], { encoding: 'utf8' }).trim()).toBe('0');
    expect(execFileSync('head', ['-c', '3', join(dst, 'grows-small')], { encoding: 'utf8' })).toBe('sma');
  });

  it('domu-forge pack exits 24 and names a file that shrank (a sysfs file: 4096 bytes by stat, shorter when read)', () => {
    const t = join(scratch.dir, 'sysfs');
    mkdirSync(t);
    writeFileSync(join(t, 'cpus'), '');
    sh(`mount --bind /sys/devices/system/cpu/online '${join(t, 'cpus')}'`);
    try {
      const r = runCli(['pack', '--quiet', t, join(scratch.dir, 'sysfs.tar')]);
      expect(r.status).toBe(24);
      expect(r.stdout).toContain('changed during the run: cpus: shrank while being read (padded with zeros)');
    } finally {
      sh(`umount '${join(t, 'cpus')}'`);
    }
  });
});

describe('a root whose name is not ASCII (root)', () => {
  it('is packed whole, and GNU tar extracts it identical', async () => {
    const tree = join(scratch.dir, 'wurzel-ä-€');
    mkdirSync(join(tree, 'd'), { recursive: true });
    writeFileSync(join(tree, 'd', 'f'), 'content');
    sh(`setfattr -n user.k -v 0x01 '${join(tree, 'd', 'f')}'`);
    const archive = join(scratch.dir, 'nonascii.tar');
    const s = await writeTarball(tree, archive, { compression: 'none' });
    expect([s.files, s.directories, s.withXattrs, s.changed.length]).toEqual([1, 2, 1, 0]);
    const dst = join(scratch.dir, 'nonascii-out');
    gnuTarExtract(archive, dst);
    expect(rsyncDiff(tree, dst)).toBe('');
  });
});

describe('ACLs as GNU tar --acls writes them (root)', () => {
  const tree = join(scratch.dir, 'acls');
  const archive = join(scratch.dir, 'acls.tar');
  const textRecords = async (file: string) =>
    (await paxRecordsOf(file)).map((r) => r.toString('latin1')).filter((r) => r.startsWith('SCHILY.acl.'));

  it('stores the same SCHILY.acl.access / .default text as GNU tar, and plain tar -xp --xattrs --acls restores them', async () => {
    mkdirSync(join(tree, 'only-default'), { recursive: true });
    mkdirSync(join(tree, 'only-access'));
    mkdirSync(join(tree, 'both'));
    writeFileSync(join(tree, 'file'), 'x');
    writeFileSync(join(tree, 'plain'), 'y');
    sh(`cd '${tree}' && setfacl -d -m u:4001:rx only-default && setfacl -m g:4002:rwx only-access && setfacl -m u:4003:r both && setfacl -d -m g:4004:r both && setfacl -m u:4005:rw,g:4006:r file && setfattr -n user.k -v 0x02 file`);
    await writeTarball(tree, archive, { compression: 'none' });
    const gnu = join(scratch.dir, 'acls-gnu.tar');
    execFileSync('tar', ['--format=posix', '--xattrs', '--acls', '-cf', gnu, '-C', tree, '.']);
    // the ids here have no names on the host, so GNU tar writes them as numbers too
    expect((await textRecords(archive)).sort()).toEqual((await textRecords(gnu)).sort());
    expect(await textRecords(archive)).toContain('SCHILY.acl.access=user::rw-\nuser:4005:rw-\ngroup::r--\ngroup:4006:r--\nmask::rw-\nother::r--\n');

    // without --xattrs-include GNU tar restores user.* xattrs only, and the ACLs from the text
    const dst = join(scratch.dir, 'acls-out');
    mkdirSync(dst);
    execFileSync('tar', ['-xp', '--xattrs', '--acls', '-f', archive, '-C', dst]);
    expect(rsyncDiff(tree, dst)).toBe('');
    expect(nsTimes(dst)).toEqual(nsTimes(tree));
  });

  it('is found equal to the tree by GNU tar --compare with xattrs and ACLs', () => {
    const r = spawnSync('tar', ['--xattrs', "--xattrs-include=*", '--acls', '--compare', '--numeric-owner', '-f', archive, '-C', tree], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});

describe('a tree of several batches, every entry with xattrs (root)', () => {
  it('keeps each entry its own xattrs and content, whichever batch and read path it went by', async () => {
    const tree = join(scratch.dir, 'many');
    mkdirSync(tree);
    // small files (read in the writer's thread) and large ones (read ahead on the thread pool), interleaved
    sh(`cd '${tree}' && for i in $(seq 1 3000); do mkdir -p d$((i % 7)); f=d$((i % 7))/f$i; if [ $((i % 10)) = 0 ]; then head -c $((70000 + i * 37)) /dev/urandom > $f; else echo $i > $f; fi; done`);
    const names = execFileSync('find', ['.', '-mindepth', '1'], { cwd: tree, encoding: 'utf8' }).trim().split('\n');
    execFileSync('setfattr', ['-h', '--restore=-'], { cwd: tree, input: names.map((n) => `# file: ${n}\nuser.name="${n}"\n\n`).join('') });
    for (const compression of ['none', 'gzip'] as const) {
      const archive = join(scratch.dir, `many-${compression}.tar`);
      const s = await writeTarball(tree, archive, { compression });
      expect(s.withXattrs).toBe(3007);
      const dst = join(scratch.dir, `many-${compression}`);
      gnuTarExtract(archive, dst, compression === 'gzip' ? ['-z'] : []);
      expect(rsyncDiff(tree, dst)).toBe('');
    }
  });
});
