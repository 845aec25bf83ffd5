// `domu-forge verify SRC TARGET`: a thin CLI over verifyTree().

import type { Command } from 'commander';
import { DomuError, EXIT_STATUS } from '../errors.js';
import { verifyTree, type VerifyResult, type MtimePrecision, DIFFERENCE_KINDS } from '../verify/index.js';
import { CleanupStack } from '../cleanup.js';
import { abortOnSignals } from './signals.js';
import { ProgressLine, formatDuration, printJson } from './output.js';
import { formatSize } from '../sys/size.js';

interface VerifyCliOptions {
  exclude: string[];
  defaultExcludes: boolean;
  oneFileSystem?: boolean;
  modifyWindow?: string;
  mtimePrecision: string;
  xattrs: boolean;
  all?: boolean;
  json?: boolean;
}

const SHOWN_PER_KIND = 20;

export function printVerifyResult(r: VerifyResult, all = false): void {
  const out: string[] = [];
  for (const kind of DIFFERENCE_KINDS) {
    const list = r.differences.filter((d) => d.kind === kind);
    if (list.length === 0) continue;
    out.push(`${kind} (${list.length}):`);
    const shown = all ? list : list.slice(0, SHOWN_PER_KIND);
    for (const d of shown) {
      const detail = d.source !== undefined || d.target !== undefined ? `  ${d.source ?? ''}${d.target !== undefined ? ` -> ${d.target}` : ''}` : '';
      out.push(`  ${d.path}${detail}`);
    }
    if (shown.length < list.length) out.push(`  ... and ${list.length - shown.length} more (--all shows them)`);
  }
  const precision = r.mtimePrecisionNs === 1 ? 'ns' : r.mtimePrecisionNs === 1000 ? 'µs' : r.mtimePrecisionNs === 1e6 ? 'ms' : r.mtimePrecisionNs === 1e9 ? 's' : `${r.mtimePrecisionNs} ns window`;
  out.push(
    `${r.identical ? 'identical' : `${r.differences.length} difference(s)`}: ${r.entries.source} source entries, ${r.entries.target} target entries, ` +
      `${formatSize(r.bytesCompared)} compared, mtimes to ${precision}, ${formatDuration(r.seconds)}`,
  );
  process.stdout.write(`${out.join('\n')}\n`);
}

export function register(program: Command): void {
  program
    .command('verify')
    .description('compare a source tree with a target tree, image file or LVM volume on every attribute clone keeps')
    .argument('<source>', 'the source root directory')
    .argument('<target>', 'a directory, an image file (raw, qcow2, vmdk: mounted read-only), an LVM volume (VG/LV) or a block device')
    .option('--exclude <pattern>', 'leave out entries matching PATTERN, as clone does (repeatable); an excluded directory must be empty in the target', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--no-default-excludes', 'do not add the default excludes (/home /mnt /tmp /proc /sys /var)')
    .option('-x, --one-file-system', 'do not enter other filesystems in the source (their mount points must be empty in the target)')
    .option('--modify-window <seconds>', 'mtimes that differ by at most this many seconds count as equal (like rsync); default: exact to the nanosecond, or to what the coarser filesystem keeps')
    .option('--mtime-precision <unit>', 'compare mtimes no finer than ns, us, ms or s (clone keeps nanoseconds; mke2fs -d keeps seconds: s)', 'ns')
    .option('--no-xattrs', 'do not compare xattrs and ACLs')
    .option('--all', 'list every difference (default: the first 20 of each kind)')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', `
Compared: entry type, content (byte for byte), size, numeric uid/gid, mode with setuid/setgid/sticky,
mtime, symlink target bytes, device major/minor, hard-link groups, xattrs and POSIX ACLs.
Exit status 0 when identical, 5 when there are differences.

Examples:
  domu-forge verify / out/dom0 --exclude /work
  domu-forge verify / duncan.img --exclude /work --json
  domu-forge verify /srv/base scotland/malcom`)
    .action(async (source: string, target: string, opts: VerifyCliOptions) => {
      let modifyWindow: number | undefined;
      if (opts.modifyWindow !== undefined) {
        modifyWindow = Number(opts.modifyWindow);
        if (!Number.isFinite(modifyWindow) || modifyWindow < 0) throw new DomuError('USAGE', `--modify-window: "${opts.modifyWindow}" is not a number of seconds`);
      }
      if (!['ns', 'us', 'ms', 's'].includes(opts.mtimePrecision)) throw new DomuError('USAGE', `--mtime-precision: "${opts.mtimePrecision}" is not one of ns, us, ms, s`);
      const cleanup = new CleanupStack();
      const controller = new AbortController();
      const removeSignals = abortOnSignals(controller, () => {
        void cleanup.runAll().then(() => process.exit(EXIT_STATUS.INTERRUPTED));
      });
      const progress = new ProgressLine();
      try {
        const result = await verifyTree({
          source,
          target,
          excludes: opts.exclude,
          defaultExcludes: opts.defaultExcludes,
          oneFileSystem: opts.oneFileSystem ?? false,
          ...(modifyWindow !== undefined ? { modifyWindow } : {}),
          xattrs: opts.xattrs,
          mtimePrecision: opts.mtimePrecision as MtimePrecision,
          cleanup,
          onProgress: (p) =>
            progress.update(p.phase === 'compare' ? `verify: comparing, ${formatSize(p.bytes)}` : `verify: reading ${p.phase === 'read-source' ? 'source' : 'target'}, ${p.entries} entries`),
        });
        progress.clear();
        if (opts.json) printJson({ ok: result.identical, ...result });
        else printVerifyResult(result, opts.all);
        if (!result.identical) process.exitCode = EXIT_STATUS.VERIFY_FAILED;
      } finally {
        progress.clear();
        removeSignals();
        await cleanup.runAll();
      }
    });
}
