// `domu-forge clone`: a thin CLI over cloneTree().

import { Command, Option } from 'commander';
import { cloneTree, type CloneProgress, type CloneSummary } from '../copy/clone.js';
import { defaultWorkerCount } from '../copy/pool.js';
import { abortOnSignals } from '../build/cleanup.js';
import { DEFAULT_EXCLUDES } from '../walk/exclude.js';
import { DomuError } from '../errors.js';
import { ProgressLine, formatBytes, formatDuration, printJson } from './output.js';

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
  return `clone: ${p.phase} ${p.entriesDone}/${found} entries ${formatBytes(p.bytes)} ${formatBytes(rate)}/s${eta}`;
}

export function printCloneSummary(s: CloneSummary): void {
  const c = s.copied;
  const out: string[] = [];
  const created = c.file + c.dir + c.symlink + c.hardlink + c.chardev + c.blockdev + c.fifo;
  out.push(`cloned ${s.source} -> ${s.target} in ${formatDuration(s.seconds)} with ${s.workers} workers`);
  if (s.mode === 'update' && created === 0) out.push('nothing to copy: the target was already identical');
  out.push(
    `  ${c.file} files (${formatBytes(s.bytes)}), ${c.dir} directories, ${c.symlink} symlinks, ${c.hardlink} hard links, ` +
      `${c.chardev + c.blockdev} device nodes, ${c.fifo} fifos, ${s.xattrsSet} xattrs`,
  );
  if (s.unchanged > 0) out.push(`  ${s.unchanged} entries already identical, left alone`);
  for (const p of s.prunedDirs) out.push(`  recreated empty: ${p.path} (${p.reason})`);
  for (const p of s.skipped) out.push(`  skipped: ${p.path}: ${p.message}`);
  for (const w of s.warnings.slice(0, 20)) out.push(`  warning: ${w}`);
  if (s.warnings.length > 20) out.push(`  ... and ${s.warnings.length - 20} more warnings (see --json)`);
  for (const p of s.changed.slice(0, 50)) out.push(`  changed during the run: ${p.path}: ${p.message}`);
  for (const p of s.errors.slice(0, 50)) out.push(`  error: ${p.path}: ${p.message}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

export function register(program: Command): void {
  program
    .command('clone')
    .description('copy a root tree exactly (contents, numeric owners, modes, times, hard links, devices, xattrs, ACLs) into a target, in parallel')
    .argument('<source>', 'the root to copy, e.g. / for this Dom0')
    .argument('<target>', 'an empty directory (created if missing), e.g. a mounted image')
    .option('--exclude <pattern>', 'leave out a path or glob (repeatable); "/var" is anchored at the source root, "*.log" matches at any depth, a trailing "/" matches directories only; excluded directories are recreated empty', collect, [])
    .option('--no-default-excludes', `do not exclude ${DEFAULT_EXCLUDES.join(' ')}`)
    .option('-x, --one-file-system', 'do not enter other mounted filesystems (their mount points are kept, empty)')
    .option('--workers <n>', `worker threads (default ${defaultWorkerCount()} here)`, positiveInt('--workers'))
    .addOption(new Option('--batch-size <n>', 'entries per batch sent to a worker').argParser(positiveInt('--batch-size')).default(256))
    .option('--force', 'copy into a non-empty target; entries already identical are kept, others replaced')
    .option('--json', 'print a machine-readable summary on stdout')
    .option('-q, --quiet', 'no progress line')
    .addHelpText('after', `
Reruns: running the same command again after an interruption finishes the copy, skipping entries
that are already identical (same size, mtime, mode, owner); after a finished clone it copies nothing.
Exit statuses: 0 done, 2 bad input (nothing written), 23 some entries failed, 24 the source changed
during the run (listed), 130 interrupted.`)
    .action(async (source: string, target: string, opts: {
      exclude: string[]; defaultExcludes: boolean; oneFileSystem?: boolean; workers?: number; batchSize: number;
      force?: boolean; json?: boolean; quiet?: boolean;
    }) => {
      const controller = new AbortController();
      const line = new ProgressLine(!opts.quiet && !opts.json && Boolean(process.stderr.isTTY));
      const release = abortOnSignals(controller, () => line.clear());
      try {
        const summary = await cloneTree({
          source, target, excludes: opts.exclude, defaultExcludes: opts.defaultExcludes, oneFileSystem: opts.oneFileSystem,
          workers: opts.workers, batchSize: opts.batchSize, force: opts.force, signal: controller.signal,
          onProgress: (p) => line.update(progressText(p)),
        });
        line.clear();
        const status = summary.errors.length > 0 ? 23 : summary.changed.length > 0 ? 24 : 0;
        if (opts.json) printJson({ ok: status === 0, status, ...summary });
        else printCloneSummary(summary);
        process.exitCode = status;
      } finally {
        line.clear();
        release();
      }
    });
}
