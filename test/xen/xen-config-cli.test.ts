// `domu-forge xen-config`: writes NAME.cfg where asked, checks before writing (exit 2, nothing
// written), keeps an existing file unless --force, and agrees with `fixup` given the same flags.

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveMac } from '../../src/xen/domain.js';
import { runCli, scratchDir } from '../helpers/run.js';
import { makeCentos5 } from '../fixup/guests.js';

const scratch = scratchDir('xen-config-cli');
afterAll(() => scratch.cleanup());
let out: string;
let kernel: string;
let initrd: string;
let disk: string;
let swap: string;

beforeAll(() => {
  out = join(scratch.dir, 'etc-xen');
  kernel = join(scratch.dir, 'vmlinuz-2.6.18-398.el5xen');
  initrd = join(scratch.dir, 'initrd-2.6.18-398.el5xen.img');
  disk = join(scratch.dir, 'malcom.img');
  swap = join(scratch.dir, 'malcom-swap.img');
  for (const f of [kernel, initrd, disk, swap]) writeFileSync(f, '');
});

function pythonFields(file: string): Record<string, unknown> {
  return JSON.parse(execFileSync('python3', ['-c', 'import json,sys\nd={}\nexec(open(sys.argv[1]).read(), {}, d)\nprint(json.dumps(d))', file], { encoding: 'utf8' })) as Record<string, unknown>;
}

