// Questions asked of a Debian archive before an install, against a small archive on disk (file://):
// no network needed.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_MIRROR, fetchArchiveFile, knownSuites, readSuiteRelease, suiteHasPackage } from '../../src/install/archive.js';
import { PackageCache } from '../../src/install/package-cache.js';

const dir = mkdtempSync(join(tmpdir(), 'df-mirror-archive-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cache = new PackageCache(join(dir, 'cache'));
const archive = join(dir, 'debian');
const mirror = `file://${archive}`;
const put = (rel: string, data: string | Buffer) => {
  mkdirSync(join(archive, rel, '..'), { recursive: true });
  writeFileSync(join(archive, rel), data);
};
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const packages = gzipSync(Buffer.from('Package: libc6\nVersion: 2.36\n\nPackage: g++-12\nVersion: 12\n\n'));
const release = (extra = '') => `Origin: Debian\nSuite: stable\nCodename: bookworm\nArchitectures: amd64 arm64\nComponents: main updates/contrib non-free-firmware\n${extra}SHA256:\n ${sha(packages)} ${packages.length} main/binary-amd64/Packages.gz\n ${'0'.repeat(64)} 10 main/binary-arm64/Packages.xz\n`;
put('dists/bookworm/InRelease', release());
put('dists/bookworm/main/binary-amd64/Packages.gz', packages);
put('dists/oldie/Release', release().replace('Codename: bookworm', 'Codename: oldie'));

describe('readSuiteRelease', () => {
  it('reads suite, codename, architectures, components and the index hashes', async () => {
    const r = await readSuiteRelease('debian', mirror, 'bookworm', cache);
    expect(r).toMatchObject({ suite: 'stable', codename: 'bookworm', architectures: ['amd64', 'arm64'], components: ['main', 'contrib', 'non-free-firmware'], source: 'file' });
    expect(r.files.get('main/binary-amd64/Packages.gz')).toBe(sha(packages));
    expect(r.files.size).toBe(2);
    expect(r.digest).toBe(sha(Buffer.from(release())));
  });

  it('falls back to Release when there is no InRelease', async () => {
    expect((await readSuiteRelease('debian', `${mirror}/`, 'oldie', cache)).codename).toBe('oldie');
  });

  it('a missing suite or a bad name is BAD_INPUT with a hint; so is a mirror that is not a URL it knows', async () => {
    await expect(readSuiteRelease('debian', mirror, 'nosuch', cache)).rejects.toMatchObject({ code: 'BAD_INPUT', message: `suite nosuch is not in the archive at ${mirror} (no dists/nosuch/Release)`, hint: expect.stringMatching(/^known debian suites: /) });
    await expect(readSuiteRelease('debian', mirror, '../etc', cache)).rejects.toMatchObject({ code: 'BAD_INPUT', message: 'suite name "../etc" is not valid' });
    await expect(fetchArchiveFile('ftp://x/debian', 'dists/a/Release', cache)).rejects.toMatchObject({ code: 'BAD_INPUT', hint: 'e.g. --mirror http://deb.debian.org/debian' });
  });
});

describe('suiteHasPackage', () => {
  it('looks the package up in the component\'s index, by name exactly', async () => {
    const rel = await readSuiteRelease('debian', mirror, 'bookworm', cache);
    expect(await suiteHasPackage(mirror, rel, 'bookworm', 'main', 'amd64', 'libc6', cache)).toBe(true);
    expect(await suiteHasPackage(mirror, rel, 'bookworm', 'main', 'amd64', 'g++-12', cache)).toBe(true);
    expect(await suiteHasPackage(mirror, rel, 'bookworm', 'main', 'amd64', 'libc', cache)).toBe(false);
    expect(await suiteHasPackage(mirror, rel, 'bookworm', 'main', 'amd64', 'g..-12', cache)).toBe(false);
    // an index the Release names but the mirror lacks, and one it does not name
    expect(await suiteHasPackage(mirror, rel, 'bookworm', 'main', 'arm64', 'libc6', cache)).toBe(false);
    expect(await suiteHasPackage(mirror, rel, 'bookworm', 'contrib', 'amd64', 'libc6', cache)).toBe(false);
  });
});

describe('defaults', () => {
  it('the default mirrors and some known suites', () => {
    expect(DEFAULT_MIRROR).toEqual({ debian: 'http://deb.debian.org/debian', ubuntu: 'http://archive.ubuntu.com/ubuntu' });
    expect(knownSuites('debian').length).toBeGreaterThan(0);
    expect(knownSuites('ubuntu').length).toBeGreaterThan(0);
  });
});
