// The build pipeline: a flat list of verb-named stages with hierarchical ids (target/open,
// source/clone, verify, fixup, role/NAME, xen/config, target/close, boot-test, inventory), each
// taking the one BuildContext and returning early when it does not apply. One CleanupStack holds
// every undo step; on error or signal it unwinds them all.

import { spawn } from 'node:child_process';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { chmod, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { release as osRelease } from 'node:os';
import { CleanupStack } from '../cleanup.js';
import { DomuError, isDomuError, oneLine } from '../errors.js';
import type { BuildSpec } from '../spec/types.js';
import { cloneTree, type CloneOptions, type CloneSummary } from '../copy/clone.js';
import { openTarget, type OpenedTarget, type TargetSpec, type TargetSummary } from '../targets/index.js';
import { makeSwap } from '../targets/swap.js';
import { swapVolumeOf } from '../targets/lvm.js';
import { verifyTree, type VerifyResult } from '../verify/index.js';
import { treeUsage, usageOfTotals, type TreeUsage } from '../walk/usage.js';
import { DEFAULT_EXCLUDES, ExcludeSet } from '../walk/exclude.js';
import { installDistribution, type InstallOptions, type InstallResult } from '../install/index.js';
import { bootTest, type BootTestOptions, type BootTestResult } from '../boot/boot-test.js';
import { FIXUP_STAGES, createFixupContext, type FixupContext, type FixupOptions, type FixupStage, type StageResult } from '../fixup/index.js';
import { consoleOf } from '../fixup/context.js';
import { ROOT_ALONE_VDEV, ROOT_VDEV, SWAP_VDEV } from '../xen/options.js';
import { PVGRUB } from '../xen/domain.js';
import { prepareAccess, type AccessOptions } from '../fixup/access.js';
import { writeDomainConfig as writeXlConfig } from '../xen/write.js';
import { startDomain } from '../xen/start.js';
import type { DomainDisk, DomainVif, XenDomain } from '../xen/domain.js';
import { checkTarball, extractTarball } from '../tar/index.js';
import type { ExtractTarballOptions, TarballCheck, TarSummary } from '../tar/index.js';
import type { UsageHint } from '../targets/types.js';
import { findGuest, recordGuest } from './inventory.js';
import { openFromBase } from './from-base.js';
import { installPackages } from './packages.js';

export interface BuildContext {
  spec: BuildSpec;
  cleanup: CleanupStack;
  signal: AbortSignal;
  /** A line for the user (stderr). */
  log: (line: string) => void;
  /** A live status for the progress line. */
  status: (text: string) => void;
  target?: OpenedTarget;
  /** The guest root being written: the target's mount point, staging tree or directory. */
  root?: string;
  domain?: XenDomain;
  swapPath?: string;
  /** Drops the swap disk's removal from the cleanup stack: a closed target keeps its swap, as it keeps its image. */
  keepSwap?: () => void;
  /** src/fixup's shared context, made by the first fixup stage. */
  fixup?: FixupContext;
  /** The access fixup's options, a generated or file password already read (prepareAccess). */
  access?: AccessOptions;
  /** A password made for this build, shown once in the result and stored nowhere. */
  generatedPassword?: string;
  /** The tarball source's check made to size the target: source/extract takes it instead of scanning again. */
  tarballCheck?: TarballCheck;
  results: {
    clone?: CloneSummary;
    install?: InstallResult;
    extract?: TarSummary;
    verify?: Omit<VerifyResult, 'differences'> & { differences: VerifyResult['differences'] };
    fixups?: StageResult[];
    config?: { path: string; status: string };
    target?: TargetSummary;
    bootTest?: BootTestResult;
  };
  /** Extra fields for the inventory record (fleet builds set these). */
  record?: { fleet?: string; inputsKey?: string; pool?: string; base?: string };
  /** What a command over the runner gives its stages besides the spec (RunBuildOptions.inputs). */
  inputs: StageInputs;
}

/**
 * What the clone, install and unpack commands hand the stages besides the spec: their own flags
 * (--batch-size, --io, the install cache flags), their progress lines, and where they differ from
 * build (a missing image folder refused, a partly copied tree kept with exit 23). build gives none.
 */
export interface StageInputs {
  /** Make a missing folder for an image or tarball (default true; the clone command refuses one, a guard against typos). */
  makeParents?: boolean;
  /** A directory target is made by the source stage (cloneTree refuses a target inside the source before making it). */
  dirBySource?: boolean;
  /** Sizes an image or volume given no size (default: the clone source's usage, a tarball's size x4). */
  sizeHint?: () => Promise<number | UsageHint>;
  /** Entries that could not be copied or extracted fail the stage (default), or are only reported (the command exits 23 and keeps the target). */
  partialOk?: boolean;
  /** Leave the xl config path out of a clone's own-path excludes (a command that writes no config). */
  noConfig?: boolean;
  clone?: Pick<CloneOptions, 'batchSize' | 'asyncInFlight' | 'force' | 'onProgress' | 'resumeKey'>;
  /** The whole install request (the install command's flags), instead of the one the spec makes. */
  install?: Omit<InstallOptions, 'root'>;
  /** `checked`: the CLI's checkTarball of the same file, before the target was made (the extraction's first pass is then not read again). */
  extract?: Pick<ExtractTarballOptions, 'onProgress'> & { checked?: TarballCheck };
  /** A command prints its own summary: no "stage: note" line per stage. */
  quietStages?: boolean;
  /** Keep a stage's own interruption error (its hint says how to finish), instead of "interrupted during STAGE". */
  ownInterrupt?: boolean;
}

export interface Stage {
  id: string;
  /** What it does, for --list-stages and messages. */
  title: string;
  /** Why it does not apply to this spec, or undefined when it does. */
  skipReason?: (spec: BuildSpec) => string | undefined;
  run: (ctx: BuildContext) => Promise<string | void>;
  /** Runs even after --stop-after (closing and recording what was made); not after a failure, when the cleanup stack unwinds instead. */
  always?: boolean;
  /** Why it cannot run now (checked when its turn comes), or undefined. */
  blocked?: (ctx: BuildContext) => string | undefined;
  /** Runs on a finished build: its failure leaves the guest as built (nothing unwound). */
  afterBuild?: boolean;
}

export type StageStatus = 'done' | 'skipped' | 'not-applicable' | 'failed' | 'not-run';

export interface StageReport {
  id: string;
  status: StageStatus;
  seconds: number;
  /** A one-line summary or the reason it was skipped. */
  note?: string;
}

export interface BuildResult {
  name: string;
  ok: boolean;
  stages: StageReport[];
  target?: TargetSummary;
  config?: string;
  verify?: { identical: boolean; counts: VerifyResult['counts']; differences: VerifyResult['differences'] };
  seconds: number;
  error?: { code: string; message: string };
  /** A generated root password (--genpass, the default for installs): shown once, stored nowhere. */
  access?: { user: string; generatedPassword: string };
  accountsNote?: string;
}

export interface RunBuildOptions {
  /** Stop after the stage with this id (the target is still closed). */
  stopAfter?: string;
  /** Skip these stage ids; an id also skips its children ("fixup" skips "fixup/..."). */
  skip?: readonly string[];
  signal?: AbortSignal;
  log?: (line: string) => void;
  status?: (text: string) => void;
  cleanup?: CleanupStack;
  record?: BuildContext['record'];
  /** Keep a failed build's half-made disk (default: removed by the cleanup stack). */
  keepFailed?: boolean;
  /** Run only these stages, the rest left out of the plan (a command's part of the build). */
  only?: readonly string[];
  inputs?: StageInputs;
}

/** The TargetSpec the targets module takes, from the spec's target section. */
export function targetSpecOf(spec: BuildSpec): TargetSpec {
  const t = spec.target;
  switch (t.kind) {
    case 'image':
      return { kind: 'image', path: t.path, fs: t.fs, format: t.format, populate: t.populate, force: t.force, ...(t.size ? { size: t.size } : {}), ...(t.label ? { label: t.label } : {}), ...mkfsOf(t) };
    case 'lvm':
      return { kind: 'lvm', vg: t.vg, lv: t.lv, fs: t.fs, force: t.force, ...(t.size ? { size: t.size } : {}), ...(t.label ? { label: t.label } : {}), ...mkfsOf(t) };
    case 'device':
      return { kind: 'device', path: t.path, fs: t.fs, force: t.force, ...(t.label ? { label: t.label } : {}), ...mkfsOf(t) };
    case 'dir':
      return { kind: 'dir', path: t.path };
    case 'tar':
      return { kind: 'tar', path: t.path, compression: t.compression, force: t.force };
  }
}

const mkfsOf = (t: { mkfsOptions?: string[] }) => (t.mkfsOptions?.length ? { mkfsOptions: t.mkfsOptions } : {});

/** The Dom0 path of the guest's root disk (what the xl config names). */
export function diskPathOf(spec: BuildSpec): string | undefined {
  const t = spec.target;
  if (t.kind === 'image' || t.kind === 'device') return t.path;
  if (t.kind === 'lvm') return `/dev/${t.vg}/${t.lv}`;
  return undefined;
}

export function swapPathOf(spec: BuildSpec): string | undefined {
  const t = spec.target;
  if ((t.kind !== 'image' && t.kind !== 'lvm') || !t.swap) return undefined;
  if (t.kind === 'lvm') return `/dev/${t.vg}/${swapVolumeOf(t.lv)}`;
  const base = basename(t.path);
  return join(dirname(t.path), base === 'disk.img' ? 'swap.img' : `${base.replace(/\.(img|raw|qcow2|vmdk)$/, '')}-swap.img`);
}

function globEscape(p: string): string {
  return p.replace(/[*?[\\]/g, (c) => `\\${c}`);
}

/**
 * Exclusion patterns for what the build itself writes inside the clone source (the image file and
 * its half-made siblings, the swap file, the tarball, the config), so a clone of / never copies
 * the disk it is writing.
 */
export function ownPathExcludes(spec: BuildSpec, options: { config?: boolean } = {}): string[] {
  const src = spec.source;
  if (src.kind !== 'clone') return [];
  const out: string[] = [];
  const t = spec.target;
  const files = [t.kind === 'image' || t.kind === 'tar' ? t.path : undefined, swapPathOf(spec), options.config === false ? undefined : spec.domain.config];
  for (const f of files) {
    if (!f) continue;
    const rel = relative(resolve(src.root), resolve(f));
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) continue;
    out.push(`/${globEscape(rel)}`);
    const dir = dirname(rel);
    out.push(`/${dir === '.' ? '' : `${globEscape(dir)}/`}.${globEscape(basename(rel))}.*`);
  }
  return out;
}

/** The target's own paths on the host (mount point, staging tree, half-made files) inside the clone source, as excludes. */
function hostPathExcludes(ctx: BuildContext): string[] {
  const src = ctx.spec.source;
  if (src.kind !== 'clone') return [];
  const out: string[] = [];
  for (const p of ctx.target?.hostPaths ?? []) {
    const rel = relative(resolve(src.root), resolve(p));
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) continue;
    // their "*" is a wildcard within a name; everything else is literal
    out.push(`/${rel.replace(/[?[\\]/g, (c) => `\\${c}`)}`);
  }
  return out;
}

