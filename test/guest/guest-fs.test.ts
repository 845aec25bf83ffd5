// The chroot-style resolver and the guarded writes, including the symlink-escape cases: a host
// "canary" directory that the guest's symlinks and hard links point at must stay untouched.

import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, linkSync, lstatSync, mkdirSync, readFileSync, renameSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GuestFs } from '../../src/guest/guest-fs.js';
import { runFixups } from '../../src/fixup/index.js';
import { domainFromOptions } from '../../src/xen/options.js';
import { scratchDir } from '../helpers/run.js';
import { itemize } from '../fixup/guests.js';

const scratch = scratchDir('guestfs');
afterAll(() => scratch.cleanup());

let n = 0;
function freshGuest(): string {
  n += 1;
  const root = join(scratch.dir, `guest${n}`);
  mkdirSync(root, { recursive: true });
  return root;
}

/** A host directory the guest must never write to, with a pristine copy to compare against. */
function canary(name: string): { dir: string; untouched(): void } {
  const dir = join(scratch.dir, `canary-${name}`);
  mkdirSync(join(dir, 'etc', 'ssh'), { recursive: true });
  mkdirSync(join(dir, 'etc', 'network'), { recursive: true });
  writeFileSync(join(dir, 'etc', 'hostname'), 'host-canary\n');
  writeFileSync(join(dir, 'etc', 'hosts'), '127.0.0.1 localhost host-canary\n');
  writeFileSync(join(dir, 'etc', 'fstab'), '/dev/sda1 / ext4 defaults 0 1\n');
  writeFileSync(join(dir, 'etc', 'machine-id'), 'f'.repeat(32) + '\n');
  writeFileSync(join(dir, 'etc', 'ssh', 'ssh_host_rsa_key'), 'HOST PRIVATE KEY\n');
  writeFileSync(join(dir, 'etc', 'network', 'interfaces'), 'auto eth0\niface eth0 inet static\n    address 10.9.9.9\n');
  const pristine = `${dir}.pristine`;
  execFileSync('cp', ['-a', dir, pristine]);
  return {
    dir,
    untouched: () => expect(itemize(pristine, dir)).toEqual([]),
  };
}

const domain = domainFromOptions({ hostname: 'escapee', swap: '128M', ip: '192.0.2.7', gateway: '192.0.2.1' });
const fixAll = (root: string) => runFixups(root, { domain, hostname: 'escapee', networkSystem: 'ifupdown' });

describe('resolveInRoot semantics (root)', () => {
  it('clamps .. and absolute symlinks at the guest root', async () => {
    const root = freshGuest();
    mkdirSync(join(root, 'real', 'etc'), { recursive: true });
    symlinkSync('/real/etc', join(root, 'etc'));
    symlinkSync('../../../../../../../../real', join(root, 'up'));
    const g = new GuestFs(root);
    expect((await g.resolve('/etc/passwd')).guestPath).toBe('/real/etc/passwd');
    expect((await g.resolve('/../../../etc/x')).guestPath).toBe('/real/etc/x');
    expect((await g.resolve('/up/etc')).guestPath).toBe('/real/etc');
    expect((await g.resolve('/up/etc')).hostPath.toString()).toBe(join(root, 'real', 'etc'));
    expect((await g.resolve('/etc', { followLast: false })).guestPath).toBe('/etc');
  });

  it('stops a symlink loop with a clear error', async () => {
    const root = freshGuest();
    symlinkSync('/b', join(root, 'a'));
    symlinkSync('/a', join(root, 'b'));
    await expect(new GuestFs(root).resolve('/a/x')).rejects.toThrow(/too many levels of symbolic links/);
  });

  it('refuses a file used as a directory, and .. after a missing component', async () => {
    const root = freshGuest();
    mkdirSync(join(root, 'etc'));
    writeFileSync(join(root, 'etc', 'hostname'), 'x\n');
    const g = new GuestFs(root);
    await expect(g.resolve('/etc/hostname/x')).rejects.toThrow(/\/etc\/hostname is not a directory/);
    await expect(g.resolve('/nope/../etc')).rejects.toThrow(/\/nope does not exist/);
    expect((await g.resolve('/etc/new/file')).stat).toBeUndefined();
  });

  it('keeps non-UTF-8 names byte for byte', async () => {
    const root = freshGuest();
    const name = Buffer.from([0x66, 0xe9, 0xff]); // "f\xe9\xff"
    mkdirSync(Buffer.concat([Buffer.from(`${root}/`), name]));
    const g = new GuestFs(root);
    const names = await g.list('/');
    expect(names).toEqual([name.toString('latin1')]);
    const r = await g.resolve(`/${names[0]}`);
    expect(r.stat?.isDirectory()).toBe(true);
    expect(r.hostPath.subarray(-3)).toEqual(name);
  });
});

