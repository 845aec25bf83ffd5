// xen-tools.conf -> site defaults: parsing (comments, spacing, backquotes) and the field each key becomes.
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { stringify } from 'yaml';
import { convertXenTools, parseXenToolsConf, renderDefaultsFile } from '../../src/spec/xen-tools.js';

const CONF = `
# a comment
size   = 8G       # Root disk, suffix (G, M, k) required
memory = 1G
swap   = 1G
fs     = xfs
dist   = \`xt-guess-suite-and-mirror --suite\`
kernel = /boot/vmlinuz-\`uname -r\`
initrd = /boot/initrd.img-6.1.0
gateway   = 192.0.2.1
netmask   = 255.255.255.0
nameserver = 192.0.2.53 192.0.2.54
bridge = xenbr1
dir = /srv/xen
genpass = 1
hash_method = md5
accounts = 1
pygrub = 1
mirror = http://deb.debian.org/debian
install-method = debootstrap
ext4_options = noatime
fs = ext4
`;

describe('parseXenToolsConf', () => {
  it('reads key = value lines, drops comments, keeps backquoted commands and line numbers', () => {
    const s = parseXenToolsConf(CONF);
    expect(s.find((x) => x.key === 'size')).toEqual({ key: 'size', value: '8G', line: 3 });
    expect(s.find((x) => x.key === 'dist')!.value).toBe('`xt-guess-suite-and-mirror --suite`');
    expect(s.some((x) => x.key.startsWith('#'))).toBe(false);
  });
});

describe('convertXenTools', () => {
  const conv = convertXenTools(parseXenToolsConf(CONF));

  it('maps each key to its spec field, the last of a repeated key winning', () => {
    expect(conv.defaults).toEqual({
      target: { size: '8G', swap: '1G', fs: 'ext4', imageDir: '/srv/xen' },
      domain: {
        memory: '1G',
        kernel: 'dom0',
        initrd: '/boot/initrd.img-6.1.0',
        pygrub: true,
        network: { gateway: '192.0.2.1', netmask: '255.255.255.0', nameservers: ['192.0.2.53', '192.0.2.54'], bridge: 'xenbr1' },
      },
      access: { genpass: true, accounts: true },
      source: { install: { distro: 'debian', mirror: 'http://deb.debian.org/debian', tool: 'debootstrap' } },
    });
  });

  it('names every key it did not carry over, with the reason', () => {
    const why = Object.fromEntries(conv.notCarried.map((n) => [n.key, n.note]));
    expect(Object.keys(why).sort()).toEqual(['dist', 'ext4_options', 'hash_method']);
    expect(why.hash_method).toMatch(/never MD5/);
    expect(why.dist).toMatch(/Dom0's suite/);
  });

  it('refuses what domu-forge cannot make, and a size that is not one', () => {
    const c = convertXenTools(parseXenToolsConf('fs = btrfs\nsize = big\ninstall-method = rinse\nmemory = 256M\n'));
    expect(c.defaults).toEqual({ domain: { memory: '256M' } });
    expect(c.notCarried.map((n) => n.key)).toEqual(['fs', 'size', 'install-method']);
    expect(c.carried[0]!.note).toMatch(/512M/);
  });

  it('renders a YAML file that reads back as the defaults, headed by the reasons', () => {
    const text = renderDefaultsFile(conv, '/etc/xen-tools/xen-tools.conf', (v) => stringify(v));
    expect(parse(text)).toEqual(conv.defaults);
    expect(text).toMatch(/^# .*hash_method = md5 \(line 16\): .*never MD5/m);
  });
});