/** Disk usage and entry count of a clone source under its excludes: sizes an image given no size. */
async function cloneUsage(spec: BuildSpec): Promise<{ bytes: number; inodes: number }> {
  if (spec.source.kind !== 'clone') return { bytes: 0, inodes: 0 };
  const s = spec.source;
  return treeUsage(s.root, { excludes: new ExcludeSet([...(s.defaultExcludes ? DEFAULT_EXCLUDES : []), ...s.exclude, ...ownPathExcludes(spec)]), oneFileSystem: s.oneFileSystem });
}

function stage(id: string, title: string, run: Stage['run'], skipReason?: Stage['skipReason'], always?: boolean, blocked?: Stage['blocked']): Stage {
  const s: Stage = { id, title, run };
  if (skipReason) s.skipReason = skipReason;
  if (always) s.always = true;
  if (blocked) s.blocked = blocked;
  return s;
}

/** The kernel and initrd a spec names; "dom0" means the running Dom0's own, as the seed's duncan boots. */
export function kernelOf(spec: BuildSpec): { kernel?: string; initrd?: string; fromDom0: boolean } {
  const k = spec.domain.kernel;
  if (k !== 'dom0') return { ...(k ? { kernel: k } : {}), ...(spec.domain.initrd ? { initrd: spec.domain.initrd } : {}), fromDom0: false };
  const release = osRelease();
  const initrd = spec.domain.initrd !== undefined && spec.domain.initrd !== 'dom0' ? spec.domain.initrd : (existsSync(`/boot/initrd.img-${release}`) ? `/boot/initrd.img-${release}` : undefined);
  return { kernel: `/boot/vmlinuz-${release}`, ...(initrd ? { initrd } : {}), fromDom0: true };
}

