// The checks every guest kind goes through: a dry run writes nothing; the real run does exactly what
// the plan said (rsync lists the same paths, files hold the planned bytes, mode and owner); a second
// run changes nothing.

import { lstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { runFixups, type FixupOptions, type FixupReport } from '../../src/fixup/index.js';
import { describeAction, type Action } from '../../src/fixup/plan.js';
import type { Overlay } from './guests.js';

/** The paths rsync should list for a plan ("-path" for removals). */
export function plannedPaths(actions: Action[]): string[] {
  const out = new Set<string>();
  for (const a of actions) {
    if (a.kind === 'remove') out.add(`-${a.path}`);
    else if (a.kind === 'rename') {
      out.add(`-${a.path}`);
      out.add(a.to);
    } else out.add(a.path);
  }
  return [...out].sort();
}

export interface Checked {
  dry: FixupReport;
  real: FixupReport;
}

export async function checkPlanAndRun(o: Overlay, options: FixupOptions): Promise<Checked> {
  const dry = await runFixups(o.merged, { ...options, dryRun: true });
  expect(o.changes(), 'a dry run writes nothing').toEqual([]);
  const real = await runFixups(o.merged, { ...options, dryRun: false });
  const lines = (r: FixupReport) => r.stages.flatMap((s) => s.actions.map((a) => `${s.id}: ${describeAction(a)}`));
  expect(lines(real), 'the real run does what the dry run planned').toEqual(lines(dry));
  const actions = real.stages.flatMap((s) => s.actions);
  const copied = actions.filter((a) => a.kind === 'copy-tree').map((a) => a.path);
  const changed = o.changes().filter((p) => !copied.some((c) => p.startsWith(`${c}/`)));
  expect(changed, 'rsync sees exactly the planned paths change').toEqual(plannedPaths(actions));
  for (const a of actions) {
    if (a.kind !== 'write') continue;
    const host = join(o.merged, a.path);
    expect(readFileSync(host).toString('latin1'), `${a.path} holds the planned bytes`).toBe(a.after);
    const st = lstatSync(host);
    expect([st.mode & 0o7777, st.uid, st.gid], `${a.path} mode and owner`).toEqual([a.mode, a.uid, a.gid]);
  }
  const again = await runFixups(o.merged, options);
  expect(again.stages.flatMap((s) => s.actions.map((a) => `${s.id}: ${describeAction(a)}`)), 'a second run changes nothing').toEqual([]);
  return { dry, real };
}

export function stage(r: FixupReport, id: string) {
  const s = r.stages.find((x) => x.id === `fixup/${id}`);
  if (!s) throw new Error(`no stage ${id}`);
  return s;
}