describe('xen-config CLI (root)', () => {
  it('writes DIR/NAME.cfg from xen-create-image style flags; a rerun is unchanged', () => {
    const args = ['xen-config', '--hostname', 'banquo.example.org', '--pygrub', '--lvm', 'scotland', '--swap', '512M', '--memory', '1G', '--vcpus', '2', '--bridge', 'xenbr0', '--dhcp', '--no-check', '--output-dir', out];
    const r = runCli(args);
    expect(r.stderr).toBe(`wrote ${out}/banquo.cfg (xl)\n`);
    expect(r.status).toBe(0);
    expect(pythonFields(join(out, 'banquo.cfg'))).toEqual({
      name: 'banquo', type: 'pv', memory: 1024, vcpus: 2, bootloader: 'pygrub',
      disk: ['phy:/dev/scotland/banquo-disk,xvda2,w', 'phy:/dev/scotland/banquo-swap,xvda1,w'],
      vif: [`mac=${deriveMac('banquo', 0)}, bridge=xenbr0`], on_poweroff: 'destroy', on_reboot: 'restart', on_crash: 'restart',
    });
    const again = runCli(args);
    expect([again.status, again.stderr]).toEqual([0, `unchanged: ${out}/banquo.cfg (xl)\n`]);
  });

  it('keeps an existing file with other content unless --force', () => {
    const base = ['xen-config', '--hostname', 'banquo.example.org', '--pygrub', '--lvm', 'scotland', '--no-check', '--output-dir', out];
    const before = readFileSync(join(out, 'banquo.cfg'), 'utf8');
    const r = runCli([...base, '--memory', '2G']);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`domu-forge: ${out}/banquo.cfg already exists with other content\nhint: pass --force to replace it\n`);
    expect(readFileSync(join(out, 'banquo.cfg'), 'utf8')).toBe(before);
    expect(runCli([...base, '--memory', '2G', '--force']).status).toBe(0);
    expect(pythonFields(join(out, 'banquo.cfg')).memory).toBe(2048);
  });

  it('refuses an invalid domain with exit 2 and writes nothing', () => {
    const cases: Array<[string[], string]> = [
      [['--pygrub', '--kernel', kernel], 'domu-forge: --pygrub conflicts with --kernel: PyGRUB takes the kernel from the guest\'s /boot; give one or the other\n'],
      [['--kernel', '/nonexistent/vmlinuz', '--image-dev', disk], 'domu-forge: invalid domain "bad": kernel: /nonexistent/vmlinuz does not exist\n'],
      [['--kernel', kernel, '--image-dev', '/nonexistent/disk.img'], 'domu-forge: invalid domain "bad": disks[0].target: /nonexistent/disk.img does not exist\n'],
      [['--kernel', kernel, '--image-dev', disk, '--mac', '01:00:00:00:00:01'], 'domu-forge: invalid domain "bad": vifs[0].mac: 01:00:00:00:00:01 is a multicast address\n'],
      [['--kernel', kernel, '--image-dev', disk, '--ip', '10.0.0.1', '--dhcp'], 'domu-forge: invalid domain "bad": vifs[0].dhcp: conflicts with a static ip; give one or the other\n'],
    ];
    for (const [flags, message] of cases) {
      const r = runCli(['xen-config', '--hostname', 'bad', '--output-dir', out, ...flags]);
      expect([r.status, r.stderr], flags.join(' ')).toEqual([2, message]);
    }
    expect(existsSync(join(out, 'bad.cfg'))).toBe(false);
    const dup = join(scratch.dir, 'dup.yaml');
    writeFileSync(dup, `name: dup\nmemory: 256\nbootloader: pygrub\ndisks:\n  - { target: ${disk}, vdev: xvda1, backend: file }\n  - { target: ${swap}, vdev: xvda1, backend: file }\n`);
    const r = runCli(['xen-config', '--domain', dup, '--output-dir', out]);
    expect([r.status, r.stderr]).toEqual([2, 'domu-forge: invalid domain "dup": disks[1].vdev: duplicate vdev xvda1 (also disks[0])\n']);
    expect(runCli(['xen-config', '--memory', '1G']).status).toBe(2);
  });

  it('--dry-run prints and writes nothing; --xm writes the legacy form to --output; --json', () => {
    const file = join(scratch.dir, 'malcom');
    const dry = runCli(['xen-config', '--hostname', 'malcom', '--kernel', kernel, '--initrd', initrd, '--image-dev', disk, '--swap-dev', swap, '--output', file, '--xm', '--dry-run']);
    expect(dry.status).toBe(0);
    expect(dry.stdout).toContain("disk        = [\n    'file:");
    expect(existsSync(file)).toBe(false);
    const j = runCli(['xen-config', '--hostname', 'malcom', '--kernel', kernel, '--initrd', initrd, '--image-dev', disk, '--swap-dev', swap, '--output', file, '--xm', '--json']);
    expect(j.status).toBe(0);
    const report = JSON.parse(j.stdout) as { path: string; format: string; status: string; config: string };
    expect(report).toMatchObject({ path: file, format: 'xm', status: 'created' });
    expect(readFileSync(file, 'utf8')).toBe(report.config);
    expect(pythonFields(file).disk).toEqual([`file:${disk},xvda2,w`, `file:${swap},xvda1,w`]);
  });

  it('--guest picks xvc0 for a CentOS 5 guest, as fixup does, and both name the same devices', () => {
    const guest = makeCentos5(join(scratch.dir, 'centos5'));
    const flags = ['--hostname', 'malcom', '--kernel', kernel, '--initrd', initrd, '--image-dev', disk, '--swap-dev', swap, '--fs', 'ext3'];
    const cfg = join(scratch.dir, 'agree.cfg');
    expect(runCli(['xen-config', ...flags, '--guest', guest, '--output', cfg]).status).toBe(0);
    const fix = runCli(['fixup', guest, ...flags]);
    expect(fix.stderr).toBe('');
    expect(fix.status).toBe(0);
    const f = pythonFields(cfg);
    expect(f.extra).toBe('console=xvc0');
    expect(f.root).toBe('/dev/xvda2 ro');
    // fstab, the getty and securetty use the devices the config names
    const fstab = readFileSync(join(guest, 'etc/fstab'), 'utf8').split('\n').map((l) => l.split(/\s+/));
    expect(fstab.find((l) => l[1] === '/')?.[0]).toBe((f.root as string).split(' ')[0]);
    expect(fstab.find((l) => l[2] === 'swap')?.[0]).toBe('/dev/xvda1');
    expect((f.disk as string[]).map((d) => /vdev=(\w+)/.exec(d)?.[1])).toEqual(['xvda2', 'xvda1']);
    expect(readFileSync(join(guest, 'etc/inittab'), 'utf8')).toContain(`/sbin/agetty -L ${(f.extra as string).slice('console='.length)} 9600 vt100`);
    expect(readFileSync(join(guest, 'etc/securetty'), 'utf8').trim().split('\n').pop()).toBe('xvc0');
  });
});
