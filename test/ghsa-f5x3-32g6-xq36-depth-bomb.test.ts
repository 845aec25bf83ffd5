// node-tar GHSA-f5x3-32g6-xq36 (CVE-2024-28863): a path with a huge number of directory levels
// exhausts CPU and memory while the folders are made.

import { afterAll, describe, it } from 'vitest';
import { rawTar } from './tar/tar-helpers.js';
import { expectRefused, playground } from './tar/tar-hostile.js';

const pg = playground('ghsa-f5x3');
afterAll(() => pg.cleanup());

describe('GHSA-f5x3-32g6-xq36: a depth bomb (root)', () => {
  it('refuses a name more than 1024 levels deep, before making any folder', async () => {
    await expectRefused(pg, rawTar([{ name: 'x', pax: { path: `${'a/'.repeat(5000)}f` }, data: 'x' }]), /is 5001 levels deep \(more than 1024\): refusing a depth bomb/);
  });
  it('refuses a name that would pass PATH_MAX in the target', async () => {
    await expectRefused(pg, rawTar([{ name: 'x', pax: { path: `${'abcdefghij/'.repeat(400)}f` }, data: 'x' }]), /exceed PATH_MAX/);
  });
});
