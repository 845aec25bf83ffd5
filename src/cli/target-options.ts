// The target flags shared by clone, install, unpack and build: --image, --lvm, --device, --tar (or a
// directory), with --size --fs --label --format --populate --compress --force --mkfs-options. They
// are declared once, in src/spec/flags.ts (FLAG, TARGET_FLAGS); this file registers them with
// commander and reads them back as a TargetSpec.

import { Command, Option } from 'commander';
import { DomuError } from '../errors.js';
import type { Compression, FsType, TargetSpec } from '../targets/index.js';
import { parseSize } from '../targets/size.js';
import { compressionOfName } from '../tar/types.js';
import { checkFsType, checkLabel } from '../targets/mkfs.js';
import { checkLvmNames, guestVolumeNames } from '../targets/lvm.js';
import { FLAG, TARGET_FLAGS, applySpecFlags, type FlagDecl } from '../spec/flags.js';
import { basename } from 'node:path';
import type { SpecReader } from '../spec/check.js';
import { loadBuildSpec } from '../spec/load.js';
import type { BuildSpec } from '../spec/types.js';
import { applySiteDefaults, loadSiteDefaults } from '../spec/site-defaults.js';

export const DEFAULT_FS: FsType = 'ext4';
/** The exact way: loop-mount and write. mke2fs -d (1.47.0) keeps whole seconds only. */
export const DEFAULT_POPULATE = 'mount';

const collect = (v: string, acc: string[]) => [...acc, v];

/** Register one declared flag (its text, help and choices) on a command; `parse` for a value parser. */
export function addFlag(cmd: Command, decl: FlagDecl, parse?: (v: string, prev: unknown) => unknown): Command {
  const o = new Option(decl.flags, decl.description);
  if (decl.choices) o.choices(decl.choices);
  if (parse) o.argParser(parse);
  else if (decl.repeatable) o.argParser(collect).default([] as string[]);
  return cmd.addOption(o);
}

