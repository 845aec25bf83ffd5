// `domu-forge delete NAME`: remove a guest's disk, swap, config and address lease. Asks first.

import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { DomuError, EXIT_STATUS } from '../errors.js';
import { deleteGuest, findGuest, leasesOf } from '../pipeline/inventory.js';
import { printJson } from './output.js';

export function register(program: Command): void {
  program
    .command('delete')
    .description("remove a guest domu-forge built: its disk (image file, LVM volume, directory or tarball), swap, xl config and address lease")
    .argument('<name>', 'the guest, as domu-forge list shows it')
    .option('-y, --yes', 'do not ask (required when stdin is not a terminal)')
    .option('--json', 'print what was removed as JSON')
    .addHelpText('after', `
Without --yes, delete shows what it will remove and asks. With no terminal to ask on and no --yes,
it refuses (exit status 2). A guest that is running (xl) or whose disk is attached is refused.`)
    .action(async (name: string, opts: { yes?: boolean; json?: boolean }) => {
      const rec = findGuest(name);
      if (!rec) throw new DomuError('BAD_INPUT', `no guest named ${name} in the inventory`, { hint: 'domu-forge list shows the guests domu-forge built' });
      if (!opts.yes) {
        if (!process.stdin.isTTY) throw new DomuError('USAGE', `delete ${name}: not asking without a terminal; add --yes to delete`);
        const what = [`${rec.disk.kind} ${rec.disk.path}`, rec.swap ? `swap ${rec.swap.path}` : '', rec.config ?? '', ...leasesOf(name).map((ip) => `lease ${ip}`)].filter(Boolean);
        const rl = createInterface({ input: process.stdin, output: process.stderr });
        const answer = await rl.question(`delete ${name}: ${what.join(', ')}? [y/N] `);
        rl.close();
        if (!/^y(es)?$/i.test(answer.trim())) {
          process.stderr.write('nothing deleted\n');
          process.exitCode = EXIT_STATUS.INTERNAL;
          return;
        }
      }
      const r = await deleteGuest(name);
      if (opts.json) printJson({ ok: true, ...r });
      else {
        process.stdout.write(`deleted ${name}: ${[...r.removed, ...r.releasedAddresses.map((ip) => `lease ${ip}`)].join(', ') || 'nothing left to remove'}\n`);
        if (r.missing.length > 0) process.stdout.write(`already gone: ${r.missing.join(', ')}\n`);
      }
    });
}
