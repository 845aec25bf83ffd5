// Every command has a page under docs/commands/ whose flag table is what the built CLI's --help says
// today (tables are rewritten by test/docs/update-flag-tables.mjs). Needs the build, not root or network.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/run.js';

const pagesDir = join(repoRoot, 'docs', 'commands');
const commands = [...readFileSync(join(repoRoot, 'src', 'cli', 'commands.ts'), 'utf8').matchAll(/^\s*\['([a-z-]+)', \(\) => import/gm)].map((m) => m[1]!);
const tables = new Map<string, string>();
for (const name of readdirSync(pagesDir).filter((f) => f.endsWith('.md'))) {
  for (const m of readFileSync(join(pagesDir, name), 'utf8').matchAll(/<!-- flags:([a-z-]+) -->/g)) tables.set(m[1]!, name);
}

describe('command pages', () => {
  it('src/cli/commands.ts lists the commands', () => {
    expect(commands).toContain('build');
    expect(commands.length).toBeGreaterThanOrEqual(13);
  });

  for (const cmd of commands) {
    it(`${cmd} has a flag table on a page under docs/commands/`, () => {
      expect(tables.get(cmd), `no <!-- flags:${cmd} --> in docs/commands/*.md`).toBeDefined();
    });
  }

  it('every flag table says what --help says today', () => {
    const r = spawnSync(process.execPath, [join(repoRoot, 'test', 'docs', 'update-flag-tables.mjs'), '--check'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
