// `domu-forge import-disk`: a thin CLI over importDisk(): a VMDK or qcow2 disk in, a raw image out.

import type { Command } from 'commander';
import { CleanupStack } from '../cleanup.js';
import { abortOnSignals } from './signals.js';
import { DomuError } from '../errors.js';
import { importDisk, IMPORT_FORMATS } from '../targets/disk-format.js';
import { printJson } from './output.js';
import { formatSize } from '../sys/size.js';

const LAYOUT: Record<string, string> = {
  mbr: 'a partitioned disk (MBR): give it to the guest whole, e.g. xvda, and boot it with pygrub',
  gpt: 'a partitioned disk (GPT): give it to the guest whole, e.g. xvda, and boot it with pygrub',
  ext: 'a bare ext filesystem: give it to the guest as a partition, e.g. xvda1',
  xfs: 'a bare xfs filesystem: give it to the guest as a partition, e.g. xvda1',
  unknown: 'no partition table or filesystem recognised at the start',
};

export function register(program: Command): void {
  program
    .command('import-disk')
    .description('convert a VMware (VMDK), qcow2, VDI, VHDX or VHD disk into a sparse raw image Xen can use')
    .argument('<input>', 'the disk to import, e.g. guest.vmdk')
    .argument('<output>', 'the raw image to write, e.g. guest.img')
    .option('--input-format <format>', `the input's format when probing should not decide (${IMPORT_FORMATS.join(', ')})`)
    .option('--force', 'replace an existing output file')
    .option('--json', 'print a machine-readable summary on stdout')
    .addHelpText('after', `
Disks that refer to other files (a backing file, a qcow2 external data file, a VMDK with separate
extent files) are refused: qemu-img would read whatever those name on this host.
The output is written beside its final name and renamed into place when complete.
Exit statuses: 0 done, 2 bad input (nothing written), 3 qemu-img missing or no space, 130 interrupted.`)
    .action(async (input: string, output: string, opts: { inputFormat?: string; force?: boolean; json?: boolean }) => {
      const controller = new AbortController();
      const cleanup = new CleanupStack();
      const release = abortOnSignals(controller);
      try {
        const s = await importDisk({
          input, output, force: opts.force === true, signal: controller.signal, cleanup,
          ...(opts.inputFormat !== undefined ? { inputFormat: opts.inputFormat } : {}),
        });
        if (opts.json) printJson({ ok: true, ...s });
        else {
          process.stdout.write(`imported ${s.inputFormat} ${s.input} -> raw ${s.output}\n` +
            `  ${formatSize(s.virtualSize)} disk, ${formatSize(s.fileBytes)} on the host (sparse)\n  it holds ${LAYOUT[s.layout]}\n`);
        }
      } catch (e) {
        await cleanup.runAll();
        if (controller.signal.aborted) throw new DomuError('INTERRUPTED', 'import-disk was interrupted; nothing was written');
        throw e;
      } finally {
        release();
      }
    });
}
