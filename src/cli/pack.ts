// `domu-forge pack`: a thin CLI over writeTarball(). Its own module, loaded alone for a pack run, so
// packing does not load the build pipeline and the spec schema that unpack's target options need.

import type { Command } from 'commander';
import { Option } from 'commander';
import { abortOnSignals } from './signals.js';
import { EXIT_STATUS } from '../errors.js';
import type { TargetSummary } from '../targets/index.js';
import { compressionOfName, writeTarball } from '../tar/index.js';
import type { TarCompression, TarProgress, TarSummary } from '../tar/index.js';
import { ProgressLine, formatDuration, printJson } from './output.js';
import { formatSize } from '../sys/size.js';

export function progressText(verb: string, p: TarProgress): string {
  const total = p.totalEntries !== undefined ? `/${p.totalEntries}` : '';
  const bytes = p.totalBytes !== undefined ? `${formatSize(p.bytes)}/${formatSize(p.totalBytes)}` : formatSize(p.bytes);
  return `${verb}: ${p.phase} ${p.entries}${total} entries ${bytes}`;
}

/** 0, or 23 when entries were left out, or 24 when the source changed while being read. */
function statusOf(s: TarSummary): number {
  return s.skipped.length > 0 ? EXIT_STATUS.PARTIAL : s.changed.length > 0 ? EXIT_STATUS.SOURCE_CHANGED : 0;
}

export function printSummary(verb: string, s: TarSummary, target?: TargetSummary): void {
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
          compression: opts.compress ?? compressionOfName(file), signal: controller.signal,
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
}
