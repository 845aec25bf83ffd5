// The clone engine side by side with the tar pipe, cp -a and rsync, in one run, each copy into a
// freshly made ext4 on a loop file. Prints median wall times and the engine's ratio to each peer.
//
//   npm run bench -- clone [--tree usr|small|small4k|PATH] [--cold] [--runs N] [--workers 2,4,8] [--batch 256]
//                          [--io sync,async:64] [--uv 4,16] [--readahead 0,2] [--peers tar,cp,rsync,cp-attrs | --no-peers] [--dio] [--writeback]
//                          [--baseline NAME=PATH/dist/cli/main.js]
// --baseline adds another build of the engine (e.g. main's, to compare a branch against) to the rounds.
// The cp-attrs peer (`cp -a --attributes-only`) makes every entry with its metadata but no content:
// the floor of how fast the entries alone can be made.
// --dio attaches each fresh filesystem's loop device with direct I/O, as the image targets do.
//
// The runs are interleaved: each round times every tool once, in an order that rotates from round
// to round, so a slow spell of the shared host hits all tools alike. Before each run the disk is
// synced and left to go quiet (not timed). During the benchmark the kernel's dirty-page limits are
// raised (restored at exit) so a run's writes are not throttled to the host disk's speed, which
// varies between runs here; --writeback keeps the machine's own limits.
//
// Environment: BENCH_DIR (default /var/tmp/domu-forge-bench) holds the trees and loop files.

import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { Bench } from 'tinybench';
import { benchDir, dropCaches, holdWriteback, makeFreshFs, settle, type FreshFs } from './lib/fresh-fs.js';
import { smallFilesTree, usrTree } from './lib/trees.js';
import { median } from '../src/bench/strategy-bench.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(repo, 'dist', 'cli', 'main.js');
const TAR_META = '--numeric-owner --xattrs --xattrs-include=\'*\' --acls';

interface Args { tree: string; cold: boolean; runs: number; workers: number[]; batch: number[]; peers: string[]; uv: number[]; io: string[]; ra: number[]; dio: boolean; writeback: boolean; baselines: Array<[string, string]> }

function parseArgs(argv: string[]): Args {
  const a: Args = { tree: 'usr', cold: false, runs: 3, workers: [4], batch: [256], peers: ['tar', 'cp', 'rsync'], uv: [4], io: ['sync'], ra: [0], dio: false, writeback: false, baselines: [] };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = argv[i + 1] ?? '';
    if (k === '--tree') (a.tree = v), i++;
    else if (k === '--cold') a.cold = true;
    else if (k === '--runs') (a.runs = Number(v)), i++;
    else if (k === '--workers') (a.workers = v.split(',').map(Number)), i++;
    else if (k === '--batch') (a.batch = v.split(',').map(Number)), i++;
    else if (k === '--uv') (a.uv = v.split(',').map(Number)), i++;
    else if (k === '--io') (a.io = v.split(',')), i++;
    else if (k === '--readahead') (a.ra = v.split(',').map(Number)), i++;
    else if (k === '--no-peers') a.peers = [];
    else if (k === '--peers') (a.peers = v.split(',').filter(Boolean)), i++;
    else if (k === '--dio') a.dio = true;
    else if (k === '--writeback') a.writeback = true;
    else if (k === '--baseline') {
      const eq = v.indexOf('=');
      if (eq <= 0) throw new Error('--baseline takes NAME=PATH (the main.js of another build)');
      a.baselines.push([v.slice(0, eq), v.slice(eq + 1)]);
      i++;
    }
  }
  return a;
}

