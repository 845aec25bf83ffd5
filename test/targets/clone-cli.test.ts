// The image target through the real CLI: `domu-forge clone SRC --image ...` gives an fsck-clean,
// identical image; a run killed part-way (SIGTERM, SIGINT) or filling its image (ENOSPC) exits
// non-zero with one clear line and leaves no mount, loop device, half-made image or staging tree.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fsck, loopsUnder, makeRichTree, rsyncDiff, sh, sweep, tempDir, withImageMounted } from './helpers.js';

const cli = new URL('../../dist/cli/main.js', import.meta.url).pathname;
let work: string;
let src: string;
let bulk: string;
const mountPoints: string[] = [];

function run(args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, DOMU_FORGE_STATE_DIR: join(work, 'state') } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** What a run may leave in `work`: the sources and the state directory, nothing else. */
function leftovers(): string[] {
  return readdirSync(work).filter((n) => !['src', 'bulk', 'state'].includes(n));
}

function mountsOfLoops(loops: string[]): string[] {
  const text = readFileSync('/proc/self/mountinfo', 'latin1');
  return text.split('\n').filter((l) => loops.some((d) => l.includes(` ${d} `))).map((l) => l.split(' ')[4]!);
}

beforeAll(() => {
  work = tempDir('clone-cli');
  src = join(work, 'src');
  mkdirSync(src);
  makeRichTree(src);
  // clone leaves sockets out by design (they are recreated by whatever listens on them)
  sh(`rm '${src}/sock1'`);
  // many files, so that a run is still writing when it is killed
  bulk = join(work, 'bulk');
  for (let d = 0; d < 40; d++) {
    mkdirSync(join(bulk, `d${d}`), { recursive: true });
    for (let f = 0; f < 200; f++) writeFileSync(join(bulk, `d${d}`, `f${f}`), Buffer.alloc(8192 + f * 64, d));
  }
});

afterAll(() => sweep(work, mountPoints));

describe('clone --image through the CLI (root, loop)', () => {
  it('makes an fsck-clean image identical to the source, sized from the tree (printed), with a --json summary', async () => {
    const image = join(work, 'dom0.img');
    const r = run(['clone', src, '--image', image, '--label', 'dom0', '--no-default-excludes']);
    expect(r.stderr).toMatch(/image size \d+ MiB \(.* of data plus headroom\)/);
    expect(r.status).toBe(0);
    expect(fsck(image, 'ext4').status).toBe(0);
    // the standard check; the target itself keeps nanoseconds (image.test.ts), the engine keeps microseconds
    await withImageMounted(image, (root) => expect(rsyncDiff(src, root, false)).toBe(''), 'ext4');
    const j = run(['clone', src, '--image', image, '--force', '--fs', 'xfs', '--size', '300M', '--no-default-excludes', '--json']);
    expect(j.status).toBe(0);
    const out = JSON.parse(j.stdout) as { targetInfo: Record<string, unknown> };
    expect(out.targetInfo).toMatchObject({ kind: 'image', path: image, fs: 'xfs', size: 300 * 1024 * 1024, sizeEstimated: false });
    expect(fsck(image, 'xfs').status).toBe(0);
    await withImageMounted(image, (root) => expect(rsyncDiff(src, root, false, true)).toBe(''), 'xfs');
    sh(`rm -f '${image}'`);
  });

  it('refuses to overwrite an existing image without --force (exit 2), keeping it', () => {
    const image = join(work, 'taken.img');
    writeFileSync(image, 'keep');
    const r = run(['clone', src, '--image', image, '--size', '32M', '--no-default-excludes']);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`domu-forge: ${image} exists; add --force to replace it\n`);
    expect(readFileSync(image, 'latin1')).toBe('keep');
    sh(`rm -f '${image}'`);
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`killed with ${signal} mid-populate: exit 130, nothing left behind`, async () => {
      const image = join(work, `killed-${signal}.qcow2`);
      const child = spawn(process.execPath, [cli, 'clone', bulk, '--image', image, '--size', '256M', '--no-default-excludes', '--workers', '1', '--quiet'], {
        stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DOMU_FORGE_STATE_DIR: join(work, 'state') },
      });
      let stderr = '';
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      let exited = false;
      child.on('exit', () => (exited = true));
      // wait until the image is mounted and the tree is being written into it
      let root: string | undefined;
      for (let i = 0; i < 1000 && !exited; i++) {
        const loops = loopsUnder(work);
        const m = mountsOfLoops(loops)[0];
        if (m) {
          mountPoints.push(m);
          const has = existsSync(m) ? readdirSync(m).length : 0;
          if (has >= 2) {
            root = m;
            break;
          }
        }
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(root, `the run ended before it was seen writing: ${stderr}`).toBeDefined();
      child.kill(signal);
      const [status] = (await once(child, 'exit')) as [number | null];
      expect(status, stderr).toBe(130);
      expect(stderr.trim().split('\n').filter((l) => !/^domu-forge: (interrupted|.*interrupted)/.test(l) && l.trim() && !l.startsWith('image size') && !l.startsWith('making ') && !l.startsWith('hint:'))).toEqual([]);
      expect(mountsOfLoops(loopsUnder(work))).toEqual([]);
      expect(readFileSync('/proc/self/mountinfo', 'latin1')).not.toContain(` ${root} `);
      expect(existsSync(root!)).toBe(false);
      expect(loopsUnder(work)).toEqual([]);
      expect(leftovers()).toEqual([]);
    });
  }

  it('a full image mid-copy (ENOSPC): one clear line, a hint, exit 3, nothing left behind', () => {
    const image = join(work, 'tiny.img');
    const r = run(['clone', bulk, '--image', image, '--size', '8M', '--no-default-excludes', '--quiet']);
    expect(r.status).toBe(3);
    expect(r.stderr).toContain(`domu-forge: image ${image} is full: the tree needs more than its 8 MiB\n`);
    expect(r.stderr).toContain('hint: give a larger --size, or leave --size out to have it worked out from the tree\n');
    expect(loopsUnder(work)).toEqual([]);
    expect(leftovers()).toEqual([]);
  });
});
