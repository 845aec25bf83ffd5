// The benchmark trees: a copy of this machine's /usr (dom0-like) and 100,000 small files.
// Both are made once under the bench directory and reused.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchDir } from './fresh-fs.js';

export function usrTree(): string {
  const dir = join(benchDir(), 'usr');
  if (!existsSync(join(dir, '.complete'))) {
    execFileSync('rm', ['-rf', dir, `${dir}.part`]);
    execFileSync('cp', ['-a', '/usr', `${dir}.part`]);
    renameSync(`${dir}.part`, dir);
    writeFileSync(join(dir, '.complete'), '');
  }
  return dir;
}

/** 100,000 files of 0 to 8 KiB (or up to maxBytes) in 100 directories, with a fixed pseudo-random layout. */
export function smallFilesTree(count = 100_000, maxBytes = 8192): string {
  const dir = join(benchDir(), maxBytes === 8192 ? `small-${count}` : `small-${count}-${maxBytes}`);
  if (existsSync(join(dir, '.complete'))) return dir;
  execFileSync('rm', ['-rf', dir]);
  let seed = 42;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const data = Buffer.alloc(8192, 'x');
  const perDir = Math.ceil(count / 100);
  for (let d = 0; d < 100; d++) {
    const sub = join(dir, `d${String(d).padStart(3, '0')}`);
    mkdirSync(sub, { recursive: true });
    for (let f = 0; f < perDir && d * perDir + f < count; f++) {
      writeFileSync(join(sub, `f${f}`), data.subarray(0, Math.floor(rnd() * maxBytes)));
    }
  }
  writeFileSync(join(dir, '.complete'), '');
  return dir;
}
