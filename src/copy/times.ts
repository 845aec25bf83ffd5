// Timestamps. Node's utimes takes seconds as a double, and libuv truncates what it passes to
// utimensat() to whole microseconds. So we keep exactly the microseconds: whole seconds pass as
// integers (exact), anything else as the middle of its microsecond, which survives the double
// rounding and libuv's truncation. Sub-microsecond digits are lost (documented in the README).

const NS_PER_S = 1_000_000_000n;

/** The double to hand to utimes/futimes/lutimes so the target gets `ns`, exact to the microsecond. */
export function utimeArg(ns: bigint): number {
  let sec = ns / NS_PER_S;
  let frac = ns % NS_PER_S;
  if (frac < 0n) {
    frac += NS_PER_S;
    sec -= 1n;
  }
  if (frac === 0n) return Number(sec);
  const micros = frac / 1000n;
  return Number(sec) + (Number(micros) + 0.5) / 1e6;
}

/** Two timestamps agree at the precision we keep (microseconds). */
export function sameMicros(a: bigint, b: bigint): boolean {
  return floorDiv(a, 1000n) === floorDiv(b, 1000n);
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b < 0n ? q - 1n : q;
}
