// fixup/access, the pure parts: the guest's hash scheme, which Dom0 accounts are copied, key files,
// generated passwords.

import { describe, expect, it } from 'vitest';
import { generatePassword, hashSchemeOf, parseAuthorizedKeys, planAccounts, setShadowPassword } from '../../src/fixup/access.js';

const DEBIAN12_PAM = 'password\t[success=1 default=ignore]\tpam_unix.so obscure yescrypt\npassword\trequisite\tpam_deny.so\n';
const DEBIAN11_PAM = 'password\t[success=1 default=ignore]\tpam_unix.so obscure sha512\n';

describe('hashSchemeOf', () => {
  it('Debian 12: PAM says yescrypt although login.defs still says SHA512', () => {
    expect(hashSchemeOf([DEBIAN12_PAM], 'ENCRYPT_METHOD SHA512\n')).toEqual({ scheme: 'yescrypt', evidence: 'pam_unix yescrypt' });
  });
  it('Debian 11: SHA-512', () => {
    expect(hashSchemeOf([DEBIAN11_PAM], 'ENCRYPT_METHOD SHA512\n').scheme).toBe('sha512crypt');
  });
  it('login.defs YESCRYPT alone is enough; a commented-out pam line is not read', () => {
    expect(hashSchemeOf(['# password pam_unix.so yescrypt\n'], 'ENCRYPT_METHOD YESCRYPT\n').scheme).toBe('yescrypt');
    expect(hashSchemeOf(['# password pam_unix.so yescrypt\n'], undefined)).toEqual({ scheme: 'sha512crypt', evidence: 'the guest names no scheme: SHA-512' });
  });
  it('an MD5 guest never gets MD5: SHA-512', () => {
    expect(hashSchemeOf(['password sufficient pam_unix.so md5 shadow\n'], 'ENCRYPT_METHOD MD5\n').scheme).toBe('sha512crypt');
  });
});

describe('planAccounts', () => {
  const dom0 = {
    passwd: 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\nann:x:1000:1000:Ann:/home/ann:/bin/bash\nbob:x:1001:1001::/home/bob:/bin/sh\nsys:x:999:999::/var/sys:/bin/false\n',
    shadow: 'root:$y$root:19000:0:99999:7:::\nann:$y$ann:19000:0:99999:7:::\n',
    group: 'root:x:0:\nusers:x:100:ann\nann:x:1000:\nbob:x:1001:\nproj:x:1500:ann,bob,ghost\nnogroup:x:65534:\n',
    gshadow: 'ann:!::\nbob:!::\nproj:!::ann,bob\n',
  };
  it('copies uid >= 1000 but not nobody, their groups, and locks an account with no shadow line', () => {
    const guest = { passwd: 'root:x:0:0:root:/root:/bin/bash\n', shadow: 'root:*:19000:0:99999:7:::\n', group: 'root:x:0:\n', gshadow: 'root:*::\n' };
    const p = planAccounts(dom0, guest);
    expect(p.passwd.map((r) => r[0])).toEqual(['ann', 'bob']);
    expect(p.shadow).toEqual([['ann', '$y$ann', '19000', '0', '99999', '7', '', '', ''], ['bob', '!', '', '', '', '', '', '', '']]);
    expect(p.group.map((r) => r.join(':'))).toEqual(['ann:x:1000:', 'bob:x:1001:', 'proj:x:1500:ann,bob']);
    expect(p.gshadow.map((r) => r[0])).toEqual(['ann', 'bob', 'proj']);
    expect(p.skipped).toEqual([]);
  });
  it('an account whose name or uid the guest has already is not copied, and says so', () => {
    const guest = { passwd: 'root:x:0:0::/root:/bin/bash\ndebian:x:1000:1000::/home/debian:/bin/bash\n', shadow: 'root:*::::::::\n', group: 'root:x:0:\ndebian:x:1000:\n' };
    const p = planAccounts(dom0, guest);
    expect(p.passwd.map((r) => r[0])).toEqual(['bob']);
    expect(p.skipped).toEqual(['ann (uid 1000): the guest has debian (uid 1000)']);
  });
});

describe('parseAuthorizedKeys', () => {
  it('keeps keys, drops comments and blank lines, refuses what is not a key', () => {
    const k = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBq0k0 ann@dom0';
    expect(parseAuthorizedKeys(`# mine\n\n${k}\n`, 'keys')).toEqual([k]);
    expect(() => parseAuthorizedKeys('-----BEGIN OPENSSH PRIVATE KEY-----\n', 'id')).toThrow('id: not an ssh public key: -----BEGIN OPENSSH PRIVATE KEY-----');
    expect(() => parseAuthorizedKeys('\n# nothing\n', 'empty')).toThrow('empty holds no ssh public key');
  });
});

describe('generatePassword and setShadowPassword', () => {
  it('makes distinct passwords of the asked length from the unambiguous alphabet', () => {
    const a = generatePassword();
    expect(a).toMatch(/^[a-km-zA-HJ-NP-Z2-9]{20}$/);
    expect(generatePassword()).not.toBe(a);
    expect(() => generatePassword(4)).toThrow('a generated password is 12 to 128 characters long');
  });
  it('sets the password field only', () => {
    expect(setShadowPassword('root:*:19000:0:99999:7:::\nann:!:1::::::\n', 'root', '$y$j9T$x$y')).toBe('root:$y$j9T$x$y:19000:0:99999:7:::\nann:!:1::::::\n');
    expect(() => setShadowPassword('ann:!:1::::::\n', 'root', '$y$a')).toThrow("the guest's /etc/shadow has no root line");
  });
});
