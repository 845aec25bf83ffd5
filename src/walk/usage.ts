// What a tree will need on its target: disk usage and entry count, with the exclusion rules
// applied as du understands them. Used to size an image or volume when no --size is given.

import { runTool } from '../sys/exec.js';
import type { UsageHint } from './usage-hint.js';

function duExcludes(source: string, patterns: readonly string[]): string[] {
  const root = source.endsWith('/') ? source.slice(0, -1) : source;
  // du matches --exclude against the path it prints (SOURCE/rel): anchor rsync-style "/x" there
  return patterns.map((p) => `--exclude=${p.startsWith('/') ? `${root}${p.replace(/\/+$/, '')}` : p.replace(/\/+$/, '')}`);
}

export async function estimateUsage(source: string, patterns: readonly string[], oneFileSystem: boolean): Promise<UsageHint> {
  const common = ['-s', ...(oneFileSystem ? ['-x'] : []), ...duExcludes(source, patterns), '--', source];
  const [bytes, inodes] = await Promise.all([
    runTool('du', ['-B1', ...common], { allowFailure: true }),
    runTool('du', ['--inodes', ...common], { allowFailure: true }),
  ]);
  const first = (r: { stdout: Buffer }) => Number(r.stdout.toString().split(/\s/)[0] ?? 0);
  return { bytes: first(bytes), inodes: first(inodes) };
}
