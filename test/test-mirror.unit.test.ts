// Tests mirror the sources: every src/a/b.ts has test/a/b.test.ts or test/a/b.unit.test.ts, or an entry
// in test/test-mirror.allow naming the test that covers it. A NEW source file without either fails here.
// (scripts/test-mirror.mjs lists them: node scripts/test-mirror.mjs [--all|--json].)
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script, without type declarations
import { mirrorReport, mirrorsOf, parseAllowList } from '../scripts/test-mirror.mjs';

type Report = { sources: string[]; mirrored: string[]; allowed: string[]; missing: string[]; stale: string[]; redundant: string[] };
const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const scratch = mkdtempSync(join(tmpdir(), 'df-mirror-check-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('this checkout', () => {
  const r = mirrorReport(repo) as Report;

  it('every source file has a mirrored test or an allow-list entry', () => {
    expect(r.missing).toEqual([]);
  });

  it('the allow-list names only source files and tests that exist', () => {
    expect(r.stale).toEqual([]);
  });

  it('accounts for every source file once', () => {
    expect(r.mirrored.length + r.allowed.length).toBe(r.sources.length);
    expect(r.sources.length).toBeGreaterThan(100);
  });
});

describe('the check can fail', () => {
  let n = 0;
  function fakeRepo(files: Record<string, string>): string {
    const root = join(scratch, `r${n++}`);
    for (const [p, t] of Object.entries(files)) {
      mkdirSync(dirname(join(root, p)), { recursive: true });
      writeFileSync(join(root, p), t);
    }
    return root;
  }

  it('a new source file without a test is missing; a test at either mirrored name covers it', () => {
    const root = fakeRepo({ 'src/a/old.ts': '', 'test/a/old.test.ts': '', 'src/b.ts': '', 'test/b.unit.test.ts': '', 'src/a/new.ts': '', 'src/types.d.ts': '' });
    const r = mirrorReport(root) as Report;
    expect(r.sources).toEqual(['src/a/new.ts', 'src/a/old.ts', 'src/b.ts']);
    expect(r.missing).toEqual(['src/a/new.ts']);
    expect(r.mirrored).toEqual(['src/a/old.ts', 'src/b.ts']);
    // a test in another folder is not a mirror
    writeFileSync(join(root, 'test', 'new.test.ts'), '');
    expect((mirrorReport(root) as Report).missing).toEqual(['src/a/new.ts']);
    mkdirSync(join(root, 'test', 'a'), { recursive: true });
    writeFileSync(join(root, 'test', 'a', 'new.unit.test.ts'), '');
    expect((mirrorReport(root) as Report).missing).toEqual([]);
  });

  it('an allow-list entry covers a file; entries for gone files or tests are stale, for mirrored ones redundant', () => {
    const root = fakeRepo({
      'src/w.worker.ts': '', 'src/x.ts': '', 'test/x.test.ts': '', 'test/other.test.ts': '',
      'test/test-mirror.allow': '# comment\nsrc/w.worker.ts: test/other.test.ts  # the clone test runs it\n\nsrc/x.ts: test/other.test.ts\nsrc/gone.ts: test/other.test.ts\n',
    });
    let r = mirrorReport(root) as Report;
    expect(r.missing).toEqual([]);
    expect(r.allowed).toEqual(['src/w.worker.ts']);
    expect(r.redundant).toEqual(['src/x.ts']);
    expect(r.stale).toEqual(['src/gone.ts: no such source file']);
    writeFileSync(join(root, 'test/test-mirror.allow'), 'src/w.worker.ts: test/other.test.ts test/renamed.test.ts\n');
    r = mirrorReport(root) as Report;
    expect(r.stale).toEqual(['src/w.worker.ts: test/renamed.test.ts does not exist']);
  });

  it('refuses a malformed allow-list line, naming file and line', () => {
    expect(() => parseAllowList('src/a.ts: test/a.test.ts\nsrc/b.ts\n')).toThrow('test/test-mirror.allow:2: expected "src/<path>.ts: test/<path> ...", got "src/b.ts"');
    expect(() => parseAllowList('src/a.ts: elsewhere/a.test.ts\n')).toThrow('test/test-mirror.allow:1: "elsewhere/a.test.ts" is not a path under test/');
    expect(() => parseAllowList('src/a.ts: test/x.ts\nsrc/a.ts: test/y.ts\n')).toThrow('test/test-mirror.allow:2: src/a.ts is listed twice');
    expect(parseAllowList('src/a.ts:test/x.ts test/y.ts # why\n').get('src/a.ts')).toEqual(['test/x.ts', 'test/y.ts']);
  });

  it('names the mirrored tests', () => {
    expect(mirrorsOf('src/copy/times.ts')).toEqual(['test/copy/times.test.ts', 'test/copy/times.unit.test.ts']);
  });

  it('the script exits 0 on this checkout and 1, listing the file, when one is missing', () => {
    const ok = spawnSync(process.execPath, [join(repo, 'scripts/test-mirror.mjs')], { encoding: 'utf8' });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/^\d+ source files: \d+ with a mirrored test, \d+ allow-listed \(test\/test-mirror\.allow\), 0 with neither\n$/);
    const root = fakeRepo({ 'src/lonely.ts': '', 'test/test-mirror.allow': '' });
    mkdirSync(join(root, 'scripts'));
    copyFileSync(join(repo, 'scripts/test-mirror.mjs'), join(root, 'scripts/test-mirror.mjs'));
    const bad = spawnSync(process.execPath, [join(root, 'scripts/test-mirror.mjs')], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stdout).toContain('missing   src/lonely.ts  (want test/lonely.test.ts or test/lonely.unit.test.ts)');
    const json = JSON.parse(spawnSync(process.execPath, [join(root, 'scripts/test-mirror.mjs'), '--json'], { encoding: 'utf8' }).stdout);
    expect(json.missing).toEqual(['src/lonely.ts']);
  });
});
