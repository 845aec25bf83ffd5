// The corpus the format tests extract: a small tree with the attributes that matter (owners, modes,
// nanosecond times, hard links, symlinks, xattrs, a non-ASCII name), archives of it made by the real
// tools, and the check: GNU tar's extraction and `domu-forge unpack`'s must be identical (rsync -aHAXc).

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { rsyncDiff, runCli } from '../helpers/run.js';

export function makeCorpusTree(dir: string): void {
  mkdirSync(dir, { recursive: true });
  execFileSync('sh', ['-ec', `
    cd "$1"
    mkdir -p etc usr/bin 'caf\\303\\251' empty
    printf 'hello\\n' > etc/hostname
    head -c 200000 /dev/urandom > usr/bin/tool
    ln usr/bin/tool usr/bin/tool-link
    ln -s ../etc/hostname usr/hostname-link
    printf 'x' > 'caf\\303\\251/na\\303\\257ve'
    chown 1234:2345 etc/hostname; chmod 4755 usr/bin/tool; chmod 0700 empty
    touch -d '2001-02-03 04:05:06' etc/hostname usr/bin/tool empty etc usr/bin usr 'caf\\303\\251' .
  `, 'sh', dir]);
}

/** Extract with GNU tar and with `domu-forge unpack`; returns rsync's differences (empty: identical) and unpack's result. */
export function compareWithGnuTar(archive: string, work: string, gnuFlags: string[] = []): { diff: string; status: number; stderr: string } {
  const gnu = join(work, 'gnu');
  const ours = join(work, 'ours');
  mkdirSync(gnu, { recursive: true });
  const g = spawnSync('tar', ['--xattrs', '--xattrs-include=*', '--numeric-owner', ...gnuFlags, '-xpf', archive, '-C', gnu], { encoding: 'utf8' });
  if (g.status !== 0) throw new Error(`GNU tar failed on ${archive}: ${g.stderr}`);
  const r = runCli(['unpack', '--quiet', archive, ours]);
  if (r.status !== 0) return { diff: '', status: r.status, stderr: r.stderr };
  return { diff: rsyncDiff(gnu, ours), status: r.status, stderr: r.stderr };
}

export interface JsonComparison {
  /** rsync's differences between GNU tar's tree and unpack's (empty: identical). */
  diff: string;
  status: number;
  stderr: string;
  /** unpack's --json summary (undefined when it printed none). */
  json: { warnings: string[]; notApplied: Array<{ what: string; entries: number; first: string }>; [k: string]: unknown } | undefined;
  gnuStatus: number;
  gnuStderr: string;
}

/** As compareWithGnuTar, with unpack's --json summary, and GNU tar allowed to fail (its status is returned). */
export function compareWithGnuTarJson(archive: string, work: string, gnuFlags: string[] = [], rsyncExtra: string[] = []): JsonComparison {
  const gnu = join(work, 'gnu');
  const ours = join(work, 'ours');
  mkdirSync(gnu, { recursive: true });
  const g = spawnSync('tar', ['--xattrs', '--xattrs-include=*', '--numeric-owner', ...gnuFlags, '-xpf', archive, '-C', gnu], { encoding: 'utf8' });
  const r = runCli(['unpack', '--json', archive, ours]);
  let json: JsonComparison['json'];
  try {
    json = JSON.parse(r.stdout) as JsonComparison['json'];
  } catch {
    json = undefined;
  }
  return { diff: r.status === 0 ? rsyncDiff(gnu, ours, rsyncExtra) : '', status: r.status, stderr: r.stderr, json, gnuStatus: g.status ?? 128, gnuStderr: g.stderr };
}
