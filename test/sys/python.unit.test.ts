// python3(): the system's own interpreter ahead of whatever PATH puts first (a version manager's shim).

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { python3 } from '../../src/sys/python.js';

describe('python3', () => {
  it('is /usr/bin/python3 where it exists, even with a slower python3 first on PATH, and it runs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'df-python-'));
    const path = process.env.PATH;
    try {
      writeFileSync(join(dir, 'python3'), '#!/bin/sh\nsleep 1; exec /usr/bin/python3 "$@"\n', { mode: 0o755 });
      process.env.PATH = `${dir}:${path}`;
      const py = python3();
      expect(py).toBe(existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
      expect(python3()).toBe(py); // looked up once
      const r = spawnSync(py!, ['-c', 'import sys; print(sys.version_info[0])'], { encoding: 'utf8' });
      expect(r.stdout.trim()).toBe('3');
    } finally {
      process.env.PATH = path;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
