// fixup/access on a real debootstrapped Debian bookworm (root, network for the first build of the
// cached guest): root's password hashed with the guest's yescrypt, key files, the Dom0's accounts.

import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareAccess } from '../../src/fixup/access.js';
import { runFixups } from '../../src/fixup/index.js';
import { scratchDir } from '../helpers/run.js';
import { debianGuest, overlay, type Overlay } from './guests.js';

const scratch = scratchDir('fixup-access');
const mounts: Overlay[] = [];
let lower: string;

beforeAll(() => {
  lower = debianGuest();
});
afterAll(() => {
  for (const m of mounts) m.unmount();
  scratch.cleanup();
});

const fresh = (name: string) => {
  const o = overlay(lower, join(scratch.dir, name));
  mounts.push(o);
  return o;
};
const rootHash = (root: string) => readFileSync(join(root, 'etc/shadow'), 'utf8').split('\n').find((l) => l.startsWith('root:'))!.split(':')[1]!;
/** Whether `password` matches `hash`, checked by the C library's crypt() (libxcrypt: yescrypt too). */
const matches = (password: string, hash: string) =>
  execFileSync('python3', ['-W', 'ignore', '-c', 'import crypt,sys; print(crypt.crypt(sys.stdin.readline().rstrip("\\n"), sys.argv[1]) == sys.argv[1])', hash], { input: `${password}\n` }).toString().trim() === 'True';

