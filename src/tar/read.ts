// Reading an archive: its tar bytes (decompressed) through tar-stream, each entry's header parsed,
// entries handed on in order with their bodies; a failure becomes a BAD_INPUT error naming its cause.

import { once } from 'node:events';
import { DomuError } from '../errors.js';
import { openDecompressed } from './compression.js';
import { parseHeader } from './format.js';
import { endExtract, entryEnd, rawExtract, readFailure } from './tar-stream-adapter.js';
import type { Entry, ReadCompression } from './types.js';

/** Read every entry of the archive in order; `onEntry` gets the parsed header and the body. */
export async function readArchive(
  file: string, compression: ReadCompression, signal: AbortSignal | undefined,
  onEntry: (e: Entry, body: AsyncIterable<Buffer>) => Promise<void>,
): Promise<void> {
  const { source, tool } = await openDecompressed(file, compression);
  const ex = rawExtract();
  let total = 0;
  let lastEnd = 0;
  const feed = (async () => {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (!ex.write(chunk)) await once(ex as unknown as NodeJS.EventEmitter, 'drain');
    }
    endExtract(ex);
  })();
  feed.catch((e: unknown) => ex.destroy(e as Error));
  try {
    for await (const stream of ex) {
      if (signal?.aborted) throw new DomuError('INTERRUPTED', 'interrupted');
      const h = stream.header;
      lastEnd = entryEnd(h);
      const entry = parseHeader(h);
      await onEntry(entry, stream as unknown as AsyncIterable<Buffer>);
      for await (const chunk of stream as unknown as AsyncIterable<Buffer>) void chunk; // whatever was not read
    }
    await feed;
    if (tool) await tool;
  } catch (e) {
    source.destroy();
    throw readFailure(file, e);
  }
  if (total < lastEnd + 512) throw new DomuError('BAD_INPUT', `${file} is truncated (the end-of-archive marker is missing)`);
}
