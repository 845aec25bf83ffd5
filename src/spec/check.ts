// A small validating reader over a parsed YAML document: each getter checks one field and records an
// issue with the file, the line (from the yaml package's source ranges) and the dotted field name,
// so that every error of a spec is found in one pass instead of stopping at the first.

import { isMap, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import type { SpecIssue } from './types.js';
import { sizeBytes } from '../sys/size.js';

export type Path = ReadonlyArray<string | number>;

export function fieldName(path: Path): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s === '' ? p : `.${p}`;
  return s || '(top level)';
}

/** "4G", "512M", "1.5GiB", "4096" (MiB, as lvcreate -L reads it) -> bytes; undefined when not a size (src/sys/size.ts). */
export const parseSpecSize = sizeBytes;

export class SpecReader {
  issues: SpecIssue[] = [];
  private lines = new LineCounter();
  private doc: Document | undefined;
  /** Fields set from the command line, with the flag that set them. */
  flagOrigins = new Map<string, string>();
  /** The flag of each field that has one: a field missing under a section a flag made is named by its flag (--dist). */
  flagNames = new Map<string, string>();
  private root: { data: Record<string, unknown> } = { data: {} };
  /** Where this reader's paths start in the document (a fleet's "base" section, ...). */
  private prefix: Path = [];

  constructor(readonly file: string) {}

  /** This reader's part of the document. */
  get data(): Record<string, unknown> {
    const v = this.get([]);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  }

  /** A reader for a sub-section, sharing the document, the issues and the flag origins. */
  scope(path: Path): SpecReader {
    const r = new SpecReader(this.file);
    r.issues = this.issues;
    r.lines = this.lines;
    r.doc = this.doc;
    r.flagOrigins = this.flagOrigins;
    r.flagNames = this.flagNames;
    r.root = this.root;
    r.prefix = [...this.prefix, ...path];
    return r;
  }

