// The list of subcommands. Each lives in its own file and exports register(program). A run loads
// only the module of the command it names (the libraries behind the others are never compiled);
// `domu-forge --help` and anything unknown load them all.

import type { Command } from 'commander';

type Loader = () => Promise<{ register(program: Command): void }>;

/** Command names, each with the module that registers it (tar.js registers unpack, and pack when pack.js has not). */
export const COMMANDS: ReadonlyArray<readonly [string, Loader]> = [
  ['clone', () => import('./clone.js')],
  ['fixup', () => import('./fixup.js')],
  ['xen-config', () => import('./xen-config.js')],
  ['verify', () => import('./verify.js')],
  ['build', () => import('./build.js')],
  ['list', () => import('./list.js')],
  ['delete', () => import('./delete.js')],
  ['bench', () => import('./bench.js')],
  ['import-disk', () => import('./import-disk.js')],
  ['install', () => import('./install.js')],
  ['pack', () => import('./pack.js')],
  ['unpack', () => import('./tar.js')],
  ['boot-test', () => import('./boot-test.js')],
  ['defaults', () => import('./defaults.js')],
  ['worker', () => import('./worker.js')],
  ['fleet', () => import('./fleet.js')],
];

/** Register the command named first in `args` (the arguments after the script), or all of them. */
export async function registerCommands(program: Command, args: readonly string[] = []): Promise<void> {
  const first = args.find((a) => !a.startsWith('-'));
  const named = COMMANDS.filter(([name]) => name === first);
  const loaders = new Set((named.length === 1 ? named : COMMANDS).map(([, load]) => load));
  const modules = new Set(await Promise.all([...loaders].map((load) => load())));
  for (const m of modules) m.register(program);
}
