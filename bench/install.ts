// Debian install paths side by side in one run: debootstrap against mmdebstrap, each with an empty
// cache (everything downloaded) and with a warm package cache, and an identical install from the
// root cache. Every run installs into a fresh directory that is removed afterwards. Prints median
// wall times and the ratios the install issue asks about.
//
//   npm run bench -- install [--runs N] [--suite bookworm] [--variant minbase] [--include a,b] [--mirror URL]
//
// Environment: BENCH_DIR (default /var/tmp/domu-forge-bench) holds the roots and the caches.

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Bench } from 'tinybench';
import { installDistribution, type DebianInstallOptions, type DebianVariant } from '../src/install/index.js';
import { benchDir } from './lib/fresh-fs.js';

interface Args {
  runs: number;
  suite: string;
  variant: DebianVariant;
  include: string[];
  mirror?: string;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { runs: 1, suite: 'bookworm', variant: 'minbase', include: ['ca-certificates'] };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = argv[i + 1] ?? '';
    if (k === '--runs') (a.runs = Number(v)), i++;
    else if (k === '--suite') (a.suite = v), i++;
    else if (k === '--variant') (a.variant = v as DebianVariant), i++;
    else if (k === '--include') (a.include = v.split(',').filter(Boolean)), i++;
    else if (k === '--mirror') (a.mirror = v), i++;
  }
  return a;
}

export async function benchInstall(argv: string[]): Promise<void> {
  const args = parseArgs(argv);
  const work = join(benchDir(), 'install');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const warmCache = join(work, 'warm-cache');
  const base: Omit<DebianInstallOptions, 'root' | 'tool'> = {
    distro: 'debian', suite: args.suite, variant: args.variant, include: args.include, ...(args.mirror ? { mirror: args.mirror } : {}),
  };
  let n = 0;
  const bytes: Record<string, number> = {};
  const install = async (name: string, tool: 'debootstrap' | 'mmdebstrap', cache: 'cold' | 'warm' | 'root') => {
    const root = join(work, `root-${n++}`);
    const cacheDir = cache === 'cold' ? mkdtempSync(join(work, 'cold-cache-')) : warmCache;
    try {
      const r = await installDistribution({ ...base, tool, root, cacheDir, rootCache: cache === 'root', logFile: join(work, `${name.replace(/\W+/g, '-')}.log`) });
      if (cache === 'root' && !r.fromRootCache) throw new Error('expected a root cache hit');
      bytes[name] = r.downloadedBytes;
    } finally {
      rmSync(root, { recursive: true, force: true });
      if (cache === 'cold') rmSync(cacheDir, { recursive: true, force: true });
    }
  };
  console.log(`${args.suite} ${args.variant} +${args.include.join(',') || 'nothing'}; ${args.runs} run(s) each; work in ${work}`);
  // warm the package cache with both tools, and prime the root cache
  for (const tool of ['debootstrap', 'mmdebstrap'] as const) {
    await installDistribution({ ...base, tool, root: join(work, `prime-${tool}`), cacheDir: warmCache, rootCache: tool === 'mmdebstrap', logFile: join(work, `prime-${tool}.log`) });
    rmSync(join(work, `prime-${tool}`), { recursive: true, force: true });
  }

  const tasks = [
    ['debootstrap, empty cache', 'debootstrap', 'cold'],
    ['debootstrap, warm package cache', 'debootstrap', 'warm'],
    ['mmdebstrap, empty cache', 'mmdebstrap', 'cold'],
    ['mmdebstrap, warm package cache', 'mmdebstrap', 'warm'],
    ['root cache (identical install)', 'mmdebstrap', 'root'],
  ] as const;
  // one Bench per task and per round, run strictly one after another (installs must not overlap),
  // rounds interleaved so that a busy spell on the machine hits every task alike
  const times: Record<string, number[]> = {};
  for (let round = 0; round < args.runs; round++) {
    for (const [name, tool, cache] of tasks) {
      const bench = new Bench({ iterations: 1, time: 0, warmup: false, warmupIterations: 0, warmupTime: 0 });
      // async: true, or tinybench calls the function once more to find out, overlapping two installs
      bench.add(name, () => install(name, tool, cache), { async: true });
      await bench.run();
      const r = bench.tasks[0]!.result as { latency?: { p50?: number }; error?: unknown } | undefined;
      if (r?.error) throw r.error;
      (times[name] ??= []).push(r?.latency?.p50 ?? NaN);
    }
  }
  const median: Record<string, number> = {};
  for (const [name] of tasks) {
    const sorted = [...times[name]!].sort((a, b) => a - b);
    median[name] = sorted[Math.floor(sorted.length / 2)]! / 1000;
    console.log(`${name.padEnd(34)} median ${median[name]!.toFixed(1)} s, downloaded ${((bytes[name] ?? 0) / 1048576).toFixed(1)} MiB`);
  }
  const ratio = (a: string, b: string) => (median[a]! / median[b]!).toFixed(2);
  console.log(`mmdebstrap / debootstrap (empty cache)       = ${ratio('mmdebstrap, empty cache', 'debootstrap, empty cache')}`);
  console.log(`mmdebstrap / debootstrap (warm package cache) = ${ratio('mmdebstrap, warm package cache', 'debootstrap, warm package cache')}`);
  console.log(`warm package cache / empty: debootstrap ${ratio('debootstrap, warm package cache', 'debootstrap, empty cache')}, mmdebstrap ${ratio('mmdebstrap, warm package cache', 'mmdebstrap, empty cache')}`);
  console.log(`root cache / mmdebstrap empty cache          = ${ratio('root cache (identical install)', 'mmdebstrap, empty cache')}`);
  rmSync(work, { recursive: true, force: true });
}
