// `domu-forge clone`: a thin command over build's runner (target/open, source/clone, target/close).

import { Command, Option } from 'commander';
import type { CloneProgress, CloneSummary } from '../copy/clone.js';
import { describeTarget, type TargetSummary } from '../targets/index.js';
import { estimateUsage } from '../walk/usage.js';
import { addTargetOptions, commandSpec, targetSpecFromOptions } from './target-options.js';
import { runStages, targetSpecOf } from '../pipeline/pipeline.js';
import { defaultWorkerCount } from '../copy/pool.js';
import { abortOnSignals } from './signals.js';
import { DEFAULT_EXCLUDES, ExcludeSet } from '../walk/exclude.js';
import { realpathSync, statSync } from 'node:fs';
import { DomuError, EXIT_STATUS } from '../errors.js';
import { ProgressLine, formatDuration, printJson } from './output.js';
import { formatSize } from '../sys/size.js';

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || !Number.isInteger(n) || n < 1) throw new DomuError('USAGE', `${name} must be a positive integer, not "${v}"`);
    return n;
  };
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

function progressText(p: CloneProgress): string {
  const rate = p.seconds > 0 ? p.bytes / p.seconds : 0;
  let eta = '';
  if (p.walkDone && p.entriesDone > 0 && p.phase === 'copy') {
    const left = Math.max(0, p.entriesFound - p.entriesDone);
    eta = ` ETA ${formatDuration((left * p.seconds) / p.entriesDone)}`;
  }
  const found = p.walkDone ? `${p.entriesFound}` : `${p.entriesFound}+`;
  return `clone: ${p.phase} ${p.entriesDone}/${found} entries ${formatSize(p.bytes)} ${formatSize(rate)}/s${eta}`;
}

