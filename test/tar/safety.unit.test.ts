// The names the safety pass lets through: normalised inside the target, or refused with one line.
import { describe, expect, it } from 'vitest';
import { normalise, parentsOf } from '../../src/tar/safety.js';
import { EntryError } from '../../src/tar/types.js';

const n = (s: string | Buffer, depth = 1024) => normalise(Buffer.isBuffer(s) ? s : Buffer.from(s, 'latin1'), 'entry', depth).toString('latin1');

describe('normalise', () => {
  it('drops ., empty components and trailing slashes', () => {
    expect(n('./a//b/./c/')).toBe('a/b/c');
    expect(n('a')).toBe('a');
    expect(n('./')).toBe('');
    expect(n('a/.../b')).toBe('a/.../b');
    expect(n('..a/b..')).toBe('..a/b..');
  });

  it('keeps raw bytes as they are', () => {
    expect(normalise(Buffer.from([0x61, 0xe9, 0x2f, 0xff]), 'entry', 10)).toEqual(Buffer.from([0x61, 0xe9, 0x2f, 0xff]));
  });

  it('refuses absolute names, "..", NUL bytes and depth bombs', () => {
    expect(() => n('/etc/passwd')).toThrow(new EntryError('entry /etc/passwd is an absolute path; refusing to extract outside the target'));
    expect(() => n('a/../../etc')).toThrow('entry a/../../etc contains ".."; refusing to extract outside the target');
    expect(() => n('..')).toThrow(EntryError);
    expect(() => n(Buffer.from('a\0b'))).toThrow('entry a\\x00b contains a NUL byte');
    expect(n('a/b/c', 3)).toBe('a/b/c');
    expect(() => n('a/b/c/d', 3)).toThrow(/is 4 levels deep \(more than 3\): refusing a depth bomb/);
    expect(n('a/./b//./c/', 3)).toBe('a/b/c');
  });
});

describe('parentsOf', () => {
  it('lists every parent, shortest first', () => {
    expect(parentsOf(Buffer.from('a/b/c')).map(String)).toEqual(['a', 'a/b']);
    expect(parentsOf(Buffer.from('a'))).toEqual([]);
  });
});
