// `domu-forge import-disk` through the built CLI: the summary, --json, and exit statuses.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sh, sweep, tempDir } from '../targets/helpers.js';

const cli = new URL('../../dist/cli/main.js', import.meta.url).pathname;
let work: string;
let raw: string;
let vmdk: string;

function run(args: string[]) {
  const r = spawnSync(process.execPath, [cli, 'import-disk', ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  work = tempDir('import-cli');
  raw = join(work, 'disk.raw');
  vmdk = join(work, 'guest.vmdk');
  sh(`truncate -s 24M '${raw}' && printf 'label: dos\\n,,L\\n' | sfdisk -q '${raw}' && qemu-img convert -f raw -O vmdk '${raw}' '${vmdk}'`);
});
afterAll(() => sweep(work));

describe('domu-forge import-disk', () => {
  it('converts a VMDK and says what the disk holds', () => {
    const out = join(work, 'guest.img');
    const r = run([vmdk, out]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`imported vmdk ${vmdk} -> raw ${out}`);
    expect(r.stdout).toContain('it holds a partitioned disk (MBR): give it to the guest whole, e.g. xvda, and boot it with pygrub');
    expect(readFileSync(out).equals(readFileSync(raw))).toBe(true);
  });

  it('refuses an existing output (exit 2), replaces it with --force, and reports --json', () => {
    const out = join(work, 'guest.img');
    const r = run([vmdk, out]);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`domu-forge: ${out} exists; add --force to replace it\n`);
    const j = run([vmdk, out, '--force', '--json']);
    expect(j.status).toBe(0);
    expect(JSON.parse(j.stdout)).toMatchObject({ ok: true, inputFormat: 'vmdk', output: out, virtualSize: 24 * 1024 * 1024, layout: 'mbr' });
  });

  it('refuses a raw input with exit 2 and a one-line reason', () => {
    const r = run([raw, join(work, 'x.img')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`domu-forge: ${raw} is already a raw image; Xen can use it as it is\n`);
  });
});
