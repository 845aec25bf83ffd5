// The list of subcommands. Each lives in its own file and exports register(program).

import type { Command } from 'commander';
import { register as registerClone } from './clone.js';

export function registerCommands(program: Command): void {
  registerClone(program);
}
