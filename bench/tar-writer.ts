// The rootfs tarball writer side by side with GNU tar on the same tree, warm cache, in one run.
// Both write an archive file of the same format (pax, xattrs, ACLs, numeric owners) beside the
// tree; prints the median wall times and the ratio writeTarball / GNU tar.
//
//   npm run bench -- tar-writer [--tree PATH] [--runs N] [--compress none|gzip|xz|zstd] [--extract]
//
// --extract also compares extractTarball with GNU tar -x on GNU tar's archive of the tree (each run
// into a new directory beside the tree, removed afterwards).
//
// Default tree: a copy of /usr/share (about 800 MiB, 56,000 entries here), made once under BENCH_DIR.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Bench } from 'tinybench';
import { writeTarball } from '../src/tar/index.js';
import { extractTarball } from '../src/tar/index.js';
import type { TarCompression } from '../src/tar/index.js';
import { benchDir } from './lib/fresh-fs.js';

function usrShareTree(): string {
  const dir = join(benchDir(), 'usr-share');
  if (!existsSync(join(dir, '.complete'))) {
    execFileSync('rm', ['-rf', dir, `${dir}.part`]);
    execFileSync('cp', ['-a', '/usr/share', `${dir}.part`]);
    renameSync(`${dir}.part`, dir);
    writeFileSync(join(dir, '.complete'), '');
  }
  return dir;
}

const GNU_FLAG: Record<TarCompression, string[]> = { none: [], gzip: ['-z'], xz: ['-J'], zstd: ['--zstd'] };

export async function benchTarWriter(argv: string[]): Promise<void> {
  let tree: string | undefined;
  let runs = 3;
  let compression: TarCompression = 'none';
  let extract = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--tree') tree = argv[++i];
    else if (argv[i] === '--runs') runs = Number(argv[++i]);
    else if (argv[i] === '--compress') compression = argv[++i] as TarCompression;
    else if (argv[i] === '--extract') extract = true;
  }
  const src = tree ?? usrShareTree();
  const out = join(benchDir(), 'bench-out.tar');
  const bench = new Bench({ iterations: runs, time: 0, warmup: false });
  const clean = { afterEach: () => rmSync(out, { force: true }) };
  bench.add('writeTarball', async () => {
    await writeTarball(src, out, { compression });
  }, clean);
  bench.add('GNU tar', () => {
    // the same content: pax format, all xattrs (ACLs among them), numeric owners
    const r = spawnSync('tar', ['--format=pax', '--xattrs', '--xattrs-include=*', '--acls', '--numeric-owner', ...GNU_FLAG[compression], '-cf', out, '-C', src, '.'], { encoding: 'utf8' });
    if (r.status !== 0 && r.status !== 1) throw new Error(`tar failed: ${r.stderr}`);
  }, clean);
  const archive = join(benchDir(), 'bench-in.tar');
  const into = join(benchDir(), 'bench-extract');
  if (extract) {
    execFileSync('tar', ['--format=pax', '--xattrs', '--xattrs-include=*', '--acls', '--numeric-owner', ...GNU_FLAG[compression], '-cf', archive, '-C', src, '.'], { stdio: 'ignore' });
    const fresh = { afterEach: () => rmSync(into, { recursive: true, force: true }) };
    bench.add('extractTarball', async () => {
      await extractTarball(archive, into, { trusted: true });
    }, fresh);
    bench.add('GNU tar -x', () => {
      execFileSync('mkdir', ['-p', into]);
      execFileSync('tar', ['--xattrs', '--xattrs-include=*', '--numeric-owner', '-xpf', archive, '-C', into]);
    }, fresh);
  }
  spawnSync('sh', ['-c', `tar -C '${src}' -cf - . | cat >/dev/null`]); // warm the cache once
  await bench.run();
  const med = (name: string) => {
    const t = bench.tasks.find((x) => x.name === name);
    return ((t?.result as { latency?: { p50: number } } | undefined)?.latency?.p50 ?? NaN) / 1000;
  };
  const du = spawnSync('du', ['-sh', src], { encoding: 'utf8' }).stdout.split('\t')[0];
  const ours = med('writeTarball');
  const gnu = med('GNU tar');
  console.log(`\ntar writer benchmark: tree ${src} (${du}), compression ${compression}, warm cache, ${runs} runs`);
  console.log(`  writeTarball  ${ours.toFixed(2)} s`);
  console.log(`  GNU tar       ${gnu.toFixed(2)} s`);
  console.log(`  ratio writeTarball / GNU tar: ${(ours / gnu).toFixed(2)}`);
  if (extract) {
    const x = med('extractTarball');
    const gx = med('GNU tar -x');
    console.log(`  extractTarball ${x.toFixed(2)} s (both passes)`);
    console.log(`  GNU tar -x     ${gx.toFixed(2)} s`);
    console.log(`  ratio extractTarball / GNU tar -x: ${(x / gx).toFixed(2)}`);
    rmSync(archive, { force: true });
  }
}
