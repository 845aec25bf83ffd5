// Where domu-forge keeps what it must remember between runs (clone records, inventory, leases).
// /var/lib/domu-forge by default; DOMU_FORGE_STATE_DIR moves it (tests use their own).

import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export function stateDir(): string {
  return process.env.DOMU_FORGE_STATE_DIR || '/var/lib/domu-forge';
}

export function readState<T>(relPath: string): T | undefined {
  try {
    return JSON.parse(readFileSync(join(stateDir(), relPath), 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Write a state file atomically (temp file + rename). */
export function writeState(relPath: string, value: unknown): void {
  const file = join(stateDir(), relPath);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}
