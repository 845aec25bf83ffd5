// The spec reference (docs/spec.md), rendered from the zod schemas: every field of the build spec
// (schema.ts) and of the fleet file (fleet-schema.ts) with its type, default, flag and description.
// `npm run docs:spec` writes it; test/spec/docs.unit.test.ts fails when stale.

import { z } from 'zod';
import { buildSpecSchema } from './schema.js';
import { fleetFileSchema } from './fleet-schema.js';

interface Json {
  type?: string | string[];
  /** The type as the docs name it, where the schema's own is not what a user writes (a size). */
  docType?: string;
  enum?: unknown[];
  const?: unknown;
  description?: string;
  flag?: string;
  default?: unknown;
  properties?: Record<string, Json>;
  required?: string[];
  items?: Json;
  anyOf?: Json[];
  oneOf?: Json[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
}

function typeText(j: Json): string {
  if (j.docType) return j.docType;
  if (j.const !== undefined) return JSON.stringify(j.const);
  if (j.enum) return j.enum.map((v) => JSON.stringify(v)).join(' \\| ');
  if (j.type === 'array') return `list of ${j.items ? typeText(j.items) : 'values'}`;
  const alts = j.anyOf ?? j.oneOf;
  if (alts) return alts.map((a) => (a.properties ? 'mapping' : typeText(a))).join(' or ');
  const max = j.maximum !== undefined && j.maximum < Number.MAX_SAFE_INTEGER ? j.maximum : undefined;
  const min = j.minimum !== undefined && j.minimum > Number.MIN_SAFE_INTEGER ? j.minimum : undefined;
  const range = min !== undefined || max !== undefined ? ` (${min ?? ''}..${max ?? ''})` : '';
  return `${Array.isArray(j.type) ? j.type.join(' or ') : (j.type ?? 'value')}${range}`;
}

function cell(v: unknown): string {
  return v === undefined ? '' : (typeof v === 'string' ? v : JSON.stringify(v)).replace(/\|/g, '\\|');
}

function rows(j: Json, path: string, out: string[], required: boolean): void {
  const alts = j.anyOf ?? j.oneOf;
  const kids = j.properties;
  if (kids) {
    if (path) out.push(`| \`${path}\` | mapping | | ${cell(j.flag)} | ${cell(j.description)} |`);
    for (const [k, v] of Object.entries(kids)) rows(v, path ? `${path}.${k}` : k, out, j.required?.includes(k) ?? false);
    return;
  }
  if (alts && alts.some((a) => a.properties)) {
    const kinds = [...new Set(alts.map((a) => (a.properties?.kind?.const !== undefined ? String(a.properties.kind.const) : a.properties ? 'mapping' : typeText(a))))];
    out.push(`| \`${path}\` | one of ${kinds.join(', ')} | ${cell(j.default)} | ${cell(j.flag)} | ${cell(j.description)} |`);
    for (const a of alts.filter((x) => x.properties)) {
      const kind = a.properties!.kind?.const;
      const sub = kind === undefined ? path : `${path}.${String(kind)}`;
      if (kind !== undefined) out.push(`| \`${sub}\` | mapping | | ${cell(a.properties!.kind!.flag)} | ${cell(a.properties!.kind!.description ?? a.description)} |`);
      for (const [k, v] of Object.entries(a.properties!)) {
        if (k === 'kind') continue;
        rows(v, `${sub}.${k}`, out, a.required?.includes(k) ?? false);
      }
    }
    return;
  }
  out.push(`| \`${path}\` | ${typeText(j)}${required && j.default === undefined ? ', required' : ''} | ${cell(j.default)} | ${cell(j.flag)} | ${cell(j.description)} |`);
}

/** The schema under a wrapper: a pipe's output (its input when the output is a transform: the value as read), optional, default. */
function under(s: z.ZodType): z.ZodType | undefined {
  if (s instanceof z.ZodPipe) return (s.out instanceof z.ZodTransform ? s.in : s.out) as z.ZodType;
  if (s instanceof z.ZodOptional || s instanceof z.ZodDefault) return s.unwrap() as z.ZodType;
  return undefined;
}

/** The schema that says what a field holds. */
function innerSchema(s: z.ZodType): z.ZodType {
  for (let n = under(s); n; n = under(s)) s = n;
  return s;
}

/** A field's docs: its type from the innermost schema, its metadata (description, default, docType, flag) from every wrapper, the outermost winning. */
function fieldDoc(s: z.ZodType): Json {
  const metas: Json[] = [];
  for (let t: z.ZodType | undefined = s; t; t = under(t)) metas.unshift((t.meta() ?? {}) as Json);
  const { default: fallback } = z.toJSONSchema(s, { unrepresentable: 'any' }) as Json;
  return { ...(z.toJSONSchema(innerSchema(s), { unrepresentable: 'any' }) as Json), ...(fallback !== undefined ? { default: fallback } : {}), ...Object.assign({}, ...metas) };
}

/** Rows for a mapping of the file: one per field, and the fields of a list's mappings as `list[].field`. */
function fileRows(shape: Record<string, z.ZodType>, path: string, out: string[]): void {
  for (const [k, s] of Object.entries(shape)) {
    const p = path ? `${path}.${k}` : k;
    const j = fieldDoc(s);
    const inner = innerSchema(s);
    const element = inner instanceof z.ZodArray ? innerSchema(inner.element as z.ZodType) : undefined;
    const type = element instanceof z.ZodObject ? `list of mappings${(inner as z.ZodArray<z.ZodType>).safeParse([]).success ? '' : ' (at least one)'}` : typeText(j);
    out.push(`| \`${p}\` | ${type}${s.isOptional() ? '' : ', required'} | ${cell(j.default)} | ${cell(j.flag)} | ${cell(j.description)} |`);
    if (element instanceof z.ZodObject) fileRows(element.shape as Record<string, z.ZodType>, `${p}[]`, out);
  }
}

/** The fleet file's section of docs/spec.md. */
export function renderFleetDocs(): string {
  const out = [
    '## The fleet file',
    '',
    '<!-- Generated from src/spec/fleet-schema.ts by `npm run docs:spec`; do not edit by hand. -->',
    '',
    'A fleet file is a spec file with `guests:`: a shared base, built once and cached, and many guests',
    'made from it that differ in identity (`domu-forge build FLEET.yaml`; how it is built: [Fleets](fleets.md)).',
    'Sizes and errors are as in a build spec. `guests[].ip` means the `ip:` key of each item of `guests:`.',
    '',
    '| field | type | default | flag | description |',
    '|---|---|---|---|---|',
  ];
  fileRows(fleetFileSchema.shape as unknown as Record<string, z.ZodType>, '', out);
  out.push('');
  return out.join('\n');
}

/** The Markdown of docs/spec.md. */
export function renderSpecDocs(): string {
  const json = z.toJSONSchema(buildSpecSchema, { unrepresentable: 'any' }) as Json;
  const out = [
    '# The build spec',
    '',
    '<!-- Generated from src/spec/schema.ts by `npm run docs:spec`; do not edit by hand. -->',
    '',
    'A build spec is a YAML file that describes one guest: `domu-forge build SPEC.yaml`. Every field can',
    'also be set by the flag named beside it (a flag overrides the file). Sizes are written `4G`, `512M`,',
    '`1.5G` (binary units; a bare number is MiB, as `lvcreate -L` reads it). Paths are relative to the',
    "spec file's folder (flags: to the working directory). Errors are reported all at once, each as",
    '`FILE:LINE: FIELD: MESSAGE`, sorted by file and line; a flag\'s error names the flag.',
    '',
    'Below, fields are listed as the resolved spec holds them: `target.image` means the target section\'s',
    '`image:` key (its value is the image path), and the fields under it apply to that kind of target.',
    'A Debian/Ubuntu install and a Red Hat family install are told apart by `distro`.',
    '',
    '| field | type | default | flag | description |',
    '|---|---|---|---|---|',
  ];
  rows(json, '', out, false);
  out.push('', renderFleetDocs());
  return out.join('\n');
}
