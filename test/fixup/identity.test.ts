// updateHosts: the old host name goes, the new one is where the guest will look for it.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { updateHosts } from '../../src/fixup/identity.js';
import { runFixups } from '../../src/fixup/index.js';

describe('updateHosts', () => {
  it('DHCP: the loopback line takes the new name, aliases stay, IPv6 lines untouched', () => {
    const before = '127.0.0.1\tlocalhost\n127.0.1.1\tdom0.example.org dom0 mirror\n::1 localhost ip6-localhost\n';
    expect(updateHosts(before, 'dom0.example.org', 'banquo.example.org')).toBe('127.0.0.1\tlocalhost\n127.0.1.1\tbanquo.example.org banquo mirror\n::1 localhost ip6-localhost\n');
  });

  it('static: the old host\'s address loses the name; a line for the new address is added after localhost', () => {
    const before = '127.0.0.1 localhost\n10.1.1.1 dom0 # the Dom0\n10.1.1.2 storage\n';
    expect(updateHosts(before, 'dom0', 'malcom', '192.0.2.20')).toBe('127.0.0.1 localhost\n192.0.2.20\tmalcom\n10.1.1.2 storage\n');
  });

  it('is idempotent and does not touch localhost', () => {
    const once = updateHosts('127.0.0.1 localhost\n', 'localhost', 'fleance');
    expect(once).toBe('127.0.0.1 localhost\n127.0.1.1\tfleance\n');
    expect(updateHosts(once, 'fleance', 'fleance')).toBe(once);
  });
});

describe('identity on malformed guest files (root)', () => {
  it('a shadow without a root line, or a bad hash, is a clear error and nothing is written', async () => {
    const root = mkdtempSync(join(tmpdir(), 'domu-identity-'));
    try {
      mkdirSync(join(root, 'etc'));
      writeFileSync(join(root, 'etc', 'shadow'), 'garbage without fields\n');
      writeFileSync(join(root, 'etc', 'hostname'), 'old\n');
      await expect(runFixups(root, { only: ['identity'], hostname: 'new', rootPasswordHash: '$6$s$h' })).rejects.toThrow(
        "fixup/identity: the guest's /etc/shadow has no root line",
      );
      await expect(runFixups(root, { only: ['identity'], rootPasswordHash: 'plain:text' })).rejects.toThrow(/the root password hash must be a crypt\(3\) hash/);
      // the stage plans everything before it applies anything
      expect(readFileSync(join(root, 'etc', 'hostname'), 'utf8')).toBe('old\n');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
