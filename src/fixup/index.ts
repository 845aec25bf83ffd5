// The fixup stages, in the order they run, and runFixups(): plan and apply each stage in turn on a
// guest tree (or only plan, for a dry run).

import { DomuError } from '../errors.js';
import type { XenConsole, XenDomain } from '../xen/domain.js';
import { accessStage } from './access.js';
import { bootloaderStage } from './bootloader.js';
import { consoleStage } from './console.js';
import { consoleOf, createFixupContext, type FixupContext, type FixupOptions, type FixupStage, type KernelChoice, type StageResult } from './context.js';
import type { GuestInfo } from './detect.js';
import { devicesStage } from './devices.js';
import { driversStage } from './drivers.js';
import { fstabStage } from './fstab.js';
import { hostLeftoversStage } from './host-leftovers.js';
import { identityStage } from './identity.js';
import { kernelModulesStage } from './kernel-modules.js';
import { mountpointsStage } from './mountpoints.js';
import { networkStage } from './network.js';
import { securettyStage } from './securetty.js';
import { selinuxStage } from './selinux.js';

/** Every fixup stage, in order. Ids are `fixup/<name>`. */
export const FIXUP_STAGES: readonly FixupStage[] = [
  mountpointsStage,
  devicesStage,
  consoleStage,
  securettyStage,
  fstabStage,
  driversStage,
  bootloaderStage,
  kernelModulesStage,
  networkStage,
  identityStage,
  accessStage,
  selinuxStage,
  hostLeftoversStage,
];

export interface FixupReport {
  root: string;
  dryRun: boolean;
  guest: Omit<GuestInfo, 'kernels'> & { kernels: string[] };
  kernel: KernelChoice;
  console: XenConsole;
  /** The domain model with the console the fixups used: give it to the config writer so both agree. */
  domain: XenDomain;
  stages: StageResult[];
  /** Number of actions planned (dry run) or applied. */
  changes: number;
}

const normalise = (id: string) => (id.startsWith('fixup/') ? id : `fixup/${id}`);

/** The stages selected by only/skip; unknown ids are a usage error. */
export function selectStages(only?: string[], skip?: string[]): FixupStage[] {
  const known = new Set(FIXUP_STAGES.map((s) => s.id));
  for (const id of [...(only ?? []), ...(skip ?? [])]) {
    if (!known.has(normalise(id))) {
      throw new DomuError('USAGE', `unknown fixup stage "${id}"`, { hint: `stages: ${[...known].map((k) => k.slice(6)).join(', ')}` });
    }
  }
  const o = only?.length ? new Set(only.map(normalise)) : undefined;
  const s = new Set((skip ?? []).map(normalise));
  return FIXUP_STAGES.filter((st) => (!o || o.has(st.id)) && !s.has(st.id));
}

/** Run the selected stages on a context made elsewhere (the build pipeline shares one). */
export async function runStages(ctx: FixupContext, stages: readonly FixupStage[], onStage?: (id: string) => void): Promise<StageResult[]> {
  const results: StageResult[] = [];
  for (const stage of stages) {
    onStage?.(stage.id);
    results.push(await stage.run(ctx));
  }
  return results;
}

/**
 * Fix up the guest tree at `root` so that it boots as a DomU: every selected stage in order.
 * With dryRun, nothing is touched and the report lists what a real run would do.
 */
export async function runFixups(root: string, options: FixupOptions = {}, onStage?: (id: string) => void): Promise<FixupReport> {
  const stages = selectStages(options.only, options.skip);
  const ctx = await createFixupContext(root, options);
  const results = await runStages(ctx, stages, onStage);
  const console = consoleOf(ctx);
  return {
    root: ctx.root,
    dryRun: ctx.dryRun,
    guest: { ...ctx.guest, kernels: ctx.guest.kernels.map((k) => `${k.version} (${k.flavour})`) },
    kernel: ctx.kernel,
    console,
    domain: { ...ctx.domain, console },
    stages: results,
    changes: results.reduce((n, r) => n + r.actions.length, 0),
  };
}

export { createFixupContext, type FixupContext, type FixupOptions, type FixupStage, type StageResult } from './context.js';
export { GuestFs } from '../guest/guest-fs.js';
export { describeAction, formatAction, type Action } from './plan.js';
