// A worker's run records: before each stage of a job it writes what the job is making (the disk,
// its swap and config) and which stage it is at, under the state directory (queue-runs/NAME.json).
// A worker killed with SIGKILL leaves its record; the next worker on that host removes what the dead
// run half-made (processes still holding its files, mounts, loop devices, half-written files, and the
// disk and config once the dead run may have renamed them into place) before it builds again.

import { readdirSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { errnoCode } from '../../errors.js';
import { runTool } from '../../sys/exec.js';
import { processRuns } from '../../sys/process.js';
import { stateDir, writeState } from '../../sys/state.js';

export interface RunRecord {
  kind: 'base' | 'guest';
  name: string;
  jobId: string;
  pid: number;
  stage: string;
  /** The stages this run has started, in order. */
  stages: string[];
  image: string;
  config?: string;
  started: string;
}

const DIR = 'queue-runs';

function recPath(kind: RunRecord['kind'], name: string): string {
  return `${DIR}/${kind}-${name}.json`;
}

export function writeRunRecord(rec: RunRecord): void {
  writeState(recPath(rec.kind, rec.name), rec);
}

export function dropRunRecord(kind: RunRecord['kind'], name: string): void {
  try {
    unlinkSync(join(stateDir(), recPath(kind, name)));
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw e;
  }
}

export function readRunRecords(): RunRecord[] {
  const dir = join(stateDir(), DIR);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: RunRecord[] = [];
  for (const n of names) {
    if (!n.endsWith('.json')) continue;
    try {
      out.push(JSON.parse(readFileSync(join(dir, n), 'utf8')) as RunRecord);
    } catch {
      rmSync(join(dir, n), { force: true }); // a half-written record (the write is atomic, so only a stray temp name)
    }
  }
  return out;
}

/** The record's run is over (its process is gone, or it is this process's own stale one from an earlier job). */
export function isDead(rec: RunRecord): boolean {
  return !processRuns(rec.pid);
}

/** Processes (other than this one) whose command line names one of `paths`: a dead run's qemu-storage-daemon. */
async function holders(paths: readonly string[]): Promise<number[]> {
  const out: number[] = [];
  for (const d of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    let cmd: string;
    try {
      cmd = readFileSync(`/proc/${d}/cmdline`, 'latin1');
    } catch {
      continue;
    }
    if (paths.some((p) => cmd.includes(p))) out.push(Number(d));
  }
  return out;
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/**
 * Remove what a dead run half-made. Returns a line per thing removed (for the worker's log).
 * Everything it touches is named by the record: files beside the disk that start with ".NAME.",
 * loop devices backed by them, their mounts, processes that hold them; the disk and config only
 * when the dead run had reached target/close (when it may have renamed them into place).
 */
export async function removeDeadRun(rec: RunRecord): Promise<string[]> {
  const done: string[] = [];
  const dir = dirname(rec.image);
  const prefix = `.${basename(rec.image)}.`;
  const partials = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.startsWith(prefix)).map((n) => join(dir, n));
  const named = [...partials, rec.image];
  // 1. processes still holding them (a FUSE export of a qcow2 overlay)
  const pids = await holders(partials);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM');
      done.push(`stopped process ${pid}`);
    } catch {
      /* gone */
    }
  }
  for (let i = 0; i < 50 && (await holders(partials)).length > 0; i++) await sleep(100);
  for (const pid of await holders(partials)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  // 2. mounts of the half-made tree, then loop devices backed by its files
  const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')).filter((f) => f.length > 2);
  const loops = JSON.parse((await runTool('losetup', ['--list', '--json', '-O', 'NAME,BACK-FILE'], { allowFailure: true })).stdout.toString() || '{"loopdevices":[]}') as { loopdevices?: Array<{ name: string; 'back-file': string | null }> };
  const ours = (loops.loopdevices ?? []).filter((l) => l['back-file'] && named.some((p) => l['back-file']!.replace(/ \(deleted\)$/, '').startsWith(p)));
  for (const [src, target] of mounts) {
    const m = target!.replace(/\\040/g, ' ');
    if (partials.some((p) => m === p || m.startsWith(`${p}/`)) || ours.some((l) => l.name === src)) {
      await runTool('umount', ['-l', m], { allowFailure: true });
      done.push(`unmounted ${m}`);
    }
  }
  for (const l of ours) {
    await runTool('losetup', ['-d', l.name], { allowFailure: true });
    done.push(`detached ${l.name}`);
  }
  // 3. the half-written files and trees
  for (const p of partials) {
    await rm(p, { recursive: true, force: true }).catch(async () => {
      // a mount point whose lazy unmount has not finished yet
      await sleep(200);
      await rm(p, { recursive: true, force: true });
    });
    done.push(`removed ${p}`);
  }
  // 4. the disk and config, when the dead run may have put them in place
  if (rec.stages.some((s) => s === 'target/close' || s === 'xen/config' || s === 'boot-test' || s === 'inventory')) {
    for (const p of [rec.image, rec.config]) {
      if (!p) continue;
      try {
        unlinkSync(p);
        done.push(`removed ${p}`);
      } catch (e) {
        if (errnoCode(e) !== 'ENOENT') throw e;
      }
    }
  }
  dropRunRecord(rec.kind, rec.name);
  return done;
}
