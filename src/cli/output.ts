// Everything the CLI prints goes through here: one-line errors, a live progress line on a
// terminal, human summaries, and --json for scripts.

import { DomuError, isDomuError, oneLine, EXIT_STATUS } from '../errors.js';

export interface GlobalOptions {
  json?: boolean;
  quiet?: boolean;
}

/** A progress line redrawn in place on stderr when it is a terminal; silent otherwise. */
export class ProgressLine {
  private last = 0;
  private shown = false;
  private readonly enabled: boolean;

  constructor(enabled = Boolean(process.stderr.isTTY)) {
    this.enabled = enabled;
  }

  /** Redraw, at most ten times a second unless forced. */
  update(text: string, force = false): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (!force && now - this.last < 100) return;
    this.last = now;
    const width = process.stderr.columns || 100;
    const line = text.length >= width ? text.slice(0, width - 1) : text;
    process.stderr.write(`\r\x1b[2K${line}`);
    this.shown = true;
  }

  clear(): void {
    if (this.enabled && this.shown) process.stderr.write('\r\x1b[2K');
    this.shown = false;
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Print an error as one line (plus an optional hint line) and return the exit status for it. */
export function reportError(e: unknown, options: GlobalOptions = {}): number {
  const err: DomuError = isDomuError(e) ? e : new DomuError('INTERNAL', oneLine(e));
  if (options.json) {
    printJson({ ok: false, error: { code: err.code, message: oneLine(err.message), hint: err.hint } });
  }
  process.stderr.write(`domu-forge: ${oneLine(err.message)}\n`);
  if (err.hint) process.stderr.write(`hint: ${err.hint}\n`);
  if (!isDomuError(e) && process.env.DOMU_FORGE_DEBUG && e instanceof Error && e.stack) {
    process.stderr.write(`${e.stack}\n`);
  }
  return EXIT_STATUS[err.code];
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)}s`;
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds % 60);
  return `${m}m${String(s).padStart(2, '0')}s`;
}