  /** Parse YAML text; syntax errors become issues. */
  parse(text: string): void {
    this.doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: true });
    for (const e of this.doc.errors) {
      const line = e.linePos?.[0]?.line ?? this.lines.linePos(e.pos[0]).line;
      this.issues.push({ file: this.file, line, field: '(syntax)', message: e.message.split('\n')[0]! });
    }
    if (this.doc.errors.length > 0) return;
    const js: unknown = this.doc.toJS();
    if (js === null || js === undefined) this.root.data = {};
    else if (typeof js !== 'object' || Array.isArray(js)) {
      this.issues.push({ file: this.file, line: 1, field: '(top level)', message: 'a spec is a mapping of fields (name:, target:, source: ...)' });
    } else this.root.data = js as Record<string, unknown>;
  }

  /** The line of a field, or of its nearest parent that exists in the file. */
  lineOf(rel: Path): number {
    if (!this.doc) return 0;
    const path = [...this.prefix, ...rel];
    for (let n = path.length; n >= 0; n--) {
      const node = this.doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
      if (node && typeof node === 'object' && node.range) {
        // For a mapping value, point at its key's line rather than its value's.
        if (n > 0) {
          const parent = this.doc.getIn(path.slice(0, n - 1), true);
          if (isMap(parent)) {
            const pair = parent.items.find((p) => (p.key as { value?: unknown } | null)?.value === path[n - 1]);
            const keyRange = (pair?.key as { range?: [number, number, number] } | undefined)?.range;
            if (keyRange) return this.lines.linePos(keyRange[0]).line;
          } else if (isSeq(parent)) return this.lines.linePos(node.range[0]).line;
        }
        return this.lines.linePos(node.range[0]).line;
      }
    }
    return 0;
  }

  issue(rel: Path, message: string): void {
    const path = [...this.prefix, ...rel];
    const field = fieldName(path);
    const flag = this.flagOrigins.get(field) ?? (this.get(rel) === undefined ? this.flagOfMissing(path) : undefined);
    if (flag) this.issues.push({ file: 'command line', line: 0, field: flag, message });
    else this.issues.push({ file: this.file, line: this.file === 'command line' ? 0 : this.lineOf(rel), field, message });
  }

  /** The flag for a field whose section came from the command line (--install debian without --dist: "--dist"). */
  private flagOfMissing(path: Path): string | undefined {
    const flag = this.flagNames.get(fieldName(path));
    if (!flag) return undefined;
    for (let n = path.length - 1; n > 0; n--) if (this.flagOrigins.has(fieldName(path.slice(0, n)))) return flag;
    return undefined;
  }

  get(rel: Path): unknown {
    let v: unknown = this.root.data;
    for (const p of [...this.prefix, ...rel]) {
      if (v === null || typeof v !== 'object') return undefined;
      v = (v as Record<string | number, unknown>)[p];
    }
    return v;
  }

  /** Set a value from a command-line flag (overriding the file). */
  set(rel: Path, value: unknown, flag?: string): void {
    const path = [...this.prefix, ...rel];
    let o = this.root.data as Record<string | number, unknown>;
    for (const p of path.slice(0, -1)) {
      if (o[p] === null || typeof o[p] !== 'object') o[p] = {};
      o = o[p] as Record<string | number, unknown>;
    }
    o[path[path.length - 1]!] = value;
    if (flag) this.flagOrigins.set(fieldName(path), flag);
  }

  /** A mapping: record unknown keys. Returns undefined (with an issue) when it is not a mapping. */
  section(path: Path, known: readonly string[], required = false): Record<string, unknown> | undefined {
    const v = this.get(path);
    if (v === undefined || v === null) {
      if (required) this.issue(path, 'is required');
      return undefined;
    }
    if (typeof v !== 'object' || Array.isArray(v)) {
      this.issue(path, 'must be a mapping of fields');
      return undefined;
    }
    for (const k of Object.keys(v)) {
      if (!known.includes(k)) this.issue([...path, k], `unknown field (known here: ${known.join(', ')})`);
    }
    return v as Record<string, unknown>;
  }

  str(path: Path, opts: { required?: boolean; pattern?: RegExp; patternText?: string } = {}): string | undefined {
    const v = this.get(path);
    if (v === undefined || v === null) {
      if (opts.required) this.issue(path, 'is required');
      return undefined;
    }
    if (typeof v !== 'string' && typeof v !== 'number') {
      this.issue(path, 'must be a string');
      return undefined;
    }
    const s = String(v);
    if (opts.pattern && !opts.pattern.test(s)) {
      this.issue(path, `"${s}" ${opts.patternText ?? 'is not valid'}`);
      return undefined;
    }
    return s;
  }

  oneOf<T extends string>(path: Path, allowed: readonly T[], fallback?: T): T | undefined {
    const v = this.get(path);
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'string' || !allowed.includes(v as T)) {
      this.issue(path, `"${String(v)}" is not one of ${allowed.join(', ')}`);
      return fallback;
    }
    return v as T;
  }

  bool(path: Path, fallback: boolean): boolean {
    const v = this.get(path);
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') {
      this.issue(path, 'must be true or false');
      return fallback;
    }
    return v;
  }

  int(path: Path, opts: { min?: number; max?: number; fallback?: number } = {}): number | undefined {
    const v = this.get(path);
    if (v === undefined || v === null) return opts.fallback;
    const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n)) {
      this.issue(path, `"${String(v)}" must be a whole number`);
      return opts.fallback;
    }
    if ((opts.min !== undefined && n < opts.min) || (opts.max !== undefined && n > opts.max)) {
      this.issue(path, `${n} is out of range (${opts.min ?? '-'}..${opts.max ?? '-'})`);
      return opts.fallback;
    }
    return n;
  }

  size(path: Path): number | undefined {
    const v = this.get(path);
    if (v === undefined || v === null) return undefined;
    const n = parseSpecSize(v);
    if (n === undefined) this.issue(path, `"${String(v)}" is not a size (like 4G, 512M, or a number of MiB)`);
    return n;
  }

  strList(path: Path): string[] {
    const v = this.get(path);
    if (v === undefined || v === null) return [];
    const list = typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : v;
    if (!Array.isArray(list)) {
      this.issue(path, 'must be a list (or a comma-separated string)');
      return [];
    }
    const out: string[] = [];
    list.forEach((item, i) => {
      if (typeof item !== 'string' && typeof item !== 'number') this.issue([...path, i], 'must be a string');
      else out.push(String(item));
    });
    return out;
  }
}
