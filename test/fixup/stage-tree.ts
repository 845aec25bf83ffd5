// Helpers for the fixup stages' unit tests: a small guest tree in a temp dir, and one stage planned
// against it as a dry run (plans only: nothing is written, no root needed).
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createFixupContext, type FixupOptions, type FixupStage, type StageResult } from '../../src/fixup/index.js';

export function tempGuests(prefix: string): { tree(files: Record<string, string | { link: string }>): string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), `df-mirror-${prefix}-`));
  let n = 0;
  return {
    tree(files) {
      const root = join(dir, `g${n++}`);
      mkdirSync(root);
      for (const [p, t] of Object.entries(files)) {
        mkdirSync(dirname(join(root, p)), { recursive: true });
        if (typeof t === 'string') writeFileSync(join(root, p), t);
        else symlinkSync(t.link, join(root, p));
      }
      return root;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export async function planStage(stage: FixupStage, root: string, options: FixupOptions = {}): Promise<StageResult> {
  const ctx = await createFixupContext(root, { ...options, dryRun: true });
  return stage.run(ctx);
}