describe('untrusted guest files (root)', () => {
  it('gives clear errors for huge, binary, fifo and directory "files", without hanging', async () => {
    const root = freshGuest();
    mkdirSync(join(root, 'etc', 'fstab.d'), { recursive: true });
    writeFileSync(join(root, 'etc', 'huge'), '');
    truncateSync(join(root, 'etc', 'huge'), 64 << 20);
    writeFileSync(join(root, 'etc', 'binary'), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2]));
    execFileSync('mkfifo', [join(root, 'etc', 'fifo')]);
    const g = new GuestFs(root);
    await expect(g.readText('/etc/huge')).rejects.toThrow(/guest file \/etc\/huge is too large \(67108864 bytes; the limit is 4194304\)/);
    await expect(g.readText('/etc/binary')).rejects.toThrow(/binary/);
    await expect(g.readText('/etc/fifo')).rejects.toThrow(/not a regular file/);
    await expect(g.readText('/etc/fstab.d')).rejects.toThrow(/not a regular file/);
    expect(await g.readText('/etc/missing')).toBeUndefined();
  });

  it('a fixup run on a guest with a binary fstab fails with the stage id and the file', async () => {
    const root = freshGuest();
    mkdirSync(join(root, 'etc'));
    writeFileSync(join(root, 'etc', 'fstab'), Buffer.from('UUID=x / ext4\0\0\0garbage'));
    await expect(runFixups(root, { domain, only: ['fstab'] })).rejects.toThrow(/^fixup\/fstab: guest file \/etc\/fstab is binary/);
    expect(readFileSync(join(root, 'etc', 'fstab')).includes(0)).toBe(true); // left as it was
  });
});

describe('writes keep mode and owner, and are atomic (root)', () => {
  it('an edited /etc/shadow stays 0640 root:42 with its ACL and xattrs; a new file is 0644 root:root', async () => {
    const root = freshGuest();
    mkdirSync(join(root, 'etc'));
    writeFileSync(join(root, 'etc', 'shadow'), 'root:*:19000:0:99999:7:::\n');
    chownSync(join(root, 'etc', 'shadow'), 0, 42);
    chmodSync(join(root, 'etc', 'shadow'), 0o640);
    execFileSync('setfattr', ['-n', 'user.origin', '-v', 'guest', join(root, 'etc', 'shadow')]);
    execFileSync('setfacl', ['-m', 'u:7:r', join(root, 'etc', 'shadow')]);
    const xattrs = () => execFileSync('getfattr', ['--absolute-names', '-d', '-m', '-', '-e', 'hex', join(root, 'etc', 'shadow')], { encoding: 'utf8' });
    const before = xattrs();
    expect(before).toContain('system.posix_acl_access=');
    const r = await runFixups(root, { domain, only: ['identity'], rootPasswordHash: '$6$salt$abcdefghijklmnop' });
    expect(r.changes).toBeGreaterThan(0);
    const st = statSync(join(root, 'etc', 'shadow'));
    expect(st.mode & 0o7777).toBe(0o640);
    expect([st.uid, st.gid]).toEqual([0, 42]);
    expect(readFileSync(join(root, 'etc', 'shadow'), 'utf8')).toBe('root:$6$salt$abcdefghijklmnop:19000:0:99999:7:::\n');
    // and its extended attributes (here an ACL and a user.* attribute; an SELinux label the same way)
    expect(xattrs()).toBe(before);
    const hosts = statSync(join(root, 'etc', 'hosts'));
    expect([hosts.mode & 0o7777, hosts.uid, hosts.gid]).toEqual([0o644, 0, 0]);
    // no temporary files left behind
    expect(execFileSync('find', [root, '-name', '*.domu-forge-*'], { encoding: 'utf8' })).toBe('');
  });
});

