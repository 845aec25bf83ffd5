// The install's guest-file helpers on real trees (root: files are root-owned, and mounts are made):
// paths resolved as the guest sees them, lines added once, and what an installer left mounted below
// the root (names not UTF-8 included) found and released.
import { lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureGuestLines, mountsUnder, readGuestFile, removeGuestFile, resolveInRoot, unmountUnder, writeGuestFile } from '../../src/install/guest-files.js';
import { runTool } from '../../src/sys/exec.js';
import { scratchDir } from '../helpers/run.js';

const scratch = scratchDir('mirror-guestfiles');
const mounted: Buffer[] = [];
// (Node's own spawn turns Buffer arguments into UTF-8 text; runTool passes their bytes)
const mount = async (m: Buffer) => {
  await runTool('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'df-mirror', m]);
  mounted.push(m);
};
afterAll(async () => {
  for (const m of mounted.reverse()) await runTool('umount', ['--lazy', m], { allowFailure: true });
  scratch.cleanup();
});
let n = 0;
const tree = () => {
  const root = join(scratch.dir, `g${n++}`);
  mkdirSync(root);
  return root;
};

describe('guest files (root)', () => {
  it('resolves absolute symlinks inside the root, never on the host', async () => {
    const root = tree();
    mkdirSync(join(root, 'real-etc'));
    symlinkSync('/real-etc', join(root, 'etc'));
    expect(await resolveInRoot(root, '/etc/hostname')).toBe(join(root, 'real-etc/hostname'));
    expect(await resolveInRoot(root, '/../../etc/passwd')).toBe(join(root, 'real-etc/passwd'));
    await writeGuestFile(root, '/etc/hostname', 'guest\n');
    expect(readFileSync(join(root, 'real-etc/hostname'), 'utf8')).toBe('guest\n');
    expect(readFileSync('/etc/hostname', 'utf8')).not.toBe('guest\n');
    expect(await readGuestFile(root, '/etc/hostname')).toBe('guest\n');
  });

  it('writes new files 0644 root:root with their parents, keeps an existing file\'s mode', async () => {
    const root = tree();
    await writeGuestFile(root, '/etc/apt/sources.list.d/x.list', 'deb x\n');
    const st = lstatSync(join(root, 'etc/apt/sources.list.d/x.list'));
    expect([st.mode & 0o7777, st.uid, st.gid]).toEqual([0o644, 0, 0]);
    expect(lstatSync(join(root, 'etc/apt')).mode & 0o7777).toBe(0o755);
    writeFileSync(join(root, 'etc/secret'), 'a', { mode: 0o600 });
    await writeGuestFile(root, '/etc/secret', 'b');
    expect(lstatSync(join(root, 'etc/secret')).mode & 0o7777).toBe(0o600);
    expect(await readGuestFile(root, '/etc/none')).toBeUndefined();
    expect(await readGuestFile(root, '/etc')).toBeUndefined();
  });

  it('removes files and symlinks (not their targets), never directories', async () => {
    const root = tree();
    await writeGuestFile(root, '/usr/sbin/policy-rc.d', 'exit 101\n');
    writeFileSync(join(scratch.dir, `host-target${n}`), 'keep');
    symlinkSync(join(scratch.dir, `host-target${n}`), join(root, 'link'));
    expect(await removeGuestFile(root, '/usr/sbin/policy-rc.d')).toBe(true);
    expect(await removeGuestFile(root, '/usr/sbin/policy-rc.d')).toBe(false);
    expect(await removeGuestFile(root, '/link')).toBe(true);
    expect(readFileSync(join(scratch.dir, `host-target${n}`), 'utf8')).toBe('keep');
    expect(await removeGuestFile(root, '/usr/sbin')).toBe(false);
    expect(lstatSync(join(root, 'usr/sbin')).isDirectory()).toBe(true);
  });

  it('ensureGuestLines adds what is missing once, comments ignored', async () => {
    const root = tree();
    expect(await ensureGuestLines(root, '/etc/modules', ['xenblk', 'xennet'], '# modules\n')).toBe(true);
    expect(readFileSync(join(root, 'etc/modules'), 'utf8')).toBe('# modules\nxenblk\nxennet\n');
    expect(await ensureGuestLines(root, '/etc/modules', ['xennet', 'xenblk'])).toBe(false);
    writeFileSync(join(root, 'etc/modules'), 'loop # for images\nxenblk');
    expect(await ensureGuestLines(root, '/etc/modules', ['loop', 'xenblk', 'xennet'])).toBe(true);
    expect(readFileSync(join(root, 'etc/modules'), 'utf8')).toBe('loop # for images\nxenblk\nxennet\n');
  });

  it('finds the mounts below the root, deepest first, a non-UTF-8 mount point included, and releases them', async () => {
    const root = tree();
    const odd = Buffer.concat([Buffer.from(join(root, 'mnt', 'caf')), Buffer.from([0xe9])]);
    for (const d of [join(root, 'proc'), join(root, 'dev')]) mkdirSync(d);
    mkdirSync(join(root, 'mnt'));
    mkdirSync(odd);
    await mount(Buffer.from(join(root, 'dev')));
    await mount(odd);
    mkdirSync(join(root, 'dev', 'pts'));
    await mount(Buffer.from(join(root, 'dev', 'pts')));
    const found = await mountsUnder(root);
    expect(found.map((p) => Buffer.from(p, 'latin1'))).toEqual(expect.arrayContaining([odd]));
    expect(found.indexOf(join(root, 'dev', 'pts'))).toBeLessThan(found.indexOf(join(root, 'dev')));
    expect(found).toHaveLength(3);
    expect(await mountsUnder(join(root, 'proc'))).toEqual([]);
    const released = await unmountUnder(root);
    expect(released.sort()).toEqual([...found].sort());
    expect(await mountsUnder(root)).toEqual([]);
    expect(readlinkSync('/proc/self/root')).toBe('/');
  });
});
