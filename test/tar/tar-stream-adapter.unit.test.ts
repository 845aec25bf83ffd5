// The tar-stream workarounds are written against one tar-stream version: this test fails when the
// installed version differs (check src/tar/tar-stream-adapter.ts against the new one, then bump
// TAR_STREAM_VERSION), and checks that each workaround still does what it is there for.

import { describe, expect, it } from 'vitest';
import { readFileSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import * as tar from 'tar-stream';
import { encodePaxRecord } from '../../src/tar/format.js';
import { TAR_STREAM_VERSION, endExtract, entryEnd, pushRaw, rawExtract, readFailure } from '../../src/tar/tar-stream-adapter.js';
import { rawHeader, rawTar } from './tar-helpers.js';

const require = createRequire(import.meta.url);

async function entries(archive: Buffer): Promise<Array<{ header: tar.Header; body: Buffer }>> {
  const ex = rawExtract();
  const out: Array<{ header: tar.Header; body: Buffer }> = [];
  const done = (async () => {
    for await (const s of ex) {
      const parts: Buffer[] = [];
      for await (const c of s as unknown as AsyncIterable<Buffer>) parts.push(c);
      out.push({ header: s.header, body: Buffer.concat(parts) });
    }
  })();
  ex.write(archive);
  endExtract(ex);
  await done;
  return out;
}

describe('tar-stream adapter', () => {
  it(`is written for the installed tar-stream (${TAR_STREAM_VERSION})`, () => {
    // the copy the code loads is the one in node_modules
    expect(realpathSync(require.resolve('tar-stream'))).toBe(realpathSync(fileURLToPath(new URL('../../node_modules/tar-stream/index.js', import.meta.url))));
    const pkg = JSON.parse(readFileSync(new URL('../../node_modules/tar-stream/package.json', import.meta.url), 'utf8')) as { version: string };
    expect(pkg.version).toBe(TAR_STREAM_VERSION);
  });

  it('keeps pax values and GNU long names as raw bytes (the _decodeLongHeader patch)', async () => {
    const rawName = Buffer.from([0x61, 0xff, 0xfe, 0x2f, 0xc3, 0x28]); // not UTF-8
    const binary = Buffer.from([0x00, 0x80, 0xff, 0x0a, 0x3d]);
    const pax = Buffer.concat([encodePaxRecord('path', rawName), encodePaxRecord('SCHILY.xattr.user.bin', binary)]);
    const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);
    const longName = Buffer.concat([Buffer.from('d/'.repeat(60)), Buffer.from([0xe9, 0x00])]);
    const archive = Buffer.concat([
      rawHeader({ name: 'PaxHeader', type: 'x', size: pax.length }), pad(pax),
      rawHeader({ name: 'x', type: '0', size: 0 }),
      rawHeader({ name: '././@LongLink', type: 'L', size: longName.length }), pad(longName),
      rawHeader({ name: 'y', type: '0', size: 0 }),
      Buffer.alloc(1024),
    ]);
    const got = await entries(archive);
    expect(got).toHaveLength(2);
    expect(Buffer.from(got[0]!.header.name, 'latin1')).toEqual(rawName);
    expect(Buffer.from((got[0]!.header.pax as Record<string, string>)['SCHILY.xattr.user.bin']!, 'latin1')).toEqual(binary);
    expect(Buffer.from(got[1]!.header.name, 'latin1')).toEqual(longName.subarray(0, longName.length - 1));
    // without the patch tar-stream would have decoded them as UTF-8 and lost the bytes
    expect(Buffer.from(rawName.toString('utf8'), 'utf8').equals(rawName)).toBe(false);
  });

  it('reads byteOffset, where each entry ends', async () => {
    const archive = rawTar([{ name: 'a', type: '0', data: 'x'.repeat(700) }, { name: 'b', type: '0', data: 'y' }]);
    const got = await entries(archive);
    expect(got.map((e) => entryEnd(e.header))).toEqual([512 + 1024, 512 + 1024 + 512 + 512]);
  });

  it('pushes raw blocks into a pack stream between entries', async () => {
    const pack = tar.pack();
    const block = rawHeader({ name: 'raw-entry', type: '0', size: 0 });
    pushRaw(pack, block);
    pack.entry({ name: 'after' }, Buffer.alloc(0));
    pack.finalize();
    const parts: Buffer[] = [];
    for await (const c of pack as AsyncIterable<Buffer>) parts.push(c);
    const out = Buffer.concat(parts);
    expect(out.subarray(0, 512)).toEqual(block);
    const got = await entries(out);
    expect(got.map((e) => e.header.name)).toEqual(['raw-entry', 'after']);
  });

  it('maps tar-stream error texts to their causes', async () => {
    const bad = Buffer.from(rawHeader({ name: 'a', type: '0', size: 0 }));
    bad[0] = 0x62; // checksum no longer matches
    const err = await entries(Buffer.concat([bad, Buffer.alloc(1024)])).catch((e: unknown) => e);
    expect(readFailure('t.tar', err).message).toMatch(/bad checksum/);
    const cut = rawTar([{ name: 'a', type: '0', data: 'x'.repeat(2000) }], { end: false }).subarray(0, 1024);
    const err2 = await entries(cut).catch((e: unknown) => e);
    expect(readFailure('t.tar', err2).message).toMatch(/truncated/);
  });
});
