// The layering of HOUSE-STYLE.md, enforced: dependency-cruiser's rules (.dependency-cruiser.cjs: no
// circles, arrows pointing down) and process.exit called only under src/cli/.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

describe('layering', () => {
  it('dependency-cruiser finds no circle and no upward import in src/', () => {
    const r = spawnSync(join(repo, 'node_modules/.bin/depcruise'), ['src', '--config', '.dependency-cruiser.cjs', '--output-type', 'err'], { cwd: repo, encoding: 'utf8' });
    expect(r.stdout + r.stderr).not.toMatch(/error/);
    expect(r.status).toBe(0);
  });

  it('the rules catch a circle and an upward import (the check can fail)', () => {
    // a tiny tree that breaks two rules, cruised with the project's own config
    const dir = mkdtempSync(join(tmpdir(), 'df-layers-'));
    try {
      const put = (rel: string, text: string) => {
        mkdirSync(dirname(join(dir, rel)), { recursive: true });
        writeFileSync(join(dir, rel), text);
      };
      put('tsconfig.json', JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext' } }));
      put('src/walk/a.ts', "import { b } from './b.js';\nexport const a = () => b;\n");
      put('src/walk/b.ts', "import { a } from './a.js';\nexport const b = () => a;\n");
      put('src/copy/stage.ts', "import { run } from '../pipeline/runner.js';\nexport const s = run;\n");
      put('src/pipeline/runner.ts', 'export const run = 1;\n');
      const r = spawnSync(join(repo, 'node_modules/.bin/depcruise'), ['src', '--config', join(repo, '.dependency-cruiser.cjs'), '--output-type', 'err'], { cwd: dir, encoding: 'utf8' });
      expect(r.status).not.toBe(0);
      expect(r.stdout).toMatch(/no-circular/);
      expect(r.stdout).toMatch(/stages-below-pipeline/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('process.exit is called only under src/cli/', () => {
    const offenders = sources(join(repo, 'src'))
      .filter((f) => !relative(repo, f).startsWith('src/cli/'))
      .filter((f) => /\bprocess\.exit\s*\(/.test(readFileSync(f, 'utf8').replace(/\/\/.*$/gm, '')))
      .map((f) => relative(repo, f));
    expect(offenders).toEqual([]);
  });
});
