// `domu-forge bench SRC`: which copy strategy suits this machine, measured on the user's own tree.

import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { DomuError } from '../errors.js';
import { CleanupStack } from '../cleanup.js';
import { abortOnSignals } from './signals.js';
import { benchStrategies, renderBenchSvg, type BenchStrategiesResult } from '../bench/strategy-bench.js';
import { ProgressLine, printJson } from './output.js';
import { formatSize } from '../sys/size.js';

function printTable(r: BenchStrategiesResult): void {
  const rows = [['strategy', 'median', 'min', 'max', 'rate', 'vs fastest', 'vs tar']];
  for (const x of r.results) {
    rows.push([x.name, `${x.median.toFixed(2)} s`, `${x.min.toFixed(2)} s`, `${x.max.toFixed(2)} s`, `${formatSize(x.bytesPerSecond)}/s`, `${x.vsFastest.toFixed(2)}×`, x.vsTar !== undefined ? `${x.vsTar.toFixed(2)}×` : '']);
  }
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const lines = rows.map((row) => row.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  '));
  lines.splice(1, 0, w.map((n) => '-'.repeat(n)).join('  '));
  process.stdout.write(`${r.source}: ${formatSize(r.bytes)} in ${r.entries} entries; ${r.runs} run(s) each into a fresh ext4\n${lines.join('\n')}\nfastest: ${r.fastest}\n`);
}

export function register(program: Command): void {
  program
    .command('bench')
    .description('time the clone engine (several worker counts), the tar pipe, cp -a and rsync -aHAX on your tree, side by side')
    .argument('<source>', 'the tree to copy (it is only read)')
    .option('--workers <list>', 'clone engine worker counts, comma-separated', '1,2,4')
    .option('--runs <n>', 'timed runs per strategy (the median is reported)', '3')
    .option('--engines-only', 'leave out tar, cp and rsync')
    .option('-x, --one-file-system', 'stay on the source\'s filesystem (all strategies)')
    .option('--work-dir <dir>', 'where the loop files for the fresh filesystems go', '/var/tmp/domu-forge-bench-cli')
    .option('--svg <file>', 'also write the medians as an SVG bar chart')
    .option('--json', 'print the results as JSON')
    .addHelpText('after', `
Every run copies the whole tree into a freshly made ext4 on a loop file (reusing a filesystem after
rm -rf skews timings), the page cache warmed once beforehand. The peers run as:
  tar -C SRC -cf - --numeric-owner --xattrs --xattrs-include='*' --acls . | tar -C DST -xpf - (same flags)
  cp -a SRC/. DST        rsync -aHAX --numeric-ids SRC/ DST/
The loop files need about 1.3 times the tree's size free in --work-dir.

Example:
  domu-forge bench /usr --workers 1,2,4,8 --runs 5 --svg bench.svg`)
    .action(async (source: string, opts: { workers: string; runs: string; enginesOnly?: boolean; oneFileSystem?: boolean; workDir: string; svg?: string; json?: boolean }) => {
      const workers = opts.workers.split(',').map((s) => Number(s.trim()));
      const runs = Number(opts.runs);
      if (workers.some((w) => !Number.isInteger(w))) throw new DomuError('USAGE', `--workers: "${opts.workers}" is not a list of whole numbers`);
      const cleanup = new CleanupStack();
      const controller = new AbortController();
      const removeSignals = abortOnSignals(controller);
      const progress = new ProgressLine();
      try {
        const r = await benchStrategies({
          source,
          workers,
          runs,
          enginesOnly: opts.enginesOnly === true,
          oneFileSystem: opts.oneFileSystem === true,
          workDir: opts.workDir,
          cleanup,
          signal: controller.signal,
          onProgress: (t) => progress.update(`bench: ${t}`, true),
        });
        progress.clear();
        if (opts.svg) writeFileSync(opts.svg, renderBenchSvg(r));
        if (opts.json) printJson({ ok: true, ...r });
        else printTable(r);
      } catch (e) {
        if (controller.signal.aborted) throw new DomuError('INTERRUPTED', 'bench interrupted; every loop device and mount was released');
        throw e;
      } finally {
        progress.clear();
        removeSignals();
        await cleanup.runAll();
      }
    });
}
