// verify side by side with rsync's checksum dry run on the same pair of trees (a tree and its
// clone), warm cache, in one run: interleaved rounds (the order alternates from round to round, so
// a slow spell of the shared host hits both alike), medians, and the ratio verify / rsync.
//
//   npm run bench -- verify [--tree share|usr|small|PATH] [--runs N] [--no-xattrs] [--baseline CLI]
//
// share (default): a copy of /usr/share (about 700 MiB, 56,000 entries here); usr: of /usr;
// small: 100,000 files of 0-8 KiB. The clone is made once with `domu-forge clone` beside the tree
// and checked identical by both tools before the timing starts. --baseline adds another build's
// dist/cli/main.js (say, main's) to the same interleaved rounds, for a before and after.
//
// Environment: BENCH_DIR (default /var/tmp/domu-forge-bench) holds the trees.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
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

const TIME = '/usr/bin/time';

/**
 * Wall seconds of one run, its CPU seconds (user + sys of the tool and its children, from
 * /usr/bin/time: on a shared host the wall time says how busy the host was, the CPU time what the
 * tool cost), and its output (which must show the trees identical).
 */
function timed(cmd: string, args: string[]): { s: number; cpu: number; out: string; status: number } {
  const cpuFile = join(benchDir(), `verify-cpu.${process.pid}`);
  const withTime = existsSync(TIME);
  const t = process.hrtime.bigint();
  const r = withTime
    ? spawnSync(TIME, ['-f', '%U %S', '-o', cpuFile, cmd, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 })
    : spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28 });
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  let cpu = Number.NaN;
  if (withTime && existsSync(cpuFile)) {
    const [u, sy] = readFileSync(cpuFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
    cpu = u! + sy!;
    rmSync(cpuFile, { force: true });
  }
  return { s, cpu, out: `${r.stdout}${r.stderr}`, status: r.status ?? 128 };
}

export async function benchVerify(argv: string[]): Promise<void> {
  let tree = 'share';
  let runs = 5;
  let xattrs = true;
  let baseline: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--tree') tree = argv[++i] ?? tree;
    else if (argv[i] === '--runs') runs = Number(argv[++i]);
    else if (argv[i] === '--no-xattrs') xattrs = false;
    else if (argv[i] === '--baseline') baseline = argv[++i];
  }
  const src = tree === 'share' ? copyOnce('/usr/share', 'usr-share') : tree === 'usr' ? usrTree() : tree === 'small' ? smallFilesTree() : tree;
  const dst = cloneOnce(src);
  const verifyArgs = ['verify', '--no-default-excludes', ...(xattrs ? [] : ['--no-xattrs']), src, dst];
  const tools: Record<string, [string, string[]]> = {
    'domu-forge verify': ['node', [cli, ...verifyArgs]],
    ...(baseline ? { 'baseline verify': ['node', [baseline, ...verifyArgs]] as [string, string[]] } : {}),
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
  const cpus = new Map<string, number[]>(names.map((n) => [n, []]));
  const loads: number[] = [];
  for (let round = 0; round < runs; round++) {
    const order = round % 2 === 0 ? names : [...names].reverse();
    for (const n of order) {
      loads.push(loadavg()[0]!);
      const r = timed(...tools[n]!);
      if (r.status !== 0) throw new Error(`${n} failed: ${r.out.slice(0, 2000)}`);
      samples.get(n)!.push(r.s);
      cpus.get(n)!.push(r.cpu);
      process.stderr.write(`round ${round + 1}/${runs}: ${n} ${r.s.toFixed(2)} s, CPU ${r.cpu.toFixed(2)} s\n`);
    }
  }
  const med = (n: string) => median(samples.get(n)!);
  const medCpu = (n: string) => median(cpus.get(n)!);
  const peer = names[names.length - 1]!;
  console.log(`\nverify benchmark: ${src} against its clone ${dst}, warm cache, ${runs} interleaved rounds, ` +
    `${availableParallelism()} cores, load average during the runs ${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)}${xattrs ? '' : ', without xattrs'}`);
  console.log(`${'tool'.padEnd(22)} ${'median s'.padStart(9)} ${`vs ${peer}`.padStart(20)} ${'CPU s'.padStart(7)} ${'CPU vs peer'.padStart(12)}`);
  for (const n of names) {
    console.log(`${n.padEnd(22)} ${med(n).toFixed(2).padStart(9)} ${(med(n) / med(peer)).toFixed(2).padStart(20)} ${medCpu(n).toFixed(2).padStart(7)} ${(medCpu(n) / medCpu(peer)).toFixed(2).padStart(12)}`);
  }
  for (const n of names.slice(0, -1)) {
    const pairs = samples.get(n)!.map((s, i) => s / samples.get(peer)![i]!);
    const cpuPairs = cpus.get(n)!.map((s, i) => s / cpus.get(peer)![i]!);
    console.log(`${n} / ${peer} per round: wall ${pairs.map((r) => r.toFixed(2)).join(' ')} (median ${median(pairs).toFixed(2)}); CPU ${cpuPairs.map((r) => r.toFixed(2)).join(' ')} (median ${median(cpuPairs).toFixed(2)})`);
  }
  console.log(`runs (s): ${names.map((n) => `${n}: ${samples.get(n)!.map((s) => s.toFixed(2)).join(' ')}`).join('; ')}`);
}