/** The xl domain model for a spec, built from its typed fields (xen-tools' layout: swap on xvda1, root on xvda2; root alone on xvda1). */
export function domainOf(spec: BuildSpec): XenDomain {
  const disk = diskPathOf(spec);
  if (disk === undefined) throw new DomuError('INTERNAL', `a ${spec.target.kind} target has no disk for a domain`);
  const swap = swapPathOf(spec);
  const fs = spec.target.kind === 'image' || spec.target.kind === 'lvm' ? spec.target.fs : 'ext4';
  const backend = (p: string): DomainDisk['backend'] => (p.startsWith('/dev/') ? 'phy' : 'file');
  const root: DomainDisk = { target: disk, vdev: swap ? ROOT_VDEV : ROOT_ALONE_VDEV, backend: backend(disk), access: 'rw', mounts: [{ mountpoint: '/', fs }] };
  if (spec.target.kind === 'image' && spec.target.format === 'qcow2') root.format = 'qcow2';
  const disks: DomainDisk[] = [root];
  if (swap) disks.push({ target: swap, vdev: SWAP_VDEV, backend: backend(swap), access: 'rw', mounts: [{ mountpoint: 'swap', fs: 'swap' }] });
  const n = spec.domain.network;
  const vif: DomainVif = {
    ...(n.mac ? { mac: n.mac } : {}),
    ...(n.bridge ? { bridge: n.bridge } : {}),
    ...(n.ip ? { ip: n.ip } : {}),
    ...(n.netmask ? { netmask: n.netmask } : {}),
    ...(n.gateway ? { gateway: n.gateway } : {}),
    ...(n.dhcp ? { dhcp: true } : {}),
    ...(n.nameservers.length ? { nameservers: n.nameservers } : {}),
  };
  const k = kernelOf(spec);
  return {
    name: spec.name,
    type: spec.domain.type,
    memory: spec.domain.memory,
    vcpus: spec.domain.vcpus,
    disks,
    vifs: [vif],
    ...(spec.domain.pygrub ? { bootloader: 'pygrub' } : spec.domain.pvgrub ? { bootloader: PVGRUB } : {}),
    ...(k.kernel ? { kernel: k.kernel } : {}),
    ...(k.initrd ? { ramdisk: k.initrd } : {}),
    ...(spec.domain.extra ? { extra: spec.domain.extra } : {}),
  };
}

/** The domain as the config names it: the console is the one the fixups settled from the guest's kernel. */
function configuredDomain(ctx: BuildContext, domain: XenDomain): XenDomain {
  return ctx.fixup ? { ...domain, console: consoleOf(ctx.fixup) } : domain;
}

const noDisk = (spec: BuildSpec) => (diskPathOf(spec) === undefined ? `a ${spec.target.kind} target has no disk to configure or boot` : undefined);

