// Shared test helpers: run the built CLI, compare trees with rsync, make scratch dirs.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const repoRoot = resolve(import.meta.dirname, '..', '..');
export const cliPath = join(repoRoot, 'dist', 'cli', 'main.js');

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): CliResult {
  const r = spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
  return { status: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
}

/** rsync's itemized differences between two trees; empty means identical on every attribute. */
export function rsyncDiff(src: string, dst: string, extra: string[] = []): string {
  const r = spawnSync('rsync', ['-aHAXc', '--numeric-ids', '--dry-run', '--itemize-changes', ...extra, `${src}/`, `${dst}/`], { encoding: 'latin1' });
  if (r.status !== 0) throw new Error(`rsync failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** Excludes that keep rsync from comparing the contents of the default-excluded roots. */
export const DEFAULT_EXCLUDED_CONTENTS = ['/home/*', '/mnt/*', '/tmp/*', '/proc/*', '/sys/*', '/var/*'].flatMap((p) => ['--exclude', p]);

export function scratchDir(prefix: string): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(process.env.DOMU_FORGE_TEST_TMP || tmpdir(), `domu-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function sh(cmd: string): string {
  const r = spawnSync('sh', ['-c', cmd], { encoding: 'latin1' });
  if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
  return r.stdout;
}
