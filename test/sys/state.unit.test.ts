// The state directory: DOMU_FORGE_STATE_DIR moves it; writes are atomic and private.
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { usePrivateStateDir } from '../helpers/state-dir.js';
import { readState, stateDir, writeState } from '../../src/sys/state.js';

const dir = usePrivateStateDir('df-mirror-state-');

describe('state', () => {
  it('lives in /var/lib/domu-forge unless DOMU_FORGE_STATE_DIR says otherwise', () => {
    expect(stateDir()).toBe(join(dir, 'state'));
    process.env.DOMU_FORGE_STATE_DIR = '';
    expect(stateDir()).toBe('/var/lib/domu-forge');
    process.env.DOMU_FORGE_STATE_DIR = join(dir, 'state');
  });

  it('writes JSON atomically (no temp file left), private, and reads it back', () => {
    writeState('clones/a.json', { source: '/', n: 3 });
    const file = join(dir, 'state', 'clones', 'a.json');
    expect(readState('clones/a.json')).toEqual({ source: '/', n: 3 });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'state', 'clones')).mode & 0o777).toBe(0o700);
    expect(readdirSync(join(dir, 'state', 'clones'))).toEqual(['a.json']);
    writeState('clones/a.json', [1]);
    expect(readState('clones/a.json')).toEqual([1]);
  });

  it('reads a missing or damaged file as undefined', () => {
    expect(readState('nothing-here.json')).toBeUndefined();
    writeFileSync(join(dir, 'state', 'bad.json'), '{ not json');
    expect(readState('bad.json')).toBeUndefined();
    expect(existsSync(join(dir, 'state', 'bad.json'))).toBe(true);
  });
});
