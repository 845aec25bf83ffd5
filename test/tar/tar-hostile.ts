// Shared by the advisory tests: write a hostile archive, try to extract it, and check that it was
// refused with a clear message and that nothing was written, neither in the target nor outside it.

import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { extractTarball } from '../../src/tar/index.js';
import { scratchDir } from '../helpers/run.js';

export interface Playground {
  dir: string;
  /** A directory outside the target that an attack would write into. */
  outside: string;
  cleanup(): void;
}

export function playground(name: string): Playground {
  const s = scratchDir(name);
  const outside = join(s.dir, 'outside');
  mkdirSync(outside);
  writeFileSync(join(outside, 'keep'), 'untouched');
  return { dir: s.dir, outside, cleanup: s.cleanup };
}

let n = 0;

/** Extract `archive` into a new target; expect a BAD_INPUT refusal matching `message` and no trace. */
export async function expectRefused(pg: Playground, archive: Buffer, message: RegExp, opts: { trusted?: boolean; target?: string } = {}): Promise<void> {
  n += 1;
  const file = join(pg.dir, `hostile-${n}.tar`);
  writeFileSync(file, archive);
  const target = opts.target ?? join(pg.dir, `target-${n}`);
  const before = existsSync(target) ? readdirSync(target).sort() : null;
  const err = await extractTarball(file, target, { trusted: opts.trusted ?? true }).then(
    () => undefined,
    (e: unknown) => e as { code?: string; message: string },
  );
  expect(err, 'the archive was extracted').toBeDefined();
  expect(err!.code).toBe('BAD_INPUT');
  expect(err!.message).toMatch(message);
  if (before === null) expect(existsSync(target)).toBe(false);
  else expect(readdirSync(target).sort()).toEqual(before);
  expect(readdirSync(pg.outside)).toEqual(['keep']);
}
