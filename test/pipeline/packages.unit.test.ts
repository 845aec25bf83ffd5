// Which package manager a guest tree has (installing needs root and a mirror: pipeline/install-build.test.ts).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { guestPackageManager, installPackages } from '../../src/pipeline/packages.js';
import { CleanupStack } from '../../src/cleanup.js';

const dir = mkdtempSync(join(tmpdir(), 'df-mirror-packages-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const tree = (name: string, tools: string[]) => {
  const root = join(dir, name);
  mkdirSync(join(root, 'usr/bin'), { recursive: true });
  for (const t of tools) writeFileSync(join(root, 'usr/bin', t), '');
  return root;
};

describe('guestPackageManager', () => {
  it('apt before dnf before yum; none for a bare tree', () => {
    expect(guestPackageManager(tree('deb', ['apt-get', 'dnf']))).toBe('apt');
    expect(guestPackageManager(tree('fedora', ['dnf', 'yum']))).toBe('dnf');
    expect(guestPackageManager(tree('centos6', ['yum']))).toBe('yum');
    expect(guestPackageManager(tree('bare', []))).toBeUndefined();
  });
});

describe('installPackages', () => {
  it('refuses a guest with no package manager before touching anything', async () => {
    const cleanup = new CleanupStack();
    await expect(installPackages(tree('bare2', []), ['vim'], cleanup)).rejects.toMatchObject({ code: 'BAD_INPUT' });
    expect(cleanup.size).toBe(0);
  });
});
