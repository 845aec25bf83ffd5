// A fingerprint of a tree: every entry's path and metadata under the rules, hashed in path order,
// so any change to what a clone of it would hold (a file edited, added, removed, chmod'ed) changes it,
// and a change inside an excluded directory does not.

import { createHash } from 'node:crypto';
import type { ExcludeSet } from './exclude.js';
import { walkTree } from './walk.js';

export function treeFingerprint(root: string, options: { excludes: ExcludeSet; oneFileSystem?: boolean }): string {
  const lines: Array<[string, string]> = [];
  for (const e of walkTree(root, { excludes: options.excludes, oneFileSystem: options.oneFileSystem ?? false })) {
    const st = e.st;
    // A pruned directory's mtime and size only record changes to what was excluded (a live /tmp),
    // which the clone does not copy: left out, as verify leaves them out.
    const size = e.pruned ? '-' : st.size;
    const mtime = e.pruned ? '-' : st.mtimeNs;
    lines.push([e.rel, `${e.rel}\0${e.kind}\0${Number(st.mode & 0o7777n)}\0${st.uid}\0${st.gid}\0${size}\0${mtime}\0${st.rdev}\n`]);
  }
  lines.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const h = createHash('sha256');
  for (const [, line] of lines) h.update(line, 'latin1');
  return h.digest('hex');
}
