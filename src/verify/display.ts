// Paths as shown to people: raw latin1 paths (one char per byte) made readable.

/** A latin1 path made readable: UTF-8 shown as is, other bytes and control characters as \xNN. */
export function displayPath(rel: string): string {
  const bytes = Buffer.from(rel, 'latin1');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    text = rel.replace(/[\x80-\xff]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  }
  return `/${text.replace(/\\(?!x[0-9a-f]{2})/g, '\\\\').replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}`;
}