/** The fixup options (src/fixup's FixupOptions) for a spec. */
function fixupOptionsOf(spec: BuildSpec, domain: XenDomain | undefined, access: AccessOptions | undefined): FixupOptions {
  const src = spec.source;
  const excluded = src.kind === 'clone' ? [...(src.defaultExcludes ? DEFAULT_EXCLUDES : []), ...src.exclude.filter((p) => p.startsWith('/') && !/[*?[]/.test(p))] : [];
  // an image or a tarball is a partial file until its close has flushed it whole (FixupOptions.syncEachFile)
  const partial = spec.target.kind === 'image' || spec.target.kind === 'tar';
  return { ...(spec.fixups.options as FixupOptions), ...(partial ? { syncEachFile: false } : {}), hostname: spec.hostname, ...(domain ? { domain } : {}), ...(excluded.length ? { excluded } : {}), ...(access ? { access } : {}) };
}

/** The access fixup's options from the spec's access section (undefined: nothing asked). */
export function accessOptionsOf(spec: BuildSpec): AccessOptions | undefined {
  const a = spec.access;
  const rootPassword: AccessOptions['rootPassword'] = a.password !== undefined ? { kind: 'plain', password: a.password }
    : a.passwordFile !== undefined ? { kind: 'file', path: a.passwordFile }
      : a.passwdHash !== undefined ? { kind: 'hash', hash: a.passwdHash }
        : a.genpass ? { kind: 'generate' } : undefined;
  if (!rootPassword && a.authorizedKeys.length === 0 && !a.accounts) return undefined;
  return { ...(rootPassword ? { rootPassword } : {}), ...(a.authorizedKeys.length ? { authorizedKeysFiles: a.authorizedKeys } : {}), ...(a.accounts ? { accounts: true } : {}) };
}

/** The fixup stages (ids fixup/NAME), from src/fixup when it is part of this build. */
export function fixupStages(): readonly FixupStage[] {
  return FIXUP_STAGES;
}

/** The stages for a spec, in order, with the fixup stages loaded. */
export async function planStages(spec: BuildSpec): Promise<Stage[]> {
  const wanted = (id: string) => (spec.fixups.only.length === 0 || spec.fixups.only.some((o) => id === o || id === `fixup/${o}`)) && !spec.fixups.skip.some((o) => id === o || id === `fixup/${o}`);
  const all = fixupStages();
  for (const [field, list] of [['only', spec.fixups.only], ['skip', spec.fixups.skip]] as const) {
    for (const id of list) {
      if (!all.some((f) => f.id === id || f.id === `fixup/${id}`)) {
        throw new DomuError('BAD_INPUT', `${spec.file ?? 'spec'}: fixups.${field}: no fixup "${id}" (there are: ${all.map((f) => f.id.slice(6)).join(', ')})`);
      }
    }
  }
  return buildStages(spec, all.filter((f) => wanted(f.id)));
}

// ---- The stages, in build order. Each takes the one BuildContext and returns early when it does not
// apply (the list's skipReason says why, for the report); the note it returns is the stage's summary.

/** What a tarball source needs on the target: its entries' sizes by the one sizing rule (as unpack sizes it). */
async function tarballUsage(ctx: BuildContext, file: string, trusted: boolean | undefined): Promise<TreeUsage> {
  const check = await checkTarball(file, { trusted: trusted === true, signal: ctx.signal });
  ctx.tarballCheck = check;
  return usageOfTotals(check.bytes, check.entries);
}

/** target/open: make and mount the target (or a copy/overlay of a fleet's base). */
export async function openTargetStage(ctx: BuildContext): Promise<string> {
  const { spec } = ctx;
  const src = spec.source;
  if (src.kind === 'base') {
    const t = spec.target;
    if (t.kind !== 'image') throw new DomuError('INTERNAL', 'a fleet guest is always an image file');
    ctx.target = await openFromBase({ base: src.image, method: src.method, path: t.path, fs: t.fs, cleanup: ctx.cleanup, ...(t.size ? { size: t.size } : {}) });
    ctx.root = ctx.target.root;
    return `${src.method === 'copy' ? 'sparse copy' : 'qcow2 overlay'} of the base ${basename(src.image)} mounted at ${ctx.root}`;
  }
  // A spec lays out its outputs: their folder is made if missing, as for the swap file
  // (the clone command's --image still refuses a missing folder, a guard against typos).
  if ((spec.target.kind === 'image' || spec.target.kind === 'tar') && ctx.inputs.makeParents !== false) await mkdir(dirname(spec.target.path), { recursive: true });
  if (spec.target.kind === 'dir' && ctx.inputs.dirBySource) {
    // cloneTree checks and makes the directory itself (a target inside the source is refused before it exists)
    const path = resolve(spec.target.path);
    const dirSpec = { kind: 'dir' as const, path };
    ctx.target = { root: path, spec: dirSpec, hostPaths: [], explainError: () => undefined, close: async () => ({ kind: 'dir', path }) };
    ctx.root = path;
    return `directory ${path}`;
  }
  const hint = ctx.inputs.sizeHint ?? (src.kind === 'clone' ? () => cloneUsage(spec) : src.kind === 'tarball' ? () => tarballUsage(ctx, src.file, src.trusted) : undefined);
  if (!hint && (spec.target.kind === 'image' || spec.target.kind === 'lvm') && !spec.target.size) {
    throw new DomuError('BAD_INPUT', `target.size is required for an install into an image or volume`);
  }
  ctx.target = await openTarget(targetSpecOf(spec), { cleanup: ctx.cleanup, signal: ctx.signal, log: ctx.log, ...(hint ? { sizeHint: hint } : {}) });
  ctx.root = ctx.target.root;
  return `${spec.target.kind} ready at ${ctx.root}`;
}

/** target/swap: the swap disk (swap.img beside the image, or the volume NAME-swap beside NAME-disk), made with mkswap. */
export async function makeSwapStage(ctx: BuildContext): Promise<string | void> {
  const { spec } = ctx;
  const t = spec.target;
  const path = swapPathOf(spec);
  if (path === undefined) return;
  const label = `${spec.name}-swap`;
  // its removal stays on the build's stack only until the target is closed (closeTarget)
  const own = new CleanupStack();
  ctx.keepSwap = ctx.cleanup.push(`remove swap ${path}`, async () => void (await own.runAll()));
  if (t.kind === 'lvm') await makeSwap({ kind: 'lvm', vg: t.vg, lv: swapVolumeOf(t.lv), path, size: t.swap!, label }, own);
  else {
    await makeSwap({ kind: 'file', path, size: t.kind === 'image' ? t.swap! : 0, label }, own);
    await chmod(path, 0o600); // a swap disk holds guest memory, secrets included
  }
  ctx.swapPath = path;
  return `swap ${path}`;
}

/** source/clone: copy the source root into the target. */
export async function cloneSource(ctx: BuildContext): Promise<string | void> {
  const { spec } = ctx;
  const src = spec.source;
  if (src.kind !== 'clone') return;
  const summary = await cloneTree({
    source: src.root,
    target: ctx.root!,
    excludes: [...src.exclude, ...ownPathExcludes(spec, { config: !ctx.inputs.noConfig }), ...hostPathExcludes(ctx)],
    defaultExcludes: src.defaultExcludes,
    oneFileSystem: src.oneFileSystem,
    signal: ctx.signal,
    ...(src.workers ? { workers: src.workers } : {}),
    ...(diskPathOf(spec) ? { resumeKey: diskPathOf(spec)! } : {}),
    onProgress: (p) => ctx.status(`clone: ${p.phase} ${p.entriesDone}/${p.entriesFound} entries, ${(p.bytes / 2 ** 20).toFixed(0)} MiB`),
    ...(ctx.target && spec.target.kind !== 'dir' ? { explainError: (e: unknown) => ctx.target!.explainError(e) } : {}),
    ...ctx.inputs.clone,
  });
  ctx.results.clone = summary;
  if (summary.errors.length > 0 && !ctx.inputs.partialOk) throw new DomuError('PARTIAL', `clone: ${summary.errors.length} entries could not be copied (first: ${summary.errors[0]!.path}: ${summary.errors[0]!.message})`);
  const n = Object.values(summary.copied).reduce((a, b) => a + b, 0);
  return `${n} entries, ${(summary.bytes / 2 ** 20).toFixed(1)} MiB in ${summary.seconds.toFixed(1)}s`;
}

/** source/install: install the distribution into the target. */
export async function installSource(ctx: BuildContext): Promise<string | void> {
  const { spec } = ctx;
  const src = spec.source;
  if (src.kind !== 'install') return;
  const common = { root: ctx.root!, signal: ctx.signal, cleanup: ctx.cleanup, pygrub: spec.domain.pygrub, pvgrub: spec.domain.pvgrub, noKernel: !src.kernel, noSsh: !spec.access.ssh, ...(src.arch ? { arch: src.arch } : {}) };
  const opts: InstallOptions =
    'dist' in src
      ? { ...common, distro: src.distro, suite: src.dist, include: src.include, ...(src.mirror ? { mirror: src.mirror } : {}), ...(src.variant ? { variant: src.variant } : {}), ...(src.tool ? { tool: src.tool } : {}) }
      : { ...common, distro: src.distro, repos: src.repos, packages: src.packages, ...(src.releaseRpm ? { releaseRpm: src.releaseRpm } : {}), ...(src.group !== undefined ? { group: src.group } : {}), ...(src.releasever ? { releasever: src.releasever } : {}) };
  opts.onProgress = (p) => ctx.status(`install: ${p.phase}: ${p.unpacked} unpacked, ${p.configured} configured`);
  const r = await installDistribution(ctx.inputs.install ? ({ ...ctx.inputs.install, root: ctx.root!, signal: ctx.signal, cleanup: ctx.cleanup } as InstallOptions) : opts);
  ctx.results.install = r;
  return `${r.release} by ${r.tool}: ${r.packages} packages in ${r.seconds.toFixed(0)}s (log ${r.logFile})`;
}

/** source/extract: unpack the rootfs tarball into the target. */
export async function unpackSource(ctx: BuildContext): Promise<string | void> {
  const src = ctx.spec.source;
  if (src.kind !== 'tarball') return;
  const { checked, ...extractOpts } = ctx.inputs.extract ?? {};
  ctx.results.extract = await extractTarball(src.file, ctx.root!, { trusted: src.trusted, signal: ctx.signal, ...extractOpts }, checked ?? ctx.tarballCheck);
  return `extracted ${ctx.results.extract.entries} entries from ${src.file}`;
}

/** verify: compare the clone with its source, every attribute. */
export async function verifyImage(ctx: BuildContext): Promise<string | void> {
  const { spec } = ctx;
  const src = spec.source;
  if (src.kind !== 'clone' || !spec.verify) return;
  const r = await verifyTree({
    source: src.root,
    target: ctx.root!,
    excludes: [...src.exclude, ...ownPathExcludes(spec), ...hostPathExcludes(ctx)],
    defaultExcludes: src.defaultExcludes,
    oneFileSystem: src.oneFileSystem,
    // clone keeps times to the nanosecond (its last pass sets what Node's utimes cannot)
    mtimePrecision: 'ns',
    ignoreLostFound: true,
    cleanup: ctx.cleanup,
    onProgress: (p) => ctx.status(`verify: ${p.phase} ${p.entries} entries ${(p.bytes / 2 ** 20).toFixed(0)} MiB`),
  });
  ctx.results.verify = r;
  if (!r.identical) {
    const counts = Object.entries(r.counts).map(([k, v]) => `${k} ${v}`).join(', ');
    throw new DomuError('VERIFY_FAILED', `verify: the clone differs from ${src.root}: ${counts} (first: ${r.differences[0]!.kind} ${r.differences[0]!.path})`);
  }
  return `identical: ${r.entries.source} entries, ${(r.bytesCompared / 2 ** 20).toFixed(0)} MiB compared in ${r.seconds.toFixed(1)}s`;
}

/** packages: the spec's extra packages (apt-get in a chroot, or dnf --installroot). */
export async function installPackagesStage(ctx: BuildContext): Promise<string | void> {
  const { spec } = ctx;
  if (spec.packages.length === 0) return;
  const r = await installPackages(ctx.root!, spec.packages, ctx.cleanup, ctx.signal);
  return `${spec.packages.length} package(s) by ${r.manager}: ${spec.packages.join(' ')}`;
}

/** fixup/NAME: one fixup on the guest root (the first one run makes src/fixup's shared context). */
export async function runFixups(ctx: BuildContext, f: FixupStage): Promise<string> {
  const { spec } = ctx;
  if (!ctx.fixup) {
    ctx.domain ??= noDisk(spec) ? undefined : domainOf(spec);
    ctx.fixup = await createFixupContext(ctx.root!, fixupOptionsOf(spec, ctx.domain, ctx.access));
  }
  const k = kernelOf(spec);
  if (f.id === 'fixup/kernel-modules' && k.fromDom0 && !existsSync(`/lib/modules/${osRelease()}`)) {
    // A Dom0 that does not run from its own /boot (a container, a cloud VM) has no modules to give.
    ctx.log(`warning: the Dom0's running kernel ${osRelease()} has no /lib/modules here; no modules copied`);
    return `not done: /lib/modules/${osRelease()} does not exist on this Dom0`;
  }
  const r = await f.run(ctx.fixup);
  (ctx.results.fixups ??= []).push(r);
  if (r.status === 'skipped') return `not needed: ${r.reason ?? ''}`;
  return `${r.status}${r.actions.length ? `, ${r.actions.length} change(s)` : ''}${r.notes.length ? `; note: ${r.notes.join('; ')}` : ''}`;
}

/** role/NAME: one role script, the guest root as $1. */
export async function runRoles(ctx: BuildContext, script: string): Promise<string> {
  await runRole(script, ctx);
  return `ran ${script}`;
}

/** target/close: sync, unmount, detach, convert. */
export async function closeTarget(ctx: BuildContext): Promise<string | void> {
  if (!ctx.target) return;
  const t = ctx.target;
  ctx.target = undefined;
  ctx.results.target = await t.close();
  ctx.keepSwap?.();
  const s = ctx.results.target;
  return `${s.kind} ${s.path}${s.size ? `, ${(s.size / 2 ** 30).toFixed(2)} GiB` : ''}${s.fileBytes ? `, ${(s.fileBytes / 2 ** 20).toFixed(0)} MiB on disk` : ''}`;
}

/** xen/config: the xl domain config. */
export async function writeDomainConfig(ctx: BuildContext): Promise<string | void> {
  const { spec } = ctx;
  if (noDisk(spec)) return;
  ctx.domain ??= domainOf(spec);
  // A config domu-forge wrote for this guest before is ours to replace; anyone else's is kept.
  const ours = findGuest(spec.name)?.config === spec.domain.config;
  // A Dom0 without its running kernel in /boot (a container or a cloud VM) still gets the config that
  // names it, with a warning, rather than no config.
  const k = kernelOf(spec);
  const missingDom0Kernel = k.fromDom0 && k.kernel !== undefined && !existsSync(k.kernel);
  if (missingDom0Kernel) ctx.log(`warning: the Dom0's kernel ${k.kernel} is not in /boot; the config names it anyway`);
  // The fixups settled the console from the guest's kernel; the config says the same.
  const r = await writeXlConfig(configuredDomain(ctx, ctx.domain), {
    output: spec.domain.config,
    force: ours || (spec.target.kind !== 'dir' && spec.target.kind !== 'tar' && spec.target.force),
    ...(missingDom0Kernel ? { checkPaths: false } : {}),
  });
  ctx.results.config = { path: r.path, status: r.status };
  return `${r.status} ${r.path}${missingDom0Kernel ? ` (warning: ${k.kernel} is missing here)` : ''}`;
}

/** boot-test: boot the finished image and watch its console. */
export async function bootTestStage(ctx: BuildContext): Promise<string | void> {
  const { spec } = ctx;
  if (!spec.bootTest) return;
  const k = kernelOf(spec);
  const opts: BootTestOptions = {
    image: ctx.results.target?.path ?? diskPathOf(spec)!,
    mode: spec.bootTest.mode,
    hostname: spec.hostname,
    timeoutSeconds: spec.bootTest.timeout,
    memory: Math.max(spec.domain.memory, 512),
    signal: ctx.signal,
    onProgress: (m) => ctx.status(`boot-test: ${m}`),
    ...(ctx.results.config ? { config: ctx.results.config.path } : {}),
    // log in with the password this build set (given, read from a file, or generated); with only a
    // hash or keys there is no plaintext, and boot-test sets its own on a throwaway copy
    ...(ctx.access?.rootPassword?.kind === 'plain' ? { login: { user: 'root', password: ctx.access.rootPassword.password } } : {}),
    // PyGRUB guests boot their own kernel, found in the image's /boot; so does a "dom0" kernel
    // that this host does not have in /boot (a container or cloud VM): the image's own then boots
    ...(!spec.domain.pygrub && !spec.domain.pvgrub && k.kernel && (!k.fromDom0 || existsSync(k.kernel)) ? { kernel: k.kernel } : {}),
    ...(!spec.domain.pygrub && !spec.domain.pvgrub && k.initrd && (!k.fromDom0 || existsSync(k.initrd)) ? { initrd: k.initrd } : {}),
  };
  const r = await bootTest(opts);
  ctx.results.bootTest = r;
  if (!r.passed) throw new DomuError('BOOT_FAILED', `boot test (${r.mode}) failed: ${r.reason} (console log ${r.consoleLog})`);
  return `${r.mode}: ${r.reason} in ${r.seconds.toFixed(0)}s (console log ${r.consoleLog})`;
}

/** inventory: record the guest (domu-forge list). */
export async function recordInventory(ctx: BuildContext): Promise<string | void> {
  const { spec } = ctx;
  if (!ctx.results.target) return;
  // delete removes what the inventory names; a whole device is the admin's, never removed
  if (spec.target.kind === 'device') return `not recorded: ${spec.target.path} is a whole device (delete would not remove it)`;
  const disk = diskPathOf(spec) ?? (spec.target.kind === 'dir' || spec.target.kind === 'tar' ? spec.target.path : '');
  recordGuest({
    name: spec.name,
    hostname: spec.hostname,
    disk: { kind: spec.target.kind, path: disk, ...(spec.target.kind === 'image' ? { format: spec.target.format } : {}) },
    ...(ctx.swapPath ? { swap: { kind: spec.target.kind === 'lvm' ? 'lvm' : 'image', path: ctx.swapPath } } : {}),
    ...(ctx.results.config ? { config: ctx.results.config.path } : {}),
    ...(spec.domain.network.ip ? { ip: spec.domain.network.ip } : {}),
    ...(ctx.domain?.vifs[0]?.mac ? { mac: ctx.domain.vifs[0].mac } : spec.domain.network.mac ? { mac: spec.domain.network.mac } : {}),
    ...(spec.file ? { spec: spec.file } : {}),
    ...(ctx.record?.fleet ? { fleet: ctx.record.fleet } : {}),
    ...(ctx.record?.inputsKey ? { inputsKey: ctx.record.inputsKey } : {}),
    ...(ctx.record?.pool ? { pool: ctx.record.pool } : {}),
    ...(ctx.record?.base ? { base: ctx.record.base } : {}),
    built: new Date().toISOString(),
  });
  return `recorded ${spec.name}`;
}

/** xen/start (--boot): start the finished guest with xl create, as xen-create-image --boot does. */
export async function startGuestStage(ctx: BuildContext): Promise<string | void> {
  const config = ctx.results.config?.path;
  if (!ctx.spec.boot || !config) return;
  const r = await startDomain({ name: ctx.spec.name, config, disk: ctx.results.target?.path ?? diskPathOf(ctx.spec) ?? '', signal: ctx.signal });
  return `started ${r.name} with xl create ${config}${r.domid !== undefined ? ` (domain id ${r.domid})` : ''}`;
}

/** The role stage id of a script: role/ and its name without the extension. */
function roleId(script: string): string {
  return `role/${basename(script).replace(/\.[a-z]+$/, '')}`;
}

/** The stages for a spec, in order: the build as one flat list, like mkosi's build_image(). */
export function buildStages(spec: BuildSpec, fixups: readonly FixupStage[] = []): Stage[] {
  return [
    stage('target/open', 'make and mount the target (image file, LVM volume, directory or tarball staging tree)', openTargetStage),
    stage('target/swap', 'make the swap disk (swap.img, or the volume NAME-swap) with mkswap', makeSwapStage, (s) => (swapPathOf(s) ? undefined : 'no swap asked for')),
    stage('source/clone', 'copy the source root into the target (cloneTree)', cloneSource, (s) => (s.source.kind === 'clone' ? undefined : 'the source is not a clone')),
    stage('source/install', 'install the distribution into the target (installDistribution)', installSource, (s) => (s.source.kind === 'install' ? undefined : `the source is not an install`)),
    stage('source/extract', 'extract the rootfs tarball into the target (extractTarball)', unpackSource, (s) => (s.source.kind === 'tarball' ? undefined : 'the source is not a tarball')),
    stage('verify', 'compare the clone with its source, every attribute (verifyTree)', verifyImage, (s) => (s.source.kind !== 'clone' ? 'only a clone has a source to compare with' : s.verify ? undefined : 'verify: false')),
    stage('packages', 'install the extra packages (apt-get in a chroot, or dnf --installroot)', installPackagesStage, (s) => (s.packages.length > 0 ? undefined : 'no extra packages')),
    ...fixups.map((f) => stage(f.id, f.description, (ctx) => runFixups(ctx, f))),
    ...spec.roles.map((script) => stage(roleId(script), `run the role script ${script} with the guest root as $1`, (ctx) => runRoles(ctx, script))),
    stage('target/close', 'sync, unmount, detach, convert (always runs once the target is open)', closeTarget, undefined, true, (ctx) => (ctx.target ? undefined : 'no target open')),
    stage('xen/config', 'write the xl domain config (writeDomainConfig)', writeDomainConfig, noDisk),
    stage('boot-test', 'boot the finished image and watch its console (bootTest)', bootTestStage, (s) => (s.bootTest ? noDisk(s) : 'bootTest: false')),
    stage('inventory', 'record the guest in the inventory (domu-forge list)', recordInventory, undefined, true, (ctx) => (ctx.results.target ? undefined : 'the target was not finished')),
    { ...stage('xen/start', 'start the guest with xl create (--boot)', startGuestStage, (s) => (s.boot ? noDisk(s) : 'boot: false'), false, (ctx) => (ctx.results.config ? undefined : 'no xl config was written')), afterBuild: true },
  ];
}

/** Run a role script as xen-tools does: the guest root as $1, the guest's identity in the environment. */
async function runRole(script: string, ctx: BuildContext): Promise<void> {
  const { spec } = ctx;
  const env = {
    ...process.env,
    DOMU_FORGE_ROOT: ctx.root!,
    DOMU_FORGE_NAME: spec.name,
    DOMU_FORGE_HOSTNAME: spec.hostname,
    DOMU_FORGE_IP: spec.domain.network.ip ?? '',
    DOMU_FORGE_DIST: spec.source.kind === 'install' && 'dist' in spec.source ? spec.source.dist : '',
  };
  await new Promise<void>((resolve, reject) => {
    const child = spawn(script, [ctx.root!], { env, stdio: ['ignore', 'pipe', 'pipe'], signal: ctx.signal });
    let tail = '';
    const keep = (b: Buffer) => {
      tail = (tail + b.toString()).slice(-2000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', (e) => reject(new DomuError('BAD_INPUT', `role ${script}: ${oneLine(e)}`)));
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new DomuError('INTERNAL', `role ${script} failed with status ${code}: ${oneLine(tail.split('\n').filter(Boolean).slice(-1)[0] ?? '')}`));
    });
  });
}

