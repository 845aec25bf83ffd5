// Paths as verify shows them: UTF-8 as is, other bytes and control characters escaped, unambiguously.
import { describe, expect, it } from 'vitest';
import { displayPath } from '../../src/verify/display.js';

const latin1 = (b: Buffer) => b.toString('latin1');

describe('displayPath', () => {
  it('shows plain and UTF-8 names as they are, under a leading slash', () => {
    expect(displayPath('etc/passwd')).toBe('/etc/passwd');
    expect(displayPath('')).toBe('/');
    expect(displayPath(latin1(Buffer.from('srv/café/日本', 'utf8')))).toBe('/srv/café/日本');
  });

  it('escapes bytes that are not UTF-8 as \\xNN', () => {
    expect(displayPath(latin1(Buffer.from([0x61, 0xe9, 0x62])))).toBe('/a\\xe9b');
    expect(displayPath(latin1(Buffer.from([0xff, 0xfe])))).toBe('/\\xff\\xfe');
  });

  it('escapes control characters, newlines included', () => {
    expect(displayPath('a\nb\tc\x7f')).toBe('/a\\x0ab\\x09c\\x7f');
  });

  it('doubles a lone backslash', () => {
    expect(displayPath('a\\b')).toBe('/a\\\\b');
    expect(displayPath('a\\')).toBe('/a\\\\');
  });

  it('never shows two names alike: the characters \\xe9 and the byte 0xe9 differ', () => {
    const chars = displayPath('a\\xe9');
    const byte = displayPath(String.fromCharCode(0x61, 0xe9));
    expect(chars).toBe('/a\\\\xe9');
    expect(byte).toBe('/a\\xe9');
    expect(chars).not.toBe(byte);
  });
});
