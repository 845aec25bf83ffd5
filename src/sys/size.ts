// The one size parser and the one size formatter of the project. Sizes are read as xen-create-image
// and lvcreate -L take them: a number with an optional binary unit K, M, G or T (optionally followed
// by "b", "B" or "iB"; case-insensitive); a bare number means MiB, as in `lvcreate -L 4096`; fractions
// are allowed ("1.5G"). The result is in bytes, rounded up to a whole MiB. Used by the spec, every
// command's flags (--size --swap --memory) and the xen domain options.

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;
export const TiB = 1024 * GiB;

/** The largest size accepted (ext4 and xfs go further, but a bigger number is a typo). */
export const MAX_SIZE = 64 * TiB;

const UNIT: Readonly<Record<string, number>> = { k: KiB, m: MiB, g: GiB, t: TiB };
const SIZE_RE = /^\s*(\d+(?:\.\d+)?)\s*(?:([kmgt])(?:i?b)?)?\s*$/i;

/** What is wrong with a size, for the caller to put in its own message. */
export type SizeProblem = 'not-a-size' | 'zero' | 'too-big';

/** Parse a size to bytes (whole MiB); a number is MiB. Returns the problem instead of throwing. */
export function readSize(value: string | number): { bytes: number } | { problem: SizeProblem } {
  if (typeof value === 'number' && (!Number.isFinite(value) || value < 0)) return { problem: 'not-a-size' };
  const m = SIZE_RE.exec(String(value));
  if (!m) return { problem: 'not-a-size' };
  const unit = m[2] ? UNIT[m[2].toLowerCase()]! : MiB;
  const bytes = Math.ceil((Number(m[1]) * unit) / MiB) * MiB;
  if (bytes <= 0) return { problem: 'zero' };
  if (bytes > MAX_SIZE) return { problem: 'too-big' };
  return { bytes };
}

/** Parse a size to bytes, or undefined when it is not one (zero and too-big included). */
export function sizeBytes(value: unknown): number | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const r = readSize(value);
  return 'bytes' in r ? r.bytes : undefined;
}

/** A size in whole MiB (what xl's memory= takes), or undefined. */
export function sizeMiB(value: unknown): number | undefined {
  const b = sizeBytes(value);
  return b === undefined ? undefined : b / MiB;
}

/** 64 MiB, 1.5 GiB: sizes for messages. */
export function formatSize(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  if (i === 0) return `${v} B`;
  const text = Number.isInteger(v) ? String(v) : v.toFixed(v >= 100 ? 0 : 1);
  return `${text} ${units[i]}`;
}
