// runTool through the spawn helper (sys/spawner.ts) and directly: the same results either way, for
// raw-byte arguments, input, output, failures, signals, missing tools, interruption, a working
// folder and the environment; the helper runs tools side by side. (spawner.test.ts: it never keeps
// Node alive.)

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDomuError } from '../../src/errors.js';
import { runTool } from '../../src/sys/exec.js';
import { spawnHelper, stopSpawnHelper } from '../../src/sys/spawner.js';

const modes = [
  { name: 'through the helper', direct: false },
  { name: 'directly (DOMU_FORGE_DIRECT_SPAWN=1)', direct: true },
];

async function failure(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    if (isDomuError(e)) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('it did not fail');
}

for (const mode of modes) {
  describe(`runTool ${mode.name}`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'df-spawner-'));
    beforeAll(async () => {
      stopSpawnHelper();
      if (mode.direct) process.env.DOMU_FORGE_DIRECT_SPAWN = '1';
      else delete process.env.DOMU_FORGE_DIRECT_SPAWN;
      await runTool('true', []); // the first call starts the helper (and runs directly)
      expect(spawnHelper() !== undefined).toBe(!mode.direct);
    });
    afterAll(() => {
      delete process.env.DOMU_FORGE_DIRECT_SPAWN;
      stopSpawnHelper();
      rmSync(dir, { recursive: true, force: true });
    });

    it('passes raw-byte arguments exactly, feeds the input and returns stdout as bytes, stderr as text', async () => {
      const r = await runTool('sh', ['-c', 'printf "%s|" "$1"; cat; printf "\\377\\000"; echo oops >&2; exit 3', 'sh', Buffer.from([0x61, 0xe9, 0xff, 0x0a, 0x62])], { input: Buffer.from([0x00, 0x49, 0x4e]), allowFailure: true });
      expect(r.status).toBe(3);
      expect(r.stdout).toEqual(Buffer.from([0x61, 0xe9, 0xff, 0x0a, 0x62, 0x7c, 0x00, 0x49, 0x4e, 0xff, 0x00]));
      expect(r.stderr).toBe('oops\n');
    });

    it('gives a failure one shape: the tool and its last words, or the signal', async () => {
      expect(await failure(runTool('sh', ['-c', 'echo "it broke" >&2; exit 4']))).toEqual({ code: 'INTERNAL', message: 'sh failed: it broke' });
      expect(await failure(runTool('sh', ['-c', 'kill -9 $$']))).toEqual({ code: 'INTERNAL', message: 'sh failed: killed by SIGKILL' });
      const killed = await runTool('sh', ['-c', 'kill -9 $$'], { allowFailure: true });
      expect(killed.status).toBe(128);
    });

    it('names the package of a missing tool', async () => {
      const f = await failure(runTool('domu-forge-no-such-tool', ['x']));
      expect(f).toEqual({ code: 'MISSING_TOOL', message: 'domu-forge-no-such-tool is not installed' });
    });

    it('runs in the folder and with the environment given', async () => {
      const r = await runTool('sh', ['-c', 'pwd; printf "%s" "$DF_SPAWN_TEST"'], { cwd: dir, env: { ...process.env, DF_SPAWN_TEST: 'caf\u00e9 x' } });
      expect(r.stdout.toString('utf8')).toBe(`${dir}\ncaf\u00e9 x`);
    });

    it('takes the environment as it is at the call, not as it was when the helper started', async () => {
      process.env.DF_SPAWN_LATE = 'late';
      try {
        expect((await runTool('sh', ['-c', 'printf "%s" "$DF_SPAWN_LATE"'])).stdout.toString()).toBe('late');
      } finally {
        delete process.env.DF_SPAWN_LATE;
      }
    });

    it('stops the tool when the signal aborts, and says it was interrupted', async () => {
      const ac = new AbortController();
      const marker = join(dir, 'still-running');
      const p = runTool('sh', ['-c', `sleep 0.3; touch '${marker}'`], { signal: ac.signal });
      setTimeout(() => ac.abort(), 50);
      expect((await failure(p)).code).toBe('INTERRUPTED');
      await new Promise((r) => setTimeout(r, 500));
      expect(spawnSync('test', ['-e', marker]).status).toBe(1); // sh was killed before it got there
      expect((await failure(runTool('true', [], { signal: ac.signal }))).code).toBe('INTERRUPTED');
    });

    it('runs tools side by side (a reader and a writer of one fifo meet)', async () => {
      const fifo = join(dir, 'fifo');
      spawnSync('mkfifo', [fifo]);
      const [reader, writer] = await Promise.all([runTool('cat', [fifo]), runTool('sh', ['-c', `printf met > '${fifo}'`])]);
      expect(reader.stdout.toString()).toBe('met');
      expect(writer.status).toBe(0);
    });

    it('carries large outputs whole', async () => {
      const r = await runTool('head', ['-c', String(8 << 20), '/dev/zero']);
      expect(r.stdout.length).toBe(8 << 20);
      expect(r.stdout.every((b) => b === 0)).toBe(true);
    });
  });
}
