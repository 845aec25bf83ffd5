// `domu-forge fixup`: the printed plan (a unified diff per file, a line per node, directory and
// removal), --only/--skip, --json, exit statuses, and a dry run that leaves the tree as it was.

import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, scratchDir } from '../helpers/run.js';
import { itemize, makeCentos5 } from './guests.js';

const scratch = scratchDir('fixup-cli');
afterAll(() => scratch.cleanup());

describe('fixup CLI (root)', () => {
  const guest = makeCentos5(join(scratch.dir, 'g'));
  const pristine = join(scratch.dir, 'pristine');
  execFileSync('cp', ['-a', guest, pristine]);
  const flags = ['--hostname', 'malcom', '--pygrub', '--swap', '1G', '--fs', 'ext3', '--dhcp'];

  it('--dry-run prints diffs and one line per node, directory and removal, and writes nothing', () => {
    const r = runCli(['fixup', guest, ...flags, '--dry-run']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('guest ' + guest + ': CentOS release 5.11 (Final), init sysvinit, kernel 2.6.18-398.el5xen (redhat-xen), console xvc0\n');
    expect(r.stdout).toContain('fixup/securetty: 1 planned\n  edit /etc/securetty (0644 0:0)\n  --- a/etc/securetty\n  +++ b/etc/securetty\n  @@ -3,3 +3,4 @@\n   vc/2\n   tty1\n   tty2\n  +xvc0\n');
    expect(r.stdout).toContain('  mknod /dev/xvda1 b 202 1 (0660)\n');
    expect(r.stdout).toContain('  remove /etc/ssh/ssh_host_rsa_key (ssh host key)\n');
    expect(r.stdout).toContain('  rename /etc/rc.d/rc3.d/S98xend -> /etc/rc.d/rc3.d/K02xend\n');
    expect(r.stdout).toContain('  create /.autorelabel (0644 0:0)\n');
    expect(r.stdout).toMatch(/\ndry run: \d+ changes planned in 11 stages; nothing was written\n$/);
    expect(itemize(pristine, guest)).toEqual([]);
  });

  it('the patch printed for a file is what the run does: patch(1) applies it to the pristine copy', () => {
    const r = runCli(['fixup', guest, ...flags, '--dry-run', '--only', 'console']);
    const diff = r.stdout.split('\n').filter((l) => l.startsWith('  ')).map((l) => l.slice(2)).filter((l) => /^(---|\+\+\+|@@| |-|\+)/.test(l)).join('\n');
    const copy = join(scratch.dir, 'patched');
    execFileSync('cp', ['-a', pristine, copy]);
    execFileSync('patch', ['-s', '-p1', '-d', copy], { input: `${diff}\n` });
    expect(runCli(['fixup', guest, ...flags, '--only', 'console']).status).toBe(0);
    expect(readFileSync(join(copy, 'etc/inittab'), 'utf8')).toBe(readFileSync(join(guest, 'etc/inittab'), 'utf8'));
  });

  it('runs, then a second run changes nothing', () => {
    const keys = join(scratch.dir, 'keys.pub');
    writeFileSync(keys, '# mine\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIO1 me@here\n');
    const r = runCli(['fixup', guest, ...flags, '--authorized-keys', keys, '--skip', 'selinux,host-leftovers']);
    expect(r.status).toBe(0);
    expect(r.stdout).not.toContain('fixup/selinux');
    expect(readFileSync(join(guest, 'root/.ssh/authorized_keys'), 'utf8')).toBe('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIO1 me@here\n');
    const again = runCli(['fixup', guest, ...flags, '--authorized-keys', keys, '--skip', 'selinux,host-leftovers']);
    expect(again.stdout).toMatch(/\n0 changes in 0 stages\n$/);
  });

  it('--json: stages with actions, diffs for writes', () => {
    const r = runCli(['fixup', guest, ...flags, '--only', 'selinux', '--json', '--dry-run']);
    const j = JSON.parse(r.stdout) as { ok: boolean; stages: Array<{ id: string; status: string; actions: Array<{ kind: string; path: string; diff?: string }> }> };
    expect(j.ok).toBe(true);
    expect(j.stages).toEqual([{
      id: 'fixup/selinux', status: 'changed', notes: [],
      actions: [{ kind: 'write', path: '/.autorelabel', mode: 0o644, uid: 0, gid: 0, text: 'create /.autorelabel (0644 0:0)', diff: '--- /dev/null\n+++ b/.autorelabel\n' }],
    }]);
  });

  it('exit 2 for an unknown stage, a missing root, flags without --hostname', () => {
    const u = runCli(['fixup', guest, '--only', 'fstab,nope']);
    expect([u.status, u.stderr]).toEqual([2, 'domu-forge: unknown fixup stage "nope"\nhint: stages: mountpoints, devices, console, securetty, fstab, drivers, bootloader, kernel-modules, network, identity, access, selinux, host-leftovers\n']);
    expect(runCli(['fixup', join(scratch.dir, 'none')]).status).toBe(2);
    const f = runCli(['fixup', guest, '--swap', '1G']);
    expect([f.status, f.stderr]).toEqual([2, 'domu-forge: --hostname is required with domain flags\n']);
  });
});
