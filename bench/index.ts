// npm run bench -- <suite> [options]. Suites: clone (default), image-populate, tar-writer, install, fleet, verify, compare, distributed.
import { benchClone } from './clone.js';
import { benchImagePopulate } from './image-populate.js';
import { benchTarWriter } from './tar-writer.js';
import { benchInstall } from './install.js';
import { benchFleet } from './fleet.js';
import { benchVerify } from './verify.js';
import { benchCompare } from './compare.js';

const [suite = 'clone', ...rest] = process.argv.slice(2);
const suites: Record<string, (argv: string[]) => Promise<void>> = { clone: benchClone, 'image-populate': benchImagePopulate, 'tar-writer': benchTarWriter, install: benchInstall, fleet: benchFleet, verify: benchVerify, compare: benchCompare,
  // loaded when asked for: it needs bullmq and ioredis, which the other suites do not
  distributed: async (argv) => (await import('./distributed.js')).benchDistributed(argv) };
const run = suites[suite];
if (!run) {
  console.error(`unknown bench suite ${suite}; known: ${Object.keys(suites).join(', ')}`);
  process.exit(2);
}
await run(rest);
