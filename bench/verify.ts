// verify side by side with rsync's checksum dry run on the same pair of trees (a tree and its
// clone), warm cache, in one run: interleaved rounds (the order alternates from round to round, so
// a slow spell of the shared host hits both alike), medians, and the ratio verify / rsync.
//
//   npm run bench -- verify [--tree share|usr|small|PATH] [--runs N] [--no-xattrs]
//
// share (default): a copy of /usr/share (about 700 MiB, 56,000 entries here); usr: of /usr;
// small: 100,000 files of 0-8 KiB. The clone is made once with `domu-forge clone` beside the tree
// and checked identical by both tools before the timing starts.
//
// Environment: BENCH_DIR (default /var/tmp/domu-forge-bench) holds the trees.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { availableParallelism, loadavg } from 'node:os';
import { benchDir } from './lib/fresh-fs.js';
import { smallFilesTree, usrTree } from './lib/trees.js';
import { median } from '../src/bench/strategy-bench.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(repo, 'dist', 'cli', 'main.js');
const RSYNC = ['-aHAXc', '--numeric-ids', '--dry-run', '--itemize-changes'];

function copyOnce(from: string, name: string): string {
  const dir = join(benchDir(), name);
  if (!existsSync(join(dir, '.complete'))) {
    execFileSync('rm', ['-rf', dir, `${dir}.part`]);
    execFileSync('cp', ['-a', from, `${dir}.part`]);
    writeFileSync(join(`${dir}.part`, '.complete'), '');
    renameSync(`${dir}.part`, dir);
  }
  return dir;
}

function cloneOnce(src: string): string {
  const dst = `${src}.clone`;
  if (!existsSync(`${dst}.complete`)) {
    execFileSync('rm', ['-rf', dst]);
    execFileSync('node', [cli, 'clone', '--no-default-excludes', '--quiet', src, dst], { stdio: ['ignore', 'ignore', 'inherit'] });
    writeFileSync(`${dst}.complete`, '');
  }
  return dst;
}

/** Wall seconds of one run, and its output (which must show the trees identical). */
function timed(cmd: string, args: string[]): { s: number; out: string; status: number } {
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28 });
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  return { s, out: `${r.stdout}${r.stderr}`, status: r.status ?? 128 };
}

export async function benchVerify(argv: string[]): Promise<void> {
  let tree = 'share';
  let runs = 5;
  let xattrs = true;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--tree') tree = argv[++i] ?? tree;
    else if (argv[i] === '--runs') runs = Number(argv[++i]);
    else if (argv[i] === '--no-xattrs') xattrs = false;
  }
  const src = tree === 'share' ? copyOnce('/usr/share', 'usr-share') : tree === 'usr' ? usrTree() : tree === 'small' ? smallFilesTree() : tree;
  const dst = cloneOnce(src);
  const tools: Record<string, [string, string[]]> = {
    'domu-forge verify': ['node', [cli, 'verify', '--no-default-excludes', ...(xattrs ? [] : ['--no-xattrs']), src, dst]],
    'rsync -c dry run': ['rsync', [...(xattrs ? RSYNC : RSYNC.map((f) => f.replace('AX', ''))), `${src}/`, `${dst}/`]],
  };
  const names = Object.keys(tools);
  // warm the cache and check that both see the clone identical: a benchmark of a failing run means nothing
  for (const n of names) {
    const r = timed(...tools[n]!);
    const identical = n.startsWith('rsync') ? r.status === 0 && r.out.trim() === '' : r.status === 0;
    if (!identical) throw new Error(`${n} does not find ${dst} identical to ${src}:\n${r.out.slice(0, 2000)}`);
  }
  const samples = new Map<string, number[]>(names.map((n) => [n, []]));
  const loads: number[] = [];
  for (let round = 0; round < runs; round++) {
    const order = round % 2 === 0 ? names : [...names].reverse();
    for (const n of order) {
      loads.push(loadavg()[0]!);
      const r = timed(...tools[n]!);
      if (r.status !== 0) throw new Error(`${n} failed: ${r.out.slice(0, 2000)}`);
      samples.get(n)!.push(r.s);
      process.stderr.write(`round ${round + 1}/${runs}: ${n} ${r.s.toFixed(2)} s\n`);
    }
  }
  const med = (n: string) => median(samples.get(n)!);
  const peer = names[1]!;
  console.log(`\nverify benchmark: ${src} against its clone ${dst}, warm cache, ${runs} interleaved rounds, ` +
    `${availableParallelism()} cores, load average during the runs ${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)}${xattrs ? '' : ', without xattrs'}`);
  console.log(`${'tool'.padEnd(22)} ${'median s'.padStart(9)} ${`vs ${peer}`.padStart(20)}`);
  for (const n of names) console.log(`${n.padEnd(22)} ${med(n).toFixed(2).padStart(9)} ${(med(n) / med(peer)).toFixed(2).padStart(20)}`);
  const pairs = samples.get(names[0]!)!.map((s, i) => s / samples.get(peer)![i]!);
  console.log(`ratio per round: ${pairs.map((r) => r.toFixed(2)).join(' ')} (median ${median(pairs).toFixed(2)})`);
  console.log(`runs (s): ${names.map((n) => `${n}: ${samples.get(n)!.map((s) => s.toFixed(2)).join(' ')}`).join('; ')}`);
}
