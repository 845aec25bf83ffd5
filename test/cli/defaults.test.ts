// `domu-forge defaults --from-xen-tools` on the xen-tools.conf Debian's xen-tools package ships.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const CLI = new URL('../../dist/cli/main.js', import.meta.url).pathname;
const SHIPPED = '/etc/xen-tools/xen-tools.conf';
const work = mkdtempSync(join(tmpdir(), 'df-defaults-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('defaults --from-xen-tools', () => {
  it("converts the xen-tools package's own xen-tools.conf and says what it left out", () => {
    expect(existsSync(SHIPPED)).toBe(true);
    const out = join(work, 'etc/domu-forge/defaults.yaml');
    const json = JSON.parse(execFileSync(process.execPath, [CLI, 'defaults', '--from-xen-tools', '--defaults', out, '--json'], { encoding: 'utf8' }));
    expect(json.ok).toBe(true);
    // what the shipped file sets (Debian 12's xen-tools 4.9.2): sizes, fs, install method, Dom0's kernel
    expect(json.defaults.target).toEqual({ size: '4G', swap: '512M', fs: 'ext4' });
    expect(json.defaults.domain).toMatchObject({ memory: '256M', kernel: 'dom0', initrd: 'dom0' });
    expect(json.defaults.source.install).toEqual({ distro: 'debian', tool: 'debootstrap' });
    expect(json.notCarried.map((n: { key: string }) => n.key)).toContain('dist');
    // the file reads back as the same defaults and lists the keys left out
    const text = readFileSync(out, 'utf8');
    expect(parse(text)).toEqual(json.defaults);
    expect(text).toMatch(/^# +image = sparse \(line \d+\): /m);
    expect(statSync(out).mode & 0o777).toBe(0o644);
  });

  it('does not replace an existing defaults file without --force (exit 2, file unchanged)', () => {
    const out = join(work, 'kept.yaml');
    writeFileSync(out, 'target: {size: 9G}\n');
    const r = spawnSync(process.execPath, [CLI, 'defaults', '--from-xen-tools', '--defaults', out], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/exists; add --force/);
    expect(readFileSync(out, 'utf8')).toBe('target: {size: 9G}\n');
    const f = spawnSync(process.execPath, [CLI, 'defaults', '--from-xen-tools', '--defaults', out, '--force'], { encoding: 'utf8' });
    expect(f.status).toBe(0);
    expect(parse(readFileSync(out, 'utf8')).target.size).toBe('4G');
  });

  it('a missing xen-tools.conf is bad input: one line, exit 2, nothing written', () => {
    const out = join(work, 'none.yaml');
    const r = spawnSync(process.execPath, [CLI, 'defaults', '--from-xen-tools', join(work, 'nope.conf'), '--defaults', out], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')[0]).toMatch(/^domu-forge: xen-tools config .*nope\.conf does not exist$/);
    expect(existsSync(out)).toBe(false);
  });
});