export function printCloneSummary(s: CloneSummary): void {
  const c = s.copied;
  const out: string[] = [];
  const created = c.file + c.dir + c.symlink + c.hardlink + c.chardev + c.blockdev + c.fifo;
  out.push(`cloned ${s.source} -> ${s.target} in ${formatDuration(s.seconds)} with ${s.workers} workers`);
  if (s.mode === 'update' && created === 0) out.push('nothing to copy: the target was already identical');
  out.push(
    `  ${c.file} files (${formatSize(s.bytes)}), ${c.dir} directories, ${c.symlink} symlinks, ${c.hardlink} hard links, ` +
      `${c.chardev + c.blockdev} device nodes, ${c.fifo} fifos, ${s.xattrsSet} xattrs`,
  );
  if (s.unchanged > 0) out.push(`  ${s.unchanged} entries already identical, left alone`);
  for (const p of s.prunedDirs) out.push(`  recreated empty: ${p.path} (${p.reason})`);
  for (const p of s.skipped.slice(0, 20)) out.push(`  skipped: ${p.path}: ${p.message}`);
  if (s.skipped.length > 20) out.push(`  ... and ${s.skipped.length - 20} more skipped (see --json)`);
  for (const w of s.warnings.slice(0, 20)) out.push(`  warning: ${w}`);
  if (s.warnings.length > 20) out.push(`  ... and ${s.warnings.length - 20} more warnings (see --json)`);
  for (const p of s.changed.slice(0, 50)) out.push(`  changed during the run: ${p.path}: ${p.message}`);
  for (const p of s.errors.slice(0, 50)) out.push(`  error: ${p.path}: ${p.message}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

/**
 * The source and exclude patterns checked as cloneTree checks them (same errors), before a target
 * that is not a directory is made: the real source path and the patterns, for sizing the image.
 */
function checkCloneSource(source: string, excludes: readonly string[], defaultExcludes: boolean): { source: string; patterns: string[] } {
  if (!source) throw new DomuError('USAGE', 'a source directory is required');
  let real: string;
  try {
    real = realpathSync(source);
  } catch {
    throw new DomuError('BAD_INPUT', `source ${source} does not exist`);
  }
  if (!statSync(real).isDirectory()) throw new DomuError('BAD_INPUT', `source ${source} is not a directory`);
  const patterns = [...(defaultExcludes === false ? [] : DEFAULT_EXCLUDES), ...excludes];
  new ExcludeSet(patterns); // throws on a pattern it cannot compile
  return { source: real, patterns };
}

function parseIo(io: string): number | undefined {
  if (io === 'sync') return undefined;
  const m = /^async(?::(\d+))?$/.exec(io);
  if (!m || (m[1] !== undefined && Number(m[1]) < 1)) throw new DomuError('USAGE', `--io must be sync or async:N, not "${io}"`);
  return m[1] === undefined ? 64 : Number(m[1]);
}

interface CloneCliOptions {
  io: string;
  exclude: string[]; defaultExcludes: boolean; oneFileSystem?: boolean; workers?: number; batchSize: number;
  force?: boolean; json?: boolean; quiet?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command('clone')
    .description('copy a root tree exactly (contents, numeric owners, modes, times, hard links, devices, xattrs, ACLs) into a target, in parallel')
    .argument('<source>', 'the root to copy, e.g. / for this Dom0')
    .argument('[target]', 'an empty directory (created if missing); or name a target with --image, --lvm, --device or --tar')
    .option('--exclude <pattern>', 'leave out a path or glob (repeatable); "/var" is anchored at the source root, "*.log" matches at any depth, a trailing "/" matches directories only; excluded directories are recreated empty', collect, [])
    .option('--no-default-excludes', `do not exclude ${DEFAULT_EXCLUDES.join(' ')}`)
    .option('-x, --one-file-system', 'do not enter other mounted filesystems (their mount points are kept, empty)')
    .option('--workers <n>', `worker threads (default ${defaultWorkerCount()} here)`, positiveInt('--workers'))
    .addOption(new Option('--batch-size <n>', 'entries per batch sent to a worker').argParser(positiveInt('--batch-size')).default(256))
    .addOption(new Option('--io <mode>', 'fs calls inside the workers: sync, or async:N (N in flight on libuv\'s thread pool, sized by UV_THREADPOOL_SIZE); for benchmarking').default('sync'))
    .option('--json', 'print a machine-readable summary on stdout')
    .option('-q, --quiet', 'no progress line');
  addTargetOptions(cmd)
    .addHelpText('after', `
Targets: a directory, or --image FILE [--size 4G] [--fs ext4] [--format raw|qcow2|vmdk], --lvm VG/LV,
--device DEV --force, --tar FILE[.gz|.xz|.zst]. With no --size the image is sized from the source's
usage plus headroom. On a directory target, --force copies into a non-empty directory (identical
entries are kept, others replaced); on other targets it replaces an existing image, volume or tarball.

Examples:
  domu-forge clone / /mnt/duncan                      # the seed's cowboy clone, done right
  domu-forge clone / --image duncan.img --size 4G --exclude /opt
  domu-forge clone / --tar dom0-rootfs.tar.zst -x

Reruns: running the same command again after an interruption finishes the copy, skipping entries
that are already identical (same size, mtime, mode, owner); after a finished clone it copies nothing.
Exit statuses: 0 done, 2 bad input (nothing written), 23 some entries failed, 24 the source changed
during the run (listed), 130 interrupted.`)
    .action(async (source: string, target: string | undefined, opts: CloneCliOptions) => {
      // the target flags' usage errors first, then the source and excludes checked as cloneTree checks them
      const named = targetSpecFromOptions(target, opts as unknown as Record<string, unknown>);
      const asyncInFlight = parseIo(opts.io);
      const plan = named.kind === 'dir' ? undefined : checkCloneSource(source, opts.exclude, opts.defaultExcludes);
      const { spec } = commandSpec(target, opts as unknown as Record<string, unknown>, {
        clone: source, exclude: opts.exclude, defaultExcludes: opts.defaultExcludes, oneFileSystem: opts.oneFileSystem, workers: opts.workers,
      });
      const controller = new AbortController();
      const line = new ProgressLine(!opts.quiet && !opts.json && Boolean(process.stderr.isTTY));
      const release = abortOnSignals(controller, () => line.clear());
      const log = (text: string) => {
        line.clear();
        if (!opts.json) process.stderr.write(`${text}\n`);
      };
      const targetSpec = targetSpecOf(spec);
      try {
        // build's stages: open the target, clone into it, close it; a partly copied tree is kept (exit 23)
        const run = await runStages(spec, {
          only: ['target/open', 'source/clone', 'target/close'],
          signal: controller.signal,
          log,
          status: (t) => (t.startsWith('target/close') ? line.update('clone: finishing the target (sync, unmount ...)', true) : undefined),
          inputs: {
            makeParents: false,
            dirBySource: true,
            partialOk: true,
            noConfig: true,
            quietStages: true,
            ownInterrupt: true,
            ...(plan ? { sizeHint: () => estimateUsage(plan.source, plan.patterns, opts.oneFileSystem === true) } : {}),
            clone: {
              batchSize: opts.batchSize,
              ...(asyncInFlight !== undefined ? { asyncInFlight } : {}),
              onProgress: (p: CloneProgress) => line.update(progressText(p)),
              ...(targetSpec.kind === 'dir' ? { force: opts.force === true } : { resumeKey: describeTarget(targetSpec) }),
            },
          },
        });
        line.clear();
        if (run.failure !== undefined) throw run.failure;
        const summary = run.ctx.results.clone!;
        const targetSummary: TargetSummary | undefined = targetSpec.kind === 'dir' ? undefined : run.ctx.results.target;
        const status = summary.errors.length > 0 ? EXIT_STATUS.PARTIAL : summary.changed.length > 0 ? EXIT_STATUS.SOURCE_CHANGED : 0;
        if (opts.json) printJson({ ok: status === 0, status, ...summary, ...(targetSummary ? { targetInfo: targetSummary } : {}) });
        else {
          printCloneSummary(targetSpec.kind === 'dir' ? summary : { ...summary, target: describeTarget(targetSpec) });
          if (targetSummary) process.stdout.write(`  target: ${describeTarget(targetSpec)}${targetSummary.size ? ` (${formatSize(targetSummary.size)}${targetSummary.fs ? ` ${targetSummary.fs}` : ''})` : ''}\n`);
        }
        process.exitCode = status;
      } finally {
        line.clear();
        release();
      }
    });
}