/** Run a shell command; returns its peak RSS in KiB and its CPU seconds, user + system, children included (GNU time). */
function sh(cmd: string, env: NodeJS.ProcessEnv = process.env): { rss: number; cpu: number } {
  const r = spawnSync('/usr/bin/time', ['-f', '%M %U %S', 'sh', '-c', cmd], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  const [rss, user, sys] = lines[lines.length - 1]!.split(' ').map(Number) as [number, number, number];
  return { rss, cpu: user + sys };
}

export async function benchClone(argv: string[]): Promise<void> {
  const args = parseArgs(argv);
  const src = args.tree === 'usr' ? usrTree() : args.tree === 'small' ? smallFilesTree() : args.tree === 'small4k' ? smallFilesTree(100_000, 4096) : args.tree;
  const du = spawnSync('du', ['-s', '--block-size=1G', src], { encoding: 'utf8' }).stdout.split('\t')[0];
  // Room to spare: when its free space falls under twice the dirty data, ext4 forces writeback and
  // then stops delaying allocation, which made a 6 GiB copy into an 11 GiB filesystem three times
  // slower than into a 12 GiB one. The loop file is sparse, so the headroom costs nothing.
  const sizeGiB = Math.max(8, Math.ceil(Number(du) * 3) + 4);
  let fs: FreshFs | undefined;
  const peakRss = new Map<string, number>();
  const samples = new Map<string, number[]>();
  const cpuSamples = new Map<string, number[]>();
  // async: false, or tinybench calls each task once at add() time to find out
  const hooks = {
    async: false,
    beforeEach() {
      fs = makeFreshFs(sizeGiB, 'ext4', args.dio);
      settle();
      if (args.cold) dropCaches();
    },
    afterEach() {
      fs?.dispose();
      fs = undefined;
    },
  };
  const tasks: Array<{ name: string; fn: () => void }> = [];
  const add = (name: string, cmd: () => string, env?: NodeJS.ProcessEnv) =>
    tasks.push({ name, fn: () => {
      const { rss, cpu } = sh(cmd(), env);
      peakRss.set(name, Math.max(peakRss.get(name) ?? 0, rss));
      cpuSamples.set(name, [...(cpuSamples.get(name) ?? []), cpu]);
    } });
  for (const w of args.workers) {
    for (const b of args.batch) {
      for (const io of args.io) {
        for (const uv of io === 'sync' ? [args.uv[0]!] : args.uv) for (const ra of args.ra) {
          for (const [label, main] of [['domu-forge', cli], ...args.baselines.map(([n, p]) => [`domu-forge ${n}`, p] as const)] as const) {
            add(`${label} w=${w} b=${b}${io === 'sync' ? '' : ` ${io} uv=${uv}`}${ra ? ` ra=${ra}` : ''}`,
              () => `node ${main} clone --no-default-excludes --quiet --workers ${w} --batch-size ${b} --io ${io} ${src} ${fs!.mountpoint}/t >/dev/null`,
              { ...process.env, UV_THREADPOOL_SIZE: String(uv), DOMU_FORGE_READAHEAD: String(ra), DOMU_FORGE_STATE_DIR: join(benchDir(), 'state') });
          }
        }
      }
    }
  }
  const PEERS: Record<string, [string, () => string]> = {
    tar: ['tar pipe', () => `mkdir ${fs!.mountpoint}/t && tar -C ${src} ${TAR_META} -cf - . | tar -C ${fs!.mountpoint}/t ${TAR_META} -xpf -`],
    cp: ['cp -a', () => `cp -a ${src} ${fs!.mountpoint}/t`],
    rsync: ['rsync', () => `rsync -aHAX --numeric-ids ${src}/ ${fs!.mountpoint}/t/`],
    'cp-attrs': ['cp -a --attributes-only', () => `cp -a --attributes-only ${src} ${fs!.mountpoint}/t`],
  };
  for (const p of args.peers) {
    const peer = PEERS[p];
    if (!peer) throw new Error(`unknown peer ${p}; known: ${Object.keys(PEERS).join(', ')}`);
    add(peer[0], peer[1]);
  }
  const restoreWriteback = args.writeback ? () => undefined : holdWriteback();
  if (!args.cold) sh(`tar -C ${src} -cf - . | cat >/dev/null`); // warm the cache once
  const loadBefore = loadavg().map((l) => l.toFixed(2)).join(' ');
  for (let round = 0; round < args.runs; round++) {
    // tinybench times one run of each tool per round; the order rotates between rounds
    const bench = new Bench({ iterations: 1, time: 0, warmup: false });
    for (let i = 0; i < tasks.length; i++) {
      const t = tasks[(i + round) % tasks.length]!;
      bench.add(t.name, t.fn, hooks);
    }
    await bench.run();
    for (const t of bench.tasks) {
      const ms = (t.result as { latency?: { mean: number } } | undefined)?.latency?.mean ?? NaN;
      samples.set(t.name, [...(samples.get(t.name) ?? []), ms]);
      process.stderr.write(`round ${round + 1}/${args.runs}: ${t.name} ${(ms / 1000).toFixed(2)} s\n`);
    }
  }
  restoreWriteback();
  const med = (name: string) => median(samples.get(name) ?? [NaN]);
  const peers = args.peers.map((p) => PEERS[p]![0]);
  console.log(`\nclone benchmark: tree ${src} (${args.tree}), ${args.cold ? 'cold' : 'warm'} cache, ${args.runs} interleaved rounds, fresh ext4 each run${args.dio ? ' (loop with direct I/O)' : ''}${args.writeback ? '' : ', writeback held off during runs'}`);
  console.log(`load average ${loadBefore} before, ${loadavg().map((l) => l.toFixed(2)).join(' ')} after`);
  const cpuMed = (name: string) => median(cpuSamples.get(name) ?? [NaN]);
  console.log(['tool'.padEnd(34), 'median s'.padStart(9), 'CPU s'.padStart(7), 'peak RSS'.padStart(10), ...peers.flatMap((p) => [`vs ${p}`.padStart(12), 'CPU vs'.padStart(7)])].join(' '));
  for (const t of tasks) {
    const m = med(t.name) / 1000;
    const row = [t.name.padEnd(34), m.toFixed(2).padStart(9), cpuMed(t.name).toFixed(2).padStart(7), `${((peakRss.get(t.name) ?? 0) / 1024).toFixed(0)} MiB`.padStart(10)];
    for (const p of peers) row.push((med(t.name) / med(p)).toFixed(2).padStart(12), (cpuMed(t.name) / cpuMed(p)).toFixed(2).padStart(7));
    console.log(row.join(' '));
  }
  console.log(`runs (s): ${tasks.map((t) => `${t.name}: ${(samples.get(t.name) ?? []).map((ms) => (ms / 1000).toFixed(2)).join(' ')}`).join('; ')}`);
  console.log(`CPU, user + sys (s): ${tasks.map((t) => `${t.name}: ${(cpuSamples.get(t.name) ?? []).map((c) => c.toFixed(2)).join(' ')}`).join('; ')}`);
}