function matches(id: string, pattern: string): boolean {
  return id === pattern || id.startsWith(`${pattern}/`);
}

/** Check --skip and --stop-after against the stage ids, before anything runs. */
export function checkStageIds(stages: readonly Stage[], options: Pick<RunBuildOptions, 'skip' | 'stopAfter'>): void {
  const ids = stages.map((s) => s.id);
  for (const id of [...(options.skip ?? []), ...(options.stopAfter ? [options.stopAfter] : [])]) {
    if (!ids.some((s) => matches(s, id))) throw new DomuError('USAGE', `no stage "${id}"; the stages are: ${ids.join(', ')}`);
  }
  for (const id of options.skip ?? []) {
    if (matches('target/close', id) || id === 'target') throw new DomuError('USAGE', 'target/close cannot be skipped (it releases the target)');
  }
}

/** Run a spec's stages. Never throws for a stage failure: the result says what failed (error), after cleanup. */
export async function runBuild(spec: BuildSpec, options: RunBuildOptions = {}): Promise<BuildResult> {
  return (await runStages(spec, options)).result;
}

/**
 * The runner: runBuild's result, with the context the stages filled (the clone, install and unpack
 * commands print its results) and the error as thrown (with its hint), when a stage failed.
 */
export async function runStages(spec: BuildSpec, options: RunBuildOptions = {}): Promise<{ result: BuildResult; ctx: BuildContext; failure?: unknown }> {
  const started = performance.now();
  const planned = await planStages(spec);
  const stages = options.only ? planned.filter((s) => options.only!.includes(s.id)) : planned;
  checkStageIds(stages, options);
  const cleanup = options.cleanup ?? new CleanupStack();
  const ctx: BuildContext = {
    spec,
    cleanup,
    signal: options.signal ?? new AbortController().signal,
    log: options.log ?? (() => undefined),
    status: options.status ?? (() => undefined),
    results: {},
    inputs: options.inputs ?? {},
    ...(options.record ? { record: options.record } : {}),
  };
  // a command that runs no fixups has no use for a root password
  const access = stages.some((s) => s.id.startsWith('fixup/')) ? accessOptionsOf(spec) : undefined;
  if (access) {
    const prepared = await prepareAccess(access);
    ctx.access = prepared.options;
    if (prepared.generated !== undefined) ctx.generatedPassword = prepared.generated;
  }
  const reports: StageReport[] = [];
  let failure: unknown;
  let failedAfterBuild = false;
  let stopped = false;
  for (const s of stages) {
    const t0 = performance.now();
    const report = (status: StageStatus, note?: string) =>
      reports.push({ id: s.id, status, seconds: (performance.now() - t0) / 1000, ...(note ? { note } : {}) });
    if (failure !== undefined || (stopped && !s.always)) {
      report('not-run');
      continue;
    }
    const na = s.skipReason?.(spec);
    if (na) {
      report('not-applicable', na);
      continue;
    }
    if ((options.skip ?? []).some((p) => matches(s.id, p))) {
      report('skipped', '--skip');
      continue;
    }
    const blocked = s.blocked?.(ctx);
    if (blocked) {
      report('not-applicable', blocked);
      continue;
    }
    try {
      if (ctx.signal.aborted) throw new DomuError('INTERRUPTED', 'interrupted');
      ctx.status(`${s.id}: ${s.title}`);
      const note = await s.run(ctx);
      report('done', note ?? undefined);
      if (!ctx.inputs.quietStages) ctx.log(`${s.id}: ${note ?? 'done'}`);
    } catch (e) {
      // Whatever a stage threw once the signal came, the cause is the interruption.
      const err = ctx.signal.aborted && !(ctx.inputs.ownInterrupt && isDomuError(e) && e.code === 'INTERRUPTED') ? new DomuError('INTERRUPTED', `interrupted during ${s.id}; everything it set up was released`) : e;
      const explained = ctx.target?.explainError(err);
      if (failure === undefined && s.afterBuild) failedAfterBuild = true;
      failure ??= explained ?? err;
      report('failed', oneLine(failure));
    }
    if (options.stopAfter && matches(s.id, options.stopAfter) && !stages.slice(stages.indexOf(s) + 1).some((x) => matches(x.id, options.stopAfter!))) stopped = true;
  }
  // a stage after the build (xen/start) failing leaves the finished guest as it is
  if (failure !== undefined && !options.keepFailed && !failedAfterBuild) {
    const problems = await cleanup.runAll();
    for (const p of problems) ctx.log(`cleanup: ${p}`);
  }
  const err = failure === undefined ? undefined : isDomuError(failure) ? failure : new DomuError('INTERNAL', oneLine(failure));
  const result: BuildResult = {
    name: spec.name,
    ok: err === undefined,
    stages: reports,
    seconds: (performance.now() - started) / 1000,
    ...(ctx.results.target ? { target: ctx.results.target } : {}),
    ...(ctx.results.config ? { config: ctx.results.config.path } : {}),
    ...(ctx.results.verify ? { verify: { identical: ctx.results.verify.identical, counts: ctx.results.verify.counts, differences: ctx.results.verify.differences.slice(0, 200) } } : {}),
    ...(err ? { error: { code: err.code, message: oneLine(err.message) } } : {}),
    // a guest left in place (a finished build whose --boot failed) keeps its password: show it
    ...(ctx.generatedPassword !== undefined && (err === undefined || failedAfterBuild) ? { access: { user: 'root', generatedPassword: ctx.generatedPassword } } : {}),
    ...(spec.source.kind === 'clone' ? { accountsNote: "a clone keeps the Dom0's accounts and passwords" } : {}),
  };
  return { result, ctx, ...(failure !== undefined ? { failure } : {}) };
}
