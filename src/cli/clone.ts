// `domu-forge clone`: a thin CLI over cloneTree(). (Being written.)
import type { Command } from 'commander';
import { DomuError } from '../errors.js';

export function register(program: Command): void {
  program
    .command('clone')
    .description('copy a root tree exactly into a target, in parallel')
    .argument('<source>')
    .argument('<target>')
    .action(() => {
      throw new DomuError('INTERNAL', 'clone is not built yet');
    });
}
