// updateHosts: the old host name goes, the new one is where the guest will look for it.

import { describe, expect, it } from 'vitest';
import { updateHosts } from '../../src/fixup/identity.js';

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
