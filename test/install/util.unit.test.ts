// The install modules' small helpers.
import { describe, expect, it } from 'vitest';
import { formatMiB, hostArch, sha256, splitList } from '../../src/install/util.js';

describe('install/util', () => {
  it('formatMiB: one decimal below 10 MiB, whole MiB above, ? for what is not a number', () => {
    expect(formatMiB(0)).toBe('0.0 MiB');
    expect(formatMiB(1.5 * 1048576)).toBe('1.5 MiB');
    expect(formatMiB(10 * 1048576)).toBe('10 MiB');
    expect(formatMiB(300.6 * 1048576)).toBe('301 MiB');
    expect(formatMiB(Number.NaN)).toBe('? MiB');
    expect(formatMiB(Number.POSITIVE_INFINITY)).toBe('? MiB');
  });

  it('sha256 of strings and buffers', () => {
    expect(sha256('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256(Buffer.from('abc'))).toBe(sha256('abc'));
  });

  it('splitList splits commas and blanks of repeated flags into one list', () => {
    expect(splitList(undefined)).toEqual([]);
    expect(splitList([])).toEqual([]);
    expect(splitList(['vim,less', ' curl  wget ', ',,', 'openssh-server'])).toEqual(['vim', 'less', 'curl', 'wget', 'openssh-server']);
  });

  it('hostArch names this machine in Debian and RPM spelling', () => {
    const rpm: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64', ia32: 'i686', arm: 'armv7hl', ppc64: 'ppc64le', s390x: 's390x' };
    const deb: Record<string, string> = { x64: 'amd64', arm64: 'arm64', ia32: 'i386', arm: 'armhf', ppc64: 'ppc64el', s390x: 's390x' };
    expect(hostArch('rpm')).toBe(rpm[process.arch] ?? process.arch);
    expect(hostArch('deb')).toBe(deb[process.arch] ?? process.arch);
  });
});
