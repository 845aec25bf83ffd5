// The build spec: types, defaults, validation, and the flags that set each field.
export * from './types.js';
export { SpecReader, parseSpecSize, fieldName } from './check.js';
export { SpecError, sortIssues, loadBuildSpec, parseBuildSpec, readBuildSpec, NAME_RE, IPV4_RE, MAC_RE } from './load.js';
export { SPEC_FLAGS, applySpecFlags, checkFlagConflicts, flagName, CONFLICTING_FLAGS, type SpecFlag } from './flags.js';
