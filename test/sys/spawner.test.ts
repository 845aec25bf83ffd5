// The spawn helper never keeps a process alive: a script that ran tools through it ends when its own
// work does (run on the built dist/, as a command would).

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

describe('the spawn helper', () => {
  it('lets the process end once its tools are done, and is gone with it', () => {
    const exec = join(import.meta.dirname, '../../dist/sys/exec.js');
    const script = `import { runTool } from ${JSON.stringify(exec)};
      await runTool('true', []);
      const r = await runTool('sh', ['-c', 'echo "$PPID"']);
      process.stdout.write(r.stdout);`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(r.error).toBeUndefined();
    expect(r.status).toBe(0);
    // the tool's parent was the helper, not the script's own process
    const helperPid = Number(r.stdout.trim());
    expect(helperPid).toBeGreaterThan(0);
    expect(helperPid).not.toBe(r.pid);
    // and the helper ended with the script (its input closed)
    let gone = false;
    for (let i = 0; i < 50 && !gone; i++) {
      gone = spawnSync('kill', ['-0', String(helperPid)]).status !== 0 || /^Z/m.test(spawnSync('ps', ['-o', 'stat=', '-p', String(helperPid)], { encoding: 'utf8' }).stdout);
      if (!gone) spawnSync('sleep', ['0.1']);
    }
    expect(gone).toBe(true);
  });
});
