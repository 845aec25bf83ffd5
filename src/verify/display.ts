// Paths as shown to people: raw latin1 paths (one char per byte) made readable.

const hexEscape = (c: string): string => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;

/**
 * A latin1 path made readable: UTF-8 shown as is, other bytes and control characters as \xNN, and
 * every backslash doubled first, so that a name holding the four characters `\xe9` never shows
 * like a name holding the byte 0xe9.
 */
export function displayPath(rel: string): string {
  let text: string | undefined;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(rel, 'latin1'));
  } catch {
    text = undefined;
  }
  const escaped = (text ?? rel).replace(/\\/g, '\\\\');
  return `/${escaped.replace(text === undefined ? /[\x00-\x1f\x7f-\xff]/g : /[\x00-\x1f\x7f]/g, hexEscape)}`;
}
