// The boot test's public surface: bootTest() and the pieces a pipeline may want on their own.
export { bootTest, assertBooted, judgeDom0, type BootTestOptions, type BootTestResult, type BootMode } from './boot-test.js';
export { judgeConsole, type BootCriterion, type ConsoleVerdict } from './console.js';
export { ensureDom0, dom0Key, type Dom0, type Dom0Options } from './dom0.js';
export { parseXlConfig, parseXlDisk, renderXlSettings, type XlSetting, type XlValue, type XlDisk } from './xl-config.js';
