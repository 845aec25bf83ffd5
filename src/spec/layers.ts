// Site defaults, the spec file and the flags are layers of one spec: later layers win field by
// field, and every value remembers which layer (and line) it came from, for `build --print-spec`.
// Mappings merge; lists and scalars are replaced whole. A layer that names a target or source kind
// drops the other kinds the layers below named (a spec's clone source replaces the site's install).

export interface SpecLayer {
  /** "site defaults", "spec", "flags": what --print-spec shows */
  name: string;
  /** The file, when the layer is one. */
  file?: string;
  data: Record<string, unknown>;
  /** The line a field path was read from (the yaml line map), or 0. */
  lineOf?: (path: readonly (string | number)[]) => number;
  /** For flag layers: the flag that set a field path, by dotted path. */
  flagOf?: (path: string) => string | undefined;
}

export interface Layered {
  data: Record<string, unknown>;
  /** dotted leaf path -> where its value came from ("site defaults /etc/domu-forge/defaults.yaml:4", "flag --size") */
  origins: Map<string, string>;
}

/** Sections whose keys are alternative kinds: naming one drops the others from lower layers. */
export const KIND_KEYS: Readonly<Record<string, readonly string[]>> = {
  target: ['image', 'lvm', 'device', 'dir', 'tar', 'imageDir'],
  source: ['clone', 'install', 'tarball'],
};

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function originOf(layer: SpecLayer, path: readonly string[]): string {
  const dotted = path.join('.');
  const flag = layer.flagOf?.(dotted);
  if (flag) return `flag ${flag}`;
  const line = layer.lineOf?.(path) ?? 0;
  return layer.file ? `${layer.name} ${layer.file}${line > 0 ? `:${line}` : ''}` : layer.name;
}

function dropOrigins(origins: Map<string, string>, prefix: string): void {
  for (const k of [...origins.keys()]) if (k === prefix || k.startsWith(`${prefix}.`)) origins.delete(k);
}

function mergeInto(dst: Record<string, unknown>, src: Record<string, unknown>, path: string[], layer: SpecLayer, origins: Map<string, string>): void {
  const kinds = path.length === 1 ? KIND_KEYS[path[0]!] : undefined;
  if (kinds && kinds.some((k) => k in src)) {
    for (const k of kinds) {
      if (k in src || !(k in dst)) continue;
      delete dst[k];
      dropOrigins(origins, [...path, k].join('.'));
    }
  }
  for (const [k, v] of Object.entries(src)) {
    if (v === undefined) continue;
    const p = [...path, k];
    if (isMap(v) && isMap(dst[k])) {
      mergeInto(dst[k] as Record<string, unknown>, v, p, layer, origins);
      continue;
    }
    dropOrigins(origins, p.join('.'));
    dst[k] = structuredClone(v);
    recordLeaves(v, p, layer, origins);
  }
}

function recordLeaves(v: unknown, path: string[], layer: SpecLayer, origins: Map<string, string>): void {
  if (isMap(v) && Object.keys(v).length > 0) {
    for (const [k, x] of Object.entries(v)) recordLeaves(x, [...path, k], layer, origins);
    return;
  }
  origins.set(path.join('.'), originOf(layer, path));
}

/** Merge the layers, lowest first. The inputs are not changed. */
export function mergeLayers(layers: readonly SpecLayer[]): Layered {
  const data: Record<string, unknown> = {};
  const origins = new Map<string, string>();
  for (const layer of layers) mergeInto(data, layer.data, [], layer, origins);
  return { data, origins };
}

/** Lines for --print-spec: each leaf value with where it came from, in the spec's own order. */
export function describeOrigins(layered: Layered, resolved: Record<string, unknown>, fallback = 'built-in default'): string[] {
  const out: string[] = [];
  const walk = (v: unknown, path: string[]) => {
    if (isMap(v) && Object.keys(v).length > 0) {
      for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
      return;
    }
    const dotted = path.join('.');
    let origin = layered.origins.get(dotted);
    // a list or mapping given whole by a layer is recorded at its own path; find the nearest parent
    for (let i = path.length - 1; origin === undefined && i > 0; i--) origin = layered.origins.get(path.slice(0, i).join('.'));
    out.push(`${dotted}: ${JSON.stringify(v)}  (${origin ?? fallback})`);
  };
  walk(resolved, []);
  return out;
}