describe('symlink and hard-link escapes: nothing outside the guest is written (root)', () => {
  it('absolute symlinked /etc (guest /etc -> host canary/etc)', async () => {
    const c = canary('abs');
    const root = freshGuest();
    symlinkSync(join(c.dir, 'etc'), join(root, 'etc'));
    const r = await fixAll(root);
    c.untouched();
    // the guest's own /etc is the link's target read inside the guest
    const inGuest = join(root, c.dir, 'etc');
    expect(readFileSync(join(inGuest, 'hostname'), 'utf8')).toBe('escapee\n');
    expect(readFileSync(join(inGuest, 'fstab'), 'utf8')).toContain('/dev/xvda2\t/\text4');
    expect(r.changes).toBeGreaterThan(5);
  });

  it('a .. chain (guest /etc -> ../../../../../../../../canary/etc)', async () => {
    const c = canary('dotdot');
    const root = freshGuest();
    symlinkSync(`${'../'.repeat(12)}${c.dir.slice(1)}/etc`, join(root, 'etc'));
    await fixAll(root);
    c.untouched();
    expect(readFileSync(join(root, c.dir, 'etc', 'hostname'), 'utf8')).toBe('escapee\n');
  });

  it('a symlinked parent of the file (guest /etc/ssh and /etc/network -> canary)', async () => {
    const c = canary('parent');
    const root = freshGuest();
    mkdirSync(join(root, 'etc'));
    symlinkSync(join(c.dir, 'etc', 'ssh'), join(root, 'etc', 'ssh'));
    symlinkSync(`../../../../../../..${c.dir}/etc/network`, join(root, 'etc', 'network'));
    symlinkSync(join(c.dir, 'etc', 'hosts'), join(root, 'etc', 'hosts')); // a symlinked file itself
    writeFileSync(join(root, 'etc', 'hostname'), 'old\n');
    await fixAll(root);
    c.untouched();
    expect(readFileSync(join(root, c.dir, 'etc', 'network', 'interfaces'), 'utf8')).toContain('address 192.0.2.7');
    expect(readFileSync(join(root, c.dir, 'etc', 'hosts'), 'utf8')).toContain('192.0.2.7\tescapee');
    expect(lstatSync(join(root, 'etc', 'hosts')).isSymbolicLink()).toBe(true);
  });

  it('a hard link to a host file (guest /etc/hostname and /etc/fstab share inodes with the canary)', async () => {
    const c = canary('hardlink');
    const root = freshGuest();
    mkdirSync(join(root, 'etc'));
    linkSync(join(c.dir, 'etc', 'hostname'), join(root, 'etc', 'hostname'));
    linkSync(join(c.dir, 'etc', 'fstab'), join(root, 'etc', 'fstab'));
    linkSync(join(c.dir, 'etc', 'machine-id'), join(root, 'etc', 'machine-id'));
    const plan = await runFixups(root, { domain, hostname: 'escapee', dryRun: true });
    const lines = plan.stages.flatMap((s) => s.actions).filter((a) => a.kind === 'write' && a.path === '/etc/hostname');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ hardLinks: 2 });
    await fixAll(root);
    // the host's names keep the old content (and the pristine copy's times): the guest got new inodes
    expect(readFileSync(join(c.dir, 'etc', 'hostname'), 'utf8')).toBe('host-canary\n');
    expect(statSync(join(c.dir, 'etc', 'hostname')).nlink).toBe(1);
    expect(readFileSync(join(root, 'etc', 'hostname'), 'utf8')).toBe('escapee\n');
    expect(readFileSync(join(root, 'etc', 'machine-id'), 'utf8')).toBe('');
    c.untouched();
  });
});

/** A GuestFs whose tree is changed by "another process" right after a given path is resolved. */
class RacedGuestFs extends GuestFs {
  constructor(root: string, private readonly at: string, private readonly swap: () => void) {
    super(root);
  }

  override async resolve(path: string, options: { followLast?: boolean } = {}) {
    const r = await super.resolve(path, options);
    if (path === this.at) this.swap();
    return r;
  }
}

describe('a directory swapped for a symlink between resolution and write (root)', () => {
  it('the parent itself swapped: refused, the host untouched', async () => {
    const c = canary('race-parent');
    const root = freshGuest();
    mkdirSync(join(root, 'etc'));
    const g = new RacedGuestFs(root, '/etc', () => {
      renameSync(join(root, 'etc'), join(root, 'etc.real'));
      symlinkSync(join(c.dir, 'etc'), join(root, 'etc'));
    });
    await expect(g.writeFile('/etc/hostname', 'raced\n')).rejects.toThrow(/cannot open guest directory \/etc/);
    c.untouched();
  });

  it('a component above the parent swapped: the pinned directory is not the resolved one, refused', async () => {
    const c = canary('race-above');
    const raced = () => {
      const root = freshGuest();
      mkdirSync(join(root, 'etc', 'network'), { recursive: true });
      writeFileSync(join(root, 'etc', 'network', 'interfaces'), 'guest\n');
      return new RacedGuestFs(root, '/etc/network', () => {
        renameSync(join(root, 'etc'), join(root, 'etc.real'));
        symlinkSync(join(c.dir, 'etc'), join(root, 'etc'));
      });
    };
    await expect(raced().writeFile('/etc/network/interfaces', 'raced\n')).rejects.toThrow('guest directory /etc/network changed while it was being written to; nothing written there');
    await expect(raced().remove('/etc/network/interfaces')).rejects.toThrow(/changed while it was being written to/);
    await expect(raced().symlink('/etc/network/x', '/dev/null')).rejects.toThrow(/changed while it was being written to/);
    c.untouched();
  });
});
