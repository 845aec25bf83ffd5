// The getfattr/setfattr dump format: names quoted as getfattr does, values in hex, a block per file.

import { describe, expect, it } from 'vitest';
import { parseGetfattrDump, quoteAttrName, setfattrBlock, unquoteAttrName } from '../../src/sys/xattrs.js';

describe('quoting', () => {
  it('quotes control bytes, DEL and backslash as \\ooo and leaves bytes above 0x7f raw', () => {
    const raw = Buffer.from([0x61, 0x0a, 0x5c, 0x7f, 0xe9]);
    expect(quoteAttrName(raw).toString('latin1')).toBe('a\\012\\134\\177\u00e9');
    expect(unquoteAttrName(quoteAttrName(raw))).toEqual(raw);
  });
});

describe('parseGetfattrDump', () => {
  it('reads hex, base64, quoted and empty values per file', () => {
    const dump = Buffer.from(
      '# file: /g/caf\u00e9\\012x\nuser.a=0x6869\nuser.b=0sAAE=\nuser.c="q\\134"\nuser.d\n\n# file: /g/two\nsecurity.selinux=0x00\n',
      'latin1',
    );
    const m = parseGetfattrDump(dump);
    expect([...m.keys()]).toEqual(['/g/caf\u00e9\nx', '/g/two']);
    expect(m.get('/g/caf\u00e9\nx')!.map(([n, v]) => [n.toString(), v.toString('hex')])).toEqual([
      ['user.a', '6869'],
      ['user.b', '0001'],
      ['user.c', Buffer.from('q\\').toString('hex')],
      ['user.d', ''],
    ]);
  });
  it('round-trips through setfattrBlock', () => {
    const path = Buffer.from([0x2f, 0x67, 0x2f, 0xff, 0x0a]);
    const attrs: Array<[Buffer, Buffer]> = [[Buffer.from('user.k'), Buffer.from([0, 1, 0xfe])]];
    const block = setfattrBlock(path, attrs);
    expect(block.toString('latin1')).toBe('# file: /g/\u00ff\\012\nuser.k=0x0001fe\n\n');
    expect([...parseGetfattrDump(block).entries()]).toEqual([[path.toString('latin1'), attrs]]);
  });
});
