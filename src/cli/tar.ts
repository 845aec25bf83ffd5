// `domu-forge unpack`: a thin command over build's runner (target/open, source/extract, target/close).
// It registers `pack` (pack.ts) beside itself when that is not registered yet.

import type { Command } from 'commander';
import { abortOnSignals } from './signals.js';
import { DomuError, EXIT_STATUS, isDomuError } from '../errors.js';
import { describeTarget } from '../targets/index.js';
import { runStages, targetSpecOf } from '../pipeline/pipeline.js';
import { checkTarball } from '../tar/index.js';
import { usageOfTotals } from '../walk/usage.js';
import { addTargetOptions, commandSpec, targetSpecFromOptions } from './target-options.js';
import { ProgressLine, printJson } from './output.js';
import { printSummary, progressText, register as registerPack } from './pack.js';

export function register(program: Command): void {
  // a run of `domu-forge pack` loads pack.js alone (commands.ts); unpack's module brings pack along
  if (!program.commands.some((c) => c.name() === 'pack')) registerPack(program);
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
            extract: { checked: check, onProgress: (p) => line.update(progressText('unpack', p)) },
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
