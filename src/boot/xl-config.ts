// Reading and writing the subset of xl's domain config syntax the boot test needs: the guest's
// config is read, its disks are re-pointed at the Dom0's view of them, and it is written again.
// Syntax (xl.cfg(5)): `key = value` settings, values are "strings", 'strings', numbers or [lists].

import { DomuError } from '../errors.js';

export type XlValue = string | number | XlValue[];

export interface XlSetting {
  key: string;
  value: XlValue;
  line: number;
}

type Token = { kind: 'ident' | 'string' | 'number' | 'punct' | 'eol'; text: string; line: number };

function tokenize(text: string, file: string): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\n') {
      tokens.push({ kind: 'eol', text: '\n', line });
      line += 1;
      i += 1;
    } else if (c === ' ' || c === '\t' || c === '\r') {
      i += 1;
    } else if (c === '#') {
      while (i < text.length && text[i] !== '\n') i += 1;
    } else if (c === '"' || c === "'") {
      const start = line;
      let j = i + 1;
      let s = '';
      while (j < text.length && text[j] !== c) {
        if (text[j] === '\n') throw new DomuError('BAD_INPUT', `${file}:${start}: unterminated string`);
        if (c === '"' && text[j] === '\\' && j + 1 < text.length) {
          const n = text[j + 1]!;
          s += n === 'n' ? '\n' : n === 't' ? '\t' : n;
          j += 2;
          continue;
        }
        s += text[j];
        j += 1;
      }
      if (j >= text.length) throw new DomuError('BAD_INPUT', `${file}:${start}: unterminated string`);
      tokens.push({ kind: 'string', text: s, line });
      i = j + 1;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i))!;
      tokens.push({ kind: 'ident', text: m[0], line });
      i += m[0].length;
    } else if (/[0-9-]/.test(c)) {
      const m = /^-?(0x[0-9a-fA-F]+|[0-9]+(\.[0-9]+)?)/.exec(text.slice(i));
      if (!m) throw new DomuError('BAD_INPUT', `${file}:${line}: unexpected ${JSON.stringify(c)}`);
      tokens.push({ kind: 'number', text: m[0], line });
      i += m[0].length;
    } else if ('=[],;'.includes(c)) {
      tokens.push({ kind: 'punct', text: c, line });
      i += 1;
    } else {
      throw new DomuError('BAD_INPUT', `${file}:${line}: unexpected ${JSON.stringify(c)}`);
    }
  }
  tokens.push({ kind: 'eol', text: '', line });
  return tokens;
}

/** Parse an xl domain config. Errors name the file and line. */
export function parseXlConfig(text: string, file = 'config'): XlSetting[] {
  const tokens = tokenize(text, file);
  let p = 0;
  const peek = () => tokens[p]!;
  const skipEols = () => {
    while (p < tokens.length - 1 && peek().kind === 'eol') p += 1;
  };
  const value = (): XlValue => {
    const t = peek();
    if (t.kind === 'string') {
      p += 1;
      return t.text;
    }
    if (t.kind === 'number') {
      p += 1;
      return Number(t.text);
    }
    if (t.kind === 'punct' && t.text === '[') {
      p += 1;
      const list: XlValue[] = [];
      skipEols();
      while (!(peek().kind === 'punct' && peek().text === ']')) {
        if (p >= tokens.length - 1) throw new DomuError('BAD_INPUT', `${file}:${t.line}: list not closed with ]`);
        list.push(value());
        skipEols();
        if (peek().kind === 'punct' && peek().text === ',') {
          p += 1;
          skipEols();
        } else if (!(peek().kind === 'punct' && peek().text === ']')) {
          throw new DomuError('BAD_INPUT', `${file}:${peek().line}: expected , or ] in list`);
        }
      }
      p += 1;
      return list;
    }
    throw new DomuError('BAD_INPUT', `${file}:${t.line}: expected a value, found ${JSON.stringify(t.text)}`);
  };
  const settings: XlSetting[] = [];
  for (;;) {
    skipEols();
    const t = peek();
    if (p >= tokens.length - 1) break;
    if (t.kind !== 'ident') throw new DomuError('BAD_INPUT', `${file}:${t.line}: expected a setting name, found ${JSON.stringify(t.text)}`);
    p += 1;
    if (!(peek().kind === 'punct' && peek().text === '=')) throw new DomuError('BAD_INPUT', `${file}:${t.line}: expected = after ${t.text}`);
    p += 1;
    settings.push({ key: t.text, value: value(), line: t.line });
    if (peek().kind === 'punct' && peek().text === ';') {
      p += 1;
      continue; // another setting may follow on the same line
    }
    if (peek().kind !== 'eol') throw new DomuError('BAD_INPUT', `${file}:${peek().line}: unexpected ${JSON.stringify(peek().text)} after ${t.text}`);
  }
  return settings;
}

