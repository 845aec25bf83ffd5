// A unified diff of two texts, for --dry-run plans. Myers' O(ND) algorithm on lines; guest
// config files are small, and a diff too costly (D over a bound) falls back to "replace all".

const CONTEXT = 3;
const MAX_EDIT_DISTANCE = 4000;

type Op = { kind: ' ' | '-' | '+'; line: string };

/** A last line without its newline differs from the same line with one (as in GNU diff). */
const NO_NEWLINE = '\u0000no-newline';

function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  else lines[lines.length - 1] += NO_NEWLINE;
  return lines;
}

/** The edit script from a to b (Myers 1986), or undefined when it exceeds the bound. */
function editScript(a: string[], b: string[]): Op[] | undefined {
  const n = a.length;
  const m = b.length;
  const max = Math.min(n + m, MAX_EDIT_DISTANCE);
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  for (let d = 0; d <= max; d += 1) {
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      let x: number;
      if (k === -d || (k !== d && v[offset + k - 1]! < v[offset + k + 1]!)) x = v[offset + k + 1]!;
      else x = v[offset + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x += 1;
        y += 1;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) return backtrack(trace, a, b, d, offset);
    }
  }
  return undefined;
}

function backtrack(trace: Int32Array[], a: string[], b: string[], dEnd: number, offset: number): Op[] {
  const ops: Op[] = [];
  let x = a.length;
  let y = b.length;
  for (let d = dEnd; d > 0; d -= 1) {
    const v = trace[d]!;
    const k = x - y;
    const prevK = k === -d || (k !== d && v[offset + k - 1]! < v[offset + k + 1]!) ? k + 1 : k - 1;
    const prevX = v[offset + prevK]!;
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      ops.push({ kind: ' ', line: a[x - 1]! });
      x -= 1;
      y -= 1;
    }
    if (x === prevX) ops.push({ kind: '+', line: b[y - 1]! });
    else ops.push({ kind: '-', line: a[x - 1]! });
    x = prevX;
    y = prevY;
  }
  while (x > 0 && y > 0) {
    ops.push({ kind: ' ', line: a[x - 1]! });
    x -= 1;
    y -= 1;
  }
  return ops.reverse();
}

/**
 * A unified diff ("--- a/PATH", "+++ b/PATH", hunks with 3 lines of context). `before` undefined
 * means a new file (/dev/null). Returns "" when the texts are equal.
 */
export function unifiedDiff(path: string, before: string | undefined, after: string | undefined): string {
  if (before === after) return '';
  const a = splitLines(before ?? '');
  const b = splitLines(after ?? '');
  const ops = editScript(a, b) ?? [...a.map((line) => ({ kind: '-' as const, line })), ...b.map((line) => ({ kind: '+' as const, line }))];
  const rel = path.replace(/^\/+/, '');
  const out: string[] = [before === undefined ? '--- /dev/null' : `--- a/${rel}`, after === undefined ? '+++ /dev/null' : `+++ b/${rel}`];
  // group changes into hunks with CONTEXT lines around them
  const changed = ops.map((o) => o.kind !== ' ');
  let i = 0;
  while (i < ops.length) {
    if (!changed[i]) {
      i += 1;
      continue;
    }
    let start = Math.max(0, i - CONTEXT);
    let end = i;
    // extend while another change starts within 2*CONTEXT unchanged lines
    for (;;) {
      while (end < ops.length && changed[end]) end += 1;
      let next = end;
      while (next < ops.length && !changed[next]) next += 1;
      if (next < ops.length && next - end <= 2 * CONTEXT) end = next;
      else break;
    }
    const stop = Math.min(ops.length, end + CONTEXT);
    let aLine = 1;
    let bLine = 1;
    for (let j = 0; j < start; j += 1) {
      if (ops[j]!.kind !== '+') aLine += 1;
      if (ops[j]!.kind !== '-') bLine += 1;
    }
    const body = ops.slice(start, stop);
    const aCount = body.filter((o) => o.kind !== '+').length;
    const bCount = body.filter((o) => o.kind !== '-').length;
    out.push(`@@ -${aCount === 0 ? aLine - 1 : aLine},${aCount} +${bCount === 0 ? bLine - 1 : bLine},${bCount} @@`);
    for (const o of body) {
      if (o.line.endsWith(NO_NEWLINE)) out.push(`${o.kind}${o.line.slice(0, -NO_NEWLINE.length)}`, '\\ No newline at end of file');
      else out.push(`${o.kind}${o.line}`);
    }
    i = stop;
    start = stop;
  }
  return `${out.join('\n')}\n`;
}
