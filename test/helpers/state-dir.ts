// A private state directory (inventory, leases, caches' records) for one test file: set in
// DOMU_FORGE_STATE_DIR before its tests, the previous value put back and the directory removed after.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';

/** Returns the scratch directory; the state directory is `<it>/state`. */
export function usePrivateStateDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const saved = process.env.DOMU_FORGE_STATE_DIR;
  beforeAll(() => {
    process.env.DOMU_FORGE_STATE_DIR = join(dir, 'state');
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.DOMU_FORGE_STATE_DIR;
    else process.env.DOMU_FORGE_STATE_DIR = saved;
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}
