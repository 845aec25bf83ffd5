// The library's public exports.
export { DomuError, EXIT_STATUS, type ErrorCode } from './errors.js';
export { CleanupStack } from './cleanup.js';
export {
  openTarget, describeTarget, parseSize, estimateImageSize, checkFilesystem, importDisk,
  type TargetSpec, type OpenedTarget, type TargetSummary, type FsType, type OpenOptions, type UsageHint,
  type ImportDiskOptions, type ImportDiskSummary,
} from './targets/index.js';
export { writeTarball, type WriteTarballOptions } from './tar/index.js';
export { extractTarball, checkTarball, type ExtractTarballOptions, type TarballCheck } from './tar/index.js';
export type { TarSummary, TarProgress, TarCompression } from './tar/index.js';
export {
  FIXUP_STAGES, runFixups, runStages, selectStages, createFixupContext, GuestFs, describeAction, formatAction,
  type FixupReport, type FixupOptions, type FixupContext, type FixupStage, type StageResult, type Action,
} from './fixup/index.js';
export {
  deriveMac, guestDevices, rootDevice, kernelCommandLine, domainConsole,
  type XenDomain, type DomainDisk, type DomainVif, type DiskMount, type DomainType, type XenConsole,
} from './xen/domain.js';
export { validateDomain, assertValidDomain, type DomainProblem } from './xen/validate.js';
export { renderXlConfig, renderXmConfig, type ConfigFormat } from './xen/render.js';
export { writeDomainConfig, configPath, type WriteConfigOptions, type WriteConfigResult } from './xen/write.js';
export { domainFromOptions, readDomainFile, parseMiB, type DomainOptions } from './xen/options.js';
export { bootTest, assertBooted, ensureDom0, judgeConsole, type BootTestOptions, type BootTestResult, type BootMode, type Dom0, type Dom0Options } from './boot/index.js';
export { installDistribution, checkInstallOptions, estimateInstallBytes, DEFAULT_CACHE_DIR, PackageCache, type InstallOptions, type DebianInstallOptions, type RpmInstallOptions, type InstallResult, type InstallProgress } from './install/index.js';
export { verifyTree, displayPath, openReadOnly, DIFFERENCE_KINDS, type VerifyOptions, type VerifyResult, type Difference, type DifferenceKind, type MtimePrecision } from './verify/index.js';
export { loadBuildSpec, parseBuildSpec, SpecError, SPEC_FLAGS, applySpecFlags, type BuildSpec, type SpecIssue } from './spec/index.js';
export { runBuild, planStages, checkStageIds, type BuildResult, type RunBuildOptions, type Stage, type StageReport } from './pipeline/pipeline.js';
export { buildFleet, parseFleet, type Fleet, type FleetResult, type BuildFleetOptions } from './pipeline/fleet.js';
export { listGuests, findGuest, deleteGuest, leaseAddress, releaseLeases, type GuestRecord, type DeleteResult } from './pipeline/inventory.js';
export { benchStrategies, renderBenchSvg, type BenchStrategiesOptions, type BenchStrategiesResult, type StrategyResult } from './bench/strategy-bench.js';