function renderValue(v: XlValue): string {
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  return `[ ${v.map(renderValue).join(', ')} ]`;
}

/** Write settings back in xl syntax, one per line. */
export function renderXlSettings(settings: readonly { key: string; value: XlValue }[]): string {
  return settings.map((s) => `${s.key} = ${renderValue(s.value)}\n`).join('');
}

export interface XlDisk {
  /** The backing file or device, with any `phy:` / `file:` / `tap:aio:` prefix removed. */
  target?: string;
  vdev: string;
  access: string;
  format?: string;
}

/**
 * Parse one disk spec (xl-disk-configuration(5)): `key=value` parameters, positional
 * `target,format,vdev,access`, or the older `phy:/dev/x,xvda,w` form.
 */
export function parseXlDisk(spec: string): XlDisk {
  // `target=` comes last and takes the rest of the spec, commas included
  const t = /(?:^|,)\s*target=(.*)$/.exec(spec);
  const head = t ? spec.slice(0, t.index) : spec;
  const parts = head === '' ? [] : head.split(',').map((s) => s.trim());
  const keyed: Record<string, string> = {};
  if (t) keyed.target = t[1]!.trim();
  const positional: string[] = [];
  for (const part of parts) {
    const m = /^([a-z-]+)=(.*)$/.exec(part);
    if (m && ['vdev', 'access', 'format', 'devtype', 'backendtype', 'backend', 'script'].includes(m[1]!)) keyed[m[1]!] = m[2]!;
    else positional.push(part);
  }
  let target = keyed.target;
  let format = keyed.format;
  let vdev = keyed.vdev;
  let access = keyed.access;
  if (positional.length === 4) [target, format, vdev, access] = positional;
  else if (positional.length === 3) [target, vdev, access] = positional;
  else if (positional.length === 2) [target, vdev] = positional;
  else if (positional.length === 1 && target !== undefined) vdev = positional[0];
  else if (positional.length === 1) target = positional[0];
  else if (positional.length > 4) throw new DomuError('BAD_INPUT', `disk "${spec}": too many positional parameters`);
  if (!vdev) throw new DomuError('BAD_INPUT', `disk "${spec}": no virtual device (vdev)`);
  const disk: XlDisk = { vdev: vdev.replace(/:.*$/, ''), access: access || 'rw' };
  if (target) {
    // drop backend prefixes such as phy:, file:, tap:aio:, tap2:tapdisk:aio:
    disk.target = target.replace(/^(?:[a-z0-9]+:)+(?=\/)/, '');
    const m = /^((?:[a-z0-9]+:)*)(raw|qcow2|qcow|vhd):(?=\/)/.exec(target);
    if (m) format = m[2];
  }
  if (format) disk.format = format;
  return disk;
}

/** The disk spec for a device in the Dom0 (key=value form, which takes any path). */
export function renderXlDisk(disk: { target: string; vdev: string; access: string; format?: string }): string {
  return `format=${disk.format ?? 'raw'}, vdev=${disk.vdev}, access=${disk.access}, target=${disk.target}`;
}
