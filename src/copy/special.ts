// Device nodes and fifos (Node has no mknod), and entries whose paths are too long to address
// from the roots: GNU tar carries them in one pipeline, reading names NUL-separated on stdin,
// with numeric owners, modes, nanosecond times, xattrs and ACLs, and its own hard-link tracking.

import { spawn } from 'node:child_process';
import { DomuError } from '../errors.js';

const TAR_META = ['--numeric-owner', '--xattrs', '--xattrs-include=*', '--acls'];

/**
 * Copy `rels` (relative to both roots) with `tar -c | tar -x`. Directories in `rels` are copied
 * with their contents only when `recursive`. Returns tar's warnings.
 */
export function copyWithTar(source: string, target: string, rels: readonly string[], recursive: boolean): Promise<string[]> {
  if (rels.length === 0) return Promise.resolve([]);
  return new Promise((resolve, reject) => {
    const create = spawn('tar', [
      '-C', source, recursive ? '--recursion' : '--no-recursion', '--format=posix', ...TAR_META,
      '--null', '--verbatim-files-from', '-T', '-', '-cf', '-',
    ], { stdio: ['pipe', 'pipe', 'pipe'] });
    const extract = spawn('tar', ['-C', target, '-xpf', '-', '--same-owner', '--overwrite', ...TAR_META], { stdio: ['pipe', 'ignore', 'pipe'] });
    create.stdout!.pipe(extract.stdin!);
    const warnings: string[] = [];
    for (const [name, child] of [['tar -c', create], ['tar -x', extract]] as const) {
      child.stderr!.setEncoding('latin1');
      child.stderr!.on('data', (s: string) => {
        for (const line of s.split('\n')) if (line.trim()) warnings.push(`${name}: ${line.trim()}`);
      });
    }
    let failed: unknown;
    const onError = (e: NodeJS.ErrnoException) => {
      failed ??= e.code === 'ENOENT' ? new DomuError('MISSING_TOOL', 'tar is not installed', { hint: 'install it with: apt-get install tar' }) : e;
    };
    create.on('error', onError);
    extract.on('error', onError);
    create.stdin!.on('error', () => undefined);
    const list = Buffer.concat(rels.flatMap((r) => [Buffer.from(r === '' ? '.' : r, 'latin1'), Buffer.from([0])]));
    create.stdin!.end(list);
    let open = 2;
    let status = 0;
    const closed = (code: number | null) => {
      status = Math.max(status, code ?? 1);
      if (--open > 0) return;
      if (failed) reject(failed);
      // tar exits 1 when a file changed while being read: a warning, not a failure
      else if (status > 1) reject(new DomuError('INTERNAL', `copying device nodes and fifos with tar failed: ${warnings.join('; ') || `status ${status}`}`));
      else resolve(warnings);
    };
    create.on('close', closed);
    extract.on('close', closed);
  });
}
