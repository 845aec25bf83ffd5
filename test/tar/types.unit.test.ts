// Names in tar messages, and the empty summary every run starts from.
import { describe, expect, it } from 'vitest';
import { emptySummary, printable, TAR_COMPRESSIONS } from '../../src/tar/types.js';

describe('printable', () => {
  it('shows valid UTF-8 as is, escaping control characters and the backslash', () => {
    expect(printable(Buffer.from('etc/café'))).toBe('etc/café');
    expect(printable(Buffer.from('a\nb\\c\x7f'))).toBe('a\\x0ab\\x5cc\\x7f');
  });
  it('shows other bytes as \\xNN', () => {
    expect(printable(Buffer.from([0x61, 0xe9, 0x62]))).toBe('a\\xe9b');
    expect(printable(Buffer.from([0x5c, 0xff]))).toBe('\\x5c\\xff');
  });
  it('a literal "\\xe9" name and a 0xe9 byte read differently', () => {
    expect(printable(Buffer.from('a\\xe9'))).not.toBe(printable(Buffer.from([0x61, 0xe9])));
  });
});

describe('emptySummary', () => {
  it('starts every count at zero', () => {
    const s = emptySummary('/x.tar', '/t', 'gzip');
    expect(s).toMatchObject({ archive: '/x.tar', root: '/t', compression: 'gzip', entries: 0, files: 0, bytes: 0, skipped: [], changed: [], warnings: [] });
    expect(emptySummary('/x.tar', '/t', 'none').warnings).not.toBe(s.warnings);
    expect(TAR_COMPRESSIONS).toEqual(['none', 'gzip', 'xz', 'zstd']);
  });
});
