// fsPath: ASCII paths go to the fs calls as strings, any other byte as a latin1 Buffer, same bytes.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fsPath } from '../../src/copy/paths.js';
import { joinRoot } from '../../src/walk/walk.js';

const dir = mkdtempSync(join(tmpdir(), 'df-mirror-cpaths-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('fsPath', () => {
  it('gives an all-ASCII path as a string, the same bytes as joinRoot', () => {
    for (const [root, rel] of [['/srv/root', 'a/b c'], ['/srv/root/', 'x'], ['/srv/root', '']] as const) {
      const p = fsPath(root, rel);
      expect(typeof p).toBe('string');
      expect(Buffer.from(p as string, 'utf8').equals(joinRoot(root, rel))).toBe(true);
    }
  });

  it('gives a path with a byte above 0x7f as a latin1 Buffer, byte-exact', () => {
    const p = fsPath('/srv/root', 'caf\xe9/\xff');
    expect(Buffer.isBuffer(p)).toBe(true);
    expect((p as Buffer).equals(Buffer.from([...Buffer.from('/srv/root/caf'), 0xe9, 0x2f, 0xff]))).toBe(true);
  });

  it('creates a file whose name is not UTF-8 under exactly its bytes', () => {
    const rel = 'n\xe9\xff';
    writeFileSync(fsPath(dir, rel), 'x');
    const names = readdirSync(dir, { encoding: 'buffer' });
    expect(names.some((n) => n.equals(Buffer.from([0x6e, 0xe9, 0xff])))).toBe(true);
    writeFileSync(fsPath(dir, 'plain'), 'y');
    expect(readdirSync(dir)).toContain('plain');
  });
});