describe('fixup/access on Debian bookworm (root)', () => {
  it('a plain password is hashed with yescrypt, as the guest\'s PAM asks, and nothing else of the shadow changes', async () => {
    const o = fresh('plain');
    const before = readFileSync(join(o.merged, 'etc/shadow'), 'utf8');
    const r = await runFixups(o.merged, { only: ['access'], access: { rootPassword: { kind: 'plain', password: 'correct horse' } } });
    const hash = rootHash(o.merged);
    expect(hash).toMatch(/^\$y\$/);
    expect(matches('correct horse', hash)).toBe(true);
    expect(matches('wrong horse', hash)).toBe(false);
    expect(r.stages[0]!.notes).toContain('root password hashed with yescrypt (pam_unix yescrypt)');
    const after = readFileSync(join(o.merged, 'etc/shadow'), 'utf8');
    expect(after.split('\n').filter((l) => !l.startsWith('root:'))).toEqual(before.split('\n').filter((l) => !l.startsWith('root:')));
    expect(statSync(join(o.merged, 'etc/shadow')).mode & 0o7777).toBe(statSync(join(lower, 'etc/shadow')).mode & 0o7777);
  });

  it('--genpass: prepareAccess makes the password once; the guest holds only its hash', async () => {
    const o = fresh('gen');
    const { options, generated } = await prepareAccess({ rootPassword: { kind: 'generate' } });
    expect(generated).toMatch(/^\S{20}$/);
    await runFixups(o.merged, { only: ['access'], access: options });
    const hash = rootHash(o.merged);
    expect(matches(generated!, hash)).toBe(true);
    expect(readFileSync(join(o.merged, 'etc/shadow'), 'latin1')).not.toContain(generated!);
  });

  it('--password-file reads the first line; --passwd-hash is written as given; MD5 crypt is refused', async () => {
    const o = fresh('file');
    const f = join(scratch.dir, 'pw');
    writeFileSync(f, 's3cret pass\nignored\n', { mode: 0o600 });
    await runFixups(o.merged, { only: ['access'], access: { rootPassword: { kind: 'file', path: f } } });
    expect(matches('s3cret pass', rootHash(o.merged))).toBe(true);
    const given = '$6$salt$IxDD3jeSOb5eB1CX5LBsqZFVkJdido3OUILO5Ifz5iwMuTS4XMS130MTSuDDl3aCI6WouIL9AjRbLCelDCy.g.';
    await runFixups(o.merged, { only: ['access'], access: { rootPassword: { kind: 'hash', hash: given } } });
    expect(rootHash(o.merged)).toBe(given);
    await expect(runFixups(o.merged, { only: ['access'], access: { rootPassword: { kind: 'hash', hash: '$1$salt$abcdef' } } })).rejects.toThrow(
      'fixup/access: the root password hash is MD5 crypt ($1$), which is broken: give a yescrypt ($y$) or SHA-512 ($6$) hash',
    );
    await expect(runFixups(o.merged, { only: ['access'], access: { rootPassword: { kind: 'file', path: join(scratch.dir, 'none') } } })).rejects.toThrow(/cannot read the password file/);
  });

  it('--authorized-keys: keys from two files into root\'s authorized_keys, 0600 in a 0700 .ssh, once each', async () => {
    const o = fresh('keys');
    const a = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBq0k0aaaa ann@dom0';
    const b = 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQbbbb bob@dom0';
    writeFileSync(join(scratch.dir, 'k1'), `# Ann\n${a}\n`);
    writeFileSync(join(scratch.dir, 'k2'), `${b}\n${a}\n`);
    const opts = { only: ['access'], access: { authorizedKeysFiles: [join(scratch.dir, 'k1'), join(scratch.dir, 'k2')] } };
    await runFixups(o.merged, opts);
    const file = join(o.merged, 'root/.ssh/authorized_keys');
    expect(readFileSync(file, 'utf8')).toBe(`${a}\n${b}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(o.merged, 'root/.ssh')).mode & 0o777).toBe(0o700);
    const again = await runFixups(o.merged, opts);
    expect(again.stages[0]!.status).toBe('unchanged');
  });

  it('--accounts: the Dom0\'s uid >= 1000 accounts, groups and shadow lines, homes from the guest\'s /etc/skel', async () => {
    const o = fresh('accounts');
    const dom0 = join(scratch.dir, 'dom0');
    mkdirSync(join(dom0, 'etc'), { recursive: true });
    writeFileSync(join(dom0, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\nann:x:1000:1000:Ann,,,:/home/ann:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n');
    writeFileSync(join(dom0, 'etc/shadow'), 'root:$y$j9T$root:19000:0:99999:7:::\nann:$y$j9T$annhash:19000:0:99999:7:::\n');
    writeFileSync(join(dom0, 'etc/group'), 'root:x:0:\nann:x:1000:\n');
    writeFileSync(join(dom0, 'etc/gshadow'), 'root:*::\nann:!::\n');
    const r = await runFixups(o.merged, { only: ['access'], access: { accounts: true, accountsFrom: dom0 } });
    expect(readFileSync(join(o.merged, 'etc/passwd'), 'utf8')).toMatch(/\nann:x:1000:1000:Ann,,,:\/home\/ann:\/bin\/bash\n$/);
    expect(readFileSync(join(o.merged, 'etc/shadow'), 'utf8')).toMatch(/\nann:\$y\$j9T\$annhash:19000:0:99999:7:::\n$/);
    expect(readFileSync(join(o.merged, 'etc/group'), 'utf8')).toMatch(/\nann:x:1000:\n$/);
    expect(readFileSync(join(o.merged, 'etc/gshadow'), 'utf8')).toMatch(/\nann:!::\n$/);
    expect(rootHash(o.merged)).toBe(rootHash(lower)); // root is not the Dom0's
    const home = statSync(join(o.merged, 'home/ann'));
    expect([home.uid, home.gid, home.mode & 0o777]).toEqual([1000, 1000, 0o700]);
    const bashrc = statSync(join(o.merged, 'home/ann/.bashrc'));
    expect([bashrc.uid, bashrc.gid]).toEqual([1000, 1000]);
    expect(readFileSync(join(o.merged, 'home/ann/.bashrc'))).toEqual(readFileSync(join(lower, 'etc/skel/.bashrc')));
    expect(r.stages[0]!.notes).toContain('copied the Dom0\'s accounts: ann');
    // the guest's own tools agree the files are consistent
    execFileSync('pwck', ['-r', '-q', '-R', o.merged]);
  });
});
