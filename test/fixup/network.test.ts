// updateInterfaces: the interface's stanzas in /etc/network/interfaces are replaced by ours.

import { describe, expect, it } from 'vitest';
import { updateInterfaces } from '../../src/fixup/network.js';

describe('updateInterfaces', () => {
  it('removes the old stanza and its auto/allow-hotplug mentions, keeps the others', () => {
    const before = [
      'auto lo eth0',
      'iface lo inet loopback',
      '',
      'allow-hotplug eth0',
      'iface eth0 inet static',
      '    address 10.1.1.1',
      '    netmask 255.255.255.0',
      '# a comment about the bridge',
      'auto xenbr0',
      'iface xenbr0 inet dhcp',
      '    bridge_ports eth1',
      '',
    ].join('\n');
    const after = updateInterfaces(before, 'eth0', ['auto eth0', 'iface eth0 inet dhcp']);
    expect(after).toBe([
      'auto lo',
      'iface lo inet loopback',
      '',
      '# a comment about the bridge',
      'auto xenbr0',
      'iface xenbr0 inet dhcp',
      '    bridge_ports eth1',
      '',
      'auto eth0',
      'iface eth0 inet dhcp',
      '',
    ].join('\n'));
    expect(updateInterfaces(after, 'eth0', ['auto eth0', 'iface eth0 inet dhcp'])).toBe(after);
  });

  it('keeps an inet6 stanza of another interface and a stanza whose name only starts alike', () => {
    const before = 'iface eth00 inet manual\niface eth1 inet6 auto\n';
    expect(updateInterfaces(before, 'eth0', ['auto eth0', 'iface eth0 inet dhcp'])).toBe('iface eth00 inet manual\niface eth1 inet6 auto\n\nauto eth0\niface eth0 inet dhcp\n');
  });
});
