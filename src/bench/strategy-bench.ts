// benchStrategies(): which copy strategy suits this machine? The clone engine at several worker
// counts, the tar pipe, cp -a and rsync -aHAX, side by side with tinybench on the user's own tree,
// each run into a freshly made ext4 on a loop file (reusing one after rm -rf skews the timings).
// Every loop device, mount and file is on the CleanupStack.

import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, rmdir } from 'node:fs/promises';
import { join, relative, resolve, isAbsolute } from 'node:path';
import { Bench } from 'tinybench';
import { CleanupStack } from '../cleanup.js';
import { DomuError, oneLine } from '../errors.js';
import { runTool } from '../sys/exec.js';
import { cloneTree } from '../copy/clone.js';

export const TAR_META = ['--numeric-owner', '--xattrs', "--xattrs-include=*", '--acls'];

export interface BenchStrategiesOptions {
  source: string;
  /** Worker counts for the clone engine. Default [1, 2, 4]. */
  workers?: number[];
  /** Timed runs per strategy. Default 3. */
  runs?: number;
  /** Leave out the peers (tar, cp, rsync). */
  enginesOnly?: boolean;
  /** Stay on the source's filesystem (cp -x, rsync -x, tar --one-file-system, clone -x). */
  oneFileSystem?: boolean;
  /** Where the loop files go. Default /var/tmp/domu-forge-bench-cli. */
  workDir?: string;
  cleanup?: CleanupStack;
  signal?: AbortSignal;
  onProgress?: (text: string) => void;
}

export interface StrategyResult {
  name: string;
  kind: 'engine' | 'peer';
  /** Seconds per run. */
  samples: number[];
  median: number;
  min: number;
  max: number;
  /** Source bytes per second at the median. */
  bytesPerSecond: number;
  /** Median divided by the fastest median (1 = fastest). */
  vsFastest: number;
  /** Median divided by the tar pipe's median (below 1: faster than tar). */
  vsTar?: number;
}

export interface BenchStrategiesResult {
  source: string;
  bytes: number;
  entries: number;
  runs: number;
  filesystem: string;
  results: StrategyResult[];
  fastest: string;
  seconds: number;
}

function shell(cmd: string, signal?: AbortSignal): Promise<void> {
  return new Promise((res, rej) => {
    const child = spawn('sh', ['-c', cmd], { stdio: ['ignore', 'ignore', 'pipe'], ...(signal ? { signal } : {}) });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-2000)));
    child.on('error', (e) => rej(new DomuError('INTERNAL', `${cmd}: ${oneLine(e)}`)));
    child.on('close', (code) => (code === 0 ? res() : rej(new DomuError('INTERNAL', `${cmd.split(' ')[0]} failed (${code}): ${oneLine(err)}`))));
  });
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

interface FreshFs {
  mnt: string;
  dispose(): Promise<void>;
}

async function freshFs(dir: string, bytes: number, cleanup: CleanupStack): Promise<FreshFs> {
  const work = await mkdtemp(join(dir, 'fs-'));
  const image = join(work, 'image');
  const mnt = join(work, 'mnt');
  await mkdir(mnt);
  const dropWork = cleanup.push(`remove ${work}`, () => rm(work, { recursive: true, force: true }));
  await runTool('truncate', ['-s', String(bytes), image]);
  await runTool('mkfs.ext4', ['-q', '-F', image]);
  const loop = (await runTool('losetup', ['--find', '--show', image])).stdout.toString().trim();
  const dropLoop = cleanup.push(`detach ${loop}`, async () => void (await runTool('losetup', ['-d', loop], { allowFailure: true })));
  await runTool('mount', [loop, mnt]);
  const dropMount = cleanup.push(`unmount ${mnt}`, async () => void (await runTool('umount', [mnt], { allowFailure: true })));
  return {
    mnt,
    dispose: async () => {
      await runTool('umount', [mnt]);
      dropMount();
      await runTool('losetup', ['-d', loop]);
      dropLoop();
      await rmdir(mnt);
      await rm(work, { recursive: true, force: true });
      dropWork();
    },
  };
}

