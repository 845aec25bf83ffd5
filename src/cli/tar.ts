// `domu-forge pack` and `domu-forge unpack`: a thin CLI over writeTarball(), and a thin command over
// build's runner (target/open, source/extract, target/close).

import type { Command } from 'commander';
import { Option } from 'commander';
import { abortOnSignals } from './signals.js';
import { DomuError, EXIT_STATUS, isDomuError } from '../errors.js';
import { describeTarget, type TargetSummary } from '../targets/index.js';
import { runStages, targetSpecOf } from '../pipeline/pipeline.js';
import { writeTarball } from '../tar/index.js';
import { checkTarball } from '../tar/index.js';
import type { TarCompression, TarProgress, TarSummary } from '../tar/index.js';
import { usageOfTotals } from '../walk/usage.js';
import { addTargetOptions, commandSpec, compressionFromName, targetSpecFromOptions } from './target-options.js';
import { ProgressLine, formatDuration, printJson } from './output.js';
import { formatSize } from '../sys/size.js';

function progressText(verb: string, p: TarProgress): string {
  const total = p.totalEntries !== undefined ? `/${p.totalEntries}` : '';
  const bytes = p.totalBytes !== undefined ? `${formatSize(p.bytes)}/${formatSize(p.totalBytes)}` : formatSize(p.bytes);
  return `${verb}: ${p.phase} ${p.entries}${total} entries ${bytes}`;
}

/** 0, or 23 when entries were left out, or 24 when the source changed while being read. */
function statusOf(s: TarSummary): number {
  return s.skipped.length > 0 ? EXIT_STATUS.PARTIAL : s.changed.length > 0 ? EXIT_STATUS.SOURCE_CHANGED : 0;
}

function printSummary(verb: string, s: TarSummary, target?: TargetSummary): void {
  const out = [
    `${verb} ${s.entries} entries in ${formatDuration(s.seconds)}: ${s.files} files (${formatSize(s.bytes)}), ${s.directories} directories, ` +
      `${s.symlinks} symlinks, ${s.hardlinks} hard links, ${s.devices} devices, ${s.fifos} fifos, ${s.withXattrs} with xattrs`,
  ];
  if (verb === 'packed') out.push(`  ${s.archive}: ${formatSize(s.archiveBytes)} (${s.compression})`);
  if (target) out.push(`  into ${target.kind} ${target.path}`);
  for (const p of s.skipped.slice(0, 50)) out.push(`  skipped: ${p.path}: ${p.reason}`);
  for (const p of s.changed.slice(0, 50)) out.push(`  changed during the run: ${p.path}: ${p.reason}`);
  for (const w of s.warnings) out.push(`  warning: ${w}`);
  for (const n of s.notApplied ?? []) out.push(`  read, not applied: ${n.what} (${n.entries} ${n.entries === 1 ? 'entry' : 'entries'}, first: ${n.first})`);
  process.stdout.write(`${out.join('\n')}\n`);
}

