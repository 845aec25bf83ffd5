// The library's public exports.
export { DomuError, EXIT_STATUS, type ErrorCode } from './errors.js';
export { CleanupStack } from './build/cleanup.js';
export {
  openTarget, describeTarget, parseSize, estimateImageSize, checkFilesystem, importDisk,
  type TargetSpec, type OpenedTarget, type TargetSummary, type FsType, type OpenOptions, type UsageHint,
  type ImportDiskOptions, type ImportDiskSummary,
} from './targets/index.js';
export { writeTarball, type WriteTarballOptions } from './targets/tar-out.js';
export { extractTarball, checkTarball, type ExtractTarballOptions, type TarballCheck } from './targets/tar-in.js';
export type { TarSummary, TarProgress, TarCompression } from './targets/tar-common.js';
