// setTimesNs on real files: nanoseconds kept, before and after 1970, a symlink's own times with
// noDereference, and a name that is not UTF-8.

import { lstatSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { setTimesNs } from '../../src/sys/times.js';
import { scratchDir } from '../helpers/run.js';

const scratch = scratchDir('sys-times');
afterAll(() => scratch.cleanup());

describe('setTimesNs', () => {
  it('sets atime and mtime to the nanosecond, also before the epoch, on a non-UTF-8 name', async () => {
    const f = Buffer.concat([Buffer.from(`${scratch.dir}/t`), Buffer.from([0xe9, 0x80])]);
    writeFileSync(f, 'x');
    await setTimesNs(f, -1_250_000_001n, 1_700_000_000_123_456_789n);
    const st = statSync(f, { bigint: true });
    expect(st.atimeNs).toBe(-1_250_000_001n);
    expect(st.mtimeNs).toBe(1_700_000_000_123_456_789n);
  });

  it('with noDereference sets the symlink\'s own times and leaves its target alone', async () => {
    const target = join(scratch.dir, 'target');
    writeFileSync(target, 'x');
    const before = statSync(target, { bigint: true }).mtimeNs;
    const link = join(scratch.dir, 'link');
    symlinkSync(target, link);
    await setTimesNs(link, 1_000_000_000_000_000_001n, 1_000_000_000_000_000_002n, { noDereference: true });
    expect(lstatSync(link, { bigint: true }).mtimeNs).toBe(1_000_000_000_000_000_002n);
    expect(statSync(target, { bigint: true }).mtimeNs).toBe(before);
  });
});
