// Image populate paths side by side in one run: loop-mount the fresh image and clone into it,
// against clone into a staging tree and `mke2fs -d`. Each run makes a new image of the same size
// from the same source tree (the clone engine's cloneTree), closes it, and deletes it.
// Prints median wall times and the ratio.
//
//   npm run bench -- image-populate [--tree PATH] [--runs N] [--size 2G] [--fs ext4]
//
// Environment: BENCH_DIR (default /var/tmp/domu-forge-bench) holds the tree and the images.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Bench } from 'tinybench';
import { CleanupStack } from '../src/cleanup.js';
import { cloneTree } from '../src/copy/clone.js';
import { openTarget, type FsType } from '../src/targets/index.js';
import { parseSize, formatSize } from '../src/targets/size.js';
import { benchDir } from './lib/fresh-fs.js';

interface Args { tree?: string; runs: number; size: number; fs: FsType }

function parseArgs(argv: string[]): Args {
  const a: Args = { runs: 3, size: parseSize('2G'), fs: 'ext4' };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = argv[i + 1] ?? '';
    if (k === '--tree') (a.tree = v), i++;
    else if (k === '--runs') (a.runs = Number(v)), i++;
    else if (k === '--size') (a.size = parseSize(v)), i++;
    else if (k === '--fs') (a.fs = v as FsType), i++;
  }
  return a;
}

/** A few hundred MiB of a real system: /usr/share/doc (many small files), /usr/include, /usr/lib/gcc (big ones). */
function mixedTree(): string {
  const dir = join(benchDir(), 'image-src');
  if (!existsSync(join(dir, '.complete'))) {
    execFileSync('rm', ['-rf', dir, `${dir}.part`]);
    mkdirSync(`${dir}.part`);
    for (const p of ['/usr/share/doc', '/usr/include', '/usr/lib/gcc']) {
      if (existsSync(p)) execFileSync('cp', ['-a', p, `${dir}.part/`]);
    }
    renameSync(`${dir}.part`, dir);
    writeFileSync(join(dir, '.complete'), '');
  }
  return dir;
}

export async function benchImagePopulate(argv: string[]): Promise<void> {
  const args = parseArgs(argv);
  const src = args.tree ?? mixedTree();
  const work = join(benchDir(), 'images');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  process.env.DOMU_FORGE_STATE_DIR = join(work, 'state');
  const du = spawnSync('du', ['-sh', src], { encoding: 'utf8' }).stdout.split('\t')[0];
  const files = spawnSync('sh', ['-c', `find '${src}' | wc -l`], { encoding: 'utf8' }).stdout.trim();
  console.log(`source ${src}: ${du}, ${files} entries; ${args.fs} images of ${formatSize(args.size)}, ${args.runs} runs each`);

  let n = 0;
  const populate = async (how: 'mount' | 'mkfs-d') => {
    const cleanup = new CleanupStack();
    const path = join(work, `run-${n++}.img`);
    try {
      const t = await openTarget({ kind: 'image', path, fs: args.fs, size: args.size, format: 'raw', populate: how }, { cleanup });
      const s = await cloneTree({ source: src, target: t.root, defaultExcludes: false, resumeKey: path });
      if (s.errors.length > 0) throw new Error(`clone errors: ${s.errors[0]!.path}: ${s.errors[0]!.message}`);
      await t.close();
    } finally {
      await cleanup.runAll();
      rmSync(path, { force: true });
    }
  };
  const bench = new Bench({ iterations: args.runs, time: 0, warmup: false });
  bench.add('mount (loop mount + clone)', () => populate('mount'));
  bench.add('mkfs-d (clone to staging + mke2fs -d)', () => populate('mkfs-d'));
  await bench.run();

  const medians = bench.tasks.map((t) => {
    const r = t.result as { latency?: { p50?: number } } | undefined;
    return { name: t.name, ms: r?.latency?.p50 ?? NaN };
  });
  for (const m of medians) console.log(`${m.name.padEnd(40)} median ${(m.ms / 1000).toFixed(2)} s`);
  const [mount, mkfsd] = medians;
  if (mount && mkfsd) console.log(`mkfs-d / mount = ${(mkfsd.ms / mount.ms).toFixed(2)} (above 1: the mount path is faster)`);
  rmSync(work, { recursive: true, force: true });
}
