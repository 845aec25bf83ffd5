// The packed package installs like a tool: `npm pack`, `npm i -g` into a temporary prefix, and the
// installed domu-forge runs from another directory, with nothing of the checkout on its path.
// (Needs the npm registry for the dependencies; dist/ must be built: npm run build.)

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = resolve(__dirname, '../..');
let work = '';
let bin = '';

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'domu-pack-'));
  const packed = execFileSync('npm', ['pack', '--silent', '--ignore-scripts', '--pack-destination', work], { cwd: repo, encoding: 'utf8' }).trim().split('\n').at(-1)!;
  const prefix = join(work, 'prefix');
  execFileSync('npm', ['i', '-g', '--silent', '--no-audit', '--no-fund', '--ignore-scripts', '--prefix', prefix, join(work, packed)], { cwd: work, stdio: 'pipe', timeout: 540_000 });
  bin = join(prefix, 'bin', 'domu-forge');
}, 600_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

const run = (args: string[]) => spawnSync(bin, args, { cwd: tmpdir(), encoding: 'utf8', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: work } });

describe('npm pack installs and runs outside the checkout (network: npm registry)', () => {
  it('the tarball holds dist/ and no tests or sources', () => {
    const files = execFileSync('tar', ['-tzf', join(work, readdirSync(work).find((f) => f.endsWith('.tgz'))!)], { encoding: 'utf8' }).split('\n');
    expect(files).toContain('package/dist/cli/main.js');
    expect(files.some((f) => f.startsWith('package/test/') || f.startsWith('package/src/'))).toBe(false);
  });

  it('domu-forge --help and clone --help from another directory', () => {
    const help = run(['--help']);
    expect([help.status, help.stderr]).toEqual([0, '']);
    expect(help.stdout).toMatch(/^Usage: domu-forge/m);
    const clone = run(['clone', '--help']);
    expect([clone.status, clone.stderr]).toEqual([0, '']);
    expect(clone.stdout).toMatch(/^Usage: domu-forge clone/m);
  });

  it('build --dry-run from another directory: the stages and the xl config, nothing written', () => {
    const dir = join(work, 'guests');
    const r = run(['build', '--hostname', 'pk1', '--install', 'debian', '--dist', 'bookworm', '--dir', dir, '--pygrub', '--config', join(work, 'pk1.cfg'), '--dry-run']);
    expect([r.status, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toMatch(/^stages it would run:$/m);
    expect(r.stdout).toMatch(/^ {2}source\/install {9}install the distribution/m);
    expect(r.stdout).toContain(`target=${join(dir, 'domains', 'pk1', 'disk.img')}`);
    expect(r.stdout).toContain(`target=${join(dir, 'domains', 'pk1', 'swap.img')}`);
    expect(existsSync(dir) || existsSync(join(work, 'pk1.cfg'))).toBe(false);
  });
});
