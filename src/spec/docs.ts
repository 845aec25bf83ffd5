// The spec reference (docs/spec.md), rendered from the zod schema: every field with its type, default,
// flag and description. `npm run docs:spec` writes it; test/spec/docs.unit.test.ts fails when stale.

import { z } from 'zod';
import { buildSpecSchema } from './schema.js';

interface Json {
  type?: string;
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
  if (j.const !== undefined) return JSON.stringify(j.const);
  if (j.enum) return j.enum.map((v) => JSON.stringify(v)).join(' \\| ');
  if (j.type === 'array') return `list of ${j.items ? typeText(j.items) : 'values'}`;
  const alts = j.anyOf ?? j.oneOf;
  if (alts) return alts.map((a) => (a.properties ? 'mapping' : typeText(a))).join(' or ');
  const max = j.maximum !== undefined && j.maximum < Number.MAX_SAFE_INTEGER ? j.maximum : undefined;
  const min = j.minimum !== undefined && j.minimum > Number.MIN_SAFE_INTEGER ? j.minimum : undefined;
  const range = min !== undefined || max !== undefined ? ` (${min ?? ''}..${max ?? ''})` : '';
  return `${j.type ?? 'value'}${range}`;
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
  out.push('');
  return out.join('\n');
}
