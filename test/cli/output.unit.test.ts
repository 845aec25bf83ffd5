// What the CLI prints: one-line errors with their exit status, --json errors, byte and duration formats.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatDuration, printJson, ProgressLine, reportError } from '../../src/cli/output.js';
import { DomuError } from '../../src/errors.js';

let out: string[];
let err: string[];
const saved = { out: process.stdout.write, err: process.stderr.write };

beforeEach(() => {
  out = [];
  err = [];
  process.stdout.write = ((s: string | Uint8Array) => (out.push(String(s)), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string | Uint8Array) => (err.push(String(s)), true)) as typeof process.stderr.write;
});
afterEach(() => {
  process.stdout.write = saved.out;
  process.stderr.write = saved.err;
});

describe('reportError', () => {
  it('prints a DomuError as one line plus its hint and returns its exit status', () => {
    const status = reportError(new DomuError('MISSING_TOOL', 'mkfs.xfs is not\n installed', { hint: 'apt-get install xfsprogs' }));
    expect(status).toBe(3);
    expect(err.join('')).toBe('domu-forge: mkfs.xfs is not installed\nhint: apt-get install xfsprogs\n');
    expect(out).toEqual([]);
  });

  it('any other thrown value is INTERNAL (exit 1), one line', () => {
    const saveDebug = process.env.DOMU_FORGE_DEBUG;
    delete process.env.DOMU_FORGE_DEBUG;
    try {
      expect(reportError(new TypeError('x is\nundefined'))).toBe(1);
      expect(reportError('a string')).toBe(1);
    } finally {
      if (saveDebug !== undefined) process.env.DOMU_FORGE_DEBUG = saveDebug;
    }
    expect(err.join('')).toBe('domu-forge: x is undefined\ndomu-forge: a string\n');
  });

  it('with --json also prints the error as JSON on stdout', () => {
    expect(reportError(new DomuError('VERIFY_FAILED', '3 differences'), { json: true })).toBe(5);
    expect(JSON.parse(out.join(''))).toEqual({ ok: false, error: { code: 'VERIFY_FAILED', message: '3 differences' } });
    expect(err.join('')).toBe('domu-forge: 3 differences\n');
  });

  it('DOMU_FORGE_DEBUG adds the stack of an unexpected error, never of a DomuError', () => {
    const saveDebug = process.env.DOMU_FORGE_DEBUG;
    process.env.DOMU_FORGE_DEBUG = '1';
    try {
      reportError(new Error('boom'));
      expect(err.join('')).toMatch(/^domu-forge: boom\nError: boom\n\s+at /);
      err.length = 0;
      reportError(new DomuError('USAGE', 'bad flag'));
      expect(err.join('')).toBe('domu-forge: bad flag\n');
    } finally {
      if (saveDebug === undefined) delete process.env.DOMU_FORGE_DEBUG;
      else process.env.DOMU_FORGE_DEBUG = saveDebug;
    }
  });
});

describe('printJson and ProgressLine', () => {
  it('prints indented JSON with a newline', () => {
    printJson({ a: [1] });
    expect(out.join('')).toBe('{\n  "a": [\n    1\n  ]\n}\n');
  });

  it('a disabled progress line writes nothing', () => {
    const p = new ProgressLine(false);
    p.update('copying', true);
    p.clear();
    expect(err).toEqual([]);
  });

  it('an enabled one redraws in place when forced, and clears only what it showed', () => {
    const p = new ProgressLine(true);
    p.clear();
    expect(err).toEqual([]);
    p.update('copying 1', true);
    p.update('copying 2', true);
    p.clear();
    p.clear();
    expect(err).toEqual(['\r\x1b[2Kcopying 1', '\r\x1b[2Kcopying 2', '\r\x1b[2K']);
  });

  it('cuts a line to the terminal width', () => {
    const p = new ProgressLine(true);
    p.update('x'.repeat(500), true);
    const width = process.stderr.columns || 100;
    expect(err[0]).toBe(`\r\x1b[2K${'x'.repeat(width - 1)}`);
  });
});

describe('formats', () => {
  it('formatDuration gives seconds, then minutes and seconds', () => {
    expect(formatDuration(0)).toBe('0.0s');
    expect(formatDuration(9.94)).toBe('9.9s');
    expect(formatDuration(42.4)).toBe('42s');
    expect(formatDuration(60)).toBe('1m00s');
    expect(formatDuration(125.4)).toBe('2m05s');
    expect(formatDuration(Number.NaN)).toBe('?');
    expect(formatDuration(Number.POSITIVE_INFINITY)).toBe('?');
  });
});