export function register(program: Command): void {
  program
    .command('pack')
    .description('write a directory tree as a rootfs tarball (pax format; raw names, ns times, xattrs, ACLs, hard links, devices)')
    .argument('<root>', 'the tree to pack, e.g. a clone or an install')
    .argument('<file>', 'the tarball to write (replaced when complete; written under a temporary name until then)')
    .addOption(new Option('--compress <type>', 'none, gzip (zlib), xz or zstd (system tools); default from the name: .gz/.tgz, .xz/.txz, .zst/.tzst, else none').choices(['none', 'gzip', 'xz', 'zstd']))
    .option('--json', 'print a machine-readable summary on stdout')
    .option('-q, --quiet', 'no progress line')
    .addHelpText('after', `
GNU tar extracts the result exactly with:
  tar --xattrs --xattrs-include='*' --numeric-owner -xpf FILE -C DIR
Exit statuses: 0 done, 2 bad input, 3 a tool is missing, 23 entries left out (sockets; listed),
24 the tree changed while being read (listed), 130 interrupted (no partial tarball is left).`)
    .action(async (root: string, file: string, opts: { compress?: TarCompression; json?: boolean; quiet?: boolean }) => {
      const controller = new AbortController();
      const line = new ProgressLine(!opts.quiet && !opts.json && Boolean(process.stderr.isTTY));
      const release = abortOnSignals(controller, () => line.clear());
      try {
        const summary = await writeTarball(root, file, {
          compression: opts.compress ?? compressionFromName(file), signal: controller.signal,
          onProgress: (p) => line.update(progressText('pack', p)),
        });
        line.clear();
        const status = statusOf(summary);
        if (opts.json) printJson({ ok: status === 0, status, ...summary });
        else printSummary('packed', summary);
        process.exitCode = status;
      } finally {
        line.clear();
        release();
      }
    });

  addTargetOptions(
    program
      .command('unpack')
      .description('extract a rootfs tarball (GNU tar, mmdebstrap or ours; plain, gzip, xz or zstd) into a target, safely: xen-tools\' "tar" install method')
      .argument('<archive>', 'the tarball')
      .argument('[target]', 'a directory (created if missing); or name a target with --image, --lvm, --device or --tar'),
  )
    .option('--trusted', 'create the device files the archive holds (refused otherwise: a device node gives raw access to host hardware)')
    .option('--json', 'print a machine-readable summary on stdout')
    .option('-q, --quiet', 'no progress line')
    .addHelpText('after', `
The archive is checked in full before anything is written: absolute names, "..", links out of the
archive, paths through a symlink, depth bombs, bad checksums, negative sizes and truncation are
refused (exit 2, nothing written). Nothing is ever written through a symlink in the target.
Exit statuses: 0 done, 2 bad input (nothing written), 3 a tool is missing, 23 some attributes could
not be set (listed), 130 interrupted (what was extracted is removed again).`)
    .action(async (archive: string, dir: string | undefined, opts: Record<string, unknown> & { trusted?: boolean; json?: boolean; quiet?: boolean }) => {
      targetSpecFromOptions(dir, opts);
      const controller = new AbortController();
      const line = new ProgressLine(!opts.quiet && !opts.json && Boolean(process.stderr.isTTY));
      const release = abortOnSignals(controller, (sig) => {
        line.clear();
        process.stderr.write(`domu-forge: ${sig}: stopping and cleaning up (again to quit at once)\n`);
      });
      try {
        // refuse a bad archive before a target is made for it
        const check = await checkTarball(archive, { trusted: opts.trusted === true, signal: controller.signal, onProgress: (p) => line.update(progressText('unpack', p)) });
        const { spec } = commandSpec(dir, opts, { tarball: archive, ...(opts.trusted === true ? { trusted: true } : {}) });
        const targetSpec = targetSpecOf(spec);
        // build's stages: open the target, extract into it, close it
        const run = await runStages(spec, {
          only: ['target/open', 'source/extract', 'target/close'],
          signal: controller.signal,
          log: (l) => {
            line.clear();
            if (!opts.json) process.stderr.write(`${l}\n`);
          },
          status: (t) => (t.startsWith('target/close') ? line.update(`closing ${describeTarget(targetSpec)}`, true) : undefined),
          inputs: {
            makeParents: false,
            quietStages: true,
            ownInterrupt: true,
            sizeHint: async () => usageOfTotals(check.bytes, check.entries),
            extract: { onProgress: (p) => line.update(progressText('unpack', p)) },
          },
        });
        line.clear();
        if (run.failure !== undefined) {
          const e = run.failure;
          if (controller.signal.aborted && !(isDomuError(e) && e.code === 'INTERRUPTED')) {
            throw new DomuError('INTERRUPTED', 'unpack was interrupted', { hint: 'run the same command again' });
          }
          throw e;
        }
        const summary = run.ctx.results.extract!;
        const closed = run.ctx.results.target!;
        const status = summary.skipped.length > 0 ? EXIT_STATUS.PARTIAL : 0;
        if (opts.json) printJson({ ok: status === 0, status, ...summary, target: closed });
        else printSummary('unpacked', summary, closed);
        process.exitCode = status;
      } finally {
        line.clear();
        release();
      }
    });
}