/** The target flags, --name (with --lvm VG the volume is NAME-disk) and --defaults (the site defaults). */
export function addTargetOptions(cmd: Command): Command {
  for (const f of TARGET_FLAGS) addFlag(cmd, f);
  addFlag(cmd, FLAG.guestName);
  return addFlag(cmd, FLAG.defaults);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** --compress from the tarball's name when not given. */
export function compressionFromName(file: string): Compression {
  return compressionOfName(file);
}

/** --format from the image's name when not given. */
export function formatFromName(file: string): 'raw' | 'qcow2' | 'vmdk' {
  if (/\.qcow2$/i.test(file)) return 'qcow2';
  if (/\.vmdk$/i.test(file)) return 'vmdk';
  return 'raw';
}

/**
 * The target the options name. `dir` is the positional target directory, if the command has one.
 * Exactly one of dir, --image, --lvm, --device, --tar; flags that do not apply to it are refused.
 */
export function targetSpecFromOptions(dir: string | undefined, opts: Record<string, unknown>, guestName: string | undefined = str(opts.name)): TargetSpec {
  const image = str(opts.image);
  const lvm = str(opts.lvm);
  const device = str(opts.device);
  const tar = str(opts.tar);
  const named = [
    dir !== undefined ? `the directory ${dir}` : undefined,
    image !== undefined ? '--image' : undefined,
    lvm !== undefined ? '--lvm' : undefined,
    device !== undefined ? '--device' : undefined,
    tar !== undefined ? '--tar' : undefined,
  ].filter((x): x is string => x !== undefined);
  if (named.length === 0) throw new DomuError('USAGE', 'name a target: a directory, --image FILE, --lvm VG/LV, --device DEV or --tar FILE');
  if (named.length > 1) throw new DomuError('USAGE', `give one target, not ${named.join(' and ')}`);

  const force = opts.force === true;
  const sizeText = str(opts.size);
  const fsText = str(opts.fs);
  const label = str(opts.label);
  const format = str(opts.format);
  const populate = str(opts.populate);
  const compress = str(opts.compress);
  const mkfsText = str(opts.mkfsOptions);
  const refuse = (flag: string, present: unknown, where: string) => {
    if (present !== undefined) throw new DomuError('USAGE', `${flag} does not apply to ${where}`);
  };
  const fsOf = (): FsType => (fsText === undefined ? DEFAULT_FS : checkFsType(fsText));
  const mkfsOptions = mkfsText?.split(/\s+/).filter(Boolean);
  const withMkfs = mkfsOptions && mkfsOptions.length > 0 ? { mkfsOptions } : {};

  if (dir !== undefined || tar !== undefined) {
    const where = dir !== undefined ? 'a directory target' : 'a tarball';
    for (const [flag, v] of [['--size', sizeText], ['--fs', fsText], ['--label', label], ['--format', format], ['--populate', populate], ['--mkfs-options', mkfsText]] as const) {
      refuse(flag, v, where);
    }
    if (dir !== undefined) {
      refuse('--compress', compress, where);
      return { kind: 'dir', path: dir };
    }
    const compression = (compress as Compression | undefined) ?? compressionFromName(tar!);
    return { kind: 'tar', path: tar!, compression, force };
  }
  refuse('--compress', compress, 'a filesystem target (it is for --tar)');
  const fs = fsOf();
  checkLabel(label, fs);
  const withLabel = label !== undefined ? { label } : {};

  if (image !== undefined) {
    const size = sizeText !== undefined ? parseSize(sizeText) : undefined;
    const pop = (populate ?? DEFAULT_POPULATE) as 'mount' | 'mkfs-d';
    if (pop === 'mkfs-d' && fs === 'xfs') throw new DomuError('USAGE', '--populate mkfs-d makes ext2, ext3 or ext4 only; use --populate mount for xfs');
    return {
      kind: 'image', path: image, fs, format: (format as 'raw' | 'qcow2' | 'vmdk' | undefined) ?? formatFromName(image), populate: pop,
      force, ...(size !== undefined ? { size } : {}), ...withLabel, ...withMkfs,
    };
  }
  refuse('--format', format, 'a volume or device (it is for --image)');
  refuse('--populate', populate, 'a volume or device (it is for --image)');
  if (lvm !== undefined) {
    const { vg, lv } = lvmVolume(lvm, guestName);
    const size = sizeText !== undefined ? parseSize(sizeText) : undefined;
    return { kind: 'lvm', vg, lv, fs, force, ...(size !== undefined ? { size } : {}), ...withLabel, ...withMkfs };
  }
  refuse('--size', sizeText, 'a device (the filesystem fills it)');
  return { kind: 'device', path: device!, fs, force, ...withLabel, ...withMkfs };
}

/**
 * --lvm VG/LV, or VG alone with a guest name: the volume NAME-disk, as xen-tools names it (its swap
 * is NAME-swap). A leading /dev/ is allowed.
 */
export function lvmVolume(text: string, guestName?: string): { vg: string; lv: string } {
  const m = /^([^/]+)(?:\/([^/]+))?$/.exec(text.replace(/^\/dev\//, ''));
  if (!m || (m[2] === undefined && !guestName)) throw new DomuError('USAGE', `--lvm takes VG/LV (volume group and new volume name), not ${JSON.stringify(text)}`);
  const lv = m[2] ?? guestVolumeNames(guestName!).disk;
  checkLvmNames(m[1]!, lv);
  return { vg: m[1]!, lv };
}

/** Site-default target fields that apply to each kind of target a command writes (it makes no swap). */
const SITE_TARGET_FIELDS: Record<TargetSpec['kind'], readonly string[]> = {
  image: ['format', 'size', 'fs', 'label', 'populate', 'force', 'mkfsOptions'],
  lvm: ['size', 'fs', 'label', 'force', 'mkfsOptions'],
  device: ['fs', 'label', 'mkfsOptions'],
  dir: [],
  tar: ['compress'],
};

const TARGET_KEYS = new Set(['image', 'lvm', 'device', 'tar', 'size', 'fs', 'label', 'format', 'populate', 'compress', 'mkfsOptions', 'force']);

/**
 * The spec a command over the runner (clone, install, unpack) builds from its flags: the target flags
 * as build reads them (SPEC_FLAGS), the source the command names, the site defaults (--defaults,
 * $DOMU_FORGE_DEFAULTS, /etc/domu-forge/defaults.yaml) under both. The target flags' usage errors
 * come first, as targetSpecFromOptions words them; the spec's own errors name the flag.
 */
export function commandSpec(
  dir: string | undefined,
  opts: Record<string, unknown>,
  source: Record<string, unknown>,
  extra?: (r: SpecReader) => void,
): { spec: BuildSpec; defaults?: string } {
  const named = targetSpecFromOptions(dir, opts);
  const site = loadSiteDefaults(str(opts.defaults));
  const flags: Record<string, unknown> = { ...source };
  for (const k of TARGET_KEYS) if (opts[k] !== undefined && opts[k] !== false) flags[k] = opts[k];
  if (dir !== undefined) flags.rootDir = dir;
  if (opts.name !== undefined) flags.name = opts.name;
  const spec = loadBuildSpec(undefined, (r) => {
    if (site) {
      const t = site.data.target;
      const keep = SITE_TARGET_FIELDS[named.kind];
      const target = t && typeof t === 'object' && !Array.isArray(t) ? Object.fromEntries(Object.entries(t).filter(([k]) => keep.includes(k))) : undefined;
      applySiteDefaults(r, { ...(target ? { target } : {}), ...(site.data.source !== undefined ? { source: site.data.source } : {}) }, `site defaults ${site.file}`);
    }
    applySpecFlags(r, flags);
    // what the command's flags default to from the file's name (build's are raw and gzip)
    if (named.kind === 'image' && r.get(['target', 'format']) === undefined) r.set(['target', 'format'], named.format);
    if (named.kind === 'tar' && r.get(['target', 'compress']) === undefined) r.set(['target', 'compress'], named.compression);
    extra?.(r);
  }, { defaultName: defaultNameOf(named), domainless: true });
  return { spec, ...(site ? { defaults: site.file } : {}) };
}

/** A name for a command's spec that gives none (only the inventory and --lvm VG use it): the target's. */
function defaultNameOf(t: TargetSpec): string {
  const base = t.kind === 'lvm' ? t.lv : basename(t.path).replace(/\..*$/, '');
  const name = base.replace(/[^A-Za-z0-9_.-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 64);
  return name || 'guest';
}
