// The tarball reader and writer's public face. One job a file:
//   types.ts              summary, progress, entry and option types
//   format.ts             headers, pax records, GNU sparse
//   compression.ts        compressions by magic, through zlib or the standard tools, streamed
//   read.ts               archive -> parsed entries, in order (its own block reader, as GNU tar reads)
//   solaris-acl.ts        Solaris ACL headers (type A)
//   safety.ts             the pass that checks a whole archive before anything is written
//   extract.ts            extraction into a directory
//   metadata.ts           xattrs, ACLs, devices, owners, modes and times applied (and xattrs read)
//   write.ts              the writer
export { writeTarball } from './write.js';
export { extractTarball, checkTarball, type TarballCheck } from './extract.js';
export {
  TAR_COMPRESSIONS, compressionOfName, type ExtractTarballOptions, type ReadCompression, type TarCompression, type TarIssue, type TarProgress, type TarSummary,
  type WriteTarballOptions,
} from './types.js';