/** The median of some timings (the mean of the middle two for an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export async function benchStrategies(o: BenchStrategiesOptions): Promise<BenchStrategiesResult> {
  const started = performance.now();
  const source = resolve(o.source);
  const workers = o.workers ?? [1, 2, 4];
  if (workers.some((w) => !Number.isInteger(w) || w < 1 || w > 64)) throw new DomuError('USAGE', '--workers takes whole numbers from 1 to 64, comma-separated');
  const runs = o.runs ?? 3;
  if (!Number.isInteger(runs) || runs < 1 || runs > 50) throw new DomuError('USAGE', '--runs must be a whole number from 1 to 50');
  const workDir = resolve(o.workDir ?? '/var/tmp/domu-forge-bench-cli');
  const inside = relative(source, workDir);
  if (inside === '' || (!inside.startsWith('..') && !isAbsolute(inside))) throw new DomuError('BAD_INPUT', `the work directory ${workDir} lies inside the source; give another with --work-dir`);
  const du = await runTool('du', ['-s', '-B1', ...(o.oneFileSystem ? ['-x'] : []), '--', source], { allowFailure: true });
  const bytes = Number(du.stdout.toString().split(/\s/)[0]);
  if (!Number.isFinite(bytes) || bytes <= 0) throw new DomuError('BAD_INPUT', `${o.source} is not a readable directory`);
  const entries = Number((await runTool('du', ['-s', '--inodes', ...(o.oneFileSystem ? ['-x'] : []), '--', source])).stdout.toString().split(/\s/)[0]);
  const fsBytes = Math.ceil((bytes * 1.3 + entries * 512 + 256 * 2 ** 20) / 2 ** 20) * 2 ** 20;
  await mkdir(workDir, { recursive: true });
  const cleanup = o.cleanup ?? new CleanupStack();
  const x = o.oneFileSystem === true;

  type Task = { name: string; kind: StrategyResult['kind']; run: (dst: string) => Promise<void> };
  const tasks: Task[] = workers.map((w) => ({
    name: `domu-forge clone, ${w} worker${w === 1 ? '' : 's'}`,
    kind: 'engine' as const,
    run: async (dst: string) => {
      const r = await cloneTree({ source, target: join(dst, 't'), workers: w, defaultExcludes: false, oneFileSystem: x, ...(o.signal ? { signal: o.signal } : {}) });
      if (r.errors.length > 0) throw new DomuError('INTERNAL', `clone: ${r.errors.length} errors (first: ${r.errors[0]!.path}: ${r.errors[0]!.message})`);
    },
  }));
  if (!o.enginesOnly) {
    const meta = TAR_META.map(q).join(' ');
    tasks.push(
      { name: 'tar pipe', kind: 'peer', run: (dst) => shell(`mkdir ${q(`${dst}/t`)} && tar -C ${q(source)} ${x ? '--one-file-system' : ''} ${meta} -cf - . | tar -C ${q(`${dst}/t`)} ${meta} -xpf -`, o.signal) },
      { name: 'cp -a', kind: 'peer', run: (dst) => shell(`cp -a ${x ? '-x' : ''} ${q(`${source}/.`)} ${q(`${dst}/t`)}`, o.signal) },
      { name: 'rsync -aHAX', kind: 'peer', run: (dst) => shell(`rsync -aHAX --numeric-ids ${x ? '-x' : ''} ${q(`${source}/`)} ${q(`${dst}/t/`)}`, o.signal) },
    );
  }

  // Warm the page cache once, so the first strategy does not pay for everyone's reads.
  o.onProgress?.('warming the cache');
  await shell(`tar -C ${q(source)} ${x ? '--one-file-system' : ''} -cf - . | cat > /dev/null`, o.signal);

  let fs: FreshFs | undefined;
  const bench = new Bench({ iterations: runs, time: 0, warmup: false, throws: true, retainSamples: true });
  for (const t of tasks) {
    let n = 0;
    bench.add(t.name, async () => {
      o.onProgress?.(`${t.name}: run ${++n} of ${runs}`);
      await t.run(fs!.mnt);
    }, {
      beforeEach: async () => {
        fs = await freshFs(workDir, fsBytes, cleanup);
      },
      afterEach: async () => {
        const f = fs;
        fs = undefined;
        await f?.dispose();
      },
    });
  }
  try {
    await bench.run();
  } catch (e) {
    await cleanup.runAll();
    throw e;
  }

  const results: StrategyResult[] = tasks.map((t) => {
    const task = bench.tasks.find((b) => b.name === t.name)!;
    const r = task.result as { latency?: { samples?: number[] }; samples?: number[]; error?: unknown } | undefined;
    if (r?.error) throw r.error instanceof Error ? r.error : new DomuError('INTERNAL', String(r.error));
    const samples = (r?.latency?.samples ?? r?.samples ?? []).map((ms) => ms / 1000);
    const med = median(samples);
    return { name: t.name, kind: t.kind, samples, median: med, min: Math.min(...samples), max: Math.max(...samples), bytesPerSecond: bytes / med, vsFastest: 0 };
  });
  const fastest = results.reduce((a, b) => (b.median < a.median ? b : a));
  const tar = results.find((r) => r.name === 'tar pipe');
  for (const r of results) {
    r.vsFastest = r.median / fastest.median;
    if (tar) r.vsTar = r.median / tar.median;
  }
  return { source, bytes, entries, runs, filesystem: 'ext4 on a loop file, fresh for every run', results, fastest: fastest.name, seconds: (performance.now() - started) / 1000 };
}

/** The medians as a horizontal bar chart, SVG text made here (no library). */
export function renderBenchSvg(r: BenchStrategiesResult): string {
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  const rowH = 28;
  const left = 230;
  const barW = 440;
  const top = 48;
  const width = left + barW + 150;
  const height = top + r.results.length * rowH + 40;
  const max = Math.max(...r.results.map((x) => x.max));
  const scale = (s: number) => (s / max) * barW;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="13">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="bold">${esc(`Copying ${r.source} (${(r.bytes / 2 ** 30).toFixed(2)} GiB, ${r.entries} entries)`)}</text>`,
    `<text x="12" y="38" fill="#555">${esc(`median of ${r.runs} run(s), fresh ext4 each run; whiskers: min to max; shorter is faster`)}</text>`,
  ];
  r.results.forEach((x, i) => {
    const y = top + i * rowH;
    const colour = x.kind === 'engine' ? (x.name === r.fastest ? '#1b7f3b' : '#3c8d5a') : '#6b7a8f';
    parts.push(
      `<text x="${left - 8}" y="${y + 17}" text-anchor="end">${esc(x.name)}</text>`,
      `<rect x="${left}" y="${y + 4}" width="${scale(x.median).toFixed(1)}" height="${rowH - 10}" fill="${colour}"/>`,
      `<line x1="${(left + scale(x.min)).toFixed(1)}" x2="${(left + scale(x.max)).toFixed(1)}" y1="${y + rowH / 2 - 1}" y2="${y + rowH / 2 - 1}" stroke="#222" stroke-width="1.5"/>`,
      `<text x="${(left + scale(x.max) + 6).toFixed(1)}" y="${y + 17}">${esc(`${x.median.toFixed(2)} s${x.vsTar !== undefined ? `  (${x.vsTar.toFixed(2)}× tar)` : ''}`)}</text>`,
    );
  });
  const axisY = top + r.results.length * rowH + 6;
  parts.push(`<line x1="${left}" x2="${left + barW}" y1="${axisY}" y2="${axisY}" stroke="#999"/>`);
  for (let k = 0; k <= 4; k++) {
    const v = (max * k) / 4;
    parts.push(`<text x="${(left + scale(v)).toFixed(1)}" y="${axisY + 16}" text-anchor="middle" fill="#555">${v.toFixed(1)} s</text>`);
  }
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
