// openTarget's directory and tarball targets (the image, volume and device ones have their own files).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CleanupStack } from '../../src/cleanup.js';
import { describeTarget, openTarget } from '../../src/targets/index.js';
import { makeRichTree, sweep, tempDir } from './helpers.js';

let work: string;
let src: string;

beforeAll(() => {
  work = tempDir('index');
  src = join(work, 'src');
  mkdirSync(src);
  makeRichTree(src);
  // tarballs leave sockets out
  execFileSync('rm', [join(src, 'sock1')]);
});
afterAll(() => sweep(work));

describe('directory and tarball targets', () => {
  it('a directory target is made if missing, and refused if it is a file', async () => {
    const cleanup = new CleanupStack();
    const dir = join(work, 'out', 'dom0');
    const opened = await openTarget({ kind: 'dir', path: dir }, { cleanup });
    expect(opened.root).toBe(dir);
    expect(statSync(dir).isDirectory()).toBe(true);
    expect(await opened.close()).toEqual({ kind: 'dir', path: dir });
    const file = join(work, 'a-file');
    writeFileSync(file, '');
    await expect(openTarget({ kind: 'dir', path: file }, { cleanup })).rejects.toThrow(`${file} exists and is not a directory`);
    expect(cleanup.size).toBe(0);
  });

  it('a tarball target stages the tree beside the file and writes it on close; GNU tar extracts it identical', async () => {
    const cleanup = new CleanupStack();
    const file = join(work, 'rootfs.tar.gz');
    const spec = { kind: 'tar', path: file, compression: 'gzip' } as const;
    expect(describeTarget(spec)).toBe(`tarball ${file}`);
    const opened = await openTarget(spec, { cleanup });
    expect(opened.root.startsWith(join(work, '.rootfs.tar.gz.domu-forge-staging-'))).toBe(true);
    execFileSync('cp', ['-a', `${src}/.`, opened.root]);
    const summary = await opened.close();
    expect(summary).toMatchObject({ kind: 'tar', path: file, compression: 'gzip' });
    expect(cleanup.size).toBe(0);
    expect(existsSync(opened.root)).toBe(false);
    const out = join(work, 'extracted');
    mkdirSync(out);
    execFileSync('tar', ['-xpzf', file, '-C', out, '--numeric-owner', '--xattrs', '--xattrs-include=*', '--acls']);
    // -A left out: GNU tar restores ACLs only from SCHILY.acl.* records, and tar-out writes them as
    // SCHILY.xattr.system.posix_acl_* (reported to the tar writer's owner); everything else must match
    const r = spawnSync('rsync', ['-aHXc', '--numeric-ids', '--dry-run', '--itemize-changes', '--modify-window=-1', `${src}/`, `${out}/`], { encoding: 'latin1' });
    expect(r.stdout).toBe('');
    expect(readdirSync(work).filter((n) => n.includes('domu-forge'))).toEqual([]);
    await expect(openTarget(spec, { cleanup })).rejects.toThrow(`${file} exists; add --force to replace it`);
  });
});
