// v7 archives (no ustar magic): GNU tar's --format=v7 and bsdtar's, extracted as GNU tar does (root).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { rsyncDiff, scratchDir } from '../helpers/run.js';
import { compareWithGnuTar, makeCorpusTree } from './tar-corpus.js';

const scratch = scratchDir('tar-v7');
const src = join(scratch.dir, 'src');
afterAll(() => scratch.cleanup());
beforeAll(() => makeCorpusTree(src));

describe('v7 archives (root)', () => {
  it('GNU tar --format=v7', () => {
    const archive = join(scratch.dir, 'gnu-v7.tar');
    execFileSync('tar', ['--format=v7', '--numeric-owner', '-cf', archive, '-C', src, '.']);
    expect(execFileSync('sh', ['-c', 'dd if="$1" bs=1 skip=257 count=5 status=none | od -An -c', 'sh', archive], { encoding: 'utf8' })).not.toMatch(/u +s +t +a +r/);
    const r = compareWithGnuTar(archive, join(scratch.dir, 'w-gnu'));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.diff).toBe('');
  });

  it('bsdtar --format=v7', () => {
    const archive = join(scratch.dir, 'bsd-v7.tar');
    execFileSync('bsdtar', ['--format', 'v7', '--numeric-owner', '-cf', archive, '-C', src, '.']);
    const r = compareWithGnuTar(archive, join(scratch.dir, 'w-bsd'));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    // bsdtar's v7 output is not in directory order (etc/hostname after usr/): GNU tar sets a directory's
    // time when the archive leaves it, so a later entry inside gives it the extraction time; unpack sets
    // every directory's time last and keeps the archive's (the source's) time. Only those lines differ.
    expect(r.diff.trim().split('\n').sort()).toEqual(['.d..t...... etc/', '.d..t...... usr/']);
    expect(rsyncDiff(src, join(scratch.dir, 'w-bsd', 'ours'), ['--no-X', '--no-A', '--no-H', '--exclude', '/usr/hostname-link', '--exclude', '/usr/bin/tool-link'])).toBe('');
  });
});
