// runTool and streamTool with real tools: bytes above 0x7f in an argument reach the tool unchanged,
// the tool's own status and stdin survive the sh decoder, and a missing tool is named.

import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runTool, streamTool } from '../../src/sys/exec.js';
import { scratchDir } from '../helpers/run.js';

const scratch = scratchDir('sys-exec');
afterAll(() => scratch.cleanup());

/** Latin-1 bytes, a lone continuation byte, and the characters printf and $(...) treat specially. */
const AWKWARD = Buffer.from([0x61, 0xe9, 0x80, 0xff, 0x25, 0x5c, 0x2d, 0x20, 0x27, 0x22, 0x0a]);

describe('runTool', () => {
  it('creates a file under the exact non-UTF-8 name it was given (a trailing newline included)', async () => {
    const dir = join(scratch.dir, 'touch');
    await runTool('mkdir', [dir]);
    await runTool('touch', ['--', Buffer.concat([Buffer.from(`${dir}/`), AWKWARD])]);
    const names = readdirSync(dir, { encoding: 'buffer' });
    expect(names).toEqual([AWKWARD]);
  });

  it('keeps the tool\'s status, stdin and stdout through the decoder', async () => {
    const r = await runTool('sh', ['-c', 'cat; printf %s "$0"; exit 7', AWKWARD], { input: 'in:', allowFailure: true });
    expect(r.status).toBe(7);
    expect(r.stdout).toEqual(Buffer.concat([Buffer.from('in:'), AWKWARD]));
  });

  it('names a missing tool, on both paths', async () => {
    await expect(runTool('domu-no-such-tool', ['x'])).rejects.toMatchObject({ code: 'MISSING_TOOL', message: 'domu-no-such-tool is not installed' });
    await expect(runTool('domu-no-such-tool', [AWKWARD])).rejects.toMatchObject({ code: 'MISSING_TOOL', message: 'domu-no-such-tool is not installed' });
  });

  it('fails in one shape, on both paths', async () => {
    const missing = Buffer.concat([Buffer.from(`${scratch.dir}/none-`), AWKWARD]);
    await expect(runTool('rm', ['--', missing])).rejects.toMatchObject({ code: 'INTERNAL', message: expect.stringMatching(/^rm failed: rm: cannot remove /) });
    await expect(runTool('rm', ['--', `${scratch.dir}/none`])).rejects.toMatchObject({ code: 'INTERNAL', message: expect.stringMatching(/^rm failed: rm: cannot remove /) });
  });
});

describe('streamTool', () => {
  it('streams stdout and settles with the status', async () => {
    const f = join(scratch.dir, 'lines');
    writeFileSync(f, Array.from({ length: 50_000 }, (_, i) => `line ${i}\n`).join(''));
    const s = streamTool('cat', [f]);
    let bytes = 0;
    let chunks = 0;
    for await (const c of s.stdout) {
      bytes += (c as Buffer).length;
      chunks += 1;
    }
    expect((await s.done).status).toBe(0);
    expect(bytes).toBe(Array.from({ length: 50_000 }, (_, i) => `line ${i}\n`).join('').length);
    expect(chunks).toBeGreaterThan(0);
  });

  it('rejects done with the same failure shape', async () => {
    const s = streamTool('cat', [`${scratch.dir}/absent`]);
    s.stdout.resume();
    await expect(s.done).rejects.toMatchObject({ code: 'INTERNAL', message: expect.stringMatching(/^cat failed: cat: /) });
  });
});
