// Paths for the per-entry fs calls of the copy. Names are latin1 strings (one char a byte, see
// walk.ts's joinRoot); an fs call given a string encodes it as UTF-8, so only an all-ASCII path
// may go as a string, which it then does: a Buffer per call (Buffer.from) cost about as much user
// time as the lstat it was for (100,000 small files: 2 us a call of some 4 us).

const NON_ASCII = /[^\x00-\x7f]/;

/** `root`/`rel` for an fs call, byte-exact: a string when it is all ASCII, else a latin1 Buffer. */
export function fsPath(root: string, rel: string): string | Buffer {
  const p = rel === '' ? root : root.endsWith('/') ? `${root}${rel}` : `${root}/${rel}`;
  return NON_ASCII.test(p) ? Buffer.from(p, 'latin1') : p;
}
