// Regression: GuestFs handed tool arguments as Buffer.toString('latin1') strings, which Node
// re-encodes as UTF-8, so a guest file whose name holds bytes 0x80-0xff was addressed under another
// name (its UTF-8 spelling). Each GuestFs operation that calls a tool is run on such a name, beside
// a decoy file under exactly that wrong name, and must touch the right one only. (root: mknod)

import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GuestFs } from '../../src/guest/guest-fs.js';
import { scratchDir } from '../helpers/run.js';

const scratch = scratchDir('guest-nonascii');
afterAll(() => scratch.cleanup());

/** "n" é, a lone continuation byte, ÿ: not valid UTF-8. */
const NAME = Buffer.from([0x6e, 0xe9, 0x80, 0xff]);
/** What the bug addressed instead: the latin1 string of NAME encoded as UTF-8. */
const DECOY = Buffer.from(NAME.toString('latin1'), 'utf8');
const guestName = NAME.toString('latin1');

function bytesPath(dir: string, name: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${dir}/`), name]);
}

/** Run sh with $1 as the exact bytes of `p` (printf %b rebuilds them; spawn itself would re-encode). */
function shOn(script: string, p: Buffer): string {
  const esc = [...p].map((b) => `\\0${b.toString(8).padStart(3, '0')}`).join('');
  return execFileSync('sh', ['-c', `set -- "$(printf '%b' "$1")"; ${script}`, 'sh', esc], { encoding: 'latin1' });
}

function setWho(p: Buffer, who: string): void {
  shOn(`setfattr -h -n user.who -v ${who} -- "$1"`, p);
}

function who(p: Buffer): string {
  return shOn('getfattr -h --only-values -n user.who -- "$1"', p);
}

function freshGuest(name: string): string {
  const root = join(scratch.dir, name);
  mkdirSync(root, { recursive: true });
  return root;
}

describe('GuestFs on a name with bytes 0x80-0xff (not UTF-8)', () => {
  it('the names differ, so a decoy under the UTF-8 spelling can tell them apart', () => {
    expect(DECOY.equals(NAME)).toBe(false);
    expect(Buffer.from(NAME.toString('utf8'), 'utf8').equals(NAME)).toBe(false);
  });

  it('writeFile keeps the extended attributes of that file (getfattr/setfattr), not the decoy\'s', async () => {
    const root = freshGuest('write');
    const etc = join(root, 'etc');
    mkdirSync(etc);
    writeFileSync(bytesPath(etc, NAME), 'old\n');
    writeFileSync(bytesPath(etc, DECOY), 'decoy\n');
    setWho(bytesPath(etc, NAME), 'real');
    setWho(bytesPath(etc, DECOY), 'decoy');
    const written = await new GuestFs(root).writeFile(`/etc/${guestName}`, 'new\n');
    expect(Buffer.from(written, 'latin1')).toEqual(Buffer.concat([Buffer.from('/etc/'), NAME]));
    expect(readFileSync(bytesPath(etc, NAME), 'latin1')).toBe('new\n');
    expect(who(bytesPath(etc, NAME))).toBe('real');
    expect(readFileSync(bytesPath(etc, DECOY), 'latin1')).toBe('decoy\n');
    expect(who(bytesPath(etc, DECOY))).toBe('decoy');
    expect(readdirSync(etc, { encoding: 'buffer' }).sort(Buffer.compare)).toEqual([NAME, DECOY].sort(Buffer.compare));
  });

  it('mknod makes the node under that name (mknod)', async () => {
    const root = freshGuest('mknod');
    mkdirSync(join(root, 'dev'));
    await new GuestFs(root).mknod(`/dev/${guestName}`, 'c', 1, 3, 0o666);
    const st = lstatSync(bytesPath(join(root, 'dev'), NAME));
    expect(st.isCharacterDevice()).toBe(true);
    expect([st.rdev >> 8, st.rdev & 0xff, st.mode & 0o7777]).toEqual([1, 3, 0o666]);
    expect(readdirSync(join(root, 'dev'), { encoding: 'buffer' })).toEqual([NAME]);
  });

  it('copyTreeIn puts the tree under that name (cp -a into a temporary name holding those bytes)', async () => {
    const root = freshGuest('copy');
    mkdirSync(join(root, 'opt'));
    const src = join(scratch.dir, 'copy-src');
    mkdirSync(join(src, 'sub'), { recursive: true });
    writeFileSync(join(src, 'sub', 'f'), 'tree\n');
    await new GuestFs(root).copyTreeIn(src, `/opt/${guestName}`);
    expect(readdirSync(join(root, 'opt'), { encoding: 'buffer' })).toEqual([NAME]);
    expect(readFileSync(Buffer.concat([bytesPath(join(root, 'opt'), NAME), Buffer.from('/sub/f')]), 'latin1')).toBe('tree\n');
  });
});
