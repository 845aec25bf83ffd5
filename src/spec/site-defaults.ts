// Site defaults (/etc/domu-forge/defaults.yaml, --defaults FILE, DOMU_FORGE_DEFAULTS): spec fields
// under the spec file and the flags. They fill only what the spec leaves unset; a spec that names
// another kind of target or source than the defaults do keeps its own (KIND_KEYS). Each value keeps
// its origin, so `build --print-spec` can say where it came from.

import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { DomuError, oneLine } from '../errors.js';
import type { SpecReader } from './check.js';
import { fieldName } from './check.js';
import { KIND_KEYS } from './layers.js';
import type { BuildSpec } from './types.js';

export const SITE_DEFAULTS = '/etc/domu-forge/defaults.yaml';

export interface SiteDefaults {
  file: string;
  data: Record<string, unknown>;
}

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The site defaults: the given file (which must exist), else $DOMU_FORGE_DEFAULTS, else /etc/domu-forge/defaults.yaml if it exists. */
export function loadSiteDefaults(given?: string): SiteDefaults | undefined {
  const explicit = given ?? (process.env.DOMU_FORGE_DEFAULTS || undefined);
  const file = resolve(explicit ?? SITE_DEFAULTS);
  if (!explicit && !existsSync(file)) return undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new DomuError('BAD_INPUT', `cannot read the site defaults ${file}: ${oneLine(e)}`);
  }
  let data: unknown;
  try {
    data = parse(text);
  } catch (e) {
    throw new DomuError('BAD_INPUT', `${file}: ${oneLine(e)}`);
  }
  if (data === null || data === undefined) data = {};
  if (!isMap(data)) throw new DomuError('BAD_INPUT', `${file}: site defaults are a mapping of spec fields (target:, source:, domain: ...)`);
  return { file, data };
}

/** Fill the reader's unset fields from the defaults (before the flags are applied). */
export function applySiteDefaults(r: SpecReader, data: Record<string, unknown>, origin: string): void {
  const walk = (v: Record<string, unknown>, path: string[]) => {
    const kinds = path.length === 1 ? KIND_KEYS[path[0]!] : undefined;
    const have = r.get(path);
    const namedKind = kinds && isMap(have) ? kinds.find((k) => k !== 'imageDir' && k in have) : undefined;
    for (const [k, x] of Object.entries(v)) {
      if (kinds?.includes(k) && (namedKind !== undefined || k === 'imageDir')) {
        // the spec names its own kind; the site's install or image directory does not apply
        if (namedKind !== undefined && namedKind !== k) continue;
        if (k === 'imageDir') continue; // applied after the flags (it needs the name)
      }
      const p = [...path, k];
      const cur = r.get(p);
      if (isMap(x) && (cur === undefined || isMap(cur))) {
        if (cur === undefined) r.set(p, {});
        walk(x, p);
      } else if (cur === undefined) r.set(p, structuredClone(x), origin);
    }
  };
  walk(data, []);
}

/** The site's image directory (xen-tools' dir=): DIR/domains/NAME/disk.img when nothing else names a target. */
export function applyDefaultImageDir(r: SpecReader, data: Record<string, unknown>, origin: string): void {
  const t = isMap(data.target) ? data.target : undefined;
  const dir = t?.imageDir;
  if (typeof dir !== 'string') return;
  const have = r.get(['target']);
  if (isMap(have) && KIND_KEYS.target!.some((k) => k !== 'imageDir' && k in have)) return;
  const name = r.get(['name']) ?? r.get(['hostname']);
  if (typeof name !== 'string') return;
  r.set(['target', 'image'], join(resolve(dir), 'domains', name.split('.')[0]!, 'disk.img'), origin);
}

export interface SpecValueOrigin {
  field: string;
  value: unknown;
  origin: string;
}

/** Each leaf of the resolved spec with where it came from: a flag, site defaults, the spec file:line, or a built-in default. */
export function describeSpec(spec: BuildSpec, r: SpecReader): SpecValueOrigin[] {
  const out: SpecValueOrigin[] = [];
  const originOf = (path: (string | number)[]): string => {
    for (let n = path.length; n > 0; n--) {
      const o = r.flagOrigins.get(fieldName(path.slice(0, n)));
      if (o) return o.startsWith('--') ? `flag ${o}` : o;
    }
    if (r.file !== 'command line' && r.get(path) !== undefined) return `${r.file}:${r.lineOf(path)}`;
    return 'built-in default';
  };
  // the resolved spec's target.kind/path and source.kind are written `target: {image: PATH}`,
  // `source: {install: {...}}` in a file and by the flags: look their origins up there
  const filePath = (path: (string | number)[]): (string | number)[] => {
    const [sec, field, ...rest] = path;
    if (sec === 'target' && spec.target.kind !== undefined) {
      const kind = spec.target.kind === 'lvm' ? 'lvm' : spec.target.kind;
      return field === 'kind' || field === 'path' || field === 'vg' || field === 'lv' ? ['target', kind] : path;
    }
    if (sec === 'source') {
      const kind = spec.source.kind;
      if (field === 'kind') return ['source', kind];
      if (kind === 'clone' || kind === 'install' || kind === 'tarball') return ['source', kind, field!, ...rest];
    }
    return path;
  };
  const walk = (v: unknown, path: (string | number)[]) => {
    if (isMap(v) && Object.keys(v).length > 0) {
      for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
      return;
    }
    if (path[0] === 'file') return;
    // the spec's kinds are written as `target.image: PATH` in a file; name the value as the file does
    const shown = path[0] === 'access' && path[1] === 'password' ? '(hidden)' : v;
    out.push({ field: fieldName(path), value: shown, origin: originOf(filePath(path)) });
  };
  walk(spec, []);
  return out;
}

/** An install that names no suite gets the Dom0's own, and no mirror the Dom0's, as xen-tools does. */
export function applyDom0Suite(r: SpecReader, guess: () => { distro: string; dist: string; mirror: string; from: string }): void {
  const inst = r.get(['source', 'install']);
  if (!isMap(inst) || (inst.distro !== 'debian' && inst.distro !== 'ubuntu')) return;
  if (inst.dist !== undefined && inst.mirror !== undefined) return;
  const g = guess();
  if (g.distro !== inst.distro) return;
  const origin = `the Dom0's own (${g.from})`;
  if (inst.dist === undefined) r.set(['source', 'install', 'dist'], g.dist, origin);
  if (inst.mirror === undefined) r.set(['source', 'install', 'mirror'], g.mirror, origin);
}

/** xen-create-image's own defaults for a new guest's disks (its xen-tools.conf: size = 4G, swap = 512M). */
export const INSTALL_DISK_DEFAULTS = { size: '4G', swap: '512M' } as const;

/**
 * An install into an image or volume with no size or swap from the spec, the site or a flag gets
 * xen-tools' defaults: a 4G root disk and 512M of swap. (A clone is sized from its source instead.)
 */
export function applyInstallDiskDefaults(r: SpecReader): void {
  if (!isMap(r.get(['source', 'install']))) return;
  const target = r.get(['target']);
  if (!isMap(target) || (target.image === undefined && target.lvm === undefined)) return;
  const origin = "built-in default (xen-create-image's)";
  if (target.size === undefined) r.set(['target', 'size'], INSTALL_DISK_DEFAULTS.size, origin);
  if (target.swap === undefined) r.set(['target', 'swap'], INSTALL_DISK_DEFAULTS.swap, origin);
}
