// domu-forge bench on a real small tree: every strategy runs into fresh loop-mounted ext4s, the
// results carry medians and ratios, the SVG is well-formed, and nothing is left mounted.

import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { benchStrategies, renderBenchSvg } from '../../src/bench/strategy-bench.js';
import { makeGuestTree } from '../pipeline/guest-tree.js';

const CLI = resolve(__dirname, '../../dist/cli/main.js');

describe('strategy bench (root, loop)', () => {
  it('times the engine and the peers side by side, and renders an SVG', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-test-'));
    try {
      const src = join(dir, 'tree');
      makeGuestTree(src, 1);
      const work = join(dir, 'work');
      const r = await benchStrategies({ source: src, workers: [1, 2], runs: 2, workDir: work });
      expect(r.results.map((x) => x.name)).toEqual(['domu-forge clone, 1 worker', 'domu-forge clone, 2 workers', 'tar pipe', 'cp -a', 'rsync -aHAX']);
      for (const x of r.results) {
        expect(x.samples.length).toBe(2);
        expect(x.median).toBeGreaterThan(0);
        expect(x.min).toBeLessThanOrEqual(x.median);
        expect(x.vsTar).toBeCloseTo(x.median / r.results[2]!.median, 6);
      }
      expect(r.results.some((x) => x.vsFastest === 1)).toBe(true);
      const svg = renderBenchSvg(r);
      expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
      for (const x of r.results) expect(svg).toContain(`>${x.name}</text>`);
      expect(svg.match(/<rect /g)!.length).toBe(1 + r.results.length);
      execFileSync('python3', ['-c', 'import sys, xml.dom.minidom; xml.dom.minidom.parseString(sys.stdin.read())'], { input: svg });
      expect(execFileSync('losetup', ['-a']).toString()).not.toContain(work);
      expect(readFileSync('/proc/mounts', 'utf8')).not.toContain(work);
      // CLI: --json and --svg; a work directory inside the source is refused
      const out = join(dir, 'chart.svg');
      const cli = spawnSync('node', [CLI, 'bench', src, '--workers', '2', '--runs', '1', '--engines-only', '--work-dir', work, '--svg', out, '--json'], { encoding: 'utf8' });
      expect(cli.status, cli.stderr).toBe(0);
      expect(JSON.parse(cli.stdout).results.map((x: { name: string }) => x.name)).toEqual(['domu-forge clone, 2 workers']);
      expect(readFileSync(out, 'utf8')).toContain('domu-forge clone, 2 workers');
      const inside = spawnSync('node', [CLI, 'bench', src, '--work-dir', join(src, 'w')], { encoding: 'utf8' });
      expect(inside.status).toBe(2);
      expect(inside.stderr).toContain('lies inside the source');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
