// Plans before actions: how actions read, and the view that lets later stages plan against the tree
// as earlier ones would leave it.
import { afterAll, describe, expect, it } from 'vitest';
import { describeAction, formatAction, GuestView, type Action } from '../../src/fixup/plan.js';
import { GuestFs } from '../../src/guest/guest-fs.js';
import { tempGuests } from './stage-tree.js';

const g = tempGuests('plan');
afterAll(() => g.cleanup());

describe('describeAction', () => {
  const cases: Array<[Action, string]> = [
    [{ kind: 'write', path: '/etc/fstab', after: 'x', mode: 0o644, uid: 0, gid: 0 }, 'create /etc/fstab (0644 0:0)'],
    [{ kind: 'write', path: '/etc/shadow', before: 'a', after: 'b', mode: 0o640, uid: 0, gid: 42 }, 'edit /etc/shadow (0640 0:42)'],
    [{ kind: 'write', path: '/etc/h', before: 'a', after: 'b', mode: 0o644, uid: 0, gid: 0, hardLinks: 3 }, 'edit /etc/h (0644 0:0; replaced by rename, its 3 hard links keep the old content)'],
    [{ kind: 'write', path: '/etc/h', before: 'a', after: 'b', mode: 0o644, uid: 0, gid: 0, hardLinks: 1 }, 'edit /etc/h (0644 0:0)'],
    [{ kind: 'mkdir', path: '/tmp', mode: 0o1777 }, 'mkdir /tmp (1777)'],
    [{ kind: 'mkdir', path: '/root/.ssh', mode: 0o700, uid: 0 }, 'mkdir /root/.ssh (0700 0:0)'],
    [{ kind: 'chmod', path: '/run', mode: 0o755, from: 0o700 }, 'chmod /run 0700 -> 0755'],
    [{ kind: 'mknod', path: '/dev/xvda1', type: 'b', major: 202, minor: 1, mode: 0o660 }, 'mknod /dev/xvda1 b 202 1 (0660)'],
    [{ kind: 'symlink', path: '/etc/mtab', target: '/proc/mounts' }, 'symlink /etc/mtab -> /proc/mounts'],
    [{ kind: 'remove', path: '/etc/udev/rules.d/70-persistent-net.rules', what: 'host MAC rules' }, 'remove /etc/udev/rules.d/70-persistent-net.rules (host MAC rules)'],
    [{ kind: 'rename', path: '/a', to: '/b' }, 'rename /a -> /b'],
    [{ kind: 'copy-tree', path: '/lib/modules/6.1', from: '/lib/modules/6.1' }, 'copy /lib/modules/6.1 (host) -> /lib/modules/6.1'],
  ];
  for (const [a, text] of cases) it(text, () => expect(describeAction(a)).toBe(text));
});

describe('formatAction', () => {
  it('adds a unified diff to a write, the bytes shown as UTF-8', () => {
    const before = Buffer.from('root on café\nline 2\n', 'utf8').toString('latin1');
    const after = Buffer.from('root on café\nline two\n', 'utf8').toString('latin1');
    const text = formatAction({ kind: 'write', path: '/etc/motd', before, after, mode: 0o644, uid: 0, gid: 0 });
    expect(text.split('\n')[0]).toBe('edit /etc/motd (0644 0:0)');
    expect(text).toContain('-line 2\n');
    expect(text).toContain('+line two\n');
    expect(text).toContain(' root on café\n');
  });

  it('other actions are their one line', () => {
    expect(formatAction({ kind: 'rename', path: '/a', to: '/b' })).toBe('rename /a -> /b\n');
  });
});

describe('GuestView overlay', () => {
  it('sees planned writes, mkdirs and removals, without touching the tree', async () => {
    const root = g.tree({ 'etc/hostname': 'old\n', 'etc/motd': 'hi\n', 'var/lib/x/y': 'z' });
    const view = new GuestView(new GuestFs(root));
    expect(await view.readText('/etc/hostname')).toBe('old\n');
    view.record({ kind: 'write', path: '/etc/hostname', before: 'old\n', after: 'new\n', mode: 0o644, uid: 0, gid: 0 });
    view.record({ kind: 'mkdir', path: '/etc/new.d', mode: 0o755 });
    view.record({ kind: 'remove', path: '/etc/motd', what: 'test' });
    view.record({ kind: 'remove', path: '/var/lib', what: 'test' });
    view.record({ kind: 'symlink', path: '/etc/mtab', target: '/proc/mounts' });
    expect(await view.readText('/etc/hostname')).toBe('new\n');
    expect(await view.kind('/etc/new.d')).toBe('dir');
    expect(await view.kind('/etc/motd')).toBeUndefined();
    expect(await view.readText('/etc/motd')).toBeUndefined();
    // a removed ancestor hides everything below it
    expect(await view.exists('/var/lib/x/y')).toBe(false);
    expect(await view.list('/var/lib')).toEqual([]);
    expect(await view.kind('/etc/mtab', false)).toBe('other');
    expect(await view.list('/etc')).toEqual(['hostname', 'mtab', 'new.d']);
    // the tree is as it was
    const real = new GuestView(new GuestFs(root));
    expect(await real.readText('/etc/hostname')).toBe('old\n');
    expect(await real.list('/etc')).toEqual(['hostname', 'motd']);
    view.clear();
    expect(await view.readText('/etc/hostname')).toBe('old\n');
    expect(await view.exists('/var/lib/x/y')).toBe(true);
  });

  it('a rename hides the old path and shows the new one', async () => {
    const root = g.tree({ 'etc/a.conf': 'a' });
    const view = new GuestView(new GuestFs(root));
    view.record({ kind: 'rename', path: '/etc/a.conf', to: '/etc/a.conf.bak' });
    expect(await view.exists('/etc/a.conf')).toBe(false);
    expect(await view.kind('/etc/a.conf.bak')).toBe('other');
    expect(await view.list('/etc')).toEqual(['a.conf.bak']);
  });

  it('resolves guest symlinks inside the root (an absolute link does not leave it)', async () => {
    const root = g.tree({ 'etc/real.conf': 'inside\n', 'etc/link.conf': { link: '/etc/real.conf' }, 'etc/up': { link: '../../../../etc' } });
    const view = new GuestView(new GuestFs(root));
    expect(await view.readText('/etc/link.conf')).toBe('inside\n');
    expect(await view.kind('/etc/link.conf', false)).toBe('symlink');
    expect(await view.readlink('/etc/link.conf')).toBe('/etc/real.conf');
    expect((await view.canonical('/etc/up/real.conf')).guestPath).toBe('/etc/real.conf');
  });
});
